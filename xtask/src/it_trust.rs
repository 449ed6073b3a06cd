//! Integration cases for trust in the cache (issue 10 points 1–3, `brickauth status`, the cache
//! example): a profile never receives another account's token, a sign-in for the wrong account
//! is refused, and the cache directory and its files cannot be borrowed by another local user.
//!
//! Two users: alice (password, no MFA) and bob (MFA required, so he signs in here through a
//! refresh token the mock issues him). Cases that need a second user id (files owned by another
//! user) run only as root, with uid 65534 (`nobody`) as the other user, and say when skipped.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use crate::harness::{Output, Suite, World, expect_code, expect_contains, root};

const PROFILES: &str = r#"
[defaults]
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
authority_host = "{AUTHORITY}"
host = "{HOST}"

[profiles.alice]
flow = "password"
username = "alice@contoso.com"
password_env = "ALICE_PASSWORD"

# Shares alice's token through its username (case differs on purpose).
[profiles.alice-again]
flow = "ropc"
username = "Alice@Contoso.com"
password_env = "ALICE_PASSWORD"

# Holds bob's refresh token; names no account.
[profiles.bob-rt]
flow = "refresh-token"
refresh_token_file = "{DIR}/bob-rt.txt"

# Interactive, names no account: bound only by its own sign-in.
[profiles.dev]
flow = "device-code"

[profiles.ac-unbound]
flow = "authorization-code"

[profiles.ac-alice]
flow = "authorization-code"
username = "alice@contoso.com"

[profiles.sp]
flow = "client-credentials"
client_id = "{SP_CLIENT}"
client_secret_env = "SP_SECRET"
"#;

const ALICE_PASSWORD: &str = "correct horse battery staple";

/// Every case of this module, in order.
pub fn cases(w: &World, s: &mut Suite) {
    let setup = || -> Result<(String, String)> {
        let template = PROFILES
            .replace("{DIR}", &w.dir.path().display().to_string())
            .replace("{SP_CLIENT}", brickauth_mock::SP_CLIENT_ID);
        let config = w.write_profiles("trust.toml", &template)?.display().to_string();
        // A private copy of xtask for $BROWSER (see it_authcode.rs).
        let exe = std::env::current_exe().context("the xtask executable")?;
        let copy = w.path(&format!("xtask-browse-trust{}", std::env::consts::EXE_SUFFIX));
        std::fs::copy(&exe, &copy).with_context(|| format!("copying {} to {}", exe.display(), copy.display()))?;
        Ok((config, copy.display().to_string()))
    };
    let (config, xtask) = match setup() {
        Ok(v) => v,
        Err(e) => {
            s.case("trust: setup", || Err(e));
            return;
        }
    };
    let cache_of = |name: &str| w.path(name).display().to_string();
    // `brickauth --config trust.toml ARGS` with its own cache directory.
    let run = |cache: &str, args: &[&str], extra: &[(&str, &str)]| -> Result<Output> {
        let mut a = vec!["--config", config.as_str()];
        a.extend_from_slice(args);
        let mut env = vec![
            ("ALICE_PASSWORD", ALICE_PASSWORD),
            ("SP_SECRET", brickauth_mock::SP_CLIENT_SECRET),
            ("BRICKAUTH_CACHE_DIR", cache),
        ];
        env.extend_from_slice(extra);
        w.run(&a, &env, None)
    };
    let user_of = |o: &Output| -> Result<String> {
        let token = o.stdout.trim();
        let info = w.entra.registry().lookup(token).with_context(|| format!("not a token the mock issued: {token}"))?;
        Ok(info.username)
    };
    let bob_rt = || -> Result<String> {
        let rt = w.entra.issue_refresh_token("bob@contoso.com");
        std::fs::write(w.path("bob-rt.txt"), format!("{rt}\n"))?;
        Ok(rt)
    };

    s.case("trust: bob's refresh token yields bob, not alice's cached token", || {
        let cache = cache_of("cache-trust-bob");
        expect_code(&run(&cache, &["-p", "alice", "token"], &[])?, 0)?;
        let rt = bob_rt()?;
        let before = w.entra.token_request_count();
        let o = run(&cache, &["-vv", "-p", "bob-rt", "token"], &[])?;
        expect_code(&o, 0)?;
        ensure!(user_of(&o)? == "bob@contoso.com", "bob-rt printed {}'s token", user_of(&o)?);
        ensure!(w.entra.token_request_count() == before + 1, "bob's refresh token was not redeemed");
        let sent = w.token_requests().pop().unwrap_or_default();
        ensure!(sent.get("refresh_token") == Some(&rt), "the configured refresh token was not the one sent");
        // Bound now: from the cache, still bob; alice's profile still alice.
        let again = run(&cache, &["-p", "bob-rt", "token"], &[])?;
        ensure!(again.stdout == o.stdout && w.entra.token_request_count() == before + 1, "not from the cache");
        ensure!(user_of(&run(&cache, &["-p", "alice", "token"], &[])?)? == "alice@contoso.com", "alice switched");
        Ok(())
    });

    s.case("trust: a changed configured refresh token is redeemed, not answered from the cache", || {
        let cache = cache_of("cache-trust-rt-change");
        bob_rt()?;
        let o = run(&cache, &["-p", "bob-rt", "token"], &[])?;
        expect_code(&o, 0)?;
        ensure!(user_of(&o)? == "bob@contoso.com", "first sign-in is not bob");
        let tokens = std::fs::read_to_string(Path::new(&cache).join("tokens.json"))?;
        ensure!(tokens.contains("hmac-sha256:"), "no credential fingerprint in the cache");
        let configured = std::fs::read_to_string(w.path("bob-rt.txt"))?;
        ensure!(!tokens.contains(configured.trim()), "the configured refresh token itself is in the cache");
        // The profile now holds alice's refresh token.
        let alice_rt = w.entra.issue_refresh_token("alice@contoso.com");
        std::fs::write(w.path("bob-rt.txt"), format!("{alice_rt}\n"))?;
        let before = w.entra.token_request_count();
        let o = run(&cache, &["-p", "bob-rt", "token"], &[])?;
        expect_code(&o, 0)?;
        ensure!(user_of(&o)? == "alice@contoso.com", "the new refresh token was not redeemed");
        ensure!(w.entra.token_request_count() == before + 1, "expected one token request");
        ensure!(
            w.token_requests().pop().unwrap_or_default().get("refresh_token") == Some(&alice_rt),
            "wrong token sent"
        );
        Ok(())
    });

    s.case(
        "trust: an unbound interactive profile exits 3 with the login command while alice's token is cached",
        || {
            let cache = cache_of("cache-trust-unbound");
            expect_code(&run(&cache, &["-p", "alice", "token"], &[])?, 0)?;
            let before = w.entra.token_request_count();
            for profile in ["ac-unbound", "dev"] {
                let o = run(&cache, &["-p", profile, "token"], &[])?;
                expect_code(&o, 3)?;
                expect_contains(&o.stderr, &format!("run `brickauth login -p {profile}`"), "stderr")?;
                ensure!(o.stdout.is_empty(), "{profile} printed a token: {}", o.stdout);
            }
            ensure!(w.entra.token_request_count() == before, "a token request was sent");
            // Sharing through `username` stays: no request, alice's token.
            let a = run(&cache, &["-p", "alice", "token"], &[])?;
            let b = run(&cache, &["-p", "alice-again", "token"], &[])?;
            ensure!(a.stdout == b.stdout && w.entra.token_request_count() == before, "alice-again did not share");
            Ok(())
        },
    );

    s.case("trust: logout names every profile that lost its sign-in; none switches account", || {
        let cache = cache_of("cache-trust-logout");
        w.entra.set_device_interval(1);
        w.entra.set_device_user("alice@contoso.com");
        // dev signs in (device code: alice), alice through her password; bob through his token.
        expect_code(&run(&cache, &["-p", "dev", "login"], &[])?, 0)?;
        expect_code(&run(&cache, &["-p", "alice", "token"], &[])?, 0)?;
        bob_rt()?;
        expect_code(&run(&cache, &["-p", "bob-rt", "token"], &[])?, 0)?;
        let o = run(&cache, &["-p", "dev", "logout"], &[])?;
        expect_code(&o, 0)?;
        for p in ["`dev`", "`alice`", "`alice-again`"] {
            expect_contains(&o.stderr, p, "logout's report")?;
        }
        expect_contains(&o.stderr, "alice@contoso.com", "logout's report")?;
        ensure!(!o.stderr.contains("`bob-rt`"), "bob-rt was named: {}", o.stderr);
        // dev does not fall back to bob's token, the only one left.
        let o = run(&cache, &["-p", "dev", "token"], &[])?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "run `brickauth login -p dev`", "stderr")?;
        ensure!(user_of(&run(&cache, &["-p", "bob-rt", "token"], &[])?)? == "bob@contoso.com", "bob lost his sign-in");
        Ok(())
    });

    s.case("trust: a username = alice profile whose sign-in returns bob is refused, nothing cached", || {
        let cache = cache_of("cache-trust-wrong-account");
        let browser = format!("{xtask} browse --as bob@contoso.com");
        let before = w.entra.token_request_count();
        let o = run(&cache, &["-vv", "-p", "ac-alice", "login"], &[("BROWSER", browser.as_str())])?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "expects alice@contoso.com", "stderr")?;
        expect_contains(&o.stderr, "bob@contoso.com", "stderr")?;
        ensure!(w.entra.token_request_count() == before + 1, "the code was not redeemed once");
        let tokens = std::fs::read_to_string(Path::new(&cache).join("tokens.json")).unwrap_or_default();
        ensure!(!tokens.contains("bob@contoso.com") && !tokens.contains("access_token"), "cached: {tokens}");
        // With the right account it goes through, and says who signed in.
        let browser = format!("{xtask} browse");
        let o = run(&cache, &["-p", "ac-alice", "login"], &[("BROWSER", browser.as_str())])?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, "Signed in as alice@contoso.com with profile `ac-alice`", "stderr")?;
        Ok(())
    });

    s.case("trust: every login says who signed in (service principals by client id)", || {
        let cache = cache_of("cache-trust-login");
        let o = run(&cache, &["-p", "alice", "login"], &[])?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, "Signed in as alice@contoso.com with profile `alice`", "stderr")?;
        expect_contains(&o.stderr, " UTC (in ", "stderr: a zone and a relative time")?;
        let o = run(&cache, &["-p", "sp", "login"], &[])?;
        expect_code(&o, 0)?;
        let sp = format!("Signed in as the service principal {}", brickauth_mock::SP_CLIENT_ID);
        expect_contains(&o.stderr, &sp, "stderr")?;
        Ok(())
    });

    s.case("trust: status shows every profile from the cache only, and --check sets the exit code", || {
        let cache = cache_of("cache-trust-status");
        expect_code(&run(&cache, &["-p", "alice", "token"], &[])?, 0)?;
        let before = w.entra.token_request_count();
        let o = run(&cache, &["status"], &[])?;
        expect_code(&o, 0)?;
        for p in ["alice", "alice-again", "bob-rt", "dev", "ac-unbound", "ac-alice", "sp"] {
            ensure!(o.stdout.lines().any(|l| l[1..].starts_with(&format!("{p} "))), "no line for {p}:\n{}", o.stdout);
        }
        let line = |p: &str| o.stdout.lines().find(|l| l[1..].starts_with(&format!("{p} "))).unwrap_or_default();
        ensure!(line("alice-again").contains("alice@contoso.com"), "{}", o.stdout);
        ensure!(line("dev").contains("(not signed in)"), "{}", o.stdout);
        let j = run(&cache, &["status", "-o", "json"], &[])?;
        expect_code(&j, 0)?;
        let v: Value = serde_json::from_str(&j.stdout)?;
        let alice = v["profiles"].as_array().and_then(|a| a.iter().find(|p| p["profile"] == "alice")).cloned();
        let alice = alice.context("no alice in status -o json")?;
        ensure!(alice["account"] == "alice@contoso.com" && alice["refresh_token"] == true, "{alice}");
        let check = run(&cache, &["status", "--check"], &[])?;
        expect_code(&check, 3)?;
        ensure!(check.stdout.is_empty(), "--check printed: {}", check.stdout);
        ensure!(w.entra.token_request_count() == before, "status sent a token request");
        Ok(())
    });

    s.case("trust: a cache directory open to others is tightened to 0700", || {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let cache = cache_of("cache-trust-loose");
            std::fs::create_dir_all(&cache)?;
            std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777))?;
            let o = run(&cache, &["-p", "alice", "token"], &[])?;
            expect_code(&o, 0)?;
            let mode = std::fs::metadata(&cache)?.permissions().mode() & 0o777;
            ensure!(mode == 0o700, "mode {mode:o}");
            expect_contains(&o.stderr, "set it to 700", "stderr")?;
        }
        Ok(())
    });

    s.case("trust: a symlinked tokens.lock is refused and its target left alone", || {
        #[cfg(unix)]
        {
            let cache = cache_of("cache-trust-symlink");
            std::fs::create_dir_all(&cache)?;
            let victim = w.path("victim.txt");
            std::fs::write(&victim, "precious")?;
            std::os::unix::fs::symlink(&victim, Path::new(&cache).join("tokens.lock"))?;
            let o = run(&cache, &["-p", "alice", "token"], &[])?;
            expect_code(&o, 1)?;
            expect_contains(&o.stderr, "tokens.lock", "stderr")?;
            expect_contains(&o.stderr, "symbolic link", "stderr")?;
            ensure!(std::fs::read_to_string(&victim)? == "precious", "the link's target was written");
        }
        Ok(())
    });

    two_uid_cases(w, s, &run);

    s.case("trust: the cache crate's example gets a token through TokenProvider and the password flow", || {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = std::process::Command::new(cargo)
            .current_dir(root())
            .args(["run", "--quiet", "-p", "brickauth-cache", "--example", "cached_password"])
            .output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        ensure!(out.status.success(), "the example failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        expect_contains(&stdout, "signed in as alice@contoso.com", "the example's output")?;
        expect_contains(&stdout, "1 token request(s)", "the example's output")?;
        Ok(())
    });
}

/// Cases that need files another user owns: as root, with uid 65534; skipped (and said so)
/// otherwise.
/// `run(cache dir, args, extra env)`: the module's way of running the binary.
type Run<'a> = dyn Fn(&str, &[&str], &[(&str, &str)]) -> Result<Output> + 'a;

fn two_uid_cases(w: &World, s: &mut Suite, run: &Run<'_>) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{PermissionsExt, chown, lchown};
        // SAFETY: geteuid has no preconditions.
        #[allow(unsafe_code)]
        let root = unsafe { libc::geteuid() } == 0;
        let skip = |s: &mut Suite, name: &str| {
            s.case(name, || {
                println!("      skipped: needs root to make files owned by another user (CI runs as root)");
                Ok(())
            })
        };
        const OTHER: u32 = 65534;

        let name = "trust (two users): a cache directory owned by another user is refused";
        if !root {
            skip(s, name);
        } else {
            s.case(name, || {
                let cache = w.path("cache-trust-theirs");
                std::fs::create_dir_all(&cache)?;
                std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700))?;
                chown(&cache, Some(OTHER), Some(OTHER))?;
                let o = run(&cache.display().to_string(), &["-p", "alice", "token"], &[])?;
                expect_code(&o, 1)?;
                expect_contains(&o.stderr, &cache.display().to_string(), "stderr")?;
                expect_contains(&o.stderr, "belongs to user id 65534", "stderr")?;
                expect_contains(&o.stderr, "BRICKAUTH_CACHE_DIR", "stderr: the fix")?;
                ensure!(!cache.join("tokens.json").exists(), "wrote into another user's directory");
                Ok(())
            });
        }

        let name = "trust (two users): a tokens.json owned by another user is not read";
        if !root {
            skip(s, name);
        } else {
            s.case(name, || {
                // A real cache, planted: its token is valid, and must still not be printed.
                let cache = w.path("cache-trust-planted");
                let c = cache.display().to_string();
                let planted = run(&c, &["-p", "alice", "token"], &[])?;
                expect_code(&planted, 0)?;
                chown(cache.join("tokens.json"), Some(OTHER), Some(OTHER))?;
                let o = run(&c, &["-p", "alice", "token"], &[])?;
                expect_code(&o, 1)?;
                expect_contains(&o.stderr, "tokens.json", "stderr")?;
                expect_contains(&o.stderr, "belongs to user id 65534", "stderr")?;
                ensure!(!o.stdout.contains(planted.stdout.trim()), "printed the planted token");
                Ok(())
            });
        }

        let name = "trust (two users): another user's symlinked tokens.lock is refused";
        if !root {
            skip(s, name);
        } else {
            s.case(name, || {
                let cache = w.path("cache-trust-their-link");
                std::fs::create_dir_all(&cache)?;
                let victim = w.path("victim-of-link.txt");
                std::fs::write(&victim, "precious")?;
                let link = cache.join("tokens.lock");
                std::os::unix::fs::symlink(&victim, &link)?;
                lchown(&link, Some(OTHER), Some(OTHER))?;
                let o = run(&cache.display().to_string(), &["-p", "alice", "token"], &[])?;
                expect_code(&o, 1)?;
                expect_contains(&o.stderr, "symbolic link", "stderr")?;
                ensure!(std::fs::read_to_string(&victim)? == "precious", "the link's target was written");
                Ok(())
            });
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (w, run);
        s.case("trust (two users): skipped on this platform (no Unix file ownership)", || Ok(()));
    }
}
