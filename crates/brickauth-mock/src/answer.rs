//! [`Answer`]: an HTTP response under construction, shared by both mocks.
//!
//! wiremock's [`ResponseTemplate`] panics on an invalid status, header name or header value. The
//! mocks build every response through this type instead, which drops what cannot be sent (with a
//! warning) so that no request — however malformed — can make a responder panic.

use std::time::Duration;

use wiremock::ResponseTemplate;
use wiremock::http::{HeaderName, HeaderValue};

/// Content type of Entra's JSON answers, byte for byte.
pub(crate) const ENTRA_JSON: &str = "application/json; charset=utf-8";

/// Content type of the Databricks REST API's JSON answers.
pub(crate) const DATABRICKS_JSON: &str = "application/json";

/// An HTTP response: status, headers, body and an optional delay before it is sent.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    status: u16,
    content_type: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    delay: Option<Duration>,
}

impl Answer {
    /// A response with a body of the given content type.
    pub(crate) fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Answer { status, content_type: content_type.to_owned(), headers: Vec::new(), body: body.into(), delay: None }
    }

    /// A JSON response with Entra's content type.
    pub(crate) fn entra_json(status: u16, body: &serde_json::Value) -> Self {
        Answer::new(status, ENTRA_JSON, body.to_string())
    }

    /// A JSON response with the Databricks REST API's content type.
    pub(crate) fn databricks_json(status: u16, body: &serde_json::Value) -> Self {
        Answer::new(status, DATABRICKS_JSON, body.to_string())
    }

    /// Adds a response header.
    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Sends the response only after `delay`.
    pub(crate) fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// The HTTP status.
    #[cfg(test)]
    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    /// Converts into wiremock's template, dropping anything that is not valid HTTP.
    pub(crate) fn into_template(self) -> ResponseTemplate {
        let status = if (100..=999).contains(&self.status) {
            self.status
        } else {
            tracing::warn!(status = self.status, "invalid HTTP status in a mock answer; sending 500");
            500
        };
        let mut template = ResponseTemplate::new(status);
        let content_type = ("content-type".to_owned(), self.content_type);
        for (name, value) in std::iter::once(content_type).chain(self.headers) {
            match (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
                (Ok(name), Ok(value)) => template = template.append_header(name, value),
                _ => tracing::warn!(%name, "invalid header in a mock answer; dropped"),
            }
        }
        template = template.set_body_bytes(self.body);
        if let Some(delay) = self.delay {
            template = template.set_delay(delay);
        }
        template
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_parts_are_dropped_not_panicked_on() {
        // Must not panic: wiremock's own setters would.
        let _ =
            Answer::new(42, "bad\nvalue", "x").header("bad header", "v").header("ok", "bad\r\nvalue").into_template();
    }
}
