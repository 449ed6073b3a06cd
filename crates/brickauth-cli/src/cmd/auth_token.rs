//! `brickauth auth token [PROFILE | --profile P | --host H] [--force-refresh]`: the Databricks
//! CLI's token-helper interface, as the Databricks SDKs and Terraform call it.

use std::process::ExitCode;

use anyhow::Result;
use brickauth::TokenOptions;
use brickauth_core::Interaction;
use clap::{Args, Subcommand};
use clap_complete::ArgValueCompleter;

use crate::context::{self, Context};
use crate::output::{self, print};

/// `brickauth auth …`: the Databricks CLI's interface.
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Print {"access_token","token_type","expiry"} as `databricks auth token` does
    Token(AuthTokenArgs),
}

/// `brickauth auth token`. `--profile P` is the global `-p/--profile`, `--host H` the global `--host`.
#[derive(Debug, Args)]
pub struct AuthTokenArgs {
    /// Skip the cached access token
    #[arg(long)]
    pub force_refresh: bool,
    /// Accepted for compatibility with the Databricks CLI; ignored
    #[arg(long, value_name = "DURATION", hide = true)]
    pub timeout: Option<String>,
    /// Profile name, positional form
    #[arg(value_name = "PROFILE", add = ArgValueCompleter::new(crate::complete::profiles))]
    pub positional: Option<String>,
}

/// `brickauth auth token`: the profile named (positional or `--profile`), else the one whose
/// host is `--host` (the library's rules for several on one host), else the selected one.
pub fn run(cx: &Context, c: &AuthCommand) -> Result<ExitCode> {
    let AuthCommand::Token(args) = c;
    let profile = match (&args.positional, &cx.profile, &cx.host) {
        (Some(p), _, _) | (None, Some(p), _) => cx.named(p)?,
        (None, None, Some(h)) if cx.flow.is_none() => cx.auth().for_host(h)?,
        (None, None, _) => cx.profile()?,
    };
    let opts = TokenOptions { force_refresh: args.force_refresh, min_validity: context::MIN_VALIDITY };
    let source = cx.source(profile, Interaction::NONE)?;
    let t = context::acquire(&source, opts)?;
    print(&output::databricks_cli(&t))
}
