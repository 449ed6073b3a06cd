//! `brickauth status [-o text|json] [--check]`: every profile of the profile file, its flow, the
//! account it is signed in as, its access token's expiry and where its refresh token is kept
//! (`keychain`, `keyring` — sealed in the file with a key held there — or `file`, in clear).
//!
//! From the cache only: one read of `tokens.json`, no network, no sign-in, no secret resolved,
//! no command run, no key store contacted. A profile bound through a configured credential (a refresh-token profile) is
//! shown as bound even if that credential has changed since: checking would mean resolving it.
//!
//! The text table fits the terminal (not a pipe: see `output::table_width`) and shows account
//! names cleaned of escape sequences; `-o json` carries them exactly.
//!
//! `--check` prints nothing and only sets the exit code: 0 when every profile is usable without
//! a person (a valid access token, or a refresh token to renew it), 3 when some profile needs a
//! sign-in, 2 when some profile is invalid (2 wins over 3).

use std::process::ExitCode;

use anyhow::Result;
use brickauth_cache::{AccountHint, CacheView, CachedToken, Identity, Storage, TokenCache};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use crate::context::Context;
use crate::output::{print, relative};
use crate::report::Exit;

/// `brickauth status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Output format
    #[arg(short, long, value_enum, default_value_t = StatusFormat::Text)]
    pub output: StatusFormat,
    /// Print nothing; exit 0 if every profile has a usable token or a refresh token, 3 if some
    /// profile needs a sign-in, 2 if some profile is invalid
    #[arg(long)]
    pub check: bool,
}

/// `status -o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// One line per profile
    Text,
    /// An object with one entry per profile
    Json,
}

/// What the cache says about one profile.
struct Row {
    name: String,
    default: bool,
    flow: Option<&'static str>,
    state: State,
}

enum State {
    /// The profile cannot be loaded or names an invalid identity.
    Invalid(String),
    /// No token for the profile's account.
    SignedOut,
    /// A token: who, until when, and where its refresh token is kept (if it has one).
    SignedIn { account: String, service_principal: bool, expires_on: i64, refresh_token: Option<Storage> },
}

impl Row {
    /// Usable without a person: a token with at least the 40 s floor left, or a refresh token.
    fn usable(&self, now: i64) -> bool {
        match self.state {
            State::SignedIn { expires_on, refresh_token, .. } => refresh_token.is_some() || expires_on - now >= 40,
            _ => false,
        }
    }
}

/// `brickauth status`: every profile of both files (the TOML profile file, then the
/// `~/.databrickscfg` sections it does not hide); with `-p NAME` or `--flow`, only the profile
/// every other command would use.
pub fn status(cx: &Context, args: &StatusArgs) -> Result<ExitCode> {
    let now = brickauth_core::now();
    // The cache under the profile file's `secret_storage` (unless `$BRICKAUTH_SECRET_STORAGE`).
    let (cache, view, rows) = if cx.profile.is_some() || cx.flow.is_some() {
        let profile = cx.profile()?;
        let cache = cx.auth().cache_for(&profile)?;
        let view = cache.read()?;
        let name = profile.name().to_owned();
        let rows = vec![row(&view, &name, true, Ok(profile))];
        (cache, view, rows)
    } else {
        let sources = cx.sources()?;
        if sources.toml.is_none() && sources.databrickscfg.is_none() {
            cx.file()?; // "no profile file here", with how to create one
        }
        let cache = cx.auth().cache_with(sources.toml.as_ref().and_then(|t| t.secret_storage()))?;
        let view = cache.read()?;
        // The star marks what `brickauth token` would use.
        let default = cx.selected_name(&sources);
        let rows: Vec<Row> = sources
            .list()
            .into_iter()
            .map(|(name, p)| row(&view, &name, default.as_deref() == Some(&name), p))
            .collect();
        (cache, view, rows)
    };

    if args.check {
        let invalid = rows.iter().any(|r| matches!(r.state, State::Invalid(_)));
        return Ok(if invalid {
            Exit::Usage.into()
        } else if rows.iter().all(|r| r.usable(now)) {
            ExitCode::SUCCESS
        } else {
            Exit::Auth.into()
        });
    }
    let out = match args.output {
        StatusFormat::Text => {
            text(&rows, now, view.unusable(), crate::output::table_width()) + &storage_note(&cache, &view)
        }
        StatusFormat::Json => {
            let mut s = serde_json::to_string_pretty(&to_json(&rows, now, &cache, &view))?;
            s.push('\n');
            s
        }
    };
    print(&out)
}

fn row(
    view: &CacheView,
    name: &str,
    default: bool,
    profile: Result<brickauth_profile::Profile, brickauth_profile::ProfileError>,
) -> Row {
    let mut r = Row { name: name.to_owned(), default, flow: None, state: State::SignedOut };
    let profile = match profile {
        Ok(p) => p,
        Err(e) => {
            r.state = State::Invalid(e.to_string());
            return r;
        }
    };
    r.flow = Some(profile.flow().name);
    let app = match brickauth_core::flow::app_config(&profile) {
        Ok(app) => app,
        Err(e) => {
            r.state = State::Invalid(e.to_string());
            return r;
        }
    };
    // The binding the provider itself uses (per flow in the environment-only mode).
    let hint = AccountHint::of(&profile);
    if let Some(t) = view.lookup(&Identity::of(&app), &hint) {
        r.state = signed_in(&t);
    }
    r
}

fn signed_in(t: &CachedToken) -> State {
    let (account, service_principal) = crate::identity::principal(t);
    State::SignedIn {
        account,
        service_principal,
        expires_on: t.access_token.expires_on,
        refresh_token: t.refresh_token_storage,
    }
}

/// The table: `PROFILE FLOW ACCOUNT ACCESS TOKEN REFRESH TOKEN`, fitted to `width` (see
/// [`fit`]); the notes after it are wrapped to `width`. Account names are server text, shown
/// cleaned.
fn text(rows: &[Row], now: i64, unusable: Option<&str>, width: Option<usize>) -> String {
    let table = fit(rows, now, width);
    let mut out = String::new();
    for line in &table.lines {
        out.push_str(&line_of(line, &table.widths));
        out.push('\n');
    }
    let mut notes = Vec::new();
    for r in rows {
        if let State::Invalid(e) = &r.state {
            notes.push(format!("profile `{}` is invalid: {}", r.name, first_line(e)));
        }
    }
    if let Some(why) = unusable {
        notes.push(format!("The token cache is unusable ({why}); the next sign-in moves it aside."));
    }
    for note in notes {
        out.push('\n');
        out.push_str(&wrap(&note, width));
    }
    out
}

/// The table's cells and column widths.
struct Table {
    lines: Vec<[String; 5]>,
    widths: [usize; 5],
}

/// The table in `width` columns: the full one when it fits (or `width` is `None`: not a
/// terminal). Else, in turn, until it fits: the expiry as a relative time only (`in 59 min`) under
/// shorter headers, then `ACCOUNT` cut with `…` (down to 12 characters); `PROFILE` — what `-p`
/// takes — is never cut.
fn fit(rows: &[Row], now: i64, width: Option<usize>) -> Table {
    let full = table(rows, now, false);
    let Some(width) = width else { return full };
    if full.total() <= width {
        return full;
    }
    let mut compact = table(rows, now, true);
    let over = compact.total().saturating_sub(width);
    compact.widths[ACCOUNT] =
        compact.widths[ACCOUNT].saturating_sub(over).max(ACCOUNT_MIN.min(compact.widths[ACCOUNT]));
    compact
}

const ACCOUNT: usize = 2;
/// `ACCOUNT` is never cut narrower.
const ACCOUNT_MIN: usize = 12;

impl Table {
    /// The widest line's width.
    fn total(&self) -> usize {
        self.widths.iter().sum::<usize>() + 2 * (self.widths.len() - 1)
    }
}

fn table(rows: &[Row], now: i64, compact: bool) -> Table {
    let headers = if compact {
        ["PROFILE", "FLOW", "ACCOUNT", "EXPIRES", "REFRESH"]
    } else {
        ["PROFILE", "FLOW", "ACCOUNT", "ACCESS TOKEN", "REFRESH TOKEN"]
    };
    let mut lines: Vec<[String; 5]> = vec![headers.map(str::to_owned)];
    for r in rows {
        let name = format!("{}{}", if r.default { "*" } else { " " }, r.name);
        let flow = r.flow.unwrap_or("-").to_owned();
        lines.push(match &r.state {
            State::Invalid(_) => [name, flow, "(invalid profile: see below)".into(), String::new(), String::new()],
            State::SignedOut => [name, flow, "(not signed in)".into(), "-".into(), "-".into()],
            State::SignedIn { account, service_principal, expires_on, refresh_token } => [
                name,
                flow,
                crate::output::shown(&if *service_principal {
                    format!("service principal {account}")
                } else {
                    account.clone()
                }),
                if compact { relative(expires_on - now) } else { expiry(*expires_on, now) },
                refresh_token.map_or("no".into(), |s| format!("yes ({s})")),
            ],
        });
    }
    let mut widths = [0usize; 5];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    Table { lines, widths }
}

fn line_of(cells: &[String; 5], widths: &[usize; 5]) -> String {
    let mut l = String::new();
    for (cell, &w) in cells.iter().zip(widths) {
        let cell = crate::output::cut(cell, w);
        let pad = w.saturating_sub(cell.chars().count()) + 2;
        l.push_str(&cell);
        l.extend(std::iter::repeat_n(' ', pad));
    }
    l.trim_end().to_owned()
}

/// `text` broken at spaces into lines of at most `width` characters (a longer word stays whole).
fn wrap(text: &str, width: Option<usize>) -> String {
    let Some(width) = width else { return format!("{text}\n") };
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

fn to_json(rows: &[Row], now: i64, cache: &TokenCache, view: &CacheView) -> Value {
    let unusable = view.unusable();
    let profiles: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut v = json!({ "profile": r.name, "default": r.default, "flow": r.flow, "usable": r.usable(now) });
            let extra = match &r.state {
                State::Invalid(e) => json!({ "signed_in": false, "error": e }),
                State::SignedOut => json!({ "signed_in": false }),
                State::SignedIn { account, service_principal, expires_on, refresh_token } => json!({
                    "signed_in": true,
                    "account": account,
                    "account_type": if *service_principal { "service_principal" } else { "user" },
                    "expires_on": expires_on,
                    "expiresOn": local_time(*expires_on),
                    "expires_in": expires_on - now,
                    "refresh_token": refresh_token.is_some(),
                    "refresh_token_storage": refresh_token.map(Storage::as_str),
                }),
            };
            if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
                o.extend(e);
            }
            v
        })
        .collect();
    let storage = view.storage();
    json!({
        "cache": cache.path(),
        "cache_unusable": unusable,
        "secret_storage": {
            "policy": cache.storage_policy().to_string(),
            "storage": storage.map(Storage::as_str),
            "store": storage.map(|s| cache.describe_storage(s)),
        },
        "profiles": profiles,
    })
}

/// Where the file's refresh tokens are kept, in a sentence (empty when none is decided yet).
fn storage_note(cache: &TokenCache, view: &CacheView) -> String {
    match view.storage() {
        None => String::new(),
        Some(Storage::File) => {
            format!("\nRefresh tokens are kept in clear in {} (mode 0600).\n", cache.path().display())
        }
        Some(s @ Storage::Keychain) => {
            format!("\nRefresh tokens are sealed in the cache file with a key held by {}.\n", cache.describe_storage(s))
        }
        Some(s @ Storage::Keyring) => format!(
            "\nRefresh tokens are sealed in the cache file with a key held by {}; it is emptied at reboot, \
             and the profiles then sign in again.\n",
            cache.describe_storage(s)
        ),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

fn expiry(expires_on: i64, now: i64) -> String {
    format!("{} ({})", local_time(expires_on), relative(expires_on - now))
}

/// Local time with its zone: `2026-12-02 09:41:00 CET`.
pub fn local_time(epoch: i64) -> String {
    let Ok(ts) = jiff::Timestamp::from_second(epoch) else { return epoch.to_string() };
    ts.to_zoned_datetime(crate::output::local_tz()).strftime("%Y-%m-%d %H:%M:%S %Z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times() {
        assert_eq!(relative(42), "in 42 s");
        assert_eq!(relative(3599), "in 59 min");
        assert_eq!(relative(3600), "in 1 h");
        assert_eq!(relative(2 * 3600 + 300), "in 2 h 5 min");
        assert_eq!(relative(-180), "expired 3 min ago");
        assert_eq!(relative(-3 * 86_400), "expired 3 d ago");
        assert_eq!(relative(i64::MIN), format!("expired {} d ago", i64::MAX / 86_400));
    }

    #[test]
    fn local_time_has_a_zone() {
        let t = local_time(1_764_000_000);
        assert!(t.starts_with("2025-11-2") && t.len() > "2025-11-24 16:00:00 ".len(), "{t}");
    }

    fn signed_in_row(name: &str, account: &str, service_principal: bool) -> Row {
        Row {
            name: name.to_owned(),
            default: name == "alice",
            flow: Some("authorization-code"),
            state: State::SignedIn {
                account: account.to_owned(),
                service_principal,
                expires_on: 1_764_003_540,
                refresh_token: Some(brickauth_cache::Storage::File),
            },
        }
    }

    fn rows() -> Vec<Row> {
        vec![
            signed_in_row("alice", "alice.longname-of-the-data-platform-team@contoso.onmicrosoft.com", false),
            signed_in_row("etl-nightly", "3f2a1b4c-0000-4a5b-9c8d-112233445566", true),
            Row {
                name: "broken".to_owned(),
                default: false,
                flow: None,
                state: State::Invalid(
                    "profiles.toml:12:1: profile `broken`: unknown key `usernme` for flow `password` (did you \
                     mean `username`?)"
                        .to_owned(),
                ),
            },
            Row { name: "device".to_owned(), default: false, flow: Some("device-code"), state: State::SignedOut },
        ]
    }

    #[test]
    fn the_table_fits_80_columns() {
        let now = 1_764_000_000;
        let t = text(&rows(), now, Some("version 9 is newer than this brickauth"), Some(80));
        assert!(t.lines().all(|l| l.chars().count() <= 80), "{t}");
        assert!(t.contains("*alice") && t.contains(" etl-nightly") && t.contains("in 59 min"), "{t}");
        assert!(t.contains("did you mean `username`?"), "the note is wrapped, not cut:\n{t}");
        let full = text(&rows(), now, None, None);
        assert!(full.lines().any(|l| l.chars().count() > 80), "{full}");
        assert!(full.contains("alice.longname-of-the-data-platform-team@contoso.onmicrosoft.com"), "{full}");
        assert_eq!(text(&rows(), now, None, Some(400)), full);
    }

    #[test]
    fn account_names_are_cleaned_in_text_only() {
        let hostile = "eve\u{1b}]0;title\u{7}\u{1b}[2J\u{202e}@contoso.com";
        let rows = vec![signed_in_row("eve", hostile, false)];
        let t = text(&rows, 1_764_000_000, None, None);
        assert!(t.contains("eve@contoso.com") && !t.contains(['\u{1b}', '\u{7}', '\u{202e}']), "{t:?}");
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::at(dir.path());
        let json = to_json(&rows, 1_764_000_000, &cache, &cache.read().unwrap());
        assert_eq!(json["profiles"][0]["account"], hostile, "JSON stays exact");
    }
}
