//! The loopback listener that receives the authorization response.
//!
//! A deliberately small HTTP/1.1 server on a raw [`TcpListener`], bound to 127.0.0.1 (or ::1)
//! only — never a wildcard address, so it cannot be reached from the network. It answers:
//!
//! - the redirect path, by `POST` (`response_mode=form_post`) or `GET` (`query`): the response is
//!   checked for `state` first — a mismatch gets a 400 page and the listener keeps waiting, as
//!   MSAL's does — then an `error=` ends the sign-in, a `code` completes it;
//! - any other path: 404.
//!
//! Limits: request line and headers at most 16 KiB, body at most 64 KiB, 10 s to send a request,
//! at most [`MAX_CONNECTIONS`] connections served at once (more wait in the kernel's backlog until
//! one closes). Each connection is served on its own task, so a browser's idle pre-connections
//! cannot hold up the real response. A failing `accept` (out of file descriptors, say) is retried
//! after a growing pause (10 ms doubling to 1 s) and logged once per run of failures, not once per
//! failure: a tight loop once wrote 1.1 million lines in 4 s. The listener closes as soon as one good response has been answered, or when
//! the sign-in times out.

use std::sync::Arc;
use std::time::Duration;

use brickauth_core::{AuthError, SecretString};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::pkce::state_matches;
use crate::request::RedirectUri;
use crate::response::AuthResponse;

/// Request line and headers, at most.
pub const MAX_HEAD: usize = 16 * 1024;
/// Request body, at most.
pub const MAX_BODY: usize = 64 * 1024;
/// Time a connection has to deliver its request.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once, at most.
pub const MAX_CONNECTIONS: usize = 32;
/// The first pause after a failed `accept`; it doubles up to [`MAX_ACCEPT_BACKOFF`].
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
/// The longest pause after failed `accept`s.
pub const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// A bound loopback listener, waiting for one authorization response.
#[derive(Debug)]
pub struct Listener {
    inner: TcpListener,
    port: u16,
    path: String,
    max_connections: usize,
}

impl Listener {
    /// Bind the loopback address of `redirect` (its port, or any free one).
    pub async fn bind(redirect: &RedirectUri) -> Result<Listener, AuthError> {
        let addr = redirect.bind_addr();
        let inner = TcpListener::bind(addr).await.map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::AddrInUse { "the port is in use" } else { "cannot listen" };
            match redirect.port() {
                Some(port) => AuthError::Io(format!(
                    "cannot listen on port {port} ({addr}) for redirect_uri {redirect}: {why} ({e}); stop what \
                     uses it, or set redirect_uri = \"http://localhost\" to use any free port"
                )),
                None => AuthError::Io(format!("cannot listen on {addr} for the sign-in response: {e}")),
            }
        })?;
        let port = inner.local_addr().map_err(|e| AuthError::Io(format!("listener address: {e}")))?.port();
        tracing::debug!(%addr, port, "loopback listener bound");
        Ok(Listener { inner, port, path: redirect.path().to_owned(), max_connections: MAX_CONNECTIONS })
    }

    /// The port the listener got.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serve at most `n` connections at once instead of [`MAX_CONNECTIONS`] (at least one).
    pub fn with_max_connections(mut self, n: usize) -> Listener {
        self.max_connections = n.max(1);
        self
    }

    /// Wait for the response with `state`, at most `timeout`; then close.
    pub async fn wait(self, state: &str, timeout: Duration) -> Result<SecretString, AuthError> {
        let expect = Arc::new(Expect { path: self.path.clone(), state: state.to_owned() });
        let (tx, mut rx) = mpsc::channel::<Result<SecretString, AuthError>>(1);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut tasks = tokio::task::JoinSet::new();
        let slots = Arc::new(tokio::sync::Semaphore::new(self.max_connections));
        let mut failures = AcceptFailures::default();
        loop {
            // A slot first, then (after a pause if `accept` has been failing) a connection: at the
            // cap, new connections wait in the backlog instead of being read.
            let next = async {
                let slot = Arc::clone(&slots).acquire_owned().await;
                if let Some(pause) = failures.pause() {
                    tokio::time::sleep(pause).await;
                }
                (slot, self.inner.accept().await)
            };
            tokio::select! {
                (slot, accepted) = next => match accepted {
                    Ok((stream, peer)) => {
                        failures.recovered();
                        tracing::debug!(%peer, "listener connection");
                        let (expect, tx) = (Arc::clone(&expect), tx.clone());
                        tasks.spawn(async move {
                            serve(stream, &expect, &tx).await;
                            drop(slot);
                        });
                    }
                    Err(e) => failures.failed(&e),
                },
                Some(outcome) = rx.recv() => return outcome,
                () = &mut deadline => {
                    return Err(AuthError::Declined(format!(
                        "no sign-in response within {} s (login_timeout); the listener on port {} is closed. \
                         Run the sign-in again, or use --no-browser to paste the response",
                        timeout.as_secs(),
                        self.port
                    )));
                }
            }
        }
    }
}

/// A run of failed `accept`s: how long to pause before the next one, logged once per run.
#[derive(Debug, Default)]
struct AcceptFailures {
    count: u64,
}

impl AcceptFailures {
    /// The pause before the next `accept`: none after a success, then 10 ms doubling to 1 s.
    fn pause(&self) -> Option<Duration> {
        let n = self.count.checked_sub(1)?;
        let factor = 1u32.checked_shl(u32::try_from(n).unwrap_or(u32::MAX)).unwrap_or(u32::MAX);
        Some(ACCEPT_BACKOFF.saturating_mul(factor).min(MAX_ACCEPT_BACKOFF))
    }

    fn failed(&mut self, e: &std::io::Error) {
        self.count += 1;
        if self.count == 1 {
            tracing::warn!("the sign-in listener cannot accept connections ({e}); retrying with a growing pause");
        } else {
            tracing::trace!(failures = self.count, "listener accept failed again: {e}");
        }
    }

    fn recovered(&mut self) {
        if self.count > 0 {
            tracing::info!(failures = self.count, "the sign-in listener accepts connections again");
        }
        self.count = 0;
    }
}

/// What the listener waits for.
#[derive(Debug)]
struct Expect {
    path: String,
    state: String,
}

/// One parsed request.
#[derive(Debug, Default, PartialEq, Eq)]
struct Request {
    method: String,
    target: String,
    form: bool,
    body: Vec<u8>,
}

/// An HTTP answer and, for the one good response, the outcome for the flow.
struct Reply {
    status: u16,
    page: String,
    outcome: Option<Result<SecretString, AuthError>>,
}

async fn serve(mut stream: TcpStream, expect: &Expect, tx: &mpsc::Sender<Result<SecretString, AuthError>>) {
    let reply = match tokio::time::timeout(READ_TIMEOUT, read_request(&mut stream)).await {
        Ok(Ok(request)) => route(&request, expect),
        Ok(Err(status)) => Reply { status, page: page("Bad request", "The request could not be read."), outcome: None },
        Err(_) => return, // idle or slow connection: just close it
    };
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nX-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\nConnection: close\r\n\r\n",
        reply.status,
        reason(reply.status),
        reply.page.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(reply.page.as_bytes()).await;
    let _ = stream.shutdown().await;
    if let Some(outcome) = reply.outcome {
        let _ = tx.send(outcome).await;
    }
}

/// Read one request within the size limits; an HTTP status on failure.
async fn read_request(stream: &mut TcpStream) -> Result<Request, u16> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(431);
        }
        let n = stream.read(&mut chunk).await.map_err(|_| 400u16)?;
        if n == 0 {
            return Err(400);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    if head_end > MAX_HEAD {
        return Err(431);
    }
    let mut request = parse_head(&buf[..head_end])?;
    let length = content_length(&buf[..head_end])?;
    if length > MAX_BODY {
        return Err(413);
    }
    let mut body = buf.split_off(head_end);
    while body.len() < length {
        let n = stream.read(&mut chunk).await.map_err(|_| 400u16)?;
        if n == 0 {
            return Err(400);
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    request.body = body;
    Ok(request)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The request line and the one header we care about (the content type).
fn parse_head(head: &[u8]) -> Result<Request, u16> {
    let text = std::str::from_utf8(head).map_err(|_| 400u16)?;
    let mut lines = text.split("\r\n");
    let mut parts = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(400);
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Err(400);
    }
    let mut form = false;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim();
            if name.eq_ignore_ascii_case("content-type") {
                form = value.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded");
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(411); // Length Required: no chunked bodies here
            }
        }
    }
    Ok(Request { method: method.to_owned(), target: target.to_owned(), form, body: Vec::new() })
}

fn content_length(head: &[u8]) -> Result<usize, u16> {
    let text = String::from_utf8_lossy(head);
    for line in text.split("\r\n").skip(1) {
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            return value.trim().parse().map_err(|_| 400u16);
        }
    }
    Ok(0)
}

/// What the listener answers (the HTTP status) to a request whose head is `head` (request line
/// and headers, without the blank line) and whose body is `body`, when it waits on `path` for
/// `state`. For the fuzzer (`fuzz/fuzz_targets/listener_request.rs`): the listener's parsing is
/// what a hostile web page can reach. Not part of the API.
#[doc(hidden)]
pub fn status_for(head: &[u8], body: &[u8], path: &str, state: &str) -> u16 {
    if let Err(code) = content_length(head) {
        return code;
    }
    match parse_head(head) {
        Err(code) => code,
        Ok(mut request) => {
            request.body = body.to_vec();
            route(&request, &Expect { path: path.to_owned(), state: state.to_owned() }).status
        }
    }
}

/// Decide the answer to one request.
fn route(request: &Request, expect: &Expect) -> Reply {
    let not_found = || Reply { status: 404, page: page("Not found", "Nothing here."), outcome: None };
    let Ok(url) = url::Url::parse(&format!("http://localhost{}", request.target)) else {
        return Reply { status: 400, page: page("Bad request", "The request target is not valid."), outcome: None };
    };
    if url.path() != expect.path {
        return not_found();
    }
    let params: Vec<(String, String)> = match request.method.as_str() {
        "GET" => url.query_pairs().into_owned().collect(),
        "POST" if request.form => url::form_urlencoded::parse(&request.body).into_owned().collect(),
        "POST" => Vec::new(),
        _ => return Reply { status: 405, page: page("Method not allowed", "Use GET or POST."), outcome: None },
    };
    let Some(response) = AuthResponse::from_params(params) else {
        return Reply {
            status: 400,
            page: page(
                "No sign-in response",
                "This address receives the sign-in response; there is none in this request.",
            ),
            outcome: None,
        };
    };
    if !state_matches(&expect.state, response.state()) {
        tracing::warn!("the listener received a response with a wrong state; still waiting");
        return Reply {
            status: 400,
            page: page(
                "State mismatch",
                "This response does not belong to the sign-in brickauth is waiting for, and was ignored. \
                 Still waiting for the real one; you may close this window.",
            ),
            outcome: None,
        };
    }
    match response.into_code() {
        Ok(code) => Reply {
            status: 200,
            page: page(
                "Signed in",
                "brickauth has the sign-in response. You may close this window and return to the terminal.",
            ),
            outcome: Some(Ok(code)),
        },
        Err(e) => Reply { status: 200, page: page("Sign-in failed", &e.to_string()), outcome: Some(Err(e)) },
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

/// A small self-contained HTML page; `text` is escaped.
fn page(title: &str, text: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>brickauth: {t}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{t}</h1><p>{x}</p></body></html>\n",
        t = escape(title),
        x = escape(text).replace('\n', "<br>")
    )
}

/// Escape text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickauth_core::ExposeSecret;

    fn expect() -> Expect {
        Expect { path: "/".into(), state: "good-state".into() }
    }

    fn get(target: &str) -> Request {
        Request { method: "GET".into(), target: target.into(), ..Request::default() }
    }

    #[test]
    fn routes() {
        let r = route(&get("/?code=abc&state=good-state"), &expect());
        assert_eq!(r.status, 200);
        assert_eq!(r.outcome.unwrap().unwrap().expose_secret(), "abc");

        let r = route(&get("/?code=abc&state=forged"), &expect());
        assert_eq!((r.status, r.outcome.is_none()), (400, true));
        assert!(r.page.contains("State mismatch"));

        let r = route(&get("/?code=abc"), &expect());
        assert_eq!((r.status, r.outcome.is_none()), (400, true));

        let r = route(&get("/favicon.ico"), &expect());
        assert_eq!(r.status, 404);
        let r = route(&get("/other?code=abc&state=good-state"), &expect());
        assert_eq!((r.status, r.outcome.is_none()), (404, true));

        let post = Request {
            method: "POST".into(),
            target: "/".into(),
            form: true,
            body: b"code=xyz&state=good-state".to_vec(),
        };
        assert_eq!(route(&post, &expect()).outcome.unwrap().unwrap().expose_secret(), "xyz");
    }

    #[test]
    fn error_response_is_escaped_and_ends_the_flow() {
        let r = route(
            &get("/?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=good-state"),
            &expect(),
        );
        assert!(!r.page.contains("<script>"));
        assert!(r.page.contains("&lt;script&gt;"));
        assert!(matches!(r.outcome, Some(Err(AuthError::Declined(_)))));
        // A forged error with the wrong state does not end the flow.
        let r = route(&get("/?error=access_denied&state=nope"), &expect());
        assert!(r.outcome.is_none());
    }

    #[test]
    fn heads() {
        let r = parse_head(
            b"POST /cb?x=1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.method.as_str(), r.target.as_str(), r.form), ("POST", "/cb?x=1", true));
        assert_eq!(parse_head(b"GET http://evil/ HTTP/1.1\r\n\r\n"), Err(400));
        assert_eq!(parse_head(b"GARBAGE\r\n\r\n"), Err(400));
        assert_eq!(parse_head(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), Err(411));
        assert_eq!(content_length(b"POST / HTTP/1.1\r\ncontent-length: 12\r\n\r\n"), Ok(12));
        assert_eq!(content_length(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), Err(400));
    }

    #[tokio::test]
    async fn limits_and_timeout_over_tcp() {
        let redirect: RedirectUri = "http://127.0.0.1".parse().unwrap();
        let listener = Listener::bind(&redirect).await.unwrap();
        let port = listener.port();
        // Loopback only: never a wildcard address reachable from the network.
        assert!(listener.inner.local_addr().map(|a| a.ip().is_loopback()).unwrap_or(false));
        let waiting = tokio::spawn(listener.wait("s", Duration::from_millis(1500)));
        let send = |raw: Vec<u8>| async move {
            let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let _ = s.write_all(&raw).await;
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out).await;
            String::from_utf8_lossy(&out).into_owned()
        };
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD + 10)).into_bytes();
        // The server may reset the connection before the client reads the 431; either way it is refused.
        let answer = send(huge).await;
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 431"), "{answer}");
        let big_body = b"POST / HTTP/1.1\r\nContent-Length: 999999\r\n\r\n".to_vec();
        assert!(send(big_body).await.starts_with("HTTP/1.1 413"));
        assert!(send(b"GET /nope HTTP/1.1\r\n\r\n".to_vec()).await.starts_with("HTTP/1.1 404"));
        let err = waiting.await.unwrap().unwrap_err();
        assert!(matches!(err, AuthError::Declined(_)));
        assert!(err.to_string().contains("no sign-in response within 1 s"), "{err}");
        // Closed after the timeout.
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    }

    #[test]
    fn accept_backoff_grows_and_resets() {
        let mut f = AcceptFailures::default();
        assert_eq!(f.pause(), None);
        let err = std::io::Error::from_raw_os_error(24); // EMFILE
        let pauses: Vec<Duration> = (0..10)
            .map(|_| {
                f.failed(&err);
                f.pause().unwrap()
            })
            .collect();
        assert_eq!(pauses[0], ACCEPT_BACKOFF);
        assert_eq!(pauses[1], ACCEPT_BACKOFF * 2);
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*pauses.last().unwrap(), MAX_ACCEPT_BACKOFF);
        for _ in 0..100 {
            f.failed(&err);
        }
        assert_eq!(f.pause(), Some(MAX_ACCEPT_BACKOFF), "no overflow after many failures");
        f.recovered();
        assert_eq!(f.pause(), None);
    }

    #[tokio::test]
    async fn connections_past_the_cap_wait_for_a_free_slot() {
        let redirect: RedirectUri = "http://127.0.0.1".parse().unwrap();
        let listener = Listener::bind(&redirect).await.unwrap().with_max_connections(2);
        let port = listener.port();
        let waiting = tokio::spawn(listener.wait("s", Duration::from_secs(20)));
        // Two idle connections take both slots (each would be held up to READ_TIMEOUT).
        let idle1 = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let _idle2 = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The third connects (the kernel's backlog) but is not served while both are held.
        let mut third = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        third.write_all(b"GET /?code=the-code&state=s HTTP/1.1\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        let early = tokio::time::timeout(Duration::from_millis(400), third.read(&mut buf)).await;
        assert!(early.is_err(), "served past the cap");
        assert!(!waiting.is_finished());
        // A slot frees: the third is served and the sign-in completes.
        drop(idle1);
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut out)).await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&out));
        let code = waiting.await.unwrap().unwrap();
        assert_eq!(brickauth_core::ExposeSecret::expose_secret(&code), "the-code");
    }

    #[tokio::test]
    async fn explicit_port_in_use_names_the_port() {
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = busy.local_addr().unwrap().port();
        let redirect: RedirectUri = format!("http://localhost:{port}").parse().unwrap();
        let err = Listener::bind(&redirect).await.unwrap_err();
        assert!(matches!(err, AuthError::Io(_)));
        assert!(err.to_string().contains(&format!("port {port}")), "{err}");
    }
}
