//! Validated identifiers and the authority: what a token request is addressed to.
//!
//! "Parse, don't validate": a [`Tenant`], [`ClientId`], [`Scopes`] or [`Authority`] cannot be
//! built invalid, so code that holds one never re-checks it.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use url::Url;

use std::sync::atomic::{AtomicBool, Ordering};

use crate::settings::{ConfigError, KeySpec, Settings};

/// Why a string is not a [`Tenant`], [`ClientId`], [`Scopes`] or [`Cloud`].
///
/// The message (`Display`) quotes the value and says what is expected; a caller adds which key
/// or variable it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// `common` or `consumers`: tenants Azure Databricks tokens cannot come from.
    #[error("`{0}` is not usable for Azure Databricks: use your tenant id (a GUID), its domain, or `organizations`")]
    UnusableTenant(String),
    /// Neither a GUID, a domain, nor `organizations`.
    #[error(
        "`{0}` is not a tenant: expected a GUID (the directory id), a verified domain such as contoso.onmicrosoft.com, or `organizations`"
    )]
    NotATenant(String),
    /// Not a GUID.
    #[error(
        "`{0}` is not a client id: expected the app registration's Application (client) ID, a GUID like 12a34b56-789c-0d12-e3fa-b456789c0123"
    )]
    NotAClientId(String),
    /// `openid`, `profile` or `offline_access` in a scope list: brickauth adds them itself.
    #[error("`{0}` is added by brickauth itself where a flow needs it; remove it from `scopes`")]
    OidcScope(String),
    /// An empty scope list.
    #[error("no scope given")]
    NoScope,
    /// Not a national cloud's name.
    #[error("unknown cloud `{0}`: expected `public`, `usgov` or `china`")]
    UnknownCloud(String),
    /// Not a GUID.
    #[error(
        "`{0}` is not a Databricks account id: expected a GUID like 0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6 (the account console shows it)"
    )]
    NotAnAccountId(String),
    /// Empty, too long, or holding a character a workspace id never has.
    #[error("`{0}` is not a workspace id: expected digits (the number after `?o=` in the workspace URL)")]
    NotAWorkspaceId(String),
}

/// Why a string is not a usable base URL (see [`secure_url`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The URL parser refused it.
    #[error("`{input}` is not a URL: {reason}")]
    NotAUrl {
        /// The text given.
        input: String,
        /// The parser's reason.
        reason: String,
    },
    /// A URL without a host (`mailto:`, `file:///`).
    #[error("`{0}` has no host")]
    NoHost(String),
    /// `http://` to anything but loopback.
    #[error(
        "`{0}` uses clear-text http: only https is allowed, except to loopback addresses (127.0.0.1, ::1, localhost)"
    )]
    ClearText(String),
    /// Neither https nor http.
    #[error("`{input}` has scheme `{scheme}`: expected https")]
    Scheme {
        /// The text given.
        input: String,
        /// Its scheme.
        scheme: String,
    },
}

/// The Azure Databricks application (resource) id, the same in every Azure cloud.
pub const DATABRICKS_RESOURCE: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d";
/// The default scope: every permission the app was granted on Azure Databricks.
pub const DATABRICKS_SCOPE: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default";

/// The developer sign-on client: the Azure CLI's first-party public client, pre-authorized for
/// Azure Databricks and Microsoft Graph in every tenant. The Azure Identity SDKs use it for
/// interactive browser and device-code credentials when no client id is configured; brickauth's
/// interactive flows do the same (their `client_id` key declares it as its default), so a first
/// token needs no app registration.
pub const DEVELOPER_SIGN_ON_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// `client_id` for a flow that signs a person in: optional, the developer sign-on client when
/// unset. An interactive flow lists it among its keys to need no app registration.
pub const SIGN_ON_CLIENT_ID_KEY: crate::KeySpec = crate::KeySpec::optional(
    "client_id",
    "your own app registration; without it the developer sign-on client, no registration needed",
)
.with_default(DEVELOPER_SIGN_ON_CLIENT_ID);

/// `tenant_id` for a flow that signs a person in: optional, the workspace's tenant (found from
/// `host` by the caller) or `organizations` without a host.
pub const SIGN_ON_TENANT_ID_KEY: crate::KeySpec = crate::KeySpec::optional(
    "tenant_id",
    "directory (tenant) id; without it the workspace's tenant (from host), else organizations",
)
.with_default("organizations");

/// Whether `s` is a GUID in its 8-4-4-4-12 hexadecimal form.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A directory (tenant): a GUID, a verified domain (`contoso.onmicrosoft.com`) or `organizations`.
///
/// `common` and `consumers` are refused: Azure Databricks tokens are for work accounts of one
/// tenant, and Entra rejects most grants there (AADSTS9001023, 50194).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tenant(String);

impl Tenant {
    /// `organizations`: any work or school account's tenant (the default when none is known).
    pub fn organizations() -> Tenant {
        Tenant("organizations".to_owned())
    }
    /// The tenant as it appears in the authority URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Tenant {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        let lower = s.to_ascii_lowercase();
        if is_guid(&lower) || lower == "organizations" {
            return Ok(Tenant(lower));
        }
        if lower == "common" || lower == "consumers" {
            return Err(ParseError::UnusableTenant(s.to_owned()));
        }
        let labels_ok = lower.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        if lower.contains('.') && labels_ok { Ok(Tenant(lower)) } else { Err(ParseError::NotATenant(s.to_owned())) }
    }
}

impl TryFrom<String> for Tenant {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        s.parse()
    }
}
impl From<Tenant> for String {
    fn from(t: Tenant) -> String {
        t.0
    }
}
impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An application (client) id: a GUID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    /// The id, lower-case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl FromStr for ClientId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let lower = s.trim().to_ascii_lowercase();
        if is_guid(&lower) { Ok(ClientId(lower)) } else { Err(ParseError::NotAClientId(s.to_owned())) }
    }
}
impl TryFrom<String> for ClientId {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        s.parse()
    }
}
impl From<ClientId> for String {
    fn from(c: ClientId) -> String {
        c.0
    }
}
impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Databricks account: the GUID `/api/2.0/accounts/{account_id}/…` paths and account hosts
/// (`https://accounts.azuredatabricks.net`) are about. Lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    /// The id, lower-case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl FromStr for AccountId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let lower = s.trim().to_ascii_lowercase();
        if is_guid(&lower) { Ok(AccountId(lower)) } else { Err(ParseError::NotAnAccountId(s.to_owned())) }
    }
}
impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A workspace as a unified host knows it (sent as `X-Databricks-Workspace-Id`): the Azure
/// workspace number (`?o=` of its URL). Other identifier formats the server may accept are
/// taken too, as long as they are at most 64 ASCII letters, digits, `-` or `_` (a header value
/// that cannot smuggle anything).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkspaceId(String);

impl WorkspaceId {
    /// The id as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl FromStr for WorkspaceId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let t = s.trim();
        let ok =
            !t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok { Ok(WorkspaceId(t.to_owned())) } else { Err(ParseError::NotAWorkspaceId(s.to_owned())) }
    }
}
impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Requested scopes: non-empty, without duplicates, sorted (so equal sets compare equal).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scopes(Vec<String>);

/// The scopes MSAL adds to user flows itself; a profile must not list them.
pub const OIDC_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

impl Scopes {
    /// The default: [`DATABRICKS_SCOPE`].
    pub fn databricks() -> Self {
        Scopes(vec![DATABRICKS_SCOPE.to_owned()])
    }
    /// The scopes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
    /// Space-joined, as the token endpoint takes them (client-credentials style, undecorated).
    pub fn joined(&self) -> String {
        self.0.join(" ")
    }
    /// Space-joined with `openid profile offline_access`, as MSAL sends them for user flows.
    pub fn decorated(&self) -> String {
        let mut all: Vec<&str> = self.iter().chain(OIDC_SCOPES).collect();
        all.sort_unstable();
        all.join(" ")
    }
}

impl FromStr for Scopes {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let mut v: Vec<String> =
            s.split(|c: char| c.is_whitespace() || c == ',').filter(|p| !p.is_empty()).map(str::to_owned).collect();
        if let Some(bad) = v.iter().find(|s| OIDC_SCOPES.contains(&s.as_str())) {
            return Err(ParseError::OidcScope(bad.clone()));
        }
        v.sort();
        v.dedup();
        if v.is_empty() {
            return Err(ParseError::NoScope);
        }
        Ok(Scopes(v))
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.joined())
    }
}

/// A national cloud: which Entra authority host to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cloud {
    /// Azure public cloud: `https://login.microsoftonline.com`.
    Public,
    /// Azure US Government: `https://login.microsoftonline.us`.
    UsGov,
    /// Azure China (21Vianet): `https://login.partner.microsoftonline.cn`.
    China,
}

impl Cloud {
    /// The cloud's Entra authority host.
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Public => "https://login.microsoftonline.com",
            Cloud::UsGov => "https://login.microsoftonline.us",
            Cloud::China => "https://login.partner.microsoftonline.cn",
        }
    }
    /// The scope of the cloud's Azure service-management endpoint, for the
    /// `X-Databricks-Azure-SP-Management-Token` header that lets a service principal that is not
    /// yet a workspace user be added on first use.
    pub fn management_scope(self) -> &'static str {
        match self {
            Cloud::Public => "https://management.core.windows.net//.default",
            Cloud::UsGov => "https://management.core.usgovcloudapi.net//.default",
            Cloud::China => "https://management.core.chinacloudapi.cn//.default",
        }
    }

    /// The cloud whose authority host this is (the current and the older China host alike).
    pub fn from_authority_host(host: &str) -> Option<Cloud> {
        let h = host.trim().trim_start_matches("https://").trim_end_matches('/').to_ascii_lowercase();
        match h.as_str() {
            "login.microsoftonline.com" | "login.windows.net" | "login.microsoft.com" => Some(Cloud::Public),
            "login.microsoftonline.us" | "login.usgovcloudapi.net" => Some(Cloud::UsGov),
            "login.partner.microsoftonline.cn" | "login.chinacloudapi.cn" => Some(Cloud::China),
            _ => None,
        }
    }

    /// The cloud a Databricks workspace host belongs to, from its domain.
    pub fn from_workspace_host(host: &str) -> Option<Cloud> {
        let h = host
            .trim()
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split(['/', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if h.ends_with(".azuredatabricks.net") {
            Some(Cloud::Public)
        } else if h.ends_with(".databricks.azure.us") {
            Some(Cloud::UsGov)
        } else if h.ends_with(".databricks.azure.cn") {
            Some(Cloud::China)
        } else {
            None
        }
    }
}

impl FromStr for Cloud {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "public" | "azurepublic" | "azurecloud" => Ok(Cloud::Public),
            "usgov" | "usgovernment" | "azureusgovernment" => Ok(Cloud::UsGov),
            "china" | "azurechina" | "azurechinacloud" => Ok(Cloud::China),
            other => Err(ParseError::UnknownCloud(other.to_owned())),
        }
    }
}

/// Whether a URL host is a loopback address (`127.0.0.0/8`, `::1`, `localhost`).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}

/// Parse a base URL that must be `https://`, or `http://` to a loopback address.
pub fn secure_url(s: &str) -> Result<Url, UrlError> {
    let s = s.trim();
    let url = Url::parse(s).map_err(|e| UrlError::NotAUrl { input: s.to_owned(), reason: e.to_string() })?;
    if url.host().is_none() {
        return Err(UrlError::NoHost(s.to_owned()));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(UrlError::ClearText(s.to_owned())),
        other => Err(UrlError::Scheme { input: s.to_owned(), scheme: other.to_owned() }),
    }
}

/// An Entra authority: host and tenant, from which the v2.0 endpoints derive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Authority {
    host: Url,
    tenant: Tenant,
}

impl Authority {
    /// An authority on `host` (`https://…`, or `http://` to loopback) for `tenant`.
    pub fn new(host: &str, tenant: Tenant) -> Result<Self, UrlError> {
        let mut host = secure_url(host)?;
        host.set_path("");
        host.set_query(None);
        host.set_fragment(None);
        Ok(Authority { host, tenant })
    }
    /// The authority of a national cloud.
    pub fn cloud(cloud: Cloud, tenant: Tenant) -> Self {
        // The cloud hosts are constants known to parse.
        let host = Url::parse(cloud.authority_host()).expect("cloud authority hosts are valid URLs");
        Authority { host, tenant }
    }
    /// The authority host, e.g. `https://login.microsoftonline.com` (no trailing slash).
    pub fn host(&self) -> &str {
        self.host.as_str().trim_end_matches('/')
    }
    /// The host name alone (`login.microsoftonline.com`, or `127.0.0.1:8400` for a mock): the
    /// "environment" of MSAL's cache keys.
    pub fn environment(&self) -> String {
        let h = self.host.host_str().unwrap_or_default();
        match self.host.port() {
            Some(p) => format!("{h}:{p}"),
            None => h.to_owned(),
        }
    }
    /// The tenant.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }
    fn endpoint(&self, tail: &str) -> Url {
        let mut u = self.host.clone();
        u.set_path(&format!("{}/oauth2/v2.0/{tail}", self.tenant));
        u
    }
    /// `{host}/{tenant}/oauth2/v2.0/token`.
    pub fn token_endpoint(&self) -> Url {
        self.endpoint("token")
    }
    /// `{host}/{tenant}/oauth2/v2.0/authorize`.
    pub fn authorize_endpoint(&self) -> Url {
        self.endpoint("authorize")
    }
    /// `{host}/{tenant}/oauth2/v2.0/devicecode`.
    pub fn device_code_endpoint(&self) -> Url {
        self.endpoint("devicecode")
    }
}

/// What every Entra flow needs: authority, client id and scopes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppConfig {
    /// Where tokens come from.
    pub authority: Authority,
    /// The app registration.
    pub client_id: ClientId,
    /// What the token is for (default: Azure Databricks).
    pub scopes: Scopes,
}

impl AppConfig {
    /// An app config for the public cloud and the Databricks scope.
    pub fn new(tenant: Tenant, client_id: ClientId) -> Self {
        AppConfig { authority: Authority::cloud(Cloud::Public, tenant), client_id, scopes: Scopes::databricks() }
    }

    /// Read `tenant_id`, `client_id`, `scopes`, `authority_host` / `cloud` / `host` from settings.
    ///
    /// `authority_host` wins over `cloud`, which wins over the cloud of the workspace `host`'s
    /// domain; the default is the public cloud. `tenant_id` and `client_id` are required: a flow
    /// that has defaults for them declares them and reads through [`AppConfig::from_settings_with`].
    pub fn from_settings(s: &dyn Settings) -> Result<Self, ConfigError> {
        AppConfig::from_settings_with(s, &[])
    }

    /// As [`AppConfig::from_settings`], with the defaults `keys` declare (a flow's
    /// [`FlowSpec::keys`](crate::FlowSpec::keys)) for keys that are not set — see
    /// [`AppConfig::default_value`] for when one applies. Using the default client id is said
    /// once per process at `info` level.
    ///
    /// ```
    /// use brickauth_core::{AppConfig, KeySpec, MapSettings};
    /// use brickauth_core::app::DEVELOPER_SIGN_ON_CLIENT_ID;
    ///
    /// const KEYS: &[KeySpec] = &[
    ///     KeySpec::optional("client_id", "…").with_default(DEVELOPER_SIGN_ON_CLIENT_ID),
    ///     KeySpec::optional("tenant_id", "…").with_default("organizations"),
    /// ];
    /// let app = AppConfig::from_settings_with(&MapSettings::new("p"), KEYS).unwrap();
    /// assert_eq!((app.client_id.as_str(), app.authority.tenant().as_str()), (DEVELOPER_SIGN_ON_CLIENT_ID, "organizations"));
    /// ```
    pub fn from_settings_with(s: &dyn Settings, keys: &[KeySpec]) -> Result<Self, ConfigError> {
        let tenant: Tenant = required(s, keys, "tenant_id")?;
        let client_id: ClientId = required(s, keys, "client_id")?;
        if s.get("client_id").is_none() {
            static SAID: AtomicBool = AtomicBool::new(false);
            if !SAID.swap(true, Ordering::Relaxed) {
                tracing::info!(
                    "profile `{}` has no client_id: using the developer sign-on client {client_id} \
                     (the Azure CLI's public client, pre-authorized for Azure Databricks)",
                    s.profile_name()
                );
            }
        }
        let scopes = s.parse("scopes")?.unwrap_or_else(Scopes::databricks);
        let authority = if let Some(h) = s.get("authority_host") {
            Authority::new(h, tenant).map_err(|e| s.invalid("authority_host", e))?
        } else {
            let cloud = match s.parse("cloud")? {
                Some(c) => c,
                None => s.get("host").and_then(Cloud::from_workspace_host).unwrap_or(Cloud::Public),
            };
            Authority::cloud(cloud, tenant)
        };
        Ok(AppConfig { authority, client_id, scopes })
    }

    /// The default `keys` declare for `key` when `s` does not set it, if one applies.
    ///
    /// A default tenant applies only when there is no workspace `host`: with one, the tenant is
    /// the workspace's, which the caller finds from the host (`brickauth_databricks::discover_tenant`)
    /// and sets — until then `tenant_id` is missing.
    pub fn default_value(s: &dyn Settings, keys: &[KeySpec], key: &str) -> Option<&'static str> {
        if s.get(key).is_some() || (key == "tenant_id" && s.get("host").is_some_and(|h| !h.trim().is_empty())) {
            return None;
        }
        keys.iter().find(|k| k.name == key).and_then(|k| k.default)
    }
}

/// `key` parsed from `s`, else from its applicable default, else the missing-key error.
fn required<T>(s: &dyn Settings, keys: &[KeySpec], key: &str) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    match AppConfig::default_value(s, keys, key) {
        Some(default) => {
            default.parse().map_err(|e| ConfigError::new(s.profile_name(), key, format!("built-in default: {e}")))
        }
        // A default that the workspace `host` set aside: the tenant is the workspace's, for the
        // caller to find (the key is named, so a caller can tell this from any other error).
        None if s.get(key).is_none() && keys.iter().any(|k| k.name == key && k.default.is_some()) => {
            Err(ConfigError::new(
                s.profile_name(),
                key,
                format!(
                    "missing required key `{key}`: with a `host`, it is the workspace's tenant, found from the host"
                ),
            ))
        }
        None => s.parse_required(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::MapSettings;

    #[test]
    fn tenants() {
        assert!("72f988bf-86f1-41af-91ab-2d7cd011db47".parse::<Tenant>().is_ok());
        assert_eq!("Contoso.OnMicrosoft.com".parse::<Tenant>().unwrap().as_str(), "contoso.onmicrosoft.com");
        assert!("organizations".parse::<Tenant>().is_ok());
        assert!("common".parse::<Tenant>().unwrap_err().to_string().contains("not usable"));
        assert!("not a tenant".parse::<Tenant>().is_err());
        assert!("contoso".parse::<Tenant>().is_err());
        assert!("a/b.com".parse::<Tenant>().is_err());
    }

    #[test]
    fn account_and_workspace_ids() {
        let a = " 0D1E2F3A-4b5c-6d7e-8f90-a1b2c3d4e5f6 ".parse::<AccountId>().unwrap();
        assert_eq!(a.as_str(), "0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6");
        for bad in ["", "acme", "0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f", "0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f6"] {
            let e = bad.parse::<AccountId>().unwrap_err().to_string();
            assert!(e.contains("is not a Databricks account id"), "{bad}: {e}");
        }
        assert_eq!("1234567890123456".parse::<WorkspaceId>().unwrap().as_str(), "1234567890123456");
        for bad in ["", "12 34", "12\r\nX-Evil: 1", &"9".repeat(65)] {
            assert!(bad.parse::<WorkspaceId>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn client_ids() {
        assert!("04F0C124-f2bc-4f59-8241-bf6df9866bbd".parse::<ClientId>().is_ok());
        assert!("04f0c124-f2bc-4f59-8241-bf6df9866bb".parse::<ClientId>().is_err());
        assert!("zzzzzzzz-f2bc-4f59-8241-bf6df9866bbd".parse::<ClientId>().is_err());
    }

    #[test]
    fn scopes_are_sorted_and_decorated() {
        let s: Scopes = "b a, a".parse().unwrap();
        assert_eq!(s.joined(), "a b");
        assert_eq!(Scopes::databricks().decorated(), format!("{DATABRICKS_SCOPE} offline_access openid profile"));
        assert!("openid x".parse::<Scopes>().is_err());
        assert!("  ".parse::<Scopes>().is_err());
    }

    #[test]
    fn clear_text_only_to_loopback() {
        assert!(secure_url("http://127.0.0.1:8080").is_ok());
        assert!(secure_url("http://127.9.9.9").is_ok());
        assert!(secure_url("http://[::1]:9").is_ok());
        assert!(secure_url("http://localhost:9").is_ok());
        assert!(secure_url("http://login.example.com").unwrap_err().to_string().contains("clear-text"));
        assert!(secure_url("http://10.0.0.1").is_err());
        assert!(secure_url("ftp://x.com").is_err());
        assert!(secure_url("https://login.microsoftonline.com").is_ok());
    }

    #[test]
    fn management_scopes() {
        assert_eq!(Cloud::from_authority_host("https://login.microsoftonline.us/"), Some(Cloud::UsGov));
        assert_eq!(Cloud::from_authority_host("http://127.0.0.1:9"), None);
        assert_eq!(Cloud::China.management_scope(), "https://management.core.chinacloudapi.cn//.default");
    }

    #[test]
    fn endpoints() {
        let a = Authority::new("http://127.0.0.1:8400/", "organizations".parse().unwrap()).unwrap();
        assert_eq!(a.token_endpoint().as_str(), "http://127.0.0.1:8400/organizations/oauth2/v2.0/token");
        assert_eq!(a.environment(), "127.0.0.1:8400");
        assert_eq!(a.host(), "http://127.0.0.1:8400");
    }

    #[test]
    fn cloud_from_host() {
        let base = || {
            MapSettings::new("p")
                .with("tenant_id", "organizations")
                .with("client_id", "04f0c124-f2bc-4f59-8241-bf6df9866bbd")
        };
        let gov = AppConfig::from_settings(&base().with("host", "https://adb-1.2.databricks.azure.us/")).unwrap();
        assert_eq!(gov.authority.host(), "https://login.microsoftonline.us");
        let cn = AppConfig::from_settings(&base().with("host", "adb-1.2.databricks.azure.cn")).unwrap();
        assert_eq!(cn.authority.host(), "https://login.partner.microsoftonline.cn");
        let explicit =
            AppConfig::from_settings(&base().with("host", "adb-1.2.databricks.azure.cn").with("cloud", "public"))
                .unwrap();
        assert_eq!(explicit.authority.host(), "https://login.microsoftonline.com");
        let err = AppConfig::from_settings(&base().with("authority_host", "http://login.example.com")).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("authority_host"));
    }

    #[test]
    fn declared_defaults_fill_unset_keys() {
        const KEYS: &[KeySpec] = &[
            KeySpec::optional("client_id", "c").with_default(DEVELOPER_SIGN_ON_CLIENT_ID),
            KeySpec::optional("tenant_id", "t").with_default("organizations"),
        ];
        // Nothing set: the developer sign-on client at `organizations`.
        let none = AppConfig::from_settings_with(&MapSettings::new("p"), KEYS).unwrap();
        assert_eq!(none.client_id.as_str(), DEVELOPER_SIGN_ON_CLIENT_ID);
        assert_eq!(none.authority.tenant().as_str(), "organizations");
        // Set values win over defaults.
        let own = MapSettings::new("p").with("client_id", CLIENT).with("tenant_id", "contoso.onmicrosoft.com");
        let own = AppConfig::from_settings_with(&own, KEYS).unwrap();
        assert_eq!((own.client_id.as_str(), own.authority.tenant().as_str()), (CLIENT, "contoso.onmicrosoft.com"));
        // With a workspace host the tenant is the workspace's: missing until the caller sets it.
        let host = MapSettings::new("p").with("host", "https://adb-1.2.azuredatabricks.net");
        let err = AppConfig::from_settings_with(&host, KEYS).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("tenant_id"));
        assert!(err.message.contains("the workspace's tenant, found from the host"), "{err}");
        assert_eq!(AppConfig::default_value(&host, KEYS, "client_id"), Some(DEVELOPER_SIGN_ON_CLIENT_ID));
        assert_eq!(AppConfig::default_value(&host, KEYS, "tenant_id"), None);
        // Without declared defaults both keys stay required.
        let err = AppConfig::from_settings(&MapSettings::new("p").with("tenant_id", "organizations")).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("client_id"));
    }

    const CLIENT: &str = "04f0c124-f2bc-4f59-8241-bf6df9866bbd";

    #[test]
    fn errors_are_typed_and_say_what_is_expected() {
        assert_eq!("common".parse::<Tenant>(), Err(ParseError::UnusableTenant("common".into())));
        assert!(matches!("x".parse::<ClientId>(), Err(ParseError::NotAClientId(_))));
        assert_eq!(" ".parse::<Scopes>(), Err(ParseError::NoScope));
        assert_eq!("mars".parse::<Cloud>(), Err(ParseError::UnknownCloud("mars".into())));
        assert!(matches!(secure_url("ftp://x.com"), Err(UrlError::Scheme { scheme, .. }) if scheme == "ftp"));
        let settings = MapSettings::new("p").with("tenant_id", "organizations").with("client_id", "nope");
        let err = AppConfig::from_settings(&settings).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("client_id"));
        assert_eq!(err.origin.as_deref(), Some("set in code"));
        assert!(err.message.starts_with("`nope` is not a client id"), "{err}");
    }
}
