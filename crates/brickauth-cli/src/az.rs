//! az's token options (`--resource`, `--scope`, `--tenant`, `--query`), which `token` and
//! `account get-access-token` both accept.

use brickauth_profile::{Origin, Profile};
use clap::Args;

use crate::output;

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

/// az's `--resource`, `--scope` and `--tenant`: another scope or tenant for the same profile — a
/// different cache identity, so a token for one never answers for the other.
pub fn overrides(profile: &mut Profile, az: &AzTokenArgs) {
    if let Some(resource) = &az.resource {
        profile.set("scopes", &output::resource_scope(resource), Origin::CommandLine("--resource".into()));
    }
    if !az.scope.is_empty() {
        let scopes: Vec<&str> = az.scope.iter().flat_map(|s| s.split_whitespace()).collect();
        profile.set("scopes", &scopes.join(" "), Origin::CommandLine("--scope".into()));
    }
    if let Some(tenant) = &az.tenant {
        profile.set("tenant_id", tenant, Origin::CommandLine("--tenant".into()));
    }
}
