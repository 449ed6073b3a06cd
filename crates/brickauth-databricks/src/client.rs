//! [`WorkspaceClient`]: authenticated requests to one workspace, with retries.
//!
//! Every request asks the [`TokenSource`] for a token first (the source answers from memory or its
//! cache when the token is still good, so this is cheap) and carries:
//!
//! - `Authorization: Bearer <token>`;
//! - `X-Databricks-Azure-Workspace-Resource-Id: <id>` when a [`ResourceId`] is set;
//! - `User-Agent: brickauth/<version>` and `Accept: application/json`.
//!
//! Retries go through core's one engine ([`brickauth_core::retry`]): 429, 500, 502, 503 and 504
//! are retried as the token endpoint's are (for a `POST` only 429 and 503, which promise the
//! request was not processed),
//! honouring `Retry-After` (seconds or an HTTP date), otherwise with exponential backoff and
//! jitter, within the busy budget (300 s by default, `BRICKAUTH_RETRY_BUDGET`); connection errors
//! within their own short budget (10 s, `BRICKAUTH_CONNECT_RETRY_BUDGET`) — for idempotent methods
//! only (GET, HEAD, PUT, DELETE, OPTIONS: a POST that may have reached the server is not re-sent). Errors no retry can fix (an unknown TLS issuer,
//! an invalid header value) fail at once. A 401 makes the client ask the source for a *new*
//! token (`force_refresh`) once and repeat the request once; 403 and other 4xx are final.
//!
//! Answers are read with a size limit ([`BODY_LIMIT`]); error text shown to a user is cleaned and
//! never contains the bearer tokens the request carried.

use std::sync::Arc;
use std::time::Duration;

use brickauth_core::http::{Answer, Failure, HttpConfig, strip};
use brickauth_core::retry::{self, Budget, GaveUp, Observer, RetryKind, RetryPolicy, Verdict};
use brickauth_core::source::SourceError;
use brickauth_core::text::ServerText;
use brickauth_core::{ExposeSecret, TokenSource, WorkspaceId};
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

/// The most of a successful answer that is read (a page of a listing is far smaller).
pub const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// The default retry policy: 12 attempts; connection errors within 10 s
/// (`BRICKAUTH_CONNECT_RETRY_BUDGET`), busy answers (429, 5xx) within 300 s (`BRICKAUTH_RETRY_BUDGET`).
pub fn default_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 12,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(30),
        connect: Budget::from_env(retry::CONNECT_BUDGET_VAR, retry::DEFAULT_CONNECT_BUDGET),
        busy: Budget::from_env(retry::ANSWER_BUDGET_VAR, DEFAULT_RETRY_BUDGET),
    }
}

/// One attempt's failure: no answer, or no token to send.
enum Miss {
    Transport(Failure),
    Token(SourceError),
}

/// A client for one Azure Databricks workspace. Cheap to clone (the HTTP connection pool and the
/// token source are shared).
#[derive(Clone)]
pub struct WorkspaceClient {
    host: Url,
    source: Arc<dyn TokenSource>,
    /// Built on first use and shared by clones (a pager holds one): one connection pool, TLS
    /// roots loaded once.
    http: Arc<std::sync::OnceLock<reqwest::Client>>,
    config: Option<Arc<HttpConfig>>,
    resource_id: Option<ResourceId>,
    workspace_id: Option<WorkspaceId>,
    management: Option<Arc<dyn TokenSource>>,
    policy: RetryPolicy,
    observer: Option<Observer>,
}

impl std::fmt::Debug for WorkspaceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkspaceClient")
            .field("host", &self.host.as_str())
            .field("resource_id", &self.resource_id)
            .field("workspace_id", &self.workspace_id)
            .field("policy", &self.policy)
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
            config: None,
            resource_id: None,
            workspace_id: None,
            management: None,
            policy: default_policy(),
            observer: None,
        })
    }

    /// Send `X-Databricks-Azure-Workspace-Resource-Id` with every request.
    pub fn with_resource_id(mut self, id: ResourceId) -> Self {
        self.resource_id = Some(id);
        self
    }

    /// Send `X-Databricks-Workspace-Id` with every workspace-level request (not with account
    /// paths, `/api/2.0/accounts/…`): on a unified host it says which workspace is meant.
    pub fn with_workspace_id(mut self, id: WorkspaceId) -> Self {
        self.workspace_id = Some(id);
        self
    }

    /// The total time one request and its retries of busy answers (429, 5xx) may take
    /// (default 300 s, `BRICKAUTH_RETRY_BUDGET`).
    pub fn with_retry_budget(mut self, budget: Duration) -> Self {
        self.policy.busy.limit = budget;
        self
    }

    /// Replace the whole retry policy.
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Tell `observer` about every wait before a retry.
    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Build the HTTP client from this configuration (extra CA certificates, proxy) instead of
    /// [`HttpConfig::from_env`].
    pub fn with_http_config(mut self, config: HttpConfig) -> Self {
        self.config = Some(Arc::new(config));
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
        let (url, body, _text) = self.execute(Method::GET, path, query, None).await?;
        serde_json::from_slice(&body).map_err(|e| DatabricksError::undecodable(url, &body, &e))
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
        let (url, bytes, _text) = self.execute(method, path, query, body).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(serde_json::Map::new()));
        }
        serde_json::from_slice(&bytes).map_err(|e| DatabricksError::undecodable(url, &bytes, &e))
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
        let failed = |e: brickauth_core::AuthError| DatabricksError::Transport {
            url: self.host().to_owned(),
            message: e.to_string(),
        };
        let built = match &self.config {
            Some(c) => c.build(),
            None => HttpConfig::from_env().map_err(brickauth_core::AuthError::from).and_then(|c| c.build()),
        }
        .map_err(failed)?;
        Ok(self.http.get_or_init(|| built).clone())
    }

    /// Send with retries; the successful answer's URL (for messages), body and text cleaner.
    async fn execute(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<(String, Vec<u8>, ServerText)> {
        let url = self.url(path, query)?;
        let shown = strip(&url);
        let http = self.http()?;
        let idempotent = matches!(method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS);
        let mut force_refresh = false;
        loop {
            let (outcome, gave_up) = retry::run(
                &self.policy,
                self.observer.as_deref(),
                &shown,
                |attempt| {
                    let (http, method, url, shown) = (&http, &method, &url, &shown);
                    let force = force_refresh && attempt == 1;
                    async move { self.attempt(http, method, url, shown, body, force, attempt).await }
                },
                |o: &std::result::Result<Answer, Miss>| classify(o, idempotent),
            )
            .await;
            let answer = match outcome {
                Ok(a) => a,
                Err(Miss::Token(e)) => return Err(DatabricksError::Token(e)),
                Err(Miss::Transport(f)) => {
                    let err = DatabricksError::Transport { url: f.url, message: f.message };
                    return Err(give_up(gave_up, err));
                }
            };
            if answer.is_success() {
                return Ok((shown, answer.body, answer.text));
            }
            let err = DatabricksError::from_answer_at(&shown, &answer);
            if answer.status == 401 && !force_refresh && gave_up.is_none() {
                tracing::info!("workspace rejected the token ({err}); fetching a fresh one");
                force_refresh = true;
                continue;
            }
            return Err(give_up(gave_up, err));
        }
    }

    /// One request: a token, the headers, the answer read with a limit.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        http: &reqwest::Client,
        method: &Method,
        url: &Url,
        shown: &str,
        body: Option<&Value>,
        force_refresh: bool,
        attempt: u32,
    ) -> std::result::Result<Answer, Miss> {
        let token = self.source.token(force_refresh).await.map_err(Miss::Token)?;
        let mut secrets = vec![token.secret.expose_secret().to_owned()];
        let mut req = http
            .request(method.clone(), url.clone())
            .header("Authorization", format!("Bearer {}", token.secret.expose_secret()))
            .header("User-Agent", concat!("brickauth/", env!("CARGO_PKG_VERSION")))
            .header("Accept", "application/json");
        if let Some(id) = &self.resource_id {
            req = req.header(RESOURCE_ID_HEADER, id.as_str());
        }
        if let Some(id) = self.workspace_id.as_ref().filter(|_| !crate::account::is_account_path(url.path())) {
            req = req.header(crate::account::WORKSPACE_ID_HEADER, id.as_str());
        }
        if let Some(m) = &self.management {
            let mt = m.token(false).await.map_err(Miss::Token)?;
            secrets.push(mt.secret.expose_secret().to_owned());
            req = req.header(MANAGEMENT_TOKEN_HEADER, mt.secret.expose_secret());
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        tracing::debug!(%method, url = %shown, attempt, "Databricks request");
        let text = ServerText::new(secrets.iter().map(String::as_str));
        let started = std::time::Instant::now();
        match req.send().await {
            Ok(resp) => Answer::read(resp, BODY_LIMIT, text).await.inspect(|a| a.log(started)).map_err(Miss::Transport),
            Err(e) => Err(Miss::Transport(Failure::from_reqwest(shown, &e, ""))),
        }
    }
}

/// The classify callback, the token endpoint's rule: 429, 500, 502, 503, 504 are busy (an HTML
/// 502 from a gateway too) — for a `POST` only 429 and 503, which promise the request was not
/// processed; connection errors retry for idempotent methods only; everything else is final.
fn classify(outcome: &std::result::Result<Answer, Miss>, idempotent: bool) -> Verdict {
    let busy = if idempotent { brickauth_core::http::BUSY } else { brickauth_core::http::NOT_PROCESSED };
    match outcome {
        Ok(a) if busy.contains(&a.status) => {
            Verdict::Retry { kind: RetryKind::Busy, after: a.retry_after, reason: format!("HTTP {}", a.status) }
        }
        Ok(_) | Err(Miss::Token(_)) => Verdict::Final,
        Err(Miss::Transport(f)) => match f.kind {
            Some(kind) if idempotent => Verdict::Retry { kind, after: None, reason: f.reason() },
            _ => Verdict::Final,
        },
    }
}

/// `err`, or the give-up wrapping it.
fn give_up(gave_up: Option<GaveUp>, err: DatabricksError) -> DatabricksError {
    match gave_up {
        None => err,
        Some(g) => DatabricksError::RetriesExhausted {
            attempts: g.attempts,
            elapsed_secs: g.elapsed.as_secs(),
            why: g.to_string(),
            last: Box::new(err),
        },
    }
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

    /// The subscription, resource group and workspace name, as given.
    pub fn parts(&self) -> (&str, &str, &str) {
        let mut s = self.0.split('/');
        // `parse` checked the shape: "", subscriptions, SUB, resourceGroups, RG, providers, ns, workspaces, NAME.
        let sub = s.nth(2).unwrap_or_default();
        let rg = s.nth(1).unwrap_or_default();
        let name = s.nth(3).unwrap_or_default();
        (sub, rg, name)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> std::result::Result<Answer, Miss> {
        Ok(Answer {
            url: "https://adb-1.2.azuredatabricks.net/api/2.1/clusters/list".to_owned(),
            status,
            retry_after: None,
            body: body.as_bytes().to_vec(),
            truncated: false,
            text: ServerText::default(),
        })
    }

    /// A gateway's HTML 502 is retried as the token endpoint retries it; a `POST` only on the
    /// answers that promise it was not processed.
    #[test]
    fn retried_as_the_token_endpoint_is() {
        let page = "<html><head><title>502 Bad Gateway</title></head></html>";
        for status in [429, 500, 502, 503, 504] {
            assert!(matches!(classify(&answer(status, page), true), Verdict::Retry { .. }), "GET {status}");
            let token = brickauth_core::http::classify(brickauth_core::http::TOKEN_BUSY);
            let same = Ok(Answer { status, ..answer(status, page).ok().unwrap() });
            assert!(matches!(token(&same), Verdict::Retry { .. }), "token endpoint {status}");
        }
        assert!(matches!(classify(&answer(502, page), false), Verdict::Final), "POST 502");
        assert!(matches!(classify(&answer(503, page), false), Verdict::Retry { .. }), "POST 503");
        assert!(matches!(classify(&answer(404, "{}"), true), Verdict::Final));
    }
}
