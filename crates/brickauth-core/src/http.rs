//! HTTP for brickauth: the one place a `reqwest` client is configured, the one token POST path,
//! and reading answers with a size limit.
//!
//! Rules (DESIGN §6, issue 10):
//!
//! - Timeouts: connect 10 s, whole request 30 s (`BRICKAUTH_HTTP_TIMEOUT`, seconds); no redirects;
//!   `User-Agent: brickauth/<version>`; no `Origin` header (Entra treats a request with `Origin`
//!   as a single-page app, AADSTS9002326).
//! - Proxies: only `https://` requests go through one (`HTTPS_PROXY`, else `ALL_PROXY`; either
//!   case), minus `NO_PROXY` and every loopback address (127.0.0.0/8, ::1, `localhost`). A
//!   clear-text `http://` request (loopback only, by validation) never goes to a proxy, so
//!   `HTTP_PROXY` is ignored. No operating-system proxy settings are read.
//! - TLS roots: the Mozilla roots compiled into the binary (`webpki-roots`: nothing to load or
//!   parse per process), plus the PEM certificates the *caller* passes
//!   ([`HttpConfig::with_ca_pem`]; the CLI reads `BRICKAUTH_CA_BUNDLE` or `SSL_CERT_FILE`).
//!   `BRICKAUTH_TLS_ROOTS=system` uses the operating system's store instead (which honours
//!   `SSL_CERT_FILE`/`SSL_CERT_DIR` and costs milliseconds of parsing per process).
//! - Retries through [`crate::retry`], one engine for every client.
//!
//! Core reads environment variables here ([`HttpConfig::from_env`]) but never a file.
//!
//! Building a client takes a little time, so nothing here runs on the cached path: a
//! [`TokenClient`] builds its `reqwest` client on its first request.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::app::is_loopback;
use crate::error::{AuthError, EntraError};
pub use crate::retry::RetryPolicy;
use crate::retry::{self, GaveUp, Observer, RetryKind, Verdict};
use crate::settings::ConfigError;
use crate::text::ServerText;
use crate::token::{ResponseError, TokenResponse};

/// The most of an error answer that is read (the rest is dropped unread).
pub const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// The most of a successful token-endpoint answer that is read.
pub const TOKEN_BODY_LIMIT: usize = 1024 * 1024;

/// Which TLS roots to trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Roots {
    /// The Mozilla roots compiled into the binary (`webpki-roots`), the default.
    Bundled,
    /// The operating system's store (`BRICKAUTH_TLS_ROOTS=system`).
    System,
}

/// Loads PEM bytes for the caller (reads a file, say); called when a client is built.
pub type PemLoader = Arc<dyn Fn() -> Result<Vec<u8>, String> + Send + Sync>;

/// Extra trusted CA certificates, as PEM, and where they came from (for messages).
#[derive(Clone)]
struct CaPem {
    source: String,
    pem: PemLoader,
}

/// How to build an HTTP client: timeouts, proxy, TLS roots. [`HttpConfig::from_env`] reads the
/// environment variables (never a file); extra roots come from the caller.
#[derive(Clone)]
pub struct HttpConfig {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// The proxy for `https://` requests, if any.
    pub https_proxy: Option<Url>,
    /// `NO_PROXY`: hosts, domains and CIDR blocks that go direct.
    pub no_proxy: Option<String>,
    /// Which roots.
    pub roots: Roots,
    ca: Option<CaPem>,
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proxy = self.https_proxy.as_ref().map(|u| {
            let mut u = u.clone();
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        });
        f.debug_struct("HttpConfig")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("https_proxy", &proxy)
            .field("no_proxy", &self.no_proxy)
            .field("roots", &self.roots)
            .field("ca", &self.ca.as_ref().map(|c| c.source.as_str()))
            .finish()
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            https_proxy: None,
            no_proxy: None,
            roots: Roots::Bundled,
            ca: None,
        }
    }
}

/// The largest CA bundle file read: the whole Mozilla bundle is about 220 KiB.
pub const CA_BUNDLE_LIMIT: u64 = 16 * 1024 * 1024;

impl HttpConfig {
    /// From the environment: `BRICKAUTH_HTTP_TIMEOUT`, `HTTPS_PROXY`/`https_proxy` (else
    /// `ALL_PROXY`/`all_proxy`), `NO_PROXY`/`no_proxy`, `BRICKAUTH_TLS_ROOTS`. Reads no file.
    ///
    /// A malformed value is a [`ConfigError`] naming the variable: the user must change it.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// Like [`HttpConfig::from_env`], reading variables through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let bad = |name: &str, message: String| ConfigError::general(message).at(Some(format!("${name}")));
        let var = |k: &str| var(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let mut c = HttpConfig::default();
        if let Some(t) = var("BRICKAUTH_HTTP_TIMEOUT") {
            let secs: u64 = t.parse().ok().filter(|s| (1..=3600).contains(s)).ok_or_else(|| {
                bad("BRICKAUTH_HTTP_TIMEOUT", format!("`{t}` is not a number of seconds between 1 and 3600"))
            })?;
            c.timeout = Duration::from_secs(secs);
            c.connect_timeout = c.timeout.min(Duration::from_secs(10));
        }
        let proxy =
            ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"].into_iter().find_map(|k| var(k).map(|v| (k, v)));
        if let Some((name, value)) = proxy {
            let with_scheme = if value.contains("://") { value.clone() } else { format!("http://{value}") };
            let url = Url::parse(&with_scheme)
                .ok()
                .filter(|u| u.host().is_some())
                .ok_or_else(|| bad(name, "not a proxy URL (expected http://host:port)".to_owned()))?;
            c.https_proxy = Some(url);
        }
        c.no_proxy = var("NO_PROXY").or_else(|| var("no_proxy"));
        c.roots = match var("BRICKAUTH_TLS_ROOTS").as_deref() {
            None | Some("bundled") => Roots::Bundled,
            Some("system") => Roots::System,
            Some(other) => {
                return Err(bad(
                    "BRICKAUTH_TLS_ROOTS",
                    format!("`{other}`: expected `bundled` (the default) or `system`"),
                ));
            }
        };
        Ok(c)
    }

    /// Also trust the CA certificates in `pem` (read by the caller from `source`, named in
    /// errors). Parsed when the client is built.
    pub fn with_ca_pem(self, source: impl Into<String>, pem: Vec<u8>) -> Self {
        let pem: Arc<[u8]> = pem.into();
        self.with_ca_loader(source, Arc::new(move || Ok(pem.to_vec())))
    }

    /// Like [`HttpConfig::with_ca_pem`], the bytes coming from `load` when (and only when) a
    /// client is built — so a caller can name a file without reading it on the cached path. A
    /// loader reading a file reads it with [`crate::file::read`] and [`CA_BUNDLE_LIMIT`].
    pub fn with_ca_loader(mut self, source: impl Into<String>, load: PemLoader) -> Self {
        self.ca = Some(CaPem { source: source.into(), pem: load });
        self
    }

    /// Whether `url` would go through the proxy.
    pub fn proxied(&self, url: &Url) -> bool {
        self.https_proxy.is_some() && proxy_allowed(url, self.no_proxy.as_deref())
    }

    /// A `reqwest` builder with all of the above; callers may tighten timeouts.
    pub fn builder(&self) -> Result<reqwest::ClientBuilder, AuthError> {
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("brickauth/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(proxy) = self.https_proxy.clone() {
            let no = self.no_proxy.clone();
            let p = reqwest::Proxy::custom(move |url| proxy_allowed(url, no.as_deref()).then(|| proxy.clone()));
            let p = p.no_proxy(self.no_proxy.as_deref().and_then(reqwest::NoProxy::from_string));
            b = b.proxy(p);
        }
        let extra = match &self.ca {
            None => Vec::new(),
            Some(ca) => {
                use rustls_pki_types::pem::PemObject as _;
                let pem = (ca.pem)().map_err(|e| AuthError::Io(format!("cannot read CA bundle {}: {e}", ca.source)))?;
                let certs = rustls_pki_types::CertificateDer::pem_slice_iter(&pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| AuthError::Io(format!("CA bundle {} is not PEM certificates: {e}", ca.source)))?;
                if certs.is_empty() {
                    return Err(AuthError::Io(format!("CA bundle {} holds no PEM certificate", ca.source)));
                }
                tracing::debug!(bundle = %ca.source, count = certs.len(), "adding CA certificates");
                certs
            }
        };
        match self.roots {
            Roots::Bundled => {
                let mut store = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
                let source = self.ca.as_ref().map(|c| c.source.as_str()).unwrap_or_default();
                for cert in extra {
                    store
                        .add(cert)
                        .map_err(|e| AuthError::Io(format!("CA bundle {source}: a certificate is not usable: {e}")))?;
                }
                let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
                let mut tls = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| AuthError::Io(format!("cannot set up TLS: {e}")))?
                    .with_root_certificates(store)
                    .with_no_client_auth();
                tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
                b = b.tls_backend_preconfigured(tls);
            }
            Roots::System => {
                let certs = extra
                    .iter()
                    .map(|c| reqwest::Certificate::from_der(c.as_ref()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| AuthError::Io(format!("CA bundle: {e}")))?;
                b = b.tls_certs_merge(certs);
            }
        }
        Ok(b)
    }

    /// The client.
    pub fn build(&self) -> Result<reqwest::Client, AuthError> {
        self.builder()?
            .build()
            .map_err(|e| AuthError::Io(format!("cannot set up the HTTP client: {}", error_chain(&e))))
    }
}

/// Whether a request to `url` may use the https proxy: `https` only, never loopback, not in
/// `no_proxy`.
fn proxy_allowed(url: &Url, no_proxy: Option<&str>) -> bool {
    if url.scheme() != "https" || is_loopback(url) {
        return false;
    }
    let Some(list) = no_proxy else { return true };
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    !list.split(',').map(str::trim).filter(|e| !e.is_empty()).any(|e| {
        let e = e.to_ascii_lowercase();
        e == "*" || host == e.trim_start_matches('.') || host.ends_with(&format!(".{}", e.trim_start_matches('.')))
    })
}

/// A `reqwest` client builder with brickauth's defaults from the environment (see
/// [`HttpConfig::from_env`]; no extra CA certificates: pass them with
/// [`HttpConfig::with_ca_pem`]).
pub fn client_builder() -> Result<reqwest::ClientBuilder, AuthError> {
    HttpConfig::from_env()?.builder()
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

/// An HTTP answer read in full (up to a limit), with the cleaner for its text.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The URL, without query.
    pub url: String,
    /// The status.
    pub status: u16,
    /// What `Retry-After` asked for.
    pub retry_after: Option<Duration>,
    /// The body (at most the limit it was read with).
    pub body: Vec<u8>,
    /// Whether the body was cut at the limit.
    pub truncated: bool,
    /// Cleans the body's text for messages, redacting what the request sent.
    pub text: ServerText,
}

impl Answer {
    /// Read `resp` into an answer: a success up to `ok_limit` bytes (more is an error), an error
    /// answer up to [`ERROR_BODY_LIMIT`] (the rest is dropped).
    pub async fn read(resp: reqwest::Response, ok_limit: usize, text: ServerText) -> Result<Answer, Failure> {
        let url = strip(resp.url());
        let status = resp.status().as_u16();
        let retry_after = retry_after(resp.headers(), SystemTime::now());
        let ok = (200..300).contains(&status);
        let limit = if ok { ok_limit } else { ERROR_BODY_LIMIT };
        let mut resp = resp;
        let mut body = Vec::new();
        let mut truncated = false;
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    let room = limit - body.len();
                    if chunk.len() > room {
                        body.extend_from_slice(&chunk[..room]);
                        truncated = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(Failure::from_reqwest(&url, &e, "reading the answer failed: ")),
            }
        }
        if truncated && ok {
            return Err(Failure {
                url,
                message: format!("the answer is larger than {} KiB", ok_limit / 1024),
                kind: None,
                unsent: false,
            });
        }
        if !ok {
            tracing::debug!(status, url = %url, body = %text.clean_full(&body), "error answer");
        }
        Ok(Answer { url, status, retry_after, body, truncated, text })
    }

    /// One `-vv` (debug) line for this answer: its status, the milliseconds since `started` (the
    /// request was sent), the body's size and the URL without query — never a body or a header
    /// value.
    pub fn log(&self, started: std::time::Instant) {
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::debug!(status = self.status, elapsed_ms, bytes = self.body.len(), url = %self.url, "HTTP answer");
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// An error answer as a typed error: Entra's OAuth error when the body is one, else the
    /// status and the start of the body (cleaned).
    pub fn error(&self) -> AuthError {
        match EntraError::parse_with(self.status, &self.body, &self.text) {
            Some(e) => AuthError::Entra(Box::new(e)),
            None => AuthError::Status { url: self.url.clone(), status: self.status, body: self.snippet() },
        }
    }

    /// The start of the body, markup removed, cleaned (see [`snippet_with`]).
    pub fn snippet(&self) -> String {
        snippet_with(&self.body, &self.text)
    }

    /// A token endpoint's answer: the token, or a typed error.
    pub fn token_response(&self) -> Result<TokenResponse, AuthError> {
        if self.is_success() {
            TokenResponse::parse(&self.body, crate::now()).map_err(|source| {
                let url = self.url.clone();
                if !matches!(source, ResponseError::Malformed(_)) {
                    return AuthError::Response { url, source };
                }
                if let Some(what) = not_json(&self.body) {
                    return AuthError::Response { url, source: ResponseError::NotJson(what) };
                }
                match serde_json::from_slice::<serde_json::Value>(&self.body) {
                    Err(e) if cut_short(&self.body, &e) => {
                        AuthError::Transport { url, message: ended_early(&self.body) }
                    }
                    _ => AuthError::Response { url, source: source.cleaned(&self.text) },
                }
            })
        } else {
            Err(self.error())
        }
    }
}

/// A request that got no usable answer, classified.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The URL, without query.
    pub url: String,
    /// What went wrong, with causes.
    pub message: String,
    /// `Some(Connect)` when another attempt may help; `None` for failures no retry can fix
    /// (an unknown TLS issuer, an invalid header value, a builder error, an oversized answer).
    pub kind: Option<RetryKind>,
    /// No connection was made, so the request certainly never reached the server (safe to send
    /// again whatever the method).
    pub unsent: bool,
}

impl Failure {
    /// Classify a `reqwest` error.
    pub fn from_reqwest(url: &str, e: &reqwest::Error, prefix: &str) -> Failure {
        let shown = e.url().map(strip).unwrap_or_else(|| url.to_owned());
        // Nothing listens on that loopback port: a server being restarted is no reason to
        // wait out a retry budget on every call, and a loopback address has no network between.
        let refused_here = e.is_connect()
            && e.url().is_some_and(is_loopback)
            && transport_message(e).to_ascii_lowercase().contains("refused");
        let fatal = e.is_builder() || e.is_redirect() || e.is_decode() || tls_config_problem(e) || refused_here;
        let url = shown;
        Failure {
            url,
            message: format!("{prefix}{}", transport_message(e)),
            kind: (!fatal).then_some(RetryKind::Connect),
            unsent: e.is_connect(),
        }
    }

    /// As an [`AuthError::Transport`].
    pub fn into_auth(self) -> AuthError {
        AuthError::Transport { url: self.url, message: self.message }
    }

    /// The short reason for a retry line.
    pub fn reason(&self) -> String {
        let m = self.message.to_ascii_lowercase();
        let short = if m.contains("refused") {
            "connection refused"
        } else if m.contains("timed out") {
            "timed out"
        } else if m.contains("reset") {
            "connection reset"
        } else if m.contains("dns") || m.contains("resolve") {
            "name not resolved"
        } else {
            "no answer"
        };
        short.to_owned()
    }
}

/// Whether the error is a certificate or TLS set-up problem (unknown issuer, bad name, expired):
/// the same answer comes every time.
fn tls_config_problem(e: &reqwest::Error) -> bool {
    use std::error::Error as _;
    let mut src: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(s) = src {
        if s.downcast_ref::<rustls::Error>().is_some_and(|r| {
            matches!(
                r,
                rustls::Error::InvalidCertificate(_)
                    | rustls::Error::NoCertificatesPresented
                    | rustls::Error::UnsupportedNameType
                    | rustls::Error::PeerIncompatible(_)
            )
        }) {
            return true;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(r) = inner.downcast_ref::<rustls::Error>()
        {
            return matches!(r, rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented);
        }
        src = s.source();
    }
    // The error may reach us wrapped in a type that hides its source; rustls's text is stable.
    let text = transport_message(e);
    text.contains("invalid peer certificate") || text.contains("peer is incompatible")
}

/// The classify callback for HTTP requests: a success or any status not in `busy` is final; a
/// status in `busy` is a busy answer (honouring `Retry-After`); a transport failure is a
/// connection error unless no retry can fix it.
pub fn classify(busy: &'static [u16]) -> impl Fn(&Result<Answer, Failure>) -> Verdict {
    move |outcome| match outcome {
        Ok(a) if busy.contains(&a.status) => {
            Verdict::Retry { kind: RetryKind::Busy, after: a.retry_after, reason: format!("HTTP {}", a.status) }
        }
        Ok(_) => Verdict::Final,
        Err(f) => match f.kind {
            Some(kind) => Verdict::Retry { kind, after: None, reason: f.reason() },
            None => Verdict::Final,
        },
    }
}

/// The statuses retried as a busy or failing server, for every endpoint (the token endpoint; the
/// workspace for idempotent requests): throttling (429), and a server or gateway that failed
/// (500, 502, 503, 504 — often an HTML page from a proxy).
pub const BUSY: &[u16] = &[429, 500, 502, 503, 504];

/// The statuses a token endpoint is retried on ([`BUSY`]).
pub const TOKEN_BUSY: &[u16] = BUSY;

/// The statuses that promise the request was not processed (throttled, unavailable): retried
/// even for a request that must not run twice (a workspace `POST`).
pub const NOT_PROCESSED: &[u16] = &[429, 503];

/// Send the request `build` makes, retrying per `policy` on `busy` statuses and connection
/// errors, and read the answer. A give-up becomes [`AuthError::RetriesExhausted`] naming the
/// status, the budget and its variable.
pub async fn send(
    policy: &RetryPolicy,
    observer: Option<&dyn retry::RetryObserver>,
    busy: &'static [u16],
    url: &Url,
    text: &ServerText,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Answer, AuthError> {
    let shown = strip(url);
    let (outcome, gave_up) = retry::run(
        policy,
        observer,
        &shown,
        |_| async {
            let started = std::time::Instant::now();
            match build().send().await {
                Ok(resp) => Answer::read(resp, TOKEN_BODY_LIMIT, text.clone()).await.inspect(|a| a.log(started)),
                Err(e) => Err(Failure::from_reqwest(&shown, &e, "")),
            }
        },
        classify(busy),
    )
    .await;
    match (outcome, gave_up) {
        (Ok(a), None) => Ok(a),
        (Ok(a), Some(g)) => Err(exhausted(g, Some(a.status), a.error())),
        (Err(f), None) => Err(f.into_auth()),
        (Err(f), Some(g)) => Err(exhausted(g, None, f.into_auth())),
    }
}

/// The give-up error.
pub fn exhausted(g: GaveUp, status: Option<u16>, last: AuthError) -> AuthError {
    AuthError::RetriesExhausted {
        attempts: g.attempts,
        elapsed_secs: g.elapsed.as_secs(),
        status,
        why: g.to_string(),
        last: Box::new(last),
    }
}

/// A one-line description of a transport error with its causes (no URL query, no body).
pub fn transport_message(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        e.to_string()
    };
    for s in causes(e) {
        if !msg.contains(&s) {
            msg.push_str(": ");
            msg.push_str(&s);
        }
    }
    msg
}

fn causes(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out = Vec::new();
    let mut src = e.source();
    while let Some(s) = src {
        out.push(s.to_string());
        src = s.source();
    }
    out
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    for s in causes(e) {
        if !msg.contains(&s) {
            msg.push_str(": ");
            msg.push_str(&s);
        }
    }
    msg
}

/// A URL without query or fragment, for messages (queries may carry codes).
pub fn strip(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_password(None);
    let _ = u.set_username("");
    u.to_string()
}

/// The start of a non-JSON error body, markup removed, cleaned (no secret redaction: use
/// [`snippet_with`] when the request carried secrets).
pub fn snippet(body: &[u8]) -> String {
    snippet_with(body, &ServerText::default())
}

/// The start of a non-JSON error body: markup removed, escape sequences and control characters
/// removed, what `text` knows was sent redacted, capped.
pub fn snippet_with(body: &[u8], text: &ServerText) -> String {
    let raw = String::from_utf8_lossy(body);
    let mut out = String::with_capacity(raw.len().min(ERROR_BODY_LIMIT));
    let mut in_tag = false;
    for c in raw.chars() {
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
    let s = text.clean(&out);
    if s.is_empty() { "(empty body)".to_owned() } else { s }
}

/// What a body that should have been JSON is, for a message, when it is recognisably something
/// else: `an HTML page ("TITLE")` (a sign-in portal, a proxy, a web server that is not the API),
/// or `an empty body`. `None` for anything else (broken JSON, say), whose parser error says more.
pub fn not_json(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let start = text.trim_start().get(..15).unwrap_or(text.trim_start()).to_ascii_lowercase();
    if start.starts_with("<!doctype html") || start.starts_with("<html") || start.starts_with("<head") {
        let lower = text.to_ascii_lowercase();
        let title = lower
            .find("<title>")
            .and_then(|i| text.get(i + "<title>".len()..))
            .and_then(|rest| rest.split('<').next())
            .map(|t| ServerText::default().clean(t))
            .filter(|t| !t.is_empty())
            .map(|t| crate::text::cap_chars(&t, 80));
        return Some(match title {
            Some(t) => format!("an HTML page (\"{t}\")"),
            None => "an HTML page".to_owned(),
        });
    }
    body.iter().all(u8::is_ascii_whitespace).then(|| "an empty body".to_owned())
}

/// The message for a body [`cut_short`].
pub fn ended_early(body: &[u8]) -> String {
    format!("the answer ended after {} bytes, in the middle of its JSON (the transfer was cut short)", body.len())
}

/// Whether a JSON parser's error means the body ended early: a transfer cut short, which is a
/// network failure like a connection reset, not an answer to report.
pub fn cut_short(body: &[u8], error: &serde_json::Error) -> bool {
    error.is_eof() && !body.iter().all(u8::is_ascii_whitespace)
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
    /// The values of the secret fields (to redact them from what a server answers).
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().filter_map(|(_, v)| match v {
            Field::Secret(s) => Some(s.expose_secret()),
            Field::Plain(_) => None,
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

/// The client for OAuth token endpoints. Cheap to create and to clone: the `reqwest` client is
/// built on the first request and shared by clones.
#[derive(Clone)]
pub struct TokenClient {
    config: Arc<HttpConfig>,
    http: Arc<OnceLock<reqwest::Client>>,
    policy: RetryPolicy,
    observer: Option<Observer>,
}

impl fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenClient")
            .field("config", &self.config)
            .field("policy", &self.policy)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl TokenClient {
    /// A client configured from the environment ([`HttpConfig::from_env`]).
    pub fn new() -> Result<Self, AuthError> {
        Ok(Self::from_config(HttpConfig::from_env()?))
    }

    /// A client with this configuration.
    pub fn from_config(config: HttpConfig) -> Self {
        TokenClient {
            config: Arc::new(config),
            http: Arc::default(),
            policy: RetryPolicy::token_endpoint(),
            observer: None,
        }
    }

    /// Use an existing `reqwest` client (shares its connection pool).
    pub fn with_http(http: reqwest::Client) -> Self {
        let c = Self::from_config(HttpConfig::default());
        let _ = c.http.set(http);
        c
    }

    /// Replace the retry policy.
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Tell `observer` about every wait before a retry.
    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The `reqwest` client (built on first use), for flows that make other requests.
    pub fn http(&self) -> Result<&reqwest::Client, AuthError> {
        if let Some(h) = self.http.get() {
            return Ok(h);
        }
        let built = self.config.build()?;
        Ok(self.http.get_or_init(|| built))
    }

    /// The configuration clients are built from.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// The retry policy in force.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The retry observer, if any.
    pub fn observer(&self) -> Option<&dyn retry::RetryObserver> {
        self.observer.as_deref()
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
        self.post_form(endpoint, form, retry, headers).await?.token_response()
    }

    /// The one form POST to an OAuth endpoint (token, device code): brickauth's headers, retries
    /// (unless `retry == false`), the answer read with a limit and its text cleaner redacting the
    /// form's secrets. Any status comes back as an [`Answer`]; only transport failures and
    /// give-ups are errors.
    pub async fn post_form(
        &self,
        endpoint: &Url,
        form: &Form,
        retry: bool,
        headers: &[(&str, String)],
    ) -> Result<Answer, AuthError> {
        let never = RetryPolicy::never();
        let policy = if retry { &self.policy } else { &never };
        let body = form.encode();
        let text = ServerText::new(form.secrets());
        let http = self.http()?;
        tracing::debug!(endpoint = %strip(endpoint), grant_type = form.get("grant_type").unwrap_or("-"), "form POST");
        send(policy, self.observer(), TOKEN_BUSY, endpoint, &text, || {
            let mut r = http
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
        .await
    }
}

/// Turn a token endpoint's answer into a token or a typed error (no secrets known to redact:
/// prefer [`Answer::token_response`]).
pub fn read_token_answer(endpoint: &Url, status: u16, body: &[u8]) -> Result<TokenResponse, AuthError> {
    Answer {
        url: strip(endpoint),
        status,
        retry_after: None,
        body: body.to_vec(),
        truncated: false,
        text: ServerText::default(),
    }
    .token_response()
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

    /// Nothing listening on a loopback port: final at once, no connect budget spent.
    #[tokio::test]
    async fn a_refused_loopback_connection_is_not_retried() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap();
        let url = format!("http://127.0.0.1:{port}/token");
        let err = reqwest::Client::new().get(&url).send().await.unwrap_err();
        let f = Failure::from_reqwest(&url, &err, "");
        assert_eq!(f.kind, None, "{}", f.message);
        assert!(f.unsent);
        assert!(matches!(classify(TOKEN_BUSY)(&Err(f)), Verdict::Final));
    }

    #[test]
    fn what_a_body_is_when_it_is_not_json() {
        assert_eq!(
            not_json(b"\n<!DOCTYPE html><html><head><TITLE>Sign\nin</TITLE>").as_deref(),
            Some("an HTML page (\"Sign in\")")
        );
        assert_eq!(not_json(b"<html><body>x</body></html>").as_deref(), Some("an HTML page"));
        assert_eq!(not_json(b"  \n").as_deref(), Some("an empty body"));
        assert_eq!(not_json(br#"{"a":"#), None);
        let cut = serde_json::from_slice::<serde_json::Value>(br#"{"a":"#).unwrap_err();
        assert!(cut_short(br#"{"a":"#, &cut));
        let bad = serde_json::from_slice::<serde_json::Value>(b"nope").unwrap_err();
        assert!(!cut_short(b"nope", &bad));
    }

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
    fn form_debug_redacts() {
        let f = Form::new().field("grant_type", "password").secret("password", &SecretString::from("hunter2"));
        assert!(!format!("{f:?}").contains("hunter2"));
        assert_eq!(f.encode(), "grant_type=password&password=hunter2");
        assert_eq!(f.secrets().collect::<Vec<_>>(), ["hunter2"]);
    }

    #[test]
    fn snippets() {
        assert_eq!(snippet(b"<html><body><h1>502 Bad Gateway</h1></body></html>"), "502 Bad Gateway");
        assert_eq!(snippet(b""), "(empty body)");
        assert!(snippet("é".repeat(400).as_bytes()).ends_with('…'));
        assert_eq!(snippet(b"<h1>\x1b]0;pwned\x07Oops\x1b[2J</h1>"), "Oops");
        let t = ServerText::new(["hunter2-secret"]);
        assert_eq!(snippet_with(b"<pre>you sent password=hunter2-secret</pre>", &t), "you sent password=[REDACTED]");
    }

    #[test]
    fn proxy_rules() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
        };
        let c = HttpConfig::from_vars(vars(&[
            ("HTTP_PROXY", "http://127.0.0.1:1"),
            ("HTTPS_PROXY", "http://proxy.corp:3128"),
            ("NO_PROXY", "internal.corp,.example.org"),
        ]))
        .unwrap();
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(c.proxied(&u("https://login.microsoftonline.com/x")));
        // Clear text never goes to a proxy; loopback never does; NO_PROXY goes direct.
        assert!(!c.proxied(&u("http://login.microsoftonline.com/x")));
        for direct in [
            "https://127.0.0.1:8443/",
            "https://127.9.9.9/",
            "https://[::1]:1/",
            "https://localhost/",
            "https://a.internal.corp/",
            "https://example.org/",
        ] {
            assert!(!c.proxied(&u(direct)), "{direct}");
        }
        let only_http =
            HttpConfig::from_vars(vars(&[("HTTP_PROXY", "http://127.0.0.1:1"), ("http_proxy", "x:1")])).unwrap();
        assert!(only_http.https_proxy.is_none());
        let all = HttpConfig::from_vars(vars(&[("ALL_PROXY", "proxy.corp:3128")])).unwrap();
        assert_eq!(all.https_proxy.as_ref().map(Url::as_str), Some("http://proxy.corp:3128/"));
        assert!(HttpConfig::from_vars(vars(&[("HTTPS_PROXY", "http://")])).is_err());
        assert!(HttpConfig::from_vars(vars(&[("BRICKAUTH_TLS_ROOTS", "mine")])).is_err());
        assert!(HttpConfig::from_vars(vars(&[("BRICKAUTH_HTTP_TIMEOUT", "0")])).is_err());
        let dbg = format!("{:?}", HttpConfig::from_vars(vars(&[("HTTPS_PROXY", "http://u:pw-secret@p:1")])).unwrap());
        assert!(!dbg.contains("pw-secret"), "{dbg}");
    }

    #[test]
    fn ca_bundle_errors_name_the_source() {
        let c = HttpConfig::default().with_ca_pem("/etc/mine.pem", b"not a certificate".to_vec());
        let e = c.build().unwrap_err().to_string();
        assert!(e.contains("/etc/mine.pem"), "{e}");
        assert!(HttpConfig::default().build().is_ok());
    }
}
