//! Helpers shared by the HTTP-level tests: one request, status + headers + JSON body back.
#![allow(dead_code)] // each test file uses a different subset

use brickauth_mock::{CLIENT_ID, DATABRICKS_RESOURCE, MockEntra};
use serde_json::Value;

/// What a test looks at in a response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub async fn from(response: reqwest::Response) -> Reply {
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            text: response.text().await.expect("response body"),
        }
    }

    /// The body as JSON (panics with the body if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The scope MSAL sends for Databricks with a refresh token and an id token.
pub fn full_scope() -> String {
    format!("{DATABRICKS_RESOURCE}/.default offline_access openid profile")
}

/// POSTs a form to the mock's token endpoint.
pub async fn post_token(entra: &MockEntra, form: &[(&str, &str)]) -> Reply {
    let response = reqwest::Client::new().post(entra.token_endpoint()).form(form).send().await.expect("token request");
    Reply::from(response).await
}

/// A password grant for `username`/`password` with MSAL's parameters.
pub async fn password_grant(entra: &MockEntra, username: &str, password: &str) -> Reply {
    let scope = full_scope();
    post_token(
        entra,
        &[
            ("client_id", CLIENT_ID),
            ("grant_type", "password"),
            ("client_info", "1"),
            ("username", username),
            ("password", password),
            ("scope", &scope),
        ],
    )
    .await
}

/// A refresh-token grant with MSAL's parameters.
pub async fn refresh_grant(entra: &MockEntra, refresh_token: &str) -> Reply {
    let scope = full_scope();
    post_token(
        entra,
        &[
            ("client_id", CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("client_info", "1"),
            ("refresh_token", refresh_token),
            ("scope", &scope),
        ],
    )
    .await
}

/// Alice's access token, signed in with the password grant.
pub async fn alice_token(entra: &MockEntra) -> String {
    let reply = password_grant(entra, "alice@contoso.com", "correct horse battery staple").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["access_token"].as_str().expect("access_token").to_owned()
}

/// Asserts an Entra error answer: status, `error`, the one AADSTS code, and the shape of the
/// other fields. Returns the body.
pub fn assert_entra_error(reply: &Reply, status: u16, error: &str, code: u64) -> Value {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some("application/json; charset=utf-8"));
    let body = reply.json();
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], serde_json::json!([code]), "{body}");
    let description = body["error_description"].as_str().expect("error_description");
    assert!(description.starts_with(&format!("AADSTS{code}: ")), "{description}");
    let trace_id = body["trace_id"].as_str().expect("trace_id");
    let correlation_id = body["correlation_id"].as_str().expect("correlation_id");
    let timestamp = body["timestamp"].as_str().expect("timestamp");
    assert!(description.contains(&format!("\r\nTrace ID: {trace_id}\r\n")));
    assert!(description.contains(&format!("\r\nCorrelation ID: {correlation_id}\r\n")));
    assert!(description.ends_with(&format!("\r\nTimestamp: {timestamp}")));
    assert_eq!(timestamp.len(), "2026-11-25 10:00:00Z".len());
    assert_eq!(body["error_uri"], format!("https://login.microsoftonline.com/error?code={code}"));
    body
}
