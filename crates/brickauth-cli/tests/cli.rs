//! The `brickauth` binary as a user sees it: help text, listings and error reports, as insta
//! snapshots. Runs the real binary with a clean environment.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/profiles")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn brickauth(args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brickauth"));
    cmd.args(args)
        .current_dir(fixtures())
        .env_clear()
        .env("HOME", dir.path())
        .env("BRICKAUTH_CACHE_DIR", dir.path().join("cache"))
        .env("TZ", "UTC")
        .env("COLUMNS", "100");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run brickauth");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn help() {
    let r = brickauth(&["--help"], &[]);
    assert_eq!(r.code, 0);
    insta::assert_snapshot!(r.stdout);
    let r = brickauth(&["token", "--help"], &[]);
    insta::assert_snapshot!("token_help", r.stdout);
}

#[test]
fn flows() {
    let r = brickauth(&["flows"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!(r.stdout);
}

#[test]
fn profiles_show_redacts_secrets_and_names_sources() {
    let r = brickauth(&["--config", "show.toml", "profiles", "show"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("literal-secret-never-shown"));
    assert!(!r.stderr.contains("literal-secret-never-shown"));
    insta::assert_snapshot!(r.stdout);
    let list = brickauth(&["--config", "show.toml", "profiles", "list"], &[]);
    insta::assert_snapshot!("profiles_list", list.stdout);
}

#[test]
fn unknown_key_is_a_profile_error() {
    let r = brickauth(&["--config", "typo-key.toml", "token"], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn unknown_flow_lists_the_registered_ones() {
    let r = brickauth(&["--config", "unknown-flow.toml", "token"], &[]);
    assert_eq!(r.code, 2);
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn clear_text_authority_is_refused() {
    let r = brickauth(&["--config", "clear-text.toml", "token"], &[]);
    assert_eq!(r.code, 2);
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn missing_profile_file_says_how_to_create_one() {
    let r = brickauth(&["--config", "does-not-exist.toml", "token"], &[]);
    assert_eq!(r.code, 2);
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn version_json_has_the_fields_the_databricks_sdks_read() {
    let r = brickauth(&["version", "--output", "json"], &[]);
    assert_eq!(r.code, 0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["Version"], env!("CARGO_PKG_VERSION"));
    assert!(v["Major"].is_u64() && v["Minor"].is_u64() && v["Patch"].is_u64());
}

#[test]
fn inspect_reads_a_token_from_stdin_or_argument() {
    // header {"alg":"none"} . claims {"exp":4102444800,"upn":"a@b.com"}
    let t = "eyJhbGciOiJub25lIn0.eyJleHAiOjQxMDI0NDQ4MDAsInVwbiI6ImFAYi5jb20ifQ.";
    let r = brickauth(&["inspect", t], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["claims"]["upn"], "a@b.com");
    assert_eq!(v["expires"]["expired"], false);
    let bad = brickauth(&["inspect", "not-a-jwt"], &[]);
    assert_eq!(bad.code, 2);
    insta::assert_snapshot!("inspect_bad", bad.stderr);
}

#[test]
fn environment_only_errors_name_the_variables_to_set() {
    let none = "no-such-profiles.toml";
    let missing_tenant = brickauth(
        &["--flow", "client-credentials", "token"],
        &[("BRICKAUTH_CONFIG", none), ("ARM_CLIENT_ID", "12a34b56-789c-0d12-e3fa-b456789c0123")],
    );
    let missing_secret = brickauth(&["--flow", "databricks-m2m", "token"], &[("BRICKAUTH_CONFIG", none)]);
    let missing_host = brickauth(
        &["--flow", "client-credentials", "whoami"],
        &[("BRICKAUTH_CONFIG", none), ("ARM_CLIENT_ID", "c"), ("ARM_CLIENT_SECRET", "not-shown")],
    );
    for r in [&missing_tenant, &missing_secret, &missing_host] {
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(!r.stderr.contains("not-shown"), "{}", r.stderr);
    }
    insta::assert_snapshot!(
        "environment_only_missing_variables",
        [missing_tenant.stderr, missing_secret.stderr, missing_host.stderr].join("\n")
    );
}

#[test]
fn a_databrickscfg_pat_section_is_refused_naming_section_and_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("databrickscfg");
    std::fs::write(&cfg, "[DEFAULT]\nhost = https://adb-1.1.azuredatabricks.net\ntoken = dapi-not-shown\n").unwrap();
    let cfg = cfg.display().to_string();
    let r = brickauth(&["token"], &[("BRICKAUTH_CONFIG", "no-such-profiles.toml"), ("DATABRICKS_CONFIG_FILE", &cfg)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!r.stderr.contains("dapi-not-shown"));
    insta::assert_snapshot!("databrickscfg_pat_refused", r.stderr.replace(&cfg, "[CFG]"));
}
