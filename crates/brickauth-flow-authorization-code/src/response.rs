//! The authorization response: what comes back to the redirect URI (or is pasted), and the
//! checks made on it before anything is sent to the token endpoint.
//!
//! The order is MSAL's: first `state` (a response for another sign-in is ignored, never
//! redeemed and never reported as an error of this one), then `error`, then `code`.

use brickauth_core::{AuthError, EntraError, SecretString};

/// An authorization response, as parsed from query or form parameters.
#[derive(Clone)]
pub enum AuthResponse {
    /// Entra issued a code.
    Code {
        /// The single-use authorization code.
        code: SecretString,
        /// The `state` that came with it; `None` when only a bare code was pasted.
        state: Option<String>,
    },
    /// Entra (or the user) declined.
    Error {
        /// The OAuth error (`access_denied`, `consent_required`, …).
        error: String,
        /// Entra's `error_description`.
        description: Option<String>,
        /// The `state` that came with it.
        state: Option<String>,
    },
}

impl std::fmt::Debug for AuthResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthResponse::Code { state, .. } => {
                f.debug_struct("Code").field("code", &"[REDACTED]").field("state", state).finish()
            }
            AuthResponse::Error { error, description, state } => f
                .debug_struct("Error")
                .field("error", error)
                .field("description", description)
                .field("state", state)
                .finish(),
        }
    }
}

impl AuthResponse {
    /// Read a response from decoded parameters; `None` when they hold neither `code` nor `error`.
    pub fn from_params<K: AsRef<str>, V: AsRef<str>>(params: impl IntoIterator<Item = (K, V)>) -> Option<Self> {
        let (mut code, mut error, mut description, mut state) = (None, None, None, None);
        for (k, v) in params {
            let v = v.as_ref().to_owned();
            match k.as_ref() {
                "code" if !v.is_empty() => code = Some(v),
                "error" if !v.is_empty() => error = Some(v),
                "error_description" => description = Some(v),
                "state" => state = Some(v),
                _ => {}
            }
        }
        match (error, code) {
            (Some(error), _) => Some(AuthResponse::Error { error, description, state }),
            (None, Some(code)) => Some(AuthResponse::Code { code: SecretString::from(code), state }),
            (None, None) => None,
        }
    }

    /// The `state` that came with the response.
    pub fn state(&self) -> Option<&str> {
        match self {
            AuthResponse::Code { state, .. } | AuthResponse::Error { state, .. } => state.as_deref(),
        }
    }

    /// The code, or the error this response stands for (`AuthError::Declined`: exit 3).
    pub fn into_code(self) -> Result<SecretString, AuthError> {
        match self {
            AuthResponse::Code { code, .. } => Ok(code),
            AuthResponse::Error { error, description, .. } => Err(declined(&error, description.as_deref())),
        }
    }
}

/// `AuthError::Declined` for an `error=` response, with Entra's description and a hint for
/// common AADSTS codes.
pub fn declined(error: &str, description: Option<&str>) -> AuthError {
    let e = EntraError {
        error: error.to_owned(),
        error_description: description.map(str::to_owned),
        ..EntraError::default()
    };
    let mut msg = format!("sign-in was not completed: {} ({error})", e.summary());
    if let Some(h) = e.hint().and_then(brickauth_core::hints::Hint::text) {
        msg.push_str(&format!("\nhint: {h}"));
    }
    AuthError::Declined(msg)
}

/// Why pasted text could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasteError {
    /// Nothing was pasted.
    Empty,
    /// The text is neither a redirected URL nor a code.
    NotAResponse,
}

impl std::fmt::Display for PasteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PasteError::Empty => "nothing was pasted",
            PasteError::NotAResponse => {
                "the pasted text is neither the address the browser was sent to (http://localhost…?code=…&state=…) nor an authorization code"
            }
        })
    }
}

/// Parse what the user pasted: the full redirected URL, its query string, or the bare code.
pub fn parse_pasted(input: &str) -> Result<AuthResponse, PasteError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(PasteError::Empty);
    }
    let query = if input.contains("://") {
        let url = url::Url::parse(input).map_err(|_| PasteError::NotAResponse)?;
        // A response may come in the query, or (for other clients' settings) in the fragment.
        let q = url.query().filter(|q| !q.is_empty()).or(url.fragment()).unwrap_or("");
        Some(q.to_owned())
    } else if input.starts_with('?') || input.contains("code=") || input.contains("error=") {
        Some(input.trim_start_matches('?').to_owned())
    } else {
        None
    };
    match query {
        Some(q) => AuthResponse::from_params(url::form_urlencoded::parse(q.as_bytes())).ok_or(PasteError::NotAResponse),
        None if looks_like_code(input) => {
            Ok(AuthResponse::Code { code: SecretString::from(input.to_owned()), state: None })
        }
        None => Err(PasteError::NotAResponse),
    }
}

/// Entra's codes are long runs of base64url-ish characters (`0.AXoA…`, `M.C5…`).
fn looks_like_code(s: &str) -> bool {
    s.len() >= 16 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~*!$+/%".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickauth_core::ExposeSecret;

    fn code_of(r: AuthResponse) -> String {
        r.into_code().map(|c| c.expose_secret().to_owned()).unwrap_or_default()
    }

    #[test]
    fn pasted_full_url() {
        let r = parse_pasted("  http://localhost/?code=0.AXoA-abc_123.def&state=S1&session_state=x\n").unwrap();
        assert_eq!(r.state(), Some("S1"));
        assert!(!format!("{r:?}").contains("0.AXoA"));
        assert_eq!(code_of(r), "0.AXoA-abc_123.def");
        let r = parse_pasted("http://localhost:8400/cb?state=S2&code=c%2Bd").unwrap();
        assert_eq!((r.state(), code_of(r.clone())), (Some("S2"), "c+d".to_owned()));
    }

    #[test]
    fn pasted_query_and_bare_code() {
        let r = parse_pasted("?code=abc&state=S").unwrap();
        assert_eq!(r.state(), Some("S"));
        let r = parse_pasted("0.AXoAabcdefghijklmnopqrstuvwxyz-_").unwrap();
        assert_eq!(r.state(), None);
        assert_eq!(code_of(r), "0.AXoAabcdefghijklmnopqrstuvwxyz-_");
    }

    #[test]
    fn pasted_error() {
        let r = parse_pasted(
            "http://localhost/?error=access_denied&error_description=AADSTS65004%3A+User+declined+to+consent.&state=S",
        )
        .unwrap();
        assert_eq!(r.state(), Some("S"));
        let e = r.into_code().unwrap_err();
        assert!(matches!(e, AuthError::Declined(_)));
        let msg = e.to_string();
        assert!(msg.contains("access_denied") && msg.contains("AADSTS65004: User declined to consent."), "{msg}");
    }

    #[test]
    fn pasted_garbage() {
        assert_eq!(parse_pasted("   ").unwrap_err(), PasteError::Empty);
        for junk in ["hello world", "http://localhost/?state=S", "short", "<script>alert(1)</script>", "http://["] {
            assert_eq!(parse_pasted(junk).unwrap_err(), PasteError::NotAResponse, "{junk}");
        }
    }

    #[test]
    fn error_wins_over_code_and_empty_values_are_absent() {
        let r = AuthResponse::from_params([("code", "c"), ("error", "consent_required"), ("state", "s")]).unwrap();
        assert!(matches!(r, AuthResponse::Error { .. }));
        assert!(AuthResponse::from_params([("code", ""), ("state", "s")]).is_none());
    }
}
