//! Reading a JWT's header and claims, without verifying its signature.
//!
//! brickauth is a token *client*: it reads claims (`exp`, `tid`, `oid`, `upn`) to show who signed
//! in, to key its cache and for `brickauth inspect`. It never trusts them for access decisions.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// A decoded (unverified) JWT.
#[derive(Debug, Clone, PartialEq)]
pub struct Jwt {
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
}

/// Why a string is not a readable JWT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three dot-separated parts.
    #[error("not a JWT: expected three dot-separated parts, found {0}")]
    Shape(usize),
    /// A part is not base64url.
    #[error("not a JWT: the {0} is not base64url")]
    Base64(&'static str),
    /// A part is not a JSON object.
    #[error("not a JWT: the {0} is not a JSON object")]
    Json(&'static str),
}

/// Decode `token`'s header and claims.
pub fn decode(token: &str) -> Result<Jwt, JwtError> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    if parts.len() != 3 {
        return Err(JwtError::Shape(parts.len()));
    }
    Ok(Jwt { header: part(parts[0], "header")?, claims: part(parts[1], "payload")? })
}

fn part(s: &str, what: &'static str) -> Result<Map<String, Value>, JwtError> {
    let bytes = decode_b64(s).ok_or(JwtError::Base64(what))?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Json(what))
}

/// Decode base64url with or without padding.
pub fn decode_b64(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// Decode a base64url JSON value such as Entra's `client_info`.
pub fn b64_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, JwtError> {
    let bytes = decode_b64(s).ok_or(JwtError::Base64("value"))?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Json("value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        let t = decode("eyJhbGciOiJub25lIn0.eyJleHAiOjQyfQ.").unwrap();
        assert_eq!(t.header["alg"], "none");
        assert_eq!(t.claims["exp"], 42);
    }

    #[test]
    fn rejects() {
        assert_eq!(decode("abc"), Err(JwtError::Shape(1)));
        assert_eq!(decode("!!.e30.x"), Err(JwtError::Base64("header")));
        assert_eq!(decode("e30.WzFd.x"), Err(JwtError::Json("payload")));
    }
}
