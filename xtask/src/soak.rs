//! `cargo xtask soak [--processes N] [--calls M] [--lifetime SECS] [--max-seconds S]
//! [--every-call-refreshes] [--release] [--secret-storage STORAGE]`: N concurrent workers, each running `brickauth token`
//! M times as separate processes, against the mock with short-lived tokens and rotating refresh
//! tokens (defaults 64 × 50, 5 s, at most 60 s).
//!
//! How short lifetimes meet the 40-second floor: brickauth never returns a token with less than
//! 40 s left (DESIGN §5), so a token the mock issues for 5 s would be renewed on every call. The
//! mock therefore issues tokens for `lifetime + 40` s and the calls pass `--min-validity 40`:
//! each token is *usable* for `lifetime` seconds, and renewals should come about once per
//! lifetime however many processes ask. `--every-call-refreshes` issues plain `lifetime`-second
//! tokens instead: every call then redeems (and rotates) the refresh token under the lock — the
//! harshest test of rotation, with token requests = calls + 1.
//!
//! Calls are paced (`--interval-ms`, default 3 × lifetime / calls) so the run spans several
//! lifetimes. The cache starts empty: the first process runs the password flow while the others
//! wait on the lock.
//!
//! Passes when: every call exits 0 and prints a token the mock workspace accepts; the mock saw
//! zero failed token requests (every token request minted an access token: no `invalid_grant`,
//! no other error); exactly one password grant; no refresh token redeemed twice; token requests
//! ≤ calls and, unless every call refreshes, ≤ elapsed / lifetime + 3; no issued refresh token
//! appears in any call's stderr.
//!
//! `--secret-storage S` sets `BRICKAUTH_SECRET_STORAGE=S` for every call; `keychain` runs them all
//! on a private session bus with gnome-keyring's Secret Service (it_keychain.rs's [`Bus`]), so
//! every rotation seals the new refresh token with the key the keychain holds. The run then also
//! passes only when the cache file records that storage and holds no issued refresh token in
//! clear.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use brickauth_mock::ALICE_PASSWORD;
use brickauth_mock::constants::password_profile;

use crate::harness::{World, build_binary};
use crate::it_keychain::Bus;

const FLOOR_SECS: i64 = 40;

#[derive(Default)]
struct Tally {
    ok: usize,
    failures: Vec<String>,
    stderr: Vec<String>,
    slowest: Duration,
}

pub fn run(o: &crate::SoakArgs) -> Result<()> {
    let bin = match &o.bin {
        Some(bin) => std::path::absolute(bin)?,
        None => build_binary(o.release)?,
    };
    let w = World::start(bin.clone())?;
    let bus = match o.secret_storage.as_deref() {
        Some("keychain") => match Bus::start(&w.path("soak-bus"))? {
            Ok(bus) => Some(bus),
            Err(why) => bail!("--secret-storage keychain needs a session bus with a Secret Service: {why}"),
        },
        _ => None,
    };
    let mut extra_env: Vec<(&str, String)> = bus.as_ref().map(Bus::env).unwrap_or_default();
    if let Some(storage) = &o.secret_storage {
        extra_env.push(("BRICKAUTH_SECRET_STORAGE", storage.clone()));
    }
    w.write_profiles("profiles.toml", &password_profile("soak", "SOAK_PASSWORD", true))?;
    let issued_lifetime = if o.every_call_refreshes { o.lifetime as i64 } else { o.lifetime as i64 + FLOOR_SECS };
    w.entra.set_token_lifetime(issued_lifetime);
    let interval = Duration::from_millis(o.interval_ms.unwrap_or(3000 * o.lifetime / o.calls as u64));
    let deadline = Instant::now() + Duration::from_secs(o.max_seconds);
    println!(
        "soak: {} processes × {} calls, tokens issued for {issued_lifetime} s (usable {} s above the {FLOOR_SECS}-s floor), \
         {} ms between calls, at most {} s, secret storage {}",
        o.processes,
        o.calls,
        if o.every_call_refreshes { 0 } else { o.lifetime },
        interval.as_millis(),
        o.max_seconds,
        o.secret_storage.as_deref().map_or("unset (auto)".to_owned(), |s| {
            if bus.is_some() { format!("{s} (gnome-keyring on a private bus)") } else { s.to_owned() }
        })
    );

    let registry = w.entra.registry();
    let tally = Mutex::new(Tally::default());
    let start = Instant::now();
    let cache = w.path("cache");
    let config = w.path("profiles.toml");
    let home = w.path("home");
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::thread::scope(|s| {
        for worker in 0..o.processes {
            let (tally, registry, bin) = (&tally, &registry, &bin);
            let (cache, config, home, path, extra_env) = (&cache, &config, &home, &path, &extra_env);
            s.spawn(move || {
                for call in 0..o.calls {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let t0 = Instant::now();
                    let out = Command::new(bin)
                        .args(["-vv", "token", "--min-validity", &FLOOR_SECS.to_string()])
                        .env_clear()
                        .env("PATH", path)
                        .env("HOME", home)
                        .env("BRICKAUTH_CACHE_DIR", cache)
                        .env("BRICKAUTH_CONFIG", config)
                        .env("SOAK_PASSWORD", ALICE_PASSWORD)
                        .env("TZ", "UTC")
                        .envs(extra_env.iter().map(|(k, v)| (*k, v.as_str())))
                        .stdin(Stdio::null())
                        .output();
                    let took = t0.elapsed();
                    let mut t = tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    t.slowest = t.slowest.max(took);
                    match out {
                        Ok(out) => {
                            let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                            if !out.status.success() {
                                t.failures.push(format!(
                                    "worker {worker} call {call}: {} — {}",
                                    out.status,
                                    stderr.trim()
                                ));
                            } else if !registry.is_valid(&token) {
                                t.failures
                                    .push(format!("worker {worker} call {call}: the mock rejects the token printed"));
                            } else {
                                t.ok += 1;
                            }
                            if !stderr.is_empty() {
                                t.stderr.push(stderr);
                            }
                        }
                        Err(e) => t.failures.push(format!("worker {worker} call {call}: cannot start: {e}")),
                    }
                    drop(t);
                    std::thread::sleep(interval);
                }
            });
        }
    });
    let elapsed = start.elapsed().as_secs_f64();
    let tally = tally.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let calls = tally.ok + tally.failures.len();

    // What the mock saw.
    let requests = w.rt.block_on(w.entra.token_requests());
    let minted = w.entra.issued_access_tokens().len();
    let issued_rts = w.entra.issued_refresh_tokens();
    let mut by_grant: BTreeMap<String, usize> = BTreeMap::new();
    let mut redeemed: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &requests {
        *by_grant.entry(r.form.get("grant_type").cloned().unwrap_or_default()).or_default() += 1;
        if let Some(rt) = r.form.get("refresh_token") {
            *redeemed.entry(rt.as_str()).or_default() += 1;
        }
    }
    let reused = redeemed.values().filter(|n| **n > 1).count();
    let unknown_rt = redeemed.keys().filter(|rt| !issued_rts.iter().any(|i| i == *rt)).count();
    let failed_requests = requests.len().saturating_sub(minted);
    // Every call ran at -vv: no refresh token, access token or the password may be on stderr.
    let issued_ats = w.entra.issued_access_tokens();
    let leaked = issued_rts
        .iter()
        .chain(issued_ats.iter())
        .map(String::as_str)
        .chain([ALICE_PASSWORD])
        .filter(|secret| tally.stderr.iter().any(|e| e.contains(secret)))
        .count();
    let bound = if o.every_call_refreshes {
        calls + 1
    } else {
        ((elapsed / o.lifetime as f64).ceil() as usize + 3).min(calls.max(1))
    };

    println!("\nsoak summary");
    println!(
        "  calls            {calls} in {elapsed:.1} s ({} ok, {} failed), slowest {:.0} ms",
        tally.ok,
        tally.failures.len(),
        tally.slowest.as_secs_f64() * 1e3
    );
    println!(
        "  token requests   {} ({})",
        requests.len(),
        by_grant.iter().map(|(g, n)| format!("{g}: {n}")).collect::<Vec<_>>().join(", ")
    );
    println!(
        "  expected         ≤ {bound} (elapsed / lifetime + 3{})",
        if o.every_call_refreshes { "; every call refreshes: calls + 1" } else { "" }
    );
    println!(
        "  failed requests  {failed_requests} (requests that minted no access token: invalid_grant or any other error)"
    );
    println!("  refresh tokens   {} redeemed, {reused} redeemed twice, {unknown_rt} unknown", redeemed.len());
    println!("  secrets leaked   {leaked} secrets (refresh/access tokens, password) found in -vv stderr");

    let mut problems = Vec::new();
    if !tally.failures.is_empty() {
        for f in tally.failures.iter().take(5) {
            println!("  FAIL {f}");
        }
        problems.push(format!("{} calls failed", tally.failures.len()));
    }
    if failed_requests > 0 {
        problems.push(format!("{failed_requests} token requests failed at the mock"));
    }
    if by_grant.get("password").copied().unwrap_or(0) != 1 {
        problems
            .push(format!("{} password grants (expected exactly 1)", by_grant.get("password").copied().unwrap_or(0)));
    }
    if reused > 0 || unknown_rt > 0 {
        problems.push(format!("{reused} refresh tokens redeemed twice, {unknown_rt} unknown"));
    }
    // Renewals must also happen: a run spanning several lifetimes that never refreshed would be
    // serving tokens inside the floor (the mock would still accept them for 40 s).
    let refreshes = by_grant.get("refresh_token").copied().unwrap_or(0);
    let at_least = (elapsed / (o.lifetime as f64 + 2.0)).floor() as usize;
    if !o.every_call_refreshes && refreshes + 1 < at_least {
        problems.push(format!(
            "{refreshes} refreshes in {elapsed:.0} s of {} s tokens: tokens are not renewed",
            o.lifetime
        ));
    }
    if requests.len() > bound {
        problems.push(format!("{} token requests > {bound}: single flight does not hold", requests.len()));
    }
    if leaked > 0 {
        problems.push(format!("{leaked} secrets leaked to stderr"));
    }
    if let Some(storage) = &o.secret_storage {
        match sealed_in(&cache, &issued_rts) {
            Ok(recorded) if recorded == *storage || storage == "auto" => {
                println!("  secret storage   {recorded}, as the cache file records; no refresh token in clear")
            }
            Ok(recorded) => problems.push(format!("the cache file records storage `{recorded}`, not `{storage}`")),
            Err(e) => problems.push(format!("{e:#}")),
        }
    }
    if calls < o.processes * o.calls {
        println!("  note: stopped at the {} s bound after {calls} of {} calls", o.max_seconds, o.processes * o.calls);
    }
    if problems.is_empty() {
        println!("\nsoak: ok");
        Ok(())
    } else {
        bail!("soak failed: {}", problems.join("; "))
    }
}

/// The storage the cache file in `cache` records; an error when an issued refresh token is in
/// clear in the file while that storage seals them.
fn sealed_in(cache: &std::path::Path, issued: &[String]) -> Result<String> {
    let text = std::fs::read_to_string(cache.join("tokens.json"))?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    let recorded = v["secrets"]["storage"].as_str().unwrap_or("none").to_owned();
    if recorded != "file" && issued.iter().any(|rt| text.contains(rt.as_str())) {
        bail!("the cache file records `{recorded}` yet holds an issued refresh token in clear");
    }
    Ok(recorded)
}
