//! An Azure Databricks REST client that never holds a stale token.
//!
//! [`WorkspaceClient`] takes a [`TokenSource`](brickauth_core::TokenSource) — brickauth's
//! silent-acquisition provider, or any other implementation such as
//! [`StaticToken`](brickauth_core::StaticToken) — instead of a token, and asks it for a token before
//! every request. A long listing therefore keeps working past the hour an Entra access token lives.
//!
//! - [`config`]: [`WorkspaceConfig`], the workspace settings of a profile (host, resource id,
//!   tenant, management token, account and workspace ids), read once;
//! - [`account`]: account and unified hosts ([`HostType`]) and what a host says about itself at
//!   `/.well-known/databricks-config` ([`HostMetadata`]);
//! - [`client`]: the workspace client, the Azure workspace [`ResourceId`], generic requests, retries
//!   (429 and 503 with `Retry-After`, connection errors on idempotent methods, a total budget) and
//!   the one-time token refresh on 401;
//! - [`clusters`]: the typed clusters API, listed page by page so memory stays flat;
//! - [`scim`]: the signed-in user (`/api/2.0/preview/scim/v2/Me`);
//! - [`metadata_service`]: a loopback server speaking the Databricks metadata-service protocol, so
//!   SDK-based tools ask it for a fresh token whenever theirs nears expiry;
//! - [`tenant`]: finding a workspace's Entra tenant from its `/aad/auth` redirect (remembering it
//!   is the token cache's: `brickauth_cache::TenantMemory`);
//! - [`error`]: [`DatabricksError`], parsed from every error-body shape Databricks sends.
//!
//! This crate does not read profile files or caches and prints nothing; the CLI does that.
//!
//! ```no_run
//! # async fn demo() -> Result<(), brickauth_databricks::DatabricksError> {
//! use std::sync::Arc;
//! use brickauth_core::StaticToken;
//! use brickauth_databricks::{ListOptions, WorkspaceClient};
//!
//! let client = WorkspaceClient::new("adb-1234567890123456.7.azuredatabricks.net", Arc::new(StaticToken::bearer("…")))?;
//! let mut pages = client.clusters().list(ListOptions::default());
//! while let Some(page) = pages.next_page().await? {
//!     for c in page {
//!         println!("{} {}", c.cluster_id.unwrap_or_default(), c.cluster_name.unwrap_or_default());
//!     }
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
// Only the CLI prints; a library reports through types (tests may print).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod account;
pub mod client;
pub mod clusters;
pub mod config;
pub mod error;
pub mod metadata_service;
pub mod scim;
pub mod tenant;

pub use account::{HostMetadata, HostType, WORKSPACE_ID_HEADER, fetch_host_metadata};
pub use client::{ResourceId, WorkspaceClient};
pub use clusters::{Autoscale, ClusterDetails, ClusterPager, Clusters, ListOptions};
pub use config::WorkspaceConfig;
pub use error::DatabricksError;
pub use metadata_service::MetadataService;
/// The HTTP method type [`WorkspaceClient::request`] takes (re-exported from `reqwest`).
pub use reqwest::Method;
pub use scim::{CurrentUser, Email};
pub use tenant::discover_tenant;

/// The result type of this crate.
pub type Result<T, E = DatabricksError> = std::result::Result<T, E>;

/// The header that selects an Azure workspace by its ARM resource id (lets an Azure admin who is
/// not yet a workspace user sign in as workspace admin).
pub const RESOURCE_ID_HEADER: &str = "X-Databricks-Azure-Workspace-Resource-Id";

/// The header carrying a service principal's Azure service-management token.
pub const MANAGEMENT_TOKEN_HEADER: &str = "X-Databricks-Azure-SP-Management-Token";
