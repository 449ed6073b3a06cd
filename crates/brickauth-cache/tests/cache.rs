//! The cache file: storing and looking up, sharing between profiles, account selection,
//! permissions, corrupt files, logout.

mod common;

use std::time::Duration;

use brickauth_cache::{CacheError, Removed, TokenCache};
use brickauth_core::ExposeSecret;
use common::*;

#[test]
fn store_then_lookup_roundtrips() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(&dir);
    let app = offline_app();
    let stored = cache.store(&id(&app), "dev", &response("alice", "AT-1", Some("RT-1"), 3000)).unwrap();
    let found = cache.lookup(&id(&app), &hint("dev")).unwrap().expect("a cached token");
    assert_eq!(found.access_token.expose(), "AT-1");
    assert_eq!(found.refresh_token.as_ref().map(|s| s.expose_secret()), Some("RT-1"));
    assert_eq!(found.account.username.as_deref(), Some("alice@contoso.com"));
    assert_eq!(found.account.home_account_id.as_deref(), Some(format!("alice.{TENANT_ID}").as_str()));
    assert_eq!(found.access_token.expires_on, stored.access_token.expires_on);
    assert_eq!(found.identity, id(&app));
    assert!(found.access_token.remaining(brickauth_core::now()) > 2990);

    let json: serde_json::Value = serde_json::from_str(&file_text(&cache)).unwrap();
    assert_eq!(json["version"], 1);
    let key = format!(
        "login.microsoftonline.com|organizations|{CLIENT_ID}|2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default|alice.{TENANT_ID}"
    );
    assert!(json["bindings"]["dev"].get(&key).is_some(), "{json}");
    assert!(json.get("profiles").is_none(), "{json}");
    let entry = &json["entries"][&key];
    for field in [
        "environment",
        "tenant",
        "client_id",
        "scopes",
        "account",
        "access_token",
        "token_type",
        "expires_on",
        "refresh_on",
        "ext_expires_on",
        "refresh_token",
        "updated_at",
    ] {
        assert!(entry.get(field).is_some(), "entry lacks `{field}`: {entry}");
    }
    assert_eq!(entry["account"]["oid"], "oid-alice");
}

#[test]
fn lookup_of_a_missing_cache_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = TokenCache::at(dir.path().join("nope"));
    assert!(cache.lookup(&id(&offline_app()), &hint("dev")).unwrap().is_none());
    assert!(!dir.path().join("nope").exists());
    assert_eq!(cache.clear().unwrap(), 0);
    assert_eq!(cache.remove(&id(&offline_app()), &hint("dev")).unwrap(), Removed::default());
    assert!(!dir.path().join("nope").exists());
}

#[test]
fn two_profiles_of_one_identity_share_the_entry_through_username_or_binding_only() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(&dir);
    let app = offline_app();
    cache.store(&id(&app), "a", &response("alice", "AT-1", Some("RT-1"), 3000)).unwrap();
    assert!(
        cache.lookup(&id(&app), &hint("b")).unwrap().is_none(),
        "a profile naming no account never gets another profile's, even the identity's only one"
    );
    let via_b = cache.lookup(&id(&app), &hint("b").with_username("alice@contoso.com")).unwrap();
    assert_eq!(via_b.expect("profile b names alice").access_token.expose(), "AT-1");

    cache.store(&id(&app), "b", &response("alice", "AT-2", Some("RT-2"), 3000)).unwrap();
    let via_a = cache.lookup(&id(&app), &hint("a")).unwrap().unwrap();
    assert_eq!(via_a.access_token.expose(), "AT-2", "one entry, renewed through either profile");
    let json: serde_json::Value = serde_json::from_str(&file_text(&cache)).unwrap();
    assert_eq!(json["entries"].as_object().unwrap().len(), 1);

    // Another client id is another identity.
    let mut other = app.clone();
    other.client_id = "11111111-2222-3333-4444-555555555555".parse().unwrap();
    assert!(cache.lookup(&id(&other), &hint("a")).unwrap().is_none());
}

#[test]
fn username_hint_picks_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(&dir);
    let app = offline_app();
    cache.store(&id(&app), "a", &response("alice", "AT-ALICE", None, 3000)).unwrap();
    cache.store(&id(&app), "b", &response("bob", "AT-BOB", None, 3000)).unwrap();

    let pick = |h| cache.lookup(&id(&app), &h).unwrap().map(|t| t.access_token.expose().to_owned());
    assert_eq!(pick(hint("c")), None, "an unbound profile without username gets nothing");
    assert_eq!(pick(hint("c").with_username("ALICE@Contoso.com")).as_deref(), Some("AT-ALICE"));
    assert_eq!(pick(hint("a").with_username("bob@contoso.com")).as_deref(), Some("AT-BOB"), "username beats binding");
    assert_eq!(pick(hint("c").with_username("carol@contoso.com")), None);
    assert_eq!(pick(hint("a")).as_deref(), Some("AT-ALICE"));
    assert_eq!(pick(hint("b")).as_deref(), Some("AT-BOB"));
}

#[test]
fn a_profile_is_bound_to_the_account_it_last_used() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(&dir);
    let app = offline_app();
    cache.store(&id(&app), "p", &response("alice", "AT-ALICE", None, 3000)).unwrap();
    cache.store(&id(&app), "p", &response("bob", "AT-BOB", None, 3000)).unwrap();
    let t = cache.lookup(&id(&app), &hint("p")).unwrap().unwrap();
    assert_eq!(t.access_token.expose(), "AT-BOB");
    assert_eq!(cache.lookup(&id(&app), &hint("q")).unwrap().map(|t| t.account.username), None);
}

#[test]
fn a_response_without_refresh_token_keeps_the_cached_one() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(&dir);
    let app = offline_app();
    cache.store(&id(&app), "p", &response("alice", "AT-1", Some("RT-1"), 3000)).unwrap();
    let t = cache.store(&id(&app), "p", &response("alice", "AT-2", None, 3000)).unwrap();
    assert_eq!(t.refresh_token.as_ref().map(|s| s.expose_secret()), Some("RT-1"));
    assert_eq!(t.access_token.expose(), "AT-2");
}

#[cfg(unix)]
#[test]
fn directory_is_0700_and_files_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = TokenCache::at(dir.path().join("deep").join("cache"))
        .with_storage(brickauth_cache::StoragePolicy::Only(brickauth_cache::Storage::File));
    cache.store(&id(&offline_app()), "p", &response("alice", "AT", Some("RT"), 3000)).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(cache.dir()), 0o700);
    assert_eq!(mode(&cache.path()), 0o600);
    assert_eq!(mode(&cache.dir().join("tokens.lock")), 0o600);
    // Rewriting keeps the mode.
    cache.store(&id(&offline_app()), "p", &response("alice", "AT2", Some("RT2"), 3000)).unwrap();
    assert_eq!(mode(&cache.path()), 0o600);
}

fn corrupt_copies(cache: &TokenCache) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(cache.dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("tokens.json.corrupt-"))
        .collect();
    v.sort();
    v
}

fn check_moved_aside(contents: &str) {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(&dir);
    std::fs::create_dir_all(cache.dir()).unwrap();
    std::fs::write(cache.path(), contents).unwrap();
    let app = offline_app();

    // Reading takes no lock, so it leaves the file for a writer to move aside.
    assert!(cache.lookup(&id(&app), &hint("p")).unwrap().is_none());
    assert!(cache.read().unwrap().unusable().is_some());
    assert!(cache.path().exists() && corrupt_copies(&cache).is_empty());
    assert!(!cache.dir().join("tokens.lock").exists(), "no lock taken by a read");

    cache.store(&id(&app), "p", &response("alice", "AT", None, 3000)).unwrap();
    assert_eq!(cache.lookup(&id(&app), &hint("p")).unwrap().unwrap().access_token.expose(), "AT");
    let aside = corrupt_copies(&cache);
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read_to_string(&aside[0]).unwrap(), contents, "moved, not rewritten");

    // The same again, found by a writer this time: a second copy, the first kept.
    std::fs::write(cache.path(), contents).unwrap();
    cache.store(&id(&app), "p", &response("alice", "AT2", None, 3000)).unwrap();
    assert_eq!(corrupt_copies(&cache).len(), 2);
    assert_eq!(cache.lookup(&id(&app), &hint("p")).unwrap().unwrap().access_token.expose(), "AT2");
}

#[test]
fn a_garbage_file_is_moved_aside() {
    check_moved_aside("this is { not json");
}

#[test]
fn an_empty_file_is_moved_aside() {
    check_moved_aside("");
}

#[test]
fn an_unknown_version_is_moved_aside() {
    check_moved_aside(r#"{"version":99,"entries":{"k":{"new":"format"}},"profiles":{}}"#);
}

#[test]
fn a_file_of_the_wrong_shape_is_moved_aside() {
    check_moved_aside(r#"{"version":1,"entries":{"k":{"environment":42}}}"#);
}

#[test]
fn remove_forgets_one_account_and_clear_everything() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(&dir);
    let app = offline_app();
    cache.store(&id(&app), "a", &response("alice", "AT-ALICE", Some("RT-ALICE"), 3000)).unwrap();
    cache.store(&id(&app), "b", &response("bob", "AT-BOB", Some("RT-BOB"), 3000)).unwrap();

    let removed = cache.remove(&id(&app), &hint("a")).unwrap();
    assert_eq!(removed.accounts.len(), 1);
    assert_eq!(removed.accounts[0].username.as_deref(), Some("alice@contoso.com"));
    assert_eq!(removed.profiles, ["a"]);
    assert!(cache.lookup(&id(&app), &hint("a").with_username("alice@contoso.com")).unwrap().is_none());
    assert!(!file_text(&cache).contains("RT-ALICE"));
    assert!(cache.lookup(&id(&app), &hint("b")).unwrap().is_some());
    assert_eq!(cache.remove(&id(&app), &hint("x").with_username("carol@contoso.com")).unwrap(), Removed::default());

    std::fs::write(cache.dir().join("tokens.json.corrupt-1"), "old").unwrap();
    assert_eq!(cache.clear().unwrap(), 1);
    assert!(!cache.path().exists());
    assert!(corrupt_copies(&cache).is_empty());
    assert!(cache.lookup(&id(&app), &hint("b")).unwrap().is_none());
}

#[test]
fn logout_of_an_unbound_profile_removes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(&dir);
    let app = offline_app();
    cache.store(&id(&app), "a", &response("alice", "AT-ALICE", None, 3000)).unwrap();
    cache.store(&id(&app), "b", &response("bob", "AT-BOB", None, 3000)).unwrap();
    assert_eq!(cache.remove(&id(&app), &hint("never-used")).unwrap(), Removed::default());
    assert!(cache.lookup(&id(&app), &hint("a")).unwrap().is_some());
    assert!(cache.lookup(&id(&app), &hint("b")).unwrap().is_some());
}

#[test]
fn logout_names_every_profile_bound_to_the_removed_entry() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(&dir);
    let app = offline_app();
    let mut other = app.clone();
    other.client_id = "11111111-2222-3333-4444-555555555555".parse().unwrap();
    for p in ["ci", "dev", "nightly"] {
        cache.store(&id(&app), p, &response("alice", "AT-ALICE", None, 3000)).unwrap();
    }
    cache.store(&id(&app), "bobs", &response("bob", "AT-BOB", None, 3000)).unwrap();
    cache.store(&id(&other), "o", &response("alice", "AT-OTHER", None, 3000)).unwrap();
    let removed = cache.remove(&id(&app), &hint("ci")).unwrap();
    assert_eq!(removed.profiles, ["ci", "dev", "nightly"]);
    for p in ["ci", "dev", "nightly"] {
        assert!(cache.lookup(&id(&app), &hint(p)).unwrap().is_none(), "{p} is signed out and does not switch to bob");
    }
    assert_eq!(cache.lookup(&id(&app), &hint("bobs")).unwrap().unwrap().access_token.expose(), "AT-BOB");
    assert!(cache.lookup(&id(&other), &hint("o")).unwrap().is_some(), "other identities stay");
}

#[cfg(unix)]
#[test]
fn a_symlinked_lock_file_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(&dir);
    std::fs::create_dir(cache.dir()).unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, cache.dir().join("tokens.lock")).unwrap();
    let err = cache.store(&id(&offline_app()), "p", &response("alice", "AT", None, 3000)).unwrap_err();
    assert!(matches!(err, CacheError::Untrusted { .. }), "{err:?}");
    let s = err.to_string();
    assert!(s.contains("tokens.lock") && s.contains("symbolic link"), "{s}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

#[cfg(unix)]
#[test]
fn a_symlinked_cache_file_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(&dir);
    let elsewhere = cache_in(&tempfile::tempdir().unwrap());
    let planted = dir.path().join("planted.json");
    elsewhere.store(&id(&offline_app()), "p", &response("alice", "AT-PLANTED", None, 3000)).unwrap();
    std::fs::copy(elsewhere.path(), &planted).unwrap();
    std::fs::create_dir(cache.dir()).unwrap();
    std::os::unix::fs::symlink(&planted, cache.path()).unwrap();
    let err = cache.lookup(&id(&offline_app()), &hint("p")).unwrap_err().to_string();
    assert!(err.contains("tokens.json") && err.contains("symbolic link"), "{err}");
}

/// Needs two user ids: a directory another user owns can only be made by root.
#[cfg(unix)]
#[test]
fn a_cache_directory_of_another_user_is_refused() {
    // SAFETY: geteuid has no preconditions.
    #[allow(unsafe_code)]
    let uid = unsafe { libc::geteuid() };
    if uid != 0 {
        eprintln!("skipped: needs root to chown the directory to another user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(&dir);
    std::fs::create_dir(cache.dir()).unwrap();
    std::os::unix::fs::chown(cache.dir(), Some(65534), Some(65534)).unwrap();
    let err = cache.lookup(&id(&offline_app()), &hint("p")).unwrap_err().to_string();
    assert!(err.contains(&cache.dir().display().to_string()) && err.contains("65534"), "{err}");
    let err = cache.store(&id(&offline_app()), "p", &response("alice", "AT", None, 3000)).unwrap_err();
    assert!(matches!(err, CacheError::Untrusted { .. }), "{err:?}");
    assert!(!cache.path().exists(), "nothing written into it");
}

#[test]
fn debug_output_redacts_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(&dir);
    let t = cache.store(&id(&offline_app()), "p", &response("alice", "SECRET-AT", Some("SECRET-RT"), 3000)).unwrap();
    let d = format!("{t:?}");
    assert!(!d.contains("SECRET"), "{d}");
    assert!(d.contains("alice@contoso.com"));
}

#[test]
fn lock_waits_then_times_out_naming_the_lock_file() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(&dir);
    let held = cache.lock().unwrap();
    let impatient = cache.clone().with_lock_timeout(Duration::from_millis(150));
    let start = std::time::Instant::now();
    let err = impatient.store(&id(&offline_app()), "p", &response("alice", "AT", None, 3000)).unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(150));
    match &err {
        CacheError::LockTimeout { path, holder, .. } => {
            assert_eq!(path, &cache.dir().join("tokens.lock"));
            if cfg!(unix) {
                // Windows locks are mandatory for reads too: the holder's pid is unreadable there.
                assert_eq!(*holder, Some(std::process::id()));
            }
        }
        other => panic!("expected a lock timeout, got {other:?}"),
    }
    assert!(err.to_string().contains("tokens.lock"), "{err}");
    drop(held);
    impatient.store(&id(&offline_app()), "p", &response("alice", "AT", None, 3000)).unwrap();
}

#[test]
fn stale_temporary_files_are_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(&dir);
    std::fs::create_dir_all(cache.dir()).unwrap();
    let stale = cache.dir().join("tokens.json.abc123.tmp");
    std::fs::write(&stale, "{\"version\":1,\"entr").unwrap();
    cache.store(&id(&offline_app()), "p", &response("alice", "AT", None, 3000)).unwrap();
    assert!(!stale.exists());
}
