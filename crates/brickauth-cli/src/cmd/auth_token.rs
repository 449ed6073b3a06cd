//! `brickauth auth token [PROFILE | --profile P | --host H [--account-id A] [--workspace-id W]]
//! [--force-refresh]`: the Databricks CLI's token-helper interface, as the Databricks SDKs and
//! Terraform call it (an SDK configured for an account host passes `--account-id`).

use std::process::ExitCode;

use anyhow::Result;
use brickauth::TokenOptions;
use brickauth::host::Target;
use brickauth_core::Interaction;
use clap::{Args, Subcommand};
use clap_complete::ArgValueCompleter;

use crate::context::{self, Context};
use crate::output::{self, print};
use crate::report::Reported;

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
    /// With --host: only a profile with this account_id (the SDKs pass it for account hosts)
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
    /// With --host: only a profile with this workspace_id (a workspace of a unified host)
    #[arg(long, value_name = "ID")]
    pub workspace_id: Option<String>,
    /// Profile name, positional form
    #[arg(value_name = "PROFILE", add = ArgValueCompleter::new(crate::complete::profiles))]
    pub positional: Option<String>,
}

/// `brickauth auth token`: the profile named (positional or `--profile`), else the one whose
/// host is `--host` (the library's rules for several on one host), else the selected one.
pub fn run(cx: &Context, c: &AuthCommand) -> Result<ExitCode> {
    let AuthCommand::Token(args) = c;
    let by_id = args.account_id.is_some() || args.workspace_id.is_some();
    let profile = match (&args.positional, &cx.profile, &cx.host) {
        (Some(p), _, _) | (None, Some(p), _) => {
            let profile = cx.named(p)?;
            // A profile named along with ids must be the one they describe: never another account's.
            let wanted = target(cx.host.as_deref().unwrap_or_default(), args)?;
            if !wanted.ids_fit(&profile) {
                let asked: Vec<String> = [
                    wanted.account_id.as_ref().map(|a| format!("account_id {a}")),
                    wanted.workspace_id.as_ref().map(|w| format!("workspace_id {w}")),
                ]
                .into_iter()
                .flatten()
                .collect();
                return Err(Reported::usage(format!(
                    "profile {} is not for {}: name the profile for it, or drop --account-id/--workspace-id",
                    wanted.describe(&profile),
                    asked.join(" and ")
                ))
                .into());
            }
            profile
        }
        (None, None, Some(h)) if cx.flow.is_none() => cx.auth().for_target(&target(h, args)?)?,
        (None, None, _) if by_id => {
            return Err(Reported::usage(
                "--account-id and --workspace-id choose among the profiles of --host H: pass --host too",
            )
            .into());
        }
        (None, None, _) => cx.profile()?,
    };
    let opts = TokenOptions { force_refresh: args.force_refresh, min_validity: context::MIN_VALIDITY };
    let source = cx.source(profile, Interaction::NONE)?;
    let t = context::acquire(&source, opts)?;
    print(&output::databricks_cli(&t))
}

/// `--host H [--account-id A] [--workspace-id W]`, the ids checked (a malformed one is a usage
/// error naming the flag).
fn target(host: &str, args: &AuthTokenArgs) -> Result<Target> {
    let bad = |flag: &str, e: brickauth_core::app::ParseError| Reported::usage(format!("{flag}: {e}"));
    Ok(Target {
        host: host.to_owned(),
        account_id: args.account_id.as_deref().map(str::parse).transpose().map_err(|e| bad("--account-id", e))?,
        workspace_id: args.workspace_id.as_deref().map(str::parse).transpose().map_err(|e| bad("--workspace-id", e))?,
    })
}
