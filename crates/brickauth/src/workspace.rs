//! The workspace client for a [`Source`]: its profile's `host`, the Azure workspace resource id
//! (`azure_workspace_resource_id`, its three parts, or `$DATABRICKS_AZURE_RESOURCE_ID`), with
//! `azure_management_token = true` the service-management token header, and on a unified host
//! the workspace id header.
//!
//! Host metadata (`/.well-known/databricks-config`) is asked for only where it can tell
//! something the profile leaves open ([`WorkspaceConfig::wants_metadata`]: the account id a path
//! needs; a unified host's workspace id): remembered in `hosts.json` beside the cache for a day,
//! a 404 included, and any failure to get it is said at `-v` and otherwise ignored — the profile's
//! own settings still work. A classic workspace profile never asks, and no token command ever
//! does (this runs only when a workspace client is built).

use std::sync::Arc;

use brickauth_cache::{AccountHint, HostMemory, TokenProvider};
use brickauth_core::{AppConfig, AuthError, BoxFuture, ConfigError, FlowContext, GrantFlow, Settings, TokenResponse};
use brickauth_databricks::{HostMetadata, WorkspaceClient, WorkspaceConfig};
use brickauth_flows::client_credentials::ClientCredentialsFlow;
use brickauth_profile::Profile;

use crate::{Auth, Error, Result, Source};

/// The profile's workspace settings; a missing `host` is a configuration error naming what sets it.
pub fn config(profile: &Profile) -> Result<WorkspaceConfig> {
    if profile.get("host").map(str::trim).is_none_or(str::is_empty) {
        let message = match profile.path() {
            None => {
                "no workspace: set $DATABRICKS_HOST (or pass --host https://adb-<workspace-id>.<n>.azuredatabricks.net)"
                    .to_owned()
            }
            Some(_) => "no `host`: set `host = \"https://adb-<workspace-id>.<n>.azuredatabricks.net\"` (or \
                        $DATABRICKS_HOST, or --host)"
                .to_owned(),
        };
        // The environment-only mode's profile has no name a user chose: name none.
        let name = profile.path().map(|_| profile.name().to_owned());
        return Err(Error::Config(ConfigError { profile: name, ..ConfigError::general(message) }));
    }
    Ok(WorkspaceConfig::from_settings(profile, &|k| std::env::var(k).ok())?)
}

pub(crate) fn client(auth: &Auth, source: &Source, needs_account: bool) -> Result<(WorkspaceClient, WorkspaceConfig)> {
    let profile = source.profile();
    let mut ws = config(&profile)?;
    if ws.wants_metadata(needs_account)
        && let Some(meta) = host_metadata(auth, ws.host())
    {
        ws = ws.with_metadata(&meta);
    }
    let management = match ws.management_scope() {
        Some(scope) => {
            Some(Arc::new(management_provider(auth, &profile, scope)?) as Arc<dyn brickauth_core::TokenSource>)
        }
        None => None,
    };
    let source: Arc<dyn brickauth_core::TokenSource> = Arc::new(source.share());
    let mut client = ws.client(source, management)?.with_http_config(auth.http_config()?);
    if let Some(observer) = &auth.options().observer {
        client = client.with_observer(observer.clone());
    }
    Ok((client, ws))
}

/// What `host` says about itself: remembered, else asked (unless offline) and remembered. `None`
/// when it offers nothing (404) or cannot be asked; said at `-v`, never an error.
fn host_metadata(auth: &Auth, host: &str) -> Option<HostMetadata> {
    let now = brickauth_core::now();
    let memory = match auth.cache() {
        Ok(cache) => Some(HostMemory::at(cache.dir())),
        Err(e) => {
            tracing::info!("host metadata of {host} not remembered: {e}");
            None
        }
    };
    match memory.as_ref().map(|m| m.lookup(host, now)) {
        Some(Ok(Some(entry))) => {
            tracing::debug!("host metadata of {host}: remembered since {}", entry.learned_at);
            return entry.metadata.as_ref().map(HostMetadata::parse);
        }
        Some(Err(e)) => tracing::warn!("{e}; asking {host} again"),
        Some(Ok(None)) | None => {}
    }
    if auth.options().offline {
        return None;
    }
    let fetch = || async {
        let http = auth.http_config()?.build().map_err(|e| {
            Error::Databricks(brickauth_databricks::DatabricksError::Transport {
                url: host.to_owned(),
                message: e.to_string(),
            })
        })?;
        Ok(brickauth_databricks::fetch_host_metadata(&http, host).await?)
    };
    let answer = match crate::tenant::on_runtime(fetch) {
        Ok(answer) => answer,
        Err(e) => {
            tracing::info!("host metadata of {host} not available ({e}); going on with the profile's settings");
            return None;
        }
    };
    if answer.is_none() {
        tracing::info!("{host} offers no host metadata (HTTP 404); going on with the profile's settings");
    }
    if let Some(Err(e)) = memory.map(|m| m.remember(host, answer.as_ref(), now)) {
        tracing::warn!("cannot remember the host metadata of {host}: {e}");
    }
    answer.as_ref().map(HostMetadata::parse)
}

/// With `azure_management_token = true`: the profile's own flow asked, through its
/// `management_token()` API, for the cloud's service-management scope — cached as a second
/// entry (the scope is part of the identity).
fn management_provider(auth: &Auth, profile: &Profile, scope: &'static str) -> Result<TokenProvider> {
    let account =
        AccountHint { username: profile.get("username").map(str::to_owned), profile: profile.name().to_owned() };
    let flow = ClientCredentialsFlow::from_settings(profile)?;
    let mut app = flow.app().clone();
    app.scopes = scope.parse().map_err(|e| ConfigError::general(format!("scope `{scope}`: {e}")))?;
    let flow = ManagementFlow { app, flow };
    let mut client = brickauth_core::TokenClient::from_config(auth.http_config()?);
    if let Some(observer) = &auth.options().observer {
        client = client.with_observer(observer.clone());
    }
    Ok(TokenProvider::new(auth.cache_for(profile)?, account, Box::new(flow)).with_client(client))
}

/// The client-credentials flow, asked for the management token instead of the profile's scopes.
#[derive(Debug)]
struct ManagementFlow {
    app: AppConfig,
    flow: ClientCredentialsFlow,
}

impl GrantFlow for ManagementFlow {
    fn app(&self) -> &AppConfig {
        &self.app
    }

    fn acquire<'a>(&'a self, cx: &'a FlowContext<'a>) -> BoxFuture<'a, Result<TokenResponse, AuthError>> {
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
