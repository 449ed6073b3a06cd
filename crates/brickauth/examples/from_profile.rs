//! A token for a named profile in three lines, and the account it belongs to.
//!
//! ```text
//! cargo run -p brickauth --example from_profile -- [--config PROFILES.toml] PROFILE
//! ```
//!
//! Reads the profile files and variables exactly as the `brickauth` command does (`--config`,
//! else `$BRICKAUTH_CONFIG`, else the default file; then `~/.databrickscfg`). Prints the signed-in
//! account and the token's expiry; exits non-zero on any failure. `cargo xtask integration` runs
//! it against the bundled mock.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).collect::<Vec<_>>();
    let mut options = brickauth::Options::default();
    if let Some(i) = args.iter().position(|a| a == "--config") {
        args.remove(i);
        options.config = (i < args.len()).then(|| args.remove(i).into());
    }
    let Some(name) = args.first() else {
        eprintln!("usage: from_profile [--config PROFILES.toml] PROFILE");
        return ExitCode::from(2);
    };
    match token(brickauth::Auth::new(options), name).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("from_profile: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn token(auth: brickauth::Auth, name: &str) -> Result<(), brickauth::Error> {
    let source = auth.profile(name)?; // cached → refresh token → the profile's flow
    let token = source.token().await?;
    let who = token.account.username.as_deref().unwrap_or("a service principal");
    let left = token.access_token.expires_on
        - std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    println!("profile `{name}`: signed in as {who}; the token is valid for {} more minutes", left / 60);
    Ok(())
}
