//! Reuse the Azure CLI's sign-in: read its MSAL token cache, or run `az account get-access-token`.
//!
//! Flow name `azure-cli`. Two ways to the same token, chosen by `azure_cli_mode`:
//!
//! - **cache** — what az does inside, without starting Python (~0.5–15 s a call): read az's
//!   config directory (`azure_cli_config_dir`, else `$AZURE_CONFIG_DIR`, else `~/.azure`; see
//!   [`files`]), pick the account ([`select`]: the profile's `username`, else az's default
//!   account), the tenant (the profile's `tenant_id`, else az's for that account, else the one the
//!   workspace `host` redirects to), and redeem the account's refresh token with the Azure CLI's
//!   own client id [`AZURE_CLI_CLIENT_ID`] for the Databricks scope at that tenant — the request
//!   `az account get-access-token --resource 2ff814a6-…` sends. The answer is cacheable: the
//!   caller stores the access token (never the rotated refresh token: az's files are az's, and
//!   are never written), so later calls cost a cache read. az's files are read again before every
//!   redemption, so a new `az login` is picked up and an `az logout` ends the tokens.
//! - **process** — run az (see the `process` module), as brickauth always did. az owns and
//!   refreshes these tokens, so they are not cacheable; within one process, repeated
//!   acquisitions reuse the answer while it has more than [`REUSE_MARGIN`] left.
//! - **auto** (the default) — cache when az's files allow it, else process, saying why at
//!   `-v`: no cache file, an encrypted cache, a service principal, no refresh token for the
//!   account, az's lock file stale or held for more than [`files::LOCK_WAIT`]. Where az could only fail too (nobody signed in, an unknown `username`, a refresh
//!   token Entra rejects), the error comes at once: exit 3, "run `az login`".
//!
//! [`GrantFlow::cacheable`] therefore answers for the token last acquired: `true` after a
//! redemption, `false` after running az.
//!
//! **Cache identity.** [`GrantFlow::app`]: the authority (`authority_host`, else `cloud`/`host`),
//! the tenant from `tenant_id` or `organizations` (settings alone: the cached path does no I/O),
//! the Azure CLI's client id and the resource's `.default` scope; the account is the one az
//! signed in.
//!
//! ```no_run
//! use brickauth_core::{FlowContext, GrantFlow, Interaction, TokenClient};
//! use brickauth_flow_azure_cli::{AzureCliFlow, AzureCliOptions};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let flow = AzureCliFlow::new(AzureCliOptions::default())?;
//! let client = TokenClient::new()?;
//! let token = flow.acquire(&FlowContext::new(&client, Interaction::NONE)).await?;
//! println!("expires at {}", token.access_token.expires_on);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
// Only the CLI prints; a library reports through types (tests may print).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod files;
mod process;
pub mod select;

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use brickauth_core::app::{DATABRICKS_RESOURCE, ParseError};
use brickauth_core::flow::{BoxFuture, FlowContext, FlowSpec, GrantFlow};
use brickauth_core::settings::{ConfigError, KeySpec, Settings};
use brickauth_core::{
    Account, AppConfig, AuthError, Authority, ClientId, Cloud, Scopes, Tenant, TokenClient, TokenResponse, grants,
};

pub use process::{local_to_epoch, parse_output};

/// The Azure CLI's public client id (its app registration in every tenant).
pub const AZURE_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
/// A token reused within the process must have at least this long left.
pub const REUSE_MARGIN: Duration = Duration::from_secs(120);
/// How long `az` may take (it refreshes through Entra when its own token is stale).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The program name looked up on `PATH`: `az`, or `az.cmd` on Windows.
pub fn default_program() -> PathBuf {
    PathBuf::from(if cfg!(windows) { "az.cmd" } else { "az" })
}

/// `azure_cli_mode`: how the flow gets az's token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Read az's token cache when it can, else run az.
    #[default]
    Auto,
    /// Read az's token cache only; never run az.
    Cache,
    /// Run `az account get-access-token` only.
    Process,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Mode::Auto),
            "cache" => Ok(Mode::Cache),
            "process" => Ok(Mode::Process),
            other => Err(format!("`{other}` is not a mode: expected `auto`, `cache` or `process`")),
        }
    }
}

/// What the Azure CLI flow needs.
#[derive(Debug, Clone)]
pub struct AzureCliOptions {
    /// Cache, process or both.
    pub mode: Mode,
    /// az's config directory; `None`: `$AZURE_CONFIG_DIR`, else `~/.azure`.
    pub config_dir: Option<PathBuf>,
    /// The account to use (case-insensitive); `None`: az's default account.
    pub username: Option<String>,
    /// The workspace URL, for tenant discovery when nothing else names the tenant.
    pub host: Option<String>,
    /// The authority host (`https://…`, or `http://` to loopback); `None`: the cloud's.
    pub authority_host: Option<String>,
    /// The `az` executable: a name looked up on `PATH`, or a path.
    pub program: PathBuf,
    /// `PATH` for the child process (and for looking `program` up); `None` inherits this process's.
    pub path: Option<OsString>,
    /// The resource to ask for (default: Azure Databricks).
    pub resource: String,
    /// The tenant, when the token must come from a tenant other than the account's.
    pub tenant: Option<Tenant>,
    /// How long `az` may take.
    pub timeout: Duration,
    /// The cloud, when `authority_host` is not set.
    pub cloud: Cloud,
}

impl Default for AzureCliOptions {
    fn default() -> Self {
        AzureCliOptions {
            mode: Mode::Auto,
            config_dir: None,
            username: None,
            host: None,
            authority_host: None,
            program: default_program(),
            path: None,
            resource: DATABRICKS_RESOURCE.to_owned(),
            tenant: None,
            timeout: DEFAULT_TIMEOUT,
            cloud: Cloud::Public,
        }
    }
}

/// The Azure CLI flow.
#[derive(Debug)]
pub struct AzureCliFlow {
    options: AzureCliOptions,
    app: AppConfig,
    /// Process mode's answer, reused within this process.
    reuse: tokio::sync::Mutex<Option<TokenResponse>>,
    /// Whether the last acquisition redeemed az's refresh token (see [`GrantFlow::cacheable`]).
    redeemed: AtomicBool,
}

impl AzureCliFlow {
    /// A flow with these options; fails when the resource is not a usable scope or the
    /// authority host is not a secure URL.
    pub fn new(options: AzureCliOptions) -> Result<Self, String> {
        let tenant = match &options.tenant {
            Some(t) => t.clone(),
            None => Tenant::organizations(),
        };
        let scopes: Scopes = format!("{}/.default", options.resource.trim_end_matches('/'))
            .parse()
            .map_err(|e: ParseError| e.to_string())?;
        let client_id: ClientId = AZURE_CLI_CLIENT_ID.parse().map_err(|e: ParseError| e.to_string())?;
        let authority = match &options.authority_host {
            Some(h) => Authority::new(h, tenant).map_err(|e| e.to_string())?,
            None => Authority::cloud(options.cloud, tenant),
        };
        let app = AppConfig { authority, client_id, scopes };
        Ok(AzureCliFlow { options, app, reuse: tokio::sync::Mutex::new(None), redeemed: AtomicBool::new(false) })
    }

    /// Build from profile settings: optional `azure_cli_mode`, `azure_cli_config_dir`,
    /// `username`, `tenant_id`, `authority_host`/`cloud`/`host`, `scopes` (one resource) and
    /// `azure_cli_path`.
    pub fn from_settings(s: &dyn Settings) -> Result<Self, ConfigError> {
        let nonempty = |key: &str| -> Result<Option<String>, ConfigError> {
            match s.get(key).map(str::trim) {
                Some("") => Err(s.invalid(key, "empty value")),
                Some(v) => Ok(Some(v.to_owned())),
                None => Ok(None),
            }
        };
        let tenant = s.parse::<Tenant>("tenant_id")?;
        let cloud = match s.parse::<Cloud>("cloud")? {
            Some(c) => c,
            None => s.get("host").and_then(Cloud::from_workspace_host).unwrap_or(Cloud::Public),
        };
        let resource = match s.parse::<Scopes>("scopes")? {
            None => DATABRICKS_RESOURCE.to_owned(),
            Some(scopes) => {
                let all: Vec<&str> = scopes.iter().collect();
                match all.as_slice() {
                    [one] => one.strip_suffix("/.default").unwrap_or(one).to_owned(),
                    _ => return Err(s.invalid("scopes", "az gives a token for one resource: give one scope")),
                }
            }
        };
        let mode = s.parse::<Mode>("azure_cli_mode")?.unwrap_or(Mode::Auto);
        let authority_host = nonempty("authority_host")?;
        if let Some(h) = &authority_host {
            brickauth_core::app::secure_url(h).map_err(|e| s.invalid("authority_host", e))?;
        }
        let options = AzureCliOptions {
            mode,
            config_dir: nonempty("azure_cli_config_dir")?
                .map(|d| brickauth_core::paths::expand_tilde(std::path::Path::new(&d))),
            username: nonempty("username")?,
            host: nonempty("host")?,
            authority_host,
            program: nonempty("azure_cli_path")?.map(PathBuf::from).unwrap_or_else(default_program),
            resource,
            tenant,
            cloud,
            ..AzureCliOptions::default()
        };
        AzureCliFlow::new(options).map_err(|e| s.invalid("scopes", e))
    }

    /// The options the flow was built with.
    pub fn options(&self) -> &AzureCliOptions {
        &self.options
    }

    /// The arguments `az` is run with in process mode (never a secret).
    pub fn args(&self) -> Vec<String> {
        process::args_for(&self.options)
    }

    /// Process mode, with the answer reused within this process.
    async fn run_az(&self) -> Result<TokenResponse, AuthError> {
        // Held across the run: concurrent acquisitions in this process run az once.
        let mut reuse = self.reuse.lock().await;
        let margin = i64::try_from(REUSE_MARGIN.as_secs()).unwrap_or(i64::MAX);
        if let Some(t) = reuse.as_ref().filter(|t| t.access_token.remaining(brickauth_core::now()) > margin) {
            tracing::debug!("reusing the Azure CLI's token from earlier in this process");
            return Ok(t.clone());
        }
        let token = process::run(&self.options).await?;
        *reuse = Some(token.clone());
        Ok(token)
    }

    /// Cache mode: read az's files (no lock held afterwards), then redeem the refresh token.
    async fn redeem(&self, client: &TokenClient) -> Result<Result<TokenResponse, select::Unusable>, AuthError> {
        let dir = self.options.config_dir.clone().or_else(files::default_config_dir).ok_or_else(|| {
            AuthError::Io(format!(
                "cannot find the Azure CLI's directory: set AZURE_CONFIG_DIR, {} or azure_cli_config_dir",
                brickauth_core::paths::HOME_VARIABLE
            ))
        })?;
        let state = match files::AzState::read(&dir) {
            Ok(state) => state,
            Err(e @ files::ReadError::Locked { .. }) => return Ok(Err(select::Unusable::Locked(e.to_string()))),
            Err(e) => return Err(AuthError::Io(e.to_string())),
        };
        let environment = self.app.authority.environment();
        let host_only = environment.rsplit_once(':').map_or(environment.as_str(), |(h, _)| h);
        let choice = match select::choose(&state, self.options.username.as_deref(), host_only) {
            Ok(c) => c,
            Err(why) => return Ok(Err(why)),
        };
        let username = choice.account.username.clone().unwrap_or_default();
        let tenant: Tenant = match (&self.options.tenant, &choice.tenant) {
            (Some(t), _) => t.clone(),
            (None, Some(t)) => t.parse().map_err(|e| {
                AuthError::Io(format!("the Azure CLI's tenant `{t}` for `{username}` in {}: {e}", dir.display()))
            })?,
            (None, None) => self.discover_tenant(client).await?,
        };
        let app = AppConfig {
            authority: Authority::new(self.app.authority.host(), tenant.clone())
                .map_err(|e| AuthError::Io(e.to_string()))?,
            ..self.app.clone()
        };
        tracing::info!(
            account = %username,
            tenant = %tenant,
            dir = %dir.display(),
            "redeeming the Azure CLI's refresh token (no az process)"
        );
        let mut response = grants::refresh(client, &app, &choice.refresh_token).await.map_err(|e| {
            let needs_user = e.is_invalid_grant() || e.entra().is_some_and(|x| x.error == "interaction_required");
            if needs_user {
                let why = e.entra().map(|x| x.summary().to_owned()).unwrap_or_else(|| e.to_string());
                AuthError::NeedsUser(format!(
                    "the Azure CLI's sign-in for `{username}` was refused ({why}): run `az login`, then try again"
                ))
            } else {
                e
            }
        })?;
        // The rotated refresh token is not az's to lose, nor ours to keep: az's files are never
        // written, and the next redemption reads them again.
        response.refresh_token = None;
        response.account = merge_account(response.account, &choice.account, tenant.as_str());
        Ok(Ok(response))
    }

    /// The tenant the workspace `host` redirects `/aad/auth` to (the Databricks SDKs' discovery).
    async fn discover_tenant(&self, client: &TokenClient) -> Result<Tenant, AuthError> {
        let Some(host) = &self.options.host else {
            return Err(AuthError::Io(
                "the Azure CLI names no tenant for the account and the profile has no `tenant_id` or `host`: set `tenant_id`".into(),
            ));
        };
        let base = if host.contains("://") {
            host.trim_end_matches('/').to_owned()
        } else {
            format!("https://{}", host.trim_end_matches('/'))
        };
        let url = format!("{base}/aad/auth");
        let resp = client.http()?.get(&url).send().await.map_err(|e| AuthError::Transport {
            url: url.clone(),
            message: brickauth_core::http::transport_message(&e),
        })?;
        let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let tenant = url::Url::parse(location)
            .ok()
            .and_then(|u| u.path_segments().and_then(|mut s| s.next().map(str::to_owned)))
            .unwrap_or_default();
        let tenant: Tenant = tenant.parse().map_err(|e| {
            AuthError::Io(format!(
                "finding the workspace's tenant from {url} failed (HTTP {}): {e}",
                resp.status().as_u16()
            ))
        })?;
        tracing::info!(%tenant, "tenant discovered from {url}");
        Ok(tenant)
    }
}

/// The account of a redemption: what az's cache says, completed by the answer's claims.
fn merge_account(answer: Account, az: &files::MsalAccount, tenant: &str) -> Account {
    Account {
        home_account_id: Some(az.home_account_id.clone()).filter(|h| !h.is_empty()).or(answer.home_account_id),
        username: az.username.clone().or(answer.username),
        tenant_id: answer.tenant_id.or_else(|| Some(tenant.to_owned())),
        oid: answer.oid.or_else(|| az.local_account_id.clone()),
    }
}

impl GrantFlow for AzureCliFlow {
    fn app(&self) -> &AppConfig {
        &self.app
    }

    /// What decides the account is az's sign-in on disk: a stamp of its two files (device,
    /// inode, size, modification time), two `stat`s. Any `az login`, `az logout` or `az account
    /// set` rewrites them, so the next call does not serve the cached token of the sign-in before
    /// but reads az's files again and redeems what az holds now (or refuses after a logout).
    /// Process mode's tokens are never cached, so it has nothing to stamp.
    fn account_credential(&self) -> Option<brickauth_core::SecretString> {
        if self.options.mode == Mode::Process {
            return None;
        }
        let dir = self.options.config_dir.clone().or_else(files::default_config_dir)?;
        files::sign_in_stamp(&dir).map(brickauth_core::SecretString::from)
    }

    /// Whether the token last acquired came from a redemption (cacheable) rather than from az.
    fn cacheable(&self) -> bool {
        self.redeemed.load(Ordering::Acquire)
    }

    fn acquire<'a>(&'a self, cx: &'a FlowContext<'a>) -> BoxFuture<'a, Result<TokenResponse, AuthError>> {
        Box::pin(async move {
            self.redeemed.store(false, Ordering::Release);
            if self.options.mode == Mode::Process {
                return self.run_az().await;
            }
            match self.redeem(cx.client).await? {
                Ok(token) => {
                    self.redeemed.store(true, Ordering::Release);
                    Ok(token)
                }
                Err(why) if self.options.mode == Mode::Auto && why.falls_back() => {
                    tracing::info!(
                        "not using the Azure CLI's token cache: {why}; running `az account get-access-token`"
                    );
                    self.run_az().await
                }
                Err(why) if why.falls_back() => Err(AuthError::NeedsUser(format!(
                    "azure_cli_mode = \"cache\": {why} (set azure_cli_mode = \"auto\" to run az instead)"
                ))),
                Err(why) => Err(AuthError::NeedsUser(why.to_string())),
            }
        })
    }
}

/// The identity tokens of this profile are cached under, from its settings alone (no secret,
/// no I/O; see the crate docs for what it contains).
pub fn app_config(s: &dyn Settings) -> Result<AppConfig, ConfigError> {
    Ok(AzureCliFlow::from_settings(s)?.app)
}

/// The keys this flow reads, on top of the common ones (`tenant_id`: the tenant to ask; az's
/// account's tenant when unset).
pub const KEYS: &[KeySpec] = &[
    KeySpec::optional(
        "azure_cli_mode",
        "`auto` (default: read az's token cache, else run az), `cache` (never run az) or `process` (always run az)",
    ),
    KeySpec::optional("azure_cli_config_dir", "az's config directory (default: $AZURE_CONFIG_DIR, else ~/.azure)"),
    KeySpec::optional("username", "which of az's signed-in accounts to use (default: az's default account)"),
    KeySpec::optional("azure_cli_path", "the az executable (default: `az`, `az.cmd` on Windows, on PATH)"),
];

fn build(s: &dyn Settings) -> Result<Box<dyn GrantFlow>, ConfigError> {
    Ok(Box::new(AzureCliFlow::from_settings(s)?))
}

brickauth_core::register_flow! {
    FlowSpec {
        name: "azure-cli",
        aliases: &[],
        summary: "reuse the Azure CLI's sign-in (`az login` first): its token cache read directly, else `az account get-access-token`",
        interactive: false,
        keys: KEYS,
        env: &[],
        databricks: brickauth_core::flow::DatabricksAuth { auth_types: &["azure-cli"], detect: &[], fallback: true, keys: &[] },
        app: app_config,
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::az_failure;
    use brickauth_core::MapSettings;
    use jiff::tz::TimeZone;

    #[test]
    fn registered_under_its_name() {
        assert_eq!(brickauth_core::flow::find("AZURE_CLI").map(|s| s.name), Ok("azure-cli"));
    }

    #[test]
    fn epoch_wins_over_local_time() {
        let now = 1_714_567_000;
        let both = br#"{"accessToken":"a.b.c","expiresOn":"2024-05-01 13:50:47.114324","expires_on":1714571447,"tokenType":"Bearer"}"#;
        let t = parse_output(both, now, &TimeZone::fixed(jiff::tz::offset(9))).unwrap();
        assert_eq!(t.access_token.expires_on, 1_714_571_447);
        let local = br#"{"accessToken":"a.b.c","expiresOn":"2024-05-01 15:50:47.114324","tokenType":"Bearer"}"#;
        let t = parse_output(local, now, &TimeZone::fixed(jiff::tz::offset(2))).unwrap();
        assert_eq!(t.access_token.expires_on, 1_714_571_447);
        assert!(parse_output(b"not json", now, &TimeZone::UTC).is_err());
        let err = parse_output(br#"{"accessToken":"secret-token-text","expiresOn":"soon"}"#, now, &TimeZone::UTC);
        assert!(!err.unwrap_err().to_string().contains("secret-token-text"));
    }

    #[test]
    fn args_carry_no_secret_and_the_tenant_when_set() {
        let plain = AzureCliFlow::from_settings(&MapSettings::new("p")).unwrap();
        assert_eq!(
            plain.args().join(" "),
            format!("account get-access-token --resource {DATABRICKS_RESOURCE} -o json")
        );
        let t =
            AzureCliFlow::from_settings(&MapSettings::new("p").with("tenant_id", "contoso.onmicrosoft.com")).unwrap();
        assert!(t.args().join(" ").ends_with("--tenant contoso.onmicrosoft.com"));
        assert_eq!(t.app().client_id.as_str(), AZURE_CLI_CLIENT_ID);
    }

    #[test]
    fn mode_and_config_dir_from_settings() {
        let f = AzureCliFlow::from_settings(
            &MapSettings::new("p").with("azure_cli_mode", "Cache").with("azure_cli_config_dir", "/tmp/az"),
        )
        .unwrap();
        assert_eq!(f.options().mode, Mode::Cache);
        assert_eq!(f.options().config_dir.as_deref(), Some(std::path::Path::new("/tmp/az")));
        let e = AzureCliFlow::from_settings(&MapSettings::new("p").with("azure_cli_mode", "sometimes")).unwrap_err();
        let shown = e.to_string();
        assert!(shown.contains("azure_cli_mode") && shown.contains("`auto`, `cache` or `process`"), "{shown}");
        let e = AzureCliFlow::from_settings(&MapSettings::new("p").with("azure_cli_config_dir", " ")).unwrap_err();
        assert!(e.to_string().contains("azure_cli_config_dir"), "{e}");
        let e = AzureCliFlow::from_settings(&MapSettings::new("p").with("authority_host", "http://example.com"))
            .unwrap_err();
        assert!(e.to_string().contains("authority_host"), "{e}");
        let mock =
            AzureCliFlow::from_settings(&MapSettings::new("p").with("authority_host", "http://127.0.0.1:9")).unwrap();
        assert_eq!(mock.app().authority.environment(), "127.0.0.1:9");
    }

    #[test]
    fn failures_are_specific() {
        let e = az_failure(Some(1), "ERROR: Please run 'az login' to setup account.\n");
        assert!(matches!(e, AuthError::NeedsUser(_)), "{e}");
        assert!(e.to_string().contains("run `az login`"));
        let e = az_failure(Some(2), "WARNING: x\nERROR: No subscription found for tenant.\n");
        assert!(e.to_string().contains("ERROR: No subscription found"), "{e}");
    }

    #[test]
    fn what_az_relays_is_cleaned_like_server_text() {
        let e = az_failure(Some(1), &format!("ERROR: AADSTS50000: \x1b]0;owned\x07bad {}\n", "x".repeat(5000)));
        let shown = e.to_string();
        assert!(!shown.contains('\x1b') && !shown.contains('\x07'), "{shown:?}");
        assert!(shown.len() < 1000, "not bounded: {} bytes", shown.len());
    }

    /// Windows: `az` is `az.cmd`, a batch file, often under a directory with spaces
    /// (`C:\Program Files\Microsoft SDKs\Azure\CLI2\wbin`); found on `PATH` through
    /// `PATHEXT`, run through cmd.exe with its arguments intact.
    #[cfg(windows)]
    #[tokio::test]
    async fn az_cmd_under_a_path_with_spaces() {
        let dir = tempfile::tempdir().unwrap();
        let wbin = dir.path().join("Azure CLI2").join("wbin");
        std::fs::create_dir_all(&wbin).unwrap();
        let body = concat!(
            "@echo %*> \"%~dp0argv\"\r\n",
            r#"@echo {"accessToken":"eyJ0eXAiOiJKV1QifQ.e30.c2ln","expires_on":4070908800,"tokenType":"Bearer"}"#,
            "\r\n"
        );
        std::fs::write(wbin.join("az.cmd"), body).unwrap();
        for program in ["az", "az.cmd"] {
            let options = AzureCliOptions {
                path: Some(wbin.as_os_str().to_owned()),
                program: program.into(),
                mode: Mode::Process,
                tenant: Some("contoso.onmicrosoft.com".parse().unwrap()),
                ..AzureCliOptions::default()
            };
            let token = process::run(&options).await.unwrap();
            assert_eq!(token.access_token.expose(), "eyJ0eXAiOiJKV1QifQ.e30.c2ln", "{program}");
            let argv = std::fs::read_to_string(wbin.join("argv")).unwrap();
            assert_eq!(
                argv.trim(),
                format!(
                    "account get-access-token --resource {DATABRICKS_RESOURCE} -o json --tenant contoso.onmicrosoft.com"
                )
            );
        }
    }

    #[cfg(unix)]
    mod fake_az {
        use super::*;
        use std::os::unix::fs::PermissionsExt as _;

        /// A temp dir holding an `az` script with this body; returns (dir, flow using it via PATH).
        fn fake(body: &str) -> (tempfile::TempDir, AzureCliFlow) {
            let dir = tempfile::tempdir().unwrap();
            let script = dir.path().join("az");
            std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
            let options = AzureCliOptions {
                path: Some(dir.path().as_os_str().to_owned()),
                mode: Mode::Process,
                ..AzureCliOptions::default()
            };
            (dir, AzureCliFlow::new(options).unwrap())
        }

        async fn acquire(flow: &AzureCliFlow) -> Result<TokenResponse, AuthError> {
            brickauth_core::flow::acquire_unattended(flow).await
        }

        #[tokio::test]
        async fn token_from_az_reused_within_the_process() {
            let body = r#"echo "$@" >> "${0%/*}/argv"
echo '{"accessToken":"eyJ0eXAiOiJKV1QifQ.e30.c2ln","expiresOn":"2099-01-01 00:00:00.000000","expires_on":4070908800,"subscription":"s","tenant":"t","tokenType":"Bearer"}'"#;
            let (dir, flow) = fake(body);
            let a = acquire(&flow).await.unwrap();
            let b = acquire(&flow).await.unwrap();
            assert_eq!(a.access_token.expose(), "eyJ0eXAiOiJKV1QifQ.e30.c2ln");
            // az said 2099: a lifetime over 24 h is capped (core's bounded lifetimes), and the
            // second call reused the first answer.
            assert_eq!(b.access_token.expires_on, a.access_token.expires_on);
            assert!(b.access_token.expires_on <= brickauth_core::now() + 24 * 3600, "not capped");
            let argv = std::fs::read_to_string(dir.path().join("argv")).unwrap();
            assert_eq!(argv.lines().count(), 1, "az ran more than once: {argv}");
            assert_eq!(argv.trim(), format!("account get-access-token --resource {DATABRICKS_RESOURCE} -o json"));
        }

        /// Issue 19 item 8: a stale lock file (its writer gone) is not waited for; `auto` runs az
        /// at once. A lock file of a live process is waited for, boundedly, then az runs too.
        #[tokio::test]
        async fn a_stale_or_stuck_lock_falls_back_to_az_within_seconds() {
            let body =
                r#"echo '{"accessToken":"eyJ0eXAiOiJKV1QifQ.e30.c2ln","expires_on":4070908800,"tokenType":"Bearer"}'"#;
            let (bin, _) = fake(body);
            let config = tempfile::tempdir().unwrap();
            // A cache az could be redeemed from, were it not locked.
            std::fs::write(config.path().join(files::CACHE_FILE), br#"{"Account": {}, "RefreshToken": {}}"#).unwrap();
            let lock = config.path().join(format!("{}{}", files::CACHE_FILE, files::LOCK_SUFFIX));
            let flow = |mode| {
                let options = AzureCliOptions {
                    path: Some(bin.path().as_os_str().to_owned()),
                    config_dir: Some(config.path().to_owned()),
                    mode,
                    ..AzureCliOptions::default()
                };
                AzureCliFlow::new(options).unwrap()
            };
            let live = format!("{} az", std::process::id());
            for (holder, wait) in [
                // No process has this id (Linux caps them at 2^22); elsewhere the age decides.
                ("4000000000 /usr/bin/az", Duration::from_millis(500)),
                (live.as_str(), files::LOCK_WAIT + Duration::from_secs(1)),
            ] {
                std::fs::write(&lock, holder).unwrap();
                if !cfg!(target_os = "linux") && holder.starts_with("4000000000") {
                    let old = std::time::SystemTime::now() - files::STALE_AFTER - Duration::from_secs(1);
                    std::fs::File::options().write(true).open(&lock).unwrap().set_modified(old).unwrap();
                }
                let auto = flow(Mode::Auto);
                let start = std::time::Instant::now();
                let token = acquire(&auto).await.unwrap();
                assert!(start.elapsed() < wait, "{holder}: took {:?}", start.elapsed());
                assert_eq!(token.access_token.expose(), "eyJ0eXAiOiJKV1QifQ.e30.c2ln");
                assert!(!auto.cacheable(), "the token came from az");
                // Cache mode says what is wrong and how to switch.
                let e = acquire(&flow(Mode::Cache)).await.unwrap_err().to_string();
                assert!(e.contains("locked by") && e.contains(".lockfile") && e.contains("azure_cli_mode"), "{e}");
            }
            assert!(lock.exists(), "az's lock file is az's: never removed here");
        }

        #[tokio::test]
        async fn not_signed_in() {
            let (_dir, flow) = fake("echo \"ERROR: Please run 'az login' to setup account.\" >&2; exit 1");
            let err = acquire(&flow).await.unwrap_err();
            assert!(matches!(err, AuthError::NeedsUser(_)), "{err}");
        }

        #[tokio::test]
        async fn other_failure_shows_az_error() {
            let (_dir, flow) = fake("echo 'ERROR: AADSTS700082: The refresh token has expired' >&2; exit 1");
            let err = acquire(&flow).await.unwrap_err();
            assert!(err.to_string().contains("AADSTS700082"), "{err}");
        }

        #[tokio::test]
        async fn az_missing() {
            let dir = tempfile::tempdir().unwrap();
            let options = AzureCliOptions {
                path: Some(dir.path().as_os_str().to_owned()),
                mode: Mode::Process,
                ..AzureCliOptions::default()
            };
            let err = acquire(&AzureCliFlow::new(options).unwrap()).await.unwrap_err();
            assert!(err.to_string().contains("not installed or not on PATH"), "{err}");
        }
    }
}
