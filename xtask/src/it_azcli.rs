//! Integration cases for the `azure-cli` flow's cache mode: the real binary reads synthetic
//! Azure CLI files (MSAL's `msal_token_cache.json`, a BOM-prefixed `azureProfile.json`, as
//! `fixtures/azure-cli/` shows az writes them) holding refresh tokens minted by a mock Entra that
//! knows the Azure CLI's client id, and redeems them with no az process.
//!
//! These cases run their own mock (the shared one does not register az's client id) and their
//! own leak scan over their runs. `cargo xtask az` does the same with a real azure-cli.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use brickauth_mock::{AZURE_CLI_CLIENT_ID, CLIENT_ID, DATABRICKS_RESOURCE, MockConfig, MockUser, TENANT_ID};
use serde_json::{Value, json};

use crate::harness::{Output, Suite, World, expect_code, expect_contains};

const CAROL: (&str, &str) = ("carol@contoso.com", "carol's long passphrase");
const ALICE_OID: &str = "5f1d4b2e-8c3a-4e7f-9b6d-2a1c3e5f7d90";

const PROFILES: &str = r#"default_profile = "az"

[profiles.az]
flow = "azure-cli"
authority_host = "{AUTHORITY}"
host = "{HOST}"

[profiles.az-alice]
flow = "azure-cli"
authority_host = "{AUTHORITY}"
username = "ALICE@contoso.com"

[profiles.az-cache]
flow = "azure-cli"
azure_cli_mode = "cache"
authority_host = "{AUTHORITY}"
"#;

/// One signed-in user of the synthetic az directory.
struct Signed<'a> {
    username: &'a str,
    oid: &'a str,
    refresh_token: Option<String>,
}

/// Write az's two files into `dir` the way azure-cli does (environment without port, family
/// refresh tokens, a BOM before the profile); `sp` adds a default service principal.
fn write_az(dir: &Path, users: &[Signed<'_>], default: Option<&str>, sp: Option<&str>) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let env = "127.0.0.1";
    let (mut accounts, mut rts) = (serde_json::Map::new(), serde_json::Map::new());
    let mut subs = Vec::new();
    for u in users {
        let home = format!("{}.{TENANT_ID}", u.oid);
        accounts.insert(
            format!("{home}-{env}-{TENANT_ID}"),
            json!({"home_account_id": home, "environment": env, "realm": TENANT_ID, "local_account_id": u.oid,
                   "username": u.username, "authority_type": "MSSTS", "account_source": "password"}),
        );
        if let Some(rt) = &u.refresh_token {
            rts.insert(
                format!(
                    "{home}-{env}-refreshtoken-{AZURE_CLI_CLIENT_ID}--https://management.core.windows.net//.default"
                ),
                json!({"credential_type": "RefreshToken", "secret": rt, "home_account_id": home, "environment": env,
                       "client_id": AZURE_CLI_CLIENT_ID, "target": "https://management.core.windows.net//.default",
                       "last_modification_time": "1796198271", "family_id": "1"}),
            );
        }
        subs.push(json!({"id": TENANT_ID, "name": "N/A(tenant level account)", "state": "Enabled",
                         "user": {"name": u.username, "type": "user"}, "isDefault": Some(u.username) == default,
                         "tenantId": TENANT_ID, "environmentName": "BrickauthMock"}));
    }
    if let Some(sp) = sp {
        subs.push(json!({"id": TENANT_ID, "name": "N/A(tenant level account)", "state": "Enabled",
                         "user": {"name": sp, "type": "servicePrincipal"}, "isDefault": true,
                         "tenantId": TENANT_ID, "environmentName": "BrickauthMock"}));
    }
    let cache = json!({"AccessToken": {}, "Account": accounts, "IdToken": {}, "RefreshToken": rts,
                       "AppMetadata": {format!("appmetadata-{env}-{AZURE_CLI_CLIENT_ID}"):
                           {"client_id": AZURE_CLI_CLIENT_ID, "environment": env, "family_id": "1"}}});
    std::fs::write(dir.join("msal_token_cache.json"), serde_json::to_string_pretty(&cache)?)?;
    let mut profile = b"\xEF\xBB\xBF".to_vec();
    profile.extend(serde_json::to_vec(&json!({"subscriptions": subs}))?);
    std::fs::write(dir.join("azureProfile.json"), profile)?;
    Ok(())
}

/// az's files with alice alone signed in, holding `refresh_token` (also the Windows case of
/// `cargo xtask cross`, which encrypts the cache as az does there).
pub(crate) fn write_alice(dir: &Path, refresh_token: String) -> Result<()> {
    let alice = Signed { username: "alice@contoso.com", oid: ALICE_OID, refresh_token: Some(refresh_token) };
    write_az(dir, &[alice], Some("alice@contoso.com"), None)
}

/// A directory with an `az` that counts its runs and prints a token az could have given.
fn fake_az(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let script = dir.join("az");
    std::fs::write(
        &script,
        "#!/bin/sh\necho ran >> \"${0%/*}/runs\"\n\
         echo '{\"accessToken\":\"fake-az-process-token\",\"expires_on\":4070908800,\"tokenType\":\"Bearer\"}'\n",
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(dir.to_owned())
}

fn runs_of(az: &Path) -> usize {
    std::fs::read_to_string(az.join("runs")).map_or(0, |s| s.lines().count())
}

pub fn cases(shared: &World, s: &mut Suite) {
    let w = match start(shared.bin.clone()) {
        Ok(w) => w,
        Err(e) => {
            s.case("azure-cli cache: mock with the Azure CLI's client id", || Err(e));
            return;
        }
    };
    let w = &w;
    let az = w.path("azure");
    let no_az = w.path("empty-bin");
    let run = |args: &[&str], extra: &[(&str, &str)]| -> Result<Output> {
        let az_s = az.display().to_string();
        let path = no_az.display().to_string();
        let mut env = vec![("AZURE_CONFIG_DIR", az_s.as_str()), ("PATH", path.as_str())];
        env.extend_from_slice(extra);
        w.run(args, &env, None)
    };
    let alice = |rt: String| Signed { username: "alice@contoso.com", oid: ALICE_OID, refresh_token: Some(rt) };

    s.case("azure-cli cache: alice's token from az's refresh token, no az process, then cached", || {
        std::fs::create_dir_all(&no_az)?;
        let rt = w.entra.issue_refresh_token("alice@contoso.com");
        write_az(&az, &[alice(rt.clone())], Some("alice@contoso.com"), None)?;
        let before = w.entra.token_request_count();
        let o = run(&["-vv", "token", "-o", "json"], &[])?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, "no az process", "stderr at -vv")?;
        ensure!(!o.stderr.contains("running the Azure CLI"), "az was run:\n{}", o.stderr);
        let v: Value = serde_json::from_str(&o.stdout)?;
        let token = v["accessToken"].as_str().context("accessToken")?.to_owned();
        let claims = brickauth_mock::jwt::claims(&token).context("not a JWT")?;
        ensure!(claims["upn"] == "alice@contoso.com" && claims["aud"] == DATABRICKS_RESOURCE, "{claims}");
        ensure!(claims["appid"] == AZURE_CLI_CLIENT_ID, "not the Azure CLI's token: {claims}");
        let reqs = w.token_requests();
        ensure!(reqs.len() == before + 1, "expected one token request, saw {}", reqs.len() - before);
        let r = &reqs[before];
        ensure!(r.get("client_id").map(String::as_str) == Some(AZURE_CLI_CLIENT_ID), "{r:?}");
        ensure!(r.get("refresh_token") == Some(&rt), "not az's refresh token");
        ensure!(r.get("scope").is_some_and(|s| s.starts_with(&format!("{DATABRICKS_RESOURCE}/.default"))), "{r:?}");
        // Cached: a new process sends nothing and prints the same token.
        let again = run(&["token"], &[])?;
        expect_code(&again, 0)?;
        ensure!(again.stdout.trim() == token, "the second call returned another token");
        ensure!(w.entra.token_request_count() == before + 1, "the second call sent a request");
        let saved = std::fs::read_to_string(az.join("msal_token_cache.json"))?;
        ensure!(saved.contains(&rt) && !az.join("msal_token_cache.json.lockfile").exists(), "az's files changed");
        Ok(())
    });

    s.case("azure-cli cache: a new az login is picked up at the next renewal; username pins alice", || {
        let alice_rt = w.entra.issue_refresh_token("alice@contoso.com");
        let carol_rt = w.entra.issue_refresh_token(CAROL.0);
        let carol =
            Signed { username: CAROL.0, oid: "c0c0c0c0-1111-4222-8333-444455556666", refresh_token: Some(carol_rt) };
        write_az(&az, &[alice(alice_rt), carol], Some(CAROL.0), None)?;
        let o = run(&["token", "--force-refresh"], &[])?;
        expect_code(&o, 0)?;
        let claims = brickauth_mock::jwt::claims(o.stdout.trim()).context("not a JWT")?;
        ensure!(claims["upn"] == CAROL.0, "az's default is carol now, got {}", claims["upn"]);
        let o = run(&["-p", "az-alice", "token"], &[])?;
        expect_code(&o, 0)?;
        let claims = brickauth_mock::jwt::claims(o.stdout.trim()).context("not a JWT")?;
        ensure!(claims["upn"] == "alice@contoso.com", "username pins alice, got {}", claims["upn"]);
        Ok(())
    });

    s.case("azure-cli cache: after az logout, renewal refuses with exit 3 and `az login`", || {
        write_az(&az, &[], None, None)?;
        let before = w.entra.token_request_count();
        let o = run(&["token", "--force-refresh"], &[])?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "run `az login`", "stderr")?;
        ensure!(w.entra.token_request_count() == before, "a request was sent without a sign-in");
        Ok(())
    });

    s.case("azure-cli cache: after az logout the cached token is not served: exit 3 at once", || {
        let rt = w.entra.issue_refresh_token("alice@contoso.com");
        write_az(&az, &[alice(rt)], Some("alice@contoso.com"), None)?;
        let first = run(&["token", "--force-refresh"], &[])?;
        expect_code(&first, 0)?;
        let before = w.entra.token_request_count();
        let cached = run(&["token"], &[])?;
        expect_code(&cached, 0)?;
        ensure!(cached.stdout == first.stdout, "the cached call returned another token");
        ensure!(w.entra.token_request_count() == before, "the cached call sent a request");
        write_az(&az, &[], None, None)?;
        let o = run(&["token"], &[])?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "run `az login`", "stderr")?;
        ensure!(!o.stdout.contains(first.stdout.trim()), "alice's cached token was printed after az logout");
        ensure!(w.entra.token_request_count() == before, "a request was sent without a sign-in");
        Ok(())
    });

    s.case("azure-cli cache: az login as another user is followed at the next call, not at expiry", || {
        let rt = w.entra.issue_refresh_token("alice@contoso.com");
        write_az(&az, &[alice(rt)], Some("alice@contoso.com"), None)?;
        let o = run(&["token", "--force-refresh"], &[])?;
        expect_code(&o, 0)?;
        let carol_rt = w.entra.issue_refresh_token(CAROL.0);
        let carol =
            Signed { username: CAROL.0, oid: "c0c0c0c0-1111-4222-8333-444455556666", refresh_token: Some(carol_rt) };
        write_az(&az, &[carol], Some(CAROL.0), None)?;
        let o = run(&["token"], &[])?;
        expect_code(&o, 0)?;
        let claims = brickauth_mock::jwt::claims(o.stdout.trim()).context("not a JWT")?;
        ensure!(claims["upn"] == CAROL.0, "az is signed in as carol now, brickauth gave {}", claims["upn"]);
        // And unchanged files mean the cache again.
        let before = w.entra.token_request_count();
        let again = run(&["token"], &[])?;
        expect_code(&again, 0)?;
        ensure!(again.stdout == o.stdout && w.entra.token_request_count() == before, "not served from the cache");
        Ok(())
    });

    s.case("azure-cli cache: a refresh token Entra rejects gives exit 3 and `az login`", || {
        let stale = "0.AXoAstale-refresh-token-the-mock-never-issued-0123456789abcdefghij";
        let user = Signed {
            username: CAROL.0,
            oid: "c0c0c0c0-1111-4222-8333-444455556666",
            refresh_token: Some(stale.into()),
        };
        write_az(&az, &[user], Some(CAROL.0), None)?;
        let o = run(&["token", "--force-refresh"], &[])?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "run `az login`", "stderr")?;
        ensure!(!o.stderr.contains(stale), "the refresh token was shown");
        Ok(())
    });

    s.case("azure-cli auto: a service principal runs az (said at -v) and is not cached", || {
        let bin = fake_az(&w.path("fake-az"))?;
        write_az(&az, &[], None, Some(brickauth_mock::SP_CLIENT_ID))?;
        let path = bin.display().to_string();
        let cache = w.path("cache-sp").display().to_string();
        let env = [("PATH", path.as_str()), ("BRICKAUTH_CACHE_DIR", cache.as_str())];
        for _ in 0..2 {
            let o = run(&["-v", "token"], &env)?;
            expect_code(&o, 0)?;
            ensure!(o.stdout.trim() == "fake-az-process-token", "printed {:?}", o.stdout.trim());
            expect_contains(&o.stderr, "not using the Azure CLI's token cache", "stderr at -v")?;
            expect_contains(&o.stderr, "service principal", "stderr at -v")?;
        }
        ensure!(runs_of(&bin) == 2, "az ran {} times for two processes", runs_of(&bin));
        // cache mode never runs it.
        let o = run(&["-p", "az-cache", "token"], &env)?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "azure_cli_mode = \"cache\"", "stderr")?;
        ensure!(runs_of(&bin) == 2, "cache mode ran az");
        Ok(())
    });

    s.case("azure-cli auto: a stale az lock file runs az at once (issue 19 item 8), cache mode names it", || {
        let bin = fake_az(&w.path("fake-az-lock"))?;
        let rt = w.entra.issue_refresh_token("alice@contoso.com");
        write_az(&az, &[alice(rt)], Some("alice@contoso.com"), None)?;
        let lock = az.join("msal_token_cache.json.lockfile");
        // What a killed az leaves: `<pid> <argv[0]>` of a process that is gone (no pid is this big).
        std::fs::write(&lock, "4000000000 /usr/bin/az")?;
        let path = bin.display().to_string();
        let cache = w.path("cache-az-lock").display().to_string();
        let env = [("PATH", path.as_str()), ("BRICKAUTH_CACHE_DIR", cache.as_str())];
        let o = run(&["-v", "token"], &env);
        let cache_mode = run(&["-p", "az-cache", "token"], &env);
        std::fs::remove_file(&lock)?;
        let (o, cache_mode) = (o?, cache_mode?);
        expect_code(&o, 0)?;
        ensure!(o.elapsed < Duration::from_secs(5), "took {:?}", o.elapsed);
        ensure!(o.stdout.trim() == "fake-az-process-token", "printed {:?}", o.stdout.trim());
        expect_contains(&o.stderr, "stale", "stderr at -v")?;
        ensure!(runs_of(&bin) == 1, "az ran {} times", runs_of(&bin));
        ensure!(cache_mode.elapsed < Duration::from_secs(5), "cache mode took {:?}", cache_mode.elapsed);
        ensure!(cache_mode.code != 0, "cache mode gave a token");
        expect_contains(&cache_mode.stderr, "msal_token_cache.json.lockfile", "stderr")?;
        expect_contains(&cache_mode.stderr, "remove it if no az command is running", "stderr")?;
        Ok(())
    });

    s.case("azure-cli cache: a corrupt az cache is an error naming the file", || {
        std::fs::write(az.join("msal_token_cache.json"), b"{\"Account\": {\"x\": ")?;
        let o = run(&["token", "--force-refresh"], &[])?;
        ensure!(o.code != 0, "a corrupt file gave a token");
        expect_contains(&o.stderr, "msal_token_cache.json", "stderr")?;
        Ok(())
    });

    s.case("azure-cli cache: no secret on any stderr, no refresh token on stdout", || {
        let scanned = w.scan_for_leaks(&[CAROL.1])?;
        ensure!(scanned >= 8, "too few runs scanned");
        Ok(())
    });
}

/// A world whose mock registers the Azure CLI's client id first (so minted refresh tokens are
/// its) and knows carol.
fn start(bin: PathBuf) -> Result<World> {
    let mut config =
        MockConfig { clients: vec![AZURE_CLI_CLIENT_ID.to_owned(), CLIENT_ID.to_owned()], ..MockConfig::default() };
    config.users.push(MockUser::new(CAROL.0, CAROL.1));
    let w = World::start_with(bin, config)?;
    w.write_profiles("profiles.toml", PROFILES)?;
    Ok(w)
}
