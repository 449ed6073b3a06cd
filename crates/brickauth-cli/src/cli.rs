//! The command line, as `clap` derives it. Only parsing lives here; `cmd/` does the work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::ArgValueCompleter;

use crate::cmd::complete;

pub use crate::cmd::clusters::ClustersCommand;

/// Entra ID tokens for Azure Databricks: get them, cache them, refresh them silently, use them.
#[derive(Debug, Parser)]
#[command(name = "brickauth", version, about, long_about = None, max_term_width = 100, after_help = QUICK_START)]
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
    Token(TokenArgs),
    /// Run the profile's flow now and cache the result
    Login(LoginArgs),
    /// Forget a profile's cached tokens
    Logout(LogoutArgs),
    /// Every profile's account and token expiry, from the cache only
    Status(crate::cmd::status::StatusArgs),
    /// The registered grant flows: name, aliases, summary, keys
    Flows(FlowsArgs),
    /// List, show or validate profiles
    #[command(subcommand)]
    Profiles(ProfilesCommand),
    /// Show a JWT's header and claims (not verified) and its expiry
    Inspect(InspectArgs),
    /// Print a shell completion script
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// The workspace's clusters
    #[command(subcommand)]
    Clusters(ClustersCommand),
    /// Any Databricks REST call, JSON in and out
    Api(ApiArgs),
    /// The signed-in identity, as the workspace sees it (SCIM Me)
    Whoami,
    /// Run CMD with DATABRICKS_HOST, DATABRICKS_TOKEN and a metadata service; its exit code
    Exec(ExecArgs),
    /// The metadata service for Databricks tools, in the foreground (prints export lines)
    Serve(crate::cmd::serve::ServeArgs),
    /// Databricks CLI compatible commands (token helper for the Databricks SDKs and Terraform)
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Your own app registration for Azure Databricks (most people need none)
    #[command(subcommand)]
    App(AppCommand),
    /// Azure CLI compatible commands (`account get-access-token`, for scripts written for az)
    #[command(subcommand)]
    Account(crate::cmd::account::AccountCommand),
    /// Print the version
    Version(VersionArgs),
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

/// The `az account get-access-token` options that `token` accepts too.
#[derive(Debug, Clone, Args, Default)]
pub struct AzTokenArgs {
    /// A token for this resource instead (`RESOURCE/.default`), e.g. `https://management.core.windows.net/`
    #[arg(long, value_name = "RESOURCE", conflicts_with = "scope")]
    pub resource: Option<String>,
    /// A token for these scopes instead; repeatable
    #[arg(long, value_name = "SCOPE", num_args = 1..)]
    pub scope: Vec<String>,
    /// Another tenant than the profile's
    #[arg(short = 't', long, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// JMESPath query on the JSON form, as az evaluates it (e.g. accessToken)
    #[arg(long, value_name = "JMESPATH")]
    pub query: Option<String>,
}

/// `brickauth login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Do not open a browser: print the sign-in URL and read the redirected URL from stdin
    #[arg(long)]
    pub no_browser: bool,
}

/// `brickauth logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Forget every cached token of every profile
    #[arg(long)]
    pub all: bool,
}

/// `brickauth flows`.
#[derive(Debug, Args)]
pub struct FlowsArgs {
    /// Output format
    #[arg(short, long, value_enum, default_value_t)]
    pub output: ListFormat,
}

/// Output formats for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ListFormat {
    /// Human-readable text
    #[default]
    Text,
    /// JSON
    Json,
}

/// `brickauth profiles …`.
#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// The profiles in the file, with their flow and host
    List,
    /// A profile's resolved settings and where each came from (secrets redacted)
    Show {
        /// Profile name [default: the selected profile]
        #[arg(add = ArgValueCompleter::new(complete::profiles))]
        name: Option<String>,
    },
    /// Add a profile to the file: `profiles add NAME --flow F --set key=value…` (comments kept)
    Add(crate::cmd::profiles_edit::AddArgs),
    /// Create a profile by answering a few questions (on a terminal)
    Init(crate::cmd::profiles_edit::InitArgs),
    /// Check one profile, or all of them, without contacting anyone
    Validate {
        /// Profile name [default: every profile]
        #[arg(add = ArgValueCompleter::new(complete::profiles))]
        name: Option<String>,
    },
    /// Write the profiles of a Databricks config file into the brickauth profile file
    Import(crate::cmd::databrickscfg::ImportArgs),
    /// Print Databricks config sections that point the Databricks CLI, SDKs and Terraform at brickauth
    Export(crate::cmd::databrickscfg::ExportArgs),
}

/// `brickauth inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The token, or `-` to read it from stdin [default: the selected profile's token]
    pub token: Option<String>,
}

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
    #[arg(value_name = "PROFILE", add = ArgValueCompleter::new(complete::profiles))]
    pub positional: Option<String>,
}

/// `brickauth version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// `json` prints {"Version","Major","Minor","Patch"}
    #[arg(long, short, value_name = "FORMAT")]
    pub output: Option<String>,
}

/// `brickauth api`.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// HTTP method (GET, POST, PUT, PATCH, DELETE, …)
    pub method: String,
    /// Path under the workspace host, e.g. /api/2.1/clusters/list
    pub path: String,
    /// JSON request body, or @FILE to read it from a file (@- for stdin)
    #[arg(long, value_name = "BODY|@FILE")]
    pub json: Option<String>,
    /// A query parameter; repeat for more
    #[arg(long, value_name = "KEY=VALUE")]
    pub query: Vec<String>,
}

/// `brickauth exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Only a static DATABRICKS_TOKEN (DATABRICKS_AUTH_TYPE=pat), no metadata service
    #[arg(long = "static")]
    pub r#static: bool,
    /// The metadata service renews tokens with less validity left than this [default: 300, at least 40]
    #[arg(long, value_name = "SECS")]
    pub min_validity: Option<u64>,
    /// The command and its arguments (after `--`)
    #[arg(trailing_var_arg = true, required = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

/// `brickauth app`.
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register a public-client app for Azure Databricks through Microsoft Graph, and add a profile
    /// that uses it. -p P: the tenant, cloud and authority of profile P; else of --host
    Create(AppCreateArgs),
}

/// `brickauth app create`.
#[derive(Debug, Args)]
pub struct AppCreateArgs {
    /// The app's display name; an app of that name is reported, not created again
    #[arg(long, default_value = "brickauth")]
    pub name: String,
    /// Also grant tenant-wide (admin) consent: needs an administrator role
    #[arg(long)]
    pub grant_consent: bool,
    /// The profile to add [default: the app's name]
    #[arg(long, value_name = "NAME")]
    pub save_as: Option<String>,
    /// Sign in to Microsoft Graph with a device code even where a browser could open
    #[arg(long)]
    pub no_browser: bool,
}
