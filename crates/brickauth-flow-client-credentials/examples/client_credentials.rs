//! Get a token for a service principal, without a profile file.
//!
//! ```sh
//! ARM_CLIENT_SECRET=… cargo run -p brickauth-flow-client-credentials --example client_credentials -- \
//!     <tenant> <client-id> [authority-host]
//! # or with a certificate (PEM file holding certificate and key):
//! BRICKAUTH_CERT=sp.pem cargo run -p brickauth-flow-client-credentials --example client_credentials -- <tenant> <client-id>
//! ```
use std::path::Path;

use brickauth_core::{AppConfig, Authority, FlowContext, GrantFlow, Interaction, SecretString, TokenClient};
use brickauth_flow_client_credentials::{
    AssertionAlg, Certificate, ClientCredential, ClientCredentialsFlow, ClientCredentialsOptions,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [tenant, client_id, rest @ ..] = args.as_slice() else {
        return Err("usage: client_credentials <tenant> <client-id> [authority-host]".into());
    };
    let mut app = AppConfig::new(tenant.parse()?, client_id.parse()?);
    if let Some(host) = rest.first() {
        app.authority = Authority::new(host, app.authority.tenant().clone())?;
    }
    let credential = match std::env::var("BRICKAUTH_CERT") {
        Ok(pem) => ClientCredential::Certificate(Certificate::from_files(
            Path::new(&pem),
            Path::new(&pem),
            AssertionAlg::Ps256,
        )?),
        Err(_) => ClientCredential::Secret(SecretString::from(std::env::var("ARM_CLIENT_SECRET")?)),
    };
    let flow = ClientCredentialsFlow::new(ClientCredentialsOptions::new(app, credential));
    let client = TokenClient::new()?;
    let token = flow.acquire(&FlowContext::new(&client, Interaction::NONE)).await?;
    eprintln!("expires at {}", token.access_token.expires_on);
    println!("{}", token.access_token.expose());
    Ok(())
}
