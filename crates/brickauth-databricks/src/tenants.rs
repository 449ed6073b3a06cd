//! [`TenantMemory`]: the tenants found through workspaces' `/aad/auth` redirects, remembered.
//!
//! A profile with a workspace `host` and no `tenant_id` needs the tenant before it can even look
//! in the token cache (the tenant is part of a token's identity). Asking the workspace costs a
//! client and a round trip, which the cached path must not pay, so the answer is kept in a small
//! file next to the token cache, `tenants.json`, keyed by the normalised workspace URL:
//!
//! ```json
//! {"version": 1, "hosts": {"https://adb-1.2.azuredatabricks.net": {"tenant": "72f9…", "learned_at": 1764660000}}}
//! ```
//!
//! The file holds no secret, but it is written like the cache (directory 0700, file 0600, a temp
//! file renamed into place) because it says which tenants a user works with. Writers do not lock:
//! each write re-reads the file and changes one entry, and the worst a race can do is lose an
//! entry that is then learned again. A file that cannot be parsed is reported, never overwritten
//! silently: [`TenantMemory::remember`] replaces it only after a successful discovery.
//!
//! When the workspace moves to another tenant, tokens for the remembered one fail; the caller
//! then asks the workspace again ([`crate::discover_tenant`]) and, if the answer differs, says so
//! and remembers the new one — never silently.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file name inside the cache directory.
pub const FILE_NAME: &str = "tenants.json";
const VERSION: u32 = 1;

/// What can go wrong reading or writing the tenants file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TenantMemoryError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a tenants file this version understands.
    #[error("{path} is not a brickauth tenants file ({message}); delete it and it will be learned again")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    hosts: BTreeMap<String, Entry>,
}

/// One remembered tenant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// The tenant id the workspace's redirect named.
    pub tenant: String,
    /// When it was learned, in seconds since the Unix epoch.
    pub learned_at: i64,
}

/// The tenants file in one directory.
#[derive(Debug, Clone)]
pub struct TenantMemory {
    dir: PathBuf,
}

impl TenantMemory {
    /// The memory kept in `dir` (the token cache's directory).
    pub fn at(dir: impl Into<PathBuf>) -> TenantMemory {
        TenantMemory { dir: dir.into() }
    }

    /// The file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// The tenant remembered for the workspace `host` (normalised, as
    /// [`WorkspaceConfig::host`](crate::config::WorkspaceConfig::host) gives it).
    pub fn lookup(&self, host: &str) -> Result<Option<Entry>, TenantMemoryError> {
        Ok(self.read()?.hosts.get(&key(host)).cloned())
    }

    /// Remember `tenant` for `host`; returns the tenant remembered before, if it was another.
    pub fn remember(&self, host: &str, tenant: &str, now: i64) -> Result<Option<String>, TenantMemoryError> {
        let mut file = self.read().unwrap_or_default();
        file.version = VERSION;
        let previous = file
            .hosts
            .insert(key(host), Entry { tenant: tenant.to_owned(), learned_at: now })
            .map(|e| e.tenant)
            .filter(|t| t != tenant);
        self.write(&file)?;
        Ok(previous)
    }

    fn read(&self) -> Result<File, TenantMemoryError> {
        let path = self.path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(File::default()),
            Err(source) => return Err(TenantMemoryError::Io { path, source }),
        };
        let file: File = serde_json::from_str(&text)
            .map_err(|e| TenantMemoryError::Corrupt { path: path.clone(), message: e.to_string() })?;
        if file.version != VERSION {
            return Err(TenantMemoryError::Corrupt { path, message: format!("version {}", file.version) });
        }
        Ok(file)
    }

    fn write(&self, file: &File) -> Result<(), TenantMemoryError> {
        let io = |source| TenantMemoryError::Io { path: self.path(), source };
        create_private_dir(&self.dir).map_err(io)?;
        let tmp = self.dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
        let text = serde_json::to_vec_pretty(file).map_err(|e| io(std::io::Error::other(e)))?;
        let result = (|| {
            let mut f = private_file(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, self.path())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(io)
    }
}

/// The key of a host: its normalised URL, lower case, without a trailing slash.
fn key(host: &str) -> String {
    crate::client::normalise(host).unwrap_or_else(|_| host.trim().to_owned()).to_ascii_lowercase()
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_by_normalised_host() {
        let dir = tempfile::tempdir().unwrap();
        let m = TenantMemory::at(dir.path().join("cache"));
        assert_eq!(m.lookup("https://adb-1.2.azuredatabricks.net").unwrap(), None);
        assert_eq!(m.remember("adb-1.2.azuredatabricks.net/", "tenant-a", 100).unwrap(), None);
        let e = m.lookup("https://ADB-1.2.azuredatabricks.net").unwrap().unwrap();
        assert_eq!(e, Entry { tenant: "tenant-a".into(), learned_at: 100 });
        // The same tenant again is no change; another one reports the old.
        assert_eq!(m.remember("https://adb-1.2.azuredatabricks.net", "tenant-a", 200).unwrap(), None);
        assert_eq!(
            m.remember("https://adb-1.2.azuredatabricks.net", "tenant-b", 300).unwrap().as_deref(),
            Some("tenant-a")
        );
        assert_eq!(m.lookup("https://adb-1.2.azuredatabricks.net").unwrap().unwrap().tenant, "tenant-b");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(m.path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let mode = std::fs::metadata(dir.path().join("cache")).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
        }
    }

    #[test]
    fn a_corrupt_file_is_reported_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let m = TenantMemory::at(dir.path());
        std::fs::write(m.path(), "{not json").unwrap();
        let e = m.lookup("https://h.example").unwrap_err();
        assert!(e.to_string().contains("tenants.json is not a brickauth tenants file"), "{e}");
        // A discovery then replaces it.
        m.remember("https://h.example", "t", 1).unwrap();
        assert_eq!(m.lookup("https://h.example").unwrap().unwrap().tenant, "t");
    }
}
