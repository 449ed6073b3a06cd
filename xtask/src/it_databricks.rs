//! Integration cases for the Databricks commands (`clusters`, `api`, `whoami`, `exec`): the real
//! binary against the mock workspace, signed in as `alice` (password flow) from the integration
//! profile file, plus one extra file (`dbx.toml`, passed with `--config`) for resource ids.
//!
//! Called from `integration::run` with the shared [`World`]; every run lands in the world's
//! transcript, so the final leak scan covers these cases too. Each case restores the workspace's
//! cluster count to the default three.

use std::time::Duration;

use anyhow::{Result, ensure};
use brickauth_mock::{ALICE_PASSWORD, Failure};
use serde_json::Value;

use crate::harness::{Suite, World, expect_code, expect_contains, root};

/// A valid id with the provider segment in lower case: it must be sent exactly as written.
const RESOURCE_ID: &str = "/subscriptions/3f2a1b4c-0000-4a5b-9c8d-112233445566/resourceGroups/rg-data/providers/microsoft.databricks/workspaces/ws-prod";

fn env() -> Vec<(&'static str, &'static str)> {
    vec![("ALICE_PASSWORD", ALICE_PASSWORD)]
}

/// The extra profile file: the integration file's `[defaults]` plus profiles with resource ids.
fn write_profiles(w: &World) -> Result<String> {
    let template = std::fs::read_to_string(root().join("fixtures/profiles/integration.toml"))?;
    let template = template.replace("{DIR}", &w.dir.path().display().to_string());
    let extra = format!(
        r#"
[profiles.rid]
flow = "password"
username = "alice@contoso.com"
password_env = "ALICE_PASSWORD"
azure_workspace_resource_id = "{RESOURCE_ID}"

[profiles.bad-rid]
flow = "password"
username = "alice@contoso.com"
password_env = "ALICE_PASSWORD"
azure_workspace_resource_id = "/subscriptions/3f2a1b4c/resourceGroups/rg-data/providers/Microsoft.Compute/workspaces/ws"

[profiles.no-host]
flow = "password"
username = "alice@contoso.com"
password_env = "ALICE_PASSWORD"
host = ""
"#
    );
    let path = w.write_profiles("dbx.toml", &format!("{template}{extra}"))?;
    Ok(path.display().to_string())
}

/// Every case of this module, in order.
pub fn cases(w: &World, s: &mut Suite) {
    let Ok(config) = write_profiles(w) else {
        s.case("databricks: write the profile file", || anyhow::bail!("cannot write dbx.toml"));
        return;
    };
    let db = &w.databricks;

    s.case("clusters list: 10,000 clusters, 100 per page → 10,000 rows", || {
        db.set_cluster_count(10_000);
        let before = db.request_count();
        let o = w.run(&["clusters", "list"], &env(), None);
        db.set_cluster_count(3);
        let o = o?;
        expect_code(&o, 0)?;
        let mut lines = o.stdout.lines();
        expect_contains(lines.next().unwrap_or_default(), "CLUSTER ID", "header")?;
        ensure!(lines.count() == 10_000, "expected 10,000 rows");
        expect_contains(&o.stdout, "2-8 (autoscale)", "table")?;
        let requests = w.rt.block_on(db.requests());
        let list = &requests[before..];
        ensure!(list.len() == 100, "expected 100 page requests, got {}", list.len());
        ensure!(list.iter().all(|r| r.query.get("page_size").map(String::as_str) == Some("100")), "page_size");
        Ok(())
    });

    s.case("clusters list -o json: one array of 10,000 full objects", || {
        db.set_cluster_count(10_000);
        let o = w.run(&["clusters", "list", "-o", "json"], &env(), None);
        db.set_cluster_count(3);
        let o = o?;
        expect_code(&o, 0)?;
        let v: Value = serde_json::from_str(&o.stdout)?;
        let all = v.as_array().map(Vec::as_slice).unwrap_or_default();
        ensure!(all.len() == 10_000, "expected 10,000 objects, got {}", all.len());
        // Fields the typed struct does not know are kept.
        for c in [&all[0], &all[9_999]] {
            ensure!(c["azure_attributes"]["availability"] == "ON_DEMAND_AZURE", "unknown field lost: {c}");
            ensure!(c["default_tags"]["Vendor"] == "Databricks", "unknown field lost: {c}");
        }
        Ok(())
    });

    s.case("two 429s with Retry-After: 1, then success", || {
        db.fail_next(vec![Failure::databricks_rate_limited("1"), Failure::databricks_rate_limited("1")]);
        let o = w.run(&["clusters", "list"], &env(), None)?;
        expect_code(&o, 0)?;
        ensure!(o.stdout.lines().count() == 4, "expected header + 3 rows:\n{}", o.stdout);
        ensure!(o.elapsed >= Duration::from_millis(1900), "Retry-After not honoured: {:?}", o.elapsed);
        Ok(())
    });

    s.case("503 forever: gives up within the budget, naming the status (exit 4)", || {
        db.fail_next(vec![Failure::databricks_unavailable(); 50]);
        let o = w.run(&["whoami"], &[("ALICE_PASSWORD", ALICE_PASSWORD), ("BRICKAUTH_RETRY_BUDGET", "3")], None);
        // Drop what is left so later cases start clean.
        db.clear_failures();
        let o = o?;
        expect_code(&o, 4)?;
        expect_contains(&o.stderr, "503", "stderr")?;
        expect_contains(&o.stderr, "TEMPORARILY_UNAVAILABLE", "stderr")?;
        ensure!(o.elapsed < Duration::from_secs(6), "took {:?}", o.elapsed);
        Ok(())
    });

    s.case("the token expiring mid-listing: one refresh on the process's one runtime, the listing completes", || {
        db.set_cluster_count(1_000);
        // A cache of its own: the first token comes from the network too, so its connection is
        // pooled before the listing starts, and the refresh after the 401 reuses that pool.
        let cache = w.path("cache-mid-listing").display().to_string();
        let mut env: Vec<(&str, &str)> = env();
        env.push(("BRICKAUTH_CACHE_DIR", &cache));
        let expired = Failure::Status {
            status: 401,
            retry_after: None,
            body: r#"{"error_code":"401","message":"Token is expired."}"#.to_owned(),
            content_type: "application/json".to_owned(),
        };
        // Pages 1–2 answered normally, page 3 rejected once.
        db.fail_next(vec![Failure::Delay(Duration::ZERO), Failure::Delay(Duration::ZERO), expired]);
        let tokens_before = w.entra.token_request_count();
        let before = db.request_count();
        let o = w.run(&["-vv", "clusters", "list"], &env, None);
        db.set_cluster_count(3);
        let o = o?;
        expect_code(&o, 0)?;
        ensure!(o.stdout.lines().count() == 1_001, "expected 1,000 rows");
        let runtimes = o.stderr.matches("async runtime started").count();
        ensure!(runtimes == 1, "expected one async runtime for the whole command, saw {runtimes}");
        ensure!(db.request_count() - before == 11, "expected 10 pages + 1 repeat, got {}", db.request_count() - before);
        ensure!(w.entra.token_request_count() > tokens_before, "no fresh token was fetched");
        Ok(())
    });

    s.case("azure_workspace_resource_id: every request carries exactly that header", || {
        let before = db.request_count();
        let o = w.run(&["--config", &config, "-p", "rid", "clusters", "list"], &env(), None)?;
        expect_code(&o, 0)?;
        let o2 = w.run(&["--config", &config, "-p", "rid", "whoami"], &env(), None)?;
        expect_code(&o2, 0)?;
        let requests = w.rt.block_on(db.requests());
        let sent = &requests[before..];
        ensure!(sent.len() >= 2, "expected requests, got {}", sent.len());
        for r in sent {
            let h = r.headers.get("x-databricks-azure-workspace-resource-id").map(String::as_str);
            ensure!(h == Some(RESOURCE_ID), "{} {}: header {h:?}", r.method, r.path);
        }
        Ok(())
    });

    s.case("a malformed resource id or a missing host is a profile error (exit 2)", || {
        let before = db.request_count();
        let o = w.run(&["--config", &config, "-p", "bad-rid", "clusters", "list"], &env(), None)?;
        expect_code(&o, 2)?;
        expect_contains(&o.stderr, "azure_workspace_resource_id", "stderr")?;
        let o = w.run(&["--config", &config, "-p", "no-host", "whoami"], &env(), None)?;
        expect_code(&o, 2)?;
        expect_contains(&o.stderr, "host", "stderr")?;
        ensure!(db.request_count() == before, "a request was sent");
        Ok(())
    });

    s.case("exec: the child sees the host and a token, and its exit code passes through", || {
        let script =
            r#"echo "$DATABRICKS_HOST"; echo "$DATABRICKS_AUTH_TYPE"; test -n "$DATABRICKS_TOKEN" || exit 9; exit 7"#;
        let o = w.run(&["exec", "--", "sh", "-c", script], &env(), None)?;
        expect_code(&o, 7)?;
        let mut lines = o.stdout.lines();
        ensure!(lines.next() == Some(db.uri().as_str()), "host: {}", o.stdout);
        ensure!(lines.next() == Some("metadata-service"), "auth type: {}", o.stdout);
        let o = w.run(&["exec", "--static", "--", "sh", "-c", r#"echo "$DATABRICKS_AUTH_TYPE""#], &env(), None)?;
        expect_code(&o, 0)?;
        ensure!(o.stdout.trim() == "pat", "--static auth type: {}", o.stdout);
        let o = w.run(&["exec", "--", "sh", "-c", "exit 0"], &env(), None)?;
        expect_code(&o, 0)?;
        Ok(())
    });

    s.case("api GET /api/2.0/preview/scim/v2/Me and whoami", || {
        let o = w.run(&["api", "GET", "/api/2.0/preview/scim/v2/Me"], &env(), None)?;
        expect_code(&o, 0)?;
        let v: Value = serde_json::from_str(&o.stdout)?;
        ensure!(v["userName"] == "alice@contoso.com", "{v}");
        let o = w.run(&["whoami"], &env(), None)?;
        expect_code(&o, 0)?;
        ensure!(o.stdout.trim() == "alice@contoso.com (Alice Smith)", "whoami: {}", o.stdout);
        let o = w.run(
            &["api", "get", "/api/2.1/clusters/get", "--query", "cluster_id=1125-101010-abcd1234"],
            &env(),
            None,
        )?;
        expect_code(&o, 0)?;
        Ok(())
    });

    s.case("api on an unknown path → exit 4 with the Databricks error; clusters get unknown → 4", || {
        let o = w.run(&["api", "GET", "/api/2.0/no/such/thing"], &env(), None)?;
        expect_code(&o, 4)?;
        expect_contains(&o.stderr, "ENDPOINT_NOT_FOUND", "stderr")?;
        let o = w.run(&["clusters", "get", "no-such-cluster"], &env(), None)?;
        expect_code(&o, 4)?;
        expect_contains(&o.stderr, "RESOURCE_DOES_NOT_EXIST", "stderr")?;
        let o = w.run(&["api", "POST", "/api/2.1/clusters/start", "--json", "{not json"], &env(), None)?;
        expect_code(&o, 2)?;
        Ok(())
    });

    s.case("no tenant_id: found from the workspace's /aad/auth redirect", || {
        let template = std::fs::read_to_string(root().join("fixtures/profiles/integration.toml"))?;
        let template: String =
            template.lines().filter(|l| !l.starts_with("tenant_id")).map(|l| format!("{l}\n")).collect();
        let path =
            w.write_profiles("notenant.toml", &template.replace("{DIR}", &w.dir.path().display().to_string()))?;
        let o = w.run(&["--config", &path.display().to_string(), "-v", "whoami"], &env(), None)?;
        expect_code(&o, 0)?;
        expect_contains(&o.stderr, "discovered from", "stderr")?;
        expect_contains(&o.stderr, brickauth_mock::TENANT_ID, "stderr")?;
        ensure!(w.rt.block_on(db.requests()).iter().any(|r| r.path == "/aad/auth"), "no /aad/auth request");
        Ok(())
    });

    s.case("403 from the workspace → exit 4", || {
        db.set_forbidden(true);
        let o = w.run(&["whoami"], &env(), None);
        db.set_forbidden(false);
        let o = o?;
        expect_code(&o, 4)?;
        expect_contains(&o.stderr, "PERMISSION_DENIED", "stderr")?;
        Ok(())
    });
}
