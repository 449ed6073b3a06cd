//! `brickauth exec [--static] -- CMD ARGS…`: run a program with the selected profile's workspace
//! and tokens in its environment.
//!
//! On Windows, as a shell would: CMD is looked up with `PATHEXT` (`exec -- az` runs `az.cmd`,
//! through cmd.exe with its arguments quoted for it); CMD runs in a Job object that ends it, and
//! whatever it started, when brickauth ends, however it ends; Ctrl-C and Ctrl-Break reach CMD (it
//! shares the console) while brickauth ignores them and waits for CMD; CMD's whole 32-bit exit
//! code is brickauth's.

use std::ffi::OsStr;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use brickauth::TokenOptions;
use brickauth_core::ExposeSecret;
use brickauth_profile::Profile;
use clap::Args;

use crate::context::{self, Context};
use crate::report::{self, Exit, Reported};
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
/// are removed from CMD's environment. Exits with CMD's exit code ([`report::child_exit`]).
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
    let mut cmd = std::process::Command::new(find(program));
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
        let status = spawn(&mut cmd).map_err(cannot_run)?.wait().context("waiting for the command")?;
        return Ok(report::child_exit(status));
    }
    let min_validity = context::min_validity(args.min_validity);
    let service = service::service(cx, &ws, &profile, min_validity)?;
    for (k, v) in service.env() {
        cmd.env(k, v);
    }
    let running = service::Running::start(service)?;
    let mut child = spawn(&mut cmd).map_err(cannot_run)?;
    running.forward_signals_to(child.child.id());
    let status = child.wait().context("waiting for the command")?;
    // The listener closes now: a request after CMD exited is refused.
    running.stop();
    Ok(report::child_exit(status))
}

/// The program to start for `name`: on Windows looked up on `PATH` with `PATHEXT`, as cmd.exe
/// and PowerShell do (`std` appends only `.exe`); unchanged when not found there (`std` then
/// reports it missing) and on Unix.
fn find(name: &OsStr) -> std::path::PathBuf {
    #[cfg(windows)]
    {
        let (path, pathext) = (std::env::var_os("PATH"), std::env::var_os("PATHEXT"));
        if let Some(found) = brickauth_core::process::find_program(name, path.as_deref(), pathext.as_deref()) {
            return found;
        }
    }
    name.into()
}

/// CMD, started; on Windows with the Job object it runs in (dropped with it, ending it).
struct Spawned {
    child: std::process::Child,
    #[cfg(windows)]
    _job: brickauth_core::process::Job,
}

impl Spawned {
    fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.wait()
    }
}

/// Start `cmd`. On Windows: suspended, put in a kill-on-close Job object, then resumed (so not
/// even a process it starts at once escapes the job); and with console Ctrl-C and Ctrl-Break
/// ignored by brickauth from now on.
fn spawn(cmd: &mut std::process::Command) -> std::io::Result<Spawned> {
    #[cfg(windows)]
    {
        use brickauth_core::process::Job;
        use std::os::windows::io::AsRawHandle;
        use std::os::windows::process::CommandExt;
        ignore_console_interrupts();
        let job = Job::new()?;
        let mut child = cmd.creation_flags(Job::CREATION_FLAGS).spawn()?;
        if let Err(e) = job.adopt(child.as_raw_handle(), child.id()) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        Ok(Spawned { child, _job: job })
    }
    #[cfg(not(windows))]
    Ok(Spawned { child: cmd.spawn()? })
}

/// Windows: from now on Ctrl-C and Ctrl-Break in the console are CMD's to handle; brickauth
/// stays, to keep serving tokens until CMD exits (and to pass on CMD's exit code). A handler
/// routine is not inherited, unlike `SetConsoleCtrlHandler(NULL, TRUE)`, which would make CMD
/// ignore Ctrl-C too. Closing the console or logging off still ends brickauth (and so CMD).
#[cfg(windows)]
#[allow(unsafe_code)]
fn ignore_console_interrupts() {
    use windows_sys::Win32::Foundation::{FALSE, TRUE};
    use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, CTRL_C_EVENT, SetConsoleCtrlHandler};
    unsafe extern "system" fn handler(event: u32) -> windows_sys::core::BOOL {
        if matches!(event, CTRL_C_EVENT | CTRL_BREAK_EVENT) { TRUE } else { FALSE }
    }
    // SAFETY: registers a handler that only reads its argument; it stays valid for the life of
    // the process (a plain function).
    if unsafe { SetConsoleCtrlHandler(Some(handler), TRUE) } == FALSE {
        tracing::warn!("cannot ignore Ctrl-C while the command runs: {}", std::io::Error::last_os_error());
    }
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
