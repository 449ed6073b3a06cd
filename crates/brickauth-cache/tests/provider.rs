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
///
/// A watchdog thread aborts the test binary if the calls have not all returned within two
/// minutes: a lost wake-up must fail the run, not hang it (the timer of a stuck runtime
/// might never fire, so it is a plain thread, not `tokio::time::timeout`).
async fn concurrently(p: &Arc<TokenProvider>, n: usize, opts: TokenOptions) -> Vec<String> {
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = done.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(120));
        if !watchdog.load(Ordering::SeqCst) {
            eprintln!("{n} concurrent token() calls did not all return within 120 s");
            std::process::abort();
        }
    });
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
    done.store(true, Ordering::SeqCst);
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
        let (p, built) = self.flow.provider(self.cache.clone());
        (p.with_client(quick_client()), built)
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

    // Forcing a refresh of a token older than the coalescing window wants a new token: the
    // failure is reported.
    age(&s.cache, Some(Duration::from_secs(60)));
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
    assert!(!msg.contains("brickauth login"), "the library names no CLI command: {msg}");
    assert!(msg.contains("no token is cached"), "{msg}");
    assert_eq!(err.needs_login(), Some("dev"));
    assert_eq!(built.load(Ordering::SeqCst), 1);
    assert_eq!(s.flow.calls(), 0, "never run: it would hang");
    let err = p.login().await.unwrap_err();
    assert_eq!(err.needs_login(), Some("dev"), "{err}");
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
    let bound: Vec<&String> = json["bindings"]["dev"].as_object().unwrap().keys().collect();
    assert!(bound.len() == 1 && bound[0].ends_with(&format!("alice.{TENANT_ID}")), "{json}");
    assert_eq!(p.token(TokenOptions::default()).await.unwrap().access_token.expose(), "AT-FLOW");
    let removed = p.logout().unwrap();
    assert_eq!(removed.accounts.len(), 1);
    assert_eq!(removed.profiles, ["dev"]);
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
    age(&s.cache, Some(Duration::from_secs(60)));
    refresh_mock(&s.server, "RT-OLD", "AT-NEW", "RT-NEW", Duration::from_millis(100)).await;
    let (p, _) = s.provider();
    let p = Arc::new(p);
    let force = TokenOptions { force_refresh: true, ..TokenOptions::default() };
    assert_eq!(concurrently(&p, 20, force).await, ["AT-NEW"]);
    assert_eq!(s.requests().await, 1);
}

const FORCE: TokenOptions = TokenOptions { force_refresh: true, min_validity: brickauth_cache::DEFAULT_MIN_VALIDITY };

/// The coalescing rule: a forced refresh renews a token received before the window, takes one
/// received within it (however it was obtained), and an entry without a time counts as old.
#[tokio::test]
async fn a_forced_refresh_takes_a_token_received_within_the_window_and_renews_an_older_one() {
    let s = Setup::new().await;
    s.seed("AT-OLD", Some("RT-OLD"), 3000);
    refresh_mock(&s.server, "RT-OLD", "AT-NEW", "RT-NEW", Duration::ZERO).await;
    let (p, _) = s.provider();

    // Just stored: within the window, so not asked for again.
    assert_eq!(p.token(FORCE).await.unwrap().access_token.expose(), "AT-OLD");
    assert_eq!(s.requests().await, 0);

    // Received a second more than the window ago: renewed.
    age(&s.cache, Some(brickauth_cache::COALESCE_WINDOW + Duration::from_secs(1)));
    assert_eq!(p.token(FORCE).await.unwrap().access_token.expose(), "AT-NEW");
    assert_eq!(s.requests().await, 1);
    let json: serde_json::Value = serde_json::from_str(&file_text(&s.cache)).unwrap();
    let entry = json["entries"].as_object().unwrap().values().next().unwrap().clone();
    let at = entry["obtained_at_ms"].as_i64().unwrap();
    assert!((at / 1000 - brickauth_core::now()).abs() <= 1, "{entry}");
    assert_eq!(entry["updated_at"].as_i64(), Some(at / 1000), "{entry}");

    // And the renewal is what the next forced refresh gets.
    assert_eq!(p.token(FORCE).await.unwrap().access_token.expose(), "AT-NEW");
    assert_eq!(s.requests().await, 1);

    // An entry an older brickauth wrote (no time) is old.
    refresh_mock(&s.server, "RT-NEW", "AT-NEWER", "RT-NEWER", Duration::ZERO).await;
    age(&s.cache, None);
    assert_eq!(p.token(FORCE).await.unwrap().access_token.expose(), "AT-NEWER");
    assert_eq!(s.requests().await, 2);
}

/// The server refused the token handed out (a 401): however new it is, it is not handed out
/// again — the window does not apply — but a renewal stored meanwhile would be taken.
#[tokio::test]
async fn a_refused_token_is_renewed_even_within_the_window() {
    let s = Setup::new().await;
    s.seed("AT-REFUSED", Some("RT-OLD"), 3000);
    refresh_mock(&s.server, "RT-OLD", "AT-NEW", "RT-NEW", Duration::ZERO).await;
    let (p, _) = s.provider();
    assert_eq!(p.token_refused(TokenOptions::default()).await.unwrap().access_token.expose(), "AT-NEW");
    assert_eq!(s.requests().await, 1);
    let source: &dyn brickauth_core::TokenSource = &p;
    refresh_mock(&s.server, "RT-NEW", "AT-NEWER", "RT-NEWER", Duration::ZERO).await;
    assert_eq!(source.token(true).await.unwrap().secret.expose_secret(), "AT-NEWER");
    assert_eq!(s.requests().await, 2);
}

/// A token within the window still needs the 40 s floor: an almost expired one is renewed.
#[tokio::test]
async fn a_recent_token_below_the_floor_is_renewed_even_within_the_window() {
    let s = Setup::new().await;
    s.seed("AT-DYING", Some("RT-OLD"), 20);
    refresh_mock(&s.server, "RT-OLD", "AT-NEW", "RT-NEW", Duration::ZERO).await;
    let (p, _) = s.provider();
    assert_eq!(p.token(FORCE).await.unwrap().access_token.expose(), "AT-NEW");
    assert_eq!(s.requests().await, 1);
}

/// Forced refreshes as SDK processes send them: separate providers (separate mutexes, as
/// separate processes have) on one directory, starting one after another over more than one
/// renewal's time, each forcing a refresh of an old token: one token request, one token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staggered_forced_refreshes_of_separate_providers_send_one_request() {
    const N: usize = 12;
    let s = Setup::new().await;
    s.seed("AT-OLD", Some("RT-OLD"), 3000);
    age(&s.cache, Some(Duration::from_secs(60)));
    refresh_mock(&s.server, "RT-OLD", "AT-NEW", "RT-NEW", Duration::from_millis(50)).await;
    let uri = s.server.uri();
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let (cache, uri) = (s.cache.clone(), uri.clone());
            tokio::task::spawn_blocking(move || {
                // 40 ms apart: the last starts long after the first renewal was stored.
                std::thread::sleep(Duration::from_millis(40) * u32::try_from(i).unwrap());
                let flow = TestFlow::new(app(&uri), body("alice", "AT-FLOW", None, 3599));
                let p = flow.provider(cache).0.with_client(quick_client());
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let t = rt.block_on(p.token(FORCE));
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
                let p = flow.provider(cache).0;
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
async fn a_flow_that_cannot_be_built_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let flow = TestFlow::new(offline_app(), String::new());
    let (settings, _) = flow.settings("dev");
    let p = TokenProvider::from_settings(cache_in(&dir), Arc::new(settings.with("fail_build", "password"))).unwrap();
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

/// Issue 10: alice's token is cached for one profile; a second profile of the same identity that
/// names no account and never signed in must not get it — it runs its own flow.
#[tokio::test]
async fn an_unbound_profile_runs_its_flow_instead_of_taking_the_only_account() {
    let mut s = Setup::new().await;
    let app = app(&s.server.uri());
    s.cache.store(&id(&app), "alice-profile", &response("alice", "AT-ALICE", Some("RT-ALICE"), 3000)).unwrap();
    s.flow.body = body("bob", "AT-BOB", Some("RT-BOB"), 3599);
    let (p, _) = s.provider();
    assert!(p.cached(Duration::from_secs(300)).unwrap().is_none(), "alice's token is not this profile's");
    let t = p.token(TokenOptions::default()).await.unwrap();
    assert_eq!(t.access_token.expose(), "AT-BOB");
    assert_eq!(t.account.username.as_deref(), Some("bob@contoso.com"));
    assert_eq!(s.flow.calls(), 1);
    // Bound now: served from the cache, and still bob after alice's profile signs out.
    assert_eq!(p.cached(Duration::from_secs(300)).unwrap().unwrap().access_token.expose(), "AT-BOB");
    let removed = s.cache.remove(&id(&app), &hint("alice-profile")).unwrap();
    assert_eq!(removed.profiles, ["alice-profile"]);
    assert_eq!(p.token(TokenOptions::default()).await.unwrap().access_token.expose(), "AT-BOB");
    assert_eq!(s.flow.calls(), 1);
}

/// Issue 10: a profile naming alice refuses a sign-in that comes back as bob, whatever the
/// flow, and caches nothing.
#[tokio::test]
async fn a_sign_in_as_another_account_than_the_username_is_refused_and_not_cached() {
    let mut s = Setup::new().await;
    s.flow.body = body("bob", "AT-BOB", Some("RT-BOB"), 3599);
    let (settings, _) = s.flow.settings("alice-only");
    let p = TokenProvider::from_settings(s.cache.clone(), Arc::new(settings.with("username", "Alice@contoso.com")))
        .unwrap()
        .with_client(quick_client());
    for err in [p.token(TokenOptions::default()).await.unwrap_err(), p.login().await.unwrap_err()] {
        let msg = err.to_string();
        assert!(matches!(err, ProviderError::WrongAccount { .. }), "{err:?}");
        assert!(msg.contains("Alice@contoso.com") && msg.contains("bob@contoso.com"), "{msg}");
        assert_eq!(err.class(), brickauth_core::error::ErrorClass::Auth);
    }
    let text = file_text(&s.cache);
    assert!(!text.contains("AT-BOB") && !text.contains("RT-BOB"), "nothing cached: {text}");

    // The right account is accepted, matched without case.
    s.flow.body = body("alice", "AT-ALICE", None, 3599);
    let (settings, _) = s.flow.settings("alice-only");
    let p = TokenProvider::from_settings(s.cache.clone(), Arc::new(settings.with("username", "ALICE@contoso.com")))
        .unwrap();
    assert_eq!(p.token(TokenOptions::default()).await.unwrap().access_token.expose(), "AT-ALICE");
}

/// Issue 10: a profile bound through a configured credential (a refresh token) is served its
/// cached token only while that credential is unchanged; a new one is redeemed. The cache keeps
/// a keyed fingerprint, never the credential.
#[tokio::test]
async fn a_changed_configured_credential_is_redeemed_not_answered_from_the_cache() {
    let mut s = Setup::new().await;
    s.flow.credential = Some(brickauth_core::SecretString::from("CONFIGURED-RT-ALICE".to_owned()));
    let (p, built) = s.provider();
    assert_eq!(p.token(TokenOptions::default()).await.unwrap().access_token.expose(), "AT-FLOW");
    let text = file_text(&s.cache);
    assert!(!text.contains("CONFIGURED-RT-ALICE") && text.contains("hmac-sha256:"), "{text}");
    let key = std::fs::read(s.cache.dir().join("tokens.key")).unwrap();
    assert_eq!(key.len(), 32);

    // Same credential, a new process: served from the cache (the flow is built to compare).
    let (p, built_again) = s.provider();
    assert_eq!(p.cached(Duration::from_secs(300)).unwrap().unwrap().access_token.expose(), "AT-FLOW");
    assert_eq!(s.flow.calls(), 1);
    assert_eq!(built_again.load(Ordering::SeqCst), 1);
    drop(built);

    // The profile now holds bob's refresh token: not alice's cached token, a new sign-in.
    s.flow.credential = Some(brickauth_core::SecretString::from("CONFIGURED-RT-BOB".to_owned()));
    s.flow.body = body("bob", "AT-BOB", Some("RT-BOB2"), 3599);
    let (p, _) = s.provider();
    assert!(p.cached(Duration::from_secs(300)).unwrap().is_none());
    let t = p.token(TokenOptions::default()).await.unwrap();
    assert_eq!(t.account.username.as_deref(), Some("bob@contoso.com"));
    assert_eq!(s.flow.calls(), 2);
    assert_eq!(p.cached(Duration::from_secs(300)).unwrap().unwrap().access_token.expose(), "AT-BOB");
}

/// A step-up: another flow signs the profile in (its own was refused), the result is cached
/// under the profile's identity and binding, and later calls use it and renew from its refresh
/// token without building the profile's flow.
#[tokio::test]
async fn login_with_another_flow_caches_under_the_profile_and_renews_from_it() {
    let s = Setup::new().await;
    let (p, built) = s.provider();
    let other = TestFlow::new(app(&s.server.uri()), body("alice", "AT-STEP-UP", Some("RT-STEP-UP"), 3599));
    let t = p.login_with(&other).await.unwrap();
    assert_eq!(t.access_token.expose(), "AT-STEP-UP");
    assert_eq!((other.calls(), s.flow.calls(), built.load(Ordering::SeqCst)), (1, 0, 0));
    let json: serde_json::Value = serde_json::from_str(&file_text(&s.cache)).unwrap();
    assert_eq!(json["bindings"]["dev"].as_object().map(|b| b.len()), Some(1), "{json}");

    assert_eq!(p.token(TokenOptions::default()).await.unwrap().access_token.expose(), "AT-STEP-UP");
    refresh_mock(&s.server, "RT-STEP-UP", "AT-RENEWED", "RT-RENEWED", Duration::ZERO).await;
    age(&s.cache, Some(Duration::from_secs(60)));
    assert_eq!(p.token(FORCE).await.unwrap().access_token.expose(), "AT-RENEWED");
    assert_eq!((s.requests().await, s.flow.calls(), built.load(Ordering::SeqCst)), (1, 0, 0));
}
