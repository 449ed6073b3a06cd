//! Printing tokens: `-o raw|json|env` and the Databricks CLI's `auth token` shape.

use brickauth_cache::CachedToken;
use brickauth_core::jwt;
use serde_json::{Map, Value, json};

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
}

/// The bare token and a newline.
pub fn raw(t: &CachedToken) -> String {
    format!("{}\n", t.access_token.expose())
}

/// An object whose keys are a superset of `az account get-access-token`'s, sorted as az sorts them.
pub fn json(t: &CachedToken, meta: &TokenMeta<'_>, include_refresh_token: bool) -> String {
    let at = &t.access_token;
    let tenant = t
        .account
        .tenant_id
        .clone()
        .or_else(|| jwt::decode(at.expose()).ok().and_then(|j| j.claims.get("tid")?.as_str().map(str::to_owned)))
        .unwrap_or_else(|| meta.tenant.to_owned());
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
    if include_refresh_token && let Some(rt) = &t.refresh_token {
        use brickauth_core::ExposeSecret;
        m.insert("refreshToken".into(), json!(rt.expose_secret()));
    }
    let mut s = serde_json::to_string_pretty(&Value::Object(m)).unwrap_or_default();
    s.push('\n');
    s
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
    Some(ts.to_zoned_datetime(jiff::tz::TimeZone::system()))
}

/// az's `expiresOn`: local time, naive, `YYYY-MM-DD HH:MM:SS.ffffff`.
pub fn local_az(epoch: i64) -> String {
    zoned(epoch).map(|z| z.strftime("%Y-%m-%d %H:%M:%S.%6f").to_string()).unwrap_or_default()
}

/// Local time as RFC 3339 with microseconds and offset: `2026-11-24T19:30:00.000000+01:00`.
pub fn local_rfc3339(epoch: i64) -> String {
    zoned(epoch).map(|z| z.strftime("%Y-%m-%dT%H:%M:%S.%6f%:z").to_string()).unwrap_or_default()
}

/// Local time with its zone, for people: `2026-11-24 17:00:00 CET (+01:00)`.
pub fn local_with_zone(epoch: i64) -> String {
    zoned(epoch).map(|z| z.strftime("%Y-%m-%d %H:%M:%S %Z (%:z)").to_string()).unwrap_or_default()
}

/// Who a token belongs to, for people: the user name; for a service principal (no user name),
/// its client id and, when the token carries it, its display name.
pub fn who(t: &CachedToken, client_id: Option<&str>) -> String {
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
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("https://adb-1.2.azuredatabricks.net"), "https://adb-1.2.azuredatabricks.net");
        assert_eq!(shell_quote("a b'c"), r"'a b'\''c'");
    }

    #[test]
    fn local_times_name_their_zone() {
        let t = local_with_zone(1_764_000_000);
        assert!(t.ends_with(')') && t.contains("(+") || t.contains("(-"), "{t}");
    }

    #[test]
    fn time_formats() {
        let az = local_az(1_764_000_000);
        assert_eq!(az.len(), "2025-11-24 16:00:00.000000".len(), "{az}");
        let r = local_rfc3339(1_764_000_000);
        assert!(r.contains('T') && (r.ends_with('Z') || r[r.len() - 6..].starts_with(['+', '-'])), "{r}");
    }
}
