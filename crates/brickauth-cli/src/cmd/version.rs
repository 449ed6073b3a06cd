//! `brickauth version [--output json]`: brickauth's own version, and the Databricks token-helper
//! protocol level it implements.
//!
//! The Databricks SDKs run `<helper> version --output json` and read the integer fields `Major`,
//! `Minor`, `Patch` to decide which `auth token` flags they may pass: `--profile` from 0.207.1,
//! `--force-refresh` from 0.296.0. Those fields are therefore the **protocol level** brickauth
//! implements, as a compatibility layer declares an API level (LibreSSL reports an OpenSSL API
//! version): 0.296.0, so that the SDKs pass both. `auth token --profile P` is what keeps an SDK
//! configured with `profile="bob"` on bob's account; `--force-refresh`, which the SDKs then pass
//! on every token they fetch, is announced because forced refreshes coalesce (issue 22): one
//! that finds a token received within 5 s before it started, or while it waited for the cache
//! lock, returns that token instead of asking Entra again, so a burst of SDK processes sends one
//! token request (`brickauth_cache::COALESCE_WINDOW`). `Version` (and the text form) is
//! brickauth's own version, and `Protocol` names the level explicitly.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::output::print;
use crate::report::Reported;

/// The Databricks CLI version whose `auth token` interface brickauth implements.
pub const HELPER_PROTOCOL: (u64, u64, u64) = (0, 296, 0);

/// `brickauth version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// `json` prints {"Version","Major","Minor","Patch","Protocol"}
    #[arg(long, short, value_name = "FORMAT")]
    pub output: Option<String>,
}

/// `brickauth version`.
pub fn run(args: &VersionArgs) -> Result<ExitCode> {
    let v = brickauth_core::VERSION;
    let (major, minor, patch) = HELPER_PROTOCOL;
    let protocol = format!("{major}.{minor}.{patch}");
    match args.output.as_deref() {
        Some("json") => {
            let j = serde_json::json!({
                "Version": v,
                "Major": major,
                "Minor": minor,
                "Patch": patch,
                "Protocol": format!("databricks-cli-token-helper/{protocol}"),
            });
            print(&format!("{}\n", serde_json::to_string_pretty(&j)?))
        }
        None | Some("text") => print(&format!("brickauth {v} (Databricks token-helper protocol {protocol})\n")),
        Some(other) => {
            Err(Reported::usage(format!("unknown output format `{other}` for version: expected `json` or `text`"))
                .into())
        }
    }
}
