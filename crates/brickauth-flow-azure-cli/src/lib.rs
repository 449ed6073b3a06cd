//! Reuse the Azure CLI's sign-in: `az account get-access-token`.
//!
//! Flow name `azure-cli`. Runs, with no secret in its arguments (az needs none):
//!
//! ```text
//! az account get-access-token --resource 2ff814a6-3304-4ab8-85cb-cd0e6f879c1d -o json [--tenant T]
//! ```
//!
//! and reads `accessToken` and the expiry from its JSON: `expires_on` (epoch seconds, az ≥ 2.54)
//! when present, else `expiresOn`, a naive local time (`2024-05-01 13:50:47.114324`) converted with
//! the system time zone. `az` is looked up on `PATH` (`az.cmd` on Windows) unless `azure_cli_path`
//! names it. Errors are specific: az missing, az not signed in (run `az login`, exit 3), or az's own
//! first error line.
//!
//! The Azure CLI owns these tokens and refreshes them itself, so brickauth must not store them in
//! its own cache; within one process, repeated acquisitions reuse the answer while it has more
//! than [`REUSE_MARGIN`] left.
//!
//! **Cache identity.** [`GrantFlow::app`]: the cloud's authority (from `cloud`/`host`, as for the
//! Entra flows), the tenant from `tenant_id` or `organizations`, the Azure CLI's own public
//! client id [`AZURE_CLI_CLIENT_ID`] (the app az signs in with) and the resource's `.default`
//! scope. It is what the token really is; it only matters for display until the cache honours
//! "do not cache" for this flow.
//!
//! ```no_run
//! use brickauth_core::{FlowContext, GrantFlow, Interaction, TokenClient};
//! use brickauth_flow_azure_cli::{AzureCliFlow, AzureCliOptions};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let flow = AzureCliFlow::new(AzureCliOptions::default())?;
//! let client = TokenClient::new()?;
//! let token = flow.acquire(&FlowContext { client: &client, interaction: Interaction::NONE }).await?;
//! println!("expires at {}", token.access_token.expires_on);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use brickauth_core::app::{DATABRICKS_RESOURCE, ParseError};
use brickauth_core::flow::{BoxFuture, FlowContext, FlowSpec, GrantFlow};
use brickauth_core::settings::{ConfigError, KeySpec, Settings};
use brickauth_core::{AppConfig, AuthError, Authority, ClientId, Cloud, Scopes, Tenant, TokenResponse};
use jiff::tz::TimeZone;
use serde::Deserialize;

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

/// What the Azure CLI flow needs.
#[derive(Debug, Clone)]
pub struct AzureCliOptions {
    /// The `az` executable: a name looked up on `PATH`, or a path.
    pub program: PathBuf,
    /// `PATH` for the child process (and for looking `program` up); `None` inherits this process's.
    pub path: Option<OsString>,
    /// The resource to ask for (default: Azure Databricks).
    pub resource: String,
    /// `--tenant`, when the token must come from a tenant other than az's default.
    pub tenant: Option<Tenant>,
    /// How long `az` may take.
    pub timeout: Duration,
    /// The cloud, for [`GrantFlow::app`] only (az knows its own cloud).
    pub cloud: Cloud,
}

impl Default for AzureCliOptions {
    fn default() -> Self {
        AzureCliOptions {
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
    // TODO(core): once `GrantFlow::cacheable(&self) -> bool` exists (default `true`), return
    // `false` from this flow so the cache never stores az's tokens; until then this in-process
    // reuse is the only caching this flow intends.
    reuse: tokio::sync::Mutex<Option<TokenResponse>>,
}

impl AzureCliFlow {
    /// A flow with these options; fails when the resource is not a usable scope.
    pub fn new(options: AzureCliOptions) -> Result<Self, ParseError> {
        let tenant = options.tenant.clone().unwrap_or_else(Tenant::organizations);
        let scopes: Scopes = format!("{}/.default", options.resource.trim_end_matches('/')).parse()?;
        let client_id: ClientId = AZURE_CLI_CLIENT_ID.parse()?;
        let app = AppConfig { authority: Authority::cloud(options.cloud, tenant), client_id, scopes };
        Ok(AzureCliFlow { options, app, reuse: tokio::sync::Mutex::new(None) })
    }

    /// Build from profile settings: optional `tenant_id`, `cloud`/`host`, `scopes` (one resource)
    /// and `azure_cli_path`.
    pub fn from_settings(s: &dyn Settings) -> Result<Self, ConfigError> {
        let tenant = s.parse::<Tenant>("tenant_id")?;
        let cloud = match s.parse("cloud")? {
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
        let program = match s.get("azure_cli_path") {
            Some(p) if !p.trim().is_empty() => PathBuf::from(p.trim()),
            Some(_) => return Err(s.invalid("azure_cli_path", "empty path")),
            None => default_program(),
        };
        AzureCliFlow::new(AzureCliOptions { program, resource, tenant, cloud, ..AzureCliOptions::default() })
            .map_err(|e| s.invalid("scopes", e))
    }

    /// The arguments `az` is run with (never a secret).
    pub fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = ["account", "get-access-token", "--resource", &self.options.resource, "-o", "json"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        if let Some(t) = self.options.tenant.as_ref().filter(|t| t.as_str() != "organizations") {
            args.push("--tenant".into());
            args.push(t.as_str().to_owned());
        }
        args
    }

    async fn run_az(&self) -> Result<TokenResponse, AuthError> {
        let o = &self.options;
        let mut cmd = tokio::process::Command::new(&o.program);
        cmd.args(self.args()).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        if let Some(path) = &o.path {
            cmd.env("PATH", path);
        }
        let shown = o.program.display().to_string();
        tracing::info!(program = %shown, args = ?self.args(), "running the Azure CLI");
        let child = spawn(&mut cmd).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => AuthError::Io(format!(
                "the Azure CLI (az) is not installed or not on PATH (looked for `{shown}`): install it \
                 (https://aka.ms/installazurecli) or set `azure_cli_path`"
            )),
            _ => AuthError::Io(format!("cannot run the Azure CLI `{shown}`: {e}")),
        })?;
        let out = tokio::time::timeout(o.timeout, child.wait_with_output())
            .await
            .map_err(|_| AuthError::Io(format!("the Azure CLI did not answer within {} s", o.timeout.as_secs())))?
            .map_err(|e| AuthError::Io(format!("the Azure CLI `{shown}` failed: {e}")))?;
        if !out.status.success() {
            return Err(az_failure(out.status.code(), &String::from_utf8_lossy(&out.stderr)));
        }
        parse_output(&out.stdout, brickauth_core::now(), &TimeZone::system())
    }
}

/// Spawn, retrying briefly on ETXTBSY (an executable just written by another thread of this
/// process, as tests do, can be briefly "busy" while a concurrent fork holds it open).
fn spawn(cmd: &mut tokio::process::Command) -> std::io::Result<tokio::process::Child> {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(26) && tries < 5 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// The error for a non-zero exit of `az`, from its stderr.
fn az_failure(code: Option<i32>, stderr: &str) -> AuthError {
    let first = stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("WARNING"))
        .unwrap_or("(no output on stderr)");
    let code = code.map(|c| c.to_string()).unwrap_or_else(|| "a signal".into());
    if stderr.contains("az login") {
        AuthError::NeedsUser(format!(
            "the Azure CLI is not signed in (or its sign-in expired): run `az login`, then try again\n  az said: {first}"
        ))
    } else {
        AuthError::Io(format!("`az account get-access-token` failed (exit {code}): {first}"))
    }
}

#[derive(Deserialize)]
struct AzToken {
    #[serde(rename = "accessToken")]
    access_token: Option<String>,
    #[serde(rename = "tokenType")]
    token_type: Option<String>,
    /// Epoch seconds (az ≥ 2.54).
    expires_on: Option<i64>,
    /// Naive local time, `YYYY-MM-DD HH:MM:SS.ffffff` (older az).
    #[serde(rename = "expiresOn")]
    expires_on_local: Option<String>,
}

/// Parse az's JSON output received at `now`, reading `expiresOn` in time zone `tz`.
pub fn parse_output(stdout: &[u8], now: i64, tz: &TimeZone) -> Result<TokenResponse, AuthError> {
    // serde_json's messages name positions, never the input: safe to show.
    let raw: AzToken = serde_json::from_slice(stdout)
        .map_err(|e| AuthError::Io(format!("the Azure CLI printed something that is not a token: {e}")))?;
    let token = raw
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AuthError::Io("the Azure CLI's answer has no accessToken".into()))?;
    let expires_on = match (raw.expires_on, raw.expires_on_local.as_deref()) {
        (Some(epoch), _) => epoch,
        (None, Some(local)) => local_to_epoch(local, tz)?,
        (None, None) => {
            return Err(AuthError::Io("the Azure CLI's answer has no expiry (expires_on/expiresOn)".into()));
        }
    };
    let body = serde_json::json!({
        "access_token": token,
        "token_type": raw.token_type.unwrap_or_else(|| "Bearer".into()),
        "expires_on": expires_on,
    });
    TokenResponse::parse(body.to_string().as_bytes(), now)
        .map_err(|e| AuthError::Io(format!("the Azure CLI's token is unusable: {e}")))
}

/// `2024-05-01 13:50:47.114324` in `tz` → epoch seconds.
pub fn local_to_epoch(local: &str, tz: &TimeZone) -> Result<i64, AuthError> {
    let dt: jiff::civil::DateTime = local
        .trim()
        .parse()
        .map_err(|e| AuthError::Io(format!("the Azure CLI's expiresOn `{local}` is not a date and time: {e}")))?;
    let ts = tz
        .to_timestamp(dt)
        .map_err(|e| AuthError::Io(format!("the Azure CLI's expiresOn `{local}` is not a local time: {e}")))?;
    Ok(ts.as_second())
}

impl GrantFlow for AzureCliFlow {
    fn app(&self) -> &AppConfig {
        &self.app
    }

    fn cacheable(&self) -> bool {
        false
    }

    fn acquire<'a>(&'a self, _cx: &'a FlowContext<'a>) -> BoxFuture<'a, Result<TokenResponse, AuthError>> {
        Box::pin(async move {
            // Held across the run: concurrent acquisitions in this process run az once.
            let mut reuse = self.reuse.lock().await;
            let margin = i64::try_from(REUSE_MARGIN.as_secs()).unwrap_or(i64::MAX);
            if let Some(t) = reuse.as_ref().filter(|t| t.access_token.remaining(brickauth_core::now()) > margin) {
                tracing::debug!("reusing the Azure CLI's token from earlier in this process");
                return Ok(t.clone());
            }
            let token = self.run_az().await?;
            *reuse = Some(token.clone());
            Ok(token)
        })
    }
}

/// The identity tokens of this profile are cached under, from its settings alone (no secret,
/// no I/O; see the crate docs for what it contains).
pub fn app_config(s: &dyn Settings) -> Result<AppConfig, ConfigError> {
    Ok(AzureCliFlow::from_settings(s)?.app)
}

/// The keys this flow reads, on top of the common ones (`tenant_id` is passed as `--tenant`).
pub const KEYS: &[KeySpec] =
    &[KeySpec::optional("azure_cli_path", "the az executable (default: `az`, `az.cmd` on Windows, on PATH)")];

fn build(s: &dyn Settings) -> Result<Box<dyn GrantFlow>, ConfigError> {
    Ok(Box::new(AzureCliFlow::from_settings(s)?))
}

brickauth_core::register_flow! {
    FlowSpec {
        name: "azure-cli",
        aliases: &[],
        summary: "reuse the Azure CLI's sign-in (`az account get-access-token`); run `az login` first",
        interactive: false,
        keys: KEYS,
        app: app_config,
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickauth_core::MapSettings;

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
    fn failures_are_specific() {
        let e = az_failure(Some(1), "ERROR: Please run 'az login' to setup account.\n");
        assert!(matches!(e, AuthError::NeedsUser(_)), "{e}");
        assert!(e.to_string().contains("run `az login`"));
        let e = az_failure(Some(2), "WARNING: x\nERROR: No subscription found for tenant.\n");
        assert!(e.to_string().contains("ERROR: No subscription found"), "{e}");
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
            let options =
                AzureCliOptions { path: Some(dir.path().as_os_str().to_owned()), ..AzureCliOptions::default() };
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
            assert_eq!(b.access_token.expires_on, 4_070_908_800);
            let argv = std::fs::read_to_string(dir.path().join("argv")).unwrap();
            assert_eq!(argv.lines().count(), 1, "az ran more than once: {argv}");
            assert_eq!(argv.trim(), format!("account get-access-token --resource {DATABRICKS_RESOURCE} -o json"));
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
            let options =
                AzureCliOptions { path: Some(dir.path().as_os_str().to_owned()), ..AzureCliOptions::default() };
            let err = acquire(&AzureCliFlow::new(options).unwrap()).await.unwrap_err();
            assert!(err.to_string().contains("not installed or not on PATH"), "{err}");
        }
    }
}
