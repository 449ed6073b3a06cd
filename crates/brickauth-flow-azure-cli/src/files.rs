//! The Azure CLI's sign-in on disk, read-only: `msal_token_cache.json` and `azureProfile.json`
//! in its configuration directory (`$AZURE_CONFIG_DIR`, default `~/.azure`).
//!
//! - `msal_token_cache.json` is MSAL's serialized token cache (plain JSON on Linux and macOS). On
//!   Windows az writes it as `msal_token_cache.bin` instead: the same JSON encrypted with DPAPI
//!   for the signed-in user (msal-extensions' `FilePersistenceWithDataProtection`, no entropy),
//!   which is decrypted here with `CryptUnprotectData` — on Windows only, as the user who ran az;
//!   elsewhere such a file is [`AzState::encrypted`]. Sections
//!   `Account` and `RefreshToken` matter; each maps MSAL's key
//!   (`<uid>.<utid>-<environment>-refreshtoken-<client_id>--`) to an entry whose fields
//!   (`home_account_id`, `environment`, `client_id`, `family_id`, `secret`, `username`, `realm`)
//!   are what is read — keys are never parsed.
//! - `azureProfile.json` (written with a UTF-8 byte-order mark) lists az's accounts:
//!   `subscriptions[]` with `user.name`, `user.type` (`user` / `servicePrincipal`), `tenantId`,
//!   `isDefault`.
//!
//! **Never written.** az guards the cache with msal-extensions' lock file
//! (`msal_token_cache.json.lockfile`, created exclusively by a writer, which writes `<pid>
//! <argv[0]>` into it, and removed when done). A reader here does not take it — that would be
//! writing in az's directory — but waits for it to go, reads, and checks that the file did not
//! change meanwhile. The wait is bounded ([`LOCK_WAIT`] in all) and a lock file whose writer is
//! gone is not waited for at all: it is *stale* when the process it names no longer runs (Linux:
//! no `/proc/<pid>`) or when it is older than [`STALE_AFTER`] (writers hold it for milliseconds).
//! Either way the read fails with [`ReadError::Locked`], which the flow's `auto` mode answers by
//! running az.
//!
//! Every file is read through [`brickauth_core::file::read`]: a regular file of at most
//! [`FILE_LIMIT`], never a FIFO or a device. msal-extensions' own readers are optimistic
//! too: a read that fails to parse is a torn read of a file being rewritten, and is retried.
//! Nothing here is held across a network call: the files are read, closed, and forgotten.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use secrecy::SecretString;
use secrecy::zeroize::Zeroize;
use serde::Deserialize;

/// The MSAL token cache's file name in the config directory.
pub const CACHE_FILE: &str = "msal_token_cache.json";
/// The encrypted cache az writes on Windows (DPAPI; read on Windows only).
pub const ENCRYPTED_CACHE_FILE: &str = "msal_token_cache.bin";
/// az's list of accounts and subscriptions.
pub const PROFILE_FILE: &str = "azureProfile.json";
/// msal-extensions' lock file suffix.
pub const LOCK_SUFFIX: &str = ".lockfile";

/// How long, in all, to wait for az's lock file to go before giving up on the cache (and, in
/// `auto` mode, running az): short enough that the fallback starts within a few seconds.
pub const LOCK_WAIT: Duration = Duration::from_secs(3);
/// A lock file older than this is stale: az's writers hold it only while they write.
pub const STALE_AFTER: Duration = Duration::from_secs(10);
/// The largest file of az's read: far above any real token cache.
pub const FILE_LIMIT: u64 = 32 * 1024 * 1024;
/// Reads of a file that does not parse (or changed while read) before it counts as corrupt.
const READ_ATTEMPTS: u32 = 5;
const POLL: Duration = Duration::from_millis(10);

/// A stamp of az's sign-in in `dir`: device, inode, size and modification time of
/// `msal_token_cache.json` and `azureProfile.json` (`-` for a missing profile). `None` when the
/// token cache is missing (signed out, or never signed in) or cannot be examined.
pub fn sign_in_stamp(dir: &Path) -> Option<String> {
    fn one(path: &Path) -> Option<String> {
        let m = std::fs::metadata(path).ok()?;
        let modified = m.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
        #[cfg(unix)]
        let node = {
            use std::os::unix::fs::MetadataExt;
            format!("{}:{}", m.dev(), m.ino())
        };
        #[cfg(not(unix))]
        let node = String::new();
        Some(format!("{node}:{}:{}", m.len(), modified.as_nanos()))
    }
    let cache = one(&dir.join(CACHE_FILE))
        .or_else(|| if cfg!(windows) { one(&dir.join(ENCRYPTED_CACHE_FILE)) } else { None })?;
    let profile = one(&dir.join(PROFILE_FILE)).unwrap_or_else(|| "-".to_owned());
    Some(format!("azure-cli {cache} {profile}"))
}

/// The Azure CLI's configuration directory: `$AZURE_CONFIG_DIR`, else `~/.azure` (the home
/// directory of [`brickauth_core::paths::home_dir`]: `%USERPROFILE%` on Windows, as az's Python).
pub fn default_config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("AZURE_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    Some(brickauth_core::paths::home_dir()?.join(".azure"))
}

/// What the Azure CLI's directory holds, read once.
#[derive(Debug)]
pub struct AzState {
    /// The directory read.
    pub dir: PathBuf,
    /// The MSAL cache, `None` when there is no `msal_token_cache.json`.
    pub cache: Option<MsalCache>,
    /// Whether only the encrypted cache (`msal_token_cache.bin`) exists and this platform cannot
    /// decrypt it (DPAPI is Windows').
    pub encrypted: bool,
    /// `azureProfile.json`, `None` when missing.
    pub profile: Option<AzProfile>,
}

/// Why a file of az's could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file exists but could not be read.
    #[error("cannot read the Azure CLI's {path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        message: String,
    },
    /// az's lock file is stale (its writer is gone) or was held longer than [`LOCK_WAIT`]:
    /// the cache is not read.
    #[error("the Azure CLI's token cache is locked by {} ({why})", .lock.display())]
    Locked {
        /// The lock file.
        lock: PathBuf,
        /// Why it is not waited for: stale (who wrote it, how old it is) or held too long.
        why: String,
    },
    /// The file is not what az writes (after retries, so not a torn read).
    #[error("the Azure CLI's {path} is not valid: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (a position, never the content).
        message: String,
    },
}

impl AzState {
    /// Read az's directory `dir`. Missing files are `None`; unreadable or corrupt ones an error.
    pub fn read(dir: &Path) -> Result<AzState, ReadError> {
        let cache_path = dir.join(CACHE_FILE);
        let lock = dir.join(format!("{CACHE_FILE}{LOCK_SUFFIX}"));
        let cache = match read_json::<RawCache>(&cache_path, Some(&lock), plain)? {
            Some(raw) => Some(raw),
            None => read_encrypted(dir)?,
        }
        .map(MsalCache::from);
        let encrypted = cache.is_none() && dir.join(ENCRYPTED_CACHE_FILE).exists();
        let profile = read_json::<AzProfile>(&dir.join(PROFILE_FILE), None, plain)?;
        Ok(AzState { dir: dir.to_owned(), cache, encrypted, profile })
    }
}

/// Windows: `msal_token_cache.bin`, decrypted with DPAPI (its own lock file guards it). One
/// that cannot be decrypted or parsed (another user's or machine's, say) counts as absent, so
/// [`AzState::encrypted`] reports it and `auto` runs az, which knows best what to do with it.
#[cfg(windows)]
fn read_encrypted(dir: &Path) -> Result<Option<RawCache>, ReadError> {
    let lock = dir.join(format!("{ENCRYPTED_CACHE_FILE}{LOCK_SUFFIX}"));
    match read_json::<RawCache>(&dir.join(ENCRYPTED_CACHE_FILE), Some(&lock), dpapi::unprotect) {
        Err(e @ ReadError::Invalid { .. }) => {
            tracing::info!("{e}");
            Ok(None)
        }
        other => other,
    }
}

/// Elsewhere DPAPI does not exist: an encrypted cache is left alone.
#[cfg(not(windows))]
fn read_encrypted(_dir: &Path) -> Result<Option<RawCache>, ReadError> {
    Ok(None)
}

/// How a file's bytes become JSON text: as they are ([`plain`]), or decrypted (`dpapi::unprotect`).
/// `Err` says why not (never the content).
type Decode = fn(Vec<u8>) -> Result<Vec<u8>, String>;

fn plain(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    Ok(bytes)
}

/// Read, `decode` and parse `path` (a UTF-8 byte-order mark is skipped), waiting for `lock` to
/// go and retrying torn reads. `Ok(None)` when the file does not exist. The bytes read are
/// zeroed once parsed: the token cache holds refresh tokens.
fn read_json<T: for<'de> Deserialize<'de>>(
    path: &Path,
    lock: Option<&Path>,
    decode: Decode,
) -> Result<Option<T>, ReadError> {
    let mut last = String::new();
    let deadline = Instant::now() + LOCK_WAIT;
    for attempt in 0..READ_ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(POLL * attempt);
        }
        if let Some(lock) = lock {
            wait_for_unlock(lock, deadline).map_err(|why| ReadError::Locked { lock: lock.to_owned(), why })?;
        }
        let before = match stamp(path) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ReadError::Io { path: path.to_owned(), message: e.to_string() }),
        };
        let bytes = match brickauth_core::file::read(path, FILE_LIMIT) {
            Ok(b) => b,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(ReadError::Io { path: path.to_owned(), message: e.reason() }),
        };
        let steady = stamp(path).ok() == Some(before) && lock.is_none_or(|l| !l.exists());
        let mut bytes = match decode(bytes) {
            Ok(b) => b,
            Err(why) => {
                last = why;
                continue;
            }
        };
        let text = bytes.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(&bytes);
        // serde_json's messages name a position, never the input: safe to show.
        let parsed = serde_json::from_slice::<T>(text);
        bytes.zeroize();
        match parsed {
            Ok(v) if steady => return Ok(Some(v)),
            Ok(_) => last = "it changed while being read".into(),
            Err(e) => last = e.to_string(),
        }
        tracing::debug!(path = %path.display(), attempt, "re-reading the Azure CLI's file: {last}");
    }
    Err(ReadError::Invalid { path: path.to_owned(), message: last })
}

/// Size and modification time: a file rewritten while read shows a different stamp.
fn stamp(path: &Path) -> std::io::Result<(u64, Option<SystemTime>)> {
    let m = std::fs::metadata(path)?;
    Ok((m.len(), m.modified().ok()))
}

/// Wait until msal-extensions' lock file is gone, at most until `deadline`. `Err(why)` when it
/// is stale (not waited for) or still there at the deadline.
fn wait_for_unlock(lock: &Path, deadline: Instant) -> Result<(), String> {
    loop {
        let Ok(meta) = std::fs::symlink_metadata(lock) else { return Ok(()) };
        if let Some(why) = stale(lock, &meta) {
            tracing::info!("{} is stale ({why}): not waiting for it", lock.display());
            return Err(format!("stale: {why}; remove it if no az command is running"));
        }
        if Instant::now() >= deadline {
            return Err(format!("held for more than {} s", LOCK_WAIT.as_secs()));
        }
        std::thread::sleep(POLL);
    }
}

/// Why the lock file is stale, if it is: older than [`STALE_AFTER`], or naming a process that
/// no longer runs. A lock file just created (still empty) or naming a live process is not.
fn stale(lock: &Path, meta: &std::fs::Metadata) -> Option<String> {
    let age = meta.modified().ok().and_then(|m| m.elapsed().ok()).unwrap_or_default();
    if age >= STALE_AFTER {
        return Some(format!("written {} s ago", age.as_secs()));
    }
    // `<pid> <argv[0]>`, as msal-extensions writes it; a few bytes, read as any file is.
    let text = brickauth_core::file::read(lock, 4096).ok()?;
    let pid: u32 = std::str::from_utf8(&text).ok()?.split_whitespace().next()?.parse().ok()?;
    (!process_runs(pid)).then(|| format!("process {pid}, which wrote it, is no longer running"))
}

/// Whether process `pid` runs (Linux: `/proc/<pid>` exists; elsewhere assumed to, so that only
/// the lock file's age decides).
fn process_runs(pid: u32) -> bool {
    if cfg!(target_os = "linux") { Path::new("/proc").join(pid.to_string()).exists() } else { true }
}

/// The parts of MSAL's token cache that matter here.
#[derive(Debug, Default)]
pub struct MsalCache {
    /// `Account` entries.
    pub accounts: Vec<MsalAccount>,
    /// `RefreshToken` entries.
    pub refresh_tokens: Vec<MsalRefreshToken>,
}

/// An MSAL `Account` entry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct MsalAccount {
    /// `<uid>.<utid>`: the account across tenants.
    #[serde(default)]
    pub home_account_id: String,
    /// The authority host, without port (`login.microsoftonline.com`).
    #[serde(default)]
    pub environment: String,
    /// The tenant this entry is for.
    #[serde(default)]
    pub realm: Option<String>,
    /// The sign-in name.
    #[serde(default)]
    pub username: Option<String>,
    /// The object id in `realm`.
    #[serde(default)]
    pub local_account_id: Option<String>,
}

/// An MSAL `RefreshToken` entry; the secret is redacted in `Debug`.
#[derive(Debug)]
pub struct MsalRefreshToken {
    /// Whose token it is.
    pub home_account_id: String,
    /// The authority host it was issued by.
    pub environment: String,
    /// The client it was issued to.
    pub client_id: String,
    /// `"1"` for a family-of-client-ids refresh token.
    pub family_id: Option<String>,
    /// The refresh token.
    pub secret: SecretString,
}

#[derive(Deserialize)]
struct RawCache {
    #[serde(rename = "Account", default)]
    accounts: std::collections::BTreeMap<String, MsalAccount>,
    #[serde(rename = "RefreshToken", default)]
    refresh_tokens: std::collections::BTreeMap<String, RawRefreshToken>,
}

#[derive(Deserialize)]
struct RawRefreshToken {
    #[serde(default)]
    home_account_id: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    family_id: Option<String>,
    #[serde(default)]
    secret: String,
}

impl From<RawCache> for MsalCache {
    fn from(raw: RawCache) -> Self {
        let refresh_tokens = raw
            .refresh_tokens
            .into_values()
            .filter(|t| !t.secret.is_empty())
            .map(|t| MsalRefreshToken {
                home_account_id: t.home_account_id,
                environment: t.environment,
                client_id: t.client_id,
                family_id: t.family_id.filter(|f| !f.is_empty()),
                secret: SecretString::from(t.secret),
            })
            .collect();
        MsalCache { accounts: raw.accounts.into_values().collect(), refresh_tokens }
    }
}

/// `azureProfile.json`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AzProfile {
    /// One entry per subscription (or tenant, after `--allow-no-subscriptions`) and account.
    #[serde(default)]
    pub subscriptions: Vec<AzSubscription>,
}

/// One entry of `azureProfile.json`'s `subscriptions`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AzSubscription {
    /// The tenant.
    #[serde(rename = "tenantId", default)]
    pub tenant_id: Option<String>,
    /// Whether this is az's default (`az account set`).
    #[serde(rename = "isDefault", default)]
    pub is_default: bool,
    /// The account.
    #[serde(default)]
    pub user: AzUser,
}

/// The `user` of an `azureProfile.json` entry.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AzUser {
    /// A user's sign-in name, or a service principal's client id.
    #[serde(default)]
    pub name: String,
    /// `user` or `servicePrincipal`.
    #[serde(rename = "type", default)]
    pub kind: String,
}

impl AzUser {
    /// Whether this account is a service principal (or a managed identity) rather than a user.
    pub fn is_service_principal(&self) -> bool {
        self.kind.eq_ignore_ascii_case("servicePrincipal")
    }
}

/// DPAPI (`CryptUnprotectData`) for the user running brickauth: what msal-extensions'
/// `FilePersistenceWithDataProtection` writes (no entropy, no prompt).
#[cfg(windows)]
pub(crate) mod dpapi {
    use secrecy::zeroize::Zeroize;
    use windows_sys::Win32::Foundation::{FALSE, LocalFree};
    use windows_sys::Win32::Security::Cryptography::{
        CRYPT_INTEGER_BLOB, CRYPTPROTECT_UI_FORBIDDEN, CryptUnprotectData,
    };

    /// `protected`, decrypted; the encrypted bytes are zeroed too. `Err` names the OS error.
    #[allow(unsafe_code)]
    pub(crate) fn unprotect(mut protected: Vec<u8>) -> Result<Vec<u8>, String> {
        let input = CRYPT_INTEGER_BLOB {
            cbData: u32::try_from(protected.len()).map_err(|_| "it is larger than 4 GiB".to_owned())?,
            pbData: protected.as_mut_ptr(),
        };
        let mut output = CRYPT_INTEGER_BLOB { cbData: 0, pbData: std::ptr::null_mut() };
        // SAFETY: `input` points at `protected`, alive and unchanged for the call; the optional
        // arguments are null; `output` receives a LocalAlloc'd buffer we copy, zero and free.
        let ok = unsafe {
            CryptUnprotectData(
                &input,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
                CRYPTPROTECT_UI_FORBIDDEN,
                &mut output,
            )
        };
        protected.zeroize();
        if ok == FALSE {
            let e = std::io::Error::last_os_error();
            return Err(format!("cannot decrypt it with DPAPI (was it written by another user or machine?): {e}"));
        }
        // SAFETY: on success `output` holds `cbData` bytes at `pbData`, ours to read, then to free.
        let plain = unsafe {
            let bytes = std::slice::from_raw_parts_mut(output.pbData, output.cbData as usize);
            let copy = bytes.to_vec();
            bytes.zeroize();
            LocalFree(output.pbData.cast());
            copy
        };
        Ok(plain)
    }

    /// `plain`, encrypted for this user as az does: for tests that stand in for az.
    #[cfg(test)]
    #[allow(unsafe_code)]
    pub(crate) fn protect(plain: &[u8]) -> Vec<u8> {
        use windows_sys::Win32::Security::Cryptography::CryptProtectData;
        let mut plain = plain.to_vec();
        let input = CRYPT_INTEGER_BLOB { cbData: plain.len() as u32, pbData: plain.as_mut_ptr() };
        let mut output = CRYPT_INTEGER_BLOB { cbData: 0, pbData: std::ptr::null_mut() };
        // SAFETY: as in `unprotect`.
        let ok = unsafe {
            CryptProtectData(
                &input,
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
                CRYPTPROTECT_UI_FORBIDDEN,
                &mut output,
            )
        };
        assert_ne!(ok, FALSE, "CryptProtectData: {}", std::io::Error::last_os_error());
        // SAFETY: as in `unprotect`.
        unsafe {
            let copy = std::slice::from_raw_parts(output.pbData, output.cbData as usize).to_vec();
            LocalFree(output.pbData.cast());
            copy
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_none_and_the_bom_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let s = AzState::read(dir.path()).unwrap();
        assert!(s.cache.is_none() && s.profile.is_none() && !s.encrypted);
        std::fs::write(dir.path().join(ENCRYPTED_CACHE_FILE), b"\x01\x02").unwrap();
        std::fs::write(
            dir.path().join(PROFILE_FILE),
            b"\xEF\xBB\xBF{\"subscriptions\":[{\"tenantId\":\"t\",\"isDefault\":true,\"user\":{\"name\":\"a@b\",\"type\":\"user\"}}]}",
        )
        .unwrap();
        let s = AzState::read(dir.path()).unwrap();
        assert!(s.encrypted);
        let p = s.profile.unwrap();
        assert_eq!(p.subscriptions[0].user.name, "a@b");
        assert!(p.subscriptions[0].is_default);
    }

    /// Windows: az's DPAPI-encrypted `msal_token_cache.bin` is read (written here as az does,
    /// with `CryptProtectData` for this user), and stamps the sign-in as the JSON file does.
    #[cfg(windows)]
    #[test]
    fn the_dpapi_encrypted_cache_is_read_on_windows() {
        let dir = tempfile::tempdir().unwrap();
        let json = br#"{"Account": {"u.t-login.microsoftonline.com-t": {"home_account_id": "u.t", "environment": "login.microsoftonline.com", "realm": "t", "local_account_id": "u", "username": "ada@contoso.com", "authority_type": "MSSTS"}},
            "RefreshToken": {"u.t-login.microsoftonline.com-refreshtoken-04b07795-8ddb-461a-bbee-02f9e1bf7b46--": {"home_account_id": "u.t", "environment": "login.microsoftonline.com", "credential_type": "RefreshToken", "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "secret": "0.AXoA-refresh", "family_id": "1"}}}"#;
        let protected = dpapi::protect(json);
        assert!(!protected.windows(7).any(|w| w == b"refresh"), "not encrypted");
        std::fs::write(dir.path().join(ENCRYPTED_CACHE_FILE), &protected).unwrap();
        let s = AzState::read(dir.path()).unwrap();
        assert!(!s.encrypted);
        let cache = s.cache.expect("the decrypted cache");
        assert_eq!(cache.accounts.len(), 1);
        assert_eq!(cache.accounts[0].username.as_deref(), Some("ada@contoso.com"));
        assert_eq!(cache.refresh_tokens.len(), 1);
        assert!(sign_in_stamp(dir.path()).is_some(), "the .bin file stamps the sign-in");

        // Under WAM (az's default since 2.61) the account is there, its refresh token is not:
        // the flow says why and (in `auto`) runs az.
        let wam = br#"{"Account": {"u.t-login.microsoftonline.com-t": {"home_account_id": "u.t", "environment": "login.microsoftonline.com", "realm": "t", "username": "ada@contoso.com"}}, "RefreshToken": {}}"#;
        std::fs::write(dir.path().join(ENCRYPTED_CACHE_FILE), dpapi::protect(wam)).unwrap();
        let profile =
            br#"{"subscriptions":[{"tenantId":"t","isDefault":true,"user":{"name":"ada@contoso.com","type":"user"}}]}"#;
        std::fs::write(dir.path().join(PROFILE_FILE), profile).unwrap();
        let s = AzState::read(dir.path()).unwrap();
        let why = crate::select::choose(&s, None, "login.microsoftonline.com").unwrap_err();
        assert!(matches!(why, crate::select::Unusable::NoRefreshToken(_)) && why.falls_back(), "{why:?}");
        assert!(why.to_string().contains("Windows broker (WAM)"), "{why}");
    }

    #[test]
    fn the_sign_in_stamp_follows_az_writing_its_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(sign_in_stamp(dir.path()), None, "no token cache: nothing to stamp");
        std::fs::write(dir.path().join(CACHE_FILE), b"{\"Account\": {}}").unwrap();
        let signed_in = sign_in_stamp(dir.path()).unwrap();
        assert!(signed_in.ends_with(" -"), "no azureProfile.json: {signed_in}");
        assert_eq!(sign_in_stamp(dir.path()).as_ref(), Some(&signed_in), "unchanged files, same stamp");
        // az writes a new file and renames it over the old one: another inode (and size).
        let next = dir.path().join("next.json");
        std::fs::write(&next, b"{\"Account\": {\"k\": {}}}").unwrap();
        std::fs::rename(&next, dir.path().join(CACHE_FILE)).unwrap();
        assert_ne!(sign_in_stamp(dir.path()).as_ref(), Some(&signed_in));
        std::fs::remove_file(dir.path().join(CACHE_FILE)).unwrap();
        assert_eq!(sign_in_stamp(dir.path()), None, "signed out: nothing to stamp");
    }

    #[test]
    fn corrupt_file_is_an_error_naming_it_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CACHE_FILE), b"{\"RefreshToken\": {\"k\": {\"secret\": \"0.AXoAsecret").unwrap();
        let e = AzState::read(dir.path()).unwrap_err().to_string();
        assert!(e.contains(CACHE_FILE), "{e}");
        assert!(!e.contains("0.AXoAsecret"), "{e}");
    }

    #[test]
    fn a_torn_read_is_retried_and_the_lock_file_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CACHE_FILE);
        let lock = dir.path().join(format!("{CACHE_FILE}{LOCK_SUFFIX}"));
        // A writer holds the lock and has truncated the file; it finishes 100 ms later.
        std::fs::write(&lock, format!("{} az", std::process::id())).unwrap();
        std::fs::write(&path, b"{\"Account\": {").unwrap();
        let (p, l) = (path.clone(), lock.clone());
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::write(&p, br#"{"Account": {"k": {"home_account_id": "u.t", "environment": "e", "username": "alice@contoso.com"}}}"#).unwrap();
            std::fs::remove_file(&l).unwrap();
        });
        let s = AzState::read(dir.path()).unwrap();
        writer.join().unwrap();
        let cache = s.cache.unwrap();
        assert_eq!(cache.accounts[0].username.as_deref(), Some("alice@contoso.com"));
    }

    /// Issue 19 item 8: a lock file whose writer is gone is not waited for.
    #[test]
    fn a_stale_lock_file_is_not_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CACHE_FILE), b"{}").unwrap();
        let lock = dir.path().join(format!("{CACHE_FILE}{LOCK_SUFFIX}"));
        // Old: written before STALE_AFTER, whoever wrote it.
        std::fs::write(&lock, format!("{} az", std::process::id())).unwrap();
        let old = SystemTime::now() - STALE_AFTER - Duration::from_secs(1);
        std::fs::File::options().write(true).open(&lock).unwrap().set_modified(old).unwrap();
        let start = Instant::now();
        let e = AzState::read(dir.path()).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1), "waited {:?}", start.elapsed());
        let s = e.to_string();
        assert!(
            matches!(e, ReadError::Locked { .. }) && s.contains("stale: written 1") && s.contains("remove it"),
            "{s}"
        );
        // Fresh, but naming a process that does not run.
        if cfg!(target_os = "linux") {
            std::fs::write(&lock, "4000000000 /usr/bin/az").unwrap();
            let start = Instant::now();
            let s = AzState::read(dir.path()).unwrap_err().to_string();
            assert!(start.elapsed() < Duration::from_secs(1), "waited {:?}", start.elapsed());
            assert!(s.contains("process 4000000000, which wrote it, is no longer running"), "{s}");
        }
        // Just created by a writer (empty, fresh): waited for, and read once it goes.
        std::fs::write(&lock, b"").unwrap();
        let l = lock.clone();
        let remover = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::remove_file(&l).unwrap();
        });
        assert!(AzState::read(dir.path()).is_ok());
        remover.join().unwrap();
    }

    /// Issue 19 item 7: az's files are regular files of bounded size.
    #[cfg(unix)]
    #[test]
    fn devices_and_huge_files_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join(CACHE_FILE)).unwrap();
        let start = Instant::now();
        let e = AzState::read(dir.path()).unwrap_err().to_string();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(e.contains(CACHE_FILE) && e.contains("not a regular file"), "{e}");
        std::fs::remove_file(dir.path().join(CACHE_FILE)).unwrap();
        std::fs::File::create(dir.path().join(CACHE_FILE)).unwrap().set_len(700 * 1024 * 1024).unwrap();
        let e = AzState::read(dir.path()).unwrap_err().to_string();
        assert!(e.contains("larger than 32 MiB"), "{e}");
    }

    #[test]
    fn refresh_token_debug_redacts_the_secret() {
        let raw: RawCache = serde_json::from_str(
            r#"{"RefreshToken": {"k": {"home_account_id": "u.t", "environment": "e", "client_id": "c", "family_id": "1", "secret": "0.AXoAsecret"}}}"#,
        )
        .unwrap();
        let cache = MsalCache::from(raw);
        let shown = format!("{cache:?}");
        assert!(!shown.contains("0.AXoAsecret"), "{shown}");
        assert_eq!(cache.refresh_tokens[0].family_id.as_deref(), Some("1"));
    }
}
