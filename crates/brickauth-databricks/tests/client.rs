//! The workspace client against wiremock and the mock workspace.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use brickauth_core::source::SourceError;
use brickauth_core::{AccessToken, BoxFuture, StaticToken, TokenSource};
use brickauth_databricks::{DatabricksError, ListOptions, ResourceId, WorkspaceClient};
use brickauth_mock::{Failure, MockDatabricks, TokenInfo, TokenRegistry};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const RID: &str = "/subscriptions/0000-1111/resourceGroups/rg-data/providers/Microsoft.Databricks/workspaces/ws-prod";

fn registry_with(tokens: &[&str]) -> TokenRegistry {
    let r = TokenRegistry::new();
    for t in tokens {
        r.insert(
            *t,
            TokenInfo {
                username: "alice@contoso.com".into(),
                oid: "5f1d4b2e-8c3a-4e7f-9b6d-2a1c3e5f7d90".into(),
                name: "Alice Smith".into(),
                client_id: "c".into(),
                expires_at: i64::MAX / 2,
            },
        );
    }
    r
}

/// A source that hands out `t1` and, once forced, `t2`, counting forced calls.
#[derive(Default)]
struct Rotating {
    calls: AtomicUsize,
    forced: AtomicUsize,
}

impl TokenSource for Rotating {
    fn token(&self, force_refresh: bool) -> BoxFuture<'_, Result<AccessToken, SourceError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if force_refresh {
            self.forced.fetch_add(1, Ordering::SeqCst);
        }
        let name = if self.forced.load(Ordering::SeqCst) > 0 { "t2" } else { "t1" };
        Box::pin(async move { Ok(StaticToken::bearer(name).0) })
    }
}

fn client(uri: &str, token: &str) -> WorkspaceClient {
    WorkspaceClient::new(uri, Arc::new(StaticToken::bearer(token))).expect("loopback host")
}

#[tokio::test]
async fn pages_250_clusters_in_3_requests() {
    let ws = MockDatabricks::start(registry_with(&["t1"])).await;
    ws.set_cluster_count(250);
    let mut pager = client(&ws.uri(), "t1").clusters().list(ListOptions { page_size: Some(100), ..Default::default() });
    let mut sizes = Vec::new();
    while let Some(page) = pager.next_page().await.expect("page") {
        sizes.push(page.len());
    }
    assert_eq!(sizes, [100, 100, 50]);
    let reqs = ws.requests().await;
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].query.get("page_token"), None);
    assert_eq!(reqs[1].query.get("page_token").map(String::as_str), Some("p100"));
    assert_eq!(reqs[2].query["page_size"], "100");
    let h = &reqs[0].headers;
    assert_eq!(h["authorization"], "Bearer t1");
    assert_eq!(h["accept"], "application/json");
    assert!(h["user-agent"].starts_with("brickauth/"));
    assert!(!h.contains_key("x-databricks-azure-workspace-resource-id"));
}

#[tokio::test]
async fn everything_at_once_is_one_page_and_unknown_fields_are_kept() {
    let ws = MockDatabricks::start(registry_with(&["t1"])).await;
    ws.set_cluster_count(7);
    let c = client(&format!("{}/", ws.uri()), "t1");
    let all = c.clusters().list_at("/api/2.0/clusters/list", Vec::new()).collect_all().await.expect("list");
    assert_eq!(all.len(), 7);
    assert_eq!(all[0].workers(), "2-8 (autoscale)");
    assert_eq!(all[1].workers(), "1");
    assert_eq!(all[0].extra["azure_attributes"]["availability"], "ON_DEMAND_AZURE");
    assert_eq!(all[0].extra["enable_elastic_disk"], true);
    assert_eq!(ws.request_count(), 1);
    let id = all[4].cluster_id.clone().expect("id");
    assert_eq!(c.clusters().get(&id).await.expect("get").cluster_name.as_deref(), Some("alice-dev-4"));
    let missing = c.clusters().get("nope").await.expect_err("404");
    assert_eq!(missing.status(), Some(404));
    assert_eq!(missing.error_code(), Some("RESOURCE_DOES_NOT_EXIST"));
}

#[tokio::test]
async fn two_429s_with_retry_after_then_ok() {
    let ws = MockDatabricks::start(registry_with(&["t1"])).await;
    ws.fail_next(vec![Failure::databricks_rate_limited("1"), Failure::databricks_rate_limited("1")]);
    let start = Instant::now();
    let me = client(&ws.uri(), "t1").current_user().await.expect("third attempt succeeds");
    assert!(start.elapsed() >= Duration::from_millis(1900), "Retry-After honoured: {:?}", start.elapsed());
    assert_eq!(me.user_name.as_deref(), Some("alice@contoso.com"));
    assert_eq!(me.emails[0].value.as_deref(), Some("alice@contoso.com"));
    assert!(me.extra.contains_key("externalId"));
    assert_eq!(ws.request_count(), 3);
}

#[tokio::test]
async fn retry_after_as_an_http_date() {
    let server = MockServer::start().await;
    let when = httpdate_in(1);
    Mock::given(path("/api/x"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", when.as_str()))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/x"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": 1})))
        .mount(&server)
        .await;
    let v = client(&server.uri(), "t").request(reqwest::Method::GET, "/api/x", &[], None).await.expect("ok");
    assert_eq!(v, json!({"ok": 1}));
}

fn httpdate_in(secs: u64) -> String {
    // RFC 7231 IMF-fixdate, computed by hand to avoid a dev-dependency.
    let t = std::time::SystemTime::now() + Duration::from_secs(secs + 1);
    let d = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (d / 86_400, d % 86_400);
    let (h, m, s) = (rem / 3600, rem / 60 % 60, rem % 60);
    // civil-from-days (Howard Hinnant)
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let mon =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][(month - 1) as usize];
    format!("{wd}, {day:02} {mon} {year} {h:02}:{m:02}:{s:02} GMT")
}

#[tokio::test]
async fn endless_503_gives_up_within_the_budget_naming_it() {
    let ws = MockDatabricks::start(registry_with(&["t1"])).await;
    ws.fail_next(vec![Failure::databricks_unavailable(); 100]);
    let start = Instant::now();
    let err = client(&ws.uri(), "t1")
        .with_retry_budget(Duration::from_secs(3))
        .clusters()
        .list(ListOptions::default())
        .next_page()
        .await
        .expect_err("gives up");
    assert!(start.elapsed() <= Duration::from_secs(4), "{:?}", start.elapsed());
    assert!(matches!(err, DatabricksError::RetriesExhausted { .. }), "{err:?}");
    assert_eq!(err.status(), Some(503));
    let text = err.to_string();
    assert!(text.contains("503") && text.contains("TEMPORARILY_UNAVAILABLE"), "{text}");
    assert!(ws.request_count() >= 2);
}

#[tokio::test]
async fn a_401_forces_one_refresh_and_one_repeat() {
    let ws = MockDatabricks::start(registry_with(&["t1", "t2"])).await;
    ws.set_cluster_count(30);
    let source = Arc::new(Rotating::default());
    let c = WorkspaceClient::new(&ws.uri(), source.clone()).expect("host");
    let mut pager = c.clusters().list(ListOptions { page_size: Some(10), ..Default::default() });
    assert_eq!(pager.next_page().await.expect("page 1").map(|p| p.len()), Some(10));
    ws.reject_next_with_401(1); // the token stops working mid-listing
    let mut rest = 0;
    while let Some(page) = pager.next_page().await.expect("later pages") {
        rest += page.len();
    }
    assert_eq!(rest, 20);
    assert_eq!(source.forced.load(Ordering::SeqCst), 1);
    let reqs = ws.requests().await;
    assert_eq!(reqs.len(), 4);
    assert_eq!(reqs[1].headers["authorization"], "Bearer t1");
    assert_eq!(reqs[2].headers["authorization"], "Bearer t2");
    assert_eq!(reqs[2].query, reqs[1].query, "the same page is asked for again");
}

#[tokio::test]
async fn a_second_401_and_403_are_final() {
    let ws = MockDatabricks::start(registry_with(&["t1"])).await;
    let source = Arc::new(Rotating::default());
    let c = WorkspaceClient::new(&ws.uri(), source.clone()).expect("host");
    ws.reject_next_with_401(5);
    let err = c.current_user().await.expect_err("401");
    assert_eq!(err.status(), Some(401));
    assert_eq!(ws.request_count(), 2);
    assert_eq!(source.forced.load(Ordering::SeqCst), 1);

    let ws = MockDatabricks::start(registry_with(&["t1"])).await;
    ws.set_forbidden(true);
    let err = client(&ws.uri(), "t1").current_user().await.expect_err("403");
    assert_eq!(err.error_code(), Some("PERMISSION_DENIED"));
    assert_eq!(ws.request_count(), 1);
}

#[tokio::test]
async fn resource_id_header_is_sent_exactly() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/2.0/preview/scim/v2/Me"))
        .and(header("x-databricks-azure-workspace-resource-id", RID))
        .and(header("authorization", "Bearer t1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"userName": "a"})))
        .expect(1)
        .mount(&server)
        .await;
    let id = ResourceId::parse(&format!("  {RID}/ ")).expect("valid");
    assert_eq!(id.as_str(), RID);
    let me = client(&server.uri(), "t1").with_resource_id(id).current_user().await.expect("matched");
    assert_eq!(me.user_name.as_deref(), Some("a"));
}

#[tokio::test]
async fn mock_rejects_a_malformed_resource_id_header() {
    // The client never sends one (ResourceId cannot be built invalid); check the mock with reqwest.
    let ws = MockDatabricks::start(registry_with(&["t1"])).await;
    let resp = reqwest::Client::new()
        .get(format!("{}/api/2.0/preview/scim/v2/Me", ws.uri()))
        .bearer_auth("t1")
        .header("X-Databricks-Azure-Workspace-Resource-Id", "/subscriptions/x")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 400);
}

#[test]
fn resource_ids() {
    assert!(ResourceId::parse(&RID.to_lowercase()).is_ok());
    assert_eq!(ResourceId::from_parts("0000-1111", "rg-data", "ws-prod").expect("parts").as_str(), RID);
    assert_eq!(ResourceId::parse(RID).expect("valid").parts(), ("0000-1111", "rg-data", "ws-prod"));
    for bad in [
        "",
        "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/workspaces/w",
        "subscriptions/s/resourceGroups/r/providers/Microsoft.Databricks/workspaces/w",
        "/subscriptions//resourceGroups/r/providers/Microsoft.Databricks/workspaces/w",
        "/subscriptions/s/resourceGroups/r/providers/Microsoft.Databricks/workspaces/w/extra",
        "/subscriptions/s/resourceGroups/r g/providers/Microsoft.Databricks/workspaces/w",
    ] {
        let err = ResourceId::parse(bad).expect_err(bad);
        assert!(matches!(err, DatabricksError::InvalidResourceId(_)));
    }
}

#[test]
fn hosts() {
    let s: Arc<dyn TokenSource> = Arc::new(StaticToken::bearer("t"));
    let c = WorkspaceClient::new("adb-1.2.azuredatabricks.net/", s.clone()).expect("bare host");
    assert_eq!(c.host(), "https://adb-1.2.azuredatabricks.net");
    assert_eq!(
        WorkspaceClient::new("http://127.0.0.1:8080//", s.clone()).expect("loopback").host(),
        "http://127.0.0.1:8080"
    );
    for bad in ["http://adb-1.2.azuredatabricks.net", "ftp://x", "", "https://h/?q=1"] {
        assert!(matches!(WorkspaceClient::new(bad, s.clone()), Err(DatabricksError::InvalidHost(_))), "{bad}");
    }
}

#[tokio::test]
async fn posts_are_not_retried_on_connection_errors_and_bodies_are_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/2.1/clusters/start"))
        .respond_with(ResponseTemplate::new(200).set_body_string(""))
        .mount(&server)
        .await;
    let c = client(&server.uri(), "t");
    let v = c
        .request(reqwest::Method::POST, "api/2.1/clusters/start", &[], Some(&json!({"cluster_id": "x"})))
        .await
        .expect("empty answer is {}");
    assert_eq!(v, json!({}));
    let reqs = server.received_requests().await.expect("recording");
    assert_eq!(reqs[0].body, br#"{"cluster_id":"x"}"#);

    // Nothing listens on port 9 of loopback (discard); a POST fails at once.
    let dead = client("http://127.0.0.1:9", "t");
    let start = Instant::now();
    let err = dead.request(reqwest::Method::POST, "/api/x", &[], None).await.expect_err("refused");
    assert!(matches!(err, DatabricksError::Transport { .. }), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(2));
    // A GET too: a refused loopback connection is not worth a retry budget.
    let start = Instant::now();
    let err = dead.request(reqwest::Method::GET, "/api/x", &[], None).await;
    assert!(matches!(err, Err(DatabricksError::Transport { .. })), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn tenant_from_the_aad_auth_redirect() {
    let ws = MockDatabricks::start(TokenRegistry::new()).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let tenant = brickauth_databricks::discover_tenant(&http, &ws.uri()).await.expect("tenant");
    assert_eq!(tenant, brickauth_mock::TENANT_ID);
}
