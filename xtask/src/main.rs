//! `cargo xtask <task>`: the workspace's automation.
//!
//! - `integration`: build the `brickauth` binary, start the mock Entra ID and Databricks servers
//!   on 127.0.0.1, run the binary against them for every flow, assert on what the mocks received,
//!   and scan every run's stderr for leaked secrets.
//! - `test`: everything CI checks (fmt, clippy, `cargo test --workspace`, integration).
//! - `demo`: the README's first command — a real token flow end to end against the bundled mock.
//!
//! Nothing here sends traffic anywhere but loopback.

mod azcli;
mod bench;
mod bench_az;
mod browse;
mod demo;
mod fuzz;
mod harness;
mod integration;
mod it_authcode;
mod it_azcli;
mod it_databricks;
mod it_faults;
mod it_flows;
mod it_metadata;
mod it_platform;
mod it_polish;
mod it_reach;
mod it_transport;
mod it_trust;
mod sdk;
mod soak;
mod test;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  test          every check CI makes: fmt, clippy, all tests, integration
  integration   run the real binary against the mock servers (every flow), with a secret-leak scan:
                [FILTER] runs only the cases whose name contains FILTER
  demo          show a token flow end to end against the bundled mock identity provider
  bench         whole-process figures of the release binary vs baselines -> target/bench-report.md
  fuzz          run every fuzz target (cargo-fuzz, stable): [--seconds N] (default 60 each)
  soak          concurrency soak: [--processes N] [--calls M] [--lifetime SECS] (64 x 50, 5 s)
  sdk           the Databricks SDK for Python uses brickauth as its token helper (needs python3 + PyPI)
  az            the azure-cli flow against a real Azure CLI signed in to the mock, in a loopback-only
                network namespace (installs azure-cli into target/; skips without PyPI or unshare):
                [--record] rewrites fixtures/azure-cli/
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("integration") => integration::run(&args[1..]),
        Some("browse") => browse::run(&args[1..]), // hidden: the $BROWSER of interactive-flow runs
        Some("demo") => demo::run(),
        Some("test") => test::run(),
        Some("bench") => bench::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("soak") => soak::run(&args[1..]),
        Some("sdk") => sdk::run(),
        Some("az") => azcli::run(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprint!("unknown task `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}
