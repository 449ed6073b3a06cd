//! `cargo xtask demo`: a real token flow end to end, without an Azure tenant.
//!
//! Starts the bundled mock identity provider and workspace on 127.0.0.1, writes a throwaway
//! profile, then runs the real binary: `brickauth token -o json` (password flow), `brickauth
//! inspect` on that token, a second `brickauth token` answered from the cache, and `brickauth
//! clusters list` / `whoami` against the mock workspace.

use anyhow::{Result, ensure};

use crate::harness::{World, build_binary};

const PROFILE: &str = r#"default_profile = "demo"

[profiles.demo]
flow = "password"
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
authority_host = "{AUTHORITY}"   # the bundled mock identity provider
host = "{HOST}"                  # the bundled mock workspace
username = "alice@contoso.com"
password_env = "DEMO_PASSWORD"
"#;

fn step(title: &str, cmd: &str) {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        println!("\n\x1b[1m== {title}\x1b[0m\n$ {cmd}");
    } else {
        println!("\n== {title}\n$ {cmd}");
    }
}

pub fn run() -> Result<()> {
    println!("Building brickauth…");
    let bin = build_binary(false)?;
    let w = World::start(bin)?;
    let profiles = w.write_profiles("profiles.toml", PROFILE)?;
    let env = [("DEMO_PASSWORD", brickauth_mock::ALICE_PASSWORD)];
    println!("Mock identity provider: {}\nMock workspace:         {}", w.entra.uri(), w.databricks.uri());
    println!("Profile file {}:\n{}", profiles.display(), std::fs::read_to_string(&profiles)?);

    step("1. Get a token with the password flow (the mock plays Entra ID)", "brickauth token -o json");
    let o = w.run(&["token", "-o", "json"], &env, None)?;
    print!("{}", o.stdout);
    eprint!("{}", o.stderr);
    ensure!(o.code == 0, "brickauth token failed with exit code {}", o.code);
    let v: serde_json::Value = serde_json::from_str(&o.stdout)?;
    let token = v["accessToken"].as_str().unwrap_or_default().to_owned();

    step("2. What is in it (claims are read, not verified)", "brickauth inspect -");
    let o = w.run(&["inspect", "-"], &env, Some(&token))?;
    print!("{}", o.stdout);
    ensure!(o.code == 0, "brickauth inspect failed: {}", o.stderr);

    step("3. Again: answered from the cache, no request to the identity provider", "brickauth token");
    let before = w.entra.token_request_count();
    let o = w.run(&["token"], &env, None)?;
    ensure!(o.code == 0, "brickauth token failed: {}", o.stderr);
    println!(
        "(same token: {}; token requests sent: {}; took {:.1} ms)",
        o.stdout.trim() == token,
        w.entra.token_request_count() - before,
        o.elapsed.as_secs_f64() * 1000.0
    );

    step("4. Use it: the workspace's clusters, with a fresh token on every request", "brickauth clusters list");
    let o = w.run(&["clusters", "list"], &env, None)?;
    print!("{}", o.stdout);
    ensure!(o.code == 0, "brickauth clusters list failed: {}", o.stderr);

    step("5. Who the workspace thinks you are", "brickauth whoami");
    let o = w.run(&["whoami"], &env, None)?;
    print!("{}", o.stdout);
    ensure!(o.code == 0, "brickauth whoami failed: {}", o.stderr);
    println!("\nDone. Point `authority_host`/`host` at your tenant and workspace (see README) for the real thing.");
    Ok(())
}
