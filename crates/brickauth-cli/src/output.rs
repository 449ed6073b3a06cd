//! Printing tokens (`-o raw|json|env` and the Databricks CLI's `auth token` shape), and what every
//! command shows a person: server text made safe ([`shown`], [`who`]) and the width a table fits
//! ([`table_width`], [`cut`]).

use brickauth_cache::CachedToken;
use brickauth_core::jwt;
use serde_json::{Map, Value, json};

/// Write `text` to stdout; a closed pipe (`brickauth token | head -c0`) is not an error.
pub fn print(text: &str) -> anyhow::Result<std::process::ExitCode> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    ok_or_pipe(out.write_all(text.as_bytes()).and_then(|()| out.flush()))?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// A write error other than a closed pipe; a closed pipe (`| head`) ends the output quietly.
pub fn ok_or_pipe(r: std::io::Result<()>) -> anyhow::Result<()> {
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Output formats for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ListFormat {
    /// Human-readable text
    #[default]
    Text,
    /// JSON
    Json,
}

/// What goes with a token into its JSON form.
pub struct TokenMeta<'a> {
    /// Profile name.
    pub profile: &'a str,
    /// Flow name.
    pub flow: &'a str,
    /// Requested scopes, space-separated.
    pub scope: String,
    /// Configured tenant.
    pub tenant: &'a str,
    /// The Azure subscription, when the profile names one.
    pub subscription: Option<String>,
}

/// The bare token and a newline.
pub fn raw(t: &CachedToken) -> String {
    format!("{}\n", t.access_token.expose())
}

/// `token -o json`: an object whose keys are a superset of `az account get-access-token`'s,
/// sorted as az sorts them.
pub fn json_value(t: &CachedToken, meta: &TokenMeta<'_>, include_refresh_token: bool) -> Value {
    let at = &t.access_token;
    let tenant = tenant(t, meta.tenant);
    let mut m = Map::new();
    m.insert("accessToken".into(), json!(at.expose()));
    m.insert("expiresOn".into(), json!(local_az(at.expires_on)));
    m.insert("expires_on".into(), json!(at.expires_on));
    m.insert("tokenType".into(), json!(at.token_type));
    m.insert("tenant".into(), json!(tenant));
    m.insert("profile".into(), json!(meta.profile));
    m.insert("flow".into(), json!(meta.flow));
    m.insert("scope".into(), json!(meta.scope));
    if let Some(u) = &t.account.username {
        m.insert("user".into(), json!(u));
    }
    if let Some(sub) = &meta.subscription {
        m.insert("subscription".into(), json!(sub));
    }
    if include_refresh_token && let Some(rt) = &t.refresh_token {
        use brickauth_core::ExposeSecret;
        m.insert("refreshToken".into(), json!(rt.expose_secret()));
    }
    Value::Object(m)
}

/// The token's tenant: the account's, else the token's `tid` claim, else the profile's.
pub fn tenant(t: &CachedToken, configured: &str) -> String {
    t.account
        .tenant_id
        .clone()
        .or_else(|| {
            jwt::decode(t.access_token.expose()).ok().and_then(|j| j.claims.get("tid")?.as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| configured.to_owned())
}

/// Exactly `az account get-access-token`'s object: `accessToken`, `expiresOn`, `expires_on`,
/// `subscription` (when known), `tenant`, `tokenType`.
pub fn az_value(t: &CachedToken, tenant: &str, subscription: Option<&str>) -> Value {
    let at = &t.access_token;
    let mut m = Map::new();
    m.insert("accessToken".into(), json!(at.expose()));
    m.insert("expiresOn".into(), json!(local_az(at.expires_on)));
    m.insert("expires_on".into(), json!(at.expires_on));
    if let Some(sub) = subscription {
        m.insert("subscription".into(), json!(sub));
    }
    m.insert("tenant".into(), json!(tenant));
    m.insert("tokenType".into(), json!(at.token_type));
    Value::Object(m)
}

/// az's scope for a v1 resource: `RESOURCE/.default`, written as az writes it — the management
/// resource `https://management.core.windows.net/` becomes `https://management.core.windows.net//.default`,
/// which is what Entra expects for a resource whose identifier ends in `/`.
pub fn resource_scope(resource: &str) -> String {
    format!("{}/.default", resource.trim())
}

/// Apply az's `--query` (JMESPath, as az evaluates it) to `value`; `None` leaves it as it is.
pub fn query(value: Value, expr: Option<&str>) -> anyhow::Result<Value> {
    let Some(expr) = expr else { return Ok(value) };
    let bad = |e: jmespath::JmespathError| crate::report::Reported {
        code: crate::report::Exit::Usage,
        message: format!("--query `{expr}`: {}", e.to_string().lines().next().unwrap_or("invalid JMESPath")),
    };
    let compiled = jmespath::compile(expr).map_err(bad)?;
    let data = jmespath::Variable::from_json(&value.to_string()).map_err(|e| anyhow::anyhow!("--query: {e}"))?;
    let result = compiled.search(data).map_err(bad)?;
    Ok(serde_json::to_value(&*result)?)
}

/// Pretty JSON and a newline, as az's `-o json`.
pub fn pretty(value: &Value) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
    s.push('\n');
    s
}

/// az's `-o tsv`: a list is one row per item, anything else one row; a row of an object is its
/// values in key order, tab-separated; strings bare, `null` empty, booleans as Python prints them,
/// nested objects empty and nested lists as their length.
pub fn tsv(value: &Value) -> String {
    fn cell(v: &Value) -> String {
        match v {
            Value::Null | Value::Object(_) => String::new(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Array(items) => items.len().to_string(),
        }
    }
    fn row(v: &Value) -> String {
        match v {
            Value::Object(m) => {
                // Sorted by key as az sorts them, whatever order the map keeps.
                let mut items: Vec<(&String, &Value)> = m.iter().collect();
                items.sort_by(|a, b| a.0.cmp(b.0));
                items.into_iter().map(|(_, v)| cell(v)).collect::<Vec<_>>().join("\t")
            }
            Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join("\t"),
            other => cell(other),
        }
    }
    let rows: Vec<String> = match value {
        Value::Array(items) => items.iter().map(row).collect(),
        other => vec![row(other)],
    };
    let mut out = rows.join("\n");
    out.push('\n');
    out
}

/// `export` lines for a POSIX shell.
pub fn env(t: &CachedToken, host: Option<&str>) -> String {
    let mut s = String::new();
    if let Some(h) = host {
        s.push_str(&format!("export DATABRICKS_HOST={}\n", shell_quote(h.trim_end_matches('/'))));
    }
    s.push_str(&format!("export DATABRICKS_TOKEN={}\n", shell_quote(t.access_token.expose())));
    s
}

/// The Databricks CLI's `auth token` output: `{"access_token","token_type","expiry"}`, expiry in
/// local time, RFC 3339 with fractional seconds and a numeric offset.
pub fn databricks_cli(t: &CachedToken) -> String {
    let v = json!({
        "access_token": t.access_token.expose(),
        "token_type": t.access_token.token_type,
        "expiry": local_rfc3339(t.access_token.expires_on),
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

fn zoned(epoch: i64) -> Option<jiff::ZonedDateTime> {
    let ts = jiff::Timestamp::from_second(epoch).ok()?;
    Some(ts.to_zoned_datetime(local_tz()))
}

/// The local time zone, read the way the C library finds it — `$TZ` (`:NAME`, `NAME` under
/// `$TZDIR` or `/usr/share/zoneinfo`, an absolute path, or a POSIX rule), else
/// `/etc/localtime` — without jiff's name index, which lists the whole zoneinfo tree (~40
/// directory reads, ~1 ms) before its first lookup. `auth token` prints a local expiry on every
/// call the Databricks SDKs make, so this is on their path. Anything this cannot read falls back
/// to jiff's own lookup.
pub fn local_tz() -> jiff::tz::TimeZone {
    if !cfg!(unix) {
        return jiff::tz::TimeZone::system();
    }
    let tz = std::env::var("TZ").ok();
    let dir = std::env::var_os("TZDIR").map(std::path::PathBuf::from);
    tz_from(tz.as_deref(), dir.as_deref()).unwrap_or_else(jiff::tz::TimeZone::system)
}

/// [`local_tz`] for a given `$TZ` and `$TZDIR`; `None`: ask jiff.
fn tz_from(tz: Option<&str>, tzdir: Option<&std::path::Path>) -> Option<jiff::tz::TimeZone> {
    use jiff::tz::TimeZone;
    use std::path::Path;
    fn tzif(name: &str, path: &Path) -> Option<TimeZone> {
        TimeZone::tzif(name, &std::fs::read(path).ok()?).ok()
    }
    match tz.filter(|t| !t.is_empty()) {
        Some(tz) => {
            let name = tz.strip_prefix(':').unwrap_or(tz);
            if name.starts_with('/') {
                tzif(name, Path::new(name))
            } else if name.split('/').any(|part| part == ".." || part.is_empty()) {
                None
            } else {
                let dir = tzdir.unwrap_or(Path::new("/usr/share/zoneinfo"));
                tzif(name, &dir.join(name)).or_else(|| TimeZone::posix(name).ok())
            }
        }
        None => {
            let link = std::fs::read_link("/etc/localtime").ok();
            let name = link
                .as_ref()
                .and_then(|l| l.to_str())
                .and_then(|l| l.split_once("zoneinfo/").map(|(_, n)| n.to_owned()))
                .unwrap_or_else(|| "Local".to_owned());
            tzif(&name, Path::new("/etc/localtime"))
        }
    }
}

/// az's `expiresOn`: local time, naive, `YYYY-MM-DD HH:MM:SS.ffffff`.
pub fn local_az(epoch: i64) -> String {
    zoned(epoch).map(|z| z.strftime("%Y-%m-%d %H:%M:%S.%6f").to_string()).unwrap_or_default()
}

/// Local time as RFC 3339 with microseconds and offset: `2026-11-24T19:30:00.000000+01:00`.
pub fn local_rfc3339(epoch: i64) -> String {
    zoned(epoch).map(|z| z.strftime("%Y-%m-%dT%H:%M:%S.%6f%:z").to_string()).unwrap_or_default()
}

/// Local time with its zone, for people: `2026-11-24 17:00:00 CET (+01:00)`; the offset alone
/// when the zone has no name (`… +05:30`), and `… UTC` / `… GMT` at offset zero (not
/// `UTC (+00:00)`).
pub fn local_with_zone(epoch: i64) -> String {
    zoned(epoch)
        .map(|z| {
            with_zone(
                &z.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                &z.strftime("%Z").to_string(),
                &z.strftime("%:z").to_string(),
            )
        })
        .unwrap_or_default()
}

fn with_zone(time: &str, name: &str, offset: &str) -> String {
    if offset == "+00:00" && matches!(name, "UTC" | "GMT") {
        format!("{time} {name}")
    } else if offset == "+00:00" && matches!(name, "Z" | "") {
        format!("{time} UTC")
    } else if name.is_empty() || name.starts_with(['+', '-']) || name == offset {
        format!("{time} {offset}")
    } else {
        format!("{time} {name} ({offset})")
    }
}

/// A string a server or a token chose (an account name, a display name, a cluster's name or
/// creator, a SCIM field), made safe to show a person: escape sequences, C0/C1 control characters
/// and bidirectional overrides removed, whitespace folded, at most
/// [`brickauth_core::text::SHOWN_CHARS`] characters. Terminal text only: JSON output carries the
/// server's value exactly.
pub fn shown(raw: &str) -> String {
    brickauth_core::text::ServerText::default().clean(raw)
}

/// The width a table is fitted to, or `None` for no limit. A pipe or a file gets every character
/// (as `gh` does: a script reading the table must not see `…`), whatever `$COLUMNS` says; on a
/// terminal, `$COLUMNS` when it is a positive number, else the terminal's width.
pub fn table_width() -> Option<usize> {
    use std::io::IsTerminal;
    let terminal = std::io::stdout().is_terminal();
    width_for(terminal, std::env::var("COLUMNS").ok().as_deref(), || {
        terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0))
    })
}

/// [`table_width`] for a given terminal state, `$COLUMNS` and terminal size.
fn width_for(terminal: bool, columns: Option<&str>, size: impl FnOnce() -> Option<usize>) -> Option<usize> {
    if !terminal {
        return None;
    }
    columns.and_then(|c| c.trim().parse::<usize>().ok()).filter(|&n| n > 0).or_else(size).filter(|&n| n > 0)
}

/// `text` cut to `width` characters, the last one `…` when cut.
pub fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// `in 59 min`, `expired 3 min ago`.
pub fn relative(secs: i64) -> String {
    let span = |s: i64| -> String {
        match s {
            0..60 => format!("{s} s"),
            60..3600 => format!("{} min", s / 60),
            3600..86_400 => match (s % 3600) / 60 {
                0 => format!("{} h", s / 3600),
                m => format!("{} h {m} min", s / 3600),
            },
            _ => format!("{} d", s / 86_400),
        }
    };
    if secs >= 0 { format!("in {}", span(secs)) } else { format!("expired {} ago", span(secs.saturating_neg())) }
}

/// Who a token belongs to, for people: the user name; for a service principal (no user name),
/// its client id and, when the token carries it, its display name. Cleaned by [`shown`]: the
/// names come from the token endpoint and the token's claims.
pub fn who(t: &CachedToken, client_id: Option<&str>) -> String {
    shown(&who_raw(t, client_id))
}

fn who_raw(t: &CachedToken, client_id: Option<&str>) -> String {
    let claims = jwt::decode(t.access_token.expose()).ok().map(|j| j.claims);
    let claim = |k: &str| claims.as_ref().and_then(|c| c.get(k)?.as_str().map(str::to_owned)).filter(|v| !v.is_empty());
    let app = claim("appid").or_else(|| claim("azp")).or_else(|| client_id.map(str::to_owned));
    let username = t.account.username.as_deref().filter(|u| !u.is_empty());
    // A service principal's account is keyed by its client id: that is no user name to show.
    let is_app =
        |u: &str| app.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(u)) || claim("idtyp").as_deref() == Some("app");
    if let Some(u) = username.filter(|u| !is_app(u)) {
        return u.to_owned();
    }
    if username.is_none()
        && let Some(u) = claim("upn").or_else(|| claim("preferred_username")).or_else(|| claim("unique_name"))
    {
        return u;
    }
    let app = app.or_else(|| username.map(str::to_owned));
    match (app, claim("app_displayname")) {
        (Some(id), Some(name)) => format!("the service principal {id} ({name})"),
        (Some(id), None) => format!("the service principal {id}"),
        (None, _) => "an account without a user name".to_owned(),
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:/=+@%,".contains(&b)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_local_zone_is_read_like_the_c_library_does() {
        use std::path::Path;
        let offset = |tz: Option<&str>, dir: Option<&Path>| {
            let z = super::tz_from(tz, dir)?;
            // 2026-01-15 12:00 UTC: winter in the north.
            let ts = jiff::Timestamp::from_second(1_768_478_400).ok()?;
            Some(ts.to_zoned_datetime(z).strftime("%:z").to_string())
        };
        // POSIX rules need no file.
        assert_eq!(offset(Some("EST5EDT,M3.2.0,M11.1.0"), Some(Path::new("/nonexistent"))).as_deref(), Some("-05:00"));
        assert_eq!(offset(Some("../../etc/passwd"), None), None, "no path outside the zone directory");
        assert_eq!(offset(Some("Europe//Berlin"), None), None);
        if Path::new("/usr/share/zoneinfo/Europe/Berlin").exists() {
            assert_eq!(offset(Some("Europe/Berlin"), None).as_deref(), Some("+01:00"));
            assert_eq!(offset(Some(":Asia/Tokyo"), None).as_deref(), Some("+09:00"));
            assert_eq!(offset(Some("/usr/share/zoneinfo/Asia/Kolkata"), None).as_deref(), Some("+05:30"));
        }
    }

    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("https://adb-1.2.azuredatabricks.net"), "https://adb-1.2.azuredatabricks.net");
        assert_eq!(shell_quote("a b'c"), r"'a b'\''c'");
    }

    /// What az prints for the same command, with a fake token and the time redacted; brickauth's
    /// output must match it byte for byte (`az account get-access-token -o json`, `-o tsv`,
    /// `--query accessToken -o tsv`).
    const AZ_JSON: &str = r#"{
  "accessToken": "eyJ0eXAi.fake.token",
  "expiresOn": "[TIME]",
  "expires_on": 1764000000,
  "subscription": "3f2a1b4c-0000-4a5b-9c8d-112233445566",
  "tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47",
  "tokenType": "Bearer"
}
"#;
    const AZ_TSV: &str = "eyJ0eXAi.fake.token\t[TIME]\t1764000000\t3f2a1b4c-0000-4a5b-9c8d-112233445566\t72f988bf-86f1-41af-91ab-2d7cd011db47\tBearer\n";

    fn az() -> Value {
        let mut v = json!({
            "accessToken": "eyJ0eXAi.fake.token",
            "expiresOn": "[TIME]",
            "expires_on": 1_764_000_000,
            "subscription": "3f2a1b4c-0000-4a5b-9c8d-112233445566",
            "tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "tokenType": "Bearer",
        });
        // Insert in another order than az's: the output must still come out sorted.
        if let Value::Object(m) = &mut v {
            let t = m.remove("accessToken").unwrap_or_default();
            m.insert("accessToken".into(), t);
        }
        v
    }

    #[test]
    fn json_and_tsv_as_az_prints_them() {
        assert_eq!(pretty(&az()), AZ_JSON);
        assert_eq!(tsv(&az()), AZ_TSV);
        insta::assert_snapshot!("az_tsv", tsv(&az()));
    }

    #[test]
    fn query_as_az_evaluates_it() {
        let token = query(az(), Some("accessToken")).unwrap();
        assert_eq!(tsv(&token), "eyJ0eXAi.fake.token\n");
        assert_eq!(pretty(&token), "\"eyJ0eXAi.fake.token\"\n");
        let pair = query(az(), Some("[accessToken, expires_on]")).unwrap();
        assert_eq!(tsv(&pair), "eyJ0eXAi.fake.token\n1764000000\n");
        let obj = query(az(), Some("{t: tenant, ok: `true`, none: missing}")).unwrap();
        assert_eq!(tsv(&obj), "\tTrue\t72f988bf-86f1-41af-91ab-2d7cd011db47\n");
        let bad = query(az(), Some("accessToken[")).unwrap_err().to_string();
        assert!(bad.starts_with("--query `accessToken[`: "), "{bad}");
    }

    #[test]
    fn resource_scopes_as_az_writes_them() {
        assert_eq!(
            resource_scope("https://management.core.windows.net/"),
            "https://management.core.windows.net//.default"
        );
        assert_eq!(
            resource_scope("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"),
            "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"
        );
    }

    /// A hostile account name as a token endpoint could send it: a window-title OSC, a screen
    /// clear, a C1 CSI and a right-to-left override.
    const HOSTILE: &str = "evil\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}moc.osotnoc@ecila";

    fn token_for(username: Option<&str>) -> CachedToken {
        CachedToken::uncached(
            brickauth_core::AccessToken {
                secret: "not-a-jwt".to_owned().into(),
                expires_on: 1_764_000_000,
                refresh_on: None,
                token_type: "Bearer".to_owned(),
                scopes: Vec::new(),
            },
            brickauth_core::Account { username: username.map(str::to_owned), ..Default::default() },
            brickauth_cache::Identity {
                environment: "login.microsoftonline.com".to_owned(),
                tenant: "contoso.com".to_owned(),
                client_id: "00000000-0000-0000-0000-000000000001".to_owned(),
                scopes: Vec::new(),
            },
        )
    }

    #[test]
    fn who_shows_no_escape_sequence() {
        let shown = who(&token_for(Some(HOSTILE)), None);
        assert_eq!(shown, "evilmoc.osotnoc@ecila");
        let sp = who(&token_for(None), Some("app\u{1b}[2J-id"));
        assert_eq!(sp, "the service principal app-id");
        assert_eq!(super::shown("a\u{9d}0;t\u{9c}b\u{2066}c"), "abc");
    }

    #[test]
    fn tables_are_cut_only_on_a_terminal() {
        let size = || Some(120);
        assert_eq!(width_for(false, Some("80"), size), None, "a pipe gets every character");
        assert_eq!(width_for(true, Some("80"), size), Some(80));
        assert_eq!(width_for(true, Some(" 0"), size), Some(120));
        assert_eq!(width_for(true, Some("wide"), size), Some(120));
        assert_eq!(width_for(true, None, || Some(0)), None, "a terminal of unknown size");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abcd", 4), "abcd");
        assert_eq!(cut("ééééé", 3), "éé…");
    }

    #[test]
    fn local_times_name_their_zone() {
        let t = local_with_zone(1_764_000_000);
        assert!(
            t.ends_with(')') && (t.contains("(+") || t.contains("(-"))
                || t.ends_with(" UTC")
                // London in winter, and Wine's default zone
                || t.ends_with(" GMT")
                || t.contains(" +")
                || t.contains(" -"),
            "{t}"
        );
        assert_eq!(with_zone("2026-11-24 16:00:00", "UTC", "+00:00"), "2026-11-24 16:00:00 UTC");
        assert_eq!(with_zone("2026-11-24 17:00:00", "CET", "+01:00"), "2026-11-24 17:00:00 CET (+01:00)");
        assert_eq!(with_zone("2026-11-24 21:30:00", "+0530", "+05:30"), "2026-11-24 21:30:00 +05:30");
        assert_eq!(with_zone("2026-11-24 16:00:00", "GMT", "+00:00"), "2026-11-24 16:00:00 GMT");
        assert_eq!(with_zone("2026-11-24 16:00:00", "BST", "+01:00"), "2026-11-24 16:00:00 BST (+01:00)");
    }

    #[test]
    fn time_formats() {
        let az = local_az(1_764_000_000);
        assert_eq!(az.len(), "2025-11-24 16:00:00.000000".len(), "{az}");
        let r = local_rfc3339(1_764_000_000);
        assert!(r.contains('T') && (r.ends_with('Z') || r[r.len() - 6..].starts_with(['+', '-'])), "{r}");
    }
}
