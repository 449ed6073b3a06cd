//! `cargo xtask bench`'s Azure CLI figures: `brickauth token` with the `azure-cli` flow against
//! `az account get-access-token`, whole processes, in the same run.
//!
//! Measured inside the loopback-only network namespace of `cargo xtask az` (see `azcli`), after
//! a real `az login` to the mock:
//! - the first token after `az login`: `brickauth token --force-refresh` — read az's files, one
//!   refresh-token redemption over TLS (through the relay on 127.0.0.1:443), store the token in
//!   brickauth's cache — every run;
//! - a cached one: `brickauth token`;
//! - the baseline: `az account get-access-token --resource 2ff814a6-… -o json`, with az's own
//!   cached token (after one warm-up call it never contacts the mock).
//!
//! Where azure-cli or a network namespace cannot be had, the figures are skipped with a note.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use brickauth_mock::{DATABRICKS_RESOURCE, TENANT_ID};
use serde_json::{Value, json};

use crate::azcli::{ALICE, Lab};
use crate::bench::{Cmd, measure, ms, yes};

/// One report row: figure, ours, baseline, ratio, target, met.
pub type Row = [String; 6];

const PROFILE: &str = r#"default_profile = "az"

[profiles.az]
flow = "azure-cli"
azure_cli_mode = "cache"
authority_host = "https://127.0.0.1"
"#;

/// The rows for the report (empty, with a note, when skipped). Runs the measurement in a
/// network namespace through `xtask az --bench-inside RUNS OUT`.
/// The Azure CLI rows of `cargo xtask bench` (with the Python comparisons: az is Python too).
pub(crate) fn figures(b: &crate::bench::Bench, r: &mut crate::bench::Report) -> Result<()> {
    if b.python.is_none() {
        return Ok(());
    }
    let rows = rows(&b.bin, b.runs, &mut r.notes);
    r.rows.extend(rows.into_iter().map(|[figure, ours, baseline, ratio, target, met]| crate::bench::Row {
        figure,
        ours,
        baseline,
        ratio,
        target,
        met,
    }));
    Ok(())
}

pub fn rows(bin: &Path, runs: usize, notes: &mut Vec<String>) -> Vec<Row> {
    match measure_outside(bin, runs) {
        Ok(Some((rows, more))) => {
            notes.extend(more);
            rows
        }
        Ok(None) => {
            notes.push("Azure CLI comparisons skipped: azure-cli or a network namespace is not available here.".into());
            Vec::new()
        }
        Err(e) => {
            println!("bench: Azure CLI comparisons failed: {e:#}");
            notes.push(format!("Azure CLI comparisons failed: {e:#}"));
            Vec::new()
        }
    }
}

fn measure_outside(bin: &Path, runs: usize) -> Result<Option<(Vec<Row>, Vec<String>)>> {
    let Some(venv) = crate::azcli::prepare()? else { return Ok(None) };
    let out = tempfile::NamedTempFile::new()?;
    println!("bench: azure-cli flow vs az account get-access-token (in a network namespace)…");
    let args = ["az".to_owned(), "--bench-inside".to_owned(), runs.to_string(), out.path().display().to_string()];
    crate::azcli::in_namespace(&args, bin, &venv)?;
    let v: Value = serde_json::from_slice(&std::fs::read(out.path())?).context("the namespace's figures")?;
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect()
    };
    let rows =
        v["rows"].as_array().into_iter().flatten().filter_map(|r| <[String; 6]>::try_from(strings(r)).ok()).collect();
    Ok(Some((rows, strings(&v["notes"]))))
}

/// Inside the namespace: sign az in, measure, write `{rows, notes}` to `out`.
pub fn inside(lab: &Lab, runs: usize, out: &Path) -> Result<()> {
    let w = &lab.world;
    let config = w.write_profiles("bench-az.toml", PROFILE)?;
    let dir = lab.az_dir("bench")?;
    lab.login(&dir, ALICE, TENANT_ID)?;
    let scratch = w.dir.path().to_path_buf();
    let mut ours_env = lab.brickauth_env(&dir);
    ours_env.extend([
        ("HOME".to_owned(), lab.home.display().to_string()),
        ("BRICKAUTH_CONFIG".to_owned(), config.display().to_string()),
        ("BRICKAUTH_CACHE_DIR".to_owned(), w.path("bench-cache").display().to_string()),
        ("TZ".to_owned(), "UTC".to_owned()),
    ]);
    let bin = w.bin.display().to_string();
    let az = lab.venv.join("bin/az").display().to_string();
    let az_argv = [az.as_str(), "account", "get-access-token", "--resource", DATABRICKS_RESOURCE, "-o", "json"];
    // Both sides must work before they are timed; az's warm-up call fills its own cache.
    let o = lab.az(&dir, &az_argv[1..])?;
    ensure!(o.code == 0, "az account get-access-token failed: {}", o.stderr);
    let env_ref: Vec<(&str, &str)> = ours_env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let o = w.run(&["token"], &env_ref, None)?;
    ensure!(o.code == 0, "brickauth token failed: {}", o.stderr);

    let first = "brickauth token --force-refresh (one refresh over TLS)";
    let cached = "brickauth token (cached)";
    let base = "az account get-access-token";
    let cmds = vec![
        Cmd::new(first, &[&bin, "token", "--force-refresh"], &ours_env),
        Cmd::new(cached, &[&bin, "token"], &ours_env),
        Cmd::new(base, &az_argv, &lab.az_env(&dir)),
    ];
    let before = w.entra.token_request_count();
    let m = measure(&scratch, runs, &cmds)?;
    let sent = w.entra.token_request_count() - before;
    let (f, c, a) = (m.get(first), m.get(cached), m.get(base));
    let first_x = a.wall.median / f.wall.median;
    let cached_x = a.wall.median / c.wall.median;
    let rows = vec![
        [
            "azure-cli flow, first token after `az login` (reads az's cache, one refresh over TLS): wall".to_owned(),
            ms(f.wall),
            format!("az {}", ms(a.wall)),
            format!("{first_x:.0}× faster"),
            "≥ 30× faster than az".to_owned(),
            yes(first_x >= 30.0),
        ],
        [
            "azure-cli flow, cached token: wall".to_owned(),
            ms(c.wall),
            format!("az {}", ms(a.wall)),
            format!("{cached_x:.0}× faster"),
            "≥ 100× faster than az".to_owned(),
            yes(cached_x >= 100.0),
        ],
        [
            "azure-cli flow vs az: CPU (user+sys), first / cached".to_owned(),
            format!("{} / {}", ms(f.cpu), ms(c.cpu)),
            format!("az {}", ms(a.cpu)),
            format!("{:.0}× / {:.0}× less", a.cpu.median / f.cpu.median, a.cpu.median / c.cpu.median),
            "–".to_owned(),
            "–".to_owned(),
        ],
    ];
    let notes = vec![format!(
        "Azure CLI rows: azure-cli {} signed in to the mock with `az login -u … -p …`, everything in a loopback-only \
         network namespace (`unshare --net`), az and brickauth both over TLS through the relay on 127.0.0.1:443. \
         The first-token row runs `brickauth token --force-refresh` every time: it reads az's \
         `msal_token_cache.json` and `azureProfile.json`, redeems az's refresh token with az's client id, and \
         stores the access token in brickauth's cache — what the first call after `az login` does. The baseline is \
         `az account get-access-token --resource 2ff814a6-… -o json` answering from az's own token cache (one warm-up \
         call filled it). {sent} token requests were sent during the series.",
        crate::azcli::AZURE_CLI_VERSION
    )];
    std::fs::write(out, serde_json::to_vec(&json!({"rows": rows, "notes": notes}))?)?;
    Ok(())
}
