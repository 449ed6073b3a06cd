//! [`TokenRegistry`]: which access tokens the mock Entra issued, to whom, and until when.
//!
//! The mock Entra writes to it; the mock Databricks workspace reads it to decide whether a
//! bearer token is good. Tests may also insert tokens directly to exercise the workspace alone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::{clock, lock};

/// Who an access token was issued to and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The user principal name (`upn` claim), e.g. `alice@contoso.com`.
    pub username: String,
    /// The user's object id (`oid` claim).
    pub oid: String,
    /// The user's display name (`name` claim).
    pub name: String,
    /// The client application the token was issued to (`appid` claim).
    pub client_id: String,
    /// Expiry, in seconds since the Unix epoch (`exp` claim).
    pub expires_at: i64,
}

/// A shared, cloneable handle on the set of issued access tokens.
#[derive(Clone, Default)]
pub struct TokenRegistry {
    tokens: Arc<Mutex<HashMap<String, TokenInfo>>>,
}

/// What the registry knows about a presented token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenStatus {
    /// Issued and not expired.
    Valid(TokenInfo),
    /// Issued, but expired.
    Expired(TokenInfo),
    /// Never issued by this registry's Entra.
    Unknown,
}

impl TokenRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        TokenRegistry::default()
    }

    /// Records `token` as issued. Inserting the same token again replaces its information.
    pub fn insert(&self, token: impl Into<String>, info: TokenInfo) {
        lock(&self.tokens).insert(token.into(), info);
    }

    /// What was recorded for `token`, expired or not.
    pub fn lookup(&self, token: &str) -> Option<TokenInfo> {
        lock(&self.tokens).get(token).cloned()
    }

    /// Whether `token` was issued and has not expired (its `exp` is still in the future).
    pub fn is_valid(&self, token: &str) -> bool {
        matches!(self.check(token), TokenStatus::Valid(_))
    }

    /// How many tokens were issued.
    pub fn len(&self) -> usize {
        lock(&self.tokens).len()
    }

    /// Whether no token was issued yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn check(&self, token: &str) -> TokenStatus {
        match self.lookup(token) {
            Some(info) if info.expires_at > clock::now() => TokenStatus::Valid(info),
            Some(info) => TokenStatus::Expired(info),
            None => TokenStatus::Unknown,
        }
    }
}

/// Shows the number of tokens only: the tokens themselves are bearer credentials.
impl std::fmt::Debug for TokenRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRegistry").field("tokens", &self.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(expires_at: i64) -> TokenInfo {
        TokenInfo {
            username: "alice@contoso.com".into(),
            oid: "oid".into(),
            name: "Alice".into(),
            client_id: crate::CLIENT_ID.into(),
            expires_at,
        }
    }

    #[test]
    fn validity_follows_expiry() {
        let registry = TokenRegistry::new();
        assert!(registry.is_empty());
        registry.insert("fresh", info(clock::now() + 60));
        registry.insert("stale", info(clock::now() - 1));
        let shared = registry.clone();
        assert!(shared.is_valid("fresh"));
        assert!(!shared.is_valid("stale"));
        assert!(!shared.is_valid("never-issued"));
        assert!(matches!(shared.check("stale"), TokenStatus::Expired(_)));
        assert_eq!(registry.len(), 2);
        assert_eq!(format!("{registry:?}"), "TokenRegistry { tokens: 2 }");
    }
}
