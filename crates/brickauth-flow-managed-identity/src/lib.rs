//! Azure managed identity: tokens from the platform, no secret anywhere.
//!
//! Flow name `managed-identity`, alias `msi`. Two endpoint shapes, as the Azure SDKs use them:
//!
//! ```text
//! Azure VM / VMSS / AKS node (IMDS):
//!   GET {imds_endpoint}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=2ff814a6-…
//!       [&client_id=…|&object_id=…|&msi_res_id=…]
//!   Metadata: true
//! App Service, Functions, Container Apps (IDENTITY_ENDPOINT + IDENTITY_HEADER set):
//!   GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=2ff814a6-…[&client_id=…|&object_id=…|&mi_res_id=…]
//!   X-IDENTITY-HEADER: {IDENTITY_HEADER}
//! ```
//!
//! Which endpoint: the profile's `imds_endpoint`, else `$BRICKAUTH_IMDS_ENDPOINT`, else the App
//! Service variables when both are set, else `http://169.254.169.254`. A user-assigned identity
//! is chosen with at most one of `msi_client_id`, `msi_object_id`, `msi_res_id`; none means the
//! system-assigned identity. The common `client_id` key (the app registration of the Entra flows,
//! often set in `[defaults]`) is ignored here.
//!
//! A clear-text `http://` endpoint must be a loopback address (App Service, Container Apps, Arc)
//! or the IMDS link-local address 169.254.169.254; any other host must use `https://`.
//!
//! The first request is a probe with short timeouts (connect 2 s, whole request `imds_timeout`,
//! default 5 s) and no proxy: off Azure nothing answers, and the error says so at once instead of
//! after a minute of retries. Once the endpoint has answered, 410 (IMDS starting up), 429 and 5xx
//! are retried by core's retry engine with the token client's policy.
//!
//! **Cache identity.** [`GrantFlow::app`] must name a distinct identity per managed identity even
//! though there is no app registration: the authority host is the endpoint (`169.254.169.254`,
//! or the App Service/loopback endpoint, as `https://` for keying — the flow never sends
//! requests to the authority), the tenant is the profile's `tenant_id` or `organizations`, and
//! the client id is the identity's own: `msi_client_id` as given; `msi_object_id` as given (a
//! GUID, never equal to a client id); for `msi_res_id` a GUID derived from the resource id
//! (FNV-1a, stable across runs); for the system-assigned identity the fixed
//! [`SYSTEM_ASSIGNED_ID`]. A machine has one system-assigned identity per endpoint, so the
//! endpoint plus that constant is unique.
//!
//! ```no_run
//! use brickauth_core::{FlowContext, GrantFlow, Interaction, TokenClient};
//! use brickauth_flow_managed_identity::{IdentitySelector, ManagedIdentityFlow, ManagedIdentityOptions};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut options = ManagedIdentityOptions::from_env(|k| std::env::var(k).ok())?;
//! options.identity = IdentitySelector::ClientId("3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e62".parse()?);
//! let flow = ManagedIdentityFlow::new(options)?;
//! let client = TokenClient::new()?;
//! let token = flow.acquire(&FlowContext::new(&client, Interaction::NONE)).await?;
//! println!("expires at {}", token.access_token.expires_on);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
// Only the CLI prints; a library reports through types (tests may print).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

use std::time::Duration;

use brickauth_core::app::{DATABRICKS_RESOURCE, ParseError, UrlError, is_guid, is_loopback};
use brickauth_core::flow::{BoxFuture, FlowContext, FlowSpec, GrantFlow};
use brickauth_core::http::{Answer, Failure, TOKEN_BODY_LIMIT, classify, exhausted, strip};
use brickauth_core::retry;
use brickauth_core::settings::{ConfigError, KeySpec, Seconds, Settings};
use brickauth_core::text::ServerText;
use brickauth_core::{
    AppConfig, AuthError, Authority, ClientId, EntraError, ExposeSecret, Scopes, SecretString, Tenant, TokenClient,
    TokenResponse,
};
use url::Url;

/// The Azure Instance Metadata Service, the default endpoint.
pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// The client id used for cache keys of the system-assigned identity (see the crate docs).
pub const SYSTEM_ASSIGNED_ID: &str = "00000000-0000-0000-0000-00000000005a";
/// IMDS API version.
pub const IMDS_API_VERSION: &str = "2018-02-01";
/// App Service API version.
pub const APP_SERVICE_API_VERSION: &str = "2019-08-01";
/// The default whole-request timeout of a managed identity request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The connect timeout: IMDS answers in milliseconds when it exists.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest `imds_timeout` accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// Which managed identity to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySelector {
    /// The resource's system-assigned identity.
    SystemAssigned,
    /// A user-assigned identity by client id.
    ClientId(ClientId),
    /// A user-assigned identity by object (principal) id, a GUID.
    ObjectId(String),
    /// A user-assigned identity by ARM resource id.
    ResourceId(String),
}

impl IdentitySelector {
    /// The query parameter (name for IMDS or App Service) and value, if any.
    fn query(&self, app_service: bool) -> Option<(&'static str, &str)> {
        match self {
            IdentitySelector::SystemAssigned => None,
            IdentitySelector::ClientId(c) => Some(("client_id", c.as_str())),
            IdentitySelector::ObjectId(o) => Some(("object_id", o.as_str())),
            IdentitySelector::ResourceId(r) => Some((if app_service { "mi_res_id" } else { "msi_res_id" }, r.as_str())),
        }
    }

    /// The client id this identity is cached under (see the crate docs).
    pub fn cache_client_id(&self) -> Result<ClientId, ParseError> {
        match self {
            IdentitySelector::SystemAssigned => SYSTEM_ASSIGNED_ID.parse(),
            IdentitySelector::ClientId(c) => Ok(c.clone()),
            IdentitySelector::ObjectId(o) => o.parse().or_else(|_| guid_from(&o.to_ascii_lowercase()).parse()),
            IdentitySelector::ResourceId(r) => guid_from(&r.to_ascii_lowercase()).parse(),
        }
    }

    fn describe(&self) -> String {
        match self {
            IdentitySelector::SystemAssigned => "the system-assigned identity".to_owned(),
            IdentitySelector::ClientId(c) => format!("the user-assigned identity with client id {c}"),
            IdentitySelector::ObjectId(o) => format!("the user-assigned identity with object id {o}"),
            IdentitySelector::ResourceId(r) => format!("the user-assigned identity {r}"),
        }
    }
}

/// A GUID-shaped FNV-1a 128-bit-ish digest of `s` (two 64-bit FNV-1a passes with different bases).
fn guid_from(s: &str) -> String {
    let fnv = |basis: u64| s.bytes().fold(basis, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let h = format!("{:016x}{:016x}", fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4));
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Where the token comes from.
#[derive(Clone)]
pub enum Endpoint {
    /// Azure IMDS at this base URL (`http://169.254.169.254`).
    Imds(Url),
    /// The App Service / Functions / Container Apps endpoint and its secret header value.
    AppService {
        /// `IDENTITY_ENDPOINT`, the full token URL.
        url: Url,
        /// `IDENTITY_HEADER`.
        header: SecretString,
    },
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Imds(u) => f.debug_tuple("Imds").field(&u.as_str()).finish(),
            Endpoint::AppService { url, .. } => {
                f.debug_struct("AppService").field("url", &url.as_str()).field("header", &"[REDACTED]").finish()
            }
        }
    }
}

/// Why managed identity options cannot make a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManagedIdentityError {
    /// An endpoint that is not an `http(s)://` URL with a host.
    Endpoint {
        /// The environment variable it came from, if any.
        variable: Option<&'static str>,
        /// What is wrong with it.
        reason: String,
    },
    /// The endpoint cannot be the authority its tokens are cached under.
    Authority(UrlError),
    /// The resource or the identity does not give a valid scope or cache id.
    Value(ParseError),
}

impl std::fmt::Display for ManagedIdentityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManagedIdentityError::Endpoint { variable: Some(v), reason } => write!(f, "{v}: {reason}"),
            ManagedIdentityError::Endpoint { variable: None, reason } => f.write_str(reason),
            ManagedIdentityError::Authority(e) => e.fmt(f),
            ManagedIdentityError::Value(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ManagedIdentityError {}

impl From<UrlError> for ManagedIdentityError {
    fn from(e: UrlError) -> Self {
        ManagedIdentityError::Authority(e)
    }
}

impl From<ParseError> for ManagedIdentityError {
    fn from(e: ParseError) -> Self {
        ManagedIdentityError::Value(e)
    }
}

/// The statuses retried: IMDS answers 410 for up to 70 s while it starts, then 429 and 5xx.
pub const BUSY: &[u16] = &[410, 429, 500, 502, 503, 504];

/// The IMDS link-local address, the one non-loopback host allowed over clear text.
const IMDS_ADDRESS: std::net::Ipv4Addr = std::net::Ipv4Addr::new(169, 254, 169, 254);

/// Parse an endpoint URL: `https` with a host, or `http` to loopback or the IMDS address.
fn endpoint_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s.trim()).map_err(|e| format!("`{s}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("`{s}` is not an http(s) URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{}` carries a user name or password: remove it", strip(&url)));
    }
    if url.scheme() == "http" && !is_loopback(&url) && url.host() != Some(url::Host::Ipv4(IMDS_ADDRESS)) {
        return Err(format!(
            "`{s}` uses clear-text http to a host that is neither loopback nor the IMDS address 169.254.169.254: use https"
        ));
    }
    Ok(url)
}

impl Endpoint {
    /// The endpoint the environment names: `BRICKAUTH_IMDS_ENDPOINT`, else `IDENTITY_ENDPOINT` with
    /// `IDENTITY_HEADER`, else IMDS at its well-known address. `var` reads a variable.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Endpoint, ManagedIdentityError> {
        let var = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let bad = |variable: &'static str| {
            move |reason: String| ManagedIdentityError::Endpoint { variable: Some(variable), reason }
        };
        if let Some(e) = var("BRICKAUTH_IMDS_ENDPOINT") {
            return endpoint_url(&e).map(Endpoint::Imds).map_err(bad("BRICKAUTH_IMDS_ENDPOINT"));
        }
        if let (Some(url), Some(header)) = (var("IDENTITY_ENDPOINT"), var("IDENTITY_HEADER")) {
            let url = endpoint_url(&url).map_err(bad("IDENTITY_ENDPOINT"))?;
            return Ok(Endpoint::AppService { url, header: SecretString::from(header) });
        }
        endpoint_url(DEFAULT_IMDS_ENDPOINT)
            .map(Endpoint::Imds)
            .map_err(|reason| ManagedIdentityError::Endpoint { variable: None, reason })
    }

    /// The URL of the token request, without the query.
    pub fn token_url(&self) -> Url {
        match self {
            Endpoint::Imds(base) => {
                let mut u = base.clone();
                u.set_path("/metadata/identity/oauth2/token");
                u.set_query(None);
                u
            }
            Endpoint::AppService { url, .. } => url.clone(),
        }
    }

    /// The authority the tokens are cached under: the endpoint itself (see the crate docs).
    fn authority(&self, tenant: Tenant) -> Result<Authority, UrlError> {
        let url = self.token_url();
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(UrlError::NoHost(url.to_string())),
        };
        let scheme = if is_loopback(&url) { url.scheme() } else { "https" };
        Authority::new(&format!("{scheme}://{host}"), tenant)
    }
}

/// What the managed identity flow needs.
#[derive(Debug, Clone)]
pub struct ManagedIdentityOptions {
    /// Where to ask.
    pub endpoint: Endpoint,
    /// Which identity.
    pub identity: IdentitySelector,
    /// The resource (audience) of the token; the Azure Databricks application id by default.
    pub resource: String,
    /// Whole-request timeout of each request (connect: at most 2 s).
    pub timeout: Duration,
    /// The tenant to cache under (`organizations` when unknown).
    pub tenant: Tenant,
}

impl ManagedIdentityOptions {
    /// The system-assigned identity, for Azure Databricks, at the endpoint the environment names.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, ManagedIdentityError> {
        Ok(ManagedIdentityOptions {
            endpoint: Endpoint::from_env(var)?,
            identity: IdentitySelector::SystemAssigned,
            resource: DATABRICKS_RESOURCE.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            tenant: Tenant::organizations(),
        })
    }
}

/// The managed identity flow.
#[derive(Debug)]
pub struct ManagedIdentityFlow {
    options: ManagedIdentityOptions,
    app: AppConfig,
}

impl ManagedIdentityFlow {
    /// A flow with these options.
    pub fn new(options: ManagedIdentityOptions) -> Result<Self, ManagedIdentityError> {
        let authority = options.endpoint.authority(options.tenant.clone())?;
        let scopes: Scopes = format!("{}/.default", options.resource.trim_end_matches('/')).parse()?;
        let app = AppConfig { authority, client_id: options.identity.cache_client_id()?, scopes };
        Ok(ManagedIdentityFlow { options, app })
    }

    /// Build from profile settings (see the crate docs for the keys).
    pub fn from_settings(s: &dyn Settings) -> Result<Self, ConfigError> {
        Self::from_settings_env(s, |k| std::env::var(k).ok())
    }

    /// Like [`ManagedIdentityFlow::from_settings`], reading variables through `var` (for tests).
    pub fn from_settings_env(s: &dyn Settings, var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let endpoint = match s.get("imds_endpoint") {
            Some(e) => Endpoint::Imds(endpoint_url(e).map_err(|m| s.invalid("imds_endpoint", m))?),
            None => Endpoint::from_env(var)
                .map_err(|m| ConfigError::new(s.profile_name(), "imds_endpoint", m.to_string()))?,
        };
        let given: Vec<(&str, &str)> = ["msi_client_id", "msi_object_id", "msi_res_id"]
            .into_iter()
            .filter_map(|k| s.get(k).map(|v| (k, v.trim())))
            .collect();
        let identity = match given.as_slice() {
            [] => IdentitySelector::SystemAssigned,
            [("msi_client_id", _)] => IdentitySelector::ClientId(s.parse_required("msi_client_id")?),
            [("msi_object_id", v)] => {
                let lower = v.to_ascii_lowercase();
                if !is_guid(&lower) {
                    return Err(s.invalid("msi_object_id", format!("`{v}` is not an object id (a GUID)")));
                }
                IdentitySelector::ObjectId(lower)
            }
            [("msi_res_id", v)] => {
                if !v.to_ascii_lowercase().starts_with("/subscriptions/") {
                    return Err(s.invalid(
                        "msi_res_id",
                        format!(
                            "`{v}` is not a resource id: expected /subscriptions/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/NAME"
                        ),
                    ));
                }
                IdentitySelector::ResourceId((*v).to_owned())
            }
            more => {
                let names: Vec<&str> = more.iter().map(|(k, _)| *k).collect();
                return Err(s.invalid(
                    names[1],
                    format!("set at most one of {}: each names a different identity", names.join(", ")),
                ));
            }
        };
        let resource = match s.parse::<Scopes>("scopes")? {
            None => DATABRICKS_RESOURCE.to_owned(),
            Some(scopes) => {
                let all: Vec<&str> = scopes.iter().collect();
                match all.as_slice() {
                    [one] => one.strip_suffix("/.default").unwrap_or(one).to_owned(),
                    _ => {
                        return Err(s.invalid("scopes", "a managed identity token is for one resource: give one scope"));
                    }
                }
            }
        };
        let timeout = match s.get("imds_timeout") {
            None => DEFAULT_TIMEOUT,
            Some(v) => match v.parse::<Seconds>() {
                Ok(Seconds(t)) if t <= MAX_TIMEOUT => t,
                _ => {
                    return Err(
                        s.invalid("imds_timeout", format!("`{v}` is not a number of seconds between 1 and 300"))
                    );
                }
            },
        };
        let tenant = s.parse("tenant_id")?.unwrap_or_else(Tenant::organizations);
        let options = ManagedIdentityOptions { endpoint, identity, resource, timeout, tenant };
        ManagedIdentityFlow::new(options).map_err(|e| s.invalid("imds_endpoint", e))
    }

    /// The options in force.
    pub fn options(&self) -> &ManagedIdentityOptions {
        &self.options
    }

    fn request(&self, http: &reqwest::Client) -> reqwest::RequestBuilder {
        let o = &self.options;
        let app_service = matches!(o.endpoint, Endpoint::AppService { .. });
        let mut url = o.endpoint.token_url();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("api-version", if app_service { APP_SERVICE_API_VERSION } else { IMDS_API_VERSION });
            q.append_pair("resource", &o.resource);
            if let Some((k, v)) = o.identity.query(app_service) {
                q.append_pair(k, v);
            }
        }
        let req = http.get(url).header("Accept", "application/json");
        match &o.endpoint {
            Endpoint::Imds(_) => req.header("Metadata", "true"),
            Endpoint::AppService { header, .. } => req.header("X-IDENTITY-HEADER", header.expose_secret()),
        }
    }

    async fn fetch(&self, client: &TokenClient) -> Result<TokenResponse, AuthError> {
        let o = &self.options;
        let url = o.endpoint.token_url();
        let shown = strip(&url);
        let http = client
            .config()
            .builder()?
            .connect_timeout(CONNECT_TIMEOUT.min(o.timeout))
            .timeout(o.timeout)
            .no_proxy()
            .build()
            .map_err(|e| AuthError::Io(format!("cannot set up HTTP client: {e}")))?;
        let text = match &o.endpoint {
            Endpoint::AppService { header, .. } => ServerText::new([header.expose_secret()]),
            Endpoint::Imds(_) => ServerText::default(),
        };
        // The first request is a probe: no answer at all means no managed identity here, said at
        // once. Once the endpoint has answered, connection errors are retried too.
        let answered = std::sync::atomic::AtomicBool::new(false);
        let (outcome, gave_up) = retry::run(
            client.policy(),
            client.observer(),
            &shown,
            |n| {
                let (http, text, shown, answered) = (&http, &text, &shown, &answered);
                async move {
                    match self.request(http).send().await {
                        Ok(resp) => {
                            answered.store(true, std::sync::atomic::Ordering::Relaxed);
                            Answer::read(resp, TOKEN_BODY_LIMIT, text.clone()).await
                        }
                        Err(e) => {
                            let mut f = Failure::from_reqwest(shown, &e, "");
                            if n == 1 {
                                f.kind = None;
                            }
                            Err(f)
                        }
                    }
                }
            },
            classify(BUSY),
        )
        .await;
        match (outcome, gave_up) {
            (Ok(a), None) if a.is_success() => a.token_response(),
            (Ok(a), None) => Err(self.error(&a)),
            (Ok(a), Some(g)) => Err(exhausted(g, Some(a.status), self.error(&a))),
            (Err(f), _) if !answered.load(std::sync::atomic::Ordering::Relaxed) => {
                let why = if f.message.starts_with("timed out") { "timed out".to_owned() } else { f.message };
                Err(AuthError::Io(format!(
                    "no managed identity endpoint answered at {shown} ({why}): not running on Azure? \
                     (set `imds_endpoint` or BRICKAUTH_IMDS_ENDPOINT if the endpoint is elsewhere)"
                )))
            }
            (Err(f), None) => Err(f.into_auth()),
            (Err(f), Some(g)) => Err(exhausted(g, None, f.into_auth())),
        }
    }

    /// An error answer: IMDS sends `{error, error_description}`, App Service `{statusCode, message}`.
    fn error(&self, answer: &Answer) -> AuthError {
        let (url, status) = (&answer.url, answer.status);
        let asked = self.options.identity.describe();
        let mut e = match EntraError::parse_with(status, &answer.body, &answer.text) {
            Some(e) => e,
            None => {
                let message = serde_json::from_slice::<serde_json::Value>(&answer.body)
                    .ok()
                    .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(|m| answer.text.clean(m)));
                match message {
                    Some(m) => EntraError {
                        status,
                        error: if status == 401 { "unauthorized_client".into() } else { "invalid_request".into() },
                        error_description: Some(m),
                        ..EntraError::default()
                    },
                    None => return AuthError::Status { url: url.to_owned(), status, body: answer.snippet() },
                }
            }
        };
        let desc = e.error_description.take().unwrap_or_default();
        e.error_description = Some(format!("managed identity endpoint {url}: {desc} (asked for {asked})"));
        AuthError::Entra(Box::new(e))
    }
}

impl GrantFlow for ManagedIdentityFlow {
    fn app(&self) -> &AppConfig {
        &self.app
    }

    fn acquire<'a>(&'a self, cx: &'a FlowContext<'a>) -> BoxFuture<'a, Result<TokenResponse, AuthError>> {
        Box::pin(async move {
            let o = &self.options;
            tracing::info!(endpoint = %strip(&o.endpoint.token_url()), identity = %o.identity.describe(), "managed identity");
            self.fetch(cx.client).await
        })
    }
}

/// The identity tokens of this profile are cached under, from its settings alone (no secret,
/// no I/O; see the crate docs for what it contains).
pub fn app_config(s: &dyn Settings) -> Result<AppConfig, ConfigError> {
    Ok(ManagedIdentityFlow::from_settings(s)?.app)
}

/// The keys this flow reads, on top of the common ones (`client_id` and `tenant_id` are not needed).
pub const KEYS: &[KeySpec] = &[
    KeySpec::optional("msi_client_id", "user-assigned identity: its client id (at most one msi_* key)"),
    KeySpec::optional("msi_object_id", "user-assigned identity: its object (principal) id"),
    KeySpec::optional("msi_res_id", "user-assigned identity: its ARM resource id"),
    KeySpec::optional("imds_endpoint", "IMDS base URL (default http://169.254.169.254; also BRICKAUTH_IMDS_ENDPOINT)"),
    KeySpec::optional("imds_timeout", "seconds allowed per request (default 5; connect at most 2)"),
];

fn build(s: &dyn Settings) -> Result<Box<dyn GrantFlow>, ConfigError> {
    Ok(Box::new(ManagedIdentityFlow::from_settings(s)?))
}

brickauth_core::register_flow! {
    FlowSpec {
        name: "managed-identity",
        aliases: &["msi"],
        summary: "Azure managed identity (VM IMDS, App Service, Functions, Container Apps): no secret",
        interactive: false,
        keys: KEYS,
        env: &[],
        databricks: brickauth_core::flow::DatabricksAuth {
            auth_types: &["azure-msi"],
            detect: &["azure_use_msi"],
            fallback: false,
            keys: &[("azure_client_id", "msi_client_id")],
        },
        app: app_config,
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickauth_core::MapSettings;
    use brickauth_mock::{Failure, MockIdentity, MockImds};

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn settings(imds: &MockImds) -> MapSettings {
        MapSettings::new("vm").with("flow", "msi").with("imds_endpoint", imds.uri())
    }

    async fn acquire(flow: &ManagedIdentityFlow) -> Result<TokenResponse, AuthError> {
        brickauth_core::flow::acquire_unattended(flow).await
    }

    #[test]
    fn registered_under_its_names() {
        for n in ["managed-identity", "msi", "MANAGED_IDENTITY"] {
            assert_eq!(brickauth_core::flow::find(n).map(|s| s.name), Ok("managed-identity"));
        }
    }

    #[tokio::test]
    async fn system_assigned_from_imds() {
        let imds = MockImds::start().await;
        let flow = ManagedIdentityFlow::from_settings_env(&settings(&imds), no_env).unwrap();
        let token = acquire(&flow).await.unwrap();
        assert_eq!(imds.issued_access_tokens(), [token.access_token.expose().to_owned()]);
        assert!(token.access_token.remaining(brickauth_core::now()) > 80_000);
        let req = imds.requests().pop().unwrap();
        assert_eq!(req.path, "/metadata/identity/oauth2/token");
        assert_eq!(req.headers.get("metadata").map(String::as_str), Some("true"));
        assert_eq!(req.query.get("api-version").map(String::as_str), Some("2018-02-01"));
        assert_eq!(req.query.get("resource").map(String::as_str), Some(DATABRICKS_RESOURCE));
        assert!(!req.query.contains_key("client_id"));
        assert_eq!(flow.app().client_id.as_str(), SYSTEM_ASSIGNED_ID);
        assert_eq!(flow.app().authority.environment(), imds.uri().trim_start_matches("http://"));
    }

    #[tokio::test]
    async fn user_assigned_by_each_selector() {
        let imds = MockImds::start().await;
        let ua = MockIdentity::user_assigned();
        let res = ua.resource_id.clone().unwrap_or_default();
        let cases = [
            ("msi_client_id", ua.client_id.as_str(), "client_id"),
            ("msi_object_id", &ua.object_id, "object_id"),
            ("msi_res_id", &res, "msi_res_id"),
        ];
        let mut ids = Vec::new();
        for (key, value, param) in cases {
            let flow = ManagedIdentityFlow::from_settings_env(&settings(&imds).with(key, value), no_env).unwrap();
            acquire(&flow).await.unwrap();
            let req = imds.requests().pop().unwrap();
            assert_eq!(req.query.get(param).map(String::as_str), Some(value), "{key}");
            ids.push(flow.app().client_id.clone());
        }
        assert_eq!(ids[0].as_str(), ua.client_id);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 3, "each selector is its own cache identity");
    }

    #[tokio::test]
    async fn unknown_identity_is_shown() {
        let imds = MockImds::start().await;
        let s = settings(&imds).with("msi_client_id", "00000000-0000-0000-0000-000000000009");
        let err = acquire(&ManagedIdentityFlow::from_settings_env(&s, no_env).unwrap()).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("Identity not found") && text.contains("00000000-0000-0000-0000-000000000009"), "{text}");
    }

    #[tokio::test]
    async fn app_service_from_the_environment() {
        let imds = MockImds::start().await;
        let (url, header) = (imds.app_service_endpoint(), imds.identity_header());
        let env = move |k: &str| match k {
            "IDENTITY_ENDPOINT" => Some(url.clone()),
            "IDENTITY_HEADER" => Some(header.clone()),
            _ => None,
        };
        let flow = ManagedIdentityFlow::from_settings_env(&MapSettings::new("app").with("flow", "msi"), env).unwrap();
        assert!(!format!("{flow:?}").contains(&imds.identity_header()));
        acquire(&flow).await.unwrap();
        let req = imds.requests().pop().unwrap();
        assert_eq!(req.path, "/msi/token");
        assert_eq!(req.query.get("api-version").map(String::as_str), Some("2019-08-01"));
    }

    #[tokio::test]
    async fn retries_busy_answers() {
        let imds = MockImds::start().await;
        imds.fail_next(vec![Failure::too_many_requests("0"), Failure::unavailable()]);
        let flow = ManagedIdentityFlow::from_settings_env(&settings(&imds), no_env).unwrap();
        acquire(&flow).await.unwrap();
        assert_eq!(imds.request_count(), 3);
    }

    #[tokio::test]
    async fn nothing_listening_means_not_on_azure() {
        // A loopback port that was just free: connection refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap();
        let s = MapSettings::new("vm").with("imds_endpoint", format!("http://127.0.0.1:{port}"));
        let flow = ManagedIdentityFlow::from_settings_env(&s, no_env).unwrap();
        let started = std::time::Instant::now();
        let err = acquire(&flow).await.unwrap_err();
        assert!(err.to_string().contains("not running on Azure?"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn endpoint_choice_and_config_errors() {
        let app = |k: &str| match k {
            "IDENTITY_ENDPOINT" => Some("http://127.0.0.1:41741/msi/token".to_owned()),
            "IDENTITY_HEADER" => Some("h".to_owned()),
            _ => None,
        };
        assert!(matches!(Endpoint::from_env(app).unwrap(), Endpoint::AppService { .. }));
        let both =
            |k: &str| if k == "BRICKAUTH_IMDS_ENDPOINT" { Some("http://127.0.0.1:9".to_owned()) } else { app(k) };
        assert!(matches!(Endpoint::from_env(both).unwrap(), Endpoint::Imds(_)));
        let Endpoint::Imds(default) = Endpoint::from_env(no_env).unwrap() else { panic!("expected IMDS") };
        assert_eq!(default.as_str(), "http://169.254.169.254/");
        // The real IMDS is cached under an https authority on its address (never contacted).
        let f = ManagedIdentityFlow::new(ManagedIdentityOptions::from_env(no_env).unwrap()).unwrap();
        assert_eq!(f.app().authority.environment(), "169.254.169.254");

        let base = || MapSettings::new("p").with("imds_endpoint", "http://127.0.0.1:9");
        let two = base().with("msi_client_id", SYSTEM_ASSIGNED_ID).with("msi_object_id", SYSTEM_ASSIGNED_ID);
        assert!(ManagedIdentityFlow::from_settings_env(&two, no_env).unwrap_err().message.contains("at most one"));
        let bad_res = base().with("msi_res_id", "id-etl");
        assert_eq!(
            ManagedIdentityFlow::from_settings_env(&bad_res, no_env).unwrap_err().key.as_deref(),
            Some("msi_res_id")
        );
        let bad_t = base().with("imds_timeout", "0");
        assert_eq!(
            ManagedIdentityFlow::from_settings_env(&bad_t, no_env).unwrap_err().key.as_deref(),
            Some("imds_timeout")
        );
        // Clear text only to loopback or the IMDS address (validated, never contacted).
        for ok in
            ["http://169.254.169.254", "http://localhost:42356/msi/token", "http://[::1]:1", "https://mi.example.net"]
        {
            assert!(endpoint_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://169.254.169.253",
            "http://10.0.0.4/metadata",
            "http://metadata.example.net",
            "http://u:p@127.0.0.1:1",
        ] {
            let s = base().with("imds_endpoint", bad);
            let e = ManagedIdentityFlow::from_settings_env(&s, no_env).unwrap_err();
            assert_eq!(e.key.as_deref(), Some("imds_endpoint"), "{bad}");
        }
        let env = |k: &str| (k == "BRICKAUTH_IMDS_ENDPOINT").then(|| "http://10.1.2.3".to_owned());
        assert!(Endpoint::from_env(env).unwrap_err().to_string().contains("BRICKAUTH_IMDS_ENDPOINT"));
        let two_scopes = base().with("scopes", "a/.default b/.default");
        assert_eq!(
            ManagedIdentityFlow::from_settings_env(&two_scopes, no_env).unwrap_err().key.as_deref(),
            Some("scopes")
        );
    }
}
