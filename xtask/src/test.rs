//! `cargo xtask test`: every check CI makes, in the order that fails fastest.
//!
//! 1. `cargo fmt --all -- --check`
//! 2. `cargo xtask tidy` (the architecture invariants: crate dependencies, flow names, unused
//!    dependencies), first because it fails fastest
//! 3. `cargo clippy --workspace --all-targets -- -D warnings` (with `[workspace.lints]`: no
//!    `unsafe` but where allowed, no printing in library crates)
//! 4. `cargo test --workspace` (unit, snapshot, doc and CLI tests; xtask is a member, so its own
//!    tests run too, `tidy::tests::the_workspace_is_tidy` among them)
//! 5. `RUSTDOCFLAGS=-D warnings cargo doc --workspace --no-deps` (every public item documented,
//!    every intra-doc link resolved)
//! 6. `cargo xtask integration` (the real binary against the mock servers)

use std::process::Command;

use anyhow::{Result, bail};

use crate::harness::root;

fn cargo(args: &[&str]) -> Result<()> {
    println!("\n$ cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root())
        .args(args)
        .status()?;
    if !status.success() {
        bail!("`cargo {}` failed", args.join(" "));
    }
    Ok(())
}

pub fn run() -> Result<()> {
    cargo(&["fmt", "--all", "--", "--check"])?;
    println!("\n$ cargo xtask tidy");
    crate::tidy::run()?;
    cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    cargo(&["test", "--workspace", "--no-fail-fast"])?;
    println!("\n$ RUSTDOCFLAGS=-D warnings cargo doc --workspace --no-deps");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root())
        .args(["doc", "--workspace", "--no-deps", "--quiet"])
        .env("RUSTDOCFLAGS", "-D warnings")
        .status()?;
    if !status.success() {
        bail!("`cargo doc` found documentation warnings");
    }
    // A fresh process: the test build above may have relinked this very executable, and the
    // interactive-flow cases hand `current_exe()` to the binary under test as its $BROWSER.
    cargo(&["xtask", "integration"])
}
