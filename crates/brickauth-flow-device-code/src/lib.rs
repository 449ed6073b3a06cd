//! The device authorization grant (RFC 8628), for machines without a browser.
//!
//! Flow name `device-code`. The user signs in on another device, so MFA and Conditional Access
//! work (except policies demanding a managed device). As MSAL's `initiate_device_flow` and
//! `acquire_token_by_device_flow` do it:
//!
//! ```text
//! POST {authority}/{tenant}/oauth2/v2.0/devicecode    client_id, scope=<scopes> offline_access openid profile
//!                                                     [, login_hint=<username>]
//!   → device_code, user_code, verification_uri, expires_in, interval, message
//! (show `message` through the prompt: "To sign in, use a web browser to open the page … and enter the code …")
//! every `interval` seconds until `expires_in` has passed:
//! POST {authority}/{tenant}/oauth2/v2.0/token
//!   grant_type=urn:ietf:params:oauth:grant-type:device_code, client_id, device_code, code, client_info=1
//!   → authorization_pending: wait and poll again
//!   → slow_down: add 5 s to the interval, poll again
//!   → expired_token, authorization_declined, bad_verification_code: stop (exit 3)
//!   → tokens
//! ```
//!
//! `code` duplicates `device_code`, as MSAL sends it. The flow prints nothing itself: the code goes
//! to the [`Prompt`](brickauth_core::Prompt) of the [`FlowContext`] (the CLI's shows a spinner on a
//! terminal while the flow waits; a GUI's can show a dialog), which is told when the wait is over.
//! Ctrl-C stops the wait with [`AuthError::Declined`].
//!
//! The flow is marked interactive: a person has to sign in on another device. A profile's
//! `username` is sent as `login_hint`, so the sign-in page suggests that account; whatever account
//! signs in, the cache refuses an answer for another one than `username` (as for every flow).
#![warn(missing_docs)]
// Only the CLI prints; a library reports through types (tests may print).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

use std::time::{Duration, Instant};

use brickauth_core::flow::{BoxFuture, FlowContext, FlowSpec, GrantFlow};
use brickauth_core::http::{Form, strip};
use brickauth_core::settings::{ConfigError, KeySpec, Settings};
use brickauth_core::text::ServerText;
use brickauth_core::{AppConfig, AuthError, SecretString, TokenResponse};
use serde_json::Value;

/// The grant type of the polls.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// What the device code flow needs.
#[derive(Debug, Clone)]
pub struct DeviceCodeOptions {
    /// Authority, client id, scopes.
    pub app: AppConfig,
    /// What a `slow_down` answer adds to the polling interval (RFC 8628: 5 s). Tests shorten it.
    pub slow_down: Duration,
    /// The account to suggest on the sign-in page (`login_hint`): the profile's `username`.
    pub login_hint: Option<String>,
}

impl DeviceCodeOptions {
    /// Options with RFC 8628's 5 s slow-down step and no login hint.
    pub fn new(app: AppConfig) -> Self {
        DeviceCodeOptions { app, slow_down: Duration::from_secs(5), login_hint: None }
    }
}

/// The device code flow.
#[derive(Debug)]
pub struct DeviceCodeFlow {
    options: DeviceCodeOptions,
}

/// Entra's answer to the device authorization request.
#[derive(Debug)]
pub struct DeviceAuthorization {
    /// The code the client polls with (a secret: it redeems for tokens).
    pub device_code: SecretString,
    /// The code the user types.
    pub user_code: String,
    /// Where the user types it.
    pub verification_uri: String,
    /// Seconds until the codes expire.
    pub expires_in: u64,
    /// Seconds between polls.
    pub interval: u64,
    /// The text to show the user (URL and code).
    pub message: String,
}

impl DeviceCodeFlow {
    /// A device code flow with these options.
    pub fn new(options: DeviceCodeOptions) -> Self {
        DeviceCodeFlow { options }
    }

    /// Build from profile settings: the common keys, with the defaults of [`KEYS`], and
    /// `username` as the login hint.
    pub fn from_settings(s: &dyn Settings) -> Result<Self, ConfigError> {
        let mut options = DeviceCodeOptions::new(app(s)?);
        options.login_hint = s.get("username").map(str::to_owned);
        Ok(DeviceCodeFlow::new(options))
    }

    /// Step 1: ask for a device code and a user code.
    pub async fn start(&self, cx: &FlowContext<'_>) -> Result<DeviceAuthorization, AuthError> {
        let app = &self.options.app;
        let endpoint = app.authority.device_code_endpoint();
        let mut form = Form::new().field("client_id", app.client_id.as_str()).field("scope", app.scopes.decorated());
        if let Some(hint) = &self.options.login_hint {
            form = form.field("login_hint", hint);
        }
        // The one token-POST path of core: its headers, retries and bounded, cleaned answers.
        let answer = cx.client.post_form(&endpoint, &form, true, &[]).await?;
        if !answer.is_success() {
            // Entra's OAuth error (or the status and body) as for a token request.
            return Err(answer.error());
        }
        parse_authorization(&answer.body, &answer.text).map_err(|what| AuthError::Status {
            url: strip(&endpoint),
            status: answer.status,
            body: format!("not a device authorization answer: {what}"),
        })
    }

    /// Step 2: poll until the user has signed in, declined, or the code expired.
    pub async fn poll(&self, cx: &FlowContext<'_>, auth: &DeviceAuthorization) -> Result<TokenResponse, AuthError> {
        let app = &self.options.app;
        let endpoint = app.authority.token_endpoint();
        let form = Form::new()
            .field("client_id", app.client_id.as_str())
            .field("grant_type", GRANT_TYPE)
            .secret("device_code", &auth.device_code)
            .secret("code", &auth.device_code)
            .field("client_info", "1");
        let deadline = Instant::now() + Duration::from_secs(auth.expires_in);
        let mut interval = Duration::from_secs(auth.interval.max(1));
        loop {
            if Instant::now() + interval > deadline {
                return Err(expired());
            }
            tokio::time::sleep(interval).await;
            match cx.client.token(&endpoint, &form, true).await {
                Ok(token) => return Ok(token),
                Err(e) => match e.entra().map(|x| x.error.as_str()) {
                    Some("authorization_pending") => tracing::debug!("device code: authorization pending"),
                    Some("slow_down") => {
                        interval += self.options.slow_down;
                        tracing::debug!(interval_secs = interval.as_secs(), "device code: slow down");
                    }
                    Some("expired_token") | Some("code_expired") => return Err(expired()),
                    Some("authorization_declined") => {
                        return Err(AuthError::Declined("device code sign-in was declined by the user".into()));
                    }
                    Some("bad_verification_code") => {
                        return Err(AuthError::Declined(
                            "device code sign-in failed: the code entered was not recognised \
                             (bad_verification_code); run the command again for a new code"
                                .into(),
                        ));
                    }
                    _ => return Err(e),
                },
            }
        }
    }

    async fn run(&self, cx: &FlowContext<'_>) -> Result<TokenResponse, AuthError> {
        let auth = self.start(cx).await?;
        tracing::info!(user_code = %auth.user_code, expires_in = auth.expires_in, "device code issued");
        cx.prompt.device_code(&device_code(&auth));
        // Told even when the wait is cut short by Ctrl-C (the future is dropped).
        struct Done<'a>(&'a dyn brickauth_core::Prompt);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.device_code_done();
            }
        }
        let _done = Done(cx.prompt);
        self.poll(cx, &auth).await
    }
}

/// What the prompt shows.
fn device_code(auth: &DeviceAuthorization) -> brickauth_core::prompt::DeviceCode<'_> {
    let mut code = brickauth_core::prompt::DeviceCode::new(&auth.user_code, &auth.verification_uri, &auth.message);
    code.expires_in = auth.expires_in;
    code
}

fn expired() -> AuthError {
    AuthError::Declined("the device code expired before sign-in was completed; run the command again".into())
}

/// Reads the devicecode answer. Numbers may come as strings (older endpoints); MSAL's defaults
/// apply when `interval` (5) or `expires_in` (1800) is missing.
///
/// Every text shown (the message, the URL, the user code) is cleaned of escape sequences and
/// control characters and capped.
fn parse_authorization(body: &[u8], clean: &ServerText) -> Result<DeviceAuthorization, String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "not JSON".to_owned())?;
    let raw = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned).ok_or(format!("no `{k}`"));
    let text = |k: &str| {
        raw(k).map(|t| clean.clean(&t)).and_then(|t| if t.is_empty() { Err(format!("empty `{k}`")) } else { Ok(t) })
    };
    let number = |k: &str, default: u64| match v.get(k) {
        Some(Value::Number(n)) => n.as_u64().ok_or(format!("bad `{k}`")),
        Some(Value::String(s)) => s.parse().map_err(|_| format!("bad `{k}`")),
        _ => Ok(default),
    };
    let user_code = text("user_code")?;
    let verification_uri = text("verification_uri")?;
    let message = text("message").unwrap_or_else(|_| {
        format!("To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code}.")
    });
    Ok(DeviceAuthorization {
        device_code: SecretString::from(raw("device_code")?),
        user_code,
        verification_uri,
        expires_in: number("expires_in", 1800)?,
        interval: number("interval", 5)?,
        message,
    })
}

impl GrantFlow for DeviceCodeFlow {
    fn app(&self) -> &AppConfig {
        &self.options.app
    }

    fn interactive(&self) -> bool {
        true
    }

    /// Polls until the user finished, declined or the code expired. Cancelling is dropping the
    /// future: a library installs no signal handler (the program embedding it owns SIGINT).
    fn acquire<'a>(&'a self, cx: &'a FlowContext<'a>) -> BoxFuture<'a, Result<TokenResponse, AuthError>> {
        Box::pin(self.run(cx))
    }
}

/// The keys this flow reads, on top of the common ones: `username`, the account to sign in as
/// (suggested to the sign-in page; an answer for another account is refused), and defaults for
/// `client_id` and `tenant_id` — the developer sign-on client, and the workspace's tenant (found
/// from `host` by the caller) or `organizations` without a host — so a profile needs no app
/// registration.
pub const KEYS: &[KeySpec] = &[
    brickauth_core::app::SIGN_ON_CLIENT_ID_KEY,
    brickauth_core::app::SIGN_ON_TENANT_ID_KEY,
    KeySpec::optional("username", "the account to sign in as: suggested on the sign-in page (login_hint)"),
];

/// The cache identity: the common keys with [`KEYS`]' defaults.
fn app(s: &dyn Settings) -> Result<AppConfig, ConfigError> {
    AppConfig::from_settings_with(s, KEYS)
}

fn build(s: &dyn Settings) -> Result<Box<dyn GrantFlow>, ConfigError> {
    Ok(Box::new(DeviceCodeFlow::from_settings(s)?))
}

brickauth_core::register_flow! {
    FlowSpec {
        name: "device-code",
        aliases: &[],
        summary: "sign in on another device with a code: headless machines, MFA works",
        interactive: true,
        keys: KEYS,
        env: &[],
        databricks: brickauth_core::flow::DatabricksAuth::NONE,
        app,
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickauth_core::MapSettings;
    use brickauth_mock::{CLIENT_ID, DeviceStep, MockEntra, TENANT_ID};

    fn flow(mock: &MockEntra) -> DeviceCodeFlow {
        let s = MapSettings::new("dc")
            .with("tenant_id", TENANT_ID)
            .with("client_id", CLIENT_ID)
            .with("authority_host", mock.uri());
        let mut options = DeviceCodeOptions::new(AppConfig::from_settings(&s).unwrap());
        options.slow_down = Duration::from_secs(1);
        DeviceCodeFlow::new(options)
    }

    async fn acquire(flow: &DeviceCodeFlow) -> Result<TokenResponse, AuthError> {
        brickauth_core::flow::acquire_unattended(flow).await
    }

    #[test]
    fn registered_and_interactive() {
        let spec = brickauth_core::flow::find("device-code").unwrap();
        assert!(spec.interactive);
    }

    #[test]
    fn no_app_registration_needed() {
        let spec = brickauth_core::flow::find("device-code").unwrap();
        let app = (spec.app)(&MapSettings::new("dc")).unwrap();
        assert_eq!(app.client_id.as_str(), brickauth_core::app::DEVELOPER_SIGN_ON_CLIENT_ID);
        assert_eq!(app.authority.tenant().as_str(), "organizations");
        let flow = DeviceCodeFlow::from_settings(&MapSettings::new("dc").with("tenant_id", TENANT_ID)).unwrap();
        assert_eq!(flow.app().client_id.as_str(), brickauth_core::app::DEVELOPER_SIGN_ON_CLIENT_ID);
        assert_eq!(flow.app().authority.tenant().as_str(), TENANT_ID);
    }

    #[tokio::test]
    async fn pending_slow_down_then_success_keeps_to_the_interval() {
        let mock = MockEntra::start().await;
        mock.set_device_interval(1);
        mock.script_device(vec![DeviceStep::Pending, DeviceStep::Pending, DeviceStep::Pending, DeviceStep::SlowDown]);
        let token = acquire(&flow(&mock)).await.unwrap();
        assert_eq!(token.account.username.as_deref(), Some("alice@contoso.com"));
        assert!(token.refresh_token.is_some());
        let polls = mock.device_polls();
        assert_eq!(polls.len(), 5);
        let gaps: Vec<Duration> = polls.windows(2).map(|w| w[1] - w[0]).collect();
        let tolerance = Duration::from_millis(50);
        for gap in &gaps[..3] {
            assert!(*gap + tolerance >= Duration::from_secs(1), "polled after {gap:?}");
        }
        // After slow_down: interval 1 s + 1 s (the test's slow-down step).
        assert!(gaps[3] + tolerance >= Duration::from_secs(2), "polled after {:?} despite slow_down", gaps[3]);
        let reqs = mock.token_requests().await;
        let form = &reqs[0].form;
        assert_eq!(form.get("grant_type").map(String::as_str), Some(GRANT_TYPE));
        assert_eq!(form.get("device_code"), form.get("code"));
        assert_eq!(form.get("client_info").map(String::as_str), Some("1"));
        let start = mock.requests().await.into_iter().find(|r| r.path.ends_with("/devicecode")).unwrap();
        assert_eq!(start.form.get("scope").map(|s| s.contains("offline_access")), Some(true));
    }

    /// A library never owns the process: waiting for the user installs no SIGINT handler (it
    /// did once, through `tokio::signal::ctrl_c`, and replaced an embedder's Ctrl-C for good).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn waiting_leaves_sigint_to_the_program() {
        let caught = || {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let mask = status.lines().find_map(|l| l.strip_prefix("SigCgt:")).unwrap().trim().to_owned();
            u64::from_str_radix(&mask, 16).unwrap() & (1 << (2 - 1)) != 0
        };
        assert!(!caught(), "SIGINT caught before the flow ran: the test cannot tell");
        let mock = MockEntra::start().await;
        mock.set_device_interval(1);
        mock.script_device(vec![DeviceStep::Pending; 10]);
        let flow = flow(&mock);
        // Cancelling is dropping the future: poll it through its first waits, then drop it.
        let waited = tokio::time::timeout(Duration::from_millis(1500), acquire(&flow)).await;
        assert!(waited.is_err(), "the scripted sign-in should still be pending");
        assert!(!mock.device_polls().is_empty(), "the flow never polled");
        assert!(!caught(), "the device-code flow installed a SIGINT handler");
    }

    /// `username` goes out as `login_hint`, and the mock lets the hinted user (Bob, whom the
    /// password grant refuses for MFA) sign in on the other device.
    #[tokio::test]
    async fn the_username_is_the_login_hint() {
        let mock = MockEntra::start().await;
        mock.set_device_interval(1);
        let s = MapSettings::new("dc")
            .with("tenant_id", TENANT_ID)
            .with("client_id", CLIENT_ID)
            .with("authority_host", mock.uri())
            .with("username", "bob@contoso.com");
        let token = acquire(&DeviceCodeFlow::from_settings(&s).unwrap()).await.unwrap();
        assert_eq!(token.account.username.as_deref(), Some("bob@contoso.com"));
        let start = mock.requests().await.into_iter().find(|r| r.path.ends_with("/devicecode")).unwrap();
        assert_eq!(start.form.get("login_hint").map(String::as_str), Some("bob@contoso.com"));
        // Without a username, no hint: the device user (Alice) signs in.
        let token = acquire(&flow(&mock)).await.unwrap();
        assert_eq!(token.account.username.as_deref(), Some("alice@contoso.com"));
    }

    #[tokio::test]
    async fn expired_declined_and_bad_code_stop_with_declined() {
        let mock = MockEntra::start().await;
        mock.set_device_interval(1);
        for (step, text) in [
            (DeviceStep::Expire, "expired"),
            (DeviceStep::Decline, "declined"),
            (DeviceStep::BadCode, "not recognised"),
        ] {
            mock.script_device(vec![step]);
            match acquire(&flow(&mock)).await {
                Err(AuthError::Declined(m)) => assert!(m.contains(text), "{m}"),
                other => panic!("{step:?}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn gives_up_when_the_code_runs_out() {
        let mock = MockEntra::start().await;
        mock.set_device_interval(1);
        mock.set_device_expires_in(2);
        mock.script_device(vec![DeviceStep::Pending; 10]);
        let started = Instant::now();
        assert!(matches!(acquire(&flow(&mock)).await, Err(AuthError::Declined(_))));
        assert!(started.elapsed() < Duration::from_secs(4));
    }

    #[test]
    fn parses_string_numbers_and_defaults() {
        let clean = ServerText::default();
        let a = parse_authorization(
            br#"{"device_code":"d","user_code":"U","verification_uri":"https://x","interval":"3"}"#,
            &clean,
        )
        .unwrap();
        assert_eq!((a.interval, a.expires_in), (3, 1800));
        assert!(a.message.contains('U'));
        assert!(!format!("{a:?}").contains("\"d\""));
        assert!(parse_authorization(b"{}", &clean).is_err());
        // What the user is shown is cleaned of escape sequences.
        let a = parse_authorization(
            br#"{"device_code":"d","user_code":"U\u001b[2J","verification_uri":"https://x","message":"Go to https://x \u001b]0;owned\u0007and type U"}"#,
            &clean,
        )
        .unwrap();
        assert_eq!((a.user_code.as_str(), a.message.as_str()), ("U", "Go to https://x and type U"));
    }
}
