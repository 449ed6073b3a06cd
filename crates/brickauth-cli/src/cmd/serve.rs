//! `brickauth serve`: the Databricks metadata service in the foreground, until Ctrl-C or SIGTERM
//! (the service itself, shared with `exec`, is `crate::service`).

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use brickauth::TokenOptions;
use clap::{Args, ValueEnum};

use crate::context::{self, Context};
use crate::output::print;
use crate::service;

/// `brickauth serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// What to print on stdout once the service listens
    #[arg(short, long, value_enum, default_value_t)]
    pub output: ServeFormat,
    /// Renew tokens with less validity left than this [default: 300, at least 40]
    #[arg(long, value_name = "SECS")]
    pub min_validity: Option<u64>,
}

/// `serve` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ServeFormat {
    /// `export …` lines, then stdout is closed: `eval "$(brickauth serve &)"` returns once the
    /// service listens, leaving it in the background (stop it with `kill $BRICKAUTH_SERVE_PID`)
    #[default]
    Env,
    /// One JSON object of the same variables
    Json,
}

/// `brickauth serve [-o env|json] [--min-validity SECS]`.
pub fn run(cx: &Context, args: &ServeArgs) -> Result<ExitCode> {
    let profile = cx.profile()?;
    let ws = brickauth::workspace_config(&profile)?;
    let min_validity = context::min_validity(args.min_validity);
    // The first token now, while a person may answer a prompt; the service itself never prompts.
    let source = cx.source(profile, context::interaction(false))?;
    context::acquire(&source, TokenOptions { force_refresh: false, min_validity })?;
    let profile = source.profile();
    let service = service::service(cx, &ws, &profile, min_validity)?;
    // The service's variables, and the CA bundle brickauth trusts for tools that do not yet.
    let mut vars: Vec<(&str, String)> = service.env().into_iter().collect();
    vars.extend(cx.auth().child_ca_env().into_iter().map(|(k, p)| (k, p.display().to_string())));
    let text = match args.output {
        ServeFormat::Env => {
            let mut lines: String = vars.iter().map(|(k, v)| format!("export {k}={}\n", shell_quote(v))).collect();
            lines.push_str(&format!("export BRICKAUTH_SERVE_PID={}\n", std::process::id()));
            lines
        }
        ServeFormat::Json => {
            let map: serde_json::Map<String, serde_json::Value> =
                vars.into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect();
            format!("{}\n", serde_json::Value::Object(map))
        }
    };
    eprintln!(
        "brickauth: serving tokens of profile `{}` for {} on {}; Ctrl-C or SIGTERM stops it",
        profile.name(),
        ws.host(),
        service.local_addr()
    );
    print(&text)?;
    // Nothing more comes on stdout: close it, so a reader waiting for its end — `$(…)` in
    // `eval "$(brickauth serve &)"` — gets the lines and goes on while the service runs.
    release_stdout();
    brickauth::block_on(async {
        let stop = stop_signal()?;
        service.serve(stop).await.context("the metadata service failed")
    })??;
    eprintln!("brickauth: metadata service stopped");
    Ok(ExitCode::SUCCESS)
}

/// Point stdout at `/dev/null` (Unix): the pipe a caller reads reaches its end. Best effort — if
/// `/dev/null` cannot be opened, stdout stays open and only `$(…)` callers wait.
#[allow(unsafe_code)] // dup2(2): see the SAFETY comment
fn release_stdout() {
    #[cfg(unix)]
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        // SAFETY: dup2(2) on two descriptors this process owns: `null` is open for the call,
        // and fd 1 is replaced atomically; no Rust object holds fd 1's old file description.
        unsafe {
            libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
        }
    }
}

/// Ctrl-C or SIGTERM (Unix).
fn stop_signal() -> Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// `'…'`-quote a value unless it is made only of characters no shell treats specially.
fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:/=+@%,".contains(&b)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
