//! `cargo xtask bench [--runs N] [--no-python] [--bin PATH]`: whole-process figures for the release binary,
//! each against a baseline measured in the same run, written to `target/bench-report.md`.
//!
//! Every figure is a series of separate processes: 3 warm-up rounds, then N rounds (default 30),
//! the commands of a comparison interleaved (A B A B …) so that drift (CPU frequency, the other
//! jobs on the machine) hits both sides alike. Per process: wall time from spawn to reaping,
//! user + system CPU and peak RSS from `wait4`'s rusage.
//!
//! Peak RSS needs care: Linux carries the RSS of the process that spawned a child over into the
//! child's `ru_maxrss` (exec records the old address space's high-water mark, and a
//! `posix_spawn`/vfork child starts in its parent's). Spawned from this xtask process, with its
//! runtime and mock servers, every child would look as big as xtask. So the series run in a
//! fresh copy of the xtask binary (`xtask bench __runner SPEC`) that does nothing but spawn and
//! reap, and peak RSS is taken from a few extra runs under GNU `/usr/bin/time -f %M` (a ~1 MB
//! spawner; `/bin/true`'s figure shows that floor). Without GNU time, the runner's `wait4`
//! figures are reported, with a higher floor.
//!
//! Comparisons:
//! - `brickauth token` from the cache vs `/bin/true`, vs the Rust hello-world, and vs MSAL for Python's
//!   `acquire_token_silent` over a serialized MSAL token cache;
//! - `brickauth login` (a fresh password-flow acquisition from the loopback mock, over plain
//!   HTTP and over TLS through the relay below) vs MSAL's `acquire_token_by_username_password`
//!   against the same mock;
//! - `brickauth --version` (cold start) vs `/bin/true` and vs a Rust hello-world the bench
//!   compiles itself (`rustc -O`, the floor a Rust binary starts from); the stripped binary's size;
//! - `brickauth clusters list -o json` over 10,000 clusters (100 per page), if the CLI has that
//!   command, vs the Databricks SDK for Python (`databricks-sdk`, also in the venv).
//!
//! MSAL accepts only `https://` authorities, and its user-realm lookup drops the port. For it, a
//! TLS-terminating relay (Python's `ssl` + asyncio, a throwaway CA and certificate made by
//! `openssl`) listens on 127.0.0.1:443 and forwards to the mock, trusted through
//! `REQUESTS_CA_BUNDLE` (and `BRICKAUTH_CA_BUNDLE` for brickauth's TLS row); an OIDC discovery
//! document naming the relay is mounted on the mock's server. MSAL is installed into
//! `target/bench-venv`. When Python, pip, msal, openssl or port 443 is unavailable, the
//! report says so and the brickauth figures stand alone. Nothing leaves 127.0.0.1.
//!
//! Layout: this module runs the sections in order; `measure` runs series, `python` sets up the
//! venv, the TLS relay and the MSAL / SDK commands (`scripts` holds their Python), `certs` makes
//! the relay's certificates, `report` renders the Markdown. A figure from another area lives in
//! `xtask/src/bench_<area>.rs` as `pub fn figures(b: &Bench, r: &mut Report) -> Result<()>` and is
//! one line in [`run`].

mod certs;
mod measure;
mod python;
mod report;
mod scripts;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, ensure};
use brickauth_mock::ALICE_PASSWORD;
use brickauth_mock::constants::password_profile;
use serde_json::Value;

pub use measure::runner;
pub(crate) use measure::{Cmd, Measured, RSS_RUNS, Series, Stat, WARMUP, measure, measure_with, stat};
pub(crate) use python::{Python, TlsRelay};
pub(crate) use report::{Row, cpu_rss_row, mb, ms, ratio_str, yes};

use crate::BenchArgs;
use crate::harness::{Link, World, build_release, root};

/// The scope brickauth asks for (the profiles' default).
const SCOPE: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default";
/// What Entra (and the mock) grant for `.default`: MSAL files the access token under the granted
/// scope, so its cache only hits when asked for that one (asked for `.default`, it refreshes).
const SILENT_SCOPE: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/user_impersonation";
/// Runs of the 10,000-cluster listing (after one warm-up): each takes seconds.
const CLUSTER_RUNS: usize = 10;
/// A Rust hello-world: the start-up floor of any Rust binary on this machine.
const HELLO_RS: &str = "fn main() {\n    println!(\"hello\");\n}\n";

/// Everything a section of the bench needs: the mocks, the binary under test, its environment.
pub(crate) struct Bench {
    pub w: World,
    pub bin: PathBuf,
    /// `bin` as a string, for argument lists.
    pub bin_s: String,
    pub scratch: PathBuf,
    /// The environment of every brickauth command: the bench profile file and cache directory.
    pub base_env: Vec<(String, String)>,
    /// `BENCH_PASSWORD` for [`World::run`].
    pub env_ref: [(&'static str, &'static str); 1],
    pub runs: usize,
    /// The MSAL side, when Python could be set up.
    pub python: Option<Python>,
    /// The Rust hello-world the bench compiled, when `rustc` is at hand.
    pub hello: Option<PathBuf>,
    /// The release binary in each link mode built (none with `--bin`); the last is `bin`.
    pub variants: Vec<(Link, PathBuf)>,
    /// `--baseline-bin`, primed with a cache of its own: the environment to run it with.
    pub baseline: Option<(String, Vec<(String, String)>)>,
    _kept: tempfile::TempDir,
}

/// The report as it fills up.
#[derive(Default)]
pub(crate) struct Report {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
    /// /bin/true's peak RSS (KB): the floor of every RSS figure.
    pub floor_rss: f64,
    /// Peak RSS came from GNU time.
    pub rss_from_time: bool,
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let mut r = Report::default();
    let b = Bench::start(args, &mut r)?;
    cached(&b, &mut r)?;
    fresh(&b, &mut r)?;
    cold_start(&b, &mut r)?;
    clusters(&b, &mut r)?;
    // Figures from other areas, one line each: `crate::bench_<area>::figures(&b, &mut r)?;`
    crate::bench_metadata::figures(&b, &mut r)?;
    crate::bench_az::figures(&b, &mut r)?;
    b.finish(r)
}

impl Bench {
    fn start(args: &BenchArgs, r: &mut Report) -> Result<Bench> {
        // The other link modes first (kept aside), the lean one last: it is the binary measured.
        let kept = tempfile::tempdir()?;
        let mut variants = Vec::new();
        let bin = match &args.bin {
            Some(bin) => std::path::absolute(bin)?,
            None => {
                let lean = Link::lean();
                for link in [Link::Pie, Link::NonPie].into_iter().filter(|l| *l != lean && lean == Link::Static) {
                    println!("bench: building the release binary ({})…", link.describe());
                    let built = build_release(link)?;
                    let copy = kept.path().join(format!("brickauth-{link:?}"));
                    std::fs::copy(&built, &copy).with_context(|| format!("copying {}", built.display()))?;
                    variants.push((link, copy));
                }
                println!("bench: building the release binary ({})…", lean.describe());
                let bin = build_release(lean)?;
                variants.push((lean, bin.clone()));
                bin
            }
        };
        let w = World::start(bin.clone())?;
        let profiles = format!(
            "{}\n# The same identity through the TLS relay on 127.0.0.1:443 (set up for MSAL): brickauth over TLS.\n{}",
            password_profile("bench", "BENCH_PASSWORD", true),
            password_profile("bench-tls", "BENCH_PASSWORD", false).replace("{AUTHORITY}", "https://127.0.0.1"),
        );
        w.write_profiles("profiles.toml", &profiles)?;
        let scratch = w.dir.path().to_path_buf();
        let base_env: Vec<(String, String)> = [
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("HOME", w.path("home").display().to_string()),
            ("BRICKAUTH_CACHE_DIR", w.path("cache").display().to_string()),
            ("BRICKAUTH_CONFIG", w.path("profiles.toml").display().to_string()),
            ("BENCH_PASSWORD", ALICE_PASSWORD.to_owned()),
            ("TZ", "UTC".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();

        // Prime the cache.
        let env_ref = [("BENCH_PASSWORD", ALICE_PASSWORD)];
        let o = w.run(&["token"], &env_ref, None)?;
        ensure!(o.code == 0, "priming `brickauth token` failed ({}): {}", o.code, o.stderr);

        let python = if args.no_python {
            r.notes.push("MSAL for Python comparisons skipped (--no-python).".into());
            None
        } else {
            match python::setup_python(&w, &scratch) {
                Ok(p) => Some(p),
                Err(e) => {
                    println!("bench: MSAL comparisons skipped: {e:#}");
                    r.notes.push(format!("MSAL for Python comparisons skipped: {e:#}"));
                    None
                }
            }
        };
        let baseline = match &args.baseline_bin {
            None => None,
            Some(path) => {
                let path = std::path::absolute(path)?.display().to_string();
                let mut env = base_env.clone();
                for (k, v) in &mut env {
                    if k == "BRICKAUTH_CACHE_DIR" {
                        *v = w.path("cache-baseline").display().to_string();
                    }
                }
                let primed = Command::new(&path).arg("token").env_clear().envs(env.iter().cloned()).output()?;
                ensure!(
                    primed.status.success(),
                    "priming the baseline binary's cache failed: {}",
                    String::from_utf8_lossy(&primed.stderr)
                );
                Some((path, env))
            }
        };
        let hello = match build_hello(&scratch) {
            Ok(h) => Some(h),
            Err(e) => {
                r.notes.push(format!("Rust hello-world baseline not measured: {e:#}"));
                None
            }
        };
        Ok(Bench {
            bin_s: bin.display().to_string(),
            w,
            bin,
            scratch,
            base_env,
            env_ref,
            runs: args.runs,
            python,
            hello,
            variants,
            baseline,
            _kept: kept,
        })
    }

    /// The hello-world's command, when there is one.
    fn hello_cmd(&self) -> Option<Cmd> {
        let hello = self.hello.as_ref()?.display().to_string();
        Some(Cmd::new(HELLO, &[&hello], &self.base_env))
    }

    fn finish(self, r: Report) -> Result<()> {
        let version = Command::new(&self.bin)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
        drop(self.python);
        let report =
            report::render(self.runs, r.floor_rss, r.rss_from_time, version.unwrap_or_default(), &r.rows, &r.notes);
        let path = root().join("target/bench-report.md");
        std::fs::write(&path, &report).with_context(|| format!("writing {}", path.display()))?;
        println!("\n{report}\n(written to {})", path.display());
        Ok(())
    }
}

/// A wall-time row against the hello-world of series `m` (none when it was not measured), met
/// when `ours` is within `limit` times it.
fn hello_row(figure: &str, ours: &Series, m: &Measured, limit: f64) -> Option<Row> {
    let hello = m.by_name.get(HELLO)?;
    let ratio = ours.wall.median / hello.wall.median;
    Some(Row {
        figure: figure.into(),
        ours: ms(ours.wall),
        baseline: format!("hello-world {}", ms(hello.wall)),
        ratio: format!("{ratio:.2}× hello-world"),
        target: format!("≤ {limit}× hello-world"),
        met: yes(ratio <= limit),
    })
}

/// The CPU counterpart of [`hello_row`], without a target.
fn hello_row_cpu(figure: &str, ours: &Series, m: &Measured) -> Option<Row> {
    let hello = m.by_name.get(HELLO)?;
    Some(Row {
        figure: figure.into(),
        ours: ms(ours.cpu),
        baseline: format!("hello-world {}", ms(hello.cpu)),
        ratio: ratio_str(ours.cpu.median, hello.cpu.median, "hello-world"),
        target: "–".into(),
        met: "–".into(),
    })
}

/// The hello-world's name in series and rows.
const HELLO: &str = "Rust hello-world";
/// `--baseline-bin`'s cached `token`, and ours in the baseline's link mode.
const BASELINE: &str = "baseline build: token (cached)";
const OURS_PIE: &str = "`token` from cache, cargo's default link (PIE)";

/// Compile [`HELLO_RS`] with the toolchain's `rustc -O` (no project settings: the floor any Rust
/// binary starts from).
fn build_hello(scratch: &std::path::Path) -> Result<PathBuf> {
    let src = scratch.join("hello.rs");
    let out = scratch.join(format!("hello{}", std::env::consts::EXE_SUFFIX));
    std::fs::write(&src, HELLO_RS)?;
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let status = Command::new(rustc)
        .args(["-O", "--edition", "2021", "-o"])
        .arg(&out)
        .arg(&src)
        .stdout(Stdio::null())
        .status()
        .context("running rustc")?;
    ensure!(status.success(), "rustc hello.rs failed ({status})");
    Ok(out)
}

/// (a) `token` from the cache, against /bin/true, the Rust hello-world and MSAL's silent path.
fn cached(b: &Bench, r: &mut Report) -> Result<()> {
    let Bench { w, bin_s, scratch, base_env, python, .. } = b;
    let runs = b.runs;
    // (a) the cached path.
    println!("bench: cached token ({runs} runs each, interleaved)…");
    let mut cmds = vec![
        Cmd::new("brickauth token (cached)", &[bin_s, "token"], base_env),
        Cmd::new("/bin/true", &["/bin/true"], base_env),
    ];
    cmds.extend(b.hello_cmd());
    // The same link mode as the baseline build (cargo's default), and the baseline.
    let pie = b.variants.iter().find(|(l, _)| *l == Link::Pie).map(|(_, p)| p.display().to_string());
    if let Some((path, env)) = &b.baseline {
        cmds.push(Cmd::new(BASELINE, &[path, "token"], env));
        if let Some(pie) = &pie {
            cmds.push(Cmd::new(OURS_PIE, &[pie, "token"], base_env));
        }
    }
    if let Some(py) = &python {
        let argv = [
            py.python.display().to_string(),
            py.cached_script.display().to_string(),
            py.cache_file.display().to_string(),
        ];
        cmds.push(Cmd::new("msal cached", &argv.iter().map(String::as_str).collect::<Vec<_>>(), &py.env));
    }
    let received = || w.rt.block_on(w.entra.server().received_requests()).map_or(0, |r| r.len());
    let entra_before = received();
    let primed = w.entra.token_request_count();
    let m = measure(scratch, runs, &cmds)?;
    let entra_during = received() - entra_before;
    ensure!(
        w.entra.token_request_count() == primed,
        "the cached series sent token requests: a cached path is not cached"
    );
    let ours = m.get("brickauth token (cached)");
    let truth = m.get("/bin/true");
    r.floor_rss = truth.rss.median;
    r.rss_from_time = m.rss_from_time;
    let ratio = ours.wall.median / truth.wall.median;
    r.rows.push(Row {
        figure: "`token` from cache: wall".into(),
        ours: ms(ours.wall),
        baseline: format!("/bin/true {:.2} ms", truth.wall.median * 1e3),
        ratio: format!("{ratio:.1}× /bin/true"),
        target: "≤ 3 ms, ≤ 4× /bin/true".into(),
        met: yes(ours.wall.median <= 0.003 && ratio <= 4.0),
    });
    // With link modes built, their own series (no Python process interleaved, whose 200 ms runs
    // leave the CPU caches cold for whatever runs next) gives the hello-world comparison.
    if b.variants.len() < 2 || python.is_none() {
        r.rows.extend(hello_row("`token` from cache vs a Rust hello-world: wall", ours, &m, 1.5));
    }
    if b.baseline.is_some() {
        let base = m.get(BASELINE);
        // Same link mode as the baseline where it was built, else the binary under test.
        let (name, series) = match m.by_name.get(OURS_PIE) {
            Some(s) => (OURS_PIE, s),
            None => ("`token` from cache", ours),
        };
        let ratio = series.wall.median / base.wall.median;
        r.rows.push(Row {
            figure: format!("{name} vs the baseline build (`--baseline-bin`): wall"),
            ours: ms(series.wall),
            baseline: format!("baseline {}", ms(base.wall)),
            ratio: format!("{ratio:.2}× the baseline"),
            target: "≤ 1.05× (no slower)".into(),
            met: yes(ratio <= 1.05),
        });
        r.rows.push(Row {
            figure: format!("{name} vs the baseline build: CPU (user+sys)"),
            ours: ms(series.cpu),
            baseline: format!("baseline {}", ms(base.cpu)),
            ratio: ratio_str(series.cpu.median, base.cpu.median, "the baseline"),
            target: "–".into(),
            met: "–".into(),
        });
    }
    r.rows.push(Row {
        figure: "`token` from cache: CPU (user+sys)".into(),
        ours: ms(ours.cpu),
        baseline: format!("/bin/true {:.2} ms", truth.cpu.median * 1e3),
        ratio: ratio_str(ours.cpu.median, truth.cpu.median, "/bin/true"),
        target: "–".into(),
        met: "–".into(),
    });
    r.rows.push(Row {
        figure: "`token` from cache: peak RSS".into(),
        ours: mb(ours.rss),
        baseline: format!("/bin/true {:.1} MB", truth.rss.median / 1024.0),
        ratio: format!("{:.1}× /bin/true", ours.rss.median / truth.rss.median),
        target: "–".into(),
        met: "–".into(),
    });
    if python.is_some() {
        let msal = m.get("msal cached");
        let speedup = msal.wall.median / ours.wall.median;
        r.rows.push(Row {
            figure: "`token` from cache vs MSAL `acquire_token_silent`: wall".into(),
            ours: ms(ours.wall),
            baseline: format!("MSAL {}", ms(msal.wall)),
            ratio: format!("{speedup:.0}× faster"),
            target: "≥ 30× faster".into(),
            met: yes(speedup >= 30.0),
        });
        r.rows.push(cpu_rss_row("`token` from cache vs MSAL: CPU / peak RSS", ours, "MSAL", msal, 2, 0));
        r.notes.push(
            "The MSAL cached script asks `acquire_token_silent` for `2ff814a6-…/user_impersonation`, the scope Entra \
             grants for `/.default` and the one MSAL files the token under; asked for `/.default` MSAL misses its own \
             cache and redeems the refresh token on every call."
                .into(),
        );
        if entra_during > 0 {
            r.notes.push(format!(
                "During the cached series the mock authority received {entra_during} requests ({:.1} per MSAL process), all from \
                 MSAL (brickauth sent none): MSAL's `PublicClientApplication` fetches the authority's OIDC discovery document \
                 on every start, before it looks at its cache. Here that is a loopback round trip; against \
                 login.microsoftonline.com it is an Internet one, so real-world MSAL figures are worse than these.",
                entra_during as f64 / (WARMUP + runs + RSS_RUNS) as f64
            ));
        }
    }
    Ok(())
}

/// (b) A fresh password-flow acquisition, against MSAL's (plain HTTP and TLS).
fn fresh(b: &Bench, r: &mut Report) -> Result<()> {
    let Bench { w, bin_s, scratch, base_env, python, .. } = b;
    let runs = b.runs;
    // (b) a fresh password-flow acquisition.
    println!("bench: fresh password-flow acquisition…");
    let mut cmds = vec![Cmd::new("brickauth login", &[bin_s, "login"], base_env)];
    if let Some(py) = &python {
        let argv = [py.python.display().to_string(), py.password_script.display().to_string()];
        cmds.push(Cmd::new("msal password", &argv.iter().map(String::as_str).collect::<Vec<_>>(), &py.env));
        let mut tls_env = base_env.clone();
        tls_env.push(("BRICKAUTH_CA_BUNDLE".into(), py.relay.ca.display().to_string()));
        cmds.push(Cmd::new("brickauth login (TLS)", &[bin_s, "login", "-p", "bench-tls"], &tls_env));
    }
    cmds.extend(b.hello_cmd());
    let before = w.entra.token_request_count();
    let m = measure(scratch, runs, &cmds)?;
    let sent = w.entra.token_request_count() - before;
    let ours = m.get("brickauth login");
    // CPU of its own: what a sign-in costs beyond starting a Rust program at all.
    if let Some(hello) = m.by_name.get(HELLO) {
        let mut own = vec![("fresh sign-in (`login`, plain HTTP to loopback)", ours)];
        if python.is_some() {
            own.push((
                "fresh sign-in over TLS (`login`, bundled roots + the relay's CA)",
                m.get("brickauth login (TLS)"),
            ));
        }
        for (figure, series) in own {
            let extra = series.cpu.median - hello.cpu.median;
            r.rows.push(Row {
                figure: format!("{figure}: CPU of its own (user+sys − hello-world's)"),
                ours: format!("{:.2} ms (total {})", extra * 1e3, ms(series.cpu)),
                baseline: format!("hello-world {}", ms(hello.cpu)),
                ratio: ratio_str(series.cpu.median, hello.cpu.median, "hello-world"),
                target: "≤ 5 ms".into(),
                met: yes(extra <= 0.005),
            });
        }
    }
    if let Some(_py) = &python {
        let msal = m.get("msal password");
        let speedup = msal.wall.median / ours.wall.median;
        r.rows.push(Row {
            figure: "fresh password-flow acquisition (loopback mock): wall".into(),
            ours: ms(ours.wall),
            baseline: format!("MSAL {}", ms(msal.wall)),
            ratio: format!("{speedup:.1}× faster"),
            target: "≥ 10× faster".into(),
            met: yes(speedup >= 10.0),
        });
        r.rows.push(cpu_rss_row("fresh acquisition: CPU / peak RSS", ours, "MSAL", msal, 1, 1));
        let tls = m.get("brickauth login (TLS)");
        let speedup = msal.wall.median / tls.wall.median;
        r.rows.push(Row {
            figure: "fresh acquisition, both over TLS through the relay: wall".into(),
            ours: ms(tls.wall),
            baseline: format!("MSAL {}", ms(msal.wall)),
            ratio: format!("{speedup:.1}× faster"),
            target: "≥ 10× faster".into(),
            met: yes(speedup >= 10.0),
        });
        r.rows.push(cpu_rss_row("fresh acquisition over TLS: CPU / peak RSS", tls, "MSAL", msal, 1, 1));
        r.notes.push(format!(
            "Fresh acquisition: `brickauth login` runs the password flow and stores the result (cache write with fsync \
             included). The first row talks plain HTTP to the loopback mock (allowed for loopback only); MSAL and the \
             TLS row go through a TLS relay on 127.0.0.1:443 (Python asyncio, forwarding to the mock; certificate \
             trusted via `REQUESTS_CA_BUNDLE` / `BRICKAUTH_CA_BUNDLE`), so those include a TLS handshake, loading the \
             platform's CA roots, and one extra local hop. MSAL makes 3 requests (discovery, user realm, token), \
             brickauth 1. {sent} token requests were sent in the series ({} processes).",
            (WARMUP + runs + RSS_RUNS) * 3
        ));
    } else {
        r.rows.push(Row {
            figure: "fresh password-flow acquisition (`login`, loopback mock): wall".into(),
            ours: ms(ours.wall),
            baseline: "MSAL: not measured".into(),
            ratio: "–".into(),
            target: "≥ 10× faster than MSAL".into(),
            met: "not measured".into(),
        });
    }
    Ok(())
}

/// (c) Cold start (`--version`) and the binary's size.
fn cold_start(b: &Bench, r: &mut Report) -> Result<()> {
    let Bench { bin, bin_s, scratch, base_env, .. } = b;
    let runs = b.runs;
    // (c) cold start and size.
    println!("bench: cold start…");
    let mut cmds = vec![
        Cmd::new("brickauth --version", &[bin_s, "--version"], base_env),
        Cmd::new("/bin/true", &["/bin/true"], base_env),
    ];
    cmds.extend(b.hello_cmd());
    let m = measure(scratch, runs, &cmds)?;
    let ours = m.get("brickauth --version");
    let truth = m.get("/bin/true");
    r.rows.push(Row {
        figure: "cold start `--version`: wall".into(),
        ours: ms(ours.wall),
        baseline: format!("/bin/true {:.2} ms", truth.wall.median * 1e3),
        ratio: format!("{:.1}× /bin/true", ours.wall.median / truth.wall.median),
        target: "–".into(),
        met: "–".into(),
    });
    r.rows.extend(hello_row("cold start `--version` vs a Rust hello-world: wall", ours, &m, 1.2));
    r.rows.extend(hello_row_cpu("cold start `--version` vs a Rust hello-world: CPU (user+sys)", ours, &m));
    link_modes(b, r)?;
    let size = std::fs::metadata(bin)?.len();
    let stripped = scratch.join("brickauth-stripped");
    let stripped_size = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(bin)
        .stderr(Stdio::null())
        .status()
        .ok()
        .filter(|s| s.success())
        .and_then(|_| std::fs::metadata(&stripped).ok())
        .map(|m| m.len());
    r.rows.push(Row {
        figure: "release binary size".into(),
        ours: match stripped_size {
            Some(s) => format!("{:.2} MB stripped ({:.2} MB as built)", s as f64 / 1048576.0, size as f64 / 1048576.0),
            None => format!("{:.2} MB as built (`strip` not available)", size as f64 / 1048576.0),
        },
        baseline: "–".into(),
        ratio: "–".into(),
        target: "–".into(),
        met: "–".into(),
    });
    Ok(())
}

/// The start-up figures of each link mode built, against the hello-world, in one interleaved
/// series: what `cargo build --release` gives, and what each step of [`Link`] saves.
fn link_modes(b: &Bench, r: &mut Report) -> Result<()> {
    if b.variants.len() < 2 || b.hello.is_none() {
        return Ok(());
    }
    println!("bench: start-up by link mode…");
    let mut cmds = Vec::new();
    for (link, path) in &b.variants {
        let p = path.display().to_string();
        cmds.push(Cmd::new(&format!("--version, {}", link.describe()), &[&p, "--version"], &b.base_env));
        cmds.push(Cmd::new(&format!("token, {}", link.describe()), &[&p, "token"], &b.base_env));
    }
    cmds.extend(b.hello_cmd());
    let primed = b.w.entra.token_request_count();
    let m = measure(&b.scratch, b.runs, &cmds)?;
    ensure!(b.w.entra.token_request_count() == primed, "a cached `token` of some link mode sent a token request");
    for (link, _) in &b.variants {
        // Targets apply to the binary shipped; the other modes are there to show what each step saves.
        let shipped = *link == Link::lean();
        for (what, limit, from) in [("--version", 1.2, ""), ("token", 1.5, " from cache")] {
            let name = format!("{what}, {}", link.describe());
            let figure = format!("link mode {}: `{what}`{from} vs a Rust hello-world: wall", link.describe());
            if let Some(mut row) = hello_row(&figure, m.get(&name), &m, limit) {
                if !shipped {
                    row.target = "–".into();
                    row.met = "–".into();
                }
                r.rows.push(row);
            }
        }
    }
    r.notes.push(format!(
        "Link modes: the same code linked {}; the bench measures (and `cargo xtask dist` ships) the last. \
         Only the final crate is re-linked (`cargo rustc -- -C relocation-model=static [-C target-feature=+crt-static]`).",
        b.variants.iter().map(|(l, _)| l.describe()).collect::<Vec<_>>().join(" / ")
    ));
    Ok(())
}

/// (d) `clusters list` over 10,000 clusters, if the CLI has it, against the Databricks SDK.
fn clusters(b: &Bench, r: &mut Report) -> Result<()> {
    let Bench { w, bin, bin_s, scratch, base_env, env_ref, python, .. } = b;
    let runs = b.runs;
    // (d) clusters list, if the CLI has it.
    let has_clusters = Command::new(bin)
        .args(["clusters", "list", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if has_clusters {
        println!("bench: clusters list over 10,000 clusters…");
        w.databricks.set_cluster_count(10_000);
        let before = w.databricks.request_count();
        let check = w.run(&["clusters", "list", "-o", "json"], env_ref, None)?;
        ensure!(check.code == 0, "clusters list failed ({}): {}", check.code, check.stderr);
        let pages = w.databricks.request_count() - before;
        let listed = serde_json::from_str::<Value>(&check.stdout)
            .ok()
            .and_then(|v| v.as_array().map(Vec::len).or_else(|| v["clusters"].as_array().map(Vec::len)));
        let mut cmds = vec![Cmd::new("clusters list", &[bin_s, "clusters", "list", "-o", "json"], base_env)];
        let sdk = python.as_ref().map(|py| python::setup_sdk(w, py, scratch, env_ref));
        match &sdk {
            Some(Ok(c)) => cmds.push(c.clone()),
            Some(Err(e)) => r.notes.push(format!("Databricks SDK for Python comparison skipped: {e:#}")),
            None => r.notes.push("Databricks SDK for Python comparison skipped (no Python).".into()),
        }
        // Bounded: a listing takes seconds, not milliseconds.
        let n = runs.clamp(1, CLUSTER_RUNS);
        let m = measure_with(scratch, 1, n, &cmds)?;
        let ours = m.get("clusters list");
        let theirs = m.by_name.get("databricks-sdk clusters.list");
        let baseline = |f: &dyn Fn(&Series) -> String| theirs.map_or("SDK: not measured".to_owned(), f);
        r.rows.push(Row {
            figure: format!(
                "`clusters list -o json`, 10,000 clusters / 100 per page ({} listed, {pages} requests), {n} runs: wall",
                listed.map_or("?".to_owned(), |l| l.to_string())
            ),
            ours: ms(ours.wall),
            baseline: baseline(&|t| format!("SDK {}", ms(t.wall))),
            ratio: theirs.map_or("–".into(), |t| format!("{:.1}× faster", t.wall.median / ours.wall.median)),
            target: "–".into(),
            met: "–".into(),
        });
        let cpu_ratio = theirs.map(|t| t.cpu.median / ours.cpu.median);
        r.rows.push(Row {
            figure: "`clusters list`: CPU (user+sys)".into(),
            ours: ms(ours.cpu),
            baseline: baseline(&|t| format!("SDK {}", ms(t.cpu))),
            ratio: cpu_ratio.map_or("–".into(), |r| format!("{r:.1}× less CPU")),
            target: "≥ 10× less CPU than the SDK".into(),
            met: cpu_ratio.map_or("not measured".into(), |r| yes(r >= 10.0)),
        });
        r.rows.push(Row {
            figure: "`clusters list`: peak RSS".into(),
            ours: mb(ours.rss),
            baseline: baseline(&|t| format!("SDK {:.1} MB", t.rss.median / 1024.0)),
            ratio: theirs.map_or("–".into(), |t| format!("{:.1}× less RSS", t.rss.median / ours.rss.median)),
            target: "≤ 30 MB".into(),
            met: yes(ours.rss.max <= 30.0 * 1024.0),
        });
        if theirs.is_some() {
            r.notes.push(
                "`clusters list`: the SDK script is `WorkspaceClient(host, token).clusters.list(page_size=100)` with \
                 every cluster printed as JSON (`as_dict()`), as `brickauth clusters list -o json` prints them; both talk \
                 plain HTTP to the loopback mock workspace."
                    .into(),
            );
        }
    } else {
        r.notes
            .push("`brickauth clusters list` is not in this build: the 10,000-cluster figure is not measured.".into());
    }
    Ok(())
}
