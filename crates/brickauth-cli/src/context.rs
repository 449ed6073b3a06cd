//! What every command needs: the selected profile, its token provider, and — only when a request
//! is about to be made — an async runtime.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use brickauth_cache::{AccountHint, TokenCache, TokenProvider};
use brickauth_core::{Interaction, Settings};
use brickauth_profile::{Profile, ProfileFile};

use crate::report::Reported;

/// The global options.
pub struct Context {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `-p/--profile`.
    pub profile: Option<String>,
}

impl Context {
    /// Load the profile file.
    pub fn file(&self) -> Result<ProfileFile> {
        let (path, _origin) = brickauth_profile::config_path(self.config.as_deref())?;
        Ok(ProfileFile::load(&path)?)
    }

    /// The selected profile (`-p`, `$BRICKAUTH_PROFILE`, the file's default, `default`), or with
    /// `flow` set, a profile made from the environment alone.
    pub fn profile(&self, env_flow: Option<&str>) -> Result<Profile> {
        match env_flow {
            Some(flow) => Ok(Profile::from_env(flow, &|k| std::env::var(k).ok())?),
            None => Ok(self.file()?.select(self.profile.as_deref())?),
        }
    }
}

/// Whether a person can answer a prompt here.
pub fn interaction(no_browser: bool) -> Interaction {
    let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    Interaction { terminal, browser: !no_browser }
}

/// The silent-acquisition provider for `profile`. Cheap: no I/O until asked for a token.
pub fn provider(profile: Profile, interaction: Interaction) -> Result<(TokenProvider, Arc<Profile>)> {
    let app = brickauth_core::flow::app_config(&profile)?;
    let account =
        AccountHint { username: profile.get("username").map(str::to_owned), profile: profile.name().to_owned() };
    let cache = TokenCache::from_env()?;
    let profile = Arc::new(profile);
    let for_flow = Arc::clone(&profile);
    let provider = TokenProvider::new(cache, app, account, Box::new(move || brickauth_core::flow::build(&*for_flow)))
        .with_interaction(interaction)
        .with_prompt(Arc::new(crate::prompt::CliPrompt::new()));
    Ok((provider, profile))
}

/// A single-threaded async runtime, built only when a network request is about to be made.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

/// Turn an authentication failure into a report that ends with the profile's non-secret settings
/// and where each came from (DESIGN §3), keeping its exit code.
///
/// The note fits 80 columns: the file is named once in its heading, each key then shows only its
/// line (or its variable, `[defaults]`, …), and a value too long for the line is cut with `…`
/// (`brickauth profiles show` prints it whole).
pub fn with_profile_note(err: anyhow::Error, profile: &Profile) -> anyhow::Error {
    let code = crate::report::exit_code(&err);
    if code != 3 && code != 1 {
        return err;
    }
    let mut message = crate::report::render(&err);
    message.push_str(&profile_note(profile));
    Reported { code, message }.into()
}

/// The note itself: `profile `NAME` (PATH):` and one line per key.
fn profile_note(profile: &Profile) -> String {
    use brickauth_profile::Origin;
    const WIDTH: usize = 80;
    let mut note = match profile.path() {
        Some(path) => format!("\nprofile `{}` ({}):", profile.name(), tilde(path)),
        None => format!("\nprofile `{}`:", profile.name()),
    };
    for (key, value, origin) in profile.entries() {
        let origin = match &origin {
            Origin::File { line, .. } => format!("line {line}"),
            Origin::Defaults { line, .. } => format!("[defaults], line {line}"),
            other => other.to_string(),
        };
        let head = format!("  {key} = ");
        let tail = format!("  ({origin})");
        let room = WIDTH.saturating_sub(head.chars().count() + tail.chars().count()).max(12);
        let value = value.to_string();
        let value = if value.chars().count() > room {
            let mut cut: String = value.chars().take(room - 1).collect();
            cut.push('…');
            cut
        } else {
            value
        };
        note.push_str(&format!("\n{head}{value}{tail}"));
    }
    note
}

/// `path` with the home directory written `~`.
fn tilde(path: &std::path::Path) -> String {
    match std::env::var_os("HOME").and_then(|h| path.strip_prefix(h).ok().map(|r| r.to_path_buf())) {
        Some(rest) if !rest.as_os_str().is_empty() => format!("~/{}", rest.display()),
        _ => path.display().to_string(),
    }
}
