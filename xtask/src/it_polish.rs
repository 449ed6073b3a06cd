//! Integration cases for the everyday CLI (issue 15's polish): the cluster table at 80 columns and
//! its filters, JSON that stays valid whatever happens, errors that say what to do next, the
//! device-code spinner and `NO_COLOR` on a pseudo-terminal (`script`), live completion of cluster
//! ids from a cached token, and who `login` says signed in.
//!
//! Called from `integration::run` with the shared [`World`]; runs through [`World::run`] land in
//! the transcript for the leak scan. Each case restores the workspace's cluster count to three.

use std::process::Command;

use anyhow::{Context, Result, ensure};
use brickauth_mock::{DeviceStep, Failure, SP_CLIENT_ID, SP_CLIENT_SECRET};
use serde_json::Value;

use crate::harness::{Output, Suite, World, age_tokens, expect_code, expect_contains};

const ALICE_PASSWORD: &str = "correct horse battery staple";

const PROFILES: &str = r#"
default_profile = "alice"

[defaults]
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
authority_host = "{AUTHORITY}"
host = "{HOST}"

[profiles.alice]
flow = "password"
username = "alice@contoso.com"
password_env = "ALICE_PASSWORD"

[profiles.device]
flow = "device-code"

[profiles.rt-bad]
flow = "refresh-token"
refresh_token_file = "{RT_FILE}"

[profiles.sp]
flow = "client-credentials"
client_id = "{SP_CLIENT}"
client_secret_env = "SP_SECRET"
"#;

fn env() -> Vec<(&'static str, &'static str)> {
    vec![("ALICE_PASSWORD", ALICE_PASSWORD)]
}

fn json_error(status: u16, code: &str, message: &str) -> Failure {
    Failure::Status {
        status,
        retry_after: None,
        body: serde_json::json!({ "error_code": code, "message": message }).to_string(),
        content_type: "application/json".to_owned(),
    }
}

/// Every case of this module, in order.
pub fn cases(w: &World, s: &mut Suite) {
    let rt_file = w.path("polish-rt.txt");
    let template = PROFILES.replace("{SP_CLIENT}", SP_CLIENT_ID).replace("{RT_FILE}", &rt_file.display().to_string());
    let Ok(config) = w.write_profiles("polish.toml", &template) else {
        s.case("polish: write the profile file", || anyhow::bail!("cannot write polish.toml"));
        return;
    };
    let config = config.display().to_string();
    let db = &w.databricks;
    let run = |args: &[&str], extra: &[(&str, &str)]| {
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        let mut e = env();
        e.extend_from_slice(extra);
        w.run(&all, &e, None)
    };

    s.case("polish: clusters list fits 80 columns; --name glob, --state, --sort, --limit, --no-headers", || {
        db.set_cluster_count(250);
        let piped = run(&["clusters", "list"], &[("COLUMNS", "80")]);
        let cache = w.path("cache").display().to_string();
        let terminal = [("COLUMNS", "80"), ("ALICE_PASSWORD", ALICE_PASSWORD)];
        let o = pty(w, &config, &["-p", "alice", "clusters", "list"], &cache, true, &terminal);
        let filtered = run(&["clusters", "list", "--name", "*-DEV-1?", "--no-headers", "--limit", "3"], &[]);
        let state = run(&["clusters", "list", "--state", "terminated", "--sort", "name", "--limit", "3"], &[]);
        db.set_cluster_count(3);
        let (piped, filtered, state) = (piped?, filtered?, state?);
        // A pipe gets every character, whatever $COLUMNS says (as gh does).
        expect_code(&piped, 0)?;
        ensure!(!piped.stdout.contains('…'), "a piped table was cut:\n{}", piped.stdout);
        expect_contains(&piped.stdout, "Standard_DS3_v2", "the piped table")?;
        // A terminal of 80 columns: every line fits, and NAME — the column a person reads — whole.
        if let Some(o) = o? {
            expect_code(&o, 0)?;
            let rows: Vec<&str> = o.stdout.lines().filter(|l| l.contains("1125-")).collect();
            ensure!(rows.len() == 250, "expected 250 rows on the terminal, got {}", rows.len());
            ensure!(o.stdout.lines().all(|l| l.chars().count() <= 80), "a line is wider than 80:\n{}", o.stdout);
            for name in ["shared-etl-249", "alice-dev-100", "ml-training-248"] {
                ensure!(rows.iter().any(|r| r.contains(&format!(" {name} "))), "{name} cut:\n{}", o.stdout);
            }
        }
        expect_code(&filtered, 0)?;
        let rows: Vec<&str> = filtered.stdout.lines().collect();
        ensure!(rows.len() == 3, "--limit 3: {rows:?}");
        ensure!(rows.iter().all(|r| r.contains("-dev-1")) && !rows[0].contains("CLUSTER ID"), "{rows:?}");
        expect_code(&state, 0)?;
        let rows: Vec<&str> = state.stdout.lines().skip(1).collect();
        ensure!(rows.len() == 3 && rows.iter().all(|r| r.contains("TERMINATED")), "{}", state.stdout);
        let names: Vec<&str> = rows.iter().filter_map(|r| r.split_whitespace().nth(1)).collect();
        let mut sorted = names.clone();
        sorted.sort_by_key(|s| s.to_lowercase());
        ensure!(names == sorted, "--sort name: {names:?}");
        Ok(())
    });

    s.case("polish: a cluster's name and creator reach the terminal cleaned, JSON exact (issue 19 #5)", || {
        let hostile = serde_json::json!({ "clusters": [{
            "cluster_id": "1125-101010-evil0001",
            "cluster_name": "\u{1b}]0;owned\u{7}\u{1b}[2J\u{202e}evil\u{9b}31m-name",
            "state": "RUNNING",
            "creator_user_name": "mallory\u{1b}[8m@contoso.com",
            "num_workers": 1,
        }]})
        .to_string();
        let page = || Failure::Status {
            status: 200,
            retry_after: None,
            body: hostile.clone(),
            content_type: "application/json".to_owned(),
        };
        db.fail_next(vec![page()]);
        let table = run(&["clusters", "list"], &[]);
        db.fail_next(vec![page()]);
        let json = run(&["clusters", "list", "-o", "json"], &[]);
        db.clear_failures();
        let (table, json) = (table?, json?);
        expect_code(&table, 0)?;
        expect_contains(&table.stdout, "evil-name", "the table")?;
        expect_contains(&table.stdout, "mallory@contoso.com", "the table")?;
        ensure!(
            !table.stdout.contains(['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}']),
            "escape sequences reached the terminal: {:?}",
            table.stdout
        );
        expect_code(&json, 0)?;
        let v: Value = serde_json::from_str(&json.stdout).context("stdout is not JSON")?;
        ensure!(v[0]["cluster_name"] == "\u{1b}]0;owned\u{7}\u{1b}[2J\u{202e}evil\u{9b}31m-name", "JSON altered: {v}");
        Ok(())
    });

    s.case("polish: clusters list -o json prints nothing when the first request fails; 403 hint", || {
        db.fail_next(vec![json_error(
            403,
            "PERMISSION_DENIED",
            "Missing X-Databricks-Azure-Workspace-Resource-Id header.",
        )]);
        let o = run(&["clusters", "list", "-o", "json"], &[]);
        db.clear_failures();
        let o = o?;
        expect_code(&o, 4)?;
        ensure!(o.stdout.is_empty(), "stdout is not empty: {}", o.stdout);
        expect_contains(&o.stderr, "hint:", "stderr")?;
        expect_contains(&o.stderr, "azure_workspace_resource_id", "stderr")?;
        Ok(())
    });

    s.case("polish: clusters list -o json stays valid when a later page fails", || {
        db.set_cluster_count(250);
        db.fail_next(vec![
            Failure::Delay(std::time::Duration::ZERO),
            json_error(400, "INVALID_PARAMETER_VALUE", "bad page token"),
        ]);
        let o = run(&["clusters", "list", "-o", "json"], &[]);
        db.clear_failures();
        db.set_cluster_count(3);
        let o = o?;
        expect_code(&o, 4)?;
        let v: Value = serde_json::from_str(&o.stdout).context("stdout is not valid JSON")?;
        ensure!(v.as_array().map(Vec::len) == Some(100), "expected the first page's 100 clusters");
        expect_contains(&o.stderr, "bad page token", "stderr")?;
        // The table too prints each page as it comes: the first page is out before the second fails.
        db.set_cluster_count(250);
        db.fail_next(vec![
            Failure::Delay(std::time::Duration::ZERO),
            json_error(400, "INVALID_PARAMETER_VALUE", "bad page token"),
        ]);
        let t = run(&["clusters", "list"], &[]);
        db.clear_failures();
        db.set_cluster_count(3);
        let t = t?;
        expect_code(&t, 4)?;
        ensure!(t.stdout.lines().count() == 101, "expected header + the first page's 100 rows");
        Ok(())
    });

    s.case("polish: a workspace answering an HTML page with 200 gets a hint, not a JSON parse error", || {
        db.fail_next(vec![Failure::Status {
            status: 200,
            retry_after: None,
            body: "<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body></body></html>"
                .to_owned(),
            content_type: "text/html".to_owned(),
        }]);
        let o = run(&["whoami"], &[]);
        db.clear_failures();
        let o = o?;
        ensure!(o.code != 0, "exit 0");
        expect_contains(&o.stderr, "an HTML page (\"Sign in to your account\")", "stderr")?;
        expect_contains(&o.stderr, "hint: the answer was not the JSON", "stderr")?;
        ensure!(!o.stderr.contains("expected value at line 1"), "{}", o.stderr);
        Ok(())
    });

    s.case("polish: uneven failures made even: HTML from Entra, a non-workspace host, a cut body, a 502 page", || {
        let html = |status: u16, title: &str| Failure::Status {
            status,
            retry_after: None,
            body: format!(
                "<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
            ),
            content_type: "text/html".to_owned(),
        };
        // An HTML page with 200 from the token endpoint: named, with a hint.
        let fresh = w.path("cache-polish-html").display().to_string();
        w.entra.fail_next(vec![html(200, "Sign in to your account")]);
        let token = run(&["-p", "alice", "token"], &[("BRICKAUTH_CACHE_DIR", fresh.as_str())]);
        w.entra.clear_failures();
        let token = token?;
        expect_code(&token, 1)?;
        expect_contains(&token.stderr, "an HTML page (\"Sign in to your account\")", "stderr")?;
        expect_contains(&token.stderr, "hint: the answer was not Entra ID's JSON", "stderr")?;
        ensure!(!token.stderr.contains("expected value"), "{}", token.stderr);
        // A web server that is not a workspace: exit 2, the host to check.
        db.fail_next(vec![html(404, "Error response")]);
        let other = run(&["whoami"], &[]);
        db.clear_failures();
        let other = other?;
        expect_code(&other, 2)?;
        expect_contains(&other.stderr, "does not look like a Databricks workspace", "stderr")?;
        expect_contains(&other.stderr, "hint: check the profile's `host`", "stderr")?;
        // A body cut mid-JSON is a broken transfer: exit 1, as a connection reset is.
        db.fail_next(vec![Failure::Status {
            status: 200,
            retry_after: None,
            body: r#"{"clusters":[{"cluster_id":"1125-"#.to_owned(),
            content_type: "application/json".to_owned(),
        }]);
        let cut = run(&["clusters", "list"], &[]);
        db.clear_failures();
        let cut = cut?;
        expect_code(&cut, 1)?;
        expect_contains(&cut.stderr, "cut short", "stderr")?;
        // A gateway's HTML 502 is retried, as the token endpoint's is.
        db.fail_next(vec![Failure::html_bad_gateway()]);
        let before = db.request_count();
        let retried = run(&["clusters", "list"], &[]);
        let sent = db.request_count() - before;
        db.clear_failures();
        let retried = retried?;
        expect_code(&retried, 0)?;
        ensure!(sent == 2, "{sent} requests for one 502 and one answer");
        expect_contains(&retried.stdout, "shared-etl", "the table")?;
        Ok(())
    });

    s.case("polish: login names the time zone; a service principal is named by its client id", || {
        let alice = run(&["-p", "alice", "login"], &[])?;
        expect_code(&alice, 0)?;
        expect_contains(&alice.stderr, "Signed in as alice@contoso.com", "stderr")?;
        expect_contains(&alice.stderr, " UTC (in ", "stderr")?;
        ensure!(!alice.stderr.contains("UTC (+00:00)"), "{}", alice.stderr);
        let sp = run(&["-p", "sp", "login"], &[("SP_SECRET", SP_CLIENT_SECRET)])?;
        expect_code(&sp, 0)?;
        expect_contains(&sp.stderr, &format!("Signed in as the service principal {SP_CLIENT_ID}"), "stderr")?;
        Ok(())
    });

    s.case("polish: a rejected refresh token: the AADSTS text once, the profile note within 80 columns", || {
        std::fs::write(&rt_file, "0.AXoA-not-a-refresh-token-the-mock-issued\n")?;
        // A cache of its own: alice's cached token (same identity) must not answer for this profile.
        let empty = w.path("cache-polish-rt-bad").display().to_string();
        let o = run(&["-p", "rt-bad", "token"], &[("BRICKAUTH_CACHE_DIR", empty.as_str())])?;
        expect_code(&o, 3)?;
        let n = o.stderr.matches("AADSTS").count();
        ensure!(n == 1, "AADSTS appears {n} times:\n{}", o.stderr);
        let note = o.stderr.split("\nprofile `rt-bad`").nth(1).context("no profile note")?;
        ensure!(note.lines().all(|l| l.chars().count() <= 80), "the profile note is wider than 80:\n{note}");
        // The advice does not loop: `login` would send the same dead token again.
        expect_contains(&o.stderr, "hint: the refresh token from `refresh_token_file`", "stderr")?;
        expect_contains(&o.stderr, "write a new refresh token to that file", "stderr")?;
        ensure!(!o.stderr.contains("run `brickauth login"), "advice that loops:\n{}", o.stderr);
        // A cached refresh token rejected, then the configured (spent) one: still said once.
        let rt = w.entra.issue_refresh_token("alice@contoso.com");
        std::fs::write(&rt_file, format!("{rt}\n"))?;
        let cache = w.path("cache-polish-rt").display().to_string();
        let o = run(&["-p", "rt-bad", "token"], &[("BRICKAUTH_CACHE_DIR", cache.as_str())])?;
        expect_code(&o, 0)?;
        w.entra.fail_next(vec![Failure::Status {
            status: 400,
            retry_after: None,
            body: r#"{"error":"invalid_grant","error_description":"AADSTS70043: The refresh token has expired or is invalid due to sign-in frequency checks by conditional access.","error_codes":[70043]}"#.to_owned(),
            content_type: "application/json".to_owned(),
        }]);
        age_tokens(std::path::Path::new(&cache))?;
        let o = run(&["-p", "rt-bad", "token", "--force-refresh"], &[("BRICKAUTH_CACHE_DIR", cache.as_str())]);
        w.entra.clear_failures();
        let o = o?;
        expect_code(&o, 3)?;
        let n = o.stderr.matches("AADSTS").count();
        ensure!(n == 1, "AADSTS texts appear {n} times:\n{}", o.stderr);
        Ok(())
    });

    s.case("polish: a cache directory that cannot be made is named as such, with its variable", || {
        let o = run(&["-p", "alice", "token"], &[("BRICKAUTH_CACHE_DIR", "/dev/null/x")])?;
        expect_code(&o, 1)?;
        expect_contains(&o.stderr, "token cache directory /dev/null/x (from $BRICKAUTH_CACHE_DIR)", "stderr")?;
        Ok(())
    });

    s.case("polish: profiles add/list and completion: --host written, names checked, [DEFAULT] starred", || {
        let file = w.path("polish-add.toml").display().to_string();
        let _ = std::fs::remove_file(&file);
        let tenant = ("tenant_id", "a1bc2d34-5e67-8f89-01ab-c2345d6c78de");
        let client = ("client_id", "12a34b56-789c-0d12-e3fa-b456789c0123");
        let set = |(k, v): (&str, &str)| format!("{k}={v}");
        let (t, c) = (set(tenant), set(client));
        let host = "https://adb-1234567890123456.7.azuredatabricks.net";
        let add = |name: &str| {
            let args = ["--config", &file, "--host", host, "profiles", "add", name, "--flow", "device-code"];
            let mut all: Vec<&str> = args.to_vec();
            all.extend(["--set", &t, "--set", &c]);
            w.run(&all, &[], None)
        };
        let o = add("dev")?;
        expect_code(&o, 0)?;
        let written = std::fs::read_to_string(&file)?;
        ensure!(written.contains(&format!("host = \"{host}\"")), "--host not written:\n{written}");
        let bad = add("bad name")?;
        expect_code(&bad, 2)?;
        expect_contains(&bad.stderr, "'bad name' is not a usable profile name", "stderr")?;
        // No TOML profile chosen; `[DEFAULT]` of the Databricks config file is what `token` uses.
        let cfg = w.path("polish-databrickscfg");
        std::fs::write(&cfg, format!("[DEFAULT]\nhost = {host}\n\n[analytics]\nhost = {host}\n"))?;
        let cfg = cfg.display().to_string();
        let none = w.path("polish-none.toml").display().to_string();
        // No TOML file: $BRICKAUTH_CONFIG may name one that does not exist yet (`--config` may not).
        let env = [("DATABRICKS_CONFIG_FILE", cfg.as_str()), ("BRICKAUTH_CONFIG", none.as_str())];
        let list = w.run(&["profiles", "list"], &env, None)?;
        expect_code(&list, 0)?;
        ensure!(list.stdout.lines().any(|l| l.starts_with("* DEFAULT")), "[DEFAULT] not starred:\n{}", list.stdout);
        ensure!(list.stdout.lines().any(|l| l.starts_with("  analytics")), "{}", list.stdout);
        let offered = complete(w, &none, &["brickauth", "-p", ""], &[("DATABRICKS_CONFIG_FILE", cfg.as_str())])?;
        ensure!(offered.lines().any(|l| l == "analytics"), "sections not offered: {offered:?}");
        Ok(())
    });

    s.case("polish: `eval \"$(brickauth serve &)\"`, as serve --help says, returns and serves", || {
        let bin = w.bin.display().to_string();
        // serve's stderr to a file: a pipe it holds open would keep this test's reader waiting.
        let log = w.path("polish-serve.log").display().to_string();
        let script = format!(
            "eval \"$('{bin}' -p alice serve 2>>'{log}' &)\"\nprintf '%s\\n' \"$BRICKAUTH_SERVE_PID\" \"$DATABRICKS_METADATA_SERVICE_URL\""
        );
        let start = std::time::Instant::now();
        let out = Command::new("timeout")
            .args(["20", "bash", "--norc", "--noprofile", "-c", &script])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", w.path("home"))
            .env("BRICKAUTH_CACHE_DIR", w.path("cache"))
            .env("BRICKAUTH_CONFIG", &config)
            .env("ALICE_PASSWORD", ALICE_PASSWORD)
            .stdin(std::process::Stdio::null())
            .output()?;
        let elapsed = start.elapsed();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines = text.lines();
        let pid = lines.next().unwrap_or_default().trim().to_owned();
        let url = lines.next().unwrap_or_default().trim().to_owned();
        let served = url.starts_with("http://127.0.0.1:") && http_ok(&url);
        if !pid.is_empty() {
            let _ = Command::new("kill").arg(&pid).status();
        }
        ensure!(out.status.success(), "the eval line did not return ({:?}): {}", out.status, String::from_utf8_lossy(&out.stderr));
        ensure!(elapsed < std::time::Duration::from_secs(10), "took {elapsed:?}");
        ensure!(pid.parse::<u32>().is_ok(), "no BRICKAUTH_SERVE_PID: {text:?}");
        ensure!(served, "the service at {url:?} did not answer after the eval");
        Ok(())
    });

    s.case("polish: -vv logs each answer's status and time, never a body", || {
        age_tokens(&w.path("cache"))?;
        let o = run(&["-vv", "-p", "alice", "token", "--force-refresh"], &[])?;
        expect_code(&o, 0)?;
        let lines: Vec<&str> = o.stderr.lines().filter(|l| l.contains("HTTP answer")).collect();
        ensure!(!lines.is_empty(), "no answer line at -vv:\n{}", o.stderr);
        ensure!(lines.iter().all(|l| l.contains("status=200") && l.contains("elapsed_ms=")), "{lines:?}");
        ensure!(!lines.iter().any(|l| l.contains("access_token") || l.contains("eyJ")), "{lines:?}");
        Ok(())
    });

    s.case("polish: meaningless flag combinations are warned about", || {
        let o = run(&["-p", "alice", "token", "--include-refresh-token"], &[])?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, "--include-refresh-token has no effect without -o json", "stderr")?;
        let o = run(&["-p", "alice", "token", "--min-validity", "999999"], &[])?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, "--min-validity 999999 s is longer than this fresh token lives", "stderr")?;
        Ok(())
    });

    s.case("polish: clusters get <TAB> offers cluster ids once a token is cached (bash)", || {
        let o = run(&["-p", "alice", "token"], &[])?;
        expect_code(&o, 0)?;
        let before = w.entra.token_request_count();
        let offered = complete(w, &config, &["brickauth", "clusters", "get", ""], &[])?;
        let ids: Vec<&str> = offered.lines().filter(|l| !l.starts_with("--")).collect();
        ensure!(ids.len() == 3, "expected the 3 cluster ids, got {ids:?}");
        ensure!(w.entra.token_request_count() == before, "completing asked Entra for a token");
        Ok(())
    });

    s.case("polish: device-code spinner on a terminal, coloured; NO_COLOR keeps it plain (pty)", || {
        if Command::new("script").arg("--version").output().is_err() {
            return Ok(()); // util-linux `script` is what gives us a pseudo-terminal
        }
        let mut outputs = Vec::new();
        for no_color in [false, true] {
            w.entra.set_device_interval(1);
            w.entra.script_device(vec![DeviceStep::Pending, DeviceStep::Pending]);
            let cache = w.path(if no_color { "cache-pty-plain" } else { "cache-pty-colour" });
            let o = pty(w, &config, &["-p", "device", "login"], &cache.display().to_string(), no_color, &[])?;
            outputs.extend(o);
        }
        let (colour, plain) = (&outputs[0], &outputs[1]);
        for o in [colour, plain] {
            expect_code(o, 0)?;
            expect_contains(&o.stdout, "microsoft.com/devicelogin", "terminal")?;
            expect_contains(&o.stdout, "waiting for sign-in…", "terminal (the spinner)")?;
        }
        ensure!(has_sgr(&colour.stdout), "no colour on a terminal:\n{:?}", colour.stdout);
        ensure!(!has_sgr(&plain.stdout), "colour despite NO_COLOR:\n{:?}", plain.stdout);
        // An interactive profile whose cached refresh token is rejected, with no terminal: the
        // server's text once, in the error that names `brickauth login`.
        w.entra.fail_next(vec![Failure::Status {
            status: 400,
            retry_after: None,
            body: r#"{"error":"invalid_grant","error_description":"AADSTS70043: The refresh token has expired.","error_codes":[70043]}"#.to_owned(),
            content_type: "application/json".to_owned(),
        }]);
        let cache = w.path("cache-pty-colour").display().to_string();
        age_tokens(std::path::Path::new(&cache))?;
        let o = run(&["-p", "device", "token", "--force-refresh"], &[("BRICKAUTH_CACHE_DIR", cache.as_str())]);
        w.entra.clear_failures();
        let o = o?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "brickauth login -p device", "stderr")?;
        let n = o.stderr.matches("AADSTS70043").count();
        ensure!(n == 1, "AADSTS70043 appears {n} times:\n{}", o.stderr);
        // The error label and the warning label follow the same colour rule, in one shape.
        let cache = w.path("cache-pty-error").display().to_string();
        let args = ["-p", "alice", "token", "--include-refresh-token"];
        let (Some(colour), Some(plain)) = (pty(w, &config, &args, &cache, false, &[])?, pty(w, &config, &args, &cache, true, &[])?)
        else {
            return Ok(());
        };
        // No ALICE_PASSWORD here: the warning, then an error naming the variable.
        for o in [&colour, &plain] {
            ensure!(o.code != 0, "exit 0");
            expect_contains(&o.stdout, "warning:", "terminal")?;
            ensure!(!o.stdout.contains(" WARN "), "a log-format line at the default verbosity:\n{}", o.stdout);
            expect_contains(&o.stdout, "error:", "terminal")?;
        }
        ensure!(colour.stdout.contains("\x1b[1m\x1b[31merror:"), "error: not coloured:\n{:?}", colour.stdout);
        ensure!(!has_sgr(&plain.stdout), "colour despite NO_COLOR:\n{:?}", plain.stdout);
        Ok(())
    });
}

/// Whether `text` holds an SGR (colour/style) escape sequence, `ESC [ … m`.
fn has_sgr(text: &str) -> bool {
    text.match_indices("\x1b[").any(|(i, _)| {
        let rest = &text[i + 2..];
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == ';')).unwrap_or(rest.len());
        rest[end..].starts_with('m')
    })
}

/// Run the binary on a pseudo-terminal (`script -qec`) with `extra` variables; what the terminal
/// showed is `stdout`. `None` when util-linux `script` is missing.
fn pty(
    w: &World,
    config: &str,
    args: &[&str],
    cache: &str,
    no_color: bool,
    extra: &[(&str, &str)],
) -> Result<Option<Output>> {
    pty_typing(w, config, args, cache, no_color, extra, None)
}

/// [`pty`], with `typed` typed at the terminal (it_stepup.rs answers a question this way).
pub(crate) fn pty_typing(
    w: &World,
    config: &str,
    args: &[&str],
    cache: &str,
    no_color: bool,
    extra: &[(&str, &str)],
    typed: Option<&str>,
) -> Result<Option<Output>> {
    let words: Vec<&str> = ["--config", config].into_iter().chain(args.iter().copied()).collect();
    let Some((mut cmd, line)) = script(w, &words, cache) else { return Ok(None) };
    cmd.env("TERM", "xterm-256color")
        .stdin(if typed.is_some() { std::process::Stdio::piped() } else { std::process::Stdio::null() })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    cmd.envs(extra.iter().copied());
    let start = std::time::Instant::now();
    let mut child = cmd.spawn().context("running script")?;
    // Held open until the command ends: at the end of its input, `script` would hang up.
    let held = match (typed, child.stdin.take()) {
        (Some(text), Some(mut stdin)) => {
            use std::io::Write;
            stdin.write_all(text.as_bytes())?;
            Some(stdin)
        }
        _ => None,
    };
    let out = child.wait_with_output().context("running script")?;
    drop(held);
    let o = Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    };
    w.transcript.lock().map_err(|_| anyhow::anyhow!("transcript lock poisoned"))?.push((line, o.clone()));
    Ok(Some(o))
}

/// `brickauth ARGS` on a pseudo-terminal: util-linux `script` with a clean environment (PATH,
/// HOME and the cache directory of the world, UTC), and the command line it runs (for the
/// transcript). `None` when `script` is missing.
pub(crate) fn script(w: &World, args: &[&str], cache: &str) -> Option<(Command, String)> {
    if Command::new("script").arg("--version").output().is_err() {
        return None;
    }
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line = quote(&w.bin.display().to_string());
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", w.path("home"))
        .env("BRICKAUTH_CACHE_DIR", cache)
        .env("TZ", "UTC");
    Some((cmd, line))
}

/// Ask bash for completions of `words` (the last one being completed) with brickauth's script.
fn complete(w: &World, config: &str, words: &[&str], extra: &[(&str, &str)]) -> Result<String> {
    let script = Command::new(&w.bin).args(["completions", "bash"]).output()?.stdout;
    let file = w.path("brickauth.bash");
    std::fs::write(&file, script)?;
    let cword = words.len() - 1;
    let quoted: Vec<String> = words.iter().map(|x| format!("'{x}'")).collect();
    let test = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={cword}\nCOMP_TYPE=9\n_clap_complete_brickauth brickauth '{}' '{}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        file.display(),
        quoted.join(" "),
        words[cword],
        words[cword.saturating_sub(1)]
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &test])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", w.path("home"))
        .env("BRICKAUTH_CACHE_DIR", w.path("cache"))
        .env("BRICKAUTH_CONFIG", config)
        .envs(extra.iter().copied())
        .output()?;
    ensure!(out.status.success(), "bash: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Whether a plain GET of `url` (loopback, no TLS) gets any HTTP answer.
fn http_ok(url: &str) -> bool {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let (addr, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let Ok(mut conn) = std::net::TcpStream::connect(addr) else { return false };
    let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    conn.write_all(request.as_bytes()).is_ok()
        && conn.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 ")
}
