//! Integration runs of the `authorization-code` flow: the real binary, the mock Entra's
//! authorize endpoint, and `xtask browse` as `$BROWSER` (see `browse.rs`), which delivers the
//! response to the binary's loopback listener as a browser would. Paste mode is driven through
//! stdin: the case reads the URL the binary prints, follows it, and pastes the redirected address.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::harness::{Output, Suite, World, expect_code, expect_contains};

const PROFILES: &str = r#"
[defaults]
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
authority_host = "{AUTHORITY}"
host = "{HOST}"

[profiles.ac]
flow = "authorization-code"

[profiles.ac-query]
flow = "interactive"
response_mode = "query"
username = "bob@contoso.com"

[profiles.ac-timeout]
flow = "auth-code"
login_timeout = 2
"#;

const DECLINED: &str = "AADSTS65004: User declined to consent to access the app.";

pub fn cases(w: &World, s: &mut Suite) {
    let setup = || -> Result<(String, String)> {
        let config = w.write_profiles("authcode.toml", PROFILES)?.display().to_string();
        // A private copy: a concurrent `cargo build` may relink target/debug/xtask under us, and
        // the child processes must still find their $BROWSER.
        let exe = std::env::current_exe().context("the xtask executable")?;
        let copy = w.path(&format!("xtask-browse{}", std::env::consts::EXE_SUFFIX));
        std::fs::copy(&exe, &copy).with_context(|| format!("copying {} to {}", exe.display(), copy.display()))?;
        Ok((config, copy.display().to_string()))
    };
    let (config, xtask) = match setup() {
        Ok(v) => v,
        Err(e) => {
            s.case("authorization-code: setup", || Err(e));
            return;
        }
    };
    let browser = format!("{xtask} browse");
    let forging = format!("{xtask} browse --forge");
    let dir = |name: &str| w.path(name).display().to_string();
    let args = |profile: &'static str, rest: &[&'static str]| -> Vec<String> {
        ["--config", config.as_str(), "-p", profile, "-vv"]
            .iter()
            .map(|s| s.to_string())
            .chain(rest.iter().map(|s| s.to_string()))
            .collect()
    };
    let run = |a: &[String], env: &[(&str, &str)]| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        w.run(&a, env, None)
    };

    s.case("authorization-code (form_post): login through $BROWSER, then token from the cache", || {
        let (cache, log) = (dir("cache-ac"), dir("browse-ac.log"));
        let env = [
            ("BROWSER", browser.as_str()),
            ("BRICKAUTH_CACHE_DIR", cache.as_str()),
            ("XTASK_BROWSE_LOG", log.as_str()),
        ];
        let before = w.entra.token_request_count();
        let o = run(&args("ac", &["login"]), &env)?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, "If no browser opened, visit: ", "stderr")?;
        expect_contains(&o.stderr, "alice@contoso.com", "stderr")?;
        ensure!(o.stdout.is_empty(), "login printed on stdout: {}", o.stdout);
        ensure!(w.entra.token_request_count() == before + 1, "expected one token request");
        let form = w.token_requests().pop().unwrap_or_default();
        ensure!(form.get("grant_type").map(String::as_str) == Some("authorization_code"), "{form:?}");
        ensure!(form.get("code_verifier").is_some_and(|v| v.len() >= 43), "no PKCE verifier: {form:?}");
        let authorize = last_authorize(w)?;
        ensure!(authorize.get("response_mode").map(String::as_str) == Some("form_post"), "{authorize:?}");
        ensure!(form.get("redirect_uri") == authorize.get("redirect_uri"), "redirect_uri differs");
        let t = run(&args("ac", &["token"]), &env)?;
        expect_code(&t, 0)?;
        ensure!(w.entra.issued_access_tokens().iter().any(|x| x == t.stdout.trim()), "not an issued token");
        ensure!(w.entra.token_request_count() == before + 1, "token did not come from the cache");
        Ok(())
    });

    s.case("authorization-code (query, login_hint): login through $BROWSER", || {
        let cache = dir("cache-ac-query");
        let env = [("BROWSER", browser.as_str()), ("BRICKAUTH_CACHE_DIR", cache.as_str())];
        let o = run(&args("ac-query", &["login"]), &env)?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, "bob@contoso.com", "stderr")?;
        let authorize = last_authorize(w)?;
        ensure!(authorize.get("response_mode").map(String::as_str) == Some("query"), "{authorize:?}");
        ensure!(authorize.get("login_hint").map(String::as_str) == Some("bob@contoso.com"), "{authorize:?}");
        Ok(())
    });

    s.case("authorization-code: a forged response (wrong state) and another path do not end the sign-in", || {
        let (cache, log) = (dir("cache-ac-forge"), dir("browse-forge.log"));
        let env = [
            ("BROWSER", forging.as_str()),
            ("BRICKAUTH_CACHE_DIR", cache.as_str()),
            ("XTASK_BROWSE_LOG", log.as_str()),
        ];
        let before = w.entra.token_request_count();
        let o = run(&args("ac", &["login"]), &env)?;
        expect_code(&o, 0)?;
        let steps = std::fs::read_to_string(&log).unwrap_or_default();
        for step in ["forged 400", "other-path 404", "deliver 200"] {
            expect_contains(&steps, step, "the browser's log")?;
        }
        ensure!(w.entra.token_request_count() == before + 1, "the forged code was redeemed");
        Ok(())
    });

    s.case("authorization-code: paste mode (--no-browser) with the redirected URL on stdin", || {
        let cache = dir("cache-ac-paste");
        let before = w.entra.token_request_count();
        let o = paste(w, &args("ac", &["login", "--no-browser"]), &cache, |location| location.to_owned())?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, "alice@contoso.com", "stderr")?;
        ensure!(w.entra.token_request_count() == before + 1, "expected one token request");
        let authorize = last_authorize(w)?;
        ensure!(authorize.get("response_mode").map(String::as_str) == Some("query"), "{authorize:?}");
        Ok(())
    });

    s.case("authorization-code: a pasted URL with a wrong state is refused before any token request", || {
        let cache = dir("cache-ac-paste-bad");
        let before = w.entra.token_request_count();
        let o = paste(w, &args("ac", &["login", "--no-browser"]), &cache, |location| {
            let (base, query) = location.split_once('?').unwrap_or((location, ""));
            let query: Vec<&str> =
                query.split('&').map(|p| if p.starts_with("state=") { "state=not-the-state" } else { p }).collect();
            format!("{base}?{}", query.join("&"))
        })?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "state", "stderr")?;
        ensure!(w.entra.token_request_count() == before, "a token request was sent");
        Ok(())
    });

    s.case("authorization-code: authorize error access_denied → exit 3 with the description", || {
        let cache = dir("cache-ac-denied");
        let env = [("BROWSER", browser.as_str()), ("BRICKAUTH_CACHE_DIR", cache.as_str())];
        let before = w.entra.token_request_count();
        w.entra.fail_authorize("access_denied", DECLINED);
        let o = run(&args("ac", &["login"]), &env)?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "access_denied", "stderr")?;
        expect_contains(&o.stderr, DECLINED, "stderr")?;
        ensure!(w.entra.token_request_count() == before, "a token request was sent");
        Ok(())
    });

    s.case("authorization-code: a browser that shows nothing ($BROWSER=/bin/false) says it waits; Enter switches to paste mode", || {
        let cache = dir("cache-ac-silent");
        let before = w.entra.token_request_count();
        let Some(o) = silent_browser(w, &args("ac", &["login"]), &cache)? else {
            return Ok(()); // util-linux `script` missing: no pseudo-terminal to test on
        };
        expect_code(&o, 0)?;
        expect_contains(&o.stdout, "Waiting up to 300 s for the sign-in in the browser", "the terminal")?;
        expect_contains(&o.stdout, "Press Enter to sign in by pasting instead", "the terminal")?;
        expect_contains(&o.stdout, "Switching to paste mode.", "the terminal")?;
        expect_contains(&o.stdout, "alice@contoso.com", "the terminal")?;
        ensure!(w.entra.token_request_count() == before + 1, "expected one token request");
        let authorize = last_authorize(w)?;
        ensure!(authorize.get("response_mode").map(String::as_str) == Some("query"), "{authorize:?}");
        Ok(())
    });

    s.case("authorization-code: no response within login_timeout (2 s) → exit 3, clear message", || {
        let cache = dir("cache-ac-timeout");
        // A "browser" that accepts the URL and does nothing with it.
        let env = [("BROWSER", "true"), ("BRICKAUTH_CACHE_DIR", cache.as_str())];
        let o = run(&args("ac-timeout", &["login"]), &env)?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "no sign-in response within 2 s", "stderr")?;
        ensure!(o.elapsed >= Duration::from_secs(2) && o.elapsed < Duration::from_secs(15), "took {:?}", o.elapsed);
        Ok(())
    });
}

/// The query of the last authorize request the mock received.
fn last_authorize(w: &World) -> Result<std::collections::BTreeMap<String, String>> {
    let reqs = w.rt.block_on(w.entra.requests());
    reqs.into_iter()
        .rev()
        .find(|r| r.path.ends_with("/oauth2/v2.0/authorize"))
        .map(|r| r.query)
        .context("no authorize request")
}

/// Run the binary in paste mode: wait for the authorize URL on its stderr, follow it as the
/// user's browser would, and paste `edit(redirected address)` on its stdin.
fn paste(w: &World, args: &[String], cache: &str, edit: impl Fn(&str) -> String) -> Result<Output> {
    let mut cmd = Command::new(&w.bin);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", w.path("home"))
        .env("BRICKAUTH_CACHE_DIR", cache)
        .env("BRICKAUTH_CONFIG", w.path("profiles.toml"))
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("starting {}", w.bin.display()))?;
    let stderr = child.stderr.take().context("stderr")?;
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let url = loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => {
                if let Some(i) = line.find("http://")
                    && line.contains("/oauth2/v2.0/authorize?")
                {
                    break Some(line[i..].trim().to_owned());
                }
            }
            Err(_) => break None,
        }
    };
    if let Some(url) = &url {
        let pasted = edit(&crate::browse::redirect_of(url)?);
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(format!("{pasted}\n").as_bytes())?;
        }
    } else {
        let _ = child.kill();
    }
    let out = child.wait_with_output()?;
    let stderr = reader.join().unwrap_or_default();
    let o = Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
        elapsed: start.elapsed(),
    };
    w.transcript.lock().map_err(|_| anyhow::anyhow!("transcript lock poisoned"))?.push((args.join(" "), o.clone()));
    if url.is_none() {
        bail!("the binary printed no authorize URL:\n{}", o.stderr);
    }
    Ok(o)
}

/// Run `login` on a pseudo-terminal (util-linux `script`) with a `$BROWSER` that starts and shows
/// nothing: wait for the line offering paste mode, press Enter, follow the paste-mode URL as the
/// user's browser would, and paste the redirected address. What the terminal showed is `stdout`.
/// `None` when `script` is missing.
fn silent_browser(w: &World, args: &[String], cache: &str) -> Result<Option<Output>> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some((mut cmd, line)) = crate::it_polish::script(w, &words, cache) else { return Ok(None) };
    cmd.env("BRICKAUTH_SECRET_STORAGE", "file")
        .env("BROWSER", "/bin/false")
        .env("NO_COLOR", "1")
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().context("starting script")?;
    let stdout = child.stdout.take().context("stdout")?;
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).split(b'\n').map_while(Result::ok) {
            let line = String::from_utf8_lossy(&line).trim_end_matches('\r').to_owned();
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let mut stdin = child.stdin.take().context("stdin")?;
    let mut step = || -> Result<()> {
        let wait_for = |what: &dyn Fn(&str) -> bool| -> Result<String> {
            loop {
                let line = rx.recv_timeout(Duration::from_secs(20)).context("the terminal went quiet")?;
                if what(&line) {
                    return Ok(line);
                }
            }
        };
        wait_for(&|l| l.contains("Press Enter"))?;
        stdin.write_all(b"\n")?;
        wait_for(&|l| l.contains("Switching to paste mode"))?;
        let line = wait_for(&|l| l.contains("http://") && l.contains("/oauth2/v2.0/authorize?"))?;
        let url = line[line.find("http://").unwrap_or(0)..].trim();
        let pasted = crate::browse::redirect_of(url)?;
        stdin.write_all(format!("{pasted}\n").as_bytes())?;
        Ok(())
    };
    let stepped = step();
    if stepped.is_err() {
        let _ = child.kill();
    }
    drop(stdin);
    let out = child.wait_with_output()?;
    let shown = reader.join().unwrap_or_default();
    let o = Output {
        code: out.status.code().unwrap_or(-1),
        stdout: shown,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    };
    w.transcript.lock().map_err(|_| anyhow::anyhow!("transcript lock poisoned"))?.push((line, o.clone()));
    stepped.with_context(|| format!("driving the sign-in on a terminal; it showed:\n{}", o.stdout))?;
    Ok(Some(o))
}
