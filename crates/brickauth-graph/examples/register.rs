//! Register an app for Azure Databricks in the mock tenant, as `brickauth app create` does:
//! `cargo run -p brickauth-graph --example register`.
//!
//! A real program hands [`Graph`] a token source for Microsoft Graph — the developer sign-on
//! client through an interactive flow — and the cloud's Graph host ([`brickauth_graph::host`]).

use std::sync::Arc;

use brickauth_core::http::Form;
use brickauth_core::{StaticToken, TokenClient};
use brickauth_graph::{Consent, Graph};
use brickauth_mock::{ALICE, ALICE_PASSWORD, AZURE_CLI_CLIENT_ID, MockConfig, MockEntra};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = MockConfig::default();
    config.clients.push(AZURE_CLI_CLIENT_ID.to_owned());
    let entra = MockEntra::start_with(config).await;
    // A Graph token for the mock's Alice (a password grant keeps the example unattended).
    let form = Form::new()
        .field("client_id", AZURE_CLI_CLIENT_ID)
        .field("grant_type", "password")
        .field("username", ALICE)
        .secret("password", &ALICE_PASSWORD.to_owned().into())
        .field("scope", brickauth_graph::scope(brickauth_core::Cloud::Public));
    let token = TokenClient::new()?.token(&entra.token_endpoint().parse()?, &form, false).await?;
    let graph = Graph::new(&entra.uri(), Arc::new(StaticToken(token.access_token)))?;

    let done = graph.register_databricks_app("brickauth example", true).await?;
    let consent = match done.consent {
        Consent::Granted | Consent::AlreadyGranted => "granted".to_owned(),
        Consent::NotAsked => "not asked".to_owned(),
        Consent::Failed(e) => format!("refused: {e}"),
        _ => "unknown".to_owned(),
    };
    eprintln!("tenant_id = {}\nclient_id = {}\nconsent: {consent}", done.tenant.id, done.app.app_id);
    Ok(())
}
