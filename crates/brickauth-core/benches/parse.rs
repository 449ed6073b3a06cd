//! In-process hot paths of the core crate: token-response parsing and JWT decoding.

use brickauth_core::TokenResponse;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const BODY: &[u8] = br#"{"token_type":"Bearer","scope":"2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/user_impersonation","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsImtpZCI6Im1vY2sifQ.eyJhdWQiOiIyZmY4MTRhNi0zMzA0LTRhYjgtODVjYi1jZDBlNmY4NzljMWQiLCJpc3MiOiJodHRwczovL3N0cy53aW5kb3dzLm5ldC83MmY5ODhiZi04NmYxLTQxYWYtOTFhYi0yZDdjZDAxMWRiNDcvIiwiaWF0IjoxNzY0MDAwMDAwLCJuYmYiOjE3NjQwMDAwMDAsImV4cCI6MTc2NDAwMzYwMCwidGlkIjoiNzJmOTg4YmYtODZmMS00MWFmLTkxYWItMmQ3Y2QwMTFkYjQ3Iiwib2lkIjoiYjQ5YjU1ZjQtMjRmNy00ZWJiLWE2MTAtOWM2ZGU5ZGZlY2FmIiwidXBuIjoiYWxpY2VAY29udG9zby5jb20ifQ.c2lnbmF0dXJl","refresh_token":"0.AXoA-some-refresh-token","id_token":"eyJhbGciOiJub25lIn0.eyJwcmVmZXJyZWRfdXNlcm5hbWUiOiJhbGljZUBjb250b3NvLmNvbSJ9.","client_info":"eyJ1aWQiOiJiNDliNTVmNCIsInV0aWQiOiI3MmY5ODhiZiJ9"}"#;

fn parse(c: &mut Criterion) {
    c.bench_function("token_response_parse", |b| {
        b.iter(|| TokenResponse::parse(black_box(BODY), 1_764_000_000).map(|r| r.access_token.expires_on))
    });
    let at = TokenResponse::parse(BODY, 1_764_000_000).map(|r| r.access_token).ok();
    let token = at.as_ref().map(|a| a.expose().to_owned()).unwrap_or_default();
    c.bench_function("jwt_decode", |b| b.iter(|| brickauth_core::jwt::decode(black_box(&token)).is_ok()));
}

criterion_group!(benches, parse);
criterion_main!(benches);
