//! [`TokenCache`]: one cache directory, its `tokens.json` and its lock file.
//!
//! Reading never locks: `tokens.json` is only ever replaced whole, by rename, so a reader sees
//! either the old file or the new one. Every change is a read-modify-write under an exclusive
//! advisory lock on `tokens.lock` (std's `File::lock`: `flock` on Unix, `LockFileEx` on Windows),
//! so two processes never lose each other's updates. The lock is released when the [`CacheLock`]
//! is dropped, and by the operating system when its holder dies — there are no stale locks.
//!
//! Permissions: the directory is created 0700 and files 0600 on Unix; a directory or file that
//! is not the user's own, or a symbolic link where a file should be, is refused (see
//! [`crate::files`]). **Windows gap:** no mode bits are set or checked there; the files inherit
//! the ACL of the directory, which under `%LOCALAPPDATA%` is private to the user by default.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use brickauth_core::{AccessToken, Account, SecretString, TokenResponse};

use crate::MIN_VALIDITY_FLOOR;
use crate::error::CacheError;
use crate::files;
use crate::format::{self, Binding, CacheFile, Entry, account_key};
use crate::identity::{AccountHint, Identity};
use crate::secrets::{STORAGE_VARIABLE, SealedRef, Secrets, Storage, StoragePolicy, key_gone_why};
use crate::secure;

const FILE_NAME: &str = "tokens.json";
const LOCK_NAME: &str = "tokens.lock";

/// How long [`TokenCache::lock`] waits by default. Generous: the lock may be held across a
/// token request with its retries (a minute by default), never across an interactive sign-in.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(120);

/// A handle on one cache directory. Cheap to create: no I/O happens until a method is called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenCache {
    dir: PathBuf,
    lock_timeout: Duration,
    secrets: Secrets,
}

/// A token from the cache (or just stored in it), with who it belongs to.
///
/// `Debug` redacts the access and refresh tokens.
#[derive(Clone)]
pub struct CachedToken {
    /// The access token. Its `scopes` are the scopes the identity requested.
    pub access_token: AccessToken,
    /// The refresh token kept with it, when it is at hand in clear: just issued, or kept in
    /// clear ([`Storage::File`]). A sealed one is not opened on the cached path: see
    /// [`refresh_token_storage`](Self::refresh_token_storage) and [`TokenCache::refresh_token`].
    pub refresh_token: Option<SecretString>,
    /// Where the cache keeps this token's refresh token; `None` when there is none.
    pub refresh_token_storage: Option<Storage>,
    /// The account the token was issued to (all fields empty for app-only tokens).
    pub account: Account,
    /// The identity the token is cached under.
    pub identity: Identity,
    /// The sealed refresh token and what opens it.
    pub(crate) sealed: Option<SealedRef>,
}

impl fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedToken")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "[REDACTED]"))
            .field("refresh_token_storage", &self.refresh_token_storage)
            .field("account", &self.account)
            .field("identity", &self.identity)
            .finish()
    }
}

impl CachedToken {
    /// A token that is not kept in the cache (its flow's tokens are another tool's).
    pub fn uncached(access_token: AccessToken, account: Account, identity: Identity) -> CachedToken {
        CachedToken { access_token, refresh_token: None, refresh_token_storage: None, account, identity, sealed: None }
    }

    /// Whether the access token can be handed out at `now` to a caller that needs it valid for
    /// `min_validity`: at least `max(min_validity, 40 s)` left, and the server's suggested
    /// refresh time (`refresh_in`), if any, not reached yet.
    ///
    /// The margin is at most half the token's lifetime (never under the 40 s floor), so a token
    /// living less than twice the margin is renewed about once per lifetime, not on every call.
    pub fn valid_for(&self, min_validity: Duration, now: i64) -> bool {
        let remaining = self.access_token.remaining(now);
        let fresh_enough = remaining >= margin_secs(min_validity)
            || (remaining >= margin_secs(Duration::ZERO)
                && self.access_token.lifetime().is_some_and(|l| remaining >= capped_margin(min_validity, l)));
        fresh_enough && self.access_token.refresh_on.is_none_or(|r| now < r)
    }

    /// Whether the access token still has at least the 40 s floor left at `now`, whatever
    /// `refresh_on` says: usable as a fallback when renewing it failed.
    pub fn usable(&self, now: i64) -> bool {
        self.access_token.remaining(now) >= margin_secs(Duration::ZERO)
    }
}

/// What [`TokenCache::remove`] took away.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Removed {
    /// The accounts whose cached tokens were removed.
    pub accounts: Vec<Account>,
    /// Every profile whose binding pointed at a removed entry, or that was itself unbound:
    /// these profiles are signed out now (sorted).
    pub profiles: Vec<String>,
}

/// The cache file as read at one moment, without a lock: for looking up several profiles at
/// once (`brickauth status`) with one read.
pub struct CacheView {
    file: CacheFile,
    unusable: Option<String>,
}

impl CacheView {
    /// The token `account` means for `id`, if one is cached (valid or not). See
    /// [`TokenCache::lookup`] for which entry that is.
    pub fn lookup(&self, id: &Identity, account: &AccountHint) -> Option<CachedToken> {
        self.find(id, account).map(|(t, _)| t)
    }

    /// Why the file could not be used, when it was corrupt or of an unknown version (it reads
    /// as empty; the next write moves it aside).
    pub fn unusable(&self) -> Option<&str> {
        self.unusable.as_deref()
    }

    /// Where the file says its refresh tokens are kept; `None` before the first write that
    /// decides it (or in a file from before sealing).
    pub fn storage(&self) -> Option<Storage> {
        self.file.secrets.as_ref().map(|r| r.storage)
    }

    /// The token and the credential fingerprint of the binding it was found through.
    pub(crate) fn find(&self, id: &Identity, account: &AccountHint) -> Option<(CachedToken, Option<String>)> {
        let selected = self.file.select(id, account)?;
        let entry = self.file.entries.get(selected.key)?;
        Some((entry.to_cached(self.file.secrets.as_ref()), selected.binding.and_then(|b| b.credential.clone())))
    }
}

/// `max(min_validity, 40 s)` in whole seconds (rounded up).
pub(crate) fn margin_secs(min_validity: Duration) -> i64 {
    let m = min_validity.max(MIN_VALIDITY_FLOOR);
    i64::try_from(m.as_secs() + u64::from(m.subsec_nanos() > 0)).unwrap_or(i64::MAX)
}

/// [`margin_secs`] capped at half of `lifetime` seconds, never under the 40 s floor. (Only
/// consulted when the plain margin fails, so the hot path of long-lived tokens decodes nothing.)
pub(crate) fn capped_margin(min_validity: Duration, lifetime: i64) -> i64 {
    margin_secs(min_validity).min(lifetime / 2).max(margin_secs(Duration::ZERO))
}

impl TokenCache {
    /// The cache directory named by the environment: `$BRICKAUTH_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/brickauth` (when absolute), else on Windows `%LOCALAPPDATA%\brickauth`,
    /// else `~/.cache/brickauth`. Reads environment variables only; touches no file.
    ///
    /// Where refresh tokens are kept comes from `$BRICKAUTH_SECRET_STORAGE` (`auto`, the
    /// default, `keychain`, `keyring` or `file`; see [`StoragePolicy`]); another value is
    /// [`CacheError::BadStoragePolicy`].
    pub fn from_env() -> Result<TokenCache, CacheError> {
        let cache = default_dir(|k| std::env::var_os(k), brickauth_core::paths::home_dir)
            .map(TokenCache::at)
            .ok_or(CacheError::NoDirectory)?;
        let policy = match std::env::var(STORAGE_VARIABLE) {
            Ok(v) if !v.trim().is_empty() => v.parse()?,
            Ok(_) | Err(std::env::VarError::NotPresent) => StoragePolicy::Auto,
            Err(std::env::VarError::NotUnicode(v)) => {
                return Err(CacheError::BadStoragePolicy { value: v.to_string_lossy().into_owned() });
            }
        };
        Ok(cache.with_storage(policy))
    }

    /// A cache in `dir`, keeping refresh tokens as [`StoragePolicy::Auto`] decides, with the
    /// operating system's key stores.
    pub fn at(dir: impl Into<PathBuf>) -> TokenCache {
        TokenCache { dir: dir.into(), lock_timeout: DEFAULT_LOCK_TIMEOUT, secrets: Secrets::os(StoragePolicy::Auto) }
    }

    /// The same cache with another storage policy for refresh tokens.
    pub fn with_storage(mut self, policy: StoragePolicy) -> TokenCache {
        self.secrets.policy = policy;
        self
    }

    /// The same cache with other key stores in place of the operating system's keychain and
    /// kernel keyring (tests pass [`keychain::Memory`](crate::keychain::Memory) stores).
    pub fn with_key_stores(
        mut self,
        keychain: std::sync::Arc<dyn crate::keychain::KeyStore>,
        keyring: std::sync::Arc<dyn crate::keychain::KeyStore>,
    ) -> TokenCache {
        self.secrets = Secrets::with(self.secrets.policy, keychain, keyring);
        self
    }

    /// The storage policy for refresh tokens.
    pub fn storage_policy(&self) -> StoragePolicy {
        self.secrets.policy
    }

    /// What a person is told `storage` is here: `the Secret Service (D-Bus)`, `the kernel
    /// keyring`, `the macOS Keychain`, `the token cache file`.
    pub fn describe_storage(&self, storage: Storage) -> &'static str {
        self.secrets.describe(storage)
    }

    /// `t`'s refresh token in clear: at hand, or opened with the data key from its store (the
    /// only read of a key store outside the locked write path).
    ///
    /// Fails with [`CacheError::KeyMissing`] when the key is gone from its store (the kernel
    /// keyring after a reboot), [`CacheError::Unsealable`] when the sealed token does not open,
    /// and [`CacheError::SecretStore`] when the store fails or does not answer.
    pub fn refresh_token(&self, t: &CachedToken) -> Result<Option<SecretString>, CacheError> {
        if let Some(rt) = &t.refresh_token {
            return Ok(Some(rt.clone()));
        }
        let Some(sealed) = &t.sealed else { return Ok(None) };
        let key = self
            .secrets
            .key(sealed.storage, &sealed.key)
            .map_err(|source| CacheError::SecretStore { storage: sealed.storage, action: "read", source })?
            .ok_or(CacheError::KeyMissing {
                store: self.secrets.describe(sealed.storage),
                why: key_gone_why(sealed.storage),
            })?;
        key.open(&sealed.value, &sealed.aad).map(Some).ok_or(CacheError::Unsealable)
    }

    /// The same cache with another lock timeout (default [`DEFAULT_LOCK_TIMEOUT`]).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> TokenCache {
        self.lock_timeout = timeout;
        self
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cache file, `<dir>/tokens.json`.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.join(LOCK_NAME)
    }

    /// The token `account` means for `id`, if one is cached (valid or not).
    ///
    /// Fast path: one read of `tokens.json` and one parse — no lock, no network, no directory
    /// creation. A missing file is `Ok(None)`; a corrupt one reads as empty and is left for the
    /// next writer, who holds the lock, to move aside. A directory or file another user could
    /// control is an error ([`CacheError::Untrusted`]).
    ///
    /// Which entry: with `account.username`, the identity's entry of that account
    /// (case-insensitively); without, the entry `account.profile`'s own flow last signed in (its
    /// binding). Never another profile's account: a profile with neither gets `None`.
    pub fn lookup(&self, id: &Identity, account: &AccountHint) -> Result<Option<CachedToken>, CacheError> {
        Ok(self.read()?.lookup(id, account))
    }

    /// The whole file, read once without a lock (see [`lookup`](Self::lookup)).
    pub fn read(&self) -> Result<CacheView, CacheError> {
        let empty = |unusable| CacheView { file: CacheFile::default(), unusable };
        if !files::check_dir(&self.dir)? {
            return Ok(empty(None));
        }
        let path = self.path();
        let Some(bytes) = files::read(&path)? else { return Ok(empty(None)) };
        match format::parse(&bytes) {
            Ok(file) => Ok(CacheView { file, unusable: None }),
            Err(why) => {
                tracing::debug!(path = %path.display(), "token cache unusable ({why}); the next writer moves it aside");
                Ok(empty(Some(why)))
            }
        }
    }

    /// Store a token response for `id`, bind `profile` to its account, and return what a
    /// [`lookup`](Self::lookup) will now return. Takes the lock, re-reads the file, applies the
    /// change and writes it atomically. When `response` carries no refresh token, the one
    /// already cached for the same account is kept.
    ///
    /// Do not call this while holding a [`CacheLock`] of the same directory: it would wait for
    /// itself until the lock timeout.
    pub fn store(&self, id: &Identity, profile: &str, response: &TokenResponse) -> Result<CachedToken, CacheError> {
        let lock = self.lock()?;
        self.store_locked(&lock, id, profile, response, None, Some(None))
    }

    /// Forget the token `account` means for `id` (a sign-out): the entry
    /// [`lookup`](Self::lookup) would return, and the profile's binding for `id`. When the last
    /// sealed refresh token goes, the data key is deleted from its key store too.
    ///
    /// Tokens are shared by identity and account, not owned by a profile, so every other profile
    /// bound to the removed entry loses its sign-in too: [`Removed::profiles`] names them all. A
    /// profile that names no account and has no binding removes nothing — it never falls back to
    /// another profile's account.
    pub fn remove(&self, id: &Identity, account: &AccountHint) -> Result<Removed, CacheError> {
        if !files::check_dir(&self.dir)? || !self.path().exists() {
            return Ok(Removed::default());
        }
        let lock = self.lock()?;
        self.modify(&lock, |file| {
            let keys: Vec<String> = file.select(id, account).map(|s| s.key.to_owned()).into_iter().collect();
            let mut profiles = file.bound_to(&keys);
            if file.unbind(id, &account.profile) {
                profiles.insert(account.profile.clone());
            }
            let accounts = keys.iter().filter_map(|k| file.entries.get(k)).map(|e| e.account.clone()).collect();
            file.remove(&keys);
            let mut changed = !keys.is_empty() || !profiles.is_empty();
            // The last sealed refresh token went: its key goes too.
            if !file.has_sealed()
                && let Some(record) = file.secrets.take_if(|r| r.key.is_some())
            {
                self.secrets.delete(&record);
                changed = true;
            }
            (Removed { accounts, profiles: profiles.into_iter().collect() }, changed)
        })
    }

    /// Forget every cached token (`brickauth logout --all`); returns how many entries there were.
    ///
    /// Deletes `tokens.json`, the data key its refresh tokens were sealed with (from its key
    /// store), and any copies of the file earlier moved aside as corrupt (they may hold tokens
    /// too). The directory and lock file stay.
    pub fn clear(&self) -> Result<usize, CacheError> {
        if !files::check_dir(&self.dir)? {
            return Ok(0);
        }
        let _lock = self.lock()?;
        let path = self.path();
        let file = files::read(&path)?.and_then(|bytes| format::parse(&bytes).ok());
        let count = file.as_ref().map_or(0, |f| f.entries.len());
        if let Some(record) = file.and_then(|f| f.secrets) {
            self.secrets.delete(&record);
        }
        files::remove(&path)?;
        let prefix = format!("{FILE_NAME}.corrupt-");
        let entries = fs::read_dir(&self.dir).map_err(|e| CacheError::io("list", &self.dir, e))?;
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                files::remove(&entry.path())?;
            }
        }
        Ok(count)
    }

    /// Take the exclusive advisory lock on `<dir>/tokens.lock`, creating the directory (0700)
    /// and the lock file (0600) if needed. Waits up to the lock timeout, then fails with
    /// [`CacheError::LockTimeout`] naming the lock file.
    ///
    /// The lock excludes other processes, and other [`CacheLock`]s in this process. It is not
    /// re-entrant: the cache's own writing methods take it themselves.
    pub fn lock(&self) -> Result<CacheLock, CacheError> {
        let mut wait = LockWait::start(self)?;
        while let Some(pause) = wait.next_pause()? {
            std::thread::sleep(pause);
        }
        Ok(wait.into_lock())
    }

    /// [`lock`](Self::lock) for async callers: polls instead of blocking a runtime thread.
    pub(crate) async fn lock_async(&self) -> Result<CacheLock, CacheError> {
        let mut wait = LockWait::start(self)?;
        while let Some(pause) = wait.next_pause()? {
            tokio::time::sleep(pause).await;
        }
        Ok(wait.into_lock())
    }

    /// Open (creating) the lock file: never through a symbolic link, and only if it is ours.
    fn open_lock_file(&self) -> Result<File, CacheError> {
        files::ensure_dir(&self.dir)?;
        let path = self.lock_path();
        let mut options = fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        files::open(&path, &mut options)
    }

    /// One non-blocking attempt to lock `file`.
    fn try_lock(&self, file: &File) -> Result<bool, CacheError> {
        match file.try_lock() {
            Ok(()) => Ok(true),
            Err(fs::TryLockError::WouldBlock) => Ok(false),
            Err(fs::TryLockError::Error(e)) => Err(CacheError::io("lock", self.lock_path(), e)),
        }
    }

    /// Wrap a locked file. The lock file records our process id, for the timeout message of
    /// whoever waits next (best effort: the pid only improves an error message).
    fn locked(&self, file: File) -> CacheLock {
        let _ = file.set_len(0).and_then(|()| writeln!(&file, "{}", std::process::id()));
        CacheLock { file, path: self.lock_path() }
    }

    /// The file as it is on disk, under the lock; an unusable file is moved aside and reads as
    /// empty.
    fn load(&self, _lock: &CacheLock) -> Result<CacheFile, CacheError> {
        let path = self.path();
        match files::read(&path)? {
            None => Ok(CacheFile::default()),
            Some(bytes) => match format::parse(&bytes) {
                Ok(file) => Ok(file),
                Err(why) => {
                    let aside = files::move_aside(&path)?;
                    tracing::warn!(
                        "the token cache {} is unusable ({why}); moved it to {} and starting with an empty cache",
                        path.display(),
                        aside.display()
                    );
                    Ok(CacheFile::default())
                }
            },
        }
    }

    /// Read-modify-write under `lock`. `change` returns its result and whether it changed
    /// anything (nothing is written otherwise).
    fn modify<R>(&self, lock: &CacheLock, change: impl FnOnce(&mut CacheFile) -> (R, bool)) -> Result<R, CacheError> {
        let mut file = self.load(lock)?;
        let (result, changed) = change(&mut file);
        if changed {
            format::write(&self.path(), &file)?;
        }
        Ok(result)
    }

    /// What the cache holds, under `lock`, for `account`: [`CacheView::find`] on the file as it
    /// is now. A corrupt file is moved aside here, where the lock is held.
    pub(crate) fn find_locked(
        &self,
        lock: &CacheLock,
        id: &Identity,
        account: &AccountHint,
    ) -> Result<Option<(CachedToken, Option<String>)>, CacheError> {
        let view = CacheView { file: self.load(lock)?, unusable: None };
        Ok(view.find(id, account))
    }

    /// The cache's fingerprint key; with `create` (under the lock), made if missing.
    pub(crate) fn fingerprint_key(&self, create: bool) -> Result<Option<[u8; 32]>, CacheError> {
        secure::fingerprint_key(&self.dir, create)
    }

    /// Store `response` under `lock`. `previous` is the account of the entry the response
    /// renews (a refresh-token grant): account fields the response lacks are taken from it, and
    /// if the account key changed, the old entry is replaced rather than left behind with its
    /// spent refresh token. `credential`: `Some(fp)` binds `profile` to the entry afresh (its own
    /// flow signed in), remembering the credential fingerprint `fp` if any; `None` (a renewal)
    /// leaves the profile's binding as it is.
    pub(crate) fn store_locked(
        &self,
        lock: &CacheLock,
        id: &Identity,
        profile: &str,
        response: &TokenResponse,
        previous: Option<&Account>,
        credential: Option<Option<String>>,
    ) -> Result<CachedToken, CacheError> {
        let account = match previous {
            Some(old) => merge_accounts(&response.account, old),
            None => response.account.clone(),
        };
        let key = id.entry_key(&account_key(&account));
        let old_key = previous.map(|a| id.entry_key(&account_key(a))).filter(|k| *k != key);
        let mut file = self.load(lock)?;
        let mut entry = Entry::new(id, response, account, brickauth_core::now());
        // Where refresh tokens go is decided (and the file's tokens are moved there) only when
        // one is written in clear now: a new one, or those of a file from before sealing.
        if entry.refresh_token.is_some() || file.entries.values().any(|e| e.refresh_token.is_some()) {
            self.secrets.prepare(&mut file, &self.dir)?.apply(&mut entry);
        }
        let earlier = [Some(&key), old_key.as_ref()].into_iter().flatten().find_map(|k| file.entries.get(k));
        if let Some(earlier) = earlier
            && !entry.has_refresh_token()
        {
            // No new refresh token (or it could not be kept): the one cached for the account
            // stays, in the form the file now keeps it.
            if response.refresh_token.is_none() {
                entry.refresh_token = earlier.refresh_token.clone();
            }
            entry.refresh_token_sealed = earlier.refresh_token_sealed.clone();
        }
        if let Some(old) = &old_key {
            file.entries.remove(old);
            file.rebind(old, &key);
        }
        let cached = entry.to_cached(file.secrets.as_ref());
        file.entries.insert(key.clone(), entry);
        if let Some(credential) = credential {
            file.bind(id, profile, &key, Binding { credential });
        }
        format::write(&self.path(), &file)?;
        // The caller gets the new refresh token in clear, however it is kept.
        let mut stored = cached;
        if stored.refresh_token.is_none() {
            stored.refresh_token = response.refresh_token.clone();
        }
        tracing::debug!(identity = %id, expires_on = stored.access_token.expires_on, "stored token");
        Ok(stored)
    }

    /// Forget the refresh token of `account`'s entry (the server rejected it), keeping its
    /// access token.
    pub(crate) fn drop_refresh_token(
        &self,
        lock: &CacheLock,
        id: &Identity,
        account: &Account,
    ) -> Result<(), CacheError> {
        let key = id.entry_key(&account_key(account));
        self.modify(lock, |file| {
            let changed = file
                .entries
                .get_mut(&key)
                .map(|e| (e.refresh_token.take(), e.refresh_token_sealed.take()))
                .is_some_and(|(c, s)| c.is_some() || s.is_some());
            ((), changed)
        })
    }
}

/// One wait for the lock, shared by the blocking and the async loop: non-blocking attempts with
/// growing pauses (2 ms up to 50 ms) until the lock is ours or the timeout has passed.
struct LockWait<'a> {
    cache: &'a TokenCache,
    file: File,
    start: Instant,
    pause: Duration,
}

impl<'a> LockWait<'a> {
    fn start(cache: &'a TokenCache) -> Result<Self, CacheError> {
        let file = cache.open_lock_file()?;
        Ok(LockWait { cache, file, start: Instant::now(), pause: Duration::from_millis(2) })
    }

    /// Try once: `None` when the lock is ours, else how long to pause before the next try.
    fn next_pause(&mut self) -> Result<Option<Duration>, CacheError> {
        if self.cache.try_lock(&self.file)? {
            return Ok(None);
        }
        let waited = self.start.elapsed();
        if waited >= self.cache.lock_timeout {
            let mut text = String::new();
            let holder = (&self.file).read_to_string(&mut text).ok().and_then(|_| text.trim().parse().ok());
            return Err(CacheError::LockTimeout { path: self.cache.lock_path(), waited, holder });
        }
        let pause = self.pause;
        self.pause = (pause * 2).min(Duration::from_millis(50));
        Ok(Some(pause))
    }

    /// The lock, once [`next_pause`](Self::next_pause) said it is ours.
    fn into_lock(self) -> CacheLock {
        self.cache.locked(self.file)
    }
}

/// Proof that this process holds the cache's advisory lock; dropping it releases the lock.
#[derive(Debug)]
pub struct CacheLock {
    file: File,
    path: PathBuf,
}

impl CacheLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for CacheLock {
    fn drop(&mut self) {
        // Closing the descriptor releases it too; unlocking first makes the release immediate
        // even if a clone of the descriptor lives on.
        let _ = self.file.unlock();
    }
}

/// The fields of `new`, with those it lacks filled in from `old` (a refreshed token's answer may
/// carry no `client_info` or id token).
fn merge_accounts(new: &Account, old: &Account) -> Account {
    Account {
        home_account_id: new.home_account_id.clone().or_else(|| old.home_account_id.clone()),
        username: new.username.clone().or_else(|| old.username.clone()),
        tenant_id: new.tenant_id.clone().or_else(|| old.tenant_id.clone()),
        oid: new.oid.clone().or_else(|| old.oid.clone()),
    }
}

/// The default cache directory, from environment variables (`var`) and the home directory.
fn default_dir(var: impl Fn(&str) -> Option<OsString>, home: impl Fn() -> Option<PathBuf>) -> Option<PathBuf> {
    let set = |k: &str| var(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = set("BRICKAUTH_CACHE_DIR") {
        return Some(d);
    }
    // The XDG base-directory spec says relative values are to be ignored.
    if let Some(d) = set("XDG_CACHE_HOME").filter(|d| d.is_absolute()) {
        return Some(d.join("brickauth"));
    }
    if cfg!(windows)
        && let Some(d) = set("LOCALAPPDATA")
    {
        return Some(d.join("brickauth"));
    }
    home().filter(|h| !h.as_os_str().is_empty()).map(|h| h.join(".cache").join("brickauth"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn directory_from_environment() {
        let home = || Some(PathBuf::from("/home/u"));
        assert_eq!(
            default_dir(vars(&[("BRICKAUTH_CACHE_DIR", "/c"), ("XDG_CACHE_HOME", "/x")]), home),
            Some(PathBuf::from("/c"))
        );
        if cfg!(unix) {
            assert_eq!(
                default_dir(vars(&[("BRICKAUTH_CACHE_DIR", ""), ("XDG_CACHE_HOME", "/x")]), home),
                Some(PathBuf::from("/x/brickauth"))
            );
            assert_eq!(
                default_dir(vars(&[("XDG_CACHE_HOME", "relative")]), home),
                Some(PathBuf::from("/home/u/.cache/brickauth"))
            );
        }
        assert_eq!(default_dir(vars(&[]), || None), None);
    }

    #[test]
    fn margins() {
        assert_eq!(margin_secs(Duration::ZERO), 40);
        assert_eq!(margin_secs(Duration::from_secs(300)), 300);
        assert_eq!(margin_secs(Duration::from_millis(60_001)), 61);
        // Issue 10: at most half the lifetime, never under the floor.
        assert_eq!(capped_margin(Duration::from_secs(300), 3600), 300);
        assert_eq!(capped_margin(Duration::from_secs(300), 300), 150);
        assert_eq!(capped_margin(Duration::from_secs(300), 42), 40);
        assert_eq!(capped_margin(Duration::ZERO, 10), 40);
    }

    #[test]
    fn accounts_merge() {
        let old = Account { home_account_id: Some("u.t".into()), username: Some("a@b".into()), ..Account::default() };
        let new = Account { oid: Some("o".into()), ..Account::default() };
        let m = merge_accounts(&new, &old);
        assert_eq!(m.home_account_id.as_deref(), Some("u.t"));
        assert_eq!(m.username.as_deref(), Some("a@b"));
        assert_eq!(m.oid.as_deref(), Some("o"));
    }
}
