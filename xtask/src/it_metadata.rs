//! Integration cases for the metadata service (`exec`, `serve`), the token helper's choice of
//! profile, and host-only profiles: the real binary against the mocks, and the real Databricks SDK
//! for Python (from `cargo xtask sdk`'s virtual environment) as a child of `brickauth exec`.
//!
//! The protocol cases talk raw HTTP/1.1 over loopback to a `brickauth serve`, as the SDKs do. The
//! SDK cases run with short tokens and list clusters again and again for 65 s: every call must
//! succeed, the workspace must see several distinct tokens, and the identity provider about one
//! token request per token lifetime, however many SDK processes ask. "Lifetime" as the soak counts
//! it: the SDK treats a token with 40 s left as expired, and the service renews below its 40-s
//! floor, so a token issued for 50 s (under a minute) is *usable* for 10 s; renewals come every
//! ~10 s and the bound is elapsed / 10 s + 2.
//!
//! Every case uses its own cache directory, so the suite's long-lived cached tokens do not hide
//! renewals; every run lands in the world's transcript for the leak scan.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::harness::{Output, Suite, World, expect_code, expect_contains};

const ALICE_PASSWORD: &str = "correct horse battery staple";

/// Issued token lifetime for the SDK cases, and how long they run.
const SHORT_LIFETIME: i64 = 50;
const SDK_RUN_SECS: u64 = 65;

const PROFILES: &str = r#"default_profile = "alice"

[defaults]
client_id = "{CLIENT}"
authority_host = "{AUTHORITY}"
host = "{HOST}"

[profiles.alice]
flow = "password"
tenant_id = "{TENANT}"
username = "alice@contoso.com"
password_env = "ALICE_PASSWORD"

[profiles.bob]
# Another profile on the same host: a refresh token for bob.
flow = "refresh-token"
tenant_id = "{TENANT}"
refresh_token_file = "{DIR}/bob-rt.txt"

[profiles.hostonly]
# No tenant_id: found through the workspace and remembered.
flow = "password"
username = "alice@contoso.com"
password_env = "ALICE_PASSWORD"
"#;

/// Lists clusters again and again for `SECS` seconds; prints `calls failures`.
const SDK_LOOP: &str = r#"
import sys, time
from databricks.sdk import WorkspaceClient
w = WorkspaceClient()
end = time.time() + float(sys.argv[1])
calls = failures = 0
while time.time() < end:
    try:
        n = sum(1 for _ in w.clusters.list())
        assert n == 3, n
    except Exception as e:
        failures += 1
        print("call failed:", repr(e), file=sys.stderr)
    calls += 1
    time.sleep(0.25)
print(calls, failures)
"#;

/// The signed-in user per SCIM Me, through the SDK configured with a profile name.
const SDK_ME: &str = r#"
import sys
from databricks.sdk import WorkspaceClient
w = WorkspaceClient() if sys.argv[1] == "-" else WorkspaceClient(profile=sys.argv[1])
print(w.current_user.me().user_name)
"#;

/// Every case of this module, in order.
pub fn cases(w: &World, s: &mut Suite) {
    let config = match setup(w) {
        Ok(c) => c,
        Err(e) => {
            s.case("metadata: set-up", || Err(e));
            return;
        }
    };
    let config = config.display().to_string();
    let base = |cache: &str| -> Vec<(String, String)> {
        vec![
            ("ALICE_PASSWORD".into(), ALICE_PASSWORD.into()),
            ("BRICKAUTH_CONFIG".into(), config.clone()),
            ("BRICKAUTH_CACHE_DIR".into(), w.path(cache).display().to_string()),
        ]
    };
    let run = |cache: &str, args: &[&str], extra: &[(&str, &str)]| -> Result<Output> {
        let vars = base(cache);
        let mut env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        env.extend_from_slice(extra);
        w.run(args, &env, None)
    };

    s.case("metadata: serve answers the protocol and refuses what it must (4xx), 50 at once", || {
        let serve = Serve::start(w, &base("cache-serve"))?;
        let result = protocol_checks(w, &serve);
        let stopped = serve.stop(w);
        result?;
        stopped.map(drop)
    });

    s.case("metadata: 1000 idle connections from another process; honest requests answered in < 1 s", || {
        // macOS's default of 256 descriptors: the idle connections exhaust them before the cap.
        let serve = Serve::start_limited(w, &base("cache-serve"), Some(256))?;
        let result = idle_flood(&serve);
        let stopped = serve.stop(w);
        result?;
        let stderr = stopped?;
        let warnings = stderr.lines().filter(|l| l.contains("WARN")).count();
        ensure!(
            warnings <= 4,
            "{warnings} warning lines for one flood (rate-limited to one per kind per 10 s):\n{stderr}"
        );
        Ok(())
    });

    s.case("metadata: ulimit -c unlimited + SIGABRT to serve leaves no core (RLIMIT_CORE 0, non-dumpable)", || {
        #[cfg(target_os = "linux")]
        return no_core_dump(w, &base("cache-serve"));
        #[cfg(not(target_os = "linux"))]
        {
            println!("      skipped: reads /proc and uses prlimit (Linux)");
            Ok(())
        }
    });

    s.case("metadata: exec gives CMD a working service, no secret variable; refused after CMD exits", || {
        let script = r#"import os, sys, urllib.request as u
url = os.environ["DATABRICKS_METADATA_SERVICE_URL"]
print(url)
print(os.environ["DATABRICKS_AUTH_TYPE"])
print(os.environ.get("ALICE_PASSWORD", "<unset>"))
r = u.urlopen(u.Request(url, headers={"X-Databricks-Metadata-Version": "1", "X-Databricks-Host": os.environ["DATABRICKS_HOST"]}))
print(r.read().decode())
sys.exit(5)"#;
        let o = run("cache-exec", &["-vv", "exec", "--", "python3", "-c", script], &[])?;
        expect_code(&o, 5)?;
        let lines: Vec<&str> = o.stdout.lines().collect();
        ensure!(lines.len() == 4, "child output: {}", o.stdout);
        ensure!(lines[0].starts_with("http://127.0.0.1:") && lines[0].len() > 64, "url: {}", lines[0]);
        ensure!(lines[1] == "metadata-service", "auth type: {}", lines[1]);
        ensure!(lines[2] == "<unset>", "the child saw ALICE_PASSWORD: {}", lines[2]);
        let v: Value = serde_json::from_str(lines[3])?;
        let token = v["access_token"].as_str().unwrap_or_default();
        ensure!(w.entra.issued_access_tokens().iter().any(|t| t == token), "not an issued token: {v}");
        ensure!(v["token_type"] == "Bearer" && v["expires_on"].is_i64(), "{v}");
        match TcpStream::connect(lines[0].trim_start_matches("http://").split('/').next().unwrap_or_default()) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(()),
            Err(e) => bail!("expected connection refused after CMD exited, got {e}"),
            Ok(_) => bail!("the service still accepts connections after CMD exited"),
        }
    });

    s.case("metadata: SIGTERM to exec reaches CMD; CMD's signal is exec's exit code (128+15)", || {
        let o = run("cache-exec", &["exec", "--", "sh", "-c", "kill -TERM $PPID; exec sleep 5"], &[])?;
        // (A SIGTERM that arrives before brickauth has recorded the child's pid is kept and
        // delivered once it has: this one races the spawn on purpose.)
        expect_code(&o, 143)?;
        ensure!(o.elapsed < Duration::from_secs(4), "CMD was not signalled: took {:?}", o.elapsed);
        Ok(())
    });

    s.case("metadata: the Databricks SDK for Python under exec, 50-s tokens, 65 s of listings", || {
        sdk_case(w, &base("cache-sdk1"), 1)
    });

    s.case("metadata: two SDK children at once share one service and its renewals", || {
        sdk_case(w, &base("cache-sdk2"), 2)
    });

    s.case("token helper: --host with two profiles on it fails naming them and the fix", || {
        let host = w.databricks.uri();
        let o = run_without_default(w, &config, "cache-helper", &["auth", "token", "--host", &host], &[])?;
        expect_code(&o, 2)?;
        expect_contains(&o.stderr, "`alice`, `bob`, `hostonly`", "stderr")?;
        expect_contains(&o.stderr, "default_for_host = true", "stderr")?;
        Ok(())
    });

    s.case(
        "token helper: --host never guesses: candidates listed, then $DATABRICKS_CONFIG_PROFILE, then the marker",
        || {
            let host = w.databricks.uri();
            let who = |o: &Output| -> Result<String> {
                let v: Value = serde_json::from_str(&o.stdout).with_context(|| format!("stdout: {}", o.stdout))?;
                let token = v["access_token"].as_str().unwrap_or_default();
                whoami(w, token)
            };
            // The file's default_profile (alice) is no answer for a tool: several profiles, none named.
            let o = run("cache-helper", &["auth", "token", "--host", &host], &[])?;
            expect_code(&o, 2)?;
            expect_contains(&o.stderr, "`alice`, `bob`", "the candidates")?;
            expect_contains(&o.stderr, "default_for_host = true", "the fix")?;
            // What an SDK configured by environment passes down.
            // bob's own cache directory: a profile without a binding may be served the identity's
            // only cached entry (alice's), which is the cache's rule, not the helper's choice.
            let o =
                run("cache-bob", &["-v", "auth", "token", "--host", &host], &[("DATABRICKS_CONFIG_PROFILE", "bob")])?;
            expect_code(&o, 0)?;
            ensure!(who(&o)? == "bob@contoso.com", "DATABRICKS_CONFIG_PROFILE=bob gave {}: {}", who(&o)?, o.stderr);
            expect_contains(&o.stderr, "$DATABRICKS_CONFIG_PROFILE names it", "stderr")?;
            // A marked profile wins over the default.
            let marked = w.path("marked.toml");
            let text = std::fs::read_to_string(&config)?
                .replace("[profiles.bob]\n", "[profiles.bob]\ndefault_for_host = true\n");
            std::fs::write(&marked, text)?;
            let o = run(
                "cache-bob",
                &["auth", "token", "--host", &host],
                &[("BRICKAUTH_CONFIG", &marked.display().to_string())],
            )?;
            expect_code(&o, 0)?;
            ensure!(who(&o)? == "bob@contoso.com", "marked bob, got {}", who(&o)?);
            Ok(())
        },
    );

    s.case(
        "token helper: the SDK configured with profile bob gets bob's token (wrapper; DATABRICKS_CONFIG_PROFILE)",
        || {
            let Some(python) = sdk_python()? else { return Ok(()) };
            // WorkspaceClient(profile="bob"): the SDK passes only --host to a helper older than the
            // Databricks CLI 0.207.1, so `databricks_cli_path` names a two-line wrapper that says -p bob.
            let wrapper = w.path("brickauth-bob");
            std::fs::write(&wrapper, format!("#!/bin/sh\nexec '{}' -p bob \"$@\"\n", w.bin.display()))?;
            make_executable(&wrapper)?;
            // WorkspaceClient() with DATABRICKS_CONFIG_PROFILE=bob: the helper inherits the variable.
            let homes = [("home-wrapper", wrapper.clone(), "bob", None), ("home-env", w.bin.clone(), "-", Some("bob"))];
            let script = w.path("sdk_me.py");
            std::fs::write(&script, SDK_ME)?;
            let vars = base("cache-bob");
            for (home, helper, arg, env_profile) in homes {
                let home = w.path(home);
                std::fs::create_dir_all(&home)?;
                std::fs::write(
                    home.join(".databrickscfg"),
                    format!(
                        "[bob]\nhost = {}\nauth_type = databricks-cli\ndatabricks_cli_path = {}\n",
                        w.databricks.uri(),
                        helper.display()
                    ),
                )?;
                let mut cmd = python_cmd(&python, &home, &vars);
                cmd.arg(&script).arg(arg);
                if let Some(p) = env_profile {
                    cmd.env("DATABRICKS_CONFIG_PROFILE", p);
                }
                let out = cmd.output()?;
                let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                ensure!(out.status.success(), "SDK ({arg}, {env_profile:?}): {stderr}");
                let got = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                ensure!(got == "bob@contoso.com", "SDK ({arg}, {env_profile:?}) got {got}'s token");
                w.transcript.lock().map_err(|_| anyhow::anyhow!("transcript lock"))?.push((
                    format!("python sdk_me.py {arg}"),
                    Output { code: 0, stdout: String::new(), stderr, elapsed: Duration::ZERO },
                ));
            }
            Ok(())
        },
    );

    s.case("host only: token works without tenant_id; the tenant is remembered, then no network", || {
        let cache = w.path("cache-hostonly");
        let before = aad_requests(w);
        let o = run("cache-hostonly", &["-v", "-p", "hostonly", "token"], &[])?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, "discovered from", "stderr")?;
        ensure!(aad_requests(w) == before + 1, "expected one /aad/auth request");
        let tenants: Value = serde_json::from_str(&std::fs::read_to_string(cache.join("tenants.json"))?)?;
        let entry = &tenants["hosts"][w.databricks.uri().to_lowercase()];
        ensure!(entry["tenant"] == brickauth_mock::TENANT_ID, "tenants.json: {tenants}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(cache.join("tenants.json"))?.permissions().mode() & 0o777;
            ensure!(mode == 0o600, "tenants.json mode {mode:o}");
        }
        // The cached path: neither the workspace nor the identity provider is asked.
        let (aad, tokens) = (aad_requests(w), w.entra.token_request_count());
        let o2 = run("cache-hostonly", &["-v", "-p", "hostonly", "token"], &[])?;
        expect_code(&o2, 0)?;
        ensure!(o2.stdout == o.stdout, "a different token the second time");
        expect_contains(&o2.stderr, "remembered in", "stderr")?;
        ensure!(aad_requests(w) == aad && w.entra.token_request_count() == tokens, "the cached path used the network");
        Ok(())
    });

    s.case("host only: a remembered tenant the workspace no longer has is re-learned, with a warning", || {
        let cache = w.path("cache-moved");
        std::fs::create_dir_all(&cache)?;
        let stale = serde_json::json!({"version": 1, "hosts": {
            w.databricks.uri().to_lowercase(): {"tenant": "00000000-0000-0000-0000-00000000dead", "learned_at": 1}
        }});
        std::fs::write(cache.join("tenants.json"), stale.to_string())?;
        // What Entra answers a sign-in to a tenant the user is not in (the mock ignores tenants).
        let body = serde_json::json!({
            "error": "invalid_grant",
            "error_description": "AADSTS50020: User account 'alice@contoso.com' from identity provider \
                'live.com' does not exist in tenant 'dead' and cannot access the application.",
            "error_codes": [50020],
            "trace_id": "00000000-0000-0000-0000-000000000001",
            "correlation_id": "00000000-0000-0000-0000-000000000002"
        });
        w.entra.fail_next(vec![brickauth_mock::Failure::Status {
            status: 400,
            retry_after: None,
            body: body.to_string(),
            content_type: "application/json; charset=utf-8".into(),
        }]);
        let o = run("cache-moved", &["-p", "hostonly", "token"], &[]);
        w.entra.clear_failures();
        let o = o?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, &format!("now belongs to tenant {}", brickauth_mock::TENANT_ID), "stderr")?;
        let tenants = std::fs::read_to_string(cache.join("tenants.json"))?;
        expect_contains(&tenants, brickauth_mock::TENANT_ID, "tenants.json")?;
        Ok(())
    });
}

/// The profile file, and bob's refresh token.
fn setup(w: &World) -> Result<PathBuf> {
    std::fs::write(w.path("bob-rt.txt"), w.entra.issue_refresh_token("bob@contoso.com"))?;
    w.write_profiles("metadata.toml", &PROFILES.replace("{DIR}", &w.dir.path().display().to_string()))
}

/// The same file without `default_profile`, for the ambiguous case.
fn run_without_default(w: &World, config: &str, cache: &str, args: &[&str], extra: &[(&str, &str)]) -> Result<Output> {
    let path = w.path("metadata-nodefault.toml");
    let text = std::fs::read_to_string(config)?.replace("default_profile = \"alice\"\n", "");
    std::fs::write(&path, text)?;
    let (path, cache) = (path.display().to_string(), w.path(cache).display().to_string());
    let mut env = vec![
        ("ALICE_PASSWORD", ALICE_PASSWORD),
        ("BRICKAUTH_CONFIG", path.as_str()),
        ("BRICKAUTH_CACHE_DIR", cache.as_str()),
    ];
    env.extend_from_slice(extra);
    w.run(args, &env, None)
}

/// SCIM Me's userName for `token`, asked of the mock workspace directly.
fn whoami(w: &World, token: &str) -> Result<String> {
    let url = format!("{}/api/2.0/preview/scim/v2/Me", w.databricks.uri());
    let (status, body) = http_get(&url, &[("Authorization", &format!("Bearer {token}"))])?;
    ensure!(status == 200, "SCIM Me: {status} {body}");
    let v: Value = serde_json::from_str(&body)?;
    Ok(v["userName"].as_str().unwrap_or_default().to_owned())
}

fn aad_requests(w: &World) -> usize {
    w.rt.block_on(w.databricks.requests()).iter().filter(|r| r.path == "/aad/auth").count()
}

/// A running `brickauth serve -o json` (it_coalesce.rs starts one too).
pub(crate) struct Serve {
    child: std::process::Child,
    pub(crate) url: String,
    pub(crate) host: String,
}

impl Serve {
    pub(crate) fn start(w: &World, vars: &[(String, String)]) -> Result<Serve> {
        Serve::start_limited(w, vars, None)
    }

    /// `serve`, with at most `nofile` file descriptors when given (Unix).
    fn start_limited(w: &World, vars: &[(String, String)], nofile: Option<u64>) -> Result<Serve> {
        Serve::start_with(w, vars, |cmd| {
            #[cfg(unix)]
            if let Some(n) = nofile {
                with_rlimit(cmd, libc::RLIMIT_NOFILE as i32, n as libc::rlim_t);
            }
            #[cfg(not(unix))]
            let _ = (cmd, nofile);
        })
    }

    /// `serve`, its command set up by `setup` first.
    fn start_with(w: &World, vars: &[(String, String)], setup: impl FnOnce(&mut Command)) -> Result<Serve> {
        let mut cmd = Command::new(&w.bin);
        setup(&mut cmd);
        cmd.args(["-vv", "serve", "-o", "json"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", w.path("home"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().context("starting brickauth serve")?;
        let mut line = String::new();
        let stdout = child.stdout.take().context("serve's stdout")?;
        BufReader::new(stdout).read_line(&mut line)?;
        let v: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(_) => {
                let _ = child.kill();
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                bail!("serve printed {line:?}; stderr: {err}");
            }
        };
        let url = v["DATABRICKS_METADATA_SERVICE_URL"].as_str().unwrap_or_default().to_owned();
        let host = v["DATABRICKS_HOST"].as_str().unwrap_or_default().to_owned();
        ensure!(v["DATABRICKS_AUTH_TYPE"] == "metadata-service", "{v}");
        Ok(Serve { child, url, host })
    }

    /// SIGTERM; it must exit 0 and then refuse connections. Its stderr joins the transcript and
    /// is returned.
    #[allow(unsafe_code)] // kill(2), below
    pub(crate) fn stop(mut self, w: &World) -> Result<String> {
        #[cfg(unix)]
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        #[cfg(not(unix))]
        let _ = self.child.kill();
        let start = Instant::now();
        let status = self.child.wait()?;
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            e.read_to_string(&mut stderr)?;
        }
        let o = Output { code: status.code().unwrap_or(-1), stdout: String::new(), stderr, elapsed: start.elapsed() };
        w.transcript.lock().map_err(|_| anyhow::anyhow!("transcript lock"))?.push(("-vv serve".into(), o.clone()));
        expect_code(&o, 0)?;
        ensure!(http_get(&self.url, &[]).is_err(), "serve still answers after SIGTERM");
        Ok(o.stderr)
    }
}

/// Run `cmd` with `resource`'s soft and hard limits set to `value`.
#[cfg(unix)]
#[allow(unsafe_code)] // setrlimit in the child before exec: see the SAFETY comment
fn with_rlimit(cmd: &mut Command, resource: i32, value: libc::rlim_t) {
    use std::os::unix::process::CommandExt;
    let limit = libc::rlimit { rlim_cur: value, rlim_max: value };
    // SAFETY: setrlimit(2) is async-signal-safe; the closure touches nothing else.
    unsafe {
        cmd.pre_exec(move || {
            // The resource's type differs between libc targets (an enum on glibc): cast.
            if libc::setrlimit(resource as _, &limit) == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
        });
    }
}

/// `ulimit -c unlimited`, `brickauth serve`, then SIGABRT: no core. Checked three ways, so that it
/// holds however `core_pattern` is set (a file in the cwd, or a pipe to a crash handler): the
/// running process's soft `RLIMIT_CORE` is 0 (`/proc/PID/limits`); with the limit raised again
/// from outside (`prlimit`, as another process of the user could), SIGABRT still dumps nothing,
/// which only the non-dumpable flag explains (the wait status has no core flag, and no `core*`
/// file appears in the cwd); and, when not root, `/proc/PID/status` belongs to root, the kernel's mark of
/// a non-dumpable process.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // geteuid, kill: see the SAFETY comments
fn no_core_dump(w: &World, vars: &[(String, String)]) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::ExitStatusExt;
    let cwd = w.path("core-cwd");
    std::fs::create_dir_all(&cwd)?;
    let mut serve = Serve::start_with(w, vars, |cmd| {
        cmd.current_dir(&cwd);
        with_rlimit(cmd, libc::RLIMIT_CORE as i32, libc::RLIM_INFINITY);
    })?;
    let pid = serve.child.id();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits"))?;
    let core = limits.lines().find(|l| l.starts_with("Max core file size")).context("no core line in limits")?;
    let soft = core.trim_start_matches("Max core file size").split_whitespace().next().unwrap_or_default();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let owner = std::fs::metadata(format!("/proc/{pid}/status"))?.uid();
    let raise = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
    // SAFETY: prlimit(2) and kill(2) on our own child; `raise` outlives the call.
    let (raised, _) = unsafe {
        (
            libc::prlimit(pid as libc::pid_t, libc::RLIMIT_CORE, &raise, std::ptr::null_mut()),
            libc::kill(pid as libc::pid_t, libc::SIGABRT),
        )
    };
    let status = serve.child.wait()?;
    let cores: Vec<String> = std::fs::read_dir(&cwd)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("core"))
        .collect();
    for c in &cores {
        let _ = std::fs::remove_file(cwd.join(c));
    }
    let mut stderr = String::new();
    if let Some(mut e) = serve.child.stderr.take() {
        e.read_to_string(&mut stderr)?;
    }
    let o = Output { code: status.code().unwrap_or(-1), stdout: String::new(), stderr, elapsed: Duration::ZERO };
    w.transcript.lock().map_err(|_| anyhow::anyhow!("transcript lock"))?.push(("serve (SIGABRT)".into(), o));
    ensure!(soft == "0", "RLIMIT_CORE of the running serve: {core}");
    ensure!(root || owner == 0, "/proc/{pid}/status belongs to uid {owner}: the process is dumpable");
    ensure!(raised == 0, "prlimit failed: {}", std::io::Error::last_os_error());
    ensure!(status.signal() == Some(libc::SIGABRT), "serve ended with {status:?}, not SIGABRT");
    ensure!(!status.core_dumped(), "the kernel dumped serve's core");
    ensure!(cores.is_empty(), "core files in serve's cwd: {cores:?}");
    Ok(())
}

/// Hold 1000 idle connections to `serve` (another local user cannot know the path, but can
/// connect), then ask as an honest tool would, five times: each answer within a second.
fn idle_flood(serve: &Serve) -> Result<()> {
    let authority = serve.url.trim_start_matches("http://").split('/').next().unwrap_or_default().to_owned();
    let addr: std::net::SocketAddr = authority.parse().with_context(|| format!("address {authority}"))?;
    let mut idle = Vec::with_capacity(1000);
    for _ in 0..1000 {
        idle.push(TcpStream::connect_timeout(&addr, Duration::from_secs(5)).context("an idle connection")?);
    }
    let good = [("X-Databricks-Metadata-Version", "1"), ("X-Databricks-Host", serve.host.as_str())];
    for i in 0..5 {
        let started = Instant::now();
        let (status, body) = http_get(&serve.url, &good)?;
        let took = started.elapsed();
        ensure!(status == 200 && body.contains("access_token"), "honest request {i}: {status} {body}");
        ensure!(took < Duration::from_secs(1), "honest request {i} among 1000 idle connections took {took:?}");
        // More idle connections between the honest ones.
        for _ in 0..100 {
            idle.push(TcpStream::connect_timeout(&addr, Duration::from_secs(5))?);
        }
    }
    drop(idle);
    Ok(())
}

fn protocol_checks(w: &World, serve: &Serve) -> Result<()> {
    let (url, host) = (serve.url.as_str(), serve.host.as_str());
    ensure!(url.starts_with("http://127.0.0.1:"), "url {url}");
    let secret_path = url.rsplit('/').next().unwrap_or_default();
    ensure!(secret_path.len() >= 32, "path of {} characters is guessable", secret_path.len());
    let good = [("X-Databricks-Metadata-Version", "1"), ("X-Databricks-Host", host)];
    let (status, body) = http_get(url, &good)?;
    ensure!(status == 200, "good request: {status} {body}");
    let v: Value = serde_json::from_str(&body)?;
    let token = v["access_token"].as_str().unwrap_or_default();
    ensure!(w.entra.issued_access_tokens().iter().any(|t| t == token), "not an issued token");
    ensure!(v["token_type"] == "Bearer", "{v}");
    ensure!(v["expires_on"].as_i64().is_some_and(|e| e > now() + 60), "expires_on: {v}");

    let root = url.trim_end_matches(secret_path);
    type Refused<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, u16);
    let refused: [Refused; 5] = [
        ("missing version header", url.to_owned(), vec![("X-Databricks-Host", host)], 400),
        (
            "wrong version",
            url.to_owned(),
            vec![("X-Databricks-Metadata-Version", "2"), ("X-Databricks-Host", host)],
            400,
        ),
        (
            "wrong host",
            url.to_owned(),
            vec![("X-Databricks-Metadata-Version", "1"), ("X-Databricks-Host", "https://adb-9.9.azuredatabricks.net")],
            403,
        ),
        ("another path", format!("{root}token"), good.to_vec(), 404),
        ("the root", root.to_owned(), good.to_vec(), 404),
    ];
    for (what, u, headers, want) in refused {
        let (status, body) = http_get(&u, &headers)?;
        ensure!(status == want, "{what}: {status} (expected {want}) {body}");
        ensure!(!body.contains(token), "{what}: the refusal carries the token");
    }
    // 50 concurrent requests, all answered with the same cached token, no token request.
    let before = w.entra.token_request_count();
    for (status, body) in crate::harness::concurrently(50, |_| http_get(url, &good))? {
        ensure!(status == 200 && body.contains(token), "concurrent: {status} {body}");
    }
    ensure!(w.entra.token_request_count() == before, "concurrent requests sent token requests");
    Ok(())
}

/// `n` SDK children under one `brickauth exec`, short tokens, `SDK_RUN_SECS` of listings.
fn sdk_case(w: &World, vars: &[(String, String)], n: usize) -> Result<()> {
    let Some(python) = sdk_python()? else { return Ok(()) };
    let script = w.path("sdk_loop.py");
    std::fs::write(&script, SDK_LOOP)?;
    let home = w.path("home-sdk");
    std::fs::create_dir_all(&home)?;
    let py = format!("'{}' '{}' {SDK_RUN_SECS}", python.display(), script.display());
    let children = vec![py; n].join(" & ") + " & wait";
    w.entra.set_token_lifetime(SHORT_LIFETIME);
    let requests_before = w.rt.block_on(w.databricks.requests()).len();
    let tokens_before = w.entra.token_request_count();
    let start = Instant::now();
    let mut env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let home_s = home.display().to_string();
    env.push(("HOME", &home_s));
    env.push(("NO_PROXY", "127.0.0.1,localhost"));
    let o = w.run(&["-vv", "exec", "--min-validity", "40", "--", "sh", "-c", &children], &env, None);
    w.entra.set_token_lifetime(3600);
    let o = o?;
    let elapsed = start.elapsed().as_secs_f64();
    expect_code(&o, 0)?;
    let mut calls = 0;
    for line in o.stdout.lines() {
        let nums: Vec<u64> = line.split(' ').filter_map(|x| x.parse().ok()).collect();
        ensure!(nums.len() == 2 && nums[1] == 0, "an SDK child reported failures: {line}\n{}", o.stderr);
        calls += nums[0];
    }
    ensure!(o.stdout.lines().count() == n, "expected {n} children's reports: {}", o.stdout);
    let requests = w.rt.block_on(w.databricks.requests());
    let mut distinct: Vec<&str> = requests[requests_before..]
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
        .filter_map(|r| r.headers.get("authorization").map(String::as_str))
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    let token_requests = w.entra.token_request_count() - tokens_before;
    // Usable for SHORT_LIFETIME − 40 s (the SDK's and the service's margin): one renewal each.
    let usable = (SHORT_LIFETIME - 40) as f64;
    let bound = (elapsed / usable).ceil() as usize + 2;
    println!(
        "      {n} SDK child(ren): {calls} listings in {elapsed:.0} s, {} distinct tokens at the workspace, \
         {token_requests} token requests to the identity provider (≤ {bound} allowed)",
        distinct.len()
    );
    ensure!(calls as usize >= 20 * n, "only {calls} listings");
    let at_least = (elapsed / usable / 2.0).floor() as usize;
    ensure!(
        distinct.len() >= at_least.max(3),
        "the workspace saw {} distinct tokens: too few renewals",
        distinct.len()
    );
    ensure!(token_requests <= bound, "{token_requests} token requests for {elapsed:.0} s (bound {bound})");
    Ok(())
}

/// The virtual environment's Python with the SDK, or `None` (said) when it cannot be had.
fn sdk_python() -> Result<Option<PathBuf>> {
    match crate::sdk::venv() {
        Ok(p) => Ok(Some(p)),
        Err(e) => {
            println!("      SKIPPED: the Databricks SDK for Python is not available: {e:#}");
            Ok(None)
        }
    }
}

fn python_cmd(python: &Path, home: &Path, vars: &[(String, String)]) -> Command {
    let mut cmd = Command::new(python);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

fn make_executable(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    let _ = path;
    Ok(())
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// One HTTP/1.1 GET over loopback: status and body. Connection errors are errors.
pub fn http_get(url: &str, headers: &[(&str, &str)]) -> Result<(u16, String)> {
    let rest = url.strip_prefix("http://").with_context(|| format!("not an http URL: {url}"))?;
    let (authority, path) = rest.split_once('/').map(|(a, p)| (a, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut s = TcpStream::connect(authority)?;
    s.set_read_timeout(Some(Duration::from_secs(15)))?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        bail!("chunked answers are not read by this helper");
    }
    Ok((status, body.to_owned()))
}
