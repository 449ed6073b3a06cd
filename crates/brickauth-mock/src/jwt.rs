//! JWT-shaped tokens: the mock's unsigned encoder and a decoder for tests.
//!
//! The mock's tokens look like Entra's (`header.claims.signature`, base64url without padding),
//! but the signature segment is random bytes: nothing in brickauth verifies signatures (Azure
//! Databricks does, but it is mocked too). [`claims`] and [`header`] decode a token without any
//! verification, for tests that want to look inside.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::ids;

/// Builds `header.claims.signature` with a random 256-byte "RS256 signature".
pub(crate) fn encode(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        ids::random_b64url(256)
    )
}

/// The header every mock token carries.
pub(crate) fn mock_header() -> Value {
    serde_json::json!({ "typ": "JWT", "alg": "RS256", "kid": "mock" })
}

/// Decodes a JWT's claims (second segment) without verifying anything; `None` when the token is
/// not three dot-separated segments or the claims are not base64url JSON.
pub fn claims(token: &str) -> Option<Value> {
    segment(token, 1)
}

/// Decodes a JWT's header (first segment) without verifying anything; `None` when malformed.
pub fn header(token: &str) -> Option<Value> {
    segment(token, 0)
}

fn segment(token: &str, index: usize) -> Option<Value> {
    let segments: Vec<&str> = token.split('.').collect();
    if segments.len() != 3 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(segments.get(index)?).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip() {
        let token = encode(&mock_header(), &json!({ "oid": "x", "exp": 5 }));
        assert_eq!(header(&token), Some(mock_header()));
        assert_eq!(claims(&token), Some(json!({ "oid": "x", "exp": 5 })));
        assert!(!token.contains('='));
    }

    #[test]
    fn malformed_is_none() {
        assert_eq!(claims("not-a-jwt"), None);
        assert_eq!(claims("a.b"), None);
        assert_eq!(claims("a.!!!.c"), None);
        assert_eq!(claims("a.b.c.d"), None);
    }
}
