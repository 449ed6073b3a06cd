//! `cargo xtask dist [--out DIR]`: the release binary as it should be installed — linked for
//! the leanest start ([`Link::lean`]: static and non-PIE on Linux with glibc) and stripped — in
//! `target/dist/` (or `DIR`).
//!
//! `cargo install --path crates/brickauth-cli` gives the same program linked as cargo's default
//! (a PIE against the shared C library): it works the same, and starts about 0.5–1 ms slower on
//! every call, which is what `cargo xtask bench` shows per link mode.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use crate::harness::{Link, build_release, root};

pub fn run(out: Option<&Path>) -> Result<()> {
    let link = Link::lean();
    println!("dist: building the release binary ({})…", link.describe());
    let built = build_release(link)?;
    let dir = out.map(Path::to_path_buf).unwrap_or_else(|| root().join("target/dist"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let dest: PathBuf = dir.join(built.file_name().context("the built binary has no file name")?);
    // A fresh file, not a copy over a binary that may be running.
    let _ = std::fs::remove_file(&dest);
    std::fs::copy(&built, &dest).with_context(|| format!("copying {} to {}", built.display(), dest.display()))?;
    let stripped = Command::new("strip").arg(&dest).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    let size = std::fs::metadata(&dest)?.len() as f64 / 1048576.0;
    println!(
        "dist: {} ({size:.1} MB, {}{})",
        dest.display(),
        link.describe(),
        if stripped { ", stripped" } else { ", not stripped: `strip` not found" }
    );
    Ok(())
}
