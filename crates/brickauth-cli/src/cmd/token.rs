//! `brickauth token`: an access token through the cache, printed raw, as JSON, as env lines or
//! az's TSV.

use std::process::ExitCode;

use anyhow::Result;
use brickauth::TokenOptions;
use brickauth_core::Settings;
use clap::{Args, ValueEnum};

use crate::az::{self, AzTokenArgs};
use crate::context::{self, Context};
use crate::output::{self, print};
use crate::report::{Exit, Reported};

/// `brickauth token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Output format [default: raw; json with --query]
    #[arg(short, long, value_enum)]
    pub output: Option<TokenFormat>,
    /// Skip the cached access token (a refresh token may still be used)
    #[arg(long)]
    pub force_refresh: bool,
    /// Refresh unless the token stays valid this many seconds [default: 300, at least 40]
    #[arg(long, value_name = "SECS")]
    pub min_validity: Option<u64>,
    /// With -o json: include the refresh token (the only way it leaves the cache)
    #[arg(long)]
    pub include_refresh_token: bool,
    /// Never open a browser (interactive flows print the URL and read the answer from stdin)
    #[arg(long)]
    pub no_browser: bool,
    #[command(flatten)]
    pub az: AzTokenArgs,
}

/// `token` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum TokenFormat {
    /// The bare token and a newline, for `$(brickauth token)`
    #[default]
    Raw,
    /// An object with the keys of `az account get-access-token` and more
    Json,
    /// `export DATABRICKS_HOST=…` and `export DATABRICKS_TOKEN=…` lines
    Env,
    /// az's `-o tsv`: the values of the JSON form (or of `--query`'s result), tab-separated
    Tsv,
}

/// `brickauth token`.
pub fn run(cx: &Context, args: &TokenArgs) -> Result<ExitCode> {
    let mut profile = cx.profile()?;
    az::overrides(&mut profile, &args.az);
    let opts =
        TokenOptions { force_refresh: args.force_refresh, min_validity: context::min_validity(args.min_validity) };
    if args.include_refresh_token && args.output != Some(TokenFormat::Json) {
        tracing::warn!("--include-refresh-token has no effect without -o json: the refresh token is not printed");
    }
    let source = cx.source(profile, context::interaction(args.no_browser))?;
    let mut t = context::acquire(&source, opts)?;
    if args.include_refresh_token && args.output == Some(TokenFormat::Json) {
        t.refresh_token = source.refresh_token(&t)?; // a sealed one is opened only when asked for
    }
    let profile = source.profile();
    let lifetime = t.access_token.expires_on.saturating_sub(brickauth_core::now());
    if args.min_validity.is_some() && u64::try_from(lifetime).unwrap_or(0) < opts.min_validity.as_secs() {
        tracing::warn!(
            "--min-validity {} s is longer than this fresh token lives ({lifetime} s): every call will get \
             a new token; Entra access tokens live 60-90 minutes",
            opts.min_validity.as_secs()
        );
    }
    // az's default output is JSON: a `--query` without `-o` means JSON too.
    let format = args.output.unwrap_or(if args.az.query.is_some() { TokenFormat::Json } else { TokenFormat::Raw });
    let text = match format {
        TokenFormat::Raw if args.az.query.is_none() => output::raw(&t),
        TokenFormat::Env if args.az.query.is_none() => output::env(&t, profile.get("host")),
        TokenFormat::Raw | TokenFormat::Env => {
            return Err(Reported { code: Exit::Usage, message: "--query needs -o json or -o tsv".into() }.into());
        }
        TokenFormat::Json | TokenFormat::Tsv => {
            let meta = crate::identity::meta(&profile, t.identity.scopes.join(" "));
            let value = output::json_value(&t, &meta, args.include_refresh_token);
            let value = output::query(value, args.az.query.as_deref())?;
            if format == TokenFormat::Json { output::pretty(&value) } else { output::tsv(&value) }
        }
    };
    print(&text)
}
