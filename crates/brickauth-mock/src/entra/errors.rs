//! Entra's OAuth error answers: [`EntraError`] and one constructor per AADSTS code the mock
//! sends.
//!
//! The body has Entra's fields — `error`, `error_description` (`AADSTSnnnnn: text` followed by
//! `Trace ID`, `Correlation ID` and `Timestamp` lines joined with `\r\n`), `error_codes`,
//! `timestamp`, `trace_id`, `correlation_id`, `error_uri`, and `suberror`/`claims` where Entra
//! adds them. Texts follow Entra's own; clients should react to `error`, not to the numbers.

use serde_json::{Value, json};

use crate::answer::Answer;
use crate::{DATABRICKS_RESOURCE, TENANT_ID, clock, ids};

/// One OAuth error answer from the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntraError {
    status: u16,
    error: &'static str,
    code: u32,
    message: String,
    suberror: Option<&'static str>,
    claims: Option<String>,
}

impl EntraError {
    /// An error with HTTP `status`, OAuth `error`, AADSTS `code` and its text.
    pub(crate) fn new(status: u16, error: &'static str, code: u32, message: &str) -> Self {
        EntraError { status, error, code, message: message.to_owned(), suberror: None, claims: None }
    }

    /// A required form parameter is missing (AADSTS900144).
    pub(crate) fn missing_parameter(name: &str) -> Self {
        EntraError::new(
            400,
            "invalid_request",
            900144,
            &format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    /// `scope` is missing or empty (AADSTS90014).
    pub(crate) fn scope_missing() -> Self {
        EntraError::new(
            400,
            "invalid_request",
            90014,
            "The required field 'scope' is missing from the credential. Ensure that you have all \
             the necessary parameters for the login request.",
        )
    }

    /// The token endpoint was called with another method than POST (AADSTS900561).
    pub(crate) fn method_not_allowed(method: &str) -> Self {
        EntraError::new(
            400,
            "invalid_request",
            900561,
            &format!("The endpoint only accepts POST, OPTIONS requests. Received a {method} request."),
        )
    }

    /// `client_id` names no application in the tenant (AADSTS700016).
    pub(crate) fn unknown_client(client_id: &str) -> Self {
        EntraError::new(
            400,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory \
                 'Contoso'. This can happen if the application has not been installed by the \
                 administrator of the tenant or consented to by any user in the tenant. You may \
                 have sent your authentication request to the wrong tenant."
            ),
        )
    }

    /// The client may not have the scopes asked for: nobody consented (AADSTS65001).
    pub(crate) fn consent_required(client_id: &str) -> Self {
        EntraError::new(
            400,
            "invalid_grant",
            65001,
            &format!(
                "The user or administrator has not consented to use the application with ID \
                 '{client_id}' named 'brickauth'. Send an interactive authorization request for \
                 this user and resource."
            ),
        )
    }

    /// A grant type the mock does not implement (AADSTS70003).
    pub(crate) fn unsupported_grant_type(grant_type: &str) -> Self {
        EntraError::new(
            400,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{grant_type}'."),
        )
    }

    /// The username names no user in the tenant (AADSTS50034).
    pub(crate) fn user_not_found() -> Self {
        EntraError::new(
            400,
            "invalid_grant",
            50034,
            &format!(
                "The user account {{EUII Hidden}} does not exist in the {TENANT_ID} directory. To \
                 sign into this application, the account must be added to the directory."
            ),
        )
    }

    /// Wrong password (AADSTS50126).
    pub(crate) fn invalid_credentials() -> Self {
        EntraError::new(
            400,
            "invalid_grant",
            50126,
            "Error validating credentials due to invalid username or password.",
        )
    }

    /// Right password, but Conditional Access demands MFA (AADSTS50076). Entra answers
    /// `invalid_grant` with suberror `basic_action` and a claims challenge.
    pub(crate) fn mfa_required() -> Self {
        let mut error = EntraError::new(
            400,
            "invalid_grant",
            50076,
            &format!(
                "Due to a configuration change made by your administrator, or because you moved \
                 to a new location, you must use multi-factor authentication to access \
                 '{DATABRICKS_RESOURCE}'."
            ),
        );
        error.suberror = Some("basic_action");
        error.claims = Some(
            json!({ "access_token": { "capolids": {
                "essential": true,
                "values": ["7a6e5b2c-1d3f-4e8a-9b0c-2d4f6a8c0e1b"],
            } } })
            .to_string(),
        );
        error
    }

    /// An unknown (never issued or expired) refresh token (AADSTS70008).
    pub(crate) fn refresh_token_expired() -> Self {
        EntraError::new(
            400,
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. \
             Send a new interactive authorization request for this user and resource.",
        )
    }

    /// A refresh token that was already redeemed once; the mock rotates them (AADSTS70008).
    pub(crate) fn refresh_token_used() -> Self {
        EntraError::new(
            400,
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired or has been used. \
             Send a new interactive authorization request for this user and resource.",
        )
    }

    /// A refresh token issued to another client application (AADSTS70000).
    pub(crate) fn refresh_token_other_client() -> Self {
        EntraError::new(
            400,
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed. The refresh token was issued to a different \
             client application.",
        )
    }

    /// The JSON body, with a fresh trace id and the given correlation id.
    pub(crate) fn body(&self, correlation_id: &str) -> Value {
        self.body_with(&ids::guid(), correlation_id)
    }

    fn body_with(&self, trace_id: &str, correlation_id: &str) -> Value {
        let timestamp = clock::entra_timestamp(clock::now());
        let mut body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\n\
                 Timestamp: {timestamp}",
                self.code, self.message
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        if let Some(suberror) = self.suberror {
            body["suberror"] = json!(suberror);
        }
        if let Some(claims) = &self.claims {
            body["claims"] = json!(claims);
        }
        body
    }

    /// The complete answer, with Entra's headers.
    pub(crate) fn answer(&self, correlation_id: &str) -> Answer {
        let trace_id = ids::guid();
        Answer::entra_json(self.status, &self.body_with(&trace_id, correlation_id))
            .header("cache-control", "no-store, no-cache")
            .header("pragma", "no-cache")
            .header("x-ms-request-id", trace_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_entra_fields() {
        let body = EntraError::invalid_credentials().body("0b5c2f8e-0000-4000-8000-000000000000");
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(body["error_codes"], json!([50126]));
        assert_eq!(body["correlation_id"], "0b5c2f8e-0000-4000-8000-000000000000");
        assert_eq!(body["error_uri"], "https://login.microsoftonline.com/error?code=50126");
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.starts_with(
            "AADSTS50126: Error validating credentials due to invalid username or password.\r\n\
             Trace ID: "
        ));
        assert!(description.contains("\r\nCorrelation ID: 0b5c2f8e-0000-4000-8000-000000000000\r\n"));
        assert!(description.ends_with(&format!("\r\nTimestamp: {}", body["timestamp"].as_str().unwrap_or("?"))));
        assert!(body.get("suberror").is_none());
    }

    #[test]
    fn mfa_has_suberror_and_claims() {
        let body = EntraError::mfa_required().body("c");
        assert_eq!(body["suberror"], "basic_action");
        assert!(body["claims"].is_string());
    }
}
