//! The mock Entra ID over HTTP, as a client sees it.

mod support;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use brickauth_mock::{CLIENT_ID, DATABRICKS_RESOURCE, Failure, MockConfig, MockEntra, MockUser, TENANT_ID, jwt};
use serde_json::{Value, json};
use support::{alice_token, assert_entra_error, full_scope, password_grant, post_token, refresh_grant};

#[tokio::test]
async fn password_grant_issues_jwt_shaped_tokens() {
    let entra = MockEntra::start().await;
    let reply = password_grant(&entra, "alice@contoso.com", "correct horse battery staple").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some("application/json; charset=utf-8"));
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], format!("{DATABRICKS_RESOURCE}/user_impersonation"));
    assert_eq!(body["expires_in"], json!(3600));
    assert_eq!(body["ext_expires_in"], json!(3600));

    let access_token = body["access_token"].as_str().expect("access_token");
    assert_eq!(jwt::header(access_token), Some(json!({ "typ": "JWT", "alg": "RS256", "kid": "mock" })));
    let claims = jwt::claims(access_token).expect("access token claims");
    assert_eq!(claims["aud"], DATABRICKS_RESOURCE);
    assert_eq!(claims["iss"], format!("https://sts.windows.net/{TENANT_ID}/"));
    assert_eq!(claims["tid"], TENANT_ID);
    assert_eq!(claims["upn"], "alice@contoso.com");
    assert_eq!(claims["unique_name"], "alice@contoso.com");
    assert_eq!(claims["name"], "Alice Smith");
    assert_eq!(claims["oid"], "5f1d4b2e-8c3a-4e7f-9b6d-2a1c3e5f7d90");
    assert_eq!(claims["appid"], CLIENT_ID);
    assert_eq!(claims["scp"], "user_impersonation");
    assert_eq!(claims["ver"], "1.0");
    let iat = claims["iat"].as_i64().expect("iat");
    assert_eq!(claims["exp"].as_i64(), Some(iat + 3600));
    assert_eq!(claims["nbf"].as_i64(), Some(iat));

    let refresh_token = body["refresh_token"].as_str().expect("refresh_token");
    assert!(refresh_token.starts_with("0.AXoA"));
    assert_eq!(refresh_token.len(), 66);

    let id_claims = jwt::claims(body["id_token"].as_str().expect("id_token")).expect("id claims");
    assert_eq!(id_claims["aud"], CLIENT_ID);
    assert_eq!(id_claims["tid"], TENANT_ID);
    assert_eq!(id_claims["preferred_username"], "alice@contoso.com");
    assert_eq!(id_claims["oid"], claims["oid"]);
    assert_eq!(id_claims["iss"], format!("{}/{TENANT_ID}/v2.0", entra.uri()));

    let client_info =
        URL_SAFE_NO_PAD.decode(body["client_info"].as_str().expect("client_info")).expect("base64url client_info");
    let client_info: Value = serde_json::from_slice(&client_info).expect("client_info JSON");
    assert_eq!(client_info, json!({ "uid": "5f1d4b2e-8c3a-4e7f-9b6d-2a1c3e5f7d90", "utid": TENANT_ID }));

    assert!(entra.registry().is_valid(access_token));
    assert_eq!(entra.issued_access_tokens(), [access_token]);
    assert_eq!(entra.issued_refresh_tokens(), [refresh_token]);
    assert_eq!(entra.token_request_count(), 1);
    let recorded = entra.token_requests().await;
    assert_eq!(recorded[0].method, "POST");
    assert_eq!(recorded[0].path, format!("/{TENANT_ID}/oauth2/v2.0/token"));
    assert_eq!(recorded[0].form["username"], "alice@contoso.com");
    assert_eq!(recorded[0].form["grant_type"], "password");
}

#[tokio::test]
async fn tokens_are_unique_and_optional_parts_follow_the_request() {
    let entra = MockEntra::start().await;
    let scope = format!("{DATABRICKS_RESOURCE}/.default");
    let form = [
        ("client_id", CLIENT_ID),
        ("grant_type", "password"),
        ("username", "ALICE@contoso.com"),
        ("password", "correct horse battery staple"),
        ("scope", scope.as_str()),
    ];
    let first = post_token(&entra, &form).await.json();
    let second = post_token(&entra, &form).await.json();
    assert_ne!(first["access_token"], second["access_token"]);
    for body in [&first, &second] {
        assert!(body["access_token"].is_string());
        assert!(body.get("refresh_token").is_none(), "{body}");
        assert!(body.get("id_token").is_none(), "{body}");
        assert!(body.get("client_info").is_none(), "{body}");
    }
    let tokens = entra.issued_access_tokens();
    assert_eq!(tokens.len(), 2);
    assert!(!tokens[0].contains(&tokens[1]) && !tokens[1].contains(&tokens[0]));
}

#[tokio::test]
async fn nonce_is_echoed_in_the_id_token() {
    let entra = MockEntra::start().await;
    let scope = full_scope();
    let reply = post_token(
        &entra,
        &[
            ("client_id", CLIENT_ID),
            ("grant_type", "password"),
            ("username", "alice@contoso.com"),
            ("password", "correct horse battery staple"),
            ("scope", &scope),
            ("nonce", "n-0S6_WzA2Mj"),
        ],
    )
    .await;
    let id_token = reply.json()["id_token"].as_str().map(str::to_owned);
    let claims = jwt::claims(&id_token.expect("id_token")).expect("claims");
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
}

#[tokio::test]
async fn wrong_password_is_50126() {
    let entra = MockEntra::start().await;
    let reply = password_grant(&entra, "alice@contoso.com", "Tr0ub4dor&3").await;
    let body = assert_entra_error(&reply, 400, "invalid_grant", 50126);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .starts_with("AADSTS50126: Error validating credentials due to invalid username or password.\r\n")
    );
    assert!(entra.issued_access_tokens().is_empty());
    assert!(entra.registry().is_empty());
}

#[tokio::test]
async fn unknown_user_is_50034() {
    let entra = MockEntra::start().await;
    let reply = password_grant(&entra, "mallory@contoso.com", "anything").await;
    assert_entra_error(&reply, 400, "invalid_grant", 50034);
}

#[tokio::test]
async fn mfa_user_is_50076_even_with_the_right_password() {
    let entra = MockEntra::start().await;
    let reply = password_grant(&entra, "bob@contoso.com", "hunter2-but-longer").await;
    let body = assert_entra_error(&reply, 400, "invalid_grant", 50076);
    assert_eq!(body["suberror"], "basic_action");
    assert!(body["claims"].is_string());
    // The wrong password is reported as such, MFA or not.
    let reply = password_grant(&entra, "bob@contoso.com", "hunter2").await;
    assert_entra_error(&reply, 400, "invalid_grant", 50126);
}

#[tokio::test]
async fn unknown_client_is_700016() {
    let entra = MockEntra::start().await;
    let other_client = "11111111-2222-4333-8444-555555555555";
    let scope = full_scope();
    let reply = post_token(
        &entra,
        &[
            ("client_id", other_client),
            ("grant_type", "password"),
            ("username", "alice@contoso.com"),
            ("password", "correct horse battery staple"),
            ("scope", &scope),
        ],
    )
    .await;
    let body = assert_entra_error(&reply, 400, "unauthorized_client", 700016);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("Application with identifier '{other_client}' was not found"))
    );
}

#[tokio::test]
async fn malformed_requests_get_invalid_request_not_a_panic() {
    let entra = MockEntra::start().await;
    let client = reqwest::Client::new();

    // No scope.
    let reply = post_token(
        &entra,
        &[
            ("client_id", CLIENT_ID),
            ("grant_type", "password"),
            ("username", "alice@contoso.com"),
            ("password", "correct horse battery staple"),
        ],
    )
    .await;
    assert_entra_error(&reply, 400, "invalid_request", 90014);

    // No grant_type.
    let reply = post_token(&entra, &[("client_id", CLIENT_ID)]).await;
    let body = assert_entra_error(&reply, 400, "invalid_request", 900144);
    assert!(body["error_description"].as_str().unwrap_or_default().contains("'grant_type'"));

    // A JSON body, invalid UTF-8 and broken percent escapes: still an OAuth error answer.
    for (content_type, body, error) in [
        ("application/json", b"{\"grant_type\":\"password\"}".to_vec(), "invalid_request"),
        ("application/x-www-form-urlencoded", b"grant_type=%FF%&client_id=\xff\xfe&&=".to_vec(), "unauthorized_client"),
    ] {
        let response = client
            .post(entra.token_endpoint())
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        let reply = support::Reply::from(response).await;
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert_eq!(reply.json()["error"], error);
    }

    // GET on the token endpoint.
    let response = client.get(entra.token_endpoint()).send().await.expect("request");
    let reply = support::Reply::from(response).await;
    assert_entra_error(&reply, 400, "invalid_request", 900561);

    // Unsupported grant type.
    let reply = post_token(&entra, &[("client_id", CLIENT_ID), ("grant_type", "urn:example:magic")]).await;
    assert_entra_error(&reply, 400, "unsupported_grant_type", 70003);

    assert_eq!(entra.token_request_count(), 6);
    assert!(entra.issued_access_tokens().is_empty());
}

#[tokio::test]
async fn client_request_id_is_echoed_as_correlation_id() {
    let entra = MockEntra::start().await;
    let correlation_id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let response = reqwest::Client::new()
        .post(entra.token_endpoint())
        .header("client-request-id", correlation_id)
        .form(&[("client_id", CLIENT_ID), ("grant_type", "password")])
        .send()
        .await
        .expect("request");
    let reply = support::Reply::from(response).await;
    assert_eq!(reply.json()["correlation_id"], correlation_id);
    assert_eq!(reply.header("client-request-id"), Some(correlation_id));
    let recorded = entra.token_requests().await;
    assert_eq!(recorded[0].headers["client-request-id"], correlation_id);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_work_once() {
    let entra = MockEntra::start().await;
    let first = password_grant(&entra, "alice@contoso.com", "correct horse battery staple").await.json();
    let rt1 = first["refresh_token"].as_str().expect("rt1").to_owned();

    let second = refresh_grant(&entra, &rt1).await;
    assert_eq!(second.status, 200, "{}", second.text);
    let second = second.json();
    let rt2 = second["refresh_token"].as_str().expect("rt2").to_owned();
    assert_ne!(rt1, rt2);
    assert_ne!(first["access_token"], second["access_token"]);
    let claims = jwt::claims(second["access_token"].as_str().unwrap_or_default()).expect("claims");
    assert_eq!(claims["upn"], "alice@contoso.com");

    // The first refresh token was used up by the rotation.
    let replay = refresh_grant(&entra, &rt1).await;
    assert_entra_error(&replay, 400, "invalid_grant", 70008);
    // The new one works, once.
    assert_eq!(refresh_grant(&entra, &rt2).await.status, 200);
    assert_entra_error(&refresh_grant(&entra, &rt2).await, 400, "invalid_grant", 70008);
    // A refresh token never issued.
    let unknown = refresh_grant(&entra, "0.AXoAnot-a-real-refresh-token").await;
    assert_entra_error(&unknown, 400, "invalid_grant", 70008);

    assert_eq!(entra.issued_refresh_tokens().len(), 3);
    assert_eq!(entra.issued_access_tokens().len(), 3);
}

#[tokio::test]
async fn out_of_band_refresh_token_redeems_for_that_user() {
    let entra = MockEntra::start().await;
    let rt = entra.issue_refresh_token("bob@contoso.com");
    let reply = refresh_grant(&entra, &rt).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let access_token = reply.json()["access_token"].as_str().expect("access_token").to_owned();
    let claims = jwt::claims(&access_token).expect("claims");
    assert_eq!(claims["upn"], "bob@contoso.com");
    assert_eq!(entra.token_request_count(), 1);

    let ghost = entra.issue_refresh_token("ghost@contoso.com");
    assert_entra_error(&refresh_grant(&entra, &ghost).await, 400, "invalid_grant", 50034);
}

#[tokio::test]
async fn queued_failures_answer_first_then_normal_processing_resumes() {
    let entra = MockEntra::start().await;
    entra.fail_next(vec![Failure::too_many_requests("7"), Failure::unavailable(), Failure::html_bad_gateway()]);

    let throttled = password_grant(&entra, "alice@contoso.com", "correct horse battery staple").await;
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.header("retry-after"), Some("7"));
    assert_eq!(throttled.json()["error"], "temporarily_unavailable");

    let unavailable = password_grant(&entra, "alice@contoso.com", "correct horse battery staple").await;
    assert_eq!(unavailable.status, 503);
    assert_eq!(unavailable.json()["error"], "temporarily_unavailable");

    let bad_gateway = password_grant(&entra, "alice@contoso.com", "correct horse battery staple").await;
    assert_eq!(bad_gateway.status, 502);
    assert_eq!(bad_gateway.header("content-type"), Some("text/html"));
    assert!(bad_gateway.text.contains("502 Bad Gateway"));

    let ok = password_grant(&entra, "alice@contoso.com", "correct horse battery staple").await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(entra.token_request_count(), 4);
    assert_eq!(entra.token_requests().await.len(), 4);
    assert_eq!(entra.issued_access_tokens().len(), 1);
}

#[tokio::test]
async fn delay_failure_answers_normally_but_late() {
    let entra = MockEntra::start().await;
    entra.fail_next(vec![Failure::Delay(Duration::from_millis(300))]);
    let started = Instant::now();
    let reply = password_grant(&entra, "alice@contoso.com", "correct horse battery staple").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn token_lifetime_applies_to_later_tokens() {
    let entra = MockEntra::start().await;
    entra.set_token_lifetime(-60);
    let reply = password_grant(&entra, "alice@contoso.com", "correct horse battery staple").await;
    let body = reply.json();
    assert_eq!(body["expires_in"], json!(-60));
    let token = body["access_token"].as_str().expect("access_token");
    let claims = jwt::claims(token).expect("claims");
    assert_eq!(claims["exp"].as_i64(), claims["iat"].as_i64().map(|iat| iat - 60));
    assert!(!entra.registry().is_valid(token));
    assert!(entra.registry().lookup(token).is_some());

    entra.set_token_lifetime(120);
    let token = alice_token(&entra).await;
    assert!(entra.registry().is_valid(&token));
}

#[tokio::test]
async fn any_tenant_segment_is_accepted_and_tokens_carry_the_mock_tenant() {
    let entra = MockEntra::start().await;
    for tenant in ["organizations", "contoso.onmicrosoft.com", "common"] {
        let scope = full_scope();
        let response = reqwest::Client::new()
            .post(format!("{}/{tenant}/oauth2/v2.0/token", entra.uri()))
            .form(&[
                ("client_id", CLIENT_ID),
                ("grant_type", "password"),
                ("username", "alice@contoso.com"),
                ("password", "correct horse battery staple"),
                ("scope", &scope),
            ])
            .send()
            .await
            .expect("request");
        let reply = support::Reply::from(response).await;
        assert_eq!(reply.status, 200, "{tenant}: {}", reply.text);
        let claims = jwt::claims(reply.json()["access_token"].as_str().unwrap_or_default());
        assert_eq!(claims.expect("claims")["tid"], TENANT_ID);
    }
    assert_eq!(entra.token_request_count(), 3);
}

#[tokio::test]
async fn custom_config_users_and_clients() {
    let client = "99999999-8888-4777-8666-555555555555";
    let entra = MockEntra::start_with(MockConfig {
        users: vec![MockUser::new("carol@fabrikam.com", "pw-carol")],
        clients: vec![client.to_owned()],
        token_lifetime_secs: 600,
    })
    .await;
    let scope = full_scope();
    let reply = post_token(
        &entra,
        &[
            ("client_id", client),
            ("grant_type", "password"),
            ("username", "carol@fabrikam.com"),
            ("password", "pw-carol"),
            ("scope", &scope),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["expires_in"], json!(600));
    // The default client is not registered in this tenant.
    let reply = password_grant(&entra, "carol@fabrikam.com", "pw-carol").await;
    assert_entra_error(&reply, 400, "unauthorized_client", 700016);
}

/// GETs `url` (with `query`) and decodes the JSON answer.
async fn get_json(url: String, query: &[(&str, &str)]) -> Value {
    reqwest::Client::new()
        .get(&url)
        .query(query)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

#[tokio::test]
async fn discovery_and_user_realm() {
    let entra = MockEntra::start().await;
    let uri = entra.uri();
    let discovery = get_json(format!("{uri}/{TENANT_ID}/v2.0/.well-known/openid-configuration"), &[]).await;
    assert_eq!(discovery["token_endpoint"], entra.token_endpoint());
    assert_eq!(discovery["authorization_endpoint"], format!("{uri}/{TENANT_ID}/oauth2/v2.0/authorize"));
    assert_eq!(discovery["device_authorization_endpoint"], format!("{uri}/{TENANT_ID}/oauth2/v2.0/devicecode"));
    assert_eq!(discovery["issuer"], format!("{uri}/{TENANT_ID}/v2.0"));

    let organizations = get_json(format!("{uri}/organizations/v2.0/.well-known/openid-configuration"), &[]).await;
    assert_eq!(organizations["token_endpoint"], format!("{uri}/organizations/oauth2/v2.0/token"));

    let realm = get_json(format!("{uri}/common/userrealm/alice%40contoso.com"), &[("api-version", "1.0")]).await;
    assert_eq!(
        realm,
        json!({
            "ver": "1.0",
            "account_type": "Managed",
            "domain_name": "contoso.com",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_audience_urn": "urn:federation:MicrosoftOnline",
        })
    );
    let stranger = get_json(format!("{uri}/common/userrealm/eve%40example.org"), &[("api-version", "1.0")]).await;
    assert_eq!(stranger["account_type"], "Unknown");

    let unknown = reqwest::Client::new().get(format!("{uri}/nothing/here")).send().await.expect("404");
    assert_eq!(unknown.status().as_u16(), 404);

    assert_eq!(entra.requests().await.len(), 5);
    assert_eq!(entra.token_request_count(), 0);
}
