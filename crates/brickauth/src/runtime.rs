//! One async runtime per process, built on first use, for the blocking API and the CLI.
//!
//! A `reqwest::Client` keeps idle connections whose I/O tasks live on the runtime that opened
//! them; a second runtime reusing such a connection after the first one was dropped fails
//! (reqwest #1148, #2501). Every blocking call therefore runs on this one runtime, which lives
//! as long as the process. It is a current-thread runtime: tokens and REST calls are I/O bound,
//! and starting worker threads would cost more than the work.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Runtime;

use crate::{Error, Result};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The process's runtime, started on the first call.
fn runtime() -> Result<&'static Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let built = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)?;
    // Two threads may race here; the loser's runtime is dropped unused.
    let rt = RUNTIME.get_or_init(|| {
        tracing::debug!("async runtime started");
        built
    });
    Ok(rt)
}

/// Run `fut` to completion on the process's runtime. For programs without their own; inside an
/// async runtime this would deadlock, so it returns [`Error::InsideRuntime`] instead.
pub fn block_on<F: Future>(fut: F) -> Result<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::InsideRuntime);
    }
    Ok(runtime()?.block_on(fut))
}

/// A handle to the process's runtime (started if need be), for a program that spawns tasks or
/// signal listeners on it from a thread of its own.
pub fn handle() -> Result<tokio::runtime::Handle> {
    Ok(runtime()?.handle().clone())
}
