//! `brickauth exec [--static] -- CMD ARGS…`: run a program with the selected profile's workspace
//! and tokens in its environment.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use brickauth::TokenOptions;
use brickauth_core::ExposeSecret;
use brickauth_profile::Profile;
use clap::Args;

use crate::context::{self, Context};
use crate::report::{Exit, Reported};
use crate::service;

/// `brickauth exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Only a static DATABRICKS_TOKEN (DATABRICKS_AUTH_TYPE=pat), no metadata service
    #[arg(long = "static")]
    pub r#static: bool,
    /// The metadata service renews tokens with less validity left than this [default: 300, at least 40]
    #[arg(long, value_name = "SECS")]
    pub min_validity: Option<u64>,
    /// The command and its arguments (after `--`)
    #[arg(trailing_var_arg = true, required = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

/// `brickauth exec [--static] -- CMD ARGS…`: run CMD with `DATABRICKS_HOST` and
/// `DATABRICKS_TOKEN`, and — unless `--static` — a loopback metadata service for CMD's lifetime
/// (`DATABRICKS_AUTH_TYPE=metadata-service`, `DATABRICKS_METADATA_SERVICE_URL`), so SDK-based
/// tools ask for a fresh token whenever theirs nears expiry. With `--static`,
/// `DATABRICKS_AUTH_TYPE=pat`. The profile's own secret variables (`password_env` and the like)
/// are removed from CMD's environment. Exits with CMD's exit code.
pub fn run(cx: &Context, args: &ExecArgs) -> Result<ExitCode> {
    let profile = cx.profile()?;
    let ws = brickauth::workspace_config(&profile)?;
    let Some((program, rest)) = args.command.split_first() else {
        return Err(Reported::usage("exec: no command given").into());
    };
    let secret_vars = secret_variables(&profile);
    let opts = TokenOptions { force_refresh: false, min_validity: context::MIN_VALIDITY };
    let source = cx.source(profile, context::interaction(false))?;
    let token = context::acquire(&source, opts)?;
    let profile = source.profile();
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest).env("DATABRICKS_HOST", ws.host()).env("DATABRICKS_TOKEN", token.access_token.secret.expose_secret());
    for var in &secret_vars {
        cmd.env_remove(var);
    }
    // The child trusts what brickauth trusts (a TLS-inspecting proxy's CA), unless told otherwise.
    for (k, v) in cx.auth().child_ca_env() {
        cmd.env(k, v);
    }
    let cannot_run = |e: std::io::Error| Reported {
        code: if e.kind() == std::io::ErrorKind::NotFound { Exit::NotFound } else { Exit::CannotRun },
        message: format!("cannot run `{}`: {e}", program.to_string_lossy()),
    };
    if args.r#static {
        cmd.env("DATABRICKS_AUTH_TYPE", "pat");
        // The metadata service's environment names them otherwise (service.rs).
        if let Some(a) = ws.account_id() {
            cmd.env("DATABRICKS_ACCOUNT_ID", a.as_str());
        }
        if let Some(w) = ws.workspace_id() {
            cmd.env("DATABRICKS_WORKSPACE_ID", w.as_str());
        }
        let status = cmd.status().map_err(cannot_run)?;
        return Ok(ExitCode::from(exit_status_code(status)));
    }
    let min_validity = context::min_validity(args.min_validity);
    let service = service::service(cx, &ws, &profile, min_validity)?;
    for (k, v) in service.env() {
        cmd.env(k, v);
    }
    let running = service::Running::start(service)?;
    let mut child = cmd.spawn().map_err(cannot_run)?;
    running.forward_signals_to(child.id());
    let status = child.wait().context("waiting for the command")?;
    // The listener closes now: a request after CMD exited is refused.
    running.stop();
    Ok(ExitCode::from(exit_status_code(status)))
}

/// The environment variables the profile reads secrets from (`password_env = "VAR"` → `VAR`):
/// CMD has no business with them.
fn secret_variables(profile: &Profile) -> Vec<String> {
    profile
        .entries()
        .into_iter()
        .filter(|(k, _, _)| k.ends_with("_env"))
        .filter_map(|(_, v, _)| match v {
            brickauth_profile::DisplayValue::Plain(var) if !var.is_empty() => Some(var),
            _ => None,
        })
        .collect()
}

/// The child's exit code; killed by a signal → 128 + signal, as shells report it.
fn exit_status_code(status: std::process::ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return u8::try_from(128 + sig).unwrap_or(1);
        }
    }
    1
}
