//! Live shell completion: `brickauth completions SHELL` prints a small script that asks the
//! binary itself for candidates (clap's dynamic completion engine, `BRICKAUTH_COMPLETE=<shell>`),
//! so `-p <TAB>` offers the profile names of the file in use, `--flow <TAB>` the linked flows and
//! `clusters get <TAB>` the workspace's cluster ids.
//!
//! Completing never signs anyone in and never prompts: cluster ids are listed only when the
//! profile has a valid cached token, with a short deadline; anything that fails yields no
//! candidates rather than an error (a completion has no place to show one).

use std::ffi::{OsStr, OsString};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use brickauth_core::Settings;
use clap_complete::CompletionCandidate;
use clap_complete::env::Shells;

use crate::context::Context;

/// The variable the completion scripts set when they call the binary.
pub const VAR: &str = "BRICKAUTH_COMPLETE";

/// `brickauth completions SHELL`: the registration script for `shell`. It calls this binary by
/// the name it was started with when that was a bare name (found on `$PATH`), else by its path.
pub fn script(shell: clap_complete::Shell) -> Result<ExitCode> {
    let name = shell.to_string();
    let shells = Shells::builtins();
    let Some(completer) = shells.completer(&name) else {
        anyhow::bail!("no completion support for {name}");
    };
    let argv0 = std::env::args_os().next().unwrap_or_else(|| OsString::from("brickauth"));
    let program = if std::path::Path::new(&argv0).components().count() > 1 {
        std::env::current_exe().map(|p| p.into_os_string()).unwrap_or(argv0)
    } else {
        argv0
    };
    let mut buf = Vec::new();
    completer.write_registration(VAR, "brickauth", "brickauth", &program.to_string_lossy(), &mut buf)?;
    crate::output::print(&String::from_utf8_lossy(&buf))
}

fn candidates<'a>(
    current: &OsStr,
    names: impl IntoIterator<Item = (&'a str, Option<String>)>,
) -> Vec<CompletionCandidate> {
    let prefix = current.to_string_lossy();
    let mut out: Vec<CompletionCandidate> = names
        .into_iter()
        .filter(|(n, _)| n.starts_with(prefix.as_ref()))
        .map(|(n, help)| CompletionCandidate::new(n).help(help.map(Into::into)))
        .collect();
    out.sort_by(|a, b| a.get_value().cmp(b.get_value()));
    out
}

/// `--config` as given on the command line being completed (`--config P` or `--config=P`).
fn config_flag() -> Option<std::path::PathBuf> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--config" {
            return it.next().map(Into::into);
        }
        if let Some(p) = a.to_str().and_then(|s| s.strip_prefix("--config=")) {
            return Some(p.into());
        }
    }
    None
}

/// `-p`/`--profile` as given on the command line being completed.
fn profile_flag() -> Option<String> {
    let args: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let mut it = args.iter().skip_while(|a| *a != "--");
    while let Some(a) = it.next() {
        if a == "-p" || a == "--profile" {
            return it.next().cloned();
        }
        if let Some(p) = a.strip_prefix("--profile=") {
            return Some(p.to_owned());
        }
    }
    None
}

fn context() -> Context {
    Context::new(config_flag(), profile_flag(), None, None)
}

/// Profile names — the TOML file's and the `~/.databrickscfg` sections no TOML profile hides, as
/// `-p` finds them — each with its flow as help.
pub fn profiles(current: &OsStr) -> Vec<CompletionCandidate> {
    let Ok(sources) = context().sources() else { return Vec::new() };
    let names: Vec<(String, Option<String>)> =
        sources.list().into_iter().map(|(n, p)| (n, p.ok().map(|p| p.flow().name.to_owned()))).collect();
    candidates(current, names.iter().map(|(n, h)| (n.as_str(), h.clone())))
}

/// Registered flow names and aliases, with their summaries.
pub fn flows(current: &OsStr) -> Vec<CompletionCandidate> {
    brickauth_flows::link();
    let specs = brickauth_core::flow::flows();
    let names = specs.iter().flat_map(|f| {
        std::iter::once((f.name, Some(f.summary.to_owned()))).chain(f.aliases.iter().map(|a| (*a, None)))
    });
    candidates(current, names)
}

/// Cluster ids of the selected profile's workspace — only with a valid cached token.
pub fn clusters(current: &OsStr) -> Vec<CompletionCandidate> {
    let ids = cluster_ids().unwrap_or_default();
    candidates(current, ids.iter().map(|(id, name)| (id.as_str(), Some(name.clone()))))
}

fn cluster_ids() -> Result<Vec<(String, String)>> {
    brickauth_flows::link();
    // Offline: a workspace's tenant only from memory, never asked for.
    let mut options = brickauth::Options::default();
    options.config = config_flag();
    options.profile = profile_flag();
    options.offline = true;
    let auth = brickauth::Auth::new(options);
    let profile = auth.select()?;
    if profile.get("host").is_none() {
        return Ok(Vec::new());
    }
    let ws = brickauth::workspace_config(&profile)?;
    let (host, resource_id) = (ws.host().to_owned(), ws.resource_id().cloned());
    let source = auth.source(profile)?;
    // The cache only: a completion never signs in or refreshes.
    let Some(cached) = source.cached(Duration::from_secs(60))? else { return Ok(Vec::new()) };
    let source = Arc::new(brickauth_core::StaticToken(cached.access_token));
    let mut client = brickauth_databricks::WorkspaceClient::new(&host, source)?.with_retry_budget(Duration::ZERO);
    if let Some(id) = resource_id {
        client = client.with_resource_id(id);
    }
    let mut pages = client.clusters().list(brickauth_databricks::ListOptions::default());
    brickauth::block_on(async {
        let mut out = Vec::new();
        let listing = async {
            while let Some(page) = pages.next_page().await? {
                out.extend(page.into_iter().filter_map(|c| Some((c.cluster_id?, c.cluster_name.unwrap_or_default()))));
                if out.len() >= 1000 {
                    break;
                }
            }
            anyhow::Ok(())
        };
        match tokio::time::timeout(Duration::from_secs(3), listing).await {
            Ok(r) => r?,
            Err(_) => anyhow::bail!("timed out"),
        }
        Ok(out)
    })?
}
