//! What the user pastes when the browser cannot reach the loopback listener (the redirected URL,
//! its query, or a bare code), the `application/x-www-form-urlencoded` body a browser posts to
//! the listener (`response_mode=form_post`), and a profile's `redirect_uri`: all untrusted text.
#![no_main]

use std::str::FromStr;

use brickauth_flow_authorization_code::{AuthResponse, RedirectUri, parse_pasted};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(response) = parse_pasted(text) {
        let _ = response.state();
        let _ = response.into_code().map_err(|e| e.to_string());
    }
    if let Some(response) = AuthResponse::from_params(url::form_urlencoded::parse(text.as_bytes())) {
        let _ = response.state();
    }
    if let Ok(redirect) = RedirectUri::from_str(text) {
        let _ = (redirect.port(), redirect.path(), redirect.bind_addr(), redirect.render(Some(8400)));
    }
});
