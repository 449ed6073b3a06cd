//! Sign in with a device code, without a profile file.
//!
//! ```sh
//! cargo run -p brickauth-flow-device-code --example device_code -- <tenant> <client-id> [authority-host]
//! ```
use brickauth_core::{AppConfig, Authority, FlowContext, GrantFlow, Interaction, TokenClient};
use brickauth_flow_device_code::{DeviceCodeFlow, DeviceCodeOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [tenant, client_id, rest @ ..] = args.as_slice() else {
        return Err("usage: device_code <tenant> <client-id> [authority-host]".into());
    };
    let mut app = AppConfig::new(tenant.parse()?, client_id.parse()?);
    if let Some(host) = rest.first() {
        app.authority = Authority::new(host, app.authority.tenant().clone())?;
    }
    let flow = DeviceCodeFlow::new(DeviceCodeOptions::new(app));
    let client = TokenClient::new()?;
    let interaction = Interaction { terminal: true, browser: false };
    let token = flow.acquire(&FlowContext::new(&client, interaction)).await?;
    eprintln!("signed in as {:?}", token.account.username);
    println!("{}", token.access_token.expose());
    Ok(())
}
