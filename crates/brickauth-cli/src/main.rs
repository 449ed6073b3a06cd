//! `brickauth`: the command-line front end.
//!
//! Thin by design: parse arguments, load the profile, look the flow up by name, call the library
//! crates, print. Exit codes are decided in one place, [`report::exit_code`].
//!
//! The cached-token path (`brickauth token` with a valid cached token) is the hot path: it reads
//! the profile file and the cache file and prints — no async runtime, no HTTP client, no TLS set-up.
//! Those are built in [`context::runtime`] only when a request is about to be made.

mod cli;
mod cmd;
mod context;
mod harden;
mod output;
mod prompt;
mod report;
mod retries;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    harden::no_core_dumps();
    cmd::complete::answer_if_asked();
    let cli = cli::Cli::parse();
    report::init_tracing(cli.verbose);
    brickauth_flows::link();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => report::report(&err),
    }
}
