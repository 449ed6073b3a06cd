//! `cargo xtask integration`: the real binary against the mock servers.
//!
//! Every case runs `brickauth` as a child process with a clean environment, a profile file from
//! `fixtures/profiles/` and its own cache directory, then checks the exit code, the output and
//! what the mock identity provider received. At the end every run's stderr (all at `-vv`) is
//! scanned for every secret the mock issued or the profiles hold.

use std::time::Duration;

use anyhow::{Result, bail, ensure};
use brickauth_mock::{ALICE_PASSWORD, BOB_PASSWORD, Failure, WRONG_PASSWORD};
use serde_json::Value;

use crate::harness::{Suite, World, age_tokens, build_binary, expect_code, expect_contains, root};

fn env() -> Vec<(&'static str, &'static str)> {
    vec![("ALICE_PASSWORD", ALICE_PASSWORD), ("BOB_PASSWORD", BOB_PASSWORD), ("WRONG_PASSWORD", WRONG_PASSWORD)]
}

/// `cargo xtask integration [FILTER]`: only the cases whose name contains FILTER.
pub fn run(filter: Option<&str>) -> Result<()> {
    let bin = build_binary(false)?;
    let w = World::start(bin)?;
    let template = std::fs::read_to_string(root().join("fixtures/profiles/integration.toml"))?;
    let template = template.replace("{DIR}", &w.dir.path().display().to_string());
    w.write_profiles("profiles.toml", &template)?;
    let mut s = Suite::filtered(filter);

    s.case("flows lists every registered flow, sorted", || {
        let o = w.run(&["flows"], &[], None)?;
        expect_code(&o, 0)?;
        let names: Vec<&str> = o.stdout.lines().filter(|l| !l.starts_with([' ', 'E']) && !l.is_empty()).collect();
        expect_contains(&o.stdout, "password (aliases: username-password, ropc)", "flows")?;
        expect_contains(&o.stdout, "refresh-token", "flows")?;
        let mut sorted = names.clone();
        sorted.sort();
        ensure!(names == sorted, "not sorted: {names:?}");
        Ok(())
    });

    s.case("password flow: token prints the issued access token", || {
        let before = w.entra.token_request_count();
        let o = w.run(&["-vv", "token"], &env(), None)?;
        expect_code(&o, 0)?;
        let token = o.stdout.trim();
        ensure!(w.entra.issued_access_tokens().iter().any(|t| t == token), "not a token the mock issued: {token}");
        ensure!(w.entra.token_request_count() == before + 1, "expected exactly one token request");
        let form = w.token_requests().pop().unwrap_or_default();
        ensure!(form.get("grant_type").map(String::as_str) == Some("password"), "grant_type: {form:?}");
        ensure!(
            form.get("scope").map(String::as_str)
                == Some("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default offline_access openid profile"),
            "scope: {form:?}"
        );
        ensure!(form.get("client_info").map(String::as_str) == Some("1"), "client_info: {form:?}");
        Ok(())
    });

    s.case("a second token call is answered from the cache: no request", || {
        let before = w.entra.token_request_count();
        let o = w.run(&["-vv", "token"], &env(), None)?;
        expect_code(&o, 0)?;
        ensure!(w.entra.token_request_count() == before, "the cached call sent a token request");
        // A second profile for the same identity shares the cache entry: through its `username`
        // (a profile naming no account would run its own flow instead; see it_trust.rs).
        let o2 = w.run(&["-p", "alice-again", "token"], &env(), None)?;
        expect_code(&o2, 0)?;
        ensure!(o2.stdout == o.stdout, "profiles of one identity got different tokens");
        ensure!(w.entra.token_request_count() == before, "the second profile sent a token request");
        Ok(())
    });

    s.case("-o json has the az-compatible keys", || {
        let o = w.run(&["token", "-o", "json"], &env(), None)?;
        expect_code(&o, 0)?;
        let v: Value = serde_json::from_str(&o.stdout)?;
        for k in ["accessToken", "expiresOn", "expires_on", "tokenType", "tenant", "profile", "flow", "scope"] {
            ensure!(v.get(k).is_some(), "missing key {k} in {v}");
        }
        ensure!(v["tokenType"] == "Bearer" && v["flow"] == "password" && v["profile"] == "alice", "{v}");
        ensure!(v["tenant"] == brickauth_mock::TENANT_ID, "{v}");
        ensure!(v.get("refreshToken").is_none(), "refresh token printed without --include-refresh-token");
        ensure!(v["expires_on"].as_i64().unwrap_or(0) > 0, "{v}");
        Ok(())
    });

    s.case("-o env prints export lines", || {
        let o = w.run(&["token", "-o", "env"], &env(), None)?;
        expect_code(&o, 0)?;
        expect_contains(&o.stdout, &format!("export DATABRICKS_HOST={}\n", w.databricks.uri()), "env output")?;
        expect_contains(&o.stdout, "export DATABRICKS_TOKEN=ey", "env output")?;
        Ok(())
    });

    s.case("wrong password: exit 3, AADSTS50126 and a hint", || {
        // Its own cache: the profile names alice's identity, whose token is cached already.
        let cache = w.path("cache-wrong").display().to_string();
        let env: Vec<_> = env().into_iter().chain([("BRICKAUTH_CACHE_DIR", cache.as_str())]).collect();
        let o = w.run(&["-vv", "-p", "wrong-password", "token"], &env, None)?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "AADSTS50126", "stderr")?;
        expect_contains(&o.stderr, "hint:", "stderr")?;
        expect_contains(&o.stderr, "password_env = WRONG_PASSWORD", "the profile note")?;
        ensure!(o.stdout.is_empty(), "stdout not empty: {}", o.stdout);
        Ok(())
    });

    s.case("MFA-required user: exit 3 with a hint to use an interactive flow", || {
        let o = w.run(&["-vv", "-p", "mfa", "token"], &env(), None)?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "AADSTS50076", "stderr")?;
        // core's hint says what; the CLI words the sign-in: its command, the registry's flows.
        expect_contains(&o.stderr, "hint: multi-factor authentication is required", "stderr")?;
        expect_contains(&o.stderr, "`flow = \"authorization-code\"` or `flow = \"device-code\"`", "stderr")?;
        expect_contains(&o.stderr, "then run `brickauth login`", "stderr")?;
        Ok(())
    });

    s.case("unknown client: exit 3 with AADSTS700016", || {
        let o = w.run(&["-vv", "-p", "unknown-client", "token"], &env(), None)?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "AADSTS700016", "stderr")?;
        Ok(())
    });

    s.case("refresh-token flow: the configured token is used once, then the rotated one", || {
        let rt = w.entra.issue_refresh_token("alice@contoso.com");
        std::fs::write(w.path("rt.txt"), format!("{rt}\n"))?;
        let cache = w.path("cache-rt");
        let cache = cache.display().to_string();
        let env = [("BRICKAUTH_CACHE_DIR", cache.as_str())];
        let o = w.run(&["-vv", "-p", "rt", "token"], &env, None)?;
        expect_code(&o, 0)?;
        let first: Vec<_> = w.token_requests();
        let used = first.iter().filter(|f| f.get("refresh_token") == Some(&rt)).count();
        ensure!(used == 1, "the configured refresh token was sent {used} times");
        // Force a refresh twice: each must use the rotated token from the cache, never the spent one.
        for _ in 0..2 {
            age_tokens(&w.path("cache-rt"))?;
            let o = w.run(&["-vv", "-p", "rt", "token", "--force-refresh"], &env, None)?;
            expect_code(&o, 0)?;
        }
        let all = w.token_requests();
        let used = all.iter().filter(|f| f.get("refresh_token") == Some(&rt)).count();
        ensure!(used == 1, "the spent refresh token was sent again ({used} times)");
        let mut sent: Vec<&String> = all.iter().filter_map(|f| f.get("refresh_token")).collect();
        let n = sent.len();
        sent.sort();
        sent.dedup();
        ensure!(sent.len() == n, "a refresh token was sent twice");
        Ok(())
    });

    s.case("unknown key: exit 2 naming file:line and the nearest key", || {
        let p = root().join("fixtures/profiles/typo-key.toml");
        let o = w.run(&["--config", &p.display().to_string(), "token"], &env(), None)?;
        expect_code(&o, 2)?;
        expect_contains(&o.stderr, "typo-key.toml:5", "stderr")?;
        expect_contains(&o.stderr, "usernme", "stderr")?;
        expect_contains(&o.stderr, "username", "stderr")?;
        Ok(())
    });

    s.case("unknown flow: exit 2 listing the registered flows", || {
        let p = root().join("fixtures/profiles/unknown-flow.toml");
        let o = w.run(&["--config", &p.display().to_string(), "token"], &env(), None)?;
        expect_code(&o, 2)?;
        expect_contains(&o.stderr, "passwrd", "stderr")?;
        expect_contains(&o.stderr, "refresh-token", "stderr")?;
        Ok(())
    });

    s.case("clear-text authority to a non-loopback host: exit 2", || {
        let p = root().join("fixtures/profiles/clear-text.toml");
        let o = w.run(&["--config", &p.display().to_string(), "token"], &env(), None)?;
        expect_code(&o, 2)?;
        expect_contains(&o.stderr, "clear-text", "stderr")?;
        Ok(())
    });

    s.case("429 with Retry-After: 1, then 200: success after about a second", || {
        age_tokens(&w.path("cache"))?;
        w.entra.fail_next(vec![Failure::too_many_requests("1")]);
        let o = w.run(&["-vv", "token", "--force-refresh"], &env(), None)?;
        expect_code(&o, 0)?;
        ensure!(o.elapsed >= Duration::from_millis(950), "did not wait for Retry-After: {:?}", o.elapsed);
        ensure!(o.elapsed < Duration::from_secs(10), "took too long: {:?}", o.elapsed);
        Ok(())
    });

    s.case("503 three times, then 200: success", || {
        age_tokens(&w.path("cache"))?;
        w.entra.fail_next(vec![Failure::unavailable(), Failure::unavailable(), Failure::unavailable()]);
        let o = w.run(&["-vv", "token", "--force-refresh"], &env(), None)?;
        expect_code(&o, 0)?;
        Ok(())
    });

    s.case("503 forever: exit 1 within the retry budget, naming the last status", || {
        w.entra.fail_next(vec![Failure::unavailable(); 50]);
        let budget = [("BRICKAUTH_RETRY_BUDGET", "4")];
        let env: Vec<_> = env().into_iter().chain(budget).collect();
        age_tokens(&w.path("cache"))?;
        let o = w.run(&["-vv", "token", "--force-refresh"], &env, None)?;
        w.entra.clear_failures();
        expect_code(&o, 1)?;
        expect_contains(&o.stderr, "503", "stderr")?;
        ensure!(o.elapsed < Duration::from_secs(8), "exceeded the budget: {:?}", o.elapsed);
        Ok(())
    });

    s.case("an HTML 502 from a proxy, then success", || {
        age_tokens(&w.path("cache"))?;
        w.entra.fail_next(vec![Failure::html_bad_gateway()]);
        let o = w.run(&["-vv", "token", "--force-refresh"], &env(), None)?;
        expect_code(&o, 0)?;
        Ok(())
    });

    s.case("32 processes needing the same expired token cause one token request", || {
        let cache = w.path("cache-flight").display().to_string();
        let env: Vec<_> = env().into_iter().chain([("BRICKAUTH_CACHE_DIR", cache.as_str())]).collect();
        // Prime the cache with a 42-second token and let it age past its renewal margin (the
        // 40 s floor: the margin is at most half a lifetime), then let fresh tokens live an hour
        // again: every process below wants a refresh, one must do it.
        w.entra.set_token_lifetime(42);
        expect_code(&w.run(&["token"], &env, None)?, 0)?;
        w.entra.set_token_lifetime(3600);
        std::thread::sleep(Duration::from_secs(3));
        let before = w.entra.token_request_count();
        let outputs = crate::harness::concurrently(32, |_| w.run(&["-vv", "token"], &env, None))?;
        let sent = w.entra.token_request_count() - before;
        for o in &outputs {
            expect_code(o, 0)?;
            ensure!(w.entra.registry().is_valid(o.stdout.trim()), "printed an invalid token");
        }
        ensure!(sent == 1, "{sent} token requests for 32 processes");
        let first = &outputs[0].stdout;
        ensure!(outputs.iter().all(|o| &o.stdout == first), "processes printed different tokens");
        Ok(())
    });

    s.case("cache: directory 0700, file 0600, no secret in -vv output", || {
        let cache = w.path("cache");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let d = std::fs::metadata(&cache)?.permissions().mode() & 0o777;
            let f = std::fs::metadata(cache.join("tokens.json"))?.permissions().mode() & 0o777;
            ensure!(d == 0o700, "cache dir mode {d:o}");
            ensure!(f == 0o600, "cache file mode {f:o}");
        }
        ensure!(cache.join("tokens.json").exists(), "no cache file");
        Ok(())
    });

    s.case("a garbage cache file is moved aside with a warning and the command succeeds", || {
        let dir = w.path("cache-garbage");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("tokens.json"), "{\"version\": 1, \"entries\": {\"x\": tr")?;
        let d = dir.display().to_string();
        let env: Vec<_> = env().into_iter().chain([("BRICKAUTH_CACHE_DIR", d.as_str())]).collect();
        let o = w.run(&["token"], &env, None)?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, "corrupt", "stderr")?;
        let moved = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().starts_with("tokens.json.corrupt-"));
        ensure!(moved, "the corrupt file was not kept aside");
        let again = w.run(&["token"], &env, None)?;
        expect_code(&again, 0)?;
        ensure!(again.stdout == o.stdout, "the new cache was not used");
        Ok(())
    });

    s.case("logout forgets the identity: the next token call signs in again", || {
        let cache = w.path("cache-logout").display().to_string();
        let env: Vec<_> = env().into_iter().chain([("BRICKAUTH_CACHE_DIR", cache.as_str())]).collect();
        expect_code(&w.run(&["token"], &env, None)?, 0)?;
        let before = w.entra.token_request_count();
        let o = w.run(&["logout"], &env, None)?;
        expect_code(&o, 0)?;
        expect_code(&w.run(&["token"], &env, None)?, 0)?;
        ensure!(w.entra.token_request_count() == before + 1, "token after logout did not sign in");
        let o = w.run(&["logout", "--all"], &env, None)?;
        expect_code(&o, 0)?;
        Ok(())
    });

    s.case("--include-refresh-token is the only way a refresh token is printed", || {
        let o = w.run(&["token", "-o", "json", "--include-refresh-token"], &env(), None)?;
        expect_code(&o, 0)?;
        let v: Value = serde_json::from_str(&o.stdout)?;
        let rt = v["refreshToken"].as_str().unwrap_or_default();
        ensure!(w.entra.issued_refresh_tokens().iter().any(|t| t == rt), "not an issued refresh token: {v}");
        // Keep it out of the leak scan's stdout rule: this run printed it on request.
        w.transcript.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.pop();
        Ok(())
    });

    crate::it_flows::cases(&w, &mut s);
    crate::it_authcode::cases(&w, &mut s);
    crate::it_databricks::cases(&w, &mut s);
    crate::it_metadata::cases(&w, &mut s);
    crate::it_coalesce::cases(&w, &mut s);
    crate::it_stepup::cases(&w, &mut s);
    crate::it_platform::cases(&w, &mut s);
    crate::it_faults::cases(&w, &mut s);
    crate::it_reach::cases(&w, &mut s);
    crate::it_azcli::cases(&w, &mut s);
    crate::it_trust::cases(&w, &mut s);
    crate::it_trust_files::cases(&w, &mut s);
    crate::it_transport::cases(&w, &mut s);
    crate::it_polish::cases(&w, &mut s);
    crate::it_oneway::cases(&w, &mut s);
    crate::it_zerosetup::cases(&w, &mut s);
    crate::it_keychain::cases(&w, &mut s);
    crate::it_accounts::cases(&w, &mut s);

    s.case("no secret appears on stderr of any run (-vv)", || {
        let mut secrets: Vec<String> = vec![
            ALICE_PASSWORD.into(),
            BOB_PASSWORD.into(),
            WRONG_PASSWORD.into(),
            brickauth_mock::SP_CLIENT_SECRET.into(),
        ];
        secrets.extend(w.entra.issued_access_tokens());
        secrets.extend(w.entra.issued_refresh_tokens());
        let transcript = w.transcript.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        for (args, o) in transcript.iter() {
            for secret in &secrets {
                if o.stderr.contains(secret.as_str()) {
                    bail!("`brickauth {args}` leaked a secret on stderr");
                }
            }
            // stdout carries access tokens by design, but never a refresh token or password.
            for secret in secrets.iter().filter(|s| !w.entra.issued_access_tokens().contains(s)) {
                if o.stdout.contains(secret.as_str()) {
                    bail!("`brickauth {args}` printed a refresh token or password on stdout");
                }
            }
        }
        // A filtered run scans what it ran; the whole suite must have scanned a meaningful number.
        ensure!(filter.is_some() || transcript.len() > 10, "too few runs scanned");
        Ok(())
    });

    s.finish()
}
