//! Windows: the owner and DACL of the cache directory and its files, read through
//! `GetSecurityInfo` / `GetNamedSecurityInfoW` ([`brickauth_core::file::security`]) and judged
//! by the strict rule [`acl::problem`].

use std::fs::File;
use std::path::Path;

use brickauth_core::file::acl::{self, Allowed, Sid};
use brickauth_core::file::security::{current_user, of_file as of_handle, of_path as named};

use super::untrusted;
use crate::error::CacheError;

/// The attribute of a junction, symbolic link or other reparse point.
pub(super) const REPARSE_POINT: u32 = windows_sys::Win32::Storage::FileSystem::FILE_ATTRIBUTE_REPARSE_POINT;
/// Open a reparse point itself rather than what it points to (the `O_NOFOLLOW` of Windows).
pub(super) const OPEN_REPARSE_POINT: u32 = windows_sys::Win32::Storage::FileSystem::FILE_FLAG_OPEN_REPARSE_POINT;

/// Refuse the directory `dir` unless the current user owns it and nobody else may write it.
pub(super) fn check_dir(dir: &Path) -> Result<(), CacheError> {
    let (owner, dacl) = named(dir).map_err(|e| CacheError::io("read the owner and access control list of", dir, e))?;
    judge(dir, &owner, dacl.as_deref(), "set BRICKAUTH_CACHE_DIR to a directory of your own")
}

/// Refuse the open file `file` (at `path`) unless the current user owns it and nobody else
/// may write it. Read on the handle: no window between check and use.
pub(super) fn check_file(file: &File, path: &Path) -> Result<(), CacheError> {
    let (owner, dacl) =
        of_handle(file).map_err(|e| CacheError::io("read the owner and access control list of", path, e))?;
    judge(path, &owner, dacl.as_deref(), "or remove it; brickauth creates its own file")
}

fn judge(path: &Path, owner: &Sid, dacl: Option<&[Allowed]>, otherwise: &str) -> Result<(), CacheError> {
    let user = current_user().map_err(|e| CacheError::io("find the current user for checking", path, e))?;
    match acl::problem(owner, dacl, &user) {
        None => Ok(()),
        Some(problem) => {
            let p = path.display();
            let fix = if owner != &user {
                format!(
                    "take it over (takeown /F \"{p}\") and restrict it (icacls \"{p}\" /inheritance:r /grant:r \"%USERNAME%:F\"), {otherwise}"
                )
            } else {
                format!(
                    "restrict it to yourself (icacls \"{p}\" /inheritance:r /grant:r \"%USERNAME%:F\"), {otherwise}"
                )
            };
            Err(untrusted(path, &problem, &fix))
        }
    }
}

/// Run under Wine by `cargo xtask cross windows-tests`.
#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::files;

    fn set_dacl(path: &Path, entries: &[(u32, &Sid)]) {
        // Wine keeps only what Unix mode bits hold: enough here (Everyone's write, on and off).
        let _kept = brickauth_core::file::security::set_dacl(path, entries)
            .unwrap_or_else(|e| panic!("SetNamedSecurityInfoW({}) failed: {e}", path.display()));
    }

    const FULL: u32 = 0x001F_01FF;
    const WRITE: u32 = 0x0012_0116;

    #[test]
    fn what_the_cache_writes_passes_the_owner_and_acl_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache").join("tenants.json");
        files::write(&path, b"{}").unwrap();
        let user = current_user().unwrap();
        let (owner, dacl) = named(path.parent().unwrap()).unwrap();
        assert_eq!(owner, user, "the directory's owner");
        assert_eq!(acl::problem(&owner, dacl.as_deref(), &user), None, "{dacl:?}");
        let file = File::open(&path).unwrap();
        let (owner, dacl) = of_handle(&file).unwrap();
        assert_eq!(acl::problem(&owner, dacl.as_deref(), &user), None, "{dacl:?}");
        assert_eq!(files::read(&path).unwrap().as_deref(), Some(&b"{}"[..]));
    }

    #[test]
    fn write_access_for_everyone_is_refused() {
        let user = current_user().unwrap();
        let everyone = Sid::new(1, &[0]);
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let path = cache.join("tokens.json");
        files::write(&path, b"{}").unwrap();

        set_dacl(&path, &[(FULL, &user), (WRITE, &everyone)]);
        let e = files::read(&path).unwrap_err().to_string();
        assert!(e.contains("tokens.json") && e.contains("S-1-1-0 (Everyone)") && e.contains("icacls"), "{e}");
        set_dacl(&path, &[(FULL, &user)]);
        assert_eq!(files::read(&path).unwrap().as_deref(), Some(&b"{}"[..]));

        set_dacl(&cache, &[(FULL, &user), (FULL, &everyone)]);
        let e = files::check_dir(&cache).unwrap_err().to_string();
        assert!(e.contains("S-1-1-0 (Everyone)") && e.contains("BRICKAUTH_CACHE_DIR"), "{e}");
        let e = files::write(&path, b"[]").unwrap_err().to_string();
        assert!(e.contains("Everyone"), "{e}");
        set_dacl(&cache, &[(FULL, &user)]);
        files::check_dir(&cache).unwrap();
    }

    /// Wine 8 can create neither a symbolic link (`CreateSymbolicLinkW` reports success and
    /// creates nothing, as does `mklink /D`) nor a junction (`mklink /J`: "Failed to open"), and
    /// reports a Unix symbolic link as a plain file or directory. There the refusal is tested
    /// on the attributes alone; on Windows (developer mode or an administrator) on real links.
    #[test]
    fn reparse_points_are_refused() {
        use windows_sys::Win32::Storage::FileSystem::{FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_NORMAL};
        let dir = tempfile::tempdir().unwrap();
        let e = files::refuse_reparse_point(REPARSE_POINT | FILE_ATTRIBUTE_DIRECTORY, dir.path(), "the fix")
            .unwrap_err()
            .to_string();
        assert!(e.contains("reparse point") && e.contains("the fix"), "{e}");
        files::refuse_reparse_point(FILE_ATTRIBUTE_DIRECTORY, dir.path(), "").unwrap();
        files::refuse_reparse_point(FILE_ATTRIBUTE_NORMAL, dir.path(), "").unwrap();

        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        let victim = real.join("victim");
        fs::write(&victim, "precious").unwrap();
        let link = dir.path().join("cache");
        let file_link = real.join("tokens.json");
        // Wine 8 reports success and creates nothing: what was made is looked at, not trusted.
        let made = std::os::windows::fs::symlink_dir(&real, &link)
            .and_then(|()| std::os::windows::fs::symlink_file(&victim, &file_link))
            .and_then(|()| fs::symlink_metadata(&link))
            .and_then(|_| fs::symlink_metadata(&file_link));
        if let Err(e) = made {
            eprintln!("no real link: this Windows cannot create a symbolic link ({e}); attributes tested only");
            return;
        }
        let e = files::check_dir(&link).unwrap_err().to_string();
        assert!(e.contains("reparse point") && e.contains("cache"), "{e}");
        let e = files::read(&file_link).unwrap_err().to_string();
        assert!(e.contains("reparse point") && e.contains("tokens.json"), "{e}");
        let e = files::open(&file_link, fs::OpenOptions::new().read(true).write(true).create(true))
            .unwrap_err()
            .to_string();
        assert!(e.contains("reparse point"), "{e}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    }
}
