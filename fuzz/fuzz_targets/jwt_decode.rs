//! `jwt::decode` on arbitrary text: `brickauth inspect` reads whatever the user pipes in.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(jwt) = brickauth_core::jwt::decode(text) {
        let _ = format!("{jwt:?}");
    }
    let _ = brickauth_core::jwt::decode_b64(text);
});
