//! The workspace client for a [`Source`]: its profile's `host`, the Azure workspace resource id
//! (`azure_workspace_resource_id`, its three parts, or `$DATABRICKS_AZURE_RESOURCE_ID`) and, with
//! `azure_management_token = true`, the service-management token header.

use std::sync::Arc;

use brickauth_cache::{AccountHint, TokenProvider};
use brickauth_core::{AppConfig, AuthError, BoxFuture, ConfigError, FlowContext, GrantFlow, Settings, TokenResponse};
use brickauth_databricks::{WorkspaceClient, WorkspaceConfig};
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

pub(crate) fn client(auth: &Auth, source: &Source) -> Result<WorkspaceClient> {
    let profile = source.profile();
    let ws = config(&profile)?;
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
    Ok(client)
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
