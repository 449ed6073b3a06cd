//! Access tokens and the Entra v2.0 token response.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::jwt;

/// An access token with what is known about it. The value is a secret: `Debug` redacts it.
#[derive(Clone)]
pub struct AccessToken {
    /// The bearer token itself.
    pub secret: SecretString,
    /// When it expires, in seconds since the Unix epoch.
    pub expires_on: i64,
    /// When the server suggested refreshing it (`refresh_in`), in seconds since the epoch.
    pub refresh_on: Option<i64>,
    /// Usually `Bearer`.
    pub token_type: String,
    /// The scopes the server granted (may differ in spelling from those requested).
    pub scopes: Vec<String>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[REDACTED]")
            .field("expires_on", &self.expires_on)
            .field("refresh_on", &self.refresh_on)
            .field("token_type", &self.token_type)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl AccessToken {
    /// The token text, for an `Authorization` header or for printing on request.
    pub fn expose(&self) -> &str {
        self.secret.expose_secret()
    }
    /// Seconds of validity left at `now` (saturating: never overflows).
    pub fn remaining(&self, now: i64) -> i64 {
        self.expires_on.saturating_sub(now)
    }

    /// The token's whole lifetime in seconds, from its JWT `iat` (else `nbf`) claim to
    /// `expires_on`; `None` for an opaque token or one without those claims. Decodes the token:
    /// not for the hot path of long-lived tokens.
    pub fn lifetime(&self) -> Option<i64> {
        let claims = jwt::decode(self.expose()).ok()?.claims;
        let issued = ["iat", "nbf"].iter().find_map(|k| claims.get(*k).and_then(serde_json::Value::as_i64))?;
        Some(self.expires_on.saturating_sub(issued)).filter(|l| *l > 0)
    }
}

/// Who a token belongs to: the account MSAL calls "home account".
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Account {
    /// `uid.utid` from `client_info` (MSAL's home_account_id), when the server sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_account_id: Option<String>,
    /// The sign-in name (`preferred_username` or `upn`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The tenant the account signed in to (`tid`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The object id (`oid`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
}

impl Account {
    /// The best stable key for this account: home account id, else object id, else username.
    pub fn key(&self) -> Option<String> {
        self.home_account_id
            .clone()
            .or_else(|| self.oid.clone())
            .or_else(|| self.username.as_ref().map(|u| u.to_ascii_lowercase()))
    }
}

/// A successful answer of a token endpoint.
#[derive(Clone)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: AccessToken,
    /// A refresh token, when `offline_access` was requested; Entra rotates it on every use.
    pub refresh_token: Option<SecretString>,
    /// The OpenID Connect id token, when `openid` was requested.
    pub id_token: Option<SecretString>,
    /// `ext_expires_in` as an instant: how long the token stays usable while Entra is down.
    pub ext_expires_on: Option<i64>,
    /// Who signed in, from `client_info`, the id token and the access token's claims.
    pub account: Account,
    /// `foci` ("1" for family-of-client-ids apps).
    pub foci: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "[REDACTED]"))
            .field("id_token", &self.id_token.as_ref().map(|_| "[REDACTED]"))
            .field("ext_expires_on", &self.ext_expires_on)
            .field("account", &self.account)
            .finish()
    }
}

/// Why a token response could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The body is not the JSON object a token endpoint returns.
    #[error("the token endpoint answered with a body that is not a token response: {0}")]
    Malformed(String),
    /// The body is recognisably not JSON: an HTML page (with its title) or an empty body.
    #[error("the token endpoint answered with {0} instead of a JSON token response")]
    NotJson(String),
    /// A required field is missing or empty.
    #[error("the token response has no `{0}`")]
    Missing(&'static str),
    /// The token is already expired on arrival.
    #[error("the token endpoint returned a token that is already expired (expires_in = {0})")]
    Expired(i64),
}

impl ResponseError {
    /// The same error with any server text in it cleaned by `text` (a JSON parser's message can
    /// quote the body).
    pub fn cleaned(self, text: &crate::text::ServerText) -> Self {
        match self {
            ResponseError::Malformed(m) => ResponseError::Malformed(text.clean(&m)),
            other => other,
        }
    }
}

/// A number that some servers send as a string (`"3599"`: ADFS, v1 endpoints, managed identity).
#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    Int(i64),
    Float(f64),
    Text(String),
}

impl Num {
    fn value(&self) -> Option<i64> {
        match self {
            Num::Int(i) => Some(*i),
            Num::Float(f) if f.is_finite() => Some(*f as i64),
            Num::Float(_) => None,
            Num::Text(s) => s
                .trim()
                .parse()
                .ok()
                .or_else(|| s.trim().parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f as i64)),
        }
    }
}

#[derive(Deserialize)]
struct Raw {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<Num>,
    expires_on: Option<Num>,
    ext_expires_in: Option<Num>,
    refresh_in: Option<Num>,
    refresh_token: Option<String>,
    id_token: Option<String>,
    scope: Option<String>,
    client_info: Option<String>,
    foci: Option<String>,
}

#[derive(Deserialize)]
struct ClientInfo {
    uid: Option<String>,
    utid: Option<String>,
}

/// MSAL's default lifetime when a response carries neither `expires_in` nor `expires_on`.
const DEFAULT_LIFETIME: i64 = 600;
/// The longest lifetime believed: Entra's access tokens live 60–90 minutes (24 h at most with
/// a configured policy); a server claiming more is capped, with a warning.
pub const MAX_LIFETIME: i64 = 24 * 3600;

impl TokenResponse {
    /// Parse a token endpoint's JSON body received at `now` (epoch seconds).
    ///
    /// `expires_in` may be a number or a string; `expires_on` (epoch seconds) is used when
    /// `expires_in` is absent. With neither, the token's own `exp` claim decides, else 600 s.
    pub fn parse(body: &[u8], now: i64) -> Result<TokenResponse, ResponseError> {
        let raw: Raw = serde_json::from_slice(body).map_err(|e| ResponseError::Malformed(e.to_string()))?;
        let access = raw.access_token.filter(|t| !t.is_empty()).ok_or(ResponseError::Missing("access_token"))?;
        let claims = jwt::decode(&access).ok().map(|t| t.claims);
        let exp = claims.as_ref().and_then(|c| c.get("exp")).and_then(serde_json::Value::as_i64);
        let from_server = if let Some(n) = raw.expires_in.as_ref().and_then(Num::value) {
            Some(now.saturating_add(n))
        } else {
            raw.expires_on.as_ref().and_then(Num::value)
        };
        // The earlier of what the answer says and what the token itself says.
        let mut expires_on = match (from_server, exp) {
            (Some(s), Some(e)) => s.min(e),
            (Some(s), None) => s,
            (None, Some(e)) => e,
            (None, None) => now.saturating_add(DEFAULT_LIFETIME),
        };
        if expires_on <= now {
            return Err(ResponseError::Expired(expires_on.saturating_sub(now)));
        }
        let cap = now.saturating_add(MAX_LIFETIME);
        if expires_on > cap {
            tracing::warn!(
                "the token endpoint says the token is valid for {} s; brickauth treats it as valid for 24 h at most",
                expires_on.saturating_sub(now)
            );
            expires_on = cap;
        }
        // Server-supplied numbers: saturate rather than overflow (found by fuzzing).
        let refresh_on = raw
            .refresh_in
            .as_ref()
            .and_then(Num::value)
            .filter(|r| *r > 0)
            .map(|r| now.saturating_add(r).min(expires_on));
        let ext_expires_on = raw.ext_expires_in.as_ref().and_then(Num::value).map(|e| now.saturating_add(e));

        let mut account = Account::default();
        if let Some(ci) = raw.client_info.as_deref().and_then(|c| jwt::b64_json::<ClientInfo>(c).ok())
            && let (Some(uid), Some(utid)) = (ci.uid, ci.utid)
        {
            account.home_account_id = Some(format!("{uid}.{utid}"));
        }
        let id_claims = raw.id_token.as_deref().and_then(|t| jwt::decode(t).ok()).map(|t| t.claims);
        for c in id_claims.iter().chain(claims.iter()) {
            let s = |k: &str| c.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
            account.username = account
                .username
                .take()
                .or_else(|| s("preferred_username"))
                .or_else(|| s("upn"))
                .or_else(|| s("unique_name"));
            account.tenant_id = account.tenant_id.take().or_else(|| s("tid"));
            account.oid = account.oid.take().or_else(|| s("oid"));
        }

        Ok(TokenResponse {
            access_token: AccessToken {
                secret: SecretString::from(access),
                expires_on,
                refresh_on,
                token_type: raw.token_type.unwrap_or_else(|| "Bearer".to_owned()),
                scopes: raw.scope.map(|s| s.split_whitespace().map(str::to_owned).collect()).unwrap_or_default(),
            },
            refresh_token: raw.refresh_token.filter(|r| !r.is_empty()).map(SecretString::from),
            id_token: raw.id_token.map(SecretString::from),
            ext_expires_on,
            account,
            foci: raw.foci,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_000_000;

    /// Regression (fuzz target `token_response`): huge or extreme server numbers overflowed
    /// `now + n` — a panic in debug builds, a wrapped (negative) `refresh_on` in release.
    #[test]
    fn extreme_numbers_saturate() {
        let body =
            br#"{"access_token":"x","expires_in":3599,"ext_expires_in":7198,"refresh_in":3600666666666666666666666}"#;
        let r = TokenResponse::parse(body, NOW).unwrap();
        // refresh_on never later than expiry.
        assert_eq!(r.access_token.refresh_on, Some(NOW + 3599));
        let body = br#"{"access_token":"x","expires_in":3599,"ext_expires_in":-9223372036854775808}"#;
        assert!(TokenResponse::parse(body, NOW).is_ok());
        let body = br#"{"access_token":"x","expires_on":-9223372036854775808}"#;
        assert!(matches!(TokenResponse::parse(body, NOW), Err(ResponseError::Expired(i64::MIN))));
    }

    fn jwt(claims: &str) -> String {
        use base64::Engine as _;
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.c2ln", b(r#"{"alg":"none"}"#), b(claims))
    }

    /// Issue 10 point 6: absurd lifetimes, and `expires_in` later than the token's own `exp`.
    #[test]
    fn lifetimes_are_bounded() {
        for absurd in ["9223372036854775807", "1e300", "\"99999999999999999999\""] {
            let body = format!(r#"{{"access_token":"x","expires_in":{absurd}}}"#);
            let r = TokenResponse::parse(body.as_bytes(), NOW).unwrap();
            assert_eq!(r.access_token.expires_on, NOW + MAX_LIFETIME, "{absurd}");
        }
        let body = format!(r#"{{"access_token":"x","expires_on":{}}}"#, i64::MAX);
        assert_eq!(TokenResponse::parse(body.as_bytes(), NOW).unwrap().access_token.expires_on, NOW + MAX_LIFETIME);
        // The JWT's exp wins when it is earlier; expires_in when it is.
        let at = jwt(&format!(r#"{{"iat":{NOW},"exp":{}}}"#, NOW + 42));
        let body = format!(r#"{{"access_token":"{at}","expires_in":3600}}"#);
        let r = TokenResponse::parse(body.as_bytes(), NOW).unwrap();
        assert_eq!(r.access_token.expires_on, NOW + 42);
        assert_eq!(r.access_token.lifetime(), Some(42));
        let body = format!(r#"{{"access_token":"{at}","expires_in":10}}"#);
        assert_eq!(TokenResponse::parse(body.as_bytes(), NOW).unwrap().access_token.expires_on, NOW + 10);
        // A token whose own exp has passed is expired on arrival, whatever expires_in says.
        let old = jwt(&format!(r#"{{"exp":{}}}"#, NOW - 1));
        let body = format!(r#"{{"access_token":"{old}","expires_in":3600}}"#);
        assert_eq!(TokenResponse::parse(body.as_bytes(), NOW).unwrap_err(), ResponseError::Expired(-1));
        // Saturating arithmetic.
        let r = TokenResponse::parse(br#"{"access_token":"x","expires_in":60}"#, NOW).unwrap();
        assert_eq!(r.access_token.remaining(i64::MIN), i64::MAX);
        assert_eq!(r.access_token.lifetime(), None);
    }

    #[test]
    fn parses_entra_v2_response() {
        let body = br#"{"token_type":"Bearer","scope":"2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/user_impersonation","expires_in":3599,"ext_expires_in":3599,"refresh_in":1800,"access_token":"eyJ0eXAiOiJKV1QifQ.eyJ0aWQiOiJ0IiwidXBuIjoiYUBiLmNvbSJ9.c2ln","refresh_token":"rt","client_info":"eyJ1aWQiOiJ1IiwidXRpZCI6InQifQ"}"#;
        let r = TokenResponse::parse(body, NOW).unwrap();
        assert_eq!(r.access_token.expires_on, NOW + 3599);
        assert_eq!(r.access_token.refresh_on, Some(NOW + 1800));
        assert_eq!(r.access_token.scopes, ["2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/user_impersonation"]);
        assert_eq!(r.account.home_account_id.as_deref(), Some("u.t"));
        assert_eq!(r.account.username.as_deref(), Some("a@b.com"));
        assert_eq!(r.refresh_token.as_ref().map(|s| s.expose_secret()), Some("rt"));
    }

    #[test]
    fn expires_in_as_string_and_expires_on() {
        let r = TokenResponse::parse(br#"{"access_token":"x","expires_in":"3600"}"#, NOW).unwrap();
        assert_eq!(r.access_token.expires_on, NOW + 3600);
        let r = TokenResponse::parse(format!(r#"{{"access_token":"x","expires_on":"{}"}}"#, NOW + 10).as_bytes(), NOW)
            .unwrap();
        assert_eq!(r.access_token.expires_on, NOW + 10);
        let r = TokenResponse::parse(br#"{"access_token":"x"}"#, NOW).unwrap();
        assert_eq!(r.access_token.expires_on, NOW + 600);
    }

    #[test]
    fn rejects_bad_bodies() {
        assert!(matches!(TokenResponse::parse(b"<html>", NOW), Err(ResponseError::Malformed(_))));
        assert!(matches!(TokenResponse::parse(b"{\"access_token\":\"x\"", NOW), Err(ResponseError::Malformed(_))));
        assert_eq!(TokenResponse::parse(b"{}", NOW).unwrap_err(), ResponseError::Missing("access_token"));
        assert_eq!(
            TokenResponse::parse(br#"{"access_token":"x","expires_in":0}"#, NOW).unwrap_err(),
            ResponseError::Expired(0)
        );
        assert_eq!(
            TokenResponse::parse(br#"{"access_token":"x","expires_in":-5}"#, NOW).unwrap_err(),
            ResponseError::Expired(-5)
        );
    }

    #[test]
    fn debug_redacts() {
        let r =
            TokenResponse::parse(br#"{"access_token":"SECRET-AT","refresh_token":"SECRET-RT","expires_in":60}"#, NOW)
                .unwrap();
        let d = format!("{r:?}");
        assert!(!d.contains("SECRET"), "{d}");
    }
}
