//! Where the profile file lives, and `~` expansion.
//!
//! The search order is the contract of DESIGN §3: `--config PATH`, else `$BRICKAUTH_CONFIG`, else
//! `$XDG_CONFIG_HOME/brickauth/profiles.toml`, else a per-platform default:
//!
//! - Linux and other Unix: `~/.config/brickauth/profiles.toml` (the XDG default).
//! - macOS: also `~/.config/brickauth/profiles.toml`, not `~/Library/Application Support`: the
//!   tools our users already configure by hand (the Databricks and Azure CLIs, kubelogin) live
//!   in dot-directories of the home directory, and one documented path for both Unix flavours
//!   keeps the docs and the CI examples simple.
//! - Windows: `%APPDATA%\brickauth\profiles.toml` (the roaming profile, where per-user settings
//!   belong), falling back to `%USERPROFILE%\.config\brickauth\profiles.toml`.
//!
//! The home directory is [`brickauth_core::paths::home_dir`]'s (`$HOME` on Unix, `%USERPROFILE%`
//! on Windows). Only `std::env` is consulted; empty variables count as unset. This module never
//! touches the file system.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use brickauth_core::paths::{HOME_VARIABLE, expand_tilde_with, home_dir_with};

use crate::error::ProfileError;
use crate::origin::Origin;

/// The profile file's location and where that choice came from.
///
/// `flag` is the `--config` argument. A leading `~/` is expanded in the flag and in
/// `$BRICKAUTH_CONFIG` (shells do not expand it in `--config=~/…` or in quoted variables).
/// Errors only when no candidate can be formed (no home directory and nothing set).
pub fn config_path(flag: Option<&Path>) -> Result<(PathBuf, Origin), ProfileError> {
    config_path_with(flag, &|name| std::env::var_os(name))
}

/// [`config_path`] with the environment passed in, for tests.
fn config_path_with(
    flag: Option<&Path>,
    var: &dyn Fn(&str) -> Option<OsString>,
) -> Result<(PathBuf, Origin), ProfileError> {
    let var = |name: &str| var(name).filter(|v| !v.is_empty());
    let home = home_dir_with(&var);
    if let Some(path) = flag {
        return Ok((expand_tilde_with(path, home.as_deref()), Origin::CommandLine("--config".into())));
    }
    if let Some(path) = var("BRICKAUTH_CONFIG") {
        let path = expand_tilde_with(Path::new(&path), home.as_deref());
        return Ok((path, Origin::Env("BRICKAUTH_CONFIG".into())));
    }
    // The XDG spec says relative values are invalid and must be ignored.
    if let Some(dir) = var("XDG_CONFIG_HOME").map(PathBuf::from).filter(|d| d.is_absolute()) {
        return Ok((dir.join("brickauth").join("profiles.toml"), Origin::Env("XDG_CONFIG_HOME".into())));
    }
    if cfg!(windows)
        && let Some(dir) = var("APPDATA")
    {
        return Ok((PathBuf::from(dir).join("brickauth").join("profiles.toml"), Origin::Env("APPDATA".into())));
    }
    match home {
        Some(home) => Ok((home.join(".config").join("brickauth").join("profiles.toml"), Origin::Default)),
        None => Err(ProfileError::Other(format!(
            "cannot locate the profile file: no home directory (${HOME_VARIABLE} is not set); \
             pass --config PATH or set BRICKAUTH_CONFIG"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + use<> {
        let map: BTreeMap<String, OsString> = pairs.iter().map(|(k, v)| (k.to_string(), OsString::from(v))).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn flag_wins_over_everything() {
        let vars = env(&[("BRICKAUTH_CONFIG", "/b.toml"), (HOME_VARIABLE, "/home/ada")]);
        let (path, origin) = config_path_with(Some(Path::new("~/p.toml")), &vars).unwrap();
        assert_eq!(path, Path::new("/home/ada/p.toml"));
        assert_eq!(origin, Origin::CommandLine("--config".into()));
    }

    #[test]
    fn then_brickauth_config_then_xdg() {
        let vars = env(&[("BRICKAUTH_CONFIG", "/b.toml"), ("XDG_CONFIG_HOME", "/xdg"), (HOME_VARIABLE, "/h")]);
        let (path, origin) = config_path_with(None, &vars).unwrap();
        assert_eq!((path.as_path(), origin.to_string().as_str()), (Path::new("/b.toml"), "$BRICKAUTH_CONFIG"));

        // An absolute directory on this platform (`/xdg` is not one on Windows: no drive).
        let xdg = if cfg!(windows) { "C:\\xdg" } else { "/xdg" };
        let set = [("BRICKAUTH_CONFIG", ""), ("XDG_CONFIG_HOME", xdg), (HOME_VARIABLE, "/h")];
        let vars = env(&set);
        let (path, origin) = config_path_with(None, &vars).unwrap();
        assert_eq!(path, Path::new(xdg).join("brickauth").join("profiles.toml"));
        assert_eq!(origin, Origin::Env("XDG_CONFIG_HOME".into()));
    }

    #[cfg(unix)]
    #[test]
    fn then_home_config_and_relative_xdg_is_ignored() {
        let vars = env(&[("XDG_CONFIG_HOME", "relative"), (HOME_VARIABLE, "/home/ada")]);
        let (path, origin) = config_path_with(None, &vars).unwrap();
        assert_eq!(path, Path::new("/home/ada/.config/brickauth/profiles.toml"));
        assert_eq!(origin, Origin::Default);
    }

    #[cfg(unix)]
    #[test]
    fn no_home_is_an_error_that_says_what_to_do() {
        let err = config_path_with(None, &env(&[])).unwrap_err().to_string();
        assert!(err.contains("--config"), "{err}");
    }
}
