//! `brickauth inspect [TOKEN|-]`: a JWT's header and claims, not verified, and its expiry.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Result;
use brickauth_core::jwt;
use serde_json::{Value, json};

use crate::context::{self, Context};
use crate::output::{self, print};
use crate::report::Reported;

/// `brickauth inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The token, or `-` to read it from stdin [default: the selected profile's token]
    pub token: Option<String>,
}

/// `brickauth inspect`.
pub fn run(cx: &Context, args: &InspectArgs) -> Result<ExitCode> {
    let token = match args.token.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s.trim().to_owned()
        }
        Some(t) => t.trim().to_owned(),
        None => {
            let source = cx.source(cx.profile()?, context::interaction(false))?;
            context::acquire(&source, brickauth::TokenOptions::default())?.access_token.expose().to_owned()
        }
    };
    let decoded = jwt::decode(&token).map_err(|e| Reported::usage(e.to_string()))?;
    let mut out = json!({ "header": decoded.header, "claims": decoded.claims });
    if let Some(exp) = decoded.claims.get("exp").and_then(Value::as_i64) {
        let left = exp.saturating_sub(brickauth_core::now());
        out["expires"] = json!({
            "expires_on": exp,
            "local": output::local_rfc3339(exp),
            "expires_in": left,
            "expired": left <= 0,
        });
    }
    print(&format!("{}\n", serde_json::to_string_pretty(&out)?))
}
