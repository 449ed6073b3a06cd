//! One function per subcommand. Each returns the exit code on success; errors go to
//! [`crate::report`].

pub mod account;
mod app;
pub mod clusters;
pub mod complete;
pub mod databrickscfg;
mod flows;
mod inspect;
mod profiles;
pub mod profiles_edit;
pub(crate) mod serve;
pub mod status;
mod token;
pub(crate) mod workspace;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{AuthCommand, Cli, Command};
use crate::context::Context;

/// Run the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let cx = Context { config: cli.config, profile: cli.profile, flow: cli.flow, host: cli.host };
    match cli.command {
        Command::Token(args) => token::token(&cx, &args),
        Command::Login(args) => token::login(&cx, &args),
        Command::Logout(args) => token::logout(&cx, &args),
        Command::Auth(AuthCommand::Token(args)) => token::auth_token(&cx, &args),
        Command::Account(c) => account::account(&cx, &c),
        Command::App(c) => app::app(&cx, &c),
        Command::Flows(args) => flows::flows(&args),
        Command::Profiles(c) => profiles::profiles(&cx, &c),
        Command::Inspect(args) => inspect::inspect(&cx, &args),
        Command::Status(args) => status::status(&cx, &args),
        Command::Completions { shell } => complete::script(shell),
        Command::Clusters(c) => clusters::clusters(&cx, &c),
        Command::Api(args) => workspace::api(&cx, &args),
        Command::Whoami => workspace::whoami(&cx),
        Command::Exec(args) => workspace::exec(&cx, &args),
        Command::Serve(args) => serve::serve(&cx, &args),
        Command::Version(args) => version(args.output.as_deref()),
    }
}

/// Write `text` to stdout; a closed pipe (`brickauth token | head -c0`) is not an error.
pub fn print(text: &str) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// A write error other than a closed pipe; a closed pipe (`| head`) ends the output quietly.
pub fn ok_or_pipe(r: std::io::Result<()>) -> Result<()> {
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// `brickauth version [--output json]`: brickauth's own version. The Databricks SDKs read the
/// JSON form to decide which `auth token` flags they may pass (see docs/databricks.md).
fn version(output: Option<&str>) -> Result<ExitCode> {
    let v = brickauth_core::VERSION;
    match output {
        Some("json") => {
            let mut parts = v.split(['.', '-']).map(|p| p.parse::<u64>().unwrap_or(0));
            let (major, minor, patch) =
                (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0));
            let j = serde_json::json!({ "Version": v, "Major": major, "Minor": minor, "Patch": patch });
            print(&format!("{}\n", serde_json::to_string_pretty(&j)?))
        }
        None | Some("text") => print(&format!("brickauth {v}\n")),
        Some(other) => Err(crate::report::Reported::usage(format!(
            "unknown output format `{other}` for version: expected `json` or `text`"
        ))
        .into()),
    }
}
