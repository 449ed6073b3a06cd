//! `TokenResponse::parse` on arbitrary bytes: a token endpoint's body is untrusted input. Every
//! number in it (`expires_in`, `expires_on`, `refresh_in`, `ext_expires_in`, the JWT's `exp`) is
//! the server's; the clock is ours and realistic (now, and the epoch for a badly set clock).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for now in [1_764_000_000, 0] {
        if let Ok(response) = brickauth_core::TokenResponse::parse(data, now) {
            let _ = format!("{response:?}");
        }
    }
});
