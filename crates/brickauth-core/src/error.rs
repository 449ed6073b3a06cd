//! Typed errors: what went wrong getting a token, and Entra's own error body.

use std::fmt;

use serde::Deserialize;

use crate::settings::ConfigError;
use crate::text::{ServerText, cap_chars};
use crate::token::ResponseError;

/// How the CLI should treat an error: it maps these to exit codes in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// A usage or profile problem (exit 2).
    Usage,
    /// Authentication failed or needs the user (exit 3).
    Auth,
    /// Anything else: I/O, network after retries, a server that misbehaves (exit 1).
    Other,
}

/// Why a token could not be obtained.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The identity provider refused the request with an OAuth error.
    #[error("{0}")]
    Entra(Box<EntraError>),
    /// The server answered with an error status and a body that is not an OAuth error (a proxy's
    /// HTML page, say).
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        /// The endpoint, without query.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body, with markup removed.
        body: String,
    },
    /// No HTTP answer at all: connection refused or reset, DNS, TLS, timeout.
    #[error("request to {url} failed: {message}")]
    Transport {
        /// The endpoint, without query.
        url: String,
        /// What the HTTP stack reported.
        message: String,
    },
    /// Retries were used up; the last failure is attached.
    #[error("{why}; last error: {}{last}", status.map(|s| format!("HTTP {s}: ")).unwrap_or_default())]
    RetriesExhausted {
        /// How many requests were sent.
        attempts: u32,
        /// Seconds spent in all.
        elapsed_secs: u64,
        /// The HTTP status of the last answer, when there was one.
        status: Option<u16>,
        /// What ran out, with the budget and the variable that sets it ("gave up after 4 attempts
        /// in 9 s (connection errors are retried for 10 s; BRICKAUTH_CONNECT_RETRY_BUDGET sets it)").
        why: String,
        /// The last failure.
        last: Box<AuthError>,
    },
    /// The server said yes, but its answer cannot be used.
    #[error("{url}: {source}")]
    Response {
        /// The endpoint.
        url: String,
        /// What is wrong with the answer.
        source: ResponseError,
    },
    /// The credential the settings hold (a configured refresh token — not one the cache kept) was
    /// refused as expired, revoked or spent: sending it again fails the same way; a new one must
    /// replace it where the settings read it from.
    #[error("{source}")]
    ConfiguredRefused {
        /// The setting (`refresh_token`).
        key: &'static str,
        /// Where its value came from, for a person: the source key and its origin
        /// (`` `refresh_token_file` (profiles.toml:12) ``, `$BRICKAUTH_REFRESH_TOKEN`).
        from: String,
        /// The refusal.
        source: Box<AuthError>,
    },
    /// The flow needs a person, and none is at the keyboard.
    #[error("{0}")]
    NeedsUser(String),
    /// The user, or the identity provider at the user's step, declined or did not finish in time.
    #[error("{0}")]
    Declined(String),
    /// The settings the flow was built from are wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A local failure (file, process, terminal).
    #[error("{0}")]
    Io(String),
}

impl AuthError {
    /// How the CLI should report this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            AuthError::Entra(e) if e.transient() => ErrorClass::Other,
            AuthError::Entra(_) | AuthError::NeedsUser(_) | AuthError::Declined(_) => ErrorClass::Auth,
            AuthError::Config(_) => ErrorClass::Usage,
            AuthError::RetriesExhausted { last, .. } => match last.class() {
                ErrorClass::Usage => ErrorClass::Usage,
                _ => ErrorClass::Other,
            },
            AuthError::ConfiguredRefused { source, .. } => source.class(),
            _ => ErrorClass::Other,
        }
    }

    /// Whether the server rejected the grant itself (`invalid_grant`): a refresh token that is
    /// expired, revoked or already used. The caller should drop it and sign in again.
    pub fn is_invalid_grant(&self) -> bool {
        match self {
            AuthError::Entra(e) => e.error == "invalid_grant",
            AuthError::ConfiguredRefused { source, .. } => source.is_invalid_grant(),
            _ => false,
        }
    }

    /// The Entra error, if this is one.
    pub fn entra(&self) -> Option<&EntraError> {
        match self {
            AuthError::Entra(e) => Some(e),
            AuthError::RetriesExhausted { last, .. } => last.entra(),
            AuthError::ConfiguredRefused { source, .. } => source.entra(),
            _ => None,
        }
    }
}

/// An OAuth error answered by Entra ID (or a compatible server).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct EntraError {
    /// The HTTP status it came with.
    #[serde(skip)]
    pub status: u16,
    /// The OAuth error code (`invalid_grant`, `interaction_required`, …).
    #[serde(default)]
    pub error: String,
    /// Human-readable text, `AADSTS…: …` followed by trace lines.
    #[serde(default)]
    pub error_description: Option<String>,
    /// The AADSTS numbers.
    #[serde(default)]
    pub error_codes: Vec<u64>,
    /// Entra's request id, for support cases.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// The client's correlation id.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// A finer classification (`basic_action`, `consent_required`, …).
    #[serde(default)]
    pub suberror: Option<String>,
    /// A claims challenge to pass back on the next interactive request.
    #[serde(default)]
    pub claims: Option<String>,
    /// When Entra answered.
    #[serde(default)]
    pub timestamp: Option<String>,
}

impl EntraError {
    /// Parse an error body; `None` when it is not an OAuth error object. Every text field is
    /// cleaned ([`ServerText`]: no escape sequences or control characters, capped).
    pub fn parse(status: u16, body: &[u8]) -> Option<EntraError> {
        Self::parse_with(status, body, &ServerText::default())
    }

    /// Like [`EntraError::parse`], also redacting the secrets `text` knows were sent.
    pub fn parse_with(status: u16, body: &[u8], text: &ServerText) -> Option<EntraError> {
        let mut e: EntraError = serde_json::from_slice(body).ok()?;
        if e.error.trim().is_empty() {
            return None;
        }
        e.status = status;
        e.error = text.clean(&e.error);
        if let Some(d) = e.error_description.take() {
            // The first line is the summary shown; the trace lines follow, capped.
            let full = text.clean_full(d.as_bytes());
            let mut lines = full.lines().filter(|l| !l.trim().is_empty());
            let first = lines.next().map(|l| text.clean(l)).unwrap_or_default();
            let rest: Vec<&str> = lines.collect();
            let rest = cap_chars(&rest.join("\n"), crate::text::SHOWN_CHARS * 2);
            e.error_description = Some(if rest.is_empty() { first } else { format!("{first}\n{rest}") });
        }
        for f in [&mut e.trace_id, &mut e.correlation_id, &mut e.suberror, &mut e.timestamp] {
            if let Some(v) = f.take() {
                *f = Some(text.clean(&v));
            }
        }
        if let Some(c) = e.claims.take() {
            e.claims = Some(text.clean_full(c.as_bytes()));
        }
        e.error_codes.truncate(16);
        Some(e)
    }

    /// The first line of the description, without Entra's trace lines.
    pub fn summary(&self) -> &str {
        self.error_description
            .as_deref()
            .and_then(|d| d.split(['\r', '\n']).find(|l| !l.trim().is_empty()))
            .map(str::trim)
            .unwrap_or(&self.error)
    }

    /// The first AADSTS code.
    pub fn code(&self) -> Option<u64> {
        self.error_codes.first().copied().or_else(|| {
            let d = self.error_description.as_deref()?;
            let rest = d.strip_prefix("AADSTS")?;
            rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        })
    }

    /// A one-line hint on what to do, for common errors (its [`Hint::sign_in`](crate::hints::Hint::sign_in) is the caller's
    /// to word: the `Display` here shows the hint's own words only).
    pub fn hint(&self) -> Option<crate::hints::Hint> {
        crate::hints::hint(self.code(), &self.error)
    }

    /// Whether retrying later may help (`temporarily_unavailable`, throttling codes, 5xx).
    pub fn transient(&self) -> bool {
        self.error == "temporarily_unavailable"
            || self.status >= 500
            || matches!(self.code(), Some(90055 | 50033 | 90006 | 90033))
    }
}

impl fmt::Display for EntraError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the identity provider refused: {} ({})", self.summary(), self.error)?;
        if let Some(t) = &self.trace_id {
            write!(f, "\n  trace id: {t}")?;
        }
        if let Some(c) = &self.correlation_id {
            write!(f, "\n  correlation id: {c}")?;
        }
        if let Some(h) = self.hint() {
            write!(f, "\nhint: {h}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_hints() {
        let body = br#"{"error":"invalid_grant","error_description":"AADSTS50126: Error validating credentials due to invalid username or password.\r\nTrace ID: 1\r\nCorrelation ID: 2\r\nTimestamp: 2026-11-25 10:00:00Z","error_codes":[50126],"timestamp":"2026-11-25 10:00:00Z","trace_id":"t-1","correlation_id":"c-2","error_uri":"https://login.microsoftonline.com/error?code=50126"}"#;
        let e = EntraError::parse(400, body).unwrap();
        assert_eq!(e.code(), Some(50126));
        assert_eq!(e.summary(), "AADSTS50126: Error validating credentials due to invalid username or password.");
        assert_eq!(e.hint(), Some(crate::hints::Hint::WrongPassword));
        insta::assert_snapshot!(e.to_string());
        assert!(AuthError::Entra(Box::new(e)).is_invalid_grant());
    }

    /// Entra's own wording and layout (AADSTS700016 from its error reference; trace lines with
    /// `\r\n`, as login.microsoftonline.com sends them): the summary and the ids come whole —
    /// no GUID is cut in two, wherever the caps fall.
    #[test]
    fn a_long_entra_body_keeps_every_id_whole() {
        let app = "12a34b56-789c-0d12-e3fa-b456789c0123";
        let (trace, correlation) = ("0d8f2b7e-3c4a-4b5d-9e6f-7a8b9c0d1e2f", "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9");
        let description = format!(
            "AADSTS700016: Application with identifier '{app}' was not found in the directory 'Contoso'. This can \
             happen if the application has not been installed by the administrator of the tenant or consented to by \
             any user in the tenant. You may have sent your authentication request to the wrong tenant.\r\nTrace ID: \
             {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: 2026-12-07 18:00:00Z"
        );
        let body = serde_json::json!({
            "error": "unauthorized_client",
            "error_description": description,
            "error_codes": [700016],
            "timestamp": "2026-12-07 18:00:00Z",
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": "https://login.microsoftonline.com/error?code=700016",
        });
        let e = EntraError::parse(400, body.to_string().as_bytes()).unwrap();
        assert!(e.summary().starts_with("AADSTS700016: Application with identifier"), "{}", e.summary());
        let shown = e.to_string();
        for id in [app, trace, correlation] {
            // Each id is either shown whole or not at all.
            let prefix = &id[..8];
            assert!(!shown.contains(prefix) || shown.contains(id), "{id} cut in: {shown}");
        }
        assert!(shown.contains(app), "{shown}");
    }

    #[test]
    fn server_text_is_cleaned() {
        let body = br#"{"error":"invalid_grant\u001b[31m","error_description":"AADSTS50126: you sent password=hunter2-secret\u001b]0;owned\u0007\r\nTrace ID: 1","trace_id":"\u001b[2Jt"}"#;
        let e = EntraError::parse_with(400, body, &ServerText::new(["hunter2-secret"])).unwrap();
        assert_eq!(e.error, "invalid_grant");
        assert_eq!(e.summary(), "AADSTS50126: you sent password=[REDACTED]");
        assert_eq!(e.trace_id.as_deref(), Some("t"));
        let long = format!(r#"{{"error":"x","error_description":"{}"}}"#, "A".repeat(100_000));
        let e = EntraError::parse(400, long.as_bytes()).unwrap();
        assert!(e.to_string().len() < 1000);
    }

    #[test]
    fn not_an_oauth_error() {
        assert!(EntraError::parse(502, b"<html>Bad gateway</html>").is_none());
        assert!(EntraError::parse(400, b"{}").is_none());
    }

    #[test]
    fn code_from_description_when_codes_missing() {
        let e =
            EntraError::parse(400, br#"{"error":"invalid_grant","error_description":"AADSTS70008: expired"}"#).unwrap();
        assert_eq!(e.code(), Some(70008));
    }
}
