//! [`Error`]: everything that can go wrong between "options given" and "token in hand".
//!
//! Each variant keeps the typed error of the crate that failed, so a program can tell a profile
//! mistake (the user must edit a file) from an authentication failure (a person must sign in)
//! from the network. The library never decides words for a person beyond the message, and never
//! an exit code: the `brickauth` binary maps variants to its exit codes in one place.

use brickauth_cache::{CacheError, ProviderError};
use brickauth_core::ConfigError;
use brickauth_databricks::DatabricksError;
use brickauth_profile::ProfileError;

/// What failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The profile file, `~/.databrickscfg` or a profile in them is wrong, missing or ambiguous.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A setting (a profile key, an environment variable) has a value that cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The token cache could not be read or written.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// No token: the flow, the refresh or the cache's account checks failed.
    #[error(transparent)]
    Token(#[from] ProviderError),
    /// A workspace request failed (or the workspace settings are malformed).
    #[error(transparent)]
    Databricks(#[from] DatabricksError),
    /// The options asked for contradict each other or are not allowed (clear text to a
    /// non-loopback host, a flow together with a profile name, several profiles for one host).
    #[error("{0}")]
    Usage(String),
    /// A profile without `tenant_id` names a workspace whose tenant could not be found.
    #[error("profile `{profile}` has no tenant_id, and finding it from the workspace failed: {source}")]
    TenantDiscovery {
        /// The profile.
        profile: String,
        /// Why the workspace did not tell.
        #[source]
        source: DatabricksError,
    },
    /// The async runtime for blocking calls could not be started.
    #[error("cannot start an async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// A blocking method was called from inside an async runtime, where it would deadlock.
    #[error("a blocking brickauth method was called inside an async runtime: call its async twin instead")]
    InsideRuntime,
}

impl Error {
    /// The profile a person must sign in with, when that is what this error means.
    pub fn needs_login(&self) -> Option<&str> {
        match self {
            Error::Token(p) => p.needs_login(),
            _ => None,
        }
    }
}

/// A `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
