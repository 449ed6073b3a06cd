//! The mock's Microsoft Graph: tokens for the developer sign-on client only, app registration,
//! service principals, consent, and the 403 of a user without the rights.

mod support;

use brickauth_mock::{
    AZURE_CLI_CLIENT_ID, CLIENT_ID, DATABRICKS_RESOURCE, DATABRICKS_USER_IMPERSONATION, GraphPrivileges, MockConfig,
    MockDatabricks, MockEntra, TENANT_ID, jwt,
};
use serde_json::{Value, json};
use support::{Reply, post_token};

const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default offline_access openid profile";

async fn start() -> MockEntra {
    MockEntra::start_with(MockConfig {
        clients: vec![CLIENT_ID.to_owned(), AZURE_CLI_CLIENT_ID.to_owned()],
        ..MockConfig::default()
    })
    .await
}

async fn token(entra: &MockEntra, client: &str, scope: &str) -> Reply {
    let form = [
        ("client_id", client),
        ("grant_type", "password"),
        ("username", "alice@contoso.com"),
        ("password", "correct horse battery staple"),
        ("scope", scope),
    ];
    post_token(entra, &form).await
}

async fn graph(entra: &MockEntra, token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
    let mut request = reqwest::Client::new().request(method, format!("{}/v1.0/{path}", entra.uri())).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    Reply::from(request.send().await.expect("graph request")).await
}

#[tokio::test]
async fn graph_tokens_only_for_the_developer_sign_on_client_and_only_for_graph() {
    let entra = start().await;
    let refused = token(&entra, CLIENT_ID, GRAPH_SCOPE).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(refused.json()["error_description"].as_str().unwrap().starts_with("AADSTS65001"), "{}", refused.text);

    let answer = token(&entra, AZURE_CLI_CLIENT_ID, GRAPH_SCOPE).await.json();
    let access = answer["access_token"].as_str().unwrap();
    let claims = jwt::claims(access).unwrap();
    assert_eq!(
        (claims["aud"].as_str(), claims["appid"].as_str()),
        (Some("https://graph.microsoft.com"), Some(AZURE_CLI_CLIENT_ID))
    );
    assert!(claims["scp"].as_str().unwrap().contains("Application.ReadWrite.All"));

    // A Graph token is no good at the workspace, a Databricks token no good at Graph.
    let workspace = MockDatabricks::start(entra.registry()).await;
    let me = reqwest::Client::new()
        .get(format!("{}/api/2.0/preview/scim/v2/Me", workspace.uri()))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    let databricks = token(&entra, AZURE_CLI_CLIENT_ID, &format!("{DATABRICKS_RESOURCE}/.default")).await.json();
    let denied =
        graph(&entra, databricks["access_token"].as_str().unwrap(), reqwest::Method::GET, "organization", None).await;
    assert_eq!((denied.status, denied.json()["error"]["code"].as_str()), (401, Some("InvalidAuthenticationToken")));
}

#[tokio::test]
async fn register_an_app_with_its_service_principal_and_consent() {
    use reqwest::Method;
    let entra = start().await;
    let t = token(&entra, AZURE_CLI_CLIENT_ID, GRAPH_SCOPE).await.json()["access_token"].as_str().unwrap().to_owned();

    let org = graph(&entra, &t, Method::GET, "organization", None).await.json();
    assert_eq!(org["value"][0]["id"], TENANT_ID);

    let databricks =
        graph(&entra, &t, Method::GET, &format!("servicePrincipals(appId='{DATABRICKS_RESOURCE}')"), None).await;
    let databricks = databricks.json();
    assert_eq!(databricks["oauth2PermissionScopes"][0]["id"], DATABRICKS_USER_IMPERSONATION);
    let missing =
        graph(&entra, &t, Method::GET, "servicePrincipals(appId='00000000-0000-0000-0000-000000000000')", None).await;
    assert_eq!(missing.status, 404);

    let filter = "applications?$filter=displayName%20eq%20'brickauth'";
    assert_eq!(graph(&entra, &t, Method::GET, filter, None).await.json()["value"], json!([]));
    let created = graph(&entra, &t, Method::POST, "applications", Some(json!({"displayName": "brickauth"}))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let app_id = created.json()["appId"].as_str().unwrap().to_owned();
    assert_eq!(graph(&entra, &t, Method::GET, filter, None).await.json()["value"][0]["appId"], app_id.as_str());
    // The new app signs in at once.
    let signed_in = token(&entra, &app_id, &format!("{DATABRICKS_RESOURCE}/.default")).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);

    let sp = graph(&entra, &t, Method::POST, "servicePrincipals", Some(json!({"appId": app_id}))).await;
    assert_eq!(sp.status, 201, "{}", sp.text);
    let grant = json!({"clientId": sp.json()["id"], "consentType": "AllPrincipals", "resourceId": databricks["id"], "scope": "user_impersonation"});
    let granted = graph(&entra, &t, Method::POST, "oauth2PermissionGrants", Some(grant.clone())).await;
    assert_eq!(granted.status, 201, "{}", granted.text);
    assert_eq!(entra.graph_grants().len(), 1);

    // Without the rights: Graph's 403.
    entra.set_graph_privileges(GraphPrivileges::NoConsent);
    let denied = graph(&entra, &t, Method::POST, "oauth2PermissionGrants", Some(grant)).await;
    assert_eq!((denied.status, denied.json()["error"]["code"].as_str()), (403, Some("Authorization_RequestDenied")));
    entra.set_graph_privileges(GraphPrivileges::NoAppRegistration);
    let denied = graph(&entra, &t, Method::POST, "applications", Some(json!({"displayName": "other"}))).await;
    assert_eq!(denied.status, 403);
    assert_eq!(entra.graph_applications().len(), 1);
}
