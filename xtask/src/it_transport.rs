//! Transport (issue 10 points 4–7, issue 15's visible retries): what a proxy, a hostile server and
//! absurd answers can do to the real binary.
//!
//! - A recording proxy on loopback: with every proxy variable set, nothing addressed to loopback
//!   or sent in clear text reaches it; an `https://` request to a non-loopback host does (the
//!   proxy answers 502, so no packet leaves the machine).
//! - A reflecting server that echoes the request (password, refresh token, bearer token) with
//!   ANSI/OSC sequences and a 20 MB body: brickauth prints none of it and stays bounded.
//! - Absurd `expires_in`; 42-second tokens are not renewed on every call.
//! - An unreachable workspace gives up within 30 s, with retry lines on stderr naming the budget.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use brickauth_mock::Failure;

use crate::harness::{Output, Suite, World, age_tokens, expect_code, expect_contains};

const PASSWORD: &str = "correct horse battery staple";

const PROFILES: &str = r#"[defaults]
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
username = "alice@contoso.com"
password_env = "ALICE_PASSWORD"

[profiles.mock]
flow = "password"
authority_host = "{AUTHORITY}"
host = "{HOST}"

[profiles.reflect]
flow = "password"
authority_host = "http://127.0.0.1:{REFLECT}"

[profiles.reflect-rt]
flow = "refresh-token"
refresh_token_env = "REFLECT_RT"
authority_host = "http://127.0.0.1:{REFLECT}"

[profiles.reflect-ws]
flow = "password"
authority_host = "{AUTHORITY}"
host = "http://127.0.0.1:{REFLECT}"

[profiles.far]
flow = "password"
authority_host = "https://login.example.invalid"

[profiles.unreachable]
flow = "password"
authority_host = "{AUTHORITY}"
host = "http://127.0.0.1:9"
"#;

/// A loopback "proxy" that records the first line of every connection and answers 502.
fn recording_proxy() -> Result<(u16, Arc<Mutex<Vec<String>>>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut first = String::new();
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = reader.read_line(&mut first);
            if let Ok(mut l) = log.lock() {
                l.push(first.trim().to_owned());
            }
            let _ = (&stream).write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    Ok((port, seen))
}

/// Read one HTTP request (head and a `content-length` body).
fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").and_then(|v| v.trim().parse::<usize>().ok()))
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                break;
            }
        }
    }
    buf
}

/// What the reflecting server answers with.
#[derive(Clone, Copy)]
enum Reflect {
    /// 400 with an OAuth error whose description is the request, plus escape sequences.
    OAuthJson,
    /// 400, text/html: the request, escape sequences, then 20 MB of padding.
    HugeText,
    /// 200 with a 20 MB "token" answer.
    HugeOk,
    /// 400 with a Databricks error whose message is the request.
    Databricks,
}

/// A server that answers every request with the request itself, in the shape `mode` says.
fn reflecting_server(mode: Arc<Mutex<Reflect>>) -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mode = Arc::clone(&mode);
            std::thread::spawn(move || {
                let mut stream = stream;
                let request = String::from_utf8_lossy(&read_request(&mut stream)).into_owned();
                // The body (the form: password, refresh token) first, then the head (the bearer
                // token), so that both fall in the part of a message a user is shown.
                let (head, body) = request.split_once("\r\n\r\n").unwrap_or((request.as_str(), ""));
                let auth = head.lines().find(|l| l.to_ascii_lowercase().starts_with("authorization")).unwrap_or("");
                let evil = "\u{1b}]0;owned by the server\u{7}\u{1b}[2J\u{1b}[31mred\u{9b}1m\u{7}";
                let echo = format!("you sent: {evil} {body} {auth} {evil} {head}");
                let json_echo = serde_json::to_string(&echo).unwrap_or_default();
                let json_error = serde_json::to_string(&format!("invalid_grant{evil}")).unwrap_or_default();
                let mode = mode.lock().map(|m| *m).unwrap_or(Reflect::OAuthJson);
                let (status, ctype, body): (&str, &str, Vec<u8>) = match mode {
                    Reflect::OAuthJson => (
                        "400 Bad Request",
                        "application/json",
                        format!(r#"{{"error":{json_error},"error_description":{json_echo},"error_codes":[50126]}}"#)
                            .into_bytes(),
                    ),
                    Reflect::Databricks => (
                        "400 Bad Request",
                        "application/json",
                        format!(r#"{{"error_code":"BAD_REQUEST","message":{json_echo}}}"#).into_bytes(),
                    ),
                    Reflect::HugeText | Reflect::HugeOk => {
                        let mut b = if matches!(mode, Reflect::HugeOk) {
                            br#"{"token_type":"Bearer","expires_in":3600,"access_token":""#.to_vec()
                        } else {
                            format!("<html><body><pre>{echo}</pre>").into_bytes()
                        };
                        b.extend(std::iter::repeat_n(b'A', 20 * 1024 * 1024));
                        let status = if matches!(mode, Reflect::HugeOk) { "200 OK" } else { "400 Bad Request" };
                        (status, "text/html", b)
                    }
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            });
        }
    });
    Ok(port)
}

/// Nothing the request carried, and no escape sequence or control character, is in `text`.
fn clean_of(text: &str, secrets: &[String], what: &str) -> Result<()> {
    for s in secrets {
        let form: String = s.replace(' ', "+");
        for v in [s.as_str(), form.as_str()] {
            ensure!(!text.contains(v), "{what} shows a secret the request carried:\n{}", cut(text));
        }
    }
    ensure!(
        !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
        "{what} carries control characters or escape sequences:\n{:?}",
        cut(text)
    );
    Ok(())
}

fn cut(s: &str) -> String {
    s.chars().take(2000).collect()
}

/// The retry lines with the numbers of seconds replaced, for comparing.
fn retry_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with("brickauth: retrying in"))
        .map(|l| {
            let mut out = String::new();
            let mut in_num = false;
            for c in l.chars() {
                if c.is_ascii_digit() || (in_num && c == '.') {
                    if !in_num {
                        out.push('N');
                    }
                    in_num = true;
                } else {
                    in_num = false;
                    out.push(c);
                }
            }
            out
        })
        .collect()
}

pub fn cases(w: &World, s: &mut Suite) {
    let mode = Arc::new(Mutex::new(Reflect::OAuthJson));
    let setup = || -> Result<(String, u16)> {
        let port = reflecting_server(Arc::clone(&mode))?;
        let text = PROFILES.replace("{REFLECT}", &port.to_string());
        Ok((w.write_profiles("transport.toml", &text)?.display().to_string(), port))
    };
    let (config, _reflect) = match setup() {
        Ok(v) => v,
        Err(e) => {
            s.case("transport: set-up", || Err(e));
            return;
        }
    };
    let cache = w.path("transport-cache").display().to_string();
    let run = |args: &[&str], env: &[(&str, &str)]| -> Result<Output> {
        let mut all: Vec<(&str, &str)> = vec![("ALICE_PASSWORD", PASSWORD), ("BRICKAUTH_CACHE_DIR", cache.as_str())];
        all.extend_from_slice(env);
        let mut full = vec!["--config", config.as_str()];
        full.extend_from_slice(args);
        let o = w.run(&full, &all, None)?;
        ensure!(!o.stderr.contains("panicked"), "brickauth panicked:\n{}", o.stderr);
        Ok(o)
    };

    s.case("transport: no proxy for loopback or clear text (HTTP_PROXY, ALL_PROXY, HTTPS_PROXY set)", || {
        let (port, seen) = recording_proxy()?;
        let proxy = format!("http://127.0.0.1:{port}");
        let vars = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"];
        let env: Vec<(&str, &str)> = vars.iter().map(|v| (*v, proxy.as_str())).collect();
        age_tokens(std::path::Path::new(&cache))?;
        let o = run(&["-p", "mock", "token", "--force-refresh"], &env)?;
        expect_code(&o, 0)?;
        let o = run(&["-p", "mock", "clusters", "list", "-o", "json"], &env)?;
        expect_code(&o, 0)?;
        let got = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
        ensure!(got.is_empty(), "requests reached the proxy: {got:?}");
        // An https request to a non-loopback host does use the https proxy (which answers 502:
        // no packet leaves the machine).
        let o =
            run(&["-p", "far", "token"], &[("HTTPS_PROXY", proxy.as_str()), ("BRICKAUTH_CONNECT_RETRY_BUDGET", "0")])?;
        ensure!(o.code != 0, "a sign-in through a 502 proxy succeeded:\n{}", o.stderr);
        let got = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
        ensure!(got.iter().any(|l| l.starts_with("CONNECT login.example.invalid:443")), "the proxy saw {got:?}");
        Ok(())
    });

    s.case("transport: a reflecting token endpoint — no password, refresh token or escape sequence printed", || {
        let rt = "0.AAAA-reflected-refresh-token-secret-value";
        let secrets = vec![PASSWORD.to_owned(), rt.to_owned()];
        for m in [Reflect::OAuthJson, Reflect::HugeText] {
            *mode.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = m;
            for verbose in [&[][..], &["-vv"][..]] {
                for profile in ["reflect", "reflect-rt"] {
                    let mut args = verbose.to_vec();
                    args.extend(["-p", profile, "token"]);
                    let started = Instant::now();
                    let o = run(&args, &[("REFLECT_RT", rt)])?;
                    ensure!(o.code != 0, "sign-in against the reflector succeeded");
                    ensure!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
                    clean_of(&o.stderr, &secrets, "stderr")?;
                    let limit = if verbose.is_empty() { 4 * 1024 } else { 256 * 1024 };
                    ensure!(o.stderr.len() < limit, "{} bytes of stderr (limit {limit})", o.stderr.len());
                    if verbose.is_empty() {
                        expect_contains(&o.stderr, "[REDACTED]", "stderr")?;
                    }
                }
            }
        }
        // A 20 MB "token" answer is refused, not buffered.
        *mode.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = Reflect::HugeOk;
        let o = run(&["-p", "reflect", "token"], &[])?;
        ensure!(o.code != 0, "a 20 MB token answer was accepted");
        expect_contains(&o.stderr, "larger than", "stderr")?;
        Ok(())
    });

    s.case("transport: a reflecting workspace — the bearer token is never printed", || {
        *mode.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = Reflect::Databricks;
        for verbose in [&[][..], &["-vv"][..]] {
            let mut args = verbose.to_vec();
            args.extend(["-p", "reflect-ws", "clusters", "list"]);
            let o = run(&args, &[])?;
            ensure!(o.code != 0, "listing against the reflector succeeded");
            let mut secrets = w.entra.issued_access_tokens();
            secrets.push(PASSWORD.to_owned());
            clean_of(&o.stderr, &secrets, "stderr")?;
            expect_contains(&o.stderr, "Bearer [REDACTED]", "stderr")?;
            ensure!(o.stderr.len() < 256 * 1024, "{} bytes of stderr", o.stderr.len());
        }
        *mode.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = Reflect::HugeText;
        let o = run(&["-p", "reflect-ws", "clusters", "list"], &[])?;
        ensure!(o.code != 0 && o.stderr.len() < 4096, "code {}, {} bytes of stderr", o.code, o.stderr.len());
        clean_of(&o.stderr, &w.entra.issued_access_tokens(), "stderr")?;
        Ok(())
    });

    s.case("transport: absurd expires_in is capped at 24 h with a warning", || {
        for absurd in ["9223372036854775807", "1e300", "\"99999999999999999999\""] {
            let body =
                format!(r#"{{"token_type":"Bearer","expires_in":{absurd},"access_token":"opaque-absurd-token"}}"#);
            w.entra.fail_next(vec![Failure::Status {
                status: 200,
                retry_after: None,
                body,
                content_type: "application/json".into(),
            }]);
            age_tokens(std::path::Path::new(&cache))?;
            let o = run(&["-p", "mock", "token", "--force-refresh", "-o", "json"], &[])?;
            expect_code(&o, 0)?;
            expect_contains(&o.stderr, "24 h", "stderr")?;
            let v: serde_json::Value = serde_json::from_str(&o.stdout).context("token -o json")?;
            let on = v["expires_on"].as_i64().unwrap_or(i64::MAX);
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
            ensure!(on > now && on <= now + 86_400 + 5, "{absurd}: expires_on {on} (now {now})");
        }
        // inspect does saturating arithmetic on whatever `exp` it reads: no panic (exit 101).
        for jwt in [
            "eyJhbGciOiJub25lIn0.eyJleHAiOi05MjIzMzcyMDM2ODU0Nzc1ODA4fQ.c2ln",
            "eyJhbGciOiJub25lIn0.eyJleHAiOjkyMjMzNzIwMzY4NTQ3NzU4MDd9.c2ln",
        ] {
            let o = run(&["inspect", jwt], &[])?;
            expect_code(&o, 0)?;
        }
        w.entra.clear_failures();
        Ok(())
    });

    s.case("transport: 42-second tokens are not renewed on every call", || {
        w.entra.set_token_lifetime(42);
        let result = (|| -> Result<()> {
            age_tokens(std::path::Path::new(&cache))?;
            let o = run(&["-p", "mock", "token", "--force-refresh"], &[])?;
            expect_code(&o, 0)?;
            let before = w.entra.token_request_count();
            let started = Instant::now();
            let calls = 48;
            let handles: Vec<_> = (0..6)
                .map(|_| {
                    let bin = w.bin.clone();
                    let (config, cache, home) = (config.clone(), cache.clone(), w.path("home"));
                    std::thread::spawn(move || -> Result<()> {
                        for _ in 0..calls / 6 {
                            std::thread::sleep(Duration::from_millis(400));
                            let o = std::process::Command::new(&bin)
                                .args(["--config", config.as_str(), "-p", "mock", "token"])
                                .env_clear()
                                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                                .env("HOME", &home)
                                .env("BRICKAUTH_CACHE_DIR", &cache)
                                .env("ALICE_PASSWORD", PASSWORD)
                                .output()?;
                            ensure!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                        }
                        Ok(())
                    })
                })
                .collect();
            for h in handles {
                h.join().map_err(|_| anyhow::anyhow!("a caller thread panicked"))??;
            }
            let secs = started.elapsed().as_secs_f64();
            let renewals = w.entra.token_request_count() - before;
            // Valid for 2 s after issue (42 s minus the 40 s floor): about one renewal per 2 s.
            let allowed = 2 + (secs / 2.0).ceil() as usize;
            ensure!(
                renewals <= allowed && renewals < calls / 2,
                "{renewals} token requests for {calls} calls in {secs:.1} s (allowed {allowed})"
            );
            println!("      {calls} calls in {secs:.1} s: {renewals} token requests");
            Ok(())
        })();
        w.entra.set_token_lifetime(3600);
        result
    });

    s.case("transport: a refused loopback workspace fails at once, no retry budget spent (issue 23)", || {
        let o = run(&["-p", "unreachable", "clusters", "list"], &[])?;
        expect_code(&o, 1)?;
        ensure!(o.elapsed < Duration::from_secs(2), "took {:?}", o.elapsed);
        let lines = retry_lines(&o.stderr);
        ensure!(lines.is_empty(), "retry lines for a refused loopback port:\n{}", lines.join("\n"));
        expect_contains(&o.stderr, "Connection refused", "stderr")?;
        expect_contains(&o.stderr, "127.0.0.1:9", "stderr")?;
        println!("      failed after {:.2} s", o.elapsed.as_secs_f64());
        Ok(())
    });

    s.case("transport: give-up messages name the HTTP status and the budget", || {
        age_tokens(std::path::Path::new(&cache))?;
        w.entra.fail_next(vec![Failure::unavailable(); 20]);
        let o = run(&["-p", "mock", "token", "--force-refresh"], &[("BRICKAUTH_RETRY_BUDGET", "2")])?;
        w.entra.clear_failures();
        ensure!(o.code != 0, "succeeded through 503s");
        expect_contains(&o.stderr, "HTTP 503", "stderr")?;
        expect_contains(&o.stderr, "BRICKAUTH_RETRY_BUDGET", "stderr")?;
        if o.elapsed > Duration::from_secs(10) {
            bail!("a 2 s budget took {:?}", o.elapsed);
        }
        Ok(())
    });
}
