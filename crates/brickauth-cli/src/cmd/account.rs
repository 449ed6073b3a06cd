//! `brickauth account get-access-token`: az's command, argv and output, for scripts written for az.
//!
//! `az account get-access-token --resource R --query accessToken -o tsv` works with `az` replaced
//! by `brickauth`: the same options (`--resource`, `--resource-type`, `--scope`, `--tenant`,
//! `--subscription`, `-o json|jsonc|tsv|none`, `--query`), the same keys (`accessToken`,
//! `expiresOn`, `expires_on`, `subscription` when known, `tenant`, `tokenType`), sorted as az sorts
//! them. The token comes from the selected profile, through the cache, as `brickauth token`'s.
//! Without `--resource` or `--scope` the scope is the profile's (the Databricks scope by
//! default), not az's Azure Resource Manager: that is what a brickauth user asks for.

use std::process::ExitCode;

use anyhow::Result;
use brickauth::TokenOptions;
use brickauth_core::{Cloud, Settings};
use clap::{Args, Subcommand};

use crate::az::{self, AzTokenArgs};
use crate::context::{self, Context};
use crate::identity::subscription;
use crate::output::{self, print};
use crate::report::Reported;

/// `brickauth account …`.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Print an access token as `az account get-access-token` does
    GetAccessToken(GetAccessTokenArgs),
}

/// `brickauth account get-access-token`: az's options.
#[derive(Debug, Args)]
pub struct GetAccessTokenArgs {
    #[command(flatten)]
    pub az: AzTokenArgs,
    /// A well-known resource instead of --resource: arm (Azure management) or ms-graph
    #[arg(long, value_name = "TYPE", conflicts_with_all = ["resource", "scope"])]
    pub resource_type: Option<String>,
    /// Printed as `subscription` (brickauth has no subscription list to choose a tenant from)
    #[arg(short = 's', long, value_name = "ID")]
    pub subscription: Option<String>,
    /// Output format: json (default), jsonc, tsv or none
    #[arg(short, long, value_name = "FORMAT", default_value = "json")]
    pub output: String,
    /// Accepted for az compatibility; brickauth prints only errors on stderr anyway
    #[arg(long, hide = true)]
    pub only_show_errors: bool,
    /// Accepted for az compatibility; use -vv for HTTP-level diagnostics
    #[arg(long, hide = true)]
    pub debug: bool,
}

/// `brickauth account …`.
pub fn run(cx: &Context, c: &AccountCommand) -> Result<ExitCode> {
    match c {
        AccountCommand::GetAccessToken(args) => get_access_token(cx, args),
    }
}

fn usage(message: String) -> anyhow::Error {
    Reported { code: crate::report::Exit::Usage, message }.into()
}

fn get_access_token(cx: &Context, args: &GetAccessTokenArgs) -> Result<ExitCode> {
    let output = args.output.to_ascii_lowercase();
    if !matches!(output.as_str(), "json" | "jsonc" | "tsv" | "none") {
        return Err(usage(format!("--output `{}`: brickauth prints json, jsonc, tsv or none", args.output)));
    }
    let mut profile = cx.profile()?;
    let mut az = args.az.clone();
    if let Some(kind) = &args.resource_type {
        let cloud = profile.get("cloud").and_then(|c| c.parse::<Cloud>().ok()).unwrap_or(Cloud::Public);
        let scope = match kind.as_str() {
            "arm" => cloud.management_scope().to_owned(),
            "ms-graph" if cloud == Cloud::Public => "https://graph.microsoft.com//.default".to_owned(),
            other => {
                return Err(usage(format!(
                    "--resource-type `{other}`: brickauth knows `arm`{}; pass --resource or --scope instead",
                    if cloud == Cloud::Public { " and `ms-graph`" } else { "" }
                )));
            }
        };
        az.scope = vec![scope];
    }
    az::overrides(&mut profile, &az);
    let source = cx.source(profile, context::interaction(false))?;
    let t = context::acquire(&source, TokenOptions { force_refresh: false, min_validity: context::MIN_VALIDITY })?;
    let profile = source.profile();
    // az names the subscription it used; with --tenant it uses none.
    let sub = args.subscription.clone().or_else(|| if az.tenant.is_some() { None } else { subscription(&profile) });
    let tenant = output::tenant(&t, profile.get("tenant_id").unwrap_or_default());
    let value = output::query(output::az_value(&t, &tenant, sub.as_deref()), az.query.as_deref())?;
    match output.as_str() {
        "tsv" => print(&output::tsv(&value)),
        "none" => Ok(ExitCode::SUCCESS),
        _ => print(&output::pretty(&value)),
    }
}
