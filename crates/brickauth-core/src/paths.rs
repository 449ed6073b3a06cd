//! The one home-directory rule, and `~` in paths a user writes.
//!
//! Every brickauth crate that needs the user's home directory (the profile file's default, the
//! token cache's fallback, `~/.databrickscfg`, `~/.azure`, a `*_file = "~/…"` key) asks
//! [`home_dir`], so they cannot disagree:
//!
//! - Unix: `$HOME`.
//! - Windows: `%USERPROFILE%` — what the Azure CLI (Python's `expanduser`) and the Databricks CLI
//!   (Go's `os.UserHomeDir`) use, so `~/.azure` and `~/.databrickscfg` are the files those tools
//!   write. `$HOME` (set by Git Bash or MSYS) is not consulted there.
//!
//! An empty variable counts as unset. Only the environment is read; no file is touched.
//!
//! A leading `~` is expanded by [`expand_tilde`] component by component, so on Windows
//! `~/.secrets/rt` becomes `C:\Users\ada\.secrets\rt`, never a path of mixed separators. For
//! messages, [`display`] writes a path under the home directory as `~/…` on Unix; on Windows it
//! shows the full path, as neither cmd.exe nor Explorer understands `~`.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// The variable that names the home directory on this platform: `HOME`, or `USERPROFILE` on
/// Windows. For messages ("`$HOME` is not set").
pub const HOME_VARIABLE: &str = if cfg!(windows) { "USERPROFILE" } else { "HOME" };

/// The user's home directory from [`HOME_VARIABLE`]; `None` when it is unset or empty.
pub fn home_dir() -> Option<PathBuf> {
    home_dir_with(&|name| std::env::var_os(name))
}

/// [`home_dir`] with the environment passed in (tests, and callers that read a captured
/// environment).
pub fn home_dir_with(var: &dyn Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    var(HOME_VARIABLE).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// `path` with a leading `~` (alone, or followed by a separator) replaced by [`home_dir`];
/// `~user/…`, other paths, and any path when there is no home directory are returned unchanged.
pub fn expand_tilde(path: &Path) -> PathBuf {
    expand_tilde_with(path, home_dir().as_deref())
}

/// [`expand_tilde`] with the home directory passed in.
pub fn expand_tilde_with(path: &Path, home: Option<&Path>) -> PathBuf {
    let Some(home) = home else { return path.to_owned() };
    // `Path::strip_prefix` works on components: `~/x` → `x`, `~` → ``, `~x` does not match.
    let Ok(rest) = path.strip_prefix("~") else { return path.to_owned() };
    // Pushed one component at a time: each is joined with this platform's separator.
    let mut out = home.to_owned();
    out.extend(rest.components().filter(|c| matches!(c, Component::Normal(_) | Component::ParentDir)));
    out
}

/// `path` for messages: under the home directory it reads `~/…` on Unix; elsewhere, and on
/// Windows, it is shown as it is.
pub fn display(path: &Path) -> String {
    display_with(path, home_dir().as_deref())
}

/// [`display`] with the home directory passed in.
pub fn display_with(path: &Path, home: Option<&Path>) -> String {
    if cfg!(windows) {
        return path.display().to_string();
    }
    match home.and_then(|home| path.strip_prefix(home).ok()) {
        Some(rest) if !rest.as_os_str().is_empty() => format!("~/{}", rest.display()),
        _ => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    #[cfg(unix)]
    #[test]
    fn unix_home_is_home_only() {
        assert_eq!(home_dir_with(&env(&[("HOME", "/home/ada"), ("USERPROFILE", "/u")])), Some("/home/ada".into()));
        assert_eq!(home_dir_with(&env(&[("USERPROFILE", "/u")])), None);
        assert_eq!(home_dir_with(&env(&[("HOME", "")])), None);
    }

    #[cfg(windows)]
    #[test]
    fn windows_home_is_userprofile_only() {
        let both = env(&[("HOME", "C:\\msys\\home\\ada"), ("USERPROFILE", "C:\\Users\\ada")]);
        assert_eq!(home_dir_with(&both), Some(PathBuf::from("C:\\Users\\ada")));
        assert_eq!(home_dir_with(&env(&[("HOME", "C:\\msys\\home\\ada")])), None);
        assert_eq!(home_dir_with(&env(&[("USERPROFILE", "")])), None);
    }

    #[cfg(unix)]
    #[test]
    fn unix_tilde_expansion() {
        let home = Some(Path::new("/home/ada"));
        assert_eq!(expand_tilde_with(Path::new("~/.secrets/rt"), home), Path::new("/home/ada/.secrets/rt"));
        assert_eq!(expand_tilde_with(Path::new("~"), home), Path::new("/home/ada"));
        assert_eq!(expand_tilde_with(Path::new("~/../x"), home), Path::new("/home/ada/../x"));
        assert_eq!(expand_tilde_with(Path::new("~bob/x"), home), Path::new("~bob/x"));
        assert_eq!(expand_tilde_with(Path::new("/abs/x"), home), Path::new("/abs/x"));
        assert_eq!(expand_tilde_with(Path::new("~/x"), None), Path::new("~/x"));
    }

    #[cfg(windows)]
    #[test]
    fn windows_tilde_expansion_uses_one_separator() {
        let home = Some(Path::new("C:\\Users\\ada"));
        let expanded = expand_tilde_with(Path::new("~/.secrets/rt"), home);
        assert_eq!(expanded.as_os_str(), "C:\\Users\\ada\\.secrets\\rt");
        assert_eq!(expand_tilde_with(Path::new("~\\.azure"), home).as_os_str(), "C:\\Users\\ada\\.azure");
        assert_eq!(expand_tilde_with(Path::new("~"), home).as_os_str(), "C:\\Users\\ada");
        assert_eq!(expand_tilde_with(Path::new("~bob/x"), home), Path::new("~bob/x"));
        assert_eq!(expand_tilde_with(Path::new("D:\\x"), home), Path::new("D:\\x"));
    }

    #[cfg(unix)]
    #[test]
    fn unix_display_shortens_home() {
        let home = Some(Path::new("/home/ada"));
        assert_eq!(display_with(Path::new("/home/ada/.config/b.toml"), home), "~/.config/b.toml");
        assert_eq!(display_with(Path::new("/home/ada"), home), "/home/ada");
        assert_eq!(display_with(Path::new("/home/adam/x"), home), "/home/adam/x");
        assert_eq!(display_with(Path::new("/etc/x"), None), "/etc/x");
    }

    #[cfg(windows)]
    #[test]
    fn windows_display_is_the_full_path() {
        let home = Some(Path::new("C:\\Users\\ada"));
        let path = Path::new("C:\\Users\\ada\\AppData\\Roaming\\brickauth\\profiles.toml");
        assert_eq!(display_with(path, home), "C:\\Users\\ada\\AppData\\Roaming\\brickauth\\profiles.toml");
    }
}
