//! A Databricks-managed service principal: OAuth M2M against the workspace's own token endpoint.
//!
//! Flow name `databricks-m2m`, alias `oauth-m2m` (the Databricks SDKs' `auth_type`). One POST to
//! the workspace, not to Entra ID, as the Databricks SDKs and CLI send it:
//!
//! ```text
//! POST {host}/oidc/v1/token
//! Authorization: Basic base64(client_id:client_secret)
//! grant_type=client_credentials, scope=all-apis
//! ```
//!
//! The secret is an OAuth secret created for the service principal in the workspace or account
//! console. `client_auth = "form"` sends `client_id` and `client_secret` in the body instead of
//! the `Authorization` header (Databricks accepts both). The answer is a standard OAuth token
//! response (`access_token`, `token_type`, `expires_in`, one hour).
//!
//! **Cache identity.** A Databricks token belongs to the workspace, not to an Entra tenant, so
//! [`GrantFlow::app`] describes it in the workspace's terms: the authority host is the workspace
//! URL (the cache's "environment", unique per workspace), the tenant is the workspace host name
//! (`adb-123.4.azuredatabricks.net` — it parses as a domain-shaped [`Tenant`], and is what the
//! token is valid for), the client id is the service principal's application id and the scopes
//! are `all-apis`. Two profiles for the same principal and workspace therefore share one cache
//! entry, and no Entra token can ever be mistaken for it (Entra entries have an Entra host).
//!
//! ```no_run
//! use brickauth_core::{FlowContext, GrantFlow, Interaction, SecretString, TokenClient};
//! use brickauth_flow_databricks_m2m::{ClientAuth, DatabricksM2mFlow, DatabricksM2mOptions};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let flow = DatabricksM2mFlow::new(DatabricksM2mOptions {
//!     host: "https://adb-1234567890123456.7.azuredatabricks.net".parse()?,
//!     client_id: "6a1f2e3d-4c5b-4a69-8877-665544332211".parse()?,
//!     client_secret: SecretString::from(std::env::var("DATABRICKS_CLIENT_SECRET")?),
//!     scopes: "all-apis".parse()?,
//!     client_auth: ClientAuth::Basic,
//! })?;
//! let client = TokenClient::new()?;
//! let token = flow.acquire(&FlowContext::new(&client, Interaction::NONE)).await?;
//! println!("expires at {}", token.access_token.expires_on);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
// Only the CLI prints; a library reports through types (tests may print).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use brickauth_core::app::{UrlError, secure_url};
use brickauth_core::flow::{BoxFuture, FlowContext, FlowSpec, GrantFlow};
use brickauth_core::http::Form;
use brickauth_core::settings::{ConfigError, KeySpec, Settings};
use brickauth_core::{
    AppConfig, AuthError, Authority, ClientId, ExposeSecret, Scopes, SecretString, Tenant, TokenResponse,
};
use url::Url;

/// The scope Databricks grants for the REST API: everything the principal may do.
pub const ALL_APIS: &str = "all-apis";

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// HTTP Basic `Authorization` header (RFC 6749 §2.3.1), as the Databricks SDKs send it.
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Form,
}

/// What the Databricks M2M flow needs.
pub struct DatabricksM2mOptions {
    /// The workspace URL, `https://adb-….azuredatabricks.net` (or `http://` to loopback).
    pub host: Url,
    /// The service principal's application id.
    pub client_id: ClientId,
    /// Its OAuth secret.
    pub client_secret: SecretString,
    /// Requested scopes (normally just [`ALL_APIS`]).
    pub scopes: Scopes,
    /// Where the credentials go.
    pub client_auth: ClientAuth,
}

/// The Databricks OAuth M2M flow.
pub struct DatabricksM2mFlow {
    options: DatabricksM2mOptions,
    app: AppConfig,
    endpoint: Url,
}

impl std::fmt::Debug for DatabricksM2mFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabricksM2mFlow")
            .field("host", &self.options.host.as_str())
            .field("client_id", &self.options.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("scopes", &self.options.scopes)
            .field("client_auth", &self.options.client_auth)
            .finish()
    }
}

impl DatabricksM2mFlow {
    /// A flow with these options; fails when the host is not `https://` (or `http://` to
    /// loopback) or has no host name.
    pub fn new(options: DatabricksM2mOptions) -> Result<Self, UrlError> {
        let (app, endpoint) = workspace_app(&options.host, options.client_id.clone(), options.scopes.clone())?;
        Ok(DatabricksM2mFlow { options, app, endpoint })
    }

    /// Build from profile settings: `host`, `client_id`, the `client_secret` secret, and
    /// optionally `scopes` (default `all-apis`) and `client_auth` (`basic` or `form`).
    pub fn from_settings(s: &dyn Settings) -> Result<Self, ConfigError> {
        let plain = Plain::read(s)?;
        let client_secret = s.require_secret("client_secret")?;
        let Plain { host, client_id, scopes, client_auth } = plain;
        DatabricksM2mFlow::new(DatabricksM2mOptions { host, client_id, client_secret, scopes, client_auth })
            .map_err(|e| s.invalid("host", e))
    }

    /// The token endpoint, `{host}/oidc/v1/token`.
    pub fn token_endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// The form this flow posts (its `Debug` redacts the secret).
    pub fn form(&self) -> Form {
        let o = &self.options;
        let form = Form::new().field("grant_type", "client_credentials").field("scope", o.scopes.joined());
        match o.client_auth {
            ClientAuth::Basic => form,
            ClientAuth::Form => form.field("client_id", o.client_id.as_str()).secret("client_secret", &o.client_secret),
        }
    }

    fn basic_header(&self) -> String {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair =
            format!("{}:{}", enc(self.options.client_id.as_str()), enc(self.options.client_secret.expose_secret()));
        format!("Basic {}", STANDARD.encode(pair))
    }
}

/// The profile's non-secret settings.
struct Plain {
    host: Url,
    client_id: ClientId,
    scopes: Scopes,
    client_auth: ClientAuth,
}

impl Plain {
    fn read(s: &dyn Settings) -> Result<Plain, ConfigError> {
        let host_text = s.require("host")?.trim();
        let with_scheme = if host_text.contains("://") { host_text.to_owned() } else { format!("https://{host_text}") };
        let host = secure_url(&with_scheme).map_err(|e| s.invalid("host", e))?;
        let client_id: ClientId = s.require("client_id")?.parse().map_err(|e| {
            s.invalid("client_id", format!("{e} (for a Databricks service principal: its Application ID)"))
        })?;
        let scopes: Scopes = match s.parse("scopes")? {
            Some(scopes) => scopes,
            None => ALL_APIS.parse().map_err(|e| s.invalid("scopes", e))?,
        };
        let client_auth = match s.get("client_auth").map(|v| v.trim().to_ascii_lowercase()) {
            None => ClientAuth::Basic,
            Some(v) if v == "basic" || v == "header" => ClientAuth::Basic,
            Some(v) if v == "form" || v == "body" => ClientAuth::Form,
            Some(v) => return Err(s.invalid("client_auth", format!("`{v}` is not `basic` or `form`"))),
        };
        Ok(Plain { host, client_id, scopes, client_auth })
    }
}

/// The identity tokens of this profile are cached under, from its settings alone: no secret is
/// resolved (the cached path calls this; see the crate docs for what it contains).
pub fn app_config(s: &dyn Settings) -> Result<AppConfig, ConfigError> {
    let p = Plain::read(s)?;
    workspace_app(&p.host, p.client_id, p.scopes).map(|(app, _)| app).map_err(|e| s.invalid("host", e))
}

/// The cache identity and token endpoint of a workspace.
fn workspace_app(host: &Url, client_id: ClientId, scopes: Scopes) -> Result<(AppConfig, Url), UrlError> {
    let mut base = secure_url(host.as_str())?;
    base.set_query(None);
    base.set_fragment(None);
    base.set_path("");
    let host_name = base.host_str().unwrap_or_default().to_owned();
    // `localhost` is not domain-shaped: such a (test) workspace gets `organizations`.
    let tenant: Tenant = host_name.parse().unwrap_or_else(|_| Tenant::organizations());
    let authority = Authority::new(base.as_str(), tenant)?;
    let mut endpoint = base;
    endpoint.set_path("/oidc/v1/token");
    Ok((AppConfig { authority, client_id, scopes }, endpoint))
}

impl GrantFlow for DatabricksM2mFlow {
    fn app(&self) -> &AppConfig {
        &self.app
    }

    fn acquire<'a>(&'a self, cx: &'a FlowContext<'a>) -> BoxFuture<'a, Result<TokenResponse, AuthError>> {
        Box::pin(async move {
            let o = &self.options;
            tracing::info!(host = %self.app.authority.host(), client_id = %o.client_id, "Databricks OAuth M2M");
            let headers = match o.client_auth {
                ClientAuth::Basic => vec![("Authorization", self.basic_header())],
                ClientAuth::Form => Vec::new(),
            };
            cx.client.token_with_headers(&self.endpoint, &self.form(), true, &headers).await
        })
    }
}

/// The keys this flow reads, on top of the common ones (`host` and `client_id` are required).
pub const KEYS: &[KeySpec] = &[
    KeySpec::secret("client_secret", "the service principal's OAuth secret (client_secret_env, _file or _command)"),
    KeySpec::optional("client_auth", "`basic` (Authorization header, default) or `form` (client_secret in the body)"),
];

fn build(s: &dyn Settings) -> Result<Box<dyn GrantFlow>, ConfigError> {
    Ok(Box::new(DatabricksM2mFlow::from_settings(s)?))
}

brickauth_core::register_flow! {
    FlowSpec {
        name: "databricks-m2m",
        aliases: &["oauth-m2m"],
        summary: "Databricks-managed service principal: OAuth secret at the workspace's /oidc/v1/token (needs host, client_id)",
        interactive: false,
        keys: KEYS,
        env: &[brickauth_core::flow::EnvKey::new("client_id", &["DATABRICKS_CLIENT_ID"]), brickauth_core::flow::EnvKey::new("client_secret", &["DATABRICKS_CLIENT_SECRET"])],
        databricks: brickauth_core::flow::DatabricksAuth {
            auth_types: &["oauth-m2m"],
            detect: &["client_id", "client_secret"],
            fallback: false,
            keys: &[("client_id", "client_id"), ("client_secret", "client_secret")],
        },
        app: app_config,
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickauth_core::MapSettings;
    use brickauth_mock::{MockDatabricks, TokenRegistry};

    const SP: &str = "6a1f2e3d-4c5b-4a69-8877-665544332211";
    const SECRET: &str = "dose0123456789abcdef-secret";

    fn settings(host: &str, secret: &str) -> MapSettings {
        MapSettings::new("ci")
            .with("flow", "databricks-m2m")
            .with("host", host)
            .with("client_id", SP)
            .with_secret("client_secret", secret)
    }

    async fn acquire(flow: &DatabricksM2mFlow) -> Result<TokenResponse, AuthError> {
        brickauth_core::flow::acquire_unattended(flow).await
    }

    #[test]
    fn registered_under_its_names() {
        for n in ["databricks-m2m", "oauth-m2m", "OAUTH_M2M"] {
            assert_eq!(brickauth_core::flow::find(n).map(|s| s.name), Ok("databricks-m2m"));
        }
    }

    #[tokio::test]
    async fn gets_a_token_the_workspace_accepts() {
        let ws = MockDatabricks::start(TokenRegistry::new()).await;
        ws.add_service_principal(SP, SECRET).await;
        for auth in ["basic", "form"] {
            let flow =
                DatabricksM2mFlow::from_settings(&settings(&ws.uri(), SECRET).with("client_auth", auth)).unwrap();
            let token = acquire(&flow).await.unwrap();
            assert!(token.access_token.remaining(brickauth_core::now()) > 3000);
            let req = ws.requests().await.pop().unwrap();
            assert_eq!(req.path, "/oidc/v1/token");
            assert_eq!(req.form.get("grant_type").map(String::as_str), Some("client_credentials"));
            assert_eq!(req.form.get("scope").map(String::as_str), Some("all-apis"));
            assert_eq!(req.headers.contains_key("authorization"), auth == "basic", "{auth}");
            assert_eq!(req.form.contains_key("client_secret"), auth == "form", "{auth}");
        }
    }

    #[tokio::test]
    async fn wrong_secret_is_refused_without_leaking_it() {
        let ws = MockDatabricks::start(TokenRegistry::new()).await;
        ws.add_service_principal(SP, SECRET).await;
        let flow = DatabricksM2mFlow::from_settings(&settings(&ws.uri(), "not-the-secret")).unwrap();
        let err = acquire(&flow).await.unwrap_err();
        assert_eq!(err.entra().map(|e| e.error.as_str()), Some("invalid_client"));
        assert!(!err.to_string().contains("not-the-secret"));
        assert!(!format!("{flow:?} {:?}", flow.form()).contains("not-the-secret"));
    }

    #[test]
    fn identity_is_the_workspace() {
        let f =
            DatabricksM2mFlow::from_settings(&settings("adb-1234567890123456.7.azuredatabricks.net/", SECRET)).unwrap();
        assert_eq!(f.app().authority.environment(), "adb-1234567890123456.7.azuredatabricks.net");
        assert_eq!(f.app().authority.tenant().as_str(), "adb-1234567890123456.7.azuredatabricks.net");
        assert_eq!(f.app().scopes.joined(), "all-apis");
        assert_eq!(f.token_endpoint().as_str(), "https://adb-1234567890123456.7.azuredatabricks.net/oidc/v1/token");
    }

    #[test]
    fn config_errors_name_the_key() {
        let clear = settings("http://adb.example.com", SECRET);
        assert_eq!(DatabricksM2mFlow::from_settings(&clear).unwrap_err().key.as_deref(), Some("host"));
        let no_secret = MapSettings::new("p").with("host", "https://adb.example.com").with("client_id", SP);
        assert_eq!(DatabricksM2mFlow::from_settings(&no_secret).unwrap_err().key.as_deref(), Some("client_secret"));
        let bad_auth = settings("https://adb.example.com", SECRET).with("client_auth", "jwt");
        assert_eq!(DatabricksM2mFlow::from_settings(&bad_auth).unwrap_err().key.as_deref(), Some("client_auth"));
    }
}
