//! `cargo xtask cross`: the workspace built and tested for Windows under Wine, and compile-checked
//! for both macOS targets, on a Debian machine that has only the host's Rust toolchain. Everything
//! it installs or builds lives in `target/cross/` and is reused by the next run; each step prints
//! how long it took.
//!
//! 1. **Tools.** Debian's `mingw-w64` (linker and C compiler for `x86_64-pc-windows-gnu`) and
//!    `wine64` through apt-get, only when missing. The std source of exactly `rustc -V`'s version:
//!    Debian's `rust-src` from trixie-backports, fetched with a private `APT_CONFIG` (nothing is
//!    written to `/etc/apt`), its version checked against the compiler's, only `library/` unpacked.
//!    No `rustup target add`: std is built from that source (`-Zbuild-std`). zig and
//!    cargo-zigbuild (pinned) from PyPI into a virtual environment, for the macOS check.
//! 2. **Wine prefix.** `wineboot` once; Wine 8.0 lacks `bcryptprimitives.dll`, whose `ProcessPrng`
//!    every Rust ≥ 1.78 program imports, so a stand-in built with mingw (`cross/bcryptprimitives.c`)
//!    goes into the prefix's `system32`.
//! 3. **Windows.** (a) one `cargo test --no-run` build of the whole workspace (xtask included) with
//!    `-D warnings`; (b) `cargo test --workspace` under Wine from that build, counted: any failure
//!    or ignored test fails the task; (c) the `brickauth.exe` of that same build under Wine against
//!    the mock servers (which run here, natively, on 127.0.0.1): a password-flow token, the cached
//!    second call, `exec` with an `.exe` and a `.cmd` child and the metadata service, the azure-cli
//!    flow reading az's DPAPI-protected token cache, and the leak scan.
//! 4. **macOS.** `cargo-zigbuild check` of the whole workspace, all targets, for `x86_64` and
//!    `aarch64-apple-darwin`, with `-D warnings`. Linking needs Apple's SDK, which no package
//!    source here has.
//!
//! Wine is not Windows: docs/platforms.md says what only a run on real Windows would prove.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use brickauth_mock::{ALICE, ALICE_PASSWORD, AZURE_CLI_CLIENT_ID, DATABRICKS_RESOURCE};
use serde_json::Value;

use crate::harness::{Output, Suite, World, expect_code, root};

/// The Windows target, its name in cargo's environment variables, and the macOS targets.
const WINDOWS: &str = "x86_64-pc-windows-gnu";
const WINDOWS_ENV: &str = "X86_64_PC_WINDOWS_GNU";
const MACOS: [(&str, &str); 2] =
    [("x86_64-apple-darwin", "X86_64_APPLE_DARWIN"), ("aarch64-apple-darwin", "AARCH64_APPLE_DARWIN")];

/// Debian packages installed when their program is missing.
const APT_TOOLS: [(&str, &str); 2] = [("x86_64-w64-mingw32-gcc", "mingw-w64"), (WINE, "wine64")];
/// Debian's `wine64` puts its loader here (`/usr/bin/wine64` comes only with the `wine` package).
const WINE: &str = "/usr/lib/wine/wine64";
const WINESERVER: &str = "/usr/lib/wine/wineserver";
const MINGW_GCC: &str = "x86_64-w64-mingw32-gcc";

/// Where Debian keeps every `rust-src` the compiler may need (rustup's stable is newer than
/// bookworm's own).
const RUST_SRC_SOURCE: &str = "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] \
                               http://deb.debian.org/debian trixie-backports main";

/// The zig toolchain for the macOS check, from PyPI.
const ZIG_PACKAGES: [&str; 2] = ["ziglang==0.17.0", "cargo-zigbuild==0.24.1"];

/// The test-only C helpers built with mingw.
const PRNG_STAND_IN: &str = include_str!("cross/bcryptprimitives.c");
const DPAPI_PROTECT: &str = include_str!("cross/dpapi_protect.c");

/// The steps after the tools, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Step {
    /// (a) the Windows test build.
    WindowsBuild,
    /// (b) every test under Wine.
    WindowsTests,
    /// (c) `brickauth.exe` under Wine against the mocks.
    WindowsE2e,
    /// (d) the macOS compile-check.
    Macos,
}

pub fn run(only: &[Step]) -> Result<()> {
    let wanted = |step: Step| only.is_empty() || only.contains(&step);
    ensure!(cfg!(target_os = "linux"), "cargo xtask cross runs on Linux (Debian): it drives apt-get, mingw and Wine");
    let dir = root().join("target/cross");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut clock = Clock::default();

    clock.step("apt tools", install_apt_tools)?;
    let library = clock.step("rust-src", || rust_src(&dir))?;
    let zig = clock.step("zig", || zig_venv(&dir))?;
    let wine = clock.step("wine prefix", || Wine::prepare(&dir))?;
    // One wineserver for the whole run: left to itself it exits a few seconds after its last
    // client, and a test binary starting at that moment dies with "wine client error: recvmsg:
    // Connection reset by peer" (seen here between two test binaries).
    let _server = wine.persistent_server()?;
    let cross = Cross { library, build: dir.join("build"), wine, zig };

    if wanted(Step::WindowsBuild) {
        clock.step("windows build", || cross.windows_build())?;
    }
    let counts =
        if wanted(Step::WindowsTests) { Some(clock.step("windows tests", || cross.windows_tests())?) } else { None };
    if wanted(Step::WindowsE2e) {
        clock.step("windows e2e", || cross.windows_e2e())?;
    }
    if wanted(Step::Macos) {
        clock.step("macos check", || cross.macos_check())?;
    }
    if let Some(counts) = counts {
        println!("\ncross: {counts}");
    }
    println!("cross: times: {}", clock.summary());
    Ok(())
}

/// Wall-clock time of each step, printed as it ends and summed up at the end.
#[derive(Default)]
struct Clock(Vec<(&'static str, Duration)>);

impl Clock {
    fn step<T>(&mut self, name: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        println!("cross: {name}…");
        let start = Instant::now();
        let out = f().with_context(|| format!("cross: {name}"))?;
        let took = start.elapsed();
        println!("cross: {name}: {}", secs(took));
        self.0.push((name, took));
        Ok(out)
    }

    fn summary(&self) -> String {
        let total: Duration = self.0.iter().map(|(_, d)| *d).sum();
        let steps: Vec<String> = self.0.iter().map(|(n, d)| format!("{n} {}", secs(*d))).collect();
        format!("{} (total {})", steps.join(", "), secs(total))
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 { format!("{s:.1} s") } else { format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60) }
}

// 1. Tools --------------------------------------------------------------------------------------

/// `apt-get install --no-install-recommends` of the packages whose program is missing.
fn install_apt_tools() -> Result<()> {
    let missing: Vec<&str> = APT_TOOLS.iter().filter(|(program, _)| !on_path(program)).map(|(_, p)| *p).collect();
    if missing.is_empty() {
        println!("cross: mingw-w64 and wine64 are installed");
        return Ok(());
    }
    println!("cross: apt-get install {}", missing.join(" "));
    ensure!(on_path("apt-get"), "{} missing and no apt-get here: install them (Debian packages)", missing.join(", "));
    quiet(Command::new("apt-get").args(["update", "-qq"])).context("apt-get update (needs root)")?;
    quiet(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing),
    )
    .with_context(|| format!("apt-get install {} (needs root)", missing.join(" ")))?;
    for (program, package) in APT_TOOLS {
        ensure!(on_path(program), "{package} is installed but {program} is still missing");
    }
    Ok(())
}

/// A program name on `PATH`, or an absolute path that exists.
fn on_path(program: &str) -> bool {
    if Path::new(program).is_absolute() {
        return Path::new(program).exists();
    }
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// The `library/` directory of the std source matching `rustc -V`, from Debian's `rust-src`.
fn rust_src(dir: &Path) -> Result<PathBuf> {
    let version = rustc_version()?;
    let unpacked = dir.join(format!("rust-src-{version}"));
    let library = unpacked.join("library");
    if library.join("Cargo.lock").exists() {
        println!("cross: std source of rustc {version} in {}", library.display());
        return Ok(library);
    }
    // A private APT state: one source, its own lists, cache and (empty) status; /etc/apt untouched.
    let apt = dir.join("apt");
    for d in ["etc/sources.list.d", "lists/partial", "cache/archives/partial"] {
        std::fs::create_dir_all(apt.join(d))?;
    }
    std::fs::write(apt.join("etc/sources.list"), format!("{RUST_SRC_SOURCE}\n"))?;
    std::fs::write(apt.join("status"), "")?;
    let config = apt.join("apt.conf");
    std::fs::write(
        &config,
        format!(
            "Dir::Etc::SourceList \"{0}/etc/sources.list\";\nDir::Etc::SourceParts \"{0}/etc/sources.list.d\";\n\
             Dir::State::Lists \"{0}/lists\";\nDir::State::status \"{0}/status\";\nDir::Cache \"{0}/cache\";\n\
             APT::Sandbox::User \"root\";\n",
            apt.display()
        ),
    )?;
    let apt_cmd = |program: &str| {
        let mut c = Command::new(program);
        c.env("APT_CONFIG", &config).current_dir(&apt);
        c
    };
    println!("cross: fetching Debian's rust-src for rustc {version} (trixie-backports)");
    quiet(apt_cmd("apt-get").args(["update", "-qq"])).context("apt-get update of the private trixie-backports list")?;
    let madison = capture(apt_cmd("apt-cache").args(["madison", "rust-src"]))?;
    let package = madison
        .lines()
        .filter_map(|l| l.split('|').nth(1).map(str::trim))
        .find(|v| upstream_version(v) == version)
        .with_context(|| {
            format!("Debian's trixie-backports has no rust-src for rustc {version} (it has: {})", madison.trim())
        })?
        .to_owned();
    for old in std::fs::read_dir(&apt)?.flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".deb")) {
        std::fs::remove_file(old.path())?;
    }
    quiet(apt_cmd("apt-get").args(["download", "-qq", &format!("rust-src={package}")]))
        .with_context(|| format!("apt-get download rust-src={package}"))?;
    let deb = std::fs::read_dir(&apt)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .context("apt-get download left no .deb")?;
    let got = capture(Command::new("dpkg-deb").args(["-f"]).arg(&deb).arg("Version"))?;
    ensure!(
        got.trim() == package && upstream_version(got.trim()) == version,
        "{} is rust-src {} but rustc is {version}",
        deb.display(),
        got.trim()
    );
    // Only library/ (with its Cargo.lock), unpacked next to the final place and then renamed.
    let staging = dir.join(format!("rust-src-{version}.partial"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    let inner = format!("./usr/src/rustc-{version}/library");
    let status = Command::new("sh")
        .arg("-c")
        .arg("dpkg-deb --fsys-tarfile \"$1\" | tar -x -C \"$2\" \"$3\"")
        .arg("sh")
        .arg(&deb)
        .arg(&staging)
        .arg(&inner)
        .status()
        .context("running dpkg-deb | tar")?;
    ensure!(status.success(), "unpacking {inner} from {} failed", deb.display());
    let _ = std::fs::remove_dir_all(&unpacked);
    std::fs::create_dir_all(&unpacked)?;
    std::fs::rename(staging.join(&inner), &library)?;
    std::fs::remove_dir_all(&staging)?;
    std::fs::remove_file(&deb)?;
    ensure!(library.join("Cargo.lock").exists(), "{} has no Cargo.lock", library.display());
    Ok(library)
}

/// `1.95.0` from `rustc 1.95.0 (59807616e 2026-04-14)`.
fn rustc_version() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = capture(Command::new(&rustc).arg("-V"))?;
    out.split_whitespace().nth(1).map(str::to_owned).with_context(|| format!("unexpected `{rustc} -V`: {out}"))
}

/// The upstream part of a Debian version: `1.95.0` from `1.95.0+dfsg1-2~bpo13+1` (or `1:1.95.0-1`).
fn upstream_version(debian: &str) -> &str {
    let no_epoch = debian.split_once(':').map_or(debian, |(_, v)| v);
    no_epoch.split(['+', '-', '~']).next().unwrap_or(no_epoch)
}

/// The virtual environment with zig and cargo-zigbuild; its `bin/`.
fn zig_venv(dir: &Path) -> Result<PathBuf> {
    let venv = dir.join("zig-venv");
    let marker = venv.join(format!(".{}", ZIG_PACKAGES.join("+")));
    if !marker.exists() {
        println!("cross: pip install {} (into {})", ZIG_PACKAGES.join(" "), venv.display());
        let _ = std::fs::remove_dir_all(&venv);
        quiet(Command::new("python3").args(["-m", "venv"]).arg(&venv)).context("python3 -m venv")?;
        quiet(Command::new(venv.join("bin/python")).args(["-m", "pip", "install", "-q"]).args(ZIG_PACKAGES))
            .with_context(|| format!("pip install {}", ZIG_PACKAGES.join(" ")))?;
        std::fs::write(&marker, b"")?;
    }
    Ok(venv.join("bin"))
}

// 2. Wine -----------------------------------------------------------------------------------------

/// The persistent wineserver of a run; ended (with every Wine process of the prefix) on drop.
struct WineServer {
    prefix_env: [(&'static str, OsString); 3],
}

impl Drop for WineServer {
    fn drop(&mut self) {
        let _ = Command::new(WINESERVER).envs(self.prefix_env.clone()).arg("-k").status();
    }
}

/// A Wine prefix of our own with the `ProcessPrng` stand-in, and the helpers built with mingw.
struct Wine {
    prefix: PathBuf,
    /// `dpapi-protect.exe` (see `cross/dpapi_protect.c`).
    dpapi_protect: PathBuf,
}

impl Wine {
    fn prepare(dir: &Path) -> Result<Wine> {
        let helpers = dir.join("helpers");
        std::fs::create_dir_all(&helpers)?;
        let dll = mingw(&helpers, "bcryptprimitives.dll", PRNG_STAND_IN, &["-shared"], "-ladvapi32")?;
        let dpapi_protect = mingw(&helpers, "dpapi-protect.exe", DPAPI_PROTECT, &[], "-lcrypt32")?;
        let wine = Wine { prefix: dir.join("wine"), dpapi_protect };
        if !wine.prefix.join("system.reg").exists() {
            println!("cross: wineboot of a new prefix in {}", wine.prefix.display());
            let status = wine.command(WINE).args(["wineboot", "-i"]).stdout(Stdio::null()).status()?;
            ensure!(status.success(), "wineboot -i failed ({status})");
            wine.command(WINESERVER).arg("-w").status()?;
        }
        let system32 = wine.prefix.join("drive_c/windows/system32");
        ensure!(system32.is_dir(), "{} is not a Wine prefix (no system32)", wine.prefix.display());
        std::fs::copy(&dll, system32.join("bcryptprimitives.dll"))?;
        Ok(wine)
    }

    /// The environment every Wine process of ours gets: our prefix, no debug chatter, no menu
    /// entries, no Mono or Gecko installer.
    fn env(&self) -> [(&'static str, OsString); 3] {
        [
            ("WINEPREFIX", self.prefix.clone().into_os_string()),
            ("WINEDEBUG", "-all".into()),
            ("WINEDLLOVERRIDES", "winemenubuilder.exe=d;mscoree,mshtml=".into()),
        ]
    }

    /// Start a wineserver that stays until the returned guard is dropped (`wineserver -p`
    /// detaches itself; `-k` ends it).
    fn persistent_server(&self) -> Result<WineServer> {
        let status = self.command(WINESERVER).arg("-p").status().context("starting wineserver -p")?;
        ensure!(status.success(), "wineserver -p failed ({status})");
        Ok(WineServer { prefix_env: self.env() })
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env());
        c
    }
}

/// `x86_64-w64-mingw32-gcc` of one C file into `dir/name` (rebuilt when the source changed).
fn mingw(dir: &Path, name: &str, source: &str, flags: &[&str], lib: &str) -> Result<PathBuf> {
    let out = dir.join(name);
    let src = dir.join(format!("{name}.c"));
    if out.exists() && std::fs::read_to_string(&src).is_ok_and(|s| s == source) {
        return Ok(out);
    }
    std::fs::write(&src, source)?;
    quiet(Command::new(MINGW_GCC).args(["-O2", "-Wall", "-Werror"]).args(flags).arg("-o").arg(&out).arg(&src).arg(lib))
        .with_context(|| format!("building {name} with mingw"))?;
    Ok(out)
}

/// A Unix path as a Windows program under Wine names it (drive Z: is `/`).
fn win_path(p: &Path) -> String {
    format!("Z:{}", p.display().to_string().replace('/', "\\"))
}

// 3. Windows --------------------------------------------------------------------------------------

struct Cross {
    /// The std source (`library/`).
    library: PathBuf,
    /// `target/cross/build`: its own target directory, so host builds are not disturbed.
    build: PathBuf,
    wine: Wine,
    /// The zig virtual environment's `bin/`.
    zig: PathBuf,
}

/// The Windows test run's totals.
struct Counts {
    passed: usize,
    failed: usize,
    ignored: usize,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "windows tests: {} passed, {} failed, {} ignored", self.passed, self.failed, self.ignored)
    }
}

impl Cross {
    /// `cargo` with std built from our source for the targets given later, into our target dir.
    fn cargo(&self, program: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.current_dir(root())
            .args(args)
            .args(["-Zbuild-std", "--target-dir"])
            .arg(&self.build)
            .env("RUSTC_BOOTSTRAP", "1")
            .env("__CARGO_TESTS_ONLY_SRC_ROOT", &self.library)
            .env("CARGO_INCREMENTAL", "0");
        c
    }

    /// `cargo test --workspace` for Windows: the build step's `--no-run`, and the run under Wine.
    fn windows_cargo_test(&self, extra: &[&str]) -> Command {
        let cargo = PathBuf::from(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        let mut c = self.cargo(&cargo, &["test", "--workspace", "--target", WINDOWS]);
        c.args(extra)
            .env(format!("CARGO_TARGET_{WINDOWS_ENV}_LINKER"), MINGW_GCC)
            // No debug info: the test build is the slowest step, and Wine shows no backtraces.
            .env(format!("CARGO_TARGET_{WINDOWS_ENV}_RUSTFLAGS"), "-D warnings -C debuginfo=0")
            .env(format!("CARGO_TARGET_{WINDOWS_ENV}_RUNNER"), WINE)
            .envs(self.wine.env())
            // insta cannot run `cargo metadata` from inside a Windows .exe.
            .env("INSTA_WORKSPACE_ROOT", root())
            .env("INSTA_UPDATE", "no");
        c
    }

    /// (a) The whole workspace, xtask included, with `-D warnings`: one test build that (b) runs
    /// and (c) takes `brickauth.exe` and the `metadata_client` example from.
    fn windows_build(&self) -> Result<()> {
        let status = self.windows_cargo_test(&["--no-run"]).status().context("running cargo test --no-run")?;
        ensure!(status.success(), "the Windows build failed");
        Ok(())
    }

    /// (b) Every test under Wine; the totals of libtest's `test result:` lines.
    fn windows_tests(&self) -> Result<Counts> {
        let mut child = self
            .windows_cargo_test(&["--no-fail-fast", "--", "--quiet"])
            .stdout(Stdio::piped())
            .spawn()
            .context("running cargo test under Wine")?;
        let stdout = child.stdout.take().context("cargo test's stdout")?;
        let mut counts = Counts { passed: 0, failed: 0, ignored: 0 };
        let mut binaries = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            println!("{line}");
            if let Some(result) = line.strip_prefix("test result: ") {
                binaries += 1;
                counts.passed += count(result, "passed")?;
                counts.failed += count(result, "failed")?;
                counts.ignored += count(result, "ignored")?;
            }
        }
        let status = child.wait()?;
        println!("{counts} ({binaries} test binaries)");
        ensure!(status.success() && counts.failed == 0, "{counts}");
        ensure!(counts.ignored == 0, "{counts}: a test that cannot apply to Windows is cfg-gated, not ignored");
        ensure!(binaries > 0 && counts.passed > 0, "no test ran under Wine");
        Ok(counts)
    }

    /// (c) The Windows binary against the mocks.
    fn windows_e2e(&self) -> Result<()> {
        let debug = self.build.join(WINDOWS).join("debug");
        let exe = debug.join("brickauth.exe");
        ensure!(exe.exists(), "{} was not built by the test build", exe.display());
        let client = debug.join("examples/metadata_client.exe");
        ensure!(client.exists(), "{} was not built by the test build", client.display());
        let mut s = Suite::default();
        e2e_cases(&WinWorld::start(&self.wine, exe, &client)?, &mut s);
        s.finish()
    }

    /// (d) Both macOS targets, all targets of the workspace, through zig.
    fn macos_check(&self) -> Result<()> {
        let caches = root().join("target/cross/zig-cache");
        let path = std::env::join_paths(
            std::iter::once(self.zig.clone())
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
        )?;
        let mut c = self.cargo(&self.zig.join("cargo-zigbuild"), &["check", "--workspace", "--all-targets"]);
        for (target, env) in MACOS {
            c.args(["--target", target]).env(format!("CARGO_TARGET_{env}_RUSTFLAGS"), "-D warnings");
        }
        let status = c
            .env("PATH", path)
            .env("XDG_CACHE_HOME", caches.join("xdg"))
            .env("ZIG_GLOBAL_CACHE_DIR", caches.join("global"))
            .env("ZIG_LOCAL_CACHE_DIR", caches.join("local"))
            .status()
            .context("running cargo-zigbuild check")?;
        ensure!(status.success(), "the macOS check failed");
        Ok(())
    }
}

/// `N` from `ok. N passed; M failed; …`.
fn count(result: &str, what: &str) -> Result<usize> {
    let field = result
        .split(['.', ';'])
        .map(str::trim)
        .find(|f| f.ends_with(&format!(" {what}")))
        .with_context(|| format!("no `{what}` in `test result: {result}`"))?;
    field.split(' ').next().unwrap_or_default().parse().with_context(|| format!("`{field}` in `{result}`"))
}

/// The mocks (native, on 127.0.0.1) and `brickauth.exe` under Wine. The Windows program gets our
/// Wine environment, `PATH` entries through `WINEPATH`, and Windows spellings of every path.
struct WinWorld<'a> {
    world: World,
    wine: &'a Wine,
    /// `WINEPATH`: the directories with `metadata_client.exe` and the `.cmd` tool.
    winepath: String,
}

impl<'a> WinWorld<'a> {
    fn start(wine: &'a Wine, exe: PathBuf, client: &Path) -> Result<WinWorld<'a>> {
        let mut config = brickauth_mock::MockConfig::default();
        // The Azure CLI's client id registered first: the refresh tokens minted for the
        // azure-cli case are az's.
        config.clients.insert(0, AZURE_CLI_CLIENT_ID.to_owned());
        let world = World::start_with(exe, config)?;
        let tools = world.path("tools");
        std::fs::create_dir_all(&tools)?;
        std::fs::copy(client, tools.join("metadata_client.exe"))?;
        std::fs::write(
            tools.join("show-metadata.cmd"),
            "@echo off\r\necho %DATABRICKS_AUTH_TYPE%\r\necho %DATABRICKS_METADATA_SERVICE_URL%\r\n\
             if defined ALICE_PASSWORD (echo ALICE_PASSWORD is set) else (echo ^<unset^>)\r\nexit /b 9\r\n",
        )?;
        let profiles = format!(
            "{}\n{}",
            brickauth_mock::constants::password_profile("alice", "ALICE_PASSWORD", true),
            "[profiles.az]\nflow = \"azure-cli\"\nazure_cli_mode = \"cache\"\nauthority_host = \"{AUTHORITY}\"\n\
             host = \"{HOST}\"\n"
        );
        world.write_profiles("profiles.toml", &profiles)?;
        Ok(WinWorld { winepath: win_path(&tools), world, wine })
    }

    /// `brickauth.exe ARGS` under Wine, with a clean environment plus `env`.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
        let w = &self.world;
        let mut cmd = Command::new(WINE);
        cmd.arg(&w.bin)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::var_os("HOME").unwrap_or_default())
            .envs(self.wine.env())
            .env("WINEPATH", &self.winepath)
            .env("BRICKAUTH_CACHE_DIR", win_path(&w.path("cache")))
            .env("BRICKAUTH_CONFIG", win_path(&w.path("profiles.toml")))
            .env("BRICKAUTH_SECRET_STORAGE", "file")
            .env("TZ", "UTC")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let start = Instant::now();
        let out = cmd.output().with_context(|| format!("running {} under Wine", w.bin.display()))?;
        let o = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
            stderr: String::from_utf8_lossy(&out.stderr).replace("\r\n", "\n"),
            elapsed: start.elapsed(),
        };
        w.transcript.lock().map_err(|_| anyhow::anyhow!("transcript lock poisoned"))?.push((args.join(" "), o.clone()));
        Ok(o)
    }

    /// `exec -- CHILD…`: the child's lines, after checking exec passed on its exit code.
    fn exec(&self, child: &[&str], code: i32) -> Result<Vec<String>> {
        let args: Vec<&str> = ["exec", "--"].into_iter().chain(child.iter().copied()).collect();
        let o = self.run(&args, &[("ALICE_PASSWORD", ALICE_PASSWORD)])?;
        expect_code(&o, code)?;
        Ok(o.stdout.lines().map(str::to_owned).collect())
    }
}

fn e2e_cases(w: &WinWorld<'_>, s: &mut Suite) {
    let alice = [("ALICE_PASSWORD", ALICE_PASSWORD)];
    let issued = |token: &str| w.world.entra.issued_access_tokens().iter().any(|t| t == token);

    s.case("windows: brickauth.exe gets a password-flow token from the mock", || {
        let o = w.run(&["token"], &alice)?;
        expect_code(&o, 0)?;
        ensure!(issued(o.stdout.trim()), "not a token the mock issued: {}", o.stdout);
        let cached = std::fs::read_dir(w.world.path("cache")).map(|d| d.count()).unwrap_or(0);
        ensure!(cached > 0, "nothing was cached in BRICKAUTH_CACHE_DIR");
        Ok(())
    });

    s.case("windows: the second call is answered from the cache, no token request", || {
        let first = w.run(&["token"], &alice)?;
        let second = w.run(&["token"], &[])?;
        expect_code(&second, 0)?;
        ensure!(second.stdout == first.stdout, "the second call printed another token");
        let requests = w.world.token_requests().len();
        ensure!(requests == 1, "the mock saw {requests} token requests for two cached calls and the first");
        Ok(())
    });

    s.case("windows: exec gives an .exe child the metadata service; its exit code is exec's", || {
        let lines = w.exec(&["metadata_client", "7"], 7)?;
        ensure!(lines.len() == 5, "child output: {lines:?}");
        ensure!(lines[0].starts_with("http://127.0.0.1:"), "url: {}", lines[0]);
        ensure!(lines[1] == "metadata-service", "auth type: {}", lines[1]);
        ensure!(lines[2] == "<unset>", "the child saw ALICE_PASSWORD");
        ensure!(lines[3] == "200", "the metadata service answered {}", lines[3]);
        let v: Value = serde_json::from_str(&lines[4]).with_context(|| format!("the answer: {}", lines[4]))?;
        ensure!(issued(v["access_token"].as_str().unwrap_or_default()), "not an issued token: {v}");
        Ok(())
    });

    // Needs exec to resolve PATHEXT (a `.cmd` is found by its bare name) and to start it
    // through cmd.exe.
    s.case("windows: exec runs a .cmd tool found through PATHEXT, with the metadata variables", || {
        let lines = w.exec(&["show-metadata"], 9)?;
        ensure!(lines.len() == 3, "the .cmd's output: {lines:?}");
        ensure!(lines[0].trim() == "metadata-service", "auth type: {}", lines[0]);
        ensure!(lines[1].trim().starts_with("http://127.0.0.1:"), "url: {}", lines[1]);
        ensure!(lines[2].trim() == "<unset>", "the .cmd saw ALICE_PASSWORD");
        Ok(())
    });

    // Needs the azure-cli flow to read az's DPAPI-protected msal_token_cache.bin on Windows.
    s.case("windows: the azure-cli flow redeems az's DPAPI-protected token cache, no az process", || {
        let az = w.world.path("azure");
        let rt = w.world.entra.issue_refresh_token(ALICE);
        crate::it_azcli::write_alice(&az, rt.clone())?;
        let plain = az.join("msal_token_cache.json");
        let status = w
            .wine
            .command(WINE)
            .arg(&w.wine.dpapi_protect)
            .arg(win_path(&plain))
            .arg(win_path(&az.join("msal_token_cache.bin")))
            .status()?;
        ensure!(status.success(), "dpapi-protect failed ({status})");
        std::fs::remove_file(&plain)?;
        let before = w.world.entra.token_request_count();
        let o = w.run(&["-p", "az", "token", "-o", "json"], &[("AZURE_CONFIG_DIR", &win_path(&az))])?;
        expect_code(&o, 0)?;
        ensure!(!o.stderr.contains("running the Azure CLI"), "az was run:\n{}", o.stderr);
        let v: Value = serde_json::from_str(&o.stdout)?;
        let claims = brickauth_mock::jwt::claims(v["accessToken"].as_str().unwrap_or_default()).context("not a JWT")?;
        ensure!(claims["upn"] == ALICE && claims["aud"] == DATABRICKS_RESOURCE, "{claims}");
        ensure!(claims["appid"] == AZURE_CLI_CLIENT_ID, "not the Azure CLI's token: {claims}");
        let reqs = w.world.token_requests();
        ensure!(reqs.len() == before + 1, "expected one token request, saw {}", reqs.len() - before);
        ensure!(reqs[before].get("refresh_token") == Some(&rt), "not az's refresh token");
        Ok(())
    });

    s.case("no secret appears on a Windows run's stderr, nor a refresh token on its stdout", || {
        let scanned = w.world.scan_for_leaks(&[ALICE_PASSWORD])?;
        ensure!(scanned >= 6, "too few runs scanned: {scanned}");
        Ok(())
    });
}

// Helpers -------------------------------------------------------------------------------------------

/// Run a command with its output hidden unless it fails.
fn quiet(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} failed ({}):\n{}{}",
            cmd.get_program(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A command's stdout; an error with its stderr when it fails.
fn capture(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {:?}", cmd.get_program()))?;
    ensure!(out.status.success(), "{:?} failed: {}", cmd.get_program(), String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_versions_give_their_upstream_version() {
        assert_eq!(upstream_version("1.95.0+dfsg1-2~bpo13+1"), "1.95.0");
        assert_eq!(upstream_version("1:1.93.1-1"), "1.93.1");
        assert_eq!(upstream_version("1.98.1~beta"), "1.98.1");
    }

    #[test]
    fn libtest_result_lines_are_counted() {
        let line = "ok. 12 passed; 1 failed; 3 ignored; 0 measured; 0 filtered out; finished in 0.01s";
        assert_eq!(count(line, "passed").unwrap(), 12);
        assert_eq!(count(line, "failed").unwrap(), 1);
        assert_eq!(count(line, "ignored").unwrap(), 3);
        assert!(count("FAILED. garbage", "passed").is_err());
    }

    #[test]
    fn wine_sees_unix_paths_on_drive_z() {
        assert_eq!(win_path(Path::new("/work/target/cross")), r"Z:\work\target\cross");
    }
}
