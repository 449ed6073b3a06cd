//! Get a token with workload identity federation, without a profile file. The federated token
//! comes from $AZURE_FEDERATED_TOKEN_FILE, GitHub Actions or Azure Pipelines (see the crate docs).
//!
//! ```sh
//! AZURE_FEDERATED_TOKEN_FILE=/var/run/secrets/azure/tokens/azure-identity-token \
//!     cargo run -p brickauth-flow-workload-identity --example workload_identity -- <tenant> <client-id>
//! ```
use brickauth_core::{FlowContext, GrantFlow, Interaction, MapSettings, TokenClient};
use brickauth_flow_workload_identity::WorkloadIdentityFlow;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [tenant, client_id, rest @ ..] = args.as_slice() else {
        return Err("usage: workload_identity <tenant> <client-id> [authority-host]".into());
    };
    let mut settings =
        MapSettings::new("example").with("tenant_id", tenant.as_str()).with("client_id", client_id.as_str());
    if let Some(host) = rest.first() {
        settings = settings.with("authority_host", host.as_str());
    }
    let flow = WorkloadIdentityFlow::from_settings(&settings)?;
    let client = TokenClient::new()?;
    let token = flow.acquire(&FlowContext::new(&client, Interaction::NONE)).await?;
    eprintln!("expires at {}", token.access_token.expires_on);
    println!("{}", token.access_token.expose());
    Ok(())
}
