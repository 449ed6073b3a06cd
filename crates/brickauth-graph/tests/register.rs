//! The registration procedure against the mock's Graph.

use std::sync::Arc;

use brickauth_core::http::Form;
use brickauth_core::{StaticToken, TokenClient, TokenSource};
use brickauth_graph::{Consent, Graph, GraphError, Operation};
use brickauth_mock::{
    ALICE, ALICE_PASSWORD, AZURE_CLI_CLIENT_ID, CLIENT_ID, DATABRICKS_RESOURCE, DATABRICKS_USER_IMPERSONATION,
    GraphPrivileges, MockConfig, MockEntra, TENANT_ID,
};

async fn start() -> MockEntra {
    MockEntra::start_with(MockConfig {
        clients: vec![CLIENT_ID.to_owned(), AZURE_CLI_CLIENT_ID.to_owned()],
        ..MockConfig::default()
    })
    .await
}

/// A Graph token for Alice and the developer sign-on client, as `app create` gets one.
async fn graph(entra: &MockEntra) -> Graph {
    let form = Form::new()
        .field("client_id", AZURE_CLI_CLIENT_ID)
        .field("grant_type", "password")
        .field("username", ALICE)
        .secret("password", &ALICE_PASSWORD.to_owned().into())
        .field("scope", brickauth_graph::scope(brickauth_core::Cloud::Public));
    let endpoint = url::Url::parse(&entra.token_endpoint()).unwrap();
    let token = TokenClient::new().unwrap().token(&endpoint, &form, false).await.unwrap();
    let source: Arc<dyn TokenSource> = Arc::new(StaticToken(token.access_token));
    Graph::new(&entra.uri(), source).unwrap()
}

#[tokio::test]
async fn registers_once_with_the_permission_read_from_the_tenant() {
    let entra = start().await;
    let graph = graph(&entra).await;
    let first = graph.register_databricks_app("brickauth it's", true).await.unwrap();
    assert_eq!(first.tenant.id, TENANT_ID);
    assert!(!first.existed);
    assert!(matches!(first.consent, Consent::Granted), "{:?}", first.consent);
    let apps = entra.graph_applications();
    assert_eq!(apps.len(), 1);
    let app = &apps[0];
    assert_eq!(app["appId"], first.app.app_id.as_str());
    assert_eq!(app["signInAudience"], "AzureADMyOrg");
    assert_eq!(app["isFallbackPublicClient"], true);
    assert_eq!(app["publicClient"]["redirectUris"], serde_json::json!(["http://localhost"]));
    let access = &app["requiredResourceAccess"][0];
    assert_eq!(access["resourceAppId"], DATABRICKS_RESOURCE);
    assert_eq!(access["resourceAccess"], serde_json::json!([{"id": DATABRICKS_USER_IMPERSONATION, "type": "Scope"}]));
    let grant = &entra.graph_grants()[0];
    assert_eq!(
        (grant["consentType"].as_str(), grant["scope"].as_str()),
        (Some("AllPrincipals"), Some("user_impersonation"))
    );

    // Again: reported, not duplicated; the grant is there already.
    let second = graph.register_databricks_app("brickauth it's", true).await.unwrap();
    assert!(second.existed);
    assert_eq!(second.app.app_id, first.app.app_id);
    assert!(matches!(second.consent, Consent::AlreadyGranted), "{:?}", second.consent);
    assert_eq!(entra.graph_applications().len(), 1);
}

#[tokio::test]
async fn refusals_are_typed_and_consent_refused_keeps_the_app() {
    let entra = start().await;
    let graph = graph(&entra).await;
    entra.set_graph_privileges(GraphPrivileges::NoConsent);
    let done = graph.register_databricks_app("mine", true).await.unwrap();
    match &done.consent {
        Consent::Failed(GraphError::Denied { operation: Operation::GrantConsent, code, .. }) => {
            assert_eq!(code, "Authorization_RequestDenied")
        }
        other => panic!("{other:?}"),
    }
    entra.set_graph_privileges(GraphPrivileges::NoAppRegistration);
    let err = graph.register_databricks_app("other", false).await.unwrap_err();
    assert!(matches!(err, GraphError::Denied { operation: Operation::CreateApplication, .. }), "{err:?}");
    assert!(err.to_string().contains("ask an administrator"), "{err}");
}

#[tokio::test]
async fn a_token_graph_refuses_is_a_status_error() {
    let entra = start().await;
    let source: Arc<dyn TokenSource> = Arc::new(StaticToken::bearer("not-a-graph-token"));
    let err = Graph::new(&entra.uri(), source).unwrap().organization().await.unwrap_err();
    match err {
        GraphError::Status { status: 401, code, .. } => assert_eq!(code, "InvalidAuthenticationToken"),
        other => panic!("{other:?}"),
    }
}
