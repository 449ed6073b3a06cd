//! [`TokenSource`]: anything that hands out a currently valid access token.
//!
//! The Databricks client takes a token *source*, not a token, so every request carries a fresh
//! one. The cache crate's silent-acquisition provider implements it; [`StaticToken`] is the
//! simplest implementation (a fixed token, for tests or a personal access token).

use crate::flow::BoxFuture;
use crate::token::AccessToken;

/// Boxed error of a token source.
pub type SourceError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A provider of valid access tokens.
pub trait TokenSource: Send + Sync {
    /// A token valid for a while yet. With `force_refresh`, never the one handed out last (the
    /// server rejected it): renew it.
    fn token(&self, force_refresh: bool) -> BoxFuture<'_, Result<AccessToken, SourceError>>;
}

/// A fixed token.
#[derive(Debug, Clone)]
pub struct StaticToken(pub AccessToken);

impl StaticToken {
    /// A bearer token that is taken to be valid for an hour from now.
    pub fn bearer(token: impl Into<String>) -> Self {
        StaticToken(AccessToken {
            secret: secrecy::SecretString::from(token.into()),
            expires_on: crate::now() + 3600,
            refresh_on: None,
            token_type: "Bearer".into(),
            scopes: Vec::new(),
        })
    }
}

impl TokenSource for StaticToken {
    fn token(&self, _force_refresh: bool) -> BoxFuture<'_, Result<AccessToken, SourceError>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }
}
