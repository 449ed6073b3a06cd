//! `cargo xtask wheel [--out DIR]`: the `pip install brickauth` wheel — the CLI binary itself, no
//! Python code (maturin's `bindings = "bin"`, as ruff and uv ship; `crates/brickauth-cli/pyproject.toml`)
//! — built, then installed and used the way a user would.
//!
//! 1. maturin, pinned ([`MATURIN`]), from PyPI into `target/wheel/maturin-venv` (once).
//! 2. `maturin build --release --auditwheel check` (into `target/wheel/build`, then copied to
//!    `target/wheel/dist` or `DIR`). On Linux the final crate is linked as `cargo xtask dist`
//!    links it ([`Link::lean`]: static, non-PIE), so no dynamic loader and no shared library is
//!    needed: the binary runs on any x86_64 Linux, whatever its C library. The tag is
//!    `manylinux_2_17` (= manylinux2014), the oldest maturin builds for and the broadest a glibc
//!    target can carry (maturin refuses to mix manylinux and musllinux tags for one wheel);
//!    docs/performance.md, "The wheel".
//! 3. The wheel's name, `WHEEL` and `METADATA` are checked (version = the crate's, the tag), and
//!    the binary pip installed from it is checked to have no ELF interpreter.
//! 4. A fresh virtual environment (`target/wheel/test-venv`): `pip install --no-index` of the
//!    wheel, `brickauth --version` from the venv's `bin/`, a password-flow token from the bundled
//!    mock with that installed binary (and a second call answered from the cache), then the
//!    Databricks SDK for Python (from PyPI, kept in `target/wheel/wheelhouse` after the first
//!    download) in the same venv, with the installed `brickauth` as its token helper.
//!
//! Without `python3` the task says so and succeeds (it proves a package, not the machine); with
//! Python, a failing step fails the task.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};

use crate::harness::{Link, World, expect_code, root};

/// The maturin that builds the wheel (PyPI), pinned so that a wheel built today and one built
/// next month differ only by our code.
pub const MATURIN: &str = "1.16.0";

/// The platform tag maturin is asked for on Linux (the wheel's file name carries its long form,
/// `manylinux2014_x86_64.manylinux_2_17_x86_64`).
const COMPATIBILITY: &str = "manylinux2014";

/// Prints each step's wall time and keeps the total.
struct Clock {
    start: Instant,
    step: Instant,
}

impl Clock {
    fn new() -> Clock {
        Clock { start: Instant::now(), step: Instant::now() }
    }

    fn lap(&mut self, what: &str) {
        println!("wheel: {what} ({:.1} s)", self.step.elapsed().as_secs_f64());
        self.step = Instant::now();
    }
}

pub fn run(out: Option<&Path>) -> Result<()> {
    if !Command::new("python3").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success()) {
        println!("wheel: skipped: python3 not found (the wheel is built and tested with pip)");
        return Ok(());
    }
    let mut clock = Clock::new();
    let dir = root().join("target/wheel");
    let maturin = maturin(&dir)?;
    clock.lap(&format!("maturin {MATURIN} ready"));

    let version = crate::release::version()?;
    let built = build(&maturin, &dir.join("build"), &version)?;
    let out = out.map(Path::to_path_buf).unwrap_or_else(|| dir.join("dist"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let wheel = out.join(built.file_name().context("the wheel has no file name")?);
    std::fs::copy(&built, &wheel).with_context(|| format!("copying {} to {}", built.display(), wheel.display()))?;
    let size = std::fs::metadata(&wheel)?.len() as f64 / 1048576.0;
    clock.lap(&format!("built {} ({size:.1} MB)", wheel.display()));

    let venv = fresh_venv(&dir.join("test-venv"))?;
    let python = venv.join("bin/python");
    inspect(&python, &wheel, &version)?;
    pip(&python, &["install", "-q", "--no-index", "--no-deps"], &[wheel.as_os_str()])?;
    let installed = venv.join("bin/brickauth");
    ensure!(installed.exists(), "pip installed the wheel but {} does not exist", installed.display());
    clock.lap("fresh venv, pip install --no-index of the wheel");

    let elf = std::fs::read(&installed).with_context(|| format!("reading {}", installed.display()))?;
    if let Some(loader) = elf_interpreter(&elf)? {
        bail!("the installed binary needs the dynamic loader {loader}: it would not run on every Linux");
    }
    let out = Command::new(&installed).arg("--version").output().context("running the installed brickauth")?;
    let said = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success() && said.contains(&version),
        "`brickauth --version` from the venv said {said:?} (exit {:?}), not version {version}",
        out.status.code()
    );
    println!("wheel: {} --version: {} (static: no ELF interpreter)", installed.display(), said.trim());

    let w = World::start(installed.clone())?;
    w.databricks.set_cluster_count(120);
    token_from_the_mock(&w)?;
    clock.lap("a token from the mock with the installed binary, then from its cache");

    sdk_install(&python, &dir.join("wheelhouse"))?;
    clock.lap("databricks-sdk installed into the same venv");
    sdk_uses_it(&w, &python, &installed)?;
    let scanned = w.scan_for_leaks(&[brickauth_mock::ALICE_PASSWORD])?;
    clock.lap(&format!(
        "the Databricks SDK for Python with the installed brickauth as its helper; leak scan of {scanned} runs"
    ));
    println!("wheel: total {:.1} s", clock.start.elapsed().as_secs_f64());
    println!("3 passed, 0 failed");
    Ok(())
}

/// The pinned maturin in its own venv, installed on first use.
fn maturin(dir: &Path) -> Result<PathBuf> {
    let venv = dir.join("maturin-venv");
    let bin = venv.join("bin/maturin");
    let current = Command::new(&bin).arg("--version").output().ok().filter(|o| o.status.success());
    if current.is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == format!("maturin {MATURIN}")) {
        return Ok(bin);
    }
    println!("wheel: installing maturin {MATURIN} from PyPI into {}", venv.display());
    let made = Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv).status();
    ensure!(made.is_ok_and(|s| s.success()), "python3 -m venv {} failed", venv.display());
    pip(&venv.join("bin/python"), &["install", "-q", &format!("maturin=={MATURIN}")], &[])?;
    Ok(bin)
}

/// `python -m pip ARGS PATHS`, failing with what pip said.
fn pip(python: &Path, args: &[&str], paths: &[&std::ffi::OsStr]) -> Result<()> {
    let out = Command::new(python)
        .args(["-m", "pip", "--disable-pip-version-check"])
        .args(args)
        .args(paths)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {} -m pip", python.display()))?;
    ensure!(
        out.status.success(),
        "pip {} failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// `maturin build` of the CLI's wheel into `out` (made anew: xtask's own directory); its path.
fn build(maturin: &Path, out: &Path, version: &str) -> Result<PathBuf> {
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("removing {}", out.display()))?;
    }
    let link = Link::lean();
    println!("wheel: maturin build --release ({})…", link.describe());
    let mut cmd = Command::new(maturin);
    cmd.current_dir(root())
        .args(["build", "--release", "--locked", "--quiet", "--auditwheel", "check"])
        .arg("--manifest-path")
        .arg(root().join("crates/brickauth-cli/Cargo.toml"))
        .arg("--out")
        .arg(out);
    if cfg!(target_os = "linux") {
        cmd.args(["--compatibility", COMPATIBILITY]);
    }
    // The final crate's link flags, as `cargo xtask dist` passes them (maturin runs `cargo rustc`).
    let flags = link.rustc_flags();
    if !flags.is_empty() {
        cmd.arg("--").args(flags);
    }
    let status = cmd.status().context("running maturin")?;
    ensure!(status.success(), "maturin build failed");
    let wheels: Vec<PathBuf> = std::fs::read_dir(out)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .collect();
    let [wheel] = wheels.as_slice() else {
        bail!("maturin left {} wheels in {}, expected one", wheels.len(), out.display());
    };
    let name = WheelName::parse(&wheel.file_name().unwrap_or_default().to_string_lossy())?;
    ensure!(name.distribution == "brickauth", "the wheel is for {:?}, not brickauth", name.distribution);
    ensure!(name.version == version, "the wheel's version {} is not the crate's {version}", name.version);
    ensure!(
        name.python == "py3" && name.abi == "none",
        "a binary wheel is tagged py3-none, not {}-{}",
        name.python,
        name.abi
    );
    if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        ensure!(
            name.platforms.iter().any(|p| p == "manylinux_2_17_x86_64"),
            "the wheel is tagged {:?}, not manylinux_2_17_x86_64",
            name.platforms
        );
    }
    Ok(wheel.clone())
}

/// A wheel's file name, `{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl`
/// (a compressed tag set: platforms joined by `.`).
#[derive(Debug, PartialEq, Eq)]
pub struct WheelName {
    pub distribution: String,
    pub version: String,
    pub python: String,
    pub abi: String,
    pub platforms: Vec<String>,
}

impl WheelName {
    pub fn parse(file: &str) -> Result<WheelName> {
        let stem = file.strip_suffix(".whl").with_context(|| format!("{file:?} is not a .whl file name"))?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (distribution, version, python, abi, platform) = match parts.as_slice() {
            [d, v, p, a, pl] | [d, v, _, p, a, pl] => (*d, *v, *p, *a, *pl),
            _ => bail!("{file:?} is not a wheel file name (name-version-python-abi-platform.whl)"),
        };
        ensure!(
            [distribution, version, python, abi, platform].iter().all(|s| !s.is_empty()),
            "{file:?} has an empty part"
        );
        Ok(WheelName {
            distribution: distribution.to_owned(),
            version: version.to_owned(),
            python: python.to_owned(),
            abi: abi.to_owned(),
            platforms: platform.split('.').map(str::to_owned).collect(),
        })
    }
}

/// Lists the wheel with Python's `zipfile` and checks what pip will install: the binary as a
/// script, and `METADATA`/`WHEEL` that name brickauth, its version and a binary tag.
fn inspect(python: &Path, wheel: &Path, version: &str) -> Result<()> {
    const LIST: &str = "import sys, zipfile, json\n\
        z = zipfile.ZipFile(sys.argv[1])\n\
        names = z.namelist()\n\
        meta = [n for n in names if n.endswith('.dist-info/METADATA')]\n\
        tags = [n for n in names if n.endswith('.dist-info/WHEEL')]\n\
        print(json.dumps({'names': names, 'metadata': z.read(meta[0]).decode() if meta else '', \
        'wheel': z.read(tags[0]).decode() if tags else ''}))\n";
    let out = Command::new(python).args(["-c", LIST]).arg(wheel).output().context("listing the wheel")?;
    ensure!(
        out.status.success(),
        "cannot read {} as a zip:\n{}",
        wheel.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).context("reading the wheel's listing")?;
    let names: Vec<&str> = v["names"].as_array().into_iter().flatten().filter_map(|n| n.as_str()).collect();
    let script = format!("brickauth-{version}.data/scripts/brickauth{}", std::env::consts::EXE_SUFFIX);
    ensure!(names.contains(&script.as_str()), "the wheel has no {script}: {names:?}");
    let metadata = v["metadata"].as_str().unwrap_or_default();
    let license = "License-Expression: MIT OR Apache-2.0";
    for line in ["Name: brickauth".to_owned(), format!("Version: {version}"), license.to_owned()] {
        ensure!(metadata.lines().any(|l| l == line), "the wheel's METADATA lacks {line:?}:\n{metadata}");
    }
    let tags = v["wheel"].as_str().unwrap_or_default();
    ensure!(
        tags.lines().any(|l| l.starts_with("Tag: py3-none-")) && tags.lines().any(|l| l == "Root-Is-Purelib: false"),
        "the wheel's WHEEL file is not a binary wheel's:\n{tags}"
    );
    println!(
        "wheel: {} files, {script}; {}",
        names.len(),
        tags.lines().filter(|l| l.starts_with("Tag:")).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}

/// A virtual environment made anew at `path` (an older one removed).
fn fresh_venv(path: &Path) -> Result<PathBuf> {
    if path.exists() {
        std::fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))?;
    }
    let made = Command::new("python3").args(["-m", "venv"]).arg(path).stdout(Stdio::null()).status();
    ensure!(made.is_ok_and(|s| s.success()), "python3 -m venv {} failed", path.display());
    Ok(path.to_path_buf())
}

/// The ELF interpreter (dynamic loader) `elf` asks for, `None` for a static executable. Only
/// 64-bit little-endian ELF files are read; anything else is an error.
pub fn elf_interpreter(elf: &[u8]) -> Result<Option<String>> {
    const PT_INTERP: u32 = 3;
    let u16_at = |at: usize| elf.get(at..at.checked_add(2)?).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |at: usize| elf.get(at..at.checked_add(4)?).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
    let u64_at = |at: usize| elf.get(at..at.checked_add(8)?).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
    ensure!(elf.starts_with(b"\x7fELF"), "not an ELF file");
    ensure!(elf.get(4) == Some(&2) && elf.get(5) == Some(&1), "not a 64-bit little-endian ELF file");
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        bail!("truncated ELF header");
    };
    let phoff = usize::try_from(phoff)?;
    for i in 0..usize::from(phnum) {
        let at = phoff.checked_add(i * usize::from(phentsize)).context("program header offset overflows")?;
        let kind = u32_at(at).context("truncated program header table")?;
        if kind != PT_INTERP {
            continue;
        }
        let (Some(offset), Some(size)) = (u64_at(at.saturating_add(8)), u64_at(at.saturating_add(32))) else {
            bail!("truncated PT_INTERP header");
        };
        let (offset, size) = (usize::try_from(offset)?, usize::try_from(size)?);
        let end = offset.checked_add(size).context("PT_INTERP's size overflows")?;
        let path = elf.get(offset..end).context("PT_INTERP points past the end of the file")?;
        return Ok(Some(String::from_utf8_lossy(path).trim_end_matches('\0').to_owned()));
    }
    Ok(None)
}

/// The installed binary gets a password-flow token from the mock, then answers the second call
/// from its cache (no second token request).
fn token_from_the_mock(w: &World) -> Result<()> {
    w.write_profiles("profiles.toml", &brickauth_mock::constants::password_profile("mock", "ALICE_PASSWORD", true))?;
    let env = [("ALICE_PASSWORD", brickauth_mock::ALICE_PASSWORD)];
    let first = w.run(&["token", "-o", "json"], &env, None)?;
    expect_code(&first, 0)?;
    let v: serde_json::Value = serde_json::from_str(&first.stdout).context("`token -o json` printed no JSON")?;
    let token = v["accessToken"].as_str().context("no accessToken in `token -o json`")?;
    ensure!(
        w.entra.issued_access_tokens().iter().any(|t| t == token),
        "the installed binary printed a token the mock did not issue"
    );
    let requests = w.entra.token_request_count();
    let second = w.run(&["token"], &env, None)?;
    expect_code(&second, 0)?;
    ensure!(second.stdout.trim() == token, "the second call printed another token");
    ensure!(w.entra.token_request_count() == requests, "the second call asked the identity provider again");
    println!(
        "wheel: installed brickauth: a token from the mock ({:.1} ms), then from the cache ({:.1} ms)",
        first.elapsed.as_secs_f64() * 1e3,
        second.elapsed.as_secs_f64() * 1e3
    );
    Ok(())
}

/// `databricks-sdk` into the test venv, from `wheelhouse` (filled from PyPI on first use, so
/// later runs install it offline).
fn sdk_install(python: &Path, wheelhouse: &Path) -> Result<()> {
    let has_wheels = std::fs::read_dir(wheelhouse).is_ok_and(|mut d| d.next().is_some());
    if !has_wheels {
        println!("wheel: downloading databricks-sdk from PyPI into {}", wheelhouse.display());
        pip(python, &["download", "-q", "databricks-sdk", "-d"], &[wheelhouse.as_os_str()])?;
    }
    pip(python, &["install", "-q", "--no-index", "--find-links"], &[wheelhouse.as_os_str(), "databricks-sdk".as_ref()])
}

/// The Databricks SDK for Python, in the venv the wheel went into, with that venv's `brickauth`
/// as its token helper (`auth_type = databricks-cli`), lists the mock's clusters and reads SCIM
/// Me; every API request carried a token.
fn sdk_uses_it(w: &World, python: &Path, installed: &Path) -> Result<()> {
    let run = crate::sdk::list_with_helper(
        w,
        python,
        installed,
        &w.path("profiles.toml"),
        &[("BRICKAUTH_SECRET_STORAGE", "file")],
        120,
    )?;
    ensure!(run.api >= 2, "too few API requests: {}", run.api);
    println!(
        "wheel: the Databricks SDK for Python listed 120 clusters and read SCIM Me through {} ({} API requests)",
        installed.display(),
        run.api
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_names_are_parsed_with_their_compressed_tag_set() {
        let n = WheelName::parse("brickauth-0.1.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl").unwrap();
        assert_eq!(
            n,
            WheelName {
                distribution: "brickauth".into(),
                version: "0.1.0".into(),
                python: "py3".into(),
                abi: "none".into(),
                platforms: vec!["manylinux_2_17_x86_64".into(), "manylinux2014_x86_64".into()],
            }
        );
        // A build tag sits between version and python tag.
        let n = WheelName::parse("brickauth-0.2.0-1-py3-none-win_amd64.whl").unwrap();
        assert_eq!((n.version.as_str(), n.platforms.as_slice()), ("0.2.0", ["win_amd64".to_owned()].as_slice()));
    }

    #[test]
    fn what_is_not_a_wheel_name_is_refused() {
        assert!(WheelName::parse("brickauth-0.1.0.tar.gz").is_err());
        assert!(WheelName::parse("brickauth-0.1.0-py3-none.whl").is_err());
        assert!(WheelName::parse("brickauth--py3-none-any.whl").is_err());
    }

    /// A minimal ELF64 header followed by `headers` program headers (type, offset, size), and
    /// `tail` after them.
    fn elf(headers: &[(u32, u64, u64)], tail: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&(headers.len() as u16).to_le_bytes());
        for (kind, offset, size) in headers {
            let mut h = vec![0u8; 56];
            h[..4].copy_from_slice(&kind.to_le_bytes());
            h[8..16].copy_from_slice(&offset.to_le_bytes());
            h[32..40].copy_from_slice(&size.to_le_bytes());
            b.extend(h);
        }
        b.extend(tail);
        b
    }

    #[test]
    fn the_elf_interpreter_is_found_or_absent() {
        // PT_LOAD only: a static executable.
        assert_eq!(elf_interpreter(&elf(&[(1, 0, 0)], b"")).unwrap(), None);
        // PT_INTERP pointing at "/lib/ld.so\0" right after the two headers.
        let at = 64 + 2 * 56;
        let e = elf(&[(1, 0, 0), (3, at, 11)], b"/lib/ld.so\0");
        assert_eq!(elf_interpreter(&e).unwrap().as_deref(), Some("/lib/ld.so"));
        // A real executable of this platform: the test binary itself is linked dynamically.
        if cfg!(all(target_os = "linux", target_pointer_width = "64", target_endian = "little")) {
            let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
            let loader = elf_interpreter(&me).unwrap().expect("the test binary has a dynamic loader");
            assert!(loader.contains("ld"), "{loader}");
        }
    }

    #[test]
    fn what_is_not_a_readable_elf_file_is_an_error() {
        assert!(elf_interpreter(b"#!/bin/sh\n").is_err());
        assert!(elf_interpreter(&elf(&[], b"")[..40]).is_err());
        // PT_INTERP past the end of the file.
        assert!(elf_interpreter(&elf(&[(3, 4096, 11)], b"")).is_err());
        let mut e32 = elf(&[], b"");
        e32[4] = 1;
        assert!(elf_interpreter(&e32).is_err());
    }
}
