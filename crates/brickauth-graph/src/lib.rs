//! Microsoft Graph, as far as registering an app for Azure Databricks needs it.
//!
//! Most people never need an app registration: brickauth's interactive flows sign in with the
//! developer sign-on client ([`DEVELOPER_SIGN_ON_CLIENT_ID`](brickauth_core::app::DEVELOPER_SIGN_ON_CLIENT_ID)).
//! Those who want their own (a tenant policy, a name in the sign-in logs, their own consent)
//! get it from [`Graph::register_databricks_app`], which does what the portal procedure does:
//!
//! ```text
//! 1. GET  /v1.0/organization                                        → the tenant id
//! 2. GET  /v1.0/applications?$filter=displayName eq 'NAME'          → an app of that name exists? report it
//! 3. GET  /v1.0/servicePrincipals(appId='2ff814a6-…')               → AzureDatabricks' `user_impersonation` scope id
//! 4. POST /v1.0/applications   single tenant (AzureADMyOrg), public client flows allowed,
//!                              redirect http://localhost, AzureDatabricks user_impersonation
//! with consent (an administrator):
//! 5. GET/POST /v1.0/servicePrincipals                               → the app's service principal
//! 6. POST /v1.0/oauth2PermissionGrants  consentType AllPrincipals    → tenant-wide consent
//! ```
//!
//! The permission id is read from the tenant's AzureDatabricks service principal (step 3), never
//! hard-coded. Every request carries a token from a [`TokenSource`] for the cloud's Graph
//! ([`scope`]): the developer sign-on client is pre-authorized for it. GETs are retried on 429 and
//! 503/504 through core's retry engine; POSTs are sent once (a retried create could duplicate).
//!
//! Errors are typed ([`GraphError`]): an answer Graph refuses for lack of rights
//! ([`GraphError::Denied`]) says which role to ask an administrator for. This crate never prints.
//!
//! ```no_run
//! # async fn f(token: std::sync::Arc<dyn brickauth_core::TokenSource>) -> Result<(), brickauth_graph::GraphError> {
//! use brickauth_core::Cloud;
//! use brickauth_graph::Graph;
//!
//! let graph = Graph::new(brickauth_graph::host(Cloud::Public), token)?;
//! let done = graph.register_databricks_app("brickauth", false).await?;
//! eprintln!("tenant {} client {} (existed: {})", done.tenant.id, done.app.app_id, done.existed);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

use std::fmt;
use std::sync::Arc;

use brickauth_core::http::{self, Answer};
use brickauth_core::retry::RetryPolicy;
use brickauth_core::source::SourceError;
use brickauth_core::text::ServerText;
use brickauth_core::{AuthError, Cloud, DATABRICKS_RESOURCE, ExposeSecret, HttpConfig, TokenSource};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

/// The delegated permission of Azure Databricks that a user-facing app needs.
pub const USER_IMPERSONATION: &str = "user_impersonation";

/// The redirect URI registered for the app: any loopback port (RFC 8252), as the
/// authorization-code flow listens.
pub const LOOPBACK_REDIRECT: &str = "http://localhost";

/// The cloud's Microsoft Graph host (also its resource id).
pub fn host(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Public => "https://graph.microsoft.com",
        Cloud::UsGov => "https://graph.microsoft.us",
        Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
    }
}

/// The scope a Graph token is requested with: `{host}/.default`, every delegated permission the
/// client holds — for the developer sign-on client, those the Azure CLI's `az ad app create`
/// uses (it asks for the same `/.default`).
pub fn scope(cloud: Cloud) -> String {
    format!("{}/.default", host(cloud))
}

/// What a request was for, in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// `GET /organization`.
    ReadOrganization,
    /// `GET /applications?$filter=…`.
    ListApplications,
    /// `POST /applications`.
    CreateApplication,
    /// `GET /servicePrincipals(appId=…)`.
    ReadServicePrincipal,
    /// `POST /servicePrincipals`.
    CreateServicePrincipal,
    /// `POST /oauth2PermissionGrants`.
    GrantConsent,
}

impl Operation {
    /// Who can do this, for a refusal: the Entra roles to ask an administrator for.
    pub fn who_can(self) -> &'static str {
        match self {
            Operation::CreateApplication => {
                "registering an app needs \"Users can register applications\" allowed in the tenant, \
                 or the Application Developer role: ask an administrator for the role, or to register the app"
            }
            Operation::CreateServicePrincipal | Operation::GrantConsent => {
                "tenant-wide consent needs the Cloud Application Administrator, Application Administrator \
                 or Privileged Role Administrator role: ask an administrator to grant admin consent for the \
                 app (Entra admin center → App registrations → the app → API permissions → Grant admin consent)"
            }
            Operation::ReadOrganization | Operation::ListApplications | Operation::ReadServicePrincipal => {
                "reading the directory needs a member account of the tenant (guests may be restricted): \
                 sign in with an account of the tenant, or ask an administrator"
            }
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::ReadOrganization => "reading the tenant (GET /organization)",
            Operation::ListApplications => "looking the app up (GET /applications)",
            Operation::CreateApplication => "registering the app (POST /applications)",
            Operation::ReadServicePrincipal => "reading a service principal (GET /servicePrincipals)",
            Operation::CreateServicePrincipal => "creating the app's service principal (POST /servicePrincipals)",
            Operation::GrantConsent => "granting tenant-wide consent (POST /oauth2PermissionGrants)",
        })
    }
}

/// Why a Graph call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// The token source could not provide a Graph token.
    #[error("cannot get a Microsoft Graph token: {0}")]
    Token(#[source] SourceError),
    /// The Graph host is not a usable base URL (`https://`, or `http://` to loopback only).
    #[error("Microsoft Graph host: {0}")]
    InvalidHost(#[from] brickauth_core::app::UrlError),
    /// No answer (connection, TLS, timeout, retries exhausted), or the HTTP client could not be built.
    #[error(transparent)]
    Transport(#[from] AuthError),
    /// Graph refused for lack of rights (403, `Authorization_RequestDenied`).
    #[error("{operation}: insufficient privileges (Graph: {code}: {message}); {}", operation.who_can())]
    Denied {
        /// What was refused.
        operation: Operation,
        /// Graph's error code.
        code: String,
        /// Graph's message, cleaned.
        message: String,
    },
    /// Any other error answer.
    #[error("{operation}: HTTP {status} (Graph: {code}: {message})")]
    Status {
        /// What failed.
        operation: Operation,
        /// The HTTP status.
        status: u16,
        /// Graph's error code (empty when the body had none).
        code: String,
        /// Graph's message, cleaned (or a snippet of the body).
        message: String,
    },
    /// A success whose body is not what Graph sends.
    #[error("{operation}: unexpected answer from Microsoft Graph: {what}")]
    Malformed {
        /// What was asked.
        operation: Operation,
        /// What is wrong with the answer.
        what: String,
    },
    /// The tenant has no AzureDatabricks service principal.
    #[error(
        "the tenant has no service principal for AzureDatabricks ({DATABRICKS_RESOURCE}): it is created when \
         the tenant's first workspace is, or when someone first signs in to one; sign in to a workspace once \
         in a browser, or ask an administrator to add it"
    )]
    NoDatabricks,
    /// AzureDatabricks' service principal exposes no `user_impersonation` permission.
    #[error("the AzureDatabricks service principal exposes no enabled `{USER_IMPERSONATION}` permission")]
    NoUserImpersonation,
    /// More than one app has the name: which one is meant cannot be told.
    #[error("{} applications are named `{name}` (client ids {}): choose another name, or delete the extras", app_ids.len(), app_ids.join(", "))]
    Ambiguous {
        /// The display name.
        name: String,
        /// Their client ids.
        app_ids: Vec<String>,
    },
}

/// The tenant, from `GET /organization`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Organization {
    /// The tenant id (a GUID).
    pub id: String,
    /// Its display name.
    #[serde(rename = "displayName", default)]
    pub display_name: String,
}

/// An application registration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Application {
    /// The object id.
    pub id: String,
    /// The application (client) id.
    #[serde(rename = "appId")]
    pub app_id: String,
    /// The display name.
    #[serde(rename = "displayName", default)]
    pub display_name: String,
}

/// A delegated permission an API exposes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PermissionScope {
    /// Its id (what `requiredResourceAccess` names).
    pub id: String,
    /// Its value (`user_impersonation`).
    pub value: String,
    /// Whether it may be requested.
    #[serde(rename = "isEnabled", default = "enabled")]
    pub is_enabled: bool,
}

fn enabled() -> bool {
    true
}

/// A service principal (an app's instance in the tenant).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServicePrincipal {
    /// The object id (what permission grants name).
    pub id: String,
    /// The application id.
    #[serde(rename = "appId")]
    pub app_id: String,
    /// The delegated permissions it exposes.
    #[serde(rename = "oauth2PermissionScopes", default)]
    pub permission_scopes: Vec<PermissionScope>,
}

/// How tenant-wide consent went.
#[derive(Debug)]
#[non_exhaustive]
pub enum Consent {
    /// Not asked for: each user consents at first sign-in, where the tenant allows it.
    NotAsked,
    /// Granted now.
    Granted,
    /// A grant for the app existed already.
    AlreadyGranted,
    /// Refused; the app is registered all the same.
    Failed(GraphError),
}

/// What [`Graph::register_databricks_app`] did.
#[derive(Debug)]
pub struct Registration {
    /// The tenant the app is registered in.
    pub tenant: Organization,
    /// The app.
    pub app: Application,
    /// Whether an app of that name existed (and was left as it was).
    pub existed: bool,
    /// Tenant-wide consent.
    pub consent: Consent,
}

/// A Microsoft Graph client: a base URL, an HTTP client and a token source.
pub struct Graph {
    base: Url,
    http: reqwest::Client,
    source: Arc<dyn TokenSource>,
}

impl fmt::Debug for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

impl Graph {
    /// A client for Graph at `base` (`https://…`, or `http://` to loopback for a mock) with
    /// brickauth's default HTTP settings.
    pub fn new(base: &str, source: Arc<dyn TokenSource>) -> Result<Graph, GraphError> {
        Graph::with_http_config(base, source, &HttpConfig::default())
    }

    /// As [`Graph::new`], with these HTTP settings (proxy, CA certificates, timeouts).
    pub fn with_http_config(
        base: &str,
        source: Arc<dyn TokenSource>,
        config: &HttpConfig,
    ) -> Result<Graph, GraphError> {
        let mut base = brickauth_core::app::secure_url(base)?;
        base.set_query(None);
        base.set_fragment(None);
        let path = format!("{}/v1.0/", base.path().trim_end_matches('/'));
        base.set_path(&path);
        Ok(Graph { base, http: config.build()?, source })
    }

    /// The tenant of the signed-in user.
    pub async fn organization(&self) -> Result<Organization, GraphError> {
        let op = Operation::ReadOrganization;
        let v = self.get(op, "organization", &[]).await?;
        let mut orgs: Vec<Organization> = list(op, v)?;
        if orgs.is_empty() {
            return Err(GraphError::Malformed { operation: op, what: "no organization".into() });
        }
        Ok(orgs.swap_remove(0))
    }

    /// The applications with this display name.
    pub async fn applications_named(&self, name: &str) -> Result<Vec<Application>, GraphError> {
        let op = Operation::ListApplications;
        // OData quotes are doubled inside a string literal.
        let filter = format!("displayName eq '{}'", name.replace('\'', "''"));
        list(op, self.get(op, "applications", &[("$filter", &filter)]).await?)
    }

    /// The service principal of `app_id` in the tenant, if there is one.
    pub async fn service_principal(&self, app_id: &str) -> Result<Option<ServicePrincipal>, GraphError> {
        let op = Operation::ReadServicePrincipal;
        match self.get(op, &format!("servicePrincipals(appId='{}')", app_id.replace('\'', "''")), &[]).await {
            Ok(v) => object(op, v).map(Some),
            Err(GraphError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Register a single-tenant public-client app for Azure Databricks: `AzureADMyOrg`, public
    /// client flows allowed (device code), the loopback redirect URI, and the delegated
    /// permission `scope_id` of AzureDatabricks (see [`Graph::user_impersonation`]).
    pub async fn create_application(&self, name: &str, scope_id: &str) -> Result<Application, GraphError> {
        let body = json!({
            "displayName": name,
            "signInAudience": "AzureADMyOrg",
            "isFallbackPublicClient": true,
            "publicClient": { "redirectUris": [LOOPBACK_REDIRECT] },
            "requiredResourceAccess": [{
                "resourceAppId": DATABRICKS_RESOURCE,
                "resourceAccess": [{ "id": scope_id, "type": "Scope" }],
            }],
        });
        let op = Operation::CreateApplication;
        object(op, self.post(op, "applications", &body).await?)
    }

    /// The service principal of `app_id`, created when the tenant has none.
    pub async fn ensure_service_principal(&self, app_id: &str) -> Result<ServicePrincipal, GraphError> {
        if let Some(sp) = self.service_principal(app_id).await? {
            return Ok(sp);
        }
        let op = Operation::CreateServicePrincipal;
        object(op, self.post(op, "servicePrincipals", &json!({ "appId": app_id })).await?)
    }

    /// Tenant-wide consent (`AllPrincipals`) for `client` to use `scope` of `resource`.
    /// `Ok(false)` when such a grant exists already (409).
    pub async fn grant_consent(
        &self,
        client: &ServicePrincipal,
        resource: &ServicePrincipal,
        scope: &str,
    ) -> Result<bool, GraphError> {
        let body = json!({
            "clientId": client.id,
            "consentType": "AllPrincipals",
            "resourceId": resource.id,
            "scope": scope,
        });
        match self.post(Operation::GrantConsent, "oauth2PermissionGrants", &body).await {
            Ok(_) => Ok(true),
            Err(GraphError::Status { status: 409, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// AzureDatabricks' service principal and the id of its `user_impersonation` permission.
    pub async fn user_impersonation(&self) -> Result<(ServicePrincipal, String), GraphError> {
        let sp = self.service_principal(DATABRICKS_RESOURCE).await?.ok_or(GraphError::NoDatabricks)?;
        let id = sp
            .permission_scopes
            .iter()
            .find(|s| s.value == USER_IMPERSONATION && s.is_enabled)
            .map(|s| s.id.clone())
            .ok_or(GraphError::NoUserImpersonation)?;
        Ok((sp, id))
    }

    /// The whole procedure (see the crate documentation): the app named `name`, registered unless
    /// it exists, and with `consent`, tenant-wide consent for it. A consent refused is reported in
    /// [`Registration::consent`], not as an error: the app is there.
    pub async fn register_databricks_app(&self, name: &str, consent: bool) -> Result<Registration, GraphError> {
        let tenant = self.organization().await?;
        let existing = self.applications_named(name).await?;
        let (databricks, scope_id) = self.user_impersonation().await?;
        let (app, existed) = match existing.as_slice() {
            [] => {
                let app = self.create_application(name, &scope_id).await?;
                tracing::info!(app_id = %app.app_id, "registered the app `{name}`");
                (app, false)
            }
            [one] => (one.clone(), true),
            many => {
                return Err(GraphError::Ambiguous {
                    name: name.to_owned(),
                    app_ids: many.iter().map(|a| a.app_id.clone()).collect(),
                });
            }
        };
        let consent = if consent {
            let granted = async {
                let sp = self.ensure_service_principal(&app.app_id).await?;
                self.grant_consent(&sp, &databricks, USER_IMPERSONATION).await
            };
            match granted.await {
                Ok(true) => Consent::Granted,
                Ok(false) => Consent::AlreadyGranted,
                Err(e) => Consent::Failed(e),
            }
        } else {
            Consent::NotAsked
        };
        Ok(Registration { tenant, app, existed, consent })
    }

    fn url(&self, op: Operation, path: &str, query: &[(&str, &str)]) -> Result<Url, GraphError> {
        // `path` is one of this module's own relative paths, with quotes doubled in what it quotes.
        let mut url = self
            .base
            .join(path)
            .map_err(|e| GraphError::Malformed { operation: op, what: format!("path `{path}`: {e}") })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    async fn bearer(&self) -> Result<String, GraphError> {
        let token = self.source.token(false).await.map_err(GraphError::Token)?;
        Ok(token.secret.expose_secret().to_owned())
    }

    async fn get(&self, op: Operation, path: &str, query: &[(&str, &str)]) -> Result<Value, GraphError> {
        let url = self.url(op, path, query)?;
        let bearer = self.bearer().await?;
        let text = ServerText::new([bearer.as_str()]);
        let answer = http::send(&RetryPolicy::token_endpoint(), None, GRAPH_BUSY, &url, &text, || {
            self.http.get(url.clone()).bearer_auth(&bearer).header("accept", "application/json")
        })
        .await?;
        read(op, &answer)
    }

    async fn post(&self, op: Operation, path: &str, body: &Value) -> Result<Value, GraphError> {
        let url = self.url(op, path, &[])?;
        let bearer = self.bearer().await?;
        let text = ServerText::new([bearer.as_str()]);
        // Sent once: a create that timed out may have happened, and a second one would duplicate it.
        let answer = http::send(&RetryPolicy::never(), None, GRAPH_BUSY, &url, &text, || {
            self.http.post(url.clone()).bearer_auth(&bearer).json(body)
        })
        .await?;
        read(op, &answer)
    }
}

/// The statuses a GET is retried on.
const GRAPH_BUSY: &[u16] = &[429, 503, 504];

/// A success's JSON, or the typed error of Graph's error body.
fn read(op: Operation, answer: &Answer) -> Result<Value, GraphError> {
    if answer.is_success() {
        return serde_json::from_slice(&answer.body)
            .map_err(|e| GraphError::Malformed { operation: op, what: format!("not JSON: {e}") });
    }
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let field = |k: &str| body["error"][k].as_str().map(|s| answer.text.clean(s));
    let code = field("code").unwrap_or_default();
    let message = field("message").unwrap_or_else(|| http::snippet_with(&answer.body, &answer.text));
    if answer.status == 403 {
        return Err(GraphError::Denied { operation: op, code, message });
    }
    Err(GraphError::Status { operation: op, status: answer.status, code, message })
}

/// `{"value": [...]}` as a list of `T`.
fn list<T: serde::de::DeserializeOwned>(op: Operation, v: Value) -> Result<Vec<T>, GraphError> {
    let value = v.get("value").cloned().unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|e| GraphError::Malformed { operation: op, what: format!("no list: {e}") })
}

/// One object as `T`.
fn object<T: serde::de::DeserializeOwned>(op: Operation, v: Value) -> Result<T, GraphError> {
    serde_json::from_value(v).map_err(|e| GraphError::Malformed { operation: op, what: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_follows_the_cloud() {
        assert_eq!(scope(Cloud::Public), "https://graph.microsoft.com/.default");
        assert_eq!(host(Cloud::UsGov), "https://graph.microsoft.us");
        assert_eq!(host(Cloud::China), "https://microsoftgraph.chinacloudapi.cn");
    }

    #[test]
    fn clear_text_only_to_loopback() {
        let source: Arc<dyn TokenSource> = Arc::new(brickauth_core::StaticToken::bearer("t"));
        assert!(Graph::new("http://127.0.0.1:9", source.clone()).is_ok());
        let err = Graph::new("http://graph.example.com", source).unwrap_err();
        assert!(matches!(err, GraphError::InvalidHost(_)), "{err:?}");
        assert!(
            err.to_string().starts_with("Microsoft Graph host: `http://graph.example.com` uses clear-text http"),
            "{err}"
        );
    }

    #[test]
    fn refusals_say_whom_to_ask() {
        let denied = GraphError::Denied {
            operation: Operation::GrantConsent,
            code: "Authorization_RequestDenied".into(),
            message: "Insufficient privileges to complete the operation.".into(),
        };
        let text = denied.to_string();
        assert!(
            text.starts_with("granting tenant-wide consent (POST /oauth2PermissionGrants): insufficient privileges")
        );
        assert!(text.contains("Cloud Application Administrator"), "{text}");
        let denied =
            GraphError::Denied { operation: Operation::CreateApplication, code: String::new(), message: String::new() };
        assert!(denied.to_string().contains("Application Developer role"));
    }
}
