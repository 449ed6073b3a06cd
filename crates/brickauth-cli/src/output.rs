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
        code: 2,
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
    fn time_formats() {
        let az = local_az(1_764_000_000);
        assert_eq!(az.len(), "2025-11-24 16:00:00.000000".len(), "{az}");
        let r = local_rfc3339(1_764_000_000);
        assert!(r.contains('T') && (r.ends_with('Z') || r[r.len() - 6..].starts_with(['+', '-'])), "{r}");
    }
}
