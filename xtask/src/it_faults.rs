//! Fault injection: what a misbehaving network or server does to the real binary.
//!
//! Each case gives a clear error or a correct retry — never a panic, never a corrupted cache,
//! never a lost refresh token. Faults come from the mock's failure queue, from a raw TCP server
//! that breaks HTTP on purpose, and from a port nobody listens on.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use anyhow::{Result, ensure};
use brickauth_mock::Failure;

use crate::harness::{Output, Suite, World, expect_code, expect_contains};

const PROFILE: &str = r#"[defaults]
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
username = "alice@contoso.com"
password_env = "ALICE_PASSWORD"

[profiles.mock]
flow = "password"
authority_host = "{AUTHORITY}"

[profiles.broken]
flow = "password"
authority_host = "http://127.0.0.1:{BROKEN}"
"#;

fn json_answer(status: u16, body: &str) -> Failure {
    Failure::Status { status, retry_after: None, body: body.to_owned(), content_type: "application/json".to_owned() }
}

/// A server on 127.0.0.1 that answers every request with `reply` and closes the connection.
fn breaking_server(reply: &'static [u8]) -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 8192];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(reply);
            // Dropping the stream closes it mid-body: the declared length is never reached.
        }
    });
    Ok(port)
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

pub fn cases(w: &World, s: &mut Suite) {
    let setup = |broken: u16| -> Result<String> {
        let text = PROFILE.replace("{BROKEN}", &broken.to_string());
        Ok(w.write_profiles(&format!("faults-{broken}.toml"), &text)?.display().to_string())
    };
    let run = |config: &str, profile: &str, cache: &str, extra: &[&str], env: &[(&str, &str)]| -> Result<Output> {
        let dir = w.path(cache).display().to_string();
        let mut all: Vec<(&str, &str)> =
            vec![("ALICE_PASSWORD", brickauth_mock::ALICE_PASSWORD), ("BRICKAUTH_CACHE_DIR", dir.as_str())];
        all.extend_from_slice(env);
        let mut args = vec!["--config", config, "-p", profile, "-vv", "token"];
        args.extend_from_slice(extra);
        let o = w.run(&args, &all, None)?;
        ensure!(!o.stderr.contains("panicked"), "brickauth panicked:\n{}", o.stderr);
        Ok(o)
    };
    let cache_parses = |cache: &str| -> Result<()> {
        let p = w.path(cache).join("tokens.json");
        if p.exists() {
            let text = std::fs::read_to_string(&p)?;
            serde_json::from_str::<serde_json::Value>(&text)?;
        }
        Ok(())
    };
    let Ok(config) = closed_port().and_then(setup) else {
        s.case("faults: setup", || anyhow::bail!("cannot write the profile file"));
        return;
    };

    s.case("fault: connection refused → exit 1 naming the endpoint, within the budget", || {
        let budgets = [("BRICKAUTH_RETRY_BUDGET", "3"), ("BRICKAUTH_CONNECT_RETRY_BUDGET", "3")];
        let o = run(&config, "broken", "fault-refused", &[], &budgets)?;
        expect_code(&o, 1)?;
        expect_contains(&o.stderr, "could not connect", "stderr")?;
        ensure!(o.elapsed < Duration::from_secs(8), "took {:?}", o.elapsed);
        cache_parses("fault-refused")
    });

    s.case("fault: connection reset mid-body → exit 1, cache intact", || {
        let port = breaking_server(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 900\r\n\r\n{\"access_token\":\"eyJ",
        )?;
        let cfg = setup(port)?;
        let o = run(&cfg, "broken", "fault-reset", &[], &[("BRICKAUTH_RETRY_BUDGET", "2")])?;
        expect_code(&o, 1)?;
        cache_parses("fault-reset")
    });

    s.case("fault: a truncated JSON body with status 200 → exit 1 saying so", || {
        w.entra.fail_next(vec![json_answer(200, r#"{"token_type":"Bearer","access_token":"eyJ0eX"#)]);
        let o = run(&config, "mock", "fault-truncated", &[], &[]);
        w.entra.clear_failures();
        let o = o?;
        expect_code(&o, 1)?;
        expect_contains(&o.stderr, "the transfer was cut short", "stderr")?;
        cache_parses("fault-truncated")
    });

    s.case("fault: a server slower than the request timeout → retried, then exit 1 naming the timeout", || {
        w.entra.fail_next(vec![Failure::Delay(Duration::from_secs(3)); 3]);
        let env =
            [("BRICKAUTH_HTTP_TIMEOUT", "1"), ("BRICKAUTH_RETRY_BUDGET", "2"), ("BRICKAUTH_CONNECT_RETRY_BUDGET", "2")];
        let o = run(&config, "mock", "fault-slow", &[], &env);
        w.entra.clear_failures();
        let o = o?;
        expect_code(&o, 1)?;
        expect_contains(&o.stderr, "timed out", "stderr")?;
        ensure!(o.elapsed < Duration::from_secs(10), "took {:?}", o.elapsed);
        Ok(())
    });

    s.case("fault: Retry-After as an HTTP date is honoured", || {
        let when = std::time::SystemTime::now() + Duration::from_secs(2);
        let date = httpdate::fmt_http_date(when);
        w.entra.fail_next(vec![Failure::too_many_requests(&date)]);
        let o = run(&config, "mock", "fault-date", &[], &[]);
        w.entra.clear_failures();
        let o = o?;
        expect_code(&o, 0)?;
        // An HTTP date has one-second resolution: at least one second must have been waited.
        ensure!(o.elapsed >= Duration::from_millis(900), "did not wait: {:?}", o.elapsed);
        Ok(())
    });

    s.case("fault: a 429 storm → exit 1 within the budget, naming 429", || {
        w.entra.fail_next(vec![Failure::too_many_requests("1"); 10]);
        let o = run(&config, "mock", "fault-storm", &[], &[("BRICKAUTH_RETRY_BUDGET", "3")]);
        w.entra.clear_failures();
        let o = o?;
        expect_code(&o, 1)?;
        expect_contains(&o.stderr, "429", "stderr")?;
        ensure!(o.elapsed < Duration::from_secs(8), "took {:?}", o.elapsed);
        Ok(())
    });

    s.case("fault: expires_in of 0 or negative → exit 1, nothing cached", || {
        for lifetime in [0, -30] {
            w.entra.set_token_lifetime(lifetime);
            let o = run(&config, "mock", "fault-expired", &[], &[]);
            w.entra.set_token_lifetime(3600);
            let o = o?;
            expect_code(&o, 1)?;
            expect_contains(&o.stderr, "already expired", "stderr")?;
        }
        ensure!(!w.path("fault-expired").join("tokens.json").exists(), "an expired token was cached");
        Ok(())
    });

    s.case("fault: a token without exp or expires_in gets MSAL's 600 s default", || {
        w.entra.fail_next(vec![json_answer(
            200,
            r#"{"token_type":"Bearer","access_token":"opaque-token-without-claims"}"#,
        )]);
        let o = run(&config, "mock", "fault-noexp", &["-o", "json", "--min-validity", "60"], &[]);
        w.entra.clear_failures();
        let o = o?;
        expect_code(&o, 0)?;
        let v: serde_json::Value = serde_json::from_str(&o.stdout)?;
        let left = v["expires_on"].as_i64().unwrap_or(0) - brickauth_core_now();
        ensure!((590..=600).contains(&left), "expires in {left} s");
        Ok(())
    });

    s.case("fault: a failed refresh keeps the refresh token for the next call", || {
        // A token past its renewal margin but above the 40 s floor (100 s, aged 53 s: the margin
        // is half its lifetime, 50 s), then a refresh that fails: the old token (still usable) is
        // returned, and the refresh token survives for the next, working, refresh.
        w.entra.set_token_lifetime(100);
        let first = run(&config, "mock", "fault-keep", &[], &[]);
        w.entra.set_token_lifetime(3600);
        expect_code(&first?, 0)?;
        std::thread::sleep(Duration::from_secs(53));
        w.entra.fail_next(vec![Failure::unavailable(); 10]);
        let o = run(&config, "mock", "fault-keep", &[], &[("BRICKAUTH_RETRY_BUDGET", "2")]);
        w.entra.clear_failures();
        expect_code(&o?, 0)?;
        cache_parses("fault-keep")?;
        let before = w.token_requests().len();
        let o = run(&config, "mock", "fault-keep", &[], &[])?;
        expect_code(&o, 0)?;
        let sent = w.token_requests();
        let grants: Vec<_> = sent[before..].iter().filter_map(|f| f.get("grant_type").cloned()).collect();
        ensure!(grants == ["refresh_token"], "expected one refresh_token grant, got {grants:?}");
        Ok(())
    });
}

fn brickauth_core_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
