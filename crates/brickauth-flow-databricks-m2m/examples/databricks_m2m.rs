//! Get a workspace token for a Databricks-managed service principal, without a profile file.
//!
//! ```sh
//! DATABRICKS_CLIENT_SECRET=… cargo run -p brickauth-flow-databricks-m2m --example databricks_m2m -- \
//!     <host> <client-id>
//! ```
use brickauth_core::{FlowContext, GrantFlow, Interaction, SecretString, TokenClient};
use brickauth_flow_databricks_m2m::{ClientAuth, DatabricksM2mFlow, DatabricksM2mOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [host, client_id, ..] = args.as_slice() else {
        return Err("usage: databricks_m2m <host> <client-id>".into());
    };
    let flow = DatabricksM2mFlow::new(DatabricksM2mOptions {
        host: host.parse()?,
        client_id: client_id.parse()?,
        client_secret: SecretString::from(std::env::var("DATABRICKS_CLIENT_SECRET")?),
        scopes: "all-apis".parse()?,
        client_auth: ClientAuth::Basic,
    })?;
    let client = TokenClient::new()?;
    let token = flow.acquire(&FlowContext::new(&client, Interaction::NONE)).await?;
    eprintln!("expires at {}", token.access_token.expires_on);
    println!("{}", token.access_token.expose());
    Ok(())
}
