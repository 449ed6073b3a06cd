//! Sign in interactively with the authorization code flow, without a profile file.
//!
//! ```sh
//! cargo run -p brickauth-flow-authorization-code --example login -- \
//!     <tenant> <client-id> [authority-host] [key=value …]
//! ```
//!
//! `key=value` pairs are the flow's profile keys (`redirect_uri=http://localhost:8400`,
//! `response_mode=query`, `browser=never`, `login_timeout=60`, `username=…`). With
//! `browser=never`, or when no browser can be opened, paste the redirected address on stdin.
//! The access token goes to stdout, everything else to stderr.
use std::io::IsTerminal as _;

use brickauth_core::{FlowContext, GrantFlow, Interaction, MapSettings, TokenClient};
use brickauth_flow_authorization_code::AuthorizationCodeFlow;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [tenant, client_id, rest @ ..] = args.as_slice() else {
        return Err("usage: login <tenant> <client-id> [authority-host] [key=value …]".into());
    };
    let mut settings = MapSettings::new("example").with("tenant_id", tenant).with("client_id", client_id);
    for arg in rest {
        settings = match arg.split_once('=') {
            Some((k, v)) => settings.with(k, v),
            None => settings.with("authority_host", arg),
        };
    }
    let flow = AuthorizationCodeFlow::from_settings(&settings)?;
    let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let client = TokenClient::new()?;
    let cx = FlowContext::new(&client, Interaction { terminal, browser: true });
    let token = flow.acquire(&cx).await?;
    eprintln!("signed in as {:?}", token.account.username);
    println!("{}", token.access_token.expose());
    Ok(())
}
