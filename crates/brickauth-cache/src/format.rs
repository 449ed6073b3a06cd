//! The `tokens.json` file: its typed form, how entries are chosen, and how the file is written.
//!
//! ```json
//! {
//!   "version": 1,
//!   "entries": {
//!     "<environment>|<tenant>|<client id>|<sorted scopes, space-joined>|<account key or app>": {
//!       "environment": "login.microsoftonline.com", "tenant": "…", "client_id": "…",
//!       "scopes": ["2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"],
//!       "account": {"home_account_id": "uid.utid", "username": "…", "tenant_id": "…", "oid": "…"},
//!       "access_token": "…", "token_type": "Bearer",
//!       "expires_on": 1764003600, "refresh_on": null, "ext_expires_on": 1764003600,
//!       "refresh_token": "…", "updated_at": 1764000000
//!     }
//!   },
//!   "profiles": {"dev": "<entry key>"}
//! }
//! ```
//!
//! Times are seconds since the Unix epoch. `refresh_token` is omitted when there is none.
//! Unknown fields are ignored on reading (and dropped on the next write); a `version` other than
//! [`VERSION`] is treated like a corrupt file.
//!
//! This module does no locking and knows nothing of providers: [`crate::cache`] decides when to
//! read and write. It holds the secrets as plain `String`s, so none of its types implement `Debug`.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use brickauth_core::{AccessToken, Account, SecretString, TokenResponse};
use serde::{Deserialize, Serialize};

use crate::cache::CachedToken;
use crate::error::CacheError;
use crate::identity::{AccountHint, Identity, same_username};

/// The format version this crate reads and writes.
pub(crate) const VERSION: u32 = 1;

/// The account key of tokens that belong to no user (client credentials, managed identity).
const APP_ACCOUNT: &str = "app";

/// The whole file.
#[derive(Serialize, Deserialize)]
pub(crate) struct CacheFile {
    pub version: u32,
    #[serde(default)]
    pub entries: BTreeMap<String, Entry>,
    /// Profile name → the key of the entry it last used.
    #[serde(default)]
    pub profiles: BTreeMap<String, String>,
}

impl Default for CacheFile {
    fn default() -> Self {
        CacheFile { version: VERSION, entries: BTreeMap::new(), profiles: BTreeMap::new() }
    }
}

/// One cached token set: an access token and maybe a refresh token, for one identity and account.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub environment: String,
    pub tenant: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    #[serde(default)]
    pub account: Account,
    pub access_token: String,
    #[serde(default = "bearer")]
    pub token_type: String,
    pub expires_on: i64,
    #[serde(default)]
    pub refresh_on: Option<i64>,
    #[serde(default)]
    pub ext_expires_on: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub updated_at: i64,
}

fn bearer() -> String {
    "Bearer".to_owned()
}

/// The key an account is filed under: [`Account::key`], or `app` when the token has no user.
pub(crate) fn account_key(account: &Account) -> String {
    account.key().unwrap_or_else(|| APP_ACCOUNT.to_owned())
}

impl Entry {
    /// An entry for `response`, stored at `now`.
    pub fn new(id: &Identity, response: &TokenResponse, account: Account, now: i64) -> Entry {
        use brickauth_core::ExposeSecret;
        let at = &response.access_token;
        let mut scopes = id.scopes.clone();
        scopes.sort();
        Entry {
            environment: id.environment.clone(),
            tenant: id.tenant.clone(),
            client_id: id.client_id.clone(),
            scopes,
            account,
            access_token: at.expose().to_owned(),
            token_type: at.token_type.clone(),
            expires_on: at.expires_on,
            refresh_on: at.refresh_on,
            ext_expires_on: response.ext_expires_on,
            refresh_token: response.refresh_token.as_ref().map(|s| s.expose_secret().to_owned()),
            updated_at: now,
        }
    }

    fn belongs_to(&self, id: &Identity) -> bool {
        id.matches(&self.environment, &self.tenant, &self.client_id, &self.scopes)
    }

    /// The token as handed to callers. The access token's scopes are the requested ones.
    pub fn to_cached(&self) -> CachedToken {
        CachedToken {
            access_token: AccessToken {
                secret: SecretString::from(self.access_token.clone()),
                expires_on: self.expires_on,
                refresh_on: self.refresh_on,
                token_type: self.token_type.clone(),
                scopes: self.scopes.clone(),
            },
            refresh_token: self.refresh_token.clone().map(SecretString::from),
            account: self.account.clone(),
            identity: Identity {
                environment: self.environment.clone(),
                tenant: self.tenant.clone(),
                client_id: self.client_id.clone(),
                scopes: self.scopes.clone(),
            },
        }
    }
}

impl CacheFile {
    /// The key of the entry `hint` means for `id`: the entry whose username matches the hint's
    /// (case-insensitively) if the hint names one; else the one the profile last used; else the
    /// identity's only entry; else none.
    pub fn select(&self, id: &Identity, hint: &AccountHint) -> Option<&str> {
        let mut of_id = self.entries.iter().filter(|(_, e)| e.belongs_to(id));
        if let Some(wanted) = hint.username.as_deref() {
            return of_id
                .find(|(_, e)| e.account.username.as_deref().is_some_and(|u| same_username(u, wanted)))
                .map(|(k, _)| k.as_str());
        }
        if let Some(bound) = self.profiles.get(&hint.profile)
            && self.entries.get(bound).is_some_and(|e| e.belongs_to(id))
        {
            return Some(bound);
        }
        let first = of_id.next()?;
        if of_id.next().is_some() { None } else { Some(first.0.as_str()) }
    }

    /// The keys of every entry of `id`.
    pub fn keys_of(&self, id: &Identity) -> Vec<String> {
        self.entries.iter().filter(|(_, e)| e.belongs_to(id)).map(|(k, _)| k.clone()).collect()
    }

    /// Remove entries and every profile binding that points at them; returns how many were removed.
    pub fn remove(&mut self, keys: &[String]) -> usize {
        let removed = keys.iter().filter(|k| self.entries.remove(k.as_str()).is_some()).count();
        self.profiles.retain(|_, bound| !keys.contains(bound));
        removed
    }
}

/// Why the bytes of a cache file cannot be used.
pub(crate) fn parse(bytes: &[u8]) -> Result<CacheFile, String> {
    match serde_json::from_slice::<CacheFile>(bytes) {
        Ok(f) if f.version == VERSION => Ok(f),
        Ok(f) => Err(format!("unknown format version {} (this brickauth reads version {VERSION})", f.version)),
        Err(e) => {
            // A newer format may not even parse as ours: say so rather than "invalid".
            #[derive(Deserialize)]
            struct Header {
                version: serde_json::Value,
            }
            match serde_json::from_slice::<Header>(bytes) {
                Ok(h) if h.version != VERSION => {
                    Err(format!("unknown format version {} (this brickauth reads version {VERSION})", h.version))
                }
                _ => Err(format!("not a valid token cache: {e}")),
            }
        }
    }
}

/// The file's bytes, or `None` when it does not exist.
pub(crate) fn read(path: &Path) -> Result<Option<Vec<u8>>, CacheError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CacheError::io("read", path, e)),
    }
}

/// Rename an unusable cache file to `<name>.corrupt-<unix secs>` (never over an earlier one),
/// with a warning naming both paths. Returns the new path.
pub(crate) fn move_aside(path: &Path, why: &str) -> Result<PathBuf, CacheError> {
    let secs = brickauth_core::now();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "tokens.json".into());
    let mut aside = path.with_file_name(format!("{name}.corrupt-{secs}"));
    let mut n = 1;
    while aside.exists() {
        aside = path.with_file_name(format!("{name}.corrupt-{secs}-{n}"));
        n += 1;
    }
    fs::rename(path, &aside).map_err(|e| CacheError::io("move aside the unreadable token cache", path, e))?;
    tracing::warn!(
        "the token cache {} is unusable ({why}); moved it to {} and starting with an empty cache",
        path.display(),
        aside.display()
    );
    Ok(aside)
}

/// Write `file` to `path` atomically: a private temp file in the same directory, fsynced, renamed
/// over `path`, then the directory fsynced (Unix). The caller holds the cache lock.
///
/// Temp files left behind by a writer that was killed are removed first: only a lock holder
/// writes them, so any present now is stale.
pub(crate) fn write(path: &Path, file: &CacheFile) -> Result<(), CacheError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "tokens.json".into());
    let prefix = format!("{name}.");
    remove_stale_temp_files(dir, &prefix);

    let bytes = serde_json::to_vec_pretty(file).map_err(CacheError::Serialize)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| CacheError::io("create a temporary file in", dir, e))?;
    // tempfile creates files 0600 on Unix already; say so explicitly rather than rely on it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(|e| CacheError::io("set permissions of", tmp.path(), e))?;
    }
    tmp.write_all(&bytes).map_err(|e| CacheError::io("write", tmp.path(), e))?;
    tmp.as_file().sync_all().map_err(|e| CacheError::io("flush to disk", tmp.path(), e))?;
    persist(tmp, path)?;
    #[cfg(unix)]
    {
        // The rename is durable only once the directory entry is.
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| CacheError::io("flush to disk", dir, e))?;
    }
    Ok(())
}

fn persist(mut tmp: tempfile::NamedTempFile, path: &Path) -> Result<(), CacheError> {
    // On Windows a virus scanner or indexer may hold the target open for a moment without
    // FILE_SHARE_DELETE; retry briefly. Elsewhere the first error is final.
    let attempts = if cfg!(windows) { 5 } else { 1 };
    let mut attempt = 1;
    loop {
        match tmp.persist(path) {
            Ok(_) => return Ok(()),
            Err(e) if attempt < attempts && e.error.kind() == io::ErrorKind::PermissionDenied => {
                tmp = e.file;
                std::thread::sleep(std::time::Duration::from_millis(20 * attempt));
                attempt += 1;
            }
            Err(e) => return Err(CacheError::io("replace", path, e.error)),
        }
    }
}

fn remove_stale_temp_files(dir: &Path, prefix: &str) {
    let Ok(read) = fs::read_dir(dir) else { return };
    for entry in read.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && name.ends_with(".tmp") {
            let p = entry.path();
            match fs::remove_file(&p) {
                Ok(()) => tracing::debug!(path = %p.display(), "removed a stale temporary cache file"),
                Err(e) => tracing::debug!(path = %p.display(), error = %e, "cannot remove a stale temporary file"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(username: &str) -> Entry {
        Entry {
            environment: "login.microsoftonline.com".into(),
            tenant: "organizations".into(),
            client_id: "c".into(),
            scopes: vec!["s".into()],
            account: Account { username: Some(username.into()), ..Account::default() },
            access_token: "at".into(),
            token_type: "Bearer".into(),
            expires_on: 10,
            refresh_on: None,
            ext_expires_on: None,
            refresh_token: None,
            updated_at: 1,
        }
    }

    fn id() -> Identity {
        Identity {
            environment: "login.microsoftonline.com".into(),
            tenant: "organizations".into(),
            client_id: "c".into(),
            scopes: vec!["s".into()],
        }
    }

    #[test]
    fn selection_rules() {
        let mut f = CacheFile::default();
        f.entries.insert("k-alice".into(), entry("Alice@x.com"));
        assert_eq!(f.select(&id(), &AccountHint::new("p")), Some("k-alice"), "the only entry");
        f.entries.insert("k-bob".into(), entry("bob@x.com"));
        assert_eq!(f.select(&id(), &AccountHint::new("p")), None, "ambiguous");
        f.profiles.insert("p".into(), "k-bob".into());
        assert_eq!(f.select(&id(), &AccountHint::new("p")), Some("k-bob"), "profile binding");
        assert_eq!(f.select(&id(), &AccountHint::new("p").with_username("alice@X.com")), Some("k-alice"));
        assert_eq!(f.select(&id(), &AccountHint::new("p").with_username("carol@x.com")), None);
        let other = Identity { client_id: "d".into(), ..id() };
        assert_eq!(f.select(&other, &AccountHint::new("p")), None, "binding to another identity is ignored");
    }

    fn why(bytes: &[u8]) -> String {
        parse(bytes).err().unwrap_or_default()
    }

    #[test]
    fn versions() {
        assert!(parse(br#"{"version":1,"entries":{},"profiles":{}}"#).is_ok());
        assert!(parse(br#"{"version":1}"#).is_ok());
        assert!(why(br#"{"version":2,"entries":{}}"#).contains("unknown format version 2"));
        assert!(why(br#"{"version":2,"entries":[1,2]}"#).contains("unknown format version 2"));
        assert!(why(b"{garbage").contains("not a valid token cache"));
        assert!(parse(b"").is_err());
    }
}
