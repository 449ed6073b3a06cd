//! An embedding program's view of brickauth: a real grant flow (the password flow), the token
//! cache and [`TokenProvider`] together, against the mock Entra ID of `brickauth-mock` — no
//! profile file, no CLI, no network beyond 127.0.0.1.
//!
//! ```text
//! cargo run -p brickauth-cache --example cached_password
//! ```
//!
//! It signs alice in once (one token request), then answers twice more from the cache (no
//! request): first on the hot path ([`TokenProvider::cached`]: no runtime work, no lock, no HTTP
//! client), then through [`TokenProvider::token`], as a Databricks client would call it before
//! every request. It exits non-zero if the mock saw anything other than that one request, so
//! `cargo xtask integration` runs it as a check.
//!
//! A real program would point `AppConfig` at its tenant and take the password from wherever it
//! keeps secrets; everything else stays the same.

use std::process::ExitCode;
use std::time::Duration;

use brickauth_cache::{AccountHint, TokenCache, TokenOptions, TokenProvider};
use brickauth_core::{AppConfig, Authority, ClientId, Scopes, SecretString, now};
use brickauth_flow_password::{PasswordFlow, PasswordOptions};
use brickauth_mock::{MockConfig, MockEntra};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    // The mock tenant and its first user (alice, no MFA).
    let config = MockConfig::default();
    let alice = config.users[0].clone();
    let entra = MockEntra::start_with(config).await;

    // What the flow requests tokens for: authority (here the mock), tenant, client id, scopes.
    let app = AppConfig {
        authority: Authority::new(&entra.uri(), "organizations".parse()?)?,
        client_id: brickauth_mock::CLIENT_ID.parse::<ClientId>()?,
        scopes: Scopes::databricks(),
    };
    let flow = PasswordFlow::new(PasswordOptions {
        app,
        username: alice.username.clone(),
        password: SecretString::from(alice.password.clone()),
    });

    // A private cache directory for this run (a real program: `TokenCache::from_env()`).
    let dir = tempfile::tempdir()?;
    let cache = TokenCache::at(dir.path().join("cache"));
    // The account the provider serves: named, so a sign-in as anyone else would be refused.
    let account = AccountHint::new("example").with_username(&alice.username);
    let provider = TokenProvider::new(cache, account, Box::new(flow));

    // 1. Nothing is cached yet: the provider runs the flow and stores the answer.
    assert!(provider.cached(Duration::from_secs(300))?.is_none());
    let first = provider.token(TokenOptions::default()).await?;
    println!(
        "signed in as {} through the password flow; token valid for {} s",
        first.account.username.as_deref().unwrap_or("?"),
        first.access_token.remaining(now())
    );

    // 2. The hot path: a file read, no request.
    let cached = provider.cached(Duration::from_secs(300))?.ok_or("the token was not cached")?;
    // 3. Silent acquisition: still the cached token.
    let again = provider.token(TokenOptions::default()).await?;
    let same = cached.access_token.expose() == first.access_token.expose()
        && again.access_token.expose() == first.access_token.expose();
    let requests = entra.token_request_count();
    println!(
        "answered twice more from {}; the mock saw {requests} token request(s)",
        provider.cache().path().display()
    );

    if same && requests == 1 {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("expected one token request and the same token three times (same token: {same})");
        Ok(ExitCode::FAILURE)
    }
}
