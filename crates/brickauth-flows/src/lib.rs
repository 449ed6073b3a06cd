//! The standard brickauth grant flows, linked.
//!
//! Flow crates register themselves with `inventory`, but a crate nothing references is dropped by
//! the linker along with its registration. This facade references each one (one line per flow in
//! [`link`]); the CLI, the tests, the benches and embedders who want every flow depend on it and
//! call [`link`] once. To add a flow: add its crate to `Cargo.toml` and one line below — nothing
//! else in the workspace names it.
//!
//! ```
//! brickauth_flows::link();
//! assert!(brickauth_core::flow::find("password").is_ok());
//! ```
#![warn(missing_docs)]
// Only the CLI prints; a library reports through types (tests may print).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub use brickauth_flow_authorization_code as authorization_code;
pub use brickauth_flow_azure_cli as azure_cli;
pub use brickauth_flow_client_credentials as client_credentials;
pub use brickauth_flow_databricks_m2m as databricks_m2m;
pub use brickauth_flow_device_code as device_code;
pub use brickauth_flow_managed_identity as managed_identity;
pub use brickauth_flow_password as password;
pub use brickauth_flow_refresh_token as refresh_token;
pub use brickauth_flow_workload_identity as workload_identity;

/// Make sure every standard flow is linked (call once, before looking flows up).
pub fn link() {
    authorization_code::link();
    azure_cli::link();
    client_credentials::link();
    databricks_m2m::link();
    device_code::link();
    managed_identity::link();
    password::link();
    refresh_token::link();
    workload_identity::link();
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_standard_flow_is_registered_once() {
        super::link();
        let names: Vec<&str> = brickauth_core::flow::flows().iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "authorization-code",
                "azure-cli",
                "client-credentials",
                "databricks-m2m",
                "device-code",
                "managed-identity",
                "password",
                "refresh-token",
                "workload-identity"
            ]
        );
        assert!(brickauth_core::flow::duplicates().is_empty());
    }
}
