//! Integration cases for meeting users where they are (issue 13): a `~/.databrickscfg` written
//! as the Databricks CLI writes it used with no TOML file, `profiles import` then `validate`,
//! `profiles export`, the environment-only mode of every workspace command, and the az drop-in.
//!
//! Every run here points `BRICKAUTH_CONFIG` at a file that does not exist, unless it imports one.

use anyhow::{Result, ensure};
use brickauth_mock::{SP_CLIENT_ID, SP_CLIENT_SECRET, TENANT_ID};
use serde_json::Value;

use crate::harness::{Output, Suite, World, expect_code, expect_contains};

const ALICE_PASSWORD: &str = "correct horse battery staple";

/// The Databricks config file, as `databricks configure` / `databricks auth login` write it,
/// plus `authority_host` (brickauth's own key) so Entra is the mock.
fn databrickscfg(w: &World) -> String {
    let (authority, host) = (w.entra.uri(), w.databricks.uri());
    format!(
        "; The profile defined in the DEFAULT section is to be used as a fallback when no profile is explicitly specified.
[DEFAULT]
host  = {host}
token = dapi-not-a-real-token-0000

[sp]
host                = {host}
azure_tenant_id     = {TENANT_ID}
azure_client_id     = {SP_CLIENT_ID}
azure_client_secret = {SP_CLIENT_SECRET}
authority_host      = {authority}

[cli]
host      = {host}
auth_type = azure-cli

[m2m]
host          = {host}
client_id     = 5a6b7c8d-0000-4000-8000-000000000001
client_secret = not-a-real-m2m-secret

[browser]
host      = {host}
auth_type = external-browser
"
    )
}

/// Every case of this module, in order.
pub fn cases(w: &World, s: &mut Suite) {
    let cfg = w.path("databrickscfg");
    if std::fs::write(&cfg, databrickscfg(w)).is_err() {
        s.case("reach: reach: write the Databricks config file", || anyhow::bail!("cannot write databrickscfg"));
        return;
    }
    let cfg = cfg.display().to_string();
    let missing = w.path("no-such-profiles.toml").display().to_string();
    // No TOML file: only the Databricks config file.
    let run_cfg = |args: &[&str], extra: &[(&str, &str)]| -> Result<Output> {
        let mut env = vec![("DATABRICKS_CONFIG_FILE", cfg.as_str()), ("BRICKAUTH_CONFIG", missing.as_str())];
        env.extend_from_slice(extra);
        w.run(args, &env, None)
    };

    s.case("reach: databrickscfg: a service principal section, no TOML file → token", || {
        let o = run_cfg(&["-p", "sp", "token"], &[])?;
        expect_code(&o, 0)?;
        ensure!(w.entra.issued_access_tokens().iter().any(|t| t == o.stdout.trim()), "not a token the mock issued");
        Ok(())
    });

    s.case("reach: databrickscfg: the same section → clusters list", || {
        let o = run_cfg(&["-p", "sp", "clusters", "list"], &[])?;
        expect_code(&o, 0)?;
        expect_contains(&o.stdout, "CLUSTER ID", "header")?;
        ensure!(o.stdout.lines().count() == 4, "expected header + 3 rows:\n{}", o.stdout);
        Ok(())
    });

    s.case("reach: databrickscfg: profiles show names ~/.databrickscfg:LINE; the secret is redacted", || {
        let o = run_cfg(&["profiles", "show", "sp"], &[])?;
        expect_code(&o, 0)?;
        expect_contains(&o.stdout, "client_id = ", "stdout")?;
        expect_contains(&o.stdout, &format!("# {cfg}:9"), "stdout")?;
        expect_contains(&o.stdout, "client_secret = <redacted>", "stdout")?;
        ensure!(!o.stdout.contains(SP_CLIENT_SECRET), "secret shown");
        Ok(())
    });

    s.case("reach: databrickscfg: the PAT [DEFAULT] is refused naming the section and key (exit 2)", || {
        // Nothing names a profile: the SDKs' fallback is [DEFAULT].
        let o = run_cfg(&["token"], &[])?;
        expect_code(&o, 2)?;
        expect_contains(&o.stderr, "section [DEFAULT], key `token`", "stderr")?;
        expect_contains(&o.stderr, &format!("{cfg}:4"), "stderr")?;
        ensure!(!o.stderr.contains("dapi-not-a-real"), "the PAT was printed");
        let o = run_cfg(&["-p", "browser", "token"], &[])?;
        expect_code(&o, 2)?;
        expect_contains(&o.stderr, "section [browser], key `auth_type`", "stderr")
    });

    s.case(
        "reach: databrickscfg: a misspelt azure_clent_secret is an error with did you mean, not another flow",
        || {
            let typo = w.path("databrickscfg-typo");
            std::fs::write(
                &typo,
                format!(
                    "[typo]\nhost = {}\nazure_tenant_id = {TENANT_ID}\nazure_client_id = {SP_CLIENT_ID}\n\
                 azure_clent_secret = {SP_CLIENT_SECRET}\nauthority_host = {}\ncluster_id = 0123-456789-abc\n",
                    w.databricks.uri(),
                    w.entra.uri()
                ),
            )?;
            let typo = typo.display().to_string();
            let before = w.entra.token_request_count();
            let o = w.run(
                &["-p", "typo", "token"],
                &[("DATABRICKS_CONFIG_FILE", &typo), ("BRICKAUTH_CONFIG", &missing)],
                None,
            )?;
            expect_code(&o, 2)?;
            expect_contains(&o.stderr, &format!("{typo}:5"), "stderr")?;
            expect_contains(
                &o.stderr,
                "unknown key `azure_clent_secret` (did you mean `azure_client_secret`?)",
                "stderr",
            )?;
            ensure!(!o.stderr.contains(SP_CLIENT_SECRET), "the secret was printed");
            ensure!(w.entra.token_request_count() == before, "a token was requested");
            Ok(())
        },
    );

    s.case("reach: a client-credentials profile without a secret or certificate is refused by add and validate", || {
        let path = w.path("no-credential.toml");
        let path_s = path.display().to_string();
        let o = w.run(
            &[
                "profiles", "add", "sp", "--flow", "client-credentials", "--set", &format!("tenant_id={TENANT_ID}"),
                "--set", &format!("client_id={SP_CLIENT_ID}"),
            ],
            &[("BRICKAUTH_CONFIG", &path_s)],
            None,
        )?;
        expect_code(&o, 2)?;
        expect_contains(&o.stderr, "needs a credential", "stderr")?;
        expect_contains(&o.stderr, "client_certificate", "stderr")?;
        ensure!(!path.exists(), "profiles add wrote a profile with no credential");
        // Written by hand: validate names it; token refuses before any request.
        std::fs::write(
            &path,
            format!("[profiles.sp]\nflow = \"client-credentials\"\ntenant_id = \"{TENANT_ID}\"\nclient_id = \"{SP_CLIENT_ID}\"\n"),
        )?;
        let o = w.run(&["profiles", "validate"], &[("BRICKAUTH_CONFIG", &path_s)], None)?;
        ensure!(o.code != 0, "validate passed a profile with no credential:\n{}", o.stdout);
        expect_contains(&format!("{}{}", o.stdout, o.stderr), "needs a credential", "output")?;
        let before = w.entra.token_request_count();
        let o = w.run(&["-p", "sp", "token"], &[("BRICKAUTH_CONFIG", &path_s)], None)?;
        expect_code(&o, 2)?;
        ensure!(w.entra.token_request_count() == before, "a token was requested");
        Ok(())
    });

    s.case("reach: databrickscfg: profiles list shows the sections with their file", || {
        let o = run_cfg(&["profiles", "list"], &[])?;
        expect_code(&o, 0)?;
        for name in ["sp", "cli", "m2m", "DEFAULT"] {
            expect_contains(&o.stdout, name, "stdout")?;
        }
        expect_contains(&o.stdout, "client-credentials", "stdout")?;
        expect_contains(&o.stdout, "azure-cli", "stdout")?;
        expect_contains(&o.stdout, "databricks-m2m", "stdout")
    });

    let imported = w.path("imported.toml");
    let imported_s = imported.display().to_string();
    s.case("reach: profiles import --databrickscfg writes references, never secrets; validate passes", || {
        std::fs::write(&imported, "# my own comment, kept\ndefault_profile = \"sp\"\n")?;
        let o = w.run(
            &["profiles", "import", "--databrickscfg", cfg.as_str()],
            &[("BRICKAUTH_CONFIG", imported_s.as_str())],
            None,
        )?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, "BRICKAUTH_SP_CLIENT_SECRET", "stderr")?;
        expect_contains(&o.stderr, "skipped  [DEFAULT]", "stderr")?;
        let text = std::fs::read_to_string(&imported)?;
        expect_contains(&text, "# my own comment, kept", "file")?;
        expect_contains(&text, "client_secret_env = \"BRICKAUTH_SP_CLIENT_SECRET\"", "file")?;
        ensure!(!text.contains(SP_CLIENT_SECRET) && !text.contains("not-a-real-m2m-secret"), "a secret was written");
        let o = w.run(&["profiles", "validate"], &[("BRICKAUTH_CONFIG", imported_s.as_str())], None)?;
        expect_code(&o, 0)?;
        expect_contains(&o.stdout, "ok       sp (client-credentials)", "stdout")?;
        let o = w.run(
            &["-p", "sp", "token", "--force-refresh"],
            &[("BRICKAUTH_CONFIG", imported_s.as_str()), ("BRICKAUTH_SP_CLIENT_SECRET", SP_CLIENT_SECRET)],
            None,
        )?;
        expect_code(&o, 0)
    });

    s.case("reach: profiles export --databrickscfg points the Databricks tools at brickauth", || {
        let o = w.run(&["profiles", "export", "--databrickscfg"], &[], None)?;
        expect_code(&o, 0)?;
        expect_contains(&o.stdout, "[alice]", "stdout")?;
        expect_contains(&o.stdout, "auth_type           = databricks-cli", "stdout")?;
        expect_contains(&o.stdout, "databricks_cli_path = ", "stdout")
    });

    s.case("reach: profiles import from a path with a newline is refused; nothing written", || {
        // The path would end the `# imported from PATH` comment and add a profile of its own.
        let dir = w.path("x\n[profiles.evil]\nflow = \"password\"\npassword_command = \"touch /tmp/pwned\"\n#");
        std::fs::create_dir_all(&dir)?;
        let evil_cfg = dir.join("databrickscfg");
        std::fs::write(&evil_cfg, databrickscfg(w))?;
        let target = w.path("imported-evil.toml");
        std::fs::write(&target, "# mine\n")?;
        let target_s = target.display().to_string();
        let o = w.run(
            &["profiles", "import", "--databrickscfg", &evil_cfg.display().to_string()],
            &[("BRICKAUTH_CONFIG", target_s.as_str())],
            None,
        )?;
        expect_code(&o, 2)?;
        expect_contains(&o.stderr, "control character", "stderr")?;
        expect_contains(&o.stderr, "nothing was written", "stderr")?;
        ensure!(std::fs::read_to_string(&target)? == "# mine\n", "the profile file was changed");
        Ok(())
    });

    s.case("reach: profiles export refuses INI injections in names and values; nothing printed", || {
        let base = "flow = \"password\"\ntenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\n\
                    authority_host = \"{AUTHORITY}\"\nusername = \"alice@contoso.com\"\n\
                    password_env = \"ALICE_PASSWORD\"\n";
        let attempts = [
            (
                "value",
                format!("[profiles.dev]\n{base}host = \"{{HOST}}\\n[evil]\\nauth_type = pat\\ntoken = dapi-x\"\n"),
                "`host` = \"",
            ),
            (
                "resource id",
                format!(
                    "[profiles.dev]\n{base}host = \"{{HOST}}\"\n\
                     azure_workspace_resource_id = \"/subscriptions/s\\r\\n[evil]\"\n"
                ),
                "`azure_workspace_resource_id` = \"",
            ),
            (
                "name",
                format!("[profiles.\"dev]\\n[evil\"]\n{base}host = \"{{HOST}}\"\n"),
                "cannot be a ~/.databrickscfg section",
            ),
            ("brackets", format!("[profiles.\"[evil]\"]\n{base}host = \"{{HOST}}\"\n"), "`[` or `]`"),
        ];
        for (what, toml, says) in attempts {
            let path = w.write_profiles(&format!("export-{}.toml", what.replace(' ', "-")), &toml)?;
            let o =
                w.run(&["--config", &path.display().to_string(), "profiles", "export", "--databrickscfg"], &[], None)?;
            ensure!(o.code == 2, "{what}: exit {} (expected 2); stdout:\n{}\nstderr:\n{}", o.code, o.stdout, o.stderr);
            expect_contains(&o.stderr, says, "stderr")?;
            ensure!(o.stdout.is_empty(), "{what}: something was printed:\n{}", o.stdout);
            ensure!(!o.stderr.contains("\n[evil"), "{what}: the raw value reached stderr: {}", o.stderr);
        }
        // The profile file's path goes into the header comment.
        let dir = w.path("y\n[evil]\nauth_type = pat\n;");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("profiles.toml");
        std::fs::write(&path, std::fs::read_to_string(w.path("export-name.toml"))?.replace("dev]\\n[evil", "dev"))?;
        let o =
            w.run(&["--config", &path.display().to_string(), "profiles", "export", "--databrickscfg"], &[], None)?;
        ensure!(o.code == 2, "path: exit {}; stdout:\n{}", o.code, o.stdout);
        expect_contains(&o.stderr, "the profile file's path", "stderr")?;
        ensure!(o.stdout.is_empty(), "path: something was printed:\n{}", o.stdout);
        Ok(())
    });

    s.case("reach: profiles export read back by the Databricks SDK for Python lists clusters", || {
        let python = match crate::sdk::venv() {
            Ok(p) => p,
            Err(e) => {
                println!("      skipped: no Python/PyPI for the Databricks SDK: {e:#}");
                return Ok(());
            }
        };
        // One profile per host: the SDK may call `auth token --host H` (older helper versions),
        // which must match exactly one profile.
        let toml = w.write_profiles(
            "sdk-export.toml",
            "[profiles.alice]\nflow = \"password\"\ntenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\n\
             authority_host = \"{AUTHORITY}\"\nhost = \"{HOST}\"\nusername = \"alice@contoso.com\"\n\
             password_env = \"ALICE_PASSWORD\"\n",
        )?;
        let o =
            w.run(&["--config", &toml.display().to_string(), "profiles", "export", "--databrickscfg"], &[], None)?;
        expect_code(&o, 0)?;
        let home = w.path("sdk-home");
        std::fs::create_dir_all(&home)?;
        std::fs::write(home.join(".databrickscfg"), &o.stdout)?;
        let script = "from databricks.sdk import WorkspaceClient\n\
                      from databricks.sdk.core import Config\n\
                      w = WorkspaceClient(config=Config(profile='alice'))\n\
                      print(sum(1 for _ in w.clusters.list()))\n";
        let out = std::process::Command::new(&python)
            .args(["-c", script])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("BRICKAUTH_CONFIG", &toml)
            .env("BRICKAUTH_CACHE_DIR", w.path("cache"))
            .env("ALICE_PASSWORD", ALICE_PASSWORD)
            .stdin(std::process::Stdio::null())
            .output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        ensure!(out.status.success(), "the SDK failed:\n{}", String::from_utf8_lossy(&out.stderr));
        ensure!(stdout.trim() == "3", "the SDK listed {:?} clusters, not 3", stdout.trim());
        Ok(())
    });

    // CI: only variables, no file at all.
    let authority = w.entra.uri();
    let host = w.databricks.uri();
    let ci = |args: &[&str], extra: &[(&str, &str)]| -> Result<Output> {
        let mut env = vec![
            ("BRICKAUTH_CONFIG", missing.as_str()),
            ("ARM_TENANT_ID", TENANT_ID),
            ("ARM_CLIENT_ID", SP_CLIENT_ID),
            ("ARM_CLIENT_SECRET", SP_CLIENT_SECRET),
            ("AZURE_AUTHORITY_HOST", authority.as_str()),
            ("DATABRICKS_HOST", host.as_str()),
        ];
        env.extend_from_slice(extra);
        let mut all = vec!["--flow", "client-credentials"];
        all.extend_from_slice(args);
        w.run(&all, &env, None)
    };
    s.case("reach: ci: clusters list with only ARM_* and DATABRICKS_HOST", || {
        let o = ci(&["clusters", "list"], &[])?;
        expect_code(&o, 0)?;
        ensure!(o.stdout.lines().count() == 4, "expected header + 3 rows:\n{}", o.stdout);
        Ok(())
    });
    s.case("reach: ci: api, whoami and exec with only ARM_* and DATABRICKS_HOST", || {
        let o = ci(&["api", "GET", "/api/2.0/clusters/list"], &[])?;
        expect_code(&o, 0)?;
        let v: Value = serde_json::from_str(&o.stdout)?;
        ensure!(v["clusters"].is_array(), "{v}");
        let o = ci(&["whoami"], &[])?;
        expect_code(&o, 0)?;
        let o = ci(&["exec", "--", "sh", "-c", "test -n \"$DATABRICKS_TOKEN\" && echo \"$DATABRICKS_HOST\""], &[])?;
        expect_code(&o, 0)?;
        expect_contains(&o.stdout, host.trim_end_matches('/'), "stdout")
    });
    s.case("reach: ci: a missing tenant names ARM_TENANT_ID / AZURE_TENANT_ID (exit 2)", || {
        let env = [("BRICKAUTH_CONFIG", missing.as_str()), ("ARM_CLIENT_ID", SP_CLIENT_ID), ("ARM_CLIENT_SECRET", "x")];
        let o = w.run(&["--flow", "client-credentials", "token"], &env, None)?;
        expect_code(&o, 2)?;
        expect_contains(&o.stderr, "$ARM_TENANT_ID or $AZURE_TENANT_ID", "stderr")?;
        ensure!(!o.stderr.contains("missing required key `tenant_id`"), "names the profile key:\n{}", o.stderr);
        // A workspace command without DATABRICKS_HOST names that variable.
        let o = w.run(&["--flow", "client-credentials", "clusters", "list"], &env, None)?;
        expect_code(&o, 2)?;
        expect_contains(&o.stderr, "set $DATABRICKS_HOST", "stderr")
    });

    // az drop-in, with the integration profile file's `alice`.
    let alice = [("ALICE_PASSWORD", ALICE_PASSWORD)];
    s.case("reach: az: account get-access-token --query accessToken -o tsv = the bare token", || {
        let o = w.run(&["account", "get-access-token", "--query", "accessToken", "-o", "tsv"], &alice, None)?;
        expect_code(&o, 0)?;
        let raw = w.run(&["token"], &alice, None)?;
        ensure!(o.stdout == raw.stdout, "tsv {:?} vs raw {:?}", o.stdout, raw.stdout);
        ensure!(o.stdout.lines().count() == 1, "one row");
        Ok(())
    });
    s.case("reach: az: account get-access-token -o json has exactly az's keys", || {
        let o = w.run(&["account", "get-access-token", "-o", "json"], &alice, None)?;
        expect_code(&o, 0)?;
        let v: Value = serde_json::from_str(&o.stdout)?;
        let keys: Vec<&str> = v.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
        ensure!(keys == ["accessToken", "expiresOn", "expires_on", "tenant", "tokenType"], "{keys:?}");
        ensure!(v["expires_on"].is_i64() && v["tokenType"] == "Bearer", "{v}");
        Ok(())
    });
    s.case("reach: az: --resource https://management.core.windows.net/ asks for az's scope", || {
        let o = w.run(
            &["token", "--resource", "https://management.core.windows.net/", "-o", "tsv", "--query", "scope"],
            &alice,
            None,
        )?;
        expect_code(&o, 0)?;
        expect_contains(&o.stdout, "https://management.core.windows.net//.default", "stdout")?;
        let requested = w.token_requests().last().and_then(|r| r.get("scope").cloned()).unwrap_or_default();
        expect_contains(&requested, "https://management.core.windows.net//.default", "token request")
    });
}
