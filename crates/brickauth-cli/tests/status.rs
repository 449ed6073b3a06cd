//! `brickauth status` as a user sees it: every profile, its flow, account, expiry and refresh
//! token, from a cache seeded here — text and JSON as insta snapshots (times redacted), and the
//! exit codes of `--check`. Nothing listens: a network request would fail the run.

use std::path::Path;
use std::process::Command;

use brickauth_cache::{Identity, TokenCache};
use brickauth_core::TokenResponse;

const CLIENT_ID: &str = "04f0c124-f2bc-4f59-8241-bf6df9866bbd";
const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Port 9 (discard) on loopback: nothing answers, so any request would show up as an error.
const PROFILES: &str = r#"
default_profile = "dev"

[defaults]
tenant_id = "organizations"
client_id = "04f0c124-f2bc-4f59-8241-bf6df9866bbd"
authority_host = "http://127.0.0.1:9"

[profiles.dev]
flow = "password"
username = "alice@contoso.com"
password_env = "STATUS_TEST_PASSWORD"

[profiles.alice-again]
flow = "authorization-code"
username = "Alice@Contoso.com"

[profiles.bob-rt]
flow = "refresh-token"
refresh_token_command = "false"

[profiles.never]
flow = "authorization-code"

[profiles.sp]
flow = "client-credentials"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret_command = "false"

[profiles.broken]
flow = "password"
usernme = "typo@contoso.com"
"#;

fn b64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn jwt(claims: serde_json::Value) -> String {
    format!("{}.{}.c2ln", b64url(br#"{"alg":"none"}"#), b64url(claims.to_string().as_bytes()))
}

/// A token answer for `user` (lifetimes chosen away from minute boundaries, so the relative
/// times' widths are stable while the test runs) (or, without one, an app-only token of `app`), `expires_in` from now.
fn answer(user: Option<&str>, app: &str, refresh_token: Option<&str>, expires_in: i64) -> TokenResponse {
    let mut v = serde_json::json!({
        "token_type": "Bearer", "expires_in": 3600,
        "access_token": jwt(serde_json::json!({"appid": app, "tid": TENANT_ID, "secret": "AT-NEVER-SHOWN"})),
    });
    if let Some(u) = user {
        v["id_token"] =
            jwt(serde_json::json!({"preferred_username": u, "tid": TENANT_ID, "oid": format!("oid-{u}")})).into();
        v["client_info"] = b64url(serde_json::json!({"uid": u, "utid": TENANT_ID}).to_string().as_bytes()).into();
    }
    if let Some(rt) = refresh_token {
        v["refresh_token"] = rt.into();
    }
    TokenResponse::parse(v.to_string().as_bytes(), brickauth_core::now() - 3600 + expires_in).unwrap()
}

fn identity(file: &brickauth_profile::ProfileFile, name: &str) -> Identity {
    let p = file.profile(name).unwrap();
    Identity::of(&brickauth_core::flow::app_config(&p).unwrap())
}

struct World {
    dir: tempfile::TempDir,
}

impl World {
    /// The profile file above and a cache where `dev` (alice, with a refresh token), `bob-rt`
    /// (bob, expired, with a refresh token) and `sp` (an app-only token, no refresh token) signed in.
    fn new() -> World {
        brickauth_flows::link();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("profiles.toml");
        std::fs::write(&config, PROFILES).unwrap();
        let file = brickauth_profile::ProfileFile::load(&config).unwrap();
        // Refresh tokens sealed with a key in an in-memory "keychain": the file says so, and
        // `status` reads only the file.
        let memory = || -> std::sync::Arc<dyn brickauth_cache::keychain::KeyStore> {
            std::sync::Arc::new(brickauth_cache::keychain::Memory::new())
        };
        let cache = TokenCache::at(dir.path().join("cache")).with_key_stores(memory(), memory());
        let alice = answer(Some("alice@contoso.com"), CLIENT_ID, Some("RT-NEVER-SHOWN"), 3030);
        cache.store(&identity(&file, "dev"), "dev", &alice).unwrap();
        let bob = answer(Some("bob@contoso.com"), CLIENT_ID, Some("RT-BOB-NEVER-SHOWN"), -630);
        cache.store(&identity(&file, "bob-rt"), "bob-rt", &bob).unwrap();
        let sp = answer(None, "11111111-2222-3333-4444-555555555555", None, 90_000);
        cache.store(&identity(&file, "sp"), "sp", &sp).unwrap();
        World { dir }
    }

    fn path(&self, p: &str) -> std::path::PathBuf {
        self.dir.path().join(p)
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run(args, &self.path("profiles.toml"), &self.path("cache"))
    }
}

fn run(args: &[&str], config: &Path, cache: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_brickauth"))
        .args(args)
        .env_clear()
        .env("HOME", cache.parent().unwrap_or(cache))
        .env("USERPROFILE", cache.parent().unwrap_or(cache))
        .env("BRICKAUTH_CONFIG", config)
        .env("BRICKAUTH_CACHE_DIR", cache)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let (o, e) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(!o.contains("NEVER-SHOWN") && !e.contains("NEVER-SHOWN"), "a token was printed: {o}{e}");
    (out.status.code().unwrap_or(-1), o, e)
}

/// Times, relative times and the temporary cache path vary from run to run.
fn settings(w: &World) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", "[LOCAL TIME]");
    s.add_filter(r"(in|expired) \d+ (s|min|h|d)( \d+ min)?( ago)?", "[RELATIVE]");
    s.add_filter(r#""(expires_on|expires_in)": -?\d+"#, r#""$1": [N]"#);
    // Windows messages show the profile file's full path (`~` means nothing there): as on Unix.
    let config = w.path("profiles.toml").display().to_string();
    s.add_filter(&regex_escape(&config.replace('\\', r"\\")), "~/profiles.toml");
    s.add_filter(&regex_escape(&config), "~/profiles.toml");
    let cache = w.path("cache").display().to_string();
    // JSON doubles a Windows path's backslashes: both spellings are the cache.
    s.add_filter(&regex_escape(&cache.replace('\\', r"\\")), "[CACHE]");
    s.add_filter(&regex_escape(&cache), "[CACHE]");
    // A path under the cache or `~` with Windows separators (JSON-escaped or not) reads as on Unix.
    s.add_filter(r"(\[CACHE\]|~)\\\\?", "$1/");
    s.add_filter(r"the Secret Service \(D-Bus\)|the macOS Keychain|the Windows Credential Manager", "[KEYCHAIN]");
    s
}

fn regex_escape(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '/' { c.to_string() } else { format!("\\{c}") }).collect()
}

#[test]
fn status_text_shows_every_profile_from_the_cache_only() {
    let w = World::new();
    let (code, out, err) = w.run(&["status"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "no warnings, no sign-in: {err}");
    // alice-again names alice: it shares her token; `never` is not given anyone's.
    settings(&w).bind(|| insta::assert_snapshot!(out));
}

#[test]
fn status_json() {
    let w = World::new();
    let (code, out, err) = w.run(&["status", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["profiles"].as_array().unwrap().len(), 6);
    settings(&w).bind(|| insta::assert_snapshot!(out));
}

#[test]
fn status_check_sets_only_the_exit_code() {
    let w = World::new();
    let (code, out, _) = w.run(&["status", "--check"]);
    assert_eq!((code, out.as_str()), (2, ""), "a broken profile: 2");

    let usable = "[defaults]\ntenant_id = \"organizations\"\nclient_id = \"04f0c124-f2bc-4f59-8241-bf6df9866bbd\"\n\
                  authority_host = \"http://127.0.0.1:9\"\n\n[profiles.dev]\nflow = \"password\"\n\
                  username = \"alice@contoso.com\"\npassword_env = \"X\"\n\n[profiles.bob-rt]\nflow = \"refresh-token\"\n\
                  refresh_token_command = \"false\"\n";
    std::fs::write(w.path("usable.toml"), usable).unwrap();
    let (code, out, err) = run(&["status", "--check"], &w.path("usable.toml"), &w.path("cache"));
    assert_eq!((code, out.as_str()), (0, ""), "alice valid, bob renewable: {err}");

    std::fs::write(w.path("usable.toml"), format!("{usable}\n[profiles.never]\nflow = \"authorization-code\"\n"))
        .unwrap();
    let (code, out, _) = run(&["status", "--check"], &w.path("usable.toml"), &w.path("cache"));
    assert_eq!((code, out.as_str()), (3, ""), "a profile that needs a sign-in: 3");
}

#[test]
fn status_with_an_empty_cache() {
    let w = World::new();
    let (code, out, err) = run(&["status"], &w.path("profiles.toml"), &w.path("no-cache"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("(not signed in)").count(), 5, "{out}");
    assert!(!w.path("no-cache").exists(), "status creates nothing");
}
