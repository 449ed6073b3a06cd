//! The authorization code flow: `GET /{tenant}/oauth2/v2.0/authorize` and the
//! `authorization_code` grant of the token endpoint.
//!
//! The authorize endpoint acts as a user who is already signed in (Alice, or the `login_hint`
//! user if the tenant has one): no login page, no consent page. It checks what Entra checks —
//! a registered `client_id`, a loopback `http` `redirect_uri` (errors about these two are shown
//! as an HTML page, never redirected, as Entra does), `response_type=code`, a `state`, and a PKCE
//! `code_challenge` with method `S256` — remembers the challenge, and sends the browser back to
//! the redirect URI with `code` and `state`: a 302 for `response_mode=query`, an auto-submitting
//! form page for `form_post` (Entra's own shape, which a test browser can parse).
//!
//! The token endpoint then redeems the code once: the same client and the identical
//! `redirect_uri`, and `BASE64URL(SHA-256(code_verifier))` equal to the stored challenge.
//! A second redemption fails with AADSTS54005, a wrong verifier with AADSTS501481.
//!
//! Test knob: [`MockEntra::fail_authorize`] makes the next authorize request answer with an
//! OAuth error (`access_denied`, `consent_required`, …) at the redirect URI.

use std::collections::HashMap;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use url::Url;

use super::errors::EntraError;
use super::tokens::{Issue, Scopes};
use super::{EntraState, MockEntra};
use crate::answer::Answer;
use crate::record::RecordedRequest;
use crate::{ids, lock};

/// The authorize step's state: issued codes and a queued error.
#[derive(Debug, Default)]
pub(crate) struct AuthorizeState {
    codes: HashMap<String, CodeGrant>,
    fail_next: Option<(String, String)>,
}

/// What an authorization code stands for.
#[derive(Debug, Clone)]
struct CodeGrant {
    username: String,
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    used: bool,
}

impl MockEntra {
    /// Makes the next authorize request answer with `error` and `error_description` (sent to the
    /// redirect URI with the request's `state`), e.g. `("access_denied", "AADSTS65004: User
    /// declined to consent to access the app.")`.
    pub fn fail_authorize(&self, error: &str, description: &str) {
        lock(&self.state).authorize.fail_next = Some((error.to_owned(), description.to_owned()));
    }

    /// How many authorization codes the authorize endpoint issued.
    pub fn issued_codes(&self) -> usize {
        lock(&self.state).authorize.codes.len()
    }
}

impl EntraState {
    /// Answers `GET /{tenant}/oauth2/v2.0/authorize`.
    pub(crate) fn authorize(&mut self, request: &RecordedRequest) -> Answer {
        let q = |name: &str| request.query.get(name).map(String::as_str).filter(|v| !v.is_empty());
        // Problems with the client or the redirect URI are shown, never redirected.
        let Some(client_id) = q("client_id").filter(|c| self.config.clients.iter().any(|k| k == c)) else {
            return error_page("AADSTS700016: Application not found in the directory, or no client_id was sent.");
        };
        let Some(redirect) = q("redirect_uri").and_then(|r| Url::parse(r).ok()).filter(is_loopback_http) else {
            return error_page(
                "AADSTS50011: The redirect URI specified in the request does not match the redirect URIs \
                 configured for the application (the mock accepts http loopback URIs only).",
            );
        };
        let redirect_uri = q("redirect_uri").unwrap_or_default().to_owned();
        let state = q("state");
        let form_post = match q("response_mode") {
            None | Some("query") => false,
            Some("form_post") => true,
            Some(other) => return error_page(&format!("AADSTS900144: unsupported response_mode '{other}'.")),
        };
        let back = |params: &[(&str, &str)]| respond(&redirect, form_post, params);
        let invalid = |message: &str| {
            let mut params = vec![("error", "invalid_request"), ("error_description", message)];
            params.extend(state.map(|s| ("state", s)));
            back(&params)
        };
        if let Some((error, description)) = self.authorize.fail_next.take() {
            let mut params = vec![("error", error.as_str()), ("error_description", description.as_str())];
            params.extend(state.map(|s| ("state", s)));
            return back(&params);
        }
        if q("response_type") != Some("code") {
            return invalid("AADSTS900144: The request must contain response_type=code.");
        }
        let Some(state) = state else {
            return invalid("AADSTS900144: the mock requires a 'state' parameter.");
        };
        let Some(challenge) = q("code_challenge") else {
            return invalid(
                "AADSTS9002325: Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
            );
        };
        if q("code_challenge_method") != Some("S256") {
            return invalid(
                "AADSTS501491: Invalid size of Code_Challenge parameter, or code_challenge_method is not S256.",
            );
        }
        if q("scope").and_then(Scopes::parse).is_none() {
            return invalid("AADSTS90014: The required field 'scope' is missing.");
        }
        let user = q("login_hint")
            .and_then(|hint| self.user(hint))
            .or_else(|| self.config.users.first())
            .map(|u| u.username.clone())
            .unwrap_or_default();
        let code = loop {
            let candidate = format!("1.AXoA{}", ids::random_b64url(48));
            if !self.authorize.codes.contains_key(&candidate) {
                break candidate;
            }
        };
        self.authorize.codes.insert(
            code.clone(),
            CodeGrant {
                username: user,
                client_id: client_id.to_owned(),
                redirect_uri,
                challenge: challenge.to_owned(),
                nonce: q("nonce").map(str::to_owned),
                used: false,
            },
        );
        back(&[("code", code.as_str()), ("state", state), ("session_state", &ids::guid())])
    }

    /// The `authorization_code` grant.
    pub(crate) fn grant_authorization_code(
        &mut self,
        request: &RecordedRequest,
        client_id: &str,
        correlation_id: &str,
    ) -> Result<Answer, EntraError> {
        let scopes = request.field("scope").and_then(Scopes::parse).ok_or_else(EntraError::scope_missing)?;
        let code = request.field("code").ok_or_else(|| EntraError::missing_parameter("code"))?;
        let redirect_uri =
            request.field("redirect_uri").ok_or_else(|| EntraError::missing_parameter("redirect_uri"))?;
        let grant =
            self.authorize.codes.get_mut(code).ok_or_else(|| {
                EntraError::new(400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
            })?;
        if grant.used {
            return Err(EntraError::new(
                400,
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an \
                 existing refresh token.",
            ));
        }
        // Any redemption attempt spends the code.
        grant.used = true;
        let grant = grant.clone();
        if grant.client_id != client_id {
            return Err(EntraError::new(
                400,
                "invalid_grant",
                70000,
                "Provided grant is invalid or malformed. The code was issued to another client.",
            ));
        }
        if grant.redirect_uri != redirect_uri {
            return Err(EntraError::new(
                400,
                "invalid_grant",
                500117,
                "The reply uri specified in the request does not match the reply uri used in the authorization request.",
            ));
        }
        let verifier = request.field("code_verifier").unwrap_or_default();
        if s256(verifier) != grant.challenge {
            return Err(EntraError::new(
                400,
                "invalid_grant",
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            ));
        }
        let user = self.user(&grant.username).ok_or_else(EntraError::user_not_found)?.clone();
        Ok(self.issue(&Issue {
            user: &user,
            client_id,
            scopes: &scopes,
            nonce: grant.nonce.as_deref(),
            client_info: request.field("client_info") == Some("1"),
            refresh_token: scopes.contains("offline_access"),
            amr: &["pwd", "mfa"],
            correlation_id,
        }))
    }
}

/// `BASE64URL-NOPAD(SHA-256(verifier))`.
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref())
}

fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
}

/// Send the browser back to the redirect URI with `params`.
fn respond(redirect: &Url, form_post: bool, params: &[(&str, &str)]) -> Answer {
    if form_post {
        let inputs: String = params
            .iter()
            .map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\" />", escape(k), escape(v)))
            .collect();
        let page = format!(
            "<html><head><title>Working...</title></head><body><form method=\"POST\" name=\"hiddenform\" \
             action=\"{}\">{inputs}<noscript><p>Script is disabled. Click Submit to continue.</p>\
             <input type=\"submit\" value=\"Submit\" /></noscript></form>\
             <script language=\"javascript\">document.forms[0].submit();</script></body></html>",
            escape(redirect.as_str())
        );
        Answer::new(200, "text/html; charset=utf-8", page)
    } else {
        let mut target = redirect.clone();
        target.query_pairs_mut().extend_pairs(params);
        Answer::new(302, "text/html; charset=utf-8", "").header("location", target.as_str())
    }
}

fn error_page(message: &str) -> Answer {
    Answer::new(
        400,
        "text/html; charset=utf-8",
        format!(
            "<html><body><h1>Sorry, but we're having trouble signing you in.</h1><p>{}</p></body></html>",
            escape(message)
        ),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#x27;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_is_rfc7636() {
        assert_eq!(s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn loopback_only() {
        for ok in ["http://localhost", "http://127.0.0.1:5000/cb", "http://[::1]:1"] {
            assert!(is_loopback_http(&Url::parse(ok).unwrap()), "{ok}");
        }
        for bad in ["https://localhost", "http://example.com", "http://0.0.0.0:1"] {
            assert!(!is_loopback_http(&Url::parse(bad).unwrap()), "{bad}");
        }
    }
}
