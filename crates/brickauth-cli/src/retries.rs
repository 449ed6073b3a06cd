//! What the CLI says while it retries, and the HTTP configuration it hands the libraries.
//!
//! Libraries never print: they report each wait to a [`RetryObserver`]. Once retrying has cost
//! about 2 s (the wait about to start included), [`RetryLines`] prints one line per wait on
//! stderr — `brickauth: retrying in 4 s (attempt 3 of 6): connection refused` — so a slow or
//! unreachable server is never a silent minute. Quicker retries stay quiet (`-vv` shows them).

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use brickauth_core::http::HttpConfig;
use brickauth_core::retry::{Observer, RetryEvent, RetryObserver};

/// Retrying shorter than this stays silent.
const QUIET: Duration = Duration::from_secs(2);

/// Prints a line per wait once retrying has taken [`QUIET`].
pub struct RetryLines;

impl RetryObserver for RetryLines {
    fn retrying(&self, e: &RetryEvent<'_>) {
        if e.elapsed.saturating_add(e.wait) < QUIET {
            return;
        }
        let _ = writeln!(std::io::stderr().lock(), "{}", line(e));
    }
}

/// The words of one retry line.
pub fn line(e: &RetryEvent<'_>) -> String {
    let secs = e.wait.as_secs_f64();
    let wait = if secs < 10.0 { format!("{secs:.1} s") } else { format!("{} s", secs.round()) };
    format!("brickauth: retrying in {wait} (attempt {} of {}): {}", e.attempt + 1, e.max_attempts, e.reason)
}

/// The shared observer.
pub fn observer() -> Observer {
    Arc::new(RetryLines)
}

/// The HTTP configuration from the environment, with the extra CA certificates of
/// `BRICKAUTH_CA_BUNDLE` (else `SSL_CERT_FILE`): a file read only when a client is built.
pub fn http_config() -> anyhow::Result<HttpConfig> {
    let config = HttpConfig::from_env()?;
    let named = ["BRICKAUTH_CA_BUNDLE", "SSL_CERT_FILE"]
        .into_iter()
        .find_map(|k| std::env::var_os(k).filter(|v| !v.is_empty()).map(|v| (k, std::path::PathBuf::from(v))));
    Ok(match named {
        None => config,
        Some((var, path)) => {
            let source = format!("{} (${var})", path.display());
            let limit = brickauth_core::http::CA_BUNDLE_LIMIT;
            config.with_ca_loader(
                source,
                Arc::new(move || brickauth_core::file::read(&path, limit).map_err(|e| e.reason())),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickauth_core::retry::RetryKind;

    #[test]
    fn retry_lines() {
        let lines: Vec<String> =
            [(2, 0.5, "connection refused"), (3, 4.0, "connection refused"), (9, 30.0, "HTTP 503")]
                .iter()
                .map(|(attempt, wait, reason)| {
                    line(&RetryEvent {
                        attempt: *attempt,
                        max_attempts: 12,
                        wait: Duration::from_secs_f64(*wait),
                        elapsed: Duration::from_secs(3),
                        kind: RetryKind::Connect,
                        reason,
                        url: "http://127.0.0.1:9/api/2.0/clusters/list",
                    })
                })
                .collect();
        insta::assert_snapshot!(lines.join("\n"), @r"
        brickauth: retrying in 0.5 s (attempt 3 of 12): connection refused
        brickauth: retrying in 4.0 s (attempt 4 of 12): connection refused
        brickauth: retrying in 30 s (attempt 10 of 12): HTTP 503
        ");
    }
}
