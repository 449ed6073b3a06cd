//! The client credentials grant (`grant_type=client_credentials`): confidential clients proving
//! who they are with a client secret, a certificate-signed client assertion, or a federated
//! (workload identity) assertion.
//!
//! - **Secret**: compared with the registered one; a wrong one gets AADSTS7000215.
//! - **Certificate** (`client_assertion` whose `iss` is the client id): the JWT's `x5t#S256` (or
//!   `x5t`) must name the registered certificate, its RS256 or PS256 signature must verify against
//!   the certificate's public key, `iss` = `sub` = client id, `aud` = this token endpoint, and
//!   `exp` in the future but no more than ten minutes ahead. Refusals are Entra's 401
//!   `invalid_client` answers.
//! - **Federated** (any other `iss`): a JWT-shaped token whose `iss`/`sub` match a federated
//!   credential of the client, `aud` = `api://AzureADTokenExchange`, `exp` in the future. **Its
//!   signature is not checked** (the real Entra fetches the issuer's keys; the mock has no issuer).
//!
//! Tokens are app-only: no refresh token, no id token. The mock mints them with the service
//! principal as the "user" (username = client id), which is enough for the mock workspace.
//!
//! Test knobs make the real binary's correct assertions fail on purpose:
//! [`MockEntra::set_assertion_clock_offset`] (expired) and [`MockEntra::set_assertion_audience`]
//! (wrong audience).

use aws_lc_rs::{digest, signature};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::errors::EntraError;
use super::tokens::{Issue, Scopes};
use super::{EntraState, MockEntra};
use crate::answer::Answer;
use crate::config::MockUser;
use crate::record::RecordedRequest;
use crate::{clock, ids, lock};

/// The confidential client registered by default.
pub const SP_CLIENT_ID: &str = "9d5c3b1a-7e2f-4a6b-8c0d-1e3f5a7b9c2d";
/// The default confidential client's secret.
pub const SP_CLIENT_SECRET: &str = "mock~sp-secret.0123456789abcdefghij";
/// The issuer of the default client's federated credential (GitHub Actions').
pub const FEDERATED_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The subject of the default client's federated credential.
pub const FEDERATED_SUBJECT: &str = "repo:contoso/etl:ref:refs/heads/main";
/// The audience federated tokens must carry.
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";

/// The `client_assertion_type` of JWT client assertions.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The default client's certificate (`fixtures/certs/sp-cert.pem`) and its public key as a DER
/// `RSAPublicKey`, so that the mock needs no X.509 parser.
const SP_CERT_PEM: &str = include_str!("../../../../fixtures/certs/sp-cert.pem");
const SP_PUBLIC_KEY: &[u8] = include_bytes!("../../../../fixtures/certs/sp-pub-pkcs1.der");

/// A confidential client application (service principal) of the mock tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfidentialClient {
    /// Application (client) id.
    pub client_id: String,
    /// Object id of the service principal, the `oid` of its tokens.
    pub object_id: String,
    /// Display name.
    pub name: String,
    /// The client secret, if it has one.
    pub secret: Option<String>,
    /// The registered certificate (DER) and its public key (DER `RSAPublicKey`), if any.
    pub certificate: Option<(Vec<u8>, Vec<u8>)>,
    /// Federated credentials: (issuer, subject) pairs.
    pub federated: Vec<(String, String)>,
}

impl Default for ConfidentialClient {
    /// [`SP_CLIENT_ID`] with [`SP_CLIENT_SECRET`], the fixture certificate and one federated
    /// credential ([`FEDERATED_ISSUER`], [`FEDERATED_SUBJECT`]).
    fn default() -> Self {
        ConfidentialClient {
            client_id: SP_CLIENT_ID.to_owned(),
            object_id: "c4e6a8b0-2d4f-4a6c-8e0a-3b5d7f9a1c3e".to_owned(),
            name: "etl-pipeline".to_owned(),
            secret: Some(SP_CLIENT_SECRET.to_owned()),
            certificate: pem_der(SP_CERT_PEM).map(|der| (der, SP_PUBLIC_KEY.to_vec())),
            federated: vec![(FEDERATED_ISSUER.to_owned(), FEDERATED_SUBJECT.to_owned())],
        }
    }
}

/// Client-credentials state of one mock.
#[derive(Debug)]
pub(crate) struct ConfidentialState {
    clients: Vec<ConfidentialClient>,
    /// Seconds added to the clock when checking assertion times (tests: > 600 expires them).
    clock_offset: i64,
    /// The audience assertions must have instead of this token endpoint (tests).
    audience: Option<String>,
}

impl Default for ConfidentialState {
    fn default() -> Self {
        ConfidentialState { clients: vec![ConfidentialClient::default()], clock_offset: 0, audience: None }
    }
}

impl ConfidentialState {
    /// Whether `client_id` is a registered confidential client.
    pub(crate) fn knows(&self, client_id: &str) -> bool {
        self.clients.iter().any(|c| c.client_id == client_id)
    }
}

impl MockEntra {
    /// Registers another confidential client (or replaces one with the same client id).
    pub fn add_confidential_client(&self, client: ConfidentialClient) {
        let mut state = lock(&self.state);
        state.confidential.clients.retain(|c| c.client_id != client.client_id);
        state.confidential.clients.push(client);
    }

    /// Pretends the clock is `secs` ahead when checking client assertions: more than 600 makes
    /// every correctly made assertion expired (AADSTS700024).
    pub fn set_assertion_clock_offset(&self, secs: i64) {
        lock(&self.state).confidential.clock_offset = secs;
    }

    /// Demands this `aud` in certificate assertions instead of the token endpoint (`None`
    /// restores that): makes correct assertions fail with a wrong audience.
    pub fn set_assertion_audience(&self, audience: Option<&str>) {
        lock(&self.state).confidential.audience = audience.map(str::to_owned);
    }

    /// A federated token the default client accepts: `iss` [`FEDERATED_ISSUER`], `sub`
    /// [`FEDERATED_SUBJECT`], `aud` [`FEDERATED_AUDIENCE`], valid for `lifetime_secs`.
    pub fn federated_token(&self, lifetime_secs: i64) -> String {
        federated_token(FEDERATED_ISSUER, FEDERATED_SUBJECT, FEDERATED_AUDIENCE, lifetime_secs)
    }
}

/// A JWT-shaped, unsigned token with the given `iss`, `sub`, `aud` and lifetime, like the OIDC
/// tokens GitHub Actions, Azure Pipelines or Kubernetes hand to workloads.
pub fn federated_token(issuer: &str, subject: &str, audience: &str, lifetime_secs: i64) -> String {
    let now = clock::now();
    let claims = json!({
        "iss": issuer, "sub": subject, "aud": audience,
        "iat": now, "nbf": now, "exp": now.saturating_add(lifetime_secs), "jti": ids::guid(),
    });
    crate::jwt::encode(&json!({ "typ": "JWT", "alg": "RS256", "kid": "federation" }), &claims)
}

impl EntraState {
    /// `grant_type=client_credentials`.
    pub(crate) fn grant_client_credentials(
        &mut self,
        request: &RecordedRequest,
        client_id: &str,
        correlation_id: &str,
    ) -> Result<Answer, EntraError> {
        let client = self.confidential.clients.iter().find(|c| c.client_id == client_id).cloned().ok_or_else(|| {
            EntraError::new(
                400,
                "unauthorized_client",
                700016,
                &format!("Application with identifier '{client_id}' is not a confidential client."),
            )
        })?;
        let scopes = request.field("scope").and_then(Scopes::parse).ok_or_else(EntraError::scope_missing)?;
        if let Some(bad) = request.field("scope").unwrap_or("").split_whitespace().find(|s| !s.ends_with("/.default")) {
            return Err(EntraError::new(
                400,
                "invalid_scope",
                1002012,
                &format!(
                    "The provided value for scope {bad} is not valid. Client credential flows must have a scope \
                     value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            ));
        }
        match (request.field("client_secret"), request.field("client_assertion")) {
            (Some(secret), None) => {
                if client.secret.as_deref() != Some(secret) {
                    return Err(invalid_client(
                        7000215,
                        &format!(
                            "Invalid client secret provided. Ensure the secret being sent in the request is the \
                             client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                        ),
                    ));
                }
            }
            (None, Some(assertion)) => {
                if request.field("client_assertion_type") != Some(JWT_BEARER) {
                    return Err(EntraError::new(
                        400,
                        "invalid_request",
                        50027,
                        "Invalid client_assertion_type: expected urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
                    ));
                }
                let endpoint = format!("{}{}", self.uri, request.path);
                self.check_assertion(&client, assertion, &endpoint)?;
            }
            (Some(_), Some(_)) => {
                return Err(EntraError::new(
                    400,
                    "invalid_request",
                    90015,
                    "Requested query string contains both client_secret and client_assertion.",
                ));
            }
            (None, None) => {
                return Err(EntraError::new(
                    400,
                    "invalid_client",
                    7000218,
                    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                ));
            }
        }
        let principal = MockUser {
            username: client.client_id.clone(),
            password: String::new(),
            mfa_required: false,
            oid: client.object_id.clone(),
            name: client.name.clone(),
        };
        Ok(self.issue(&Issue {
            user: &principal,
            client_id,
            scopes: &scopes,
            nonce: None,
            client_info: false,
            refresh_token: false,
            amr: &[],
            correlation_id,
        }))
    }

    /// Checks a client assertion: federated if its issuer is not the client itself, else a
    /// certificate assertion.
    fn check_assertion(&self, client: &ConfidentialClient, assertion: &str, endpoint: &str) -> Result<(), EntraError> {
        let malformed = || EntraError::new(400, "invalid_request", 50027, "Invalid JWT token. Token format not valid.");
        let (header, claims) = match (crate::jwt::header(assertion), crate::jwt::claims(assertion)) {
            (Some(h), Some(c)) => (h, c),
            _ => return Err(malformed()),
        };
        let now = clock::now().saturating_add(self.confidential.clock_offset);
        let iss = claims["iss"].as_str().unwrap_or_default();
        if iss != client.client_id {
            return check_federated(client, &claims, now);
        }
        if claims["sub"].as_str() != Some(client.client_id.as_str()) {
            return Err(invalid_client(
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter.",
            ));
        }
        let Some((cert_der, public_key)) = &client.certificate else {
            return Err(invalid_client(700027, "Client assertion failed signature validation. No key is registered."));
        };
        let sha256 = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, cert_der));
        let sha1 = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, cert_der));
        let named = |field: &str, want: &str| header[field].as_str().map(|v| v.trim_end_matches('=') == want);
        if named("x5t#S256", &sha256).or_else(|| named("x5t", &sha1)) != Some(true) {
            return Err(invalid_client(
                700027,
                "Client assertion contains an invalid signature. [Reason - The key was not found.]",
            ));
        }
        let algorithm: &dyn signature::VerificationAlgorithm = match header["alg"].as_str() {
            Some("RS256") => &signature::RSA_PKCS1_2048_8192_SHA256,
            Some("PS256") => &signature::RSA_PSS_2048_8192_SHA256,
            _ => return Err(invalid_client(700027, "Client assertion has an unsupported signing algorithm.")),
        };
        let (signed, sig) = assertion.rsplit_once('.').ok_or_else(malformed)?;
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| malformed())?;
        if signature::UnparsedPublicKey::new(algorithm, public_key).verify(signed.as_bytes(), &sig).is_err() {
            return Err(invalid_client(
                700027,
                "Client assertion contains an invalid signature. [Reason - The provided signature value did not match \
                 the expected signature value.]",
            ));
        }
        let audience = self.confidential.audience.as_deref().unwrap_or(endpoint);
        if claims["aud"].as_str() != Some(audience) {
            return Err(invalid_client(
                50012,
                &format!("Client assertion audience claim does not match Realm issuer. Expected audience: {audience}."),
            ));
        }
        check_times(&claims, now, true)
    }
}

/// A federated assertion: unsigned check of `iss`/`sub` against the client's credentials,
/// `aud` and times.
fn check_federated(client: &ConfidentialClient, claims: &Value, now: i64) -> Result<(), EntraError> {
    let iss = claims["iss"].as_str().unwrap_or_default();
    let sub = claims["sub"].as_str().unwrap_or_default();
    if !client.federated.iter().any(|(i, s)| i == iss && s == sub) {
        return Err(invalid_client(
            70021,
            &format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. \
                 Assertion Subject: '{sub}'."
            ),
        ));
    }
    let audience_ok = match &claims["aud"] {
        Value::String(a) => a == FEDERATED_AUDIENCE,
        Value::Array(a) => a.iter().any(|v| v.as_str() == Some(FEDERATED_AUDIENCE)),
        _ => false,
    };
    if !audience_ok {
        return Err(invalid_client(
            700212,
            &format!(
                "No matching federated identity record found for presented assertion audience '{}'.",
                claims["aud"]
            ),
        ));
    }
    check_times(claims, now, false)
}

/// `exp` in the future (and, for certificate assertions, at most ten minutes ahead, with a
/// minute of skew); `nbf` not more than five minutes ahead.
fn check_times(claims: &Value, now: i64, short: bool) -> Result<(), EntraError> {
    let window = || {
        invalid_client(
            700024,
            "Client assertion is not within its valid time range. Ensure that the system clock is correct and the \
             assertion's exp is no more than 10 minutes in the future.",
        )
    };
    let exp = claims["exp"].as_i64().ok_or_else(window)?;
    if exp <= now || (short && exp > now + 660) {
        return Err(window());
    }
    if claims["nbf"].as_i64().is_some_and(|nbf| nbf > now + 300) {
        return Err(window());
    }
    Ok(())
}

fn invalid_client(code: u32, message: &str) -> EntraError {
    EntraError::new(401, "invalid_client", code, message)
}

/// The DER bytes of the first PEM block.
fn pem_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    STANDARD.decode(body.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_certificate_parses() {
        let client = ConfidentialClient::default();
        let (der, key) = client.certificate.expect("fixture certificate");
        assert!(der.len() > 500);
        // The public key is inside the certificate's SubjectPublicKeyInfo.
        assert!(der.windows(key.len()).any(|w| w == key.as_slice()));
    }
}
