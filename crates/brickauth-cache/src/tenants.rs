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
//! The file holds no secret, but which tenant a workspace's tokens are asked from is trust: a
//! planted file could send a sign-in to a tenant of someone else's choosing. So it is read and
//! written only through the crate's one module for files beside the cache (`files.rs`), like
//! `tokens.json`: the directory checked (ours, 0700) before the file is read or written, the file
//! opened without following a symbolic link and refused unless it is ours and nobody else can
//! write it, written through an exclusively created temp file renamed into place. Writers do not
//! lock: each write re-reads the file and changes one entry, and the worst a race can do is lose an
//! entry that is then learned again. A file that cannot be parsed is reported, never overwritten
//! silently: [`TenantMemory::remember`] replaces it only after a successful discovery.
//!
//! When the workspace moves to another tenant, tokens for the remembered one fail; the caller
//! then asks the workspace again (`brickauth_databricks::discover_tenant`) and, if the answer
//! differs, says so and remembers the new one — never silently.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::CacheError;
use crate::files;

/// The file name inside the cache directory.
pub const FILE_NAME: &str = "tenants.json";
const VERSION: u32 = 1;

/// What can go wrong reading or writing the tenants file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TenantMemoryError {
    /// The file or its directory could not be read or written, or is not to be trusted (another
    /// user's, a symbolic link, writable by others).
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The file is not a tenants file this version understands.
    #[error("{} is not a brickauth tenants file ({message}); delete it and it will be learned again", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
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
    /// `brickauth_databricks::WorkspaceConfig::host` gives it: `https://` and no trailing slash).
    pub fn lookup(&self, host: &str) -> Result<Option<Entry>, TenantMemoryError> {
        Ok(self.read()?.get(&files::host_key(host)).cloned())
    }

    /// Remember `tenant` for `host`; returns the tenant remembered before, if it was another.
    ///
    /// A file that cannot be parsed is replaced (the caller has just discovered the tenant); one
    /// that cannot be trusted, or a directory that cannot, is an error and nothing is written.
    pub fn remember(&self, host: &str, tenant: &str, now: i64) -> Result<Option<String>, TenantMemoryError> {
        let previous = files::update_memory(&self.dir, &self.path(), VERSION, |hosts| {
            hosts.insert(files::host_key(host), Entry { tenant: tenant.to_owned(), learned_at: now })
        })?;
        Ok(previous.map(|e| e.tenant).filter(|t| t != tenant))
    }

    fn read(&self) -> Result<BTreeMap<String, Entry>, TenantMemoryError> {
        let path = self.path();
        files::read_memory(&self.dir, &path, VERSION)?.map_err(|message| TenantMemoryError::Corrupt { path, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_by_normalised_host() {
        let dir = tempfile::tempdir().unwrap();
        let m = TenantMemory::at(dir.path().join("cache"));
        assert_eq!(m.lookup("https://adb-1.2.azuredatabricks.net").unwrap(), None);
        assert_eq!(m.remember("https://adb-1.2.azuredatabricks.net/", "tenant-a", 100).unwrap(), None);
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

    /// Issue 19 item 3: a neighbour's link at tenants.json or at the temp name the old code used
    /// never makes brickauth write through it.
    #[cfg(unix)]
    #[test]
    fn planted_links_are_refused_and_their_targets_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("bashrc");
        std::fs::write(&victim, "precious").unwrap();
        let cache = dir.path().join("cache");
        std::fs::create_dir(&cache).unwrap();
        let m = TenantMemory::at(&cache);

        // At the temp name the old code used (`.tenants.json.<pid>.tmp`): not used any more.
        let old_tmp = cache.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &old_tmp).unwrap();
        m.remember("https://h.example", "t", 1).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(std::fs::symlink_metadata(m.path()).unwrap().is_file());

        // At tenants.json itself: refused when read and when written.
        std::fs::remove_file(m.path()).unwrap();
        std::os::unix::fs::symlink(&victim, m.path()).unwrap();
        let e = m.lookup("https://h.example").unwrap_err().to_string();
        assert!(e.contains("tenants.json") && e.contains("symbolic link"), "{e}");
        let e = m.remember("https://h.example", "t", 2).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_file_others_can_write_is_not_trusted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let m = TenantMemory::at(dir.path());
        std::fs::write(
            m.path(),
            r#"{"version": 1, "hosts": {"https://h.example": {"tenant": "evil", "learned_at": 1}}}"#,
        )
        .unwrap();
        std::fs::set_permissions(m.path(), std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = m.lookup("https://h.example").unwrap_err().to_string();
        assert!(e.contains("tenants.json") && e.contains("mode 666"), "{e}");
    }

    /// Needs root: a directory or file of another user.
    #[cfg(unix)]
    #[test]
    fn another_users_directory_or_file_is_refused_before_anything_is_written() {
        // SAFETY: geteuid has no preconditions.
        #[allow(unsafe_code)]
        let root = unsafe { libc::geteuid() } == 0;
        if !root {
            eprintln!("skipped: needs root to chown a file to another user");
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let theirs = dir.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let m = TenantMemory::at(&theirs);
        let e = m.remember("https://h.example", "t", 1).unwrap_err().to_string();
        assert!(e.contains("belongs to user id 65534"), "{e}");
        assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 0, "wrote into another user's directory");

        let m = TenantMemory::at(dir.path());
        std::fs::write(
            m.path(),
            r#"{"version": 1, "hosts": {"https://h.example": {"tenant": "evil", "learned_at": 1}}}"#,
        )
        .unwrap();
        std::os::unix::fs::chown(m.path(), Some(65534), Some(65534)).unwrap();
        let e = m.lookup("https://h.example").unwrap_err().to_string();
        assert!(e.contains("tenants.json") && e.contains("belongs to user id 65534"), "{e}");
    }
}
