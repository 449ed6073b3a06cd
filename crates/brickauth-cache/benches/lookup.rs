//! The cached path's cost: `TokenCache::lookup` on a cache file of 50 entries (one read, one
//! parse, one selection). This is what `brickauth token` pays when a cached token is valid.

use std::hint::black_box;

use brickauth_cache::{AccountHint, Identity, TokenCache};
use brickauth_core::{AppConfig, TokenResponse};
use criterion::{Criterion, criterion_group, criterion_main};

/// A token response for `user` with JWT-sized tokens, as Entra returns them.
fn response(user: usize) -> TokenResponse {
    let at = format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{}.{}", "a".repeat(1400), user);
    let rt = format!("0.AXkA{}", "r".repeat(1200));
    let body = serde_json::json!({
        "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": at, "refresh_token": rt,
    });
    let mut r = TokenResponse::parse(body.to_string().as_bytes(), brickauth_core::now()).expect("a valid response");
    r.account.username = Some(format!("user{user}@contoso.com"));
    r.account.home_account_id = Some(format!("uid{user}.72f988bf-86f1-41af-91ab-2d7cd011db47"));
    r
}

fn lookup(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let cache =
        TokenCache::at(dir.path()).with_storage(brickauth_cache::StoragePolicy::Only(brickauth_cache::Storage::File));
    let app = AppConfig::new(
        "contoso.onmicrosoft.com".parse().expect("a tenant"),
        "04f0c124-f2bc-4f59-8241-bf6df9866bbd".parse().expect("a client id"),
    );
    let id = Identity::of(&app);
    for user in 0..50 {
        cache.store(&id, &format!("profile{user}"), &response(user)).expect("stored");
    }
    let bytes = std::fs::metadata(cache.path()).map(|m| m.len()).unwrap_or(0);
    eprintln!("cache file: 50 entries, {bytes} bytes");

    let by_profile = AccountHint::new("profile37");
    let by_username = AccountHint::new("other").with_username("USER12@contoso.com");
    c.bench_function("lookup/50 entries/profile binding", |b| {
        b.iter(|| black_box(cache.lookup(black_box(&id), black_box(&by_profile)).expect("lookup")))
    });
    c.bench_function("lookup/50 entries/username", |b| {
        b.iter(|| black_box(cache.lookup(black_box(&id), black_box(&by_username)).expect("lookup")))
    });
}

criterion_group!(benches, lookup);
criterion_main!(benches);
