//! The refresh-token grant, started from a refresh token the user already holds.
//!
//! Flow name `refresh-token`. For people who obtained a refresh token elsewhere (an MSAL script,
//! another machine) and keep it in a file or variable: brickauth redeems it once,
//!
//! ```text
//! POST {authority}/{tenant}/oauth2/v2.0/token
//! client_id, grant_type=refresh_token, refresh_token,
//! scope=<profile scopes> offline_access openid profile, client_info=1
//! ```
//!
//! and from then on the token cache keeps the *rotated* refresh token Entra returns: the
//! configured one is redeemed again only when the cache holds no token for the profile, or when
//! it changed (the cache remembers a keyed fingerprint of it: [`GrantFlow::account_credential`]). (Entra refresh
//! tokens are bound to the client id they were issued to; redeeming one with another client id
//! fails with AADSTS70000.)
//!
//! ```no_run
//! use brickauth_core::{AppConfig, FlowContext, GrantFlow, Interaction, SecretString, TokenClient};
//! use brickauth_flow_refresh_token::{RefreshTokenFlow, RefreshTokenOptions};
//!
//! # async fn run() -> Result<(), brickauth_core::AuthError> {
//! let app = AppConfig::new("contoso.onmicrosoft.com".parse().unwrap(), "04f0c124-f2bc-4f59-8241-bf6df9866bbd".parse().unwrap());
//! let flow = RefreshTokenFlow::new(RefreshTokenOptions { app, refresh_token: SecretString::from("0.AXoA…".to_owned()) });
//! let client = TokenClient::new()?;
//! let answer = flow.acquire(&FlowContext::new(&client, Interaction::NONE)).await?;
//! // Keep answer.refresh_token: the one you passed in is now spent.
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
// Only the CLI prints; a library reports through types (tests may print).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

use brickauth_core::flow::{BoxFuture, FlowContext, FlowSpec, GrantFlow};
use brickauth_core::settings::{ConfigError, KeySpec, Settings};
use brickauth_core::{AppConfig, AuthError, SecretString, TokenResponse};

/// What the refresh-token flow needs.
pub struct RefreshTokenOptions {
    /// Authority, client id, scopes.
    pub app: AppConfig,
    /// The refresh token to redeem.
    pub refresh_token: SecretString,
}

/// The refresh-token flow.
pub struct RefreshTokenFlow {
    options: RefreshTokenOptions,
    /// Where the refresh token came from, for the error when Entra refuses it.
    from: String,
}

impl std::fmt::Debug for RefreshTokenFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshTokenFlow")
            .field("app", &self.options.app)
            .field("refresh_token", &"[REDACTED]")
            .finish()
    }
}

impl RefreshTokenFlow {
    /// A refresh-token flow with these options.
    pub fn new(options: RefreshTokenOptions) -> Self {
        RefreshTokenFlow { options, from: "the refresh token given".to_owned() }
    }

    /// Build from profile settings: the common keys plus the `refresh_token` secret.
    pub fn from_settings(s: &dyn Settings) -> Result<Self, ConfigError> {
        let app = AppConfig::from_settings(s)?;
        let refresh_token = s.require_secret("refresh_token")?;
        let key = s.source_key("refresh_token").unwrap_or_else(|| "refresh_token".to_owned());
        let from = match s.origin("refresh_token") {
            Some(origin) if origin.starts_with('$') => origin,
            Some(origin) => format!("`{key}` ({origin})"),
            None => format!("`{key}`"),
        };
        Ok(RefreshTokenFlow { options: RefreshTokenOptions { app, refresh_token }, from })
    }
}

impl GrantFlow for RefreshTokenFlow {
    fn app(&self) -> &AppConfig {
        &self.options.app
    }

    /// The refresh token decides the account: a different one may be another user's.
    fn account_credential(&self) -> Option<SecretString> {
        Some(self.options.refresh_token.clone())
    }

    fn acquire<'a>(&'a self, cx: &'a FlowContext<'a>) -> BoxFuture<'a, Result<TokenResponse, AuthError>> {
        Box::pin(async move {
            tracing::info!(authority = %self.options.app.authority.host(), "refresh-token grant with the configured refresh token");
            let answer =
                brickauth_core::grants::refresh(cx.client, &self.options.app, &self.options.refresh_token).await;
            // Sending the same token again cannot help: say it is the configured one.
            answer.map_err(|e| match e.is_invalid_grant() {
                true => {
                    AuthError::ConfiguredRefused { key: "refresh_token", from: self.from.clone(), source: Box::new(e) }
                }
                false => e,
            })
        })
    }
}

/// The keys this flow reads, on top of the common ones.
pub const KEYS: &[KeySpec] =
    &[KeySpec::secret("refresh_token", "a refresh token for this client id (refresh_token_file, _env or _command)")];

fn build(s: &dyn Settings) -> Result<Box<dyn GrantFlow>, ConfigError> {
    Ok(Box::new(RefreshTokenFlow::from_settings(s)?))
}

brickauth_core::register_flow! {
    FlowSpec {
        name: "refresh-token",
        aliases: &[],
        summary: "redeem a refresh token you already hold; the cache keeps the rotated one",
        interactive: false,
        keys: KEYS,
        env: &[brickauth_core::flow::EnvKey::new("refresh_token", &["BRICKAUTH_REFRESH_TOKEN"])],
        databricks: brickauth_core::flow::DatabricksAuth::NONE,
        app: brickauth_core::AppConfig::from_settings,
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickauth_core::{ExposeSecret, Interaction, MapSettings, TokenClient};
    use brickauth_mock::{CLIENT_ID, MockEntra, TENANT_ID};

    #[tokio::test]
    async fn redeems_once_and_returns_the_rotated_token() {
        let mock = MockEntra::start().await;
        let rt = mock.issue_refresh_token("alice@contoso.com");
        let s = MapSettings::new("t")
            .with("tenant_id", TENANT_ID)
            .with("client_id", CLIENT_ID)
            .with("authority_host", mock.uri())
            .with_secret("refresh_token", rt.clone());
        let flow = RefreshTokenFlow::from_settings(&s).unwrap();
        let client = TokenClient::new().unwrap();
        let cx = FlowContext::new(&client, Interaction::NONE);
        let first = flow.acquire(&cx).await.unwrap();
        let rotated = first.refresh_token.expect("a rotated refresh token");
        assert_ne!(rotated.expose_secret(), rt);
        let form = &mock.token_requests().await[0].form;
        assert_eq!(form.get("grant_type").map(String::as_str), Some("refresh_token"));
        assert_eq!(
            form.get("scope").map(String::as_str),
            Some("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default offline_access openid profile")
        );
        // Entra rotates refresh tokens: the configured one is spent, and the error says it is
        // the configured one (signing in "again" with it would only send it again).
        let again = flow.acquire(&cx).await.unwrap_err();
        assert!(again.is_invalid_grant());
        assert_eq!(again.entra().and_then(|e| e.code()), Some(70008));
        assert!(matches!(&again, AuthError::ConfiguredRefused { key: "refresh_token", .. }), "{again:?}");
    }

    #[test]
    fn needs_a_refresh_token() {
        let s = MapSettings::new("t").with("tenant_id", TENANT_ID).with("client_id", CLIENT_ID);
        let err = RefreshTokenFlow::from_settings(&s).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("refresh_token"));
        assert!(err.to_string().contains("refresh_token_file"));
    }
}
