//! The persistent token cache of brickauth, and silent token acquisition on top of it.
//!
//! Two layers live here:
//!
//! - [`TokenCache`] is a handle on one cache directory holding `tokens.json`. It knows the file
//!   format, keeps the file private (directory 0700, file 0600 on Unix), writes it atomically (temp
//!   file, fsync, rename) under an advisory lock, and moves a corrupt file aside instead of failing
//!   or overwriting it. Entries are keyed by [`Identity`] — authority host, tenant, client id,
//!   sorted scopes — and account, never by profile name. A profile is served only the account it
//!   means: the one its `username` names, else the one its own flow last signed in (its
//!   binding); two profiles share a token only through those. The directory and files must be
//!   the user's own and are never opened through a symbolic link (Unix; see `docs/cache.md`).
//!   Refresh tokens are sealed in the file with a data key held by the OS keychain or the kernel
//!   keyring, or kept in clear, as the [`StoragePolicy`] (`BRICKAUTH_SECRET_STORAGE`) and the
//!   file's own record decide; the cached path never touches a key store.
//! - [`TokenProvider`] answers "give me a token" the way DESIGN §5 orders it: a cached access
//!   token valid long enough, else a refresh-token grant, else the profile's grant flow. It makes
//!   one token request however many tasks (an async mutex) or processes (the file lock plus a
//!   re-read) ask at once.
//! - [`TenantMemory`] ([`tenants`]) remembers the tenant each Databricks workspace belongs to, in
//!   `tenants.json` beside the tokens;
//! - [`HostMemory`] ([`hosts`]) remembers what Databricks hosts said about themselves
//!   (`/.well-known/databricks-config`: account, workspace, host type), in `hosts.json`.
//!
//! Every file in the cache directory is read and written through one module (`files.rs`): the
//! directory checked first (ours, 0700), files opened without following links and refused unless
//! ours, read with a size limit, written through an exclusively created temp file renamed into
//! place.
//!
//! What this crate is not: it does not read profile files, know any flow by name, name CLI
//! commands, or print. Flows come in built ([`TokenProvider::new`]) or as the settings they are
//! built from ([`TokenProvider::from_settings`]), built then only on a cache miss so that the
//! cached path never resolves a secret, runs a command, builds an HTTP client or starts a runtime.
//!
//! ```no_run
//! use std::time::Duration;
//! use brickauth_cache::{AccountHint, Identity, TokenCache};
//! use brickauth_core::{AppConfig, ClientId, Tenant};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tenant: Tenant = "contoso.onmicrosoft.com".parse()?;
//! let client: ClientId = "04f0c124-f2bc-4f59-8241-bf6df9866bbd".parse()?;
//! let app = AppConfig::new(tenant, client);
//! let cache = TokenCache::from_env()?;
//! if let Some(t) = cache.lookup(&Identity::of(&app), &AccountHint::new("dev"))? {
//!     println!("cached token valid for {} s", t.access_token.remaining(brickauth_core::now()));
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
// Only the CLI prints; a library reports through types (tests may print).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

mod cache;
mod error;
mod files;
mod format;
pub mod hosts;
mod identity;
mod provider;
mod secrets;
mod secure;
pub mod tenants;

pub use cache::{CacheLock, CacheView, CachedToken, DEFAULT_LOCK_TIMEOUT, Removed, TokenCache};
pub use error::{CacheError, ProviderError};
pub use hosts::HostMemory;
pub use identity::{AccountHint, Identity};
pub use provider::{COALESCE_WINDOW, TokenOptions, TokenProvider};
pub use secrets::{STORAGE_VARIABLE, Storage, StoragePolicy};
pub use tenants::TenantMemory;

/// The key stores a cache can keep its data key in (to pass a [`Memory`](brickauth_keychain::Memory)
/// store to [`TokenCache::with_key_stores`] in tests).
pub use brickauth_keychain as keychain;

use std::time::Duration;

/// The shortest validity a returned token may have: Azure Databricks rejects tokens with 30 s
/// left, so brickauth never hands out one with less than 40 s.
pub const MIN_VALIDITY_FLOOR: Duration = Duration::from_secs(40);

/// The default validity a cached token must still have to be returned without renewal (MSAL's
/// five minutes).
pub const DEFAULT_MIN_VALIDITY: Duration = Duration::from_secs(300);

/// Now, in milliseconds since the Unix epoch (0 for a clock before it): when a token is received,
/// and when a call for one starts.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
