//! Settings: the key/value view of a profile that flows are built from.
//!
//! `brickauth-core` never reads a profile file. The profile crate (or an embedding program, or the
//! environment-only mode of the CLI) implements [`Settings`]; flows read their keys through it. A
//! secret key `K` is never read with [`Settings::get`]: [`Settings::secret`] resolves it from
//! whichever source the user chose (`K`, `K_env`, `K_file`, `K_command`), and only when a flow is
//! actually built — the cached-token path never resolves a secret.
//!
//! Typed values: `Settings::parse` (on `dyn Settings`) turns a key's text into any `T:
//! FromStr` whose error says what is wrong — [`Seconds`], [`Flag`], a URL, a [`Tenant`](crate::Tenant)
//! or [`ClientId`](crate::ClientId), … — and a bad value becomes a [`ConfigError`] naming the
//! profile, the key and where the value came from.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

/// Keys every profile may carry, whatever its flow.
pub const COMMON_KEYS: &[KeySpec] = &[
    KeySpec::required("flow", "the grant flow, by name or alias (see `brickauth flows`)"),
    KeySpec::optional("tenant_id", "directory (tenant) id: a GUID, a verified domain, or `organizations`"),
    KeySpec::optional("client_id", "application (client) id of the app registration, a GUID"),
    KeySpec::optional("host", "Azure Databricks workspace URL, e.g. https://adb-123.4.azuredatabricks.net"),
    KeySpec::optional("cloud", "`public`, `usgov` or `china` (default: from the workspace host, else public)"),
    KeySpec::optional("authority_host", "overrides `cloud`, e.g. http://127.0.0.1:8400 for a local mock"),
    KeySpec::optional("scopes", "requested scopes (default: 2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default)"),
    KeySpec::optional(
        "azure_workspace_resource_id",
        "/subscriptions/…/resourceGroups/…/providers/Microsoft.Databricks/workspaces/…",
    ),
    KeySpec::optional(
        "azure_subscription_id",
        "with azure_resource_group and azure_workspace_name: the resource id in parts",
    ),
    KeySpec::optional("azure_resource_group", "see azure_subscription_id"),
    KeySpec::optional("azure_workspace_name", "see azure_subscription_id"),
    KeySpec::optional("default_for_host", "true: what `auth token --host` picks when several profiles share the host"),
    KeySpec::optional(
        "account_id",
        "Databricks account id, a GUID: for https://accounts.azuredatabricks.net and unified hosts",
    ),
    KeySpec::optional("workspace_id", "the workspace's id on a unified host (sent as X-Databricks-Workspace-Id)"),
];

/// The suffixes that name a secret's source: `password_env = "VAR"`, `password_file = "~/.pw"`, …
/// (`_keychain = "service/account"`: an entry of the user's keychain.)
pub const SECRET_SUFFIXES: &[&str] = &["_env", "_file", "_command", "_keychain"];

/// One key a flow (or every profile) reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// The key as written in the profile file.
    pub name: &'static str,
    /// Whether the flow refuses to build without it.
    pub required: bool,
    /// Whether the value is a secret: then `name_env`, `name_file`, `name_command` and
    /// `name_keychain` are accepted too.
    pub secret: bool,
    /// One line for `brickauth flows` and the profile reference.
    pub help: &'static str,
    /// The alternatives this key is one of (`"credential"`: a client secret or a certificate):
    /// a profile sets exactly one key of each group its flow declares. See [`KeySpec::one_of`].
    pub one_of: Option<&'static str>,
    /// What the flow uses when the key is not set, if anything (a flow may redeclare a common key
    /// to give it a default: the interactive flows' `client_id`). Shown by `brickauth flows`; a
    /// value used this way has the origin "built-in default".
    pub default: Option<&'static str>,
}

impl KeySpec {
    /// A required plain key.
    pub const fn required(name: &'static str, help: &'static str) -> Self {
        Self { name, required: true, secret: false, help, one_of: None, default: None }
    }
    /// An optional plain key.
    pub const fn optional(name: &'static str, help: &'static str) -> Self {
        Self { name, required: false, secret: false, help, one_of: None, default: None }
    }
    /// A required secret key.
    pub const fn secret(name: &'static str, help: &'static str) -> Self {
        Self { name, required: true, secret: true, help, one_of: None, default: None }
    }
    /// An optional secret key.
    pub const fn optional_secret(name: &'static str, help: &'static str) -> Self {
        Self { name, required: false, secret: true, help, one_of: None, default: None }
    }
    /// This (optional) key is one of the alternatives named `group`: validation requires exactly
    /// one key of the group to be set, so a flow that needs a client secret *or* a certificate
    /// says so here, and a profile with neither (or both) is refused before any request.
    pub const fn one_of(self, group: &'static str) -> Self {
        Self { one_of: Some(group), ..self }
    }
    /// The same key, with what the flow uses when it is not set.
    pub const fn with_default(self, value: &'static str) -> Self {
        Self { default: Some(value), ..self }
    }
}

/// The name of the profile built from environment variables alone (`brickauth --flow NAME`, CI
/// pipelines). It is a name for caches and listings, not one a user wrote: messages leave it out
/// and name the variables instead ([`ConfigError`] does so itself).
pub const ENV_PROFILE: &str = "env";

/// Read access to a resolved profile.
///
/// Implemented by `brickauth-profile`'s `Profile`, by the CLI's environment-only mode, and by
/// [`MapSettings`] for embedders and tests.
pub trait Settings: Send + Sync {
    /// The profile's name, for messages such as "run `brickauth login -p NAME`".
    fn profile_name(&self) -> &str;
    /// A plain (non-secret) value; lists (such as `scopes`) come space-separated.
    fn get(&self, key: &str) -> Option<&str>;
    /// Resolve the secret `key` from whichever source the profile names. `Ok(None)` when none is set.
    fn secret(&self, key: &str) -> Result<Option<SecretString>, ConfigError>;
    /// Where `key`'s value came from (`profiles.toml:12`, `[defaults]`, `$ARM_CLIENT_ID`, …).
    fn origin(&self, key: &str) -> Option<String>;
    /// The setting secret `key` is read from (`refresh_token_file`, `password_env`, …), when a
    /// person should be told where to change it; `None` when unknown or `key` itself.
    fn source_key(&self, key: &str) -> Option<String> {
        let _ = key;
        None
    }

    /// The name the token cache binds this profile's own sign-ins under (its *binding*: which
    /// account a profile naming no `username` is served). By default the profile's name. Settings
    /// whose one name stands for whatever flow and credentials they hold at the moment (the
    /// environment-only mode) bind per flow instead, so that no flow is ever served the account
    /// another flow signed in.
    fn binding_name(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(self.profile_name())
    }

    /// A required plain value, or a [`ConfigError`] naming the key.
    fn require(&self, key: &str) -> Result<&str, ConfigError> {
        self.get(key).ok_or_else(|| ConfigError::missing(self.profile_name(), key))
    }
    /// A required secret, or a [`ConfigError`] naming the key and its source keys.
    fn require_secret(&self, key: &str) -> Result<SecretString, ConfigError> {
        self.secret(key)?.ok_or_else(|| {
            ConfigError::new(
                self.profile_name(),
                key,
                format!(
                    "this flow needs `{key}`: set `{key}_env`, `{key}_file` or `{key}_command` (or a literal `{key}`)"
                ),
            )
        })
    }
}

impl dyn Settings + '_ {
    /// `key`'s value parsed as `T`; `Ok(None)` when the key is not set. A value `T` refuses is a
    /// [`ConfigError`] naming the profile, the key, its origin and `T`'s reason.
    ///
    /// ```
    /// use brickauth_core::settings::{MapSettings, Seconds, Settings};
    ///
    /// let s = MapSettings::new("p").with("login_timeout", "90").with("broken", "soon");
    /// let s: &dyn Settings = &s;
    /// assert_eq!(s.parse::<Seconds>("login_timeout").unwrap().map(|t| t.0.as_secs()), Some(90));
    /// assert_eq!(s.parse::<Seconds>("unset").unwrap(), None);
    /// let err = s.parse::<Seconds>("broken").unwrap_err();
    /// assert_eq!(err.to_string(), "set in code: profile `p`, key `broken`: `soon` is not a positive whole number of seconds");
    /// ```
    pub fn parse<T>(&self, key: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.get(key).map(|v| v.parse::<T>().map_err(|e| self.invalid(key, e))).transpose()
    }

    /// Like `parse`, for a key the flow cannot do without.
    pub fn parse_required<T>(&self, key: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.require(key)?.parse::<T>().map_err(|e| self.invalid(key, e))
    }

    /// A [`ConfigError`] about `key`'s value: the profile, the key, its origin and `why`.
    pub fn invalid(&self, key: &str, why: impl fmt::Display) -> ConfigError {
        ConfigError::new(self.profile_name(), key, why.to_string()).at(self.origin(key))
    }
}

/// A positive whole number of seconds (`login_timeout = 120`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seconds(pub Duration);

/// Why a value is not [`Seconds`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a positive whole number of seconds")]
pub struct SecondsError(pub String);

impl FromStr for Seconds {
    type Err = SecondsError;
    fn from_str(s: &str) -> Result<Self, SecondsError> {
        match s.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Seconds(Duration::from_secs(n))),
            _ => Err(SecondsError(s.to_owned())),
        }
    }
}

/// A boolean setting: `true` or `false` (surrounding blanks ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flag(pub bool);

/// Why a value is not a [`Flag`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not true or false")]
pub struct FlagError(pub String);

impl FromStr for Flag {
    type Err = FlagError;
    fn from_str(s: &str) -> Result<Self, FlagError> {
        s.trim().parse::<bool>().map(Flag).map_err(|_| FlagError(s.to_owned()))
    }
}

/// A profile or settings problem: exit code 2 in the CLI.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{}", self.render())]
pub struct ConfigError {
    /// The profile at fault, when known.
    pub profile: Option<String>,
    /// The key at fault, when known.
    pub key: Option<String>,
    /// Where the key's value came from (file:line, variable), when known.
    pub origin: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
}

impl ConfigError {
    /// An error about `key` of `profile`.
    pub fn new(profile: &str, key: &str, message: impl Into<String>) -> Self {
        Self { profile: Some(profile.to_owned()), key: Some(key.to_owned()), origin: None, message: message.into() }
    }
    /// A required key that is missing.
    pub fn missing(profile: &str, key: &str) -> Self {
        Self::new(profile, key, format!("missing required key `{key}`"))
    }
    /// An error not tied to one key.
    pub fn general(message: impl Into<String>) -> Self {
        Self { profile: None, key: None, origin: None, message: message.into() }
    }
    /// Attach where the faulty value came from.
    pub fn at(mut self, origin: Option<String>) -> Self {
        if origin.is_some() {
            self.origin = origin;
        }
        self
    }

    fn render(&self) -> String {
        let mut s = String::new();
        if let Some(origin) = &self.origin {
            s.push_str(origin);
            s.push_str(": ");
        }
        // The environment-only profile is no profile the user knows: the key (and its origin,
        // the variable) say it all.
        let profile = self.profile.as_deref().filter(|p| *p != ENV_PROFILE);
        match (profile, &self.key) {
            (Some(p), Some(k)) => s.push_str(&format!("profile `{p}`, key `{k}`: ")),
            (Some(p), None) => s.push_str(&format!("profile `{p}`: ")),
            (None, Some(k)) => s.push_str(&format!("key `{k}`: ")),
            (None, None) => {}
        }
        s.push_str(&self.message);
        s
    }
}

/// An in-memory [`Settings`]: for embedders who build flows without a profile file, and for tests.
///
/// Secrets are held in memory as [`SecretString`]s; there is no `_env`/`_file`/`_command` lookup.
#[derive(Default)]
pub struct MapSettings {
    name: String,
    values: BTreeMap<String, String>,
    secrets: BTreeMap<String, SecretString>,
}

impl fmt::Debug for MapSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapSettings")
            .field("name", &self.name)
            .field("values", &self.values)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl MapSettings {
    /// Empty settings for a profile called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), ..Self::default() }
    }
    /// Set a plain value.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.values.insert(key.to_owned(), value.into());
        self
    }
    /// Set a secret value.
    pub fn with_secret(mut self, key: &str, value: impl Into<String>) -> Self {
        self.secrets.insert(key.to_owned(), SecretString::from(value.into()));
        self
    }
}

impl Settings for MapSettings {
    fn profile_name(&self) -> &str {
        &self.name
    }
    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }
    fn secret(&self, key: &str) -> Result<Option<SecretString>, ConfigError> {
        Ok(self.secrets.get(key).cloned())
    }
    fn origin(&self, key: &str) -> Option<String> {
        (self.values.contains_key(key) || self.secrets.contains_key(key)).then(|| "set in code".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values() {
        let m = MapSettings::new("p")
            .with("t", " 30 ")
            .with("zero", "0")
            .with("yes", " true")
            .with("maybe", "yes")
            .with("tenant_id", "organizations");
        let s: &dyn Settings = &m;
        assert_eq!(s.parse::<Seconds>("t"), Ok(Some(Seconds(Duration::from_secs(30)))));
        assert_eq!(s.parse::<Seconds>("zero").unwrap_err().message, "`0` is not a positive whole number of seconds");
        assert_eq!(s.parse::<Flag>("yes"), Ok(Some(Flag(true))));
        let err = s.parse::<Flag>("maybe").unwrap_err();
        assert_eq!((err.key.as_deref(), err.message.as_str()), (Some("maybe"), "`yes` is not true or false"));
        assert_eq!(s.parse_required::<crate::Tenant>("tenant_id").map(|t| t.to_string()), Ok("organizations".into()));
        assert_eq!(s.parse_required::<crate::Tenant>("missing").unwrap_err().message, "missing required key `missing`");
    }
}
