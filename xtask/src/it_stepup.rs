//! Integration cases for the step-up (issue 22): Bob's password sign-in is refused for MFA
//! (AADSTS50076); on a terminal brickauth offers a device-code sign-in for the same account, caches
//! it under the profile, and later calls renew from it silently. Off a terminal nothing is asked:
//! exit 3 with the hint, as before. The terminal is a pseudo-terminal (`script`), the answer typed
//! into it; the mock approves the device code as the user the `login_hint` names.

use anyhow::{Context, Result, ensure};
use brickauth_mock::{BOB, BOB_PASSWORD};

use crate::harness::{Output, Suite, World, age_tokens, expect_code, expect_contains};
use crate::it_polish::pty_typing;

/// Every case of this module, in order.
pub fn cases(w: &World, s: &mut Suite) {
    let config = w.path("profiles.toml").display().to_string();
    let cache = w.path("cache-stepup");
    let cache_s = cache.display().to_string();
    let env = [("BOB_PASSWORD", BOB_PASSWORD), ("BRICKAUTH_CACHE_DIR", cache_s.as_str())];
    let on_terminal = |typed: &str| -> Result<Option<Output>> {
        let extra = [("BOB_PASSWORD", BOB_PASSWORD), ("BRICKAUTH_SECRET_STORAGE", "file")];
        pty_typing(w, &config, &["-p", "mfa", "token"], &cache_s, true, &extra, Some(typed))
    };

    s.case("step-up: off a terminal the MFA refusal stays exit 3 with its hint; nothing is asked", || {
        let before = device_starts(w);
        let o = w.run(&["-p", "mfa", "token"], &env, None)?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "hint: multi-factor authentication is required", "stderr")?;
        ensure!(!o.stderr.contains("[Y/n]"), "asked without a terminal:\n{}", o.stderr);
        ensure!(device_starts(w) == before, "a device code was requested without a terminal");
        // `CI` set: no question on a terminal either.
        let extra = [("BOB_PASSWORD", BOB_PASSWORD), ("BRICKAUTH_SECRET_STORAGE", "file"), ("CI", "true")];
        if let Some(o) = pty_typing(w, &config, &["-p", "mfa", "token"], &cache_s, true, &extra, Some("y\n"))? {
            expect_code(&o, 3)?;
            ensure!(!o.stdout.contains("[Y/n]"), "asked under CI:\n{}", o.stdout);
        }
        Ok(())
    });

    s.case("step-up: on a terminal, answering no keeps exit 3 and requests no device code", || {
        let before = device_starts(w);
        let Some(o) = on_terminal("n\n")? else { return Ok(()) };
        expect_code(&o, 3)?;
        expect_contains(&o.stdout, "Continue with a device code sign-in as bob@contoso.com? [Y/n]", "terminal")?;
        ensure!(device_starts(w) == before, "a device code was requested after `n`");
        Ok(())
    });

    s.case("step-up: MFA on a terminal → yes → device code as Bob → cached; later calls silent", || {
        w.entra.set_device_interval(1);
        let before = device_starts(w);
        let Some(o) = on_terminal("y\n")? else { return Ok(()) };
        expect_code(&o, 0)?;
        expect_contains(&o.stdout, "multi-factor authentication is required", "terminal")?;
        expect_contains(&o.stdout, "microsoft.com/devicelogin", "terminal")?;
        expect_contains(&o.stdout, "set `flow = \"device-code\"` in profile `mfa`", "terminal")?;
        ensure!(o.stdout.matches("flow = \"device-code\"").count() == 1, "the advice is not said once:\n{}", o.stdout);
        ensure!(device_starts(w) == before + 1, "not one device code request");
        let start = w.rt.block_on(w.entra.requests()).into_iter().rev().find(|r| r.path.ends_with("/devicecode"));
        let hint = start.and_then(|r| r.form.get("login_hint").cloned());
        ensure!(hint.as_deref() == Some(BOB), "login_hint: {hint:?}");
        let token = o
            .stdout
            .split_whitespace()
            .find(|word| w.entra.registry().is_valid(word))
            .context("no token printed on the terminal")?
            .to_owned();
        ensure!(upn(&token)? == BOB, "the token is for {}", upn(&token)?);

        // The same profile, no terminal: served from the cache, nothing asked, nothing sent.
        let requests = w.entra.token_request_count();
        let o = w.run(&["-p", "mfa", "token"], &env, None)?;
        expect_code(&o, 0)?;
        ensure!(o.stdout.trim() == token, "not the stepped-up token");
        ensure!(w.entra.token_request_count() == requests, "a cached call sent a request");
        // A renewal, still without a terminal: the device code's refresh token, not the password.
        age_tokens(&cache)?;
        let o = w.run(&["-p", "mfa", "token", "--force-refresh"], &env, None)?;
        expect_code(&o, 0)?;
        ensure!(upn(o.stdout.trim())? == BOB, "the renewed token is not Bob's");
        let sent = w.token_requests();
        let grant = sent.last().and_then(|f| f.get("grant_type").cloned());
        ensure!(grant.as_deref() == Some("refresh_token"), "renewed with {grant:?}");
        let renewals = w.entra.token_request_count() - requests;
        ensure!(renewals == 1, "{renewals} token requests for one renewal");
        Ok(())
    });
}

/// Device authorization requests the mock received so far.
fn device_starts(w: &World) -> usize {
    w.rt.block_on(w.entra.requests()).iter().filter(|r| r.path.ends_with("/devicecode")).count()
}

/// Whom a token the mock issued belongs to.
fn upn(token: &str) -> Result<String> {
    let claims = brickauth_mock::jwt::claims(token).context("not a JWT")?;
    Ok(claims["upn"].as_str().unwrap_or_default().to_owned())
}
