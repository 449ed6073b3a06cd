//! Integration cases for issue 19 items 1, 3 and 7: the environment-only mode never serves the
//! account another flow signed in; files beside the cache (`tenants.json`) are checked like the
//! cache itself before they are read or written; every file input is a regular file read with a
//! size limit, never blocking on a FIFO or a device.
//!
//! Two users: alice (password) and bob (a refresh token the mock issues him). Cases that need a
//! second user id run only as root, with uid 65534 (`nobody`), and say when skipped.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, ensure};

use crate::harness::{Output, Suite, World, expect_code, expect_contains};

const ALICE_PASSWORD: &str = brickauth_mock::constants::ALICE_PASSWORD;

/// A file that makes a quick refusal tell from a hang or a read to the end.
const QUICK: Duration = Duration::from_secs(5);

const PROFILES: &str = r#"
[defaults]
client_id = "{CLIENT}"
authority_host = "{AUTHORITY}"

# No tenant_id: found through the workspace and remembered in tenants.json.
[profiles.hostonly]
flow = "password"
host = "{HOST}"
username = "alice@contoso.com"
password_env = "ALICE_PASSWORD"

[profiles.cert-zero]
flow = "client-credentials"
tenant_id = "{TENANT}"
client_certificate = "/dev/zero"

[profiles.rt-fifo]
flow = "refresh-token"
tenant_id = "{TENANT}"
refresh_token_file = "{DIR}/fifo"

[profiles.rt-huge]
flow = "refresh-token"
tenant_id = "{TENANT}"
refresh_token_file = "{DIR}/huge"
"#;

/// Every case of this module, in order.
pub fn cases(w: &World, s: &mut Suite) {
    let config =
        match w.write_profiles("trust-files.toml", &PROFILES.replace("{DIR}", &w.dir.path().display().to_string())) {
            Ok(p) => p.display().to_string(),
            Err(e) => {
                s.case("trust files: setup", || Err(e));
                return;
            }
        };
    let authority = w.entra.uri();
    // `brickauth --flow FLOW token` in the environment-only mode, with `vars` on top of the app's.
    let env_run = |cache: &Path, args: &[&str], vars: &[(&str, &str)]| -> Result<Output> {
        let cache = cache.display().to_string();
        let mut env = vec![
            ("AZURE_CLIENT_ID", brickauth_mock::CLIENT_ID),
            ("AZURE_AUTHORITY_HOST", authority.as_str()),
            ("BRICKAUTH_CACHE_DIR", cache.as_str()),
        ];
        env.extend_from_slice(vars);
        w.run(args, &env, None)
    };
    let tenant = [("AZURE_TENANT_ID", brickauth_mock::TENANT_ID)];
    let as_alice = [
        ("AZURE_TENANT_ID", brickauth_mock::TENANT_ID),
        ("BRICKAUTH_USERNAME", brickauth_mock::constants::ALICE),
        ("BRICKAUTH_PASSWORD", ALICE_PASSWORD),
    ];
    let user_of = |o: &Output| -> Result<String> {
        let token = o.stdout.trim();
        let info = w.entra.registry().lookup(token).with_context(|| format!("not a token the mock issued: {token}"))?;
        Ok(info.username)
    };
    // `brickauth --config trust-files.toml ARGS` with `cache` as the cache directory.
    let file_run_in = |cache: &Path, args: &[&str]| -> Result<Output> {
        let mut a = vec!["--config", config.as_str()];
        a.extend_from_slice(args);
        let cache = cache.display().to_string();
        w.run(&a, &[("ALICE_PASSWORD", ALICE_PASSWORD), ("BRICKAUTH_CACHE_DIR", cache.as_str())], None)
    };
    let file_run = |args: &[&str]| file_run_in(&w.path("cache-trust-files"), args);

    // ---- item 1: the environment-only mode

    s.case("trust env mode: --flow refresh-token with bob's token after --flow password as alice prints bob's", || {
        let cache = w.path("cache-env-rt");
        let o = env_run(&cache, &["--flow", "password", "token"], &as_alice)?;
        expect_code(&o, 0)?;
        ensure!(user_of(&o)? == brickauth_mock::constants::ALICE, "the password flow did not sign alice in");
        let rt = w.entra.issue_refresh_token(brickauth_mock::constants::BOB);
        let before = w.entra.token_request_count();
        let mut vars = tenant.to_vec();
        vars.push(("BRICKAUTH_REFRESH_TOKEN", rt.as_str()));
        let o = env_run(&cache, &["--flow", "refresh-token", "token"], &vars)?;
        expect_code(&o, 0)?;
        ensure!(
            user_of(&o)? == brickauth_mock::constants::BOB,
            "--flow refresh-token printed {}'s token",
            user_of(&o)?
        );
        ensure!(w.entra.token_request_count() == before + 1, "bob's refresh token was not redeemed");
        ensure!(
            w.token_requests().pop().unwrap_or_default().get("refresh_token") == Some(&rt),
            "the configured refresh token was not the one sent"
        );
        // Each flow keeps its own: alice's password run is still alice, from the cache.
        let before = w.entra.token_request_count();
        let o = env_run(&cache, &["--flow", "password", "token"], &as_alice)?;
        ensure!(user_of(&o)? == brickauth_mock::constants::ALICE, "the password flow switched account");
        ensure!(w.entra.token_request_count() == before, "alice's token was not served from the cache");
        Ok(())
    });

    s.case(
        "trust env mode: --flow device-code after --flow password prints no cached token (exit 3, no request)",
        || {
            let cache = w.path("cache-env-dc");
            expect_code(&env_run(&cache, &["--flow", "password", "token"], &as_alice)?, 0)?;
            let before = w.entra.token_request_count();
            let o = env_run(&cache, &["--flow", "device-code", "token"], &tenant)?;
            expect_code(&o, 3)?;
            ensure!(o.stdout.is_empty(), "--flow device-code printed a token: {}", o.stdout);
            expect_contains(&o.stderr, "needs an interactive sign-in", "stderr")?;
            ensure!(w.entra.token_request_count() == before, "a token request was sent");
            Ok(())
        },
    );

    // ---- item 3: files beside the cache

    s.case("trust files: links planted at tenants.json and at its temp names are never written through", || {
        #[cfg(unix)]
        {
            let cache = w.path("cache-tenants-links");
            std::fs::create_dir_all(&cache)?;
            let victim = w.path("victim-bashrc");
            std::fs::write(&victim, "precious")?;
            std::os::unix::fs::symlink(&victim, cache.join("tenants.json"))?;
            // The temp names brickauth used to write through (`.tenants.json.<pid>.tmp`): the next
            // process ids, as a neighbour would plant them.
            let last: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(1);
            for pid in last + 1..last + 3000 {
                std::os::unix::fs::symlink(&victim, cache.join(format!(".tenants.json.{pid}.tmp")))?;
            }
            let o = file_run_in(&cache, &["-v", "-p", "hostonly", "token"])?;
            expect_code(&o, 0)?;
            ensure!(user_of(&o)? == brickauth_mock::constants::ALICE, "not alice's token");
            expect_contains(&o.stderr, "tenants.json", "stderr")?;
            expect_contains(&o.stderr, "symbolic link", "stderr")?;
            expect_contains(&o.stderr, "discovered from", "stderr: the planted file was not used")?;
            ensure!(std::fs::read_to_string(&victim)? == "precious", "the link's target was written");
        }
        Ok(())
    });

    two_uid_cases(w, s, &file_run_in);

    // ---- item 7: bounded file inputs

    s.case("trust files: client_certificate = /dev/zero is refused at once (validate and token), no abort", || {
        for args in [&["profiles", "validate", "cert-zero"][..], &["-p", "cert-zero", "token"][..]] {
            let o = file_run(args)?;
            ensure!(o.code != 134 && o.code != 0, "{args:?}: exit {}: {}", o.code, o.stderr);
            ensure!(o.elapsed < QUICK, "{args:?} took {:?}", o.elapsed);
            // `validate` lists its findings on stdout, `token` fails on stderr.
            let said = format!("{}{}", o.stdout, o.stderr);
            expect_contains(&said, "/dev/zero", "output")?;
            expect_contains(&said, "not a regular file", "output")?;
        }
        Ok(())
    });

    s.case("trust files: a FIFO refresh_token_file is refused without waiting for a writer", || {
        #[cfg(unix)]
        {
            let fifo = w.path("fifo");
            let _ = std::fs::remove_file(&fifo);
            let status = std::process::Command::new("mkfifo").arg(&fifo).status().context("running mkfifo")?;
            ensure!(status.success(), "mkfifo failed");
            let o = file_run(&["-p", "rt-fifo", "token"])?;
            ensure!(o.elapsed < QUICK, "took {:?}", o.elapsed);
            expect_code(&o, 2)?;
            expect_contains(&o.stderr, &fifo.display().to_string(), "stderr")?;
            expect_contains(&o.stderr, "FIFO", "stderr")?;
        }
        Ok(())
    });

    s.case("trust files: a 700 MiB refresh_token_file is refused at once, naming the file and the limit", || {
        let huge = w.path("huge");
        std::fs::File::create(&huge)?.set_len(700 * 1024 * 1024)?;
        let o = file_run(&["-p", "rt-huge", "token"]);
        std::fs::remove_file(&huge)?;
        let o = o?;
        ensure!(o.elapsed < QUICK, "took {:?}", o.elapsed);
        expect_code(&o, 2)?;
        expect_contains(&o.stderr, &huge.display().to_string(), "stderr")?;
        expect_contains(&o.stderr, "larger than", "stderr")?;
        Ok(())
    });
}

/// `run(cache dir, args)` with the module's profile file.
type Run<'a> = dyn Fn(&Path, &[&str]) -> Result<Output> + 'a;

/// Cases that need files another user owns: as root, with uid 65534; skipped (and said so)
/// otherwise.
fn two_uid_cases(w: &World, s: &mut Suite, run: &Run<'_>) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{PermissionsExt, chown};
        // SAFETY: geteuid has no preconditions.
        #[allow(unsafe_code)]
        let root = unsafe { libc::geteuid() } == 0;
        const OTHER: u32 = 65534;
        let skip = |s: &mut Suite, name: &str| {
            s.case(name, || {
                println!("      skipped: needs root to make files owned by another user (CI runs as root)");
                Ok(())
            })
        };

        let name =
            "trust files (two users): nothing is written into a cache directory of another user, tenants.json included";
        if !root {
            skip(s, name);
        } else {
            s.case(name, || {
                let cache = w.path("cache-tenants-theirs");
                std::fs::create_dir_all(&cache)?;
                std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777))?;
                chown(&cache, Some(OTHER), Some(OTHER))?;
                let o = run(&cache, &["-p", "hostonly", "token"])?;
                expect_code(&o, 1)?;
                expect_contains(&o.stderr, "belongs to user id 65534", "stderr")?;
                let names: Vec<String> = std::fs::read_dir(&cache)?
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                ensure!(names.is_empty(), "wrote into another user's directory: {names:?}");
                Ok(())
            });
        }

        let name = "trust files (two users): a tenants.json planted by another user is not trusted";
        if !root {
            skip(s, name);
        } else {
            s.case(name, || {
                let cache = w.path("cache-tenants-planted");
                std::fs::create_dir_all(&cache)?;
                let planted = serde_json::json!({"version": 1, "hosts": {
                    w.databricks.uri().to_lowercase(): {"tenant": "00000000-0000-0000-0000-0000000e7e1a", "learned_at": 1}
                }});
                let file = cache.join("tenants.json");
                std::fs::write(&file, planted.to_string())?;
                chown(&file, Some(OTHER), Some(OTHER))?;
                let o = run(&cache, &["-v", "-p", "hostonly", "token"])?;
                expect_code(&o, 0)?;
                expect_contains(&o.stderr, "tenants.json", "stderr")?;
                expect_contains(&o.stderr, "belongs to user id 65534", "stderr")?;
                expect_contains(&o.stderr, "discovered from", "stderr: the planted tenant was used")?;
                ensure!(!o.stderr.contains("0000000e7e1a"), "the planted tenant was used: {}", o.stderr);
                Ok(())
            });
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (w, run);
        s.case("trust files (two users): skipped on this platform (no Unix file ownership)", || Ok(()));
    }
}
