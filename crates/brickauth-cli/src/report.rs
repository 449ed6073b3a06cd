//! Diagnostics: logging set-up, error reports and exit codes (DESIGN §4), in one place.
//!
//! Exit codes are the [`Exit`] enum, the only place they are numbered: 0 ok · 1 other failure
//! (I/O, network after retries) · 2 usage or profile error · 3 authentication failed or needs the
//! user · 4 Databricks API error · 126/127 `exec` could not run / find its program.

use std::fmt;
use std::process::ExitCode;

use brickauth_cache::{CacheError, ProviderError};
use brickauth_core::error::ErrorClass;
use brickauth_core::flow::RegistryError;
use brickauth_core::{AuthError, ConfigError};
use brickauth_databricks::DatabricksError;
use brickauth_profile::ProfileError;

/// Set up `tracing` to stderr: warnings by default, `-v` info, `-vv` debug, `-vvv` trace.
/// `BRICKAUTH_LOG` (an `EnvFilter` directive) overrides.
pub fn init_tracing(verbose: u8) {
    use tracing_subscriber::filter::LevelFilter;
    let level = match verbose {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbose >= 3)
        .without_time();
    match std::env::var("BRICKAUTH_LOG") {
        Ok(directive) if !directive.is_empty() => {
            builder.with_env_filter(tracing_subscriber::EnvFilter::new(directive)).init();
        }
        // Only our crates speak at -v/-vv: hyper and rustls at debug level are noise.
        _ if verbose > 0 && verbose < 3 => {
            let filter = tracing_subscriber::EnvFilter::new(format!("warn,brickauth={level}"));
            builder.with_env_filter(filter).init();
        }
        _ => builder.with_max_level(level).init(),
    }
}

/// How `brickauth` exits (DESIGN §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 1: any other failure: I/O, the network after retries, the cache file.
    Failure = 1,
    /// 2: a usage, profile or settings error: the user must change a flag or the profile.
    Usage = 2,
    /// 3: authentication failed or needs the user (`brickauth login`).
    Auth = 3,
    /// 4: the Databricks workspace answered with an error.
    Databricks = 4,
    /// 126: `exec` found its program but could not run it (as shells report it).
    CannotRun = 126,
    /// 127: `exec` did not find its program.
    NotFound = 127,
}

impl Exit {
    /// The process exit status.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// An error the command already rendered, with its exit code.
#[derive(Debug)]
pub struct Reported {
    /// The exit code.
    pub code: Exit,
    /// The full message.
    pub message: String,
}

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for Reported {}

impl Reported {
    /// A usage error (exit 2) with this message.
    pub fn usage(message: impl Into<String>) -> Reported {
        Reported { code: Exit::Usage, message: message.into() }
    }
}

/// The exit code for an error, by what it is.
pub fn exit_code(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if let Some(r) = cause.downcast_ref::<Reported>() {
            return r.code;
        }
        if cause.is::<ProfileError>() || cause.is::<ConfigError>() || cause.is::<RegistryError>() {
            return Exit::Usage;
        }
        if let Some(a) = cause.downcast_ref::<AuthError>() {
            return auth_code(a);
        }
        if let Some(p) = cause.downcast_ref::<ProviderError>() {
            return match p {
                ProviderError::Auth(a) => auth_code(a),
                ProviderError::Config(_) => Exit::Usage,
                ProviderError::NeedsLogin { .. } => Exit::Auth,
                _ => Exit::Failure,
            };
        }
        if let Some(d) = cause.downcast_ref::<DatabricksError>() {
            match databricks_code(d) {
                // The token source's own error, next in the chain, decides.
                None => continue,
                Some(code) => return code,
            }
        }
        if cause.is::<CacheError>() {
            return Exit::Failure;
        }
        if cause.is::<clap::Error>() {
            return Exit::Usage;
        }
    }
    Exit::Failure
}

/// 4 for what the workspace answered, 1 for the network, 2 for a bad host or resource id; `None`
/// for a token-source failure (decided by its cause).
fn databricks_code(d: &DatabricksError) -> Option<Exit> {
    match d {
        DatabricksError::Token(_) => None,
        DatabricksError::InvalidHost(_) | DatabricksError::InvalidResourceId(_) => Some(Exit::Usage),
        DatabricksError::Transport { .. } => Some(Exit::Failure),
        DatabricksError::RetriesExhausted { last, .. } => databricks_code(last),
        _ => Some(Exit::Databricks),
    }
}

fn auth_code(a: &AuthError) -> Exit {
    match a.class() {
        ErrorClass::Usage => Exit::Usage,
        ErrorClass::Auth => Exit::Auth,
        ErrorClass::Other => Exit::Failure,
    }
}

/// Print `err` to stderr and return its exit code.
pub fn report(err: &anyhow::Error) -> ExitCode {
    let code = exit_code(err);
    let mut msg = format!("brickauth: error: {err}");
    for cause in err.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(&format!("\n  caused by: {c}"));
        }
    }
    eprintln!("{msg}");
    code.into()
}
