//! Windows: the owner and DACL of the cache directory and its files, read through
//! `GetSecurityInfo` / `GetNamedSecurityInfoW` and judged by [`super::acl::problem`].

use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::AsRawHandle;
use std::path::Path;
use std::ptr;

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::{GetNamedSecurityInfoW, GetSecurityInfo, SE_FILE_OBJECT};
use windows_sys::Win32::Security::{
    ACL, DACL_SECURITY_INFORMATION, GetLengthSid, GetTokenInformation, IsValidSid, OWNER_SECURITY_INFORMATION,
    PSECURITY_DESCRIPTOR, PSID, TOKEN_QUERY, TOKEN_USER, TokenUser,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

use super::acl::{self, Allowed, Sid};
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

/// A security descriptor Windows allocated; freed (`LocalFree`) on drop.
struct Descriptor(PSECURITY_DESCRIPTOR);

impl Drop for Descriptor {
    #[allow(unsafe_code)] // LocalFree
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: self.0 came from Get(Named)SecurityInfoW, which allocates it with
            // LocalAlloc, and is freed exactly once, here.
            unsafe { LocalFree(self.0) };
        }
    }
}

/// The owner and DACL of the file or directory at `path`.
#[allow(unsafe_code)] // GetNamedSecurityInfoW
fn named(path: &Path) -> io::Result<(Sid, Option<Vec<Allowed>>)> {
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    let (mut owner, mut dacl, mut sd): (PSID, *mut ACL, PSECURITY_DESCRIPTOR) =
        (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    // SAFETY: `wide` is NUL-terminated and outlives the call; the out-pointers are valid; the
    // owner and DACL point into the descriptor, which `Descriptor` frees after `copy` read them.
    let rc = unsafe {
        GetNamedSecurityInfoW(
            wide.as_ptr(),
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
            &mut owner,
            ptr::null_mut(),
            &mut dacl,
            ptr::null_mut(),
            &mut sd,
        )
    };
    let sd = Descriptor(sd);
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc as i32));
    }
    let out = copy(owner, dacl);
    drop(sd);
    out
}

/// The owner and DACL of the open file `file` (its handle has READ_CONTROL: std opens for
/// reading or writing with GENERIC_READ / GENERIC_WRITE, both of which include it).
#[allow(unsafe_code)] // GetSecurityInfo
fn of_handle(file: &File) -> io::Result<(Sid, Option<Vec<Allowed>>)> {
    let (mut owner, mut dacl, mut sd): (PSID, *mut ACL, PSECURITY_DESCRIPTOR) =
        (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    // SAFETY: the handle is open for the duration of the call (borrowed from `file`); the
    // out-pointers are valid; the owner and DACL point into the descriptor, freed after `copy`.
    let rc = unsafe {
        GetSecurityInfo(
            file.as_raw_handle() as HANDLE,
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
            &mut owner,
            ptr::null_mut(),
            &mut dacl,
            ptr::null_mut(),
            &mut sd,
        )
    };
    let sd = Descriptor(sd);
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc as i32));
    }
    let out = copy(owner, dacl);
    drop(sd);
    out
}

/// Copy the owner SID and the DACL out of a descriptor into owned, safely parsed values.
#[allow(unsafe_code)] // reading the SID and ACL Windows returned
fn copy(owner: PSID, dacl: *mut ACL) -> io::Result<(Sid, Option<Vec<Allowed>>)> {
    let owner = sid_at(owner)?;
    if dacl.is_null() {
        return Ok((owner, None));
    }
    // SAFETY: a non-null DACL from Get(Named)SecurityInfoW points to a valid ACL whose
    // header's AclSize covers the whole ACL; the descriptor holding it is alive (the caller
    // frees it after this returns).
    let bytes = unsafe {
        let size = usize::from((*dacl).AclSize);
        std::slice::from_raw_parts(dacl as *const u8, size).to_vec()
    };
    let entries =
        acl::allowed_entries(&bytes).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed DACL"))?;
    Ok((owner, Some(entries)))
}

/// The SID at `psid`, copied.
#[allow(unsafe_code)] // IsValidSid, GetLengthSid, reading the SID
fn sid_at(psid: PSID) -> io::Result<Sid> {
    let invalid = || io::Error::new(io::ErrorKind::InvalidData, "no valid owner SID");
    if psid.is_null() {
        return Err(invalid());
    }
    // SAFETY: psid is non-null and points to a SID Windows returned, alive for this call;
    // IsValidSid checks it before GetLengthSid measures it and the slice reads that length.
    let bytes = unsafe {
        if IsValidSid(psid) == 0 {
            return Err(invalid());
        }
        let len = GetLengthSid(psid) as usize;
        std::slice::from_raw_parts(psid as *const u8, len).to_vec()
    };
    Sid::parse(&bytes).ok_or_else(invalid)
}

/// An open process token; closed on drop.
struct Token(HANDLE);

impl Drop for Token {
    #[allow(unsafe_code)] // CloseHandle
    fn drop(&mut self) {
        // SAFETY: self.0 is a handle OpenProcessToken opened, closed exactly once, here.
        unsafe { CloseHandle(self.0) };
    }
}

/// The user SID of the current process token.
#[allow(unsafe_code)] // OpenProcessToken, GetTokenInformation
fn current_user() -> io::Result<Sid> {
    let mut token: HANDLE = ptr::null_mut();
    // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no closing; `token` is a
    // valid out-pointer.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let token = Token(token);
    // A TOKEN_USER plus its SID: far below 256 bytes; u64 for the struct's alignment.
    let mut buf = [0u64; 64];
    let mut len = 0u32;
    // SAFETY: buf is writable for the size given and aligned for TOKEN_USER; `len` is valid.
    let ok = unsafe {
        GetTokenInformation(token.0, TokenUser, buf.as_mut_ptr() as *mut c_void, size_of_val(&buf) as u32, &mut len)
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success buf holds a TOKEN_USER whose SID points into buf, which is alive.
    let psid = unsafe { (*(buf.as_ptr() as *const TOKEN_USER)).User.Sid };
    sid_at(psid)
}

/// Run under Wine by `cargo xtask cross windows-tests`.
#[cfg(test)]
mod tests {
    use std::fs;

    use windows_sys::Win32::Security::Authorization::SetNamedSecurityInfoW;
    use windows_sys::Win32::Security::PROTECTED_DACL_SECURITY_INFORMATION;

    use super::*;
    use crate::files;

    /// Give `path` the DACL `entries` (`(mask, sid)`, all access-allowed), not inherited.
    #[allow(unsafe_code)] // SetNamedSecurityInfoW
    fn set_dacl(path: &Path, entries: &[(u32, &Sid)]) {
        let with: Vec<(u8, u8, u32, &Sid)> = entries.iter().map(|(mask, sid)| (0, 0, *mask, *sid)).collect();
        let bytes = acl::tests::acl(&with);
        // An ACL must be 4-byte aligned: copy it into u32s.
        let mut aligned = vec![0u32; bytes.len().div_ceil(4)];
        for (i, b) in bytes.iter().enumerate() {
            aligned[i / 4] |= u32::from(*b) << (8 * (i % 4));
        }
        let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
        // SAFETY: `wide` is NUL-terminated; `aligned` holds a well-formed ACL (its header's
        // size and count match the entries) and outlives the call.
        let rc = unsafe {
            SetNamedSecurityInfoW(
                wide.as_ptr(),
                SE_FILE_OBJECT,
                DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                ptr::null_mut(),
                ptr::null_mut(),
                aligned.as_ptr() as *const ACL,
                ptr::null(),
            )
        };
        assert_eq!(rc, 0, "SetNamedSecurityInfoW({}) failed", path.display());
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
        let everyone = acl::tests::sid(1, &[0]);
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
