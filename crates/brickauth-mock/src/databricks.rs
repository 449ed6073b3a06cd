//! [`MockDatabricks`]: a mock Azure Databricks workspace REST API on loopback.
//!
//! Every request is recorded, then (unless a queued [`Failure`] answers it) authenticated: the
//! `Authorization: Bearer <token>` header must name a token the shared [`TokenRegistry`] holds
//! and that has not expired, or the answer is the 401 Databricks sends. Authenticated requests
//! are routed:
//!
//! - `GET /api/2.0/clusters/list` — `{"clusters": [...]}` over all the workspace's synthetic
//!   clusters at once (three by default; `{}` when there are none, as the real API omits empty
//!   lists).
//! - `GET /api/2.1/clusters/list` — the same, paged as the real API pages: `page_size` (default
//!   20, at most 100) and `page_token`; `next_page_token`/`prev_page_token` only where there is
//!   such a page. A malformed token or size is 400 `INVALID_PARAMETER_VALUE`.
//! - `GET /api/2.1/clusters/get?cluster_id=` — one cluster; 404 `RESOURCE_DOES_NOT_EXIST` for an
//!   unknown id.
//! - `GET /api/2.0/preview/scim/v2/Me` — the signed-in user, built from the token's claims.
//! - `GET /api/2.0/accounts/<id>/scim/v2/Users` — the account's users (a SCIM list response:
//!   the mock users and the caller), as an account host answers it, for the same Entra token;
//!   404 `RESOURCE_DOES_NOT_EXIST` for an account other than [`ACCOUNT_ID`].
//! - anything else — 404 `ENDPOINT_NOT_FOUND`.
//!
//! Before authentication, `GET /aad/auth` answers 302 to
//! `https://login.microsoftonline.com/<TENANT_ID>/oauth2/authorize?…` (tenant discovery),
//! `GET /.well-known/databricks-config` answers what [`MockDatabricks::set_host_metadata`] set
//! (404 when nothing is, as hosts that offer no metadata do), and a present but malformed
//! `X-Databricks-Azure-Workspace-Resource-Id` header is 400. While the metadata says
//! `"host_type": "unified"` with a `workspace_id`, the host is a unified host: a workspace-level
//! request must name that workspace in `X-Databricks-Workspace-Id` (400 without it, 404 for
//! another). Knobs: [`MockDatabricks::reject_next_with_401`] (the token was revoked or expired
//! mid-run) and [`MockDatabricks::set_forbidden`] (the 403 a user without workspace access gets).
//!
//! All state lives in one `WorkspaceState` behind a mutex. Adding an endpoint (jobs, say) is one
//! arm in `WorkspaceState::route` plus one handler.

pub(crate) mod oidc;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

use crate::answer::Answer;
use crate::failure::Failure;
use crate::lock;
use crate::record::RecordedRequest;
use crate::registry::{TokenInfo, TokenRegistry, TokenStatus};

/// The Databricks account the mock host belongs to: the one whose account-level APIs it serves.
pub const ACCOUNT_ID: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";

/// The workspace id the mock's [`MockDatabricks::host_metadata`] names.
pub const WORKSPACE_ID: &str = "1234567890123456";

/// How many synthetic clusters a new workspace has.
const DEFAULT_CLUSTERS: usize = 3;

/// `/api/2.1/clusters/list` page size when the request names none, and the largest allowed.
const DEFAULT_PAGE_SIZE: usize = 20;
const MAX_PAGE_SIZE: usize = 100;

/// A running mock Databricks workspace, listening on `127.0.0.1` until dropped.
pub struct MockDatabricks {
    server: MockServer,
    state: Arc<Mutex<WorkspaceState>>,
}

impl MockDatabricks {
    /// Starts a workspace that accepts the unexpired access tokens in `tokens` (usually
    /// [`MockEntra::registry`](crate::MockEntra::registry)).
    pub async fn start(tokens: TokenRegistry) -> MockDatabricks {
        let server = MockServer::builder().start().await;
        let state = Arc::new(Mutex::new(WorkspaceState {
            tokens,
            clusters: (0..DEFAULT_CLUSTERS).map(synthetic_cluster).collect(),
            requests: Vec::new(),
            failures: VecDeque::new(),
            reject_401: 0,
            forbidden: false,
            host_metadata: None,
        }));
        // Lowest priority, so that a test's own mocks on `server()` take precedence.
        Mock::given(any())
            .respond_with(Router { state: Arc::clone(&state) })
            .with_priority(u8::MAX)
            .named("brickauth-mock Databricks workspace")
            .mount(&server)
            .await;
        tracing::debug!(uri = %server.uri(), "mock Databricks workspace started");
        MockDatabricks { server, state }
    }

    /// The workspace host, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Every request received, in order, including unauthenticated and failed ones.
    pub async fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// How many requests were received.
    pub fn request_count(&self) -> usize {
        lock(&self.state).requests.len()
    }

    /// Queues canned answers for the next requests (any endpoint), one per request, after any
    /// already queued; see [`Failure::databricks_rate_limited`] and
    /// [`Failure::databricks_unavailable`]. Queued failures answer before authentication.
    pub fn fail_next(&self, failures: Vec<Failure>) {
        lock(&self.state).failures.extend(failures);
    }

    /// Drops the failures still queued with [`MockDatabricks::fail_next`].
    pub fn clear_failures(&self) {
        lock(&self.state).failures.clear();
    }

    /// Replaces the workspace's clusters with `count` synthetic ones.
    pub fn set_cluster_count(&self, count: usize) {
        lock(&self.state).clusters = (0..count).map(synthetic_cluster).collect();
    }

    /// Answers the next `count` otherwise authenticated requests with the 401 Databricks sends for
    /// an expired or revoked token, as if the token had stopped working mid-run.
    pub fn reject_next_with_401(&self, count: usize) {
        lock(&self.state).reject_401 = count;
    }

    /// While `on`, every authenticated request is answered with the 403 a user without access to
    /// the workspace gets.
    pub fn set_forbidden(&self, on: bool) {
        lock(&self.state).forbidden = on;
    }

    /// What `GET /.well-known/databricks-config` answers: this JSON object, or 404 for `None`
    /// (the default). See [`MockDatabricks::host_metadata`] for the usual shapes.
    pub fn set_host_metadata(&self, metadata: Option<Value>) {
        lock(&self.state).host_metadata = metadata;
    }

    /// Host metadata as a host of `host_type` (`workspace`, `account`, `unified`) describes
    /// itself: [`ACCOUNT_ID`], `cloud: Azure`, and [`WORKSPACE_ID`] except for an account host.
    pub fn host_metadata(host_type: &str) -> Value {
        let mut v = json!({ "account_id": ACCOUNT_ID, "cloud": "Azure", "host_type": host_type });
        if host_type != "account" {
            v["workspace_id"] = json!(WORKSPACE_ID);
        }
        v
    }

    /// The underlying wiremock server, to mount extra mocks that take precedence over this one.
    pub fn server(&self) -> &MockServer {
        &self.server
    }
}

impl std::fmt::Debug for MockDatabricks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockDatabricks").field("uri", &self.uri()).finish_non_exhaustive()
    }
}

/// Everything the mock workspace knows; one instance per [`MockDatabricks`], behind its mutex.
#[derive(Debug)]
pub(crate) struct WorkspaceState {
    /// Access tokens the workspace accepts.
    tokens: TokenRegistry,
    /// `ClusterDetails` objects, in listing order.
    clusters: Vec<Value>,
    requests: Vec<RecordedRequest>,
    failures: VecDeque<Failure>,
    /// Authenticated requests still to be answered with 401.
    reject_401: usize,
    /// Answer authenticated requests with 403.
    forbidden: bool,
    /// What `/.well-known/databricks-config` answers (404 when `None`).
    host_metadata: Option<Value>,
}

/// The wiremock responder: decodes the request and hands it to the state.
struct Router {
    state: Arc<Mutex<WorkspaceState>>,
}

impl Respond for Router {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let request = RecordedRequest::from_wiremock(request);
        tracing::debug!(method = %request.method, path = %request.path, "mock Databricks request");
        lock(&self.state).answer(request).into_template()
    }
}

impl WorkspaceState {
    fn answer(&mut self, request: RecordedRequest) -> Answer {
        self.requests.push(request.clone());
        let failure = self.failures.pop_front();
        let mut process = || {
            if let Some(answer) = self.unauthenticated(&request) {
                return answer;
            }
            match self.authenticate(&request) {
                Ok(_) if self.reject_401 > 0 => {
                    self.reject_401 -= 1;
                    error(401, "401", "Token is expired.")
                }
                Ok(_) if self.forbidden => error(
                    403,
                    "PERMISSION_DENIED",
                    "User is not authorized to access this workspace. Contact your workspace administrator.",
                ),
                Ok(user) => self.route(&request, &user),
                Err(answer) => answer,
            }
        };
        match failure {
            Some(failure) => failure.answer(process),
            None => process(),
        }
    }

    /// Answers that need no token: tenant discovery and a malformed resource-id header.
    fn unauthenticated(&self, request: &RecordedRequest) -> Option<Answer> {
        if request.method == "GET" && request.path == "/aad/auth" {
            let location = format!(
                "https://login.microsoftonline.com/{}/oauth2/authorize?client_id={}&response_type=code",
                crate::TENANT_ID,
                crate::DATABRICKS_RESOURCE
            );
            return Some(Answer::new(302, "text/html", "").header("location", location));
        }
        if request.method == "GET" && request.path == "/.well-known/databricks-config" {
            return Some(match &self.host_metadata {
                Some(v) => Answer::databricks_json(200, v),
                None => error(404, "ENDPOINT_NOT_FOUND", "No API found for 'GET /.well-known/databricks-config'"),
            });
        }
        if let Some(answer) = self.unified_workspace_check(request) {
            return Some(answer);
        }
        let id = request.headers.get("x-databricks-azure-workspace-resource-id")?;
        if resource_id_is_valid(id) {
            return None;
        }
        Some(error(
            400,
            "INVALID_PARAMETER_VALUE",
            &format!("Invalid Azure workspace resource id in X-Databricks-Azure-Workspace-Resource-Id: {id}"),
        ))
    }

    /// On a unified host (metadata `host_type: unified` with a `workspace_id`), a workspace-level
    /// API request must name the workspace in `X-Databricks-Workspace-Id`.
    fn unified_workspace_check(&self, request: &RecordedRequest) -> Option<Answer> {
        let meta = self.host_metadata.as_ref().filter(|m| m["host_type"] == "unified")?;
        let workspace = meta["workspace_id"].as_str()?;
        if !request.path.starts_with("/api/") || request.path.starts_with("/api/2.0/accounts/") {
            return None;
        }
        match request.headers.get("x-databricks-workspace-id") {
            None => Some(error(
                400,
                "INVALID_PARAMETER_VALUE",
                "This host serves several workspaces: name one in the X-Databricks-Workspace-Id header",
            )),
            Some(id) if id != workspace => {
                Some(error(404, "RESOURCE_DOES_NOT_EXIST", &format!("Workspace {id} does not exist on this host")))
            }
            Some(_) => None,
        }
    }

    /// The user behind the request's bearer token, or the 401 Databricks answers with.
    fn authenticate(&self, request: &RecordedRequest) -> Result<TokenInfo, Answer> {
        let token = request
            .headers
            .get("authorization")
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let status = match token {
            Some(token) if !token.is_empty() => self.tokens.check(token),
            _ => TokenStatus::Unknown,
        };
        match status {
            TokenStatus::Valid(user) => Ok(user),
            TokenStatus::Expired(_) => Err(error(401, "401", "Token is expired.")),
            TokenStatus::Unknown => Err(error(401, "401", "Unauthorized")),
        }
    }

    fn route(&self, request: &RecordedRequest, user: &TokenInfo) -> Answer {
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/api/2.0/clusters/list") => self.clusters_list(),
            ("GET", "/api/2.1/clusters/list") => self.clusters_page(request),
            ("GET", "/api/2.1/clusters/get" | "/api/2.0/clusters/get") => self.cluster_get(request),
            ("GET", "/api/2.0/preview/scim/v2/Me") => scim_me(user),
            ("GET", path) if account_users_path(path).is_some() => account_users(path, user),
            (method, path) => error(404, "ENDPOINT_NOT_FOUND", &format!("No API found for '{method} {path}'")),
        }
    }

    fn clusters_list(&self) -> Answer {
        let body = if self.clusters.is_empty() { json!({}) } else { json!({ "clusters": self.clusters }) };
        Answer::databricks_json(200, &body)
    }

    /// One page of `/api/2.1/clusters/list`. Page tokens are opaque to clients; here they are
    /// `p<offset>`.
    fn clusters_page(&self, request: &RecordedRequest) -> Answer {
        let size = match request.query.get("page_size").map(|s| s.parse::<usize>()) {
            None | Some(Ok(0)) => DEFAULT_PAGE_SIZE,
            Some(Ok(n)) if n <= MAX_PAGE_SIZE => n,
            Some(_) => return error(400, "INVALID_PARAMETER_VALUE", "page_size must be between 0 and 100"),
        };
        let offset = match request.query.get("page_token").filter(|t| !t.is_empty()) {
            None => 0,
            Some(token) => match token.strip_prefix('p').and_then(|n| n.parse::<usize>().ok()) {
                Some(n) if n <= self.clusters.len() => n,
                _ => return error(400, "INVALID_PARAMETER_VALUE", &format!("Invalid page token: {token}")),
            },
        };
        let end = (offset + size).min(self.clusters.len());
        let mut body = json!({});
        if end > offset {
            body["clusters"] = json!(self.clusters[offset..end]);
        }
        if end < self.clusters.len() {
            body["next_page_token"] = json!(format!("p{end}"));
        }
        if offset > 0 {
            body["prev_page_token"] = json!(format!("p{}", offset.saturating_sub(size)));
        }
        Answer::databricks_json(200, &body)
    }

    fn cluster_get(&self, request: &RecordedRequest) -> Answer {
        let Some(id) = request.query.get("cluster_id").filter(|id| !id.is_empty()) else {
            return error(400, "INVALID_PARAMETER_VALUE", "Missing required field: cluster_id");
        };
        match self.clusters.iter().find(|c| c["cluster_id"].as_str() == Some(id.as_str())) {
            Some(cluster) => Answer::databricks_json(200, cluster),
            None => error(404, "RESOURCE_DOES_NOT_EXIST", &format!("Cluster {id} does not exist")),
        }
    }
}

/// Whether `id` has the ARM shape
/// `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Databricks/workspaces/{name}`
/// (fixed segments case-insensitive, as ARM matches them).
fn resource_id_is_valid(id: &str) -> bool {
    let segments: Vec<&str> = id.split('/').collect();
    let [first, subs, sub, rgs, rg, providers, ns, ws, name] = segments.as_slice() else {
        return false;
    };
    first.is_empty()
        && subs.eq_ignore_ascii_case("subscriptions")
        && rgs.eq_ignore_ascii_case("resourceGroups")
        && providers.eq_ignore_ascii_case("providers")
        && ns.eq_ignore_ascii_case("Microsoft.Databricks")
        && ws.eq_ignore_ascii_case("workspaces")
        && [sub, rg, name].iter().all(|p| !p.is_empty() && !p.contains(char::is_whitespace))
}

/// A Databricks REST error: `{"error_code": .., "message": ..}`.
fn error(status: u16, error_code: &str, message: &str) -> Answer {
    Answer::databricks_json(status, &json!({ "error_code": error_code, "message": message }))
}

/// The SCIM user for the token's identity. Azure Databricks users synced from Entra carry the
/// object id as `externalId`; the workspace's own `id` is a 16-digit number, derived here from the
/// object id so that it is stable.
fn scim_me(user: &TokenInfo) -> Answer {
    let (given_name, family_name) = user.name.split_once(' ').unwrap_or((&user.name, ""));
    let body = json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:workspace:2.0:User",
        ],
        "id": numeric_id(&user.oid),
        "userName": user.username,
        "displayName": user.name,
        "name": { "givenName": given_name, "familyName": family_name },
        "externalId": user.oid,
        "active": true,
        "emails": [{ "value": user.username, "primary": true, "type": "work" }],
        "groups": [{
            "display": "users",
            "type": "direct",
            "value": "1054512327123456",
            "$ref": "Groups/1054512327123456",
        }],
        "entitlements": [{ "value": "workspace-access" }, { "value": "databricks-sql-access" }],
    });
    Answer::databricks_json(200, &body)
}

/// The account of `/api/2.0/accounts/<id>/scim/v2/Users`.
fn account_users_path(path: &str) -> Option<&str> {
    path.strip_prefix("/api/2.0/accounts/")?.strip_suffix("/scim/v2/Users").filter(|id| !id.contains('/'))
}

/// The users of the account `path` names: the mock's users and the caller, as an account host's
/// SCIM list response.
fn account_users(path: &str, user: &TokenInfo) -> Answer {
    let id = account_users_path(path).unwrap_or_default();
    if !id.eq_ignore_ascii_case(ACCOUNT_ID) {
        return error(404, "RESOURCE_DOES_NOT_EXIST", &format!("Account {id} does not exist"));
    }
    let mut names: Vec<&str> = vec![crate::ALICE, crate::BOB];
    if !names.contains(&user.username.as_str()) {
        names.push(&user.username);
    }
    let resources: Vec<Value> = names
        .iter()
        .map(|name| {
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": numeric_id(name),
                "userName": name,
                "active": true,
                "emails": [{ "value": name, "primary": true, "type": "work" }],
            })
        })
        .collect();
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    Answer::databricks_json(200, &body)
}

/// A stable 16-digit decimal id from a string (FNV-1a).
fn numeric_id(seed: &str) -> String {
    let hash = seed
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
    format!("{:016}", hash % 9_000_000_000_000_000 + 1_000_000_000_000_000)
}

/// The `index`th synthetic cluster, as `ClusterDetails` JSON. Deterministic; the first three
/// are a running autoscaling shared cluster, a terminated single-user cluster and a running ML
/// cluster, and further ones cycle through the same three shapes with numbered names.
pub(crate) fn synthetic_cluster(index: usize) -> Value {
    let letters: String = (0..4).map(|k| char::from(b'a' + u8::try_from((index * 4 + k) % 26).unwrap_or(0))).collect();
    let cluster_id = format!("1125-{:06}-{letters}{:04}", 101_010 + index, (1234 + index * 1111) % 10_000);
    let suffix = if index < 3 { String::new() } else { format!("-{index}") };
    let start_time = 1_764_064_210_000_u64 + u64::try_from(index).unwrap_or(0) * 60_000;
    let (name, creator, state) = match index % 3 {
        0 => ("shared-etl", "alice@contoso.com", "RUNNING"),
        1 => ("alice-dev", "alice@contoso.com", "TERMINATED"),
        _ => ("ml-training", "bob@contoso.com", "RUNNING"),
    };
    let cluster_name = format!("{name}{suffix}");
    let mut cluster = json!({
        "cluster_id": cluster_id,
        "cluster_name": cluster_name,
        "state": state,
        "state_message": "",
        "spark_version": "15.4.x-scala2.12",
        "node_type_id": "Standard_DS3_v2",
        "driver_node_type_id": "Standard_DS3_v2",
        "creator_user_name": creator,
        "cluster_source": "UI",
        "autotermination_minutes": 120,
        "start_time": start_time,
        "enable_elastic_disk": true,
        "runtime_engine": "STANDARD",
        "data_security_mode": "USER_ISOLATION",
        "spark_conf": {},
        "spark_env_vars": { "PYSPARK_PYTHON": "/databricks/python3/bin/python3" },
        "custom_tags": { "team": "data-platform", "costcenter": "4711" },
        "default_tags": {
            "Vendor": "Databricks",
            "Creator": creator,
            "ClusterName": cluster_name,
            "ClusterId": cluster_id,
        },
        "azure_attributes": {
            "first_on_demand": 1,
            "availability": "ON_DEMAND_AZURE",
            "spot_bid_max_price": -1.0,
        },
    });
    match index % 3 {
        0 => {
            cluster["autoscale"] = json!({ "min_workers": 2, "max_workers": 8 });
            cluster["runtime_engine"] = json!("PHOTON");
            cluster["cluster_memory_mb"] = json!(43_008);
            cluster["cluster_cores"] = json!(12.0);
        }
        1 => {
            cluster["num_workers"] = json!(1);
            cluster["autotermination_minutes"] = json!(60);
            cluster["data_security_mode"] = json!("SINGLE_USER");
            cluster["single_user_name"] = json!(creator);
            cluster["state_message"] = json!("Inactive cluster terminated (inactive for 60 minutes).");
            cluster["terminated_time"] = json!(start_time + 5_400_000);
            cluster["termination_reason"] = json!({
                "code": "INACTIVITY",
                "type": "SUCCESS",
                "parameters": { "inactivity_duration_min": "60" },
            });
        }
        _ => {
            cluster["num_workers"] = json!(4);
            cluster["spark_version"] = json!("15.4.x-cpu-ml-scala2.12");
            cluster["node_type_id"] = json!("Standard_DS4_v2");
            cluster["driver_node_type_id"] = json!("Standard_DS4_v2");
            cluster["cluster_memory_mb"] = json!(143_360);
            cluster["cluster_cores"] = json!(40.0);
        }
    }
    cluster
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_clusters_are_distinct_and_shaped() {
        let clusters: Vec<Value> = (0..7).map(synthetic_cluster).collect();
        assert_eq!(clusters[0]["cluster_id"], "1125-101010-abcd1234");
        let mut ids: Vec<&str> = clusters.iter().filter_map(|c| c["cluster_id"].as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 7);
        assert_eq!(clusters[1]["state"], "TERMINATED");
        assert!(clusters[0]["autoscale"]["max_workers"].is_u64());
        assert!(clusters[2]["num_workers"].is_u64());
        assert_eq!(clusters[4]["cluster_name"], "alice-dev-4");
    }

    #[test]
    fn numeric_ids_are_stable_and_16_digits() {
        let id = numeric_id("5f1d4b2e-8c3a-4e7f-9b6d-2a1c3e5f7d90");
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(id, numeric_id("5f1d4b2e-8c3a-4e7f-9b6d-2a1c3e5f7d90"));
    }
}
