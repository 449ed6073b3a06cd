//! A brickauth profile as an `azure_core` `TokenCredential`: what any crate of the Azure SDK for
//! Rust takes (`Arc<dyn TokenCredential>`), with brickauth's flows, persistent cache and single
//! flight behind it.
//!
//! ```text
//! cargo run -p brickauth --features azure-core --example azure_core -- [--config PROFILES.toml] PROFILE [SCOPE…]
//! ```
//!
//! Prints the token's expiry for the profile's own scopes (or for SCOPEs, e.g.
//! `https://management.azure.com/.default`); exits non-zero on any failure.

use std::process::ExitCode;
use std::sync::Arc;

use azure_core::credentials::TokenCredential;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).collect::<Vec<_>>();
    let mut options = brickauth::Options::default();
    if let Some(i) = args.iter().position(|a| a == "--config") {
        args.remove(i);
        options.config = (i < args.len()).then(|| args.remove(i).into());
    }
    let Some((name, scopes)) = args.split_first() else {
        eprintln!("usage: azure_core [--config PROFILES.toml] PROFILE [SCOPE…]");
        return ExitCode::from(2);
    };
    let credential: Arc<dyn TokenCredential> = match brickauth::Auth::new(options).profile(name) {
        Ok(source) => Arc::new(source),
        Err(e) => {
            eprintln!("azure_core: {e}");
            return ExitCode::FAILURE;
        }
    };
    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
    match credential.get_token(&scopes, None).await {
        Ok(token) => {
            println!("profile `{name}`: a token valid until {}", token.expires_on);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("azure_core: {e}");
            ExitCode::FAILURE
        }
    }
}
