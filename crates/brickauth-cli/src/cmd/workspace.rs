//! `clusters`, `api`, `whoami` and `exec`: the Databricks side of the CLI.
//!
//! Each command builds a [`WorkspaceClient`] from the selected profile — `host`, the Azure
//! workspace resource id (`azure_workspace_resource_id`, or its three parts, or
//! `$DATABRICKS_AZURE_RESOURCE_ID`) — with the profile's token provider as its token source, so
//! every request carries a token that is valid, refreshed silently when needed. Output is data
//! only, on stdout; `clusters list -o json` streams one JSON array page by page so memory stays
//! flat however many clusters there are.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use brickauth_cache::TokenOptions;
use brickauth_core::{ExposeSecret, Settings};
use brickauth_databricks::{ClusterDetails, ListOptions, Method, ResourceId, WorkspaceClient};
use brickauth_profile::Profile;

use crate::cli::{ApiArgs, ClusterFormat, ClustersCommand, ExecArgs};
use crate::cmd::print;
use crate::context::{self, Context, with_profile_note};
use crate::report::{Exit, Reported};

/// Tokens handed out are valid for at least this long.
const MIN_VALIDITY: Duration = Duration::from_secs(300);

fn usage(message: String) -> anyhow::Error {
    Reported::usage(message).into()
}

/// The profile's workspace host, or a profile error naming the key.
fn host(profile: &Profile) -> Result<String> {
    match profile.get("host").map(str::trim).filter(|h| !h.is_empty()) {
        Some(h) => Ok(h.to_owned()),
        None => Err(usage(format!(
            "profile `{}` has no `host`: set `host = \"https://adb-<workspace-id>.<n>.azuredatabricks.net\"`",
            profile.name()
        ))),
    }
}

/// The Azure workspace resource id from the profile or the environment, validated.
fn resource_id(profile: &Profile) -> Result<Option<ResourceId>> {
    let bad = |source: &str, e: brickauth_databricks::DatabricksError| {
        usage(format!("profile `{}`: {source}: {e}", profile.name()))
    };
    if let Some(id) = profile.get("azure_workspace_resource_id") {
        return ResourceId::parse(id).map(Some).map_err(|e| bad("azure_workspace_resource_id", e));
    }
    let parts = ["azure_subscription_id", "azure_resource_group", "azure_workspace_name"].map(|k| profile.get(k));
    match parts {
        [Some(sub), Some(rg), Some(name)] => ResourceId::from_parts(sub, rg, name)
            .map(Some)
            .map_err(|e| bad("azure_subscription_id + azure_resource_group + azure_workspace_name", e)),
        [None, None, None] => match std::env::var("DATABRICKS_AZURE_RESOURCE_ID") {
            Ok(id) if !id.trim().is_empty() => {
                ResourceId::parse(&id).map(Some).map_err(|e| bad("$DATABRICKS_AZURE_RESOURCE_ID", e))
            }
            _ => Ok(None),
        },
        _ => Err(usage(format!(
            "profile `{}` sets only some of azure_subscription_id, azure_resource_group, azure_workspace_name: \
             set all three, or azure_workspace_resource_id",
            profile.name()
        ))),
    }
}

/// When the profile has a workspace `host` but no `tenant_id`, find the tenant from the
/// workspace's `/aad/auth` redirect (as the Databricks SDKs do) and set it, saying so at `-v`.
///
/// Costs one HTTP client and one request, so it runs only when the key is missing.
pub fn discover_tenant_if_missing(profile: &mut Profile) -> Result<()> {
    if profile.get("tenant_id").is_some_and(|t| !t.trim().is_empty()) {
        return Ok(());
    }
    let Some(host) = profile.get("host").map(str::trim).filter(|h| !h.is_empty()).map(str::to_owned) else {
        return Ok(());
    };
    let http = brickauth_core::http::client_builder()?.build()?;
    let tenant =
        context::runtime()?.block_on(brickauth_databricks::discover_tenant(&http, &host)).with_context(|| {
            format!("profile `{}` has no tenant_id, and finding it from the workspace failed", profile.name())
        })?;
    tracing::info!("profile `{}` has no tenant_id: using {tenant}, discovered from {host}/aad/auth", profile.name());
    profile.set("tenant_id", &tenant, brickauth_profile::Origin::Default);
    Ok(())
}

/// The retry budget: `$BRICKAUTH_RETRY_BUDGET` seconds, else the client's default (300 s).
fn retry_budget() -> Option<Duration> {
    std::env::var("BRICKAUTH_RETRY_BUDGET").ok()?.trim().parse().ok().map(Duration::from_secs)
}

/// The workspace client for the selected profile.
fn client(cx: &Context) -> Result<(WorkspaceClient, Arc<Profile>)> {
    let mut profile = cx.profile(None)?;
    let host = host(&profile)?;
    let id = resource_id(&profile)?;
    discover_tenant_if_missing(&mut profile)?;
    let management = management_provider(&profile)?;
    let (provider, profile) = context::provider(profile, context::interaction(false))?;
    let mut client = WorkspaceClient::new(&host, Arc::new(provider))
        .map_err(|e| usage(format!("profile `{}`: host: {e}", profile.name())))?;
    if let Some(m) = management {
        client = client.with_management_token(Arc::new(m));
    }
    if let Some(id) = id {
        client = client.with_resource_id(id);
    }
    if let Some(budget) = retry_budget() {
        client = client.with_retry_budget(budget);
    }
    Ok((client, profile))
}

/// With `azure_management_token = true`: the same profile, asking for the cloud's
/// service-management scope instead — a second cache entry (the scope is part of the identity).
fn management_provider(profile: &Profile) -> Result<Option<brickauth_cache::TokenProvider>> {
    match profile.get("azure_management_token").map(str::trim) {
        Some("true") => {}
        _ => return Ok(None),
    }
    let app = brickauth_core::flow::app_config(profile)?;
    let cloud =
        brickauth_core::Cloud::from_authority_host(app.authority.host()).unwrap_or(brickauth_core::Cloud::Public);
    let mut management = profile.clone();
    management.set("scopes", cloud.management_scope(), brickauth_profile::Origin::Default);
    Ok(Some(context::provider(management, brickauth_core::Interaction::NONE)?.0))
}

/// Run `fut` on a fresh runtime; authentication failures get the profile note.
fn run<T>(profile: &Profile, fut: impl Future<Output = Result<T>>) -> Result<T> {
    context::runtime()?.block_on(fut).map_err(|e| with_profile_note(e, profile))
}

/// `brickauth clusters …`.
pub fn clusters(cx: &Context, command: &ClustersCommand) -> Result<ExitCode> {
    let (client, profile) = client(cx)?;
    match command {
        ClustersCommand::List { output } => {
            let mut pages = client.clusters().list(ListOptions { page_size: Some(100), ..ListOptions::default() });
            match output {
                ClusterFormat::Json => run(&profile, async {
                    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                    let mut first = true;
                    ok_or_pipe(out.write_all(b"["))?;
                    // The server's JSON, passed through unparsed: every field kept, nothing re-encoded.
                    while let Some(page) = pages.next_page_raw().await? {
                        for c in &page {
                            ok_or_pipe(out.write_all(if first { b"\n" } else { b",\n" }))?;
                            first = false;
                            ok_or_pipe(out.write_all(c.get().as_bytes()))?;
                        }
                    }
                    ok_or_pipe(out.write_all(b"\n]\n").and_then(|()| out.flush()))?;
                    Ok(ExitCode::SUCCESS)
                }),
                ClusterFormat::Table => {
                    let rows = run(&profile, async {
                        let mut rows = Vec::new();
                        while let Some(page) = pages.next_page().await? {
                            rows.extend(page.iter().map(row));
                        }
                        Ok(rows)
                    })?;
                    print(&table(rows))
                }
            }
        }
        ClustersCommand::Get { cluster_id } => {
            let c = run(&profile, async { Ok(client.clusters().get(cluster_id).await?) })?;
            print(&format!("{}\n", serde_json::to_string_pretty(&c)?))
        }
    }
}

/// A write error other than a closed pipe; a closed pipe (`| head`) ends the output quietly.
fn ok_or_pipe(r: std::io::Result<()>) -> Result<()> {
    r.or_else(pipe_ok).map_err(Into::into)
}

fn pipe_ok(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::BrokenPipe { Ok(()) } else { Err(e) }
}

const COLUMNS: [&str; 7] = ["CLUSTER ID", "NAME", "STATE", "RUNTIME", "NODE TYPE", "WORKERS", "CREATOR"];

fn row(c: &ClusterDetails) -> [String; 7] {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        s(&c.cluster_id),
        s(&c.cluster_name),
        s(&c.state),
        s(&c.spark_version),
        s(&c.node_type_id),
        c.workers(),
        s(&c.creator_user_name),
    ]
}

fn table(rows: Vec<[String; 7]>) -> String {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::NOTHING).force_no_tty().set_header(COLUMNS);
    for r in rows {
        t.add_row(r);
    }
    let mut text = String::new();
    for line in t.lines() {
        // comfy-table pads every cell by one space; the first column needs no left margin.
        let line = line.strip_prefix(' ').unwrap_or(&line);
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// `brickauth api METHOD PATH [--json BODY|@FILE] [--query k=v]…`.
pub fn api(cx: &Context, args: &ApiArgs) -> Result<ExitCode> {
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| usage(format!("`{}` is not an HTTP method", args.method)))?;
    if !args.path.starts_with('/') {
        return Err(usage(format!("the path `{}` must start with `/` (e.g. /api/2.1/clusters/list)", args.path)));
    }
    let mut query = Vec::new();
    for q in &args.query {
        let Some((k, v)) = q.split_once('=') else {
            return Err(usage(format!("--query `{q}`: expected KEY=VALUE")));
        };
        query.push((k.to_owned(), v.to_owned()));
    }
    let body = match &args.json {
        None => None,
        Some(text) => {
            let raw = match text.strip_prefix('@') {
                Some("-") => std::io::read_to_string(std::io::stdin()).context("cannot read the body from stdin")?,
                Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?,
                None => text.clone(),
            };
            let v: serde_json::Value =
                serde_json::from_str(&raw).map_err(|e| usage(format!("--json: not valid JSON: {e}")))?;
            Some(v)
        }
    };
    let (client, profile) = client(cx)?;
    let v = run(&profile, async { Ok(client.request(method, &args.path, &query, body.as_ref()).await?) })?;
    print(&format!("{}\n", serde_json::to_string_pretty(&v)?))
}

/// `brickauth whoami`.
pub fn whoami(cx: &Context) -> Result<ExitCode> {
    let (client, profile) = client(cx)?;
    let me = run(&profile, async { Ok(client.current_user().await?) })?;
    let mut text = me.user_name.clone().unwrap_or_else(|| "(no userName)".to_owned());
    if let Some(name) = me.display_name.as_deref().filter(|n| !n.is_empty()) {
        text.push_str(&format!(" ({name})"));
    }
    text.push('\n');
    eprintln!(
        "workspace {} · user id {} · profile `{}`",
        client.host(),
        me.id.as_deref().unwrap_or("?"),
        profile.name()
    );
    print(&text)
}

/// `brickauth exec -- CMD ARGS…`: run CMD with `DATABRICKS_HOST`, `DATABRICKS_TOKEN` and
/// `DATABRICKS_AUTH_TYPE=pat`, and exit with its exit code.
pub fn exec(cx: &Context, args: &ExecArgs) -> Result<ExitCode> {
    let mut profile = cx.profile(None)?;
    let raw_host = host(&profile)?;
    let workspace_host = brickauth_databricks::client::normalise(&raw_host)
        .map_err(|e| usage(format!("profile `{}`: host: {e}", profile.name())))?;
    discover_tenant_if_missing(&mut profile)?;
    let (provider, profile) = context::provider(profile, context::interaction(false))?;
    let opts = TokenOptions { force_refresh: false, min_validity: MIN_VALIDITY };
    let token = super::token::acquire(&provider, opts, &profile)?;
    let Some((program, rest)) = args.command.split_first() else {
        return Err(usage("exec: no command given".to_owned()));
    };
    let status = std::process::Command::new(program)
        .args(rest)
        .env("DATABRICKS_HOST", &workspace_host)
        .env("DATABRICKS_TOKEN", token.access_token.secret.expose_secret())
        .env("DATABRICKS_AUTH_TYPE", "pat")
        .status()
        .map_err(|e| Reported {
            code: if e.kind() == std::io::ErrorKind::NotFound { Exit::NotFound } else { Exit::CannotRun },
            message: format!("cannot run `{}`: {e}", program.to_string_lossy()),
        })?;
    Ok(ExitCode::from(exit_status_code(status)))
}

/// The child's exit code; killed by a signal → 128 + signal, as shells report it.
fn exit_status_code(status: std::process::ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return u8::try_from(128 + sig).unwrap_or(1);
        }
    }
    1
}
