//! Integration cases for the device-code, client-credentials and workload-identity flows: the
//! real binary, one profile file per flow (passed with `--config`), against the mock Entra.
//!
//! Called from `integration::run` with the shared [`World`]; every run is recorded in the
//! world's transcript, so the final leak scan covers these cases too.

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, ensure};
use brickauth_mock::{DeviceStep, SP_CLIENT_ID, SP_CLIENT_SECRET};

use crate::harness::{Suite, World, age_tokens, expect_code, expect_contains, root};

/// Every case of this module, in order.
pub fn cases(w: &World, s: &mut Suite) {
    let Ok(config) = write_profiles(w) else {
        s.case("flows: write the profile file", || anyhow::bail!("cannot write flows.toml"));
        return;
    };
    let config = config.display().to_string();
    let run = |profile: &str, extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["--config", config.as_str(), "-p", profile, "-vv", "token"];
        args.extend_from_slice(extra);
        w.run(&args, env, None)
    };
    let secret_env = [("SP_SECRET", SP_CLIENT_SECRET)];

    s.case("device-code: pending ×3, slow_down, success, polling no faster than asked", || {
        w.entra.set_device_interval(1);
        w.entra.script_device(vec![
            DeviceStep::Pending,
            DeviceStep::Pending,
            DeviceStep::Pending,
            DeviceStep::SlowDown,
        ]);
        let before = w.entra.device_polls().len();
        // `token` refuses to start an interactive flow without a terminal; `login` is a person
        // asking to sign in, then `token` answers from the cache.
        let o = w.run(&["--config", config.as_str(), "-p", "device", "-vv", "login"], &[], None)?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, "microsoft.com/devicelogin", "stderr")?;
        let o = run("device", &[], &[])?;
        expect_code(&o, 0)?;
        ensure!(w.entra.issued_access_tokens().iter().any(|t| t == o.stdout.trim()), "not a token the mock issued");
        let polls = w.entra.device_polls();
        let polls = polls.get(before..).unwrap_or_default();
        ensure!(polls.len() == 5, "expected 5 polls, got {}", polls.len());
        let gaps: Vec<Duration> = polls.windows(2).map(|p| p[1] - p[0]).collect();
        let slack = Duration::from_millis(50);
        ensure!(gaps[..3].iter().all(|g| *g + slack >= Duration::from_secs(1)), "polled too fast: {gaps:?}");
        ensure!(gaps[3] + slack >= Duration::from_secs(6), "ignored slow_down: {gaps:?}");
        Ok(())
    });

    s.case("device-code: expired_token → exit 3", || {
        w.entra.set_device_interval(1);
        w.entra.script_device(vec![DeviceStep::Expire]);
        let o = w.run(&["--config", config.as_str(), "-p", "device", "-vv", "login"], &[], None)?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "expired", "stderr")
    });

    s.case("client-credentials: client secret", || {
        let o = run("sp-secret", &[], &secret_env)?;
        expect_code(&o, 0)?;
        ensure!(w.entra.issued_access_tokens().iter().any(|t| t == o.stdout.trim()), "not a token the mock issued");
        let form = w.token_requests().pop().unwrap_or_default();
        ensure!(form.get("grant_type").map(String::as_str) == Some("client_credentials"), "form: {form:?}");
        ensure!(
            form.get("scope").map(String::as_str) == Some("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"),
            "scope must be undecorated: {form:?}"
        );
        Ok(())
    });

    s.case("client-credentials: wrong secret → exit 3 (AADSTS7000215)", || {
        age_tokens(&w.path("cache"))?;
        let o = run("sp-secret", &["--force-refresh"], &[("SP_SECRET", "wrong-secret-value")])?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "7000215", "stderr")
    });

    s.case("client-credentials: azure_management_token sends X-Databricks-Azure-SP-Management-Token", || {
        let before = w.rt.block_on(w.databricks.requests()).len();
        let o =
            w.run(&["--config", config.as_str(), "-p", "sp-management", "-vv", "clusters", "list"], &secret_env, None)?;
        expect_code(&o, 0)?;
        let requests = w.rt.block_on(w.databricks.requests());
        let api: Vec<_> = requests[before..].iter().filter(|r| r.path.starts_with("/api/")).collect();
        ensure!(!api.is_empty(), "no workspace request");
        for r in api {
            let mgmt = r.headers.get("x-databricks-azure-sp-management-token").cloned().unwrap_or_default();
            let bearer = r.headers.get("authorization").cloned().unwrap_or_default();
            ensure!(
                w.entra.issued_access_tokens().contains(&mgmt),
                "no management token the mock issued: {:?}",
                r.headers.keys()
            );
            ensure!(!bearer.ends_with(&mgmt), "the management token is the workspace token");
        }
        let scopes: Vec<String> = w.token_requests().iter().filter_map(|f| f.get("scope").cloned()).collect();
        ensure!(
            scopes.iter().any(|s| s == "https://management.core.windows.net//.default"),
            "no token request for the management scope: {scopes:?}"
        );
        Ok(())
    });

    s.case("client-credentials: certificate assertion verifies", || {
        // Same identity as the secret profile above, whose token is cached: force the flow.
        age_tokens(&w.path("cache"))?;
        let o = run("sp-cert", &["--force-refresh"], &[])?;
        expect_code(&o, 0)?;
        let form = w.token_requests().pop().unwrap_or_default();
        let assertion = form.get("client_assertion").cloned().unwrap_or_default();
        let claims = brickauth_mock::jwt::claims(&assertion).unwrap_or_default();
        ensure!(claims["aud"] == w.entra.token_endpoint().as_str(), "aud: {claims}");
        ensure!(!form.contains_key("client_secret"), "a secret was sent too");
        Ok(())
    });

    s.case("client-credentials: expired assertion → exit 3 (AADSTS700024)", || {
        age_tokens(&w.path("cache"))?;
        w.entra.set_assertion_clock_offset(700);
        let o = run("sp-cert", &["--force-refresh"], &[]);
        w.entra.set_assertion_clock_offset(0);
        let o = o?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "700024", "stderr")
    });

    s.case("client-credentials: wrong-audience assertion → exit 3", || {
        age_tokens(&w.path("cache"))?;
        w.entra.set_assertion_audience(Some("https://login.microsoftonline.com/another-tenant/oauth2/v2.0/token"));
        let o = run("sp-cert", &["--force-refresh"], &[]);
        w.entra.set_assertion_audience(None);
        let o = o?;
        expect_code(&o, 3)?;
        expect_contains(&o.stderr, "audience", "stderr")
    });

    s.case("workload-identity: federated_token_file", || {
        std::fs::write(w.path("federated-token"), w.entra.federated_token(600))?;
        let o = run("federated", &[], &[])?;
        expect_code(&o, 0)?;
        let form = w.token_requests().pop().unwrap_or_default();
        ensure!(
            form.get("client_assertion_type").map(String::as_str)
                == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            "form: {form:?}"
        );
        Ok(())
    });

    s.case("environment-only mode: token --flow client-credentials with ARM_* only", || {
        let authority = w.entra.uri();
        let nowhere = w.path("no-such-profiles.toml").display().to_string();
        let o = w.run(
            &["token", "--flow", "client-credentials"],
            &[
                ("ARM_TENANT_ID", brickauth_mock::TENANT_ID),
                ("ARM_CLIENT_ID", SP_CLIENT_ID),
                ("ARM_CLIENT_SECRET", SP_CLIENT_SECRET),
                ("AZURE_AUTHORITY_HOST", authority.as_str()),
                ("BRICKAUTH_CONFIG", nowhere.as_str()),
            ],
            None,
        )?;
        expect_code(&o, 0)?;
        ensure!(w.entra.issued_access_tokens().iter().any(|t| t == o.stdout.trim()), "not a token the mock issued");
        Ok(())
    });
}

/// `flows.toml` in the scratch directory: one profile per case.
fn write_profiles(w: &World) -> Result<std::path::PathBuf> {
    let cert = root().join("fixtures/certs/sp-combined.pem");
    let template = PROFILES
        .replace("{SP_CLIENT}", SP_CLIENT_ID)
        .replace("{CERT}", &toml_path(&cert))
        .replace("{TOKEN_FILE}", &toml_path(&w.path("federated-token")));
    w.write_profiles("flows.toml", &template)
}

fn toml_path(p: &Path) -> String {
    p.display().to_string().replace('\\', "\\\\")
}

const PROFILES: &str = r#"
[defaults]
tenant_id = "{TENANT}"
authority_host = "{AUTHORITY}"
host = "{HOST}"

[profiles.device]
flow = "device-code"
client_id = "{CLIENT}"

[profiles.sp-secret]
flow = "client-credentials"
client_id = "{SP_CLIENT}"
client_secret_env = "SP_SECRET"

[profiles.sp-management]
flow = "client-credentials"
client_id = "{SP_CLIENT}"
client_secret_env = "SP_SECRET"
azure_management_token = true
azure_workspace_resource_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws"

[profiles.sp-cert]
flow = "service-principal"
client_id = "{SP_CLIENT}"
client_certificate = "{CERT}"

[profiles.federated]
flow = "workload-identity"
client_id = "{SP_CLIENT}"
federated_token_file = "{TOKEN_FILE}"
"#;
