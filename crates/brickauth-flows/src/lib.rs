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

pub use brickauth_flow_password as password;
pub use brickauth_flow_refresh_token as refresh_token;

/// Make sure every standard flow is linked (call once, before looking flows up).
pub fn link() {
    password::link();
    refresh_token::link();
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_standard_flow_is_registered_once() {
        super::link();
        let names: Vec<&str> = brickauth_core::flow::flows().iter().map(|f| f.name).collect();
        assert_eq!(names, ["password", "refresh-token"]);
        assert!(brickauth_core::flow::duplicates().is_empty());
    }
}
