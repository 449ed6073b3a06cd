//! An embedding program's view of the cache: build a [`TokenProvider`] from an [`AppConfig`] and
//! a flow factory, then ask it for tokens.
//!
//! A real program would build the flow with a flow crate (`PasswordFlow::new(options)`, …) or
//! the `brickauth-flows` registry. To stay free of flow crates, this example's flow only says
//! that it cannot sign in: with an empty cache the provider reports that; with a token cached by
//! `brickauth login` for the same identity, it prints how long the token stays valid.
//!
//! ```text
//! cargo run -p brickauth-cache --example provider -- <tenant> <client-id>
//! ```

use std::time::Duration;

use brickauth_cache::{AccountHint, TokenCache, TokenOptions, TokenProvider};
use brickauth_core::{
    AppConfig, AuthError, BoxFuture, FlowContext, GrantFlow, Interaction, MapSettings, TokenResponse, now,
};

/// Stands in for a real grant flow.
#[derive(Debug)]
struct NoFlow {
    app: AppConfig,
}

impl GrantFlow for NoFlow {
    fn app(&self) -> &AppConfig {
        &self.app
    }
    fn acquire<'a>(&'a self, _cx: &'a FlowContext<'a>) -> BoxFuture<'a, Result<TokenResponse, AuthError>> {
        Box::pin(async {
            Err(AuthError::NeedsUser("this example links no grant flow; sign in with `brickauth login`".into()))
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let tenant = args.next().unwrap_or_else(|| "contoso.onmicrosoft.com".into());
    let client_id = args.next().unwrap_or_else(|| "04f0c124-f2bc-4f59-8241-bf6df9866bbd".into());

    // The same settings a profile would carry; an embedder may fill them from anywhere.
    let settings = MapSettings::new("example").with("tenant_id", tenant).with("client_id", client_id);
    let app = AppConfig::from_settings(&settings)?;

    let flow_app = app.clone();
    let provider = TokenProvider::new(
        TokenCache::from_env()?,
        app,
        AccountHint::new("example"),
        // Called only when the cache cannot serve the request.
        Box::new(move || Ok(Box::new(NoFlow { app: flow_app.clone() }) as Box<dyn GrantFlow>)),
    )
    .with_interaction(Interaction::NONE);

    // The hot path first: no runtime work, no network.
    match provider.cached(Duration::from_secs(300))? {
        Some(t) => {
            println!("cached token for {}, valid for {} s", provider.identity(), t.access_token.remaining(now()))
        }
        None => println!("no token valid for 5 minutes is cached for {}", provider.identity()),
    }

    // Then silent acquisition, as a Databricks client would call it before each request.
    match provider.token(TokenOptions::default()).await {
        Ok(t) => println!("token valid for {} s (account {:?})", t.access_token.remaining(now()), t.account.username),
        Err(e) => println!("no token: {e}"),
    }
    Ok(())
}
