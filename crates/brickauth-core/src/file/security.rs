//! Windows: the owner and DACL of a file or directory (`GetSecurityInfo`,
//! `GetNamedSecurityInfoW`) and the current user's SID (the process token's), as the owned,
//! safely parsed values of [`super::acl`].

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
pub fn of_path(path: &Path) -> io::Result<(Sid, Option<Vec<Allowed>>)> {
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    query(|owner, dacl, sd| {
        // SAFETY: `wide` is NUL-terminated and outlives the call; the out-pointers are valid
        // (`query`'s locals).
        unsafe {
            GetNamedSecurityInfoW(
                wide.as_ptr(),
                SE_FILE_OBJECT,
                OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                owner,
                ptr::null_mut(),
                dacl,
                ptr::null_mut(),
                sd,
            )
        }
    })
}

/// The owner and DACL of the open file `file` (its handle has READ_CONTROL: std opens for
/// reading or writing with GENERIC_READ / GENERIC_WRITE, both of which include it).
#[allow(unsafe_code)] // GetSecurityInfo
pub fn of_file(file: &File) -> io::Result<(Sid, Option<Vec<Allowed>>)> {
    query(|owner, dacl, sd| {
        // SAFETY: the handle is open for the duration of the call (borrowed from `file`); the
        // out-pointers are valid (`query`'s locals).
        unsafe {
            GetSecurityInfo(
                file.as_raw_handle() as HANDLE,
                SE_FILE_OBJECT,
                OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                owner,
                ptr::null_mut(),
                dacl,
                ptr::null_mut(),
                sd,
            )
        }
    })
}

/// Run `call` (`Get(Named)SecurityInfoW` for the owner and DACL) with out-pointers, then copy
/// the owner and DACL out of the descriptor it allocated before freeing it.
fn query(
    call: impl FnOnce(*mut PSID, *mut *mut ACL, *mut PSECURITY_DESCRIPTOR) -> u32,
) -> io::Result<(Sid, Option<Vec<Allowed>>)> {
    let (mut owner, mut dacl, mut sd): (PSID, *mut ACL, PSECURITY_DESCRIPTOR) =
        (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    let rc = call(&mut owner, &mut dacl, &mut sd);
    // The owner and DACL point into the descriptor, freed after `copy` read them.
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
pub fn current_user() -> io::Result<Sid> {
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

/// Give `path` the DACL `entries` (`(mask, sid)`, all access-allowed), protected from
/// inheritance: how tests make a file others can read or write. Whether the DACL read back
/// grants what was set, no more and no less (SYSTEM and Administrators aside): Windows keeps
/// it; Wine keeps only what Unix mode bits can hold (the owner, Everyone as "others", and
/// Everyone may always read).
#[doc(hidden)]
pub fn set_dacl(path: &Path, entries: &[(u32, &Sid)]) -> io::Result<bool> {
    set(path, entries)?;
    let (_, dacl) = of_path(path)?;
    let mut got: Vec<(u32, Sid)> =
        dacl.unwrap_or_default().into_iter().filter(|e| !e.sid.is_system()).map(|e| (e.mask, e.sid)).collect();
    let mut want: Vec<(u32, Sid)> = entries.iter().map(|(m, s)| (*m, (*s).clone())).collect();
    let key = |e: &(u32, Sid)| (e.1.as_bytes().to_vec(), e.0);
    got.sort_by_key(key);
    want.sort_by_key(key);
    Ok(got == want)
}

#[allow(unsafe_code)] // SetNamedSecurityInfoW
fn set(path: &Path, entries: &[(u32, &Sid)]) -> io::Result<()> {
    use windows_sys::Win32::Security::Authorization::SetNamedSecurityInfoW;
    use windows_sys::Win32::Security::PROTECTED_DACL_SECURITY_INFORMATION;
    let with: Vec<(u8, u8, u32, &Sid)> = entries.iter().map(|(mask, sid)| (0, 0, *mask, *sid)).collect();
    let bytes = acl::encode(&with);
    // An ACL must be 4-byte aligned: copy it into u32s.
    let mut aligned = vec![0u32; bytes.len().div_ceil(4)];
    for (i, b) in bytes.iter().enumerate() {
        aligned[i / 4] |= u32::from(*b) << (8 * (i % 4));
    }
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    // SAFETY: `wide` is NUL-terminated; `aligned` holds a well-formed ACL (its header's size
    // and count match the entries) and outlives the call.
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
    if rc == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(rc as i32)) }
}
