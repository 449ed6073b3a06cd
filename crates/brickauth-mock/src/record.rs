//! [`RecordedRequest`]: what a mock received, decoded for assertions.

use std::collections::BTreeMap;

use serde::Serialize;

/// One request a mock received, as tests want to see it.
///
/// Recorded before the mock decides how to answer, so requests answered with a queued
/// [`Failure`](crate::Failure) are recorded too. Form bodies (such as token requests) contain
/// secrets in the clear: this is a mock, and tests assert on them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedRequest {
    /// HTTP method, upper case (`POST`).
    pub method: String,
    /// URL path, still percent-encoded (`/72f988bf-…/oauth2/v2.0/token`).
    pub path: String,
    /// Decoded query parameters; for a repeated name, the last value.
    pub query: BTreeMap<String, String>,
    /// Headers by lower-case name; repeated headers are joined with `", "`. Values that are not
    /// UTF-8 are decoded lossily.
    pub headers: BTreeMap<String, String>,
    /// Decoded `application/x-www-form-urlencoded` body; empty for any other content type. For a
    /// repeated name, the first value.
    pub form: BTreeMap<String, String>,
    /// The body as text (lossy UTF-8), whatever its content type.
    pub body: String,
}

impl RecordedRequest {
    /// Decodes a request as wiremock received it.
    pub(crate) fn from_wiremock(request: &wiremock::Request) -> Self {
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in &request.headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            headers
                .entry(name.as_str().to_owned())
                .and_modify(|existing| {
                    existing.push_str(", ");
                    existing.push_str(&value);
                })
                .or_insert(value);
        }
        let is_form = headers.get("content-type").is_some_and(|content_type| {
            content_type.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded")
        });
        let mut form = BTreeMap::new();
        if is_form {
            for (name, value) in url::form_urlencoded::parse(&request.body) {
                form.entry(name.into_owned()).or_insert_with(|| value.into_owned());
            }
        }
        RecordedRequest {
            method: request.method.as_str().to_owned(),
            path: request.url.path().to_owned(),
            query: request.url.query_pairs().into_owned().collect(),
            headers,
            form,
            body: String::from_utf8_lossy(&request.body).into_owned(),
        }
    }

    /// The path split on `/`, without the leading empty segment.
    pub(crate) fn segments(&self) -> Vec<&str> {
        self.path.trim_start_matches('/').split('/').collect()
    }

    /// A form field, if present and not empty (clients drop empty values, as MSAL does).
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.form.get(name).map(String::as_str).filter(|value| !value.is_empty())
    }
}

/// Decodes `%XX` escapes in a path segment; invalid escapes are kept as they are and invalid
/// UTF-8 is replaced.
pub(crate) fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes.get(i), bytes.get(i + 1), bytes.get(i + 2)) {
            (Some(b'%'), Some(&high), Some(&low)) => match (hex_value(high), hex_value(low)) {
                (Some(high), Some(low)) => Some(high * 16 + low),
                _ => None,
            },
            _ => None,
        };
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).and_then(|v| u8::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("alice%40contoso.com"), "alice@contoso.com");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }
}
