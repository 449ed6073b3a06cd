//! HTTP for token endpoints: one configured `reqwest` client, retries with backoff, form POSTs.
//!
//! Rules (DESIGN §6): connect and request timeouts; retries with exponential backoff and full
//! jitter on connection errors and 429/500/502/503/504, honouring `Retry-After` (seconds or an HTTP
//! date), within a total time budget; `User-Agent: brickauth/<version>`; no `Origin` header (Entra
//! treats a request with `Origin` as a single-page app, AADSTS9002326); extra CA certificates from
//! `BRICKAUTH_CA_BUNDLE` (or `SSL_CERT_FILE`) on top of the platform's roots; proxies from the
//! standard `HTTPS_PROXY`/`NO_PROXY` variables.
//!
//! Building a client loads TLS roots and takes milliseconds, so nothing here runs on the cached
//! path: callers build a [`TokenClient`] only when a request is about to be made.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::error::{AuthError, EntraError};
use crate::token::TokenResponse;

/// How and how long to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Requests sent at most, the first included.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each time.
    pub base_delay: Duration,
    /// Longest single wait (a longer `Retry-After` ends the retries instead).
    pub max_delay: Duration,
    /// Total time allowed for all attempts and waits.
    pub budget: Duration,
    /// HTTP statuses worth retrying.
    pub statuses: &'static [u16],
}

impl RetryPolicy {
    /// For token endpoints: connection errors and 429/500/502/503/504, 5 attempts within 60 s.
    pub fn token_endpoint() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            budget: Duration::from_secs(env_secs("BRICKAUTH_RETRY_BUDGET").unwrap_or(60)),
            statuses: &[429, 500, 502, 503, 504],
        }
    }
    /// No retries at all: for requests that must never be sent twice (an authorization code).
    pub fn never() -> Self {
        RetryPolicy { max_attempts: 1, ..Self::token_endpoint() }
    }

    /// The wait before attempt `attempt + 1` (1-based `attempt`): exponential with full jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(self.max_delay);
        let millis = cap.as_millis() as u64;
        // Full jitter, but never less than half the step, so retries do not bunch up at zero.
        Duration::from_millis(rand::rng().random_range(millis / 2..=millis.max(1)))
    }
}

fn env_secs(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

/// The wait a `Retry-After` header asks for (delay-seconds or an HTTP date).
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A `reqwest` client builder with brickauth's defaults: user agent, timeouts, extra CA roots.
///
/// Timeouts: connect 10 s, whole request 30 s (`BRICKAUTH_HTTP_TIMEOUT` overrides, in seconds).
pub fn client_builder() -> Result<reqwest::ClientBuilder, AuthError> {
    let timeout = Duration::from_secs(env_secs("BRICKAUTH_HTTP_TIMEOUT").unwrap_or(30));
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("brickauth/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    let bundle = std::env::var_os("BRICKAUTH_CA_BUNDLE").or_else(|| std::env::var_os("SSL_CERT_FILE"));
    if let Some(path) = bundle.filter(|p| !p.is_empty()) {
        let shown = path.to_string_lossy().into_owned();
        let pem = std::fs::read(&path).map_err(|e| AuthError::Io(format!("cannot read CA bundle {shown}: {e}")))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| AuthError::Io(format!("CA bundle {shown} is not PEM certificates: {e}")))?;
        tracing::debug!(bundle = %shown, count = certs.len(), "adding extra CA certificates");
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    Ok(b)
}

/// Send the request `build` makes, retrying per `policy`. Returns the first response that is not
/// worth retrying; a retryable status on the last attempt becomes an error naming it.
pub async fn send(
    policy: &RetryPolicy,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, AuthError> {
    let start = Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let req = build();
        let (failure, wait) = match req.send().await {
            Ok(resp) if !policy.statuses.contains(&resp.status().as_u16()) => return Ok(resp),
            Ok(resp) => {
                let asked = retry_after(resp.headers(), SystemTime::now());
                let url = strip(resp.url());
                let status = resp.status().as_u16();
                let body = resp.bytes().await.unwrap_or_default();
                let err = match EntraError::parse(status, &body) {
                    Some(e) => AuthError::Entra(Box::new(e)),
                    None => AuthError::Status { url, status, body: snippet(&body) },
                };
                tracing::debug!(status, attempt, retry_after = ?asked, "retryable answer");
                (err, asked)
            }
            Err(e) => {
                let url = e.url().map(strip).unwrap_or_default();
                tracing::debug!(attempt, error = %e, "request failed");
                (AuthError::Transport { url, message: transport_message(&e) }, None)
            }
        };
        let wait = wait.unwrap_or_else(|| policy.backoff(attempt));
        let elapsed = start.elapsed();
        if attempt >= policy.max_attempts || wait > policy.max_delay || elapsed + wait > policy.budget {
            if policy.max_attempts == 1 {
                return Err(failure);
            }
            return Err(AuthError::RetriesExhausted {
                attempts: attempt,
                elapsed_secs: elapsed.as_secs(),
                last: Box::new(failure),
            });
        }
        let why = match &failure {
            AuthError::Entra(e) => format!("HTTP {}: {}", e.status, e.summary()),
            other => other.to_string(),
        };
        tracing::info!("attempt {attempt} failed ({why}); retrying in {:.1} s", wait.as_secs_f64());
        tokio::time::sleep(wait).await;
    }
}

/// A one-line description of a transport error with its causes (no URL query, no body).
pub fn transport_message(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut msg = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        e.to_string()
    };
    let mut src = e.source();
    while let Some(s) = src {
        let s_text = s.to_string();
        if !msg.contains(&s_text) {
            msg.push_str(": ");
            msg.push_str(&s_text);
        }
        src = s.source();
    }
    msg
}

/// A URL without query or fragment, for messages (queries may carry codes).
pub fn strip(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// The start of a non-JSON error body, markup removed, for an error message.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    let mut s = words.join(" ");
    if s.len() > 200 {
        let mut cut = 200;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    if s.is_empty() { "(empty body)".to_owned() } else { s }
}

/// A form body whose secret fields stay redacted in `Debug` and logs.
#[derive(Clone, Default)]
pub struct Form {
    fields: Vec<(&'static str, Field)>,
}

#[derive(Clone)]
enum Field {
    Plain(String),
    Secret(SecretString),
}

impl fmt::Debug for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.fields {
            match v {
                Field::Plain(p) => m.entry(k, p),
                Field::Secret(_) => m.entry(k, &"[REDACTED]"),
            };
        }
        m.finish()
    }
}

impl Form {
    /// An empty form.
    pub fn new() -> Self {
        Self::default()
    }
    /// Add a plain field.
    pub fn field(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.fields.push((key, Field::Plain(value.into())));
        self
    }
    /// Add a field whose value is a secret.
    pub fn secret(mut self, key: &'static str, value: &SecretString) -> Self {
        self.fields.push((key, Field::Secret(value.clone())));
        self
    }
    /// The value of a plain field.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find_map(|(k, v)| match v {
            Field::Plain(p) if *k == key => Some(p.as_str()),
            _ => None,
        })
    }
    /// `application/x-www-form-urlencoded` text. Contains the secrets: send it, never log it.
    pub fn encode(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.fields {
            match v {
                Field::Plain(p) => s.append_pair(k, p),
                Field::Secret(p) => s.append_pair(k, p.expose_secret()),
            };
        }
        s.finish()
    }
}

/// The client for OAuth token endpoints.
#[derive(Debug, Clone)]
pub struct TokenClient {
    http: reqwest::Client,
    policy: RetryPolicy,
}

impl TokenClient {
    /// A client with brickauth's defaults (see [`client_builder`]).
    pub fn new() -> Result<Self, AuthError> {
        let http = client_builder()?.build().map_err(|e| AuthError::Io(format!("cannot set up HTTP client: {e}")))?;
        Ok(TokenClient { http, policy: RetryPolicy::token_endpoint() })
    }
    /// Use an existing `reqwest` client (shares its connection pool).
    pub fn with_http(http: reqwest::Client) -> Self {
        TokenClient { http, policy: RetryPolicy::token_endpoint() }
    }
    /// Replace the retry policy.
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }
    /// The underlying `reqwest` client, for flows that make other requests (device code, IMDS).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }
    /// The retry policy in force.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// POST `form` to a token endpoint and parse the answer. With `retry == false` the request
    /// is sent exactly once (authorization-code redemption: a code is single-use).
    pub async fn token(&self, endpoint: &Url, form: &Form, retry: bool) -> Result<TokenResponse, AuthError> {
        self.token_with_headers(endpoint, form, retry, &[]).await
    }

    /// Like [`TokenClient::token`], with extra request headers (e.g. `X-AnchorMailbox`).
    pub async fn token_with_headers(
        &self,
        endpoint: &Url,
        form: &Form,
        retry: bool,
        headers: &[(&str, String)],
    ) -> Result<TokenResponse, AuthError> {
        let never = RetryPolicy::never();
        let policy = if retry { &self.policy } else { &never };
        let body = form.encode();
        tracing::debug!(endpoint = %strip(endpoint), grant_type = form.get("grant_type").unwrap_or("?"), "token request");
        let resp = send(policy, || {
            let mut r = self
                .http
                .post(endpoint.clone())
                .header("Accept", "application/json")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("x-client-sku", "brickauth")
                .header("x-client-ver", crate::VERSION)
                .header("client-request-id", request_id())
                .body(body.clone());
            for (k, v) in headers {
                r = r.header(*k, v);
            }
            r
        })
        .await?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| AuthError::Transport {
            url: strip(endpoint),
            message: format!("reading the answer failed: {}", transport_message(&e)),
        })?;
        read_token_answer(endpoint, status, &body)
    }
}

/// Turn a token endpoint's answer into a token or a typed error.
pub fn read_token_answer(endpoint: &Url, status: u16, body: &[u8]) -> Result<TokenResponse, AuthError> {
    if (200..300).contains(&status) {
        TokenResponse::parse(body, crate::now()).map_err(|source| AuthError::Response { url: strip(endpoint), source })
    } else {
        Err(match EntraError::parse(status, body) {
            Some(e) => AuthError::Entra(Box::new(e)),
            None => AuthError::Status { url: strip(endpoint), status, body: snippet(body) },
        })
    }
}

/// A random GUID-shaped request id (`client-request-id`), for correlating with Entra's logs.
pub fn request_id() -> String {
    let b: [u8; 16] = rand::rng().random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(3));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(3)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn backoff_grows_and_caps() {
        let p = RetryPolicy { max_delay: Duration::from_secs(2), ..RetryPolicy::token_endpoint() };
        assert!(p.backoff(1) <= Duration::from_millis(500));
        assert!(p.backoff(3) >= Duration::from_secs(1));
        assert!(p.backoff(30) <= Duration::from_secs(2));
    }

    #[test]
    fn form_debug_redacts() {
        let f = Form::new().field("grant_type", "password").secret("password", &SecretString::from("hunter2"));
        assert!(!format!("{f:?}").contains("hunter2"));
        assert_eq!(f.encode(), "grant_type=password&password=hunter2");
    }

    #[test]
    fn snippets() {
        assert_eq!(snippet(b"<html><body><h1>502 Bad Gateway</h1></body></html>"), "502 Bad Gateway");
        assert_eq!(snippet(b""), "(empty body)");
        assert!(snippet("é".repeat(300).as_bytes()).ends_with('…'));
    }
}
