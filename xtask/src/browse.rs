//! `xtask browse [--forge] [--as USER] URL`: a stand-in web browser for the interactive-flow integration
//! runs, used as `BROWSER="<xtask> browse"` (the `webbrowser` crate appends the URL).
//!
//! It fetches the authorize URL from the mock identity provider with plain HTTP/1.1 over a
//! `std::net::TcpStream`, then delivers the answer to the loopback listener the way a browser
//! would: following the 302 (`response_mode=query`), or posting the auto-submitting form
//! (`form_post`). With `--forge` it first sends the listener a response with a wrong `state` and
//! a request to another path. With `--as USER` it signs in as USER whatever the URL's
//! `login_hint` says (the mock signs in as the hinted user): another person completing the
//! sign-in with their own account. Every step is appended to `$XTASK_BROWSE_LOG` (when set), one
//! `step status` line each, for the integration case to check. Only loopback hosts are contacted.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, Result, bail};

pub fn run(forge: bool, user: Option<&str>, url: &str) -> Result<()> {
    let url = match user {
        Some(user) => with_login_hint(url, user),
        None => url.to_owned(),
    };
    let result = browse(&url, forge);
    if let Err(e) = &result {
        log(&format!("error {e:#}"));
    }
    result
}

/// GET `url` (an authorize URL with `response_mode=query`) and return the redirect it answers
/// with: what a user would copy from the address bar in paste mode.
pub fn redirect_of(url: &str) -> Result<String> {
    let r = request("GET", url, None)?;
    if r.status != 302 {
        bail!("expected a 302 from {url}, got {}: {}", r.status, r.body);
    }
    Ok(r.header("location").context("302 without Location")?.to_owned())
}

fn browse(url: &str, forge: bool) -> Result<()> {
    let page = request("GET", url, None)?;
    log(&format!("authorize {}", page.status));
    match page.status {
        302 => {
            let location = page.header("location").context("302 without Location")?.to_owned();
            if forge {
                forge_first(&location)?;
            }
            let r = request("GET", &location, None)?;
            log(&format!("deliver {}", r.status));
        }
        200 => {
            let (action, fields) = parse_form(&page.body).context("the authorize page has no form")?;
            if forge {
                forge_first(&action)?;
            }
            let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
            let r = request("POST", &action, Some(&body.join("&")))?;
            log(&format!("deliver {}", r.status));
        }
        other => bail!("authorize answered HTTP {other}: {}", page.body),
    }
    Ok(())
}

/// `url` with its `login_hint` set to `user`.
fn with_login_hint(url: &str, user: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<String> =
        query.split('&').filter(|p| !p.is_empty() && !p.starts_with("login_hint=")).map(str::to_owned).collect();
    pairs.push(format!("login_hint={}", encode(user)));
    format!("{base}?{}", pairs.join("&"))
}

/// A forged response (wrong state) and a request to another path, before the genuine one.
fn forge_first(redirect: &str) -> Result<()> {
    let base = redirect.split('?').next().unwrap_or(redirect);
    let r = request("GET", &format!("{base}?code=forged-code&state=forged-state"), None)?;
    log(&format!("forged {}", r.status));
    let (origin, _) = split_url(base)?;
    let r = request("GET", &format!("http://{origin}/some/other/path?code=x&state=y"), None)?;
    log(&format!("other-path {}", r.status));
    Ok(())
}

fn log(line: &str) {
    if let Some(path) = std::env::var_os("XTASK_BROWSE_LOG") {
        let f = std::fs::OpenOptions::new().create(true).append(true).open(path);
        if let Ok(mut f) = f {
            let _ = writeln!(f, "{line}");
        }
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// `host:port` and `/path?query` of an `http://` URL on a loopback host.
fn split_url(url: &str) -> Result<(String, String)> {
    let rest = url.strip_prefix("http://").with_context(|| format!("not an http URL: {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host = authority.rsplit_once(':').map_or(authority, |(h, p)| if p.contains(']') { authority } else { h });
    if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
        bail!("refusing to contact a non-loopback host: {authority}");
    }
    Ok((authority.to_owned(), path.to_owned()))
}

/// One HTTP/1.1 request with `Connection: close`; the whole answer.
fn request(method: &str, url: &str, form: Option<&str>) -> Result<Response> {
    let (authority, path) = split_url(url)?;
    let connect_to = authority.replacen("localhost", "127.0.0.1", 1);
    let has_port = if connect_to.starts_with('[') { connect_to.contains("]:") } else { connect_to.contains(':') };
    let with_port = if has_port { connect_to } else { format!("{connect_to}:80") };
    let mut s = TcpStream::connect(&with_port).with_context(|| format!("connecting to {with_port}"))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let body = form.unwrap_or("");
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nUser-Agent: xtask-browse\r\n");
    if form.is_some() {
        head.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("no HTTP status from {url}"))?;
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
    Ok(Response { status, headers, body: body.to_owned() })
}

/// The action and hidden inputs of an auto-submitting form page.
fn parse_form(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let attr = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = tag[start..].find('"')? + start;
        Some(unescape(&tag[start..end]))
    };
    let form = &html[html.find("<form")?..];
    let action = attr(&form[..form.find('>')?], "action")?;
    let mut fields = Vec::new();
    for input in form.split("<input").skip(1) {
        let tag = &input[..input.find('>')?];
        if tag.contains("hidden")
            && let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value"))
        {
            fields.push((n, v));
        }
    }
    Some((action, fields))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#x27;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
