//! Interactive sign-in: the OAuth 2.0 authorization code flow with PKCE (RFC 7636, S256), a
//! loopback listener (RFC 8252), a browser, and a paste mode for machines without one.
//!
//! Flow name `authorization-code`, aliases `interactive` and `auth-code`. It works for every
//! user — MFA, federated sign-in, Conditional Access, first-time consent — because the user signs
//! in on Entra's own pages. As MSAL's `acquire_token_interactive`:
//!
//! ```text
//! browser → GET {authority}/{tenant}/oauth2/v2.0/authorize
//!             ?client_id&response_type=code&redirect_uri=http://localhost:PORT
//!             &scope=<profile scopes> offline_access openid profile&state&response_mode=form_post
//!             &code_challenge=<S256(verifier)>&code_challenge_method=S256&nonce&client_info=1
//!             [&login_hint][&prompt][&domain_hint]
//! Entra   → POST http://localhost:PORT/  code, state        (the loopback listener)
//! brickauth → POST {authority}/{tenant}/oauth2/v2.0/token
//!             grant_type=authorization_code, client_id, code, redirect_uri (identical),
//!             code_verifier, scope, client_info=1            (sent once: a code is single-use)
//! ```
//!
//! **Paste mode** — when no browser can be opened (no display, SSH, `browser = "never"`,
//! `brickauth login --no-browser`): the authorize URL uses `response_mode=query` and is printed;
//! the user signs in anywhere and pastes the address the browser was sent to
//! (`http://localhost/?code=…&state=…`, which need not load). Its `state` is checked before
//! anything is sent; an answer with another `state` or none (a bare code) is refused and asked
//! for again, three times at most. What the user sees and pastes goes through the
//! [`Prompt`](brickauth_core::Prompt) of the [`FlowContext`]: the flow itself prints nothing.
//!
//! Modules: [`pkce`] (verifier, challenge, state), [`request`] (redirect URI, authorize URL),
//! [`response`] (parsing and checking the response), [`listener`] (the loopback HTTP server).
//!
//! ```no_run
//! use brickauth_core::{AppConfig, FlowContext, GrantFlow, Interaction, TokenClient};
//! use brickauth_flow_authorization_code::{AuthorizationCodeFlow, AuthorizationCodeOptions};
//!
//! # async fn run() -> Result<(), brickauth_core::AuthError> {
//! let app = AppConfig::new("contoso.onmicrosoft.com".parse().unwrap(), "04f0c124-f2bc-4f59-8241-bf6df9866bbd".parse().unwrap());
//! let flow = AuthorizationCodeFlow::new(AuthorizationCodeOptions::new(app));
//! let client = TokenClient::new()?;
//! let cx = FlowContext::new(&client, Interaction { terminal: true, browser: true });
//! let token = flow.acquire(&cx).await?;
//! eprintln!("signed in as {:?}", token.account.username);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
// Only the CLI prints; a library reports through types (tests may print).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod listener;
pub mod pkce;
pub mod request;
pub mod response;

use std::sync::Arc;
use std::time::Duration;

use brickauth_core::flow::{BoxFuture, FlowContext, FlowSpec, GrantFlow};
use brickauth_core::http::Form;
use brickauth_core::settings::{ConfigError, KeySpec, Seconds, Settings};
use brickauth_core::token::ResponseError;
use brickauth_core::{AppConfig, AuthError, ExposeSecret, SecretString, TokenClient, TokenResponse};
use url::Url;

pub use listener::Listener;
pub use pkce::Pkce;
pub use request::{AuthorizeParams, RedirectUri, ResponseMode, authorize_url};
pub use response::{AuthResponse, PasteError, parse_pasted};

/// The default `login_timeout`: five minutes to sign in.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// Whether the flow may open a browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BrowserPolicy {
    /// Open one when the session can (a display, `$BROWSER`, WSL), else use paste mode.
    #[default]
    Auto,
    /// Never: always paste mode.
    Never,
}

/// Opens a URL in a browser; returns whether it did. The default is [`webbrowser::open`], which
/// honours `$BROWSER`. Embedders (a GUI, a test) may supply their own.
pub type Opener = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// What the authorization code flow needs.
#[derive(Clone)]
pub struct AuthorizationCodeOptions {
    /// Authority, client id, scopes.
    pub app: AppConfig,
    /// The loopback redirect URI registered for the app ("Mobile and desktop applications").
    pub redirect_uri: RedirectUri,
    /// `login_hint`: pre-fills the user name.
    pub login_hint: Option<String>,
    /// `prompt`: `login`, `consent`, `select_account`, `none` or `create`.
    pub prompt: Option<String>,
    /// `domain_hint`: skips home-realm discovery.
    pub domain_hint: Option<String>,
    /// How the listener receives the response (paste mode always uses `query`).
    pub response_mode: ResponseMode,
    /// Whether a browser may be opened.
    pub browser: BrowserPolicy,
    /// How long to wait for the sign-in.
    pub login_timeout: Duration,
    /// How to open the browser; `None` for [`webbrowser::open`].
    pub opener: Option<Opener>,
}

impl std::fmt::Debug for AuthorizationCodeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationCodeOptions")
            .field("app", &self.app)
            .field("redirect_uri", &self.redirect_uri.to_string())
            .field("login_hint", &self.login_hint)
            .field("prompt", &self.prompt)
            .field("domain_hint", &self.domain_hint)
            .field("response_mode", &self.response_mode)
            .field("browser", &self.browser)
            .field("login_timeout", &self.login_timeout)
            .field("opener", &self.opener.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl AuthorizationCodeOptions {
    /// Defaults: `http://localhost` on any free port, `form_post`, a browser when possible,
    /// five minutes to sign in.
    pub fn new(app: AppConfig) -> Self {
        AuthorizationCodeOptions {
            app,
            redirect_uri: RedirectUri::localhost(),
            login_hint: None,
            prompt: None,
            domain_hint: None,
            response_mode: ResponseMode::FormPost,
            browser: BrowserPolicy::Auto,
            login_timeout: DEFAULT_LOGIN_TIMEOUT,
            opener: None,
        }
    }
}

/// One sign-in attempt: fresh PKCE pair, `state` and `nonce`, and the URL built from them.
pub struct Attempt {
    pkce: Pkce,
    state: String,
    nonce: String,
    redirect_uri: String,
    url: Url,
}

impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("pkce", &self.pkce)
            .field("state", &self.state)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl Attempt {
    /// The authorize URL to open.
    pub fn url(&self) -> &Url {
        &self.url
    }
    /// The `state` sent.
    pub fn state(&self) -> &str {
        &self.state
    }
    /// The `nonce` sent.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }
    /// The PKCE pair.
    pub fn pkce(&self) -> &Pkce {
        &self.pkce
    }
    /// The redirect URI sent, which the redemption repeats.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }
}

/// The authorization code flow.
#[derive(Debug)]
pub struct AuthorizationCodeFlow {
    options: AuthorizationCodeOptions,
}

impl AuthorizationCodeFlow {
    /// A flow with these options.
    pub fn new(options: AuthorizationCodeOptions) -> Self {
        AuthorizationCodeFlow { options }
    }

    /// Build from profile settings: the common keys plus the optional keys in [`KEYS`].
    pub fn from_settings(s: &dyn Settings) -> Result<Self, ConfigError> {
        let mut o = AuthorizationCodeOptions::new(app(s)?);
        if let Some(uri) = s.parse("redirect_uri")? {
            o.redirect_uri = uri;
        }
        let text = |key: &str| s.get(key).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        o.login_hint = text("username");
        o.domain_hint = text("domain_hint");
        o.prompt = text("prompt");
        if let Some(p) = &o.prompt
            && !PROMPTS.contains(&p.as_str())
        {
            return Err(s.invalid("prompt", format!("unknown prompt `{p}`: expected one of {}", PROMPTS.join(", "))));
        }
        if let Some(mode) = s.parse("response_mode")? {
            o.response_mode = mode;
        }
        if let Some(v) = s.get("browser") {
            o.browser = match v.trim().to_ascii_lowercase().as_str() {
                "auto" => BrowserPolicy::Auto,
                "never" => BrowserPolicy::Never,
                other => {
                    return Err(s.invalid("browser", format!("unknown value `{other}`: expected `auto` or `never`")));
                }
            };
        }
        if let Some(Seconds(timeout)) = s.parse("login_timeout")? {
            o.login_timeout = timeout;
        }
        Ok(AuthorizationCodeFlow::new(o))
    }

    /// The options in force.
    pub fn options(&self) -> &AuthorizationCodeOptions {
        &self.options
    }

    /// Start an attempt: fresh secrets, and the authorize URL for `redirect_uri` and `mode`.
    pub fn attempt(&self, redirect_uri: String, mode: ResponseMode) -> Attempt {
        let o = &self.options;
        let (pkce, state, nonce) = (Pkce::generate(), pkce::random_token(24), pkce::random_token(16));
        let url = authorize_url(&AuthorizeParams {
            endpoint: &o.app.authority.authorize_endpoint(),
            client_id: o.app.client_id.as_str(),
            redirect_uri: &redirect_uri,
            scope: &o.app.scopes.decorated(),
            state: &state,
            response_mode: mode,
            code_challenge: pkce.challenge(),
            nonce: &nonce,
            login_hint: o.login_hint.as_deref(),
            prompt: o.prompt.as_deref(),
            domain_hint: o.domain_hint.as_deref(),
        });
        Attempt { pkce, state, nonce, redirect_uri, url }
    }

    /// The redemption form (the code and the verifier are redacted in its `Debug`).
    pub fn redemption_form(&self, attempt: &Attempt, code: &SecretString) -> Form {
        let o = &self.options;
        Form::new()
            .field("client_id", o.app.client_id.as_str())
            .field("grant_type", "authorization_code")
            .secret("code", code)
            .field("redirect_uri", attempt.redirect_uri.clone())
            .secret("code_verifier", attempt.pkce.verifier())
            .field("scope", o.app.scopes.decorated())
            .field("client_info", "1")
    }

    /// Redeem `code` once (never retried: a code is single-use) and check the id token's nonce.
    pub async fn redeem(
        &self,
        client: &TokenClient,
        attempt: &Attempt,
        code: &SecretString,
    ) -> Result<TokenResponse, AuthError> {
        let endpoint = self.options.app.authority.token_endpoint();
        let token = client.token(&endpoint, &self.redemption_form(attempt, code), false).await?;
        if let Some(id) = &token.id_token
            && let Ok(jwt) = brickauth_core::jwt::decode(id.expose_secret())
            && let Some(nonce) = jwt.claims.get("nonce").and_then(|v| v.as_str())
            && !pkce::state_matches(&attempt.nonce, Some(nonce))
        {
            return Err(AuthError::Response {
                url: brickauth_core::http::strip(&endpoint),
                source: ResponseError::Malformed("the id token's nonce is not the one this sign-in sent".into()),
            });
        }
        Ok(token)
    }

    /// Finish a paste-mode attempt with what the user pasted: check `state` (a URL with another
    /// state, or with none — a bare code — is refused before any request), then redeem.
    pub async fn finish_pasted(
        &self,
        client: &TokenClient,
        attempt: &Attempt,
        pasted: &str,
    ) -> Result<TokenResponse, AuthError> {
        let code = check_pasted(attempt, pasted).map_err(|e| e.into_error())?;
        self.redeem(client, attempt, &code).await
    }

    /// Sign in through the loopback listener and a browser.
    async fn with_listener(&self, cx: &FlowContext<'_>) -> Result<TokenResponse, AuthError> {
        let o = &self.options;
        let listener = Listener::bind(&o.redirect_uri).await?;
        let attempt = self.attempt(o.redirect_uri.render(Some(listener.port())), o.response_mode);
        tracing::info!(redirect_uri = %attempt.redirect_uri, mode = o.response_mode.as_str(), "authorization code sign-in");
        let url = attempt.url.as_str();
        let opened = match &o.opener {
            Some(open) => open(url),
            None => webbrowser::open(url).is_ok(),
        };
        cx.prompt.sign_in_url(url, opened);
        if !opened {
            tracing::warn!("no browser could be opened");
            if cx.interaction.terminal {
                drop(listener);
                cx.prompt.notice("No browser could be opened; switching to paste mode.");
                return self.paste(cx).await;
            }
        }
        // A started browser may still show nothing: wait for it, and let the person switch to
        // paste mode meanwhile (the prompt decides how: Enter on a terminal in the CLI).
        let switched = tokio::select! {
            code = listener.wait(&attempt.state, o.login_timeout) => Some(code?),
            () = cx.prompt.browser_waiting(o.login_timeout) => None,
        };
        match switched {
            Some(code) => self.redeem(cx.client, &attempt, &code).await,
            None => {
                // The listener went with its future: the port is closed again.
                tracing::info!("the person asked for paste mode while the browser sign-in was awaited");
                cx.prompt.notice("Switching to paste mode.");
                self.paste(cx).await
            }
        }
    }

    /// Sign in by pasting: the prompt shows the URL and reads the pasted address (stdin in the
    /// CLI, terminal or not). An answer that does not belong to this sign-in (another `state`, no
    /// `state`, not a response) is refused and asked for again, up to
    /// [`MAX_PASTE_ATTEMPTS`](brickauth_core::prompt::MAX_PASTE_ATTEMPTS) times in all; all within
    /// `login_timeout`.
    async fn paste(&self, cx: &FlowContext<'_>) -> Result<TokenResponse, AuthError> {
        use brickauth_core::prompt::{MAX_PASTE_ATTEMPTS, PasteRequest};
        let o = &self.options;
        let attempt = self.attempt(o.redirect_uri.render(None), ResponseMode::Query);
        let deadline = tokio::time::Instant::now() + o.login_timeout;
        let mut refused: Option<Refused> = None;
        for n in 1..=MAX_PASTE_ATTEMPTS {
            let mut request = PasteRequest::new(attempt.url.as_str(), &attempt.redirect_uri, o.login_timeout);
            request.attempt = n;
            request.timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
            let line = match tokio::time::timeout_at(deadline, cx.prompt.read_pasted(&request)).await {
                Err(_) => {
                    return Err(AuthError::Declined(format!(
                        "nothing was pasted within {} s (login_timeout)",
                        o.login_timeout.as_secs()
                    )));
                }
                Ok(Err(e)) => return Err(AuthError::Io(format!("cannot read the pasted response: {e}"))),
                // Input ended: after a refused answer, that refusal is the reason.
                Ok(Ok(None)) => {
                    return Err(refused.map(Refused::into_error).unwrap_or_else(|| {
                        AuthError::Declined("the input ended before a sign-in response was pasted".into())
                    }));
                }
                Ok(Ok(Some(line))) => line,
            };
            match check_pasted(&attempt, line.expose_secret()) {
                Ok(code) => return self.redeem(cx.client, &attempt, &code).await,
                Err(r @ Refused::Final(_)) => return Err(r.into_error()),
                Err(Refused::Again(why)) => {
                    let left = MAX_PASTE_ATTEMPTS - n;
                    if left > 0 {
                        cx.prompt.notice(&format!("{why} ({left} more attempt{})", if left == 1 { "" } else { "s" }));
                    }
                    refused = Some(Refused::Again(why));
                }
            }
        }
        Err(refused.map(Refused::into_error).unwrap_or_else(|| AuthError::Declined("no sign-in response".into())))
    }
}

/// Why a pasted answer was not used: `Again` for an answer that is not this sign-in's (worth
/// asking again), `Final` for one that is and says no (an `error=` response).
enum Refused {
    Again(String),
    Final(AuthError),
}

impl Refused {
    fn into_error(self) -> AuthError {
        match self {
            Refused::Again(why) => AuthError::Declined(why),
            Refused::Final(e) => e,
        }
    }
}

/// The code of a pasted answer, if it belongs to `attempt`: its `state` must be the attempt's. A
/// bare code is refused: without its `state`, a code obtained by someone else (another user of
/// the machine who saw the authorize URL) could be pasted in.
fn check_pasted(attempt: &Attempt, pasted: &str) -> Result<SecretString, Refused> {
    let response = parse_pasted(pasted).map_err(|e| Refused::Again(format!("that is not a sign-in response: {e}")))?;
    match &response {
        AuthResponse::Code { state: None, .. } => {
            return Err(Refused::Again(
                "a bare code cannot be checked against this sign-in (it has no `state`): nothing was sent; \
                 paste the whole address the browser was sent to"
                    .into(),
            ));
        }
        r if r.state().is_some() && !pkce::state_matches(&attempt.state, r.state()) => {
            return Err(Refused::Again(
                "the pasted response does not belong to this sign-in (its `state` differs): nothing was sent; \
                 paste the address from the sign-in started by this command"
                    .into(),
            ));
        }
        _ => {}
    }
    response.into_code().map_err(Refused::Final)
}

impl GrantFlow for AuthorizationCodeFlow {
    fn app(&self) -> &AppConfig {
        &self.options.app
    }

    fn interactive(&self) -> bool {
        true
    }

    fn acquire<'a>(&'a self, cx: &'a FlowContext<'a>) -> BoxFuture<'a, Result<TokenResponse, AuthError>> {
        Box::pin(async move {
            let o = &self.options;
            let browser = cx.interaction.browser
                && o.browser == BrowserPolicy::Auto
                && (o.opener.is_some() || browser_possible());
            if browser { self.with_listener(cx).await } else { self.paste(cx).await }
        })
    }
}

/// Whether this session can plausibly show a browser: `$BROWSER` is set, or (Linux and other
/// Unix) a display or WSL; macOS and Windows can, unless reached over SSH. The flow signs in
/// with a browser only then; a caller choosing between a browser sign-in and a device code uses
/// the same rule.
pub fn browser_possible() -> bool {
    let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
    if set("BROWSER") {
        return true;
    }
    if cfg!(any(target_os = "macos", windows)) {
        return !set("SSH_CONNECTION") && !set("SSH_TTY");
    }
    set("DISPLAY") || set("WAYLAND_DISPLAY") || set("WSL_DISTRO_NAME")
}

/// The `prompt` values Entra accepts.
const PROMPTS: &[&str] = &["login", "consent", "select_account", "none", "create"];

/// The keys this flow reads, on top of the common ones. `client_id` and `tenant_id` have
/// defaults here — the developer sign-on client, and the workspace's tenant (found from `host` by
/// the caller) or `organizations` without a host — so a profile needs no app registration.
pub const KEYS: &[KeySpec] = &[
    brickauth_core::app::SIGN_ON_CLIENT_ID_KEY,
    brickauth_core::app::SIGN_ON_TENANT_ID_KEY,
    KeySpec::optional(
        "redirect_uri",
        "loopback redirect registered for the app (default http://localhost: any free port)",
    ),
    KeySpec::optional("username", "pre-fills the sign-in name (login_hint)"),
    KeySpec::optional("prompt", "login, consent, select_account, none or create"),
    KeySpec::optional("domain_hint", "skip home-realm discovery, e.g. contoso.com"),
    KeySpec::optional("response_mode", "form_post (default) or query"),
    KeySpec::optional("browser", "auto (default) or never: always paste the response"),
    KeySpec::optional("login_timeout", "seconds to wait for the sign-in (default 300)"),
];

/// The cache identity: the common keys with [`KEYS`]' defaults.
fn app(s: &dyn Settings) -> Result<AppConfig, ConfigError> {
    AppConfig::from_settings_with(s, KEYS)
}

fn build(s: &dyn Settings) -> Result<Box<dyn GrantFlow>, ConfigError> {
    Ok(Box::new(AuthorizationCodeFlow::from_settings(s)?))
}

brickauth_core::register_flow! {
    FlowSpec {
        name: "authorization-code",
        aliases: &["interactive", "auth-code"],
        summary: "interactive browser sign-in with PKCE (MFA, SSO, consent); paste mode without a browser",
        interactive: true,
        keys: KEYS,
        env: &[brickauth_core::flow::EnvKey::new("username", &["BRICKAUTH_USERNAME"])],
        databricks: brickauth_core::flow::DatabricksAuth::NONE,
        app,
        build,
    }
}

#[cfg(test)]
mod tests;
