//! Helpers shared by the integration tests: token bodies as Entra sends them, an app pointed at a
//! mock server, and a grant flow that counts its runs.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brickauth_cache::{AccountHint, Identity, TokenCache, TokenProvider};
use brickauth_core::flow::FlowSpec;
use brickauth_core::{
    AppConfig, AuthError, Authority, BoxFuture, ConfigError, FlowContext, GrantFlow, MapSettings, RetryPolicy,
    SecretString, Settings, TokenClient, TokenResponse,
};

pub const CLIENT_ID: &str = "04f0c124-f2bc-4f59-8241-bf6df9866bbd";
pub const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const TOKEN_PATH: &str = "/organizations/oauth2/v2.0/token";

/// An app whose authority is `host` (a mock server's URI, or any https URL).
pub fn app(host: &str) -> AppConfig {
    AppConfig {
        authority: Authority::new(host, "organizations".parse().unwrap()).unwrap(),
        client_id: CLIENT_ID.parse().unwrap(),
        scopes: brickauth_core::Scopes::databricks(),
    }
}

pub fn offline_app() -> AppConfig {
    app("https://login.microsoftonline.com")
}

pub fn b64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// A token endpoint's JSON answer for `user` (`alice` → alice@contoso.com, home account
/// `alice.<tenant>`), with an optional refresh token.
pub fn body(user: &str, access_token: &str, refresh_token: Option<&str>, expires_in: i64) -> String {
    let claims = serde_json::json!({
        "preferred_username": format!("{user}@contoso.com"), "tid": TENANT_ID, "oid": format!("oid-{user}")
    });
    let id_token = format!("{}.{}.c2ln", b64url(br#"{"alg":"none"}"#), b64url(claims.to_string().as_bytes()));
    let client_info = b64url(serde_json::json!({"uid": user, "utid": TENANT_ID}).to_string().as_bytes());
    let mut v = serde_json::json!({
        "token_type": "Bearer", "scope": "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/user_impersonation",
        "expires_in": expires_in, "ext_expires_in": expires_in, "access_token": access_token,
        "id_token": id_token, "client_info": client_info,
    });
    if let Some(rt) = refresh_token {
        v["refresh_token"] = rt.into();
    }
    v.to_string()
}

/// A parsed response whose access token expires `expires_in` seconds from now (negative: in
/// the past).
pub fn response(user: &str, access_token: &str, refresh_token: Option<&str>, expires_in: i64) -> TokenResponse {
    let now = brickauth_core::now();
    // Parse as if received long enough ago that the token has `expires_in` left now.
    let lifetime = 3600;
    TokenResponse::parse(body(user, access_token, refresh_token, lifetime).as_bytes(), now - lifetime + expires_in)
        .unwrap()
}

pub fn hint(profile: &str) -> AccountHint {
    AccountHint::new(profile)
}

pub fn id(app: &AppConfig) -> Identity {
    Identity::of(app)
}

/// A cache in `dir` that keeps refresh tokens in clear: tests of sealing (`secrets.rs`) bring
/// their own in-memory key stores, and no test leaves keys in this machine's key stores.
pub fn cache_in(dir: &tempfile::TempDir) -> TokenCache {
    TokenCache::at(dir.path().join("cache"))
        .with_storage(brickauth_cache::StoragePolicy::Only(brickauth_cache::Storage::File))
}

pub fn file_text(cache: &TokenCache) -> String {
    std::fs::read_to_string(cache.path()).unwrap_or_default()
}

/// Make every cached token look received `ago` earlier than now (`None`: drop the time, as an
/// older brickauth writing the file does), so that a forced refresh renews it.
pub fn age(cache: &TokenCache, ago: Option<Duration>) {
    let mut v: serde_json::Value = serde_json::from_str(&file_text(cache)).unwrap();
    let at = ago.map(|d| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        i64::try_from((now - d).as_millis()).unwrap()
    });
    for entry in v["entries"].as_object_mut().unwrap().values_mut() {
        let entry = entry.as_object_mut().unwrap();
        match at {
            Some(at) => entry.insert("obtained_at_ms".into(), at.into()),
            None => entry.remove("obtained_at_ms"),
        };
    }
    std::fs::write(cache.path(), v.to_string()).unwrap();
}

/// A client with a retry budget small enough for tests.
pub fn quick_client() -> TokenClient {
    TokenClient::new().unwrap().with_policy(RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        connect: brickauth_core::retry::Budget { limit: Duration::from_millis(500), variable: "TEST" },
        busy: brickauth_core::retry::Budget { limit: Duration::from_millis(500), variable: "TEST" },
    })
}

/// A grant flow that returns a fixed answer and counts its runs.
#[derive(Debug, Clone)]
pub struct TestFlow {
    pub app: AppConfig,
    pub interactive: bool,
    pub body: String,
    pub calls: Arc<AtomicUsize>,
    /// When set, the flow records whether this cache's lock was free while it ran.
    pub probe_lock: Option<(TokenCache, Arc<AtomicUsize>)>,
    /// The credential it reports as deciding its account (a refresh-token flow's token).
    pub credential: Option<SecretString>,
}

/// Test flows by id, for the registered `cache-test` flow to build from (a `FlowSpec` builds
/// through a plain `fn`), each with a counter of how often it was built.
static FLOWS: Mutex<BTreeMap<String, (TestFlow, Arc<AtomicUsize>)>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicUsize = AtomicUsize::new(0);

fn build_test_flow(s: &dyn Settings) -> Result<Box<dyn GrantFlow>, ConfigError> {
    let id = s.require("test_flow")?;
    let flows = FLOWS.lock().unwrap();
    let (flow, built) = flows.get(id).ok_or_else(|| ConfigError::missing(s.profile_name(), "test_flow"))?;
    if let Some(missing) = s.get("fail_build") {
        return Err(ConfigError::missing(s.profile_name(), missing));
    }
    built.fetch_add(1, Ordering::SeqCst);
    Ok(Box::new(flow.clone()))
}

brickauth_core::register_flow! {
    FlowSpec {
        name: "cache-test",
        aliases: &[],
        summary: "the cache crate's test flow",
        interactive: false,
        keys: &[],
        app: AppConfig::from_settings,
        env: &[],
        databricks: brickauth_core::flow::DatabricksAuth::NONE,
        build: build_test_flow,
    }
}

impl TestFlow {
    pub fn new(app: AppConfig, body: String) -> Self {
        TestFlow { app, interactive: false, body, calls: Arc::default(), probe_lock: None, credential: None }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Settings for profile `profile` that build (a clone of) this flow; the counter counts builds.
    pub fn settings(&self, profile: &str) -> (MapSettings, Arc<AtomicUsize>) {
        let id = NEXT.fetch_add(1, Ordering::SeqCst).to_string();
        let built = Arc::new(AtomicUsize::new(0));
        FLOWS.lock().unwrap().insert(id.clone(), (self.clone(), built.clone()));
        let s = MapSettings::new(profile)
            .with("flow", "cache-test")
            .with("test_flow", id)
            .with("tenant_id", self.app.authority.tenant().as_str())
            .with("client_id", self.app.client_id.as_str())
            .with("authority_host", self.app.authority.host());
        (s, built)
    }

    /// A provider for profile `dev` over `cache`, building this flow on a miss; the counter
    /// counts builds.
    pub fn provider(&self, cache: TokenCache) -> (TokenProvider, Arc<AtomicUsize>) {
        let (s, built) = self.settings("dev");
        (TokenProvider::from_settings(cache, Arc::new(s)).unwrap(), built)
    }
}

impl GrantFlow for TestFlow {
    fn app(&self) -> &AppConfig {
        &self.app
    }
    fn interactive(&self) -> bool {
        self.interactive
    }
    fn account_credential(&self) -> Option<SecretString> {
        self.credential.clone()
    }
    fn acquire<'a>(&'a self, _cx: &'a FlowContext<'a>) -> BoxFuture<'a, Result<TokenResponse, AuthError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some((cache, free)) = &self.probe_lock
            && cache.clone().with_lock_timeout(Duration::from_millis(100)).lock().is_ok()
        {
            free.fetch_add(1, Ordering::SeqCst);
        }
        Box::pin(async move {
            TokenResponse::parse(self.body.as_bytes(), brickauth_core::now())
                .map_err(|source| AuthError::Response { url: "test-flow".into(), source })
        })
    }
}
