//! Measuring whole processes: a series of commands run interleaved in a fresh runner process
//! (`xtask __bench-runner SPEC`), wall and CPU time from `wait4`, peak RSS under GNU time.
//! See the `bench` module docs for why the runner is a separate process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

/// Warm-up rounds before the measured ones.
pub(crate) const WARMUP: usize = 3;
/// Runs per command for peak RSS under GNU time.
pub(crate) const RSS_RUNS: usize = 5;

/// One command of a series.
#[derive(Clone, Debug)]
pub(crate) struct Cmd {
    pub(crate) name: String,
    pub(crate) argv: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
}

impl Cmd {
    pub(crate) fn new(name: &str, argv: &[&str], env: &[(String, String)]) -> Cmd {
        Cmd { name: name.into(), argv: argv.iter().map(|s| (*s).to_owned()).collect(), env: env.to_vec() }
    }
}

/// What one process cost.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sample {
    pub(crate) wall: f64,
    pub(crate) cpu: f64,
    pub(crate) rss_kb: f64,
}

/// min / median / max of one quantity.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stat {
    pub(crate) min: f64,
    pub(crate) median: f64,
    pub(crate) max: f64,
}

pub(crate) fn stat(values: &[f64]) -> Stat {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return Stat { min: f64::NAN, median: f64::NAN, max: f64::NAN };
    }
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    Stat { min: v[0], median, max: v[n - 1] }
}

pub(crate) struct Series {
    pub(crate) wall: Stat,
    pub(crate) cpu: Stat,
    pub(crate) rss: Stat,
}

/// The result of one interleaved run: per command name, its statistics.
pub(crate) struct Measured {
    pub(crate) by_name: BTreeMap<String, Series>,
    /// Peak RSS came from GNU time (else from wait4 in the runner).
    pub(crate) rss_from_time: bool,
}

impl Measured {
    pub(crate) fn get(&self, name: &str) -> &Series {
        &self.by_name[name]
    }
}

// The runner: a fresh xtask process that spawns, reaps and reports.

/// `xtask __bench-runner SPEC.json`: run the series, print one JSON object.
pub fn runner(spec_path: &Path) -> Result<()> {
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(spec_path).with_context(|| format!("reading {}", spec_path.display()))?,
    )?;
    let warmup = spec["warmup"].as_u64().unwrap_or(3) as usize;
    let runs = spec["runs"].as_u64().unwrap_or(20) as usize;
    let cmds: Vec<Cmd> = spec["cmds"]
        .as_array()
        .context("spec: cmds")?
        .iter()
        .map(|c| Cmd {
            name: c["name"].as_str().unwrap_or_default().to_owned(),
            argv: c["argv"].as_array().into_iter().flatten().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
            env: c["env"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|kv| Some((kv[0].as_str()?.to_owned(), kv[1].as_str()?.to_owned())))
                .collect(),
        })
        .collect();
    let mut samples: BTreeMap<String, Vec<[f64; 3]>> = BTreeMap::new();
    for round in 0..warmup + runs {
        for cmd in &cmds {
            let s = spawn_and_measure(cmd)?;
            if round >= warmup {
                samples.entry(cmd.name.clone()).or_default().push([s.wall, s.cpu, s.rss_kb]);
            }
        }
    }
    // Peak RSS through GNU time, whose own small address space is all a child inherits.
    let mut rss_time: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let out_file = spec_path.with_file_name("rss-time.txt");
    for cmd in &cmds {
        for _ in 0..RSS_RUNS {
            match rss_via_time(cmd, &out_file) {
                Some(kb) => rss_time.entry(cmd.name.clone()).or_default().push(kb),
                None => break,
            }
        }
    }
    let out = json!({ "samples": samples, "rss_time": rss_time });
    println!("{out}");
    Ok(())
}

#[cfg(unix)]
pub(crate) fn spawn_and_measure(cmd: &Cmd) -> Result<Sample> {
    let mut c = Command::new(&cmd.argv[0]);
    c.args(&cmd.argv[1..])
        .env_clear()
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let start = std::time::Instant::now();
    let child = c.spawn().with_context(|| format!("starting {}", cmd.argv[0]))?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: plain FFI; `rusage` is plain data that wait4 fills.
    #[allow(unsafe_code)]
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child's, `status` and `ru` are ours to fill.
    #[allow(unsafe_code)]
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = start.elapsed().as_secs_f64();
    // The child is reaped: dropping the handle does not wait again.
    drop(child);
    ensure!(reaped == pid, "wait4 failed for {}: {}", cmd.name, std::io::Error::last_os_error());
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !ok {
        anyhow::bail!("{} ({}) failed: wait status {status}{}", cmd.name, cmd.argv.join(" "), stderr_of(cmd));
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Sample { wall, cpu: tv(ru.ru_utime) + tv(ru.ru_stime), rss_kb: maxrss_kb(ru.ru_maxrss) })
}

/// Peak RSS of one run of `cmd` under `/usr/bin/time -f %M` (GNU time), in KB; `None` without it.
pub(crate) fn rss_via_time(cmd: &Cmd, out_file: &Path) -> Option<f64> {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        return None;
    }
    let status = Command::new(time)
        .args(["-f", "%M", "-o"])
        .arg(out_file)
        .args(&cmd.argv)
        .env_clear()
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    std::fs::read_to_string(out_file).ok()?.lines().last()?.trim().parse().ok()
}

/// For an error message: run `cmd` once more and keep the end of its stderr.
#[cfg(unix)]
pub(crate) fn stderr_of(cmd: &Cmd) -> String {
    let out = Command::new(&cmd.argv[0])
        .args(&cmd.argv[1..])
        .env_clear()
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stderr);
            format!("\n{}", text.lines().take(8).collect::<Vec<_>>().join("\n"))
        }
        Err(_) => String::new(),
    }
}

#[cfg(not(unix))]
pub(crate) fn spawn_and_measure(cmd: &Cmd) -> Result<Sample> {
    // Wall time only: CPU and peak RSS need wait4 (reported as NaN).
    let start = std::time::Instant::now();
    let status = Command::new(&cmd.argv[0])
        .args(&cmd.argv[1..])
        .env_clear()
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    ensure!(status.success(), "{} failed: {status}", cmd.name);
    Ok(Sample { wall: start.elapsed().as_secs_f64(), cpu: f64::NAN, rss_kb: f64::NAN })
}

#[cfg(unix)]
pub(crate) fn maxrss_kb(v: libc::c_long) -> f64 {
    // Kilobytes on Linux and the BSDs, bytes on macOS.
    if cfg!(target_os = "macos") { v as f64 / 1024.0 } else { v as f64 }
}

/// A private copy of this xtask binary to run as the runner: other builds sharing `target/` may
/// replace `target/debug/xtask` while the bench runs (Linux can still copy a replaced binary
/// through `/proc/self/exe`).
pub(crate) fn runner_exe(scratch: &Path) -> Result<PathBuf> {
    let copy = scratch.join(format!("xtask-runner{}", std::env::consts::EXE_SUFFIX));
    if !copy.exists() {
        let me = if cfg!(target_os = "linux") { PathBuf::from("/proc/self/exe") } else { std::env::current_exe()? };
        std::fs::copy(&me, &copy).with_context(|| format!("copying {} to {}", me.display(), copy.display()))?;
    }
    Ok(copy)
}

/// Run `cmds` interleaved in a fresh runner process.
pub(crate) fn measure(scratch: &Path, runs: usize, cmds: &[Cmd]) -> Result<Measured> {
    measure_with(scratch, WARMUP, runs, cmds)
}

pub(crate) fn measure_with(scratch: &Path, warmup: usize, runs: usize, cmds: &[Cmd]) -> Result<Measured> {
    let spec = json!({
        "warmup": warmup,
        "runs": runs,
        "cmds": cmds.iter().map(|c| json!({"name": c.name, "argv": c.argv, "env": c.env})).collect::<Vec<_>>(),
    });
    let spec_path = scratch.join("bench-spec.json");
    std::fs::write(&spec_path, spec.to_string())?;
    let exe = runner_exe(scratch)?;
    let out = Command::new(exe)
        .arg("__bench-runner")
        .arg(&spec_path)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("starting the bench runner")?;
    ensure!(out.status.success(), "bench runner failed ({})", out.status);
    let v: Value = serde_json::from_slice(&out.stdout).context("reading the runner's report")?;
    let mut by_name = BTreeMap::new();
    let mut rss_from_time = true;
    for (name, rows) in v["samples"].as_object().context("runner: samples")? {
        let rows: Vec<[f64; 3]> = serde_json::from_value(rows.clone())?;
        let col = |i: usize| rows.iter().map(|r| r[i]).collect::<Vec<_>>();
        let timed: Vec<f64> = serde_json::from_value(v["rss_time"][name].clone()).unwrap_or_default();
        let rss = if timed.len() == RSS_RUNS {
            stat(&timed)
        } else {
            rss_from_time = false;
            stat(&col(2))
        };
        by_name.insert(name.clone(), Series { wall: stat(&col(0)), cpu: stat(&col(1)), rss });
    }
    Ok(Measured { by_name, rss_from_time })
}
