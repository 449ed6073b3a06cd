//! The freedesktop.org Secret Service over the D-Bus session bus (gnome-keyring, KWallet,
//! KeePassXC): the Linux keychain.
//!
//! Entries are items of the default collection with the attributes `service = brickauth` and
//! `account = <name>` (what `secret-tool lookup service brickauth account <name>` finds). The
//! secret travels over the bus encrypted with a Diffie-Hellman session key.
//!
//! A user's password ([`Passwords`]) is an item with `service` and `account` (as `secret-tool
//! store` files it) or `service` and `username` (as Python's and Go's `keyring` libraries and the
//! Databricks CLI file theirs); one written here carries both, so either kind of tool finds it.
//!
//! Each operation opens its own connection on a helper thread with a single-threaded Tokio
//! runtime, bounded by [`TIMEOUT`](crate::TIMEOUT). Where no session bus is configured
//! (`DBUS_SESSION_BUS_ADDRESS` unset and no `$XDG_RUNTIME_DIR/bus`), nothing is attempted: the
//! store is [`Unavailable`](StoreError::Unavailable) at once.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretSlice, SecretString};
use secret_service::{EncryptionType, Error, SecretService as Ss};

use crate::{KeyStore, Passwords, SERVICE, StoreError, StoreKind, TIMEOUT};

const STORE: &str = "the Secret Service (D-Bus)";

/// The Secret Service of the session bus.
#[derive(Debug)]
pub(crate) struct SecretService;

impl KeyStore for SecretService {
    fn kind(&self) -> StoreKind {
        StoreKind::Keychain
    }

    fn describe(&self) -> &'static str {
        STORE
    }

    fn get(&self, name: &str) -> Result<Option<SecretSlice<u8>>, StoreError> {
        Ok(find(vec![attributes(SERVICE, "account", name)])?.map(SecretSlice::from))
    }

    fn set(&self, name: &str, label: &str, secret: &[u8]) -> Result<(), StoreError> {
        store(attributes(SERVICE, "account", name), label, secret.to_vec())
    }

    fn delete(&self, name: &str) -> Result<bool, StoreError> {
        remove(vec![attributes(SERVICE, "account", name)])
    }
}

impl Passwords for SecretService {
    fn store(&self) -> &'static str {
        STORE
    }

    fn password(&self, service: &str, account: &str) -> Result<Option<SecretString>, StoreError> {
        let Some(bytes) = find(lookups(service, account))? else { return Ok(None) };
        crate::text(STORE, bytes).map(Some)
    }

    fn set_password(
        &self,
        service: &str,
        account: &str,
        label: &str,
        password: &SecretString,
    ) -> Result<(), StoreError> {
        let mut attributes = attributes(service, "account", account);
        attributes.insert("username".into(), account.to_owned());
        store(attributes, label, password.expose_secret().as_bytes().to_vec())
    }

    fn delete_password(&self, service: &str, account: &str) -> Result<bool, StoreError> {
        remove(lookups(service, account))
    }
}

type Attributes = HashMap<String, String>;

fn attributes(service: &str, kind: &str, name: &str) -> Attributes {
    HashMap::from([("service".to_owned(), service.to_owned()), (kind.to_owned(), name.to_owned())])
}

/// A user's password is found by `account` (secret-tool) or by `username` (the keyring libraries).
fn lookups(service: &str, account: &str) -> Vec<Attributes> {
    vec![attributes(service, "account", account), attributes(service, "username", account)]
}

fn borrowed(a: &Attributes) -> HashMap<&str, &str> {
    a.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The secret of the first item matching one of `searches`, in order; unlocked if need be.
fn find(searches: Vec<Attributes>) -> Result<Option<Vec<u8>>, StoreError> {
    run(move || async move {
        let ss = Ss::connect(EncryptionType::Dh).await?;
        for search in &searches {
            let items = ss.search_items(borrowed(search)).await?;
            let item = match (items.unlocked.first(), items.locked.first()) {
                (Some(item), _) => item,
                (None, Some(item)) => {
                    item.unlock().await?;
                    item
                }
                (None, None) => continue,
            };
            return Ok(Some(item.get_secret().await?));
        }
        Ok(None)
    })
}

/// Create (or replace) the item with exactly `attributes` in the default collection.
fn store(attributes: Attributes, label: &str, secret: Vec<u8>) -> Result<(), StoreError> {
    let label = label.to_owned();
    run(move || async move {
        let ss = Ss::connect(EncryptionType::Dh).await?;
        let collection = match ss.get_default_collection().await {
            Err(Error::NoResult) => ss.get_any_collection().await?,
            other => other?,
        };
        collection.ensure_unlocked().await?;
        collection.create_item(&label, borrowed(&attributes), &secret, true, "text/plain").await?;
        Ok(())
    })
}

/// Delete every item matching any of `searches`; whether there was one.
fn remove(searches: Vec<Attributes>) -> Result<bool, StoreError> {
    run(move || async move {
        let ss = Ss::connect(EncryptionType::Dh).await?;
        let mut deleted = false;
        for search in &searches {
            let items = ss.search_items(borrowed(search)).await?;
            for item in items.unlocked.iter().chain(&items.locked) {
                item.delete().await?;
                deleted = true;
            }
        }
        Ok(deleted)
    })
}

/// Run one operation against the bus: unavailable at once without a session bus, else on a
/// helper thread within the timeout.
fn run<T, Fut>(op: impl FnOnce() -> Fut + Send + 'static) -> Result<T, StoreError>
where
    T: Send + 'static,
    Fut: Future<Output = Result<T, Error>>,
{
    if let Some(reason) = no_session_bus(|k| std::env::var_os(k)) {
        return Err(StoreError::Unavailable { store: STORE, reason });
    }
    crate::bounded(STORE, TIMEOUT, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Failed { store: STORE, reason: format!("cannot start a runtime: {e}") })?;
        rt.block_on(op()).map_err(classify)
    })
}

/// Why there is no session bus to try, if there is none: no `DBUS_SESSION_BUS_ADDRESS`, and no
/// socket at `$XDG_RUNTIME_DIR/bus` (where zbus and libdbus look next).
fn no_session_bus(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<String> {
    if var("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty()) {
        return None;
    }
    let socket = var("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()).map(|d| PathBuf::from(d).join("bus"));
    match socket {
        Some(s) if s.exists() => None,
        _ => Some("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)".into()),
    }
}

/// "Not here" (no bus to connect to, no Secret Service on it) versus a failure of one that is.
fn classify(e: Error) -> StoreError {
    let unavailable = |reason: String| StoreError::Unavailable { store: STORE, reason };
    match e {
        Error::Unavailable => unavailable("no Secret Service on the session bus".into()),
        Error::Zbus(zbus::Error::InputOutput(io))
            if matches!(
                io.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            unavailable(format!("cannot connect to the session bus: {io}"))
        }
        Error::Zbus(zbus::Error::Address(a)) => unavailable(format!("the session bus address is invalid: {a}")),
        Error::Zbus(zbus::Error::MethodError(name, ..)) if is_service_unknown(name.as_str()) => {
            unavailable("no Secret Service on the session bus".into())
        }
        Error::ZbusFdo(zbus::fdo::Error::ServiceUnknown(_)) => {
            unavailable("no Secret Service on the session bus".into())
        }
        Error::Locked => StoreError::Failed { store: STORE, reason: "the keyring is locked".into() },
        Error::Prompt => StoreError::Failed { store: STORE, reason: "the unlock prompt was dismissed".into() },
        other => StoreError::Failed { store: STORE, reason: other.to_string() },
    }
}

fn is_service_unknown(name: &str) -> bool {
    matches!(name, "org.freedesktop.DBus.Error.ServiceUnknown" | "org.freedesktop.DBus.Error.NameHasNoOwner")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_session_bus_nothing_is_tried() {
        let none = |_: &str| None;
        assert!(no_session_bus(none).unwrap().contains("DBUS_SESSION_BUS_ADDRESS"));
        let address = |k: &str| (k == "DBUS_SESSION_BUS_ADDRESS").then(|| "unix:path=/x".into());
        assert_eq!(no_session_bus(address), None);
        let dir = std::env::temp_dir().join(format!("brickauth-no-bus-{}", std::process::id()));
        let runtime = |k: &str| (k == "XDG_RUNTIME_DIR").then(|| dir.clone().into_os_string());
        assert!(no_session_bus(runtime).is_some(), "a runtime directory without a bus socket");
    }

    #[test]
    fn absent_services_are_told_from_failures() {
        assert!(classify(Error::Unavailable).is_unavailable());
        let refused = Error::Zbus(zbus::Error::InputOutput(std::sync::Arc::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        ))));
        assert!(classify(refused).is_unavailable());
        let locked = classify(Error::Locked);
        assert!(!locked.is_unavailable() && locked.to_string().contains("locked"), "{locked}");
    }
}
