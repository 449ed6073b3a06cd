//! The plugin contract: a flow registered with `inventory::submit!` in any crate linked into a
//! binary shows up in the registry, by name and alias, with no edit anywhere else; a name
//! claimed twice is refused rather than resolved at random.

use brickauth_core::flow::{self, BoxFuture, FlowContext, FlowSpec, GrantFlow, RegistryError};
use brickauth_core::settings::{ConfigError, KeySpec, Settings};
use brickauth_core::{AppConfig, AuthError, MapSettings, TokenResponse};

#[derive(Debug)]
struct Nothing(AppConfig);

impl GrantFlow for Nothing {
    fn app(&self) -> &AppConfig {
        &self.0
    }
    fn acquire<'a>(&'a self, _cx: &'a FlowContext<'a>) -> BoxFuture<'a, Result<TokenResponse, AuthError>> {
        Box::pin(async { Err(AuthError::Io("this test flow never gets a token".into())) })
    }
}

fn build(s: &dyn Settings) -> Result<Box<dyn GrantFlow>, ConfigError> {
    Ok(Box::new(Nothing(AppConfig::from_settings(s)?)))
}

brickauth_core::inventory::submit! {
    FlowSpec {
        name: "test-linked",
        aliases: &["linked-alias", "claimed-twice"],
        summary: "registered by this test binary only",
        interactive: false,
        keys: &[KeySpec::required("test_key", "a key only this flow reads")],
        env: &[],
        databricks: brickauth_core::flow::DatabricksAuth::NONE,
        app: AppConfig::from_settings,
        build,
    }
}

brickauth_core::inventory::submit! {
    FlowSpec {
        name: "test-other",
        aliases: &["claimed-twice"],
        summary: "claims an alias the other test flow claims too",
        interactive: false,
        keys: &[],
        env: &[],
        databricks: brickauth_core::flow::DatabricksAuth::NONE,
        app: AppConfig::from_settings,
        build,
    }
}

#[test]
fn a_linked_flow_is_found_by_name_and_alias() {
    assert_eq!(flow::find("test-linked").map(|s| s.name), Ok("test-linked"));
    assert_eq!(flow::find("LINKED_ALIAS").map(|s| s.name), Ok("test-linked"));
    let names: Vec<&str> = flow::flows().iter().map(|s| s.name).collect();
    assert_eq!(names, ["test-linked", "test-other"], "sorted, and nothing else is linked here");
}

#[test]
fn a_name_claimed_twice_is_refused() {
    assert_eq!(flow::find("claimed-twice").unwrap_err(), RegistryError::Duplicate("claimed-twice".into()));
    assert_eq!(flow::duplicates(), ["claimed-twice"]);
}

#[test]
fn unknown_names_get_the_nearest_and_the_list() {
    let err = flow::find("test-linkd").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("did you mean `test-linked`"), "{text}");
    assert!(text.contains("registered flows: test-linked, test-other"), "{text}");
}

#[test]
fn flows_declare_their_keys() {
    let spec = flow::find("test-linked").unwrap();
    assert!(spec.accepts("test_key"));
    assert!(spec.accepts("tenant_id"), "common keys are accepted by every flow");
    assert!(!spec.accepts("test_keys"));
    let s = MapSettings::new("p")
        .with("flow", "linked-alias")
        .with("tenant_id", "organizations")
        .with("client_id", "04f0c124-f2bc-4f59-8241-bf6df9866bbd");
    assert!(flow::build(&s).is_ok());
    assert_eq!(flow::app_config(&s).unwrap().authority.tenant().as_str(), "organizations");
}
