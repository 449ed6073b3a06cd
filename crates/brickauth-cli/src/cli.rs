//! The command line: the global options and the subcommands. Each subcommand's own arguments
//! are declared with it, in `cmd/` (as gh does); this file only lists them.

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::ArgValueCompleter;

use crate::cmd::{
    account, api, app, auth_token, clusters, exec, flows, inspect, login, logout, profiles, serve, status, token,
    version, whoami,
};
use crate::complete;

/// Entra ID tokens for Azure Databricks: get them, cache them, refresh them silently, use them.
#[derive(Debug, Parser)]
#[command(name = "brickauth", bin_name = "brickauth", version, about, long_about = None, max_term_width = 100, after_help = QUICK_START)]
pub struct Cli {
    /// Profile file [default: $BRICKAUTH_CONFIG, else ~/.config/brickauth/profiles.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Profile name [default: $BRICKAUTH_PROFILE, else the file's default_profile, else "default"]
    #[arg(short, long, global = true, value_name = "NAME", add = ArgValueCompleter::new(complete::profiles))]
    pub profile: Option<String>,
    /// No profile file: this flow, with settings from ARM_*, AZURE_*, DATABRICKS_* variables
    #[arg(long, global = true, value_name = "FLOW", add = ArgValueCompleter::new(complete::flows))]
    pub flow: Option<String>,
    /// Workspace URL: overrides the profile's `host` (auth token: picks the profile with this host)
    #[arg(long, global = true, value_name = "URL")]
    pub host: Option<String>,
    /// More diagnostics on stderr (-v: steps, -vv: HTTP requests); secrets are never printed
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// The shortest path for each kind of user, under `brickauth --help`.
const QUICK_START: &str = "\
Quick start:
  With a ~/.databrickscfg:   brickauth -p NAME clusters list   (its sections are profiles)
                             brickauth profiles import --databrickscfg
  CI, ARM_*/AZURE_* set:     brickauth --flow client-credentials clusters list
  az scripts:                brickauth account get-access-token --query accessToken -o tsv
  Anyone else:               brickauth flows, then a [profiles.NAME] table in profiles.toml";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print an access token: cached → refreshed → the profile's flow
    Token(token::TokenArgs),
    /// Run the profile's flow now and cache the result
    Login(login::LoginArgs),
    /// Forget a profile's cached tokens
    Logout(logout::LogoutArgs),
    /// Every profile's account and token expiry, from the cache only
    Status(status::StatusArgs),
    /// The registered grant flows: name, aliases, summary, keys
    Flows(flows::FlowsArgs),
    /// List, show or validate profiles
    #[command(subcommand)]
    Profiles(profiles::ProfilesCommand),
    /// Show a JWT's header and claims (not verified) and its expiry
    Inspect(inspect::InspectArgs),
    /// Print a shell completion script
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// The workspace's clusters
    #[command(subcommand)]
    Clusters(clusters::ClustersCommand),
    /// Any Databricks REST call, JSON in and out
    Api(api::ApiArgs),
    /// The signed-in identity, as the workspace sees it (SCIM Me)
    Whoami(whoami::WhoamiArgs),
    /// Run CMD with DATABRICKS_HOST, DATABRICKS_TOKEN and a metadata service; its exit code
    Exec(exec::ExecArgs),
    /// The metadata service for Databricks tools, in the foreground (prints export lines)
    Serve(serve::ServeArgs),
    /// Databricks CLI compatible commands (token helper for the Databricks SDKs and Terraform)
    #[command(subcommand)]
    Auth(auth_token::AuthCommand),
    /// Your own app registration for Azure Databricks (most people need none)
    #[command(subcommand)]
    App(app::AppCommand),
    /// Azure CLI compatible commands (`account get-access-token`, for scripts written for az)
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Print the version
    Version(version::VersionArgs),
}

/// Answer a completion request and exit, when the shell is asking for one (`BRICKAUTH_COMPLETE`
/// set); otherwise return at once (one environment lookup: the hot path does not notice).
pub fn answer_if_asked() {
    if std::env::var_os(complete::VAR).is_none() {
        return;
    }
    brickauth_flows::link();
    clap_complete::CompleteEnv::with_factory(Cli::command).var(complete::VAR).complete();
}
