//! `brickauth inspect [TOKEN|-]`: a JWT's header and claims, not verified, and its expiry.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Result;
use brickauth_core::jwt;
use serde_json::{Value, json};

use crate::cli::InspectArgs;
use crate::cmd::print;
use crate::context::{self, Context};
use crate::output;
use crate::report::Reported;

pub fn inspect(cx: &Context, args: &InspectArgs) -> Result<ExitCode> {
    let token = match args.token.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s.trim().to_owned()
        }
        Some(t) => t.trim().to_owned(),
        None => {
            let profile = cx.profile(None)?;
            let (provider, profile) = context::provider(profile, context::interaction(false))?;
            let opts = brickauth_cache::TokenOptions::default();
            super::token::acquire(&provider, opts, &profile)?.access_token.expose().to_owned()
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
