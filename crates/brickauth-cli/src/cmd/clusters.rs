//! `brickauth clusters list | get`: the workspace's clusters, as a table that fits the terminal or
//! as JSON.
//!
//! Rows are printed page by page as the pages arrive (`--sort` is the exception: it needs every
//! row first), so a large workspace shows its first clusters at once and memory stays flat.
//!
//! On a terminal the table fits `$COLUMNS`, else the terminal's width (`output::table_width`). The
//! cluster id, the state and the worker count are never cut: they are what scripts and `clusters
//! get` need. The free-text columns are cut with `…` and kept in order of use, as `gh` and the
//! Databricks CLI keep a list's name: each first gets its minimum, then the width left goes to
//! `NAME` (whole if it fits), then `CREATOR`, `RUNTIME`, `NODE TYPE`; while `NAME` would still be
//! cut, `NODE TYPE`, then `RUNTIME`, then `CREATOR` are hidden (the Databricks CLI's table shows
//! only id, name and state). A pipe or a file is never cut, `$COLUMNS` or
//! not (a script reading the table must not see `…`), and neither is `--wide`. Column widths are
//! decided from the first page and kept, so later pages line up with it.
//!
//! Every cell is server text: it is shown cleaned (`output::shown`: no escape sequence, control
//! character or bidirectional override reaches the terminal). JSON carries the server's values
//! exactly.
//!
//! JSON output is one array of the server's objects, passed through unparsed, and is valid JSON
//! whatever happens: nothing is written before the first page has arrived (a failed first request
//! leaves stdout empty), and a failure on a later page closes the array before the error is
//! reported (stdout holds the clusters listed so far; the exit code says it is incomplete).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use brickauth_databricks::{ClusterDetails, ListOptions};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::value::RawValue;

use crate::context::{Context, run};
use crate::output::print;
use crate::output::{cut, shown};

/// `brickauth clusters …`.
#[derive(Debug, Subcommand)]
pub enum ClustersCommand {
    /// Every cluster: id, name, state, runtime, node type, workers, creator
    List(ListArgs),
    /// One cluster's full description, as JSON
    Get {
        /// The cluster id
        #[arg(add = clap_complete::ArgValueCompleter::new(crate::complete::clusters))]
        cluster_id: String,
    },
}

/// `brickauth clusters list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format (`json`: one array of the full objects, streamed)
    #[arg(short, long, value_enum, default_value_t)]
    pub output: ClusterFormat,
    /// Show every column in full, however wide the terminal
    #[arg(long)]
    pub wide: bool,
    /// Only clusters in this state (RUNNING, TERMINATED, PENDING, …); repeat for several
    #[arg(long, value_name = "STATE")]
    pub state: Vec<String>,
    /// Only clusters whose name contains this text, or matches it as a glob (`*`, `?`); no case
    #[arg(long, value_name = "PATTERN")]
    pub name: Option<String>,
    /// Only clusters whose creator contains this text (no case)
    #[arg(long, value_name = "USER")]
    pub creator: Option<String>,
    /// Sort by this column (reads every page before printing)
    #[arg(long, value_enum, value_name = "COLUMN")]
    pub sort: Option<SortKey>,
    /// Print at most this many clusters (stops fetching pages once reached)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// No header line in the table
    #[arg(long)]
    pub no_headers: bool,
}

/// `clusters list` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ClusterFormat {
    /// A table
    #[default]
    Table,
    /// One JSON array of the full cluster objects
    Json,
}

/// `clusters list --sort` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortKey {
    /// The cluster id
    Id,
    /// The cluster name (no case)
    Name,
    /// The state
    State,
    /// The runtime (spark_version)
    Runtime,
    /// The creator
    Creator,
    /// The number of workers (the autoscale maximum for autoscaling clusters)
    Workers,
}

/// `brickauth clusters …`.
pub fn clusters(cx: &Context, command: &ClustersCommand) -> Result<ExitCode> {
    match command {
        ClustersCommand::List(args) => list(cx, args),
        ClustersCommand::Get { cluster_id } => {
            let (client, profile) = cx.client()?;
            let c = run(&profile, async { Ok(client.clusters().get(cluster_id).await?) })?;
            print(&format!("{}\n", serde_json::to_string_pretty(&c)?))
        }
    }
}

/// A cluster as listed: the server's JSON and the fields the table and the filters read.
struct Listed {
    raw: Box<RawValue>,
    details: ClusterDetails,
}

fn list(cx: &Context, args: &ListArgs) -> Result<ExitCode> {
    let filter = Filter::new(args);
    let (client, profile) = cx.client()?;
    let mut pages = client.clusters().list(ListOptions { page_size: Some(100), ..ListOptions::default() });
    let width = if args.wide { None } else { crate::output::table_width() };
    let mut out = Output::new(args, width);
    let result: Result<()> = run(&profile, async {
        let mut kept = 0usize;
        let mut sorted = Vec::new();
        while let Some(page) = pages.next_page_raw().await? {
            let mut rows = Vec::with_capacity(page.len());
            for raw in page {
                let details: ClusterDetails = serde_json::from_str(raw.get())?;
                if !filter.keeps(&details) {
                    continue;
                }
                if args.limit.is_some_and(|n| kept >= n) && args.sort.is_none() {
                    break;
                }
                kept += 1;
                rows.push(Listed { raw, details });
            }
            match args.sort {
                Some(_) => sorted.extend(rows),
                None => {
                    if out.page(&rows)? {
                        return Ok(());
                    }
                }
            }
            if args.sort.is_none() && args.limit.is_some_and(|n| kept >= n) {
                break;
            }
        }
        if let Some(key) = args.sort {
            sorted.sort_by_cached_key(|c| sort_key(&c.details, key));
            sorted.truncate(args.limit.unwrap_or(usize::MAX));
            out.page(&sorted)?;
        }
        Ok(())
    });
    // Close what was opened, even after a failure, so the output stays well formed.
    let closed = out.finish();
    result?;
    closed?;
    Ok(ExitCode::SUCCESS)
}

/// `--state`, `--name`, `--creator`.
struct Filter {
    states: Vec<String>,
    name: Option<Pattern>,
    creator: Option<String>,
}

impl Filter {
    fn new(args: &ListArgs) -> Filter {
        Filter {
            states: args.state.iter().map(|s| s.trim().to_ascii_uppercase()).collect(),
            name: args.name.as_deref().map(Pattern::new),
            creator: args.creator.as_deref().map(str::to_lowercase),
        }
    }

    fn keeps(&self, c: &ClusterDetails) -> bool {
        let state = c.state.as_deref().unwrap_or_default();
        (self.states.is_empty() || self.states.iter().any(|s| s.eq_ignore_ascii_case(state)))
            && self.name.as_ref().is_none_or(|p| p.matches(c.cluster_name.as_deref().unwrap_or_default()))
            && self.creator.as_ref().is_none_or(|want| {
                c.creator_user_name.as_deref().unwrap_or_default().to_lowercase().contains(want.as_str())
            })
    }
}

/// A `--name` pattern: a glob when it has `*` or `?`, else a substring; case-insensitive.
enum Pattern {
    Substring(String),
    Glob(Vec<char>),
}

impl Pattern {
    fn new(p: &str) -> Pattern {
        let p = p.to_lowercase();
        if p.contains(['*', '?']) { Pattern::Glob(p.chars().collect()) } else { Pattern::Substring(p) }
    }

    fn matches(&self, text: &str) -> bool {
        let text = text.to_lowercase();
        match self {
            Pattern::Substring(s) => text.contains(s.as_str()),
            Pattern::Glob(g) => glob(g, &text.chars().collect::<Vec<_>>()),
        }
    }
}

/// `*` any run, `?` one character; iterative with one backtrack point, so linear-ish, never
/// exponential on patterns like `a*a*a*a*b`.
fn glob(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum SortValue {
    Number(u64),
    Text(String),
}

fn sort_key(c: &ClusterDetails, key: SortKey) -> (SortValue, String) {
    let text = |v: &Option<String>| SortValue::Text(v.as_deref().unwrap_or_default().to_lowercase());
    let value = match key {
        SortKey::Id => text(&c.cluster_id),
        SortKey::Name => text(&c.cluster_name),
        SortKey::State => text(&c.state),
        SortKey::Runtime => text(&c.spark_version),
        SortKey::Creator => text(&c.creator_user_name),
        SortKey::Workers => {
            SortValue::Number(u64::from(c.autoscale.and_then(|a| a.max_workers).or(c.num_workers).unwrap_or_default()))
        }
    };
    // Ties in a stable order.
    (value, c.cluster_id.clone().unwrap_or_default())
}

/// Where the rows go: a table or a JSON array, written page by page.
struct Output {
    out: std::io::BufWriter<std::io::StdoutLock<'static>>,
    json: bool,
    headers: bool,
    width: Option<usize>,
    /// Column widths, decided by the first page.
    widths: Option<[usize; 7]>,
    /// JSON: `[` written, and how many objects.
    opened: bool,
    written: usize,
    /// The reader went away (`| head`): stop quietly.
    closed: bool,
}

impl Output {
    fn new(args: &ListArgs, width: Option<usize>) -> Output {
        Output {
            out: std::io::BufWriter::new(std::io::stdout().lock()),
            json: args.output == ClusterFormat::Json,
            headers: !args.no_headers,
            width,
            widths: None,
            opened: false,
            written: 0,
            closed: false,
        }
    }

    /// Print one page; `Ok(true)` when the reader has gone away.
    fn page(&mut self, rows: &[Listed]) -> Result<bool> {
        let text = if self.json {
            let mut s = String::new();
            if !self.opened {
                s.push('[');
                self.opened = true;
            }
            for c in rows {
                s.push_str(if self.written == 0 { "\n" } else { ",\n" });
                s.push_str(c.raw.get());
                self.written += 1;
            }
            s
        } else {
            let cells: Vec<[String; 7]> = rows.iter().map(|c| row(&c.details)).collect();
            let header = self.widths.is_none() && self.headers;
            let widths = *self.widths.get_or_insert_with(|| fit(&cells, self.width));
            render(header.then_some(&HEADERS), &cells, &widths, self.width.is_some())
        };
        self.write(text.as_bytes())?;
        Ok(self.closed)
    }

    /// Close the JSON array and flush. Nothing is written when no page came (the first request
    /// failed), so stdout stays empty rather than holding half a document.
    fn finish(&mut self) -> Result<()> {
        if self.json && self.opened {
            let tail: &[u8] = if self.written == 0 { b"]\n" } else { b"\n]\n" };
            self.write(tail)?;
        }
        if !self.closed {
            crate::output::ok_or_pipe(self.out.flush())?;
        }
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.out.write_all(bytes) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            r => Ok(r?),
        }
    }
}

const HEADERS: [&str; 7] = ["CLUSTER ID", "NAME", "STATE", "RUNTIME", "NODE TYPE", "WORKERS", "CREATOR"];
/// Columns that may be cut to fit, most useful first: the width left after every column's
/// minimum goes to them in this order (`NAME`, `CREATOR`, `RUNTIME`, `NODE TYPE`).
const BY_USE: [usize; 4] = [1, 6, 3, 4];
/// No column is cut narrower than this (or its header).
const MIN_WIDTH: usize = 6;
/// Columns hidden, in this order, while `NAME` would be cut (the Databricks CLI's own table shows
/// only id, name and state).
const HIDE_ORDER: [usize; 3] = [4, 3, 6];
const GAP: usize = 2;
/// Spare width `NAME` takes first on a terminal, for the longer names of later pages: widths are
/// decided by the first page.
const NAME_SLACK: usize = 4;

fn row(c: &ClusterDetails) -> [String; 7] {
    let s = |v: &Option<String>| shown(v.as_deref().unwrap_or_default());
    [
        s(&c.cluster_id),
        s(&c.cluster_name),
        s(&c.state),
        s(&c.spark_version),
        s(&c.node_type_id),
        c.workers(),
        s(&c.creator_user_name),
    ]
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Column widths for `rows` in `width` columns (0: the column is hidden): the natural widths when
/// they fit; else [`allot`], hiding `NODE TYPE`, then `RUNTIME`, then `CREATOR` while `NAME` would
/// be cut.
fn fit(rows: &[[String; 7]], width: Option<usize>) -> [usize; 7] {
    let mut natural = HEADERS.map(chars);
    for r in rows {
        for (w, cell) in natural.iter_mut().zip(r) {
            *w = (*w).max(chars(cell));
        }
    }
    let Some(width) = width else { return natural };
    let mut visible = natural;
    let mut widths = allot(&visible, width);
    for hide in HIDE_ORDER {
        if widths[1] >= natural[1] {
            break;
        }
        visible[hide] = 0;
        widths = allot(&visible, width);
    }
    widths
}

/// Widths for the shown columns of `natural` (0: hidden) in `width`: the columns that are never
/// cut whole, each [`BY_USE`] column its minimum, then what is left to the [`BY_USE`] columns in
/// that order, each up to its natural width. Narrower than the minimums: the line is wider than
/// `width` rather than an id cut.
fn allot(natural: &[usize; 7], width: usize) -> [usize; 7] {
    let mut widths = *natural;
    for i in BY_USE {
        widths[i] = natural[i].min(MIN_WIDTH.max(chars(HEADERS[i])));
    }
    let shown = widths.iter().filter(|&&w| w > 0).count();
    let used = widths.iter().sum::<usize>() + GAP * shown.saturating_sub(1);
    let mut left = width.saturating_sub(used);
    for i in BY_USE {
        // NAME asks for room for the longer names of later pages (`shared-etl-100` after
        // `shared-etl-99`) too.
        let want = if i == 1 && natural[i] > 0 { natural[i] + NAME_SLACK } else { natural[i] };
        let more = (want - widths[i]).min(left);
        widths[i] += more;
        left -= more;
    }
    widths
}

/// The lines of `rows` in columns of `widths`; a cell wider than its column is cut only when
/// `cut_cells` (a terminal), else printed whole (a later page's longer name in a pipe).
fn render(header: Option<&[&str; 7]>, rows: &[[String; 7]], widths: &[usize; 7], cut_cells: bool) -> String {
    let mut text = String::new();
    let mut line = |cells: [&str; 7]| {
        let mut l = String::new();
        for (cell, &w) in cells.iter().zip(widths).filter(|(_, w)| **w > 0) {
            let cell = if cut_cells { cut(cell, w) } else { (*cell).to_owned() };
            l.push_str(&cell);
            l.extend(std::iter::repeat_n(' ', w.saturating_sub(chars(&cell)) + GAP));
        }
        text.push_str(l.trim_end());
        text.push('\n');
    };
    if let Some(h) = header {
        line(*h);
    }
    for r in rows {
        line(r.each_ref().map(String::as_str));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(
        id: &str,
        name: &str,
        state: &str,
        runtime: &str,
        node: &str,
        workers: &str,
        creator: &str,
    ) -> [String; 7] {
        [id, name, state, runtime, node, workers, creator].map(str::to_owned)
    }

    fn sample() -> Vec<[String; 7]> {
        vec![
            cluster(
                "0923-164208-abcd1234",
                "shared-autoscaling-analytics-production",
                "RUNNING",
                "15.4.x-cpu-ml-scala2.12",
                "Standard_DS4_v2",
                "2-8 (autoscale)",
                "data-platform-team@contoso.com",
            ),
            cluster(
                "0923-164208-efgh5678",
                "alice-dev",
                "TERMINATED",
                "15.4.x-scala2.12",
                "Standard_DS3_v2",
                "1",
                "alice@contoso.com",
            ),
            cluster("0923-164208-ijkl9012", "", "PENDING", "14.3.x-scala2.12", "Standard_DS3_v2", "0", ""),
        ]
    }

    fn table(width: Option<usize>) -> String {
        let rows = sample();
        render(Some(&HEADERS), &rows, &fit(&rows, width), width.is_some())
    }

    #[test]
    fn table_at_80_columns() {
        let t = table(Some(80));
        assert!(t.lines().all(|l| chars(l) <= 80), "{t}");
        insta::assert_snapshot!(t);
    }

    #[test]
    fn table_at_200_columns_is_not_cut() {
        let t = table(Some(200));
        let words = |t: &str| t.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(words(&t), words(&table(None)));
        assert!(t.contains("shared-autoscaling-analytics-production") && !t.contains('…'), "{t}");
        insta::assert_snapshot!(t);
    }

    #[test]
    fn later_pages_keep_their_longer_names() {
        let first = sample();
        let mut later = sample();
        later[1][1] = "alice-dev-with-a-much-longer-name-than-page-one-had".to_owned();
        // A pipe: the first page's widths, but nothing cut.
        let piped = render(None, &later, &fit(&first, None), false);
        assert!(piped.contains("alice-dev-with-a-much-longer-name-than-page-one-had"), "{piped}");
        // A terminal: a name a little longer than the first page's still shows whole.
        let rows = vec![cluster("1", "shared-etl-99", "RUNNING", "15.4.x-scala2.12", "Standard_DS3_v2", "1", "a@b.c")];
        let next = vec![cluster("2", "shared-etl-100", "RUNNING", "15.4.x-scala2.12", "Standard_DS3_v2", "1", "a@b.c")];
        let t = render(None, &next, &fit(&rows, Some(80)), true);
        assert!(t.contains("shared-etl-100 "), "{t}");
    }

    #[test]
    fn ids_states_and_workers_are_never_cut() {
        let t = table(Some(20));
        for keep in ["0923-164208-abcd1234", "TERMINATED", "2-8 (autoscale)"] {
            assert!(t.contains(keep), "{keep} cut:\n{t}");
        }
    }

    #[test]
    fn globs_and_substrings() {
        let p = Pattern::new("ALICE");
        assert!(p.matches("alice-dev") && p.matches("team-Alice") && !p.matches("bob"));
        let g = Pattern::new("*-dev-?");
        assert!(g.matches("alice-dev-4") && !g.matches("alice-dev-42") && !g.matches("alice-dev"));
        assert!(Pattern::new("a*").matches("a") && Pattern::new("*").matches(""));
        assert!(!Pattern::new("a*a*a*a*a*a*a*a*b").matches(&"a".repeat(200)));
    }

    #[test]
    fn name_is_kept_longest() {
        // As a workspace names them: a common prefix, the telling part at the end.
        let rows: Vec<[String; 7]> = (0..3)
            .map(|i| {
                cluster(
                    &format!("1125-101010-abcd{i:04}"),
                    &format!("cluster-{i:04}-nightly-etl-orders"),
                    "RUNNING",
                    "15.4.x-scala2.12",
                    "Standard_DS3_v2",
                    "2-8 (autoscale)",
                    "data-platform-team@contoso.com",
                )
            })
            .collect();
        for width in [80, 100] {
            let t = render(Some(&HEADERS), &rows, &fit(&rows, Some(width)), true);
            assert!(t.lines().all(|l| chars(l) <= width), "{t}");
            assert!(t.contains("cluster-0002-nightly-etl-orders"), "NAME cut at {width}:\n{t}");
        }
        // Too narrow for every name: NAME still gets more than any other cut column.
        for width in [60, 80, 100, 120] {
            let widths = fit(&sample(), Some(width));
            assert!(BY_USE[1..].iter().all(|&i| widths[1] > widths[i]), "{width}: {widths:?}");
        }
    }

    #[test]
    fn cells_are_cleaned_of_escape_sequences() {
        let hostile = serde_json::json!({
            "cluster_id": "1125-101010-abcd1234",
            "cluster_name": "\u{1b}]0;owned\u{7}\u{1b}[2J\u{202e}evil\u{9b}31m-name",
            "state": "RUNNING",
            "creator_user_name": "bob\u{1b}[8m@contoso.com",
            "num_workers": 1,
        });
        let details: ClusterDetails = serde_json::from_value(hostile).unwrap();
        let r = row(&details);
        assert_eq!(r[1], "evil-name");
        assert_eq!(r[6], "bob@contoso.com");
        let t = render(Some(&HEADERS), &[r], &fit(&[row(&details)], Some(80)), true);
        assert!(!t.contains(['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}']), "{t:?}");
    }
}
