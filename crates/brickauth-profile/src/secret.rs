//! Secret sources: a literal `K`, `K_env`, `K_file` or `K_command`, resolved only when asked.
//!
//! Nothing here runs at load time: [`Profile::secret`](brickauth_core::settings::Settings::secret)
//! calls [`resolve`] when a flow is actually built, so the cached-token path never reads a secret
//! file or runs a command. Errors name the source (variable, path, command and exit status) and
//! never the value; buffers that held a secret are zeroed before they are dropped.

use std::path::Path;
use std::process::Stdio;

use brickauth_core::SecretString;
use brickauth_core::flow::{FlowSpec, flows};
use brickauth_core::paths::expand_tilde;
use brickauth_core::settings::{COMMON_KEYS, KeySpec};
use secrecy::zeroize::Zeroize;

use crate::error::ProfileError;

/// How a secret key `K` is given: one of `K`, `K_env`, `K_file`, `K_command`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// `K = "…"`: the secret itself, in the file (accepted with a warning).
    Literal,
    /// `K_env = "VAR"`.
    Env,
    /// `K_file = "~/path"`.
    File,
    /// `K_command = "…"`.
    Command,
}

impl Source {
    /// Every source, in the order messages list them.
    pub(crate) const ALL: [Source; 4] = [Source::Literal, Source::Env, Source::File, Source::Command];

    fn suffix(self) -> &'static str {
        match self {
            Source::Literal => "",
            Source::Env => "_env",
            Source::File => "_file",
            Source::Command => "_command",
        }
    }

    /// The profile key that selects this source of secret `base`.
    pub(crate) fn key(self, base: &str) -> String {
        format!("{base}{}", self.suffix())
    }

    /// Split a key into the secret it may belong to and its source: `password_env` →
    /// (`password`, Env). Purely syntactic; see [`secret_of`] for whether `base` is a secret.
    fn split(key: &str) -> (&str, Source) {
        for source in [Source::Env, Source::File, Source::Command] {
            if let Some(base) = key.strip_suffix(source.suffix()) {
                return (base, source);
            }
        }
        (key, Source::Literal)
    }
}

/// If `key` names a secret or one of its sources, the secret's name and the source.
///
/// A name is a secret when `flow`, the common keys or any linked flow declares it so: erring on
/// the side of "secret" keeps a value out of `get`, `Debug` and `profiles show`.
pub(crate) fn secret_of<'k>(flow: Option<&FlowSpec>, key: &'k str) -> Option<(&'k str, Source)> {
    let (base, source) = Source::split(key);
    is_secret_name(flow, base).then_some((base, source))
}

fn is_secret_name(flow: Option<&FlowSpec>, name: &str) -> bool {
    let declares = |keys: &[KeySpec]| keys.iter().any(|k| k.secret && k.name == name);
    declares(COMMON_KEYS) || flow.is_some_and(|f| declares(f.keys)) || flows().iter().any(|f| declares(f.keys))
}

/// Resolve secret `key` of `profile` from `source`, whose profile value is `value`.
///
/// The literal case needs no work (and its warning is the profile's business, as it warns once).
pub(crate) fn resolve(profile: &str, key: &str, source: Source, value: &str) -> Result<SecretString, ProfileError> {
    let fail = |message: String| ProfileError::Secret { profile: profile.to_owned(), key: key.to_owned(), message };
    let source_key = source.key(key);
    match source {
        Source::Literal => Ok(SecretString::from(value.to_owned())),
        Source::Env => match std::env::var(value) {
            Ok(secret) if !secret.is_empty() => Ok(SecretString::from(secret)),
            Ok(_) => Err(fail(format!("environment variable ${value} (named by `{source_key}`) is empty"))),
            Err(std::env::VarError::NotPresent) => {
                Err(fail(format!("environment variable ${value} (named by `{source_key}`) is not set")))
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(fail(format!("environment variable ${value} (named by `{source_key}`) is not valid UTF-8")))
            }
        },
        Source::File => from_file(&expand_tilde(Path::new(value)), &source_key).map_err(fail),
        Source::Command => from_command(value, &source_key).map_err(fail),
    }
}

/// The largest secret file read (`K_file`): far above any password, client secret, refresh
/// token or federated token.
pub const SECRET_FILE_LIMIT: u64 = 64 * 1024;

fn from_file(path: &Path, source_key: &str) -> Result<SecretString, String> {
    let what = format!("{} (named by `{source_key}`)", path.display());
    // A regular file within the limit, never a FIFO or a device (`brickauth_core::file`).
    let bytes =
        brickauth_core::file::read(path, SECRET_FILE_LIMIT).map_err(|e| format!("{e} (named by `{source_key}`)"))?;
    warn_if_shared(path);
    // Editors and `echo >` add a newline (`\r\n` on Windows); secrets do not end in whitespace.
    decode(bytes, str::trim_end, &what)
}

/// The secret in `bytes` (from a file or a command's stdout), trimmed; every buffer it passed
/// through is zeroed. `what` names the source in errors.
fn decode(bytes: Vec<u8>, trim: fn(&str) -> &str, what: &str) -> Result<SecretString, String> {
    let mut text = String::from_utf8(bytes).map_err(|e| {
        e.into_bytes().zeroize();
        format!("{what} is not valid UTF-8")
    })?;
    let secret = trim(&text).to_owned();
    text.zeroize();
    if secret.is_empty() {
        return Err(format!("{what} is empty"));
    }
    Ok(SecretString::from(secret))
}

#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o044 != 0
    {
        tracing::warn!(
            "secret file {} is readable by other users; restrict it with `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path) {
    // Windows ACLs are not checked: the user's profile directory is private by default.
}

fn from_command(command: &str, source_key: &str) -> Result<SecretString, String> {
    // `sh -c` on Unix; on Windows cmd.exe, given the command verbatim (quotes and all).
    let mut cmd = brickauth_core::process::shell(command)
        .map_err(|e| format!("cannot run command `{command}` (from `{source_key}`): {e}"))?;
    // stdin and stderr stay the user's: a password manager may prompt or explain a failure.
    cmd.stdin(Stdio::inherit()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let output = cmd.output().map_err(|e| format!("cannot run command `{command}` (from `{source_key}`): {e}"))?;
    let mut stdout = output.stdout;
    if !output.status.success() {
        stdout.zeroize();
        return Err(format!("command `{command}` (from `{source_key}`) failed: {}", output.status));
    }
    decode(stdout, str::trim, &format!("the output of command `{command}` (from `{source_key}`)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickauth_core::settings::SECRET_SUFFIXES;

    #[test]
    fn suffixes_agree_with_core() {
        let ours: Vec<&str> = Source::ALL.iter().map(|s| s.suffix()).filter(|s| !s.is_empty()).collect();
        assert_eq!(ours, SECRET_SUFFIXES);
    }

    #[test]
    fn split_finds_the_source() {
        assert_eq!(Source::split("password_env"), ("password", Source::Env));
        assert_eq!(Source::split("refresh_token_file"), ("refresh_token", Source::File));
        assert_eq!(Source::split("client_secret_command"), ("client_secret", Source::Command));
        assert_eq!(Source::split("password"), ("password", Source::Literal));
    }
}
