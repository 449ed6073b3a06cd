//! Core types for brickauth: Microsoft Entra ID access tokens for Azure Databricks.
//!
//! This crate holds what every other brickauth crate shares, and decides no file to touch (it
//! reads only a file its caller names, through [`file`](mod@file)):
//!
//! - [`token`]: [`AccessToken`] and the parsed Entra v2.0 [`TokenResponse`];
//! - [`app`]: validated identifiers ([`Tenant`], [`ClientId`], [`Scopes`]) and the [`Authority`]
//!   (cloud → host, tenant, endpoints; clear-text HTTP only to loopback);
//! - [`assertion`]: the client-credentials grant's form, with a secret or a JWT client assertion;
//! - [`flow`]: the [`GrantFlow`] plugin trait and its `inventory` registry;
//! - [`settings`]: the key/value view of a profile that flows are built from;
//! - [`http`]: the token-endpoint client (form POST, timeouts, retries honouring `Retry-After`);
//! - [`retry`]: the one retry engine (a classify callback, budgets per kind, a retry observer);
//! - [`text`]: server text made safe to show (escape sequences, control characters, secrets);
//! - [`file`](mod@file): bounded reads of a file the caller names (regular files only, a size limit);
//! - [`paths`]: the one home-directory rule and `~` expansion;
//! - [`process`]: a user's command line for the platform's shell; on Windows `PATHEXT` and Job objects;
//! - [`error`]: typed errors, Entra's error body and one-line hints for common AADSTS codes;
//! - [`jwt`]: reading (not verifying) a JWT's header and claims.
//!
//! Secrets are [`SecretString`]s: their `Debug` output is redacted and they have no `Display`.
//!
//! ```
//! use brickauth_core::{AppConfig, MapSettings};
//!
//! let settings = MapSettings::new("example")
//!     .with("tenant_id", "contoso.onmicrosoft.com")
//!     .with("client_id", "04f0c124-f2bc-4f59-8241-bf6df9866bbd");
//! let app = AppConfig::from_settings(&settings).unwrap();
//! assert_eq!(
//!     app.authority.token_endpoint().as_str(),
//!     "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
//! );
//! ```
#![warn(missing_docs)]
// Only the CLI prints; a library reports through types (tests may print).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod app;
pub mod assertion;
pub mod error;
pub mod file;
pub mod flow;
pub mod grants;
pub mod hints;
pub mod http;
pub mod jwt;
pub mod paths;
pub mod process;
pub mod prompt;
pub mod retry;
pub mod settings;
pub mod source;
pub mod text;
pub mod token;

pub use app::{AppConfig, Authority, ClientId, Cloud, DATABRICKS_RESOURCE, DATABRICKS_SCOPE, Scopes, Tenant};
pub use error::{AuthError, EntraError};
pub use flow::{BoxFuture, FlowContext, FlowSpec, GrantFlow, Interaction};
pub use http::{HttpConfig, TokenClient};
pub use prompt::Prompt;
pub use retry::{RetryEvent, RetryObserver, RetryPolicy};
pub use secrecy::{ExposeSecret, SecretString};
pub use settings::{ConfigError, KeySpec, MapSettings, Settings};
pub use source::{StaticToken, TokenSource};
pub use token::{AccessToken, Account, TokenResponse};

// Flow crates register with `brickauth_core::inventory::submit!` without depending on it directly.
#[doc(hidden)]
pub use inventory;

/// The version string sent as `User-Agent: brickauth/<version>`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The candidate nearest to `wanted` (Jaro-Winkler similarity ≥ 0.8), for "did you mean" hints.
pub fn nearest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (similarity(wanted, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Jaro-Winkler, except that one edit (a swapped pair included: `dve` for `dev`) always counts as
/// close: Jaro-Winkler alone scores short names with a transposition low (`dve`/`dev`: 0.6).
fn similarity(wanted: &str, candidate: &str) -> f64 {
    let jw = strsim::jaro_winkler(wanted, candidate);
    if wanted.chars().count() >= 3 && strsim::osa_distance(wanted, candidate) <= 1 { jw.max(0.8) } else { jw }
}

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
