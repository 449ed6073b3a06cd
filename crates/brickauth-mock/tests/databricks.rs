//! The mock Databricks workspace over HTTP, with tokens from the mock Entra ID.

mod support;

use brickauth_mock::{Failure, MockDatabricks, MockEntra, TokenInfo, TokenRegistry};
use serde_json::json;
use support::{Reply, alice_token};

async fn get(workspace: &MockDatabricks, path: &str, token: Option<&str>) -> Reply {
    let mut request = reqwest::Client::new().get(format!("{}{path}", workspace.uri()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Reply::from(request.send().await.expect("workspace request")).await
}

#[tokio::test]
async fn clusters_list_with_an_issued_token() {
    let entra = MockEntra::start().await;
    let workspace = MockDatabricks::start(entra.registry()).await;
    let token = alice_token(&entra).await;

    for path in ["/api/2.0/clusters/list", "/api/2.1/clusters/list"] {
        let reply = get(&workspace, path, Some(&token)).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert_eq!(reply.header("content-type"), Some("application/json"));
        let body = reply.json();
        let clusters = body["clusters"].as_array().expect("clusters");
        assert_eq!(clusters.len(), 3);
        for cluster in clusters {
            assert!(cluster["cluster_id"].is_string());
            assert!(cluster["cluster_name"].is_string());
            assert_eq!(cluster["spark_version"].as_str().map(|v| v.starts_with("15.4.x")), Some(true));
            assert!(cluster["num_workers"].is_u64() || cluster["autoscale"].is_object());
            assert!(cluster["start_time"].is_u64());
        }
        assert_eq!(clusters[0]["cluster_id"], "1125-101010-abcd1234");
    }

    let recorded = workspace.requests().await;
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[1].path, "/api/2.1/clusters/list");
    assert_eq!(recorded[1].headers["authorization"], format!("Bearer {token}"));
}

#[tokio::test]
async fn scim_me_describes_the_token_owner() {
    let entra = MockEntra::start().await;
    let workspace = MockDatabricks::start(entra.registry()).await;
    let token = alice_token(&entra).await;
    let reply = get(&workspace, "/api/2.0/preview/scim/v2/Me", Some(&token)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let me = reply.json();
    assert_eq!(me["userName"], "alice@contoso.com");
    assert_eq!(me["displayName"], "Alice Smith");
    assert_eq!(me["active"], true);
    assert_eq!(me["externalId"], "5f1d4b2e-8c3a-4e7f-9b6d-2a1c3e5f7d90");
    assert_eq!(me["emails"], json!([{ "value": "alice@contoso.com", "primary": true, "type": "work" }]));
    assert_eq!(me["schemas"][0], "urn:ietf:params:scim:schemas:core:2.0:User");
    assert_eq!(me["id"].as_str().map(str::len), Some(16));
}

#[tokio::test]
async fn unknown_or_missing_tokens_are_401() {
    let entra = MockEntra::start().await;
    let workspace = MockDatabricks::start(entra.registry()).await;
    let made_up = "eyJ0eXAiOiJKV1QifQ.eyJ1cG4iOiJldmUifQ.c2lnbmF0dXJl";
    for token in [Some(made_up), None] {
        let reply = get(&workspace, "/api/2.1/clusters/list", token).await;
        assert_eq!(reply.status, 401, "{}", reply.text);
        assert_eq!(reply.json(), json!({ "error_code": "401", "message": "Unauthorized" }));
    }
    // A token from another Entra is just as unknown.
    let other = MockEntra::start().await;
    let foreign = alice_token(&other).await;
    assert_eq!(get(&workspace, "/api/2.1/clusters/list", Some(&foreign)).await.status, 401);
    assert_eq!(workspace.request_count(), 3);
}

#[tokio::test]
async fn expired_tokens_are_401_token_expired() {
    let entra = MockEntra::start().await;
    let workspace = MockDatabricks::start(entra.registry()).await;
    entra.set_token_lifetime(-10);
    let expired = alice_token(&entra).await;
    let reply = get(&workspace, "/api/2.0/clusters/list", Some(&expired)).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.json(), json!({ "error_code": "401", "message": "Token is expired." }));
}

#[tokio::test]
async fn queued_failures_then_success() {
    let entra = MockEntra::start().await;
    let workspace = MockDatabricks::start(entra.registry()).await;
    let token = alice_token(&entra).await;
    workspace.fail_next(vec![Failure::databricks_rate_limited("2"), Failure::databricks_unavailable()]);
    let throttled = get(&workspace, "/api/2.1/clusters/list", Some(&token)).await;
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.header("retry-after"), Some("2"));
    assert_eq!(throttled.json()["error_code"], "REQUEST_LIMIT_EXCEEDED");
    let unavailable = get(&workspace, "/api/2.1/clusters/list", Some(&token)).await;
    assert_eq!(unavailable.status, 503);
    assert_eq!(unavailable.json()["error_code"], "TEMPORARILY_UNAVAILABLE");
    let ok = get(&workspace, "/api/2.1/clusters/list", Some(&token)).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(workspace.request_count(), 3);
}

#[tokio::test]
async fn unknown_endpoints_and_empty_workspaces() {
    let registry = TokenRegistry::new();
    registry.insert(
        "dapi-test-token",
        TokenInfo {
            username: "svc@contoso.com".into(),
            oid: "0c0c0c0c-0000-4000-8000-000000000000".into(),
            name: "Service".into(),
            client_id: brickauth_mock::CLIENT_ID.into(),
            expires_at: i64::MAX,
        },
    );
    let workspace = MockDatabricks::start(registry).await;
    let reply = get(&workspace, "/api/2.0/nope", Some("dapi-test-token")).await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.json(),
        json!({ "error_code": "ENDPOINT_NOT_FOUND", "message": "No API found for 'GET /api/2.0/nope'" })
    );

    workspace.set_cluster_count(0);
    let reply = get(&workspace, "/api/2.1/clusters/list", Some("dapi-test-token")).await;
    assert_eq!(reply.json(), json!({}));
    workspace.set_cluster_count(25);
    let reply = get(&workspace, "/api/2.0/clusters/list", Some("dapi-test-token")).await;
    assert_eq!(reply.json()["clusters"].as_array().map(Vec::len), Some(25));
    // 2.1 pages: 20 by default, then the rest.
    let first = get(&workspace, "/api/2.1/clusters/list", Some("dapi-test-token")).await.json();
    assert_eq!(first["clusters"].as_array().map(Vec::len), Some(20));
    assert_eq!(first.get("prev_page_token"), None);
    let token = first["next_page_token"].as_str().unwrap_or_default().to_owned();
    let path = format!("/api/2.1/clusters/list?page_token={token}&page_size=100");
    let rest = get(&workspace, &path, Some("dapi-test-token")).await.json();
    assert_eq!(rest["clusters"].as_array().map(Vec::len), Some(5));
    assert_eq!(rest.get("next_page_token"), None);
    assert!(rest["prev_page_token"].is_string());
    let bad = get(&workspace, "/api/2.1/clusters/list?page_token=zzz", Some("dapi-test-token")).await;
    assert_eq!(bad.status, 400);
    let too_big = get(&workspace, "/api/2.1/clusters/list?page_size=101", Some("dapi-test-token")).await;
    assert_eq!(too_big.status, 400);

    let id = first["clusters"][3]["cluster_id"].as_str().unwrap_or_default().to_owned();
    let one = get(&workspace, &format!("/api/2.1/clusters/get?cluster_id={id}"), Some("dapi-test-token")).await;
    assert_eq!(one.json()["cluster_id"], id.as_str());
    let missing = get(&workspace, "/api/2.1/clusters/get?cluster_id=nope", Some("dapi-test-token")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error_code"], "RESOURCE_DOES_NOT_EXIST");
}

#[tokio::test]
async fn aad_auth_redirect_and_revocation_knobs() {
    let registry = TokenRegistry::new();
    registry.insert(
        "t",
        TokenInfo {
            username: "svc@contoso.com".into(),
            oid: "0c0c0c0c-0000-4000-8000-000000000000".into(),
            name: "Service".into(),
            client_id: brickauth_mock::CLIENT_ID.into(),
            expires_at: i64::MAX,
        },
    );
    let workspace = MockDatabricks::start(registry).await;
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let resp = no_redirects.get(format!("{}/aad/auth", workspace.uri())).send().await.expect("sent");
    assert_eq!(resp.status().as_u16(), 302);
    let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(location.starts_with(&format!("https://login.microsoftonline.com/{}/", brickauth_mock::TENANT_ID)));

    workspace.reject_next_with_401(1);
    assert_eq!(get(&workspace, "/api/2.1/clusters/list", Some("t")).await.status, 401);
    assert_eq!(get(&workspace, "/api/2.1/clusters/list", Some("t")).await.status, 200);
    workspace.set_forbidden(true);
    let denied = get(&workspace, "/api/2.1/clusters/list", Some("t")).await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.json()["error_code"], "PERMISSION_DENIED");
    workspace.set_forbidden(false);
    workspace.fail_next(vec![brickauth_mock::Failure::databricks_unavailable(); 3]);
    workspace.clear_failures();
    assert_eq!(get(&workspace, "/api/2.1/clusters/list", Some("t")).await.status, 200);
}

#[tokio::test]
async fn an_account_host_lists_its_users_for_the_same_token_and_describes_itself() {
    let entra = MockEntra::start().await;
    let host = MockDatabricks::start(entra.registry()).await;
    let token = alice_token(&entra).await;

    // No metadata configured: 404, as hosts that offer none answer.
    assert_eq!(get(&host, "/.well-known/databricks-config", None).await.status, 404);
    host.set_host_metadata(Some(MockDatabricks::host_metadata("account")));
    let meta = get(&host, "/.well-known/databricks-config", None).await;
    assert_eq!(meta.status, 200, "no token needed: {}", meta.text);
    assert_eq!(meta.json()["account_id"], brickauth_mock::ACCOUNT_ID);
    assert_eq!(meta.json()["host_type"], "account");
    assert!(meta.json().get("workspace_id").is_none());

    let users =
        get(&host, &format!("/api/2.0/accounts/{}/scim/v2/Users", brickauth_mock::ACCOUNT_ID), Some(&token)).await;
    assert_eq!(users.status, 200, "{}", users.text);
    let names: Vec<String> = users.json()["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, [brickauth_mock::ALICE, brickauth_mock::BOB]);
    let other = get(&host, "/api/2.0/accounts/11111111-2222-3333-4444-555555555555/scim/v2/Users", Some(&token)).await;
    assert_eq!(other.status, 404);
    let anonymous = get(&host, &format!("/api/2.0/accounts/{}/scim/v2/Users", brickauth_mock::ACCOUNT_ID), None).await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn a_unified_host_wants_the_workspace_header_on_workspace_calls() {
    let entra = MockEntra::start().await;
    let host = MockDatabricks::start(entra.registry()).await;
    let token = alice_token(&entra).await;
    host.set_host_metadata(Some(MockDatabricks::host_metadata("unified")));
    let call = |id: Option<&'static str>| {
        let mut r =
            reqwest::Client::new().get(format!("{}/api/2.0/preview/scim/v2/Me", host.uri())).bearer_auth(&token);
        if let Some(id) = id {
            r = r.header("X-Databricks-Workspace-Id", id);
        }
        async move { Reply::from(r.send().await.expect("request")).await }
    };
    assert_eq!(call(None).await.status, 400);
    assert_eq!(call(Some("999")).await.status, 404);
    assert_eq!(call(Some(brickauth_mock::WORKSPACE_ID)).await.status, 200);
    // Account-level calls on the same host need no workspace.
    let users =
        get(&host, &format!("/api/2.0/accounts/{}/scim/v2/Users", brickauth_mock::ACCOUNT_ID), Some(&token)).await;
    assert_eq!(users.status, 200);
}
