//! `brickauth app create`: your own app registration for Azure Databricks, in one step.
//!
//! Most people need none — the interactive flows sign in with the developer sign-on client. For
//! those who do (a tenant policy, their own name in the sign-in logs, their own consent):
//!
//! 1. Where: the profile named with `-p` (its host, tenant, cloud and authority, after the usual
//!    overrides), else `--host`/`$DATABRICKS_HOST` (the workspace's tenant, found from the host
//!    as for any profile), else `organizations`; the authority is `authority_host`,
//!    `$AZURE_AUTHORITY_HOST`, or the cloud's.
//! 2. Sign in to Microsoft Graph with the developer sign-on client — in a browser where one can
//!    open, else with a device code (`--no-browser` forces it), the rule the authorization-code
//!    flow follows. The token is used for this command only and not cached.
//! 3. `brickauth_graph::Graph::register_databricks_app` at the cloud's Graph host, or
//!    `$BRICKAUTH_GRAPH_HOST` (https, or http to loopback).
//! 4. Print `tenant_id` and `client_id` on stdout, and add a profile that uses the app (through
//!    `profiles add`), with the authority used; an existing profile of that name is left as it is.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use brickauth_core::app::DEVELOPER_SIGN_ON_CLIENT_ID;
use brickauth_core::{AppConfig, Authority, Cloud, FlowContext, GrantFlow, Interaction, Settings, StaticToken, Tenant};
use brickauth_flows::authorization_code::{AuthorizationCodeFlow, AuthorizationCodeOptions, browser_possible};
use brickauth_flows::device_code::{DeviceCodeFlow, DeviceCodeOptions};
use brickauth_graph::{Consent, Graph, GraphError};
use brickauth_profile::{Origin, Profile};
use clap::{Args, Subcommand};

use crate::context::{self, Context};
use crate::output::print;
use crate::report::{Exit, Reported};

/// Overrides the cloud's Microsoft Graph host (tests point it at the mock).
const GRAPH_HOST_VAR: &str = "BRICKAUTH_GRAPH_HOST";

/// `brickauth app`.
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register a public-client app for Azure Databricks through Microsoft Graph, and add a profile
    /// that uses it. -p P: the tenant, cloud and authority of profile P; else of --host
    Create(AppCreateArgs),
}

/// `brickauth app create`.
#[derive(Debug, Args)]
pub struct AppCreateArgs {
    /// The app's display name; an app of that name is reported, not created again
    #[arg(long, default_value = "brickauth")]
    pub name: String,
    /// Also grant tenant-wide (admin) consent: needs an administrator role
    #[arg(long)]
    pub grant_consent: bool,
    /// The profile to add [default: the app's name]
    #[arg(long, value_name = "NAME")]
    pub save_as: Option<String>,
    /// Sign in to Microsoft Graph with a device code even where a browser could open
    #[arg(long)]
    pub no_browser: bool,
}

pub fn run(cx: &Context, c: &AppCommand) -> Result<ExitCode> {
    match c {
        AppCommand::Create(args) => create(cx, args),
    }
}

/// Where the app is registered: what step 1 resolved.
struct Target {
    tenant: Tenant,
    cloud: Cloud,
    /// `Some` when not the cloud's own (a profile's `authority_host`, `$AZURE_AUTHORITY_HOST`).
    authority_host: Option<String>,
    host: Option<String>,
}

fn create(cx: &Context, args: &AppCreateArgs) -> Result<ExitCode> {
    let name = args.name.trim();
    if name.is_empty() {
        return Err(Reported::usage("--name: the app needs a name").into());
    }
    let save_as = args.save_as.clone().unwrap_or_else(|| profile_name(name));
    let browser = !args.no_browser && browser_possible();

    // 1. Where.
    let target = target(cx, browser)?;
    let authority = match &target.authority_host {
        Some(h) => {
            Authority::new(h, target.tenant.clone()).map_err(|e| Reported::usage(format!("authority_host: {e}")))?
        }
        None => Authority::cloud(target.cloud, target.tenant.clone()),
    };

    // Checked before anyone signs in: a Graph host that cannot be used is a usage error.
    let base = match std::env::var(GRAPH_HOST_VAR).ok().filter(|v| !v.trim().is_empty()) {
        Some(h) => {
            brickauth_core::app::secure_url(&h).map_err(|e| Reported::usage(format!("${GRAPH_HOST_VAR}: {e}")))?;
            tracing::info!("Microsoft Graph at {h} (${GRAPH_HOST_VAR})");
            h
        }
        None => brickauth_graph::host(target.cloud).to_owned(),
    };

    // 2. A Graph token for the developer sign-on client.
    let graph_scope = brickauth_graph::scope(target.cloud);
    let app = AppConfig {
        authority,
        client_id: DEVELOPER_SIGN_ON_CLIENT_ID.parse()?,
        scopes: graph_scope.parse().with_context(|| format!("scope {graph_scope}"))?,
    };
    let flow: Box<dyn GrantFlow> = if browser {
        Box::new(AuthorizationCodeFlow::new(AuthorizationCodeOptions::new(app)))
    } else {
        Box::new(DeviceCodeFlow::new(DeviceCodeOptions::new(app)))
    };
    tracing::info!(
        "signing in to Microsoft Graph ({graph_scope}) with the developer sign-on client at {}",
        flow.app().authority.token_endpoint()
    );
    let http = cx.auth().http_config()?;
    let client = brickauth_core::TokenClient::from_config(http.clone()).with_observer(crate::retries::observer());
    let prompt = crate::prompt::CliPrompt::new();
    let interaction = Interaction { terminal: true, ..context::interaction(args.no_browser) };
    let token = brickauth::block_on(flow.acquire(&FlowContext::new(&client, interaction).with_prompt(&prompt)))?
        .context("signing in to Microsoft Graph")?;

    // 3. Register.
    let graph =
        Graph::with_http_config(&base, Arc::new(StaticToken(token.access_token)), &http).map_err(|e| match e {
            GraphError::InvalidHost(_) => Reported::usage(format!("${GRAPH_HOST_VAR}: {e}")).into(),
            other => explain(other),
        })?;
    let done = brickauth::block_on(graph.register_databricks_app(name, args.grant_consent))?.map_err(explain)?;

    // 4. Say what there is, and add the profile.
    let app_id = &done.app.app_id;
    if done.existed {
        eprintln!(
            "An app named `{name}` exists already in tenant {}: client id {app_id} (left as it is).",
            done.tenant.id
        );
    } else {
        eprintln!(
            "Registered `{name}` in tenant {} ({}): client id {app_id}; public client, redirect URI {}, \
             Azure Databricks user_impersonation.",
            done.tenant.id,
            done.tenant.display_name,
            brickauth_graph::LOOPBACK_REDIRECT
        );
    }
    let consent_failed = match done.consent {
        Consent::Granted => {
            eprintln!("Granted tenant-wide consent: nobody in the tenant is asked to consent.");
            None
        }
        Consent::AlreadyGranted => {
            eprintln!("Tenant-wide consent was granted already.");
            None
        }
        Consent::NotAsked => {
            eprintln!(
                "No tenant-wide consent (--grant-consent): each user consents at first sign-in where the tenant \
                 allows it; else an administrator grants it for client id {app_id}."
            );
            None
        }
        Consent::Failed(e) => Some(e),
        _ => None,
    };
    let mut values = vec![("client_id".to_owned(), app_id.clone()), ("tenant_id".to_owned(), done.tenant.id.clone())];
    if let Some(h) = &target.host {
        values.push(("host".to_owned(), h.clone()));
    }
    if let Some(a) = &target.authority_host {
        values.push(("authority_host".to_owned(), a.clone()));
    } else if target.cloud != Cloud::Public {
        values.push(("cloud".to_owned(), cloud_name(target.cloud).to_owned()));
    }
    let flow_name = if browser { "authorization-code" } else { "device-code" };
    match super::profiles_edit::add_learned(cx, &save_as, flow_name, values)? {
        Some(summary) => eprintln!("{summary}"),
        None => eprintln!("Profile `{save_as}` exists already: left as it is (client_id {app_id} to use this app)."),
    }
    print(&format!("tenant_id = \"{}\"\nclient_id = \"{app_id}\"\n", done.tenant.id))?;
    match consent_failed {
        None => Ok(ExitCode::SUCCESS),
        Some(e) => Err(explain(e).context(format!(
            "the app `{name}` (client id {app_id}) is registered, but tenant-wide consent was not granted"
        ))),
    }
}

/// Step 1: the tenant, cloud, authority and host to register under.
fn target(cx: &Context, browser: bool) -> Result<Target> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let mut profile = if cx.profile.is_some() || cx.flow.is_some() {
        Some(cx.profile()?)
    } else {
        let host = cx
            .host
            .clone()
            .map(|h| (h, Origin::CommandLine("--host".into())))
            .or_else(|| env("DATABRICKS_HOST").map(|h| (h, Origin::Env("DATABRICKS_HOST".into()))));
        match host {
            Some((h, origin)) => {
                // The tenant of the host is found as for any profile without `tenant_id`.
                let flow = if browser { "authorization-code" } else { "device-code" };
                let mut p = Profile::implicit("app create", flow, &h, origin)?;
                cx.auth().apply_host(&mut p);
                Some(p)
            }
            None => None,
        }
    };
    if let Some(p) = profile.as_mut() {
        cx.auth().fill_tenant(p)?;
    }
    let get = |k: &str| profile.as_ref().and_then(|p| p.get(k)).map(str::trim).filter(|v| !v.is_empty());
    let tenant: Tenant = match get("tenant_id") {
        Some(t) => t.parse().map_err(|e| Reported::usage(format!("tenant_id: {e}")))?,
        None => Tenant::organizations(),
    };
    let authority_host = get("authority_host").map(str::to_owned).or_else(|| env("AZURE_AUTHORITY_HOST"));
    let cloud = match get("cloud") {
        Some(c) => c.parse().map_err(|e| Reported::usage(format!("cloud: {e}")))?,
        None => authority_host
            .as_deref()
            .and_then(Cloud::from_authority_host)
            .or_else(|| get("host").and_then(Cloud::from_workspace_host))
            .unwrap_or(Cloud::Public),
    };
    Ok(Target { tenant, cloud, authority_host, host: get("host").map(str::to_owned) })
}

/// A Graph error as the user reads it: a refusal says whom to ask, with exit 3 (someone with
/// rights must act); a token that could not be had keeps its own code.
fn explain(e: GraphError) -> anyhow::Error {
    match e {
        GraphError::Denied { .. } => Reported { code: Exit::Auth, message: e.to_string() }.into(),
        GraphError::Transport(a) => a.into(),
        GraphError::InvalidHost(_) => Reported::usage(e.to_string()).into(),
        other => Reported { code: Exit::Failure, message: other.to_string() }.into(),
    }
}

/// The profile name for an app name: letters, digits, `-` and `_` kept, the rest `-`.
fn profile_name(app: &str) -> String {
    app.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect()
}

fn cloud_name(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Public => "public",
        Cloud::UsGov => "usgov",
        Cloud::China => "china",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_from_app_names() {
        assert_eq!(profile_name("brickauth"), "brickauth");
        assert_eq!(profile_name("Data team's app"), "Data-team-s-app");
    }

    #[test]
    fn cloud_names_parse_back() {
        for c in [Cloud::Public, Cloud::UsGov, Cloud::China] {
            assert_eq!(cloud_name(c).parse::<Cloud>(), Ok(c));
        }
    }
}
