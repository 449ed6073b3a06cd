//! Get a token with a managed identity, without a profile file.
//!
//! ```sh
//! # On Azure (IMDS or App Service): the system-assigned identity, or a user-assigned one by client id.
//! cargo run -p brickauth-flow-managed-identity --example managed_identity -- [msi-client-id]
//! # Against the mock: BRICKAUTH_IMDS_ENDPOINT=http://127.0.0.1:PORT cargo run … --example managed_identity
//! ```
use brickauth_core::{FlowContext, GrantFlow, Interaction, TokenClient};
use brickauth_flow_managed_identity::{IdentitySelector, ManagedIdentityFlow, ManagedIdentityOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut options = ManagedIdentityOptions::from_env(|k| std::env::var(k).ok())?;
    if let Some(client_id) = std::env::args().nth(1) {
        options.identity = IdentitySelector::ClientId(client_id.parse()?);
    }
    let flow = ManagedIdentityFlow::new(options)?;
    let client = TokenClient::new()?;
    let token = flow.acquire(&FlowContext::new(&client, Interaction::NONE)).await?;
    eprintln!("token for {:?}, expires at {}", token.account.oid, token.access_token.expires_on);
    println!("{}", token.access_token.expose());
    Ok(())
}
