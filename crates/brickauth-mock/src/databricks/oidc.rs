//! The workspace's own OAuth token endpoint, `POST /oidc/v1/token`, for Databricks-managed
//! service principals (OAuth M2M, client credentials).
//!
//! [`MockDatabricks::add_service_principal`] registers one principal: it mounts a wiremock mock
//! that matches token requests naming that client id (in an HTTP Basic `Authorization` header, as
//! the Databricks SDKs send it, or in the form body) and checks its secret. Token requests naming
//! an unknown client get 401 `invalid_client`. Issued tokens go into the workspace's
//! [`TokenRegistry`], so the workspace accepts them like the mock Entra's; requests are recorded
//! with the workspace's other requests and queued [`Failure`](crate::Failure)s apply to them.
//!
//! This lives in its own file so that the workspace routes in `databricks.rs` stay one table: the
//! token endpoint is the one workspace path that is not authenticated with a bearer token.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Match, Mock, Respond, ResponseTemplate};

use super::{MockDatabricks, WorkspaceState};
use crate::answer::Answer;
use crate::record::RecordedRequest;
use crate::registry::TokenInfo;
use crate::{clock, ids, jwt, lock};

/// Path of the workspace token endpoint.
pub const OIDC_TOKEN_PATH: &str = "/oidc/v1/token";

/// Lifetime of the tokens the workspace issues (Databricks: one hour).
const LIFETIME: i64 = 3600;

impl MockDatabricks {
    /// Registers a Databricks-managed service principal with this application id and OAuth secret
    /// at the workspace token endpoint `POST /oidc/v1/token`.
    pub async fn add_service_principal(&self, client_id: &str, secret: &str) {
        let principal = Principal {
            client_id: client_id.to_ascii_lowercase(),
            secret: secret.to_owned(),
            oid: ids::guid(),
            state: Arc::clone(&self.state),
        };
        Mock::given(method("POST"))
            .and(path(OIDC_TOKEN_PATH))
            .and(ClientIs(principal.client_id.clone()))
            .respond_with(principal)
            .with_priority(1)
            .named("brickauth-mock Databricks OIDC token endpoint (service principal)")
            .mount(&self.server)
            .await;
        // Any other client: invalid_client. Mounted once per principal, which is harmless.
        Mock::given(method("POST"))
            .and(path(OIDC_TOKEN_PATH))
            .respond_with(UnknownClient { state: Arc::clone(&self.state) })
            .with_priority(10)
            .named("brickauth-mock Databricks OIDC token endpoint (unknown client)")
            .mount(&self.server)
            .await;
    }
}

/// The client id and secret a token request presents: HTTP Basic first, else the form.
fn credentials(request: &RecordedRequest) -> Option<(String, String)> {
    if let Some(basic) = request.headers.get("authorization").and_then(|v| v.strip_prefix("Basic ")) {
        let decoded = STANDARD.decode(basic.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        let unescape =
            |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
        return Some((unescape(id)?.to_ascii_lowercase(), unescape(secret)?));
    }
    let id = request.field("client_id")?.to_ascii_lowercase();
    Some((id, request.field("client_secret").unwrap_or_default().to_owned()))
}

struct ClientIs(String);

impl Match for ClientIs {
    fn matches(&self, request: &wiremock::Request) -> bool {
        credentials(&RecordedRequest::from_wiremock(request)).is_some_and(|(id, _)| id == self.0)
    }
}

struct Principal {
    client_id: String,
    secret: String,
    oid: String,
    state: Arc<Mutex<WorkspaceState>>,
}

impl Respond for Principal {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let request = RecordedRequest::from_wiremock(request);
        let mut state = lock(&self.state);
        state.requests.push(request.clone());
        let answer = match state.failures.pop_front() {
            Some(failure) => failure.answer(|| self.token(&mut state, &request)),
            None => self.token(&mut state, &request),
        };
        answer.into_template()
    }
}

impl Principal {
    fn token(&self, state: &mut WorkspaceState, request: &RecordedRequest) -> Answer {
        if request.field("grant_type") != Some("client_credentials") {
            return oauth_error(400, "unsupported_grant_type", "Only client_credentials is supported here");
        }
        if credentials(request).is_none_or(|(_, secret)| secret != self.secret) {
            return oauth_error(401, "invalid_client", "Client authentication failed");
        }
        let scope = request.field("scope").unwrap_or("all-apis");
        if !scope.split(' ').any(|s| s == "all-apis") {
            return oauth_error(400, "invalid_scope", "The requested scope is invalid, unknown, or malformed");
        }
        let iat = clock::now();
        let exp = iat.saturating_add(LIFETIME);
        let claims = json!({
            "client_id": self.client_id,
            "scope": scope,
            "sub": self.client_id,
            "iss": "https://mock.azuredatabricks.net/oidc",
            "aud": "1234567890123456",
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "jti": ids::guid(),
        });
        let token = jwt::encode(&jwt::mock_header(), &claims);
        state.tokens.insert(
            token.clone(),
            TokenInfo {
                username: self.client_id.clone(),
                oid: self.oid.clone(),
                name: format!("service principal {}", self.client_id),
                client_id: self.client_id.clone(),
                expires_at: exp,
            },
        );
        let body = json!({ "access_token": token, "scope": scope, "token_type": "Bearer", "expires_in": LIFETIME });
        Answer::databricks_json(200, &body)
    }
}

struct UnknownClient {
    state: Arc<Mutex<WorkspaceState>>,
}

impl Respond for UnknownClient {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let request = RecordedRequest::from_wiremock(request);
        let mut state = lock(&self.state);
        state.requests.push(request);
        let unknown = || oauth_error(401, "invalid_client", "Client authentication failed");
        match state.failures.pop_front() {
            Some(failure) => failure.answer(unknown),
            None => unknown(),
        }
        .into_template()
    }
}

fn oauth_error(status: u16, error: &str, description: &str) -> Answer {
    Answer::databricks_json(status, &json!({ "error": error, "error_description": description }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokenRegistry;

    const SP: &str = "6a1f2e3d-4c5b-4a69-8877-665544332211";

    #[tokio::test]
    async fn issues_tokens_the_workspace_accepts() {
        let ws = MockDatabricks::start(TokenRegistry::new()).await;
        ws.add_service_principal(SP, "dose-secret").await;
        let http = reqwest::Client::new();
        let url = format!("{}{OIDC_TOKEN_PATH}", ws.uri());
        let form = [("grant_type", "client_credentials"), ("scope", "all-apis")];
        let r = http.post(&url).basic_auth(SP, Some("dose-secret")).form(&form).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        let token = v["access_token"].as_str().unwrap().to_owned();
        let list = format!("{}/api/2.0/clusters/list", ws.uri());
        assert_eq!(http.get(&list).bearer_auth(&token).send().await.unwrap().status(), 200);

        let with_form = [
            ("grant_type", "client_credentials"),
            ("scope", "all-apis"),
            ("client_id", SP),
            ("client_secret", "dose-secret"),
        ];
        assert_eq!(http.post(&url).form(&with_form).send().await.unwrap().status(), 200);
        let r = http.post(&url).basic_auth(SP, Some("wrong")).form(&form).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = http
            .post(&url)
            .basic_auth("00000000-0000-0000-0000-000000000000", Some("x"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(ws.request_count(), 5);
    }
}
