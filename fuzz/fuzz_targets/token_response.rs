//! `TokenResponse::parse` on arbitrary bytes: a token endpoint's body is untrusted input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A fixed "now" plus the extremes: expiry arithmetic must not overflow.
    for now in [1_700_000_000, 0, i64::MAX, i64::MIN] {
        if let Ok(response) = brickauth_core::TokenResponse::parse(data, now) {
            let _ = format!("{response:?}");
        }
    }
});
