//! A validated profile: the flow it names, its keys with their origins, and lazy secrets.
//!
//! A [`Profile`] comes from [`ProfileFile::profile`](crate::ProfileFile::profile) (`[defaults]`
//! merged under a `[profiles.NAME]` table) or from [`Profile::from_env`] (CI pipelines that set
//! `ARM_*`/`AZURE_*`/`DATABRICKS_*` variables and no file). Either way it is validated against the
//! flow's [`KeySpec`]s before anyone sees it. It implements
//! [`Settings`], the view flows are built from; a secret is resolved only when
//! [`Settings::secret`] asks for it.
//!
//! A profile never shows a secret: [`Settings::get`] returns `None` for secret keys and their
//! sources, and `Debug` and [`Profile::entries`] print `<redacted>` for a literal secret.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use brickauth_core::SecretString;
use brickauth_core::flow::{FlowSpec, RegistryError, find};
use brickauth_core::settings::{COMMON_KEYS, ConfigError, KeySpec, Settings};
use brickauth_keychain::Passwords;

use crate::error::ProfileError;
use crate::origin::{Origin, Position};
use crate::secret::{Source, keychain_entry, resolve, secret_of};

/// One key's value and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The value as text: lists space-joined, integers in decimal, booleans `true`/`false`.
    pub(crate) value: String,
    pub(crate) origin: Origin,
}

/// A value as [`Profile::entries`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisplayValue {
    /// A value that is safe to show: a plain setting, or a secret's source (a variable name, a
    /// path, a command).
    Plain(String),
    /// A literal secret, shown as `<redacted>`.
    Redacted,
}

impl fmt::Display for DisplayValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisplayValue::Plain(value) => f.write_str(value),
            DisplayValue::Redacted => f.write_str("<redacted>"),
        }
    }
}

/// A validated profile: the settings one flow is built from.
pub struct Profile {
    name: String,
    /// The profile file; `None` for the environment-only profile.
    path: Option<Arc<Path>>,
    flow: &'static FlowSpec,
    values: BTreeMap<String, Entry>,
    /// The environment-only profile: a missing key is reported with the variables that set it.
    from_env: bool,
    /// Literal secrets already warned about (warn once per key, not on every resolution).
    warned: Mutex<BTreeSet<String>>,
    /// Where `K_keychain` entries are read; `None`: the user's keychain.
    keychain: Option<Arc<dyn Passwords>>,
    /// The profile file's top-level `secret_storage`, if it has one.
    secret_storage: Option<Entry>,
}

impl Profile {
    /// A profile from already merged values, validated.
    pub(crate) fn build(
        name: &str,
        path: Option<Arc<Path>>,
        flow: &'static FlowSpec,
        values: BTreeMap<String, Entry>,
    ) -> Result<Profile, ProfileError> {
        let profile = Profile::assemble(name, path, flow, values);
        profile.validate()?;
        Ok(profile)
    }

    /// A profile from already merged values, not yet validated: [`Profile::problems`] says
    /// what is wrong with it.
    pub(crate) fn assemble(
        name: &str,
        path: Option<Arc<Path>>,
        flow: &'static FlowSpec,
        values: BTreeMap<String, Entry>,
    ) -> Profile {
        Profile {
            name: name.to_owned(),
            path,
            flow,
            values,
            from_env: false,
            warned: Mutex::new(BTreeSet::new()),
            keychain: None,
            secret_storage: None,
        }
    }

    /// The same profile, reading `K_keychain` entries from `store` instead of the user's keychain
    /// (tests pass a [`brickauth_keychain::Memory`]; a program may bring its own store).
    pub fn with_keychain(mut self, store: Arc<dyn Passwords>) -> Profile {
        self.keychain = Some(store);
        self
    }

    /// The same profile under the TOML profile file's `secret_storage` (a section of
    /// `~/.databrickscfg` takes the TOML file's, when there is one).
    pub(crate) fn with_secret_storage(mut self, setting: Option<Entry>) -> Profile {
        self.secret_storage = setting;
        self
    }

    /// Where the token cache is to keep refresh tokens, as the profile file's top-level
    /// `secret_storage` says (one of [`SECRET_STORAGE_VALUES`](crate::SECRET_STORAGE_VALUES)),
    /// with where it is written; `None` when the file does not say (and for the
    /// environment-only profile, which reads no file). `$BRICKAUTH_SECRET_STORAGE` overrides it:
    /// the caller building the cache decides.
    pub fn secret_storage(&self) -> Option<(&str, &Origin)> {
        self.secret_storage.as_ref().map(|e| (e.value.as_str(), &e.origin))
    }

    /// The profile's name (`env` for the environment-only profile).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The flow the profile's `flow` key names.
    pub fn flow(&self) -> &'static FlowSpec {
        self.flow
    }

    /// The profile file this profile was read from; `None` for [`Profile::from_env`].
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Every set key, sorted by name, with its value as it may be shown and its origin — and
    /// the defaults the flow declares for keys that are not set and that apply
    /// ([`AppConfig::default_value`](brickauth_core::AppConfig::default_value): the interactive
    /// flows' developer sign-on `client_id`), with origin [`Origin::Default`].
    ///
    /// Secrets are shown by their source: `password_env = BRICKAUTH_PASSWORD` (a variable name is
    /// not secret), `_file` the path, `_command` the command; a literal `password` is
    /// [`DisplayValue::Redacted`].
    pub fn entries(&self) -> Vec<(String, DisplayValue, Origin)> {
        let mut out: Vec<(String, DisplayValue, Origin)> = self
            .values
            .iter()
            .map(|(key, entry)| {
                let shown = match secret_of(Some(self.flow), key) {
                    Some((_, Source::Literal)) => DisplayValue::Redacted,
                    _ => DisplayValue::Plain(entry.value.clone()),
                };
                (key.clone(), shown, entry.origin.clone())
            })
            .collect();
        for spec in self.flow.keys.iter().filter(|k| !k.secret) {
            if let Some(value) = brickauth_core::AppConfig::default_value(self, self.flow.keys, spec.name) {
                out.push((spec.name.to_owned(), DisplayValue::Plain(value.to_owned()), Origin::Default));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// A profile for signing in to the workspace `host` with nothing configured: the interactive
    /// `flow` the caller chose (by name; a flow that is not interactive is refused), `host` with
    /// the origin it came from, and no other key — the flow's defaults supply the client id
    /// (the developer sign-on client) and the tenant (the caller fills in the workspace's, found
    /// from the host). `name` is what the profile is called in messages and cache bindings.
    ///
    /// ```no_run
    /// # fn f() -> Result<(), brickauth_profile::ProfileError> {
    /// use brickauth_profile::{Origin, Profile};
    /// let flow = "device-code"; // whichever interactive flow the caller picked
    /// let p = Profile::implicit("adb-1.2.azuredatabricks.net", flow, "https://adb-1.2.azuredatabricks.net",
    ///                           Origin::CommandLine("--host".into()))?;
    /// assert_eq!(p.path(), None);
    /// # Ok(()) }
    /// ```
    pub fn implicit(name: &str, flow: &str, host: &str, host_origin: Origin) -> Result<Profile, ProfileError> {
        let spec = find(flow).map_err(|e| flow_error(e, None, name, None))?;
        if !spec.interactive {
            return Err(ProfileError::InvalidValue {
                path: None,
                profile: Some(name.to_owned()),
                key: "flow".into(),
                at: None,
                message: format!("`{}` is not an interactive flow: an implicit profile signs a person in", spec.name),
            });
        }
        let mut values = BTreeMap::new();
        values.insert("flow".to_owned(), Entry { value: spec.name.to_owned(), origin: Origin::Default });
        values.insert("host".to_owned(), Entry { value: host.to_owned(), origin: host_origin });
        Profile::build(name, None, spec, values)
    }

    /// Override or add a key, from the command line or the environment (`--host`).
    ///
    /// Setting one source of a secret (`password_env`) removes the profile's other sources of it,
    /// so the override wins rather than conflicts. Setting `flow` switches to that flow when the
    /// name is registered; an unknown name is ignored with a warning. `set` does not re-validate:
    /// call [`Profile::validate`] after overriding keys that may not belong to the flow.
    pub fn set(&mut self, key: &str, value: &str, origin: Origin) {
        if key == "flow" {
            match find(value) {
                Ok(spec) => self.flow = spec,
                Err(e) => {
                    tracing::warn!("ignoring flow override from {origin}: {e}");
                    return;
                }
            }
        }
        if let Some((base, _)) = secret_of(Some(self.flow), key) {
            for source in Source::ALL {
                self.values.remove(&source.key(base));
            }
        }
        self.values.insert(key.to_owned(), Entry { value: value.to_owned(), origin });
    }

    /// The environment-only profile, named `env`: settings from the variables CI pipelines set.
    ///
    /// `vars` looks a variable up (pass `&|v| std::env::var(v).ok()`); empty values count as unset.
    /// Which variables fill which key is the flow's to say ([`FlowSpec::env_keys`]: its own
    /// [`FlowSpec::env`] over [`brickauth_core::flow::COMMON_ENV`]); each key takes the first
    /// variable that is set, with origin [`Origin::Env`].
    ///
    /// A key the flow declares secret is stored as `K_env = "VAR"`, so it is read only when the
    /// flow is built. Keys the flow does not accept are skipped. `flow` has origin `--flow`.
    /// A missing key is reported with the variables that would set it, not the profile key.
    pub fn from_env(flow: &str, vars: &dyn Fn(&str) -> Option<String>) -> Result<Profile, ProfileError> {
        const NAME: &str = brickauth_core::settings::ENV_PROFILE;
        let spec = find(flow).map_err(|e| flow_error(e, None, NAME, None))?;

        let mut values = BTreeMap::new();
        values
            .insert("flow".to_owned(), Entry { value: flow.to_owned(), origin: Origin::CommandLine("--flow".into()) });
        for env in spec.env_keys() {
            let found = env.vars.iter().find_map(|var| vars(var).filter(|v| !v.is_empty()).map(|v| (*var, v)));
            let Some((var, value)) = found else { continue };
            let secret = key_spec(spec, env.key).is_some_and(|k| k.secret);
            let (stored, value) =
                if secret { (Source::Env.key(env.key), var.to_owned()) } else { (env.key.to_owned(), value) };
            if spec.accepts(&stored) {
                values.insert(stored, Entry { value, origin: Origin::Env(var.to_owned()) });
            }
        }
        let built = Profile::build(NAME, None, spec, values).map(|p| Profile { from_env: true, ..p });
        built.map_err(|e| match e {
            // Say which variables would have supplied the missing key.
            ProfileError::MissingKey { path, profile, key, hint } => {
                let hint = env_hint(spec, &key).or(hint);
                ProfileError::MissingKey { path, profile, key, hint }
            }
            other => other,
        })
    }

    /// Check the profile against its flow: every key accepted (with the nearest valid key
    /// suggested), at most one source per secret, no empty secret source, every required key set.
    ///
    /// Loading already validates; call this again after [`Profile::set`].
    pub fn validate(&self) -> Result<(), ProfileError> {
        match self.problems().into_iter().next() {
            Some(first) => Err(first),
            None => Ok(()),
        }
    }

    /// Every problem [`Profile::validate`] finds, not only the first (`brickauth profiles validate`
    /// lists them all), in file order.
    pub fn problems(&self) -> Vec<ProfileError> {
        // In file order: the first problem is the first line to fix.
        let mut problems = Vec::new();
        let mut keys: Vec<(&String, &Entry)> = self.values.iter().collect();
        keys.sort_by_key(|(key, entry)| (position(&entry.origin), key.as_str()));

        for (key, entry) in &keys {
            if !self.flow.accepts(key) {
                let names = self.flow.key_names();
                let suggestion = brickauth_core::nearest(key, names.iter().map(String::as_str)).map(str::to_owned);
                let (path, at) = self.locate(&entry.origin);
                problems.push(ProfileError::UnknownKey {
                    path,
                    profile: Some(self.name.clone()),
                    key: (*key).clone(),
                    at,
                    suggestion,
                });
                continue;
            }
            // The first value problem of the key, if any.
            let message = if URL_KEYS.contains(&key.as_str()) && has_userinfo(&entry.value) {
                // The value is never repeated: the user name or password in it may be real.
                Some(
                    "holds a user name or password (`scheme://user:…@host`): remove it; \
                     brickauth never sends credentials in a URL"
                        .to_owned(),
                )
            } else if let Some((_, Source::Keychain)) = secret_of(Some(self.flow), key)
                && !entry.value.trim().is_empty()
                && let Err(message) = keychain_entry(&entry.value)
            {
                Some(message)
            } else if let Some(message) = id_problem(key, &entry.value) {
                Some(message)
            } else if secret_of(Some(self.flow), key).is_some() && entry.value.trim().is_empty() {
                Some("is empty".to_owned())
            } else {
                None
            };
            if let Some(message) = message {
                let (path, at) = self.locate(&entry.origin);
                problems.push(ProfileError::InvalidValue {
                    path,
                    profile: Some(self.name.clone()),
                    key: (*key).clone(),
                    at,
                    message,
                });
            }
        }

        for spec in self.key_specs().filter(|k| k.secret) {
            let mut set: Vec<(String, &Entry)> = Source::ALL
                .iter()
                .filter_map(|s| {
                    let key = s.key(spec.name);
                    self.values.get(&key).map(|e| (key, e))
                })
                .collect();
            set.sort_by_key(|(key, e)| (position(&e.origin), key.clone()));
            if let [_, second, ..] = set.as_slice() {
                let (path, at) = self.locate(&second.1.origin);
                problems.push(ProfileError::AmbiguousSecret {
                    path,
                    profile: Some(self.name.clone()),
                    key: spec.name.to_owned(),
                    sources: set.into_iter().map(|(k, _)| k).collect(),
                    at,
                });
            }
        }

        for spec in self.key_specs().filter(|k| k.required) {
            if !self.is_set(spec) {
                let k = spec.name;
                let hint = spec.secret.then(|| {
                    format!(
                        "set `{k}_env`, `{k}_file`, `{k}_command` or `{k}_keychain` (or a literal `{k}`, not \
                         recommended)"
                    )
                });
                problems.push(ProfileError::MissingKey {
                    path: self.path.clone(),
                    profile: Some(self.name.clone()),
                    key: k.to_owned(),
                    hint,
                });
            }
        }

        // Alternatives (`KeySpec::one_of`): exactly one key of each group, e.g. a client secret
        // or a certificate. None is reported as the group's first key missing, naming the others.
        let mut groups: Vec<&'static str> = self.key_specs().filter_map(|k| k.one_of).collect();
        groups.sort_unstable();
        groups.dedup();
        for group in groups {
            let members: Vec<&'static KeySpec> = self.key_specs().filter(|k| k.one_of == Some(group)).collect();
            let set: Vec<&'static KeySpec> = members.iter().copied().filter(|k| self.is_set(k)).collect();
            let ways = members.iter().map(|k| sources(k)).collect::<Vec<_>>().join(", or ");
            match set.as_slice() {
                [] => {
                    problems.push(ProfileError::MissingKey {
                        path: self.path.clone(),
                        profile: Some(self.name.clone()),
                        key: members.first().map_or(group, |k| k.name).to_owned(),
                        hint: Some(format!("flow `{}` needs a {group}: set {ways}", self.flow.name)),
                    });
                }
                [_] => {}
                [first, second, ..] => {
                    let (path, at) = match self.origin_of(second) {
                        Some(origin) => self.locate(&origin),
                        None => (self.path.clone(), None),
                    };
                    problems.push(ProfileError::InvalidValue {
                        path,
                        profile: Some(self.name.clone()),
                        key: second.name.to_owned(),
                        at,
                        message: format!(
                            "`{}` and `{}` are both set: flow `{}` takes one {group}; remove one",
                            first.name, second.name, self.flow.name
                        ),
                    });
                }
            }
        }
        problems
    }

    /// Whether `spec` is set, through any of its sources for a secret.
    fn is_set(&self, spec: &KeySpec) -> bool {
        if spec.secret {
            Source::ALL.iter().any(|s| self.values.contains_key(&s.key(spec.name)))
        } else {
            self.values.contains_key(spec.name)
        }
    }

    /// Where `spec`'s value came from (its first set source for a secret).
    fn origin_of(&self, spec: &KeySpec) -> Option<Origin> {
        let keys: Vec<String> = if spec.secret {
            Source::ALL.iter().map(|s| s.key(spec.name)).collect()
        } else {
            vec![spec.name.to_owned()]
        };
        keys.iter().find_map(|k| self.values.get(k)).map(|e| e.origin.clone())
    }

    /// Resolve secret `key` from whichever source is set (validation allows at most one).
    pub(crate) fn resolve_secret(&self, key: &str) -> Result<Option<SecretString>, ProfileError> {
        for source in Source::ALL {
            if let Some(entry) = self.values.get(&source.key(key)) {
                if source == Source::Literal {
                    self.warn_literal(key, &entry.origin);
                }
                if source == Source::Command
                    && let Some((path, _)) = entry.origin.position()
                {
                    crate::secret::check_command_origin(path, &source.key(key)).map_err(|message| {
                        ProfileError::Secret { profile: self.name.clone(), key: key.to_owned(), message }
                    })?;
                }
                return resolve(&self.name, key, source, &entry.value, self.keychain.as_deref()).map(Some);
            }
        }
        Ok(None)
    }

    fn warn_literal(&self, key: &str, origin: &Origin) {
        // A poisoned lock only means another thread panicked mid-insert: the set is still usable.
        let first = self.warned.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_owned());
        if first {
            tracing::warn!(
                "profile `{}`: secret `{key}` is written literally at {origin}; \
                 prefer `{key}_env`, `{key}_file`, `{key}_command` or `{key}_keychain`",
                self.name
            );
        }
    }

    /// The common keys and the flow's own.
    fn key_specs(&self) -> impl Iterator<Item = &'static KeySpec> {
        COMMON_KEYS.iter().chain(self.flow.keys)
    }

    /// Where to point an error about a value from `origin`.
    fn locate(&self, origin: &Origin) -> (Option<Arc<Path>>, Option<Position>) {
        match origin.position() {
            Some((path, at)) => (Some(path.into()), Some(at)),
            None => (self.path.clone(), None),
        }
    }
}

/// Sort key: file positions first, in order; values from elsewhere after them.
fn position(origin: &Origin) -> (usize, usize) {
    origin.position().map_or((usize::MAX, 0), |(_, at)| (at.line as usize, at.column.unwrap_or(0) as usize))
}

/// `set $ARM_TENANT_ID or $AZURE_TENANT_ID`: the variables that fill `key` for `flow`, if any.
/// How a key is set, for a hint: `` `k` `` or, for a secret, its source keys.
fn sources(spec: &KeySpec) -> String {
    let k = spec.name;
    if spec.secret { format!("`{k}_env`, `{k}_file`, `{k}_command` or `{k}_keychain`") } else { format!("`{k}`") }
}

fn env_hint(flow: &FlowSpec, key: &str) -> Option<String> {
    let names: Vec<String> = flow.env_vars(key).iter().map(|v| format!("${v}")).collect();
    (!names.is_empty()).then(|| format!("set {}", names.join(" or ")))
}

fn key_spec(flow: &FlowSpec, key: &str) -> Option<&'static KeySpec> {
    COMMON_KEYS.iter().chain(flow.keys).find(|k| k.name == key)
}

/// A failed flow lookup as a profile error at the `flow` key.
pub(crate) fn flow_error(
    e: RegistryError,
    path: Option<Arc<Path>>,
    profile: &str,
    at: Option<Position>,
) -> ProfileError {
    match e {
        RegistryError::Unknown { name, suggestion, known } => ProfileError::UnknownFlow {
            path,
            profile: Some(profile.to_owned()),
            at,
            name,
            suggestion,
            known: known.into(),
        },
        other => ProfileError::InvalidValue {
            path,
            profile: Some(profile.to_owned()),
            key: "flow".into(),
            at,
            message: other.to_string(),
        },
    }
}

impl Settings for Profile {
    fn profile_name(&self) -> &str {
        &self.name
    }

    /// A profile of a file binds under its name. The environment-only profile binds under
    /// `env:<flow>`: its one name `env` stands for whatever the variables hold at each run, so a
    /// binding made by one flow (bob's password) must never serve another (alice's refresh token,
    /// a device-code sign-in). Within one flow, what decides the account is checked as for any
    /// profile: `username`, and the fingerprint of a configured credential
    /// ([`GrantFlow::account_credential`](brickauth_core::GrantFlow::account_credential)).
    fn binding_name(&self) -> std::borrow::Cow<'_, str> {
        match self.path {
            Some(_) => std::borrow::Cow::Borrowed(&self.name),
            None => std::borrow::Cow::Owned(format!("{}:{}", self.name, self.flow.name)),
        }
    }

    /// A plain value; `None` for secrets and their sources (use [`Settings::secret`]).
    fn get(&self, key: &str) -> Option<&str> {
        if secret_of(Some(self.flow), key).is_some() {
            return None;
        }
        self.values.get(key).map(|e| e.value.as_str())
    }

    fn secret(&self, key: &str) -> Result<Option<SecretString>, ConfigError> {
        self.resolve_secret(key).map_err(|e| ConfigError::from(e).at(self.origin(key)))
    }

    /// As the trait's, but the environment-only profile names the variables to set.
    fn require(&self, key: &str) -> Result<&str, ConfigError> {
        match self.get(key) {
            Some(value) => Ok(value),
            None if self.from_env => match env_hint(self.flow, key) {
                Some(hint) => Err(ConfigError {
                    profile: None,
                    key: None,
                    origin: Some("environment".into()),
                    message: format!("flow `{}` needs `{key}`: {hint}", self.flow.name),
                }),
                None => Err(ConfigError::missing(&self.name, key)),
            },
            None => Err(ConfigError::missing(&self.name, key)),
        }
    }

    /// For a secret, the origin of whichever source key is set.
    fn source_key(&self, key: &str) -> Option<String> {
        secret_of(Some(self.flow), key)?;
        Source::ALL.iter().map(|s| s.key(key)).find(|k| k != key && self.values.contains_key(k))
    }

    fn origin(&self, key: &str) -> Option<String> {
        let entry = self.values.get(key).or_else(|| {
            secret_of(Some(self.flow), key)
                .filter(|(_, source)| *source == Source::Literal)
                .and_then(|_| Source::ALL.iter().find_map(|s| self.values.get(&s.key(key))))
        });
        entry.map(|e| e.origin.to_string())
    }
}

impl Clone for Profile {
    fn clone(&self) -> Self {
        let warned = self.warned.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Profile {
            name: self.name.clone(),
            path: self.path.clone(),
            flow: self.flow,
            values: self.values.clone(),
            from_env: self.from_env,
            warned: Mutex::new(warned),
            keychain: self.keychain.clone(),
            secret_storage: self.secret_storage.clone(),
        }
    }
}

/// Shows [`Profile::entries`]: literal secrets are redacted.
impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Entries<'a>(&'a Profile);
        impl fmt::Debug for Entries<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map().entries(self.0.entries().into_iter().map(|(k, v, o)| (k, format!("{v} ({o})")))).finish()
            }
        }
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("flow", &self.flow.name)
            .field("entries", &Entries(self))
            .finish()
    }
}

/// What is wrong with the value of `account_id` or `workspace_id` (core's types decide), if
/// anything: they go into request paths and headers, so a typo is caught when the profile is
/// read, not as a 404 from the server.
fn id_problem(key: &str, value: &str) -> Option<String> {
    let e = match key {
        "account_id" => value.parse::<brickauth_core::AccountId>().err()?,
        "workspace_id" => value.parse::<brickauth_core::WorkspaceId>().err()?,
        _ => return None,
    };
    Some(e.to_string())
}

/// Keys whose value is a URL that brickauth connects to.
const URL_KEYS: &[&str] = &["host", "authority_host"];

/// Whether `url` has a userinfo part (`https://user:secret@host/…`), which would put a
/// credential in logs, errors and proxies' request lines.
fn has_userinfo(url: &str) -> bool {
    let rest = url.trim().split_once("://").map_or(url.trim(), |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.contains('@')
}
