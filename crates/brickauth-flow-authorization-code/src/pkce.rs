//! PKCE (RFC 7636, S256 only), the `state` and `nonce` values, and comparing them.
//!
//! Every sign-in attempt gets a fresh verifier, state and nonce from the operating system's
//! random source (`rand`'s thread RNG, seeded from it). The verifier is a secret — it turns a
//! stolen code into tokens — so it is a [`SecretString`] and never shows in `Debug` output.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use brickauth_core::{ExposeSecret, SecretString};
use rand::RngCore as _;
use sha2::{Digest, Sha256};

/// A PKCE verifier and its S256 challenge.
#[derive(Clone)]
pub struct Pkce {
    verifier: SecretString,
    challenge: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkce").field("verifier", &"[REDACTED]").field("challenge", &self.challenge).finish()
    }
}

impl Pkce {
    /// A fresh verifier: 32 random bytes, base64url without padding (43 characters, the
    /// RFC 7636 minimum length and what MSAL uses).
    pub fn generate() -> Self {
        Self::from_verifier(SecretString::from(random_token(32)))
    }

    /// The pair for a given verifier (tests, RFC vectors).
    pub fn from_verifier(verifier: SecretString) -> Self {
        let challenge = challenge(verifier.expose_secret());
        Pkce { verifier, challenge }
    }

    /// The verifier, sent only in the token redemption.
    pub fn verifier(&self) -> &SecretString {
        &self.verifier
    }

    /// `code_challenge`, sent in the authorize URL.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}

/// `BASE64URL-NOPAD(SHA-256(ASCII(verifier)))`: the S256 code challenge.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `n` random bytes, base64url without padding: for `state` (24 bytes) and `nonce` (16 bytes).
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether a returned `state` is the one we sent. A missing state never matches. The comparison
/// takes the same time wherever the first difference is.
pub fn state_matches(expected: &str, got: Option<&str>) -> bool {
    let Some(got) = got else { return false };
    let (a, b) = (expected.as_bytes(), got.as_bytes());
    a.len() == b.len() && !a.is_empty() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let p = Pkce::from_verifier(SecretString::from("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert_eq!(p.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn generated_verifiers_are_fresh_and_well_formed() {
        let (a, b) = (Pkce::generate(), Pkce::generate());
        let v = a.verifier().expose_secret();
        assert_eq!(v.len(), 43);
        assert!(v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(v, b.verifier().expose_secret());
        assert_eq!(a.challenge(), challenge(v));
        assert!(!format!("{a:?}").contains(v));
    }

    #[test]
    fn state_comparison() {
        let s = random_token(24);
        assert_eq!(s.len(), 32);
        assert!(state_matches(&s, Some(&s.clone())));
        assert!(!state_matches(&s, None));
        assert!(!state_matches(&s, Some("")));
        assert!(!state_matches(&s, Some(&s[1..])));
        assert!(!state_matches(&s, Some(&random_token(24))));
        assert!(!state_matches("", Some("")));
    }
}
