//! The Linux kernel's user keyring (keyutils): a key store without D-Bus, for SSH sessions,
//! containers and CI.
//!
//! Entries are `user` keys described `brickauth:<name>` in the user keyring (`@u`, what
//! `keyctl show @u` lists), readable by the owning user id only (possessor and user: all; group
//! and others: nothing). The keyring lives in kernel memory: it is emptied at reboot, and may be
//! when the user's last process ends. Containers whose seccomp profile forbids the keyutils
//! system calls (Docker's default) see it as [`Unavailable`](StoreError::Unavailable).

use linux_keyutils::{KeyError, KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, Permission};
use secrecy::SecretSlice;

use crate::{KeyStore, SERVICE, StoreError, StoreKind, TIMEOUT};

const STORE: &str = "the kernel keyring";

/// The user keyring of this user id.
#[derive(Debug)]
pub(crate) struct KernelKeyring;

impl KeyStore for KernelKeyring {
    fn kind(&self) -> StoreKind {
        StoreKind::KernelKeyring
    }

    fn describe(&self) -> &'static str {
        STORE
    }

    fn get(&self, name: &str) -> Result<Option<SecretSlice<u8>>, StoreError> {
        let description = description(name);
        crate::bounded(STORE, TIMEOUT, move || {
            let ring = user_keyring()?;
            // An invalidated, revoked or expired key lingers until the kernel collects it: it is
            // as gone as one that never was (a sign-in follows, never an error on every call).
            match ring.search(&description).and_then(|key| key.read_to_vec()) {
                Ok(v) => Ok(Some(SecretSlice::from(v))),
                Err(e) if gone(&e) => Ok(None),
                Err(e) => Err(failed(e)),
            }
        })
    }

    fn set(&self, name: &str, _label: &str, secret: &[u8]) -> Result<(), StoreError> {
        let (description, secret) = (description(name), secret.to_vec());
        crate::bounded(STORE, TIMEOUT, move || {
            let ring = user_keyring()?;
            let key = ring.add_key(&description, &secret).map_err(failed)?;
            // The default lets the user id only view the key: reading it would then need
            // "possession" (a link from this session's keyrings), which a later process of the
            // same user may not have. Grant the user id itself everything, nobody else anything.
            let perms = KeyPermissionsBuilder::builder().posessor(Permission::ALL).user(Permission::ALL).build();
            key.set_perms(perms).map_err(failed)
        })
    }

    fn delete(&self, name: &str) -> Result<bool, StoreError> {
        let description = description(name);
        crate::bounded(STORE, TIMEOUT, move || {
            let ring = user_keyring()?;
            match ring.search(&description).and_then(|key| key.invalidate()) {
                Ok(()) => Ok(true),
                Err(e) if gone(&e) => Ok(false),
                Err(e) => Err(failed(e)),
            }
        })
    }
}

/// Whether the key is not there to use: never added, or invalidated, revoked or expired and not
/// yet collected.
fn gone(e: &KeyError) -> bool {
    matches!(e, KeyError::KeyDoesNotExist | KeyError::KeyRevoked | KeyError::KeyExpired)
}

fn description(name: &str) -> String {
    format!("{SERVICE}:{name}")
}

/// The user keyring, created if needed; a kernel or sandbox without keyutils is "unavailable".
fn user_keyring() -> Result<KeyRing, StoreError> {
    KeyRing::from_special_id(KeyRingIdentifier::User, true).map_err(|e| match e {
        KeyError::OperationNotSupported
        | KeyError::PermissionDenied
        | KeyError::AccessDenied
        | KeyError::Unknown(_) => {
            StoreError::Unavailable { store: STORE, reason: format!("the keyutils system calls are refused ({e:?})") }
        }
        e => failed(e),
    })
}

fn failed(e: KeyError) -> StoreError {
    StoreError::Failed { store: STORE, reason: format!("{e:?}") }
}
