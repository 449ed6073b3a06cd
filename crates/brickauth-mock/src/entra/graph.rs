//! Just enough Microsoft Graph (`/v1.0/…`) to register an app for Azure Databricks, on the
//! mock Entra's own server so that an app created here can sign in at once.
//!
//! Tokens: a token request whose scopes are Microsoft Graph's (`https://graph.microsoft.com/…`,
//! and the US Government and China Graph hosts) is granted only to the developer sign-on client
//! ([`AZURE_CLI_CLIENT_ID`](crate::AZURE_CLI_CLIENT_ID), pre-authorized for Graph as in Entra);
//! any other client gets AADSTS65001 (consent required). The access token's `aud` is the Graph
//! resource and its `scp` the delegated permissions the Azure CLI holds; Graph tokens are kept
//! here, not in the [`TokenRegistry`](crate::TokenRegistry), so the workspace mock refuses them
//! and these routes accept nothing else.
//!
//! Routes (bearer token required; 401 `InvalidAuthenticationToken` otherwise):
//!
//! - `GET /v1.0/organization` — the tenant ([`TENANT_ID`]).
//! - `GET /v1.0/applications?$filter=displayName eq 'NAME'` — apps by display name.
//! - `POST /v1.0/applications` — register an app (201); its `appId` becomes a client the token
//!   endpoint accepts. 403 `Authorization_RequestDenied` under
//!   [`GraphPrivileges::NoAppRegistration`].
//! - `GET /v1.0/servicePrincipals(appId='ID')` — a service principal (AzureDatabricks exists
//!   from the start, with its `user_impersonation` scope); 404 `Request_ResourceNotFound`.
//! - `POST /v1.0/servicePrincipals` — create an app's service principal (201).
//! - `POST /v1.0/oauth2PermissionGrants` — a delegated permission grant (201); 403 under
//!   [`GraphPrivileges::NoAppRegistration`] and [`GraphPrivileges::NoConsent`]; 409 when the
//!   client has a tenant-wide grant for the resource already.
//!
//! Errors have Graph's shape: `{"error": {"code", "message", "innerError": {…}}}`.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{EntraState, MockEntra};
use crate::answer::Answer;
use crate::record::{RecordedRequest, percent_decode};
use crate::{AZURE_CLI_CLIENT_ID, DATABRICKS_RESOURCE, TENANT_ID, clock, ids, lock};

/// The id of AzureDatabricks' `user_impersonation` delegated permission in the mock tenant.
pub const DATABRICKS_USER_IMPERSONATION: &str = "739272be-e143-11e8-9f32-f2801f1b9fd1";

/// The Graph resources of the clouds: a scope under one of them asks for a Graph token.
const GRAPH_RESOURCES: &[&str] =
    &["https://graph.microsoft.com", "https://graph.microsoft.us", "https://microsoftgraph.chinacloudapi.cn"];

/// The delegated permissions a Graph token for the developer sign-on client carries.
const GRAPH_SCP: &str = "Application.ReadWrite.All DelegatedPermissionGrant.ReadWrite.All Directory.AccessAsUser.All";

/// What the signed-in user may do in the mock directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GraphPrivileges {
    /// Register apps and grant tenant-wide consent (an administrator).
    #[default]
    Full,
    /// Register apps, but not grant tenant-wide consent (a user where users may register apps).
    NoConsent,
    /// Neither (app registration is restricted to administrators).
    NoAppRegistration,
}

/// The mock directory's Graph objects and the Graph tokens issued.
#[derive(Debug, Default)]
pub(crate) struct GraphState {
    applications: Vec<Value>,
    service_principals: Vec<Value>,
    grants: Vec<Value>,
    /// Graph access tokens → (user, expiry).
    tokens: HashMap<String, (String, i64)>,
    privileges: GraphPrivileges,
}

impl GraphState {
    /// The directory with the AzureDatabricks service principal, as every tenant has it.
    pub(crate) fn new() -> Self {
        let databricks = json!({
            "id": ids::guid(),
            "appId": DATABRICKS_RESOURCE,
            "displayName": "AzureDatabricks",
            "servicePrincipalType": "Application",
            "oauth2PermissionScopes": [{
                "id": DATABRICKS_USER_IMPERSONATION,
                "value": "user_impersonation",
                "type": "User",
                "isEnabled": true,
                "adminConsentDisplayName": "Access Azure Databricks",
                "adminConsentDescription": "Allow the application to access Azure Databricks on behalf of the signed-in user.",
            }],
        });
        GraphState { service_principals: vec![databricks], ..GraphState::default() }
    }
}

/// The Graph resource a scope belongs to, if it is a Graph scope.
pub(crate) fn graph_resource(scope: &str) -> Option<&'static str> {
    GRAPH_RESOURCES.iter().copied().find(|r| scope.strip_prefix(r).is_some_and(|rest| rest.starts_with('/')))
}

/// The scope string of a Graph token.
pub(crate) fn graph_scp() -> &'static str {
    GRAPH_SCP
}

/// Whether `client_id` may get Graph tokens (the developer sign-on client is pre-authorized).
pub(crate) fn may_use_graph(client_id: &str) -> bool {
    client_id.eq_ignore_ascii_case(AZURE_CLI_CLIENT_ID)
}

impl MockEntra {
    /// Sets what the signed-in user may do through Graph (see [`GraphPrivileges`]).
    pub fn set_graph_privileges(&self, privileges: GraphPrivileges) {
        lock(&self.state).graph.privileges = privileges;
    }

    /// The applications registered through Graph, as Graph returns them.
    pub fn graph_applications(&self) -> Vec<Value> {
        lock(&self.state).graph.applications.clone()
    }

    /// The service principals of the directory (AzureDatabricks first).
    pub fn graph_service_principals(&self) -> Vec<Value> {
        lock(&self.state).graph.service_principals.clone()
    }

    /// The delegated permission grants made through Graph.
    pub fn graph_grants(&self) -> Vec<Value> {
        lock(&self.state).graph.grants.clone()
    }
}

impl EntraState {
    /// Remembers a Graph access token minted for `username`.
    pub(crate) fn remember_graph_token(&mut self, token: &str, username: &str, expires_at: i64) {
        self.graph.tokens.insert(token.to_owned(), (username.to_owned(), expires_at));
    }

    /// Answers a request under `/v1.0/`.
    pub(crate) fn graph(&mut self, request: &RecordedRequest) -> Answer {
        let bearer = request.headers.get("authorization").and_then(|h| h.strip_prefix("Bearer "));
        match bearer.and_then(|t| self.graph.tokens.get(t)) {
            Some((_, exp)) if *exp > clock::now() => {}
            Some(_) => {
                return error(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.");
            }
            None => {
                return error(
                    401,
                    "InvalidAuthenticationToken",
                    "Access token is empty or not valid for Microsoft Graph.",
                );
            }
        }
        let segments = request.segments();
        let method = request.method.as_str();
        match (method, segments.get(1).copied().unwrap_or_default()) {
            ("GET", "organization") => self.organization(),
            ("GET", "applications") => self.list_applications(request),
            ("POST", "applications") => self.create_application(request),
            ("POST", "servicePrincipals") => self.create_service_principal(request),
            ("GET", sp) if sp.starts_with("servicePrincipals(") => self.service_principal(&percent_decode(sp)),
            ("POST", "oauth2PermissionGrants") => self.create_grant(request),
            _ => error(400, "BadRequest", &format!("Resource not found for the segment '{}'.", segments.join("/"))),
        }
    }

    fn organization(&self) -> Answer {
        ok(
            200,
            &json!({ "value": [{
                "id": TENANT_ID,
                "displayName": "Contoso",
                "verifiedDomains": [{ "name": "contoso.onmicrosoft.com", "isDefault": true, "isInitial": true }],
            }]}),
        )
    }

    fn list_applications(&self, request: &RecordedRequest) -> Answer {
        let filter = request.query.get("$filter").map(String::as_str).unwrap_or_default();
        let wanted = match filter.trim() {
            "" => None,
            f => match display_name_filter(f) {
                Some(name) => Some(name),
                None => return error(400, "Request_UnsupportedQuery", &format!("Unsupported query: {f}")),
            },
        };
        let value: Vec<&Value> = self
            .graph
            .applications
            .iter()
            .filter(|a| wanted.as_deref().is_none_or(|w| a["displayName"].as_str() == Some(w)))
            .collect();
        ok(200, &json!({ "value": value }))
    }

    fn create_application(&mut self, request: &RecordedRequest) -> Answer {
        if self.graph.privileges == GraphPrivileges::NoAppRegistration {
            return denied();
        }
        let Ok(Value::Object(mut app)) = serde_json::from_str::<Value>(&request.body) else {
            return error(400, "BadRequest", "Unable to read JSON request payload.");
        };
        if app.get("displayName").and_then(Value::as_str).is_none_or(str::is_empty) {
            return error(400, "Request_BadRequest", "Property displayName is required.");
        }
        let app_id = ids::guid();
        app.insert("id".into(), json!(ids::guid()));
        app.insert("appId".into(), json!(app_id));
        app.insert("publisherDomain".into(), json!("contoso.onmicrosoft.com"));
        let app = Value::Object(app);
        self.graph.applications.push(app.clone());
        // The new app can sign in at once.
        self.config.clients.push(app_id);
        ok(201, &app)
    }

    fn service_principal(&self, segment: &str) -> Answer {
        let app_id = segment
            .strip_prefix("servicePrincipals(appId='")
            .and_then(|rest| rest.strip_suffix("')"))
            .unwrap_or_default();
        match self.graph.service_principals.iter().find(|sp| sp["appId"].as_str() == Some(app_id)) {
            Some(sp) => ok(200, sp),
            None => error(
                404,
                "Request_ResourceNotFound",
                &format!(
                    "Resource '{app_id}' does not exist or one of its queried reference-property objects are not present."
                ),
            ),
        }
    }

    fn create_service_principal(&mut self, request: &RecordedRequest) -> Answer {
        let body: Value = serde_json::from_str(&request.body).unwrap_or_default();
        let Some(app_id) = body["appId"].as_str() else {
            return error(400, "Request_BadRequest", "Property appId is required.");
        };
        let Some(app) = self.graph.applications.iter().find(|a| a["appId"].as_str() == Some(app_id)) else {
            return error(
                400,
                "Request_BadRequest",
                &format!(
                    "The appId '{app_id}' of the service principal does not reference a valid application object."
                ),
            );
        };
        if self.graph.service_principals.iter().any(|sp| sp["appId"].as_str() == Some(app_id)) {
            return error(409, "Request_MultipleObjectsWithSameKeyValue", "The service principal already exists.");
        }
        let sp = json!({ "id": ids::guid(), "appId": app_id, "displayName": app["displayName"], "servicePrincipalType": "Application" });
        self.graph.service_principals.push(sp.clone());
        ok(201, &sp)
    }

    fn create_grant(&mut self, request: &RecordedRequest) -> Answer {
        if self.graph.privileges != GraphPrivileges::Full {
            return denied();
        }
        let body: Value = serde_json::from_str(&request.body).unwrap_or_default();
        let known = |id: &Value| self.graph.service_principals.iter().any(|sp| sp["id"] == *id);
        if !known(&body["clientId"]) || !known(&body["resourceId"]) {
            return error(400, "Request_BadRequest", "clientId and resourceId must be service principal object ids.");
        }
        if body["consentType"].as_str() != Some("AllPrincipals") || body["scope"].as_str().is_none() {
            return error(400, "Request_BadRequest", "consentType AllPrincipals and a scope are required.");
        }
        let same = |g: &&Value| g["clientId"] == body["clientId"] && g["resourceId"] == body["resourceId"];
        if self.graph.grants.iter().any(|g| same(&g) && g["consentType"] == "AllPrincipals") {
            return error(409, "Request_MultipleObjectsWithSameKeyValue", "Permission entry already exists.");
        }
        let mut grant = body;
        grant["id"] = json!(ids::random_b64url(32));
        self.graph.grants.push(grant.clone());
        ok(201, &grant)
    }
}

/// `displayName eq 'NAME'` (quotes doubled inside, as OData writes them) → `NAME`.
fn display_name_filter(filter: &str) -> Option<String> {
    let quoted = filter.strip_prefix("displayName eq '")?.strip_suffix('\'')?;
    if quoted.replace("''", "").contains('\'') {
        return None;
    }
    Some(quoted.replace("''", "'"))
}

fn ok(status: u16, body: &Value) -> Answer {
    Answer::new(
        status,
        "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
        body.to_string(),
    )
    .header("request-id", ids::guid())
}

/// Graph's error body.
fn error(status: u16, code: &str, message: &str) -> Answer {
    let request_id = ids::guid();
    let body = json!({ "error": {
        "code": code,
        "message": message,
        "innerError": { "date": clock::now(), "request-id": request_id, "client-request-id": request_id },
    }});
    Answer::new(status, "application/json", body.to_string()).header("request-id", request_id)
}

/// What Graph answers a user without the role an operation needs.
fn denied() -> Answer {
    error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_scopes_and_filters() {
        assert_eq!(graph_resource("https://graph.microsoft.com/.default"), Some("https://graph.microsoft.com"));
        assert_eq!(
            graph_resource("https://graph.microsoft.us/Application.ReadWrite.All"),
            Some("https://graph.microsoft.us")
        );
        assert_eq!(graph_resource("https://graph.microsoft.community/x"), None);
        assert_eq!(graph_resource(&format!("{DATABRICKS_RESOURCE}/.default")), None);
        assert_eq!(display_name_filter("displayName eq 'brickauth'").as_deref(), Some("brickauth"));
        assert_eq!(display_name_filter("displayName eq 'O''Brien'").as_deref(), Some("O'Brien"));
        assert_eq!(display_name_filter("startswith(displayName,'x')"), None);
    }
}
