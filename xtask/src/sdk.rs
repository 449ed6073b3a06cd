//! `cargo xtask sdk`: the Databricks SDK for Python uses brickauth as its token helper.
//!
//! A throwaway virtual environment (`target/sdk-venv`) gets `databricks-sdk`; a scratch
//! `~/.databrickscfg` says `auth_type = databricks-cli` with `databricks_cli_path` pointing at the
//! real `brickauth` binary; the SDK then lists the mock workspace's clusters and asks SCIM Me with
//! tokens it got from `brickauth auth token`. Where Python, venv or the package cannot be had, the
//! task says so and succeeds: it proves an integration, not the machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail, ensure};

use crate::harness::{World, build_binary, root};

/// Lists the clusters of the `[mock]` workspace and reads SCIM Me; prints the count and the user name.
pub const SCRIPT: &str = r#"
import sys
from databricks.sdk import WorkspaceClient
w = WorkspaceClient(profile="mock")
n = sum(1 for _ in w.clusters.list())
me = w.current_user.me()
print(n)
print(me.user_name)
"#;

/// What [`list_with_helper`] saw: the API requests the SDK made (each carried a token) and the
/// other requests (unauthenticated metadata probes).
pub struct Listing {
    /// How many requests went to `/api/`.
    pub api: usize,
    /// `METHOD path` of every other request.
    pub others: Vec<String>,
}

/// [`SCRIPT`] run by `python` (with `databricks-sdk`), through a scratch `~/.databrickscfg` whose
/// `[mock]` section names `helper` as its `databricks_cli_path`, and brickauth reading `profiles`
/// (`extra_env` added): it must list `clusters` clusters, SCIM Me must say alice, and every API
/// request must carry a token.
pub fn list_with_helper(
    w: &World,
    python: &Path,
    helper: &Path,
    profiles: &Path,
    extra_env: &[(&str, &str)],
    clusters: usize,
) -> Result<Listing> {
    let home = w.path("home");
    std::fs::create_dir_all(&home)?;
    std::fs::write(
        home.join(".databrickscfg"),
        format!(
            "[mock]\nhost = {}\nauth_type = databricks-cli\ndatabricks_cli_path = {}\n",
            w.databricks.uri(),
            helper.display()
        ),
    )?;
    let script = w.path("sdk_check.py");
    std::fs::write(&script, SCRIPT)?;
    let out = Command::new(python)
        .arg(&script)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("BRICKAUTH_CONFIG", profiles)
        .env("BRICKAUTH_CACHE_DIR", w.path("cache"))
        .env("ALICE_PASSWORD", brickauth_mock::ALICE_PASSWORD)
        .envs(extra_env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .context("running the SDK script")?;
    if !out.status.success() {
        bail!(
            "the Databricks SDK failed with {} as its token helper:\n{}",
            helper.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let want = clusters.to_string();
    ensure!(lines.first() == Some(&want.as_str()), "the SDK listed {:?} clusters, not {clusters}", lines.first());
    ensure!(lines.get(1) == Some(&"alice@contoso.com"), "SCIM Me answered {:?}", lines.get(1));
    let requests = w.rt.block_on(w.databricks.requests());
    // The SDK may probe unauthenticated metadata endpoints first; every API call must carry a token.
    let api: Vec<_> = requests.iter().filter(|r| r.path.starts_with("/api/")).collect();
    let without: Vec<String> = api
        .iter()
        .filter(|r| !r.headers.get("authorization").is_some_and(|h| h.starts_with("Bearer ")))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    ensure!(without.is_empty(), "API requests went without brickauth's token: {without:?}");
    let others =
        requests.iter().filter(|r| !r.path.starts_with("/api/")).map(|r| format!("{} {}", r.method, r.path)).collect();
    Ok(Listing { api: api.len(), others })
}

/// The virtual environment's Python with `databricks-sdk` installed (created on first use).
pub fn venv() -> Result<PathBuf> {
    let venv = root().join("target/sdk-venv");
    let python = venv.join(if cfg!(windows) { "Scripts/python.exe" } else { "bin/python" });
    if !python.exists() {
        let py3 = if cfg!(windows) { "python" } else { "python3" };
        let ok = Command::new(py3).args(["-m", "venv"]).arg(&venv).stdout(Stdio::null()).status();
        ensure!(ok.is_ok_and(|s| s.success()), "cannot create a virtual environment with {py3} -m venv");
    }
    let has = Command::new(&python).args(["-c", "import databricks.sdk"]).stderr(Stdio::null()).status();
    if !has.is_ok_and(|s| s.success()) {
        println!("sdk: pip install databricks-sdk (into {})", venv.display());
        let ok = Command::new(&python).args(["-m", "pip", "install", "-q", "databricks-sdk"]).status();
        ensure!(ok.is_ok_and(|s| s.success()), "pip install databricks-sdk failed");
    }
    Ok(python)
}

pub fn run() -> Result<()> {
    let python = match venv() {
        Ok(p) => p,
        Err(e) => {
            println!("sdk: skipped: {e:#}");
            return Ok(());
        }
    };
    let bin = build_binary(false)?;
    let w = World::start(bin.clone())?;
    w.databricks.set_cluster_count(250);
    let profiles = w.write_profiles(
        "profiles.toml",
        &brickauth_mock::constants::password_profile("mock", "ALICE_PASSWORD", false),
    )?;
    let before = w.entra.token_request_count();
    let run = list_with_helper(&w, &python, &bin, &profiles, &[], 250)?;
    ensure!(run.api >= 4, "too few API requests: {}", run.api);
    if !run.others.is_empty() {
        println!("sdk: other requests the SDK made: {:?}", run.others);
    }
    println!(
        "sdk: the Databricks SDK for Python listed 250 clusters and read SCIM Me with brickauth's tokens \
         ({} API requests, {} token request(s) to the identity provider)",
        run.api,
        w.entra.token_request_count() - before
    );
    two_accounts_on_one_host(&w, &python, &bin)?;
    println!("2 passed, 0 failed");
    Ok(())
}

/// The SDK configured with `profile="bob"` gets bob's token, though alice is the profile file's
/// `default_profile` and both profiles have the same host (as `profiles init` and `profiles
/// export --databrickscfg` leave them): brickauth's `version` announces the protocol level at
/// which the SDK passes `--profile`, and `auth token --host` never falls back to the default.
fn two_accounts_on_one_host(w: &World, python: &std::path::Path, bin: &std::path::Path) -> Result<()> {
    let profiles = w.write_profiles(
        "two-accounts.toml",
        &format!(
            "{}\n[profiles.bob]\nflow = \"client-credentials\"\ntenant_id = \"{{TENANT}}\"\nclient_id = \"{}\"\n\
             client_secret_env = \"BOB_SECRET\"\nauthority_host = \"{{AUTHORITY}}\"\nhost = \"{{HOST}}\"\n",
            brickauth_mock::constants::password_profile("alice", "ALICE_PASSWORD", true),
            brickauth_mock::SP_CLIENT_ID
        ),
    )?;
    let home = w.path("home-two-accounts");
    std::fs::create_dir_all(&home)?;
    // brickauth, and the SDK with brickauth as its helper, see the same files and secrets.
    let isolated = |program: &std::path::Path| {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("BRICKAUTH_CONFIG", &profiles)
            .env("BRICKAUTH_CACHE_DIR", w.path("cache-two-accounts"))
            .env("ALICE_PASSWORD", brickauth_mock::ALICE_PASSWORD)
            .env("BOB_SECRET", brickauth_mock::SP_CLIENT_SECRET)
            .stdin(Stdio::null());
        cmd
    };
    let run = |args: &[&str]| -> Result<String> {
        let out = isolated(bin).args(args).output()?;
        ensure!(out.status.success(), "brickauth {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let exported = run(&["profiles", "export", "--databrickscfg"])?;
    std::fs::write(home.join(".databrickscfg"), &exported)?;
    // `whoami` prints "userName (displayName)"; the SDK script prints the userName.
    let bob = run(&["-p", "bob", "whoami"])?.trim().split(" (").next().unwrap_or_default().to_owned();
    ensure!(!bob.is_empty() && !bob.contains("alice"), "bob's whoami says {bob:?}");
    let script = w.path("sdk_bob.py");
    std::fs::write(
        &script,
        "from databricks.sdk import WorkspaceClient\nprint(WorkspaceClient(profile=\"bob\").current_user.me().user_name)\n",
    )?;
    let out = isolated(python).arg(&script).output().context("running the SDK as bob")?;
    ensure!(out.status.success(), "the SDK as bob failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let seen = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    ensure!(seen == bob, "WorkspaceClient(profile=\"bob\") was served {seen:?}, not bob ({bob:?})");
    println!("sdk: WorkspaceClient(profile=\"bob\") got bob's token ({bob}), not the default profile's");
    Ok(())
}
