//! Redeem a refresh token read from stdin and print the new access token; the rotated refresh
//! token goes to the file given as second argument (the old one is spent).
//!
//! ```sh
//! cargo run -p brickauth-flow-refresh-token --example redeem -- <tenant> <client-id> rotated.txt < rt.txt
//! ```
use brickauth_core::{AppConfig, ExposeSecret, FlowContext, GrantFlow, Interaction, SecretString, TokenClient};
use brickauth_flow_refresh_token::{RefreshTokenFlow, RefreshTokenOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [tenant, client_id, out] = args.as_slice() else {
        return Err("usage: redeem <tenant> <client-id> <rotated-token-file> < refresh-token".into());
    };
    let mut rt = String::new();
    std::io::stdin().read_line(&mut rt)?;
    let app = AppConfig::new(tenant.parse()?, client_id.parse()?);
    let flow =
        RefreshTokenFlow::new(RefreshTokenOptions { app, refresh_token: SecretString::from(rt.trim().to_owned()) });
    let client = TokenClient::new()?;
    let answer = flow.acquire(&FlowContext::new(&client, Interaction::NONE)).await?;
    if let Some(next) = &answer.refresh_token {
        std::fs::write(out, next.expose_secret())?;
    }
    println!("{}", answer.access_token.expose());
    Ok(())
}
