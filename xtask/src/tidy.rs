//! `cargo xtask tidy`: the invariants `docs/architecture.md` promises, checked (a step of
//! `cargo xtask test`, so CI fails when one breaks).
//!
//! 1. **Dependencies** (from `cargo metadata`): a flow crate (`brickauth-flow-*`) depends on no
//!    other flow crate, nor on the facade, the cache, the profile file or the CLI — whatever
//!    the dependency kind; core depends on no brickauth crate; the profile crate on no flow.
//! 2. **Nobody outside a flow crate knows its name**: the source of core and of the profile crate
//!    (test code excluded: `#[cfg(test)]` items and `tests.rs`) has no string literal that is a
//!    registered flow name or alias (`"device-code"`), and no literal that quotes one in
//!    backticks (`` "use the `device-code` flow" ``). The names come from the registry itself:
//!    `brickauth flows -o json` of the freshly built binary. A name that is also a profile key
//!    (`password`) is not a flow name in a literal, and is skipped.
//!
//! [`ALLOW`] lists the known exceptions, each with its reason; an entry that no longer matches
//! anything fails the check too, so the list only shrinks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::harness::{build_binary, root};

/// Known exceptions to rule 2: (file relative to the workspace root, flow name, why).
pub const ALLOW: &[(&str, &str, &str)] = &[];

/// The crates whose source must not name a flow.
const NAME_FREE: &[&str] = &["crates/brickauth-core/src", "crates/brickauth-profile/src"];

pub fn run() -> Result<()> {
    let mut problems = dependency_problems(&metadata()?);
    let bin = build_binary(false)?;
    let flows = registered_flows(&bin)?;
    problems.extend(name_problems(&root(), &flows)?);
    if problems.is_empty() {
        println!("tidy: dependencies and flow names are as docs/architecture.md says");
        return Ok(());
    }
    for p in &problems {
        eprintln!("tidy: {p}");
    }
    bail!("{} architecture invariant(s) broken (see docs/architecture.md)", problems.len())
}

fn metadata() -> Result<Value> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root())
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    serde_json::from_slice(&out.stdout).context("parsing cargo metadata")
}

fn is_flow(name: &str) -> bool {
    name.starts_with("brickauth-flow-")
}

/// Rule 1 over `cargo metadata --no-deps` output.
pub fn dependency_problems(metadata: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default();
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().unwrap_or_default();
            let kind = dep["kind"].as_str().unwrap_or("normal");
            let shipped = kind != "dev";
            let broken = if is_flow(name) {
                (is_flow(dep_name) && dep_name != name)
                    || ["brickauth-flows", "brickauth-cache", "brickauth-profile", "brickauth-cli"].contains(&dep_name)
            } else if name == "brickauth-core" || name == "brickauth-keychain" {
                shipped && dep_name.starts_with("brickauth-")
            } else if name == "brickauth-profile" {
                shipped
                    && (is_flow(dep_name)
                        || ["brickauth-flows", "brickauth-cache", "brickauth-cli"].contains(&dep_name))
            } else {
                false
            };
            if broken {
                problems.push(format!("{name} depends on {dep_name} ({kind})"));
            }
        }
    }
    problems
}

/// A registered flow: its names (name and aliases).
#[derive(Debug, Default)]
pub struct Flows {
    /// Every name and alias.
    pub names: BTreeSet<String>,
    /// Every profile key some flow reads (a key that is also a flow name is not a violation).
    pub keys: BTreeSet<String>,
}

fn registered_flows(bin: &Path) -> Result<Flows> {
    let out = Command::new(bin).args(["flows", "-o", "json"]).output().context("running `brickauth flows`")?;
    if !out.status.success() {
        bail!("`brickauth flows -o json` failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let v: Value = serde_json::from_slice(&out.stdout).context("parsing `brickauth flows -o json`")?;
    let flows = flows_from_json(&v);
    if flows.names.is_empty() {
        bail!("`brickauth flows -o json` lists no flow");
    }
    Ok(flows)
}

/// The names and keys of `brickauth flows -o json`.
pub fn flows_from_json(v: &Value) -> Flows {
    let mut flows = Flows::default();
    for f in v.as_array().into_iter().flatten() {
        let aliases = f["aliases"].as_array().into_iter().flatten();
        for n in std::iter::once(&f["name"]).chain(aliases).filter_map(Value::as_str) {
            flows.names.insert(n.to_owned());
        }
        for k in f["keys"].as_array().into_iter().flatten().filter_map(|k| k["name"].as_str()) {
            flows.keys.insert(k.to_owned());
        }
    }
    flows
}

/// Rule 2 over the source trees in [`NAME_FREE`], under `root`.
pub fn name_problems(root: &Path, flows: &Flows) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut used: BTreeSet<(&str, &str)> = BTreeSet::new();
    for dir in NAME_FREE {
        for file in rust_files(&root.join(dir))? {
            let rel = file.strip_prefix(root).unwrap_or(&file).to_string_lossy().replace('\\', "/");
            if rel.ends_with("/tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {rel}"))?;
            for (line, name) in flow_names_in(&text, flows) {
                match ALLOW.iter().find(|(f, n, _)| *f == rel && *n == name) {
                    Some((f, n, _)) => {
                        used.insert((f, n));
                    }
                    None => problems.push(format!(
                        "{rel}:{line}: names the flow `{name}`: only its own crate may (take the behaviour from its FlowSpec)"
                    )),
                }
            }
        }
    }
    for (f, n, why) in ALLOW {
        if !used.contains(&(*f, *n)) {
            problems
                .push(format!("xtask/src/tidy.rs: ALLOW entry ({f}, {n}) matches nothing any more ({why}): remove it"));
        }
    }
    Ok(problems)
}

fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// (line, flow name) for every string literal of non-test code in `src` that is a flow name or
/// quotes one in backticks.
pub fn flow_names_in(src: &str, flows: &Flows) -> Vec<(usize, String)> {
    let mut hits = Vec::new();
    for (line, lit) in literals(src) {
        let trimmed = lit.trim();
        let mut found: Vec<&str> = Vec::new();
        if flows.names.contains(trimmed) {
            found.push(trimmed);
        }
        for quoted in lit.split('`').skip(1).step_by(2) {
            if flows.names.contains(quoted) && quoted != trimmed {
                found.push(quoted);
            }
        }
        for name in found {
            if !flows.keys.contains(name) {
                hits.push((line, name.to_owned()));
            }
        }
    }
    hits
}

/// The string literals of `src` with their line, outside comments and `#[cfg(test)]` items.
fn literals(src: &str) -> Vec<(usize, String)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    // Depth at which a `#[cfg(test)]` item started, while inside one.
    let mut depth = 0usize;
    let mut skip_from: Option<usize> = None;
    let mut pending_test_attr = false;
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            i += 1;
            continue;
        }
        if src[i..].starts_with("//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if src[i..].starts_with("/*") {
            let end = src[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
            line += src[i..end].matches('\n').count();
            i = end;
            continue;
        }
        if src[i..].starts_with("#[cfg(test)]") {
            pending_test_attr = true;
            i += "#[cfg(test)]".len();
            continue;
        }
        // String literals: "…", r"…", r#"…"#, b"…".
        let raw_hashes = raw_string_start(&src[i..]);
        if c == b'"' || raw_hashes.is_some() {
            let start_line = line;
            let (content, len) = match raw_hashes {
                Some((prefix, hashes)) => {
                    let body = i + prefix;
                    let close = format!("\"{}", "#".repeat(hashes));
                    let end = src[body..].find(&close).map_or(b.len(), |e| body + e);
                    (src[body..end].to_owned(), end + close.len() - i)
                }
                None => {
                    let mut j = i + 1;
                    while j < b.len() && b[j] != b'"' {
                        j += if b[j] == b'\\' { 2 } else { 1 };
                    }
                    let end = j.min(b.len());
                    (src[i + 1..end].to_owned(), end + 1 - i)
                }
            };
            line += content.matches('\n').count();
            if skip_from.is_none() && !pending_test_attr {
                out.push((start_line, content));
            }
            i = (i + len).min(b.len());
            continue;
        }
        // Char literals ('x', '\n', '"'); a lone `'` is a lifetime.
        if c == b'\'' {
            if b.get(i + 1) == Some(&b'\\') {
                let end = src[i + 2..].find('\'').map_or(b.len(), |e| i + 2 + e + 1);
                i = end;
                continue;
            }
            let ch_len = src[i + 1..].chars().next().map_or(1, char::len_utf8);
            if b.get(i + 1 + ch_len) == Some(&b'\'') {
                i += ch_len + 2;
                continue;
            }
        }
        match c {
            b'{' => {
                if pending_test_attr && skip_from.is_none() {
                    skip_from = Some(depth);
                    pending_test_attr = false;
                }
                depth += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                if skip_from == Some(depth) {
                    skip_from = None;
                }
            }
            b';' if pending_test_attr && skip_from.is_none() => pending_test_attr = false,
            _ => {}
        }
        i += 1;
    }
    out
}

/// `Some((prefix length, number of #))` when `s` starts a raw (or raw byte) string literal.
fn raw_string_start(s: &str) -> Option<(usize, usize)> {
    let rest = s.strip_prefix("br").or_else(|| s.strip_prefix('r'))?;
    let hashes = rest.bytes().take_while(|&b| b == b'#').count();
    (rest.as_bytes().get(hashes) == Some(&b'"')).then(|| (s.len() - rest.len() + hashes + 1, hashes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flows() -> Flows {
        flows_from_json(&json!([
            {"name": "device-code", "aliases": [], "keys": []},
            {"name": "password", "aliases": ["ropc"], "keys": [{"name": "password"}]},
        ]))
    }

    #[test]
    fn finds_flow_names_in_code_but_not_in_comments_tests_or_keys() {
        let src = r##"
// "device-code" in a comment
/// doc: "device-code"
const A: &str = "device-code";
fn f<'a>(x: &'a str) -> char { let _ = '"'; let _ = "use the `ropc` flow"; 'x' }
const KEY: &str = "password";
const RAW: &str = r#"flow = "device-code""#;
#[cfg(test)]
mod tests {
    const B: &str = "device-code";
    fn g() { let _ = "ropc"; }
}
#[cfg(test)]
use x::y as "device-code";
const C: &str = "ropc";
"##;
        let hits = flow_names_in(src, &flows());
        assert_eq!(
            hits,
            vec![(4, "device-code".to_owned()), (5, "ropc".to_owned()), (15, "ropc".to_owned())],
            "the raw string holds `flow = \"device-code\"`, not the literal itself"
        );
    }

    #[test]
    fn flow_depending_on_a_flow_is_caught() {
        let m = json!({"packages": [
            {"name": "brickauth-flow-a", "dependencies": [
                {"name": "brickauth-core", "kind": null},
                {"name": "brickauth-flow-b", "kind": null},
                {"name": "brickauth-cache", "kind": "dev"},
                {"name": "brickauth-mock", "kind": "dev"},
            ]},
            {"name": "brickauth-core", "dependencies": [{"name": "brickauth-mock", "kind": "dev"}]},
            {"name": "brickauth-profile", "dependencies": [{"name": "brickauth-flow-b", "kind": "build"}]},
            {"name": "brickauth-cli", "dependencies": [{"name": "brickauth-flows", "kind": null}]},
        ]});
        assert_eq!(
            dependency_problems(&m),
            vec![
                "brickauth-flow-a depends on brickauth-flow-b (normal)",
                "brickauth-flow-a depends on brickauth-cache (dev)",
                "brickauth-profile depends on brickauth-flow-b (build)",
            ]
        );
    }

    #[test]
    fn the_workspace_keeps_its_dependency_rules() {
        let problems = dependency_problems(&metadata().unwrap());
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
