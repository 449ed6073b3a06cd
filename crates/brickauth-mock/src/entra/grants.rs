//! The token endpoint, `POST /{tenant}/oauth2/v2.0/token`, read top to bottom like the protocol.
//!
//! 1. The request is recorded; a queued [`Failure`](crate::Failure) answers it if there is one.
//! 2. `grant_type` and `client_id` must be present, and the client registered.
//! 3. The grant type picks one `grant_*` function, which checks its own parameters and either
//!    returns an [`EntraError`] or asks [`EntraState::issue`] for tokens.
//!
//! Adding a grant (authorization_code, device_code, client_credentials) is one arm in
//! [`EntraState::grant`] and one `grant_*` function here.

use super::EntraState;
use super::errors::EntraError;
use super::tokens::{Issue, Scopes};
use crate::answer::Answer;
use crate::record::RecordedRequest;

/// The outcome of one grant: tokens, or Entra's error.
type GrantResult = Result<Answer, EntraError>;

impl EntraState {
    /// Answers one request to the token endpoint.
    pub(crate) fn token_endpoint(&mut self, request: RecordedRequest) -> Answer {
        self.token_requests.push(request.clone());
        let correlation_id = correlation_id(&request);
        let failure = self.failures.pop_front();
        let mut process = || match self.grant(&request, &correlation_id) {
            Ok(answer) => answer,
            Err(error) => error.answer(&correlation_id).header("client-request-id", correlation_id.as_str()),
        };
        match failure {
            Some(failure) => failure.answer(process),
            None => process(),
        }
    }

    /// Checks what every grant needs, then dispatches on `grant_type`.
    fn grant(&mut self, request: &RecordedRequest, correlation_id: &str) -> GrantResult {
        let grant_type = required(request, "grant_type")?;
        let client_id = required(request, "client_id")?;
        if !self.config.clients.iter().any(|client| client == client_id) && !self.confidential.knows(client_id) {
            return Err(EntraError::unknown_client(client_id));
        }
        // Graph is pre-authorized for the developer sign-on client only (the `graph` module).
        if request.field("scope").and_then(Scopes::parse).is_some_and(|s| s.graph().is_some())
            && !super::graph::may_use_graph(client_id)
        {
            return Err(EntraError::consent_required(client_id));
        }
        match grant_type {
            "password" => self.grant_password(request, client_id, correlation_id),
            "refresh_token" => self.grant_refresh_token(request, client_id, correlation_id),
            "authorization_code" => self.grant_authorization_code(request, client_id, correlation_id),
            "client_credentials" => self.grant_client_credentials(request, client_id, correlation_id),
            super::device::GRANT_TYPE => self.grant_device_code(request, client_id, correlation_id),
            other => Err(EntraError::unsupported_grant_type(other)),
        }
    }

    /// Resource owner password credentials (ROPC): `username` + `password`.
    fn grant_password(&mut self, request: &RecordedRequest, client_id: &str, correlation_id: &str) -> GrantResult {
        let scopes = scopes(request)?;
        let username = required(request, "username")?;
        let password = required(request, "password")?;
        let user = self.user(username).ok_or_else(EntraError::user_not_found)?.clone();
        if user.password != password {
            return Err(EntraError::invalid_credentials());
        }
        if user.mfa_required {
            return Err(EntraError::mfa_required());
        }
        Ok(self.issue(&Issue {
            user: &user,
            client_id,
            scopes: &scopes,
            nonce: request.field("nonce"),
            client_info: request.field("client_info") == Some("1"),
            refresh_token: scopes.contains("offline_access"),
            amr: &["pwd"],
            correlation_id,
        }))
    }

    /// Refresh token redemption. Each refresh token is good once: redeeming it marks it used
    /// and returns a new one (rotation).
    fn grant_refresh_token(&mut self, request: &RecordedRequest, client_id: &str, correlation_id: &str) -> GrantResult {
        let scopes = scopes(request)?;
        let token = required(request, "refresh_token")?;
        let grant = self.refresh_tokens.get_mut(token).ok_or_else(EntraError::refresh_token_expired)?;
        if grant.used {
            return Err(EntraError::refresh_token_used());
        }
        if grant.client_id != client_id && !(crate::is_family(&grant.client_id) && crate::is_family(client_id)) {
            return Err(EntraError::refresh_token_other_client());
        }
        // Entra keeps a refresh token valid after use; the mock retires it, to prove callers
        // store the rotated one — except a family client's, which several tools share (the Azure
        // CLI's files and brickauth redeem the same one, and neither writes the other's store).
        if !crate::is_family(client_id) {
            grant.used = true;
        }
        let username = grant.username.clone();
        // A refresh token minted out of band may name a user the tenant does not have.
        let user = self.user(&username).ok_or_else(EntraError::user_not_found)?.clone();
        Ok(self.issue(&Issue {
            user: &user,
            client_id,
            scopes: &scopes,
            nonce: None,
            client_info: request.field("client_info") == Some("1"),
            refresh_token: true,
            amr: &["pwd"],
            correlation_id,
        }))
    }
}

/// A form parameter every grant of some kind needs.
fn required<'r>(request: &'r RecordedRequest, name: &str) -> Result<&'r str, EntraError> {
    request.field(name).ok_or_else(|| EntraError::missing_parameter(name))
}

/// The `scope` parameter, which user grants require.
fn scopes(request: &RecordedRequest) -> Result<Scopes, EntraError> {
    request.field("scope").and_then(Scopes::parse).ok_or_else(EntraError::scope_missing)
}

/// Entra echoes a GUID-shaped `client-request-id` as the correlation id, else makes one up.
fn correlation_id(request: &RecordedRequest) -> String {
    match request.headers.get("client-request-id") {
        Some(id) if is_guid(id) => id.to_ascii_lowercase(),
        _ => crate::ids::guid(),
    }
}

fn is_guid(value: &str) -> bool {
    value.len() == 36
        && value.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_check() {
        assert!(is_guid("72f988bf-86f1-41af-91ab-2d7cd011db47"));
        assert!(!is_guid("72f988bf-86f1-41af-91ab-2d7cd011db4"));
        assert!(!is_guid("72f988bf186f1-41af-91ab-2d7cd011db47"));
        assert!(!is_guid("zzzzzzzz-86f1-41af-91ab-2d7cd011db47"));
    }
}
