//! What any local process or web page can send to the loopback listener of the
//! authorization-code flow: arbitrary bytes as an HTTP request head and body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let status = brickauth_flow_authorization_code::listener::status_for(head, body, "/", "expected-state");
    assert!((200..600).contains(&status));
});
