//! `cargo xtask fuzz [--seconds N] [TARGET…]`: run every cargo-fuzz target in `fuzz/` for N seconds
//! (default 60) on the stable toolchain.
//!
//! Installs cargo-fuzz (`cargo install cargo-fuzz --locked`) when `cargo fuzz --version` fails.
//! Runs `cargo fuzz run -s none TARGET -- -max_total_time=N`: the address sanitizer needs nightly,
//! and `-s none` keeps libFuzzer's coverage guidance. Each target's corpus (`fuzz/corpus/TARGET`)
//! is seeded with a few valid inputs the first time, so the fuzzer starts from the interesting
//! shapes. A crash fails the task; libFuzzer leaves the input in `fuzz/artifacts/TARGET/`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::harness::root;

/// The targets in `fuzz/Cargo.toml`, in the order they run.
pub const TARGETS: &[&str] = &[
    "profile_parse",
    "token_response",
    "entra_error",
    "jwt_decode",
    "paste_url",
    "databricks_error",
    "listener_request",
];

pub fn run(args: &crate::FuzzArgs) -> Result<()> {
    let seconds = args.seconds;
    let mut chosen = args.targets.clone();
    if chosen.is_empty() {
        chosen = TARGETS.iter().map(|t| (*t).to_owned()).collect();
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    ensure_cargo_fuzz(&cargo)?;
    let fuzz_dir = root().join("fuzz");
    let mut crashed = Vec::new();
    for target in &chosen {
        seed_corpus(&fuzz_dir.join("corpus").join(target), target)?;
        println!("== fuzz {target} for {seconds} s");
        let start = Instant::now();
        let status = Command::new(&cargo)
            .current_dir(&fuzz_dir)
            // The fuzz crate is its own workspace with its own target dir; a CARGO_TARGET_DIR
            // inherited from the main build would mix sanitizer-coverage builds into it.
            .env_remove("CARGO_TARGET_DIR")
            .args(["fuzz", "run", "-s", "none", target, "--", &format!("-max_total_time={seconds}")])
            .status()
            .with_context(|| format!("running cargo fuzz run {target}"))?;
        let took = start.elapsed().as_secs_f64();
        if status.success() {
            println!("ok    {target} ({took:.0} s, no crash)");
        } else {
            println!("CRASH {target} ({took:.0} s): input in fuzz/artifacts/{target}/");
            crashed.push(target.clone());
        }
    }
    if crashed.is_empty() {
        println!("\nfuzz: {} targets, no crash", chosen.len());
        Ok(())
    } else {
        bail!("fuzz targets crashed: {} (inputs in fuzz/artifacts/)", crashed.join(", "))
    }
}

fn ensure_cargo_fuzz(cargo: &str) -> Result<()> {
    let present = Command::new(cargo).args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if present {
        return Ok(());
    }
    println!("cargo-fuzz not found: cargo install cargo-fuzz --locked");
    let status =
        Command::new(cargo).args(["install", "cargo-fuzz", "--locked"]).status().context("running cargo install")?;
    if !status.success() {
        bail!("cargo install cargo-fuzz failed");
    }
    Ok(())
}

/// Seed inputs per target; written only into an empty (or missing) corpus directory.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    // header {"alg":"RS256","typ":"JWT"}, payload {"aud":"2ff8…","exp":1700003600,"tid":"t","oid":"o"}
    const JWT: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiIyZmY4MTRhNi0zMzA0LTRhYjgtODVjYi1jZDBlNmY4NzljMWQiLCJleHAiOjE3MDAwMDM2MDAsInRpZCI6InQiLCJvaWQiOiJvIn0.c2ln";
    match target {
        "profile_parse" => {
            let mut v = vec![(
                "seed-password.toml".to_owned(),
                "default_profile = \"ci\"\n\n[defaults]\ntenant_id = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\nclient_id = \"04f0c124-f2bc-4f59-8241-bf6df9866bbd\"\n\n[profiles.ci]\nflow = \"password\"\nhost = \"https://adb-1.2.azuredatabricks.net\"\nusername = \"a@b.com\"\npassword_env = \"P\"\nscopes = [\"x/.default\"]\n\n[profiles.rt]\nflow = \"refresh-token\"\nrefresh_token_file = \"~/rt\"\nazure_subscription_id = \"s\"\n".into(),
            )];
            // The repository's profile fixtures, as they are.
            if let Ok(dir) = std::fs::read_dir(root().join("fixtures/profiles")) {
                for entry in dir.flatten() {
                    if let Ok(bytes) = std::fs::read(entry.path()) {
                        v.push((format!("fixture-{}", entry.file_name().to_string_lossy()), bytes));
                    }
                }
            }
            v
        }
        "token_response" => vec![
            ("seed-ok.json".to_owned(), format!(
                r#"{{"token_type":"Bearer","scope":"2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default","expires_in":3599,"ext_expires_in":3599,"refresh_in":1800,"access_token":"{JWT}","refresh_token":"rt","id_token":"{JWT}","client_info":"eyJ1aWQiOiJ1IiwidXRpZCI6InQifQ"}}"#
            ).into_bytes()),
            ("seed-strings.json".to_owned(), br#"{"access_token":"x","expires_in":"3599","expires_on":"1700003600","token_type":"Bearer"}"#.to_vec()),
            ("seed-no-expiry.json".to_owned(), format!(r#"{{"access_token":"{JWT}"}}"#).into_bytes()),
        ],
        // The first two bytes are the HTTP status, little endian (400).
        "entra_error" => vec![(
            "seed-error.json".to_owned(),
            [&[0x90, 0x01][..], &br#"{"error":"invalid_grant","error_description":"AADSTS50076: Due to a configuration change made by your administrator, you must use multi-factor authentication.\r\nTrace ID: 1\r\nCorrelation ID: 2\r\nTimestamp: 2024-01-01 00:00:00Z","error_codes":[50076],"timestamp":"2024-01-01 00:00:00Z","trace_id":"1","correlation_id":"2","error_uri":"https://login.microsoftonline.com/error?code=50076","suberror":"basic_action","claims":"{}"}"#[..]].concat(),
        )],
        "jwt_decode" => vec![("seed.jwt".to_owned(), JWT.as_bytes().to_vec())],
        // Head, a NUL byte, then the body.
        "listener_request" => vec![
            (
                "seed-post".to_owned(),
                b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 32\0code=0.AXcA&state=expected-state".to_vec(),
            ),
            ("seed-get".to_owned(), b"GET /?code=abc&state=wrong HTTP/1.1\r\nHost: localhost".to_vec()),
        ],
        "paste_url" => vec![
            ("seed-url".to_owned(), b"http://localhost:8400/?code=0.AXcAabc-_~&state=s%20t&session_state=x".to_vec()),
            ("seed-form".to_owned(), b"code=0.AXcA&client_info=eyJ1aWQiOiJ1In0&state=abc&session_state=1".to_vec()),
            (
                "seed-error".to_owned(),
                b"http://localhost/#error=access_denied&error_description=AADSTS65004%3A+declined&state=abc".to_vec(),
            ),
            ("seed-redirect".to_owned(), b"http://127.0.0.1:8400/callback".to_vec()),
        ],
        // The first two bytes are the HTTP status, little endian (403, 404, 502).
        "databricks_error" => vec![
            (
                "seed-api.json".to_owned(),
                [&[0x93, 0x01][..], br#"{"error_code":"PERMISSION_DENIED","message":"no access","details":[{"@type":"x","reason":"y"}]}"#].concat(),
            ),
            (
                "seed-scim.json".to_owned(),
                [&[0x94, 0x01][..], br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"User not found","status":"404","scimType":"x"}"#].concat(),
            ),
            ("seed-proxy.html".to_owned(), [&[0xf6, 0x01][..], &b"<html><body><h1>502 Bad Gateway</h1></body></html>"[..]].concat()),
        ],
        _ => Vec::new(),
    }
}

fn seed_corpus(dir: &Path, target: &str) -> Result<()> {
    let empty = std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true);
    if !empty {
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, text) in seeds(target) {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}
