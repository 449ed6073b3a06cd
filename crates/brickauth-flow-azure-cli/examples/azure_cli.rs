//! Get a token from the Azure CLI's sign-in (run `az login` first), without a profile file.
//!
//! ```sh
//! cargo run -p brickauth-flow-azure-cli --example azure_cli -- [tenant]
//! ```
use brickauth_core::{FlowContext, GrantFlow, Interaction, TokenClient};
use brickauth_flow_azure_cli::{AzureCliFlow, AzureCliOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tenant = match std::env::args().nth(1) {
        Some(t) => Some(t.parse()?),
        None => None,
    };
    let flow = AzureCliFlow::new(AzureCliOptions { tenant, ..AzureCliOptions::default() })?;
    let client = TokenClient::new()?;
    let token = flow.acquire(&FlowContext::new(&client, Interaction::NONE)).await?;
    eprintln!("signed in as {:?}, expires at {}", token.account.username, token.access_token.expires_on);
    println!("{}", token.access_token.expose());
    Ok(())
}
