//! Crash safety: a writer killed with SIGKILL at any instant never leaves a `tokens.json` that
//! does not parse, because the file is only ever replaced by renaming a complete, fsynced temp
//! file over it.
//!
//! The test re-executes this test binary as the writer (`child_writer`, which does nothing
//! unless the environment variable below names a cache directory) and kills it after a random
//! short time, again and again, checking the file after each kill.
#![cfg(unix)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use brickauth_cache::TokenCache;
use common::*;
use rand::Rng;

const CHILD_ENV: &str = "BRICKAUTH_CACHE_TEST_CRASH_CHILD";
const WRITES: usize = 200;

/// The writer: stores 200 tokens in a row, for ten accounts, with tokens long enough that
/// writing the file takes a moment.
#[test]
fn child_writer() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else { return };
    let cache = TokenCache::at(dir).with_storage(brickauth_cache::StoragePolicy::Only(brickauth_cache::Storage::File));
    let app = offline_app();
    let padding = "x".repeat(2000);
    for i in 0..WRITES {
        let user = format!("user{}", i % 10);
        let at = format!("AT-{i}-{padding}");
        let rt = format!("RT-{i}-{padding}");
        cache.store(&id(&app), &user, &response(&user, &at, Some(&rt), 3000)).unwrap();
    }
}

#[test]
fn killed_writers_never_leave_a_broken_file() {
    let exe = std::env::current_exe().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = TokenCache::at(dir.path().join("cache"))
        .with_storage(brickauth_cache::StoragePolicy::Only(brickauth_cache::Storage::File));
    let app = offline_app();
    let mut rng = rand::rng();
    let start = Instant::now();
    let (mut rounds, mut killed_mid_write) = (0, 0);

    while rounds < 60 && start.elapsed() < Duration::from_secs(8) {
        rounds += 1;
        let mut child = Command::new(&exe)
            .args(["child_writer", "--exact", "--test-threads=1", "--nocapture"])
            .env(CHILD_ENV, cache.dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(3..60)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let Ok(text) = std::fs::read_to_string(cache.path()) else {
            continue; // killed before its first write completed
        };
        let json: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("round {rounds}: tokens.json does not parse ({e}): {:.200}", text));
        assert_eq!(json["version"], 1, "round {rounds}");
        assert!(!json["entries"].as_object().unwrap().is_empty(), "round {rounds}");
        assert!(
            cache.lookup(&id(&app), &hint("user0").with_username("user0@contoso.com")).is_ok(),
            "round {rounds}: lookup fails"
        );
        let names: Vec<String> = std::fs::read_dir(cache.dir())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.contains(".corrupt-")), "round {rounds}: a file was moved aside: {names:?}");
        if names.iter().any(|n| n.ends_with(".tmp")) {
            killed_mid_write += 1;
        }
    }
    eprintln!("{rounds} rounds, {killed_mid_write} killed with a temporary file half-written");
    assert!(cache.path().exists(), "no writer ever completed a write: the test proved nothing");
}
