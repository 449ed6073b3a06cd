//! Grant requests more than one crate sends: the refresh-token grant.
//!
//! The refresh-token flow crate uses it to redeem a refresh token a user supplied; the cache's
//! silent acquisition uses it to renew a cached token. Parameters are those MSAL sends.

use secrecy::SecretString;

use crate::app::AppConfig;
use crate::error::AuthError;
use crate::http::{Form, TokenClient};
use crate::token::TokenResponse;

/// Redeem `refresh_token` for a new access token (and, from Entra, a rotated refresh token).
///
/// Scope is decorated with `openid profile offline_access` as MSAL does, so the answer carries
/// the next refresh token and an id token.
pub async fn refresh(
    client: &TokenClient,
    app: &AppConfig,
    refresh_token: &SecretString,
) -> Result<TokenResponse, AuthError> {
    let form = Form::new()
        .field("client_id", app.client_id.as_str())
        .field("grant_type", "refresh_token")
        .field("scope", app.scopes.decorated())
        .secret("refresh_token", refresh_token)
        .field("client_info", "1");
    client.token(&app.authority.token_endpoint(), &form, true).await
}
