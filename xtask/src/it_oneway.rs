//! Integration cases for one way in (issue 18): every command resolves profiles through the
//! `brickauth` library the same way — with only a `~/.databrickscfg`, with a named profile file
//! that is missing, with a TOML default and `$DATABRICKS_CONFIG_PROFILE` — the library's own
//! example gets a token from the mock, and environment misconfiguration is a usage error.

use std::process::Command;

use anyhow::{Context as _, Result, ensure};
use brickauth_mock::{ALICE_PASSWORD, SP_CLIENT_ID, SP_CLIENT_SECRET, TENANT_ID};

use crate::harness::{Output, Suite, World, expect_code, expect_contains};

/// Every case of this module, in order.
pub fn cases(w: &World, s: &mut Suite) {
    let (authority, host) = (w.entra.uri(), w.databricks.uri());
    let cfg = w.path("oneway-databrickscfg");
    let text = format!(
        "[ws]\nhost = {host}\nazure_tenant_id = {TENANT_ID}\nazure_client_id = {SP_CLIENT_ID}\n\
         azure_client_secret = {SP_CLIENT_SECRET}\nauthority_host = {authority}\n"
    );
    if std::fs::write(&cfg, text).is_err() {
        s.case("one way in: write the Databricks config file", || anyhow::bail!("cannot write it"));
        return;
    }
    let cfg = cfg.display().to_string();
    let missing = w.path("oneway-no-such.toml").display().to_string();
    // Only `~/.databrickscfg`: $BRICKAUTH_CONFIG names a file that does not exist.
    let only_cfg = |args: &[&str]| -> Result<Output> {
        w.run(args, &[("DATABRICKS_CONFIG_FILE", cfg.as_str()), ("BRICKAUTH_CONFIG", missing.as_str())], None)
    };

    s.case("one way in: only ~/.databrickscfg: auth token --host, status, logout, profiles validate", || {
        let o = only_cfg(&["auth", "token", "--host", &host])?;
        expect_code(&o, 0)?;
        let v: serde_json::Value = serde_json::from_str(&o.stdout).context("auth token prints JSON")?;
        let token = v["access_token"].as_str().unwrap_or_default();
        ensure!(w.entra.issued_access_tokens().iter().any(|t| t == token), "not a token the mock issued");
        let o = only_cfg(&["status"])?;
        expect_code(&o, 0)?;
        expect_contains(&o.stdout, "ws", "the section in status")?;
        let o = only_cfg(&["-p", "ws", "status", "--check"])?;
        expect_code(&o, 0)?;
        let o = only_cfg(&["profiles", "validate"])?;
        expect_code(&o, 0)?;
        expect_contains(&o.stdout, "ok       ws", "validate")?;
        let o = only_cfg(&["-p", "ws", "logout"])?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, "Signed out", "logout")?;
        let o = only_cfg(&["-p", "ws", "status", "--check"])?;
        expect_code(&o, 3)?;
        Ok(())
    });

    s.case("one way in: --config naming a missing file exits 2 naming it, though ~/.databrickscfg exists", || {
        let o =
            w.run(&["--config", &missing, "-p", "ws", "token"], &[("DATABRICKS_CONFIG_FILE", cfg.as_str())], None)?;
        expect_code(&o, 2)?;
        expect_contains(&o.stderr, &missing, "the file named")?;
        Ok(())
    });

    s.case("one way in: $DATABRICKS_CONFIG_PROFILE wins over a TOML [profiles.default]", || {
        let toml = w.write_profiles(
            "oneway-profiles.toml",
            "[profiles.default]\nflow = \"password\"\ntenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\n\
             authority_host = \"{AUTHORITY}\"\nusername = \"alice@contoso.com\"\npassword_env = \"ALICE_PASSWORD\"\n",
        )?;
        let toml = toml.display().to_string();
        let env = [
            ("DATABRICKS_CONFIG_FILE", cfg.as_str()),
            ("BRICKAUTH_CONFIG", toml.as_str()),
            ("DATABRICKS_CONFIG_PROFILE", "ws"),
        ];
        let o = w.run(&["profiles", "show"], &env, None)?;
        expect_code(&o, 0)?;
        ensure!(o.stdout.starts_with("[ws]"), "expected the `ws` section, got:\n{}", o.stdout);
        let o = w.run(&["token", "-o", "json"], &env, None)?;
        expect_code(&o, 0)?;
        expect_contains(&o.stdout, "\"profile\": \"ws\"", "token uses the same profile")?;
        Ok(())
    });

    s.case(
        "one way in: every option does what it says: whoami -o json, --flow … status, $DATABRICKS_HOST at -v",
        || {
            let toml = w.write_profiles(
                "oneway-options.toml",
                &brickauth_mock::constants::password_profile("dev", "ALICE_PASSWORD", true),
            )?;
            let toml = toml.display().to_string();
            let env = [("BRICKAUTH_CONFIG", toml.as_str()), ("ALICE_PASSWORD", ALICE_PASSWORD)];
            let o = w.run(&["whoami", "-o", "json"], &env, None)?;
            expect_code(&o, 0)?;
            let me: serde_json::Value = serde_json::from_str(&o.stdout).context("whoami -o json prints JSON")?;
            ensure!(me["userName"] == "alice@contoso.com", "whoami -o json: {me}");
            // The profile's own host wins over the variable, and -v says so.
            let mut with_var = env.to_vec();
            with_var.push(("DATABRICKS_HOST", "https://adb-9999999999999999.9.azuredatabricks.net"));
            let o = w.run(&["-v", "token"], &with_var, None)?;
            expect_code(&o, 0)?;
            expect_contains(
                &o.stderr,
                "$DATABRICKS_HOST (https://adb-9999999999999999.9.azuredatabricks.net) is not used",
                "-v",
            )?;
            // The environment-only mode has a status too: the one profile it would use.
            let sp = [
                ("ARM_TENANT_ID", TENANT_ID),
                ("ARM_CLIENT_ID", SP_CLIENT_ID),
                ("ARM_CLIENT_SECRET", SP_CLIENT_SECRET),
                ("BRICKAUTH_CONFIG", missing.as_str()),
                ("AZURE_AUTHORITY_HOST", authority.as_str()),
            ];
            expect_code(&w.run(&["--flow", "client-credentials", "token"], &sp, None)?, 0)?;
            let o = w.run(&["--flow", "client-credentials", "status", "--check"], &sp, None)?;
            expect_code(&o, 0)?;
            Ok(())
        },
    );

    s.case("one way in: BRICKAUTH_HTTP_TIMEOUT=abc is a usage error (exit 2) naming the variable", || {
        let env = [
            ("ARM_TENANT_ID", TENANT_ID),
            ("ARM_CLIENT_ID", SP_CLIENT_ID),
            ("ARM_CLIENT_SECRET", SP_CLIENT_SECRET),
            ("BRICKAUTH_HTTP_TIMEOUT", "abc"),
        ];
        let o = w.run(&["--flow", "client-credentials", "token"], &env, None)?;
        expect_code(&o, 2)?;
        expect_contains(&o.stderr, "BRICKAUTH_HTTP_TIMEOUT", "the variable")?;
        Ok(())
    });

    s.case("one way in: the library's example gets a named profile's token in three lines", || {
        let toml = w.write_profiles(
            "oneway-example.toml",
            &brickauth_mock::constants::password_profile("dev", "ALICE_PASSWORD", false),
        )?;
        let root = crate::harness::root();
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
            .current_dir(&root)
            .args(["run", "--quiet", "-p", "brickauth", "--example", "from_profile", "--"])
            .arg("--config")
            .arg(&toml)
            .arg("dev")
            .env("ALICE_PASSWORD", ALICE_PASSWORD)
            .env("BRICKAUTH_CACHE_DIR", w.path("oneway-example-cache"))
            .env("HOME", w.path("home"))
            .output()
            .context("cargo run --example from_profile")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        ensure!(out.status.success(), "the example failed: {}", String::from_utf8_lossy(&out.stderr));
        expect_contains(&stdout, "signed in as alice@contoso.com", "the example's output")?;
        Ok(())
    });

    s.case("one way in: a profile as an azure_core TokenCredential (feature azure-core)", || {
        let toml = w.write_profiles(
            "oneway-azure-core.toml",
            &brickauth_mock::constants::password_profile("dev", "ALICE_PASSWORD", false),
        )?;
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
            .current_dir(crate::harness::root())
            .args(["run", "--quiet", "-p", "brickauth", "--features", "azure-core", "--example", "azure_core", "--"])
            .arg("--config")
            .arg(&toml)
            .arg("dev")
            .env("ALICE_PASSWORD", ALICE_PASSWORD)
            .env("BRICKAUTH_CACHE_DIR", w.path("oneway-azure-core-cache"))
            .env("HOME", w.path("home"))
            .output()
            .context("cargo run --example azure_core")?;
        ensure!(out.status.success(), "the example failed: {}", String::from_utf8_lossy(&out.stderr));
        expect_contains(&String::from_utf8_lossy(&out.stdout), "profile `dev`: a token valid until", "its output")?;
        ensure!(w.entra.token_request_count() > 0, "no token was requested");
        Ok(())
    });

    s.case("children trust what brickauth trusts: exec passes the CA bundle on, never over the user's", || {
        let toml = w.write_profiles(
            "oneway-ca.toml",
            &brickauth_mock::constants::password_profile("dev", "ALICE_PASSWORD", true),
        )?;
        let toml = toml.display().to_string();
        let ca = crate::harness::root().join("fixtures/certs/other-cert.pem").display().to_string();
        let show =
            "echo \"ssl=$SSL_CERT_FILE requests=$REQUESTS_CA_BUNDLE curl=$CURL_CA_BUNDLE node=$NODE_EXTRA_CA_CERTS\"";
        let base = [
            ("BRICKAUTH_CONFIG", toml.as_str()),
            ("ALICE_PASSWORD", ALICE_PASSWORD),
            ("BRICKAUTH_CA_BUNDLE", ca.as_str()),
        ];
        let o = w.run(&["exec", "--", "sh", "-c", show], &base, None)?;
        expect_code(&o, 0)?;
        expect_contains(&o.stdout, &format!("ssl={ca} requests={ca} curl={ca} node={ca}"), "the child's CA variables")?;
        let mut own = base.to_vec();
        own.push(("REQUESTS_CA_BUNDLE", "/etc/ssl/mine.pem"));
        let o = w.run(&["exec", "--", "sh", "-c", show], &own, None)?;
        expect_code(&o, 0)?;
        expect_contains(&o.stdout, "requests=/etc/ssl/mine.pem", "the user's own value is kept")?;
        let o = w.run(&["exec", "--", "sh", "-c", show], &base[..2], None)?;
        expect_code(&o, 0)?;
        expect_contains(&o.stdout, "ssl= requests= curl= node=", "nothing without a configured bundle")?;
        Ok(())
    });
}
