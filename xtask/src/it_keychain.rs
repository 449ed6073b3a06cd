//! Integration cases for refresh tokens at rest (issue 21): the keychain over a private D-Bus
//! session with gnome-keyring's Secret Service, the kernel keyring without a bus, the explicit
//! `keychain` setting failing closed, migration of a plaintext cache, a lost key, `status` and
//! `logout`, and that a cached `token` never connects to the session bus (`strace`).
//!
//! The bus and gnome-keyring are started here, per suite run, from `dbus-daemon` and
//! `gnome-keyring-daemon --unlock --components=secrets` (the password on stdin), in a private
//! home and runtime directory; `.ci/run` installs them. Cases that need them are skipped with the
//! reason only when the programs are missing. Every run goes through [`World::run`], so the leak
//! scan sees it; each case has its own cache directory.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use brickauth_mock::{ALICE_PASSWORD, SP_CLIENT_ID, SP_CLIENT_SECRET, TENANT_ID};
use serde_json::Value;

use crate::harness::{Output, Suite, World, expect_code, expect_contains};

const PROFILES: &str = r#"
default_profile = "alice"

[profiles.alice]
flow = "password"
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
authority_host = "{AUTHORITY}"
username = "alice@contoso.com"
password_env = "ALICE_PASSWORD"
"#;

/// Profiles whose password is an entry of the keychain (`password_keychain`): filed by
/// `secret-tool` under `account`, by the `keyring` libraries under `username`, or not at all.
const KEYCHAIN_SECRET_PROFILES: &str = r#"
[defaults]
flow = "password"
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
authority_host = "{AUTHORITY}"
username = "alice@contoso.com"

[profiles.kc]
password_keychain = "brickauth-test/alice"

[profiles.kc-username]
password_keychain = "brickauth-test/alice-by-username"

[profiles.kc-missing]
password_keychain = "brickauth-test/nobody"
"#;

/// A private session bus with gnome-keyring's Secret Service on it, unlocked (also used by
/// `cargo xtask soak --secret-storage keychain`).
pub(crate) struct Bus {
    address: String,
    home: PathBuf,
    runtime: PathBuf,
    daemons: Vec<Child>,
}

impl Bus {
    /// Start one, or say why it cannot be (a program is missing).
    pub(crate) fn start(dir: &Path) -> Result<std::result::Result<Bus, String>> {
        for tool in ["dbus-daemon", "dbus-send", "gnome-keyring-daemon", "secret-tool"] {
            if !on_path(tool) {
                return Ok(Err(format!("`{tool}` is not installed (.ci/run installs it with apt-get)")));
            }
        }
        let (home, runtime) = (dir.join("bus-home"), dir.join("bus-run"));
        for d in [&home, &runtime] {
            std::fs::create_dir_all(d)?;
            #[cfg(unix)]
            std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        }
        let mut bus = Bus { address: String::new(), home, runtime, daemons: Vec::new() };
        let mut daemon = bus
            .command("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .stdout(Stdio::piped())
            .spawn()
            .context("starting dbus-daemon")?;
        let stdout = daemon.stdout.take().context("dbus-daemon's stdout")?;
        bus.daemons.push(daemon);
        BufReader::new(stdout).read_line(&mut bus.address)?;
        bus.address = bus.address.trim().to_owned();
        ensure!(bus.address.starts_with("unix:"), "dbus-daemon printed no address: {:?}", bus.address);

        let mut keyring = bus
            .command("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .spawn()
            .context("starting gnome-keyring-daemon")?;
        if let Some(mut stdin) = keyring.stdin.take() {
            stdin.write_all(b"brickauth-test-keyring")?;
        }
        bus.daemons.push(keyring);
        let start = Instant::now();
        while !bus.has_secret_service()? {
            ensure!(start.elapsed() < Duration::from_secs(10), "no Secret Service on the bus after 10 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Ok(bus))
    }

    /// `program` with only this bus's environment.
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env_clear().envs(self.env()).env("PATH", std::env::var_os("PATH").unwrap_or_default());
        c.stdin(Stdio::null()).stderr(Stdio::null());
        c
    }

    /// The variables that point a process at this bus.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("HOME", self.home.display().to_string()),
            ("XDG_RUNTIME_DIR", self.runtime.display().to_string()),
            ("XDG_DATA_HOME", self.home.join("data").display().to_string()),
        ];
        if !self.address.is_empty() {
            v.push(("DBUS_SESSION_BUS_ADDRESS", self.address.clone()));
        }
        v
    }

    fn has_secret_service(&self) -> Result<bool> {
        let o = self
            .command("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ])
            .stdout(Stdio::piped())
            .output()?;
        Ok(String::from_utf8_lossy(&o.stdout).contains("boolean true"))
    }

    /// File `secret` in the keychain under `service` and `attribute = account`, as a person
    /// would with `secret-tool store` (the secret on stdin, never in argv).
    fn store(&self, service: &str, attribute: &str, account: &str, secret: &str) -> Result<()> {
        let mut child = self
            .command("secret-tool")
            .args(["store", "--label=brickauth test secret", "service", service, attribute, account])
            .stdin(Stdio::piped())
            .spawn()
            .context("starting secret-tool store")?;
        child.stdin.take().context("secret-tool's stdin")?.write_all(secret.as_bytes())?;
        ensure!(child.wait()?.success(), "secret-tool store {service} {attribute} {account} failed");
        Ok(())
    }

    /// The secret the keychain holds for brickauth's `key`, if any (`secret-tool lookup`).
    fn lookup(&self, key: &str) -> Result<Option<String>> {
        let o = self
            .command("secret-tool")
            .args(["lookup", "service", "brickauth", "account", key])
            .stdout(Stdio::piped())
            .output()?;
        let text = String::from_utf8_lossy(&o.stdout).trim().to_owned();
        Ok((o.status.success() && !text.is_empty()).then_some(text))
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        for d in self.daemons.iter_mut().rev() {
            let _ = d.kill();
            let _ = d.wait();
        }
    }
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(files(&p)) } else { out.push(p) }
    }
    out
}

/// No refresh token the mock issued appears in any file under `dir`.
fn no_clear_refresh_token(w: &World, dir: &Path) -> Result<()> {
    let issued = w.entra.issued_refresh_tokens();
    ensure!(!issued.is_empty(), "the mock issued no refresh token");
    for f in files(dir) {
        let bytes = std::fs::read(&f)?;
        let text = String::from_utf8_lossy(&bytes);
        if let Some(rt) = issued.iter().find(|rt| text.contains(rt.as_str())) {
            bail!("{} holds a refresh token the mock issued ({}…) in clear", f.display(), &rt[..rt.len().min(8)]);
        }
    }
    Ok(())
}

fn cache_file(dir: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(dir.join("tokens.json")).context("reading tokens.json")?;
    Ok(serde_json::from_str(&text)?)
}

/// The data key's name the cache file records, with its storage.
fn recorded(dir: &Path) -> Result<(String, String)> {
    let v = cache_file(dir)?;
    let storage = v["secrets"]["storage"].as_str().unwrap_or_default().to_owned();
    let key = v["secrets"]["key"].as_str().unwrap_or_default().to_owned();
    Ok((storage, key))
}

fn last_grant(w: &World) -> Option<String> {
    w.token_requests().pop().and_then(|f| f.get("grant_type").cloned())
}

/// Whether keyutils works here (`keyctl` can search the user keyring).
fn keyctl(args: &[&str]) -> Option<std::process::Output> {
    Command::new("keyctl").args(args).stdin(Stdio::null()).output().ok()
}

/// Every case of this module, in order.
pub fn cases(w: &World, s: &mut Suite) {
    let Ok(config) = w.write_profiles("keychain.toml", PROFILES) else {
        s.case("keychain: write the profile file", || bail!("cannot write keychain.toml"));
        return;
    };
    let config = config.display().to_string();
    let Ok(secret_config) = w.write_profiles("keychain-secrets.toml", KEYCHAIN_SECRET_PROFILES) else {
        s.case("keychain: write the profile file", || bail!("cannot write keychain-secrets.toml"));
        return;
    };
    let secret_config = secret_config.display().to_string();
    let bus = match Bus::start(&w.path("keychain-bus")) {
        Ok(Ok(bus)) => Some(bus),
        Ok(Err(why)) => {
            println!("skip  keychain cases that need a session bus: {why}");
            None
        }
        Err(e) => {
            s.case("keychain: start a session bus with gnome-keyring", || Err(e));
            None
        }
    };
    // `brickauth --config CONFIG ARGS` on cache `cache`, with `storage`, on the bus or without one.
    let run_in = |config: &str, cache: &Path, storage: &str, on_bus: bool, args: &[&str]| -> Result<Output> {
        let mut all = vec!["--config", config];
        all.extend_from_slice(args);
        let cache = cache.display().to_string();
        let mut env: Vec<(&str, String)> = vec![
            ("ALICE_PASSWORD", ALICE_PASSWORD.to_owned()),
            ("BRICKAUTH_CACHE_DIR", cache),
            ("BRICKAUTH_SECRET_STORAGE", storage.to_owned()),
        ];
        if on_bus && let Some(bus) = &bus {
            env.extend(bus.env());
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        w.run(&all, &env, None)
    };
    let run = |cache: &Path, storage: &str, on_bus: bool, args: &[&str]| run_in(&config, cache, storage, on_bus, args);

    if let Some(bus) = &bus {
        let cache = w.path("keychain-cache");
        // The cases below share this cache; run alone (a filter), a case signs in first.
        let signed_in = || -> Result<()> {
            if !cache.join("tokens.json").exists() {
                expect_code(&run(&cache, "auto", true, &["token"])?, 0)?;
            }
            Ok(())
        };
        s.case("keychain: after a sign-in no refresh token is in clear on disk; the keychain holds the key", || {
            let o = run(&cache, "auto", true, &["token"])?;
            expect_code(&o, 0)?;
            no_clear_refresh_token(w, &cache)?;
            let (storage, key) = recorded(&cache)?;
            ensure!(storage == "keychain" && key.starts_with("tokens-"), "recorded: {storage} {key}");
            let secret = bus.lookup(&key)?.context("the keychain holds no key for the cache")?;
            ensure!(secret.len() == 44, "not a base64 32-byte key: {} characters", secret.len());
            ensure!(cache_file(&cache)?.to_string().contains("refresh_token_sealed"), "no sealed refresh token");
            Ok(())
        });

        s.case("keychain: a second process refreshes silently with the sealed refresh token", || {
            signed_in()?;
            let before = w.entra.token_request_count();
            // A forced refresh within seconds of a sign-in takes that token (coalescing): age it.
            crate::harness::age_tokens(&cache)?;
            let o = run(&cache, "auto", true, &["token", "--force-refresh"])?;
            expect_code(&o, 0)?;
            ensure!(w.entra.token_request_count() == before + 1, "one request");
            ensure!(last_grant(w).as_deref() == Some("refresh_token"), "grant: {:?}", last_grant(w));
            no_clear_refresh_token(w, &cache)
        });

        s.case("keychain: a cached token connects to no bus (strace -f -e trace=connect)", || {
            if !on_path("strace") {
                println!("      (strace is not installed: .ci/run installs it; checked nothing)");
                return Ok(());
            }
            signed_in()?;
            let trace = w.path("keychain-strace.txt");
            let mut cmd = Command::new("strace");
            cmd.args(["-f", "-e", "trace=connect", "-o"]).arg(&trace).arg(&w.bin);
            cmd.args(["--config", config.as_str(), "token"]).env_clear().envs(bus.env());
            cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("ALICE_PASSWORD", ALICE_PASSWORD)
                .env("BRICKAUTH_CACHE_DIR", &cache)
                .env("BRICKAUTH_SECRET_STORAGE", "auto")
                .stdin(Stdio::null());
            let before = w.entra.token_request_count();
            let o = cmd.output().context("running strace")?;
            ensure!(o.status.success(), "strace brickauth token: {}", String::from_utf8_lossy(&o.stderr));
            ensure!(w.entra.token_request_count() == before, "not a cached call");
            let text = std::fs::read_to_string(&trace)?;
            let socket = bus.address.trim_start_matches("unix:path=").split(',').next().unwrap_or_default();
            let connects: Vec<&str> = text.lines().filter(|l| l.contains("connect(")).collect();
            ensure!(
                !connects.iter().any(|l| l.contains(socket) || l.contains("bus")),
                "a cached token call connected to the session bus: {connects:?}"
            );
            ensure!(connects.is_empty(), "a cached token call connected somewhere: {connects:?}");
            Ok(())
        });

        s.case("keychain: status names where each profile's refresh token lives", || {
            signed_in()?;
            let o = run(&cache, "auto", true, &["status"])?;
            expect_code(&o, 0)?;
            expect_contains(&o.stdout, "yes (keychain)", "status")?;
            expect_contains(&o.stdout, "the Secret Service (D-Bus)", "status")?;
            let o = run(&cache, "auto", true, &["status", "-o", "json"])?;
            let v: Value = serde_json::from_str(&o.stdout)?;
            ensure!(v["profiles"][0]["refresh_token_storage"] == "keychain", "{v}");
            ensure!(v["secret_storage"]["storage"] == "keychain", "{v}");
            Ok(())
        });

        s.case("keychain: logout removes the token and the keychain's key", || {
            signed_in()?;
            let (_, key) = recorded(&cache)?;
            let o = run(&cache, "auto", true, &["logout"])?;
            expect_code(&o, 0)?;
            ensure!(bus.lookup(&key)?.is_none(), "the key is still in the keychain");
            let v = cache_file(&cache)?;
            ensure!(v["entries"].as_object().is_none_or(|e| e.is_empty()) && v.get("secrets").is_none(), "{v}");
            Ok(())
        });

        s.case("keychain: a plaintext cache of today's format is moved into the keychain, login kept", || {
            let cache = w.path("keychain-migrate");
            let o = run(&cache, "file", true, &["token"])?;
            expect_code(&o, 0)?;
            // Today's format: no `secrets` record, the refresh token in clear.
            let mut v = cache_file(&cache)?;
            if let Some(o) = v.as_object_mut() {
                o.remove("secrets");
            }
            std::fs::write(cache.join("tokens.json"), v.to_string())?;
            let old_rt = w.entra.issued_refresh_tokens().pop().context("no refresh token issued")?;
            ensure!(v.to_string().contains(&old_rt), "the plaintext cache holds no refresh token");
            // A forced refresh within seconds of a sign-in takes that token (coalescing): age it.
            crate::harness::age_tokens(&cache)?;
            let o = run(&cache, "auto", true, &["token", "--force-refresh"])?;
            expect_code(&o, 0)?;
            let form = w.token_requests().pop().unwrap_or_default();
            ensure!(
                form.get("grant_type").map(String::as_str) == Some("refresh_token"),
                "{:?}",
                form.get("grant_type")
            );
            ensure!(form.get("refresh_token") == Some(&old_rt), "not the migrated refresh token");
            no_clear_refresh_token(w, &cache)?;
            ensure!(recorded(&cache)?.0 == "keychain", "not moved into the keychain");
            expect_code(&run(&cache, "auto", true, &["logout"])?, 0)
        });
    }

    if let Some(bus) = &bus {
        s.case("keychain: password_keychain signs in with the password a person filed (account or username)", || {
            bus.store("brickauth-test", "account", "alice", ALICE_PASSWORD)?;
            bus.store("brickauth-test", "username", "alice-by-username", ALICE_PASSWORD)?;
            for profile in ["kc", "kc-username"] {
                let cache = w.path(&format!("keychain-secret-{profile}"));
                let o = run_in(&secret_config, &cache, "file", true, &["-p", profile, "token"])?;
                expect_code(&o, 0)?;
                let form = w.token_requests().pop().unwrap_or_default();
                ensure!(form.get("grant_type").map(String::as_str) == Some("password"), "{:?}", form.get("grant_type"));
                ensure!(
                    form.get("password").map(String::as_str) == Some(ALICE_PASSWORD),
                    "not the keychain's password"
                );
                // The cached path reads no secret: a second call answers with the keychain gone.
                let o = run_in(&secret_config, &cache, "file", false, &["-p", profile, "token"])?;
                expect_code(&o, 0)?;
            }
            Ok(())
        });

        s.case("keychain: a missing password_keychain entry names profile, key, entry and store", || {
            let o = run_in(
                &secret_config,
                &w.path("keychain-secret-missing"),
                "file",
                true,
                &["-p", "kc-missing", "token"],
            )?;
            ensure!(o.code != 0, "exit 0 without the entry");
            for needle in [
                "kc-missing",
                "password_keychain",
                "service `brickauth-test`, account `nobody`",
                "the Secret Service (D-Bus) has no entry",
            ] {
                expect_contains(&o.stderr, needle, "stderr")?;
            }
            Ok(())
        });
    }

    // `profiles import --databrickscfg --secrets keychain`: a service principal's literal secret.
    let import_cfg = w.path("keychain-import-databrickscfg");
    let import_toml = w.path("keychain-import.toml");
    let imported = std::fs::write(
        &import_cfg,
        format!(
            "[sp-kc]\nhost = {}\nazure_tenant_id = {TENANT_ID}\nazure_client_id = {SP_CLIENT_ID}\n\
             azure_client_secret = {SP_CLIENT_SECRET}\nauthority_host = {}\n",
            w.databricks.uri(),
            w.entra.uri()
        ),
    );
    let import = |on_bus: bool| -> Result<Output> {
        let (cfg, toml) = (import_cfg.display().to_string(), import_toml.display().to_string());
        let args =
            ["--config", toml.as_str(), "profiles", "import", "--databrickscfg", cfg.as_str(), "--secrets", "keychain"];
        let env: Vec<(&str, String)> = if on_bus { bus.as_ref().map(Bus::env).unwrap_or_default() } else { Vec::new() };
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        w.run(&args, &env, None)
    };

    s.case("keychain: profiles import --secrets keychain without a keychain fails and writes nothing", || {
        imported.as_ref().map_err(|e| anyhow::anyhow!("cannot write the Databricks config file: {e}"))?;
        let o = import(false)?;
        ensure!(o.code != 0, "exit 0 without a keychain\n{}", o.stderr);
        expect_contains(&o.stderr, "cannot use the keychain", "stderr")?;
        expect_contains(&o.stderr, "D-Bus", "stderr")?;
        expect_contains(&o.stderr, "nothing was written", "stderr")?;
        ensure!(!import_toml.exists(), "{} was written", import_toml.display());
        Ok(())
    });

    if let Some(bus) = &bus {
        s.case("keychain: profiles import --secrets keychain moves the literal secret into the keychain", || {
            imported.as_ref().map_err(|e| anyhow::anyhow!("cannot write the Databricks config file: {e}"))?;
            let o = import(true)?;
            expect_code(&o, 0)?;
            expect_contains(&o.stderr, "kept in the keychain as brickauth/sp-kc", "stderr")?;
            let toml = std::fs::read_to_string(&import_toml)?;
            ensure!(toml.contains("client_secret_keychain = \"brickauth/sp-kc\""), "{toml}");
            ensure!(!toml.contains(SP_CLIENT_SECRET), "the secret was copied into the profile file");
            let held = bus.lookup("sp-kc")?.context("the keychain holds no entry brickauth/sp-kc")?;
            ensure!(held == SP_CLIENT_SECRET, "the keychain holds another secret");
            // The imported profile gets a token with the secret from the keychain.
            let o = run_in(
                &import_toml.display().to_string(),
                &w.path("keychain-import-cache"),
                "file",
                true,
                &["-p", "sp-kc", "token"],
            )?;
            expect_code(&o, 0)?;
            let form = w.token_requests().pop().unwrap_or_default();
            ensure!(
                form.get("client_secret").map(String::as_str) == Some(SP_CLIENT_SECRET),
                "not the keychain's secret"
            );
            // Again: the profile exists now and is kept; the keychain entry is not touched.
            let o = import(true)?;
            expect_code(&o, 0)?;
            expect_contains(&o.stderr, "kept     [sp-kc]", "stderr")?;
            Ok(())
        });
    }

    // `secret_storage` at the top of the profile file, with the variable unset (empty) or set.
    let storage_config =
        w.write_profiles("keychain-storage.toml", &format!("secret_storage = \"keychain\"\n{PROFILES}"));
    let storage_config = storage_config.map(|p| p.display().to_string());
    s.case("keychain: secret_storage in the profile file decides the store; the variable overrides it", || {
        let config = storage_config.as_ref().map_err(|e| anyhow::anyhow!("cannot write the profile file: {e}"))?;
        // No bus: the file's `keychain` fails closed ...
        let cache = w.path("keychain-setting-nobus");
        let o = run_in(config, &cache, "", false, &["token"])?;
        ensure!(o.code != 0, "exit 0 without a keychain\n{}", o.stderr);
        expect_contains(&o.stderr, "change `secret_storage` (", "stderr")?;
        expect_contains(&o.stderr, "keychain-storage.toml:1:1) to keyring or auto", "stderr")?;
        no_clear_refresh_token(w, &cache)?;
        // ... unless the variable says otherwise.
        let o = run_in(config, &cache, "file", false, &["token"])?;
        expect_code(&o, 0)?;
        ensure!(recorded(&cache)?.0 == "file", "the variable did not win: {:?}", recorded(&cache)?);
        let Some(bus) = &bus else {
            println!("      (no session bus here: the keychain half was not checked)");
            return Ok(());
        };
        // On the bus the file's `keychain` seals the refresh token; status reports the policy.
        let cache = w.path("keychain-setting-bus");
        expect_code(&run_in(config, &cache, "", true, &["token"])?, 0)?;
        let (storage, key) = recorded(&cache)?;
        ensure!(storage == "keychain" && bus.lookup(&key)?.is_some(), "recorded: {storage} {key}");
        no_clear_refresh_token(w, &cache)?;
        let o = run_in(config, &cache, "", true, &["status", "-o", "json"])?;
        let v: Value = serde_json::from_str(&o.stdout)?;
        ensure!(v["secret_storage"]["policy"] == "keychain" && v["secret_storage"]["storage"] == "keychain", "{v}");
        expect_code(&run_in(config, &cache, "", true, &["logout"])?, 0)
    });

    s.case("keychain: a bad secret_storage in the profile file is an error at its line", || {
        let config =
            w.write_profiles("keychain-bad-setting.toml", &format!("secret_storage = \"vault\"\n{PROFILES}"))?;
        let o = run_in(&config.display().to_string(), &w.path("keychain-bad-setting"), "", false, &["token"])?;
        expect_code(&o, 2)?;
        expect_contains(&o.stderr, "keychain-bad-setting.toml:1:18: key `secret_storage`: expected \"auto\"", "stderr")
    });

    s.case("keychain: password_keychain without a session bus is a clear error naming the store", || {
        let o = run_in(&secret_config, &w.path("keychain-secret-nobus"), "file", false, &["-p", "kc", "token"])?;
        ensure!(o.code != 0, "exit 0 without a keychain\n{}", o.stderr);
        for needle in ["`kc`", "password_keychain", "service `brickauth-test`, account `alice`", "D-Bus"] {
            expect_contains(&o.stderr, needle, "stderr")?;
        }
        Ok(())
    });

    s.case("keychain: BRICKAUTH_SECRET_STORAGE=keychain without a bus fails closed, non-zero", || {
        let cache = w.path("keychain-closed");
        let o = run(&cache, "keychain", false, &["token"])?;
        ensure!(o.code != 0, "exit 0 without a keychain\n{}", o.stderr);
        expect_contains(&o.stderr, "keychain", "stderr")?;
        expect_contains(&o.stderr, "D-Bus", "stderr")?;
        expect_contains(&o.stderr, "BRICKAUTH_SECRET_STORAGE", "stderr")?;
        no_clear_refresh_token(w, &cache)
    });

    s.case("keychain: a bad BRICKAUTH_SECRET_STORAGE names the variable", || {
        let o = run(&w.path("keychain-bad"), "vault", false, &["token"])?;
        ensure!(o.code != 0, "exit 0");
        expect_contains(&o.stderr, "BRICKAUTH_SECRET_STORAGE=\"vault\"", "stderr")
    });

    s.case("keychain: without a bus, auto uses the kernel keyring (else the file), refreshes, logs out", || {
        let cache = w.path("keychain-nobus");
        let o = run(&cache, "auto", false, &["token"])?;
        expect_code(&o, 0)?;
        let (storage, key) = recorded(&cache)?;
        let keyutils = keyctl(&["show", "@u"]).is_some_and(|o| o.status.success());
        if !keyutils {
            ensure!(storage == "file", "no keyutils here, yet: {storage}");
            println!("      (keyutils unavailable here: the file fallback was checked)");
            return expect_code(&run(&cache, "auto", false, &["logout"])?, 0);
        }
        ensure!(storage == "keyring", "recorded: {storage}");
        no_clear_refresh_token(w, &cache)?;
        let desc = format!("brickauth:{key}");
        ensure!(keyctl(&["search", "@u", "user", &desc]).is_some_and(|o| o.status.success()), "no key {desc} in @u");
        let o = run(&cache, "auto", false, &["status"])?;
        expect_contains(&o.stdout, "yes (keyring)", "status")?;
        expect_contains(&o.stdout, "emptied at reboot", "status")?;
        // A forced refresh within seconds of a sign-in takes that token (coalescing): age it.
        crate::harness::age_tokens(&cache)?;
        let o = run(&cache, "auto", false, &["token", "--force-refresh"])?;
        expect_code(&o, 0)?;
        ensure!(last_grant(w).as_deref() == Some("refresh_token"), "grant: {:?}", last_grant(w));
        expect_code(&run(&cache, "auto", false, &["logout"])?, 0)?;
        ensure!(!keyctl(&["search", "@u", "user", &desc]).is_some_and(|o| o.status.success()), "key left in @u");
        Ok(())
    });

    s.case("keychain: a key lost at reboot means one sign-in with one line saying why", || {
        if !keyctl(&["show", "@u"]).is_some_and(|o| o.status.success()) {
            println!("      (keyutils unavailable here: nothing to lose)");
            return Ok(());
        }
        let cache = w.path("keychain-reboot");
        expect_code(&run(&cache, "keyring", false, &["token"])?, 0)?;
        let (_, key) = recorded(&cache)?;
        let desc = format!("brickauth:{key}");
        let id = keyctl(&["search", "@u", "user", &desc]).context("keyctl")?;
        let id = String::from_utf8_lossy(&id.stdout).trim().to_owned();
        ensure!(keyctl(&["invalidate", &id]).is_some_and(|o| o.status.success()), "cannot invalidate key {id}");
        // A forced refresh within seconds of a sign-in takes that token (coalescing): age it.
        crate::harness::age_tokens(&cache)?;
        let o = run(&cache, "keyring", false, &["token", "--force-refresh"])?;
        expect_code(&o, 0)?;
        ensure!(last_grant(w).as_deref() == Some("password"), "signed in again: {:?}", last_grant(w));
        let lines: Vec<&str> = o.stderr.lines().filter(|l| l.contains("gone from the kernel keyring")).collect();
        ensure!(lines.len() == 1 && lines[0].contains("reboot"), "one line saying why:\n{}", o.stderr);
        // A forced refresh within seconds of a sign-in takes that token (coalescing): age it.
        crate::harness::age_tokens(&cache)?;
        let o = run(&cache, "keyring", false, &["token", "--force-refresh"])?;
        ensure!(last_grant(w).as_deref() == Some("refresh_token") && o.stderr.is_empty(), "{}", o.stderr);
        expect_code(&run(&cache, "keyring", false, &["logout"])?, 0)
    });
}
