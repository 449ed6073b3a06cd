//! One module per subcommand, each with its own argument types (as gh keeps them) and a `run`
//! that returns the exit code on success; errors go to [`crate::report`]. Commands never import
//! each other: what two share lives in `context`, `output`, `identity`, `az` or `service`. The
//! `profiles` family (`profiles.rs`, `profiles_edit.rs`, `databrickscfg.rs`) is one command.

pub mod account;
pub mod api;
pub mod app;
pub mod auth_token;
pub mod clusters;
pub mod databrickscfg;
pub mod exec;
pub mod flows;
pub mod inspect;
pub mod login;
pub mod logout;
pub mod profiles;
pub mod profiles_edit;
pub mod serve;
pub mod status;
pub mod token;
pub mod version;
pub mod whoami;
