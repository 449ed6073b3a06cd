//! The flow against the mock Entra, with a test "browser" that follows the authorize URL.

use super::*;
use brickauth_core::{Interaction, MapSettings};
use brickauth_mock::{CLIENT_ID, MockEntra, TENANT_ID};

fn settings(mock: &MockEntra) -> MapSettings {
    MapSettings::new("test")
        .with("flow", "authorization-code")
        .with("tenant_id", TENANT_ID)
        .with("client_id", CLIENT_ID)
        .with("authority_host", mock.uri())
}

/// What the test browser does with the authorize URL.
#[derive(Clone, Copy, PartialEq)]
enum Browser {
    /// Follow it and deliver the response to the listener.
    Follow,
    /// First deliver a forged response with a wrong state, then the genuine one.
    ForgeFirst,
    /// Nothing at all.
    Idle,
}

fn opener(kind: Browser) -> Opener {
    Arc::new(move |url: &str| {
        let url = url.to_owned();
        if kind != Browser::Idle {
            tokio::runtime::Handle::current().spawn(async move {
                if let Err(e) = browse(&url, kind == Browser::ForgeFirst).await {
                    panic!("test browser: {e}");
                }
            });
        }
        true
    })
}

/// Fetch the authorize URL and deliver the answer: follow a 302, or post the form.
async fn browse(url: &str, forge: bool) -> Result<(), String> {
    let http =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().map_err(|e| e.to_string())?;
    let r = http.get(url).send().await.map_err(|e| e.to_string())?;
    if r.status().as_u16() == 302 {
        let location = r.headers().get("location").and_then(|v| v.to_str().ok()).ok_or("no location")?.to_owned();
        if forge {
            let mut forged = Url::parse(&location).map_err(|e| e.to_string())?;
            forged.set_query(Some("code=forged-code&state=forged-state"));
            let f = http.get(forged.as_str()).send().await.map_err(|e| e.to_string())?;
            assert_eq!(f.status().as_u16(), 400);
        }
        http.get(&location).send().await.map_err(|e| e.to_string())?;
    } else {
        let html = r.text().await.map_err(|e| e.to_string())?;
        let (action, fields) = parse_form(&html).ok_or_else(|| format!("no form in {html}"))?;
        http.post(&action).form(&fields).send().await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The action and hidden inputs of Entra's auto-submitting form page.
fn parse_form(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let attr = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = tag[start..].find('"')? + start;
        Some(unescape(&tag[start..end]))
    };
    let form = &html[html.find("<form")?..];
    let action = attr(&form[..form.find('>')?], "action")?;
    let mut fields = Vec::new();
    for input in form.split("<input").skip(1) {
        let tag = &input[..input.find('>')?];
        if let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value"))
            && tag.contains("hidden")
        {
            fields.push((n, v));
        }
    }
    Some((action, fields))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#x27;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

fn flow_with(mock: &MockEntra, s: MapSettings, browser: Browser) -> AuthorizationCodeFlow {
    let _ = mock;
    let mut flow = AuthorizationCodeFlow::from_settings(&s).unwrap();
    flow.options.opener = Some(opener(browser));
    flow
}

const BROWSER: Interaction = Interaction { terminal: true, browser: true };

#[test]
fn no_app_registration_needed() {
    let spec = brickauth_core::flow::find("interactive").unwrap();
    let bare = MapSettings::new("test").with("flow", "authorization-code");
    let app = (spec.app)(&bare).unwrap();
    assert_eq!(app.client_id.as_str(), brickauth_core::app::DEVELOPER_SIGN_ON_CLIENT_ID);
    assert_eq!(app.authority.tenant().as_str(), "organizations");
    let flow = AuthorizationCodeFlow::from_settings(&bare).unwrap();
    let attempt = flow.attempt("http://localhost:1".into(), ResponseMode::Query);
    assert!(attempt.url().as_str().contains("client_id=04b07795-8ddb-461a-bbee-02f9e1bf7b46"), "{}", attempt.url());
    // A profile's own app wins.
    let own = AuthorizationCodeFlow::from_settings(&bare.with("client_id", CLIENT_ID)).unwrap();
    assert_eq!(own.options().app.client_id.as_str(), CLIENT_ID);
}

#[test]
fn registered_under_its_names() {
    for n in ["authorization-code", "interactive", "AUTH_CODE"] {
        let spec = brickauth_core::flow::find(n).unwrap();
        assert_eq!((spec.name, spec.interactive), ("authorization-code", true));
    }
}

#[test]
fn settings_are_checked() {
    let base =
        || MapSettings::new("p").with("tenant_id", TENANT_ID).with("client_id", CLIENT_ID).with("flow", "interactive");
    let f = AuthorizationCodeFlow::from_settings(&base()).unwrap();
    assert!(f.interactive());
    assert_eq!(f.options().login_timeout, DEFAULT_LOGIN_TIMEOUT);
    assert_eq!(f.options().response_mode, ResponseMode::FormPost);
    let f = AuthorizationCodeFlow::from_settings(
        &base()
            .with("redirect_uri", "http://localhost:8400/cb")
            .with("browser", "never")
            .with("login_timeout", "2")
            .with("response_mode", "query")
            .with("username", "alice@contoso.com"),
    )
    .unwrap();
    assert_eq!(f.options().redirect_uri.port(), Some(8400));
    assert_eq!(f.options().browser, BrowserPolicy::Never);
    assert_eq!(f.options().login_timeout, Duration::from_secs(2));
    for (k, v) in [
        ("redirect_uri", "https://example.com/cb"),
        ("browser", "sometimes"),
        ("login_timeout", "0"),
        ("login_timeout", "1.5"),
        ("response_mode", "fragment"),
        ("prompt", "maybe"),
    ] {
        let e = AuthorizationCodeFlow::from_settings(&base().with(k, v)).unwrap_err();
        assert_eq!(e.key.as_deref(), Some(k), "{k} = {v}");
    }
}

#[test]
fn authorize_url_is_what_msal_sends() {
    let s = MapSettings::new("p")
        .with("tenant_id", TENANT_ID)
        .with("client_id", CLIENT_ID)
        .with("username", "alice@contoso.com")
        .with("prompt", "select_account")
        .with("domain_hint", "contoso.com");
    let flow = AuthorizationCodeFlow::from_settings(&s).unwrap();
    let a = flow.attempt(flow.options().redirect_uri.render(Some(54321)), ResponseMode::FormPost);
    let redacted = a
        .url()
        .as_str()
        .replace(a.state(), "[STATE]")
        .replace(a.nonce(), "[NONCE]")
        .replace(a.pkce().challenge(), "[CHALLENGE]")
        .replace("54321", "[PORT]");
    let lines = redacted.replace('?', "\n  ?").replace('&', "\n  &");
    insta::assert_snapshot!(lines);
    assert_eq!(a.pkce().challenge(), pkce::challenge(a.pkce().verifier().expose_secret()));
    assert!(!format!("{a:?}").contains(a.pkce().verifier().expose_secret()));
}

#[tokio::test(flavor = "multi_thread")]
async fn form_post_through_the_listener() {
    let mock = MockEntra::start().await;
    let flow = flow_with(&mock, settings(&mock), Browser::Follow);
    let client = TokenClient::new().unwrap();
    let r = flow.acquire(&FlowContext::new(&client, BROWSER)).await.unwrap();
    assert_eq!(r.account.username.as_deref(), Some("alice@contoso.com"));
    assert!(r.refresh_token.is_some());
    let authorize = mock.requests().await.into_iter().find(|r| r.path.ends_with("/authorize")).unwrap();
    assert_eq!(authorize.query.get("response_mode").map(String::as_str), Some("form_post"));
    let redirect = authorize.query.get("redirect_uri").cloned().unwrap_or_default();
    assert!(redirect.starts_with("http://localhost:"), "{redirect}");
    let reqs = mock.token_requests().await;
    assert_eq!(reqs.len(), 1);
    let form = &reqs[0].form;
    assert_eq!(form.get("grant_type").map(String::as_str), Some("authorization_code"));
    assert_eq!(form.get("redirect_uri"), Some(&redirect));
    assert_eq!(form.get("scope"), authorize.query.get("scope"));
    assert_eq!(form.get("client_info").map(String::as_str), Some("1"));
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    assert_eq!(authorize.query.get("code_challenge"), Some(&pkce::challenge(&verifier)));
}

#[tokio::test(flavor = "multi_thread")]
async fn query_mode_with_a_forged_response_first() {
    let mock = MockEntra::start().await;
    let s = settings(&mock).with("response_mode", "query").with("username", "bob@contoso.com");
    let flow = flow_with(&mock, s, Browser::ForgeFirst);
    let client = TokenClient::new().unwrap();
    let r = flow.acquire(&FlowContext::new(&client, BROWSER)).await.unwrap();
    assert_eq!(r.account.username.as_deref(), Some("bob@contoso.com"));
    assert_eq!(mock.token_request_count(), 1, "the forged code must never be redeemed");
}

#[tokio::test(flavor = "multi_thread")]
async fn authorize_error_is_declined_with_the_description() {
    let mock = MockEntra::start().await;
    mock.fail_authorize("access_denied", "AADSTS65004: User declined to consent to access the app.");
    let flow = flow_with(&mock, settings(&mock), Browser::Follow);
    let client = TokenClient::new().unwrap();
    let e = flow.acquire(&FlowContext::new(&client, BROWSER)).await.unwrap_err();
    assert!(matches!(e, AuthError::Declined(_)), "{e:?}");
    assert!(e.to_string().contains("AADSTS65004: User declined to consent"), "{e}");
    assert_eq!(mock.token_request_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn login_timeout_when_the_browser_does_nothing() {
    let mock = MockEntra::start().await;
    let flow = flow_with(&mock, settings(&mock).with("login_timeout", "1"), Browser::Idle);
    let client = TokenClient::new().unwrap();
    let e = flow.acquire(&FlowContext::new(&client, BROWSER)).await.unwrap_err();
    assert!(e.to_string().contains("no sign-in response within 1 s"), "{e}");
}

/// Paste mode: the authorize URL is followed by hand; the 302's Location is what gets pasted.
async fn pasted_location(mock: &MockEntra, attempt: &Attempt) -> String {
    let _ = mock;
    assert!(attempt.url().as_str().contains("response_mode=query"));
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = http.get(attempt.url().as_str()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 302);
    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn paste_mode_full_url_and_bare_code() {
    let mock = MockEntra::start().await;
    let flow = AuthorizationCodeFlow::from_settings(&settings(&mock)).unwrap();
    let client = TokenClient::new().unwrap();
    let a = flow.attempt(flow.options().redirect_uri.render(None), ResponseMode::Query);
    assert_eq!(a.redirect_uri(), "http://localhost");
    let location = pasted_location(&mock, &a).await;
    let r = flow.finish_pasted(&client, &a, &format!("{location}\n")).await.unwrap();
    assert!(r.refresh_token.is_some());
    // The same address again: Entra refuses a second redemption.
    let e = flow.finish_pasted(&client, &a, &location).await.unwrap_err();
    assert_eq!(e.entra().and_then(|e| e.code()), Some(54005));

    // A bare code has no state to check: refused before any request (issue 10: injection).
    let a = flow.attempt(flow.options().redirect_uri.render(None), ResponseMode::Query);
    let location = pasted_location(&mock, &a).await;
    let code = Url::parse(&location).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let e = flow.finish_pasted(&client, &a, &code).await.unwrap_err();
    assert!(matches!(e, AuthError::Declined(_)) && e.to_string().contains("bare code"), "{e}");
    assert_eq!(mock.token_request_count(), 2);
}

#[tokio::test]
async fn pasted_wrong_state_is_refused_before_any_request() {
    let mock = MockEntra::start().await;
    let flow = AuthorizationCodeFlow::from_settings(&settings(&mock)).unwrap();
    let client = TokenClient::new().unwrap();
    let first = flow.attempt(flow.options().redirect_uri.render(None), ResponseMode::Query);
    let location = pasted_location(&mock, &first).await;
    let second = flow.attempt(flow.options().redirect_uri.render(None), ResponseMode::Query);
    let e = flow.finish_pasted(&client, &second, &location).await.unwrap_err();
    assert!(matches!(e, AuthError::Declined(_)));
    assert!(e.to_string().contains("state"), "{e}");
    let e = flow.finish_pasted(&client, &second, "not a response at all").await.unwrap_err();
    assert!(matches!(e, AuthError::Declined(_)));
    assert_eq!(mock.token_request_count(), 0);
}

#[tokio::test]
async fn wrong_verifier_is_refused_by_the_server() {
    let mock = MockEntra::start().await;
    let flow = AuthorizationCodeFlow::from_settings(&settings(&mock)).unwrap();
    let client = TokenClient::new().unwrap();
    let a = flow.attempt(flow.options().redirect_uri.render(None), ResponseMode::Query);
    let location = pasted_location(&mock, &a).await;
    let mut b = flow.attempt(a.redirect_uri().to_owned(), ResponseMode::Query);
    b.state = a.state.clone(); // same state, other verifier
    let e = flow.finish_pasted(&client, &b, &location).await.unwrap_err();
    assert_eq!(e.entra().and_then(|e| e.code()), Some(501481));
}

#[test]
fn debug_redacts_code_and_verifier() {
    let s = MapSettings::new("p").with("tenant_id", TENANT_ID).with("client_id", CLIENT_ID);
    let flow = AuthorizationCodeFlow::from_settings(&s).unwrap();
    let a = flow.attempt("http://localhost:1".into(), ResponseMode::Query);
    let form = flow.redemption_form(&a, &SecretString::from("the-secret-code"));
    let shown = format!("{flow:?} {a:?} {form:?}");
    assert!(!shown.contains("the-secret-code"));
    assert!(!shown.contains(a.pkce().verifier().expose_secret()));
    assert!(form.encode().contains("code=the-secret-code"));
}

/// A prompt that answers paste requests from a script and records what the flow showed.
struct Scripted {
    /// One answer per attempt: `None` follows the URL and pastes the genuine address.
    answers: Vec<Option<&'static str>>,
    /// Whether the person asks for paste mode while a browser sign-in is awaited.
    switch: bool,
    notices: std::sync::Mutex<Vec<String>>,
    attempts: std::sync::Mutex<Vec<u32>>,
}

impl brickauth_core::Prompt for Scripted {
    fn device_code(&self, _: &brickauth_core::prompt::DeviceCode<'_>) {}
    fn sign_in_url(&self, _: &str, _: bool) {}
    fn notice(&self, message: &str) {
        self.notices.lock().unwrap().push(message.to_owned());
    }
    fn browser_waiting<'a>(&'a self, timeout: std::time::Duration) -> BoxFuture<'a, ()> {
        self.notices.lock().unwrap().push(format!("waiting {} s", timeout.as_secs()));
        if self.switch { Box::pin(async {}) } else { Box::pin(std::future::pending()) }
    }
    fn read_pasted<'a>(
        &'a self,
        request: &'a brickauth_core::prompt::PasteRequest<'a>,
    ) -> BoxFuture<'a, std::io::Result<Option<SecretString>>> {
        Box::pin(async move {
            self.attempts.lock().unwrap().push(request.attempt);
            let Some(answer) = self.answers.get(request.attempt as usize - 1) else { return Ok(None) };
            let text = match answer {
                Some(text) => (*text).to_owned(),
                None => {
                    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
                    let r = http.get(request.url).send().await.unwrap();
                    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
                }
            };
            Ok(Some(SecretString::from(text)))
        })
    }
}

fn scripted(answers: Vec<Option<&'static str>>) -> Scripted {
    Scripted { answers, switch: false, notices: Default::default(), attempts: Default::default() }
}

const PASTE: Interaction = Interaction { terminal: true, browser: false };

#[tokio::test]
async fn paste_mode_asks_again_after_a_wrong_answer() {
    let mock = MockEntra::start().await;
    let flow = AuthorizationCodeFlow::from_settings(&settings(&mock)).unwrap();
    let client = TokenClient::new().unwrap();
    let prompt = scripted(vec![
        Some("not a response"),
        Some("http://localhost/?code=0.AXoA-forged-code-from-someone-else&state=not-this-sign-in"),
        None,
    ]);
    let r = flow.acquire(&FlowContext::new(&client, PASTE).with_prompt(&prompt)).await.unwrap();
    assert!(r.refresh_token.is_some());
    assert_eq!(*prompt.attempts.lock().unwrap(), [1, 2, 3]);
    let notices = prompt.notices.lock().unwrap();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(notices[1].contains("`state` differs") && notices[1].contains("1 more attempt"), "{notices:?}");
    assert_eq!(mock.token_request_count(), 1, "only the genuine answer is redeemed");
}

#[tokio::test]
async fn paste_mode_gives_up_after_three_wrong_answers() {
    let mock = MockEntra::start().await;
    let flow = AuthorizationCodeFlow::from_settings(&settings(&mock)).unwrap();
    let client = TokenClient::new().unwrap();
    let bare = Some("0.AXoA-a-bare-code-without-its-state");
    let prompt = scripted(vec![bare, bare, bare, None]);
    let e = flow.acquire(&FlowContext::new(&client, PASTE).with_prompt(&prompt)).await.unwrap_err();
    assert!(matches!(e, AuthError::Declined(_)) && e.to_string().contains("bare code"), "{e}");
    assert_eq!(*prompt.attempts.lock().unwrap(), [1, 2, 3]);
    assert_eq!(mock.token_request_count(), 0);
}

/// A browser that "opened" but shows nothing (`BROWSER=/bin/false`): the flow says it waits, and
/// the person's request for paste mode ends the wait and signs in by pasting (issue 23).
#[tokio::test]
async fn a_silent_browser_can_be_left_for_paste_mode() {
    let mock = MockEntra::start().await;
    let flow = flow_with(&mock, settings(&mock), Browser::Idle);
    let client = TokenClient::new().unwrap();
    let prompt = Scripted { switch: true, ..scripted(vec![None]) };
    let r = flow.acquire(&FlowContext::new(&client, BROWSER).with_prompt(&prompt)).await.unwrap();
    assert!(r.refresh_token.is_some());
    assert_eq!(*prompt.attempts.lock().unwrap(), [1]);
    let notices = prompt.notices.lock().unwrap();
    assert_eq!(*notices, ["waiting 300 s", "Switching to paste mode."]);
    assert_eq!(mock.token_request_count(), 1);
}

/// Without a request to switch, the browser's answer is what counts, and the wait was shown.
#[tokio::test]
async fn the_wait_for_the_browser_is_shown() {
    let mock = MockEntra::start().await;
    let flow = flow_with(&mock, settings(&mock), Browser::Follow);
    let client = TokenClient::new().unwrap();
    let prompt = scripted(vec![]);
    flow.acquire(&FlowContext::new(&client, BROWSER).with_prompt(&prompt)).await.unwrap();
    assert_eq!(*prompt.notices.lock().unwrap(), ["waiting 300 s"]);
    assert!(prompt.attempts.lock().unwrap().is_empty());
}
