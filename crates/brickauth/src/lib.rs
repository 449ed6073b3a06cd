//! # brickauth
//!
//! Entra ID access tokens for Azure Databricks from brickauth profiles — cached, refreshed
//! silently, single flight across processes — and a Databricks REST client that uses them. This
//! is the one crate a program adds, and the one the `brickauth` command line is built on: every
//! command and every embedder resolves profiles, hosts, tenants and HTTP settings through the
//! same functions, so they cannot disagree.
//!
//! ```no_run
//! # async fn run() -> Result<(), brickauth::Error> {
//! let auth = brickauth::Auth::from_env()?;   // the profile files and variables, as the CLI reads them
//! let source = auth.profile("dev")?;          // cached → refresh token → the profile's flow
//! let token = source.token().await?;          // or `source.blocking_token()` without async
//! # let _ = token; Ok(()) }
//! ```
//!
//! A workspace client for the same profile is one more line: `auth.workspace(&source)?`.
//!
//! What [`Auth`] reads, and in which order, is docs/profiles.md's one rule:
//!
//! 1. `--flow` ([`Options::flow`]): the environment-only mode, no file read;
//! 2. else the profile name: [`Options::profile`] (`-p`), `$BRICKAUTH_PROFILE`, the TOML file's
//!    `default_profile`, `$DATABRICKS_CONFIG_PROFILE`; looked up in the TOML profile file
//!    (`--config`, `$BRICKAUTH_CONFIG`, the XDG default), then among `~/.databrickscfg`'s
//!    sections; with no name, the TOML file's `default` (or only) profile, then `[DEFAULT]`;
//! 3. then [`Options::host`] (`--host`) replaces `host`, and `$DATABRICKS_HOST` fills a missing one;
//! 4. a profile with a workspace host and no `tenant_id` gets the workspace's tenant
//!    (remembered next to the cache, relearned once after an authentication failure);
//! 5. HTTP settings from the environment: `BRICKAUTH_HTTP_TIMEOUT`, `HTTPS_PROXY`/`NO_PROXY`,
//!    `BRICKAUTH_TLS_ROOTS`, extra CA certificates from `BRICKAUTH_CA_BUNDLE` (else `SSL_CERT_FILE`).
//!
//! The cached path — a valid token in the cache — reads the TOML file and the cache file, and
//! builds no runtime, no HTTP client and no TLS configuration. Blocking calls share one async
//! runtime per process, built on first use ([`block_on`]).
//!
//! Cancelling is dropping the future: the library installs no signal handler, prints nothing
//! and decides no exit code; interactive flows talk to a person through [`Options::prompt`].

// Only the CLI prints; a library reports through types (tests may print).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

#[cfg(feature = "azure-core")]
mod azure;
mod error;
pub mod host;
mod runtime;
mod source;
mod tenant;
mod workspace;

use std::path::PathBuf;
use std::sync::Arc;

use brickauth_core::http::HttpConfig;
use brickauth_core::retry::Observer;
use brickauth_core::{Interaction, Prompt, Settings};
use brickauth_profile::{DatabricksCfg, Origin, Profile, ProfileError, ProfileFile, Sources};

pub use brickauth_cache::{CachedToken, TokenOptions};
pub use brickauth_core::AccessToken;
pub use brickauth_databricks::WorkspaceClient;
pub use error::{Error, Result};
pub use runtime::{block_on, handle};
pub use source::{Source, StepUp};
pub use workspace::config as workspace_config;

/// What a program or a command line chose; everything else comes from files and variables.
#[derive(Clone)]
#[non_exhaustive]
pub struct Options {
    /// The TOML profile file (`--config`). A file named here must exist; where
    /// `$BRICKAUTH_CONFIG` or the default location has none, there are no TOML profiles.
    pub config: Option<PathBuf>,
    /// The profile name (`-p`); wins over every variable.
    pub profile: Option<String>,
    /// The environment-only mode (`--flow`): this flow, every setting from variables.
    pub flow: Option<String>,
    /// The workspace (`--host`): replaces the profile's `host`.
    pub host: Option<String>,
    /// Whether a person can answer (interactive flows refuse to run without one).
    pub interaction: Interaction,
    /// How interactive flows show a code or a URL and read an answer (default: plain stderr).
    pub prompt: Option<Arc<dyn Prompt>>,
    /// Told about every retry wait (the CLI prints a line once retrying takes a while).
    pub observer: Option<Observer>,
    /// The token cache's directory [default: `$BRICKAUTH_CACHE_DIR`, else the platform's cache
    /// directory].
    pub cache_dir: Option<PathBuf>,
    /// Resolve without the network: a workspace's tenant only from memory, never asked for
    /// (shell completion must answer at once).
    pub offline: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            config: None,
            profile: None,
            flow: None,
            host: None,
            interaction: Interaction::NONE,
            prompt: None,
            observer: None,
            cache_dir: None,
            offline: false,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("config", &self.config)
            .field("profile", &self.profile)
            .field("flow", &self.flow)
            .field("host", &self.host)
            .field("interaction", &self.interaction)
            .field("cache_dir", &self.cache_dir)
            .field("offline", &self.offline)
            .finish_non_exhaustive()
    }
}

/// Profiles, hosts and settings resolved one way; hands out token [`Source`]s and workspace
/// clients. Cheap to build: nothing is read until asked for.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    options: Options,
}

impl Auth {
    /// Files and variables as the CLI reads them, no option given: the profile that
    /// `$BRICKAUTH_PROFILE`, `default_profile`, … select, non-interactive.
    pub fn from_env() -> Result<Auth> {
        Ok(Auth::new(Options::default()))
    }

    /// With the options a program (or a command line) chose. Links the standard flows.
    pub fn new(options: Options) -> Auth {
        brickauth_flows::link();
        Auth { options }
    }

    /// The token cache ([`Options::cache_dir`], else the environment's), keeping refresh tokens
    /// where `$BRICKAUTH_SECRET_STORAGE` says (else `auto`).
    pub fn cache(&self) -> Result<brickauth_cache::TokenCache> {
        self.cache_with(None)
    }

    /// The token cache for `profile`: as [`Auth::cache`], with the profile file's
    /// `secret_storage` where `$BRICKAUTH_SECRET_STORAGE` is not set. Reads no file.
    pub fn cache_for(&self, profile: &Profile) -> Result<brickauth_cache::TokenCache> {
        self.cache_with(profile.secret_storage())
    }

    /// The token cache, refresh tokens kept as `$BRICKAUTH_SECRET_STORAGE` says, else as
    /// `setting` (a profile file's `secret_storage` and where it is written), else `auto`.
    pub fn cache_with(&self, setting: Option<(&str, &Origin)>) -> Result<brickauth_cache::TokenCache> {
        let cache = match &self.options.cache_dir {
            Some(dir) => brickauth_cache::TokenCache::at(dir),
            // Reads `$BRICKAUTH_SECRET_STORAGE` too: a bad value is an error naming it.
            None => brickauth_cache::TokenCache::from_env()?,
        };
        match (std::env::var(brickauth_cache::STORAGE_VARIABLE), setting) {
            (Ok(v), _) if !v.trim().is_empty() => Ok(cache.with_storage(v.parse()?)),
            (_, Some((value, origin))) => {
                let policy = value.parse().map_err(|_| {
                    Error::Profile(ProfileError::Other(format!(
                        "{origin}: `secret_storage = \"{value}\"` is none of {}",
                        brickauth_profile::SECRET_STORAGE_VALUES.join(", ")
                    )))
                })?;
                Ok(cache.with_storage_set_by(policy, format!("`secret_storage` ({origin})")))
            }
            _ => Ok(cache.with_storage(brickauth_cache::StoragePolicy::Auto)),
        }
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Where the TOML profile file is, and what decided that.
    pub fn config_path(&self) -> Result<(PathBuf, Origin)> {
        Ok(brickauth_profile::config_path(self.options.config.as_deref())?)
    }

    /// The TOML profile file; `None` when there is none. A file named by `--config` that does
    /// not exist is an error naming it; `$BRICKAUTH_CONFIG` may name a file that does not exist
    /// yet (a CI job sets it once for every step), said at `-v`.
    pub fn toml(&self) -> Result<Option<ProfileFile>> {
        let (path, origin) = self.config_path()?;
        match ProfileFile::load(&path) {
            Ok(file) => Ok(Some(file)),
            Err(ProfileError::NotFound { .. }) if !matches!(origin, Origin::CommandLine(_)) => {
                tracing::info!("no profile file at {} ({origin})", path.display());
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Both profile sources: the TOML file and `~/.databrickscfg` (each `None` when absent).
    pub fn sources(&self) -> Result<Sources> {
        let toml = self.toml()?;
        self.sources_with(toml)
    }

    fn sources_with(&self, toml: Option<ProfileFile>) -> Result<Sources> {
        let databrickscfg = match brickauth_profile::databrickscfg_path() {
            Some(p) => DatabricksCfg::load(&p)?,
            None => None,
        };
        Ok(Sources { toml, toml_path: Some(self.config_path()?.0), databrickscfg })
    }

    /// The profile every command uses (the rule in the crate documentation), with `--host` and
    /// `$DATABRICKS_HOST` applied. When the TOML file decides, `~/.databrickscfg` is not read.
    pub fn select(&self) -> Result<Profile> {
        let mut profile = match &self.options.flow {
            Some(flow) => {
                if let Some(p) = &self.options.profile {
                    return Err(Error::Usage(format!(
                        "--flow {flow} takes every setting from the environment and -p {p} names a profile: use one \
                         of them"
                    )));
                }
                Profile::from_env(flow, &var)?
            }
            None => {
                let flag = self.options.profile.as_deref();
                let toml = self.toml()?;
                let chosen = toml.as_ref().and_then(|t| brickauth_profile::toml_choice(flag, &var, t));
                match (toml, chosen) {
                    (Some(file), Some(name)) => file.profile(&name)?,
                    (toml, _) => self.sources_with(toml)?.select(flag, &var)?,
                }
            }
        };
        self.apply_host(&mut profile);
        Ok(profile)
    }

    /// Profile `name` (the TOML file's, else `~/.databrickscfg`'s section), with `--host` and
    /// `$DATABRICKS_HOST` applied.
    pub fn named(&self, name: &str) -> Result<Profile> {
        let mut profile = self.sources()?.named(name)?;
        self.apply_host(&mut profile);
        Ok(profile)
    }

    /// The profile whose `host` is `host`, for token helpers (`auth token --host`). See
    /// [`host`] for the rules when several profiles share a host.
    pub fn for_host(&self, host: &str) -> Result<Profile> {
        self.for_target(&host::Target::host(host))
    }

    /// The profile a token helper means by a host and, on account and unified hosts, an account
    /// and a workspace (`auth token --host H --account-id A`): only profiles with those ids are
    /// candidates. See [`host`].
    pub fn for_target(&self, target: &host::Target) -> Result<Profile> {
        host::profile_for_host(&self.sources()?, target, &var)
    }

    /// `--host`, else `$DATABRICKS_HOST` for a profile without `host` (said at `-v` when the
    /// profile's own host wins over the variable); `$AZURE_AUTHORITY_HOST` for a profile that
    /// names neither `authority_host` nor `cloud` (as the Azure Identity SDKs read it).
    pub fn apply_host(&self, profile: &mut Profile) {
        if profile.get("authority_host").is_none()
            && profile.get("cloud").is_none()
            && let Some(authority) = var("AZURE_AUTHORITY_HOST").filter(|h| !h.trim().is_empty())
        {
            profile.set("authority_host", &authority, Origin::Env("AZURE_AUTHORITY_HOST".into()));
        }
        if let Some(host) = &self.options.host {
            profile.set("host", host, Origin::CommandLine("--host".into()));
            return;
        }
        let Some(env) = var("DATABRICKS_HOST").filter(|h| !h.trim().is_empty()) else { return };
        match profile.get("host").filter(|h| !h.trim().is_empty()) {
            None => profile.set("host", &env, Origin::Env("DATABRICKS_HOST".into())),
            Some(own) if own.trim() != env.trim() => tracing::info!(
                "$DATABRICKS_HOST ({env}) is not used: profile `{}` has its own host ({own}); pass --host to \
                 override it",
                profile.name()
            ),
            Some(_) => {}
        }
    }

    /// A profile with a workspace `host`, no `tenant_id` and a flow that needs one gets the
    /// workspace's tenant: remembered next to the cache, else found from the workspace (unless
    /// [`Options::offline`]) and remembered. [`Auth::source`] does this itself.
    pub fn fill_tenant(&self, profile: &mut Profile) -> Result<()> {
        tenant::fill(self, profile)
    }

    /// The token source of the selected profile.
    pub fn selected(&self) -> Result<Source> {
        self.source(self.select()?)
    }

    /// The token source of profile `name`.
    pub fn profile(&self, name: &str) -> Result<Source> {
        self.source(self.named(name)?)
    }

    /// The token source for `profile` (cached → refresh token → its flow), with the options'
    /// interaction.
    pub fn source(&self, profile: Profile) -> Result<Source> {
        self.source_with(profile, self.options.interaction)
    }

    /// [`Auth::source`] with another interaction (`login` lets interactive flows run even when
    /// stdin is a pipe).
    pub fn source_with(&self, profile: Profile, interaction: Interaction) -> Result<Source> {
        Source::new(self.clone(), profile, interaction)
    }

    /// The extra CA certificates brickauth trusts: the file `$BRICKAUTH_CA_BUNDLE` (else
    /// `$SSL_CERT_FILE`) names, with the variable that named it.
    pub fn ca_bundle(&self) -> Option<(PathBuf, &'static str)> {
        CA_BUNDLE_VARS
            .into_iter()
            .find_map(|k| std::env::var_os(k).filter(|v| !v.is_empty()).map(|v| (PathBuf::from(v), k)))
    }

    /// The variables a child process should get so that it trusts what brickauth trusts (a
    /// corporate TLS-inspecting proxy's CA): `SSL_CERT_FILE` (OpenSSL, Go, rustls-native-certs),
    /// `REQUESTS_CA_BUNDLE` (Python requests, the Databricks SDK), `CURL_CA_BUNDLE` (curl, pip),
    /// `NODE_EXTRA_CA_CERTS` (Node.js) — each only where the environment does not set it already.
    /// Empty when no CA bundle is configured.
    pub fn child_ca_env(&self) -> Vec<(&'static str, PathBuf)> {
        let Some((path, _)) = self.ca_bundle() else { return Vec::new() };
        CHILD_CA_VARS
            .into_iter()
            .filter(|k| std::env::var_os(k).is_none_or(|v| v.is_empty()))
            .map(|k| (k, path.clone()))
            .collect()
    }

    /// The HTTP settings from the environment, with the extra CA certificates of
    /// [`Auth::ca_bundle`]: the file is read only when a client is built.
    pub fn http_config(&self) -> Result<HttpConfig> {
        let config = HttpConfig::from_env()?;
        Ok(match self.ca_bundle() {
            None => config,
            Some((path, var)) => {
                // A regular file of bounded size: never a device, a FIFO or a runaway download.
                let source = format!("{} (${var})", path.display());
                let limit = brickauth_core::http::CA_BUNDLE_LIMIT;
                config.with_ca_loader(
                    source,
                    Arc::new(move || brickauth_core::file::read(&path, limit).map_err(|e| e.reason())),
                )
            }
        })
    }

    /// The workspace client for `source`'s profile: its `host`, resource id and management
    /// token settings; a token from `source` before every request.
    pub fn workspace(&self, source: &Source) -> Result<WorkspaceClient> {
        workspace::client(self, source, false).map(|(client, _)| client)
    }

    /// [`Auth::workspace`], with the settings it was built from once the host's own metadata
    /// filled in what the profile leaves open (see `workspace.rs`): the account id a path such as
    /// `/api/2.0/accounts/{account_id}/…` needs (`needs_account`), a unified host's workspace id.
    pub fn workspace_resolved(
        &self,
        source: &Source,
        needs_account: bool,
    ) -> Result<(WorkspaceClient, brickauth_databricks::WorkspaceConfig)> {
        workspace::client(self, source, needs_account)
    }
}

/// The variables that name extra CA certificates for brickauth, in order.
const CA_BUNDLE_VARS: [&str; 2] = ["BRICKAUTH_CA_BUNDLE", "SSL_CERT_FILE"];

/// The variables through which common tools read a CA bundle.
const CHILD_CA_VARS: [&str; 4] = ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"];

/// An environment variable, as every rule here reads it.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests;
