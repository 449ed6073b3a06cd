//! Refresh tokens at rest, with in-memory key stores standing in for the keychain and the kernel
//! keyring: sealed in the file, opened only when needed, the choice of store and its fallbacks,
//! migration of a plaintext cache, a lost key, and the key's removal at logout.

mod common;

use std::sync::Arc;

use brickauth_cache::keychain::{KeyStore, Memory, StoreError, TIMEOUT};
use brickauth_cache::{CacheError, Storage, StoragePolicy, TokenCache};
use brickauth_core::ExposeSecret;
use common::*;

/// A keychain and a kernel keyring in memory.
struct Stores {
    keychain: Arc<Memory>,
    keyring: Arc<Memory>,
}

impl Stores {
    fn new() -> Stores {
        Stores { keychain: Arc::new(Memory::new()), keyring: Arc::new(Memory::new()) }
    }

    fn cache(&self, dir: &tempfile::TempDir, policy: StoragePolicy) -> TokenCache {
        let (keychain, keyring): (Arc<dyn KeyStore>, Arc<dyn KeyStore>) = (self.keychain.clone(), self.keyring.clone());
        cache_in(dir).with_storage(policy).with_key_stores(keychain, keyring)
    }
}

fn absent() -> Option<StoreError> {
    Some(StoreError::Unavailable { store: "the test store", reason: "not here".into() })
}

fn hanging() -> Option<StoreError> {
    Some(StoreError::Timeout { store: "the test store", after: TIMEOUT })
}

fn json(cache: &TokenCache) -> serde_json::Value {
    serde_json::from_str(&file_text(cache)).unwrap()
}

#[test]
fn a_refresh_token_is_sealed_and_opened_only_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let stores = Stores::new();
    let cache = stores.cache(&dir, StoragePolicy::Auto);
    let app = offline_app();
    let stored = cache.store(&id(&app), "dev", &response("alice", "AT-1", Some("RT-SECRET-1"), 3000)).unwrap();
    assert_eq!(stored.refresh_token.as_ref().map(|r| r.expose_secret()), Some("RT-SECRET-1"), "the caller gets it");

    let text = file_text(&cache);
    assert!(!text.contains("RT-SECRET-1") && text.contains("refresh_token_sealed"), "{text}");
    let v = json(&cache);
    assert_eq!(v["secrets"]["storage"], "keychain");
    let key = v["secrets"]["key"].as_str().unwrap();
    assert_eq!(stores.keychain.names(), [key]);
    assert!(stores.keyring.names().is_empty());

    // The cached path opens nothing: it works with every store failing.
    stores.keychain.fail_with(hanging());
    let found = cache.lookup(&id(&app), &hint("dev")).unwrap().unwrap();
    assert_eq!(found.access_token.expose(), "AT-1");
    assert!(found.refresh_token.is_none());
    assert_eq!(found.refresh_token_storage, Some(Storage::Keychain));
    // Opening it needs the store (in a process that has not seen the key yet).
    let other = stores.cache(&dir, StoragePolicy::Auto);
    let e = other.refresh_token(&found).unwrap_err();
    assert!(matches!(e, CacheError::SecretStore { storage: Storage::Keychain, .. }), "{e:?}");
    assert!(e.to_string().contains("did not answer within 3 s"), "{e}");
    // This process remembers the key it made.
    assert_eq!(cache.refresh_token(&found).unwrap().unwrap().expose_secret(), "RT-SECRET-1");

    // Another process (a fresh handle: nothing remembered) opens it with the stored key.
    stores.keychain.fail_with(None);
    let other = stores.cache(&dir, StoragePolicy::Auto);
    let rt = other.refresh_token(&found).unwrap().unwrap();
    assert_eq!(rt.expose_secret(), "RT-SECRET-1");
}

#[test]
fn auto_moves_on_only_from_absent_stores() {
    let app = offline_app();
    // No keychain: the kernel keyring.
    let dir = tempfile::tempdir().unwrap();
    let stores = Stores::new();
    stores.keychain.fail_with(absent());
    let cache = stores.cache(&dir, StoragePolicy::Auto);
    cache.store(&id(&app), "dev", &response("alice", "AT-1", Some("RT-K"), 3000)).unwrap();
    assert_eq!(json(&cache)["secrets"]["storage"], "keyring");
    assert_eq!(stores.keyring.names().len(), 1);
    // Recorded: a keychain that turns up later is not probed.
    stores.keychain.fail_with(None);
    cache.store(&id(&app), "dev", &response("alice", "AT-2", Some("RT-K2"), 3000)).unwrap();
    assert_eq!(json(&cache)["secrets"]["storage"], "keyring");
    assert!(stores.keychain.names().is_empty());

    // Neither: the file, as before, and said so in the file.
    let dir = tempfile::tempdir().unwrap();
    let stores = Stores::new();
    stores.keychain.fail_with(absent());
    stores.keyring.fail_with(absent());
    let cache = stores.cache(&dir, StoragePolicy::Auto);
    cache.store(&id(&app), "dev", &response("alice", "AT-1", Some("RT-CLEAR"), 3000)).unwrap();
    assert_eq!(json(&cache)["secrets"]["storage"], "file");
    assert!(file_text(&cache).contains("RT-CLEAR"));
    let found = cache.lookup(&id(&app), &hint("dev")).unwrap().unwrap();
    assert_eq!(found.refresh_token_storage, Some(Storage::File));

    // A keychain that is there but hangs is not replaced by plaintext: the access token is kept,
    // the refresh token is not, nothing is recorded (the next write asks again).
    let dir = tempfile::tempdir().unwrap();
    let stores = Stores::new();
    stores.keychain.fail_with(hanging());
    let cache = stores.cache(&dir, StoragePolicy::Auto);
    let t = cache.store(&id(&app), "dev", &response("alice", "AT-1", Some("RT-WITHHELD"), 3000)).unwrap();
    assert_eq!(t.access_token.expose(), "AT-1");
    let text = file_text(&cache);
    assert!(!text.contains("RT-WITHHELD") && !text.contains("refresh_token") && !text.contains("secrets"), "{text}");
    assert!(stores.keyring.names().is_empty(), "no fallback from a failing keychain");
}

#[test]
fn an_explicit_store_fails_closed() {
    let app = offline_app();
    let dir = tempfile::tempdir().unwrap();
    let stores = Stores::new();
    stores.keychain.fail_with(absent());
    let cache = stores.cache(&dir, StoragePolicy::Only(Storage::Keychain));
    let e = cache.store(&id(&app), "dev", &response("alice", "AT-1", Some("RT-NO"), 3000)).unwrap_err();
    let s = e.to_string();
    assert!(matches!(e, CacheError::SecretStore { storage: Storage::Keychain, .. }), "{e:?}");
    assert!(s.contains("keychain") && s.contains("BRICKAUTH_SECRET_STORAGE") && !s.contains("RT-NO"), "{s}");
    assert!(!file_text(&cache).contains("RT-NO"));

    // Chosen by a profile file's setting: the error says to change that setting.
    let setting = "`secret_storage` (profiles.toml:1:1)";
    let by_file = cache.with_storage_set_by(StoragePolicy::Only(Storage::Keychain), setting);
    let s = by_file.store(&id(&app), "dev", &response("alice", "AT-1", Some("RT-NO"), 3000)).unwrap_err().to_string();
    assert!(
        s.contains("change `secret_storage` (profiles.toml:1:1) to keyring or auto (or set BRICKAUTH_SECRET_STORAGE"),
        "{s}"
    );

    // keyring asked for and there: used, even with a keychain at hand.
    let dir = tempfile::tempdir().unwrap();
    let stores = Stores::new();
    let cache = stores.cache(&dir, StoragePolicy::Only(Storage::Keyring));
    cache.store(&id(&app), "dev", &response("alice", "AT-1", Some("RT-1"), 3000)).unwrap();
    assert_eq!(json(&cache)["secrets"]["storage"], "keyring");
    assert!(stores.keychain.names().is_empty());
}

#[test]
fn a_plaintext_cache_is_sealed_on_the_next_write_and_loses_no_login() {
    let app = offline_app();
    let dir = tempfile::tempdir().unwrap();
    // Today's format: written by a cache that keeps refresh tokens in clear, without a record.
    let before = cache_in(&dir).with_storage(StoragePolicy::Only(Storage::File));
    before.store(&id(&app), "dev", &response("alice", "AT-A", Some("RT-ALICE"), 3000)).unwrap();
    before.store(&id(&app), "ops", &response("bob", "AT-B", Some("RT-BOB"), 3000)).unwrap();
    let mut v = json(&before);
    v.as_object_mut().unwrap().remove("secrets");
    std::fs::write(before.path(), v.to_string()).unwrap();
    assert!(file_text(&before).contains("RT-BOB"));

    let stores = Stores::new();
    let cache = stores.cache(&dir, StoragePolicy::Auto);
    // Only alice renews; bob's token is moved into the keychain with hers.
    cache.store(&id(&app), "dev", &response("alice", "AT-A2", Some("RT-ALICE-2"), 3000)).unwrap();
    let text = file_text(&cache);
    assert!(!text.contains("RT-ALICE") && !text.contains("RT-BOB"), "{text}");
    assert_eq!(json(&cache)["secrets"]["storage"], "keychain");
    let bob = cache.lookup(&id(&app), &hint("ops")).unwrap().unwrap();
    assert_eq!(bob.access_token.expose(), "AT-B");
    assert_eq!(cache.refresh_token(&bob).unwrap().unwrap().expose_secret(), "RT-BOB");
}

#[test]
fn a_response_without_a_refresh_token_keeps_the_sealed_one() {
    let app = offline_app();
    let dir = tempfile::tempdir().unwrap();
    let stores = Stores::new();
    let cache = stores.cache(&dir, StoragePolicy::Auto);
    cache.store(&id(&app), "dev", &response("alice", "AT-1", Some("RT-KEEP"), 3000)).unwrap();
    stores.keychain.fail_with(hanging());
    let t = cache.store(&id(&app), "dev", &response("alice", "AT-2", None, 3000)).unwrap();
    assert_eq!(t.access_token.expose(), "AT-2");
    stores.keychain.fail_with(None);
    assert_eq!(cache.refresh_token(&t).unwrap().unwrap().expose_secret(), "RT-KEEP");
}

#[test]
fn a_lost_key_means_a_sign_in_not_an_error_storm() {
    let app = offline_app();
    let dir = tempfile::tempdir().unwrap();
    let stores = Stores::new();
    stores.keychain.fail_with(absent());
    let cache = stores.cache(&dir, StoragePolicy::Auto);
    cache.store(&id(&app), "dev", &response("alice", "AT-1", Some("RT-GONE"), 3000)).unwrap();
    cache.store(&id(&app), "ops", &response("bob", "AT-B", Some("RT-BOB"), 3000)).unwrap();
    // A reboot empties the kernel keyring.
    let key = json(&cache)["secrets"]["key"].as_str().unwrap().to_owned();
    assert!(stores.keyring.delete(&key).unwrap());

    let fresh = stores.cache(&dir, StoragePolicy::Auto);
    let t = fresh.lookup(&id(&app), &hint("dev")).unwrap().unwrap();
    assert_eq!(t.access_token.expose(), "AT-1", "access tokens still serve");
    let e = fresh.refresh_token(&t).unwrap_err();
    assert!(matches!(e, CacheError::KeyMissing { .. }), "{e:?}");
    assert!(e.to_string().contains("kernel keyring") && e.to_string().contains("reboot"), "{e}");

    // The next sign-in makes a new key and drops what the old one sealed.
    fresh.store(&id(&app), "dev", &response("alice", "AT-2", Some("RT-NEW"), 3000)).unwrap();
    let v = json(&fresh);
    assert_ne!(v["secrets"]["key"].as_str().unwrap(), key);
    let bob = fresh.lookup(&id(&app), &hint("ops")).unwrap().unwrap();
    assert_eq!(bob.refresh_token_storage, None, "bob's unusable token is gone: {v}");
    let alice = fresh.lookup(&id(&app), &hint("dev")).unwrap().unwrap();
    assert_eq!(fresh.refresh_token(&alice).unwrap().unwrap().expose_secret(), "RT-NEW");
}

#[test]
fn the_key_goes_with_the_last_sealed_token() {
    let app = offline_app();
    let dir = tempfile::tempdir().unwrap();
    let stores = Stores::new();
    let cache = stores.cache(&dir, StoragePolicy::Auto);
    cache.store(&id(&app), "dev", &response("alice", "AT-1", Some("RT-1"), 3000)).unwrap();
    cache.store(&id(&app), "ops", &response("bob", "AT-2", Some("RT-2"), 3000)).unwrap();
    assert_eq!(stores.keychain.names().len(), 1, "one key per cache");
    assert_eq!(cache.remove(&id(&app), &hint("dev")).unwrap().accounts.len(), 1);
    assert_eq!(stores.keychain.names().len(), 1, "bob's token still needs it");
    cache.remove(&id(&app), &hint("ops")).unwrap();
    assert!(stores.keychain.names().is_empty());
    assert!(json(&cache).get("secrets").is_none());

    cache.store(&id(&app), "dev", &response("alice", "AT-1", Some("RT-1"), 3000)).unwrap();
    assert_eq!(stores.keychain.names().len(), 1);
    assert_eq!(cache.clear().unwrap(), 1);
    assert!(stores.keychain.names().is_empty(), "logout --all deletes the key too");
}

#[test]
fn switching_to_the_file_moves_tokens_out_and_deletes_the_key() {
    let app = offline_app();
    let dir = tempfile::tempdir().unwrap();
    let stores = Stores::new();
    stores.keychain.fail_with(absent());
    let sealed = stores.cache(&dir, StoragePolicy::Auto);
    sealed.store(&id(&app), "ops", &response("bob", "AT-B", Some("RT-BOB"), 3000)).unwrap();
    assert_eq!(stores.keyring.names().len(), 1);

    let file = stores.cache(&dir, StoragePolicy::Only(Storage::File));
    file.store(&id(&app), "dev", &response("alice", "AT-A", Some("RT-ALICE"), 3000)).unwrap();
    let text = file_text(&file);
    assert!(text.contains("RT-BOB") && text.contains("RT-ALICE") && !text.contains("refresh_token_sealed"), "{text}");
    assert_eq!(json(&file)["secrets"]["storage"], "file");
    assert!(stores.keyring.names().is_empty(), "the old key is deleted");
}

mod provider {
    use super::*;
    use brickauth_cache::TokenOptions;
    use std::time::Duration;
    use wiremock::matchers::{body_string_contains, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    /// An expired token for alice with a sealed refresh token, a mock that renews `RT-SEALED`,
    /// and a flow that signs in afresh.
    async fn setup(dir: &tempfile::TempDir, stores: &Stores) -> (MockServer, TokenCache, TestFlow) {
        let server = MockServer::start().await;
        let cache = stores.cache(dir, StoragePolicy::Auto);
        let app = app(&server.uri());
        cache.store(&id(&app), "dev", &response("alice", "AT-OLD", Some("RT-SEALED"), -10)).unwrap();
        Mock::given(method("POST"))
            .and(path(TOKEN_PATH))
            .and(body_string_contains("refresh_token=RT-SEALED"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(body("alice", "AT-RENEWED", Some("RT-ROTATED"), 3599), "application/json"),
            )
            .mount(&server)
            .await;
        let flow = TestFlow::new(app, body("alice", "AT-FLOW", Some("RT-FLOW"), 3599));
        (server, cache, flow)
    }

    #[tokio::test]
    async fn a_sealed_refresh_token_is_redeemed_and_its_successor_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let stores = Stores::new();
        let (_server, cache, flow) = setup(&dir, &stores).await;
        // Another process: it reads the key from the store.
        let fresh = stores.cache(&dir, StoragePolicy::Auto);
        let (p, _) = flow.provider(fresh);
        let p = p.with_client(quick_client());
        let t = p.token(TokenOptions::default()).await.unwrap();
        assert_eq!(t.access_token.expose(), "AT-RENEWED");
        assert_eq!(flow.calls(), 0, "no sign-in");
        let text = file_text(&cache);
        assert!(!text.contains("RT-ROTATED") && !text.contains("RT-SEALED"), "{text}");
        let again = cache.lookup(&id(&flow.app), &hint("dev")).unwrap().unwrap();
        assert_eq!(cache.refresh_token(&again).unwrap().unwrap().expose_secret(), "RT-ROTATED");

        // The cached path, with the keychain hanging: answered, no store asked.
        stores.keychain.fail_with(hanging());
        let (p, _) = flow.provider(stores.cache(&dir, StoragePolicy::Auto));
        assert_eq!(p.cached(Duration::from_secs(60)).unwrap().unwrap().access_token.expose(), "AT-RENEWED");
    }

    #[tokio::test]
    async fn a_lost_key_runs_the_flow_once() {
        let dir = tempfile::tempdir().unwrap();
        let stores = Stores::new();
        let (server, cache, flow) = setup(&dir, &stores).await;
        for name in stores.keychain.names() {
            stores.keychain.delete(&name).unwrap();
        }
        let (p, _) = flow.provider(stores.cache(&dir, StoragePolicy::Auto));
        let t = p.with_client(quick_client()).token(TokenOptions::default()).await.unwrap();
        assert_eq!(t.access_token.expose(), "AT-FLOW");
        assert_eq!(flow.calls(), 1);
        assert_eq!(server.received_requests().await.map(|r| r.len()).unwrap_or(0), 0, "no refresh attempted");
        let again = cache.lookup(&id(&flow.app), &hint("dev")).unwrap().unwrap();
        let fresh = stores.cache(&dir, StoragePolicy::Auto);
        assert_eq!(fresh.refresh_token(&again).unwrap().unwrap().expose_secret(), "RT-FLOW", "sealed under a new key");
    }

    #[tokio::test]
    async fn an_interactive_profile_is_told_why_it_must_sign_in() {
        let dir = tempfile::tempdir().unwrap();
        let stores = Stores::new();
        let (_server, _cache, mut flow) = setup(&dir, &stores).await;
        flow.interactive = true;
        for name in stores.keychain.names() {
            stores.keychain.delete(&name).unwrap();
        }
        let (p, _) = flow.provider(stores.cache(&dir, StoragePolicy::Auto));
        let e = p.with_client(quick_client()).token(TokenOptions::default()).await.unwrap_err();
        let s = e.to_string();
        assert!(e.needs_login() == Some("dev") && s.contains("key is gone from the in-memory store"), "{s}");
    }
}
