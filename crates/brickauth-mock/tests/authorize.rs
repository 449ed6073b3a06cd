//! The mock's authorize endpoint and `authorization_code` grant, as a browser and a client see them.

mod support;

use brickauth_mock::{CLIENT_ID, MockEntra, TENANT_ID, jwt};
use support::{assert_entra_error, full_scope, post_token};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://localhost:5123";

fn authorize_url(entra: &MockEntra, extra: &[(&str, &str)]) -> String {
    let scope = full_scope();
    let mut params = vec![
        ("client_id", CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", scope.as_str()),
        ("state", "st-1"),
        ("response_mode", "query"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("nonce", "n-1"),
    ];
    for (k, v) in extra {
        params.retain(|(name, _)| name != k);
        params.push((k, v));
    }
    let query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    format!("{}/{TENANT_ID}/oauth2/v2.0/authorize?{query}", entra.uri())
}

async fn get(url: &str) -> (u16, Option<String>, String) {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let r = http.get(url).send().await.expect("authorize request");
    let location = r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (r.status().as_u16(), location, r.text().await.unwrap_or_default())
}

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

async fn redeem(entra: &MockEntra, code: &str, redirect: &str, verifier: &str) -> support::Reply {
    let scope = full_scope();
    post_token(
        entra,
        &[
            ("client_id", CLIENT_ID),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
            ("scope", &scope),
            ("client_info", "1"),
        ],
    )
    .await
}

#[tokio::test]
async fn query_redirect_then_single_use_redemption() {
    let entra = MockEntra::start().await;
    let (status, location, _) = get(&authorize_url(&entra, &[("login_hint", "bob@contoso.com")])).await;
    assert_eq!(status, 302);
    let location = location.expect("location");
    assert!(location.starts_with("http://localhost:5123/?code="), "{location}");
    assert_eq!(param(&location, "state").as_deref(), Some("st-1"));
    let code = param(&location, "code").expect("code");

    let reply = redeem(&entra, &code, REDIRECT, VERIFIER).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert!(body["refresh_token"].is_string());
    let id = jwt::claims(body["id_token"].as_str().unwrap_or_default()).expect("id token");
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["preferred_username"], "bob@contoso.com");

    let again = redeem(&entra, &code, REDIRECT, VERIFIER).await;
    assert_entra_error(&again, 400, "invalid_grant", 54005);
}

#[tokio::test]
async fn pkce_and_redirect_are_enforced() {
    let entra = MockEntra::start().await;
    for (verifier, redirect, code) in [
        ("wrong-verifier-wrong-verifier-wrong-verifier", REDIRECT, 501481),
        (VERIFIER, "http://localhost:9999", 500117),
    ] {
        let (_, location, _) = get(&authorize_url(&entra, &[])).await;
        let code_value = param(&location.unwrap_or_default(), "code").expect("code");
        let reply = redeem(&entra, &code_value, redirect, verifier).await;
        assert_entra_error(&reply, 400, "invalid_grant", code);
    }
}

#[tokio::test]
async fn form_post_page_and_failures() {
    let entra = MockEntra::start().await;
    let (status, _, html) = get(&authorize_url(&entra, &[("response_mode", "form_post")])).await;
    assert_eq!(status, 200);
    assert!(html.contains("action=\"http://localhost:5123/\""), "{html}");
    assert!(html.contains("name=\"state\" value=\"st-1\""), "{html}");
    assert!(html.contains("name=\"code\""), "{html}");

    entra.fail_authorize("access_denied", "AADSTS65004: User declined to consent to access the app.");
    let (status, location, _) = get(&authorize_url(&entra, &[])).await;
    assert_eq!(status, 302);
    let location = location.unwrap_or_default();
    assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&location, "state").as_deref(), Some("st-1"));
    assert!(param(&location, "code").is_none());

    // Without PKCE: an error at the redirect URI. A foreign redirect URI: a page, no redirect.
    let (status, location, _) = get(&authorize_url(&entra, &[("code_challenge_method", "plain")])).await;
    assert_eq!((status, param(&location.unwrap_or_default(), "error").as_deref()), (302, Some("invalid_request")));
    let (status, location, _) = get(&authorize_url(&entra, &[("redirect_uri", "https://evil.example/cb")])).await;
    assert_eq!((status, location), (400, None));
    let (status, _, _) = get(&authorize_url(&entra, &[("client_id", "00000000-0000-0000-0000-000000000000")])).await;
    assert_eq!(status, 400);
}
