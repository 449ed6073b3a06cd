//! The Azure CLI's client id as a public family (FOCI) client.

mod support;

use brickauth_mock::{AZURE_CLI_CLIENT_ID, CLIENT_ID, MockConfig, MockEntra};
use support::{full_scope, post_token};

fn grant<'a>(client: &'a str, grant_type: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![("client_id", client), ("grant_type", grant_type), ("client_info", "1")];
    form.extend_from_slice(extra);
    form
}

#[tokio::test]
async fn azure_cli_is_a_family_client_when_registered() {
    let scope = full_scope();
    let password = [("username", "alice@contoso.com"), ("password", "correct horse battery staple")];

    // Not registered by default.
    let entra = MockEntra::start().await;
    let reply =
        post_token(&entra, &grant(AZURE_CLI_CLIENT_ID, "password", &[&password[..], &[("scope", &scope)]].concat()))
            .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(reply.text.contains("AADSTS700016"), "{}", reply.text);

    let config =
        MockConfig { clients: vec![CLIENT_ID.to_owned(), AZURE_CLI_CLIENT_ID.to_owned()], ..MockConfig::default() };
    let entra = MockEntra::start_with(config).await;
    let reply =
        post_token(&entra, &grant(AZURE_CLI_CLIENT_ID, "password", &[&password[..], &[("scope", &scope)]].concat()))
            .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["foci"], "1", "a family client's answer says so");
    let rt = body["refresh_token"].as_str().expect("refresh token").to_owned();

    // The family refresh token is redeemed by the Azure CLI again …
    let reply =
        post_token(&entra, &grant(AZURE_CLI_CLIENT_ID, "refresh_token", &[("refresh_token", &rt), ("scope", &scope)]))
            .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["foci"], "1");
    // A family refresh token stays good after use: the Azure CLI and brickauth share it.
    let again =
        post_token(&entra, &grant(AZURE_CLI_CLIENT_ID, "refresh_token", &[("refresh_token", &rt), ("scope", &scope)]))
            .await;
    assert_eq!(again.status, 200, "{}", again.text);
    let rotated = reply.json()["refresh_token"].as_str().expect("rotated").to_owned();

    // … but not by a client outside the family, whose answers carry no `foci`.
    let reply =
        post_token(&entra, &grant(CLIENT_ID, "refresh_token", &[("refresh_token", &rotated), ("scope", &scope)])).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(reply.text.contains("AADSTS70000"), "{}", reply.text);
    let reply =
        post_token(&entra, &grant(CLIENT_ID, "password", &[&password[..], &[("scope", &scope)]].concat())).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.json().get("foci").is_none());
}
