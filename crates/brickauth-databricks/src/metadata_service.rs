//! A loopback server speaking the Databricks **metadata-service** protocol, so that tools built
//! on the Databricks SDKs (Python, Go, Java), the Databricks CLI and the Terraform provider ask it
//! for a fresh token whenever theirs is about to expire, instead of holding one static token.
//!
//! The protocol, as the SDKs implement it (`config/auth_metadata_service.go` in the Go SDK,
//! `MetadataServiceTokenSource` in the Python SDK):
//!
//! 1. The tool reads `DATABRICKS_HOST`, `DATABRICKS_AUTH_TYPE=metadata-service` and
//!    `DATABRICKS_METADATA_SERVICE_URL` (the Go SDK accepts only a `localhost` or `127.0.0.1` URL).
//! 2. It sends `GET <url>` with `X-Databricks-Metadata-Version: 1` and `X-Databricks-Host: <host>`,
//!    with a 10 s timeout, whenever its cached token is near expiry.
//! 3. The server answers 200 with `{"access_token", "token_type", "expires_on"}` (`expires_on` in
//!    Unix seconds, a number). It must answer 4xx when the version header is missing or not `1`,
//!    and when the host does not match the token's workspace; a URL path stays bound to one host.
//!
//! [`MetadataService`] does exactly that for one workspace host and one
//! [`TokenSource`]: every answer is whatever the source hands out
//! (brickauth's silent acquisition: cache → refresh token → flow). The protocol names only the
//! host; a service for an account (`https://accounts.azuredatabricks.net`) or a unified host is
//! bound to one account and workspace as well ([`MetadataService::with_account`]), which its
//! [`MetadataService::env`] hands the tool (`DATABRICKS_ACCOUNT_ID`, `DATABRICKS_WORKSPACE_ID`),
//! so the tool's SDK asks for that account and nothing else. It
//!
//! - binds `127.0.0.1` on a free port, never a wildcard address;
//! - serves one path of 256 random bits (the URL is the capability: another local user or a web
//!   page cannot guess it), answering 404 everywhere else and 405 to other methods than `GET`;
//! - answers 400 to a missing or unsupported `X-Databricks-Metadata-Version`, 403 to an
//!   `X-Databricks-Host` other than its host (compared as URLs: scheme, host, port), 502 when the
//!   source cannot produce a token (with the source's message, which never holds a secret);
//! - serves every connection on its own task (concurrent requests share the source's single
//!   flight), one request per connection (`Connection: close`);
//! - never logs a token or the URL's path.
//!
//! Limits: request line and headers at most 16 KiB, [`READ_TIMEOUT`] (2 s) to send them, and
//! [`WRITE_TIMEOUT`] to take the answer; a request body is refused. At most
//! [`MAX_CONNECTIONS`] connections are held at once, well below the usual limit of 1024 file
//! descriptors a process has.
//!
//! The service shares the machine with other local users, who can connect to it but cannot guess
//! its path. None of them may delay an honest tool, which sends its request the moment it has
//! connected:
//!
//! - at the cap, a new connection makes room by closing the **oldest connection still waiting
//!   to send its request** (one being answered is never closed); when every connection is being
//!   answered the new one is closed at once;
//! - when `accept` fails for want of file descriptors (the process's limit may be lower than the
//!   cap: macOS gives 256 by default), the oldest waiting connection is closed, `accept` is tried
//!   again at once, and the cap drops to [`RESERVE`] descriptors below the connections then held,
//!   so the token source keeps descriptors for its own files and requests; a failure with nothing
//!   to close is retried after a pause doubling from 10 ms to 1 s;
//! - accept failures and closed connections are logged at most once per [`LOG_INTERVAL`], with
//!   the number left unsaid: a flood of connections cannot flood the log.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use brickauth_core::{AccountId, ExposeSecret, TokenSource, WorkspaceId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

use crate::client::normalise_host;

/// The protocol version this server speaks.
pub const VERSION: &str = "1";
/// The request header carrying the protocol version.
pub const VERSION_HEADER: &str = "X-Databricks-Metadata-Version";
/// The request header carrying the workspace host the tool wants a token for.
pub const HOST_HEADER: &str = "X-Databricks-Host";
/// The `DATABRICKS_AUTH_TYPE` value that makes the SDKs use the metadata service.
pub const AUTH_TYPE: &str = "metadata-service";

/// Request line and headers, at most.
pub const MAX_HEAD: usize = 16 * 1024;
/// Time a connection has to deliver its request line and headers. The SDKs send theirs as soon
/// as they have connected; a connection that has sent nothing by then is idle or hostile.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Time a connection has to take its answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections held at once, at most; past it the oldest one still waiting for its request is
/// closed to make room.
pub const MAX_CONNECTIONS: usize = 256;
/// The first pause after a failed `accept` that freed no descriptor; it doubles up to
/// [`MAX_ACCEPT_BACKOFF`].
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
/// Descriptors kept free for the token source once the process has run out of them: the cap
/// drops to this many below the connections held then.
pub const RESERVE: usize = 16;
/// The longest pause after failed `accept`s.
pub const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);
/// At most one warning per kind (accept failed, connections closed at the cap) in this time.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Why a metadata service could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The workspace host is not a valid `https://` URL (or `http://` to loopback).
    #[error(transparent)]
    Host(#[from] crate::DatabricksError),
    /// The loopback socket could not be bound or set up.
    #[error("cannot listen on 127.0.0.1 for the metadata service: {0}")]
    Bind(#[source] std::io::Error),
}

/// A bound metadata service for one workspace host, not yet serving.
///
/// Binding is synchronous, so a caller knows the URL (and the kernel queues connections) before
/// any runtime runs; [`MetadataService::serve`] then answers until its shutdown future resolves.
pub struct MetadataService {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    /// `/<64 hex digits>`.
    path: String,
    host: Url,
    source: Arc<dyn TokenSource>,
    max_connections: usize,
    account_id: Option<AccountId>,
    workspace_id: Option<WorkspaceId>,
}

impl std::fmt::Debug for MetadataService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The path is the capability: never shown.
        f.debug_struct("MetadataService")
            .field("addr", &self.addr)
            .field("path", &"[REDACTED]")
            .field("host", &self.host.as_str())
            .finish_non_exhaustive()
    }
}

impl MetadataService {
    /// Bind `127.0.0.1` on a free port, with a fresh random path, for tokens of the workspace
    /// `host` from `source`.
    pub fn bind(host: &str, source: Arc<dyn TokenSource>) -> Result<MetadataService, ServiceError> {
        let host = normalise_host(host)?;
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(ServiceError::Bind)?;
        listener.set_nonblocking(true).map_err(ServiceError::Bind)?;
        let addr = listener.local_addr().map_err(ServiceError::Bind)?;
        let bytes: [u8; 32] = rand::random();
        let path = format!("/{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
        Ok(MetadataService {
            listener,
            addr,
            path,
            host,
            source,
            max_connections: MAX_CONNECTIONS,
            account_id: None,
            workspace_id: None,
        })
    }

    /// Hold at most `n` connections at once instead of [`MAX_CONNECTIONS`] (at least one).
    pub fn with_max_connections(mut self, n: usize) -> MetadataService {
        self.max_connections = n.max(1);
        self
    }

    /// The URL tools are given: `http://127.0.0.1:PORT/<random path>`. It is a capability: hand it
    /// only to the processes that may have the token.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.path)
    }

    /// The address the service listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The workspace host the service hands out tokens for, normalised (`https://…`, no trailing
    /// slash): what `DATABRICKS_HOST` must be.
    pub fn host(&self) -> &str {
        self.host.as_str().trim_end_matches('/')
    }

    /// Tokens for this account (and, on a unified host, this workspace) of the host: what a tool
    /// is told besides the host, so that its SDK addresses them.
    pub fn with_account(mut self, account_id: Option<AccountId>, workspace_id: Option<WorkspaceId>) -> MetadataService {
        self.account_id = account_id;
        self.workspace_id = workspace_id;
        self
    }

    /// The environment a tool needs to use this service: `DATABRICKS_HOST`,
    /// `DATABRICKS_AUTH_TYPE` and `DATABRICKS_METADATA_SERVICE_URL`, and `DATABRICKS_ACCOUNT_ID`
    /// and `DATABRICKS_WORKSPACE_ID` when the service is bound to them.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("DATABRICKS_HOST", self.host().to_owned()),
            ("DATABRICKS_AUTH_TYPE", AUTH_TYPE.to_owned()),
            ("DATABRICKS_METADATA_SERVICE_URL", self.url()),
        ];
        if let Some(a) = &self.account_id {
            env.push(("DATABRICKS_ACCOUNT_ID", a.to_string()));
        }
        if let Some(w) = &self.workspace_id {
            env.push(("DATABRICKS_WORKSPACE_ID", w.to_string()));
        }
        env
    }

    /// Answer requests until `shutdown` resolves; then stop accepting (a later connection is
    /// refused once the service is dropped). Needs a Tokio runtime with I/O and time enabled.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        let state = Arc::new(State { path: self.path, host: self.host, source: self.source });
        let slots = Arc::new(Slots::new(self.max_connections));
        let mut failures = AcceptFailures::default();
        let mut refusals = Limited::default();
        tracing::debug!(addr = %self.addr, host = state.host.as_str(), "metadata service listening");
        tokio::pin!(shutdown);
        loop {
            let next = async {
                match failures.pause() {
                    // Let the runtime drop the task just aborted, closing its socket.
                    Some(Duration::ZERO) => tokio::task::yield_now().await,
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => {}
                }
                listener.accept().await
            };
            tokio::select! {
                () = &mut shutdown => break,
                accepted = next => match accepted {
                    Ok((stream, _peer)) => {
                        failures.recovered();
                        match Slots::admit(&slots) {
                            Admit::Open(slot) => spawn_connection(&slots, slot, stream, &state),
                            Admit::Shed(slot) => {
                                refusals.warn(|n| tracing::warn!(
                                    "metadata service: {n} idle connection(s) closed to make room (at most {} \
                                     are held; another local process may be flooding it)",
                                    slots.cap()
                                ));
                                spawn_connection(&slots, slot, stream, &state);
                            }
                            Admit::Refused => {
                                refusals.warn(|n| tracing::warn!(
                                    "metadata service: {n} connection(s) refused: all {} being answered",
                                    slots.cap()
                                ));
                                drop(stream);
                            }
                        }
                    }
                    // Out of file descriptors, or an aborted handshake: the oldest waiting
                    // connection gives its descriptor back, and the others are still served.
                    Err(e) => failures.failed(&e, slots.out_of_descriptors()),
                },
            }
        }
        tracing::debug!("metadata service stopped");
        Ok(())
    }
}

/// Serve `stream` on its own task, holding `slot`; the task can be aborted (shed) until its
/// request has arrived.
fn spawn_connection(slots: &Arc<Slots>, slot: Slot, stream: TcpStream, state: &Arc<State>) {
    let state = Arc::clone(state);
    let id = slot.id;
    slots.spawn(id, async move { state.connection(stream, slot).await });
}

/// The connections held, and which of them are still waiting for their request (sheddable).
#[derive(Debug)]
struct Slots {
    inner: Mutex<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    /// Connections held at most.
    cap: usize,
    next_id: u64,
    /// Connections being answered.
    answering: usize,
    /// Connections still waiting for their request, by age (ids grow): the first is the oldest.
    waiting: BTreeMap<u64, tokio::task::AbortHandle>,
    /// Admitted but not yet registered in `waiting` (between `admit` and `spawn_connection`).
    admitted: usize,
}

impl Registry {
    fn held(&self) -> usize {
        self.answering + self.waiting.len() + self.admitted
    }
}

/// What [`Slots::admit`] decided for a new connection.
enum Admit {
    Open(Slot),
    /// Admitted after closing the oldest waiting connection.
    Shed(Slot),
    /// Every slot is being answered: close the new connection.
    Refused,
}

impl Slots {
    fn new(cap: usize) -> Slots {
        Slots { inner: Mutex::new(Registry { cap, ..Registry::default() }) }
    }

    fn cap(&self) -> usize {
        self.lock().cap
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // The registry is consistent after every statement: a panic elsewhere cannot break it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn admit(this: &Arc<Slots>) -> Admit {
        let mut inner = this.lock();
        // Below the cap again (it may have just been lowered), oldest waiting first.
        let mut shed = false;
        while inner.held() >= inner.cap {
            match inner.waiting.pop_first() {
                Some((_, task)) => {
                    task.abort();
                    shed = true;
                }
                None => return Admit::Refused,
            }
        }
        let id = inner.next_id;
        inner.next_id += 1;
        inner.admitted += 1;
        drop(inner);
        let slot = Slot { slots: Arc::clone(this), id, answering: false };
        if shed { Admit::Shed(slot) } else { Admit::Open(slot) }
    }

    /// Spawn the task of the connection admitted as `id`, registered as waiting (sheddable).
    fn spawn(&self, id: u64, task: impl Future<Output = ()> + Send + 'static) -> tokio::task::JoinHandle<()> {
        // The lock is held while the task is spawned and registered, so the task cannot look
        // itself up before it is there.
        let mut inner = self.lock();
        let task = tokio::spawn(task);
        inner.admitted -= 1;
        inner.waiting.insert(id, task.abort_handle());
        task
    }

    /// `accept` found no free descriptor: close the oldest connection still waiting for its
    /// request and lower the cap to [`RESERVE`] below what is held. Whether one was closed.
    fn out_of_descriptors(&self) -> bool {
        let mut inner = self.lock();
        let Some((_, task)) = inner.waiting.pop_first() else { return false };
        task.abort();
        inner.cap = inner.cap.min(inner.held().saturating_sub(RESERVE)).max(1);
        true
    }
}

/// One held connection; dropping it (the task ends or is aborted) gives the slot back.
#[derive(Debug)]
struct Slot {
    slots: Arc<Slots>,
    id: u64,
    answering: bool,
}

impl Slot {
    /// The request has arrived: from now on the connection is never shed. `false` when it was
    /// shed meanwhile.
    fn answering(&mut self) -> bool {
        let mut inner = self.slots.lock();
        if inner.waiting.remove(&self.id).is_none() {
            return false;
        }
        inner.answering += 1;
        self.answering = true;
        true
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self.slots.lock();
        if self.answering {
            inner.answering -= 1;
        } else {
            inner.waiting.remove(&self.id);
        }
    }
}

/// A run of failed `accept`s: the pause before the next one, and its (limited) log.
#[derive(Debug, Default)]
struct AcceptFailures {
    /// Failures in a row with nothing to close.
    count: u32,
    /// The last failure closed a waiting connection.
    shed: bool,
    log: Limited,
}

impl AcceptFailures {
    /// None after a success; zero (a yield) after a failure that freed a descriptor, else
    /// [`ACCEPT_BACKOFF`] doubling up to [`MAX_ACCEPT_BACKOFF`].
    fn pause(&self) -> Option<Duration> {
        if self.shed {
            return Some(Duration::ZERO);
        }
        let n = self.count.checked_sub(1)?;
        let factor = 1u32.checked_shl(n).unwrap_or(u32::MAX);
        Some(ACCEPT_BACKOFF.saturating_mul(factor).min(MAX_ACCEPT_BACKOFF))
    }

    fn failed(&mut self, e: &std::io::Error, shed: bool) {
        self.shed = shed;
        if !shed {
            self.count = self.count.saturating_add(1);
        }
        self.log.warn(|n| {
            tracing::warn!(
                "metadata service: accept failed {n} time(s) ({e}); {}",
                if shed { "closing idle connections to free descriptors" } else { "retrying with a growing pause" }
            )
        });
    }

    fn recovered(&mut self) {
        self.count = 0;
        self.shed = false;
    }
}

/// A warning said at most once per [`LOG_INTERVAL`], with how many times it happened since it
/// was last said.
#[derive(Debug, Default)]
struct Limited {
    said: Option<Instant>,
    count: u64,
}

impl Limited {
    fn warn(&mut self, say: impl FnOnce(u64)) {
        self.count += 1;
        if self.said.is_none_or(|t| t.elapsed() >= LOG_INTERVAL) {
            say(self.count);
            self.said = Some(Instant::now());
            self.count = 0;
        }
    }
}

struct State {
    path: String,
    host: Url,
    source: Arc<dyn TokenSource>,
}

/// One parsed request: what the protocol looks at.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    method: String,
    path: String,
    version: Option<String>,
    host: Option<String>,
    has_body: bool,
}

/// An answer: status, reason and JSON body.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn error(status: u16, code: &str, message: &str) -> Answer {
        Answer { status, body: serde_json::json!({ "error_code": code, "message": message }).to_string() }
    }
}

impl State {
    /// Read one request and answer it. `slot` is held until the connection is closed; an idle
    /// or slow client is closed without an answer after [`READ_TIMEOUT`].
    async fn connection(&self, mut stream: TcpStream, mut slot: Slot) {
        let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
            Err(_) => {
                tracing::debug!("metadata service: no request within {READ_TIMEOUT:?}; closed");
                return;
            }
            Ok(Err(e)) => {
                tracing::debug!("metadata service: unreadable request: {e}");
                return;
            }
            Ok(Ok(head)) => head,
        };
        if !slot.answering() {
            return;
        }
        let answer = match head {
            None => Answer::error(431, "BAD_REQUEST", "request headers larger than 16 KiB"),
            Some(head) => match parse(&head) {
                Some(request) => self.answer(&request).await,
                None => Answer::error(400, "BAD_REQUEST", "not an HTTP/1.x request"),
            },
        };
        let reason = match answer.status {
            200 => "OK",
            400 => "Bad Request",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            431 => "Request Header Fields Too Large",
            _ => "Bad Gateway",
        };
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
            answer.status,
            answer.body.len()
        );
        if answer.status == 405 {
            out.push_str("Allow: GET\r\n");
        }
        out.push_str("\r\n");
        out.push_str(&answer.body);
        // The peer may have gone (its 10 s timeout), or not read: nothing to do about it.
        let write = async {
            stream.write_all(out.as_bytes()).await?;
            stream.shutdown().await
        };
        let _ = tokio::time::timeout(WRITE_TIMEOUT, write).await;
    }

    async fn answer(&self, r: &Request) -> Answer {
        // The path first, in constant time: nothing else is revealed to who does not know it.
        let path = r.path.split('?').next().unwrap_or_default();
        if !constant_time_eq(path.as_bytes(), self.path.as_bytes()) {
            return Answer::error(404, "NOT_FOUND", "no token here");
        }
        if r.method != "GET" {
            return Answer::error(405, "METHOD_NOT_ALLOWED", "only GET is served");
        }
        if r.has_body {
            return Answer::error(400, "BAD_REQUEST", "a token request has no body");
        }
        match r.version.as_deref().map(str::trim) {
            Some(VERSION) => {}
            None => return Answer::error(400, "BAD_REQUEST", "missing header X-Databricks-Metadata-Version"),
            Some(other) => {
                return Answer::error(
                    400,
                    "BAD_REQUEST",
                    &format!("unsupported X-Databricks-Metadata-Version `{other}`: this server speaks version 1"),
                );
            }
        }
        match r.host.as_deref() {
            None => return Answer::error(400, "BAD_REQUEST", "missing header X-Databricks-Host"),
            Some(h) if !same_host(h, &self.host) => {
                return Answer::error(
                    403,
                    "PERMISSION_DENIED",
                    &format!("this metadata service serves tokens for {}, not for `{h}`", self.host()),
                );
            }
            Some(_) => {}
        }
        match self.source.token(false).await {
            Ok(t) => {
                let token_type = if t.token_type.is_empty() { "Bearer" } else { t.token_type.as_str() };
                tracing::debug!(expires_on = t.expires_on, "metadata service: token handed out");
                let body = serde_json::json!({
                    "access_token": t.secret.expose_secret(),
                    "token_type": token_type,
                    "expires_on": t.expires_on,
                });
                Answer { status: 200, body: body.to_string() }
            }
            Err(e) => {
                tracing::warn!("metadata service: no token to hand out: {e}");
                Answer::error(502, "TEMPORARILY_UNAVAILABLE", &format!("brickauth could not get a token: {e}"))
            }
        }
    }

    fn host(&self) -> &str {
        self.host.as_str().trim_end_matches('/')
    }
}

/// Read up to the end of the headers: `Ok(None)` when they exceed [`MAX_HEAD`].
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed mid-request"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            if end > MAX_HEAD {
                return Ok(None);
            }
            buf.truncate(end);
            return Ok(Some(buf));
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

/// The request line and the headers the protocol needs; `None` when it is not HTTP/1.x.
fn parse(head: &[u8]) -> Option<Request> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let (method, target, proto) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !proto.starts_with("HTTP/1.") || !target.starts_with('/') {
        return None;
    }
    let mut r =
        Request { method: method.to_owned(), path: target.to_owned(), version: None, host: None, has_body: false };
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case(VERSION_HEADER) {
            r.version = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case(HOST_HEADER) {
            r.host = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("content-length") {
            r.has_body |= value != "0";
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            r.has_body = true;
        }
    }
    Some(r)
}

/// Whether the `X-Databricks-Host` a tool sent names `ours`: the same scheme, host and port once
/// both are normalised (a bare host name means `https://`; case and a trailing slash do not matter).
fn same_host(sent: &str, ours: &Url) -> bool {
    match normalise_host(sent) {
        Ok(u) => {
            u.scheme() == ours.scheme()
                && u.host_str() == ours.host_str()
                && u.port_or_known_default() == ours.port_or_known_default()
                && u.path().trim_end_matches('/') == ours.path().trim_end_matches('/')
        }
        Err(_) => false,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickauth_core::StaticToken;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const HOST: &str = "https://adb-1234567890123456.7.azuredatabricks.net";

    /// A source that counts its calls and hands out `token-N`.
    struct Counting(AtomicUsize);
    impl TokenSource for Counting {
        fn token(
            &self,
            _force: bool,
        ) -> brickauth_core::BoxFuture<'_, Result<brickauth_core::AccessToken, brickauth_core::source::SourceError>>
        {
            Box::pin(async move {
                let n = self.0.fetch_add(1, Ordering::SeqCst);
                let mut t = StaticToken::bearer(format!("token-{n}")).0;
                t.expires_on = 1_900_000_000;
                Ok(t)
            })
        }
    }

    struct Failing;
    impl TokenSource for Failing {
        fn token(
            &self,
            _force: bool,
        ) -> brickauth_core::BoxFuture<'_, Result<brickauth_core::AccessToken, brickauth_core::source::SourceError>>
        {
            Box::pin(async move { Err("the refresh token has expired (AADSTS700082)".into()) })
        }
    }

    /// A source that never answers: its requests stay in the answering state.
    struct Stuck;
    impl TokenSource for Stuck {
        fn token(
            &self,
            _force: bool,
        ) -> brickauth_core::BoxFuture<'_, Result<brickauth_core::AccessToken, brickauth_core::source::SourceError>>
        {
            Box::pin(std::future::pending())
        }
    }

    /// Start a service on a runtime of the test; returns its URL and a shutdown sender.
    fn start(source: Arc<dyn TokenSource>) -> (String, SocketAddr, tokio::sync::oneshot::Sender<()>) {
        start_with(source, MAX_CONNECTIONS)
    }

    fn start_with(source: Arc<dyn TokenSource>, max: usize) -> (String, SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let service = MetadataService::bind(HOST, source).unwrap().with_max_connections(max);
        let (url, addr) = (service.url(), service.local_addr());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(service.serve(async move {
            let _ = rx.await;
        }));
        (url, addr, tx)
    }

    /// A raw HTTP exchange: status and body.
    async fn raw(addr: SocketAddr, request: &str) -> (u16, String) {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        (status, body)
    }

    fn get(path: &str, headers: &[(&str, &str)]) -> String {
        let mut r = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (k, v) in headers {
            r.push_str(&format!("{k}: {v}\r\n"));
        }
        r.push_str("\r\n");
        r
    }

    fn path_of(url: &str) -> String {
        Url::parse(url).unwrap().path().to_owned()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_the_protocol() {
        let (url, addr, _stop) = start(Arc::new(Counting(AtomicUsize::new(0))));
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        let path = path_of(&url);
        assert_eq!(path.len(), 65, "256 bits in hex: {path}");
        let ok = [(VERSION_HEADER, "1"), (HOST_HEADER, HOST)];

        let (status, body) = raw(addr, &get(&path, &ok)).await;
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["access_token"], "token-0");
        assert_eq!(v["token_type"], "Bearer");
        assert_eq!(v["expires_on"], 1_900_000_000, "a number of Unix seconds");

        // The host as the SDKs may spell it: no scheme, upper case, a trailing slash, the port.
        for spelling in [
            "adb-1234567890123456.7.azuredatabricks.net",
            "https://ADB-1234567890123456.7.AzureDatabricks.net/",
            "https://adb-1234567890123456.7.azuredatabricks.net:443",
        ] {
            let (status, _) = raw(addr, &get(&path, &[(VERSION_HEADER, "1"), (HOST_HEADER, spelling)])).await;
            assert_eq!(status, 200, "{spelling}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refuses_what_the_protocol_refuses() {
        let (url, addr, _stop) = start(Arc::new(Counting(AtomicUsize::new(0))));
        let path = path_of(&url);
        let cases: Vec<(String, u16, &str)> = vec![
            (get(&path, &[(HOST_HEADER, HOST)]), 400, "missing header X-Databricks-Metadata-Version"),
            (get(&path, &[(VERSION_HEADER, "2"), (HOST_HEADER, HOST)]), 400, "unsupported"),
            (get(&path, &[(VERSION_HEADER, "1")]), 400, "missing header X-Databricks-Host"),
            (
                get(&path, &[(VERSION_HEADER, "1"), (HOST_HEADER, "https://adb-9.9.azuredatabricks.net")]),
                403,
                "not for `https://adb-9.9.azuredatabricks.net`",
            ),
            (
                get(
                    &path,
                    &[(VERSION_HEADER, "1"), (HOST_HEADER, "http://adb-1234567890123456.7.azuredatabricks.net")],
                ),
                403,
                "not for",
            ),
            (get("/", &[(VERSION_HEADER, "1"), (HOST_HEADER, HOST)]), 404, "no token here"),
            (get(&path[..64], &[(VERSION_HEADER, "1"), (HOST_HEADER, HOST)]), 404, "no token here"),
            (format!("POST {path} HTTP/1.1\r\n{VERSION_HEADER}: 1\r\n{HOST_HEADER}: {HOST}\r\n\r\n"), 405, "only GET"),
            (
                format!(
                    "GET {path} HTTP/1.1\r\n{VERSION_HEADER}: 1\r\n{HOST_HEADER}: {HOST}\r\nContent-Length: 3\r\n\r\nabc"
                ),
                400,
                "no body",
            ),
            ("HELLO\r\n\r\n".to_owned(), 400, "not an HTTP/1.x request"),
        ];
        for (request, want, says) in cases {
            let (status, body) = raw(addr, &request).await;
            assert_eq!(status, want, "{request:?} → {body}");
            assert!(body.contains(says), "{request:?} → {body}");
            assert!(!body.contains("token-"), "a refused request got a token: {body}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn oversized_heads_are_refused() {
        let (url, addr, _stop) = start(Arc::new(Counting(AtomicUsize::new(0))));
        let big = "x".repeat(MAX_HEAD + 10);
        let request = get(&path_of(&url), &[(VERSION_HEADER, "1"), (HOST_HEADER, HOST), ("X-Padding", &big)]);
        let mut s = TcpStream::connect(addr).await.unwrap();
        // The server answers and closes before reading everything: the write or the read may
        // then see a reset. Either way no token comes back.
        let _ = s.write_all(request.as_bytes()).await;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        let out = String::from_utf8_lossy(&out);
        assert!(out.is_empty() || out.starts_with("HTTP/1.1 431 "), "{out}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_source_is_a_502_naming_why() {
        let (url, addr, _stop) = start(Arc::new(Failing));
        let (status, body) = raw(addr, &get(&path_of(&url), &[(VERSION_HEADER, "1"), (HOST_HEADER, HOST)])).await;
        assert_eq!(status, 502);
        assert!(body.contains("AADSTS700082"), "{body}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_are_all_answered() {
        let source = Arc::new(Counting(AtomicUsize::new(0)));
        let (url, addr, _stop) = start(Arc::clone(&source) as Arc<dyn TokenSource>);
        let request = get(&path_of(&url), &[(VERSION_HEADER, "1"), (HOST_HEADER, HOST)]);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let request = request.clone();
            tasks.spawn(async move { raw(addr, &request).await });
        }
        let mut ok = 0;
        while let Some(r) = tasks.join_next().await {
            let (status, body) = r.unwrap();
            assert_eq!(status, 200, "{body}");
            ok += 1;
        }
        assert_eq!(ok, 50);
        assert_eq!(source.0.load(Ordering::SeqCst), 50);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn after_shutdown_connections_are_refused() {
        let (_url, addr, stop) = start(Arc::new(Counting(AtomicUsize::new(0))));
        stop.send(()).unwrap();
        // The serve task drops the listener once it sees the shutdown.
        let mut refused = false;
        for _ in 0..100 {
            if TcpStream::connect(addr).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(refused, "the port still accepts connections after shutdown");
    }

    /// Whether the server closed `s` within `within` (EOF or a reset), reading nothing.
    async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
        let mut buf = [0u8; 64];
        matches!(tokio::time::timeout(within, s.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_the_cap_the_oldest_idle_connection_is_closed_first() {
        let (url, addr, _stop) = start_with(Arc::new(Counting(AtomicUsize::new(0))), 4);
        let mut idle = Vec::new();
        for _ in 0..4 {
            idle.push(TcpStream::connect(addr).await.unwrap());
            // Accepted in this order: ids follow it.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut fifth = TcpStream::connect(addr).await.unwrap();
        assert!(closed_within(&mut idle[0], Duration::from_secs(1)).await, "the oldest was not closed");
        for s in &mut idle[1..] {
            assert!(!closed_within(s, Duration::from_millis(50)).await, "a younger connection was closed");
        }
        // The honest request (a sixth connection) sheds the next oldest and is answered.
        let (status, body) = raw(addr, &get(&path_of(&url), &[(VERSION_HEADER, "1"), (HOST_HEADER, HOST)])).await;
        assert_eq!(status, 200, "{body}");
        assert!(closed_within(&mut idle[1], Duration::from_secs(1)).await);
        assert!(!closed_within(&mut fifth, Duration::from_millis(50)).await, "the newest was closed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_honest_request_is_answered_at_once_among_many_idle_connections() {
        let (url, addr, _stop) = start_with(Arc::new(Counting(AtomicUsize::new(0))), 32);
        let mut idle = Vec::new();
        for _ in 0..300 {
            idle.push(TcpStream::connect(addr).await.unwrap());
        }
        let request = get(&path_of(&url), &[(VERSION_HEADER, "1"), (HOST_HEADER, HOST)]);
        let started = Instant::now();
        let (status, body) = raw(addr, &request).await;
        assert_eq!(status, 200, "{body}");
        assert!(started.elapsed() < Duration::from_secs(1), "answered after {:?}", started.elapsed());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_connection_is_closed_after_the_read_timeout() {
        let (_url, addr, _stop) = start(Arc::new(Counting(AtomicUsize::new(0))));
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HT").await.unwrap();
        let started = Instant::now();
        assert!(closed_within(&mut s, READ_TIMEOUT + Duration::from_secs(1)).await, "still open");
        assert!(started.elapsed() >= READ_TIMEOUT - Duration::from_millis(100), "{:?}", started.elapsed());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn when_every_slot_is_being_answered_a_new_connection_is_closed_at_once() {
        let (url, addr, _stop) = start_with(Arc::new(Stuck), 2);
        let request = get(&path_of(&url), &[(VERSION_HEADER, "1"), (HOST_HEADER, HOST)]);
        let mut answering = Vec::new();
        for _ in 0..2 {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(request.as_bytes()).await.unwrap();
            answering.push(s);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut third = TcpStream::connect(addr).await.unwrap();
        assert!(closed_within(&mut third, Duration::from_secs(1)).await, "the third was held");
        for s in &mut answering {
            assert!(!closed_within(s, Duration::from_millis(50)).await, "a connection being answered was closed");
        }
    }

    #[test]
    fn a_repeated_warning_is_said_once_per_interval_with_its_count() {
        let mut limited = Limited::default();
        let mut said = Vec::new();
        for _ in 0..100 {
            limited.warn(|n| said.push(n));
        }
        assert_eq!(said, [1], "said more than once within the interval");
        limited.said = limited.said.and_then(|t| t.checked_sub(LOG_INTERVAL));
        limited.warn(|n| said.push(n));
        assert_eq!(said, [1, 100], "the next warning counts the unsaid ones");
    }

    #[test]
    fn accept_failures_retry_at_once_after_freeing_a_descriptor_and_back_off_otherwise() {
        let mut f = AcceptFailures::default();
        assert_eq!(f.pause(), None);
        let e = std::io::Error::from_raw_os_error(24);
        f.failed(&e, true);
        assert_eq!(f.pause(), Some(Duration::ZERO));
        f.failed(&e, false);
        assert_eq!(f.pause(), Some(ACCEPT_BACKOFF));
        for _ in 0..20 {
            f.failed(&e, false);
        }
        assert_eq!(f.pause(), Some(MAX_ACCEPT_BACKOFF));
        f.recovered();
        assert_eq!(f.pause(), None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn out_of_descriptors_closes_the_oldest_waiting_and_lowers_the_cap() {
        let slots = Arc::new(Slots::new(100));
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let Admit::Open(slot) = Slots::admit(&slots) else { panic!("refused below the cap") };
            let id = slot.id;
            tasks.push(slots.spawn(id, async move {
                std::future::pending::<()>().await;
                drop(slot);
            }));
        }
        assert!(slots.out_of_descriptors());
        assert_eq!(slots.cap(), 39 - RESERVE, "the cap is what was held, less the reserve");
        assert!(!slots.lock().waiting.contains_key(&0), "the oldest is closed first");
        assert!(tasks.remove(0).await.unwrap_err().is_cancelled());
        // The next admission sheds down to below the new cap.
        assert!(matches!(Slots::admit(&slots), Admit::Shed(_)));
        assert_eq!(slots.lock().waiting.len(), 39 - RESERVE - 1);
        assert!(!Slots::new(1).out_of_descriptors(), "nothing to close");
    }

    #[test]
    fn each_service_gets_its_own_path_and_debug_hides_it() {
        let a = MetadataService::bind(HOST, Arc::new(StaticToken::bearer("t"))).unwrap();
        let b = MetadataService::bind(HOST, Arc::new(StaticToken::bearer("t"))).unwrap();
        assert_ne!(path_of(&a.url()), path_of(&b.url()));
        assert!(!format!("{a:?}").contains(&path_of(&a.url())[1..]));
        assert_eq!(a.local_addr().ip(), std::net::IpAddr::from(Ipv4Addr::LOCALHOST));
        let env = a.env();
        assert_eq!(env[0], ("DATABRICKS_HOST", HOST.to_owned()));
        assert_eq!(env[1], ("DATABRICKS_AUTH_TYPE", "metadata-service".to_owned()));
        assert_eq!(env[2].1, a.url());
        assert_eq!(env.len(), 3, "no account: no account variables");
        let account = "0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6";
        let b = b.with_account(Some(account.parse().unwrap()), Some("42".parse().unwrap()));
        let env = b.env();
        assert_eq!(env[3], ("DATABRICKS_ACCOUNT_ID", account.to_owned()));
        assert_eq!(env[4], ("DATABRICKS_WORKSPACE_ID", "42".to_owned()));
    }

    #[test]
    fn bad_hosts_are_refused_at_bind() {
        let e = MetadataService::bind("http://adb-1.azuredatabricks.net", Arc::new(StaticToken::bearer("t")));
        assert!(matches!(e, Err(ServiceError::Host(_))), "{e:?}");
    }
}
