//! What every command needs: the selected profile, its token provider, and — only when a request
//! is about to be made — an async runtime.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use brickauth_cache::{AccountHint, TokenCache, TokenProvider};
use brickauth_core::{Interaction, Settings};
use brickauth_profile::{Profile, ProfileFile};

use crate::report::{Exit, Reported};

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
        .with_interaction(interaction);
    Ok((provider, profile))
}

/// A single-threaded async runtime, built only when a network request is about to be made.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

/// Turn an authentication failure into a report that ends with the profile's non-secret settings
/// and where each came from (DESIGN §3), keeping its exit code.
pub fn with_profile_note(err: anyhow::Error, profile: &Profile) -> anyhow::Error {
    let code = crate::report::exit_code(&err);
    if code != Exit::Auth && code != Exit::Failure {
        return err;
    }
    let mut message = err.to_string();
    for cause in err.chain().skip(1) {
        let c = cause.to_string();
        if !message.contains(&c) {
            message.push_str(&format!("\n  caused by: {c}"));
        }
    }
    message.push_str(&format!("\nprofile `{}`:", profile.name()));
    for (key, value, origin) in profile.entries() {
        message.push_str(&format!("\n  {key} = {value}  ({origin})"));
    }
    Reported { code, message }.into()
}
