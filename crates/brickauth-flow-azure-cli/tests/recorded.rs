//! Account, tenant and refresh-token choice on the Azure CLI's files as a real azure-cli wrote
//! them (`fixtures/azure-cli/`, recorded by `cargo xtask az --record`).

use std::path::PathBuf;

use brickauth_flow_azure_cli::files::{AzState, PROFILE_FILE};
use brickauth_flow_azure_cli::select::{Unusable, choose, same_environment};
use secrecy::ExposeSecret;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "0b9a3c1d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const ALICE_HOME: &str = "5f1d4b2e-8c3a-4e7f-9b6d-2a1c3e5f7d90.72f988bf-86f1-41af-91ab-2d7cd011db47";
/// The recordings' authority host (the mock's cloud: `https://127.0.0.1`).
const ENV: &str = "127.0.0.1";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/azure-cli").join(name)
}

fn state(name: &str) -> AzState {
    AzState::read(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The refresh token az's cache holds for `home` (what the choice must hand over).
fn recorded_refresh_token(name: &str, home: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture(name).join("msal_token_cache.json")).unwrap()).unwrap();
    let rt = v["RefreshToken"].as_object().unwrap().values().find(|e| e["home_account_id"] == home).unwrap();
    rt["secret"].as_str().unwrap().to_owned()
}

#[test]
fn the_profile_file_starts_with_a_bom_and_is_read() {
    let raw = std::fs::read(fixture("one-user").join(PROFILE_FILE)).unwrap();
    assert!(raw.starts_with(b"\xEF\xBB\xBF"), "az writes azureProfile.json with a BOM");
    assert!(serde_json::from_slice::<serde_json::Value>(&raw).is_err(), "a plain JSON parser refuses it");
    let s = state("one-user");
    let profile = s.profile.expect("azureProfile.json read");
    assert_eq!(profile.subscriptions[0].user.name, "alice@contoso.com");
}

#[test]
fn one_user() {
    let s = state("one-user");
    let c = choose(&s, None, ENV).unwrap();
    assert_eq!(c.account.username.as_deref(), Some("alice@contoso.com"));
    assert_eq!(c.account.home_account_id, ALICE_HOME);
    assert_eq!(c.tenant.as_deref(), Some(TENANT));
    assert_eq!(c.refresh_token.expose_secret(), recorded_refresh_token("one-user", ALICE_HOME));
    // The username matches without case, as sign-in names do.
    let c = choose(&s, Some("Alice@Contoso.COM"), ENV).unwrap();
    assert_eq!(c.account.home_account_id, ALICE_HOME);
    // Nothing of the refresh token in Debug.
    assert!(!format!("{c:?}").contains(c.refresh_token.expose_secret()));
}

#[test]
fn two_users_default_and_by_name() {
    let s = state("two-users");
    let c = choose(&s, None, ENV).unwrap();
    assert_eq!(c.account.username.as_deref(), Some("carol@contoso.com"), "az's default account");
    let carol_home = c.account.home_account_id.clone();
    assert_eq!(c.refresh_token.expose_secret(), recorded_refresh_token("two-users", &carol_home));
    let a = choose(&s, Some("alice@contoso.com"), ENV).unwrap();
    assert_eq!(a.account.home_account_id, ALICE_HOME);
    assert_ne!(a.refresh_token.expose_secret(), c.refresh_token.expose_secret());
    let e = choose(&s, Some("dave@contoso.com"), ENV).unwrap_err();
    assert!(!e.falls_back());
    let shown = e.to_string();
    assert!(shown.contains("dave@contoso.com") && shown.contains("alice@contoso.com, carol@contoso.com"), "{shown}");
    assert!(shown.contains("run `az login`"), "{shown}");
}

#[test]
fn two_tenants_take_az_default_tenant() {
    let s = state("two-tenants");
    let c = choose(&s, None, ENV).unwrap();
    assert_eq!(c.account.username.as_deref(), Some("alice@contoso.com"));
    assert_eq!(c.tenant.as_deref(), Some(OTHER_TENANT), "the tenant of az's default entry");
    let c = choose(&s, Some("alice@contoso.com"), ENV).unwrap();
    assert_eq!(c.tenant.as_deref(), Some(OTHER_TENANT));
}

#[test]
fn service_principal_falls_back() {
    let s = state("service-principal");
    let e = choose(&s, None, ENV).unwrap_err();
    assert!(matches!(e, Unusable::ServicePrincipal(ref id) if id == "9d5c3b1a-7e2f-4a6b-8c0d-1e3f5a7b9c2d"), "{e:?}");
    assert!(e.falls_back());
    assert!(e.to_string().contains("service principal"), "{e}");
}

#[test]
fn no_refresh_token_falls_back() {
    let s = state("no-refresh-token");
    let e = choose(&s, None, ENV).unwrap_err();
    assert_eq!(e, Unusable::NoRefreshToken("alice@contoso.com".into()));
    assert!(e.falls_back());
}

#[test]
fn logged_out_is_not_signed_in() {
    let s = state("logged-out");
    let e = choose(&s, None, ENV).unwrap_err();
    assert_eq!(e, Unusable::NotSignedIn);
    assert!(!e.falls_back(), "az would only say the same, slower");
    assert!(e.to_string().contains("run `az login`"));
    assert_eq!(choose(&s, Some("alice@contoso.com"), ENV).unwrap_err(), Unusable::NotSignedIn);
}

#[test]
fn another_cloud_is_named() {
    let s = state("one-user");
    let e = choose(&s, None, "login.microsoftonline.com").unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains("127.0.0.1") && shown.contains("login.microsoftonline.com"), "{shown}");
    assert!(same_environment("login.windows.net", "LOGIN.microsoftonline.com"));
    assert!(!same_environment("login.microsoftonline.us", "login.microsoftonline.com"));
}

#[test]
fn missing_and_encrypted_caches() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(choose(&AzState::read(dir.path()).unwrap(), None, ENV).unwrap_err(), Unusable::NoCacheFile);
    std::fs::write(dir.path().join("msal_token_cache.bin"), b"\x00encrypted").unwrap();
    let e = choose(&AzState::read(dir.path()).unwrap(), None, ENV).unwrap_err();
    assert_eq!(e, Unusable::Encrypted);
    assert!(e.falls_back());
}
