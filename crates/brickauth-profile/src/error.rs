//! Typed errors of the profile crate.
//!
//! Every message names the file (with `line:column` where TOML gives one), the profile and the key,
//! and the nearest valid name when the user probably made a typo. A message never contains a
//! secret: secret errors name the *source* (a variable, a path, a command), never its value.
//!
//! Conventions: `profile` is the profile's name (`[defaults]` for the defaults table, a
//! `[SECTION]` of the Databricks config file by its name), `None` for the file's top-level keys;
//! `path` is `None` for a profile built from the environment (rendered as `environment`); `at`
//! is `None` when the value has no position (it came from the command line or the environment).
//! Paths are `Arc<Path>` and name lists `Box<[String]>` so the error stays small (under clippy's
//! `result_large_err` limit) for everyone who returns it.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use brickauth_core::settings::ConfigError;

use crate::origin::{Position, display_path};

/// What went wrong while locating, loading, validating a profile or resolving one of its secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// There is no profile file at `path`; the message says how to create one.
    NotFound {
        /// The path that was tried.
        path: Arc<Path>,
    },
    /// The profile file exists but could not be read (permissions, not UTF-8, …).
    Io {
        /// The profile file.
        path: Arc<Path>,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    Parse {
        /// The profile file.
        path: Arc<Path>,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The TOML parser's description.
        message: String,
    },
    /// No profile has this name.
    UnknownProfile {
        /// The name asked for.
        name: String,
        /// The profile file.
        path: Arc<Path>,
        /// The nearest profile name, if one is close.
        suggestion: Option<String>,
        /// Every profile in the file, sorted.
        known: Box<[String]>,
    },
    /// A key that the profile's flow (or, for `[defaults]` and top-level keys, every flow) does
    /// not accept.
    UnknownKey {
        /// The profile file; `None` for the environment-only profile.
        path: Option<Arc<Path>>,
        /// The profile (`None`: a top-level key of the file).
        profile: Option<String>,
        /// The key as written.
        key: String,
        /// Where the key is (`None`: no position).
        at: Option<Position>,
        /// The nearest valid key, if one is close.
        suggestion: Option<String>,
    },
    /// `flow = "…"` names no linked flow.
    UnknownFlow {
        /// The profile file; `None` for the environment-only profile.
        path: Option<Arc<Path>>,
        /// The profile (`None`: a top-level key of the file).
        profile: Option<String>,
        /// Where the `flow` key is (`None`: no position).
        at: Option<Position>,
        /// The flow name as written.
        name: String,
        /// The nearest registered name or alias, if one is close.
        suggestion: Option<String>,
        /// Every registered flow, sorted.
        known: Box<[String]>,
    },
    /// A key the flow requires is not set.
    MissingKey {
        /// The profile file; `None` for the environment-only profile.
        path: Option<Arc<Path>>,
        /// The profile (`None`: a top-level key of the file).
        profile: Option<String>,
        /// The missing key.
        key: String,
        /// How to set it (the source keys of a secret, the environment variables read, …).
        hint: Option<String>,
    },
    /// A value of the wrong type or shape.
    InvalidValue {
        /// The profile file; `None` for the environment-only profile.
        path: Option<Arc<Path>>,
        /// The profile (`None`: a top-level key of the file).
        profile: Option<String>,
        /// The key whose value is wrong.
        key: String,
        /// Where the value is (`None`: no position).
        at: Option<Position>,
        /// What is wrong.
        message: String,
    },
    /// A secret has more than one source (`password` and `password_env`, …).
    AmbiguousSecret {
        /// The profile file; `None` for the environment-only profile.
        path: Option<Arc<Path>>,
        /// The profile (`None`: a top-level key of the file).
        profile: Option<String>,
        /// The secret key (`password`).
        key: String,
        /// The source keys that are set, in file order.
        sources: Vec<String>,
        /// Where the second source is (`None`: no position).
        at: Option<Position>,
    },
    /// More than one profile has the host asked for.
    AmbiguousHost {
        /// The profile file.
        path: Arc<Path>,
        /// The host asked for.
        host: String,
        /// The matching profiles, sorted.
        profiles: Vec<String>,
    },
    /// No profile was asked for (no `--profile`, no `$BRICKAUTH_PROFILE`, no `default_profile`),
    /// none is named `default`, and the file has not exactly one profile to fall back on.
    NoProfileSelected {
        /// The profile file.
        path: Arc<Path>,
        /// Every profile in the file, sorted.
        known: Box<[String]>,
    },
    /// No profile has the host asked for.
    NoHostMatch {
        /// The profile file.
        path: Arc<Path>,
        /// The host asked for.
        host: String,
        /// `name (host)` for every profile that sets a host, sorted by name.
        hosts: Vec<String>,
    },
    /// A secret's source could not be resolved: an unset variable, an unreadable file, a failed
    /// command (with its exit status). Never contains the secret itself.
    Secret {
        /// The profile.
        profile: String,
        /// The secret key (`password`).
        key: String,
        /// What went wrong, naming the source.
        message: String,
    },
    /// A section of the Databricks config file that no linked flow can serve: a personal access
    /// token, an `auth_type` without a brickauth flow, …
    Unsupported {
        /// The Databricks config file.
        path: Arc<Path>,
        /// The section, as written between the brackets.
        section: String,
        /// The key that decides (`auth_type`, `token`, …).
        key: String,
        /// Where that key is (`None`: the section as a whole).
        at: Option<Position>,
        /// Why, and what to do instead.
        message: String,
    },
    /// Anything else (for example: no home directory to find the file in).
    Other(String),
}

const NOT_FOUND_HELP: &str = "create it with one table per profile, for example:

    default_profile = \"dev\"

    [profiles.dev]
    flow = \"…\"            # a flow from `brickauth flows`
    tenant_id = \"…\"
    client_id = \"…\"
    host = \"https://adb-….azuredatabricks.net\"

or point --config / $BRICKAUTH_CONFIG at another file, or use `brickauth token --flow NAME` \
with settings from the environment";

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ProfileError::*;
        match self {
            NotFound { path } => write!(f, "{}: no profile file here; {NOT_FOUND_HELP}", display_path(path)),
            Io { path, source } => write!(f, "{}: cannot read the profile file: {source}", display_path(path)),
            Parse { path, line, column, message } => {
                write!(f, "{}:{line}:{column}: invalid TOML: {message}", display_path(path))
            }
            UnknownProfile { name, path, suggestion, known } => {
                write!(
                    f,
                    "{}: unknown profile `{name}`{}; {}",
                    display_path(path),
                    suggest(suggestion),
                    known_profiles(known)
                )
            }
            UnknownKey { path, profile, key, at: pos, suggestion } => {
                write!(f, "{}: {}unknown key `{key}`{}", at(path, pos), scope(profile), suggest(suggestion))
            }
            UnknownFlow { path, profile, at: pos, name, suggestion, known } => {
                write!(f, "{}: {}{}", at(path, pos), scope(profile), unknown_flow(name, suggestion, known))
            }
            MissingKey { path, profile, key, hint } => {
                write!(f, "{}: {}missing required key `{key}`{}", shown(path), scope(profile), then(hint))
            }
            InvalidValue { path, profile, key, at: pos, message } => {
                write!(f, "{}: {}key `{key}`: {message}", at(path, pos), scope(profile))
            }
            AmbiguousSecret { path, profile, key, sources, at: pos } => {
                write!(f, "{}: {}{}", at(path, pos), scope(profile), ambiguous_secret(key, sources))
            }
            AmbiguousHost { path, host, profiles } => write!(
                f,
                "{}: more than one profile has host `{host}` ({}); choose one with --profile",
                display_path(path),
                profiles.join(", ")
            ),
            NoProfileSelected { path, known } => match known.first() {
                None => write!(f, "{}: {}", display_path(path), known_profiles(known)),
                Some(first) => write!(
                    f,
                    "{}: no profile selected, and none is named `default`; {}. Choose one with \
                     --profile NAME (or $BRICKAUTH_PROFILE), or set `default_profile = \"{first}\"` \
                     at the top of the file",
                    display_path(path),
                    known_profiles(known)
                ),
            },
            NoHostMatch { path, host, hosts } => {
                write!(f, "{}: no profile has host `{host}`; ", display_path(path))?;
                if hosts.is_empty() {
                    f.write_str("no profile in this file sets `host`")
                } else {
                    write!(f, "hosts in this file: {}", hosts.join(", "))
                }
            }
            Secret { profile, key, message } => {
                write!(f, "{}cannot resolve secret `{key}`: {message}", scope(&Some(profile.clone())))
            }
            Unsupported { path, section, key, at: pos, message } => {
                write!(f, "{}: section [{section}], key `{key}`: {message}", at(&Some(path.clone()), pos))
            }
            Other(message) => f.write_str(message),
        }
    }
}

/// Keeps the structure (profile, key, position) so that flows and the CLI can carry a profile
/// error wherever a [`ConfigError`] is expected.
impl From<ProfileError> for ConfigError {
    fn from(e: ProfileError) -> Self {
        use ProfileError::*;
        let (profile, key, location, message): (&Option<String>, &str, Option<String>, String) = match &e {
            UnknownKey { path, profile, key, at: pos, suggestion } => {
                (profile, key, Some(at(path, pos)), format!("unknown key{}", suggest(suggestion)))
            }
            UnknownFlow { path, profile, at: pos, name, suggestion, known } => {
                (profile, "flow", Some(at(path, pos)), unknown_flow(name, suggestion, known))
            }
            MissingKey { path, profile, key, hint } => {
                (profile, key, Some(shown(path)), format!("missing required key{}", then(hint)))
            }
            InvalidValue { path, profile, key, at: pos, message } => {
                (profile, key, Some(at(path, pos)), message.clone())
            }
            AmbiguousSecret { path, profile, key, sources, at: pos } => {
                (profile, key, Some(at(path, pos)), ambiguous_secret(key, sources))
            }
            Secret { profile, key, message } => {
                return ConfigError {
                    profile: Some(profile.clone()),
                    key: Some(key.clone()),
                    origin: None,
                    message: format!("cannot resolve the secret: {message}"),
                };
            }
            NotFound { .. }
            | Io { .. }
            | Parse { .. }
            | UnknownProfile { .. }
            | AmbiguousHost { .. }
            | NoHostMatch { .. }
            | Unsupported { .. }
            | NoProfileSelected { .. }
            | Other(_) => return ConfigError::general(e.to_string()),
        };
        // `[defaults]` is not a profile: fold it into the location instead.
        let (profile, origin) = match profile.as_deref() {
            None => (None, location),
            Some("[defaults]") => (None, location.map(|l| format!("[defaults] at {l}"))),
            Some(brickauth_core::settings::ENV_PROFILE) => (None, location),
            Some(name) => (Some(name.to_owned()), location),
        };
        ConfigError { profile, key: Some(key.to_owned()), origin, message }
    }
}

/// `path` for messages; the environment-only profile has no file.
fn shown(path: &Option<Arc<Path>>) -> String {
    path.as_deref().map_or_else(|| "environment".to_owned(), display_path)
}

/// `path:line:column`, or just the path when there is no position.
fn at(path: &Option<Arc<Path>>, at: &Option<Position>) -> String {
    match at {
        Some(pos) => format!("{}:{pos}", shown(path)),
        None => shown(path),
    }
}

fn scope(profile: &Option<String>) -> String {
    match profile.as_deref() {
        None => String::new(),
        Some("[defaults]") => "[defaults]: ".to_owned(),
        // The environment-only profile: its location ("environment") and the variables named
        // in the message say where the settings come from.
        Some(brickauth_core::settings::ENV_PROFILE) => String::new(),
        Some(name) => format!("profile `{name}`: "),
    }
}

fn suggest(suggestion: &Option<String>) -> String {
    suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default()
}

fn then(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default()
}

fn known_profiles(known: &[String]) -> String {
    if known.is_empty() {
        "the file defines no profiles (add a [profiles.NAME] table)".to_owned()
    } else {
        format!("profiles in this file: {}", known.join(", "))
    }
}

fn unknown_flow(name: &str, suggestion: &Option<String>, known: &[String]) -> String {
    let known = if known.is_empty() {
        "no flows are linked into this program".to_owned()
    } else {
        format!("registered flows: {}", known.join(", "))
    };
    format!("unknown flow `{name}`{}; {known}", suggest(suggestion))
}

fn ambiguous_secret(key: &str, sources: &[String]) -> String {
    let sources: Vec<String> = sources.iter().map(|s| format!("`{s}`")).collect();
    format!("secret `{key}` has more than one source ({}); keep exactly one", sources.join(", "))
}
