//! `cargo xtask az [--record]`: the `azure-cli` flow against a real Azure CLI, signed in to the
//! mock, with nothing leaving loopback.
//!
//! 1. Outside: a pinned azure-cli ([`AZURE_CLI_VERSION`]) is installed from the package index
//!    into `target/azcli-venv` (once: it takes minutes; later runs reuse it), and the debug binary
//!    is built. Where Python, the index or `unshare` is missing, the task says so and skips.
//! 2. The task runs itself again under `unshare --net`: a network namespace with only `lo`
//!    (brought up here). The mock Entra, a TLS relay on 127.0.0.1:443 (MSAL drops the port for
//!    its user-realm lookup, and az insists on https; a throwaway CA trusted through
//!    `REQUESTS_CA_BUNDLE` / `BRICKAUTH_CA_BUNDLE`), az and brickauth all live in it, so az's own
//!    attempts to reach the Internet (update check, telemetry) have nowhere to go.
//! 3. az gets a cloud of its own (`az cloud register`, its authority `https://127.0.0.1`),
//!    telemetry and instance discovery off, and signs alice in with
//!    `az login -u … -p … --tenant … --allow-no-subscriptions --skip-subscription-discovery`.
//! 4. Checks: brickauth's token is alice's, for the Databricks resource, from the Azure CLI's
//!    client id; no `az` ran (a PATH without az); a second call sends no request; after
//!    `az logout`, brickauth refuses with exit 3 and "run `az login`".
//!
//! `--record` writes the Azure CLI's files for the unit tests' situations into
//! `fixtures/azure-cli/` instead. The same lab serves `cargo xtask bench` (see `bench_az`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail, ensure};
use brickauth_mock::{AZURE_CLI_CLIENT_ID, CLIENT_ID, DATABRICKS_RESOURCE, MockConfig, MockUser, TENANT_ID};
use serde_json::json;

use crate::harness::{Output, World, build_binary, root};

/// The azure-cli release the lab installs.
pub const AZURE_CLI_VERSION: &str = "2.91.0";
/// Set in the re-executed task: it runs inside the namespace.
const INSIDE: &str = "BRICKAUTH_XTASK_NETNS";
/// The second tenant of the "two tenants" recording.
const OTHER_TENANT: &str = "0b9a3c1d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
pub const ALICE: (&str, &str) = ("alice@contoso.com", "correct horse battery staple");
const CAROL: (&str, &str) = ("carol@contoso.com", "carol's long passphrase");

/// The profile brickauth uses against az's sign-in.
const PROFILE: &str = r#"default_profile = "az"

[profiles.az]
flow = "azure-cli"
authority_host = "https://127.0.0.1"
host = "{HOST}"

[profiles.az-cache]
flow = "azure-cli"
azure_cli_mode = "cache"
authority_host = "https://127.0.0.1"
host = "{HOST}"

[profiles.az-process]
flow = "azure-cli"
azure_cli_mode = "process"
authority_host = "https://127.0.0.1"
host = "{HOST}"
"#;

pub fn run(args: &[String]) -> Result<()> {
    if let (Some("__bench"), Some(_)) = (args.first().map(String::as_str), std::env::var_os(INSIDE)) {
        let runs: usize = args.get(1).and_then(|r| r.parse().ok()).context("__bench RUNS OUT")?;
        let out = PathBuf::from(args.get(2).context("__bench RUNS OUT")?);
        let bin = PathBuf::from(std::env::var("BRICKAUTH_XTASK_BIN").context("BRICKAUTH_XTASK_BIN")?);
        return crate::bench_az::inside(&Lab::start(bin)?, runs, &out);
    }
    let record = match args.first().map(String::as_str) {
        None => false,
        Some("--record") => true,
        Some("-h" | "--help") => {
            println!("usage: cargo xtask az [--record]   (--record: rewrite fixtures/azure-cli/ from a real az)");
            return Ok(());
        }
        Some(other) => bail!("unknown argument `{other}` (usage: cargo xtask az [--record])"),
    };
    if std::env::var_os(INSIDE).is_some() {
        let bin = PathBuf::from(std::env::var("BRICKAUTH_XTASK_BIN").context("BRICKAUTH_XTASK_BIN")?);
        let lab = Lab::start(bin)?;
        return if record { record_fixtures(&lab) } else { check(&lab) };
    }
    let Some(venv) = prepare()? else { return Ok(()) };
    let bin = build_binary(false)?;
    in_namespace(&["az".into()].into_iter().chain(args.iter().cloned()).collect::<Vec<_>>(), &bin, &venv)
}

/// The venv with azure-cli, or `None` (after saying why) where it cannot be had.
pub fn prepare() -> Result<Option<PathBuf>> {
    if !cfg!(target_os = "linux") {
        println!("az: skipped: needs Linux network namespaces (unshare --net)");
        return Ok(None);
    }
    for tool in ["unshare", "ip", "openssl", "python3"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            println!("az: skipped: `{tool}` is not installed");
            return Ok(None);
        }
    }
    let probe = Command::new("unshare").args(unshare_args()).arg("true").stderr(Stdio::null()).status();
    if !probe.is_ok_and(|s| s.success()) {
        println!("az: skipped: cannot create a network namespace here (`unshare --net` failed)");
        return Ok(None);
    }
    let venv = root().join("target/azcli-venv");
    let az = venv.join("bin/az");
    let version_ok = venv.join(format!(".azure-cli-{AZURE_CLI_VERSION}")).exists();
    if !(az.exists() && version_ok) {
        println!("az: installing azure-cli {AZURE_CLI_VERSION} into {} (takes minutes, once)…", venv.display());
        let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).status();
        if !made.is_ok_and(|s| s.success()) {
            println!("az: skipped: python3 -m venv failed");
            return Ok(None);
        }
        let pip = Command::new(venv.join("bin/python"))
            .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
            .arg(format!("azure-cli=={AZURE_CLI_VERSION}"))
            .status();
        if !pip.is_ok_and(|s| s.success()) {
            println!("az: skipped: pip could not install azure-cli {AZURE_CLI_VERSION} (no package index?)");
            return Ok(None);
        }
        std::fs::write(venv.join(format!(".azure-cli-{AZURE_CLI_VERSION}")), b"")?;
    }
    Ok(Some(venv))
}

fn unshare_args() -> Vec<&'static str> {
    // SAFETY: geteuid has no preconditions.
    #[cfg(unix)]
    #[allow(unsafe_code)]
    let root = unsafe { libc::geteuid() } == 0;
    // `unshare` is Linux's: elsewhere starting it fails and the task says so.
    #[cfg(not(unix))]
    let root = false;
    if root { vec!["--net", "--"] } else { vec!["--net", "--map-root-user", "--"] }
}

/// Run this xtask again with `args`, inside a new network namespace.
pub fn in_namespace(args: &[String], bin: &Path, venv: &Path) -> Result<()> {
    let me = std::env::current_exe()?;
    let status = Command::new("unshare")
        .args(unshare_args())
        .arg(me)
        .args(args)
        .env(INSIDE, "1")
        .env("BRICKAUTH_XTASK_BIN", bin)
        .env("BRICKAUTH_XTASK_VENV", venv)
        .status()
        .context("unshare")?;
    ensure!(status.success(), "the task in the network namespace failed ({status})");
    Ok(())
}

/// The mocks, the relay and a signed-out az, inside the namespace.
pub struct Lab {
    pub world: World,
    pub venv: PathBuf,
    /// The TLS relay az and brickauth talk to the mock through.
    pub relay: crate::bench::TlsRelay,
    /// The scratch HOME of az and brickauth.
    pub home: PathBuf,
}

/// What an `az` run did.
pub struct AzRun {
    pub code: i32,
    pub stderr: String,
}

impl Lab {
    pub fn start(bin: PathBuf) -> Result<Lab> {
        loopback_only()?;
        let venv = PathBuf::from(std::env::var("BRICKAUTH_XTASK_VENV").context("BRICKAUTH_XTASK_VENV")?);
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let mut config =
            MockConfig { clients: vec![CLIENT_ID.to_owned(), AZURE_CLI_CLIENT_ID.to_owned()], ..MockConfig::default() };
        config.users.push(MockUser::new(CAROL.0, CAROL.1));
        let entra = rt.block_on(brickauth_mock::MockEntra::start_with(config));
        let databricks = rt.block_on(brickauth_mock::MockDatabricks::start(entra.registry()));
        let dir = tempfile::tempdir()?;
        let world = World { rt, entra, databricks, dir, bin, transcript: Default::default() };
        let scratch = world.dir.path().to_path_buf();
        let relay = crate::bench::TlsRelay::start(&world, &venv.join("bin/python"), &scratch)?;
        let home = scratch.join("home");
        std::fs::create_dir_all(&home)?;
        Ok(Lab { world, venv, relay, home })
    }

    /// az's config directory for situation `name` (created, with the mock's cloud set).
    pub fn az_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.world.path(&format!("azure-{name}"));
        std::fs::create_dir_all(&dir)?;
        // The settings az reads before anything else: no telemetry, no survey, no update check.
        std::fs::write(
            dir.join("config"),
            "[core]\ncollect_telemetry = false\nsurvey_message = false\nno_color = true\ninstance_discovery = false\n\
             [auto-upgrade]\nenable = no\n",
        )?;
        let register = self.az(
            &dir,
            &[
                "cloud",
                "register",
                "-n",
                "BrickauthMock",
                "--endpoint-active-directory",
                "https://127.0.0.1",
                "--endpoint-active-directory-resource-id",
                "https://management.core.windows.net/",
                "--endpoint-resource-manager",
                "https://127.0.0.1/arm/",
                "--endpoint-active-directory-graph-resource-id",
                "https://graph.windows.net/",
                "--skip-endpoint-discovery",
            ],
        )?;
        ensure!(register.code == 0, "az cloud register failed: {}", register.stderr);
        let set = self.az(&dir, &["cloud", "set", "-n", "BrickauthMock"])?;
        ensure!(set.code == 0, "az cloud set failed: {}", set.stderr);
        Ok(dir)
    }

    /// The environment az runs with (and nothing else of this process's).
    pub fn az_env(&self, dir: &Path) -> Vec<(String, String)> {
        [
            ("PATH", format!("{}:/usr/bin:/bin", self.venv.join("bin").display())),
            ("HOME", self.home.display().to_string()),
            ("AZURE_CONFIG_DIR", dir.display().to_string()),
            ("REQUESTS_CA_BUNDLE", self.relay.ca.display().to_string()),
            ("AZURE_CORE_COLLECT_TELEMETRY", "false".into()),
            ("AZURE_CORE_SURVEY_MESSAGE", "false".into()),
            ("AZURE_CORE_INSTANCE_DISCOVERY", "false".into()),
            ("AZURE_CORE_NO_COLOR", "true".into()),
            ("AZURE_CORE_LOGIN_EXPERIENCE_V2", "off".into()),
            ("TZ", "UTC".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Run `az ARGS` with config dir `dir`.
    pub fn az(&self, dir: &Path, args: &[&str]) -> Result<AzRun> {
        let out = Command::new(self.venv.join("bin/az"))
            .args(args)
            .env_clear()
            .envs(self.az_env(dir))
            .stdin(Stdio::null())
            .output()
            .context("running az")?;
        Ok(AzRun { code: out.status.code().unwrap_or(-1), stderr: String::from_utf8_lossy(&out.stderr).into_owned() })
    }

    /// `az login` as a user, tenant-level (no subscription discovery: there is no ARM here).
    pub fn login(&self, dir: &Path, (user, password): (&str, &str), tenant: &str) -> Result<()> {
        let o = self.az(
            dir,
            &[
                "login",
                "-u",
                user,
                "-p",
                password,
                "--tenant",
                tenant,
                "--allow-no-subscriptions",
                "--skip-subscription-discovery",
                "-o",
                "none",
            ],
        )?;
        ensure!(o.code == 0, "az login as {user} failed ({}): {}", o.code, o.stderr);
        Ok(())
    }

    /// The brickauth environment for az's config dir `dir`: no az on PATH.
    pub fn brickauth_env(&self, dir: &Path) -> Vec<(String, String)> {
        [
            ("PATH", "/usr/bin:/bin".to_owned()),
            ("AZURE_CONFIG_DIR", dir.display().to_string()),
            ("BRICKAUTH_CA_BUNDLE", self.relay.ca.display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    pub fn brickauth(&self, dir: &Path, args: &[&str], extra: &[(&str, &str)]) -> Result<Output> {
        let env = self.brickauth_env(dir);
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        all.extend_from_slice(extra);
        self.world.run(args, &all, None)
    }
}

/// Bring `lo` up and make sure it is all there is.
fn loopback_only() -> Result<()> {
    let up = Command::new("ip").args(["link", "set", "lo", "up"]).status().context("ip link set lo up")?;
    ensure!(up.success(), "cannot bring lo up in the namespace");
    // `ip`, not /sys/class/net: sysfs shows the namespace it was mounted in.
    let out = Command::new("ip").args(["-o", "link", "show"]).output().context("ip -o link show")?;
    let links: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1).map(|n| n.trim().split('@').next().unwrap_or_default().to_owned()))
        .collect();
    ensure!(links == ["lo"], "the namespace has interfaces other than lo: {links:?}");
    Ok(())
}

/// The checks of `cargo xtask az`.
fn check(lab: &Lab) -> Result<()> {
    let w = &lab.world;
    w.write_profiles("profiles.toml", PROFILE)?;
    let dir = lab.az_dir("check")?;
    lab.login(&dir, ALICE, TENANT_ID)?;
    println!("az: az login as alice done");

    let before = w.entra.token_request_count();
    let o = lab.brickauth(&dir, &["-v", "token", "-o", "json"], &[])?;
    ensure!(o.code == 0, "brickauth token failed ({}): {}", o.code, o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).context("token -o json")?;
    let token = v["accessToken"].as_str().context("accessToken")?;
    let claims = brickauth_mock::jwt::claims(token).context("the token is not a JWT")?;
    ensure!(claims["upn"] == ALICE.0, "the token is not alice's: {}", claims["upn"]);
    ensure!(claims["aud"] == DATABRICKS_RESOURCE, "the token is not for Databricks: {}", claims["aud"]);
    ensure!(claims["appid"] == AZURE_CLI_CLIENT_ID, "the token is not the Azure CLI's: {}", claims["appid"]);
    ensure!(!o.stderr.contains("running the Azure CLI"), "brickauth ran az:\n{}", o.stderr);
    let requests = w.token_requests();
    let sent = &requests[before..];
    ensure!(sent.len() == 1, "expected one token request, saw {}", sent.len());
    let r = &sent[0];
    ensure!(r.get("grant_type").map(String::as_str) == Some("refresh_token"), "not a refresh: {r:?}");
    ensure!(r.get("client_id").map(String::as_str) == Some(AZURE_CLI_CLIENT_ID), "not az's client id");
    ensure!(
        r.get("scope").is_some_and(|s| s.contains(&format!("{DATABRICKS_RESOURCE}/.default"))),
        "not the Databricks scope: {r:?}"
    );
    println!("az: ok: the token is alice's, for Databricks, from one refresh; no az process ran");

    let o2 = lab.brickauth(&dir, &["token"], &[])?;
    ensure!(o2.code == 0, "second brickauth token failed: {}", o2.stderr);
    ensure!(o2.stdout.trim() == token, "the second call returned another token");
    ensure!(w.entra.token_request_count() == before + 1, "the second call sent a request");
    println!("az: ok: the second call sent no request");

    // brickauth hands az its own environment: az needs its PATH and its CA bundle (the mock's).
    let az_env = lab.az_env(&dir);
    let extra: Vec<(&str, &str)> = az_env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let process = lab.brickauth(&dir, &["-p", "az-process", "token"], &extra)?;
    ensure!(process.code == 0, "process mode with the real az failed: {}", process.stderr);
    let claims = brickauth_mock::jwt::claims(process.stdout.trim()).context("process mode: not a JWT")?;
    ensure!(claims["upn"] == ALICE.0, "process mode: not alice's token");
    println!("az: ok: process mode (az account get-access-token) gives alice's token too");

    let out = lab.az(&dir, &["logout"])?;
    ensure!(out.code == 0, "az logout failed: {}", out.stderr);
    let cached = lab.brickauth(&dir, &["token"], &[])?;
    ensure!(cached.code == 3, "after az logout, the cached call: exit {} (expected 3): {}", cached.code, cached.stderr);
    ensure!(!cached.stdout.contains(token), "after az logout, alice's cached token was printed");
    println!("az: ok: after az logout the cached token is not served (exit 3)");
    let o3 = lab.brickauth(&dir, &["token", "--force-refresh"], &[])?;
    ensure!(o3.code == 3, "after az logout: exit {} (expected 3): {}{}", o3.code, o3.stdout, o3.stderr);
    ensure!(o3.stderr.contains("run `az login`"), "after az logout: {}", o3.stderr);
    println!("az: ok: after az logout brickauth refuses (exit 3, run `az login`)");
    leak_scan(lab)?;
    println!("az: all checks passed (azure-cli {AZURE_CLI_VERSION}, in a loopback-only network namespace)");
    Ok(())
}

/// No refresh token or password on any brickauth stderr, none on stdout either.
pub fn leak_scan(lab: &Lab) -> Result<()> {
    let w = &lab.world;
    let mut secrets: Vec<String> = vec![ALICE.1.into(), CAROL.1.into()];
    secrets.extend(w.entra.issued_refresh_tokens());
    let tokens = w.entra.issued_access_tokens();
    let transcript = w.transcript.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    for (args, o) in transcript.iter() {
        for s in secrets.iter().chain(&tokens) {
            ensure!(!o.stderr.contains(s.as_str()), "`brickauth {args}` leaked a secret on stderr");
        }
        for s in &secrets {
            ensure!(!o.stdout.contains(s.as_str()), "`brickauth {args}` printed a refresh token or password");
        }
    }
    Ok(())
}

/// Rewrite `fixtures/azure-cli/` from the real az.
fn record_fixtures(lab: &Lab) -> Result<()> {
    let out = root().join("fixtures/azure-cli");
    let save = |name: &str, dir: &Path| -> Result<()> {
        let to = out.join(name);
        std::fs::create_dir_all(&to)?;
        for f in ["msal_token_cache.json", "azureProfile.json"] {
            let from = dir.join(f);
            if from.exists() {
                std::fs::copy(&from, to.join(f)).with_context(|| format!("copying {}", from.display()))?;
            }
        }
        println!("az: recorded {}", to.display());
        Ok(())
    };
    let d = lab.az_dir("one-user")?;
    lab.login(&d, ALICE, TENANT_ID)?;
    save("one-user", &d)?;

    // az leaves an account without a refresh token behind only in states it does not make on
    // Linux (a broker sign-in, a cache edited by another tool): derived from `one-user`.
    let to = out.join("no-refresh-token");
    std::fs::create_dir_all(&to)?;
    let mut cache: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("msal_token_cache.json"))?)?;
    cache["RefreshToken"] = json!({});
    std::fs::write(to.join("msal_token_cache.json"), serde_json::to_string_pretty(&cache)?)?;
    std::fs::copy(d.join("azureProfile.json"), to.join("azureProfile.json"))?;
    println!("az: derived {}", to.display());

    let d = lab.az_dir("two-users")?;
    lab.login(&d, ALICE, TENANT_ID)?;
    lab.login(&d, CAROL, TENANT_ID)?;
    save("two-users", &d)?;

    let d = lab.az_dir("two-tenants")?;
    lab.login(&d, ALICE, TENANT_ID)?;
    lab.login(&d, ALICE, OTHER_TENANT)?;
    save("two-tenants", &d)?;

    let d = lab.az_dir("service-principal")?;
    let o = lab.az(
        &d,
        &[
            "login",
            "--service-principal",
            "-u",
            brickauth_mock::SP_CLIENT_ID,
            "-p",
            brickauth_mock::SP_CLIENT_SECRET,
            "--tenant",
            TENANT_ID,
            "--allow-no-subscriptions",
            "--skip-subscription-discovery",
            "-o",
            "none",
        ],
    )?;
    ensure!(o.code == 0, "az login --service-principal failed: {}", o.stderr);
    save("service-principal", &d)?;

    let d = lab.az_dir("logged-out")?;
    lab.login(&d, ALICE, TENANT_ID)?;
    let o = lab.az(&d, &["logout"])?;
    ensure!(o.code == 0, "az logout failed: {}", o.stderr);
    save("logged-out", &d)?;
    Ok(())
}
