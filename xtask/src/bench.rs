//! `cargo xtask bench [--runs N] [--no-python] [--bin PATH]`: whole-process figures for the release binary,
//! each against a baseline measured in the same run, written to `target/bench-report.md`.
//!
//! Every figure is a series of separate processes: 3 warm-up rounds, then N rounds (default 30),
//! the commands of a comparison interleaved (A B A B …) so that drift (CPU frequency, the other
//! jobs on the machine) hits both sides alike. Per process: wall time from spawn to reaping,
//! user + system CPU and peak RSS from `wait4`'s rusage.
//!
//! Peak RSS needs care: Linux carries the RSS of the process that spawned a child over into the
//! child's `ru_maxrss` (exec records the old address space's high-water mark, and a
//! `posix_spawn`/vfork child starts in its parent's). Spawned from this xtask process, with its
//! runtime and mock servers, every child would look as big as xtask. So the series run in a
//! fresh copy of the xtask binary (`xtask bench __runner SPEC`) that does nothing but spawn and
//! reap, and peak RSS is taken from a few extra runs under GNU `/usr/bin/time -f %M` (a ~1 MB
//! spawner; `/bin/true`'s figure shows that floor). Without GNU time, the runner's `wait4`
//! figures are reported, with a higher floor.
//!
//! Comparisons:
//! - `brickauth token` from the cache vs `/bin/true` and vs MSAL for Python's
//!   `acquire_token_silent` over a serialized MSAL token cache;
//! - `brickauth login` (a fresh password-flow acquisition from the loopback mock, over plain
//!   HTTP and over TLS through the relay below) vs MSAL's `acquire_token_by_username_password`
//!   against the same mock;
//! - `brickauth --version` (cold start) vs `/bin/true`; the stripped binary's size;
//! - `brickauth clusters list -o json` over 10,000 clusters (100 per page), if the CLI has that
//!   command, vs the Databricks SDK for Python (`databricks-sdk`, also in the venv).
//!
//! MSAL accepts only `https://` authorities, and its user-realm lookup drops the port. For it, a
//! TLS-terminating relay (Python's `ssl` + asyncio, a throwaway CA and certificate made by
//! `openssl`) listens on 127.0.0.1:443 and forwards to the mock, trusted through
//! `REQUESTS_CA_BUNDLE` (and `BRICKAUTH_CA_BUNDLE` for brickauth's TLS row); an OIDC discovery
//! document naming the relay is mounted on the mock's server. MSAL is installed into
//! `target/bench-venv`. When Python, pip, msal, openssl or port 443 is unavailable, the
//! report says so and the brickauth figures stand alone. Nothing leaves 127.0.0.1.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

use crate::harness::{World, build_binary, root};

const PROFILE: &str = r#"default_profile = "bench"

[profiles.bench]
flow = "password"
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
authority_host = "{AUTHORITY}"
host = "{HOST}"
username = "alice@contoso.com"
password_env = "BENCH_PASSWORD"

# The same identity through the TLS relay on 127.0.0.1:443 (set up for MSAL): brickauth over TLS.
[profiles.bench-tls]
flow = "password"
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
authority_host = "https://127.0.0.1"
host = "{HOST}"
username = "alice@contoso.com"
password_env = "BENCH_PASSWORD"
"#;

/// The mock's password for alice (brickauth-mock's default config).
const PASSWORD: &str = "correct horse battery staple";
const USERNAME: &str = "alice@contoso.com";
const SCOPE: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default";
/// What Entra (and the mock) grant for `.default`: MSAL files the access token under the granted
/// scope, so its cache only hits when asked for that one (asked for `.default`, it refreshes).
const SILENT_SCOPE: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/user_impersonation";
const WARMUP: usize = 3;
/// Runs of the 10,000-cluster listing (after one warm-up): each takes seconds.
const CLUSTER_RUNS: usize = 10;
/// Runs per command for peak RSS under GNU time.
const RSS_RUNS: usize = 5;

/// One command of a series.
#[derive(Clone, Debug)]
pub(crate) struct Cmd {
    name: String,
    argv: Vec<String>,
    env: Vec<(String, String)>,
}

impl Cmd {
    pub(crate) fn new(name: &str, argv: &[&str], env: &[(String, String)]) -> Cmd {
        Cmd { name: name.into(), argv: argv.iter().map(|s| (*s).to_owned()).collect(), env: env.to_vec() }
    }
}

/// What one process cost.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    wall: f64,
    cpu: f64,
    rss_kb: f64,
}

/// min / median / max of one quantity.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stat {
    pub(crate) min: f64,
    pub(crate) median: f64,
    pub(crate) max: f64,
}

fn stat(values: &[f64]) -> Stat {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return Stat { min: f64::NAN, median: f64::NAN, max: f64::NAN };
    }
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    Stat { min: v[0], median, max: v[n - 1] }
}

pub(crate) struct Series {
    pub(crate) wall: Stat,
    pub(crate) cpu: Stat,
    pub(crate) rss: Stat,
}

/// The result of one interleaved run: per command name, its statistics.
pub(crate) struct Measured {
    by_name: BTreeMap<String, Series>,
    /// Peak RSS came from GNU time (else from wait4 in the runner).
    rss_from_time: bool,
}

impl Measured {
    pub(crate) fn get(&self, name: &str) -> &Series {
        &self.by_name[name]
    }
}

// ---------------------------------------------------------------------------------------------
// The runner: a fresh xtask process that spawns, reaps and reports.

/// `xtask bench __runner SPEC.json`: run the series, print one JSON object.
fn runner(args: &[String]) -> Result<()> {
    let spec_path = args.first().context("__runner needs a spec file")?;
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(spec_path)?)?;
    let warmup = spec["warmup"].as_u64().unwrap_or(3) as usize;
    let runs = spec["runs"].as_u64().unwrap_or(20) as usize;
    let cmds: Vec<Cmd> = spec["cmds"]
        .as_array()
        .context("spec: cmds")?
        .iter()
        .map(|c| Cmd {
            name: c["name"].as_str().unwrap_or_default().to_owned(),
            argv: c["argv"].as_array().into_iter().flatten().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
            env: c["env"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|kv| Some((kv[0].as_str()?.to_owned(), kv[1].as_str()?.to_owned())))
                .collect(),
        })
        .collect();
    let mut samples: BTreeMap<String, Vec<[f64; 3]>> = BTreeMap::new();
    for round in 0..warmup + runs {
        for cmd in &cmds {
            let s = spawn_and_measure(cmd)?;
            if round >= warmup {
                samples.entry(cmd.name.clone()).or_default().push([s.wall, s.cpu, s.rss_kb]);
            }
        }
    }
    // Peak RSS through GNU time, whose own small address space is all a child inherits.
    let mut rss_time: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let out_file = Path::new(spec_path).with_file_name("rss-time.txt");
    for cmd in &cmds {
        for _ in 0..RSS_RUNS {
            match rss_via_time(cmd, &out_file) {
                Some(kb) => rss_time.entry(cmd.name.clone()).or_default().push(kb),
                None => break,
            }
        }
    }
    let out = json!({ "samples": samples, "rss_time": rss_time });
    println!("{out}");
    Ok(())
}

#[cfg(unix)]
fn spawn_and_measure(cmd: &Cmd) -> Result<Sample> {
    let mut c = Command::new(&cmd.argv[0]);
    c.args(&cmd.argv[1..])
        .env_clear()
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let start = std::time::Instant::now();
    let child = c.spawn().with_context(|| format!("starting {}", cmd.argv[0]))?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: plain FFI; `rusage` is plain data that wait4 fills.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = start.elapsed().as_secs_f64();
    // The child is reaped: dropping the handle does not wait again.
    drop(child);
    ensure!(reaped == pid, "wait4 failed for {}: {}", cmd.name, std::io::Error::last_os_error());
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !ok {
        bail!("{} ({}) failed: wait status {status}{}", cmd.name, cmd.argv.join(" "), stderr_of(cmd));
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Sample { wall, cpu: tv(ru.ru_utime) + tv(ru.ru_stime), rss_kb: maxrss_kb(ru.ru_maxrss) })
}

/// Peak RSS of one run of `cmd` under `/usr/bin/time -f %M` (GNU time), in KB; `None` without it.
fn rss_via_time(cmd: &Cmd, out_file: &Path) -> Option<f64> {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        return None;
    }
    let status = Command::new(time)
        .args(["-f", "%M", "-o"])
        .arg(out_file)
        .args(&cmd.argv)
        .env_clear()
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    std::fs::read_to_string(out_file).ok()?.lines().last()?.trim().parse().ok()
}

/// For an error message: run `cmd` once more and keep the end of its stderr.
#[cfg(unix)]
fn stderr_of(cmd: &Cmd) -> String {
    let out = Command::new(&cmd.argv[0])
        .args(&cmd.argv[1..])
        .env_clear()
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stderr);
            format!("\n{}", text.lines().take(8).collect::<Vec<_>>().join("\n"))
        }
        Err(_) => String::new(),
    }
}

#[cfg(not(unix))]
fn spawn_and_measure(cmd: &Cmd) -> Result<Sample> {
    // Wall time only: CPU and peak RSS need wait4 (reported as NaN).
    let start = std::time::Instant::now();
    let status = Command::new(&cmd.argv[0])
        .args(&cmd.argv[1..])
        .env_clear()
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    ensure!(status.success(), "{} failed: {status}", cmd.name);
    Ok(Sample { wall: start.elapsed().as_secs_f64(), cpu: f64::NAN, rss_kb: f64::NAN })
}

#[cfg(unix)]
fn maxrss_kb(v: libc::c_long) -> f64 {
    // Kilobytes on Linux and the BSDs, bytes on macOS.
    if cfg!(target_os = "macos") { v as f64 / 1024.0 } else { v as f64 }
}

/// A private copy of this xtask binary to run as the runner: other builds sharing `target/` may
/// replace `target/debug/xtask` while the bench runs (Linux can still copy a replaced binary
/// through `/proc/self/exe`).
fn runner_exe(scratch: &Path) -> Result<PathBuf> {
    let copy = scratch.join(format!("xtask-runner{}", std::env::consts::EXE_SUFFIX));
    if !copy.exists() {
        let me = if cfg!(target_os = "linux") { PathBuf::from("/proc/self/exe") } else { std::env::current_exe()? };
        std::fs::copy(&me, &copy).with_context(|| format!("copying {} to {}", me.display(), copy.display()))?;
    }
    Ok(copy)
}

/// Run `cmds` interleaved in a fresh runner process.
pub(crate) fn measure(scratch: &Path, runs: usize, cmds: &[Cmd]) -> Result<Measured> {
    measure_with(scratch, WARMUP, runs, cmds)
}

fn measure_with(scratch: &Path, warmup: usize, runs: usize, cmds: &[Cmd]) -> Result<Measured> {
    let spec = json!({
        "warmup": warmup,
        "runs": runs,
        "cmds": cmds.iter().map(|c| json!({"name": c.name, "argv": c.argv, "env": c.env})).collect::<Vec<_>>(),
    });
    let spec_path = scratch.join("bench-spec.json");
    std::fs::write(&spec_path, spec.to_string())?;
    let exe = runner_exe(scratch)?;
    let out = Command::new(exe)
        .args(["bench", "__runner"])
        .arg(&spec_path)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("starting the bench runner")?;
    ensure!(out.status.success(), "bench runner failed ({})", out.status);
    let v: Value = serde_json::from_slice(&out.stdout).context("reading the runner's report")?;
    let mut by_name = BTreeMap::new();
    let mut rss_from_time = true;
    for (name, rows) in v["samples"].as_object().context("runner: samples")? {
        let rows: Vec<[f64; 3]> = serde_json::from_value(rows.clone())?;
        let col = |i: usize| rows.iter().map(|r| r[i]).collect::<Vec<_>>();
        let timed: Vec<f64> = serde_json::from_value(v["rss_time"][name].clone()).unwrap_or_default();
        let rss = if timed.len() == RSS_RUNS {
            stat(&timed)
        } else {
            rss_from_time = false;
            stat(&col(2))
        };
        by_name.insert(name.clone(), Series { wall: stat(&col(0)), cpu: stat(&col(1)), rss });
    }
    Ok(Measured { by_name, rss_from_time })
}

// ---------------------------------------------------------------------------------------------
// Python / MSAL side.

const MSAL_COMMON: &str = r#"
import os, sys
import msal
AUTHORITY = "https://127.0.0.1/" + os.environ["BENCH_TENANT"]
def app(cache=None):
    return msal.PublicClientApplication(
        os.environ["BENCH_CLIENT"], authority=AUTHORITY, token_cache=cache,
        validate_authority=False, instance_discovery=False)
"#;

/// Password flow, fresh process, no cache file; with an argument, saves the cache there.
const MSAL_PASSWORD: &str = r#"
import warnings
warnings.simplefilter("ignore")
cache = msal.SerializableTokenCache()
r = app(cache).acquire_token_by_username_password(
    os.environ["BENCH_USER"], os.environ["BENCH_PASSWORD"], scopes=[os.environ["BENCH_SCOPE"]])
if "access_token" not in r:
    print(r, file=sys.stderr)
    sys.exit(1)
if len(sys.argv) > 1:
    with open(sys.argv[1], "w") as f:
        f.write(cache.serialize())
print(r["access_token"])
"#;

/// The cached path: load the serialized cache, `acquire_token_silent`, print.
const MSAL_CACHED: &str = r#"
cache = msal.SerializableTokenCache()
with open(sys.argv[1]) as f:
    cache.deserialize(f.read())
a = app(cache)
accounts = a.get_accounts()
r = a.acquire_token_silent([os.environ["BENCH_SILENT_SCOPE"]], account=accounts[0]) if accounts else None
if not r or "access_token" not in r or r.get("token_source") != "cache":
    import json
    seen = {k: [(e.get("environment"), e.get("realm"), e.get("target")) for e in v.values()]
            for k, v in json.loads(cache.serialize()).items()}
    print("no cached token:", r, "accounts:", accounts, "cache:", seen, file=sys.stderr)
    sys.exit(1)
print(r["access_token"])
"#;

/// A TLS-terminating relay: 127.0.0.1:443 → the mock's plain HTTP port.
pub(crate) const TLS_RELAY: &str = r#"
import asyncio, ssl, sys
cert, key, port, target = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
async def pipe(r, w):
    try:
        while True:
            d = await r.read(65536)
            if not d:
                break
            w.write(d)
            await w.drain()
    except Exception:
        pass
    finally:
        try:
            w.close()
        except Exception:
            pass
async def handle(cr, cw):
    try:
        ur, uw = await asyncio.open_connection("127.0.0.1", target)
    except Exception:
        cw.close()
        return
    await asyncio.gather(pipe(cr, uw), pipe(ur, cw))
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", port, ssl=ctx)
    print("ready", flush=True)
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
"#;

/// The Python side, once set up.
struct Python {
    python: PathBuf,
    env: Vec<(String, String)>,
    password_script: PathBuf,
    cached_script: PathBuf,
    cache_file: PathBuf,
    /// The CA that signed the relay's certificate (PEM), to trust.
    ca: PathBuf,
    relay: Option<std::process::Child>,
}

impl Drop for Python {
    fn drop(&mut self) {
        if let Some(mut relay) = self.relay.take() {
            let _ = relay.kill();
            let _ = relay.wait();
        }
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
fn venv_python() -> Result<PathBuf> {
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

/// A throwaway CA and a certificate for 127.0.0.1 it signed (webpki, hence brickauth, refuses a
/// self-signed CA certificate as a server's): `(ca.pem, cert.pem, key.pem)`.
pub(crate) fn make_certificates(dir: &Path) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let p = |name: &str| dir.join(name);
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run_quiet(
        Command::new("openssl")
            .args(["req", "-x509", "-days", "2", "-subj", "/CN=brickauth bench CA"])
            .args(ec)
            .arg("-keyout")
            .arg(p("ca-key.pem"))
            .arg("-out")
            .arg(p("ca.pem")),
    )?;
    run_quiet(
        Command::new("openssl")
            .args(["req", "-subj", "/CN=127.0.0.1"])
            .args(ec)
            .arg("-keyout")
            .arg(p("relay-key.pem"))
            .arg("-out")
            .arg(p("relay.csr")),
    )?;
    std::fs::write(
        p("relay-ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )?;
    run_quiet(
        Command::new("openssl")
            .args(["x509", "-req", "-days", "2", "-set_serial", "2"])
            .arg("-in")
            .arg(p("relay.csr"))
            .arg("-CA")
            .arg(p("ca.pem"))
            .arg("-CAkey")
            .arg(p("ca-key.pem"))
            .arg("-extfile")
            .arg(p("relay-ext.cnf"))
            .arg("-out")
            .arg(p("relay-cert.pem")),
    )?;
    Ok((p("ca.pem"), p("relay-cert.pem"), p("relay-key.pem")))
}

/// Python + msal + a TLS relay to the mock, ready to measure.
fn setup_python(w: &World, scratch: &Path) -> Result<Python> {
    let python = venv_python()?;
    let msal_version = run_quiet(Command::new(&python).args(["-c", "import msal; print(msal.__version__)"]))?;
    println!("bench: msal {}", String::from_utf8_lossy(&msal_version.stdout).trim());

    let (ca, cert, key) = make_certificates(scratch).context("making a certificate for the TLS relay (openssl)")?;
    // MSAL reads the endpoints from OIDC discovery and insists on https ones: on the mock's own
    // server, a discovery document naming the relay's address takes precedence over the mock's.
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
            .named("bench: discovery for MSAL through the TLS relay")
            .mount(w.entra.server()),
    );
    let relay_py = scratch.join("relay.py");
    std::fs::write(&relay_py, TLS_RELAY)?;
    let port = w.entra.uri().rsplit(':').next().unwrap_or_default().to_owned();
    let relay_log = scratch.join("relay.log");
    let mut relay = Command::new(&python)
        .arg(&relay_py)
        .arg(&cert)
        .arg(&key)
        .args(["443", &port])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&relay_log)?)
        .spawn()
        .context("starting the TLS relay")?;
    {
        use std::io::BufRead;
        let mut line = String::new();
        let stdout = relay.stdout.take().context("relay stdout")?;
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        if line.trim() != "ready" {
            let _ = relay.kill();
            let _ = relay.wait();
            let log = std::fs::read_to_string(&relay_log).unwrap_or_default();
            bail!(
                "the TLS relay could not listen on 127.0.0.1:443 (needs root or CAP_NET_BIND_SERVICE; MSAL drops the port for its user-realm lookup): {}",
                log.lines().last().unwrap_or_default()
            );
        }
    }

    let password_script = scratch.join("msal_password.py");
    let cached_script = scratch.join("msal_cached.py");
    std::fs::write(&password_script, format!("{MSAL_COMMON}{MSAL_PASSWORD}"))?;
    std::fs::write(&cached_script, format!("{MSAL_COMMON}{MSAL_CACHED}"))?;
    let env: Vec<(String, String)> = [
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("HOME", scratch.display().to_string()),
        ("REQUESTS_CA_BUNDLE", ca.display().to_string()),
        ("NO_PROXY", "127.0.0.1,localhost".into()),
        ("BENCH_TENANT", brickauth_mock::TENANT_ID.into()),
        ("BENCH_CLIENT", brickauth_mock::CLIENT_ID.into()),
        ("BENCH_USER", USERNAME.into()),
        ("BENCH_PASSWORD", PASSWORD.into()),
        ("BENCH_SCOPE", SCOPE.into()),
        ("BENCH_SILENT_SCOPE", SILENT_SCOPE.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let cache_file = scratch.join("msal_cache.json");
    let py = Python { python, env, password_script, cached_script, cache_file, ca, relay: Some(relay) };
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

/// The Databricks SDK for Python listing every cluster, printed as JSON.
const SDK_LIST: &str = r#"
import json, os, sys
from databricks.sdk import WorkspaceClient
w = WorkspaceClient(host=os.environ["BENCH_HOST"], token=os.environ["BENCH_TOKEN"], auth_type="pat")
json.dump([c.as_dict() for c in w.clusters.list(page_size=100)], sys.stdout)
"#;

/// `databricks-sdk` in the bench venv and a command that lists the clusters with it.
fn setup_sdk(w: &World, py: &Python, scratch: &Path, env: &[(&str, &str)]) -> Result<Cmd> {
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

// ---------------------------------------------------------------------------------------------
// The report.

struct Row {
    figure: String,
    ours: String,
    baseline: String,
    ratio: String,
    target: String,
    met: String,
}

/// A "CPU / peak RSS" comparison row (no target): `cpu_decimals` for our CPU milliseconds,
/// `ratio_decimals` for the CPU ratio.
fn cpu_rss_row(
    figure: &str,
    ours: &Series,
    name: &str,
    base: &Series,
    cpu_decimals: usize,
    ratio_decimals: usize,
) -> Row {
    Row {
        figure: figure.into(),
        ours: format!("{:.cpu_decimals$} ms / {:.1} MB", ours.cpu.median * 1e3, ours.rss.median / 1024.0),
        baseline: format!("{name} {:.1} ms / {:.1} MB", base.cpu.median * 1e3, base.rss.median / 1024.0),
        ratio: format!(
            "{:.ratio_decimals$}× less CPU, {:.1}× less RSS",
            base.cpu.median / ours.cpu.median,
            base.rss.median / ours.rss.median
        ),
        target: "–".into(),
        met: "–".into(),
    }
}

pub(crate) fn ms(s: Stat) -> String {
    format!("{:.2} ms [{:.2}–{:.2}]", s.median * 1e3, s.min * 1e3, s.max * 1e3)
}

fn mb(s: Stat) -> String {
    format!("{:.1} MB [{:.1}–{:.1}]", s.median / 1024.0, s.min / 1024.0, s.max / 1024.0)
}

pub(crate) fn yes(ok: bool) -> String {
    (if ok { "yes" } else { "**no**" }).to_owned()
}

pub fn run(args: &[String]) -> Result<()> {
    if args.first().map(String::as_str) == Some("__runner") {
        return runner(&args[1..]);
    }
    let mut runs = 30usize;
    let mut python_wanted = true;
    let mut prebuilt: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--runs" => runs = it.next().and_then(|v| v.parse().ok()).context("--runs N")?,
            "--no-python" => python_wanted = false,
            "--bin" => prebuilt = Some(it.next().context("--bin PATH")?.into()),
            "-h" | "--help" => {
                println!(
                    "usage: cargo xtask bench [--runs N (default 30, at least 20)] [--no-python] [--bin PATH (skip the build)]"
                );
                return Ok(());
            }
            other => bail!("unknown argument `{other}` (usage: cargo xtask bench [--runs N] [--no-python])"),
        }
    }
    ensure!(runs >= 1, "--runs must be at least 1");

    let bin = match prebuilt {
        Some(bin) => std::path::absolute(bin)?,
        None => {
            println!("bench: building the release binary…");
            build_binary(true)?
        }
    };
    let w = World::start(bin.clone())?;
    w.write_profiles("profiles.toml", PROFILE)?;
    let scratch = w.dir.path().to_path_buf();
    let bin_s = bin.display().to_string();
    let base_env: Vec<(String, String)> = [
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("HOME", w.path("home").display().to_string()),
        ("BRICKAUTH_CACHE_DIR", w.path("cache").display().to_string()),
        ("BRICKAUTH_CONFIG", w.path("profiles.toml").display().to_string()),
        ("BENCH_PASSWORD", PASSWORD.to_owned()),
        ("TZ", "UTC".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();

    let mut rows: Vec<Row> = Vec::new();
    let mut notes: Vec<String> = Vec::new();

    // Prime the cache.
    let env_ref = [("BENCH_PASSWORD", PASSWORD)];
    let o = w.run(&["token"], &env_ref, None)?;
    ensure!(o.code == 0, "priming `brickauth token` failed ({}): {}", o.code, o.stderr);

    let python = if python_wanted {
        match setup_python(&w, &scratch) {
            Ok(p) => Some(p),
            Err(e) => {
                println!("bench: MSAL comparisons skipped: {e:#}");
                notes.push(format!("MSAL for Python comparisons skipped: {e:#}"));
                None
            }
        }
    } else {
        notes.push("MSAL for Python comparisons skipped (--no-python).".into());
        None
    };

    // (a) the cached path.
    println!("bench: cached token ({runs} runs each, interleaved)…");
    let mut cmds = vec![
        Cmd::new("brickauth token (cached)", &[&bin_s, "token"], &base_env),
        Cmd::new("/bin/true", &["/bin/true"], &base_env),
    ];
    if let Some(py) = &python {
        let argv = [
            py.python.display().to_string(),
            py.cached_script.display().to_string(),
            py.cache_file.display().to_string(),
        ];
        cmds.push(Cmd::new("msal cached", &argv.iter().map(String::as_str).collect::<Vec<_>>(), &py.env));
    }
    let received = || w.rt.block_on(w.entra.server().received_requests()).map_or(0, |r| r.len());
    let entra_before = received();
    let primed = w.entra.token_request_count();
    let m = measure(&scratch, runs, &cmds)?;
    let entra_during = received() - entra_before;
    ensure!(
        w.entra.token_request_count() == primed,
        "the cached series sent token requests: a cached path is not cached"
    );
    let ours = m.get("brickauth token (cached)");
    let truth = m.get("/bin/true");
    let floor_rss = truth.rss.median;
    let rss_from_time = m.rss_from_time;
    let ratio = ours.wall.median / truth.wall.median;
    rows.push(Row {
        figure: "`token` from cache: wall".into(),
        ours: ms(ours.wall),
        baseline: format!("/bin/true {:.2} ms", truth.wall.median * 1e3),
        ratio: format!("{ratio:.1}× /bin/true"),
        target: "≤ 3 ms, ≤ 4× /bin/true".into(),
        met: yes(ours.wall.median <= 0.003 && ratio <= 4.0),
    });
    rows.push(Row {
        figure: "`token` from cache: CPU (user+sys)".into(),
        ours: ms(ours.cpu),
        baseline: format!("/bin/true {:.2} ms", truth.cpu.median * 1e3),
        ratio: ratio_str(ours.cpu.median, truth.cpu.median, "/bin/true"),
        target: "–".into(),
        met: "–".into(),
    });
    rows.push(Row {
        figure: "`token` from cache: peak RSS".into(),
        ours: mb(ours.rss),
        baseline: format!("/bin/true {:.1} MB", truth.rss.median / 1024.0),
        ratio: format!("{:.1}× /bin/true", ours.rss.median / truth.rss.median),
        target: "–".into(),
        met: "–".into(),
    });
    if python.is_some() {
        let msal = m.get("msal cached");
        let speedup = msal.wall.median / ours.wall.median;
        rows.push(Row {
            figure: "`token` from cache vs MSAL `acquire_token_silent`: wall".into(),
            ours: ms(ours.wall),
            baseline: format!("MSAL {}", ms(msal.wall)),
            ratio: format!("{speedup:.0}× faster"),
            target: "≥ 30× faster".into(),
            met: yes(speedup >= 30.0),
        });
        rows.push(cpu_rss_row("`token` from cache vs MSAL: CPU / peak RSS", ours, "MSAL", msal, 2, 0));
        notes.push(
            "The MSAL cached script asks `acquire_token_silent` for `2ff814a6-…/user_impersonation`, the scope Entra \
             grants for `/.default` and the one MSAL files the token under; asked for `/.default` MSAL misses its own \
             cache and redeems the refresh token on every call."
                .into(),
        );
        if entra_during > 0 {
            notes.push(format!(
                "During the cached series the mock authority received {entra_during} requests ({:.1} per MSAL process), all from \
                 MSAL (brickauth sent none): MSAL's `PublicClientApplication` fetches the authority's OIDC discovery document \
                 on every start, before it looks at its cache. Here that is a loopback round trip; against \
                 login.microsoftonline.com it is an Internet one, so real-world MSAL figures are worse than these.",
                entra_during as f64 / (WARMUP + runs + RSS_RUNS) as f64
            ));
        }
    }

    // (b) a fresh password-flow acquisition.
    println!("bench: fresh password-flow acquisition…");
    let mut cmds = vec![Cmd::new("brickauth login", &[&bin_s, "login"], &base_env)];
    if let Some(py) = &python {
        let argv = [py.python.display().to_string(), py.password_script.display().to_string()];
        cmds.push(Cmd::new("msal password", &argv.iter().map(String::as_str).collect::<Vec<_>>(), &py.env));
        let mut tls_env = base_env.clone();
        tls_env.push(("BRICKAUTH_CA_BUNDLE".into(), py.ca.display().to_string()));
        cmds.push(Cmd::new("brickauth login (TLS)", &[&bin_s, "login", "-p", "bench-tls"], &tls_env));
    }
    let before = w.entra.token_request_count();
    let m = measure(&scratch, runs, &cmds)?;
    let sent = w.entra.token_request_count() - before;
    let ours = m.get("brickauth login");
    if let Some(_py) = &python {
        let msal = m.get("msal password");
        let speedup = msal.wall.median / ours.wall.median;
        rows.push(Row {
            figure: "fresh password-flow acquisition (loopback mock): wall".into(),
            ours: ms(ours.wall),
            baseline: format!("MSAL {}", ms(msal.wall)),
            ratio: format!("{speedup:.1}× faster"),
            target: "≥ 10× faster".into(),
            met: yes(speedup >= 10.0),
        });
        rows.push(cpu_rss_row("fresh acquisition: CPU / peak RSS", ours, "MSAL", msal, 1, 1));
        let tls = m.get("brickauth login (TLS)");
        let speedup = msal.wall.median / tls.wall.median;
        rows.push(Row {
            figure: "fresh acquisition, both over TLS through the relay: wall".into(),
            ours: ms(tls.wall),
            baseline: format!("MSAL {}", ms(msal.wall)),
            ratio: format!("{speedup:.1}× faster"),
            target: "≥ 10× faster".into(),
            met: yes(speedup >= 10.0),
        });
        rows.push(cpu_rss_row("fresh acquisition over TLS: CPU / peak RSS", tls, "MSAL", msal, 1, 1));
        notes.push(format!(
            "Fresh acquisition: `brickauth login` runs the password flow and stores the result (cache write with fsync \
             included). The first row talks plain HTTP to the loopback mock (allowed for loopback only); MSAL and the \
             TLS row go through a TLS relay on 127.0.0.1:443 (Python asyncio, forwarding to the mock; certificate \
             trusted via `REQUESTS_CA_BUNDLE` / `BRICKAUTH_CA_BUNDLE`), so those include a TLS handshake, loading the \
             platform's CA roots, and one extra local hop. MSAL makes 3 requests (discovery, user realm, token), \
             brickauth 1. {sent} token requests were sent in the series ({} processes).",
            (WARMUP + runs + RSS_RUNS) * 3
        ));
    } else {
        rows.push(Row {
            figure: "fresh password-flow acquisition (`login`, loopback mock): wall".into(),
            ours: ms(ours.wall),
            baseline: "MSAL: not measured".into(),
            ratio: "–".into(),
            target: "≥ 10× faster than MSAL".into(),
            met: "not measured".into(),
        });
    }

    // (c) cold start and size.
    println!("bench: cold start…");
    let cmds = vec![
        Cmd::new("brickauth --version", &[&bin_s, "--version"], &base_env),
        Cmd::new("/bin/true", &["/bin/true"], &base_env),
    ];
    let m = measure(&scratch, runs, &cmds)?;
    let ours = m.get("brickauth --version");
    let truth = m.get("/bin/true");
    rows.push(Row {
        figure: "cold start `--version`: wall".into(),
        ours: ms(ours.wall),
        baseline: format!("/bin/true {:.2} ms", truth.wall.median * 1e3),
        ratio: format!("{:.1}× /bin/true", ours.wall.median / truth.wall.median),
        target: "–".into(),
        met: "–".into(),
    });
    let size = std::fs::metadata(&bin)?.len();
    let stripped = scratch.join("brickauth-stripped");
    let stripped_size = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(&bin)
        .stderr(Stdio::null())
        .status()
        .ok()
        .filter(|s| s.success())
        .and_then(|_| std::fs::metadata(&stripped).ok())
        .map(|m| m.len());
    rows.push(Row {
        figure: "release binary size".into(),
        ours: match stripped_size {
            Some(s) => format!("{:.2} MB stripped ({:.2} MB as built)", s as f64 / 1048576.0, size as f64 / 1048576.0),
            None => format!("{:.2} MB as built (`strip` not available)", size as f64 / 1048576.0),
        },
        baseline: "–".into(),
        ratio: "–".into(),
        target: "–".into(),
        met: "–".into(),
    });

    // (d) clusters list, if the CLI has it.
    let has_clusters = Command::new(&bin)
        .args(["clusters", "list", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if has_clusters {
        println!("bench: clusters list over 10,000 clusters…");
        w.databricks.set_cluster_count(10_000);
        let before = w.databricks.request_count();
        let check = w.run(&["clusters", "list", "-o", "json"], &env_ref, None)?;
        ensure!(check.code == 0, "clusters list failed ({}): {}", check.code, check.stderr);
        let pages = w.databricks.request_count() - before;
        let listed = serde_json::from_str::<Value>(&check.stdout)
            .ok()
            .and_then(|v| v.as_array().map(Vec::len).or_else(|| v["clusters"].as_array().map(Vec::len)));
        let mut cmds = vec![Cmd::new("clusters list", &[&bin_s, "clusters", "list", "-o", "json"], &base_env)];
        let sdk = python.as_ref().map(|py| setup_sdk(&w, py, &scratch, &env_ref));
        match &sdk {
            Some(Ok(c)) => cmds.push(c.clone()),
            Some(Err(e)) => notes.push(format!("Databricks SDK for Python comparison skipped: {e:#}")),
            None => notes.push("Databricks SDK for Python comparison skipped (no Python).".into()),
        }
        // Bounded: a listing takes seconds, not milliseconds.
        let n = runs.clamp(1, CLUSTER_RUNS);
        let m = measure_with(&scratch, 1, n, &cmds)?;
        let ours = m.get("clusters list");
        let theirs = m.by_name.get("databricks-sdk clusters.list");
        let baseline = |f: &dyn Fn(&Series) -> String| theirs.map_or("SDK: not measured".to_owned(), f);
        rows.push(Row {
            figure: format!(
                "`clusters list -o json`, 10,000 clusters / 100 per page ({} listed, {pages} requests), {n} runs: wall",
                listed.map_or("?".to_owned(), |l| l.to_string())
            ),
            ours: ms(ours.wall),
            baseline: baseline(&|t| format!("SDK {}", ms(t.wall))),
            ratio: theirs.map_or("–".into(), |t| format!("{:.1}× faster", t.wall.median / ours.wall.median)),
            target: "–".into(),
            met: "–".into(),
        });
        let cpu_ratio = theirs.map(|t| t.cpu.median / ours.cpu.median);
        rows.push(Row {
            figure: "`clusters list`: CPU (user+sys)".into(),
            ours: ms(ours.cpu),
            baseline: baseline(&|t| format!("SDK {}", ms(t.cpu))),
            ratio: cpu_ratio.map_or("–".into(), |r| format!("{r:.1}× less CPU")),
            target: "≥ 10× less CPU than the SDK".into(),
            met: cpu_ratio.map_or("not measured".into(), |r| yes(r >= 10.0)),
        });
        rows.push(Row {
            figure: "`clusters list`: peak RSS".into(),
            ours: mb(ours.rss),
            baseline: baseline(&|t| format!("SDK {:.1} MB", t.rss.median / 1024.0)),
            ratio: theirs.map_or("–".into(), |t| format!("{:.1}× less RSS", t.rss.median / ours.rss.median)),
            target: "≤ 30 MB".into(),
            met: yes(ours.rss.max <= 30.0 * 1024.0),
        });
        if theirs.is_some() {
            notes.push(
                "`clusters list`: the SDK script is `WorkspaceClient(host, token).clusters.list(page_size=100)` with \
                 every cluster printed as JSON (`as_dict()`), as `brickauth clusters list -o json` prints them; both talk \
                 plain HTTP to the loopback mock workspace."
                    .into(),
            );
        }
    } else {
        notes.push("`brickauth clusters list` is not in this build: the 10,000-cluster figure is not measured.".into());
    }
    if python_wanted {
        rows.extend(
            crate::bench_az::rows(&bin, runs, &mut notes)
                .into_iter()
                .map(|[figure, ours, baseline, ratio, target, met]| Row { figure, ours, baseline, ratio, target, met }),
        );
    }
    drop(python);

    let version =
        Command::new(&bin).arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let report = render(runs, floor_rss, rss_from_time, version.unwrap_or_default(), &rows, &notes);
    let path = root().join("target/bench-report.md");
    std::fs::write(&path, &report).with_context(|| format!("writing {}", path.display()))?;
    println!("\n{report}\n(written to {})", path.display());
    Ok(())
}

fn ratio_str(ours: f64, base: f64, what: &str) -> String {
    if base > 0.0 { format!("{:.1}× {what}", ours / base) } else { "–".into() }
}

fn render(
    runs: usize,
    floor_rss_kb: f64,
    rss_from_time: bool,
    version: String,
    rows: &[Row],
    notes: &[String],
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# brickauth bench report\n");
    let _ = writeln!(
        s,
        "Whole processes, {runs} runs after {WARMUP} warm-up rounds, commands of a comparison interleaved; \
         median [min–max]. Host: {} CPUs, {} {}. `{version}`.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::env::consts::OS,
        std::env::consts::ARCH,
    );
    let _ = writeln!(s, "| figure | brickauth median [min–max] | baseline median | ratio | target | met? |");
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for r in rows {
        let _ = writeln!(s, "| {} | {} | {} | {} | {} | {} |", r.figure, r.ours, r.baseline, r.ratio, r.target, r.met);
    }
    let _ = writeln!(s, "\nNotes:\n");
    if rss_from_time {
        let _ = writeln!(
            s,
            "- Wall and CPU time come from `wait4` in a fresh runner process. Peak RSS comes from {RSS_RUNS} more runs \
             per command under GNU `/usr/bin/time -f %M`: Linux counts the spawning process's RSS into a child's \
             peak, and `time` is the smallest spawner at hand; /bin/true's figure ({:.1} MB) is the floor no figure \
             can go below.",
            floor_rss_kb / 1024.0
        );
    } else {
        let _ = writeln!(
            s,
            "- Peak RSS comes from `wait4` (GNU time is not available). Linux counts the spawning process's RSS into a \
             child's peak, so the series are spawned by a fresh runner process rather than by xtask; /bin/true's \
             figure ({:.1} MB) is that floor, and no figure can be below it.",
            floor_rss_kb / 1024.0
        );
    }
    for n in notes {
        let _ = writeln!(s, "- {n}");
    }
    s
}
