//! The Python side of the comparisons: the bench venv (`target/bench-venv`, with `msal` and
//! `databricks-sdk` installed on first use), the TLS relay in front of the mock, and the commands
//! that run MSAL and the SDK.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail, ensure};
use brickauth_mock::{ALICE, ALICE_PASSWORD};
use serde_json::{Value, json};

use super::certs::make_certificates;
use super::measure::Cmd;
use super::scripts::{MSAL_CACHED, MSAL_COMMON, MSAL_PASSWORD, SDK_LIST, TLS_RELAY};
use super::{SCOPE, SILENT_SCOPE};
use crate::harness::{World, root};

/// The Python side, once set up.
pub(crate) struct Python {
    pub(crate) python: PathBuf,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) password_script: PathBuf,
    pub(crate) cached_script: PathBuf,
    pub(crate) cache_file: PathBuf,
    /// The TLS relay MSAL (and brickauth's TLS row) talk through.
    pub(crate) relay: TlsRelay,
}

/// A TLS-terminating relay on 127.0.0.1:443 in front of a mock Entra (Python's `ssl` +
/// asyncio, a throwaway CA and certificate made by `openssl`), with an OIDC discovery document
/// naming it mounted on the mock: MSAL (and so az) accepts only `https://` authorities and drops
/// the port for its user-realm lookup. Stopped when dropped.
pub(crate) struct TlsRelay {
    /// The CA that signed the relay's certificate (PEM), to trust.
    pub(crate) ca: PathBuf,
    child: std::process::Child,
}

impl TlsRelay {
    /// Start it with `python`, its files in `scratch`, in front of `w`'s mock Entra.
    pub(crate) fn start(w: &World, python: &Path, scratch: &Path) -> Result<TlsRelay> {
        let (ca, cert, key) = make_certificates(scratch).context("making a certificate for the TLS relay (openssl)")?;
        // On the mock's own server, a discovery document naming the relay's address takes
        // precedence over the mock's.
        let base = format!("https://127.0.0.1/{}", brickauth_mock::TENANT_ID);
        let discovery = json!({
            "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
            "token_endpoint": format!("{base}/oauth2/v2.0/token"),
            "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
            "issuer": format!("{base}/v2.0"),
            "jwks_uri": format!("{base}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
        });
        w.rt.block_on(
            wiremock::Mock::given(wiremock::matchers::method("GET"))
                .and(wiremock::matchers::path_regex(r"^/[^/]+/v2\.0/\.well-known/openid-configuration$"))
                .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(discovery))
                .named("discovery through the TLS relay")
                .mount(w.entra.server()),
        );
        let relay_py = scratch.join("relay.py");
        std::fs::write(&relay_py, TLS_RELAY)?;
        let port = w.entra.uri().rsplit(':').next().unwrap_or_default().to_owned();
        let relay_log = scratch.join("relay.log");
        let mut child = Command::new(python)
            .arg(&relay_py)
            .arg(&cert)
            .arg(&key)
            .args(["443", &port])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&relay_log)?)
            .spawn()
            .context("starting the TLS relay")?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            use std::io::BufRead;
            std::io::BufReader::new(stdout).read_line(&mut line)?;
        }
        let relay = TlsRelay { ca, child };
        if line.trim() != "ready" {
            let log = std::fs::read_to_string(&relay_log).unwrap_or_default();
            bail!(
                "the TLS relay could not listen on 127.0.0.1:443 (needs root or CAP_NET_BIND_SERVICE; MSAL drops the port for its user-realm lookup): {}",
                log.lines().last().unwrap_or_default()
            );
        }
        Ok(relay)
    }
}

impl Drop for TlsRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn run_quiet(cmd: &mut Command) -> Result<std::process::Output> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if !out.status.success() {
        bail!(
            "{:?} failed ({}): {}",
            cmd.get_program(),
            out.status,
            String::from_utf8_lossy(&out.stderr).lines().rev().take(3).collect::<Vec<_>>().join(" | ")
        );
    }
    Ok(out)
}

/// The venv with msal (created / installed when missing).
pub(crate) fn venv_python() -> Result<PathBuf> {
    let venv = root().join("target/bench-venv");
    let python = venv.join(if cfg!(windows) { "Scripts/python.exe" } else { "bin/python" });
    if !python.exists() {
        println!("bench: creating {} (python3 -m venv)", venv.display());
        let py3 = if cfg!(windows) { "python" } else { "python3" };
        run_quiet(Command::new(py3).args(["-m", "venv"]).arg(&venv)).context("python3 -m venv")?;
    }
    let has_msal = Command::new(&python)
        .args(["-c", "import msal"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_msal {
        println!("bench: pip install msal (into the bench venv)");
        run_quiet(Command::new(&python).args(["-m", "pip", "install", "-q", "msal"])).context("pip install msal")?;
    }
    Ok(python)
}

/// Python + msal + a TLS relay to the mock, ready to measure.
pub(crate) fn setup_python(w: &World, scratch: &Path) -> Result<Python> {
    let python = venv_python()?;
    let msal_version = run_quiet(Command::new(&python).args(["-c", "import msal; print(msal.__version__)"]))?;
    println!("bench: msal {}", String::from_utf8_lossy(&msal_version.stdout).trim());

    let relay = TlsRelay::start(w, &python, scratch)?;

    let password_script = scratch.join("msal_password.py");
    let cached_script = scratch.join("msal_cached.py");
    std::fs::write(&password_script, format!("{MSAL_COMMON}{MSAL_PASSWORD}"))?;
    std::fs::write(&cached_script, format!("{MSAL_COMMON}{MSAL_CACHED}"))?;
    let env: Vec<(String, String)> = [
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("HOME", scratch.display().to_string()),
        ("REQUESTS_CA_BUNDLE", relay.ca.display().to_string()),
        ("NO_PROXY", "127.0.0.1,localhost".into()),
        ("BENCH_TENANT", brickauth_mock::TENANT_ID.into()),
        ("BENCH_CLIENT", brickauth_mock::CLIENT_ID.into()),
        ("BENCH_USER", ALICE.into()),
        ("BENCH_PASSWORD", ALICE_PASSWORD.into()),
        ("BENCH_SCOPE", SCOPE.into()),
        ("BENCH_SILENT_SCOPE", SILENT_SCOPE.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let cache_file = scratch.join("msal_cache.json");
    let py = Python { python, env, password_script, cached_script, cache_file, relay };
    // One acquisition that fills the MSAL cache file (and proves the set-up works).
    let out = Command::new(&py.python)
        .arg(&py.password_script)
        .arg(&py.cache_file)
        .env_clear()
        .envs(py.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).lines().rev().take(4).collect::<Vec<_>>().join(" | ");
        bail!("MSAL's password flow against the mock failed: {err}");
    }
    Ok(py)
}

/// `databricks-sdk` in the bench venv and a command that lists the clusters with it.
pub(crate) fn setup_sdk(w: &World, py: &Python, scratch: &Path, env: &[(&str, &str)]) -> Result<Cmd> {
    let has_sdk = Command::new(&py.python)
        .args(["-c", "import databricks.sdk"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_sdk {
        println!("bench: pip install databricks-sdk (into the bench venv)");
        run_quiet(Command::new(&py.python).args(["-m", "pip", "install", "-q", "databricks-sdk"]))
            .context("pip install databricks-sdk")?;
    }
    let o = w.run(&["token"], env, None)?;
    ensure!(o.code == 0, "brickauth token failed: {}", o.stderr);
    let script = scratch.join("sdk_clusters.py");
    std::fs::write(&script, SDK_LIST)?;
    let sdk_env: Vec<(String, String)> = [
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("HOME", scratch.join("sdk-home").display().to_string()),
        ("NO_PROXY", "127.0.0.1,localhost".to_owned()),
        ("BENCH_HOST", w.databricks.uri()),
        ("BENCH_TOKEN", o.stdout.trim().to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let argv = [py.python.display().to_string(), script.display().to_string()];
    let cmd = Cmd::new("databricks-sdk clusters.list", &argv.iter().map(String::as_str).collect::<Vec<_>>(), &sdk_env);
    // One run to check it works and lists everything.
    let out = Command::new(&cmd.argv[0])
        .args(&cmd.argv[1..])
        .env_clear()
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).lines().rev().take(3).collect::<Vec<_>>().join(" | ");
        bail!("the SDK script failed: {err}");
    }
    let n = serde_json::from_slice::<Value>(&out.stdout).ok().and_then(|v| v.as_array().map(Vec::len));
    ensure!(n == Some(10_000), "the SDK script listed {n:?} clusters, not 10000");
    Ok(cmd)
}
