//! The keychain of macOS (the login Keychain, a generic password) and of Windows (the Credential
//! Manager, a generic credential), through the `keyring` crate's native stores.
//!
//! Entries are filed under service [`SERVICE`] and account `<name>` (on Windows the target
//! `<name>.brickauth`). Both are encrypted at rest under the user's login and survive reboots.
//!
//! A user's password ([`Passwords`]) is the generic password (macOS) or generic credential
//! (Windows) of `service` and `account`, read and written as text the way `keyring`-based tools
//! (Python's and Go's `keyring`, the Databricks CLI) do: UTF-8 on macOS, UTF-16 on Windows, whose
//! target is `<account>.<service>`.

use secrecy::{ExposeSecret, SecretSlice, SecretString};

use crate::{KeyStore, Passwords, SERVICE, StoreError, StoreKind, TIMEOUT};

#[cfg(target_os = "macos")]
const STORE: &str = "the macOS Keychain";
#[cfg(windows)]
const STORE: &str = "the Windows Credential Manager";

/// The platform's keychain.
#[derive(Debug)]
pub(crate) struct Native;

impl KeyStore for Native {
    fn kind(&self) -> StoreKind {
        StoreKind::Keychain
    }

    fn describe(&self) -> &'static str {
        STORE
    }

    fn get(&self, name: &str) -> Result<Option<SecretSlice<u8>>, StoreError> {
        let name = name.to_owned();
        crate::bounded(STORE, TIMEOUT, move || match entry(&name)?.get_secret() {
            Ok(secret) => Ok(Some(SecretSlice::from(secret))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(classify(e)),
        })
    }

    fn set(&self, name: &str, _label: &str, secret: &[u8]) -> Result<(), StoreError> {
        let (name, secret) = (name.to_owned(), secret.to_vec());
        crate::bounded(STORE, TIMEOUT, move || entry(&name)?.set_secret(&secret).map_err(classify))
    }

    fn delete(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        crate::bounded(STORE, TIMEOUT, move || match entry(&name)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(classify(e)),
        })
    }
}

impl Passwords for Native {
    fn store(&self) -> &'static str {
        STORE
    }

    fn password(&self, service: &str, account: &str) -> Result<Option<SecretString>, StoreError> {
        let (service, account) = (service.to_owned(), account.to_owned());
        crate::bounded(STORE, TIMEOUT, move || match entry_of(&service, &account)?.get_password() {
            Ok(password) => Ok(Some(SecretString::from(password))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(classify(e)),
        })
    }

    fn set_password(
        &self,
        service: &str,
        account: &str,
        _label: &str,
        password: &SecretString,
    ) -> Result<(), StoreError> {
        let (service, account) = (service.to_owned(), account.to_owned());
        let password = password.clone();
        crate::bounded(STORE, TIMEOUT, move || {
            entry_of(&service, &account)?.set_password(password.expose_secret()).map_err(classify)
        })
    }

    fn delete_password(&self, service: &str, account: &str) -> Result<bool, StoreError> {
        let (service, account) = (service.to_owned(), account.to_owned());
        crate::bounded(STORE, TIMEOUT, move || match entry_of(&service, &account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(classify(e)),
        })
    }
}

fn entry(name: &str) -> Result<keyring::Entry, StoreError> {
    entry_of(SERVICE, name)
}

fn entry_of(service: &str, account: &str) -> Result<keyring::Entry, StoreError> {
    keyring::Entry::new(service, account).map_err(classify)
}

fn classify(e: keyring::Error) -> StoreError {
    match e {
        keyring::Error::NoStorageAccess(inner) => StoreError::Unavailable { store: STORE, reason: inner.to_string() },
        other => StoreError::Failed { store: STORE, reason: other.to_string() },
    }
}
