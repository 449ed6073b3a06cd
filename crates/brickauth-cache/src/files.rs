//! Files beside the cache: the one way brickauth reads, writes, moves or removes a file in the
//! cache directory — `tokens.json`, `tokens.lock`, `tokens.key`, `tenants.json` and whatever comes
//! later. Nothing else in brickauth opens a file there.
//!
//! On Unix:
//!
//! - The directory must belong to the current user. One that does is tightened to 0700 if
//!   group or others have any access; one that does not is refused with [`CacheError::Untrusted`]
//!   naming the path and the fix — whoever owns a directory can swap the files in it. It is
//!   checked before any file in it is read, and before any is written ([`write`] checks it
//!   itself).
//! - Files are opened with `O_NOFOLLOW` (a symbolic link is refused rather than followed: a link
//!   planted by another user must not make brickauth truncate, overwrite or read a file of that
//!   user's choosing) and refused unless they are regular files of the current user that nobody
//!   else can write (checked on the open descriptor, so there is no window between check and
//!   use). They are read with a size limit ([`LIMIT`]).
//! - Writes are atomic: a temp file with a random name, created exclusively (`O_EXCL`, 0600),
//!   fsynced, renamed over the file. The rename replaces a planted link; it never writes
//!   through it.
//!
//! On Windows (the same rules in Windows terms, `files/windows.rs`):
//!
//! - A reparse point (a junction, a symbolic link, a mount point) is refused as the cache
//!   directory and as any file in it, as Unix refuses a symbolic link: files are opened with
//!   `FILE_FLAG_OPEN_REPARSE_POINT` (the link itself, never its target) and refused when the
//!   open handle has `FILE_ATTRIBUTE_REPARSE_POINT`.
//! - The directory (by path, `GetNamedSecurityInfoW`) and each file (on the open handle,
//!   `GetSecurityInfo`) must be owned by the current process token's user, and their DACL
//!   must not allow write access (`FILE_WRITE_DATA`, `FILE_APPEND_DATA`, `FILE_DELETE_CHILD`,
//!   `DELETE`, `WRITE_DAC`, `WRITE_OWNER`, `GENERIC_WRITE`, `GENERIC_ALL`) to anyone but that
//!   user, SYSTEM (S-1-5-18) and Administrators (S-1-5-32-544); a NULL DACL (everyone may do
//!   anything) is refused. Nothing is tightened: brickauth refuses and names the fix
//!   (`takeown`, `icacls`). A directory brickauth creates under `%LOCALAPPDATA%` inherits its
//!   private ACL and passes.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::CacheError;

#[cfg(windows)]
mod windows;

/// The largest file brickauth reads from the cache directory: far above any real cache (a
/// token entry is a few KiB), far below what would hurt.
pub(crate) const LIMIT: u64 = 64 * 1024 * 1024;

const TEMP_SUFFIX: &str = ".tmp";

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
    #[cfg(windows)]
    {
        use std::os::windows::fs::MetadataExt;
        let entry = fs::symlink_metadata(dir).map_err(|e| CacheError::io("inspect", dir, e))?;
        refuse_reparse_point(
            entry.file_attributes(),
            dir,
            "replace it with a real directory, or set BRICKAUTH_CACHE_DIR to a directory of your own",
        )?;
        windows::check_dir(dir)?;
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
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        options.custom_flags(windows::OPEN_REPARSE_POINT);
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

/// A small JSON memory of the cache directory (`tenants.json`, `hosts.json`): `{"version": N,
/// "hosts": {HOST: ENTRY}}`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Memory<E> {
    version: u32,
    hosts: BTreeMap<String, E>,
}

/// The hosts of the memory file `path` in `dir`: none when the directory or the file does not
/// exist yet; `Ok(Err(why))` when the file does not parse or has a version other than
/// `version` (the caller calls that corrupt and starts afresh); `Err` for a directory or file
/// that cannot be trusted or read.
pub(crate) fn read_memory<E: serde::de::DeserializeOwned>(
    dir: &Path,
    path: &Path,
    version: u32,
) -> Result<Result<BTreeMap<String, E>, String>, CacheError> {
    if !check_dir(dir)? {
        return Ok(Ok(BTreeMap::new()));
    }
    let Some(bytes) = read(path)? else { return Ok(Ok(BTreeMap::new())) };
    Ok(match serde_json::from_slice::<Memory<E>>(&bytes) {
        Err(e) => Err(e.to_string()),
        Ok(file) if file.version != version => Err(format!("version {}", file.version)),
        Ok(file) => Ok(file.hosts),
    })
}

/// Change the hosts of a memory file ([`read_memory`]) with `change` and write them back at
/// `version`. A file that does not parse is replaced (the caller has just learned what it
/// holds); a directory or file that cannot be trusted is an error and nothing is written.
pub(crate) fn update_memory<E: serde::Serialize + serde::de::DeserializeOwned, R>(
    dir: &Path,
    path: &Path,
    version: u32,
    change: impl FnOnce(&mut BTreeMap<String, E>) -> R,
) -> Result<R, CacheError> {
    ensure_dir(dir)?;
    let mut hosts = read_memory(dir, path, version)?.unwrap_or_default();
    let out = change(&mut hosts);
    let bytes = serde_json::to_vec_pretty(&Memory { version, hosts }).map_err(CacheError::Serialize)?;
    write(path, &bytes)?;
    Ok(out)
}

/// The key a memory file keeps a host under: its URL as the caller normalised it, lower case,
/// without a trailing slash.
pub(crate) fn host_key(host: &str) -> String {
    host.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// The bytes of `path` (opened as [`open`] does, read with [`LIMIT`]), or `None` when it does
/// not exist. The caller has checked the directory ([`check_dir`]).
pub(crate) fn read(path: &Path) -> Result<Option<Vec<u8>>, CacheError> {
    let mut file = match open(path, OpenOptions::new().read(true)) {
        Ok(f) => f,
        Err(CacheError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(brickauth_core::file::read_open(&mut file, path, LIMIT)?))
}

/// Write `bytes` to `path` atomically, creating the directory (0700) if needed and checking it
/// first ([`ensure_dir`]): a temp file created exclusively beside it ([`create_temp`]), fsynced,
/// renamed over `path`, then the directory fsynced (Unix). The rename replaces whatever entry
/// `path` was (a planted symbolic link included) and never writes through it.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    let (dir, name) = split(path);
    ensure_dir(dir)?;
    let (tmp, mut file) = create_temp(dir, name)?;
    let result = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| CacheError::io("write", &tmp, e))
        .and_then(|()| rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    #[cfg(unix)]
    {
        // The rename is durable only once the directory entry is.
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| CacheError::io("flush to disk", dir, e))?;
    }
    Ok(())
}

/// A new temp file `<name>.<random>.tmp` in `dir`, 0600, created exclusively (`O_EXCL`: an
/// entry already there is never opened — another random name is tried — and a symbolic link
/// planted at the name is refused).
pub(crate) fn create_temp(dir: &Path, name: &str) -> Result<(PathBuf, File), CacheError> {
    const ATTEMPTS: usize = 8;
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let tmp = dir.join(format!("{name}.{:016x}{TEMP_SUFFIX}", rand::random::<u64>()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match open(&tmp, &mut options) {
            Ok(file) => return Ok((tmp, file)),
            Err(CacheError::Io { source, .. }) if source.kind() == io::ErrorKind::AlreadyExists => last = Some(source),
            Err(e) => return Err(e),
        }
    }
    let source = last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists));
    Err(CacheError::io("create a temporary file in", dir, source))
}

/// Remove the temp files of `name` left in `dir` by a writer that was killed. Only for files
/// whose writers hold the cache lock (so any temp file present now is stale).
pub(crate) fn remove_stale_temps(dir: &Path, name: &str) {
    let prefix = format!("{name}.");
    let Ok(read) = fs::read_dir(dir) else { return };
    for entry in read.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        if file_name.starts_with(&prefix) && file_name.ends_with(TEMP_SUFFIX) {
            let p = entry.path();
            match fs::remove_file(&p) {
                Ok(()) => tracing::debug!(path = %p.display(), "removed a stale temporary cache file"),
                Err(e) => tracing::debug!(path = %p.display(), error = %e, "cannot remove a stale temporary file"),
            }
        }
    }
}

/// Rename an unusable file to `<name>.corrupt-<unix secs>` (never over an earlier one). Returns
/// the new path, for the caller's warning.
pub(crate) fn move_aside(path: &Path) -> Result<PathBuf, CacheError> {
    let secs = brickauth_core::now();
    let (_, name) = split(path);
    let mut aside = path.with_file_name(format!("{name}.corrupt-{secs}"));
    let mut n = 1;
    while fs::symlink_metadata(&aside).is_ok() {
        aside = path.with_file_name(format!("{name}.corrupt-{secs}-{n}"));
        n += 1;
    }
    fs::rename(path, &aside).map_err(|e| CacheError::io("move aside the unreadable file", path, e))?;
    Ok(aside)
}

/// Remove `path` if it is there.
pub(crate) fn remove(path: &Path) -> Result<(), CacheError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(CacheError::io("remove", path, e)),
        _ => Ok(()),
    }
}

fn rename(from: &Path, to: &Path) -> Result<(), CacheError> {
    // On Windows a virus scanner or indexer may hold the target open for a moment without
    // FILE_SHARE_DELETE; retry briefly. Elsewhere the first error is final.
    let attempts = if cfg!(windows) { 5 } else { 1 };
    let mut attempt = 1;
    loop {
        match fs::rename(from, to) {
            Ok(()) => return Ok(()),
            Err(e) if attempt < attempts && e.kind() == io::ErrorKind::PermissionDenied => {
                std::thread::sleep(std::time::Duration::from_millis(20 * attempt));
                attempt += 1;
            }
            Err(e) => return Err(CacheError::io("replace", to, e)),
        }
    }
}

/// A cache file's directory and name.
fn split(path: &Path) -> (&Path, &str) {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    (dir, name)
}

fn check_file(file: &File, path: &Path) -> Result<(), CacheError> {
    let meta = file.metadata().map_err(|e| CacheError::io("inspect", path, e))?;
    #[cfg(windows)]
    {
        use std::os::windows::fs::MetadataExt;
        refuse_reparse_point(meta.file_attributes(), path, "remove it; brickauth creates its own file")?;
    }
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
        let mode = meta.mode() & 0o777;
        if mode & 0o022 != 0 {
            return Err(untrusted(
                path,
                &format!("it is mode {mode:03o}: others than you can change it"),
                "remove it; brickauth creates its own file",
            ));
        }
    }
    #[cfg(windows)]
    windows::check_file(file, path)?;
    Ok(())
}

/// Refuse `path` if its `attributes` mark a reparse point (a junction, symbolic link or mount
/// point): Windows' counterpart of the Unix symbolic-link refusal.
#[cfg(windows)]
fn refuse_reparse_point(attributes: u32, path: &Path, fix: &str) -> Result<(), CacheError> {
    if attributes & windows::REPARSE_POINT == 0 {
        return Ok(());
    }
    Err(untrusted(path, "it is a junction or symbolic link (a reparse point)", fix))
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
#[allow(unsafe_code)] // geteuid(2), below
pub(crate) fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

pub(crate) fn untrusted(path: &Path, problem: &str, fix: &str) -> CacheError {
    CacheError::Untrusted { path: path.to_path_buf(), problem: problem.to_owned(), fix: fix.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[cfg(unix)]
    #[test]
    fn a_group_writable_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tenants.json");
        fs::write(&file, "{}").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o664)).unwrap();
        let e = read(&file).unwrap_err().to_string();
        assert!(e.contains("tenants.json") && e.contains("mode 664") && e.contains("remove it"), "{e}");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read(&file).unwrap().as_deref(), Some(&b"{}"[..]));
    }

    #[test]
    fn writes_are_atomic_private_and_leave_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("tenants.json");
        write(&path, b"one").unwrap();
        write(&path, b"two").unwrap();
        assert_eq!(read(&path).unwrap().as_deref(), Some(&b"two"[..]));
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, ["tenants.json"], "a temp file was left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        }
    }

    /// A link planted where the file goes is replaced by the rename, never written through; a
    /// link at a temp-file name is never opened (the temp file is created exclusively).
    #[cfg(unix)]
    #[test]
    fn writes_never_follow_a_planted_link() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        let path = dir.path().join("tenants.json");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        write(&path, b"{}").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert!(fs::symlink_metadata(&path).unwrap().is_file(), "the link was not replaced");

        // A temp file is created exclusively: an entry already at its name, a link included,
        // is never opened (the name is random; here the link is planted at a name we chose).
        let planted = dir.path().join("tokens.json.0000000000000000.tmp");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        let e = open(&planted, &mut options).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn an_oversized_file_is_refused_naming_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        File::create(&path).unwrap().set_len(LIMIT + 1).unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("tokens.json") && e.contains("larger than 64 MiB"), "{e}");
    }

    #[test]
    fn stale_temp_files_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("tokens.json.abc.tmp"), "").unwrap();
        fs::write(dir.path().join("tenants.json.abc.tmp"), "").unwrap();
        remove_stale_temps(dir.path(), "tokens.json");
        assert!(!dir.path().join("tokens.json.abc.tmp").exists());
        assert!(dir.path().join("tenants.json.abc.tmp").exists());
    }

    /// The architecture invariant (docs/architecture.md): no other module of the crate opens,
    /// reads, writes, renames or removes a file by path.
    #[test]
    fn no_other_module_touches_a_file_by_path() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        const BY_PATH: &[&str] = &[
            "File::open(",
            "File::create(",
            "fs::read(",
            "fs::read_to_string(",
            "fs::write(",
            "fs::rename(",
            "fs::remove_file(",
            "tempfile::",
            "options.open(",
            "OpenOptions::new().open(",
        ];
        let mut found = Vec::new();
        for entry in fs::read_dir(&src).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "files.rs" || !name.ends_with(".rs") {
                continue;
            }
            let text = fs::read_to_string(entry.path()).unwrap();
            // Tests may set up files as they like.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in code.lines().enumerate() {
                if BY_PATH.iter().any(|p| line.contains(p)) {
                    found.push(format!("{name}:{}: {}", n + 1, line.trim()));
                }
            }
        }
        assert!(found.is_empty(), "files beside the cache must go through files.rs:\n{}", found.join("\n"));
    }
}
