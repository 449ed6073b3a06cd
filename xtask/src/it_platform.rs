//! Integration cases for the platform flows: `managed-identity` against [`MockImds`] (started here,
//! on loopback; every profile names it with `imds_endpoint`, so nothing is ever sent to
//! 169.254.169.254), `azure-cli` with a fake `az` script first on `PATH`, and `databricks-m2m`
//! against the mock workspace's `/oidc/v1/token`.
//!
//! Each case writes its own profile file (passed with `--config`) and uses its own cache
//! directory. Called from `integration::run` with the shared [`World`].

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};
use brickauth_mock::{MockIdentity, MockImds};

use crate::harness::{Output, Suite, World, expect_code, expect_contains};

const SP_CLIENT_ID: &str = "6a1f2e3d-4c5b-4a69-8877-665544332211";
const SP_SECRET: &str = "dose-m2m-integration-secret-0123456789";
const WRONG_SECRET: &str = "dose-not-the-right-secret-9876543210";

const PROFILES: &str = r#"
[profiles.vm]
flow = "managed-identity"
imds_endpoint = "{IMDS}"
host = "{HOST}"

[profiles.vm-user]
flow = "msi"
imds_endpoint = "{IMDS}"
msi_client_id = "{UA_CLIENT}"

[profiles.vm-unknown]
flow = "msi"
imds_endpoint = "{IMDS}"
msi_client_id = "00000000-0000-0000-0000-0000000000ff"

[profiles.off-azure]
flow = "managed-identity"
imds_endpoint = "http://127.0.0.1:{CLOSED_PORT}"
imds_timeout = "2"

[profiles.az]
flow = "azure-cli"
tenant_id = "{TENANT}"

[profiles.sp]
flow = "databricks-m2m"
host = "{HOST}"
client_id = "{SP}"
client_secret_env = "SP_SECRET"

[profiles.sp-alias]
flow = "oauth-m2m"
host = "{HOST}"
client_id = "{SP}"
client_secret_env = "SP_SECRET"
client_auth = "form"

[profiles.sp-wrong]
flow = "databricks-m2m"
host = "{HOST}"
client_id = "{SP}"
client_secret_env = "WRONG_SECRET"
"#;

/// Run with the platform profile file, a cache directory of its own, and `env`.
fn run(w: &World, config: &Path, cache: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
    let config = config.display().to_string();
    let cache = w.path(cache).display().to_string();
    let mut all = vec!["--config", config.as_str()];
    all.extend_from_slice(args);
    let mut env: Vec<(&str, &str)> = env.to_vec();
    env.push(("BRICKAUTH_CACHE_DIR", cache.as_str()));
    w.run(&all, &env, None)
}

fn secrets_env() -> Vec<(&'static str, &'static str)> {
    vec![("SP_SECRET", SP_SECRET), ("WRONG_SECRET", WRONG_SECRET)]
}

fn no_secrets(o: &Output) -> Result<()> {
    for s in [SP_SECRET, WRONG_SECRET] {
        ensure!(!o.stderr.contains(s) && !o.stdout.contains(s), "a client secret leaked into the output");
    }
    Ok(())
}

/// A free loopback port with nothing listening (bound, then released).
fn closed_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A directory holding an executable `az` with this shell body.
fn fake_az(w: &World, name: &str, body: &str) -> Result<std::path::PathBuf> {
    let dir = w.path(name);
    std::fs::create_dir_all(&dir)?;
    let script = dir.join("az");
    std::fs::write(&script, format!("#!/bin/sh\n{body}\n"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(dir)
}

/// `dir` first on the harness's `PATH`.
fn path_with(dir: &Path) -> String {
    let rest = std::env::var("PATH").unwrap_or_default();
    format!("{}:{rest}", dir.display())
}

pub fn cases(w: &World, s: &mut Suite) {
    let imds = w.rt.block_on(MockImds::start_with(w.entra.registry()));
    w.rt.block_on(w.databricks.add_service_principal(SP_CLIENT_ID, SP_SECRET));
    let config = (|| -> Result<std::path::PathBuf> {
        let text = PROFILES
            .replace("{IMDS}", &imds.uri())
            .replace("{UA_CLIENT}", &MockIdentity::user_assigned().client_id)
            .replace("{CLOSED_PORT}", &closed_port()?.to_string())
            .replace("{SP}", SP_CLIENT_ID);
        w.write_profiles("platform.toml", &text)
    })();
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            s.case("platform flows: set-up", || Err(e));
            return;
        }
    };
    let config = config.as_path();

    s.case("flows lists managed-identity, azure-cli and databricks-m2m", || {
        let o = w.run(&["flows"], &[], None)?;
        expect_code(&o, 0)?;
        for name in ["managed-identity (aliases: msi)", "azure-cli", "databricks-m2m (aliases: oauth-m2m)"] {
            expect_contains(&o.stdout, name, "flows")?;
        }
        for key in ["msi_client_id", "imds_endpoint", "azure_cli_path", "client_auth"] {
            expect_contains(&o.stdout, key, "flows")?;
        }
        Ok(())
    });

    s.case("managed identity (IMDS, system-assigned): a token the workspace accepts, then the cache", || {
        let before = imds.request_count();
        let o = run(w, config, "cache-msi", &["-vv", "-p", "vm", "token"], &[])?;
        expect_code(&o, 0)?;
        let token = o.stdout.trim();
        ensure!(imds.issued_access_tokens().iter().any(|t| t == token), "not a token the mock IMDS issued");
        ensure!(w.entra.registry().is_valid(token), "the workspace would refuse it");
        ensure!(imds.request_count() == before + 1, "expected one IMDS request");
        let req = imds.requests().pop().context("no IMDS request")?;
        ensure!(req.headers.get("metadata").map(String::as_str) == Some("true"), "no Metadata: true header");
        ensure!(req.query.get("api-version").map(String::as_str) == Some("2018-02-01"), "{:?}", req.query);
        ensure!(
            req.query.get("resource").map(String::as_str) == Some(brickauth_mock::DATABRICKS_RESOURCE),
            "{:?}",
            req.query
        );
        let again = run(w, config, "cache-msi", &["-p", "vm", "token"], &[])?;
        expect_code(&again, 0)?;
        ensure!(again.stdout == o.stdout, "the second call did not reuse the cached token");
        ensure!(imds.request_count() == before + 1, "the cached call asked IMDS again");
        Ok(())
    });

    s.case("managed identity (user-assigned by msi_client_id): its own token and cache entry", || {
        let o = run(w, config, "cache-msi", &["-p", "vm-user", "token"], &[])?;
        expect_code(&o, 0)?;
        let req = imds.requests().pop().context("no IMDS request")?;
        ensure!(
            req.query.get("client_id") == Some(&MockIdentity::user_assigned().client_id),
            "client_id not sent: {:?}",
            req.query
        );
        let sys = run(w, config, "cache-msi", &["-p", "vm", "token"], &[])?;
        ensure!(sys.stdout != o.stdout, "system- and user-assigned identities share a cache entry");
        Ok(())
    });

    s.case("managed identity, unknown identity: exit 3 with IMDS's message", || {
        let o = run(w, config, "cache-msi-unknown", &["-p", "vm-unknown", "token"], &[])?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "Identity not found", "stderr")?;
        expect_contains(&o.stderr, "00000000-0000-0000-0000-0000000000ff", "stderr")?;
        Ok(())
    });

    s.case("managed identity, nothing listening: exit 1 'not running on Azure?' at once", || {
        let o = run(w, config, "cache-msi-off", &["-p", "off-azure", "token"], &[])?;
        expect_code(&o, 1)?;
        expect_contains(&o.stderr, "not running on Azure?", "stderr")?;
        ensure!(o.elapsed < Duration::from_secs(5), "took {:?}", o.elapsed);
        Ok(())
    });

    s.case("azure-cli: the token az prints, no secret in az's argv", || {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let token = format!("fake-az-token-{now}");
        let body = format!(
            "printf '%s\\n' \"$*\" >> \"${{0%/*}}/argv\"\n\
             printf '%s\\n' '{{\"accessToken\": \"{token}\", \"expiresOn\": \"2099-01-01 00:00:00.000000\", \
             \"expires_on\": {exp}, \"subscription\": \"s\", \"tenant\": \"t\", \"tokenType\": \"Bearer\"}}'",
            exp = now + 3600
        );
        let dir = fake_az(w, "az-ok", &body)?;
        let path = path_with(&dir);
        let mut env = secrets_env();
        env.push(("PATH", path.as_str()));
        let o = run(w, config, "cache-az", &["-vv", "-p", "az", "token"], &env)?;
        expect_code(&o, 0)?;
        ensure!(o.stdout.trim() == token, "printed {:?}, az gave {token:?}", o.stdout.trim());
        let argv = std::fs::read_to_string(dir.join("argv"))?;
        let expected = format!(
            "account get-access-token --resource {} -o json --tenant {}",
            brickauth_mock::DATABRICKS_RESOURCE,
            brickauth_mock::TENANT_ID
        );
        ensure!(argv.trim() == expected, "az was run as {argv:?}");
        for secret in [SP_SECRET, WRONG_SECRET, "secret", "password"] {
            ensure!(!argv.contains(secret), "az's arguments contain {secret:?}");
        }
        no_secrets(&o)?;
        // The Azure CLI owns its tokens: brickauth does not cache them, so a new process asks az again.
        let again = run(w, config, "cache-az", &["-p", "az", "token"], &env)?;
        expect_code(&again, 0)?;
        let runs = std::fs::read_to_string(dir.join("argv"))?.lines().count();
        ensure!(runs == 2, "az ran {runs} times for two processes: its token was cached by brickauth");
        for entry in std::fs::read_dir(w.path("cache-az")).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            ensure!(!text.contains(&token), "az's token was written to {}", entry.path().display());
        }
        Ok(())
    });

    s.case("azure-cli, not signed in: exit 3 telling to run az login", || {
        let dir = fake_az(w, "az-logged-out", "echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1")?;
        let path = path_with(&dir);
        let o = run(w, config, "cache-az-out", &["-p", "az", "token"], &[("PATH", path.as_str())])?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "az login", "stderr")?;
        Ok(())
    });

    s.case("azure-cli, az missing: exit 1 saying so", || {
        let empty = w.path("no-az-here");
        std::fs::create_dir_all(&empty)?;
        let path = empty.display().to_string();
        let o = run(w, config, "cache-az-none", &["-p", "az", "token"], &[("PATH", path.as_str())])?;
        expect_code(&o, 1)?;
        expect_contains(&o.stderr, "not installed or not on PATH", "stderr")?;
        Ok(())
    });

    s.case("databricks-m2m: a workspace token, Basic and form client auth, secret never shown", || {
        for profile in ["sp", "sp-alias"] {
            let o = run(w, config, &format!("cache-{profile}"), &["-vv", "-p", profile, "token"], &secrets_env())?;
            expect_code(&o, 0)?;
            ensure!(w.entra.registry().is_valid(o.stdout.trim()), "{profile}: the workspace would refuse the token");
            no_secrets(&o)?;
        }
        let oidc: Vec<_> =
            w.rt.block_on(w.databricks.requests()).into_iter().filter(|r| r.path == "/oidc/v1/token").collect();
        ensure!(oidc.len() >= 2, "expected two token requests, saw {}", oidc.len());
        for r in &oidc {
            ensure!(r.form.get("scope").map(String::as_str) == Some("all-apis"), "scope: {:?}", r.form);
            ensure!(r.form.get("grant_type").map(String::as_str) == Some("client_credentials"), "{:?}", r.form);
        }
        Ok(())
    });

    s.case("databricks-m2m, wrong secret: exit 3 with invalid_client", || {
        let o = run(w, config, "cache-sp-wrong", &["-vv", "-p", "sp-wrong", "token"], &secrets_env())?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "invalid_client", "stderr")?;
        no_secrets(&o)
    });
}
