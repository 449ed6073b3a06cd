//! Secret sources: a literal `K`, `K_env`, `K_file`, `K_command` or `K_keychain`, resolved only
//! when asked.
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
use brickauth_keychain::Passwords;
use secrecy::ExposeSecret;
use secrecy::zeroize::Zeroize;

use crate::error::ProfileError;

/// How a secret key `K` is given: one of `K`, `K_env`, `K_file`, `K_command`, `K_keychain`.
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
    /// `K_keychain = "service/account"`: an entry of the user's keychain.
    Keychain,
}

impl Source {
    /// Every source, in the order messages list them.
    pub(crate) const ALL: [Source; 5] = [Source::Literal, Source::Env, Source::File, Source::Command, Source::Keychain];

    fn suffix(self) -> &'static str {
        match self {
            Source::Literal => "",
            Source::Env => "_env",
            Source::File => "_file",
            Source::Command => "_command",
            Source::Keychain => "_keychain",
        }
    }

    /// The profile key that selects this source of secret `base`.
    pub(crate) fn key(self, base: &str) -> String {
        format!("{base}{}", self.suffix())
    }

    /// Split a key into the secret it may belong to and its source: `password_env` →
    /// (`password`, Env). Purely syntactic; see [`secret_of`] for whether `base` is a secret.
    fn split(key: &str) -> (&str, Source) {
        for source in [Source::Env, Source::File, Source::Command, Source::Keychain] {
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

/// Resolve secret `key` of `profile` from `source`, whose profile value is `value`; a
/// `K_keychain` entry is read from `keychain` (the user's keychain when `None`).
///
/// The literal case needs no work (and its warning is the profile's business, as it warns once).
pub(crate) fn resolve(
    profile: &str,
    key: &str,
    source: Source,
    value: &str,
    keychain: Option<&dyn Passwords>,
) -> Result<SecretString, ProfileError> {
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
        Source::Keychain => match keychain {
            Some(store) => from_keychain(store, value, &source_key),
            None => from_keychain(brickauth_keychain::passwords().as_ref(), value, &source_key),
        }
        .map_err(fail),
    }
}

/// `service/account` split at its first `/`; the error says what is wrong with the value (which
/// names an entry, not a secret, and may be shown).
pub(crate) fn keychain_entry(value: &str) -> Result<(&str, &str), String> {
    match value.split_once('/') {
        Some((service, account)) if !service.trim().is_empty() && !account.trim().is_empty() => Ok((service, account)),
        _ => Err(format!("`{value}` is not `service/account`: name the keychain entry's service and account")),
    }
}

fn from_keychain(store: &dyn Passwords, value: &str, source_key: &str) -> Result<SecretString, String> {
    let (service, account) = keychain_entry(value)?;
    let what = format!("service `{service}`, account `{account}` (named by `{source_key}`)");
    match store.password(service, account) {
        Ok(Some(secret)) if !secret.expose_secret().trim().is_empty() => Ok(secret),
        Ok(Some(_)) => Err(format!("the entry of {what} in {} is empty", store.store())),
        Ok(None) => Err(format!("{} has no entry for {what}", store.store())),
        Err(e) => Err(format!("cannot read {what}: {e}")),
    }
}

/// The largest secret file read (`K_file`): far above any password, client secret, refresh
/// token or federated token.
pub const SECRET_FILE_LIMIT: u64 = 64 * 1024;

fn from_file(path: &Path, source_key: &str) -> Result<SecretString, String> {
    let what = format!("{} (named by `{source_key}`)", path.display());
    // A regular file within the limit, never a FIFO or a device (`brickauth_core::file`).
    let (bytes, sharing) = brickauth_core::file::read_shared(path, SECRET_FILE_LIMIT)
        .map_err(|e| format!("{e} (named by `{source_key}`)"))?;
    if let Some(readers) = sharing.read_problem() {
        tracing::warn!(
            "secret file {} (named by `{source_key}`) is readable by other users ({readers}); restrict it with `{}`",
            path.display(),
            sharing.fix(path, false)
        );
    }
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

/// Refuse to run a `*_command` from the file `path` when every user may change that file (they
/// could make brickauth run any command as the user); warn when someone else may. The Unix
/// group is warned about only: with per-user groups (umask 002) a group-writable file is common
/// and harmless. A profile parsed from text whose file is not there (an embedder's
/// `ProfileFile::parse`) has nothing to check.
pub(crate) fn check_command_origin(path: &Path, source_key: &str) -> Result<(), String> {
    let sharing = match brickauth_core::file::sharing_of(path) {
        Ok(sharing) => sharing,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(format!("cannot check who may change {} before running `{source_key}`: {e}", path.display()));
        }
    };
    let Some(problem) = sharing.change_problem() else { return Ok(()) };
    let fix = sharing.fix(path, true);
    if sharing.changeable_by_everybody() {
        return Err(format!(
            "refusing to run `{source_key}` from {}: {problem}, so anyone could make brickauth run commands \
             as you; restrict it with `{fix}`",
            path.display()
        ));
    }
    tracing::warn!(
        "{} names a command to run (`{source_key}`) and {problem}; restrict it with `{fix}`",
        path.display()
    );
    Ok(())
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
        assert_eq!(Source::split("client_secret_keychain"), ("client_secret", Source::Keychain));
    }

    #[test]
    fn keychain_entries_are_service_slash_account() {
        assert_eq!(keychain_entry("brickauth-test/alice"), Ok(("brickauth-test", "alice")));
        assert_eq!(keychain_entry("svc/team/alice"), Ok(("svc", "team/alice")));
        for bad in ["alice", "/alice", "svc/", " / "] {
            let e = keychain_entry(bad).unwrap_err();
            assert!(e.contains("service/account") && e.contains(bad), "{e}");
        }
    }
}
