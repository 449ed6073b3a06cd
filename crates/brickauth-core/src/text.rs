//! Server text made safe to show: the one place every string a server sent is cleaned before a
//! user sees it (error descriptions, non-JSON bodies, Databricks messages, device-code prompts).
//!
//! [`ServerText::clean`] removes terminal escape sequences (ANSI CSI, OSC, DCS/APC/PM/SOS and
//! two-byte `ESC x`), C0 and C1 control characters and Unicode bidirectional overrides, folds all
//! whitespace to single spaces, replaces every secret brickauth sent in the request (form values,
//! the bearer token — also in their URL-encoded forms) with `[REDACTED]`, and caps the result at
//! [`SHOWN_CHARS`] characters. [`ServerText::clean_full`] does the same but keeps line breaks and
//! caps at [`FULL_CHARS`], for `-vv` logs.
//!
//! Bodies are read with a size limit ([`crate::http::ERROR_BODY_LIMIT`]) before they get here, so
//! a hostile server cannot make brickauth hold or print megabytes.

use std::sync::Arc;

/// Characters of server text shown in an error message.
pub const SHOWN_CHARS: usize = 300;
/// Characters of server text logged at `-vv`.
pub const FULL_CHARS: usize = 16 * 1024;
/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";
/// Shorter values are not redacted (they would blank out ordinary words such as `1`).
const MIN_SECRET_LEN: usize = 4;

/// A cleaner for the text of one server answer, knowing the secrets sent in that request.
///
/// Cheap to clone (the secrets are shared). `Debug` never shows them.
#[derive(Clone, Default)]
pub struct ServerText {
    secrets: Arc<Vec<String>>,
}

impl std::fmt::Debug for ServerText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerText").field("secrets", &self.secrets.len()).finish()
    }
}

impl ServerText {
    /// A cleaner that redacts `secrets` (and their URL-encoded forms).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut all = Vec::new();
        for s in secrets {
            if s.len() < MIN_SECRET_LEN {
                continue;
            }
            let form: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
            let percent = form.replace('+', "%20");
            for v in [s.to_owned(), form, percent] {
                if !all.contains(&v) {
                    all.push(v);
                }
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
        ServerText { secrets: Arc::new(all) }
    }

    /// This cleaner plus more secrets (a header value, say).
    pub fn with<'a>(&self, more: impl IntoIterator<Item = &'a str>) -> Self {
        let mut fresh = ServerText::new(more);
        let mut all: Vec<String> = self.secrets.iter().cloned().collect();
        for s in Arc::make_mut(&mut fresh.secrets).drain(..) {
            if !all.contains(&s) {
                all.push(s);
            }
        }
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
        ServerText { secrets: Arc::new(all) }
    }

    /// One line for an error message: no control characters or escape sequences, no secret,
    /// at most [`SHOWN_CHARS`] characters (`…` marks a cut).
    pub fn clean(&self, raw: &str) -> String {
        self.run(raw, false, SHOWN_CHARS)
    }

    /// Bytes as [`ServerText::clean`] (invalid UTF-8 replaced).
    pub fn clean_bytes(&self, raw: &[u8]) -> String {
        self.clean(&String::from_utf8_lossy(raw))
    }

    /// The whole text for a `-vv` log: as [`ServerText::clean`] but line breaks kept and capped at
    /// [`FULL_CHARS`].
    pub fn clean_full(&self, raw: &[u8]) -> String {
        self.run(&String::from_utf8_lossy(raw), true, FULL_CHARS)
    }

    fn run(&self, raw: &str, keep_lines: bool, cap: usize) -> String {
        let stripped = strip_controls(raw, keep_lines);
        let redacted = self.redact(&stripped);
        let folded = if keep_lines {
            redacted.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n")
        } else {
            redacted.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        cap_chars(folded.trim(), cap)
    }

    /// Replace every secret in `text` by [`REDACTED`]; a secret's beginning at the very end of
    /// `text` (a body cut by the size limit) too.
    fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in self.secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        for s in self.secrets.iter() {
            let mut n = s.len().saturating_sub(1);
            while n >= MIN_SECRET_LEN {
                if s.is_char_boundary(n) && out.ends_with(&s[..n]) {
                    let cut = out.len() - n;
                    out.truncate(cut);
                    out.push_str(REDACTED);
                    break;
                }
                n -= 1;
            }
        }
        out
    }
}

/// Remove escape sequences and control characters; whitespace controls become a space (or stay
/// a line break when `keep_lines`).
fn strip_controls(raw: &str, keep_lines: bool) -> String {
    let mut out = String::with_capacity(raw.len().min(FULL_CHARS * 4));
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek().copied() {
                // CSI: ESC [ parameters… final byte 0x40–0x7E.
                Some('[') => {
                    chars.next();
                    for d in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&d) {
                            break;
                        }
                    }
                }
                // OSC, DCS, SOS, PM, APC: until BEL or ST (ESC \).
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    chars.next();
                    skip_string(&mut chars);
                }
                // Any other two-byte escape.
                Some(_) => {
                    chars.next();
                }
                None => {}
            },
            // C1 CSI.
            '\u{9b}' => {
                for d in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&d) {
                        break;
                    }
                }
            }
            // C1 OSC, DCS, SOS, PM, APC.
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\n' if keep_lines => out.push('\n'),
            '\r' if keep_lines => {}
            c if c.is_whitespace() => out.push(' '),
            c if c.is_control() => {}
            // Bidirectional overrides and isolates reorder what the terminal shows.
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Skip an escape string up to and including its terminator (BEL, ESC \ or C1 ST).
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(d) = chars.next() {
        match d {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                return;
            }
            _ => {}
        }
    }
}

/// At most `cap` characters, `…` marking a cut. The cut falls between words when a word ends in
/// the last 48 characters (`WORD_SLACK`), so an id or a URL is shown whole or not at all (an
/// AADSTS line cut mid-GUID sends a person searching for an id that does not exist).
pub fn cap_chars(s: &str, cap: usize) -> String {
    match s.char_indices().nth(cap) {
        None => s.to_owned(),
        Some((i, next)) => {
            let mut end = i;
            if !next.is_whitespace() {
                let floor = s[..i].char_indices().rev().nth(WORD_SLACK).map_or(0, |(j, _)| j);
                if let Some((j, _)) = s[floor..i].char_indices().rev().find(|(_, c)| c.is_whitespace()) {
                    end = floor + j;
                }
            }
            let mut t = s[..end].trim_end().to_owned();
            t.push('…');
            t
        }
    }
}

/// How far back [`cap_chars`] looks for the end of a word.
const WORD_SLACK: usize = 48;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_escape_sequences_and_controls() {
        let t = ServerText::default();
        assert_eq!(t.clean("\u{1b}[31mred\u{1b}[0m text"), "red text");
        assert_eq!(t.clean("a\u{1b}]0;evil title\u{7}b"), "ab");
        assert_eq!(t.clean("a\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\b"), "alinkb");
        assert_eq!(t.clean("a\u{9b}2Jb\u{9d}0;t\u{9c}c"), "abc");
        assert_eq!(t.clean("bell\u{7}\u{8}\u{0}s\u{7f}"), "bells");
        assert_eq!(t.clean("x\u{1b}Py\u{1b}\\z"), "xz");
        assert_eq!(t.clean("one\r\ntwo\tthree"), "one two three");
        assert_eq!(t.clean("ab\u{202e}cd\u{2066}"), "abcd");
        assert_eq!(t.clean("unterminated \u{1b}]0;title"), "unterminated");
        assert_eq!(t.clean_full(b"line 1\r\nline \x1b[1m2\x1b[0m\n"), "line 1\nline 2");
    }

    #[test]
    fn caps_length() {
        let t = ServerText::default();
        let long = "é".repeat(10_000);
        let shown = t.clean(&long);
        assert_eq!(shown.chars().count(), SHOWN_CHARS + 1);
        assert!(shown.ends_with('…'));
        assert_eq!(t.clean_full(long.as_bytes()).chars().count(), 10_000);
        assert_eq!(t.clean_full("x".repeat(FULL_CHARS * 2).as_bytes()).chars().count(), FULL_CHARS + 1);
    }

    #[test]
    fn cuts_between_words() {
        let id = "7c1f3a2e-52b4-4b8e-9d3f-0a1b2c3d4e5f";
        let line = format!("AADSTS500011: {} Trace ID: {id} Correlation ID: {id}", "word ".repeat(50));
        let cap = line.find("Trace ID: ").unwrap() + "Trace ID: ".len() + 10;
        let shown = cap_chars(&line, cap);
        assert!(shown.ends_with("Trace ID:…"), "{shown}");
        assert!(!shown.contains("7c1f"), "an id cut in two: {shown}");
        // No word end near the cut: cut where the cap falls.
        assert_eq!(cap_chars(&"x".repeat(100), 10).chars().count(), 11);
    }

    #[test]
    fn redacts_what_was_sent() {
        let t = ServerText::new(["correct horse battery staple", "eyJ.refresh.token", "ab"]);
        let echo = "grant_type=password&password=correct+horse+battery+staple&refresh_token=eyJ.refresh.token";
        let shown = t.clean(echo);
        assert_eq!(shown, "grant_type=password&password=[REDACTED]&refresh_token=[REDACTED]");
        assert_eq!(t.clean("pw: correct horse battery staple!"), "pw: [REDACTED]!");
        assert_eq!(t.clean("pw: correct%20horse%20battery%20staple"), "pw: [REDACTED]");
        // Too short to redact safely.
        assert_eq!(t.clean("ab cd"), "ab cd");
        // A secret split by an escape sequence is joined, then redacted.
        assert_eq!(t.clean("correct horse \u{1b}[0mbattery staple"), "[REDACTED]");
        // The beginning of a secret where a body was cut.
        assert_eq!(t.clean_full(b"token: eyJ.refr"), "token: [REDACTED]");
        // A secret beyond the cap is redacted before the cut, so no prefix shows.
        let padded = format!("{}correct horse battery staple", "x".repeat(SHOWN_CHARS - 5));
        assert!(!t.clean(&padded).contains("corr"), "{}", t.clean(&padded));
        assert!(!format!("{t:?}").contains("horse"));
        let more = t.with(["header-secret-value"]);
        assert_eq!(more.clean("h=header-secret-value pw=correct horse battery staple"), "h=[REDACTED] pw=[REDACTED]");
    }
}
