//! Mock Microsoft Entra ID (v2.0 endpoints) and a mock Azure Databricks workspace, served on
//! `127.0.0.1` only.
//!
//! The mocks are used by unit tests of the other brickauth crates, by `cargo xtask integration`
//! (which starts them in-process and runs the real `brickauth` binary against them) and by the
//! demo binary `brickauth-mock`. They are built on [`wiremock::MockServer`] with stateful
//! responders, so that the token endpoint behaves like Entra's rather than like a fixture:
//! passwords are checked, refresh tokens rotate and can be used only once, access tokens expire,
//! and the workspace accepts exactly the tokens the mock Entra issued and that have not expired.
//!
//! ```no_run
//! # async fn demo() {
//! use brickauth_mock::{MockDatabricks, MockEntra};
//! let entra = MockEntra::start().await;
//! let workspace = MockDatabricks::start(entra.registry()).await;
//! println!("authority_host = {}, host = {}", entra.uri(), workspace.uri());
//! # }
//! ```
//!
//! What this crate is not: a security boundary, a JWT signer (tokens carry a random "signature"),
//! or a complete Entra. Neither mock ever opens a connection to anything; they only listen on
//! loopback.
//!
//! Extension points: a new grant type is one match arm in `entra/grants.rs` plus one
//! `grant_*` function; a new workspace endpoint is one match arm in `databricks.rs` plus one
//! handler over the data `WorkspaceState` holds.
#![warn(missing_docs)]
// Only the CLI prints; a library reports through types (tests may print).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

mod answer;
mod clock;
mod config;
pub mod constants;
mod databricks;
mod entra;
mod failure;
mod ids;
mod imds;
pub mod jwt;
mod record;
mod registry;

pub use config::{MockConfig, MockUser};
pub use constants::{ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD, WRONG_PASSWORD};
pub use databricks::oidc::OIDC_TOKEN_PATH;
pub use databricks::{ACCOUNT_ID, MockDatabricks, WORKSPACE_ID};
pub use entra::MockEntra;
pub use entra::client_credentials::{
    ConfidentialClient, FEDERATED_AUDIENCE, FEDERATED_ISSUER, FEDERATED_SUBJECT, SP_CLIENT_ID, SP_CLIENT_SECRET,
    federated_token,
};
pub use entra::device::DeviceStep;
pub use entra::graph::{DATABRICKS_USER_IMPERSONATION, GraphPrivileges};
pub use failure::Failure;
pub use imds::{APP_SERVICE_TOKEN_PATH, IMDS_TOKEN_PATH, MockIdentity, MockImds};
pub use record::RecordedRequest;
pub use registry::{TokenInfo, TokenRegistry};

/// Application id of the AzureDatabricks first-party resource; the audience of every access
/// token the mock issues.
pub const DATABRICKS_RESOURCE: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d";

/// The mock tenant. Every token carries it as `tid`, whatever tenant segment the request used.
pub const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// The one public client application registered in the default [`MockConfig`].
pub const CLIENT_ID: &str = "04f0c124-f2bc-4f59-8241-bf6df9866bbd";

/// The Azure CLI's public client id. Not registered by default: add it to
/// [`MockConfig::clients`] to let a real `az login` sign in to the mock.
pub const AZURE_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// Public clients of the family of client ids (FOCI), as in Entra: their token answers carry
/// `"foci": "1"`, a refresh token issued to one of them is redeemable by any other, and stays
/// redeemable after use (as Entra's do; the mock retires other clients' on first use).
pub const FAMILY_CLIENTS: &[&str] = &[AZURE_CLI_CLIENT_ID];

/// Whether `client_id` belongs to the family of client ids.
pub(crate) fn is_family(client_id: &str) -> bool {
    FAMILY_CLIENTS.iter().any(|c| c.eq_ignore_ascii_case(client_id))
}

/// Locks a mock's state.
///
/// A poisoned mutex means an earlier request handler panicked while holding the lock. The state
/// is plain data (lists and maps) that stays usable, and a test is better served by the mock
/// carrying on than by every later request failing with an unrelated panic, so poisoning is
/// ignored rather than propagated.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
