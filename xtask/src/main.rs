//! `cargo xtask <task>`: the workspace's automation.
//!
//! - `integration`: build the `brickauth` binary, start the mock Entra ID and Databricks servers
//!   on 127.0.0.1, run the binary against them for every flow, assert on what the mocks received,
//!   and scan every run's stderr for leaked secrets.
//! - `test`: everything CI checks (fmt, tidy, clippy, `cargo test --workspace`, integration).
//! - `tidy`: the architecture invariants (crate dependencies, no flow names outside flow crates,
//!   no unused dependency); also a `#[test]`.
//! - `demo`: the README's first command — a real token flow end to end against the bundled mock.
//! - `wheel`: the `pip install brickauth` wheel, built with maturin and tested in a fresh venv.
//! - `release-check`: the release workflow, Homebrew formula and winget manifests, rendered and
//!   validated.
//! - `cross`: the workspace built and tested for Windows under Wine, compile-checked for macOS.
//!
//! Every task's arguments are parsed here, by one `clap` parser; each module's `run` takes its
//! typed arguments. Nothing here sends traffic anywhere but loopback.

mod azcli;
mod bench;
mod bench_az;
mod bench_metadata;
mod browse;
mod cross;
mod demo;
mod dist;
mod fuzz;
mod harness;
mod integration;
mod it_accounts;
mod it_authcode;
mod it_azcli;
mod it_coalesce;
mod it_databricks;
mod it_faults;
mod it_flows;
mod it_keychain;
mod it_metadata;
mod it_oneway;
mod it_platform;
mod it_polish;
mod it_reach;
mod it_stepup;
mod it_transport;
mod it_trust;
mod it_trust_files;
mod it_zerosetup;
mod release;
mod sdk;
mod soak;
mod test;
mod tidy;
mod wheel;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand};

/// The workspace's automation: `cargo xtask <task>`.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", disable_version_flag = true)]
struct Xtask {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Every check CI makes: fmt, tidy, clippy, all tests, integration.
    Test,
    /// The architecture invariants: crate dependencies, no flow named outside its crate, no
    /// unused dependency.
    Tidy,
    /// Run the real binary against the mock servers (every flow), with a secret-leak scan.
    Integration {
        /// Run only the cases whose name contains FILTER (the leak scan always runs).
        filter: Option<String>,
    },
    /// Show a token flow end to end against the bundled mock identity provider.
    Demo,
    /// Whole-process figures of the release binary vs baselines -> target/bench-report.md.
    Bench(BenchArgs),
    /// The release binary to install, linked for the fastest start -> target/dist/.
    Dist {
        /// Put it in DIR instead.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// The `pip install brickauth` wheel (maturin, pinned), installed into a fresh venv and used
    /// with the mock and the Databricks SDK for Python -> target/wheel/dist/.
    Wheel {
        /// Put the wheel in DIR instead.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// The release configuration (workflow, Homebrew formula, winget manifests), checked; with
    /// --archives, the formula and manifests rendered with the archives' SHA-256.
    ReleaseCheck {
        /// The release archives (brickauth-VERSION-TARGET.tar.gz/.zip) to hash.
        #[arg(long, value_name = "DIR")]
        archives: Option<PathBuf>,
        /// Where to write the rendered formula and manifests (default target/release-check/).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// The repository URL the download links point into (default: Cargo.toml's `repository`).
        #[arg(long, value_name = "URL")]
        repository: Option<String>,
        /// Fail unless this tag is `v` + the version in Cargo.toml.
        #[arg(long, value_name = "TAG")]
        tag: Option<String>,
    },
    /// Windows: build, every test and the binary against the mocks under Wine; macOS: compile-check
    /// (installs mingw-w64, wine64, the std source and zig into target/cross/ when missing).
    Cross {
        /// Run only these steps (default: all; the tools are always made ready).
        #[arg(value_enum)]
        steps: Vec<cross::Step>,
    },
    /// Run every fuzz target (cargo-fuzz, stable).
    Fuzz(FuzzArgs),
    /// Concurrency soak: many processes calling `brickauth token` against short-lived tokens.
    Soak(SoakArgs),
    /// The Databricks SDK for Python uses brickauth as its token helper (needs python3 + PyPI).
    Sdk,
    /// The $BROWSER of interactive-flow runs: a loopback-only HTTP client.
    #[command(hide = true)]
    Browse {
        /// Answer the sign-in page with a forged `state`.
        #[arg(long)]
        forge: bool,
        /// Sign in as this user instead of the one the URL hints (another user's sign-in).
        #[arg(long = "as", value_name = "USER")]
        user: Option<String>,
        /// The sign-in URL.
        url: String,
    },
    /// The azure-cli flow against a real Azure CLI signed in to the mock, in a loopback-only
    /// network namespace (installs azure-cli into target/; skips without PyPI or unshare).
    Az {
        /// Rewrite fixtures/azure-cli/ from the real Azure CLI's files.
        #[arg(long)]
        record: bool,
        /// The bench's figures, measured inside the namespace (RUNS, the JSON file to write).
        #[arg(long, hide = true, num_args = 2, value_names = ["RUNS", "OUT"])]
        bench_inside: Option<Vec<String>>,
    },
    /// The bench's measuring process (spawns, reaps, prints one JSON object).
    #[command(hide = true, name = "__bench-runner")]
    BenchRunner {
        /// The series to run (JSON).
        spec: PathBuf,
    },
}

/// `cargo xtask bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Measured runs per command (after 3 warm-up rounds).
    #[arg(long, default_value_t = 30, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub runs: usize,
    /// Skip the MSAL / Databricks SDK for Python comparisons.
    #[arg(long)]
    pub no_python: bool,
    /// Measure this binary instead of building the release one.
    #[arg(long, value_name = "PATH")]
    pub bin: Option<PathBuf>,
    /// Also measure the cached `token` of this binary (an earlier build, with its own cache), in
    /// the same series, to show what a change did to the hot path.
    #[arg(long, value_name = "PATH")]
    pub baseline_bin: Option<PathBuf>,
}

/// `cargo xtask fuzz`.
#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// Seconds per target.
    #[arg(long, short, default_value_t = 60)]
    pub seconds: u64,
    /// The targets to run (default: all).
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(fuzz::TARGETS))]
    pub targets: Vec<String>,
}

/// `cargo xtask soak`.
#[derive(Debug, Args)]
pub struct SoakArgs {
    /// Concurrent worker threads, each running `brickauth token` as separate processes.
    #[arg(long, short = 'n', default_value_t = 64, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub processes: usize,
    /// Calls per worker.
    #[arg(long, short = 'm', default_value_t = 50, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub calls: usize,
    /// Seconds each token is usable for.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub lifetime: u64,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 60)]
    pub max_seconds: u64,
    /// Milliseconds between a worker's calls (default: 3 × lifetime / calls).
    #[arg(long)]
    pub interval_ms: Option<u64>,
    /// Issue plain `lifetime`-second tokens: every call redeems the refresh token.
    #[arg(long)]
    pub every_call_refreshes: bool,
    /// Build and soak the release binary.
    #[arg(long)]
    pub release: bool,
    /// Soak this binary instead of building one.
    #[arg(long, value_name = "PATH")]
    pub bin: Option<PathBuf>,
    /// Run with BRICKAUTH_SECRET_STORAGE set to this; `keychain` starts a private session bus with
    /// gnome-keyring's Secret Service for the run [default: the variable unset]
    #[arg(long, value_name = "STORAGE", value_parser = ["auto", "keychain", "keyring", "file"])]
    pub secret_storage: Option<String>,
}

fn main() -> ExitCode {
    let Xtask { task } = Xtask::parse();
    let result = match task {
        Task::Test => test::run(),
        Task::Tidy => tidy::run(),
        Task::Integration { filter } => integration::run(filter.as_deref()),
        Task::Demo => demo::run(),
        Task::Bench(args) => bench::run(&args),
        Task::BenchRunner { spec } => bench::runner(&spec),
        Task::Dist { out } => dist::run(out.as_deref()),
        Task::Wheel { out } => wheel::run(out.as_deref()),
        Task::ReleaseCheck { archives, out, repository, tag } => {
            release::run(&release::Args { archives, out, repository, tag })
        }
        Task::Cross { steps } => cross::run(&steps),
        Task::Fuzz(args) => fuzz::run(&args),
        Task::Soak(args) => soak::run(&args),
        Task::Sdk => sdk::run(),
        Task::Browse { forge, user, url } => browse::run(forge, user.as_deref(), &url),
        Task::Az { record, bench_inside } => azcli::run(&match (bench_inside, record) {
            (Some(b), _) => ["__bench".to_owned()].into_iter().chain(b).collect::<Vec<_>>(),
            (None, true) => vec!["--record".to_owned()],
            (None, false) => Vec::new(),
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_parser_is_consistent() {
        Xtask::command().debug_assert();
    }

    #[test]
    fn integration_takes_an_optional_filter() {
        let Xtask { task } = Xtask::try_parse_from(["xtask", "integration", "token"]).unwrap();
        assert!(matches!(task, Task::Integration { filter: Some(f) } if f == "token"));
        let Xtask { task } = Xtask::try_parse_from(["xtask", "integration"]).unwrap();
        assert!(matches!(task, Task::Integration { filter: None }));
    }

    #[test]
    fn cross_takes_steps_in_any_order() {
        let Xtask { task } = Xtask::try_parse_from(["xtask", "cross", "macos", "windows-e2e"]).unwrap();
        assert!(matches!(task, Task::Cross { steps } if steps == [cross::Step::Macos, cross::Step::WindowsE2e]));
        let Xtask { task } = Xtask::try_parse_from(["xtask", "cross"]).unwrap();
        assert!(matches!(task, Task::Cross { steps } if steps.is_empty()));
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(Xtask::try_parse_from(["xtask", "bench", "--runs", "0"]).is_err());
        assert!(Xtask::try_parse_from(["xtask", "fuzz", "no_such_target"]).is_err());
        assert!(Xtask::try_parse_from(["xtask", "soak", "--calls", "x"]).is_err());
        assert!(Xtask::try_parse_from(["xtask", "az", "--bench-inside", "3"]).is_err());
        assert!(Xtask::try_parse_from(["xtask", "frobnicate"]).is_err());
        assert!(Xtask::try_parse_from(["xtask", "cross", "linux"]).is_err());
    }
}
