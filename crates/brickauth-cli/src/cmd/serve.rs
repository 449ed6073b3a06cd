//! `brickauth serve`: the Databricks metadata service in the foreground, and the pieces `exec`
//! shares with it.
//!
//! The server itself is [`brickauth_databricks::MetadataService`]; this module wires it to the
//! selected profile — a token provider that never prompts (the first token is acquired before the
//! service starts, where a person can still answer), renewing tokens with less than
//! `--min-validity` left — and runs it: on this thread until Ctrl-C or SIGTERM (`serve`), or on a
//! thread of its own for the life of a child process (`exec`, see [`Running`]).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result};
use brickauth_cache::{TokenOptions, TokenProvider};
use brickauth_core::source::SourceError;
use brickauth_core::{AccessToken, BoxFuture, Interaction, TokenSource};
use brickauth_databricks::{MetadataService, WorkspaceConfig};
use brickauth_profile::Profile;
use clap::{Args, ValueEnum};

use crate::cmd::print;
use crate::context::{self, Context};

/// `brickauth serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// What to print on stdout once the service listens
    #[arg(short, long, value_enum, default_value_t)]
    pub output: ServeFormat,
    /// Renew tokens with less validity left than this [default: 300, at least 40]
    #[arg(long, value_name = "SECS")]
    pub min_validity: Option<u64>,
}

/// `serve` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ServeFormat {
    /// `export …` lines, then stdout is closed: `eval "$(brickauth serve &)"` returns once the
    /// service listens, leaving it in the background (stop it with `kill $BRICKAUTH_SERVE_PID`)
    #[default]
    Env,
    /// One JSON object of the same variables
    Json,
}

/// The default renewal margin, and the floor below which no token is handed out (Azure
/// Databricks rejects tokens with 30 s or less left).
const DEFAULT_MIN_VALIDITY: u64 = 300;
const FLOOR: u64 = 40;

/// `--min-validity`, defaulted and floored.
pub fn min_validity(secs: Option<u64>) -> Duration {
    Duration::from_secs(secs.unwrap_or(DEFAULT_MIN_VALIDITY).max(FLOOR))
}

/// `brickauth serve [-o env|json] [--min-validity SECS]`.
pub fn serve(cx: &Context, args: &ServeArgs) -> Result<ExitCode> {
    let profile = cx.profile(None)?;
    let ws = super::workspace::workspace_config(&profile)?;
    let min_validity = min_validity(args.min_validity);
    // The first token now, while a person may answer a prompt; the service itself never prompts.
    let opts = TokenOptions { force_refresh: false, min_validity };
    let (_, _, profile) = super::token::acquire_for(profile, context::interaction(false), opts)?;
    let service = service(&ws, &profile, min_validity)?;
    let text = match args.output {
        ServeFormat::Env => {
            let mut lines: String =
                service.env().iter().map(|(k, v)| format!("export {k}={}\n", shell_quote(v))).collect();
            lines.push_str(&format!("export BRICKAUTH_SERVE_PID={}\n", std::process::id()));
            lines
        }
        ServeFormat::Json => {
            let map: serde_json::Map<String, serde_json::Value> =
                service.env().into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect();
            format!("{}\n", serde_json::Value::Object(map))
        }
    };
    eprintln!(
        "brickauth: serving tokens of profile `{}` for {} on {}; Ctrl-C or SIGTERM stops it",
        profile.name(),
        ws.host(),
        service.local_addr()
    );
    print(&text)?;
    // Nothing more comes on stdout: close it, so a reader waiting for its end — `$(…)` in
    // `eval "$(brickauth serve &)"` — gets the lines and goes on while the service runs.
    release_stdout();
    let rt = context::runtime()?;
    rt.block_on(async {
        let stop = stop_signal()?;
        service.serve(stop).await.context("the metadata service failed")
    })?;
    eprintln!("brickauth: metadata service stopped");
    Ok(ExitCode::SUCCESS)
}

/// Point stdout at `/dev/null` (Unix): the pipe a caller reads reaches its end. Best effort — if
/// `/dev/null` cannot be opened, stdout stays open and only `$(…)` callers wait.
fn release_stdout() {
    #[cfg(unix)]
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        // SAFETY: dup2(2) on two descriptors this process owns: `null` is open for the call,
        // and fd 1 is replaced atomically; no Rust object holds fd 1's old file description.
        unsafe {
            libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
        }
    }
}

/// The metadata service for `ws`, handing out `profile`'s tokens with at least `min_validity`
/// left; its provider never prompts (an expired sign-in is a 502 naming `brickauth login`).
pub fn service(ws: &WorkspaceConfig, profile: &Profile, min_validity: Duration) -> Result<MetadataService> {
    let (provider, _) = context::provider(profile.clone(), Interaction::NONE)?;
    let source = Arc::new(Margin { provider, min_validity });
    Ok(MetadataService::bind(ws.host(), source)?)
}

/// The profile's provider as a token source with the service's own renewal margin.
struct Margin {
    provider: TokenProvider,
    min_validity: Duration,
}

impl TokenSource for Margin {
    fn token(&self, force_refresh: bool) -> BoxFuture<'_, Result<AccessToken, SourceError>> {
        Box::pin(async move {
            // Cache first (no lock, no network), then single-flight renewal.
            let opts = TokenOptions { force_refresh, min_validity: self.min_validity };
            self.provider.token(opts).await.map(|t| t.access_token).map_err(|e| Box::new(e) as SourceError)
        })
    }
}

/// A metadata service running on a thread of its own while a child process runs; SIGTERM and
/// SIGHUP sent to brickauth are passed on to the child, SIGINT and SIGQUIT are left to it (the
/// terminal sends them to the whole process group, as a shell's `system()` does).
pub struct Running {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    child: Arc<Child>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Start serving on a new thread. The listener is already bound, so a child started right
    /// after this can connect at once.
    pub fn start(service: MetadataService) -> Result<Running> {
        let rt = context::runtime()?;
        let child = Arc::new(Child::default());
        // Handlers are installed here, before any child exists, so no signal is missed.
        let forward = {
            let _entered = rt.enter();
            Forwarder::install(Arc::clone(&child))?
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("metadata-service".to_owned())
            .spawn(move || {
                rt.block_on(async move {
                    tokio::spawn(forward.run());
                    let stop = async move {
                        let _ = rx.await;
                    };
                    if let Err(e) = service.serve(stop).await {
                        tracing::warn!("the metadata service failed: {e}");
                    }
                });
            })
            .context("cannot start the metadata service thread")?;
        Ok(Running { stop: Some(tx), child, thread: Some(thread) })
    }

    /// Signals brickauth receives from now on go to process `pid`, and one that came while it
    /// was being started.
    pub fn forward_signals_to(&self, pid: u32) {
        self.child.pid.store(pid, Ordering::SeqCst);
        self.child.deliver_pending();
    }

    /// Stop accepting and close the listener.
    pub fn stop(mut self) {
        self.child.pid.store(0, Ordering::SeqCst);
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        // The accept loop ends at once; a request still being answered may take up to the
        // source's own time, which is not worth waiting for: the process is about to exit.
        if let Some(t) = self.thread.take() {
            let deadline = std::time::Instant::now() + Duration::from_millis(500);
            while !t.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Ctrl-C or SIGTERM (Unix).
fn stop_signal() -> Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// The child signals go to (0: not started yet), and a signal that arrived before it was.
#[derive(Default)]
struct Child {
    pid: AtomicU32,
    pending: std::sync::atomic::AtomicI32,
}

impl Child {
    /// Send `sig` to the child, or keep it for when there is one.
    #[cfg(unix)]
    fn signal(&self, sig: i32) {
        self.pending.store(sig, Ordering::SeqCst);
        self.deliver_pending();
    }

    /// Deliver the kept signal, at most once, if the child exists. Both sides store first and
    /// then check, so a signal racing the spawn is delivered exactly once.
    fn deliver_pending(&self) {
        let pid = self.pid.load(Ordering::SeqCst);
        if pid == 0 {
            return;
        }
        let sig = self.pending.swap(0, Ordering::SeqCst);
        #[cfg(unix)]
        if sig != 0
            && let Ok(pid) = libc::pid_t::try_from(pid)
        {
            // SAFETY: kill(2) with a pid we spawned and a signal number we received; no memory
            // is shared.
            unsafe {
                libc::kill(pid, sig);
            }
        }
        #[cfg(not(unix))]
        let _ = sig;
    }
}

#[cfg(unix)]
struct Forwarder {
    child: Arc<Child>,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Forwarder {
    fn install(child: Arc<Child>) -> Result<Forwarder> {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind| signal(kind).context("cannot install a signal handler");
        Ok(Forwarder {
            child,
            term: listen(SignalKind::terminate())?,
            hup: listen(SignalKind::hangup())?,
            int: listen(SignalKind::interrupt())?,
            quit: listen(SignalKind::quit())?,
        })
    }

    async fn run(mut self) {
        loop {
            let sig = tokio::select! {
                _ = self.term.recv() => libc::SIGTERM,
                _ = self.hup.recv() => libc::SIGHUP,
                // The child got these from the terminal too; brickauth just does not die of them.
                _ = self.int.recv() => continue,
                _ = self.quit.recv() => continue,
            };
            self.child.signal(sig);
        }
    }
}

#[cfg(not(unix))]
struct Forwarder;

#[cfg(not(unix))]
impl Forwarder {
    fn install(_child: Arc<Child>) -> Result<Forwarder> {
        Ok(Forwarder)
    }
    async fn run(self) {
        // Windows: Ctrl-C reaches every process attached to the console; brickauth ignores it.
        loop {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// `'…'`-quote a value unless it is made only of characters no shell treats specially.
fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:/=+@%,".contains(&b)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
