//! `brickauth serve`: the Databricks metadata service in the foreground, until Ctrl-C or SIGTERM
//! (the service itself, shared with `exec`, is `crate::service`).

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use brickauth::TokenOptions;
use clap::{Args, ValueEnum};

use crate::context::{self, Context};
use crate::output::print;
use crate::report::Reported;
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

/// `serve` output formats; the default is the shell of the platform: `posix` on Unix,
/// `powershell` on Windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServeFormat {
    /// `export NAME='…'` lines, then stdout is closed: `eval "$(brickauth serve &)"` returns once
    /// the service listens, leaving it in the background (stop it with `kill $BRICKAUTH_SERVE_PID`)
    #[value(alias = "env")]
    Posix,
    /// `$env:NAME = '…'` lines for PowerShell
    Powershell,
    /// `set "NAME=…"` lines for cmd.exe
    Cmd,
    /// One JSON object of the same variables
    Json,
}

impl Default for ServeFormat {
    fn default() -> ServeFormat {
        if cfg!(windows) { ServeFormat::Powershell } else { ServeFormat::Posix }
    }
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
    let text = render(args.output, &vars, std::process::id())?;
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

/// What `serve -o FORMAT` prints: `vars`, and for the shells `BRICKAUTH_SERVE_PID` = `pid`.
fn render(format: ServeFormat, vars: &[(&str, String)], pid: u32) -> Result<String> {
    let pid = pid.to_string();
    let with_pid = || vars.iter().map(|(k, v)| (*k, v.as_str())).chain([("BRICKAUTH_SERVE_PID", pid.as_str())]);
    Ok(match format {
        ServeFormat::Posix => with_pid().map(|(k, v)| format!("export {k}={}\n", shell_quote(v))).collect(),
        // PowerShell: in a single-quoted string only `'` is special, written twice.
        ServeFormat::Powershell => {
            with_pid().map(|(k, v)| format!("$env:{k} = '{}'\n", v.replace('\'', "''"))).collect()
        }
        // cmd.exe: inside `set "…"` the characters `&|<>^` are plain; `%` would be expanded and
        // `"` or a line break would end the value, and cannot be escaped there: refused.
        ServeFormat::Cmd => {
            let mut lines = String::new();
            for (k, v) in with_pid() {
                if v.contains(['%', '"', '\r', '\n']) {
                    return Err(Reported::usage(format!(
                        "serve -o cmd: the value of {k} contains %, \" or a line break, which cmd.exe cannot \
                         take in a `set` line; use -o powershell or -o json"
                    ))
                    .into());
                }
                lines.push_str(&format!("set \"{k}={v}\"\n"));
            }
            lines
        }
        ServeFormat::Json => {
            let map: serde_json::Map<String, serde_json::Value> =
                vars.iter().map(|(k, v)| ((*k).to_owned(), v.as_str().into())).collect();
            format!("{}\n", serde_json::Value::Object(map))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What a metadata service hands out, with a CA bundle under a path with a space and a quote.
    fn vars() -> Vec<(&'static str, String)> {
        vec![
            ("DATABRICKS_HOST", "https://adb-1234567890123456.7.azuredatabricks.net".into()),
            ("DATABRICKS_AUTH_TYPE", "metadata-service".into()),
            ("DATABRICKS_METADATA_SERVICE_URL", "http://127.0.0.1:49152/0f3a9c/metadata/identity/oauth2/token".into()),
            ("REQUESTS_CA_BUNDLE", "C:\\Users\\Ada O'Neil\\corp ca & roots.pem".into()),
        ]
    }

    #[test]
    fn posix() {
        insta::assert_snapshot!(render(ServeFormat::Posix, &vars(), 4242).unwrap());
    }

    #[test]
    fn powershell() {
        insta::assert_snapshot!(render(ServeFormat::Powershell, &vars(), 4242).unwrap());
    }

    #[test]
    fn cmd() {
        insta::assert_snapshot!(render(ServeFormat::Cmd, &vars(), 4242).unwrap());
    }

    #[test]
    fn json() {
        insta::assert_snapshot!(render(ServeFormat::Json, &vars(), 4242).unwrap());
    }

    #[test]
    fn cmd_refuses_what_a_set_line_cannot_hold() {
        let bad = vec![("REQUESTS_CA_BUNDLE", "C:\\100%\\ca.pem".to_owned())];
        let err = render(ServeFormat::Cmd, &bad, 1).unwrap_err().to_string();
        assert!(err.contains("REQUESTS_CA_BUNDLE") && err.contains("-o powershell"), "{err}");
    }

    #[test]
    fn the_default_is_the_platform_shell_and_env_still_means_posix() {
        let expected = if cfg!(windows) { ServeFormat::Powershell } else { ServeFormat::Posix };
        assert_eq!(ServeFormat::default(), expected);
        assert_eq!(ServeFormat::from_str("env", false), Ok(ServeFormat::Posix));
    }
}
