//! What every command starts from: the library's [`brickauth::Auth`], built once from the global
//! options, and the few CLI-wide choices around it (interaction, prompt, retry lines, the
//! profile note on authentication failures, Ctrl-C).
//!
//! Nothing here imports a command module: commands import this.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use brickauth::{Auth, CachedToken, Options, Source, TokenOptions, WorkspaceClient};
use brickauth_core::Interaction;
use brickauth_profile::{Origin, Profile, ProfileError, ProfileFile, Sources};

use crate::report::{Exit, Reported};

/// The global options, resolved through the library.
#[derive(Debug)]
pub struct Context {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `-p/--profile`.
    pub profile: Option<String>,
    /// `--flow`: the environment-only mode.
    pub flow: Option<String>,
    /// `--host`: overrides the profile's `host`.
    pub host: Option<String>,
    auth: Auth,
}

impl Context {
    /// From the global options.
    pub fn new(
        config: Option<PathBuf>,
        profile: Option<String>,
        flow: Option<String>,
        host: Option<String>,
    ) -> Context {
        let mut options = Options::default();
        options.config = config.clone();
        options.profile = profile.clone();
        options.flow = flow.clone();
        options.host = host.clone();
        options.prompt = Some(Arc::new(crate::prompt::CliPrompt::new()));
        options.observer = Some(crate::retries::observer());
        Context { config, profile, flow, host, auth: Auth::new(options) }
    }

    /// The library's resolver.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The TOML profile file, which must exist ("no profile file here", with how to create one).
    pub fn file(&self) -> Result<ProfileFile> {
        let (path, _origin) = self.auth.config_path()?;
        Ok(ProfileFile::load(&path)?)
    }

    /// Both profile sources: the TOML file and `~/.databrickscfg` (each `None` when absent).
    pub fn sources(&self) -> Result<Sources> {
        Ok(self.auth.sources()?)
    }

    /// The profile every command uses: the library's one rule (docs/profiles.md). With no
    /// profile file at all, no profile named and no `--flow`, a workspace (`--host` or
    /// `$DATABRICKS_HOST`) is enough: an implicit profile signs a person in to it (zero setup,
    /// see [`implicit`]).
    pub fn profile(&self) -> Result<Profile> {
        match self.auth.select() {
            Err(brickauth::Error::Profile(ProfileError::NotFound { path }))
                if self.profile.is_none() && self.flow.is_none() =>
            {
                match self.host_given() {
                    Some((host, origin)) => implicit(&self.auth, &host, origin),
                    None => Err(brickauth::Error::Profile(ProfileError::NotFound { path }).into()),
                }
            }
            r => Ok(r?),
        }
    }

    /// The workspace named on the command line or by `$DATABRICKS_HOST`.
    fn host_given(&self) -> Option<(String, Origin)> {
        match &self.host {
            Some(h) => Some((h.clone(), Origin::CommandLine("--host".into()))),
            None => std::env::var("DATABRICKS_HOST")
                .ok()
                .filter(|h| !h.trim().is_empty())
                .map(|h| (h, Origin::Env("DATABRICKS_HOST".into()))),
        }
    }

    /// The name of the profile the one selection rule picks among `sources` (already read), for
    /// the star of `profiles list` and `status`; `None` when it picks none.
    pub fn selected_name(&self, sources: &Sources) -> Option<String> {
        sources.select(self.profile.as_deref(), &|k| std::env::var(k).ok()).ok().map(|p| p.name().to_owned())
    }

    /// Profile `name` from either file, with `--host` and `$DATABRICKS_HOST` applied.
    pub fn named(&self, name: &str) -> Result<Profile> {
        Ok(self.auth.named(name)?)
    }

    /// The token source for `profile`.
    pub fn source(&self, profile: Profile, interaction: Interaction) -> Result<Source> {
        Ok(self.auth.source_with(profile, interaction)?)
    }

    /// The workspace client for the selected profile. The first token is acquired up front
    /// (cache first), so a workspace that moved tenants is re-learned before any request.
    pub fn client(&self) -> Result<(WorkspaceClient, Arc<Profile>)> {
        let profile = self.profile()?;
        brickauth::workspace_config(&profile)?;
        let source = self.source(profile, interaction(false))?;
        acquire(&source, TokenOptions { force_refresh: false, min_validity: MIN_VALIDITY })?;
        let client = self.auth.workspace(&source)?;
        Ok((client, source.profile()))
    }
}

/// The profile of a workspace named with no profile file: an interactive sign-in — in a browser
/// where one can open, else with a device code (the rule of the browser flow itself) — with the
/// developer sign-on client and the workspace's tenant. Its name is the workspace URL after `@`:
/// the cache binds the account it signs in to that name, so the next call is answered from the
/// cache. Without a person at the keyboard its flow is not run (exit 3, with the line that
/// helps: [`crate::report::next_step`]).
pub fn implicit(auth: &Auth, host: &str, origin: Origin) -> Result<Profile> {
    let normalised = brickauth_databricks::client::normalise(host)
        .map_err(|e| Reported::usage(format!("{}: `{host}`: {e}", origin_name(&origin))))?;
    let name = format!("{}{normalised}", crate::report::IMPLICIT);
    let flow =
        if brickauth_flows::authorization_code::browser_possible() { "authorization-code" } else { "device-code" };
    let mut profile = Profile::implicit(&name, flow, &normalised, origin)?;
    auth.apply_host(&mut profile);
    tracing::info!("no profile file: signing in to {normalised} with the {flow} flow (profile `{name}`)");
    Ok(profile)
}

fn origin_name(origin: &Origin) -> String {
    match origin {
        Origin::CommandLine(flag) => flag.clone(),
        Origin::Env(var) => format!("${var}"),
        other => other.to_string(),
    }
}

/// Tokens handed to workspace commands and child processes are valid for at least this long.
pub const MIN_VALIDITY: Duration = Duration::from_secs(300);

/// Azure Databricks rejects tokens with 30 s or less left; no token is handed out closer than this.
const FLOOR: Duration = Duration::from_secs(40);

/// A `--min-validity SECS` option: [`MIN_VALIDITY`] when not given, never under [`FLOOR`].
pub fn min_validity(secs: Option<u64>) -> Duration {
    secs.map_or(MIN_VALIDITY, Duration::from_secs).max(FLOOR)
}

/// Whether a person can answer a prompt here.
pub fn interaction(no_browser: bool) -> Interaction {
    let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    Interaction { terminal, browser: !no_browser }
}

/// Cached first (no runtime, no network), then silent acquisition on the process's runtime;
/// an authentication failure gets the profile note.
pub fn acquire(source: &Source, opts: TokenOptions) -> Result<CachedToken> {
    if !opts.force_refresh
        && let Some(t) = source.cached(opts.min_validity)?
    {
        tracing::debug!(expires_on = t.access_token.expires_on, "answered from the cache");
        return Ok(t);
    }
    let profile = source.profile();
    run(&profile, async { Ok(source.token_with(opts).await?) })
}

/// Run `fut` on the process's runtime until it ends or Ctrl-C (exit 130, one line: dropping
/// the future cancels it); authentication failures get the profile note.
pub fn run<T>(profile: &Profile, fut: impl Future<Output = Result<T>>) -> Result<T> {
    let interrupted = || anyhow::Error::from(Reported { code: Exit::Interrupted, message: "interrupted".to_owned() });
    brickauth::block_on(async {
        tokio::select! {
            r = fut => r,
            _ = tokio::signal::ctrl_c() => Err(interrupted()),
        }
    })?
    .map_err(|e| with_profile_note(e, profile))
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
        Some(path) => format!("\nprofile `{}` ({}):", profile.name(), brickauth_core::paths::display(path)),
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
