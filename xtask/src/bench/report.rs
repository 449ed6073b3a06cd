//! The Markdown report: one table row per figure (ours, its baseline, the ratio, the target and
//! whether it is met), then the notes.

use std::fmt::Write as _;

use super::measure::{RSS_RUNS, Series, Stat, WARMUP};

pub(crate) struct Row {
    pub(crate) figure: String,
    pub(crate) ours: String,
    pub(crate) baseline: String,
    pub(crate) ratio: String,
    pub(crate) target: String,
    pub(crate) met: String,
}

/// A "CPU / peak RSS" comparison row (no target): `cpu_decimals` for our CPU milliseconds,
/// `ratio_decimals` for the CPU ratio.
pub(crate) fn cpu_rss_row(
    figure: &str,
    ours: &Series,
    name: &str,
    base: &Series,
    cpu_decimals: usize,
    ratio_decimals: usize,
) -> Row {
    Row {
        figure: figure.into(),
        ours: format!("{:.cpu_decimals$} ms / {:.1} MB", ours.cpu.median * 1e3, ours.rss.median / 1024.0),
        baseline: format!("{name} {:.1} ms / {:.1} MB", base.cpu.median * 1e3, base.rss.median / 1024.0),
        ratio: format!(
            "{:.ratio_decimals$}× less CPU, {:.1}× less RSS",
            base.cpu.median / ours.cpu.median,
            base.rss.median / ours.rss.median
        ),
        target: "–".into(),
        met: "–".into(),
    }
}

pub(crate) fn ms(s: Stat) -> String {
    format!("{:.2} ms [{:.2}–{:.2}]", s.median * 1e3, s.min * 1e3, s.max * 1e3)
}

pub(crate) fn mb(s: Stat) -> String {
    format!("{:.1} MB [{:.1}–{:.1}]", s.median / 1024.0, s.min / 1024.0, s.max / 1024.0)
}

pub(crate) fn yes(ok: bool) -> String {
    (if ok { "yes" } else { "**no**" }).to_owned()
}

pub(crate) fn ratio_str(ours: f64, base: f64, what: &str) -> String {
    if base > 0.0 { format!("{:.1}× {what}", ours / base) } else { "–".into() }
}

pub(crate) fn render(
    runs: usize,
    floor_rss_kb: f64,
    rss_from_time: bool,
    version: String,
    rows: &[Row],
    notes: &[String],
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# brickauth bench report\n");
    let _ = writeln!(
        s,
        "Whole processes, {runs} runs after {WARMUP} warm-up rounds, commands of a comparison interleaved; \
         median [min–max]. Host: {} CPUs, {} {}. `{version}`.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::env::consts::OS,
        std::env::consts::ARCH,
    );
    let _ = writeln!(s, "| figure | brickauth median [min–max] | baseline median | ratio | target | met? |");
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for r in rows {
        let _ = writeln!(s, "| {} | {} | {} | {} | {} | {} |", r.figure, r.ours, r.baseline, r.ratio, r.target, r.met);
    }
    let _ = writeln!(s, "\nNotes:\n");
    if rss_from_time {
        let _ = writeln!(
            s,
            "- Wall and CPU time come from `wait4` in a fresh runner process. Peak RSS comes from {RSS_RUNS} more runs \
             per command under GNU `/usr/bin/time -f %M`: Linux counts the spawning process's RSS into a child's \
             peak, and `time` is the smallest spawner at hand; /bin/true's figure ({:.1} MB) is the floor no figure \
             can go below.",
            floor_rss_kb / 1024.0
        );
    } else {
        let _ = writeln!(
            s,
            "- Peak RSS comes from `wait4` (GNU time is not available). Linux counts the spawning process's RSS into a \
             child's peak, so the series are spawned by a fresh runner process rather than by xtask; /bin/true's \
             figure ({:.1} MB) is that floor, and no figure can be below it.",
            floor_rss_kb / 1024.0
        );
    }
    for n in notes {
        let _ = writeln!(s, "- {n}");
    }
    s
}
