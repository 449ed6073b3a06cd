//! [`WorkspaceClient`]: authenticated requests to one workspace, with retries.
//!
//! Every request asks the [`TokenSource`] for a token first (the source answers from memory or its
//! cache when the token is still good, so this is cheap) and carries:
//!
//! - `Authorization: Bearer <token>`;
//! - `X-Databricks-Azure-Workspace-Resource-Id: <id>` when a [`ResourceId`] is set;
//! - `User-Agent: brickauth/<version>` and `Accept: application/json`.
//!
//! Retries: 429 and 503 are retried, honouring `Retry-After` (seconds or an HTTP date), otherwise
//! with exponential backoff and jitter; connection errors are retried for idempotent methods only
//! (GET, HEAD, PUT, DELETE, OPTIONS) — a POST that may have reached the server is not re-sent. All
//! of it within a total budget (300 s by default). A 401 makes the client ask the source for a
//! *new* token (`force_refresh`) once and repeat the request once; 403 and other 4xx are final.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use brickauth_core::ExposeSecret;
use brickauth_core::TokenSource;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::clusters::Clusters;
use crate::error::DatabricksError;
use crate::scim::CurrentUser;
use crate::{MANAGEMENT_TOKEN_HEADER, RESOURCE_ID_HEADER, Result};

/// The default total time allowed for one request and its retries.
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(300);

/// First backoff step when the server gives no `Retry-After`; doubles per attempt.
const BASE_DELAY: Duration = Duration::from_millis(500);
/// Longest backoff step.
const MAX_DELAY: Duration = Duration::from_secs(10);

/// A client for one Azure Databricks workspace. Cheap to clone (the HTTP connection pool and the
/// token source are shared).
#[derive(Clone)]
pub struct WorkspaceClient {
    host: Url,
    source: Arc<dyn TokenSource>,
    /// Built on first use and shared by clones (a pager holds one): one connection pool, TLS
    /// roots loaded once.
    http: Arc<std::sync::OnceLock<reqwest::Client>>,
    resource_id: Option<ResourceId>,
    management: Option<Arc<dyn TokenSource>>,
    budget: Duration,
}

impl std::fmt::Debug for WorkspaceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkspaceClient")
            .field("host", &self.host.as_str())
            .field("resource_id", &self.resource_id)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl WorkspaceClient {
    /// A client for the workspace at `host` (`https://adb-….azuredatabricks.net`, a bare host
    /// name, or `http://` to a loopback address), taking its tokens from `source`.
    pub fn new(host: &str, source: Arc<dyn TokenSource>) -> Result<Self> {
        Ok(WorkspaceClient {
            host: normalise_host(host)?,
            source,
            http: Arc::default(),
            resource_id: None,
            management: None,
            budget: DEFAULT_RETRY_BUDGET,
        })
    }

    /// Send `X-Databricks-Azure-Workspace-Resource-Id` with every request.
    pub fn with_resource_id(mut self, id: ResourceId) -> Self {
        self.resource_id = Some(id);
        self
    }

    /// The total time one request and its retries may take (default 300 s).
    pub fn with_retry_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// Also send `X-Databricks-Azure-SP-Management-Token` with a token for the Azure
    /// service-management endpoint from `source`: Azure Databricks then adds a service principal
    /// that is a contributor on the workspace resource as a workspace user on first use. Needs
    /// the resource id ([`WorkspaceClient::with_resource_id`]) to be useful.
    pub fn with_management_token(mut self, source: Arc<dyn TokenSource>) -> Self {
        self.management = Some(source);
        self
    }

    /// Use this `reqwest` client (its timeouts, proxies and roots) instead of brickauth's default
    /// one, which is built on first use.
    pub fn with_http(mut self, http: reqwest::Client) -> Self {
        self.http = Arc::new(std::sync::OnceLock::from(http));
        self
    }

    /// The workspace URL, without a trailing slash.
    pub fn host(&self) -> &str {
        self.host.as_str().trim_end_matches('/')
    }

    /// The resource id sent with every request, if any.
    pub fn resource_id(&self) -> Option<&ResourceId> {
        self.resource_id.as_ref()
    }

    /// The clusters API.
    pub fn clusters(&self) -> Clusters {
        Clusters::new(self.clone())
    }

    /// The signed-in identity (`GET /api/2.0/preview/scim/v2/Me`).
    pub async fn current_user(&self) -> Result<CurrentUser> {
        self.get("/api/2.0/preview/scim/v2/Me", &[]).await
    }

    /// `GET path?query`, decoded as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(String, String)]) -> Result<T> {
        let (url, body) = self.execute(Method::GET, path, query, None).await?;
        serde_json::from_slice(&body).map_err(|e| DatabricksError::Decode { url, message: e.to_string() })
    }

    /// Any request: `method path?query` with an optional JSON body; the answer as JSON (an empty
    /// answer is `{}`).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Value> {
        let (url, bytes) = self.execute(method, path, query, body).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(serde_json::Map::new()));
        }
        serde_json::from_slice(&bytes).map_err(|e| DatabricksError::Decode { url, message: e.to_string() })
    }

    fn url(&self, path: &str, query: &[(String, String)]) -> Result<Url> {
        let path = path.trim();
        let joined = format!("{}/{}", self.host(), path.trim_start_matches('/'));
        let mut url = Url::parse(&joined).map_err(|e| DatabricksError::InvalidHost(format!("`{joined}`: {e}")))?;
        if url.host_str() != self.host.host_str() || url.port_or_known_default() != self.host.port_or_known_default() {
            return Err(DatabricksError::InvalidHost(format!("path `{path}` leaves the workspace")));
        }
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    fn http(&self) -> Result<reqwest::Client> {
        if let Some(h) = self.http.get() {
            return Ok(h.clone());
        }
        let built = brickauth_core::http::client_builder()
            .map_err(|e| DatabricksError::Transport { url: self.host().to_owned(), message: e.to_string() })?
            .build()
            .map_err(|e| DatabricksError::Transport { url: self.host().to_owned(), message: e.to_string() })?;
        Ok(self.http.get_or_init(|| built).clone())
    }

    /// Send with retries; the successful answer's URL (for messages) and body.
    async fn execute(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<(String, Vec<u8>)> {
        let url = self.url(path, query)?;
        let shown = brickauth_core::http::strip(&url);
        let http = self.http()?;
        let idempotent = matches!(method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS);
        let start = Instant::now();
        let mut attempt = 0u32;
        let mut force_refresh = false;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let token = self.source.token(force_refresh).await.map_err(DatabricksError::Token)?;
            force_refresh = false;
            let mut req = http
                .request(method.clone(), url.clone())
                .header("Authorization", format!("Bearer {}", token.secret.expose_secret()))
                .header("User-Agent", concat!("brickauth/", env!("CARGO_PKG_VERSION")))
                .header("Accept", "application/json");
            if let Some(id) = &self.resource_id {
                req = req.header(RESOURCE_ID_HEADER, id.as_str());
            }
            if let Some(m) = &self.management {
                let mt = m.token(false).await.map_err(DatabricksError::Token)?;
                req = req.header(MANAGEMENT_TOKEN_HEADER, mt.secret.expose_secret());
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            tracing::debug!(%method, url = %shown, attempt, "Databricks request");
            let (failure, wait) = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let asked = brickauth_core::http::retry_after(resp.headers(), SystemTime::now());
                    let bytes = match resp.bytes().await {
                        Ok(b) => b.to_vec(),
                        Err(e) if idempotent => {
                            let err = DatabricksError::Transport { url: shown.clone(), message: e.to_string() };
                            let wait = backoff(attempt);
                            self.wait_or_give_up(start, attempt, err, wait).await?;
                            continue;
                        }
                        Err(e) => return Err(DatabricksError::Transport { url: shown, message: e.to_string() }),
                    };
                    if (200..300).contains(&status) {
                        return Ok((shown, bytes));
                    }
                    let err = DatabricksError::from_response(status, &bytes);
                    if status == 401 && !refreshed {
                        tracing::info!("workspace rejected the token ({err}); fetching a fresh one");
                        refreshed = true;
                        force_refresh = true;
                        continue;
                    }
                    if status != 429 && status != 503 {
                        return Err(err);
                    }
                    (err, asked.unwrap_or_else(|| backoff(attempt)))
                }
                Err(e) => {
                    let err = DatabricksError::Transport {
                        url: shown.clone(),
                        message: brickauth_core::http::transport_message(&e),
                    };
                    if !idempotent {
                        return Err(err);
                    }
                    (err, backoff(attempt))
                }
            };
            self.wait_or_give_up(start, attempt, failure, wait).await?;
        }
    }

    /// Sleep `wait` before the next attempt, or give up if that would overrun the budget.
    async fn wait_or_give_up(
        &self,
        start: Instant,
        attempts: u32,
        failure: DatabricksError,
        wait: Duration,
    ) -> Result<()> {
        let elapsed = start.elapsed();
        if elapsed + wait > self.budget {
            return Err(DatabricksError::RetriesExhausted {
                attempts,
                elapsed_secs: elapsed.as_secs(),
                last: Box::new(failure),
            });
        }
        tracing::info!("retrying in {:.1} s (attempt {attempts} failed: {failure})", wait.as_secs_f64());
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

/// Exponential backoff with jitter (core's policy: between half and all of
/// `BASE_DELAY * 2^(attempt-1)`, capped at `MAX_DELAY`).
fn backoff(attempt: u32) -> Duration {
    let policy = brickauth_core::RetryPolicy {
        max_attempts: u32::MAX,
        base_delay: BASE_DELAY,
        max_delay: MAX_DELAY,
        budget: DEFAULT_RETRY_BUDGET,
        statuses: &[429, 503],
    };
    policy.backoff(attempt)
}

/// A workspace host as the client uses it: `https://…` (or `http://` to loopback) without a
/// trailing slash; a bare host name gets `https://`.
pub fn normalise(host: &str) -> Result<String> {
    Ok(normalise_host(host)?.as_str().trim_end_matches('/').to_owned())
}

pub(crate) fn normalise_host(host: &str) -> Result<Url> {
    let host = host.trim();
    if host.is_empty() {
        return Err(DatabricksError::InvalidHost("empty host".to_owned()));
    }
    let with_scheme = if host.contains("://") { host.to_owned() } else { format!("https://{host}") };
    let mut url =
        brickauth_core::app::secure_url(&with_scheme).map_err(|e| DatabricksError::InvalidHost(e.to_string()))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(DatabricksError::InvalidHost(format!("`{host}` has a query or fragment")));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

/// An Azure Databricks workspace's ARM resource id:
/// `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Databricks/workspaces/{name}`.
///
/// Sent exactly as given (less surrounding whitespace and a trailing slash). The fixed segments are
/// matched case-insensitively, as ARM does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceId(String);

impl ResourceId {
    /// Parse and validate an id.
    pub fn parse(id: &str) -> Result<Self> {
        let id = id.trim().trim_end_matches('/');
        let bad = |why: &str| {
            DatabricksError::InvalidResourceId(format!(
                "`{id}` {why}; expected /subscriptions/<subscription>/resourceGroups/<group>/providers/Microsoft.Databricks/workspaces/<name>"
            ))
        };
        let segments: Vec<&str> = id.split('/').collect();
        let [first, subs, sub, rgs, rg, providers, ns, ws, name] = segments.as_slice() else {
            return Err(bad("does not have 8 segments"));
        };
        let fixed = [
            (*subs, "subscriptions"),
            (*rgs, "resourceGroups"),
            (*providers, "providers"),
            (*ns, "Microsoft.Databricks"),
            (*ws, "workspaces"),
        ];
        if !first.is_empty() {
            return Err(bad("does not start with /"));
        }
        for (got, want) in fixed {
            if !got.eq_ignore_ascii_case(want) {
                return Err(bad(&format!("has `{got}` where `{want}` belongs")));
            }
        }
        for (part, what) in [(*sub, "subscription"), (*rg, "resource group"), (*name, "workspace name")] {
            if part.is_empty() || part.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(bad(&format!("has an empty or malformed {what}")));
            }
        }
        Ok(ResourceId(id.to_owned()))
    }

    /// The id of workspace `name` in resource group `rg` of subscription `sub`.
    pub fn from_parts(sub: &str, rg: &str, name: &str) -> Result<Self> {
        Self::parse(&format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Databricks/workspaces/{}",
            sub.trim(),
            rg.trim(),
            name.trim()
        ))
    }

    /// The id as sent in the header.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ResourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for ResourceId {
    type Err = DatabricksError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}
