//! The keyed fingerprints the cache remembers credentials by.
//!
//! `hmac-sha256:<hex>` of a credential under a random 32-byte key kept in `<dir>/tokens.key`
//! (0600, read and written through [`crate::files`] like every file beside the cache). Without
//! the key a fingerprint reveals nothing and cannot be tested against guesses; a plain hash of a
//! refresh token could be.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};

use crate::error::CacheError;
use crate::files;

/// The fingerprint key file of a cache directory.
pub(crate) fn key_path(dir: &Path) -> PathBuf {
    dir.join("tokens.key")
}

const KEY_LEN: usize = 32;

/// The directory's fingerprint key: read it, or with `create` (the caller holds the cache lock)
/// make one if there is none. `Ok(None)` when there is none and `create` is false.
pub(crate) fn fingerprint_key(dir: &Path, create: bool) -> Result<Option<[u8; KEY_LEN]>, CacheError> {
    let path = key_path(dir);
    match files::read(&path)? {
        Some(bytes) => {
            let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
                files::untrusted(&path, &format!("it holds {} bytes, not {KEY_LEN}", bytes.len()), "remove it")
            })?;
            Ok(Some(key))
        }
        None if !create => Ok(None),
        None => {
            let key: [u8; KEY_LEN] = rand::random();
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = files::open(&path, &mut options)?;
            file.write_all(&key).and_then(|()| file.sync_all()).map_err(|e| CacheError::io("write", &path, e))?;
            Ok(Some(key))
        }
    }
}

/// `hmac-sha256:<hex>` of `secret` under `key`.
pub(crate) fn fingerprint(key: &[u8; KEY_LEN], secret: &SecretString) -> String {
    // HMAC accepts keys of any length: new_from_slice cannot fail here.
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(secret.expose_secret().as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(12 + 64);
    out.push_str("hmac-sha256:");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether `secret` has the fingerprint `expected`, comparing in constant time.
pub(crate) fn same_fingerprint(key: &[u8; KEY_LEN], secret: &SecretString, expected: &str) -> bool {
    let actual = fingerprint(key, secret);
    actual.len() == expected.len() && actual.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_keyed() {
        let secret = SecretString::from("0.AXoA-refresh".to_owned());
        let a = fingerprint(&[1; KEY_LEN], &secret);
        let b = fingerprint(&[2; KEY_LEN], &secret);
        assert!(a.starts_with("hmac-sha256:") && a.len() == 12 + 64, "{a}");
        assert_ne!(a, b, "another key gives another fingerprint");
        assert!(!a.contains("AXoA"));
        assert!(same_fingerprint(&[1; KEY_LEN], &secret, &a));
        assert!(!same_fingerprint(&[1; KEY_LEN], &SecretString::from("other".to_owned()), &a));
    }

    #[test]
    fn key_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(fingerprint_key(dir.path(), false).unwrap(), None);
        let k = fingerprint_key(dir.path(), true).unwrap().unwrap();
        assert_eq!(fingerprint_key(dir.path(), false).unwrap(), Some(k));
        assert_eq!(fingerprint_key(dir.path(), true).unwrap(), Some(k));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_path(dir.path())).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
