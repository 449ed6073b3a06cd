//! Provenance: where each value of a profile came from.
//!
//! Every entry of a [`Profile`](crate::Profile) carries an [`Origin`], so that `profiles show`
//! and authentication errors can say *why* a value is what it is: a line of the profile file,
//! the `[defaults]` table, an environment variable, a command-line flag or a built-in default.
//! Positions are 1-based line and column (columns count characters, not bytes), as editors show
//! them.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A key of a `[profiles.NAME]` table in the profile file.
    File {
        /// The profile file.
        path: PathBuf,
        /// 1-based line of the key.
        line: usize,
        /// 1-based column of the key.
        column: usize,
    },
    /// A key of the file's `[defaults]` table, merged under the profile.
    Defaults {
        /// The profile file.
        path: PathBuf,
        /// 1-based line of the key.
        line: usize,
        /// 1-based column of the key.
        column: usize,
    },
    /// A key of a section of the Databricks config file (`~/.databrickscfg`).
    DatabricksCfg {
        /// The Databricks config file.
        path: PathBuf,
        /// 1-based line of the key.
        line: usize,
        /// The key as the file writes it (`azure_client_id`), which may differ from the profile's.
        key: String,
    },
    /// An environment variable, by name (without the `$`).
    Env(String),
    /// A command-line flag, as the user would type it (`--host`).
    CommandLine(String),
    /// A built-in default.
    Default,
}

impl Origin {
    /// The file position for values that came from a file.
    pub fn position(&self) -> Option<(&Path, Position)> {
        match self {
            Origin::File { path, line, column } | Origin::Defaults { path, line, column } => {
                Some((path, Position::new(*line, Some(*column))))
            }
            Origin::DatabricksCfg { path, line, .. } => Some((path, Position::new(*line, None))),
            Origin::Env(_) | Origin::CommandLine(_) | Origin::Default => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line, column } => {
                write!(f, "{}:{line}:{column}", display_path(path))
            }
            Origin::Defaults { path, line, column } => {
                write!(f, "[defaults] at {}:{line}:{column}", display_path(path))
            }
            Origin::DatabricksCfg { path, line, .. } => write!(f, "{}:{line}", display_path(path)),
            Origin::Env(var) => write!(f, "${var}"),
            Origin::CommandLine(flag) => f.write_str(flag),
            Origin::Default => f.write_str("built-in default"),
        }
    }
}

/// A 1-based position in a file, as editors show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters; `None` where the format has no useful column (INI keys
    /// start their line).
    pub column: Option<u32>,
}

impl Position {
    /// A position from `usize`s (saturating: `u32` keeps [`ProfileError`](crate::ProfileError) small).
    pub fn new(line: usize, column: Option<usize>) -> Self {
        let small = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Position { line: small(line), column: column.map(small) }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(column) => write!(f, "{}:{column}", self.line),
            None => write!(f, "{}", self.line),
        }
    }
}

/// `path` for messages: under the home directory `~/…` on Unix, as users write it; the full path
/// on Windows ([`brickauth_core::paths::display`]).
pub fn display_path(path: &Path) -> String {
    brickauth_core::paths::display(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_the_design_says() {
        let file = Origin::File { path: "profiles.toml".into(), line: 12, column: 1 };
        assert_eq!(file.to_string(), "profiles.toml:12:1");
        let defaults = Origin::Defaults { path: "profiles.toml".into(), line: 3, column: 1 };
        assert_eq!(defaults.to_string(), "[defaults] at profiles.toml:3:1");
        assert_eq!(Origin::Env("ARM_CLIENT_ID".into()).to_string(), "$ARM_CLIENT_ID");
        assert_eq!(Origin::CommandLine("--host".into()).to_string(), "--host");
        assert_eq!(Origin::Default.to_string(), "built-in default");
    }
}
