//! The profile a token helper means by a workspace host (`auth token --host H`, the call the
//! Databricks SDKs make).
//!
//! Hosts are compared as URLs — scheme included — after the client's normalisation (`https://`
//! added to a bare name, the default port and a trailing slash dropped, case folded). A clear-text
//! `http://` host is refused unless it is loopback: a token must never be handed to a caller that
//! will send it unencrypted (the Databricks SDK did, with `--host http://…`).
//!
//! Every profile of both files with that host is a candidate — and with `--account-id A` (what
//! the SDKs pass for an account host, `https://accounts.azuredatabricks.net`) only those whose
//! `account_id` is `A`, with `--workspace-id W` also only those whose `workspace_id` is `W`: a
//! profile on the same host for another account, or for none, is never handed out. One
//! candidate: it. Several: the first rule that picks one —
//!
//! 1. the profile `$BRICKAUTH_PROFILE`, else `$DATABRICKS_CONFIG_PROFILE`, names (an SDK
//!    configured through the environment passes that variable down to its helper);
//! 2. the one `~/.databrickscfg` section with that host whose `databricks_cli_path` is this
//!    program (the section the calling SDK read);
//! 3. the one profile marked `default_for_host = true`;
//!
//! otherwise an error naming the candidates and the fix. The file's `default_profile` is never
//! used to break the tie: it is the user's default for commands, not a statement about which
//! account a tool on that host should get.

use std::path::{Path, PathBuf};

use brickauth_core::{AccountId, Settings, WorkspaceId};
use brickauth_profile::{Profile, Sources};

use crate::{Error, Result};

/// The profile key that marks the profile picked among several on one host.
pub const DEFAULT_FOR_HOST: &str = "default_for_host";

/// What a token helper is asked for: a host, and on account and unified hosts the account (and
/// the workspace) — `auth token --host H [--account-id A] [--workspace-id W]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The host, as given (`https://…` or a bare name).
    pub host: String,
    /// `--account-id`: only profiles with this `account_id`.
    pub account_id: Option<AccountId>,
    /// `--workspace-id`: only profiles with this `workspace_id`.
    pub workspace_id: Option<WorkspaceId>,
}

impl Target {
    /// Just a host.
    pub fn host(host: &str) -> Target {
        Target { host: host.to_owned(), ..Target::default() }
    }

    /// Whether `profile` is for this target's account and workspace, where the target names
    /// them (ids compared as core parses them: an account id as a GUID). The host is not compared.
    pub fn ids_fit(&self, profile: &Profile) -> bool {
        self.account_id.as_ref().is_none_or(|a| id_of::<AccountId>(profile, "account_id").as_ref() == Some(a))
            && self
                .workspace_id
                .as_ref()
                .is_none_or(|w| id_of::<WorkspaceId>(profile, "workspace_id").as_ref() == Some(w))
    }

    /// How an error names a profile's ids that do not fit: `acct (account_id …, no workspace_id)`.
    pub fn describe(&self, profile: &Profile) -> String {
        let shown = |key: &str, v: Option<String>| v.map_or(format!("no {key}"), |v| format!("{key} {v}"));
        let mut ids = vec![shown("account_id", id_of::<AccountId>(profile, "account_id").map(|a| a.to_string()))];
        if self.workspace_id.is_some() {
            ids.push(shown("workspace_id", id_of::<WorkspaceId>(profile, "workspace_id").map(|w| w.to_string())));
        }
        format!("{} ({})", profile.name(), ids.join(", "))
    }
}

pub(crate) fn profile_for_host(
    sources: &Sources,
    target: &Target,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Profile> {
    let host = target.host.as_str();
    let wanted = brickauth_databricks::client::normalise(host)
        .map_err(|e| Error::Usage(format!("--host `{host}`: {e}; a token is only handed out for https")))?;
    let mut candidates: Vec<Profile> = Vec::new();
    let mut hosts: Vec<String> = Vec::new();
    // Profiles on the host that another account (or workspace) id excluded, with their ids.
    let mut others: Vec<String> = Vec::new();
    for (name, profile) in sources.list() {
        let Ok(profile) = profile else { continue };
        let Some(own) = profile.get("host").map(str::trim).filter(|h| !h.is_empty()) else { continue };
        hosts.push(format!("{name} ({own})"));
        if !brickauth_databricks::client::normalise(own).is_ok_and(|h| h.eq_ignore_ascii_case(&wanted)) {
            continue;
        }
        if target.ids_fit(&profile) {
            candidates.push(profile);
        } else {
            others.push(target.describe(&profile));
        }
    }
    let names: Vec<String> = candidates.iter().map(|p| p.name().to_owned()).collect();
    match candidates.len() {
        0 if !others.is_empty() => {
            let mut ids = Vec::new();
            if let Some(a) = &target.account_id {
                ids.push(format!("account_id = \"{a}\""));
            }
            if let Some(w) = &target.workspace_id {
                ids.push(format!("workspace_id = \"{w}\""));
            }
            return Err(Error::Usage(format!(
                "no profile has host `{wanted}` and {}: the profiles on that host are for another account or \
                 workspace ({}); add `{}` to the profile tools should use for it",
                ids.join(" and "),
                others.join(", "),
                ids.join("` and `")
            )));
        }
        0 => {
            return Err(Error::Usage(format!(
                "no profile has host `{wanted}`{}; add `host = \"{wanted}\"` to the profile tools on this workspace \
                 should use",
                if hosts.is_empty() { String::new() } else { format!(" (profiles with a host: {})", hosts.join(", ")) }
            )));
        }
        1 => return Ok(candidates.remove(0)),
        _ => {}
    }
    let pick = |name: &str, why: String| -> Result<Profile> {
        tracing::info!("{} profiles have host `{wanted}`; using `{name}`: {why}", names.len());
        let i = names.iter().position(|n| n == name).unwrap_or(0);
        Ok(candidates[i].clone())
    };
    for v in ["BRICKAUTH_PROFILE", "DATABRICKS_CONFIG_PROFILE"] {
        if let Some(name) = var(v).map(|n| n.trim().to_owned()).filter(|n| names.contains(n)) {
            return pick(&name, format!("${v} names it"));
        }
    }
    if let Some(cfg) = &sources.databrickscfg {
        let me = this_program();
        let ours: Vec<&String> = names
            .iter()
            .filter(|n| {
                cfg.value(n, "databricks_cli_path")
                    .is_some_and(|p| me.as_deref().is_some_and(|me| is_program(p, me, var)))
            })
            .collect();
        if let [one] = ours.as_slice() {
            return pick(one, format!("its section in {} runs this brickauth", cfg.path().display()));
        }
    }
    let mut marked = Vec::new();
    for p in &candidates {
        match p.get(DEFAULT_FOR_HOST).map(str::trim) {
            None | Some("false") => {}
            Some("true") => marked.push(p.name().to_owned()),
            Some(v) => {
                return Err(Error::Config(
                    brickauth_core::ConfigError::new(p.name(), DEFAULT_FOR_HOST, format!("`{v}` is not true or false"))
                        .at(p.origin(DEFAULT_FOR_HOST)),
                ));
            }
        }
    }
    match marked.as_slice() {
        [one] => return pick(one, format!("it has {DEFAULT_FOR_HOST} = true")),
        [] => {}
        several => {
            return Err(Error::Usage(format!(
                "profiles {} all have host `{wanted}` and {DEFAULT_FOR_HOST} = true; keep it on one",
                quoted(several)
            )));
        }
    }
    Err(Error::Usage(format!(
        "profiles {} all have host `{wanted}`, and the caller named none of them. Fix with one line: add \
         `{DEFAULT_FOR_HOST} = true` to the one tools should get (e.g. [profiles.{}]), or set \
         DATABRICKS_CONFIG_PROFILE / BRICKAUTH_PROFILE for the tool, or run it under `brickauth -p NAME exec`",
        quoted(&names),
        names[0]
    )))
}

/// A profile's `account_id` or `workspace_id`, as core parses it (validated when the profile
/// was loaded, so a value that does not parse is not there).
fn id_of<T: std::str::FromStr>(profile: &Profile, key: &str) -> Option<T> {
    profile.get(key).and_then(|v| v.parse().ok())
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// This program's own path, resolved.
fn this_program() -> Option<PathBuf> {
    std::env::current_exe().ok().and_then(|p| p.canonicalize().ok())
}

/// Whether `configured` (a `databricks_cli_path`: a path, or a bare name looked up in `$PATH`)
/// is the program at `me`.
fn is_program(configured: &str, me: &Path, var: &dyn Fn(&str) -> Option<String>) -> bool {
    let configured = Path::new(configured);
    let same = |p: &Path| p.canonicalize().is_ok_and(|p| p == me);
    if configured.components().count() > 1 {
        return same(configured);
    }
    var("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| same(&dir.join(configured))))
}
