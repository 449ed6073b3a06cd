//! Silent acquisition against a mock token endpoint: the cached path sends nothing, expired
//! tokens are refreshed once however many callers ask, rejected refresh tokens are dropped,
//! failures fall back to a still-valid token, interactive flows never run without a terminal.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use brickauth_cache::{ProviderError, TokenCache, TokenOptions, TokenProvider};
use brickauth_core::{ExposeSecret, Interaction};
use common::*;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

fn invalid_grant() -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_raw(
        r#"{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity.","error_codes":[700082]}"#,
        "application/json",
    )
}

/// A mock that answers a refresh of `old_rt` with `new_at` / `new_rt`, after `delay`.
async fn refresh_mock(server: &MockServer, old_rt: &str, new_at: &str, new_rt: &str, delay: Duration) {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains(format!("refresh_token={old_rt}")))
        .respond_with(json(body("alice", new_at, Some(new_rt), 3599)).set_delay(delay))
        .mount(server)
        .await;
}

/// Run `n` `token()` calls on `p` at once; the distinct tokens they got, sorted.
async fn concurrently(p: &Arc<TokenProvider>, n: usize, opts: TokenOptions) -> Vec<String> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { p.token(opts).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().unwrap().access_token.expose().to_owned());
    }
    tokens.sort();
    tokens.dedup();
    tokens
}

struct Setup {
    _dir: tempfile::TempDir,
    server: MockServer,
    cache: TokenCache,
    flow: TestFlow,
}

impl Setup {
    async fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let server = MockServer::start().await;
        let cache = cache_in(&dir);
        let flow = TestFlow::new(app(&server.uri()), body("alice", "AT-FLOW", Some("RT-FLOW"), 3599));
        Setup { _dir: dir, server, cache, flow }
    }

    fn seed(&self, access_token: &str, refresh_token: Option<&str>, expires_in: i64) {
        let app = app(&self.server.uri());
        self.cache.store(&id(&app), "dev", &response("alice", access_token, refresh_token, expires_in)).unwrap();
    }

    fn provider(&self) -> (TokenProvider, Arc<AtomicUsize>) {
        let (factory, built) = self.flow.factory();
        let p = TokenProvider::new(self.cache.clone(), app(&self.server.uri()), hint("dev"), factory)
            .with_client(quick_client());
        (p, built)
    }

    async fn requests(&self) -> usize {
        self.server.received_requests().await.map(|r| r.len()).unwrap_or(0)
    }
}

#[tokio::test]
async fn a_valid_cached_token_sends_no_request() {
    let s = Setup::new().await;
    s.seed("AT-CACHED", Some("RT-CACHED"), 3000);
    let (p, built) = s.provider();
    let t = p.token(TokenOptions::default()).await.unwrap();
    assert_eq!(t.access_token.expose(), "AT-CACHED");
    assert!(p.cached(Duration::from_secs(300)).unwrap().is_some());
    assert!(p.cached(Duration::from_secs(3500)).unwrap().is_none(), "not valid for that long");
    assert_eq!(s.requests().await, 0);
    assert_eq!(built.load(Ordering::SeqCst), 0, "the flow is not even built");
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_rotated_refresh_token_stored() {
    let s = Setup::new().await;
    s.seed("AT-OLD", Some("RT-OLD"), -10);
    refresh_mock(&s.server, "RT-OLD", "AT-NEW", "RT-NEW", Duration::ZERO).await;
    let (p, built) = s.provider();

    let t = p.token(TokenOptions::default()).await.unwrap();
    assert_eq!(t.access_token.expose(), "AT-NEW");
    assert_eq!(t.refresh_token.as_ref().map(|r| r.expose_secret()), Some("RT-NEW"));
    assert_eq!(s.requests().await, 1);
    let text = file_text(&s.cache);
    assert!(text.contains("RT-NEW") && !text.contains("RT-OLD") && !text.contains("AT-OLD"), "{text}");
    assert_eq!(built.load(Ordering::SeqCst), 0);

    // The request is the refresh-token grant MSAL sends.
    let req = &s.server.received_requests().await.unwrap()[0];
    let form = String::from_utf8_lossy(&req.body);
    assert!(form.contains(&format!("client_id={CLIENT_ID}")), "{form}");
    assert!(form.contains("offline_access"), "{form}");

    // Now cached: no second request.
    p.token(TokenOptions::default()).await.unwrap();
    assert_eq!(s.requests().await, 1);
}

#[tokio::test]
async fn a_refresh_answer_without_account_details_renews_the_same_entry() {
    let s = Setup::new().await;
    s.seed("AT-OLD", Some("RT-OLD"), -10);
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json(r#"{"token_type":"Bearer","access_token":"AT-BARE","expires_in":3599}"#.into()))
        .mount(&s.server)
        .await;
    let (p, _) = s.provider();
    let t = p.token(TokenOptions::default()).await.unwrap();
    assert_eq!(t.access_token.expose(), "AT-BARE");
    assert_eq!(t.account.username.as_deref(), Some("alice@contoso.com"), "account carried over");
    assert_eq!(t.refresh_token.as_ref().map(|r| r.expose_secret()), Some("RT-OLD"), "no new RT: keep the old");
    let json: serde_json::Value = serde_json::from_str(&file_text(&s.cache)).unwrap();
    assert_eq!(json["entries"].as_object().unwrap().len(), 1, "{json}");
}

#[tokio::test]
async fn a_rejected_refresh_token_is_dropped_and_the_flow_runs() {
    let s = Setup::new().await;
    s.seed("AT-OLD", Some("RT-OLD"), -10);
    Mock::given(method("POST")).and(path(TOKEN_PATH)).respond_with(invalid_grant()).mount(&s.server).await;
    // The flow returns no refresh token, so the rejected one would survive if it were not dropped.
    let mut s = s;
    s.flow.body = body("alice", "AT-FLOW", None, 3599);
    let (p, built) = s.provider();

    let t = p.token(TokenOptions::default()).await.unwrap();
    assert_eq!(t.access_token.expose(), "AT-FLOW");
    assert!(t.refresh_token.is_none());
    assert_eq!(s.flow.calls(), 1);
    assert_eq!(built.load(Ordering::SeqCst), 1);
    assert_eq!(s.requests().await, 1, "one refresh attempt, no retry of invalid_grant");
    let text = file_text(&s.cache);
    assert!(!text.contains("RT-OLD") && text.contains("AT-FLOW"), "{text}");
}

#[tokio::test]
async fn a_failed_proactive_refresh_returns_the_still_valid_token() {
    let s = Setup::new().await;
    // Valid for 120 s: less than the default 5 minutes, more than the 40 s floor.
    s.seed("AT-STILL-GOOD", Some("RT-OLD"), 120);
    Mock::given(method("POST")).and(path(TOKEN_PATH)).respond_with(ResponseTemplate::new(503)).mount(&s.server).await;
    let (p, built) = s.provider();

    let t = p.token(TokenOptions::default()).await.unwrap();
    assert_eq!(t.access_token.expose(), "AT-STILL-GOOD");
    assert!(s.requests().await >= 1);
    assert_eq!(built.load(Ordering::SeqCst), 0, "a network failure does not fall through to the flow");
    assert!(file_text(&s.cache).contains("RT-OLD"), "the refresh token is kept");

    // Forcing a refresh wants a new token: the failure is reported.
    let err = p.token(TokenOptions { force_refresh: true, ..TokenOptions::default() }).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth(_)), "{err:?}");
}

#[tokio::test]
async fn a_failed_refresh_of_an_expired_token_is_an_error() {
    let s = Setup::new().await;
    s.seed("AT-OLD", Some("RT-OLD"), 20); // below the 40 s floor: not usable as a fallback
    Mock::given(method("POST")).and(path(TOKEN_PATH)).respond_with(ResponseTemplate::new(503)).mount(&s.server).await;
    let (p, _) = s.provider();
    let err = p.token(TokenOptions::default()).await.unwrap_err();
    assert!(matches!(&err, ProviderError::Auth(e) if e.to_string().contains("503")), "{err}");
    assert_eq!(s.requests().await, 2, "the quick client's two attempts");
}

#[tokio::test]
async fn an_interactive_flow_without_terminal_needs_login() {
    let mut s = Setup::new().await;
    s.flow.interactive = true;
    let (p, built) = s.provider();
    let err = p.token(TokenOptions::default()).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ProviderError::NeedsLogin { ref profile, .. } if profile == "dev"), "{err:?}");
    assert!(msg.ends_with("run `brickauth login -p dev`"), "{msg}");
    assert!(msg.contains("no token is cached"), "{msg}");
    assert_eq!(built.load(Ordering::SeqCst), 1);
    assert_eq!(s.flow.calls(), 0, "never run: it would hang");
    let err = p.login().await.unwrap_err();
    assert!(err.to_string().ends_with("run `brickauth login -p dev`"), "{err}");
}

#[tokio::test]
async fn an_interactive_flow_with_terminal_runs_without_holding_the_file_lock() {
    let mut s = Setup::new().await;
    s.flow.interactive = true;
    let free = Arc::new(AtomicUsize::new(0));
    s.flow.probe_lock = Some((s.cache.clone(), free.clone()));
    let (p, _) = s.provider();
    let p = p.with_interaction(Interaction { terminal: true, browser: false });
    let t = p.token(TokenOptions::default()).await.unwrap();
    assert_eq!(t.access_token.expose(), "AT-FLOW");
    assert_eq!(free.load(Ordering::SeqCst), 1, "other processes could use the cache meanwhile");

    // A non-interactive flow holds it (single flight across processes).
    let mut s2 = Setup::new().await;
    let free2 = Arc::new(AtomicUsize::new(0));
    s2.flow.probe_lock = Some((s2.cache.clone(), free2.clone()));
    let (p2, _) = s2.provider();
    p2.token(TokenOptions::default()).await.unwrap();
    assert_eq!(s2.flow.calls(), 1);
    assert_eq!(free2.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn login_always_runs_the_flow_and_binds_the_profile() {
    let s = Setup::new().await;
    s.seed("AT-CACHED", Some("RT-CACHED"), 3000);
    let (p, _) = s.provider();
    let t = p.login().await.unwrap();
    assert_eq!(t.access_token.expose(), "AT-FLOW");
    assert_eq!(s.flow.calls(), 1);
    let json: serde_json::Value = serde_json::from_str(&file_text(&s.cache)).unwrap();
    assert!(json["profiles"]["dev"].as_str().unwrap().ends_with(&format!("alice.{TENANT_ID}")));
    assert_eq!(p.token(TokenOptions::default()).await.unwrap().access_token.expose(), "AT-FLOW");
    assert_eq!(p.logout().unwrap(), 1);
    assert!(p.cached(Duration::ZERO).unwrap().is_none());
}

#[tokio::test]
async fn refresh_on_triggers_an_early_refresh() {
    let s = Setup::new().await;
    let app = app(&s.server.uri());
    let mut r = response("alice", "AT-AGING", Some("RT-OLD"), 3000);
    r.access_token.refresh_on = Some(brickauth_core::now() - 1);
    s.cache.store(&id(&app), "dev", &r).unwrap();
    refresh_mock(&s.server, "RT-OLD", "AT-NEW", "RT-NEW", Duration::ZERO).await;
    let (p, _) = s.provider();
    assert!(p.cached(Duration::ZERO).unwrap().is_none(), "past refresh_on is not served from the cache");
    assert_eq!(p.token(TokenOptions::default()).await.unwrap().access_token.expose(), "AT-NEW");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_callers_cause_one_request() {
    let s = Setup::new().await;
    s.seed("AT-OLD", Some("RT-OLD"), -10);
    refresh_mock(&s.server, "RT-OLD", "AT-NEW", "RT-NEW", Duration::from_millis(200)).await;
    let (p, _) = s.provider();
    let p = Arc::new(p);
    assert_eq!(concurrently(&p, 1000, TokenOptions::default()).await, ["AT-NEW"]);
    assert_eq!(s.requests().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_forced_refreshes_share_one_request() {
    let s = Setup::new().await;
    s.seed("AT-OLD", Some("RT-OLD"), 3000);
    refresh_mock(&s.server, "RT-OLD", "AT-NEW", "RT-NEW", Duration::from_millis(100)).await;
    let (p, _) = s.provider();
    let p = Arc::new(p);
    let force = TokenOptions { force_refresh: true, ..TokenOptions::default() };
    assert_eq!(concurrently(&p, 20, force).await, ["AT-NEW"]);
    assert_eq!(s.requests().await, 1);
}

/// Separate providers — separate in-process mutexes, separate HTTP clients — on one cache
/// directory, as separate processes would be: the file lock and the re-read make it one request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_providers_on_one_directory_cause_one_request() {
    const N: usize = 8;
    let s = Setup::new().await;
    s.seed("AT-OLD", Some("RT-OLD"), -10);
    refresh_mock(&s.server, "RT-OLD", "AT-NEW", "RT-NEW", Duration::from_millis(300)).await;
    let barrier = Arc::new(std::sync::Barrier::new(N));
    let uri = s.server.uri();
    let handles: Vec<_> = (0..N)
        .map(|_| {
            let (cache, barrier, uri) = (s.cache.clone(), barrier.clone(), uri.clone());
            tokio::task::spawn_blocking(move || {
                let flow = TestFlow::new(app(&uri), body("alice", "AT-FLOW", None, 3599));
                let p = TokenProvider::new(cache, app(&uri), hint("dev"), flow.factory().0);
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                barrier.wait();
                let t = rt.block_on(p.token(TokenOptions::default()));
                (t.map(|t| t.access_token.expose().to_owned()), flow.calls())
            })
        })
        .collect();
    for h in handles {
        let (token, flow_calls) = h.await.unwrap();
        assert_eq!(token.unwrap(), "AT-NEW");
        assert_eq!(flow_calls, 0);
    }
    assert_eq!(s.requests().await, 1);
}

#[tokio::test]
async fn the_flow_factory_error_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = TokenProvider::new(
        cache_in(&dir),
        offline_app(),
        hint("dev"),
        Box::new(|| Err(brickauth_core::ConfigError::missing("dev", "password"))),
    );
    let err = p.token(TokenOptions::default()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("password"));
}

/// A caller asking for more validity than the server grants still shares the renewal others
/// just made, instead of each renewing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_min_validity_still_shares_one_renewal() {
    let s = Setup::new().await;
    s.seed("AT-OLD", Some("RT-OLD"), -10);
    refresh_mock(&s.server, "RT-OLD", "AT-NEW", "RT-NEW", Duration::from_millis(100)).await;
    let (p, _) = s.provider();
    let p = Arc::new(p);
    let greedy = TokenOptions { min_validity: Duration::from_secs(7200), ..TokenOptions::default() };
    assert_eq!(concurrently(&p, 50, greedy).await, ["AT-NEW"]);
    assert_eq!(s.requests().await, 1);
}
