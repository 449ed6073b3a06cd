//! What every command needs: the selected profile, its token provider, and — only when a request
//! is about to be made — an async runtime.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use brickauth_cache::{TokenCache, TokenProvider};
use brickauth_core::{Interaction, Settings};
use brickauth_profile::{DatabricksCfg, Origin, Profile, ProfileError, ProfileFile, Sources};

use crate::report::{Exit, Reported};

/// The global options.
#[derive(Debug, Default)]
pub struct Context {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `-p/--profile`.
    pub profile: Option<String>,
    /// `--flow`: the environment-only mode.
    pub flow: Option<String>,
    /// `--host`: overrides the profile's `host`.
    pub host: Option<String>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Context {
    /// Load the profile file.
    pub fn file(&self) -> Result<ProfileFile> {
        let (path, _origin) = brickauth_profile::config_path(self.config.as_deref())?;
        Ok(ProfileFile::load(&path)?)
    }

    /// Both profile sources: the TOML file and `~/.databrickscfg` (each `None` when absent).
    pub fn sources(&self) -> Result<Sources> {
        let (path, _origin) = brickauth_profile::config_path(self.config.as_deref())?;
        let toml = match ProfileFile::load(&path) {
            Ok(file) => Some(file),
            Err(ProfileError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let databrickscfg = match brickauth_profile::databrickscfg_path() {
            Some(p) => DatabricksCfg::load(&p)?,
            None => None,
        };
        Ok(Sources { toml, toml_path: Some(path), databrickscfg })
    }

    /// The profile every command uses, with the precedence of docs/profiles.md:
    ///
    /// - `--flow F` (or `env_flow`): the environment-only profile, no file read;
    /// - else `-p`, `$BRICKAUTH_PROFILE`, the TOML file's `default_profile`,
    ///   `$DATABRICKS_CONFIG_PROFILE`, `default`: a TOML profile, else a `~/.databrickscfg` section;
    /// - then `--host` overrides `host`, and `$DATABRICKS_HOST` fills a missing one.
    ///
    /// The cached path reads only the TOML file when it has the profile.
    pub fn profile(&self, env_flow: Option<&str>) -> Result<Profile> {
        let mut profile = match env_flow.or(self.flow.as_deref()) {
            Some(flow) => {
                if let Some(p) = &self.profile {
                    return Err(Reported {
                        code: Exit::Usage,
                        message: format!(
                            "--flow {flow} takes every setting from the environment and -p {p} names a profile: \
                             use one of them"
                        ),
                    }
                    .into());
                }
                Profile::from_env(flow, &var)?
            }
            None => self.select()?,
        };
        self.overrides(&mut profile);
        Ok(profile)
    }

    /// `--host`, then `$DATABRICKS_HOST` for a profile without `host`; `$AZURE_AUTHORITY_HOST`
    /// for a profile that names neither `authority_host` nor `cloud` (as the Azure Identity SDKs
    /// read it).
    pub fn overrides(&self, profile: &mut Profile) {
        if profile.get("authority_host").is_none()
            && profile.get("cloud").is_none()
            && let Some(authority) = var("AZURE_AUTHORITY_HOST").filter(|h| !h.trim().is_empty())
        {
            profile.set("authority_host", &authority, Origin::Env("AZURE_AUTHORITY_HOST".into()));
        }
        if let Some(host) = &self.host {
            profile.set("host", host, Origin::CommandLine("--host".into()));
        } else if profile.get("host").is_none_or(|h| h.trim().is_empty())
            && let Some(host) = var("DATABRICKS_HOST").filter(|h| !h.trim().is_empty())
        {
            profile.set("host", &host, Origin::Env("DATABRICKS_HOST".into()));
        }
    }

    fn select(&self) -> Result<Profile> {
        // The common case first: the TOML file has the profile, `~/.databrickscfg` is not read.
        let (path, _origin) = brickauth_profile::config_path(self.config.as_deref())?;
        match ProfileFile::load(&path) {
            Ok(file) => {
                let wanted = self
                    .profile
                    .clone()
                    .or_else(|| var("BRICKAUTH_PROFILE").filter(|v| !v.is_empty()))
                    .or_else(|| file.default_profile().map(str::to_owned));
                let name = wanted.as_deref().unwrap_or("default");
                if file.names().contains(&name) {
                    return Ok(file.profile(name)?);
                }
            }
            Err(ProfileError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(self.sources()?.select(self.profile.as_deref(), &var)?)
    }
}

/// Whether a person can answer a prompt here.
pub fn interaction(no_browser: bool) -> Interaction {
    let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    Interaction { terminal, browser: !no_browser }
}

/// The silent-acquisition provider for `profile`. Cheap: no I/O until asked for a token.
pub fn provider(mut profile: Profile, interaction: Interaction) -> Result<(TokenProvider, Arc<Profile>)> {
    // A workspace host is enough: a missing tenant is remembered or found (cmd/workspace.rs).
    crate::cmd::workspace::fill_tenant(&mut profile)?;
    let cache = TokenCache::from_env()?;
    let profile = Arc::new(profile);
    // Cheap: the HTTP client is built on the first request, never on the cached path.
    let client = brickauth_core::TokenClient::from_config(crate::retries::http_config()?)
        .with_observer(crate::retries::observer());
    let provider = TokenProvider::from_settings(cache, profile.clone())?
        .with_interaction(interaction)
        .with_client(client)
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
    if code != Exit::Auth && code != Exit::Failure {
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
