//! Running `az account get-access-token` (the fallback, and `azure_cli_mode = "process"`).
//!
//! Runs, with no secret in its arguments (az needs none):
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

use std::process::Stdio;
use std::time::Duration;

use brickauth_core::{AuthError, TokenResponse};
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::AzureCliOptions;

/// The arguments `az` is run with (never a secret).
pub fn args_for(o: &AzureCliOptions) -> Vec<String> {
    let mut args: Vec<String> = ["account", "get-access-token", "--resource", &o.resource, "-o", "json"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    if let Some(t) = o.tenant.as_ref().filter(|t| t.as_str() != "organizations") {
        args.push("--tenant".into());
        args.push(t.as_str().to_owned());
    }
    args
}

/// Run az and read its answer.
pub async fn run(o: &AzureCliOptions) -> Result<TokenResponse, AuthError> {
    let mut cmd = tokio::process::Command::new(program(o));
    cmd.args(args_for(o)).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    if let Some(path) = &o.path {
        cmd.env("PATH", path);
    }
    if let Some(dir) = &o.config_dir {
        cmd.env("AZURE_CONFIG_DIR", dir);
    }
    let shown = o.program.display().to_string();
    tracing::info!(program = %shown, args = ?args_for(o), "running the Azure CLI");
    // Windows: az.cmd is a batch file that starts Python. Both run in a Job object, so that a
    // timeout (or brickauth's own end) ends Python too, not only cmd.exe.
    #[cfg(windows)]
    let job = {
        cmd.creation_flags(brickauth_core::process::Job::CREATION_FLAGS);
        brickauth_core::process::Job::new()
            .map_err(|e| AuthError::Io(format!("cannot create a Job object for the Azure CLI: {e}")))?
    };
    let child = spawn(&mut cmd).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => AuthError::Io(format!(
            "the Azure CLI (az) is not installed or not on PATH (looked for `{shown}`): install it \
             (https://aka.ms/installazurecli) or set `azure_cli_path`"
        )),
        _ => AuthError::Io(format!("cannot run the Azure CLI `{shown}`: {e}")),
    })?;
    #[cfg(windows)]
    if let Some(handle) = child.raw_handle()
        && let Some(pid) = child.id()
    {
        // On failure the child, still suspended, is killed as it is dropped (`kill_on_drop`).
        job.adopt(handle, pid).map_err(|e| AuthError::Io(format!("cannot start the Azure CLI `{shown}`: {e}")))?;
    }
    let out = tokio::time::timeout(o.timeout, child.wait_with_output())
        .await
        .map_err(|_| AuthError::Io(format!("the Azure CLI did not answer within {} s", o.timeout.as_secs())))?
        .map_err(|e| AuthError::Io(format!("the Azure CLI `{shown}` failed: {e}")))?;
    if !out.status.success() {
        return Err(az_failure(out.status.code(), &String::from_utf8_lossy(&out.stderr)));
    }
    parse_output(&out.stdout, brickauth_core::now(), &TimeZone::system())
}

/// The program to start: `o.program`, on Windows looked up on `PATH` with `PATHEXT` (`az` →
/// `az.cmd`) — `std` appends only `.exe`. A batch file is then run by `std` through cmd.exe with
/// its arguments quoted for cmd.exe, so a path with spaces (`C:\Program Files\…\az.cmd`) is safe.
fn program(o: &AzureCliOptions) -> std::path::PathBuf {
    #[cfg(windows)]
    {
        let path = o.path.clone().or_else(|| std::env::var_os("PATH"));
        let pathext = std::env::var_os("PATHEXT");
        if let Some(found) =
            brickauth_core::process::find_program(o.program.as_os_str(), path.as_deref(), pathext.as_deref())
        {
            return found;
        }
    }
    o.program.clone()
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
pub(crate) fn az_failure(code: Option<i32>, stderr: &str) -> AuthError {
    let first = stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("WARNING"))
        .unwrap_or("(no output on stderr)");
    // az relays the identity provider's words: shown as any server text is (no escape
    // sequences, bounded).
    let first = brickauth_core::text::ServerText::new([]).clean(first);
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
