//! `api`, `whoami` and `exec`, and the workspace client every Databricks command (`clusters` too,
//! in `clusters.rs`) is built with.
//!
//! Each command builds a [`WorkspaceClient`] from the selected profile — `host`, the Azure
//! workspace resource id (`azure_workspace_resource_id`, or its three parts, or
//! `$DATABRICKS_AZURE_RESOURCE_ID`) — with the profile's token provider as its token source, so
//! every request carries a token that is valid, refreshed silently when needed. Output is data
//! only, on stdout.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use brickauth_cache::{TenantMemory, TokenOptions};
use brickauth_core::{ExposeSecret, Settings};
use brickauth_databricks::{Method, WorkspaceClient, WorkspaceConfig};
use brickauth_flows::client_credentials::ClientCredentialsFlow;
use brickauth_profile::Profile;

use crate::cli::{ApiArgs, ExecArgs};
use crate::cmd::print;
use crate::context::{self, Context, with_profile_note};
use crate::report::{Exit, Reported};

/// Tokens handed out are valid for at least this long.
const MIN_VALIDITY: Duration = Duration::from_secs(300);

fn usage(message: String) -> anyhow::Error {
    Reported::usage(message).into()
}

/// The profile's workspace settings (`host`, resource id, management token), read once by the
/// Databricks crate; a bad or missing key is exit 2 naming it.
pub fn workspace_config(profile: &Profile) -> Result<WorkspaceConfig> {
    if profile.get("host").map(str::trim).is_none_or(str::is_empty) {
        return Err(usage(match profile.path() {
            None => {
                "no workspace: set $DATABRICKS_HOST (or pass --host https://adb-<workspace-id>.<n>.azuredatabricks.net)"
                    .to_owned()
            }
            Some(_) => format!(
                "profile `{}` has no `host`: set `host = \"https://adb-<workspace-id>.<n>.azuredatabricks.net\"` \
                 (or $DATABRICKS_HOST, or --host)",
                profile.name()
            ),
        }));
    }
    Ok(WorkspaceConfig::from_settings(profile, &|k| std::env::var(k).ok())?)
}

/// A profile with a workspace `host`, no `tenant_id` and a flow that needs one gets the tenant
/// the workspace belongs to: remembered in `tenants.json` next to the cache (no network), else
/// found from the workspace's `/aad/auth` redirect (as the Databricks SDKs do) and remembered.
/// Said at `-v`. The value's origin is "built-in default": that is how
/// [`relearn_tenant`] knows it was filled in here.
pub fn fill_tenant(profile: &mut Profile) -> Result<()> {
    if profile.get("tenant_id").is_some_and(|t| !t.trim().is_empty()) || !needs_tenant(profile) {
        return Ok(());
    }
    let Some(raw) = profile.get("host").map(str::trim).filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    let host = brickauth_databricks::client::normalise(raw)
        .map_err(|e| usage(format!("profile `{}`: host: {e}", profile.name())))?;
    let memory = tenant_memory()?;
    match memory.lookup(&host) {
        Ok(Some(entry)) => {
            tracing::info!(
                "profile `{}` has no tenant_id: using {}, remembered in {} for {host}",
                profile.name(),
                entry.tenant,
                memory.path().display()
            );
            profile.set("tenant_id", &entry.tenant, brickauth_profile::Origin::Default);
            return Ok(());
        }
        Ok(None) => {}
        Err(e) => tracing::warn!("{e}; asking {host} for its tenant again"),
    }
    let tenant = discover(profile, &host)?;
    if let Err(e) = memory.remember(&host, &tenant, brickauth_core::now()) {
        tracing::warn!("cannot remember the tenant of {host}: {e}");
    }
    tracing::info!("profile `{}` has no tenant_id: using {tenant}, discovered from {host}/aad/auth", profile.name());
    profile.set("tenant_id", &tenant, brickauth_profile::Origin::Default);
    Ok(())
}

/// After an authentication failure of a profile whose tenant [`fill_tenant`] supplied: ask the
/// workspace again. When it now names another tenant, say so, remember it, and return the
/// profile with the new tenant to try once more; `None` when nothing changed.
pub fn relearn_tenant(profile: &Profile) -> Result<Option<Profile>> {
    let filled = profile
        .entries()
        .into_iter()
        .any(|(k, _, origin)| k == "tenant_id" && origin == brickauth_profile::Origin::Default);
    let (Some(old), Some(raw), true) = (profile.get("tenant_id"), profile.get("host"), filled) else {
        return Ok(None);
    };
    let Ok(host) = brickauth_databricks::client::normalise(raw) else { return Ok(None) };
    let tenant = discover(profile, &host)?;
    if tenant == old {
        return Ok(None);
    }
    tracing::warn!(
        "the workspace {host} now belongs to tenant {tenant}, not {old} as remembered: signing in to {tenant} \
         (profile `{}`)",
        profile.name()
    );
    tenant_memory()?.remember(&host, &tenant, brickauth_core::now())?;
    let mut again = profile.clone();
    again.set("tenant_id", &tenant, brickauth_profile::Origin::Default);
    Ok(Some(again))
}

/// Whether the profile's flow needs a tenant it does not have (its cache identity cannot be
/// computed without one). Flows with no tenant (managed identity, Databricks M2M) need none.
fn needs_tenant(profile: &Profile) -> bool {
    matches!(brickauth_core::flow::app_config(profile), Err(e) if e.key.as_deref() == Some("tenant_id"))
}

fn tenant_memory() -> Result<TenantMemory> {
    Ok(TenantMemory::at(brickauth_cache::TokenCache::from_env()?.dir()))
}

/// One `/aad/auth` request. Costs one HTTP client, so it runs only when nothing is remembered.
fn discover(profile: &Profile, host: &str) -> Result<String> {
    let http = crate::retries::http_config()?.build()?;
    context::runtime()?.block_on(brickauth_databricks::discover_tenant(&http, host)).with_context(|| {
        format!("profile `{}` has no tenant_id, and finding it from the workspace failed", profile.name())
    })
}

/// The workspace client for the selected profile. The first token is acquired up front (cache
/// first), so a workspace that moved tenants is re-learned before any request.
pub(crate) fn client(cx: &Context) -> Result<(WorkspaceClient, Arc<Profile>)> {
    let profile = cx.profile(None)?;
    let ws = workspace_config(&profile)?;
    let opts = TokenOptions { force_refresh: false, min_validity: MIN_VALIDITY };
    let (_, provider, profile) = super::token::acquire_for(profile, context::interaction(false), opts)?;
    let management = match ws.management_scope() {
        Some(scope) => Some(Arc::new(management_provider(&profile, scope)?) as Arc<dyn brickauth_core::TokenSource>),
        None => None,
    };
    let mut client = ws
        .client(Arc::new(provider), management)
        .map_err(|e| usage(format!("profile `{}`: host: {e}", profile.name())))?;
    // Budgets: the client's defaults, which BRICKAUTH_RETRY_BUDGET and
    // BRICKAUTH_CONNECT_RETRY_BUDGET set.
    client = client.with_http_config(crate::retries::http_config()?).with_observer(crate::retries::observer());
    Ok((client, profile))
}

/// With `azure_management_token = true`: the profile's own flow asked, through its
/// `management_token()` API, for the cloud's service-management scope — cached as a second
/// entry (the scope is part of the identity).
fn management_provider(profile: &Profile, scope: &'static str) -> Result<brickauth_cache::TokenProvider> {
    let account = brickauth_cache::AccountHint {
        username: profile.get("username").map(str::to_owned),
        profile: profile.name().to_owned(),
    };
    // Built here, not on first use: workspace commands go to the network anyway.
    let flow = ClientCredentialsFlow::from_settings(profile)?;
    let flow = ManagementFlow { app: app_for(&flow, scope)?, flow };
    let cache = brickauth_cache::TokenCache::from_env()?;
    Ok(brickauth_cache::TokenProvider::new(cache, account, Box::new(flow)))
}

fn app_for(
    flow: &ClientCredentialsFlow,
    scope: &'static str,
) -> Result<brickauth_core::AppConfig, brickauth_core::ConfigError> {
    use brickauth_core::GrantFlow as _;
    let mut app = flow.app().clone();
    app.scopes = scope.parse().map_err(|e| brickauth_core::ConfigError::general(format!("scope `{scope}`: {e}")))?;
    Ok(app)
}

/// The client-credentials flow, asked for the management token instead of the profile's scopes.
#[derive(Debug)]
struct ManagementFlow {
    app: brickauth_core::AppConfig,
    flow: ClientCredentialsFlow,
}

impl brickauth_core::GrantFlow for ManagementFlow {
    fn app(&self) -> &brickauth_core::AppConfig {
        &self.app
    }

    fn acquire<'a>(
        &'a self,
        cx: &'a brickauth_core::FlowContext<'a>,
    ) -> brickauth_core::BoxFuture<'a, Result<brickauth_core::TokenResponse, brickauth_core::AuthError>> {
        let scope = self.app.scopes.joined();
        Box::pin(async move {
            // The public cloud's scope is the flow's own management_token(); other clouds name theirs.
            if scope == brickauth_flows::client_credentials::MANAGEMENT_SCOPE {
                self.flow.management_token(cx).await
            } else {
                self.flow.acquire_scope(cx, &scope).await
            }
        })
    }
}

/// Run `fut` on a fresh runtime; authentication failures get the profile note.
pub(crate) fn run<T>(profile: &Profile, fut: impl Future<Output = Result<T>>) -> Result<T> {
    context::runtime()?.block_on(fut).map_err(|e| with_profile_note(e, profile))
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

/// `brickauth exec [--static] -- CMD ARGS…`: run CMD with `DATABRICKS_HOST` and
/// `DATABRICKS_TOKEN`, and — unless `--static` — a loopback metadata service for CMD's lifetime
/// (`DATABRICKS_AUTH_TYPE=metadata-service`, `DATABRICKS_METADATA_SERVICE_URL`), so SDK-based
/// tools ask for a fresh token whenever theirs nears expiry. With `--static`,
/// `DATABRICKS_AUTH_TYPE=pat`. The profile's own secret variables (`password_env` and the like)
/// are removed from CMD's environment. Exits with CMD's exit code.
pub fn exec(cx: &Context, args: &ExecArgs) -> Result<ExitCode> {
    let profile = cx.profile(None)?;
    let ws = workspace_config(&profile)?;
    let Some((program, rest)) = args.command.split_first() else {
        return Err(usage("exec: no command given".to_owned()));
    };
    let secret_vars = secret_variables(&profile);
    let opts = TokenOptions { force_refresh: false, min_validity: MIN_VALIDITY };
    let (token, _, profile) = super::token::acquire_for(profile, context::interaction(false), opts)?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest).env("DATABRICKS_HOST", ws.host()).env("DATABRICKS_TOKEN", token.access_token.secret.expose_secret());
    for var in &secret_vars {
        cmd.env_remove(var);
    }
    let cannot_run = |e: std::io::Error| Reported {
        code: if e.kind() == std::io::ErrorKind::NotFound { Exit::NotFound } else { Exit::CannotRun },
        message: format!("cannot run `{}`: {e}", program.to_string_lossy()),
    };
    if args.r#static {
        cmd.env("DATABRICKS_AUTH_TYPE", "pat");
        let status = cmd.status().map_err(cannot_run)?;
        return Ok(ExitCode::from(exit_status_code(status)));
    }
    let min_validity = super::serve::min_validity(args.min_validity);
    let service = super::serve::service(&ws, &profile, min_validity)?;
    for (k, v) in service.env() {
        cmd.env(k, v);
    }
    let running = super::serve::Running::start(service)?;
    let mut child = cmd.spawn().map_err(cannot_run)?;
    running.forward_signals_to(child.id());
    let status = child.wait().context("waiting for the command")?;
    // The listener closes now: a request after CMD exited is refused.
    running.stop();
    Ok(ExitCode::from(exit_status_code(status)))
}

/// The environment variables the profile reads secrets from (`password_env = "VAR"` → `VAR`):
/// CMD has no business with them.
fn secret_variables(profile: &Profile) -> Vec<String> {
    profile
        .entries()
        .into_iter()
        .filter(|(k, _, _)| k.ends_with("_env"))
        .filter_map(|(_, v, _)| match v {
            brickauth_profile::DisplayValue::Plain(var) if !var.is_empty() => Some(var),
            _ => None,
        })
        .collect()
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
