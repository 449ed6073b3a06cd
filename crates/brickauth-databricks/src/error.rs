//! [`DatabricksError`]: everything that can go wrong talking to a workspace, and the parser for
//! the error bodies Databricks sends.
//!
//! Databricks answers errors in several shapes, depending on the API's age:
//!
//! - REST 2.x: `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "…", "details": [...]}`;
//! - API 1.2: `{"error": "…"}`;
//! - SCIM: `{"schemas": [...], "detail": "…", "status": "404", "scimType": "…"}` (the code becomes
//!   `SCIM_<status>`);
//! - gateways and the login front end: HTML (`<pre>message</pre>` when there is one) or plain text.

use brickauth_core::source::SourceError;
use brickauth_core::text::ServerText;
use serde_json::Value;

/// An error from the Databricks client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatabricksError {
    /// The workspace answered with an error status.
    #[error("{}", api_display(*status, error_code.as_deref(), message))]
    Api {
        /// HTTP status.
        status: u16,
        /// Databricks' error code (`RESOURCE_DOES_NOT_EXIST`, `SCIM_404`, …), when the body had one.
        error_code: Option<String>,
        /// The human-readable message (for HTML or plain bodies, their text).
        message: String,
        /// The `details` array of the REST 2.x error body, when present.
        details: Option<Value>,
    },
    /// The request could not be sent or its answer not read (DNS, connect, TLS, timeout).
    #[error("request to {url} failed: {message}")]
    Transport {
        /// The URL, without its query.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The host answered an API path with a non-JSON 404 or 405: it is some web server, not a
    /// Databricks workspace (a wrong `host`).
    #[error("{url} answered HTTP {status} with {what}: the host does not look like a Databricks workspace")]
    NotAWorkspace {
        /// The URL, without its query.
        url: String,
        /// HTTP status.
        status: u16,
        /// What the body was (`an HTML page ("Error response")`, or its start), cleaned.
        what: String,
    },
    /// A successful answer whose body is not what the API promises.
    #[error("unexpected answer from {url}: {message}")]
    Decode {
        /// The URL, without its query.
        url: String,
        /// What could not be decoded.
        message: String,
    },
    /// The token source could not produce an access token.
    #[error("could not get an access token: {0}")]
    Token(#[source] SourceError),
    /// The workspace host is not a valid `https://` URL (or `http://` to loopback).
    #[error("invalid workspace host: {0}")]
    InvalidHost(String),
    /// The Azure workspace resource id does not have the ARM shape.
    #[error("invalid Azure workspace resource id: {0}")]
    InvalidResourceId(String),
    /// Retryable failures (429, 503, connection errors) lasted past the retry budget.
    #[error("{why}; last error: {last}")]
    RetriesExhausted {
        /// Requests sent.
        attempts: u32,
        /// Seconds spent.
        elapsed_secs: u64,
        /// What ran out, naming the budget and its variable.
        why: String,
        /// The last failure.
        last: Box<DatabricksError>,
    },
}

impl DatabricksError {
    /// The HTTP status of an API error (also the last one behind [`DatabricksError::RetriesExhausted`]).
    pub fn status(&self) -> Option<u16> {
        match self {
            DatabricksError::Api { status, .. } => Some(*status),
            DatabricksError::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }

    /// The Databricks error code of an API error (also behind [`DatabricksError::RetriesExhausted`]).
    pub fn error_code(&self) -> Option<&str> {
        match self {
            DatabricksError::Api { error_code, .. } => error_code.as_deref(),
            DatabricksError::RetriesExhausted { last, .. } => last.error_code(),
            _ => None,
        }
    }

    /// [`DatabricksError::Decode`] for a successful answer whose body did not decode: an HTML page
    /// (a sign-in portal, a proxy, a wrong host) is named as such, with its title, rather than
    /// as the JSON parser's "expected value at line 1 column 1". A body that ends in the middle of
    /// its JSON is a transfer cut short: [`DatabricksError::Transport`], like a connection reset.
    pub fn undecodable(url: String, body: &[u8], error: &serde_json::Error) -> Self {
        if brickauth_core::http::cut_short(body, error) {
            return DatabricksError::Transport { url, message: brickauth_core::http::ended_early(body) };
        }
        let message = match brickauth_core::http::not_json(body) {
            Some(what) => format!("{what} instead of JSON"),
            None => format!("not the JSON expected: {error}"),
        };
        DatabricksError::Decode { url, message }
    }

    /// Parse an error answer's body into [`DatabricksError::Api`] (text cleaned: no escape
    /// sequences or control characters, capped).
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        Self::from_body(status, body, &ServerText::default())
    }

    /// Like [`DatabricksError::from_response`] for an answer read by the client, also redacting
    /// the tokens the request carried.
    pub fn from_answer(answer: &brickauth_core::http::Answer) -> Self {
        Self::from_body(answer.status, &answer.body, &answer.text)
    }

    fn from_body(status: u16, body: &[u8], text: &ServerText) -> Self {
        let (error_code, message, details) = parse_body(body, text);
        DatabricksError::Api { status, error_code, message, details }
    }

    /// As [`DatabricksError::from_answer`], but a 404 or 405 whose body is not one of Databricks'
    /// JSON errors is [`DatabricksError::NotAWorkspace`]: every path the client calls exists on
    /// a workspace, and a workspace answers even an unknown one in JSON.
    pub fn from_answer_at(url: &str, answer: &brickauth_core::http::Answer) -> Self {
        let json = serde_json::from_slice::<Value>(&answer.body).is_ok_and(|v| v.is_object());
        if matches!(answer.status, 404 | 405) && !json {
            let what = brickauth_core::http::not_json(&answer.body)
                .unwrap_or_else(|| format!("\"{}\"", brickauth_core::http::snippet_with(&answer.body, &answer.text)));
            return DatabricksError::NotAWorkspace { url: url.to_owned(), status: answer.status, what };
        }
        Self::from_answer(answer)
    }
}

fn api_display(status: u16, code: Option<&str>, message: &str) -> String {
    match code {
        Some(code) => format!("Databricks API error {status} {code}: {message}"),
        None => format!("Databricks API error {status}: {message}"),
    }
}

fn parse_body(body: &[u8], clean: &ServerText) -> (Option<String>, String, Option<Value>) {
    let text = |v: &Value| match v {
        Value::String(s) if !s.trim().is_empty() => Some(clean.clean(s)).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    if let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) {
        let details = obj.get("details").filter(|d| !d.is_null()).cloned();
        let message = obj.get("message").and_then(text);
        if let Some(code) = obj.get("error_code").and_then(text) {
            return (Some(code), message.unwrap_or_else(|| "(no message)".to_owned()), details);
        }
        if let Some(detail) = obj.get("detail").and_then(text) {
            let code = obj.get("status").and_then(text).map(|s| format!("SCIM_{s}"));
            let message = match obj.get("scimType").and_then(text) {
                Some(t) => format!("{detail} (scimType {t})"),
                None => detail,
            };
            return (code, message, details);
        }
        if let Some(error) = obj.get("error").and_then(text) {
            return (None, error, details);
        }
        if let Some(message) = message {
            return (None, message, details);
        }
    }
    let raw = String::from_utf8_lossy(body);
    // Databricks' own HTML error pages put the message in <pre>.
    if let Some(start) = raw.find("<pre>") {
        let rest = &raw[start + 5..];
        if let Some(end) = rest.find("</pre>") {
            let msg = brickauth_core::http::snippet_with(&rest.as_bytes()[..end], clean);
            return (None, msg, None);
        }
    }
    (None, brickauth_core::http::snippet_with(body, clean), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(status: u16, body: &str) -> String {
        DatabricksError::from_response(status, body.as_bytes()).to_string()
    }

    #[test]
    fn html_where_json_was_expected() {
        let e = serde_json::from_slice::<Value>(b"<").unwrap_err();
        let page = b"\n<!DOCTYPE html>\n<html><head><title>Sign in to your\n account</title></head></html>";
        let d = DatabricksError::undecodable("https://h/api".into(), page, &e);
        assert_eq!(
            d.to_string(),
            "unexpected answer from https://h/api: an HTML page (\"Sign in to your account\") instead of JSON"
        );
        let d = DatabricksError::undecodable("https://h/api".into(), b"{\"a\":", &e);
        assert!(d.to_string().contains("not the JSON expected"), "{d}");
    }

    #[test]
    fn error_body_shapes() {
        let cases = [
            (
                404,
                r#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Cluster 1125-x does not exist","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"X"}]}"#,
            ),
            (400, r#"{"error":"Missing required field: cluster_id"}"#),
            (
                403,
                r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"User not authorized.","status":"403"}"#,
            ),
            (409, r#"{"schemas":[],"detail":"User already exists.","status":409,"scimType":"uniqueness"}"#),
            (
                401,
                "<html><head><title>Error 401</title></head><body><h2>HTTP ERROR 401</h2><pre>Token is expired.</pre></body></html>",
            ),
            (502, "<html><body><h1>502 Bad Gateway</h1></body></html>"),
            (500, "upstream connect error"),
            (503, ""),
        ];
        let out: Vec<String> = cases.iter().map(|(s, b)| shown(*s, b)).collect();
        insta::assert_snapshot!(out.join("\n"));
    }

    #[test]
    fn details_and_accessors() {
        let e = DatabricksError::from_response(404, br#"{"error_code":"X","message":"m","details":[1]}"#);
        assert_eq!(e.status(), Some(404));
        assert_eq!(e.error_code(), Some("X"));
        let DatabricksError::Api { details, .. } = &e else { panic!("api error") };
        assert_eq!(details, &Some(serde_json::json!([1])));
        let scim = DatabricksError::from_response(403, br#"{"detail":"no","status":"403"}"#);
        assert_eq!(scim.error_code(), Some("SCIM_403"));
        let wrapped = DatabricksError::RetriesExhausted {
            attempts: 3,
            elapsed_secs: 2,
            why: "gave up".into(),
            last: Box::new(e),
        };
        assert_eq!(wrapped.status(), Some(404));
    }
}
