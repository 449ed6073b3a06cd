//! [`MockEntra`]: a mock Microsoft Entra ID v2.0 authority on loopback.
//!
//! Routes (any tenant segment — a GUID, a domain, `organizations`, `common` — is accepted, and
//! tokens always carry `tid` = [`TENANT_ID`]):
//!
//! - `POST /{tenant}/oauth2/v2.0/token` — the token endpoint (the `grants` module): password
//!   and refresh-token grants, Entra's error answers, queued faults.
//! - `GET /{tenant}/oauth2/v2.0/authorize` — an already-signed-in user's authorize step (the
//!   `authorize` module): code + state back to a loopback redirect URI, PKCE S256 required.
//! - `GET /{tenant}/v2.0/.well-known/openid-configuration` — OIDC discovery, pointing at the mock.
//! - `GET /common/userrealm/{user}?api-version=1.0` — the home-realm lookup MSAL makes before a
//!   password grant; every user is `Managed`.
//! - `/v1.0/…` — enough Microsoft Graph to register an app (the `graph` module).
//!
//! Anything else gets a 404. All state lives in one [`EntraState`] behind a mutex, shared by the
//! wiremock responder and the [`MockEntra`] handle that tests hold.

mod authorize;
pub(crate) mod client_credentials;
pub(crate) mod device;
pub(crate) mod errors;
mod grants;
pub(crate) mod graph;
mod tokens;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

use crate::answer::Answer;
use crate::config::{MockConfig, MockUser};
use crate::failure::Failure;
use crate::record::{RecordedRequest, percent_decode};
use crate::registry::TokenRegistry;
use crate::{CLIENT_ID, TENANT_ID, lock};

use errors::EntraError;

/// A running mock Entra ID authority, listening on `127.0.0.1` until dropped.
pub struct MockEntra {
    server: MockServer,
    state: Arc<Mutex<EntraState>>,
    registry: TokenRegistry,
}

impl MockEntra {
    /// Starts a mock with the default [`MockConfig`] (Alice, Bob, one client, one-hour tokens).
    pub async fn start() -> MockEntra {
        MockEntra::start_with(MockConfig::default()).await
    }

    /// Starts a mock with the given users, clients and token lifetime.
    pub async fn start_with(config: MockConfig) -> MockEntra {
        let server = MockServer::builder().start().await;
        let registry = TokenRegistry::new();
        let state = Arc::new(Mutex::new(EntraState {
            uri: server.uri(),
            config,
            registry: registry.clone(),
            refresh_tokens: HashMap::new(),
            failures: VecDeque::new(),
            requests: Vec::new(),
            token_requests: Vec::new(),
            issued_access_tokens: Vec::new(),
            issued_refresh_tokens: Vec::new(),
            device: device::DeviceState::default(),
            confidential: client_credentials::ConfidentialState::default(),
            authorize: authorize::AuthorizeState::default(),
            graph: graph::GraphState::new(),
        }));
        // Lowest priority: a test may mount its own wiremock mocks on `server()` to override a
        // route (such requests bypass this mock's state and are not recorded by it).
        Mock::given(any())
            .respond_with(Router { state: Arc::clone(&state) })
            .with_priority(u8::MAX)
            .named("brickauth-mock Entra ID")
            .mount(&server)
            .await;
        tracing::debug!(uri = %server.uri(), "mock Entra ID started");
        MockEntra { server, state, registry }
    }

    /// The authority host, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The tenant's token endpoint: `{uri}/{TENANT_ID}/oauth2/v2.0/token`.
    pub fn token_endpoint(&self) -> String {
        format!("{}/{TENANT_ID}/oauth2/v2.0/token", self.uri())
    }

    /// Sets the lifetime of access tokens issued from now on; 0 or negative mints tokens that
    /// are already expired.
    pub fn set_token_lifetime(&self, secs: i64) {
        lock(&self.state).config.token_lifetime_secs = secs;
    }

    /// Mints a valid, unused refresh token for `username` and the first registered client (or
    /// [`CLIENT_ID`] if none is), without a sign-in. Redeeming it for a username the tenant
    /// does not have fails with AADSTS50034.
    pub fn issue_refresh_token(&self, username: &str) -> String {
        let mut state = lock(&self.state);
        let client_id = state.config.clients.first().cloned().unwrap_or_else(|| CLIENT_ID.to_owned());
        state.mint_refresh_token(username, &client_id)
    }

    /// Queues canned answers for the next token requests (POSTs), one per request, after any already
    /// queued. Each is used once, before the request is processed; then normal processing
    /// resumes. Discovery and user-realm requests do not consume them.
    pub fn fail_next(&self, failures: Vec<Failure>) {
        lock(&self.state).failures.extend(failures);
    }

    /// Drops the queued failures that were not used up.
    pub fn clear_failures(&self) {
        lock(&self.state).failures.clear();
    }

    /// Every request to a token endpoint (any method, any tenant), in order, form decoded.
    pub async fn token_requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).token_requests.clone()
    }

    /// How many token endpoint requests were received.
    pub fn token_request_count(&self) -> usize {
        lock(&self.state).token_requests.len()
    }

    /// Every request this mock answered (token, discovery, user realm, unknown paths), in order.
    pub async fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// Every access token minted, in order (tests scan logs and output for leaks).
    pub fn issued_access_tokens(&self) -> Vec<String> {
        lock(&self.state).issued_access_tokens.clone()
    }

    /// Every refresh token minted, in order, including those from
    /// [`issue_refresh_token`](Self::issue_refresh_token).
    pub fn issued_refresh_tokens(&self) -> Vec<String> {
        lock(&self.state).issued_refresh_tokens.clone()
    }

    /// The shared registry of issued access tokens, for [`MockDatabricks::start`](crate::MockDatabricks::start).
    pub fn registry(&self) -> TokenRegistry {
        self.registry.clone()
    }

    /// The underlying wiremock server, to mount extra mocks that take precedence over this one.
    pub fn server(&self) -> &MockServer {
        &self.server
    }
}

impl std::fmt::Debug for MockEntra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockEntra").field("uri", &self.uri()).finish_non_exhaustive()
    }
}

/// Everything the mock Entra knows; one instance per [`MockEntra`], behind its mutex.
#[derive(Debug)]
pub(crate) struct EntraState {
    /// The mock's own base URI, for discovery documents and `iss` claims.
    uri: String,
    config: MockConfig,
    registry: TokenRegistry,
    refresh_tokens: HashMap<String, RefreshGrant>,
    failures: VecDeque<Failure>,
    requests: Vec<RecordedRequest>,
    token_requests: Vec<RecordedRequest>,
    issued_access_tokens: Vec<String>,
    issued_refresh_tokens: Vec<String>,
    /// Device authorization state (`device` module).
    device: device::DeviceState,
    /// Confidential clients and assertion checks (`client_credentials` module).
    confidential: client_credentials::ConfidentialState,
    /// Issued authorization codes and a queued authorize error (`authorize` module).
    authorize: authorize::AuthorizeState,
    /// The directory's applications, service principals and grants (`graph` module).
    graph: graph::GraphState,
}

/// What a refresh token stands for.
#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    username: String,
    client_id: String,
    /// Redeemed already; a second redemption fails with AADSTS70008.
    used: bool,
}

/// The routes the mock answers.
enum Route {
    Token,
    Authorize,
    Discovery { tenant: String },
    UserRealm { user: String },
    DeviceCode,
    Graph,
    NotFound,
}

impl Route {
    fn of(request: &RecordedRequest) -> Route {
        match (request.method.as_str(), request.segments().as_slice()) {
            (_, [_tenant, "oauth2", "v2.0", "token"]) => Route::Token,
            ("GET", [_tenant, "oauth2", "v2.0", "authorize"]) => Route::Authorize,
            (_, [_tenant, "oauth2", "v2.0", "devicecode"]) => Route::DeviceCode,
            ("GET", [tenant, "v2.0", ".well-known", "openid-configuration"]) => {
                Route::Discovery { tenant: percent_decode(tenant) }
            }
            ("GET", ["common", "userrealm", user]) => Route::UserRealm { user: percent_decode(user) },
            (_, ["v1.0", _, ..]) => Route::Graph,
            _ => Route::NotFound,
        }
    }
}

/// The wiremock responder: decodes the request and hands it to the state.
struct Router {
    state: Arc<Mutex<EntraState>>,
}

impl Respond for Router {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let request = RecordedRequest::from_wiremock(request);
        tracing::debug!(method = %request.method, path = %request.path, "mock Entra ID request");
        lock(&self.state).route(request).into_template()
    }
}

impl EntraState {
    fn route(&mut self, request: RecordedRequest) -> Answer {
        self.requests.push(request.clone());
        match Route::of(&request) {
            Route::Token if request.method == "POST" => self.token_endpoint(request),
            Route::Token => {
                let method = request.method.clone();
                self.token_requests.push(request);
                EntraError::method_not_allowed(&method).answer(&crate::ids::guid())
            }
            Route::Discovery { tenant } => self.openid_configuration(&tenant),
            Route::UserRealm { user } => self.user_realm(&user),
            Route::DeviceCode => self.device_authorization(request),
            Route::Authorize => self.authorize(&request),
            Route::Graph => self.graph(&request),
            Route::NotFound => {
                Answer::new(404, "text/html; charset=utf-8", "<html><body><h1>404 Not Found</h1></body></html>")
            }
        }
    }

    /// A user of the tenant, by case-insensitive username.
    fn user(&self, username: &str) -> Option<&MockUser> {
        self.config.users.iter().find(|user| user.username.eq_ignore_ascii_case(username))
    }

    /// The OIDC discovery document. Multi-tenant segments keep their name in the endpoints and
    /// a `{tenantid}` placeholder in `issuer`, as Entra does; anything else resolves to the mock
    /// tenant.
    fn openid_configuration(&self, tenant: &str) -> Answer {
        let multi_tenant =
            ["common", "organizations", "consumers"].iter().any(|name| tenant.eq_ignore_ascii_case(name));
        let (path_tenant, issuer_tenant) = if multi_tenant { (tenant, "{tenantid}") } else { (TENANT_ID, TENANT_ID) };
        let base = format!("{}/{path_tenant}", self.uri);
        let body = json!({
            "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
            "token_endpoint": format!("{base}/oauth2/v2.0/token"),
            "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
            "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
            "jwks_uri": format!("{}/{path_tenant}/discovery/v2.0/keys", self.uri),
            "issuer": format!("{}/{issuer_tenant}/v2.0", self.uri),
            "token_endpoint_auth_methods_supported":
                ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce",
                "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "request_uri_parameter_supported": false,
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        });
        Answer::entra_json(200, &body)
    }

    /// The home-realm document: `Managed` for a domain one of the tenant's users has, else
    /// `Unknown` (what Entra says for a domain no tenant claims).
    fn user_realm(&self, user: &str) -> Answer {
        let domain = user.rsplit_once('@').map_or("", |(_, domain)| domain);
        let known = !domain.is_empty()
            && self
                .config
                .users
                .iter()
                .any(|known| known.username.rsplit_once('@').is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain)));
        let body = if known {
            json!({
                "ver": "1.0",
                "account_type": "Managed",
                "domain_name": domain.to_ascii_lowercase(),
                "cloud_instance_name": "microsoftonline.com",
                "cloud_audience_urn": "urn:federation:MicrosoftOnline",
            })
        } else {
            json!({
                "ver": "1.0",
                "account_type": "Unknown",
                "cloud_instance_name": "microsoftonline.com",
            })
        };
        Answer::entra_json(200, &body)
    }
}
