//! [`HostMemory`]: what Databricks hosts said about themselves at
//! `/.well-known/databricks-config`, remembered beside the tenant memory.
//!
//! A unified host's workspace id, or the account an account-level path needs, can come from the
//! host's metadata. Asking costs a round trip (the Databricks CLI caches it for the same reason),
//! so the answer is kept in `hosts.json` next to the token cache, keyed by the normalised host
//! URL — and so is a host's 404, so that a host which offers no metadata is not asked again on
//! every call:
//!
//! ```json
//! {"version": 1, "hosts": {"https://accounts.azuredatabricks.net": {"metadata": {"account_id": "…"}, "learned_at": 1764660000}}}
//! ```
//!
//! `metadata` is the host's JSON object as it came (the Databricks client validates each field
//! when it reads it), `null` for a host that answered 404. An entry older than [`MAX_AGE`] is not
//! used: the host is asked again.
//!
//! What a host says decides which account's paths and which workspace header a request
//! carries, so the file gets the same care as `tenants.json`: read and written only through
//! `files.rs` (directory ours and 0700, no symbolic link, the file ours and writable by nobody
//! else, a size limit, an exclusively created temp file renamed into place). Writers do not lock;
//! the worst a race does is lose an entry that is then asked for again. A file that cannot be
//! parsed is reported, and replaced only by [`HostMemory::remember`] after a fresh answer.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::CacheError;
use crate::files;

/// The file name inside the cache directory.
pub const FILE_NAME: &str = "hosts.json";
/// How long an answer (or a 404) is used before the host is asked again: a day, in seconds.
pub const MAX_AGE: i64 = 24 * 3600;
const VERSION: u32 = 1;

/// What can go wrong reading or writing the hosts file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostMemoryError {
    /// The file or its directory could not be read or written, or is not to be trusted (another
    /// user's, a symbolic link, writable by others).
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The file is not a hosts file this version understands.
    #[error("{} is not a brickauth hosts file ({message}); delete it and it will be learned again", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One remembered answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HostEntry {
    /// The host's JSON object; `None` when it answered 404 (it offers no metadata).
    pub metadata: Option<Value>,
    /// When it was asked, in seconds since the Unix epoch.
    pub learned_at: i64,
}

/// The hosts file in one directory.
#[derive(Debug, Clone)]
pub struct HostMemory {
    dir: PathBuf,
}

impl HostMemory {
    /// The memory kept in `dir` (the token cache's directory).
    pub fn at(dir: impl Into<PathBuf>) -> HostMemory {
        HostMemory { dir: dir.into() }
    }

    /// The file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// The answer remembered for `host` (normalised: `https://…`, no trailing slash), if it was
    /// learned less than [`MAX_AGE`] before `now` (and not in the future).
    pub fn lookup(&self, host: &str, now: i64) -> Result<Option<HostEntry>, HostMemoryError> {
        let fresh = |e: &HostEntry| e.learned_at <= now && now - e.learned_at < MAX_AGE;
        Ok(self.read()?.remove(&files::host_key(host)).filter(fresh))
    }

    /// Remember `metadata` (`None`: the host answered 404) for `host`, learned at `now`.
    ///
    /// A file that cannot be parsed is replaced (the caller has just asked the host); one that
    /// cannot be trusted, or a directory that cannot, is an error and nothing is written.
    pub fn remember(&self, host: &str, metadata: Option<&Value>, now: i64) -> Result<(), HostMemoryError> {
        files::update_memory(&self.dir, &self.path(), VERSION, |hosts| {
            hosts.insert(files::host_key(host), HostEntry { metadata: metadata.cloned(), learned_at: now });
        })?;
        Ok(())
    }

    fn read(&self) -> Result<BTreeMap<String, HostEntry>, HostMemoryError> {
        let path = self.path();
        files::read_memory(&self.dir, &path, VERSION)?.map_err(|message| HostMemoryError::Corrupt { path, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn remembers_answers_and_404s_for_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let m = HostMemory::at(dir.path().join("cache"));
        assert_eq!(m.lookup("https://accounts.azuredatabricks.net", 100).unwrap(), None);
        let meta = json!({"account_id": "0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6", "host_type": "account"});
        m.remember("https://ACCOUNTS.azuredatabricks.net/", Some(&meta), 100).unwrap();
        m.remember("https://adb-1.2.azuredatabricks.net", None, 100).unwrap();
        let e = m.lookup("https://accounts.azuredatabricks.net", 100 + MAX_AGE - 1).unwrap().unwrap();
        assert_eq!(e, HostEntry { metadata: Some(meta), learned_at: 100 });
        let e = m.lookup("https://adb-1.2.azuredatabricks.net", 200).unwrap().unwrap();
        assert_eq!(e.metadata, None, "a 404 is remembered as such");
        // Stale, or from the future (a clock that jumped back): asked again.
        assert_eq!(m.lookup("https://accounts.azuredatabricks.net", 100 + MAX_AGE).unwrap(), None);
        assert_eq!(m.lookup("https://accounts.azuredatabricks.net", 99).unwrap(), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(m.path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn a_corrupt_file_is_reported_naming_it_then_replaced_by_an_answer() {
        let dir = tempfile::tempdir().unwrap();
        let m = HostMemory::at(dir.path());
        std::fs::write(m.path(), "{not json").unwrap();
        let e = m.lookup("https://h.example", 1).unwrap_err();
        assert!(e.to_string().contains("hosts.json is not a brickauth hosts file"), "{e}");
        m.remember("https://h.example", None, 1).unwrap();
        assert!(m.lookup("https://h.example", 1).unwrap().is_some());
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_link_or_a_file_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let cache = dir.path().join("cache");
        std::fs::create_dir(&cache).unwrap();
        let m = HostMemory::at(&cache);
        std::os::unix::fs::symlink(&victim, m.path()).unwrap();
        let e = m.lookup("https://h.example", 1).unwrap_err().to_string();
        assert!(e.contains("hosts.json") && e.contains("symbolic link"), "{e}");
        assert!(m.remember("https://h.example", None, 1).unwrap_err().to_string().contains("symbolic link"));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");

        std::fs::remove_file(m.path()).unwrap();
        std::fs::write(m.path(), r#"{"version": 1, "hosts": {}}"#).unwrap();
        std::fs::set_permissions(m.path(), std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = m.lookup("https://h.example", 1).unwrap_err().to_string();
        assert!(e.contains("hosts.json") && e.contains("mode 666"), "{e}");
    }
}
