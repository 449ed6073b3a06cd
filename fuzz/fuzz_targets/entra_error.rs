//! `EntraError::parse` on arbitrary bytes and status codes, then its rendering (hints included).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => (400, data),
    };
    if let Some(error) = brickauth_core::EntraError::parse(status, body) {
        let _ = format!("{error} {error:?}");
    }
});
