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
//!       "refresh_token_sealed": "<base64: nonce, AES-256-GCM ciphertext and tag>",
//!       "updated_at": 1764000000, "obtained_at_ms": 1764000000123
//!     }
//!   },
//!   "bindings": {
//!     "dev": {"<entry key>": {}},
//!     "rt": {"<entry key>": {"credential": "hmac-sha256:…"}}
//!   },
//!   "secrets": {"storage": "keychain", "key": "tokens-<24 hex digits>"}
//! }
//! ```
//!
//! `secrets` says where refresh tokens are kept (see [`crate::secrets`]): sealed with a data
//! key held in the keychain or the kernel keyring (`refresh_token_sealed`), or in clear
//! (`"storage": "file"`, `refresh_token`). A file without `secrets` comes from before sealing:
//! its clear `refresh_token`s are sealed on the next write. An older brickauth reading a sealed
//! file still serves its access tokens, sees no refresh tokens, and drops them when it writes.
//!
//! `bindings` says which entries each profile's own flow signed in — at most one per identity —
//! and, for a flow that signs in with a configured credential (a refresh token), a keyed
//! fingerprint of that credential (see [`crate::secure`]): never the credential itself. Files
//! written before bindings existed carry `"profiles": {"dev": "<entry key>"}`; it is read as the
//! same binding and not written again.
//!
//! Times are seconds since the Unix epoch, but for `obtained_at_ms`: when this brickauth received
//! the access token, in milliseconds, which decides whether a forced refresh may take the token
//! instead of asking again (see [`crate::provider`]). It was added within version 1, as an
//! optional field: an entry without it (written before it existed, or rewritten by an older
//! brickauth, which ignores and drops it) counts as obtained long ago, so a forced refresh renews
//! it — the behaviour before. `refresh_token` and `refresh_token_sealed` are omitted when there
//! is none.
//! Unknown fields are ignored on reading (and dropped on the next write); a `version` other than
//! [`VERSION`] is treated like a corrupt file.
//!
//! This module does no locking and knows nothing of providers: [`crate::cache`] decides when to
//! read and write. It holds the secrets as plain `String`s, so none of its types implement `Debug`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use brickauth_core::{AccessToken, Account, SecretString, TokenResponse};
use serde::{Deserialize, Serialize};

use crate::cache::CachedToken;
use crate::error::CacheError;
use crate::files;
use crate::identity::{AccountHint, Identity, same_username};
use crate::secrets::{Record, SealedRef, Storage};

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
    /// Profile name → entry key → the binding: the entries the profile's own flow signed in.
    #[serde(default)]
    pub bindings: BTreeMap<String, BTreeMap<String, Binding>>,
    /// The older form of `bindings` (profile → entry key), read once and folded into it.
    #[serde(default, skip_serializing)]
    profiles: BTreeMap<String, String>,
    /// Where the refresh tokens are kept (absent: not decided yet, or a file from before
    /// sealing, whose refresh tokens are in clear).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Record>,
}

/// What the cache remembers of one profile's sign-in.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Binding {
    /// The keyed fingerprint of the credential the flow signed in with, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl Default for CacheFile {
    fn default() -> Self {
        CacheFile {
            version: VERSION,
            entries: BTreeMap::new(),
            bindings: BTreeMap::new(),
            profiles: BTreeMap::new(),
            secrets: None,
        }
    }
}

/// Which entry a profile gets, and through what.
pub(crate) struct Selected<'a> {
    /// The entry's key.
    pub key: &'a str,
    /// The profile's binding, when the entry was chosen through it (not through `username`).
    pub binding: Option<&'a Binding>,
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
    /// In clear: [`Storage::File`], or a file from before sealing (sealed on the next write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Sealed with the data key the file's `secrets` names (see [`crate::secrets`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_sealed: Option<String>,
    #[serde(default)]
    pub updated_at: i64,
    /// When the access token was received, in milliseconds since the Unix epoch (`None`: an
    /// entry from before this field, or rewritten by an older brickauth — obtained long ago).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obtained_at_ms: Option<i64>,
}

fn bearer() -> String {
    "Bearer".to_owned()
}

/// The key an account is filed under: [`Account::key`], or `app` when the token has no user.
pub(crate) fn account_key(account: &Account) -> String {
    account.key().unwrap_or_else(|| APP_ACCOUNT.to_owned())
}

impl Entry {
    /// An entry for `response`, received and stored at `now_ms` (milliseconds since the epoch).
    pub fn new(id: &Identity, response: &TokenResponse, account: Account, now_ms: i64) -> Entry {
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
            refresh_token_sealed: None,
            updated_at: now_ms.div_euclid(1000),
            obtained_at_ms: Some(now_ms),
        }
    }

    fn belongs_to(&self, id: &Identity) -> bool {
        id.matches(&self.environment, &self.tenant, &self.client_id, &self.scopes)
    }

    /// Whether the entry holds a refresh token, clear or sealed.
    pub fn has_refresh_token(&self) -> bool {
        self.refresh_token.is_some() || self.refresh_token_sealed.is_some()
    }

    /// The token as handed to callers, as the file `secrets` describes it. The access token's
    /// scopes are the requested ones. A sealed refresh token stays sealed (the cached path opens
    /// no key store): [`TokenCache::refresh_token`](crate::TokenCache::refresh_token) opens it.
    pub fn to_cached(&self, secrets: Option<&Record>) -> CachedToken {
        let sealed = match (&self.refresh_token_sealed, secrets) {
            (Some(value), Some(Record { storage, key: Some(key) })) => Some(SealedRef {
                storage: *storage,
                key: key.clone(),
                value: value.clone(),
                aad: crate::secrets::aad(key, self),
            }),
            _ => None,
        };
        CachedToken {
            refresh_token_storage: if self.refresh_token.is_some() {
                Some(Storage::File)
            } else {
                sealed.as_ref().map(|s| s.storage)
            },
            sealed,
            access_token: AccessToken {
                secret: SecretString::from(self.access_token.clone()),
                expires_on: self.expires_on,
                refresh_on: self.refresh_on,
                token_type: self.token_type.clone(),
                scopes: self.scopes.clone(),
            },
            refresh_token: self.refresh_token.clone().map(SecretString::from),
            account: self.account.clone(),
            obtained_at_ms: self.obtained_at_ms,
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
    /// The entry `hint` means for `id`: with a username, the identity's entry of that account
    /// (compared case-insensitively); without one, the entry the profile is bound to. Never "the
    /// identity's only entry": a profile that names no account and never signed in itself gets
    /// nothing, and runs its flow (MSAL for Python dropped the same fallback for the same reason).
    pub fn select(&self, id: &Identity, hint: &AccountHint) -> Option<Selected<'_>> {
        if let Some(wanted) = hint.username.as_deref() {
            return self
                .entries
                .iter()
                .filter(|(_, e)| e.belongs_to(id))
                .find(|(_, e)| e.account.username.as_deref().is_some_and(|u| same_username(u, wanted)))
                .map(|(k, _)| Selected { key: k.as_str(), binding: None });
        }
        self.bindings.get(&hint.profile)?.iter().find_map(|(k, b)| {
            let (key, _) = self.entries.get_key_value(k).filter(|(_, e)| e.belongs_to(id))?;
            Some(Selected { key: key.as_str(), binding: Some(b) })
        })
    }

    /// Bind `profile` to the entry `key` of `id`, replacing its binding to any other entry of
    /// the same identity.
    pub fn bind(&mut self, id: &Identity, profile: &str, key: &str, binding: Binding) {
        let prefix = id.entry_key("");
        let bound = self.bindings.entry(profile.to_owned()).or_default();
        bound.retain(|k, _| !k.starts_with(&prefix));
        bound.insert(key.to_owned(), binding);
    }

    /// Drop `profile`'s binding for `id`; whether it had one.
    pub fn unbind(&mut self, id: &Identity, profile: &str) -> bool {
        let prefix = id.entry_key("");
        let Some(bound) = self.bindings.get_mut(profile) else { return false };
        let before = bound.len();
        bound.retain(|k, _| !k.starts_with(&prefix));
        let changed = bound.len() != before;
        if bound.is_empty() {
            self.bindings.remove(profile);
        }
        changed
    }

    /// Point every binding to `old` at `new` instead (an entry re-filed under another account key).
    pub fn rebind(&mut self, old: &str, new: &str) {
        for bound in self.bindings.values_mut() {
            if let Some(b) = bound.remove(old) {
                bound.insert(new.to_owned(), b);
            }
        }
    }

    /// The profiles bound to any of `keys`.
    pub fn bound_to(&self, keys: &[String]) -> BTreeSet<String> {
        self.bindings
            .iter()
            .filter(|(_, bound)| bound.keys().any(|k| keys.contains(k)))
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Remove entries and every binding that points at them; returns how many were removed.
    pub fn remove(&mut self, keys: &[String]) -> usize {
        let removed = keys.iter().filter(|k| self.entries.remove(k.as_str()).is_some()).count();
        for bound in self.bindings.values_mut() {
            bound.retain(|k, _| !keys.contains(k));
        }
        self.bindings.retain(|_, bound| !bound.is_empty());
        removed
    }

    /// Drop every sealed refresh token (their key is gone); how many there were.
    pub fn drop_sealed(&mut self) -> usize {
        self.entries.values_mut().filter_map(|e| e.refresh_token_sealed.take()).count()
    }

    /// Whether any entry still holds a sealed refresh token.
    pub fn has_sealed(&self) -> bool {
        self.entries.values().any(|e| e.refresh_token_sealed.is_some())
    }

    /// Fold the older `profiles` map into `bindings`.
    fn migrate(&mut self) {
        for (profile, key) in std::mem::take(&mut self.profiles) {
            self.bindings.entry(profile).or_default().entry(key).or_default();
        }
    }
}

/// Why the bytes of a cache file cannot be used.
pub(crate) fn parse(bytes: &[u8]) -> Result<CacheFile, String> {
    match serde_json::from_slice::<CacheFile>(bytes) {
        Ok(mut f) if f.version == VERSION => {
            f.migrate();
            Ok(f)
        }
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

/// Write `file` to `path` atomically through [`files::write`] (temp file, fsync, rename). The
/// caller holds the cache lock.
///
/// Temp files left behind by a writer that was killed are removed first: only a lock holder
/// writes them, so any present now is stale.
pub(crate) fn write(path: &Path, file: &CacheFile) -> Result<(), CacheError> {
    if let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) {
        files::remove_stale_temps(dir, name);
    }
    let bytes = serde_json::to_vec_pretty(file).map_err(CacheError::Serialize)?;
    files::write(path, &bytes)
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
            refresh_token_sealed: None,
            updated_at: 1,
            obtained_at_ms: None,
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

    fn key_of<'a>(f: &'a CacheFile, hint: &AccountHint) -> Option<&'a str> {
        f.select(&id(), hint).map(|s| s.key)
    }

    #[test]
    fn selection_rules() {
        let mut f = CacheFile::default();
        let alice = id().entry_key("alice");
        let bob = id().entry_key("bob");
        f.entries.insert(alice.clone(), entry("Alice@x.com"));
        assert_eq!(key_of(&f, &AccountHint::new("p")), None, "the only entry is not taken by an unbound profile");
        f.entries.insert(bob.clone(), entry("bob@x.com"));
        f.bind(&id(), "p", &bob, Binding::default());
        assert_eq!(key_of(&f, &AccountHint::new("p")), Some(bob.as_str()), "profile binding");
        assert_eq!(key_of(&f, &AccountHint::new("q")), None, "another profile's binding is not shared");
        assert_eq!(key_of(&f, &AccountHint::new("p").with_username("alice@X.com")), Some(alice.as_str()));
        assert_eq!(key_of(&f, &AccountHint::new("p").with_username("carol@x.com")), None);
        let other = Identity { client_id: "d".into(), ..id() };
        assert!(f.select(&other, &AccountHint::new("p")).is_none(), "binding to another identity is ignored");
    }

    #[test]
    fn a_profile_has_one_binding_per_identity() {
        let mut f = CacheFile::default();
        let other = Identity { scopes: vec!["management".into()], ..id() };
        let (a, b, m) = (id().entry_key("alice"), id().entry_key("bob"), other.entry_key("alice"));
        f.bind(&id(), "p", &a, Binding::default());
        f.bind(&other, "p", &m, Binding::default());
        f.bind(&id(), "p", &b, Binding { credential: Some("fp".into()) });
        let bound: Vec<&String> = f.bindings["p"].keys().collect();
        assert_eq!(bound.len(), 2, "{bound:?}");
        assert!(f.bindings["p"].contains_key(&m) && f.bindings["p"][&b].credential.as_deref() == Some("fp"));
        assert!(f.unbind(&id(), "p"));
        assert!(!f.unbind(&id(), "p"));
        assert_eq!(f.bindings["p"].len(), 1);
    }

    #[test]
    fn the_older_profiles_map_is_read_as_bindings() {
        let f = parse(br#"{"version":1,"entries":{},"profiles":{"dev":"k"}}"#).ok().unwrap();
        assert!(f.bindings["dev"].contains_key("k"));
        let written = serde_json::to_string(&f).unwrap();
        assert!(!written.contains("\"profiles\""), "{written}");
    }

    /// `obtained_at_ms` is optional within version 1: an entry without it reads as "unknown"
    /// (old), and fields this version does not know — as an older brickauth sees this one — are
    /// ignored, not an error.
    #[test]
    fn obtained_at_is_optional_and_unknown_fields_are_ignored() {
        let e = r#"{"environment":"e","tenant":"t","client_id":"c","scopes":["s"],"access_token":"at","expires_on":10"#;
        let old = parse(format!(r#"{{"version":1,"entries":{{"k":{e}}}}}}}"#).as_bytes()).ok().unwrap();
        assert_eq!(old.entries["k"].obtained_at_ms, None);
        let newer = format!(r#"{{"version":1,"entries":{{"k":{e},"obtained_at_ms":5,"from_the_future":[1]}}}}}}"#);
        let f = parse(newer.as_bytes()).ok().unwrap();
        assert_eq!(f.entries["k"].obtained_at_ms, Some(5));
        let written = serde_json::to_string(&f).unwrap();
        assert!(written.contains(r#""obtained_at_ms":5"#) && !written.contains("from_the_future"), "{written}");
        let none = serde_json::to_string(&old).unwrap();
        assert!(!none.contains("obtained_at_ms"), "{none}");
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
