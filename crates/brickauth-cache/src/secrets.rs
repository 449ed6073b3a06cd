//! Refresh tokens at rest: sealed in `tokens.json` with a data key that lives in an OS key
//! store, so that the file alone — a backup, a synced home directory, a stolen disk — yields no
//! refresh token.
//!
//! - **The data key** is 32 random bytes, one per cache directory, kept in the store the
//!   [`StoragePolicy`] picks ([`Storage::Keychain`]: the Secret Service, the macOS Keychain or
//!   the Windows Credential Manager; [`Storage::Keyring`]: the Linux kernel's user keyring).
//!   Its id and the store are recorded in the file (`"secrets": {"storage": "keychain", "key":
//!   "<id>"}`), so later calls neither probe nor guess. [`Storage::File`] records that refresh
//!   tokens are kept in clear, as before.
//! - **Sealing** is AES-256-GCM (aws-lc-rs, the crypto rustls already links) with a random
//!   96-bit nonce; the associated data binds each sealed token to the key id and to the identity
//!   of its entry (authority, tenant, client id, scopes), so a sealed token moved to another
//!   identity's entry does not open. Access tokens stay in clear: short-lived, and read on every
//!   cached call, which must not touch a key store.
//! - **When the store is touched**: only when a refresh token is written (a sign-in, a renewal —
//!   under the cache lock) or redeemed, and to delete the key when the last sealed token goes.
//!   Never on the cached path. The key is remembered for the life of the process.
//!
//! The choice, under the lock, when tokens are written ([`Secrets::prepare`]):
//!
//! 1. The file names a store and the policy allows it (`auto`, or that very store): use it. If
//!    its key is gone (the kernel keyring after a reboot; a cache copied from another machine),
//!    the tokens sealed with it are dropped (their profiles sign in again) and a new key is made.
//!    If the store fails or does not answer, nothing is written in clear: with `auto` the new
//!    refresh token is not kept (a warning says so), with an explicit policy it is an error.
//! 2. Otherwise (a new cache, a cache from before sealing, or a policy naming another store):
//!    `auto` tries the keychain, then the kernel keyring, then the file — moving on only from a
//!    store that is *absent* (no session bus, no Secret Service, keyutils refused), never from
//!    one that fails or times out. An explicit policy uses its store or fails.
//! 3. Every refresh token in the file is brought into the chosen storage: clear ones from an
//!    older cache are sealed (never lost), sealed ones move to the new key or into clear; the
//!    old key is deleted from its store.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use brickauth_keychain::{KeyStore, StoreError};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::CacheError;
use crate::format::{CacheFile, Entry};

/// Where refresh tokens are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// Sealed in `tokens.json` with a key held by the user's keychain (Secret Service, macOS
    /// Keychain, Windows Credential Manager).
    Keychain,
    /// Sealed in `tokens.json` with a key held by the Linux kernel's user keyring: no D-Bus
    /// needed, but the key — and so every sealed refresh token — is lost at reboot.
    Keyring,
    /// In clear in `tokens.json` (mode 0600), as before sealing existed.
    File,
}

impl Storage {
    /// The word the setting and `status` use: `keychain`, `keyring`, `file`.
    pub fn as_str(self) -> &'static str {
        match self {
            Storage::Keychain => "keychain",
            Storage::Keyring => "keyring",
            Storage::File => "file",
        }
    }
}

impl fmt::Display for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which [`Storage`] a cache may use (`BRICKAUTH_SECRET_STORAGE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StoragePolicy {
    /// The keychain if one is there, else the kernel keyring, else the file; the choice is
    /// recorded in the cache file and kept.
    #[default]
    Auto,
    /// This storage and no other: an unreachable store is an error, never a fallback.
    Only(Storage),
}

impl StoragePolicy {
    /// Whether a cache whose file records `storage` may keep using it.
    fn allows(self, storage: Storage) -> bool {
        self == StoragePolicy::Auto || self == StoragePolicy::Only(storage)
    }
}

/// The environment variable that sets the [`StoragePolicy`].
pub const STORAGE_VARIABLE: &str = "BRICKAUTH_SECRET_STORAGE";

impl FromStr for StoragePolicy {
    type Err = CacheError;

    /// `auto`, `keychain`, `keyring` or `file` (any case).
    fn from_str(s: &str) -> Result<Self, CacheError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(StoragePolicy::Auto),
            "keychain" => Ok(StoragePolicy::Only(Storage::Keychain)),
            "keyring" => Ok(StoragePolicy::Only(Storage::Keyring)),
            "file" => Ok(StoragePolicy::Only(Storage::File)),
            _ => Err(CacheError::BadStoragePolicy { value: s.to_owned() }),
        }
    }
}

impl fmt::Display for StoragePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoragePolicy::Auto => f.write_str("auto"),
            StoragePolicy::Only(s) => f.write_str(s.as_str()),
        }
    }
}

/// What the file records about its refresh tokens' storage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub storage: Storage,
    /// The data key's name in the store (none for [`Storage::File`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// How a sealed token found on the cached path is opened later: the store and key it needs.
#[derive(Clone)]
pub(crate) struct SealedRef {
    pub storage: Storage,
    pub key: String,
    pub value: String,
    pub aad: String,
}

/// A data key. Zeroed when dropped.
pub(crate) struct DataKey(SecretBox<[u8; 32]>);

const KEY_LEN: usize = 32;

impl DataKey {
    fn random() -> DataKey {
        DataKey(SecretBox::new(Box::new(rand::random())))
    }

    fn from_stored(bytes: &[u8]) -> Option<DataKey> {
        let decoded = STANDARD.decode(bytes).ok()?;
        let key: [u8; KEY_LEN] = decoded.as_slice().try_into().ok()?;
        Some(DataKey(SecretBox::new(Box::new(key))))
    }

    fn to_stored(&self) -> String {
        STANDARD.encode(self.0.expose_secret())
    }

    fn aead(&self) -> LessSafeKey {
        // A 32-byte key is what AES-256-GCM takes: UnboundKey::new cannot fail here.
        match UnboundKey::new(&AES_256_GCM, self.0.expose_secret()) {
            Ok(k) => LessSafeKey::new(k),
            Err(_) => unreachable!("AES-256-GCM takes a 32-byte key"),
        }
    }

    /// `base64(nonce ‖ ciphertext ‖ tag)`.
    pub fn seal(&self, secret: &str, aad: &str) -> String {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let mut sealed = secret.as_bytes().to_vec();
        // Sealing fails only for inputs over 64 GiB.
        if self
            .aead()
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut sealed)
            .is_err()
        {
            unreachable!("AES-GCM seals anything below 64 GiB");
        }
        let mut out = nonce.to_vec();
        out.append(&mut sealed);
        STANDARD.encode(out)
    }

    /// The secret, or `None` when `sealed` does not open under this key and `aad`.
    pub fn open(&self, sealed: &str, aad: &str) -> Option<SecretString> {
        let mut bytes = STANDARD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let mut body = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).ok()?;
        let plain = self.aead().open_in_place(nonce, Aad::from(aad), &mut body).ok()?;
        String::from_utf8(plain.to_vec()).ok().map(SecretString::from)
    }
}

/// The associated data of an entry's sealed refresh token.
pub(crate) fn aad(key_id: &str, entry: &Entry) -> String {
    format!(
        "brickauth refresh token v1|{key_id}|{}|{}|{}|{}",
        entry.environment,
        entry.tenant,
        entry.client_id,
        entry.scopes.join(" ")
    )
}

/// How new refresh tokens are to be written, as [`Secrets::prepare`] decided.
pub(crate) enum Sealer {
    /// In clear ([`Storage::File`]).
    Clear,
    /// Sealed with this key.
    Sealed { id: String, key: Arc<DataKey> },
    /// Not at all: the chosen store failed, and nothing goes to disk in clear.
    Withheld,
}

impl Sealer {
    /// Put `entry`'s clear refresh token (if any) where this sealer says.
    pub fn apply(&self, entry: &mut Entry) {
        let Some(rt) = entry.refresh_token.take() else { return };
        match self {
            Sealer::Clear => entry.refresh_token = Some(rt),
            Sealer::Sealed { id, key } => entry.refresh_token_sealed = Some(key.seal(&rt, &aad(id, entry))),
            Sealer::Withheld => {}
        }
    }
}

/// The key stores of a cache, its policy, and the data key once read.
#[derive(Clone)]
pub(crate) struct Secrets {
    pub policy: StoragePolicy,
    /// What chose the policy, for messages, when not the variable (a profile file's setting).
    pub set_by: Option<Arc<str>>,
    keychain: Arc<dyn KeyStore>,
    keyring: Arc<dyn KeyStore>,
    known: Arc<Mutex<Option<KnownKey>>>,
}

/// A data key this process has read or made, with its id.
type KnownKey = (String, Arc<DataKey>);

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("policy", &self.policy)
            .field("keychain", &self.keychain.describe())
            .field("keyring", &self.keyring.describe())
            .finish_non_exhaustive()
    }
}

impl PartialEq for Secrets {
    fn eq(&self, other: &Self) -> bool {
        self.policy == other.policy
            && Arc::ptr_eq(&self.keychain, &other.keychain)
            && Arc::ptr_eq(&self.keyring, &other.keyring)
    }
}

impl Eq for Secrets {}

impl Secrets {
    /// The operating system's stores.
    pub fn os(policy: StoragePolicy) -> Secrets {
        Secrets::with(
            policy,
            Arc::from(brickauth_keychain::keychain()),
            Arc::from(brickauth_keychain::kernel_keyring()),
        )
    }

    pub fn with(policy: StoragePolicy, keychain: Arc<dyn KeyStore>, keyring: Arc<dyn KeyStore>) -> Secrets {
        Secrets { policy, set_by: None, keychain, keyring, known: Arc::new(Mutex::new(None)) }
    }

    /// The store behind `storage` (none for the file).
    pub fn store(&self, storage: Storage) -> Option<&dyn KeyStore> {
        match storage {
            Storage::Keychain => Some(&*self.keychain),
            Storage::Keyring => Some(&*self.keyring),
            Storage::File => None,
        }
    }

    /// What a person is told the storage is: `the kernel keyring`, `the Secret Service (D-Bus)`.
    pub fn describe(&self, storage: Storage) -> &'static str {
        self.store(storage).map_or("the token cache file", |s| s.describe())
    }

    /// The data key `id` of `storage`: remembered, else read. `Ok(None)`: the store has no such
    /// key (or holds something that is not one).
    pub fn key(&self, storage: Storage, id: &str) -> Result<Option<Arc<DataKey>>, StoreError> {
        if let Some((known, key)) = &*lock(&self.known)
            && known == id
        {
            return Ok(Some(key.clone()));
        }
        let Some(store) = self.store(storage) else { return Ok(None) };
        let Some(bytes) = store.get(id)? else { return Ok(None) };
        let Some(key) = DataKey::from_stored(bytes.expose_secret()).map(Arc::new) else {
            tracing::warn!("the entry {id} in {} is not a brickauth data key; ignoring it", store.describe());
            return Ok(None);
        };
        *lock(&self.known) = Some((id.to_owned(), key.clone()));
        Ok(Some(key))
    }

    /// Make a data key in `storage` for the cache in `dir`.
    fn create(&self, storage: Storage, dir: &Path) -> Result<(Record, Sealer), StoreError> {
        let Some(store) = self.store(storage) else { return Ok((Record { storage, key: None }, Sealer::Clear)) };
        let id = format!("tokens-{}", hex(&rand::random::<[u8; 12]>()));
        let key = DataKey::random();
        let label = format!("brickauth token cache key ({})", dir.display());
        store.set(&id, &label, key.to_stored().as_bytes())?;
        tracing::info!(store = store.describe(), key = %id, "made the token cache's data key");
        let key = Arc::new(key);
        *lock(&self.known) = Some((id.clone(), key.clone()));
        Ok((Record { storage, key: Some(id.clone()) }, Sealer::Sealed { id, key }))
    }

    /// Delete the data key of `record` from its store (best effort: a failure is logged).
    pub fn delete(&self, record: &Record) {
        let (Some(store), Some(id)) = (self.store(record.storage), record.key.as_deref()) else { return };
        match store.delete(id) {
            Ok(_) => tracing::debug!(store = store.describe(), key = %id, "deleted the token cache's data key"),
            Err(e) => tracing::warn!("cannot delete the token cache's key {id}: {e}"),
        }
        let mut known = lock(&self.known);
        if known.as_ref().is_some_and(|(k, _)| k == id) {
            *known = None;
        }
    }

    /// Under the cache lock, before `file` is written with new tokens: choose the storage,
    /// bring every refresh token in `file` into it, and say how to write new ones (see the
    /// module documentation for the order).
    pub fn prepare(&self, file: &mut CacheFile, dir: &Path) -> Result<Sealer, CacheError> {
        // (1) The recorded key, if the file's sealed tokens can still be opened.
        let mut old: Option<(Record, Arc<DataKey>)> = None;
        if let Some(record) = file.secrets.clone()
            && let Some(id) = record.key.as_deref()
        {
            match self.key(record.storage, id) {
                Ok(Some(key)) => old = Some((record, key)),
                Ok(None) => {
                    // Said once: a provider that found the key gone has said so and dropped its
                    // own token already; this is about the others.
                    let n = file.drop_sealed();
                    if n > 0 {
                        tracing::warn!(
                            "the key that sealed {n} cached refresh token(s) is gone from {}{}; \
                             their profiles sign in again",
                            self.describe(record.storage),
                            key_gone_why(record.storage)
                        );
                    }
                    file.secrets = None;
                }
                Err(e) if self.policy.allows(record.storage) => {
                    if self.policy == StoragePolicy::Auto {
                        tracing::warn!("{e}; the new refresh token is not kept (never written in clear)");
                        return Ok(Sealer::Withheld);
                    }
                    return Err(CacheError::SecretStore {
                        storage: record.storage,
                        action: "read",
                        source: e,
                        set_by: self.set_by.as_deref().map(str::to_owned),
                    });
                }
                Err(e) => {
                    let n = file.drop_sealed();
                    tracing::warn!(
                        "cannot move {n} refresh token(s) out of {}: {e}; they are dropped",
                        self.describe(record.storage)
                    );
                    file.secrets = None;
                }
            }
        }

        // (2) The storage and key new tokens go to.
        let recorded = file.secrets.clone();
        let (record, sealer) = match (self.policy, recorded) {
            (_, Some(r)) if self.policy.allows(r.storage) => {
                let sealer = match (&old, &r.key) {
                    (Some((_, key)), Some(id)) => Sealer::Sealed { id: id.clone(), key: key.clone() },
                    _ => Sealer::Clear,
                };
                (r, sealer)
            }
            (StoragePolicy::Only(storage), _) => {
                self.create(storage, dir).map_err(|source| CacheError::SecretStore {
                    storage,
                    action: "store",
                    source,
                    set_by: self.set_by.as_deref().map(str::to_owned),
                })?
            }
            (StoragePolicy::Auto, _) => match self.probe(dir) {
                Some(chosen) => chosen,
                None => return Ok(Sealer::Withheld),
            },
        };

        // (3) Every token into the chosen storage; the old key goes if it is not the new one.
        let old_key = old.as_ref().map(|(r, k)| (r.key.clone().unwrap_or_default(), k.clone()));
        for entry in file.entries.values_mut() {
            if let Some(sealed) = entry.refresh_token_sealed.take() {
                match &old_key {
                    // The same key: sealed already.
                    Some((id, _)) if matches!(&sealer, Sealer::Sealed { id: new, .. } if new == id) => {
                        entry.refresh_token_sealed = Some(sealed);
                        continue;
                    }
                    Some((id, key)) => match key.open(&sealed, &aad(id, entry)) {
                        Some(rt) => entry.refresh_token = Some(rt.expose_secret().to_owned()),
                        None => tracing::warn!("a sealed refresh token does not open; dropping it"),
                    },
                    None => {}
                }
            }
            sealer.apply(entry);
        }
        if let Some((old_record, _)) = &old
            && old_record != &record
        {
            self.delete(old_record);
        }
        tracing::debug!(storage = %record.storage, "refresh tokens kept in {}", self.describe(record.storage));
        file.secrets = Some(record);
        Ok(sealer)
    }

    /// `auto` on a cache that records no storage: the keychain, else the kernel keyring, else
    /// the file — moving on only from an absent store. `None`: a store that is there failed.
    fn probe(&self, dir: &Path) -> Option<(Record, Sealer)> {
        for storage in [Storage::Keychain, Storage::Keyring] {
            match self.create(storage, dir) {
                Ok(chosen) => return Some(chosen),
                Err(e) if e.is_unavailable() => tracing::debug!("{e}; trying the next store"),
                Err(e) => {
                    tracing::warn!(
                        "{e}; the new refresh token is not kept (never written in clear); set {STORAGE_VARIABLE}=file to keep refresh tokens in the cache file instead"
                    );
                    return None;
                }
            }
        }
        tracing::info!(
            "no keychain and no kernel keyring here: refresh tokens are kept in clear in the cache file (mode 0600)"
        );
        Some((Record { storage: Storage::File, key: None }, Sealer::Clear))
    }
}

/// Why a key may be gone from `storage`, for messages.
pub(crate) fn key_gone_why(storage: Storage) -> &'static str {
    match storage {
        Storage::Keyring => " (the kernel keyring is emptied at reboot)",
        _ => " (deleted, or the cache was copied from another machine)",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A poisoned lock only means another thread panicked; the remembered key is intact.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_tokens_open_only_with_their_key_and_identity() {
        let key = DataKey::random();
        let sealed = key.seal("RT-SECRET", "a");
        assert!(!sealed.contains("RT-SECRET"));
        assert_eq!(key.open(&sealed, "a").unwrap().expose_secret(), "RT-SECRET");
        assert!(key.open(&sealed, "b").is_none(), "another identity");
        assert!(DataKey::random().open(&sealed, "a").is_none(), "another key");
        assert!(key.open("AAAA", "a").is_none() && key.open("not base64!", "a").is_none());
        assert_ne!(key.seal("RT-SECRET", "a"), sealed, "a fresh nonce every time");
    }

    #[test]
    fn keys_survive_their_stored_form() {
        let key = DataKey::random();
        let again = DataKey::from_stored(key.to_stored().as_bytes()).unwrap();
        assert_eq!(again.open(&key.seal("x", ""), "").unwrap().expose_secret(), "x");
        assert!(DataKey::from_stored(b"short").is_none());
    }

    #[test]
    fn policies_parse() {
        assert_eq!("Auto".parse::<StoragePolicy>().unwrap(), StoragePolicy::Auto);
        assert_eq!(" keychain ".parse::<StoragePolicy>().unwrap(), StoragePolicy::Only(Storage::Keychain));
        assert_eq!("file".parse::<StoragePolicy>().unwrap().to_string(), "file");
        let e = "vault".parse::<StoragePolicy>().unwrap_err().to_string();
        assert!(e.contains("BRICKAUTH_SECRET_STORAGE") && e.contains("vault") && e.contains("keyring"), "{e}");
    }
}
