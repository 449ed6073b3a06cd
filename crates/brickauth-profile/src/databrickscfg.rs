//! The Databricks config file (`~/.databrickscfg`) as a second source of profiles.
//!
//! Data engineers arrive with a `~/.databrickscfg` that the Databricks CLI wrote and every SDK and
//! Terraform read. When the TOML profile file has no profile of the requested name, its
//! `[NAME]` section is used, read by the rules of the Databricks SDKs:
//!
//! - the file is `$DATABRICKS_CONFIG_FILE`, else `~/.databrickscfg` ([`databrickscfg_path`]);
//! - sections do **not** inherit `[DEFAULT]` (the SDKs read each section alone); `[DEFAULT]` is
//!   itself a profile, the one used when nothing names another; `[__settings__]`'s
//!   `default_profile` names the default section instead;
//! - keys are case-insensitive (Python's `configparser` lowers them); values are taken as written
//!   (no quotes, no escapes), continuation lines joined;
//! - the flow is the one whose [`DatabricksAuth`](brickauth_core::flow::DatabricksAuth) serves the section's `auth_type`; without
//!   `auth_type`, the one whose [`DatabricksAuth::detect`](brickauth_core::flow::DatabricksAuth::detect) keys are all set, else the fallback
//!   flow when the section has a `host` — the order of the SDKs' credential chain, where a
//!   personal access token, basic authentication or a metadata service come first: such a
//!   section is refused with [`ProfileError::Unsupported`], naming the section and the key.
//!
//! Unknown keys: the file is shared with the Databricks CLI, the SDKs and Terraform, which read
//! keys brickauth does not ([`DATABRICKS_KEYS`]: cluster ids, timeouts, …), and other tools put
//! their own there. So a key is checked only when the section is used as a profile, and:
//!
//! - a key brickauth or the Databricks tools read is fine;
//! - a key close to one brickauth reads — the keys that decide the flow and its credential
//!   (`azure_clent_secret` for `azure_client_secret`, which would otherwise silently make the
//!   section another flow) — is an error with "did you mean" ([`ProfileError::UnknownKey`]);
//! - any other key is a warning (`tracing`), since some tool may read it.
//!
//! The keys every flow shares are mapped here ([`COMMON`]); each flow maps its own
//! ([`DatabricksAuth::keys`](brickauth_core::flow::DatabricksAuth::keys)). Every value's origin is [`Origin::DatabricksCfg`]
//! (`~/.databrickscfg:LINE`). Secrets stay literal in that file (that is where the Databricks CLI
//! keeps them): they are redacted everywhere, and `brickauth profiles import --databrickscfg`
//! moves profiles to TOML with a reference to the secret instead.
//!
//! This module names no flow: which flow serves which section is each flow's [`FlowSpec`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use brickauth_core::flow::{FlowSpec, flows};

use crate::error::ProfileError;
use crate::file::ProfileFile;
use crate::origin::{Origin, Position};
use crate::profile::{Entry, Profile};
use crate::secret::Source;

/// Databricks config keys every flow shares → profile keys.
pub const COMMON: &[(&str, &str)] = &[
    ("host", "host"),
    ("azure_tenant_id", "tenant_id"),
    ("azure_workspace_resource_id", "azure_workspace_resource_id"),
    ("azure_environment", "cloud"),
    // brickauth's own, for private clouds and local mocks; the Databricks tools ignore it.
    ("authority_host", "authority_host"),
];

/// Keys that make the Databricks SDKs authenticate in a way brickauth does not serve, in the
/// order of their credential chain: `(key, auth_type, what it is)`.
const UNSERVED: &[(&str, &str, &str)] = &[
    ("token", "pat", "a personal access token"),
    ("password", "basic", "basic authentication (a workspace user name and password)"),
    ("metadata_service_url", "metadata-service", "a metadata service"),
    ("google_credentials", "google-credentials", "Google Cloud credentials"),
    ("google_service_account", "google-id", "a Google service account"),
];

/// Keys the Databricks tools read from a section besides those brickauth maps (the Databricks SDKs'
/// configuration attributes, and the legacy Databricks CLI's): never an error or a warning here.
pub const DATABRICKS_KEYS: &[&str] = &[
    "account_id",
    "auth_type",
    "azure_login_app_id",
    "azure_use_msi",
    "cluster_id",
    "config_file",
    "databricks_cli_path",
    "databricks_environment",
    "debug_headers",
    "debug_truncate_bytes",
    "disable_async_token_refresh",
    "discovery_url",
    "experimental_is_unified_host",
    "http_timeout_seconds",
    "insecure",
    "jobs-api-version",
    "max_connection_pools",
    "max_connections_per_pool",
    "oidc_token_env",
    "oidc_token_filepath",
    "profile",
    "rate_limit",
    "retry_timeout_seconds",
    "scopes",
    "serverless_compute_id",
    "skip_verify",
    "token_audience",
    "username",
    "warehouse_id",
    "workspace_id",
];

/// The section that holds settings about the file, not a profile.
const SETTINGS_SECTION: &str = "__settings__";

/// The Databricks config file: `$DATABRICKS_CONFIG_FILE` (a leading `~/` expanded), else
/// `~/.databrickscfg`; `None` without a home directory.
pub fn databrickscfg_path() -> Option<PathBuf> {
    databrickscfg_path_with(&|name| std::env::var(name).ok())
}

fn databrickscfg_path_with(var: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let home = brickauth_core::paths::home_dir();
    match var("DATABRICKS_CONFIG_FILE").filter(|v| !v.is_empty()) {
        Some(path) => Some(brickauth_core::paths::expand_tilde_with(Path::new(&path), home.as_deref())),
        None => home.map(|h| h.join(".databrickscfg")),
    }
}

/// One key of a section: its value and 1-based line.
#[derive(Debug, Clone)]
struct Key {
    value: String,
    line: usize,
}

/// One section, keys lower-cased.
#[derive(Debug, Clone, Default)]
struct Section {
    line: usize,
    keys: BTreeMap<String, Key>,
}

impl Section {
    /// A key's value, if set and not empty.
    fn get(&self, key: &str) -> Option<&Key> {
        self.keys.get(key).filter(|k| !k.value.trim().is_empty())
    }

    /// Whether `key` is set to something other than a false boolean (`azure_use_msi = false`).
    fn truthy(&self, key: &str) -> bool {
        self.get(key).is_some_and(|k| !matches!(k.value.trim().to_ascii_lowercase().as_str(), "false" | "0" | "no"))
    }
}

/// A parsed Databricks config file.
#[derive(Debug, Clone)]
pub struct DatabricksCfg {
    path: Arc<Path>,
    /// Sections by name, `[__settings__]` excluded.
    sections: BTreeMap<String, Section>,
    /// `[__settings__]`'s `default_profile`.
    default_profile: Option<String>,
}

/// A section mapped to a flow and profile keys, before validation: what `profiles import` writes.
#[derive(Debug, Clone)]
pub struct Mapped {
    /// The section's name.
    pub section: String,
    /// The flow that serves it.
    pub flow: &'static FlowSpec,
    /// The profile keys, in the order of the file, each with its value and origin. A secret is
    /// under its own name (`client_secret`): its value is the literal secret.
    pub keys: Vec<MappedKey>,
}

/// One profile key of a [`Mapped`] section.
#[derive(Clone)]
pub struct MappedKey {
    /// The profile key (`client_id`).
    pub key: String,
    /// The key as the Databricks config file writes it (`azure_client_id`).
    pub from: String,
    /// The value, as the profile holds it (`cloud = usgov` for `azure_environment = usgovernment`).
    pub value: String,
    /// 1-based line in the Databricks config file.
    pub line: usize,
    /// Whether the flow declares the key secret.
    pub secret: bool,
}

impl std::fmt::Debug for MappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = if self.secret { "<redacted>" } else { self.value.as_str() };
        f.debug_struct("MappedKey").field("key", &self.key).field("from", &self.from).field("value", &value).finish()
    }
}

impl DatabricksCfg {
    /// Read the file at `path`; `Ok(None)` when there is none.
    pub fn load(path: &Path) -> Result<Option<DatabricksCfg>, ProfileError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(path, &text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ProfileError::Io { path: path.into(), source }),
        }
    }

    /// Parse `text` as the Databricks config file at `path` (which is only used in messages).
    pub fn parse(path: &Path, text: &str) -> Result<DatabricksCfg, ProfileError> {
        let path: Arc<Path> = path.into();
        let options = ini::ParseOption {
            // As Python's configparser: values as written, continuation lines joined.
            enabled_quote: false,
            enabled_escape: false,
            enabled_indented_mutiline_value: true,
            enabled_preserve_key_leading_whitespace: false,
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let ini = ini::Ini::load_from_str_opt(text, options).map_err(|e| ProfileError::Parse {
            path: path.clone(),
            line: e.line,
            column: e.col,
            message: e.msg.to_string(),
        })?;
        let lines = key_lines(text);
        let mut sections: BTreeMap<String, Section> = BTreeMap::new();
        for (name, props) in &ini {
            let Some(name) = name else { continue };
            let at = lines.get(name);
            let section = sections.entry(name.to_owned()).or_default();
            section.line = at.map_or(0, |(line, _)| *line);
            for (key, value) in props.iter() {
                let key = key.trim().to_ascii_lowercase();
                let line = at.and_then(|(_, keys)| keys.get(&key)).copied().unwrap_or(section.line);
                section.keys.insert(key, Key { value: value.trim().to_owned(), line });
            }
        }
        let default_profile = sections
            .remove(SETTINGS_SECTION)
            .and_then(|s| s.get("default_profile").map(|k| k.value.clone()))
            .filter(|p| p != SETTINGS_SECTION);
        Ok(DatabricksCfg { path, sections, default_profile })
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every section that may be a profile, sorted (`[DEFAULT]` only when it has keys).
    pub fn names(&self) -> Vec<&str> {
        self.sections
            .iter()
            .filter(|(name, s)| name.as_str() != "DEFAULT" || !s.keys.is_empty())
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Whether `[name]` is a section that may be a profile.
    pub fn has(&self, name: &str) -> bool {
        self.names().contains(&name)
    }

    /// The section used when nothing names one, as the SDKs choose it: `[__settings__]`'s
    /// `default_profile`, else `[DEFAULT]` when it has keys.
    pub fn default_section(&self) -> Option<&str> {
        match &self.default_profile {
            Some(name) => Some(name.as_str()),
            None => self.has("DEFAULT").then_some("DEFAULT"),
        }
    }

    /// The section's `host`, if set.
    pub fn host(&self, name: &str) -> Option<&str> {
        self.sections.get(name)?.get("host").map(|k| k.value.as_str())
    }

    /// Section `name`'s value of `key` as written (any key, known to brickauth or not), if set
    /// and not empty: `databricks_cli_path` tells which program a tool runs for that section.
    pub fn value(&self, name: &str, key: &str) -> Option<&str> {
        self.sections.get(name)?.get(&key.to_ascii_lowercase()).map(|k| k.value.trim())
    }

    /// Section `[name]` mapped to the flow that serves it and its profile keys (not validated).
    pub fn mapped(&self, name: &str) -> Result<Mapped, ProfileError> {
        let Some(section) = self.sections.get(name).filter(|_| self.has(name)) else {
            let known: Box<[String]> = self.names().into_iter().map(str::to_owned).collect();
            let suggestion = brickauth_core::nearest(name, known.iter().map(String::as_str)).map(str::to_owned);
            return Err(ProfileError::UnknownProfile {
                name: name.to_owned(),
                path: self.path.clone(),
                suggestion,
                known,
            });
        };
        self.check_keys(name, section)?;
        let flow = self.flow_for(name, section)?;
        let mut keys = Vec::new();
        for (from, to) in COMMON.iter().chain(flow.databricks.keys) {
            let Some(k) = section.get(from) else { continue };
            if keys.iter().any(|m: &MappedKey| m.key == *to) {
                continue; // an earlier config key already set it (`azure_client_id` before `client_id`)
            }
            let value = if *from == "azure_environment" {
                cloud(&k.value).ok_or_else(|| ProfileError::InvalidValue {
                    path: Some(self.path.clone()),
                    profile: Some(name.to_owned()),
                    key: (*from).to_owned(),
                    at: Some(Position::new(k.line, None)),
                    message: format!("`{}`: expected PUBLIC, USGOVERNMENT or CHINA", k.value),
                })?
            } else {
                k.value.clone()
            };
            let secret = COMMON_SECRET.contains(to) || flow.keys.iter().any(|s| s.name == *to && s.secret);
            keys.push(MappedKey { key: (*to).to_owned(), from: (*from).to_owned(), value, line: k.line, secret });
        }
        keys.sort_by_key(|k| k.line);
        Ok(Mapped { section: name.to_owned(), flow, keys })
    }

    /// Section `[name]` as a validated profile.
    pub fn profile(&self, name: &str) -> Result<Profile, ProfileError> {
        let mapped = self.mapped(name)?;
        let mut values = BTreeMap::new();
        values.insert("flow".to_owned(), Entry { value: mapped.flow.name.to_owned(), origin: self.flow_origin(name) });
        for k in &mapped.keys {
            let origin = Origin::DatabricksCfg { path: self.path.to_path_buf(), line: k.line, key: k.from.clone() };
            let stored = if k.secret { Source::Literal.key(&k.key) } else { k.key.clone() };
            values.insert(stored, Entry { value: k.value.clone(), origin });
        }
        Profile::build(name, Some(self.path.clone()), mapped.flow, values).map_err(|e| match e {
            // Name the Databricks keys that would set the missing one.
            ProfileError::MissingKey { path, profile, key, hint } => {
                let from: Vec<String> = COMMON
                    .iter()
                    .chain(mapped.flow.databricks.keys)
                    .filter(|(_, to)| *to == key)
                    .map(|(from, _)| format!("`{from}`"))
                    .collect();
                let hint = if from.is_empty() {
                    hint
                } else {
                    Some(format!(
                        "set {} in section [{name}] (auth type of flow `{}`)",
                        from.join(" or "),
                        mapped.flow.name
                    ))
                };
                ProfileError::MissingKey { path, profile, key, hint }
            }
            other => other,
        })
    }

    /// The `flow` entry's origin: the `auth_type` line, else the section header.
    fn flow_origin(&self, name: &str) -> Origin {
        let section = self.sections.get(name);
        let (line, key) = match section.and_then(|s| s.get("auth_type")) {
            Some(k) => (k.line, "auth_type"),
            None => (section.map_or(0, |s| s.line), "[section]"),
        };
        Origin::DatabricksCfg { path: self.path.to_path_buf(), line, key: key.to_owned() }
    }

    /// Unknown keys, as the module docs describe: an error when close to a key brickauth reads,
    /// else a warning unless the Databricks tools read it.
    fn check_keys(&self, name: &str, section: &Section) -> Result<(), ProfileError> {
        let ours = brickauth_keys();
        for (key, k) in &section.keys {
            if ours.contains(&key.as_str()) || DATABRICKS_KEYS.contains(&key.as_str()) {
                continue;
            }
            if let Some(near) = brickauth_core::nearest(key, ours.iter().copied()) {
                return Err(ProfileError::UnknownKey {
                    path: Some(self.path.clone()),
                    profile: Some(name.to_owned()),
                    key: key.clone(),
                    at: Some(Position::new(k.line, None)),
                    suggestion: Some(near.to_owned()),
                });
            }
            tracing::warn!(
                "{}:{}: section [{name}]: key `{key}` is read by neither brickauth nor the Databricks SDKs; \
                 ignored",
                self.path.display(),
                k.line
            );
        }
        Ok(())
    }

    /// The flow that serves `section`, as the module docs describe.
    fn flow_for(&self, name: &str, section: &Section) -> Result<&'static FlowSpec, ProfileError> {
        let unsupported = |key: &str, line: Option<usize>, message: String| ProfileError::Unsupported {
            path: self.path.clone(),
            section: name.to_owned(),
            key: key.to_owned(),
            at: line.map(|line| Position::new(line, None)),
            message,
        };
        let served = || {
            let mut types: Vec<&str> = flows().iter().flat_map(|f| f.databricks.auth_types.iter().copied()).collect();
            types.sort_unstable();
            types.join(", ")
        };
        if let Some(auth_type) = section.get("auth_type") {
            let wanted = auth_type.value.trim();
            if let Some(flow) = flows().iter().find(|f| f.databricks.serves(wanted)) {
                return Ok(flow);
            }
            let what = UNSERVED
                .iter()
                .find(|(_, t, _)| t.eq_ignore_ascii_case(wanted))
                .map(|(_, _, what)| format!(" ({what})"))
                .unwrap_or_default();
            return Err(unsupported(
                "auth_type",
                Some(auth_type.line),
                format!(
                    "`{wanted}`{what}: no brickauth flow serves this auth type; brickauth serves {}. \
                     Set one of those, or add a [profiles.{name}] table to the brickauth profile file",
                    served()
                ),
            ));
        }
        if let Some((key, auth_type, what)) = UNSERVED.iter().find(|(key, _, _)| section.get(key).is_some()) {
            let line = section.get(key).map(|k| k.line);
            return Err(unsupported(
                key,
                line,
                format!(
                    "{what} (auth type `{auth_type}`): brickauth gets Entra ID tokens and cannot serve it; \
                     keep using this section with the Databricks tools, or set `auth_type` to one of {}",
                    served()
                ),
            ));
        }
        let detected: Vec<&'static FlowSpec> = flows()
            .iter()
            .copied()
            .filter(|f| !f.databricks.detect.is_empty() && f.databricks.detect.iter().all(|k| section.truthy(k)))
            .collect();
        match detected.as_slice() {
            [flow] => return Ok(flow),
            [] => {}
            several => {
                let options: Vec<String> = several
                    .iter()
                    .map(|f| format!("{} ({})", f.databricks.detect.join(" + "), f.databricks.auth_types.join("/")))
                    .collect();
                return Err(unsupported(
                    "auth_type",
                    None,
                    format!("the keys of more than one method are set: {}; set `auth_type`", options.join(", ")),
                ));
            }
        }
        let fallback: Vec<&'static FlowSpec> = flows().iter().copied().filter(|f| f.databricks.fallback).collect();
        match (section.get("host"), fallback.as_slice()) {
            (Some(_), [flow]) => Ok(flow),
            _ => Err(unsupported(
                "auth_type",
                None,
                format!("nothing in this section says how to sign in; set `auth_type` to one of {}", served()),
            )),
        }
    }
}

/// Every key brickauth reads from a section: [`COMMON`], each flow's mapped and detecting keys,
/// `auth_type`, and the keys of the methods it refuses (so that a typo of `token` is not silent).
fn brickauth_keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = COMMON.iter().map(|(from, _)| *from).collect();
    for flow in flows() {
        keys.extend(flow.databricks.keys.iter().map(|(from, _)| *from));
        keys.extend(flow.databricks.detect);
    }
    keys.extend(UNSERVED.iter().map(|(key, _, _)| *key));
    keys.push("auth_type");
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Common profile keys that hold a secret (none today; flows declare their own).
const COMMON_SECRET: &[&str] = &[];

/// `azure_environment` → `cloud`, as the SDKs read it (`AzurePublicCloud` and the like too).
fn cloud(value: &str) -> Option<String> {
    let v = value.trim().to_ascii_uppercase();
    let v = v.strip_prefix("AZURE").unwrap_or(&v);
    let v = v.strip_suffix("CLOUD").unwrap_or(v);
    match v {
        "PUBLIC" => Some("public".into()),
        "USGOVERNMENT" | "USGOV" => Some("usgov".into()),
        "CHINA" => Some("china".into()),
        _ => None,
    }
}

/// Section name → (header line, key → line), from the text: the INI parser keeps no positions.
/// Follows the same rules: `#`/`;` comment lines, indented lines continue the previous value.
fn key_lines(text: &str) -> BTreeMap<String, (usize, BTreeMap<String, usize>)> {
    let mut out: BTreeMap<String, (usize, BTreeMap<String, usize>)> = BTreeMap::new();
    let mut current: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) || raw.starts_with([' ', '\t']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_owned();
            out.entry(name.clone()).or_insert_with(|| (i + 1, BTreeMap::new()));
            current = Some(name);
        } else if let Some(section) = current.as_ref().and_then(|c| out.get_mut(c))
            && let Some(key) = line.split(['=', ':']).next()
        {
            section.1.entry(key.trim().to_ascii_lowercase()).or_insert(i + 1);
        }
    }
    out
}

/// Where profiles come from: the TOML profile file (if there is one) and the Databricks config
/// file (if there is one), with the selection rules of both.
#[derive(Debug, Default)]
pub struct Sources {
    /// The TOML profile file, when it exists.
    pub toml: Option<ProfileFile>,
    /// Where the TOML profile file was looked for (for "no profile file here").
    pub toml_path: Option<PathBuf>,
    /// The Databricks config file, when it exists.
    pub databrickscfg: Option<DatabricksCfg>,
}

/// The profile name asked for: `flag`, `$BRICKAUTH_PROFILE`, the TOML file's `default_profile`,
/// `$DATABRICKS_CONFIG_PROFILE` (empty values count as unset).
pub(crate) fn wanted(
    flag: Option<&str>,
    var: &dyn Fn(&str) -> Option<String>,
    toml: Option<&ProfileFile>,
) -> Option<String> {
    let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    flag.map(str::to_owned)
        .or_else(|| var("BRICKAUTH_PROFILE"))
        .or_else(|| toml.and_then(|t| t.default_profile().map(str::to_owned)))
        .or_else(|| var("DATABRICKS_CONFIG_PROFILE"))
}

/// See [`Sources::toml_choice`].
pub fn toml_choice(flag: Option<&str>, var: &dyn Fn(&str) -> Option<String>, toml: &ProfileFile) -> Option<String> {
    let names = toml.names();
    match wanted(flag, var, Some(toml)) {
        Some(name) => names.contains(&name.as_str()).then_some(name),
        None if names.contains(&"default") => Some("default".to_owned()),
        None => match names.as_slice() {
            // One profile and nothing chosen: it is the one meant (as `gh` does with one
            // account). Said at -v, not on every call: the file is unambiguous.
            [only] => {
                tracing::info!("no profile selected and no `default_profile`: using `{only}`, the file's only profile");
                Some((*only).to_owned())
            }
            _ => None,
        },
    }
}

impl Sources {
    /// The profile to use: the one rule of docs/profiles.md, which every command and embedder
    /// goes through.
    ///
    /// The name is `flag` (`-p`), else `$BRICKAUTH_PROFILE`, else the TOML file's
    /// `default_profile`, else `$DATABRICKS_CONFIG_PROFILE`. A name is looked up in the TOML file
    /// first, then among the Databricks config file's sections. Without a name: the TOML file's
    /// `default` profile, else its only profile, else the Databricks config file's default
    /// section ([`DatabricksCfg::default_section`]), else an error listing the TOML profiles.
    ///
    /// [`Sources::toml_choice`] is this rule's first half: when it names a profile, so does this.
    pub fn select(&self, flag: Option<&str>, var: &dyn Fn(&str) -> Option<String>) -> Result<Profile, ProfileError> {
        if let (Some(toml), Some(name)) = (&self.toml, self.toml_choice(flag, var)) {
            return toml.profile(&name);
        }
        if let Some(name) = wanted(flag, var, self.toml.as_ref()) {
            return self.named(&name);
        }
        match self.databrickscfg.as_ref().and_then(|c| c.default_section().map(|s| (c, s))) {
            Some((cfg, section)) => cfg.profile(section),
            None => match &self.toml {
                Some(toml) if !toml.names().is_empty() => Err(ProfileError::NoProfileSelected {
                    path: toml.path().into(),
                    known: toml.names().into_iter().map(str::to_owned).collect(),
                }),
                _ => self.named("default"),
            },
        }
    }

    /// The TOML profile [`Sources::select`] picks when the TOML file alone decides it (the name
    /// wanted is one of its profiles; or none is wanted and it has `default`, or only one
    /// profile); `None` when the Databricks config file may matter. The cached path stops here
    /// and never reads `~/.databrickscfg`.
    pub fn toml_choice(&self, flag: Option<&str>, var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        toml_choice(flag, var, self.toml.as_ref()?)
    }

    /// Profile `name`: the TOML file's, else the Databricks config file's section.
    pub fn named(&self, name: &str) -> Result<Profile, ProfileError> {
        if let Some(toml) = &self.toml
            && toml.names().contains(&name)
        {
            return toml.profile(name);
        }
        if let Some(cfg) = &self.databrickscfg
            && cfg.has(name)
        {
            return cfg.profile(name);
        }
        match (&self.toml, &self.databrickscfg) {
            (Some(toml), cfg) => {
                let mut known: Vec<String> = toml.names().into_iter().map(str::to_owned).collect();
                if let Some(cfg) = cfg {
                    let shown = crate::origin::display_path(cfg.path());
                    let extra: Vec<String> = cfg
                        .names()
                        .into_iter()
                        .filter(|n| !known.iter().any(|k| k == n))
                        .map(|n| format!("[{n}] in {shown}"))
                        .collect();
                    known.extend(extra);
                }
                let names = known.iter().map(|k| k.trim_start_matches('[').split(']').next().unwrap_or(k));
                let suggestion = brickauth_core::nearest(name, names).map(str::to_owned);
                Err(ProfileError::UnknownProfile {
                    name: name.to_owned(),
                    path: toml.path().into(),
                    suggestion,
                    known: known.into(),
                })
            }
            (None, Some(cfg)) => cfg.profile(name),
            (None, None) => Err(ProfileError::NotFound {
                path: self.toml_path.clone().unwrap_or_else(|| PathBuf::from("profiles.toml")).into(),
            }),
        }
    }

    /// Every profile name of both files with where it is from, TOML first; a section that a TOML
    /// profile of the same name hides is left out.
    pub fn list(&self) -> Vec<(String, Result<Profile, ProfileError>)> {
        let mut out = Vec::new();
        if let Some(toml) = &self.toml {
            for name in toml.names() {
                out.push((name.to_owned(), toml.profile(name)));
            }
        }
        if let Some(cfg) = &self.databrickscfg {
            for name in cfg.names() {
                if !out.iter().any(|(n, _)| n == name) {
                    out.push((name.to_owned(), cfg.profile(name)));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickauth_core::Settings;

    /// As `databricks configure` and `databricks auth login` write it, plus a hand-written PAT
    /// profile and a section with an unknown auth type.
    const CFG: &str = "; The profile defined in the DEFAULT section is to be used as a fallback when no profile is explicitly specified.
[DEFAULT]
host  = https://adb-1111111111111111.1.azuredatabricks.net
token = dapi0123456789abcdef

[sp]
host                = https://adb-2222222222222222.2.azuredatabricks.net
azure_tenant_id     = a1bc2d34-5e67-8f89-01ab-c2345d6c78de
azure_client_id     = 12a34b56-789c-0d12-e3fa-b456789c0123
azure_client_secret = not-a-real-secret

[cli]
host      = https://adb-3333333333333333.3.azuredatabricks.net
auth_type = azure-cli

[m2m]
host          = https://adb-4444444444444444.4.azuredatabricks.net
client_id     = 5a6b7c8d-0000-4000-8000-000000000001
client_secret = also-not-a-real-secret

[msi]
host            = https://adb-5555555555555555.5.azuredatabricks.net
azure_use_msi   = true
azure_client_id = 9f8e7d6c-0000-4000-8000-000000000002
Azure_Environment = USGOVERNMENT

[browser]
host      = https://adb-6.6.azuredatabricks.net
auth_type = external-browser

[both]
host                = https://adb-7.7.azuredatabricks.net
client_id           = x
client_secret       = y
azure_client_id     = z
azure_client_secret = w
";

    fn cfg() -> DatabricksCfg {
        DatabricksCfg::parse(Path::new(".databrickscfg"), CFG).expect("parses")
    }

    fn error(name: &str) -> String {
        cfg().profile(name).expect_err("refused").to_string()
    }

    #[test]
    fn a_misspelt_credential_key_is_an_error_with_did_you_mean() {
        let text = "[typo]\nhost = https://adb-2.2.azuredatabricks.net\nazure_tenant_id = t\n\
                    azure_client_id = c\nazure_clent_secret = not-a-real-secret\n";
        let cfg = DatabricksCfg::parse(Path::new(".databrickscfg"), text).unwrap();
        let err = cfg.profile("typo").expect_err("a typo of a credential key was accepted");
        assert_eq!(
            err.to_string(),
            ".databrickscfg:5: profile `typo`: unknown key `azure_clent_secret` (did you mean `azure_client_secret`?)"
        );
        assert!(!err.to_string().contains("not-a-real-secret"));
        assert!(cfg.mapped("typo").is_err(), "import must refuse it too");
        for typo in ["tokn = x", "auth_tpye = azure-cli", "Azure_Client_Secrett = x"] {
            let text = format!("[t]\nhost = https://adb-2.2.azuredatabricks.net\n{typo}\n");
            let cfg = DatabricksCfg::parse(Path::new(".databrickscfg"), &text).unwrap();
            let e = cfg.profile("t").expect_err(typo).to_string();
            assert!(e.contains("did you mean"), "{typo}: {e}");
        }
    }

    #[test]
    fn keys_of_the_databricks_tools_and_unrelated_keys_are_accepted() {
        let text = "[dev]\nhost = https://adb-3.3.azuredatabricks.net\nauth_type = azure-cli\ncluster_id = 0123\n\
                    warehouse_id = abc\njobs-api-version = 2.1\nmy_teams_notebook_dir = /Shared/x\n";
        let cfg = DatabricksCfg::parse(Path::new(".databrickscfg"), text).unwrap();
        assert_eq!(cfg.profile("dev").expect("accepted").flow().name, "test-cli");
    }

    #[test]
    fn sections_and_the_default() {
        let cfg = cfg();
        assert_eq!(cfg.names(), ["DEFAULT", "both", "browser", "cli", "m2m", "msi", "sp"]);
        assert_eq!(cfg.default_section(), Some("DEFAULT"));
        let with_settings = format!("[__settings__]\ndefault_profile = cli\n{CFG}");
        let cfg = DatabricksCfg::parse(Path::new(".databrickscfg"), &with_settings).unwrap();
        assert_eq!(cfg.default_section(), Some("cli"));
        assert!(!cfg.names().contains(&"__settings__"));
    }

    #[test]
    fn a_service_principal_section_maps_to_the_flow_that_serves_it() {
        let p = cfg().profile("sp").unwrap();
        assert_eq!(p.flow().name, "test-secret");
        assert_eq!(p.get("client_id"), Some("12a34b56-789c-0d12-e3fa-b456789c0123"));
        assert_eq!(p.get("tenant_id"), Some("a1bc2d34-5e67-8f89-01ab-c2345d6c78de"));
        assert_eq!(p.origin("client_id").as_deref(), Some(".databrickscfg:9"));
        assert_eq!(p.origin("flow").as_deref(), Some(".databrickscfg:6"));
        // The secret is there (literal) but never shown.
        assert_eq!(p.get("client_secret"), None);
        let shown: Vec<String> = p.entries().iter().map(|(k, v, o)| format!("{k} = {v}  # {o}")).collect();
        insta::assert_snapshot!(shown.join("\n"), @r"
        client_id = 12a34b56-789c-0d12-e3fa-b456789c0123  # .databrickscfg:9
        client_secret = <redacted>  # .databrickscfg:10
        flow = test-secret  # .databrickscfg:6
        host = https://adb-2222222222222222.2.azuredatabricks.net  # .databrickscfg:7
        tenant_id = a1bc2d34-5e67-8f89-01ab-c2345d6c78de  # .databrickscfg:8
        ");
    }

    #[test]
    fn auth_type_detection_and_fallback() {
        let cfg = cfg();
        assert_eq!(cfg.profile("cli").unwrap().flow().name, "test-cli");
        assert_eq!(cfg.profile("cli").unwrap().origin("flow").as_deref(), Some(".databrickscfg:14"));
        assert_eq!(cfg.profile("m2m").unwrap().flow().name, "test-m2m");
        let msi = cfg.profile("msi").unwrap();
        assert_eq!(msi.flow().name, "test-msi");
        assert_eq!(msi.get("msi_client_id"), Some("9f8e7d6c-0000-4000-8000-000000000002"));
        assert_eq!(msi.get("cloud"), Some("usgov"));
        // A section with only a host falls back to the flow that says so.
        let host_only = DatabricksCfg::parse(Path::new("c"), "[h]\nhost = https://adb-1.1.azuredatabricks.net\n");
        assert_eq!(host_only.unwrap().profile("h").unwrap().flow().name, "test-cli");
    }

    #[test]
    fn sections_brickauth_cannot_serve_are_refused_naming_section_and_key() {
        let bad_env =
            DatabricksCfg::parse(Path::new("c"), "[e]\nhost = h\nauth_type = azure-cli\nazure_environment = mars\n");
        let errors = [
            error("DEFAULT"),
            error("browser"),
            error("both"),
            error("nope"),
            bad_env.unwrap().profile("e").unwrap_err().to_string(),
        ];
        insta::assert_snapshot!("databrickscfg_refused", errors.join("\n\n"));
    }

    #[test]
    fn a_missing_key_names_the_databricks_keys() {
        let cfg = DatabricksCfg::parse(Path::new("c"), "[m]\nhost = https://h\nauth_type = oauth-m2m\nclient_id = x\n");
        insta::assert_snapshot!("databrickscfg_missing_key", cfg.unwrap().profile("m").unwrap_err().to_string());
    }

    #[test]
    fn selection_follows_both_files() {
        let toml = ProfileFile::parse(
            Path::new("profiles.toml"),
            "[profiles.sp]\nflow = \"test-cli\"\ntenant_id = \"t\"\nclient_id = \"c\"\n",
        )
        .unwrap();
        let sources = Sources { toml: Some(toml), toml_path: None, databrickscfg: Some(cfg()) };
        let none = |_: &str| None;
        // The TOML profile hides the section of the same name.
        assert_eq!(sources.select(Some("sp"), &none).unwrap().flow().name, "test-cli");
        assert_eq!(sources.select(Some("m2m"), &none).unwrap().flow().name, "test-m2m");
        let env = |v: &str| (v == "DATABRICKS_CONFIG_PROFILE").then(|| "cli".to_owned());
        assert_eq!(sources.select(None, &env).unwrap().name(), "cli");
        // Nothing named: the TOML file's only profile is the one meant (before the Databricks
        // file's [DEFAULT], which here is a PAT and would be refused).
        assert_eq!(sources.select(None, &none).unwrap().name(), "sp");
        let cfg_only = Sources { toml: None, toml_path: None, databrickscfg: Some(cfg()) };
        assert!(cfg_only.select(None, &none).unwrap_err().to_string().contains("personal access token"));
        insta::assert_snapshot!(
            "databrickscfg_unknown_profile",
            sources.select(Some("m2x"), &none).unwrap_err().to_string()
        );
        let names: Vec<String> = sources.list().into_iter().map(|(n, p)| format!("{n}: {}", p.is_ok())).collect();
        assert_eq!(names.len(), 7, "{names:?}");
    }

    #[test]
    fn config_path_follows_the_variable() {
        let p = databrickscfg_path_with(&|v| (v == "DATABRICKS_CONFIG_FILE").then(|| "/etc/dbcfg".to_owned()));
        assert_eq!(p, Some(PathBuf::from("/etc/dbcfg")));
    }
}
