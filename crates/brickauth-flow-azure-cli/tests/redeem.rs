//! Cache mode end to end against a wiremock token endpoint: the request az would send, the
//! answer's handling, the fallback to az and the errors that must not fall back.

use std::path::{Path, PathBuf};

use brickauth_core::{AuthError, GrantFlow};
use brickauth_flow_azure_cli::{AZURE_CLI_CLIENT_ID, AzureCliFlow, AzureCliOptions, Mode};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "0b9a3c1d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const SCOPE: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default";

/// A copy of a recorded az config directory.
fn az_dir(name: &str) -> tempfile::TempDir {
    let from = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/azure-cli").join(name);
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    dir
}

fn recorded_refresh_token(dir: &Path) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("msal_token_cache.json")).unwrap()).unwrap();
    let rt = v["RefreshToken"].as_object().unwrap().values().next().unwrap();
    rt["secret"].as_str().unwrap().to_owned()
}

fn token_answer() -> serde_json::Value {
    serde_json::json!({
        "token_type": "Bearer", "scope": "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/user_impersonation",
        "expires_in": 3600, "access_token": "eyJ0eXAiOiJKV1QifQ.e30.c2ln",
        "refresh_token": "0.AXoArotated", "foci": "1",
    })
}

fn flow(server: &MockServer, dir: &Path, mode: Mode, fake_az: Option<&Path>) -> AzureCliFlow {
    AzureCliFlow::new(AzureCliOptions {
        mode,
        config_dir: Some(dir.to_owned()),
        authority_host: Some(server.uri()),
        path: Some(fake_az.map_or_else(|| dir.join("no-az-here").into_os_string(), |p| p.as_os_str().to_owned())),
        ..AzureCliOptions::default()
    })
    .unwrap()
}

#[tokio::test]
async fn redeems_az_refresh_token_with_az_client_id_at_the_account_tenant() {
    let server = MockServer::start().await;
    let dir = az_dir("one-user");
    let rt = recorded_refresh_token(dir.path());
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .and(body_string_contains(format!("client_id={AZURE_CLI_CLIENT_ID}")))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains(format!("refresh_token={rt}")))
        .and(body_string_contains("scope=2ff814a6-3304-4ab8-85cb-cd0e6f879c1d%2F.default+offline_access"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_answer()))
        .expect(1)
        .mount(&server)
        .await;
    let before = std::fs::read(dir.path().join("msal_token_cache.json")).unwrap();
    let f = flow(&server, dir.path(), Mode::Cache, None);
    let t = brickauth_core::flow::acquire_unattended(&f).await.unwrap();
    assert_eq!(t.access_token.expose(), "eyJ0eXAiOiJKV1QifQ.e30.c2ln");
    assert!(t.refresh_token.is_none(), "az's rotated refresh token is neither kept nor written");
    assert_eq!(t.account.username.as_deref(), Some("alice@contoso.com"));
    assert_eq!(
        t.account.home_account_id.as_deref(),
        Some("5f1d4b2e-8c3a-4e7f-9b6d-2a1c3e5f7d90.72f988bf-86f1-41af-91ab-2d7cd011db47")
    );
    assert!(f.cacheable(), "a redemption's token is brickauth's to cache");
    assert_eq!(f.app().client_id.as_str(), AZURE_CLI_CLIENT_ID);
    assert_eq!(f.app().scopes.joined(), SCOPE);
    let after = std::fs::read(dir.path().join("msal_token_cache.json")).unwrap();
    assert_eq!(before, after, "az's files are never written");
    assert!(!dir.path().join("msal_token_cache.json.lockfile").exists());
}

#[tokio::test]
async fn the_tenant_of_az_default_entry_and_the_profile_tenant() {
    let server = MockServer::start().await;
    for tenant in [OTHER_TENANT, TENANT] {
        Mock::given(method("POST"))
            .and(path(format!("/{tenant}/oauth2/v2.0/token")))
            .respond_with(ResponseTemplate::new(200).set_body_json(token_answer()))
            .expect(1)
            .mount(&server)
            .await;
    }
    let dir = az_dir("two-tenants");
    brickauth_core::flow::acquire_unattended(&flow(&server, dir.path(), Mode::Cache, None)).await.unwrap();
    let pinned = AzureCliFlow::new(AzureCliOptions {
        mode: Mode::Cache,
        config_dir: Some(dir.path().to_owned()),
        authority_host: Some(server.uri()),
        tenant: Some(TENANT.parse().unwrap()),
        ..AzureCliOptions::default()
    })
    .unwrap();
    brickauth_core::flow::acquire_unattended(&pinned).await.unwrap();
}

#[tokio::test]
async fn a_rejected_refresh_token_says_run_az_login() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_grant",
            "error_description": "AADSTS700082: The refresh token has expired due to inactivity.",
            "error_codes": [700082],
        })))
        .mount(&server)
        .await;
    let dir = az_dir("one-user");
    let rt = recorded_refresh_token(dir.path());
    let e = brickauth_core::flow::acquire_unattended(&flow(&server, dir.path(), Mode::Auto, None)).await.unwrap_err();
    assert!(matches!(e, AuthError::NeedsUser(_)), "{e:?}");
    let shown = e.to_string();
    assert!(shown.contains("run `az login`") && shown.contains("AADSTS700082"), "{shown}");
    assert!(!shown.contains(&rt));
}

#[cfg(unix)]
mod with_az {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// A directory with an `az` that records its runs and prints a token.
    fn fake_az() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("az");
        std::fs::write(
            &script,
            "#!/bin/sh\necho ran >> \"${0%/*}/runs\"\necho '{\"accessToken\":\"eyJ0eXAiOiJKV1QifQ.e30.YXo\",\"expires_on\":4070908800,\"tokenType\":\"Bearer\"}'\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    fn runs(az: &Path) -> usize {
        std::fs::read_to_string(az.join("runs")).map_or(0, |s| s.lines().count())
    }

    #[tokio::test]
    async fn auto_runs_az_for_a_service_principal_and_does_not_cache_it() {
        let server = MockServer::start().await;
        let az = fake_az();
        let dir = az_dir("service-principal");
        let f = flow(&server, dir.path(), Mode::Auto, Some(az.path()));
        let t = brickauth_core::flow::acquire_unattended(&f).await.unwrap();
        assert_eq!(t.access_token.expose(), "eyJ0eXAiOiJKV1QifQ.e30.YXo");
        assert_eq!(runs(az.path()), 1);
        assert!(!f.cacheable(), "az's own token is az's to refresh");
        assert!(server.received_requests().await.unwrap_or_default().is_empty());
    }

    #[tokio::test]
    async fn cache_mode_never_runs_az() {
        let server = MockServer::start().await;
        let az = fake_az();
        for fixture in ["service-principal", "no-refresh-token"] {
            let dir = az_dir(fixture);
            let e = brickauth_core::flow::acquire_unattended(&flow(&server, dir.path(), Mode::Cache, Some(az.path())))
                .await
                .unwrap_err();
            assert!(matches!(e, AuthError::NeedsUser(_)), "{fixture}: {e:?}");
            assert!(e.to_string().contains("azure_cli_mode = \"cache\""), "{fixture}: {e}");
        }
        assert_eq!(runs(az.path()), 0);
    }

    #[tokio::test]
    async fn logged_out_refuses_without_running_az() {
        let server = MockServer::start().await;
        let az = fake_az();
        let dir = az_dir("logged-out");
        let e = brickauth_core::flow::acquire_unattended(&flow(&server, dir.path(), Mode::Auto, Some(az.path())))
            .await
            .unwrap_err();
        assert!(matches!(e, AuthError::NeedsUser(_)), "{e:?}");
        assert!(e.to_string().contains("run `az login`"), "{e}");
        assert_eq!(runs(az.path()), 0);
    }

    #[tokio::test]
    async fn process_mode_runs_az_even_with_a_usable_cache() {
        let server = MockServer::start().await;
        let az = fake_az();
        let dir = az_dir("one-user");
        let f = flow(&server, dir.path(), Mode::Process, Some(az.path()));
        brickauth_core::flow::acquire_unattended(&f).await.unwrap();
        assert_eq!(runs(az.path()), 1);
        assert!(!f.cacheable());
        assert!(server.received_requests().await.unwrap_or_default().is_empty());
    }
}

#[tokio::test]
async fn tenant_discovered_from_the_workspace_when_az_names_none() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/aad/auth"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            format!("https://login.microsoftonline.com/{OTHER_TENANT}/oauth2/authorize?x=1"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/{OTHER_TENANT}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_answer()))
        .expect(1)
        .mount(&server)
        .await;
    // az's account with neither a profile entry nor a realm: only the workspace knows the tenant.
    let dir = az_dir("one-user");
    std::fs::remove_file(dir.path().join("azureProfile.json")).unwrap();
    let p = dir.path().join("msal_token_cache.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    for a in v["Account"].as_object_mut().unwrap().values_mut() {
        a.as_object_mut().unwrap().remove("realm");
    }
    std::fs::write(&p, v.to_string()).unwrap();
    let f = AzureCliFlow::new(AzureCliOptions {
        mode: Mode::Cache,
        config_dir: Some(dir.path().to_owned()),
        authority_host: Some(server.uri()),
        host: Some(server.uri()),
        ..AzureCliOptions::default()
    })
    .unwrap();
    let t = brickauth_core::flow::acquire_unattended(&f).await.unwrap();
    assert_eq!(t.account.tenant_id.as_deref(), Some(OTHER_TENANT));
}
