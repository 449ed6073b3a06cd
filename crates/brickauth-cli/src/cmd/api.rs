//! `brickauth api METHOD PATH [--json BODY|@FILE] [--query k=v]…`: any Databricks REST call,
//! JSON in and out, with the selected profile's token.
//!
//! `{account_id}` in PATH is the profile's `account_id` (else what the host's metadata names):
//! `brickauth -p acct api GET /api/2.0/accounts/{account_id}/scim/v2/Users` on an account host.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use brickauth_databricks::Method;
use brickauth_databricks::account::{ACCOUNT_ID_PLACEHOLDER, fill_account_id};
use clap::Args;

use crate::context::{self, Context};
use crate::output::print;
use crate::report::Reported;

/// `brickauth api`.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// HTTP method (GET, POST, PUT, PATCH, DELETE, …)
    pub method: String,
    /// Path under the host, e.g. /api/2.1/clusters/list; `{account_id}` is the profile's account_id
    pub path: String,
    /// JSON request body, or @FILE to read it from a file (@- for stdin)
    #[arg(long, value_name = "BODY|@FILE")]
    pub json: Option<String>,
    /// A query parameter; repeat for more
    #[arg(long, value_name = "KEY=VALUE")]
    pub query: Vec<String>,
}

/// `brickauth api`.
pub fn run(cx: &Context, args: &ApiArgs) -> Result<ExitCode> {
    let usage = |m: String| anyhow::Error::from(Reported::usage(m));
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| usage(format!("`{}` is not an HTTP method", args.method)))?;
    if !args.path.starts_with('/') {
        return Err(usage(format!("the path `{}` must start with `/` (e.g. /api/2.1/clusters/list)", args.path)));
    }
    let mut query = Vec::new();
    for q in &args.query {
        let Some((k, v)) = q.split_once('=') else {
            return Err(usage(format!("--query `{q}`: expected KEY=VALUE")));
        };
        query.push((k.to_owned(), v.to_owned()));
    }
    let body = match &args.json {
        None => None,
        Some(text) => {
            let raw = match text.strip_prefix('@') {
                Some("-") => std::io::read_to_string(std::io::stdin()).context("cannot read the body from stdin")?,
                Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?,
                None => text.clone(),
            };
            let v: serde_json::Value =
                serde_json::from_str(&raw).map_err(|e| usage(format!("--json: not valid JSON: {e}")))?;
            Some(v)
        }
    };
    let needs_account = args.path.contains(ACCOUNT_ID_PLACEHOLDER);
    let (client, profile, ws) = cx.client_resolved(needs_account)?;
    let path = match (needs_account, ws.account_id()) {
        (false, _) => args.path.clone(),
        (true, Some(account)) => fill_account_id(&args.path, account),
        (true, None) => {
            return Err(Reported::usage(format!(
                "profile `{}` has no account_id, and `{ACCOUNT_ID_PLACEHOLDER}` in the path needs one: add \
                 `account_id = \"<GUID>\"` to it (the account console shows the id), or write the id in the path",
                profile.name()
            ))
            .into());
        }
    };
    let v = context::run(&profile, async { Ok(client.request(method, &path, &query, body.as_ref()).await?) })?;
    print(&format!("{}\n", serde_json::to_string_pretty(&v)?))
}
