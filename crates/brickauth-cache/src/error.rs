//! Typed errors of the cache ([`CacheError`]) and of silent acquisition ([`ProviderError`]).
//!
//! None of them ever carries a token: cache errors name paths, provider errors name profiles and
//! wrap the core crate's errors, which redact secrets themselves.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use brickauth_core::error::ErrorClass;
use brickauth_core::{AuthError, ConfigError};
use brickauth_keychain::StoreError;

use crate::secrets::{STORAGE_VARIABLE, Storage};

/// A problem with the cache directory or its files.
///
/// A corrupt or unknown-version `tokens.json` is not an error: it is moved aside with a warning
/// and the cache starts empty.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// No cache directory could be derived from the environment.
    #[error(
        "cannot tell where to keep the token cache: set BRICKAUTH_CACHE_DIR (or XDG_CACHE_HOME, or {}{})",
        brickauth_core::paths::HOME_VARIABLE,
        if cfg!(windows) { ", or LOCALAPPDATA" } else { "" }
    )]
    NoDirectory,
    /// A file-system operation on the cache failed.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        /// What was being done (`read`, `create directory`, `rename`, …).
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The cache directory itself could not be created or inspected: named as the token cache
    /// directory, with the variable that chose it.
    #[error(
        "cannot {action} the token cache directory {} (from {origin}): {source}; {}",
        .path.display(),
        if .origin.starts_with('$') {
            format!("point {} at a directory you can write, or unset it", .origin)
        } else {
            "set BRICKAUTH_CACHE_DIR to a directory you can write".to_owned()
        }
    )]
    Directory {
        /// What was being done (`create`, `inspect`).
        action: &'static str,
        /// The directory.
        path: PathBuf,
        /// What chose it: `$BRICKAUTH_CACHE_DIR`, `$XDG_CACHE_HOME`, or `the default (~/.cache/brickauth)`.
        origin: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Another process held the cache lock for longer than the lock timeout.
    #[error(
        "timed out after {} s waiting for the token cache lock {}{}: another brickauth process is \
         using the cache; if none is running, retry",
        .waited.as_secs(),
        .path.display(),
        .holder.map(|p| format!(" (held by process {p})")).unwrap_or_default()
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long this process waited.
        waited: Duration,
        /// The process id the holder wrote into the lock file, when readable.
        holder: Option<u32>,
    },
    /// A cache directory or file that another user could have planted or could change (Unix): not
    /// ours, a symbolic link, not a regular file. Nothing in it is used.
    #[error("refusing to use {}: {problem}; {fix}", .path.display())]
    Untrusted {
        /// The directory or file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
        /// What the user can do about it.
        fix: String,
    },
    /// A file beside the cache is not a regular file or is larger than the limit brickauth reads
    /// ([`brickauth_core::file`]).
    #[error(transparent)]
    File(#[from] brickauth_core::file::FileError),
    /// The cache could not be serialized (should not happen: the format is plain JSON).
    #[error("cannot serialize the token cache: {0}")]
    Serialize(#[source] serde_json::Error),
    /// `BRICKAUTH_SECRET_STORAGE` holds something else than `auto`, `keychain`, `keyring` or
    /// `file`.
    #[error("{STORAGE_VARIABLE}={value:?} is not a secret storage: use auto, keychain, keyring or file")]
    BadStoragePolicy {
        /// The value found.
        value: String,
    },
    /// The key store refresh tokens are kept with failed, is not there, or did not answer. With
    /// an explicit `BRICKAUTH_SECRET_STORAGE` this is an error rather than a fallback.
    #[error(
        "cannot {action} the token cache's key in the {storage} storage: {source}{}",
        hint(*.storage, .source)
    )]
    SecretStore {
        /// The storage concerned.
        storage: Storage,
        /// `read`, `store`.
        action: &'static str,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// The key that sealed a cached refresh token is gone from its store: the token cannot be
    /// used, and the profile signs in again.
    #[error("the cached refresh token cannot be used: its key is gone from {store}{why}")]
    KeyMissing {
        /// The store ([`KeyStore::describe`](brickauth_keychain::KeyStore::describe)).
        store: &'static str,
        /// The likely reason, in parentheses.
        why: &'static str,
    },
    /// A sealed refresh token does not open under its key (the file was altered).
    #[error("the cached refresh token cannot be decrypted (the token cache file was altered)")]
    Unsealable,
}

fn hint(storage: Storage, source: &StoreError) -> String {
    match (storage, source) {
        (Storage::Keychain, StoreError::Unavailable { .. }) => format!(
            "; start a keychain (a Secret Service such as gnome-keyring on Linux), or set \
             {STORAGE_VARIABLE}=keyring or auto"
        ),
        (_, StoreError::Unavailable { .. }) => format!("; set {STORAGE_VARIABLE}=auto to use what this machine has"),
        (Storage::Keychain, _) => " (is the keychain locked?)".into(),
        _ => String::new(),
    }
}

impl CacheError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        if let Some(origin) = dir_origin(&path, &|k| std::env::var_os(k)) {
            let action = action.strip_suffix(" directory").unwrap_or(action);
            return CacheError::Directory { action, path, origin, source };
        }
        CacheError::Io { action, path, source }
    }
}

/// Which setting chose `path` as the cache directory (see `cache::default_dir`); `None` when
/// `path` is not the cache directory.
fn dir_origin(path: &std::path::Path, var: &dyn Fn(&str) -> Option<std::ffi::OsString>) -> Option<String> {
    let set = |k: &str| var(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if set("BRICKAUTH_CACHE_DIR").is_some_and(|d| d == path) {
        return Some("$BRICKAUTH_CACHE_DIR".to_owned());
    }
    for name in ["XDG_CACHE_HOME", "LOCALAPPDATA"] {
        if set(name).is_some_and(|d| d.join("brickauth") == path) {
            return Some(format!("${name}"));
        }
    }
    brickauth_core::paths::home_dir_with(var)
        .is_some_and(|h| h.join(".cache").join("brickauth") == path)
        .then(|| "the default, ~/.cache/brickauth".to_owned())
}

/// Why [`TokenProvider`](crate::TokenProvider) could not produce a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The token endpoint or the grant flow failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The cache could not be read or written.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The flow could not be built from the profile's settings.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No usable token, and getting one needs a person where there is none (an interactive flow
    /// without a terminal). The caller says how to sign in (the CLI names its `login` command).
    #[error("{reason}; profile `{profile}` needs an interactive sign-in")]
    NeedsLogin {
        /// The profile to sign in with.
        profile: String,
        /// Why no token could be obtained silently.
        reason: String,
    },
    /// The profile names an account (`username`) and the sign-in came back as another one.
    /// Nothing was cached.
    #[error(
        "profile `{profile}` expects {expected}, but the sign-in returned {}; nothing was cached — sign in as {expected}",
        shown_account(.actual.as_deref())
    )]
    WrongAccount {
        /// The profile.
        profile: String,
        /// The profile's `username`.
        expected: String,
        /// The username the token endpoint answered for.
        actual: Option<String>,
    },
}

/// The account a token endpoint named, cleaned for a person (it is server text: escape
/// sequences and control characters removed).
fn shown_account(actual: Option<&str>) -> String {
    match actual {
        Some(a) => brickauth_core::text::ServerText::default().clean(a),
        None => "an account without a user name".to_owned(),
    }
}

impl ProviderError {
    /// How the CLI should report this error (exit code 3 for authentication, 2 for profile
    /// problems, 1 otherwise).
    pub fn class(&self) -> ErrorClass {
        match self {
            ProviderError::Auth(e) => e.class(),
            ProviderError::Cache(_) => ErrorClass::Other,
            ProviderError::Config(_) => ErrorClass::Usage,
            ProviderError::NeedsLogin { .. } | ProviderError::WrongAccount { .. } => ErrorClass::Auth,
        }
    }

    /// The profile a person must sign in with interactively, when that is what this error asks.
    pub fn needs_login(&self) -> Option<&str> {
        match self {
            ProviderError::NeedsLogin { profile, .. } => Some(profile),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_login_names_the_profile_but_no_command() {
        let e = ProviderError::NeedsLogin { profile: "dev".into(), reason: "no token is cached".into() };
        assert_eq!(e.to_string(), "no token is cached; profile `dev` needs an interactive sign-in");
        assert!(!e.to_string().contains("brickauth"), "a library names no CLI command: {e}");
        assert_eq!(e.needs_login(), Some("dev"));
        assert_eq!(e.class(), ErrorClass::Auth);
    }

    #[test]
    fn a_cache_directory_that_cannot_be_made_names_its_variable() {
        let var = |k: &str| (k == "BRICKAUTH_CACHE_DIR").then(|| std::ffi::OsString::from("/dev/null/x"));
        assert_eq!(dir_origin(std::path::Path::new("/dev/null/x"), &var).as_deref(), Some("$BRICKAUTH_CACHE_DIR"));
        assert_eq!(dir_origin(std::path::Path::new("/dev/null/x/tokens.json"), &var), None, "a file in it");
        let home = |k: &str| (k == brickauth_core::paths::HOME_VARIABLE).then(|| std::ffi::OsString::from("/home/a"));
        let default = dir_origin(std::path::Path::new("/home/a/.cache/brickauth"), &home);
        assert!(default.is_some_and(|d| d.starts_with("the default")));
        let e = CacheError::Directory {
            action: "create",
            path: "/dev/null/x".into(),
            origin: "$BRICKAUTH_CACHE_DIR".into(),
            source: io::Error::from_raw_os_error(20),
        };
        let shown = e.to_string();
        assert!(
            shown.starts_with("cannot create the token cache directory /dev/null/x (from $BRICKAUTH_CACHE_DIR): "),
            "{shown}"
        );
        assert!(shown.ends_with("point $BRICKAUTH_CACHE_DIR at a directory you can write, or unset it"), "{shown}");
    }

    #[test]
    fn wrong_account_names_both() {
        let e = ProviderError::WrongAccount {
            profile: "ci".into(),
            expected: "alice@contoso.com".into(),
            actual: Some("bob@contoso.com".into()),
        };
        let s = e.to_string();
        assert!(s.contains("alice@contoso.com") && s.contains("bob@contoso.com") && s.contains("nothing was cached"));
        let hostile = ProviderError::WrongAccount {
            profile: "ci".into(),
            expected: "alice@contoso.com".into(),
            actual: Some("bob\u{1b}]0;t\u{7}\u{1b}[2J\u{202e}@contoso.com".into()),
        };
        assert!(hostile.to_string().contains("returned bob@contoso.com;"), "{hostile}");
        assert_eq!(e.class(), ErrorClass::Auth);
        assert_eq!(e.needs_login(), None);
    }

    #[test]
    fn lock_timeout_names_the_file() {
        let e = CacheError::LockTimeout {
            path: PathBuf::from("/c/tokens.lock"),
            waited: Duration::from_secs(120),
            holder: Some(42),
        };
        let s = e.to_string();
        assert!(s.contains("/c/tokens.lock") && s.contains("process 42") && s.contains("120 s"), "{s}");
    }
}
