//! Integration cases for zero setup: a first token with no app registration (the developer
//! sign-on client, the workspace's tenant), `$AZURE_AUTHORITY_HOST`, and `brickauth app create`
//! against the mock's Microsoft Graph.
//!
//! These cases run their own mock, which registers the developer sign-on client (the shared one
//! does not), and their own leak scan over their runs. Sign-ins are device codes the mock
//! approves: no browser is set in the runs' environment.

use std::path::PathBuf;

use anyhow::{Context, Result, ensure};
use brickauth_mock::{
    AZURE_CLI_CLIENT_ID, CLIENT_ID, DATABRICKS_RESOURCE, DATABRICKS_USER_IMPERSONATION, GraphPrivileges, MockConfig,
    TENANT_ID,
};
use serde_json::json;

use crate::harness::{Suite, World, expect_code, expect_contains};

const PROFILES: &str = r#"[profiles.bare]
flow = "device-code"
host = "{HOST}"
authority_host = "{AUTHORITY}"

[profiles.bare-env]
flow = "device-code"
host = "{HOST}"
"#;

pub fn cases(shared: &World, s: &mut Suite) {
    let w = match start(shared.bin.clone()) {
        Ok(w) => w,
        Err(e) => {
            s.case("zero setup: mock with the developer sign-on client", || Err(e));
            return;
        }
    };
    let w = &w;
    let authority = w.entra.uri();
    let host = w.databricks.uri();
    // Where `app create` finds Graph and the authority: the mock, as tests point them.
    let graph_env = [("BRICKAUTH_GRAPH_HOST", authority.as_str()), ("AZURE_AUTHORITY_HOST", authority.as_str())];

    s.case("zero setup: flow + host only → the developer sign-on client, the host's tenant", || {
        let before = w.entra.token_request_count();
        let o = w.run(&["-p", "bare", "-v", "login"], &[], None)?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, "developer sign-on client", "stderr at -v")?;
        expect_contains(&o.stderr, &format!("using {TENANT_ID}, discovered from"), "stderr at -v")?;
        let requests = w.rt.block_on(w.entra.token_requests());
        let mine = &requests[before..];
        ensure!(!mine.is_empty(), "no token request");
        for r in mine {
            ensure!(r.path == format!("/{TENANT_ID}/oauth2/v2.0/token"), "not the host's tenant: {}", r.path);
            ensure!(r.form.get("client_id").map(String::as_str) == Some(AZURE_CLI_CLIENT_ID), "{:?}", r.form);
        }
        let o = w.run(&["-p", "bare", "token"], &[], None)?;
        expect_code(&o, 0)?;
        let claims = brickauth_mock::jwt::claims(o.stdout.trim()).context("not a JWT")?;
        ensure!(claims["appid"] == AZURE_CLI_CLIENT_ID, "appid: {}", claims["appid"]);
        ensure!(claims["tid"] == TENANT_ID && claims["aud"] == DATABRICKS_RESOURCE, "{claims}");
        ensure!(w.entra.token_request_count() == before + mine.len(), "the second call was not cached");
        Ok(())
    });

    s.case("zero setup: no profile file at all: --host H login signs in, then token is cached; no terminal → exit 3 with the line", || {
        let nowhere = w.path("no-profile-file.toml").display().to_string();
        let env = [("BRICKAUTH_CONFIG", nowhere.as_str()), ("AZURE_AUTHORITY_HOST", authority.as_str())];
        let o = w.run(&["--host", &host, "-v", "login"], &env, None)?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, "no profile file: signing in to", "stderr at -v")?;
        expect_contains(&o.stderr, "To use it without --host: brickauth profiles add NAME --flow", "the offer to save it")?;
        let before = w.entra.token_request_count();
        let o = w.run(&["--host", &host, "token"], &env, None)?;
        expect_code(&o, 0)?;
        ensure!(w.entra.token_request_count() == before, "the second call was not answered from the cache");
        let claims = brickauth_mock::jwt::claims(o.stdout.trim()).context("not a JWT")?;
        ensure!(claims["appid"] == AZURE_CLI_CLIENT_ID, "appid: {}", claims["appid"]);
        // Another cache: nobody signed in there, and nobody can answer a prompt.
        let fresh = w.path("no-profile-cache").display().to_string();
        let env = [("BRICKAUTH_CONFIG", nowhere.as_str()), ("AZURE_AUTHORITY_HOST", authority.as_str()), ("BRICKAUTH_CACHE_DIR", fresh.as_str())];
        let o = w.run(&["--host", &host, "token"], &env, None)?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, &format!("brickauth --host {host} login"), "the one line that helps")?;
        Ok(())
    });

    s.case("zero setup: profiles show lists the built-in client id", || {
        let o = w.run(&["-p", "bare", "profiles", "show"], &[], None)?;
        expect_code(&o, 0)?;
        let line = o.stdout.lines().find(|l| l.starts_with("client_id = ")).context("no client_id line")?;
        ensure!(line.contains(AZURE_CLI_CLIENT_ID) && line.ends_with("# built-in default"), "{line}");
        Ok(())
    });

    s.case("zero setup: $AZURE_AUTHORITY_HOST is the authority of a profile without one", || {
        let o = w.run(&["-p", "bare-env", "profiles", "show"], &graph_env[1..], None)?;
        expect_code(&o, 0)?;
        let line = o.stdout.lines().find(|l| l.starts_with("authority_host = ")).context("no authority_host")?;
        ensure!(line.contains(&authority) && line.ends_with("# $AZURE_AUTHORITY_HOST"), "{line}");
        let o = w.run(&["-p", "bare-env", "login"], &graph_env[1..], None)?;
        expect_code(&o, 0)?;
        Ok(())
    });

    s.case("zero setup: profiles add with only flow and host, then login in a browser (the README)", || {
        // `xtask browse` is the browser (see browse.rs), from a private copy as it_authcode does.
        let exe = std::env::current_exe().context("the xtask executable")?;
        let copy = w.path(&format!("xtask-browse{}", std::env::consts::EXE_SUFFIX));
        std::fs::copy(&exe, &copy).with_context(|| format!("copying {}", exe.display()))?;
        let browser = format!("{} browse", copy.display());
        let set_host = format!("host={host}");
        let o = w.run(&["profiles", "add", "quick", "--flow", "authorization-code", "--set", &set_host], &[], None)?;
        expect_code(&o, 0)?;
        let o = w.run(&["profiles", "validate", "quick"], &[], None)?;
        expect_code(&o, 0)?;
        let env = [("BROWSER", browser.as_str()), graph_env[1]];
        let o = w.run(&["-p", "quick", "login"], &env, None)?;
        expect_code(&o, 0)?;
        let o = w.run(&["-p", "quick", "token"], &env, None)?;
        expect_code(&o, 0)?;
        let claims = brickauth_mock::jwt::claims(o.stdout.trim()).context("not a JWT")?;
        ensure!(claims["appid"] == AZURE_CLI_CLIENT_ID && claims["tid"] == TENANT_ID, "{claims}");
        Ok(())
    });

    s.case("app create: registers the app with user_impersonation and the loopback redirect", || {
        let o = w.run(
            &["--host", &host, "-v", "app", "create", "--name", "brickauth it", "--grant-consent"],
            &graph_env,
            None,
        )?;
        expect_code(&o, 0)?;
        let apps = w.entra.graph_applications();
        ensure!(apps.len() == 1, "{apps:?}");
        let app = &apps[0];
        let app_id = app["appId"].as_str().context("no appId")?;
        expect_contains(&o.stdout, &format!("client_id = \"{app_id}\""), "stdout")?;
        expect_contains(&o.stdout, &format!("tenant_id = \"{TENANT_ID}\""), "stdout")?;
        ensure!(app["signInAudience"] == "AzureADMyOrg" && app["isFallbackPublicClient"] == true, "{app}");
        ensure!(app["publicClient"]["redirectUris"] == json!(["http://localhost"]), "{app}");
        let access = &app["requiredResourceAccess"][0];
        ensure!(access["resourceAppId"] == DATABRICKS_RESOURCE, "{app}");
        ensure!(access["resourceAccess"] == json!([{"id": DATABRICKS_USER_IMPERSONATION, "type": "Scope"}]), "{app}");
        let grants = w.entra.graph_grants();
        ensure!(grants.len() == 1 && grants[0]["consentType"] == "AllPrincipals", "{grants:?}");
        // The Graph sign-in was the developer sign-on client's, for Graph.
        let requests = w.rt.block_on(w.entra.requests());
        let start =
            requests.iter().rev().find(|r| r.path.ends_with("/devicecode")).context("no device code sign-in")?;
        ensure!(start.form.get("client_id").map(String::as_str) == Some(AZURE_CLI_CLIENT_ID), "{:?}", start.form);
        let scope = start.form.get("scope").map(String::as_str).unwrap_or_default();
        ensure!(scope.split(' ').any(|s| s == "https://graph.microsoft.com/.default"), "scope: {scope}");
        ensure!(
            start.path == format!("/{TENANT_ID}/oauth2/v2.0/devicecode"),
            "not the host's tenant: {}\n{}",
            start.path,
            o.stderr
        );

        // The profile it wrote works as written.
        let text = std::fs::read_to_string(w.path("profiles.toml"))?;
        expect_contains(&text, "[profiles.brickauth-it]", "profiles.toml")?;
        expect_contains(&text, &format!("client_id = \"{app_id}\""), "profiles.toml")?;
        expect_contains(&text, &format!("authority_host = \"{authority}\""), "profiles.toml")?;
        let o = w.run(&["-p", "brickauth-it", "login"], &[], None)?;
        expect_code(&o, 0)?;
        let o = w.run(&["-p", "brickauth-it", "token"], &[], None)?;
        expect_code(&o, 0)?;
        let claims = brickauth_mock::jwt::claims(o.stdout.trim()).context("not a JWT")?;
        ensure!(claims["appid"] == app_id && claims["tid"] == TENANT_ID, "{claims}");
        Ok(())
    });

    s.case("app create: a second run reports the app, creates nothing", || {
        let o = w.run(&["--host", &host, "app", "create", "--name", "brickauth it"], &graph_env, None)?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, "exists already", "stderr")?;
        ensure!(w.entra.graph_applications().len() == 1, "a second app was registered");
        Ok(())
    });

    s.case("app create: insufficient privileges say what to ask an administrator for (exit 3)", || {
        w.entra.set_graph_privileges(GraphPrivileges::NoAppRegistration);
        let o = w.run(&["--host", &host, "app", "create", "--name", "not allowed"], &graph_env, None);
        w.entra.set_graph_privileges(GraphPrivileges::Full);
        let o = o?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "insufficient privileges", "stderr")?;
        expect_contains(&o.stderr, "Application Developer role", "stderr")?;
        ensure!(w.entra.graph_applications().len() == 1, "an app was registered");
        let text = std::fs::read_to_string(w.path("profiles.toml"))?;
        ensure!(!text.contains("not-allowed"), "a profile was written:\n{text}");
        Ok(())
    });

    s.case("app create: consent refused keeps the app and the profile, says whom to ask (exit 3)", || {
        w.entra.set_graph_privileges(GraphPrivileges::NoConsent);
        let o = w.run(&["--host", &host, "app", "create", "--name", "no consent", "--grant-consent"], &graph_env, None);
        w.entra.set_graph_privileges(GraphPrivileges::Full);
        let o = o?;
        expect_code(&o, 3)?;
        let app = w.entra.graph_applications().into_iter().find(|a| a["displayName"] == "no consent");
        let app_id = app.as_ref().and_then(|a| a["appId"].as_str()).context("the app was not registered")?.to_owned();
        expect_contains(&o.stdout, &format!("client_id = \"{app_id}\""), "stdout")?;
        expect_contains(&o.stderr, "is registered, but tenant-wide consent was not granted", "stderr")?;
        expect_contains(&o.stderr, "Cloud Application Administrator", "stderr")?;
        let text = std::fs::read_to_string(w.path("profiles.toml"))?;
        expect_contains(&text, "[profiles.no-consent]", "profiles.toml")?;
        Ok(())
    });

    s.case("app create: a clear-text Graph host is refused before any sign-in (exit 2)", || {
        let before = w.entra.token_request_count();
        let env = [("BRICKAUTH_GRAPH_HOST", "http://graph.example.com"), graph_env[1]];
        let o = w.run(&["--host", &host, "app", "create", "--name", "x"], &env, None)?;
        expect_code(&o, 2)?;
        expect_contains(&o.stderr, "$BRICKAUTH_GRAPH_HOST: `http://graph.example.com` uses clear-text http", "stderr")?;
        ensure!(w.entra.token_request_count() == before, "signed in before checking the Graph host");
        Ok(())
    });

    s.case("zero setup: no secret on any stderr, no refresh token on stdout", || {
        w.scan_for_leaks(&[])?;
        Ok(())
    });
}

/// A world whose mock registers the developer sign-on client.
fn start(bin: PathBuf) -> Result<World> {
    let config =
        MockConfig { clients: vec![CLIENT_ID.to_owned(), AZURE_CLI_CLIENT_ID.to_owned()], ..MockConfig::default() };
    let w = World::start_with(bin, config)?;
    w.entra.set_device_interval(1);
    w.write_profiles("profiles.toml", PROFILES)?;
    Ok(w)
}
