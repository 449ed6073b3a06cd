//! [`MockImds`]: a mock Azure managed-identity endpoint on loopback, in both shapes.
//!
//! - **VM IMDS**: `GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R`
//!   `[&client_id=|&object_id=|&msi_res_id=]` with header `Metadata: true`.
//! - **App Service / Functions / Container Apps**: `GET /msi/token?api-version=2019-08-01&resource=R`
//!   `[&client_id=|&object_id=|&mi_res_id=]` with header `X-IDENTITY-HEADER: <secret>`; point
//!   `IDENTITY_ENDPOINT` at [`MockImds::app_service_endpoint`] and `IDENTITY_HEADER` at
//!   [`MockImds::identity_header`].
//!
//! Answers are shaped like Azure's: every number is a string (`"expires_in": "86399"`), the
//! token is JWT-shaped with `aud` = the requested resource, `idtyp = app` and the identity's
//! object id, and it is recorded in the [`TokenRegistry`] given to [`MockImds::start_with`], so
//! a [`MockDatabricks`](crate::MockDatabricks) sharing that registry accepts it. Errors follow
//! IMDS: 400 `invalid_request` "Identity not found" for an unknown user-assigned identity, 400
//! "Required metadata header not specified" without `Metadata: true`, and `fail_next` queues 429s
//! or 5xx as on the other mocks.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

use crate::answer::Answer;
use crate::failure::Failure;
use crate::record::RecordedRequest;
use crate::registry::{TokenInfo, TokenRegistry};
use crate::{DATABRICKS_RESOURCE, TENANT_ID, clock, ids, jwt, lock};

/// Path of the VM IMDS token endpoint.
pub const IMDS_TOKEN_PATH: &str = "/metadata/identity/oauth2/token";
/// Path of the App Service token endpoint (what `IDENTITY_ENDPOINT` names).
pub const APP_SERVICE_TOKEN_PATH: &str = "/msi/token";

/// A managed identity the mock knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockIdentity {
    /// The identity's client (application) id.
    pub client_id: String,
    /// The identity's object (principal) id.
    pub object_id: String,
    /// The ARM resource id of a user-assigned identity (`None` for the system-assigned one).
    pub resource_id: Option<String>,
}

impl MockIdentity {
    /// The VM's system-assigned identity of the default configuration.
    pub fn system_assigned() -> Self {
        MockIdentity {
            client_id: "7d2a8f3e-1b4c-4e5d-9f6a-0c1b2d3e4f50".into(),
            object_id: "0b9e8d7c-6a5b-4c3d-8e2f-1a0b9c8d7e61".into(),
            resource_id: None,
        }
    }
    /// The user-assigned identity of the default configuration, `id-etl` in resource group `rg-data`.
    pub fn user_assigned() -> Self {
        MockIdentity {
            client_id: "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e62".into(),
            object_id: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b13".into(),
            resource_id: Some(
                "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-data/providers/\
                 Microsoft.ManagedIdentity/userAssignedIdentities/id-etl"
                    .into(),
            ),
        }
    }
}

/// A running mock managed-identity endpoint, listening on `127.0.0.1` until dropped.
pub struct MockImds {
    server: MockServer,
    state: Arc<Mutex<ImdsState>>,
}

struct ImdsState {
    tokens: TokenRegistry,
    system: Option<MockIdentity>,
    user_assigned: Vec<MockIdentity>,
    identity_header: String,
    lifetime: i64,
    requests: Vec<RecordedRequest>,
    failures: VecDeque<Failure>,
    issued: Vec<String>,
}

impl MockImds {
    /// Starts an endpoint with its own token registry, a system-assigned identity and one
    /// user-assigned identity ([`MockIdentity::system_assigned`], [`MockIdentity::user_assigned`]).
    pub async fn start() -> MockImds {
        MockImds::start_with(TokenRegistry::new()).await
    }

    /// Like [`MockImds::start`], recording issued tokens in `tokens` (a workspace's registry).
    pub async fn start_with(tokens: TokenRegistry) -> MockImds {
        let server = MockServer::builder().start().await;
        let state = Arc::new(Mutex::new(ImdsState {
            tokens,
            system: Some(MockIdentity::system_assigned()),
            user_assigned: vec![MockIdentity::user_assigned()],
            identity_header: format!("mock-identity-header-{}", ids::random_b64url(12)),
            lifetime: 86_399,
            requests: Vec::new(),
            failures: VecDeque::new(),
            issued: Vec::new(),
        }));
        Mock::given(any())
            .respond_with(ImdsRouter { state: Arc::clone(&state) })
            .with_priority(u8::MAX)
            .named("brickauth-mock managed identity endpoint")
            .mount(&server)
            .await;
        tracing::debug!(uri = %server.uri(), "mock managed identity endpoint started");
        MockImds { server, state }
    }

    /// The IMDS base URL, `http://127.0.0.1:PORT` (what `imds_endpoint` takes).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The App Service endpoint URL (what `IDENTITY_ENDPOINT` holds).
    pub fn app_service_endpoint(&self) -> String {
        format!("{}{APP_SERVICE_TOKEN_PATH}", self.server.uri())
    }

    /// The secret App Service requests must carry (what `IDENTITY_HEADER` holds).
    pub fn identity_header(&self) -> String {
        lock(&self.state).identity_header.clone()
    }

    /// Adds a user-assigned identity.
    pub fn add_identity(&self, identity: MockIdentity) {
        lock(&self.state).user_assigned.push(identity);
    }

    /// Removes the system-assigned identity (requests without a selector then fail).
    pub fn without_system_identity(&self) {
        lock(&self.state).system = None;
    }

    /// Sets the lifetime of the tokens issued from now on, in seconds.
    pub fn set_token_lifetime(&self, secs: i64) {
        lock(&self.state).lifetime = secs;
    }

    /// Queues canned answers for the next requests (see [`Failure`]).
    pub fn fail_next(&self, failures: Vec<Failure>) {
        lock(&self.state).failures.extend(failures);
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// How many requests were received.
    pub fn request_count(&self) -> usize {
        lock(&self.state).requests.len()
    }

    /// Every access token issued, in order.
    pub fn issued_access_tokens(&self) -> Vec<String> {
        lock(&self.state).issued.clone()
    }

    /// The registry issued tokens are recorded in.
    pub fn registry(&self) -> TokenRegistry {
        lock(&self.state).tokens.clone()
    }
}

impl std::fmt::Debug for MockImds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockImds").field("uri", &self.uri()).finish_non_exhaustive()
    }
}

struct ImdsRouter {
    state: Arc<Mutex<ImdsState>>,
}

impl Respond for ImdsRouter {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let request = RecordedRequest::from_wiremock(request);
        tracing::debug!(method = %request.method, path = %request.path, "mock IMDS request");
        let mut state = lock(&self.state);
        state.requests.push(request.clone());
        let answer = match state.failures.pop_front() {
            Some(failure) => failure.answer(|| state.route(&request)),
            None => state.route(&request),
        };
        answer.into_template()
    }
}

/// Which endpoint shape a request used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Imds,
    AppService,
}

impl ImdsState {
    fn route(&mut self, request: &RecordedRequest) -> Answer {
        let shape = match (request.method.as_str(), request.path.as_str()) {
            ("GET", IMDS_TOKEN_PATH) => Shape::Imds,
            ("GET", APP_SERVICE_TOKEN_PATH) => Shape::AppService,
            _ => return Answer::new(404, "text/plain", "Not Found"),
        };
        if let Err(answer) = self.check_request(shape, request) {
            return answer;
        }
        let q = |k: &str| request.query.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let res_key = if shape == Shape::Imds { "msi_res_id" } else { "mi_res_id" };
        let selectors = [q("client_id"), q("object_id"), q(res_key)];
        let identity = match selectors {
            [None, None, None] => self.system.clone(),
            [Some(c), None, None] => self.user_assigned.iter().find(|i| i.client_id.eq_ignore_ascii_case(c)).cloned(),
            [None, Some(o), None] => self.user_assigned.iter().find(|i| i.object_id.eq_ignore_ascii_case(o)).cloned(),
            [None, None, Some(r)] => self
                .user_assigned
                .iter()
                .find(|i| i.resource_id.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(r)))
                .cloned(),
            _ => return bad(shape, "Only one of client_id, object_id or msi_res_id may be given."),
        };
        let Some(identity) = identity else {
            return bad(shape, "Identity not found");
        };
        let resource = q("resource").unwrap_or(DATABRICKS_RESOURCE).to_owned();
        self.issue(shape, &identity, &resource)
    }

    fn check_request(&self, shape: Shape, request: &RecordedRequest) -> Result<(), Answer> {
        let api = request.query.get("api-version").map(String::as_str);
        match shape {
            Shape::Imds => {
                if request.headers.get("metadata").map(String::as_str) != Some("true") {
                    return Err(bad(shape, "Required metadata header not specified"));
                }
                if api != Some("2018-02-01") {
                    return Err(bad(shape, "Invalid API version. Please use 2018-02-01."));
                }
            }
            Shape::AppService => {
                if request.headers.get("x-identity-header") != Some(&self.identity_header) {
                    return Err(Answer::databricks_json(
                        401,
                        &json!({ "statusCode": 401, "message": "Unauthorized: missing or wrong X-IDENTITY-HEADER" }),
                    ));
                }
                if api != Some("2019-08-01") {
                    return Err(bad(shape, "Invalid API version. Please use 2019-08-01."));
                }
            }
        }
        if request.query.get("resource").is_none_or(String::is_empty) {
            return Err(bad(shape, "Required audience parameter not specified"));
        }
        Ok(())
    }

    fn issue(&mut self, shape: Shape, identity: &MockIdentity, resource: &str) -> Answer {
        let iat = clock::now();
        let exp = iat.saturating_add(self.lifetime);
        let claims = json!({
            "aud": resource,
            "iss": format!("https://sts.windows.net/{TENANT_ID}/"),
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "appid": identity.client_id,
            "appidacr": "2",
            "idtyp": "app",
            "oid": identity.object_id,
            "sub": identity.object_id,
            "tid": TENANT_ID,
            "xms_mirid": identity.resource_id.clone().unwrap_or_else(|| "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-data/providers/Microsoft.Compute/virtualMachines/vm-1".into()),
            "uti": ids::random_b64url(16),
            "ver": "1.0",
        });
        let token = jwt::encode(&jwt::mock_header(), &claims);
        self.tokens.insert(
            token.clone(),
            TokenInfo {
                username: identity.client_id.clone(),
                oid: identity.object_id.clone(),
                name: format!("managed identity {}", identity.client_id),
                client_id: identity.client_id.clone(),
                expires_at: exp,
            },
        );
        self.issued.push(token.clone());
        let body = match shape {
            Shape::Imds => json!({
                "access_token": token,
                "client_id": identity.client_id,
                "expires_in": self.lifetime.to_string(),
                "expires_on": exp.to_string(),
                "ext_expires_in": self.lifetime.to_string(),
                "not_before": iat.to_string(),
                "resource": resource,
                "token_type": "Bearer",
            }),
            Shape::AppService => json!({
                "access_token": token,
                "client_id": identity.client_id,
                "expires_on": exp.to_string(),
                "resource": resource,
                "token_type": "Bearer",
            }),
        };
        Answer::databricks_json(200, &body)
    }
}

/// A 400 in the endpoint's own error shape.
fn bad(shape: Shape, message: &str) -> Answer {
    match shape {
        Shape::Imds => {
            Answer::databricks_json(400, &json!({ "error": "invalid_request", "error_description": message }))
        }
        Shape::AppService => Answer::databricks_json(400, &json!({ "statusCode": 400, "message": message })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn imds_and_app_service_shapes() {
        let imds = MockImds::start().await;
        let http = reqwest::Client::new();
        let url = format!("{}{IMDS_TOKEN_PATH}?api-version=2018-02-01&resource={DATABRICKS_RESOURCE}", imds.uri());
        let r = http.get(&url).header("Metadata", "true").send().await.unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(v["expires_in"].is_string());
        assert!(imds.registry().is_valid(v["access_token"].as_str().unwrap()));

        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 400);

        let r = http.get(format!("{url}&client_id=00000000-0000-0000-0000-000000000009")).header("Metadata", "true");
        let v: serde_json::Value = r.send().await.unwrap().json().await.unwrap();
        assert_eq!(v["error_description"], "Identity not found");

        let app = format!("{}?api-version=2019-08-01&resource={DATABRICKS_RESOURCE}", imds.app_service_endpoint());
        let r = http.get(&app).header("X-IDENTITY-HEADER", imds.identity_header()).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(http.get(&app).send().await.unwrap().status(), 401);
        assert_eq!(imds.request_count(), 5);
    }
}
