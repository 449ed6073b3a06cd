//! Bounded reads of a file a caller names: the one way brickauth reads a file it is pointed at
//! (a `*_file` secret, a client certificate, a federated token, a CA bundle, the Azure CLI's
//! token cache, the token cache's own files).
//!
//! A path in a profile or a variable can name anything: `/dev/zero` (endless), a FIFO (blocks
//! until someone writes), `/dev/stdin`, a 700 MB file. So every read here:
//!
//! 1. opens without blocking (`O_NONBLOCK` on Unix: opening a FIFO returns at once) and never
//!    hands the descriptor to a child (`O_CLOEXEC`);
//! 2. refuses anything but a regular file, checked on the open descriptor
//!    ([`FileError::NotRegular`]: a FIFO, a device, a directory, a socket);
//! 3. refuses a file larger than the caller's limit before reading it (its size from `fstat`)
//!    and stops reading one byte past the limit should it grow meanwhile
//!    ([`FileError::TooLarge`], naming the file and the limit).
//!
//! This module reads only the path its caller hands it; it never decides which file to read.
//! Callers that must open a file with their own flags (the token cache's `O_NOFOLLOW`) use
//! [`read_open`] on their descriptor.

pub mod acl;
#[cfg(windows)]
pub mod security;
mod sharing;

pub use sharing::{Principal, Sharing, sharing, sharing_of};

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Why a file could not be read. Every variant names the file.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileError {
    /// The operating system could not open or read it (not found, permission denied, …).
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// It is not a regular file: brickauth never reads from a FIFO, a device or a socket (it
    /// could block forever or never end).
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is instead (`a FIFO`, `a character device`, `a directory`, …).
        kind: &'static str,
    },
    /// It is larger than the limit its caller set for it.
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// It is not UTF-8 text ([`read_to_string`] only).
    NotText {
        /// The file.
        path: PathBuf,
    },
}

impl FileError {
    /// The file concerned.
    pub fn path(&self) -> &Path {
        match self {
            FileError::Io { path, .. }
            | FileError::NotRegular { path, .. }
            | FileError::TooLarge { path, .. }
            | FileError::NotText { path } => path,
        }
    }

    /// What is wrong, without the file's name (for callers that name it themselves): `it is a
    /// FIFO (named pipe), not a regular file`, `No such file or directory (os error 2)`.
    pub fn reason(&self) -> String {
        match self {
            FileError::Io { source, .. } => source.to_string(),
            FileError::NotRegular { kind, .. } => format!("it is {kind}, not a regular file"),
            FileError::TooLarge { limit, .. } => {
                format!("it is larger than {} (the limit for this file)", Size(*limit))
            }
            FileError::NotText { .. } => "it is not UTF-8 text".to_owned(),
        }
    }

    /// Whether the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read {}: {}", self.path().display(), self.reason())
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The bytes of the regular file `path`, at most `limit` of them (see the module doc).
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    read_open(&mut open(path)?, path, limit)
}

fn open(path: &Path) -> Result<File, FileError> {
    open_for_reading(path).map_err(|source| FileError::Io { path: path.to_path_buf(), source })
}

/// `path` opened for reading without blocking (a FIFO opens at once) and never inherited by a
/// child.
fn open_for_reading(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC);
    }
    options.open(path)
}

/// [`read`], and who besides the user may change or read the file read ([`sharing`], judged
/// on the same open file).
pub fn read_shared(path: &Path, limit: u64) -> Result<(Vec<u8>, Sharing), FileError> {
    let mut file = open(path)?;
    let bytes = read_open(&mut file, path, limit)?;
    let sharing = sharing(&file).map_err(|source| FileError::Io { path: path.to_path_buf(), source })?;
    Ok((bytes, sharing))
}

/// [`read`], as UTF-8 text.
pub fn read_to_string(path: &Path, limit: u64) -> Result<String, FileError> {
    String::from_utf8(read(path, limit)?).map_err(|_| FileError::NotText { path: path.to_path_buf() })
}

/// The bytes of `file`, already opened from `path` by the caller: refused unless it is a regular
/// file of at most `limit` bytes. Reads from the file's current position.
pub fn read_open(file: &mut File, path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let io = |source| FileError::Io { path: path.to_path_buf(), source };
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(FileError::NotRegular { path: path.to_path_buf(), kind: kind_of(&meta) });
    }
    let too_large = || FileError::TooLarge { path: path.to_path_buf(), limit };
    if meta.len() > limit {
        return Err(too_large());
    }
    // The size is a hint (the file may grow while it is read): one byte past the limit is how a
    // grown file is told apart from one exactly at it.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// A byte count for a person: `64 KiB`, `32 MiB`, `100 bytes`.
struct Size(u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: u64 = 1024;
        const MIB: u64 = 1024 * 1024;
        match self.0 {
            n if n >= MIB && n % MIB == 0 => write!(f, "{} MiB", n / MIB),
            n if n >= KIB && n % KIB == 0 => write!(f, "{} KiB", n / KIB),
            n => write!(f, "{n} bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn reads_a_regular_file_within_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read(&p, 10).unwrap(), b"0123456789");
        assert_eq!(read_to_string(&p, 100).unwrap(), "0123456789");
        let e = read(&p, 9).unwrap_err();
        assert!(matches!(e, FileError::TooLarge { limit: 9, .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!("cannot read {}: it is larger than 9 bytes (the limit for this file)", p.display())
        );
    }

    #[test]
    fn a_huge_file_is_refused_at_once_naming_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("huge");
        // Sparse: 700 MiB that cost no disk.
        File::create(&p).unwrap().set_len(700 * 1024 * 1024).unwrap();
        let start = Instant::now();
        let e = read(&p, 32 * 1024 * 1024).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());
        let s = e.to_string();
        assert!(s.contains("huge") && s.contains("larger than 32 MiB"), "{s}");
    }

    #[test]
    fn missing_and_directories_and_non_text() {
        let dir = tempfile::tempdir().unwrap();
        let e = read(&dir.path().join("absent"), 10).unwrap_err();
        assert!(e.is_not_found() && e.path().ends_with("absent"), "{e}");
        let e = read(dir.path(), 10).unwrap_err();
        assert!(!e.is_not_found());
        // Opening a directory for reading fails on some systems and succeeds on others (Linux):
        // either way it is not read.
        if let FileError::NotRegular { kind, .. } = &e {
            assert_eq!(*kind, "a directory");
        }
        let p = dir.path().join("bin");
        std::fs::write(&p, [0xff, 0xfe]).unwrap();
        assert!(matches!(read_to_string(&p, 10), Err(FileError::NotText { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_refused_without_reading() {
        let start = Instant::now();
        let e = read(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(e.to_string(), "cannot read /dev/zero: it is a character device, not a regular file");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo has no other preconditions.
        #[allow(unsafe_code)]
        let made = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        assert_eq!(made, 0);
        let start = Instant::now();
        let e = read(&p, 1024).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(matches!(e, FileError::NotRegular { kind: "a FIFO (named pipe)", .. }), "{e:?}");
        // `profiles validate` judges who may read any key path a profile names, FIFOs included.
        let start = Instant::now();
        assert_eq!(sharing_of(&p).unwrap().change_problem(), None);
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(Size(64 * 1024).to_string(), "64 KiB");
        assert_eq!(Size(32 * 1024 * 1024).to_string(), "32 MiB");
        assert_eq!(Size(1000).to_string(), "1000 bytes");
    }
}
