//! Running the real binary against the mocks: a scratch directory (profile file, cache dir), the
//! mock servers, and a tiny case runner that prints `N passed, M failed`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use brickauth_mock::{MockDatabricks, MockEntra};

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Build the binary and return its path: the debug one, or (`release`) the lean release one
/// the bench measures and `cargo xtask dist` ships (see [`Link::lean`]).
pub fn build_binary(release: bool) -> Result<PathBuf> {
    if release { build_release(Link::lean()) } else { cargo_build(false) }
}

/// How the release binary is linked. Only the final crate is linked differently: every library
/// crate (and std) is the same code in all three, so the choice costs one re-link, not a rebuild.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// What `cargo build --release` makes on Linux: a position-independent executable, which the
    /// dynamic loader relocates at every start (~22,000 relative relocations) after loading
    /// libc, libm and libgcc_s.
    Pie,
    /// A fixed-address executable (`-C relocation-model=static`): no relative relocations, still
    /// the shared C libraries.
    NonPie,
    /// A fixed-address, statically linked executable (`+crt-static` as well): no dynamic loader
    /// at all. glibc's `files` and `dns` name services are built into it (glibc ≥ 2.34), so
    /// `/etc/hosts` and DNS resolve as in any other program; other NSS modules are loaded as
    /// plugins at run time.
    Static,
}

impl Link {
    /// The leanest start this platform supports: [`Link::Static`] on Linux with glibc, else the
    /// default.
    pub fn lean() -> Link {
        if cfg!(all(target_os = "linux", target_env = "gnu", any(target_arch = "x86_64", target_arch = "aarch64"))) {
            Link::Static
        } else {
            Link::Pie
        }
    }

    /// The flags for the final crate.
    pub fn rustc_flags(self) -> &'static [&'static str] {
        match self {
            Link::Pie => &[],
            Link::NonPie => &["-C", "relocation-model=static"],
            Link::Static => &["-C", "relocation-model=static", "-C", "target-feature=+crt-static"],
        }
    }

    /// How the report names it.
    pub fn describe(self) -> &'static str {
        match self {
            Link::Pie => "PIE, shared libc (cargo's default)",
            Link::NonPie => "non-PIE, shared libc",
            Link::Static => "static, non-PIE",
        }
    }
}

/// `cargo build [--release]` of the `brickauth` binary.
fn cargo_build(release: bool) -> Result<PathBuf> {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root()).args(["build", "--quiet", "-p", "brickauth-cli", "--bin", "brickauth"]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build of brickauth failed");
    }
    built(if release { "release" } else { "debug" })
}

/// The release binary linked as `link` (`cargo rustc`, so the flags reach the final crate only).
pub fn build_release(link: Link) -> Result<PathBuf> {
    if link == Link::Pie {
        return cargo_build(true);
    }
    let status = Command::new(cargo())
        .current_dir(root())
        .args(["rustc", "--quiet", "--release", "-p", "brickauth-cli", "--bin", "brickauth", "--"])
        .args(link.rustc_flags())
        .status()
        .context("running cargo rustc")?;
    if !status.success() {
        bail!("cargo rustc of brickauth ({}) failed", link.describe());
    }
    built("release")
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// The path of the binary cargo just built in `profile`.
fn built(profile: &str) -> Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    let bin = target.join(profile).join(format!("brickauth{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        bail!("built binary not found at {}", bin.display());
    }
    Ok(bin)
}

/// The mocks and a scratch directory; dropped at the end of the run.
pub struct World {
    pub rt: tokio::runtime::Runtime,
    pub entra: MockEntra,
    pub databricks: MockDatabricks,
    pub dir: tempfile::TempDir,
    pub bin: PathBuf,
    /// Every output of every run, for the leak scan.
    pub transcript: std::sync::Mutex<Vec<(String, Output)>>,
}

/// What one run of the binary did.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl World {
    pub fn start(bin: PathBuf) -> Result<World> {
        World::start_with(bin, brickauth_mock::MockConfig::default())
    }

    /// A world whose mock Entra has `config` (other clients, other users).
    pub fn start_with(bin: PathBuf, config: brickauth_mock::MockConfig) -> Result<World> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let entra = rt.block_on(MockEntra::start_with(config));
        let databricks = rt.block_on(MockDatabricks::start(entra.registry()));
        let dir = tempfile::tempdir()?;
        Ok(World { rt, entra, databricks, dir, bin, transcript: Default::default() })
    }

    /// The leak scan of a world of its own: no token the mock issued (nor any of `extra`) on any
    /// run's stderr, no refresh token (nor `extra`) on its stdout. How many runs it scanned.
    pub fn scan_for_leaks(&self, extra: &[&str]) -> Result<usize> {
        let mut secrets: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        secrets.extend(self.entra.issued_refresh_tokens());
        let tokens = self.entra.issued_access_tokens();
        let transcript = self.transcript.lock().map_err(|_| anyhow::anyhow!("transcript lock poisoned"))?;
        for (args, o) in transcript.iter() {
            for t in secrets.iter().chain(&tokens) {
                anyhow::ensure!(!o.stderr.contains(t.as_str()), "`brickauth {args}` leaked a secret on stderr");
            }
            for t in &secrets {
                anyhow::ensure!(!o.stdout.contains(t.as_str()), "`brickauth {args}` printed a refresh token");
            }
        }
        Ok(transcript.len())
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write the profile file from a template: `{AUTHORITY}`, `{HOST}`, `{TENANT}`, `{CLIENT}`.
    pub fn write_profiles(&self, name: &str, template: &str) -> Result<PathBuf> {
        let text = template
            .replace("{AUTHORITY}", &self.entra.uri())
            .replace("{HOST}", &self.databricks.uri())
            .replace("{TENANT}", brickauth_mock::TENANT_ID)
            .replace("{CLIENT}", brickauth_mock::CLIENT_ID);
        let p = self.path(name);
        std::fs::write(&p, text)?;
        Ok(p)
    }

    /// Run `brickauth ARGS` with a clean environment plus `env`, stdin from `stdin`.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Result<Output> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("BRICKAUTH_CACHE_DIR", self.path("cache"))
            .env("BRICKAUTH_CONFIG", self.path("profiles.toml"))
            // Refresh tokens in the cache file unless a case asks for a key store: the kernel
            // keyring outlives the run (it_keychain.rs tests the stores, and cleans up).
            .env("BRICKAUTH_SECRET_STORAGE", "file")
            .env("TZ", "UTC")
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let start = Instant::now();
        let mut child = cmd.spawn().with_context(|| format!("starting {}", self.bin.display()))?;
        if let (Some(text), Some(mut w)) = (stdin, child.stdin.take()) {
            use std::io::Write;
            w.write_all(text.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        let o = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: start.elapsed(),
        };
        self.transcript
            .lock()
            .map_err(|_| anyhow::anyhow!("transcript lock poisoned"))?
            .push((args.join(" "), o.clone()));
        Ok(o)
    }

    /// Token requests the mock Entra received so far.
    pub fn token_requests(&self) -> Vec<BTreeMap<String, String>> {
        self.rt.block_on(self.entra.token_requests()).into_iter().map(|r| r.form).collect()
    }
}

/// Collects case results and prints the closing line.
#[derive(Default)]
pub struct Suite {
    passed: usize,
    skipped: usize,
    failed: Vec<String>,
    /// Only cases whose name contains this (case-insensitive) run; `None` runs all.
    filter: Option<String>,
}

impl Suite {
    /// A suite that runs only the cases whose name contains `filter` (case-insensitive).
    pub fn filtered(filter: Option<&str>) -> Suite {
        Suite { filter: filter.map(str::to_lowercase), ..Suite::default() }
    }

    pub fn case(&mut self, name: &str, f: impl FnOnce() -> Result<()>) {
        if let Some(filter) = &self.filter
            && !name.to_lowercase().contains(filter.as_str())
            // The leak scan reads every run's transcript: it always runs.
            && !name.starts_with("no secret appears")
        {
            self.skipped += 1;
            return;
        }
        let start = Instant::now();
        match f() {
            Ok(()) => {
                self.passed += 1;
                println!("ok    {name} ({:.2} s)", start.elapsed().as_secs_f64());
            }
            Err(e) => {
                println!("FAIL  {name}: {e:#}");
                self.failed.push(name.to_owned());
            }
        }
    }

    pub fn finish(self) -> Result<()> {
        if self.skipped > 0 {
            println!("\n{} passed, {} failed, {} skipped", self.passed, self.failed.len(), self.skipped);
        } else {
            println!("\n{} passed, {} failed", self.passed, self.failed.len());
        }
        if self.failed.is_empty() { Ok(()) } else { bail!("failed: {}", self.failed.join(", ")) }
    }
}

/// Make every token cached in the directory `cache` look received a minute ago: older than the
/// 5 s in which a forced refresh takes a token someone just obtained instead of asking again
/// (`brickauth_cache::COALESCE_WINDOW`). A case whose `--force-refresh` must reach the mock (a
/// failure queued for it, requests counted) calls this first.
pub fn age_tokens(cache: &Path) -> Result<()> {
    let path = cache.join("tokens.json");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let mut v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    let ago = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)? - Duration::from_secs(60);
    let at = i64::try_from(ago.as_millis())?;
    if let Some(entries) = v.get_mut("entries").and_then(serde_json::Value::as_object_mut) {
        for entry in entries.values_mut() {
            entry["obtained_at_ms"] = at.into();
        }
    }
    std::fs::write(&path, v.to_string()).with_context(|| format!("writing {}", path.display()))
}

/// Assert helpers that say what they saw.
/// `f(0)` … `f(n - 1)`, each on its own thread, all at once; their results in order. A thread
/// that panicked is an error.
pub fn concurrently<T: Send>(n: usize, f: impl Fn(usize) -> Result<T> + Sync) -> Result<Vec<T>> {
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = (0..n).map(|i| scope.spawn(move || f(i))).collect();
        handles.into_iter().map(|h| h.join().map_err(|_| anyhow::anyhow!("thread panicked"))?).collect()
    })
}

pub fn expect_code(o: &Output, code: i32) -> Result<()> {
    if o.code != code {
        bail!("exit code {} (expected {code})\nstdout: {}\nstderr: {}", o.code, o.stdout, o.stderr);
    }
    Ok(())
}

pub fn expect_contains(haystack: &str, needle: &str, what: &str) -> Result<()> {
    if !haystack.contains(needle) {
        bail!("{what} does not contain {needle:?}:\n{haystack}");
    }
    Ok(())
}
