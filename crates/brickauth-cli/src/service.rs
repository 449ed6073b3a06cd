//! The metadata service wired to a profile, and kept running for a child process: what `exec`
//! and `serve` share.
//!
//! The server itself is [`brickauth_databricks::MetadataService`]; this module gives it the
//! profile's token source with the service's own renewal margin — a source that never prompts
//! (the first token is acquired before the service starts, where a person can still answer) —
//! and runs it on a thread of its own for the life of a child process ([`Running`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result};
use brickauth::{Source, TokenOptions};
use brickauth_core::source::SourceError;
use brickauth_core::{AccessToken, BoxFuture, Interaction, TokenSource};
use brickauth_databricks::{MetadataService, WorkspaceConfig};
use brickauth_profile::Profile;

use crate::context::Context;

/// The metadata service for `ws`, handing out `profile`'s tokens with at least `min_validity`
/// left; its provider never prompts (an expired sign-in is a 502 naming `brickauth login`).
pub fn service(
    cx: &Context,
    ws: &WorkspaceConfig,
    profile: &Profile,
    min_validity: Duration,
) -> Result<MetadataService> {
    let source = cx.source(profile.clone(), Interaction::NONE)?;
    let source = Arc::new(Margin { source, min_validity });
    Ok(MetadataService::bind(ws.host(), source)?)
}

/// The profile's provider as a token source with the service's own renewal margin.
struct Margin {
    source: Source,
    min_validity: Duration,
}

impl TokenSource for Margin {
    fn token(&self, force_refresh: bool) -> BoxFuture<'_, Result<AccessToken, SourceError>> {
        Box::pin(async move {
            // Cache first (no lock, no network), then single-flight renewal.
            let opts = TokenOptions { force_refresh, min_validity: self.min_validity };
            self.source.token_with(opts).await.map(|t| t.access_token).map_err(|e| Box::new(e) as SourceError)
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
        let rt = brickauth::handle()?;
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
                let _ = brickauth::block_on(async move {
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
    #[allow(unsafe_code)] // kill(2), below
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
        // Windows: Ctrl-C and Ctrl-Break reach every process attached to the console; `exec`
        // makes brickauth ignore them as it starts the child (`cmd::exec::spawn`).
    }
}
