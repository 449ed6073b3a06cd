//! `cargo xtask bench`'s metadata-service figure: one token request to `brickauth serve`
//! answered from the cache, against one `brickauth auth token` process (the token helper the
//! Databricks SDKs start), in the same run.
//!
//! The service is the release binary's `serve -o json` for the bench profile, started once; the
//! requests come from this process over loopback HTTP, one new TCP connection each with the
//! protocol's headers, as the Databricks SDK for Python's `requests.get` makes them. The latency
//! is from `connect` to the last byte of the answer; the helper's is the whole process (spawn to
//! reaping), because that is what a tool pays for each token it asks the helper for.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::bench::{Bench, Cmd, Report, Row, measure, ms, yes};

/// Requests before the measured ones (connection set-up paths warm, the token in memory).
const WARMUP_REQUESTS: usize = 50;
/// Measured requests.
const REQUESTS: usize = 500;

/// The metadata-service row of the report.
pub(crate) fn figures(b: &Bench, r: &mut Report) -> Result<()> {
    println!("bench: metadata-service request vs one `auth token` process…");
    let host = b.w.databricks.uri();
    let service = Service::start(b)?;
    let primed = b.w.entra.token_request_count();
    let latencies = service.requests(&host, WARMUP_REQUESTS, REQUESTS);
    service.stop();
    let latencies = latencies?;
    ensure!(
        b.w.entra.token_request_count() == primed,
        "the metadata service sent token requests while its token was fresh"
    );
    let ours = crate::bench::stat(&latencies);
    let p90 = percentile(&latencies, 0.9);

    let helper = "brickauth auth token --profile (helper process)";
    let m = measure(
        &b.scratch,
        b.runs,
        &[Cmd::new(helper, &[&b.bin_s, "auth", "token", "--profile", "bench", "--host", &host], &b.base_env)],
    )?;
    let theirs = m.get(helper).wall;
    let speedup = theirs.median / ours.median;
    r.rows.push(Row {
        figure: "metadata service: one token request from the cache (p50, loopback HTTP)".into(),
        ours: format!("{} (p90 {:.3} ms)", us(ours), p90 * 1e3),
        baseline: format!("`auth token` process {}", ms(theirs)),
        ratio: format!("{speedup:.0}× faster"),
        target: "≤ 1 ms p50, ≥ 3× faster".into(),
        met: yes(ours.median <= 0.001 && speedup >= 3.0),
    });
    r.notes.push(format!(
        "Metadata service: {REQUESTS} requests (after {WARMUP_REQUESTS} warm-up ones) to `brickauth serve`, each on a \
         new loopback TCP connection with `X-Databricks-Metadata-Version: 1` and `X-Databricks-Host`, timed from \
         connect to the end of the answer; no token request reached the mock. The helper figure is whole \
         processes of `brickauth auth token --profile P --host H`, as the SDKs' `databricks-cli` auth starts them."
    ));
    Ok(())
}

/// A `brickauth serve` child and its URL.
struct Service {
    child: Child,
    url: String,
}

impl Service {
    fn start(b: &Bench) -> Result<Service> {
        let mut child = Command::new(&b.bin)
            .args(["serve", "-o", "json"])
            .env_clear()
            .envs(b.base_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting `brickauth serve`")?;
        let mut line = String::new();
        let read = child.stdout.take().map(|out| BufReader::new(out).read_line(&mut line));
        let vars: Value = match read {
            Some(Ok(n)) if n > 0 => serde_json::from_str(&line).context("`brickauth serve -o json` output")?,
            _ => {
                let _ = child.kill();
                let status = child.wait()?;
                bail!("`brickauth serve` printed nothing and ended ({status})");
            }
        };
        let url = vars["DATABRICKS_METADATA_SERVICE_URL"]
            .as_str()
            .context("`brickauth serve -o json` printed no DATABRICKS_METADATA_SERVICE_URL")?
            .to_owned();
        Ok(Service { child, url })
    }

    /// `warmup` then `n` requests; the measured latencies in seconds.
    fn requests(&self, host: &str, warmup: usize, n: usize) -> Result<Vec<f64>> {
        let rest = self.url.strip_prefix("http://").context("the service URL is not http://")?;
        let (addr, path) = rest.split_once('/').context("the service URL has no path")?;
        let request = format!(
            "GET /{path} HTTP/1.1\r\nHost: {addr}\r\nX-Databricks-Metadata-Version: 1\r\n\
             X-Databricks-Host: {host}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        let mut out = Vec::with_capacity(n);
        let mut answer = Vec::with_capacity(4096);
        for i in 0..warmup + n {
            answer.clear();
            let start = Instant::now();
            let mut s = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            s.set_nodelay(true)?;
            s.write_all(request.as_bytes())?;
            s.read_to_end(&mut answer)?;
            let took = start.elapsed().as_secs_f64();
            let text = String::from_utf8_lossy(&answer);
            ensure!(
                text.starts_with("HTTP/1.1 200") && text.contains("\"access_token\""),
                "the metadata service answered: {}",
                text.lines().next().unwrap_or_default()
            );
            if i >= warmup {
                out.push(took);
            }
        }
        Ok(out)
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `q` quantile of `values` (nearest rank).
fn percentile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len().max(1));
    v.get(rank - 1).copied().unwrap_or(f64::NAN)
}

/// A latency statistic in milliseconds with microsecond precision.
fn us(s: crate::bench::Stat) -> String {
    format!("{:.3} ms [{:.3}–{:.3}]", s.median * 1e3, s.min * 1e3, s.max * 1e3)
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 5.0);
        assert_eq!(percentile(&v, 0.9), 9.0);
        assert_eq!(percentile(&v, 1.0), 10.0);
        assert_eq!(percentile(&[3.0], 0.9), 3.0);
    }
}
