//! The username/password grant (OAuth 2.0 "resource owner password credentials", ROPC).
//!
//! Flow name `password`, aliases `username-password` and `ropc`. One POST to the token endpoint,
//! as MSAL's `acquire_token_by_username_password` sends it for a managed (cloud-only) user:
//!
//! ```text
//! POST {authority}/{tenant}/oauth2/v2.0/token
//! client_id, grant_type=password, username, password,
//! scope=<profile scopes> offline_access openid profile, client_info=1
//! X-AnchorMailbox: upn:<username>
//! ```
//!
//! It cannot satisfy MFA or Conditional Access (Entra answers AADSTS50076/50079) and Microsoft
//! is retiring it for public clients; it is kept for the service accounts and scripts that still
//! depend on it. Federated (ADFS) users are not supported: use the authorization-code flow.
//!
//! ```no_run
//! use brickauth_core::{AppConfig, FlowContext, GrantFlow, Interaction, SecretString, TokenClient};
//! use brickauth_flow_password::{PasswordFlow, PasswordOptions};
//!
//! # async fn run() -> Result<(), brickauth_core::AuthError> {
//! let app = AppConfig::new("contoso.onmicrosoft.com".parse().unwrap(), "04f0c124-f2bc-4f59-8241-bf6df9866bbd".parse().unwrap());
//! let flow = PasswordFlow::new(PasswordOptions {
//!     app,
//!     username: "svc-etl@contoso.com".into(),
//!     password: SecretString::from(std::env::var("BRICKAUTH_PASSWORD").unwrap_or_default()),
//! });
//! let client = TokenClient::new()?;
//! let token = flow.acquire(&FlowContext::new(&client, Interaction::NONE)).await?;
//! println!("expires at {}", token.access_token.expires_on);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
// Only the CLI prints; a library reports through types (tests may print).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

use brickauth_core::flow::{BoxFuture, FlowContext, FlowSpec, GrantFlow};
use brickauth_core::http::Form;
use brickauth_core::settings::{ConfigError, KeySpec, Settings};
use brickauth_core::{AppConfig, AuthError, SecretString, TokenResponse};

/// What the password flow needs.
pub struct PasswordOptions {
    /// Authority, client id, scopes.
    pub app: AppConfig,
    /// The user's sign-in name (UPN), e.g. `svc-etl@contoso.com`.
    pub username: String,
    /// The user's password.
    pub password: SecretString,
}

/// The username/password flow.
pub struct PasswordFlow {
    options: PasswordOptions,
}

impl std::fmt::Debug for PasswordFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordFlow")
            .field("app", &self.options.app)
            .field("username", &self.options.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

impl PasswordFlow {
    /// A password flow with these options.
    pub fn new(options: PasswordOptions) -> Self {
        PasswordFlow { options }
    }

    /// Build from profile settings: the common keys plus `username` and the `password` secret.
    pub fn from_settings(s: &dyn Settings) -> Result<Self, ConfigError> {
        let app = AppConfig::from_settings(s)?;
        let username = s.require("username")?.trim().to_owned();
        if !username.contains('@') {
            return Err(
                s.invalid("username", format!("`{username}` is not a user principal name: expected name@domain"))
            );
        }
        let password = s.require_secret("password")?;
        Ok(PasswordFlow::new(PasswordOptions { app, username, password }))
    }

    /// The form this flow posts (for tests and `-vv` traces, which redact the password).
    pub fn form(&self) -> Form {
        let o = &self.options;
        Form::new()
            .field("client_id", o.app.client_id.as_str())
            .field("grant_type", "password")
            .field("username", o.username.clone())
            .secret("password", &o.password)
            .field("scope", o.app.scopes.decorated())
            .field("client_info", "1")
    }
}

impl GrantFlow for PasswordFlow {
    fn app(&self) -> &AppConfig {
        &self.options.app
    }

    fn acquire<'a>(&'a self, cx: &'a FlowContext<'a>) -> BoxFuture<'a, Result<TokenResponse, AuthError>> {
        Box::pin(async move {
            let o = &self.options;
            tracing::info!(username = %o.username, authority = %o.app.authority.host(), "password grant");
            let anchor = [("X-AnchorMailbox", format!("upn:{}", o.username))];
            cx.client.token_with_headers(&o.app.authority.token_endpoint(), &self.form(), true, &anchor).await
        })
    }
}

/// The keys this flow reads, on top of the common ones.
pub const KEYS: &[KeySpec] = &[
    KeySpec::required("username", "the user principal name, e.g. svc-etl@contoso.com"),
    KeySpec::secret("password", "the user's password (password_env, password_file or password_command)"),
];

fn build(s: &dyn Settings) -> Result<Box<dyn GrantFlow>, ConfigError> {
    Ok(Box::new(PasswordFlow::from_settings(s)?))
}

brickauth_core::register_flow! {
    FlowSpec {
        name: "password",
        aliases: &["username-password", "ropc"],
        summary: "username and password (ROPC): no MFA; for legacy service accounts",
        interactive: false,
        keys: KEYS,
        env: &[brickauth_core::flow::EnvKey::new("username", &["BRICKAUTH_USERNAME"]), brickauth_core::flow::EnvKey::new("password", &["BRICKAUTH_PASSWORD"])],
        databricks: brickauth_core::flow::DatabricksAuth::NONE,
        app: brickauth_core::AppConfig::from_settings,
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickauth_core::{Interaction, MapSettings, TokenClient};
    use brickauth_mock::{CLIENT_ID, MockEntra, TENANT_ID};

    fn settings(mock: &MockEntra, password: &str) -> MapSettings {
        MapSettings::new("test")
            .with("flow", "password")
            .with("tenant_id", TENANT_ID)
            .with("client_id", CLIENT_ID)
            .with("authority_host", mock.uri())
            .with("username", "alice@contoso.com")
            .with_secret("password", password)
    }

    #[test]
    fn registered_under_its_names() {
        for n in ["password", "ropc", "USERNAME_PASSWORD"] {
            assert_eq!(brickauth_core::flow::find(n).map(|s| s.name), Ok("password"));
        }
    }

    #[tokio::test]
    async fn sends_what_msal_sends() {
        let mock = MockEntra::start().await;
        let flow = PasswordFlow::from_settings(&settings(&mock, "correct horse battery staple")).unwrap();
        let client = TokenClient::new().unwrap();
        let r = flow.acquire(&FlowContext::new(&client, Interaction::NONE)).await.unwrap();
        assert_eq!(r.account.username.as_deref(), Some("alice@contoso.com"));
        assert!(r.refresh_token.is_some());
        let reqs = mock.token_requests().await;
        assert_eq!(reqs.len(), 1);
        let mut form = reqs[0].form.clone();
        form.insert("password".into(), "[REDACTED]".into());
        insta::assert_debug_snapshot!(form);
        assert_eq!(reqs[0].headers.get("x-anchormailbox").map(String::as_str), Some("upn:alice@contoso.com"));
        assert!(!reqs[0].headers.contains_key("origin"));
    }

    #[tokio::test]
    async fn wrong_password_is_an_entra_error_with_hint() {
        let mock = MockEntra::start().await;
        let flow = PasswordFlow::from_settings(&settings(&mock, "pw-Xq7-unlikely")).unwrap();
        let client = TokenClient::new().unwrap();
        let err = flow.acquire(&FlowContext::new(&client, Interaction::NONE)).await.unwrap_err();
        let e = err.entra().expect("an Entra error");
        assert_eq!(e.code(), Some(50126));
        assert!(err.to_string().contains("hint:"));
        assert!(!err.to_string().contains("pw-Xq7-unlikely"), "the password leaked into the error: {err}");
    }

    #[test]
    fn username_must_be_a_upn() {
        let s = MapSettings::new("p")
            .with("tenant_id", TENANT_ID)
            .with("client_id", CLIENT_ID)
            .with("username", "alice")
            .with_secret("password", "x");
        assert_eq!(PasswordFlow::from_settings(&s).unwrap_err().key.as_deref(), Some("username"));
    }

    #[test]
    fn debug_redacts() {
        let s = MapSettings::new("p")
            .with("tenant_id", TENANT_ID)
            .with("client_id", CLIENT_ID)
            .with("username", "a@b.com")
            .with_secret("password", "s3cr3t-pw");
        let f = PasswordFlow::from_settings(&s).unwrap();
        assert!(!format!("{f:?} {:?}", f.form()).contains("s3cr3t-pw"));
    }
}
