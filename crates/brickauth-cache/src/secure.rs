//! Files that cannot be borrowed: the checks that keep another local user from planting, reading
//! or redirecting the cache, and the keyed fingerprints the cache remembers credentials by.
//!
//! On Unix:
//!
//! - The cache directory must belong to the current user. One that does is tightened to 0700 if
//!   group or others have any access; one that does not is refused with [`CacheError::Untrusted`]
//!   naming the path and the fix — whoever owns a directory can swap the files in it.
//! - `tokens.json`, `tokens.lock` and `tokens.key` are opened with `O_NOFOLLOW` (a symbolic link
//!   is refused rather than followed: a link planted by another user must not make brickauth
//!   truncate or read a file of that user's choosing) and refused unless they are regular files
//!   of the current user (checked on the open descriptor, so there is no window between check
//!   and use).
//!
//! **Windows gap:** none of this applies there. The cache lives under `%LOCALAPPDATA%`, whose ACL
//! is private to the user by default; brickauth neither checks nor sets ACLs.
//!
//! Fingerprints: `hmac-sha256:<hex>` of a credential under a random 32-byte key kept in
//! `<dir>/tokens.key` (0600). Without the key a fingerprint reveals nothing and cannot be tested
//! against guesses; a plain hash of a refresh token could be.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};

use crate::error::CacheError;

/// Check the cache directory `dir` before use: `Ok(false)` when it does not exist, `Ok(true)`
/// when it exists and is ours (tightened to 0700 if it was looser), an error otherwise.
pub(crate) fn check_dir(dir: &Path) -> Result<bool, CacheError> {
    let meta = match fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(CacheError::io("inspect", dir, e)),
    };
    if !meta.is_dir() {
        return Err(untrusted(dir, "it is not a directory", "remove it or set BRICKAUTH_CACHE_DIR to a directory"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let me = current_uid();
        if meta.uid() != me {
            return Err(untrusted(
                dir,
                &format!("it belongs to user id {}, not to you (user id {me})", meta.uid()),
                "remove it, or set BRICKAUTH_CACHE_DIR to a directory of your own",
            ));
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| CacheError::io("restrict the permissions (chmod 700) of", dir, e))?;
            tracing::warn!("the token cache directory {} was mode {mode:03o}; set it to 700", dir.display());
        }
    }
    Ok(true)
}

/// Create the cache directory (0700) if needed, then [`check_dir`] it.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), CacheError> {
    if check_dir(dir)? {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| CacheError::io("create directory", dir, e))?;
    check_dir(dir).map(|_| ())
}

/// Open `path` with `options`, never through a symbolic link, and check that it is a regular
/// file of ours.
pub(crate) fn open(path: &Path, options: &mut OpenOptions) -> Result<File, CacheError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    let file = options.open(path).map_err(|e| {
        if is_symlink_refusal(&e, path) {
            untrusted(path, "it is a symbolic link", "remove it; brickauth creates its own file")
        } else {
            CacheError::io("open", path, e)
        }
    })?;
    check_file(&file, path)?;
    Ok(file)
}

/// The bytes of `path` (opened as [`open`] does), or `None` when it does not exist.
pub(crate) fn read(path: &Path) -> Result<Option<Vec<u8>>, CacheError> {
    let mut file = match open(path, OpenOptions::new().read(true)) {
        Ok(f) => f,
        Err(CacheError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| CacheError::io("read", path, e))?;
    Ok(Some(bytes))
}

fn check_file(file: &File, path: &Path) -> Result<(), CacheError> {
    let meta = file.metadata().map_err(|e| CacheError::io("inspect", path, e))?;
    if !meta.is_file() {
        return Err(untrusted(path, "it is not a regular file", "remove it; brickauth creates its own file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = current_uid();
        if meta.uid() != me {
            return Err(untrusted(
                path,
                &format!("it belongs to user id {}, not to you (user id {me})", meta.uid()),
                "remove it; brickauth creates its own file",
            ));
        }
    }
    Ok(())
}

/// `O_NOFOLLOW` on a symbolic link fails with `ELOOP` (Linux, macOS) or `EMLINK` (FreeBSD).
fn is_symlink_refusal(e: &io::Error, path: &Path) -> bool {
    #[cfg(unix)]
    {
        if matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::EMLINK)) {
            return true;
        }
    }
    let _ = e;
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

#[cfg(unix)]
#[allow(unsafe_code)] // the one FFI call, below
fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn untrusted(path: &Path, problem: &str, fix: &str) -> CacheError {
    CacheError::Untrusted { path: path.to_path_buf(), problem: problem.to_owned(), fix: fix.to_owned() }
}

/// The fingerprint key file of a cache directory.
pub(crate) fn key_path(dir: &Path) -> PathBuf {
    dir.join("tokens.key")
}

const KEY_LEN: usize = 32;

/// The directory's fingerprint key: read it, or with `create` (the caller holds the cache lock)
/// make one if there is none. `Ok(None)` when there is none and `create` is false.
pub(crate) fn fingerprint_key(dir: &Path, create: bool) -> Result<Option<[u8; KEY_LEN]>, CacheError> {
    let path = key_path(dir);
    match read(&path)? {
        Some(bytes) => {
            let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
                untrusted(&path, &format!("it holds {} bytes, not {KEY_LEN}", bytes.len()), "remove it")
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
            let mut file = open(&path, &mut options)?;
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
            let mode = fs::metadata(key_path(dir.path())).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_refused_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        fs::write(&target, "precious").unwrap();
        let link = dir.path().join("tokens.lock");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = open(&link, OpenOptions::new().read(true).write(true).create(true)).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("tokens.lock") && s.contains("symbolic link") && s.contains("remove it"), "{s}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
        assert!(matches!(read(&link), Err(CacheError::Untrusted { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn a_loose_directory_of_ours_is_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        assert!(check_dir(dir.path()).unwrap());
        assert_eq!(fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777, 0o700);
        assert!(!check_dir(&dir.path().join("absent")).unwrap());
        let file = dir.path().join("f");
        fs::write(&file, "").unwrap();
        let e = check_dir(&file).unwrap_err().to_string();
        assert!(e.contains("not a directory"), "{e}");
    }

    /// Needs a second user id: only root can make a file another user owns.
    #[cfg(unix)]
    #[test]
    fn files_and_directories_of_another_user_are_refused() {
        if current_uid() != 0 {
            eprintln!("skipped: needs root to chown a file to another user");
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("theirs");
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&sub, Some(65534), Some(65534)).unwrap();
        let e = check_dir(&sub).unwrap_err().to_string();
        assert!(e.contains("belongs to user id 65534") && e.contains("BRICKAUTH_CACHE_DIR"), "{e}");
        let file = dir.path().join("tokens.json");
        fs::write(&file, "{}").unwrap();
        std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
        let e = read(&file).unwrap_err().to_string();
        assert!(e.contains("tokens.json") && e.contains("65534"), "{e}");
    }
}
