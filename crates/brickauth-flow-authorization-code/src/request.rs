//! The authorize request: the loopback redirect URI, the response mode and the URL the browser
//! opens.
//!
//! Parameters and their order follow what MSAL Python's `acquire_token_interactive` sends:
//! `client_id`, `response_type=code`, `redirect_uri`, `scope`, `state`, `response_mode`,
//! `code_challenge`, `code_challenge_method=S256`, `nonce`, `client_info=1`, then the optional
//! `login_hint`, `prompt` and `domain_hint`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use url::Url;

/// How Entra returns the response to the redirect URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseMode {
    /// A POST of an auto-submitted form (the default, as MSAL: the code stays out of the
    /// browser's history and address bar).
    #[default]
    FormPost,
    /// A GET with the response in the query string (paste mode: the user copies the address).
    Query,
}

impl ResponseMode {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::FormPost => "form_post",
            ResponseMode::Query => "query",
        }
    }
}

impl FromStr for ResponseMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "form_post" => Ok(ResponseMode::FormPost),
            "query" => Ok(ResponseMode::Query),
            other => Err(format!("unknown response_mode `{other}`: expected `form_post` or `query`")),
        }
    }
}

/// The host of a loopback redirect URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoopbackHost {
    /// `localhost`: the listener binds 127.0.0.1, as MSAL's does.
    Localhost,
    /// An IPv4 loopback address, e.g. 127.0.0.1.
    V4(Ipv4Addr),
    /// `[::1]`.
    V6(Ipv6Addr),
}

/// A public-client loopback redirect URI: `http://localhost[:port][/path]`,
/// `http://127.0.0.1[:port][/path]` or `http://[::1][:port][/path]`.
///
/// Without a port, the listener takes any free port and the URI sent carries it (Entra accepts
/// any port for a loopback redirect registered without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri {
    host: LoopbackHost,
    port: Option<u16>,
    path: String,
}

impl RedirectUri {
    /// `http://localhost`, any free port.
    pub fn localhost() -> Self {
        RedirectUri { host: LoopbackHost::Localhost, port: None, path: String::new() }
    }

    /// The explicit port, if the URI names one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The path the response arrives on (`/` when the URI has none).
    pub fn path(&self) -> &str {
        if self.path.is_empty() { "/" } else { &self.path }
    }

    /// Where the listener binds: the loopback address of the URI's host, and its port (0 = any).
    pub fn bind_addr(&self) -> SocketAddr {
        let ip = match self.host {
            LoopbackHost::Localhost => IpAddr::V4(Ipv4Addr::LOCALHOST),
            LoopbackHost::V4(ip) => IpAddr::V4(ip),
            LoopbackHost::V6(ip) => IpAddr::V6(ip),
        };
        SocketAddr::new(ip, self.port.unwrap_or(0))
    }

    /// The URI as sent to Entra, with the port the listener got (or none when `port` is `None`
    /// and there is no listener, as in paste mode).
    pub fn render(&self, port: Option<u16>) -> String {
        let host = match self.host {
            LoopbackHost::Localhost => "localhost".to_owned(),
            LoopbackHost::V4(ip) => ip.to_string(),
            LoopbackHost::V6(ip) => format!("[{ip}]"),
        };
        match port.or(self.port) {
            Some(p) => format!("http://{host}:{p}{}", self.path),
            None => format!("http://{host}{}", self.path),
        }
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(None))
    }
}

impl FromStr for RedirectUri {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let url = Url::parse(s).map_err(|e| format!("`{s}` is not a URL: {e}"))?;
        let need = "expected a loopback redirect such as http://localhost, http://localhost:8400, \
                    http://127.0.0.1:8400/callback or http://[::1]:8400";
        if url.scheme() != "http" {
            return Err(format!("`{s}` has scheme `{}`: {need}", url.scheme()));
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err(format!("`{s}` has a query, fragment or user name: {need}"));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => LoopbackHost::Localhost,
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => LoopbackHost::V4(ip),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => LoopbackHost::V6(ip),
            _ => return Err(format!("`{s}` is not a loopback address: {need}")),
        };
        // `Url` hides a port equal to the scheme's default; a user who wrote `:80` meant it.
        let authority = s.split_once("://").map_or("", |(_, rest)| rest.split('/').next().unwrap_or(""));
        let port = match url.port() {
            Some(0) => None,
            Some(p) => Some(p),
            None if authority.ends_with(":80") => Some(80),
            None => None,
        };
        let path = match url.path() {
            "/" if !s.ends_with('/') => String::new(),
            p => p.to_owned(),
        };
        Ok(RedirectUri { host, port, path })
    }
}

/// Everything the authorize URL carries.
#[derive(Debug, Clone)]
pub struct AuthorizeParams<'a> {
    /// `{authority}/{tenant}/oauth2/v2.0/authorize`.
    pub endpoint: &'a Url,
    /// The app registration's client id.
    pub client_id: &'a str,
    /// The redirect URI, exactly as the redemption will send it.
    pub redirect_uri: &'a str,
    /// The decorated scopes (`… offline_access openid profile`).
    pub scope: &'a str,
    /// The random `state`.
    pub state: &'a str,
    /// `form_post` or `query`.
    pub response_mode: ResponseMode,
    /// The PKCE S256 challenge.
    pub code_challenge: &'a str,
    /// The random `nonce`, echoed in the id token.
    pub nonce: &'a str,
    /// `login_hint`: the user to sign in.
    pub login_hint: Option<&'a str>,
    /// `prompt`: `login`, `consent`, `select_account`, `none`, `create`.
    pub prompt: Option<&'a str>,
    /// `domain_hint`: skip home-realm discovery (`contoso.com`, `consumers`, …).
    pub domain_hint: Option<&'a str>,
}

/// The URL to open in the browser.
pub fn authorize_url(p: &AuthorizeParams<'_>) -> Url {
    let mut url = p.endpoint.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", p.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", p.redirect_uri)
            .append_pair("scope", p.scope)
            .append_pair("state", p.state)
            .append_pair("response_mode", p.response_mode.as_str())
            .append_pair("code_challenge", p.code_challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("nonce", p.nonce)
            .append_pair("client_info", "1");
        for (k, v) in [("login_hint", p.login_hint), ("prompt", p.prompt), ("domain_hint", p.domain_hint)] {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                q.append_pair(k, v);
            }
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris() {
        let r: RedirectUri = "http://localhost".parse().unwrap();
        assert_eq!((r.port(), r.path(), r.render(Some(5123))), (None, "/", "http://localhost:5123".to_owned()));
        assert_eq!(r.bind_addr().to_string(), "127.0.0.1:0");
        assert_eq!(r.to_string(), "http://localhost");

        let r: RedirectUri = "http://localhost:8400/callback".parse().unwrap();
        assert_eq!((r.port(), r.path()), (Some(8400), "/callback"));
        assert_eq!(r.render(None), "http://localhost:8400/callback");

        let r: RedirectUri = "http://[::1]:8401/".parse().unwrap();
        assert_eq!(r.bind_addr().to_string(), "[::1]:8401");
        assert_eq!(r.render(None), "http://[::1]:8401/");

        let r: RedirectUri = "http://127.0.0.1:80".parse().unwrap();
        assert_eq!(r.port(), Some(80));

        for bad in [
            "https://localhost",
            "http://example.com",
            "http://0.0.0.0:8400",
            "http://10.0.0.1",
            "http://localhost/?x=1",
            "localhost:8400",
        ] {
            assert!(bad.parse::<RedirectUri>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn response_modes() {
        assert_eq!("form_post".parse(), Ok(ResponseMode::FormPost));
        assert_eq!("Form-Post".parse(), Ok(ResponseMode::FormPost));
        assert_eq!("query".parse(), Ok(ResponseMode::Query));
        assert!("fragment".parse::<ResponseMode>().is_err());
    }
}
