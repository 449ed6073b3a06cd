//! `brickauth`: the command-line front end, a client of the `brickauth` library crate.
//!
//! Thin by design: parse arguments, hand the global options to the library ([`context`]), run
//! one command module, print. Exit codes are decided in one place, [`report::exit_code`].
//!
//! The cached-token path (`brickauth token` with a valid cached token) is the hot path: it reads
//! the profile file and the cache file and prints — no async runtime, no HTTP client, no TLS set-up.
//! The library starts its one runtime only when a request is about to be made.
//!
//! Layers, each importing only those below it: `main` → `cli` (parsing) → `cmd/*` (one module per
//! command) → `context`, `service`, `az`, `identity`, `output`, `prompt`, `retries`, `report`.

mod az;
mod cli;
mod cmd;
mod complete;
mod context;
mod harden;
mod identity;
mod output;
mod prompt;
mod report;
mod retries;
mod service;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use crate::cli::{Cli, Command};
use crate::cmd::*;
use crate::context::Context;

fn main() -> ExitCode {
    harden::no_core_dumps();
    cli::answer_if_asked();
    let cli = Cli::parse();
    report::init_tracing(cli.verbose);
    brickauth_flows::link();
    match run(cli) {
        Ok(code) => code,
        Err(err) => report::report(&err),
    }
}

/// Run the parsed command line.
fn run(cli: Cli) -> Result<ExitCode> {
    let cx = Context::new(cli.config, cli.profile, cli.flow, cli.host);
    match cli.command {
        Command::Token(args) => token::run(&cx, &args),
        Command::Login(args) => login::run(&cx, &args),
        Command::Logout(args) => logout::run(&cx, &args),
        Command::Auth(c) => auth_token::run(&cx, &c),
        Command::Account(c) => account::run(&cx, &c),
        Command::App(c) => app::run(&cx, &c),
        Command::Flows(args) => flows::run(&args),
        Command::Profiles(c) => profiles::run(&cx, &c),
        Command::Inspect(args) => inspect::run(&cx, &args),
        Command::Status(args) => status::status(&cx, &args),
        Command::Completions { shell } => complete::script(shell),
        Command::Clusters(c) => clusters::clusters(&cx, &c),
        Command::Api(args) => api::run(&cx, &args),
        Command::Whoami(args) => whoami::run(&cx, &args),
        Command::Exec(args) => exec::run(&cx, &args),
        Command::Serve(args) => serve::run(&cx, &args),
        Command::Version(args) => version::run(&args),
    }
}
