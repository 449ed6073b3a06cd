//! Get a token with the password flow, without a profile file.
//!
//! ```sh
//! BRICKAUTH_PASSWORD=… cargo run -p brickauth-flow-password --example password -- \
//!     <tenant> <client-id> <username> [authority-host]
//! ```
use brickauth_core::{AppConfig, Authority, FlowContext, GrantFlow, Interaction, SecretString, TokenClient};
use brickauth_flow_password::{PasswordFlow, PasswordOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [tenant, client_id, username, rest @ ..] = args.as_slice() else {
        return Err("usage: password <tenant> <client-id> <username> [authority-host]".into());
    };
    let mut app = AppConfig::new(tenant.parse()?, client_id.parse()?);
    if let Some(host) = rest.first() {
        app.authority = Authority::new(host, app.authority.tenant().clone())?;
    }
    let password = SecretString::from(std::env::var("BRICKAUTH_PASSWORD")?);
    let flow = PasswordFlow::new(PasswordOptions { app, username: username.clone(), password });
    let client = TokenClient::new()?;
    let token = flow.acquire(&FlowContext::new(&client, Interaction::NONE)).await?;
    eprintln!("signed in as {:?}", token.account.username);
    println!("{}", token.access_token.expose());
    Ok(())
}
