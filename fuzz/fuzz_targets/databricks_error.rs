//! `DatabricksError::from_response` on arbitrary status codes and bodies (JSON API errors, SCIM
//! errors, HTML pages from a proxy), then its rendering as the CLI shows it.
#![no_main]

use brickauth_databricks::DatabricksError;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => (500, data),
    };
    let error = DatabricksError::from_response(status, body);
    let _ = (error.status(), error.error_code(), error.to_string(), format!("{error:?}"));
});
