//! Integration cases for forced refreshes that coalesce (issue 22): bursts of `auth token
//! --force-refresh`, as the Databricks SDKs send them at token-helper protocol 0.296.0 (one per
//! SDK process), alone and beside a metadata service renewing the same token. The rule under test
//! (`brickauth_cache::COALESCE_WINDOW`): a forced refresh takes a token received within 5 s
//! before it started, or renewed while it waited for the cache lock, instead of asking Entra.
//!
//! Each case has its own cache directory, primed and then aged (a token from a minute ago), so
//! every process of the burst starts out wanting a new token. The processes start 20 ms apart,
//! over more than one renewal: without the window, those starting after the first renewal was
//! stored would each renew again (measured with the window set to 0: 11 token requests for the 32
//! helpers, 7 beside the service; with 5 s: 1 and 1).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use brickauth_mock::ALICE_PASSWORD;
use serde_json::Value;

use crate::harness::{Output, Suite, World, age_tokens, expect_code};
use crate::it_metadata::{Serve, http_get};

/// What the SDKs run: the helper with `--profile` and `--force-refresh`.
const HELPER: &[&str] = &["auth", "token", "--profile", "alice", "--force-refresh"];

/// Every case of this module, in order.
pub fn cases(w: &World, s: &mut Suite) {
    s.case("coalesce: 32 concurrent `auth token --force-refresh` → at most 2 token requests, all succeed", || {
        let cache = w.path("cache-coalesce");
        let env = env(&cache);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let env = env.as_slice();
        let primed = w.run(&["-p", "alice", "token"], env, None)?;
        expect_code(&primed, 0)?;
        age_tokens(&cache)?;
        let before = w.entra.token_request_count();
        let outputs = crate::harness::concurrently(32, |i| staggered(i, || w.run(HELPER, env, None)))?;
        let sent = w.entra.token_request_count() - before;
        for o in &outputs {
            let token = helper_token(o)?;
            ensure!(w.entra.registry().is_valid(&token), "printed an invalid token");
            ensure!(token != primed.stdout.trim(), "a forced refresh printed the token from a minute ago");
        }
        ensure!((1..=2).contains(&sent), "{sent} token requests for 32 forced refreshes");
        println!("      {sent} token request(s) for 32 processes");
        Ok(())
    });

    s.case("coalesce: a metadata service and 16 forced helpers renew a due token with at most 2 requests", || {
        let cache = w.path("cache-coalesce-serve");
        let vars = env(&cache);
        // `serve` starts from a clean environment: the world's profile file, the file store.
        let mut owned: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        owned.push(("BRICKAUTH_CONFIG".into(), w.path("profiles.toml").display().to_string()));
        owned.push(("BRICKAUTH_SECRET_STORAGE".into(), "file".into()));
        // The service starts with a 42-second token; 6 s later it has less than the 40-s floor
        // left and is older than the 5-s window: the service and every helper want a new one.
        w.entra.set_token_lifetime(42);
        let serve = Serve::start(w, &owned);
        w.entra.set_token_lifetime(3600);
        let serve = serve?;
        let result = (|| -> Result<()> {
            std::thread::sleep(Duration::from_secs(6));
            let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let headers = [("X-Databricks-Metadata-Version", "1"), ("X-Databricks-Host", serve.host.as_str())];
            let before = w.entra.token_request_count();
            let (answers, outputs) = std::thread::scope(|scope| {
                let gets: Vec<_> = (0..16).map(|_| scope.spawn(|| http_get(&serve.url, &headers))).collect();
                let env = env.as_slice();
                let helpers: Vec<_> =
                    (0..16).map(|i| scope.spawn(move || staggered(i, || w.run(HELPER, env, None)))).collect();
                let join = |e| anyhow::anyhow!("thread panicked: {e:?}");
                let answers = gets.into_iter().map(|h| h.join().map_err(join)?).collect::<Result<Vec<_>>>();
                let outputs = helpers.into_iter().map(|h| h.join().map_err(join)?).collect::<Result<Vec<_>>>();
                Ok::<_, anyhow::Error>((answers?, outputs?))
            })?;
            let sent = w.entra.token_request_count() - before;
            for (status, body) in &answers {
                ensure!(*status == 200, "the metadata service answered {status}: {body}");
                let v: Value = serde_json::from_str(body).context("the metadata service's answer")?;
                let token = v["access_token"].as_str().unwrap_or_default();
                ensure!(w.entra.registry().is_valid(token), "the metadata service handed out an invalid token");
            }
            for o in &outputs {
                ensure!(w.entra.registry().is_valid(&helper_token(o)?), "a helper printed an invalid token");
            }
            ensure!((1..=2).contains(&sent), "{sent} token requests for 16 service requests and 16 forced helpers");
            println!("      {sent} token request(s) for 16 service requests and 16 helpers");
            Ok(())
        })();
        let stopped = serve.stop(w);
        result?;
        stopped.map(drop)
    });
}

/// Run `f` after `i` × 20 ms: a burst as SDK processes make it, one after another, so that the
/// later ones start after the first renewal is stored (and see it as the token they start with,
/// which only the coalescing window lets them take).
fn staggered<T>(i: usize, f: impl FnOnce() -> T) -> T {
    std::thread::sleep(Duration::from_millis(20 * i as u64));
    f()
}

/// The variables of a case: alice's password and the case's cache directory.
fn env(cache: &Path) -> Vec<(&'static str, String)> {
    vec![("ALICE_PASSWORD", ALICE_PASSWORD.to_owned()), ("BRICKAUTH_CACHE_DIR", cache.display().to_string())]
}

/// The access token of a successful `auth token` (`{"access_token", "token_type", "expiry"}`).
fn helper_token(o: &Output) -> Result<String> {
    expect_code(o, 0)?;
    let v: Value = serde_json::from_str(&o.stdout).with_context(|| format!("auth token printed {:?}", o.stdout))?;
    Ok(v["access_token"].as_str().unwrap_or_default().to_owned())
}
