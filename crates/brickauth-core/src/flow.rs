//! The grant-flow plugin interface and its `inventory` registry.
//!
//! A flow crate implements [`GrantFlow`] and registers a [`FlowSpec`] with
//! `inventory::submit!`. Nothing outside the flow crate knows its name: the CLI looks flows up by
//! the profile's `flow` key through [`find`]. The registry is built once, lazily, and checks that
//! no two flows claim the same name or alias.
//!
//! **Linking:** a crate that is a dependency but never referenced is dropped by the linker, and its
//! `submit!`s with it. Every flow crate therefore exports `pub fn link() {}`, and whoever wants the
//! flow linked (the `brickauth-flows` facade) calls it.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use crate::app::AppConfig;
use crate::error::AuthError;
use crate::http::TokenClient;
use crate::prompt::Prompt;
use crate::settings::{ConfigError, KeySpec, Settings};
use crate::token::TokenResponse;

/// A boxed, sendable future, as returned by [`GrantFlow::acquire`] (keeps the trait object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One way of getting a token from Entra ID (or another OAuth server).
///
/// Flows never touch the token cache or the profile file: they get what they need when built,
/// and return a [`TokenResponse`] that the caller stores.
pub trait GrantFlow: Send + Sync + fmt::Debug {
    /// The authority, client id and scopes this flow requests tokens for.
    fn app(&self) -> &AppConfig;

    /// Whether the flow needs a person (a browser, a code to type). Such flows are not run when
    /// there is no terminal; the user is told to run `brickauth login` instead.
    fn interactive(&self) -> bool {
        false
    }

    /// Whether the caller may store this flow's tokens in its cache. `false` for flows whose
    /// tokens another tool owns and refreshes (the Azure CLI): the caller then uses the token
    /// once and asks the flow again next time.
    fn cacheable(&self) -> bool {
        true
    }

    /// The configured credential that decides which account this flow signs in as, when the
    /// flow has one (the refresh-token flow's refresh token; the Azure CLI flow's stamp of
    /// az's sign-in files; a password only proves the `username` the profile names already).
    /// A cache keeps a keyed fingerprint of it, never the credential, so that a profile whose
    /// credential was changed redeems the new one instead of being served the old account's
    /// token. Asked on every cached call of a profile bound with a fingerprint, so it must be
    /// cheap; it is asked afresh each time (a long-running service sees changes too), and
    /// `None` means "cannot tell": the cached token is not used.
    fn account_credential(&self) -> Option<secrecy::SecretString> {
        None
    }

    /// Get a fresh token.
    fn acquire<'a>(&'a self, cx: &'a FlowContext<'a>) -> BoxFuture<'a, Result<TokenResponse, AuthError>>;
}

/// What a flow may use while it runs.
#[derive(Clone, Copy)]
pub struct FlowContext<'a> {
    /// The HTTP client for token endpoints (timeouts, retries, user agent).
    pub client: &'a TokenClient,
    /// What the user is able to do right now.
    pub interaction: Interaction,
    /// Where interactive flows show the device code and the sign-in URL, and read a pasted
    /// answer (see [`crate::prompt`]).
    pub prompt: &'a dyn Prompt,
}

impl<'a> FlowContext<'a> {
    /// A context with the plain [`prompt::Stderr`](crate::prompt::Stderr) prompt.
    pub fn new(client: &'a TokenClient, interaction: Interaction) -> Self {
        FlowContext { client, interaction, prompt: &crate::prompt::Stderr }
    }

    /// The same context with another prompt (a GUI's, a service's, the CLI's spinner).
    pub fn with_prompt(self, prompt: &'a dyn Prompt) -> Self {
        FlowContext { prompt, ..self }
    }
}

impl fmt::Debug for FlowContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlowContext").field("client", &self.client).field("interaction", &self.interaction).finish()
    }
}

/// Run `flow` once with brickauth's default HTTP client and no person present: what an embedding
/// program without a cache, a test or an example does.
///
/// ```no_run
/// # async fn f(flow: &dyn brickauth_core::GrantFlow) -> Result<(), brickauth_core::AuthError> {
/// let answer = brickauth_core::flow::acquire_unattended(flow).await?;
/// println!("{}", answer.access_token.expose());
/// # Ok(()) }
/// ```
pub async fn acquire_unattended<F: GrantFlow + ?Sized>(flow: &F) -> Result<TokenResponse, AuthError> {
    let client = TokenClient::new()?;
    flow.acquire(&FlowContext::new(&client, Interaction::NONE)).await
}

/// What kind of interaction is possible in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interaction {
    /// stdin and stderr are terminals: a person can read a prompt and answer it.
    pub terminal: bool,
    /// A browser may be launched (false with `--no-browser`).
    pub browser: bool,
}

impl Interaction {
    /// No person present: interactive flows must not run.
    pub const NONE: Interaction = Interaction { terminal: false, browser: false };
}

/// The cache identity of a profile, from its settings alone (see [`FlowSpec::app`]).
pub type AppFn = fn(&dyn Settings) -> Result<AppConfig, ConfigError>;

/// Builds a flow from settings (see [`FlowSpec::build`]).
pub type BuildFn = fn(&dyn Settings) -> Result<Box<dyn GrantFlow>, ConfigError>;

/// A flow's registration: what `brickauth flows` shows and how to build the flow from settings.
#[derive(Clone, Copy)]
pub struct FlowSpec {
    /// The canonical name, as written in `flow = "…"`.
    pub name: &'static str,
    /// Other accepted names.
    pub aliases: &'static [&'static str],
    /// One line describing the flow.
    pub summary: &'static str,
    /// Whether the flow needs a person (see [`GrantFlow::interactive`]).
    pub interactive: bool,
    /// The flow's own profile keys (on top of [`crate::settings::COMMON_KEYS`]).
    pub keys: &'static [KeySpec],
    /// The environment variables that fill the flow's keys in the environment-only mode (no
    /// profile file, as CI pipelines run). An entry for a key replaces [`COMMON_ENV`]'s entry for
    /// it (Databricks OAuth reads `DATABRICKS_CLIENT_ID`, not `ARM_CLIENT_ID`).
    pub env: &'static [EnvKey],
    /// Which sections of the Databricks config file (`~/.databrickscfg`) the flow serves, and
    /// how their keys map to the flow's; [`DatabricksAuth::NONE`] for none.
    pub databricks: DatabricksAuth,
    /// The identity the flow's tokens are cached under, from settings alone: must not resolve
    /// secrets or do I/O (the cached path calls it). Entra flows: `AppConfig::from_settings`.
    pub app: AppFn,
    /// Build the flow from settings. Resolves secrets, so call it only when a token is needed.
    pub build: BuildFn,
}

/// The variables that fill one profile key in the environment-only mode: the first one set (and
/// not empty) wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvKey {
    /// The profile key (a secret key is stored as `KEY_env = "VAR"`, read only when the flow is built).
    pub key: &'static str,
    /// The variables, in order of preference.
    pub vars: &'static [&'static str],
}

impl EnvKey {
    /// `key` filled from the first of `vars` that is set.
    pub const fn new(key: &'static str, vars: &'static [&'static str]) -> Self {
        Self { key, vars }
    }
}

/// The variables the environment-only mode reads for the common keys, whatever the flow (a
/// flow's own [`FlowSpec::env`] entry for the same key replaces the entry here).
pub const COMMON_ENV: &[EnvKey] = &[
    EnvKey::new("tenant_id", &["ARM_TENANT_ID", "AZURE_TENANT_ID"]),
    EnvKey::new("client_id", &["ARM_CLIENT_ID", "AZURE_CLIENT_ID"]),
    EnvKey::new("host", &["DATABRICKS_HOST"]),
    EnvKey::new("azure_workspace_resource_id", &["DATABRICKS_AZURE_RESOURCE_ID"]),
    EnvKey::new("authority_host", &["AZURE_AUTHORITY_HOST"]),
    EnvKey::new("account_id", &["DATABRICKS_ACCOUNT_ID"]),
    EnvKey::new("workspace_id", &["DATABRICKS_WORKSPACE_ID"]),
];

impl FlowSpec {
    /// The variables that fill `key` for this flow in the environment-only mode: the flow's own
    /// entry, else [`COMMON_ENV`]'s, else none.
    pub fn env_vars(&self, key: &str) -> &'static [&'static str] {
        self.env.iter().chain(COMMON_ENV).find(|e| e.key == key).map_or(&[], |e| e.vars)
    }

    /// Every key the environment-only mode may fill for this flow, each with its variables.
    pub fn env_keys(&self) -> Vec<EnvKey> {
        let mut out: Vec<EnvKey> = self.env.to_vec();
        out.extend(COMMON_ENV.iter().filter(|c| !self.env.iter().any(|e| e.key == c.key)));
        out
    }
}

/// How a flow serves sections of the Databricks config file (`~/.databrickscfg`), in the terms
/// of the Databricks SDKs' unified authentication: the `auth_type`s it stands for and the keys
/// that select it when a section names no `auth_type`.
///
/// The keys every flow shares — `host`, `azure_tenant_id` (→ `tenant_id`),
/// `azure_workspace_resource_id`, `azure_environment` (→ `cloud`) — are mapped by whoever reads
/// the file; [`DatabricksAuth::keys`] lists the flow's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatabricksAuth {
    /// The `auth_type` values this flow serves (`azure-client-secret`, `oauth-m2m`, …).
    pub auth_types: &'static [&'static str],
    /// Without `auth_type`: the config keys that, all set, select this flow (the SDKs pick by
    /// the keys present the same way). Empty: selected only by `auth_type` (or as the fallback).
    pub detect: &'static [&'static str],
    /// Selected for a section that has a `host` and nothing that selects another flow, as the
    /// SDKs fall back to the Azure CLI.
    pub fallback: bool,
    /// Config key → profile key, for the flow's keys (`azure_client_secret` → `client_secret`).
    /// A secret key maps to the secret's literal form; the reader keeps it redacted.
    pub keys: &'static [(&'static str, &'static str)],
}

impl DatabricksAuth {
    /// The flow serves no Databricks config section.
    pub const NONE: DatabricksAuth = DatabricksAuth { auth_types: &[], detect: &[], fallback: false, keys: &[] };

    /// Whether the flow serves this `auth_type`.
    pub fn serves(&self, auth_type: &str) -> bool {
        self.auth_types.iter().any(|t| t.eq_ignore_ascii_case(auth_type.trim()))
    }
}

impl fmt::Debug for FlowSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlowSpec").field("name", &self.name).field("aliases", &self.aliases).finish_non_exhaustive()
    }
}

impl FlowSpec {
    /// Whether `key` is one of this flow's own keys, or a source key (`K_env`, …) of a secret key.
    pub fn accepts(&self, key: &str) -> bool {
        accepts(self.keys, key) || accepts(crate::settings::COMMON_KEYS, key)
    }
    /// Every key name this flow accepts, source keys included (for "did you mean" suggestions).
    pub fn key_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for k in crate::settings::COMMON_KEYS.iter().chain(self.keys) {
            out.push(k.name.to_owned());
            if k.secret {
                for s in crate::settings::SECRET_SUFFIXES {
                    out.push(format!("{}{s}", k.name));
                }
            }
        }
        out
    }
}

fn accepts(keys: &[KeySpec], key: &str) -> bool {
    keys.iter().any(|k| {
        k.name == key
            || (k.secret && crate::settings::SECRET_SUFFIXES.iter().any(|s| key.strip_suffix(s) == Some(k.name)))
    })
}

inventory::collect!(FlowSpec);

/// Register a flow crate's [`FlowSpec`] and define the crate's `pub fn link()`.
///
/// The linker drops a crate that nothing references, and its `inventory` registration with it;
/// the `brickauth-flows` facade calls every flow crate's `link()` so that cannot happen.
///
/// ```text
/// brickauth_core::register_flow! {
///     FlowSpec { name: "password", aliases: &["ropc"], summary: "…", interactive: false,
///                keys: KEYS, env: &[], databricks: DatabricksAuth::NONE,
///                app: AppConfig::from_settings, build }
/// }
/// ```
#[macro_export]
macro_rules! register_flow {
    ($spec:expr) => {
        $crate::inventory::submit! { $spec }

        /// Reference this to make sure the linker keeps this crate's flow registration.
        pub fn link() {}
    };
}

/// A problem with the registry or a lookup in it.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    /// No linked flow has this name or alias.
    #[error("unknown flow `{name}`{}; registered flows: {}", suggest(.suggestion), .known.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
        /// The nearest registered name, if any is close.
        suggestion: Option<String>,
        /// All registered names, sorted.
        known: Vec<String>,
    },
    /// Two linked flows claim the same name or alias.
    #[error("flow name `{0}` is registered by more than one linked flow crate")]
    Duplicate(String),
}

fn suggest(s: &Option<String>) -> String {
    s.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default()
}

struct Registry {
    by_name: BTreeMap<&'static str, Option<&'static FlowSpec>>,
    sorted: Vec<&'static FlowSpec>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut by_name: BTreeMap<&'static str, Option<&'static FlowSpec>> = BTreeMap::new();
        let mut sorted: Vec<&'static FlowSpec> = inventory::iter::<FlowSpec>.into_iter().collect();
        sorted.sort_by_key(|s| s.name);
        for spec in &sorted {
            for name in std::iter::once(&spec.name).chain(spec.aliases) {
                // `None` marks a name claimed twice (the typetag pattern): lookups of it fail.
                by_name.entry(name).and_modify(|e| *e = None).or_insert(Some(spec));
            }
        }
        Registry { by_name, sorted }
    })
}

/// Every linked flow, sorted by name.
pub fn flows() -> &'static [&'static FlowSpec] {
    &registry().sorted
}

/// Names claimed by more than one linked flow (empty when the registry is sound).
pub fn duplicates() -> Vec<&'static str> {
    registry().by_name.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| *k).collect()
}

/// Look a flow up by name or alias (case-insensitive, `_` and `-` alike).
pub fn find(name: &str) -> Result<&'static FlowSpec, RegistryError> {
    let wanted = name.trim().to_ascii_lowercase().replace('_', "-");
    match registry().by_name.get(wanted.as_str()) {
        Some(Some(spec)) => Ok(spec),
        Some(None) => Err(RegistryError::Duplicate(wanted)),
        None => {
            let known: Vec<String> = flows().iter().map(|s| s.name.to_owned()).collect();
            let names = registry().by_name.keys().copied();
            Err(RegistryError::Unknown {
                name: name.to_owned(),
                suggestion: crate::nearest(&wanted, names).map(str::to_owned),
                known,
            })
        }
    }
}

/// Build the flow that `settings` names in its `flow` key.
pub fn build(settings: &dyn Settings) -> Result<Box<dyn GrantFlow>, ConfigError> {
    let name = settings.require("flow")?;
    let spec = find(name)
        .map_err(|e| ConfigError::new(settings.profile_name(), "flow", e.to_string()).at(settings.origin("flow")))?;
    (spec.build)(settings)
}

/// The cache identity of the profile `settings` describes, through its flow's [`FlowSpec::app`].
pub fn app_config(settings: &dyn Settings) -> Result<AppConfig, ConfigError> {
    let name = settings.require("flow")?;
    let spec = find(name)
        .map_err(|e| ConfigError::new(settings.profile_name(), "flow", e.to_string()).at(settings.origin("flow")))?;
    (spec.app)(settings)
}
