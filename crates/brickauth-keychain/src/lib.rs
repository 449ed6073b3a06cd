//! Small secrets in the operating system's key stores, behind one trait: [`KeyStore`].
//!
//! brickauth keeps one random data key per token cache here (the cache encrypts its refresh
//! tokens with it; see `brickauth-cache`). A key is 32 bytes, far below every store's limit
//! (Windows Credential Manager takes 2,560 bytes; a raw Entra refresh token would not fit).
//!
//! The stores:
//!
//! - [`keychain`]: the user's keychain — the Secret Service over the D-Bus session bus on Linux
//!   (gnome-keyring, KWallet, KeePassXC; spoken in pure Rust through `zbus`, so no C library is
//!   linked), the login Keychain on macOS, the Credential Manager on Windows. Encrypted at rest
//!   under the user's login secret; survives reboots.
//! - [`kernel_keyring`] (Linux only): the kernel's user keyring (keyutils). Works without D-Bus
//!   (SSH sessions, containers, CI), held in kernel memory only: it is gone after a reboot.
//! - [`Memory`]: a map in this process, for tests.
//!
//! Every operation of the OS stores runs on a helper thread and is given [`TIMEOUT`] (3 s, as
//! the Databricks CLI does): a keychain waiting for an unlock prompt nobody can answer yields
//! [`StoreError::Timeout`] instead of hanging the caller. The helper thread is left to finish on
//! its own; it holds nothing but the request.
//!
//! The keychain also holds secrets a person put there — a password, a client secret — filed
//! under a service and an account the way other tools file theirs; [`Passwords`] reads and
//! writes them as text, and [`passwords`] is the keychain's. The kernel keyring is not offered
//! for those: it forgets everything at reboot, has no unlock, and no tool a person uses to keep
//! passwords writes to it.
//!
//! What this crate is not: it knows nothing of tokens, caches or profiles, and never prints.
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

pub use secrecy::{ExposeSecret, SecretSlice, SecretString};

#[cfg(target_os = "linux")]
mod keyutils;
#[cfg(any(target_os = "macos", windows))]
mod native;
#[cfg(target_os = "linux")]
mod secret_service;

/// How long one store operation may take before it is abandoned with [`StoreError::Timeout`].
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// The service name entries are filed under (the Secret Service `service` attribute, the macOS
/// Keychain service, the Windows target prefix, the keyutils description prefix).
pub const SERVICE: &str = "brickauth";

/// Which kind of store a [`KeyStore`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// The user's keychain: Secret Service, macOS Keychain or Windows Credential Manager.
    Keychain,
    /// The Linux kernel's user keyring: no D-Bus needed, cleared at reboot.
    KernelKeyring,
    /// A map in this process ([`Memory`]).
    Memory,
}

/// A store of small named secrets.
///
/// `name` is the entry's account name within [`SERVICE`]; `label` is what a keychain shows a
/// person browsing it. Implementations never log a secret.
pub trait KeyStore: Send + Sync + fmt::Debug {
    /// What kind of store this is.
    fn kind(&self) -> StoreKind;
    /// A short description for messages: `the Secret Service (D-Bus)`, `the kernel keyring`.
    fn describe(&self) -> &'static str;
    /// The secret stored under `name`, or `None` when there is no such entry.
    fn get(&self, name: &str) -> Result<Option<SecretSlice<u8>>, StoreError>;
    /// Store `secret` under `name`, replacing any earlier one.
    fn set(&self, name: &str, label: &str, secret: &[u8]) -> Result<(), StoreError>;
    /// Delete the entry `name`; whether there was one.
    fn delete(&self, name: &str) -> Result<bool, StoreError>;
}

/// A person's secrets in the keychain, by service and account: a password or a client secret
/// kept there instead of in a file, read and written as text.
///
/// Linux: a Secret Service item whose attributes are `service` and `account` (`secret-tool
/// store --label=… service S account A`) or `service` and `username` (Python's and Go's
/// `keyring`); one written here carries all three. macOS: the generic password of service `S`
/// and account `A`. Windows: the generic credential `A.S`, as the `keyring` libraries file it.
pub trait Passwords: Send + Sync + fmt::Debug {
    /// The store, for messages: `the Secret Service (D-Bus)`, `the macOS Keychain`.
    fn store(&self) -> &'static str;
    /// The secret of `service` and `account`, or `None` when there is no such entry.
    fn password(&self, service: &str, account: &str) -> Result<Option<SecretString>, StoreError>;
    /// Store `password` for `service` and `account`, replacing any earlier one; `label` is what
    /// a keychain shows a person browsing it.
    fn set_password(
        &self,
        service: &str,
        account: &str,
        label: &str,
        password: &SecretString,
    ) -> Result<(), StoreError>;
    /// Delete the entry of `service` and `account`; whether there was one.
    fn delete_password(&self, service: &str, account: &str) -> Result<bool, StoreError>;
}

/// Why a store operation failed. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store is not there: no D-Bus session bus or no Secret Service on it, no kernel
    /// keyring (a container whose seccomp profile forbids keyutils), or not this operating
    /// system. Nothing was asked; another store may be tried.
    #[error("{store} is not available: {reason}")]
    Unavailable {
        /// The store ([`KeyStore::describe`]).
        store: &'static str,
        /// Why.
        reason: String,
    },
    /// The store did not answer within [`TIMEOUT`] (a locked keychain waiting for an unlock
    /// prompt, a hung daemon).
    #[error("{store} did not answer within {} s", .after.as_secs())]
    Timeout {
        /// The store.
        store: &'static str,
        /// How long was waited.
        after: Duration,
    },
    /// The store answered with an error (locked, access denied, a malformed reply).
    #[error("{store} failed: {reason}")]
    Failed {
        /// The store.
        store: &'static str,
        /// The store's own words.
        reason: String,
    },
}

impl StoreError {
    /// Whether the store is simply absent here (as opposed to present but failing).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// The user's keychain on this operating system (see the crate documentation). Cheap: nothing
/// is contacted until an operation is called.
pub fn keychain() -> Box<dyn KeyStore> {
    Box::new(platform())
}

/// The user's keychain as a store of [`Passwords`] (see there for how entries are filed).
/// Cheap: nothing is contacted until an operation is called.
pub fn passwords() -> Box<dyn Passwords> {
    Box::new(platform())
}

/// The keychain of this operating system, the one choice [`keychain`] and [`passwords`] share.
#[cfg(target_os = "linux")]
fn platform() -> secret_service::SecretService {
    secret_service::SecretService
}

#[cfg(any(target_os = "macos", windows))]
fn platform() -> native::Native {
    native::Native
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn platform() -> Absent {
    Absent { store: "the keychain", reason: "brickauth knows no keychain on this operating system" }
}

/// A secret read from a store as text: UTF-8, or a [`StoreError::Failed`] that says so (and
/// holds nothing of the bytes, which are zeroed).
pub(crate) fn text(store: &'static str, bytes: Vec<u8>) -> Result<SecretString, StoreError> {
    use secrecy::zeroize::Zeroize;
    String::from_utf8(bytes).map(SecretString::from).map_err(|e| {
        e.into_bytes().zeroize();
        StoreError::Failed { store, reason: "the entry's secret is not UTF-8 text".into() }
    })
}

/// The Linux kernel's user keyring; elsewhere a store that is always
/// [`Unavailable`](StoreError::Unavailable).
pub fn kernel_keyring() -> Box<dyn KeyStore> {
    #[cfg(target_os = "linux")]
    {
        Box::new(keyutils::KernelKeyring)
    }
    #[cfg(not(target_os = "linux"))]
    {
        Box::new(Absent { store: "the kernel keyring", reason: "it exists on Linux only" })
    }
}

/// A store that is not on this system.
#[cfg(not(target_os = "linux"))]
#[derive(Debug)]
struct Absent {
    store: &'static str,
    reason: &'static str,
}

#[cfg(not(target_os = "linux"))]
impl KeyStore for Absent {
    fn kind(&self) -> StoreKind {
        if self.store == "the kernel keyring" { StoreKind::KernelKeyring } else { StoreKind::Keychain }
    }
    fn describe(&self) -> &'static str {
        self.store
    }
    fn get(&self, _: &str) -> Result<Option<SecretSlice<u8>>, StoreError> {
        Err(self.error())
    }
    fn set(&self, _: &str, _: &str, _: &[u8]) -> Result<(), StoreError> {
        Err(self.error())
    }
    fn delete(&self, _: &str) -> Result<bool, StoreError> {
        Err(self.error())
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
impl Passwords for Absent {
    fn store(&self) -> &'static str {
        self.store
    }
    fn password(&self, _: &str, _: &str) -> Result<Option<SecretString>, StoreError> {
        Err(self.error())
    }
    fn set_password(&self, _: &str, _: &str, _: &str, _: &SecretString) -> Result<(), StoreError> {
        Err(self.error())
    }
    fn delete_password(&self, _: &str, _: &str) -> Result<bool, StoreError> {
        Err(self.error())
    }
}

#[cfg(not(target_os = "linux"))]
impl Absent {
    fn error(&self) -> StoreError {
        StoreError::Unavailable { store: self.store, reason: self.reason.to_owned() }
    }
}

/// Secrets in a map in this process: for tests of code that takes a [`KeyStore`]. It can be
/// told to behave like an absent or a hanging store.
#[derive(Debug, Default)]
pub struct Memory {
    entries: Mutex<BTreeMap<String, Vec<u8>>>,
    fail: Mutex<Option<StoreError>>,
}

impl Memory {
    /// An empty store.
    pub fn new() -> Memory {
        Memory::default()
    }

    /// From now on, fail every operation with `error` (`None`: work again).
    pub fn fail_with(&self, error: Option<StoreError>) {
        *lock(&self.fail) = error;
    }

    /// The names of the entries held.
    pub fn names(&self) -> Vec<String> {
        lock(&self.entries).keys().cloned().collect()
    }

    fn check(&self) -> Result<(), StoreError> {
        lock(&self.fail).clone().map_or(Ok(()), Err)
    }
}

impl KeyStore for Memory {
    fn kind(&self) -> StoreKind {
        StoreKind::Memory
    }
    fn describe(&self) -> &'static str {
        "the in-memory store"
    }
    fn get(&self, name: &str) -> Result<Option<SecretSlice<u8>>, StoreError> {
        self.check()?;
        Ok(lock(&self.entries).get(name).map(|s| SecretSlice::from(s.clone())))
    }
    fn set(&self, name: &str, _label: &str, secret: &[u8]) -> Result<(), StoreError> {
        self.check()?;
        lock(&self.entries).insert(name.to_owned(), secret.to_vec());
        Ok(())
    }
    fn delete(&self, name: &str) -> Result<bool, StoreError> {
        self.check()?;
        Ok(lock(&self.entries).remove(name).is_some())
    }
}

/// Passwords are entries named `service/account`.
impl Passwords for Memory {
    fn store(&self) -> &'static str {
        "the in-memory store"
    }
    fn password(&self, service: &str, account: &str) -> Result<Option<SecretString>, StoreError> {
        self.check()?;
        let found = lock(&self.entries).get(&format!("{service}/{account}")).cloned();
        found.map(|bytes| text(self.store(), bytes)).transpose()
    }
    fn set_password(
        &self,
        service: &str,
        account: &str,
        _label: &str,
        password: &SecretString,
    ) -> Result<(), StoreError> {
        self.check()?;
        lock(&self.entries).insert(format!("{service}/{account}"), password.expose_secret().as_bytes().to_vec());
        Ok(())
    }
    fn delete_password(&self, service: &str, account: &str) -> Result<bool, StoreError> {
        self.check()?;
        Ok(lock(&self.entries).remove(&format!("{service}/{account}")).is_some())
    }
}

/// A store shared between owners (the cache and a test holding the same [`Memory`]).
impl<T: KeyStore + ?Sized> KeyStore for std::sync::Arc<T> {
    fn kind(&self) -> StoreKind {
        (**self).kind()
    }
    fn describe(&self) -> &'static str {
        (**self).describe()
    }
    fn get(&self, name: &str) -> Result<Option<SecretSlice<u8>>, StoreError> {
        (**self).get(name)
    }
    fn set(&self, name: &str, label: &str, secret: &[u8]) -> Result<(), StoreError> {
        (**self).set(name, label, secret)
    }
    fn delete(&self, name: &str) -> Result<bool, StoreError> {
        (**self).delete(name)
    }
}

/// A poisoned lock only means another test thread panicked; the map itself is intact.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Run `op` on a helper thread and wait at most `timeout` for its answer. On a timeout the
/// thread is left behind (an OS call cannot be cancelled) and finishes on its own.
#[cfg_attr(not(any(target_os = "linux", target_os = "macos", windows)), allow(dead_code))]
pub(crate) fn bounded<T: Send + 'static>(
    store: &'static str,
    timeout: Duration,
    op: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("brickauth-keychain".into())
        .spawn(move || {
            let _ = tx.send(op());
        })
        .map_err(|e| StoreError::Failed { store, reason: format!("cannot start a thread: {e}") })?;
    match rx.recv_timeout(timeout) {
        Ok(answer) => answer,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            tracing::debug!(store, "no answer within {} ms; giving up", timeout.as_millis());
            Err(StoreError::Timeout { store, after: timeout })
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            Err(StoreError::Failed { store, reason: "the store's thread ended without an answer".into() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_round_trip_and_failure() {
        let m = Memory::new();
        assert!(m.get("k").unwrap().is_none());
        m.set("k", "label", b"secret").unwrap();
        assert_eq!(m.get("k").unwrap().unwrap().expose_secret(), b"secret");
        m.fail_with(Some(StoreError::Timeout { store: "x", after: TIMEOUT }));
        assert!(matches!(m.get("k"), Err(StoreError::Timeout { .. })));
        m.fail_with(None);
        assert!(m.delete("k").unwrap());
        assert!(!m.delete("k").unwrap());
        assert!(m.names().is_empty());
    }

    #[test]
    fn memory_passwords_by_service_and_account() {
        let m = Memory::new();
        assert!(m.password("svc", "alice").unwrap().is_none());
        m.set_password("svc", "alice", "label", &SecretString::from("pw")).unwrap();
        assert_eq!(m.password("svc", "alice").unwrap().unwrap().expose_secret(), "pw");
        assert!(m.password("svc", "bob").unwrap().is_none());
        assert!(m.password("other", "alice").unwrap().is_none());
        m.set("svc/raw", "label", &[0xff, 0xfe]).unwrap();
        let e = m.password("svc", "raw").unwrap_err();
        assert!(e.to_string().contains("not UTF-8") && !e.is_unavailable(), "{e}");
        assert!(m.delete_password("svc", "alice").unwrap());
        assert!(!m.delete_password("svc", "alice").unwrap());
    }

    #[test]
    fn a_hanging_operation_times_out() {
        let started = std::time::Instant::now();
        let r = bounded("the test store", Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(2));
            Ok(())
        });
        assert_eq!(r, Err(StoreError::Timeout { store: "the test store", after: Duration::from_millis(50) }));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(bounded("s", TIMEOUT, || Ok(7)), Ok(7));
    }

    #[test]
    fn errors_name_the_store() {
        let e = StoreError::Timeout { store: "the Secret Service (D-Bus)", after: TIMEOUT };
        assert_eq!(e.to_string(), "the Secret Service (D-Bus) did not answer within 3 s");
        assert!(!e.is_unavailable());
        let e = StoreError::Unavailable { store: "the kernel keyring", reason: "no".into() };
        assert!(e.is_unavailable());
    }
}
