//! Random identifiers: GUIDs for trace and correlation ids, opaque refresh tokens, token ids.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;

/// `n` random bytes.
pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// Base64url (no padding) of `n` random bytes.
pub(crate) fn random_b64url(n: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(n))
}

/// A random (version 4) GUID in lower-case hyphenated form.
pub(crate) fn guid() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// An opaque refresh token shaped like Entra's: `0.AXoA` and 60 random base64url characters.
///
/// All refresh tokens have the same length, so distinct ones are never substrings of each other;
/// the caller checks distinctness against what it already issued.
pub(crate) fn refresh_token() -> String {
    // 45 bytes encode to exactly 60 base64url characters.
    format!("0.AXoA{}", random_b64url(45))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_shape() {
        let g = guid();
        assert_eq!(g.len(), 36);
        let parts: Vec<&str> = g.split('-').collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert!(parts[2].starts_with('4'));
        assert_ne!(guid(), g);
    }

    #[test]
    fn refresh_token_shape() {
        let rt = refresh_token();
        assert_eq!(rt.len(), 66);
        assert!(rt.starts_with("0.AXoA"));
        assert_ne!(refresh_token(), rt);
    }
}
