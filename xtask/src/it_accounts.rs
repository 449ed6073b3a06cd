//! Integration cases for account and unified hosts (issue 22, accounts): `account_id` in
//! profiles, `api` on account paths with `{account_id}` filled in, `auth token --host H
//! --account-id A` choosing by both, export and import of `account_id`, and the host's
//! `/.well-known/databricks-config` used where it is offered and ignored where it is not.
//!
//! The mock host is `http://127.0.0.1:PORT`; profiles whose host is
//! `https://accounts.azuredatabricks.net` are only selected and given tokens (the tenant is set,
//! so nothing is sent to that host). Each case that may ask the host for metadata has a cache
//! directory of its own: `hosts.json` remembers answers, 404s included.

use anyhow::{Context as _, Result, ensure};
use brickauth_mock::{ACCOUNT_ID, ALICE, ALICE_PASSWORD, MockDatabricks, WORKSPACE_ID, WRONG_PASSWORD};
use serde_json::Value;

use crate::harness::{Output, Suite, World, expect_code, expect_contains};

/// The public cloud's account host.
const ACCOUNTS: &str = "https://accounts.azuredatabricks.net";
/// Another account than the mock's.
const OTHER_ACCOUNT: &str = "11111111-2222-3333-4444-555555555555";

/// The profiles of these cases: `{HOST}` is the mock; the `accounts.` ones only get tokens.
const PROFILES: &str = r#"
[defaults]
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
authority_host = "{AUTHORITY}"
flow = "password"
username = "alice@contoso.com"
password_env = "ALICE_PASSWORD"

[profiles.acct]
host = "{HOST}"
account_id = "{ACCOUNT}"

[profiles.ws-only]
host = "{HOST}"

[profiles.acct-a]
host = "https://accounts.azuredatabricks.net"
account_id = "{ACCOUNT}"

[profiles.acct-other]
# Picked by mistake it would fail: the wrong password.
host = "https://accounts.azuredatabricks.net/"
account_id = "{OTHER}"
password_env = "WRONG_PASSWORD"

[profiles.ws-same-host]
# The same host, no account: never what --account-id asks for.
host = "accounts.azuredatabricks.net"
password_env = "WRONG_PASSWORD"
"#;

/// Every case of this module, in order.
pub fn cases(w: &World, s: &mut Suite) {
    let text = PROFILES.replace("{ACCOUNT}", ACCOUNT_ID).replace("{OTHER}", OTHER_ACCOUNT);
    let config = match w.write_profiles("accounts.toml", &text) {
        Ok(p) => p.display().to_string(),
        Err(e) => {
            s.case("accounts: write the profile file", || Err(e));
            return;
        }
    };
    // `brickauth --config accounts.toml ARGS` with its own cache directory.
    let run = |cache: &str, args: &[&str]| -> Result<Output> {
        let cache = w.path(cache).display().to_string();
        let mut all = vec!["--config", config.as_str()];
        all.extend(args);
        let env = [
            ("ALICE_PASSWORD", ALICE_PASSWORD),
            ("WRONG_PASSWORD", WRONG_PASSWORD),
            ("BRICKAUTH_CACHE_DIR", cache.as_str()),
        ];
        w.run(&all, &env, None)
    };
    let well_known =
        || w.rt.block_on(w.databricks.requests()).iter().filter(|r| r.path == "/.well-known/databricks-config").count();
    let users_path = "/api/2.0/accounts/{account_id}/scim/v2/Users";

    s.case(
        "accounts: an account profile lists the account's users through api GET …/{account_id}/scim/v2/Users",
        || {
            let o = run("cache-acct", &["-vv", "-p", "acct", "api", "GET", users_path])?;
            expect_code(&o, 0)?;
            let v: Value = serde_json::from_str(&o.stdout).context("api prints JSON")?;
            let names: Vec<&str> =
                v["Resources"].as_array().into_iter().flatten().filter_map(|u| u["userName"].as_str()).collect();
            ensure!(names.contains(&ALICE), "account users: {names:?}");
            let asked = w.rt.block_on(w.databricks.requests());
            let wanted = format!("/api/2.0/accounts/{ACCOUNT_ID}/scim/v2/Users");
            ensure!(asked.iter().any(|r| r.path == wanted), "the path was not filled in with the profile's account_id");
            Ok(())
        },
    );

    s.case(
        "accounts: no account_id: {account_id} in a path is exit 2 naming the profile; the host's 404 is ignored",
        || {
            let before = well_known();
            let o = run("cache-ws-only", &["-p", "ws-only", "api", "GET", users_path])?;
            expect_code(&o, 2)?;
            expect_contains(&o.stderr, "profile `ws-only` has no account_id", "stderr")?;
            expect_contains(&o.stderr, "account_id = \"<GUID>\"", "the fix")?;
            ensure!(!o.stderr.contains("databricks-config"), "the 404 was reported:\n{}", o.stderr);
            ensure!(well_known() == before + 1, "the host was not asked for its metadata once");
            // The 404 is remembered: asked again, the host is not.
            let o = run("cache-ws-only", &["-p", "ws-only", "api", "GET", users_path])?;
            expect_code(&o, 2)?;
            ensure!(well_known() == before + 1, "a host without metadata was asked again");
            // A classic workspace call never asks.
            let o = run("cache-ws-classic", &["-p", "ws-only", "api", "GET", "/api/2.0/preview/scim/v2/Me"])?;
            expect_code(&o, 0)?;
            ensure!(well_known() == before + 1, "a workspace profile asked for host metadata");
            Ok(())
        },
    );

    s.case(
        "accounts: auth token --host https://accounts… --account-id A picks the account profile among several",
        || {
            let o = run(
                "cache-helper",
                &["auth", "token", "--host", ACCOUNTS, "--account-id", &ACCOUNT_ID.to_uppercase()],
            )?;
            expect_code(&o, 0)?;
            let v: Value = serde_json::from_str(&o.stdout).context("auth token prints JSON")?;
            let token = v["access_token"].as_str().unwrap_or_default();
            ensure!(w.entra.issued_access_tokens().iter().any(|t| t == token), "not a token the mock issued");
            // Another account: none of the three profiles on that host; the error lists them.
            let o = run(
                "cache-helper",
                &["auth", "token", "--host", ACCOUNTS, "--account-id", "22222222-3333-4444-5555-666666666666"],
            )?;
            expect_code(&o, 2)?;
            expect_contains(&o.stderr, "account_id = \"22222222-3333-4444-5555-666666666666\"", "stderr")?;
            expect_contains(&o.stderr, &format!("acct-a (account_id {ACCOUNT_ID})"), "stderr")?;
            expect_contains(&o.stderr, "ws-same-host (no account_id)", "stderr")?;
            // Without --account-id three profiles share the host: never guessed.
            let o = run("cache-helper", &["auth", "token", "--host", ACCOUNTS])?;
            expect_code(&o, 2)?;
            expect_contains(&o.stderr, "`acct-a`, `acct-other`, `ws-same-host`", "stderr")?;
            // A profile named with an account id must be that account's.
            let o = run("cache-helper", &["-p", "acct-other", "auth", "token", "--account-id", ACCOUNT_ID])?;
            expect_code(&o, 2)?;
            expect_contains(
                &o.stderr,
                &format!("profile acct-other (account_id {OTHER_ACCOUNT}) is not for account_id {ACCOUNT_ID}"),
                "stderr",
            )?;
            let o = run("cache-helper", &["auth", "token", "--host", ACCOUNTS, "--account-id", "acme"])?;
            expect_code(&o, 2)?;
            expect_contains(&o.stderr, "--account-id: `acme` is not a Databricks account id", "stderr")?;
            Ok(())
        },
    );

    s.case("accounts: export writes account_id, import reads it, a malformed one names file, line and key", || {
        let o = run("cache-export", &["-p", "acct-a", "profiles", "export", "--databrickscfg"])?;
        expect_code(&o, 0)?;
        expect_contains(
            &o.stdout,
            &format!("[acct-a]\nhost                = {ACCOUNTS}\naccount_id          = {ACCOUNT_ID}\n"),
            "export",
        )?;
        let cfg = w.path("accounts-databrickscfg");
        std::fs::write(&cfg, format!("[acme]\nhost = {ACCOUNTS}\naccount_id = {ACCOUNT_ID}\nauth_type = azure-cli\n"))?;
        let into = w.path("accounts-imported.toml");
        let (cfg_s, into_s) = (cfg.display().to_string(), into.display().to_string());
        let o = w.run(&["--config", &into_s, "profiles", "import", "--databrickscfg", &cfg_s], &[], None)?;
        expect_code(&o, 0)?;
        let written = std::fs::read_to_string(&into)?;
        expect_contains(&written, &format!("account_id = \"{ACCOUNT_ID}\""), "the imported profile")?;
        let o = w.run(&["--config", &into_s, "-p", "acme", "profiles", "show"], &[], None)?;
        expect_code(&o, 0)?;
        expect_contains(&o.stdout, &format!("account_id = {ACCOUNT_ID}"), "profiles show")?;
        std::fs::write(&cfg, format!("[acme]\nhost = {ACCOUNTS}\nauth_type = azure-cli\naccount_id = acme-corp\n"))?;
        let o = w.run(&["profiles", "validate"], &[("DATABRICKS_CONFIG_FILE", cfg_s.as_str())], None)?;
        ensure!(o.code != 0, "a malformed account_id validated:\n{}", o.stdout);
        let all = format!("{}{}", o.stdout, o.stderr);
        expect_contains(&all, "accounts-databrickscfg:4", "the line")?;
        expect_contains(&all, "`acme-corp` is not a Databricks account id", "the reason")?;
        Ok(())
    });

    s.case(
        "accounts: a host's well-known metadata is used (unified workspace header, {account_id}) and remembered",
        || {
            w.databricks.set_host_metadata(Some(MockDatabricks::host_metadata("unified")));
            let before = well_known();
            // `acct` names the account, not the workspace: the unified host's metadata tells it.
            let me = run("cache-unified", &["-v", "-p", "acct", "api", "GET", "/api/2.0/preview/scim/v2/Me"]);
            // No account_id in the profile: the host's own fills the path.
            let users = run("cache-unified-ws", &["-p", "ws-only", "api", "GET", users_path]);
            let again = run("cache-unified-ws", &["-p", "ws-only", "api", "GET", users_path]);
            let asked = well_known() - before;
            let requests = w.rt.block_on(w.databricks.requests());
            w.databricks.set_host_metadata(None);
            let me = me?;
            expect_code(&me, 0)?;
            let header = requests
                .iter()
                .rev()
                .find(|r| r.path == "/api/2.0/preview/scim/v2/Me")
                .and_then(|r| r.headers.get("x-databricks-workspace-id").cloned());
            ensure!(header.as_deref() == Some(WORKSPACE_ID), "X-Databricks-Workspace-Id: {header:?}");
            let users = users?;
            expect_code(&users, 0)?;
            expect_contains(&users.stdout, ALICE, "the account's users")?;
            expect_code(&again?, 0)?;
            ensure!(asked == 2, "expected one metadata request per cache directory, saw {asked}");
            Ok(())
        },
    );

    s.case("accounts: exec tells the child its account (DATABRICKS_ACCOUNT_ID)", || {
        let o =
            run("cache-acct", &["-p", "acct", "exec", "--", "sh", "-c", "printf '%s\\n' \"$DATABRICKS_ACCOUNT_ID\""])?;
        expect_code(&o, 0)?;
        ensure!(o.stdout.trim() == ACCOUNT_ID, "the child saw {:?}", o.stdout);
        Ok(())
    });
}
