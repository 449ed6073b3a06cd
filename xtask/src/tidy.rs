//! `cargo xtask tidy`: the invariants `docs/architecture.md` promises, checked. It runs as a step
//! of `cargo xtask test` and as the `#[test]` `tests::the_workspace_is_tidy` (so `cargo test -p
//! xtask` fails too when one breaks).
//!
//! 1. **Dependencies** (from `cargo metadata`): a flow crate (`brickauth-flow-*`) depends on no
//!    other flow crate, nor on the facade, the cache, the profile file or the CLI — whatever the
//!    dependency kind; outside dev-dependencies, core depends on no brickauth crate, the profile
//!    crate on no flow, the facade or the cache, and the Databricks client on neither the cache
//!    nor the profile crate; no crate but the CLI's own depends on the CLI (the `brickauth`
//!    library may depend on every other crate).
//! 2. **Nobody outside a flow crate knows its name**: the source of every library crate that is
//!    not a flow ([`NAME_FREE`]: core, profile, cache, databricks and `brickauth`), parsed with
//!    `syn`, has no string literal — in code, in a macro's arguments (`format!`, `bail!`) or in an
//!    attribute (`#[error("…")]`), doc comments excepted — in which a registered flow name or alias
//!    appears as a word: bounded by characters other than `[a-z0-9-]`, compared without case, in
//!    the literal's unescaped value (so `"use the device-code flow"` and `` "`ropc`" `` are both
//!    caught). Test code is skipped: `#[cfg(test)]` items, files named `tests.rs` and files under a
//!    `tests/` directory. The names come from the registry itself: `brickauth flows -o json` of the
//!    freshly built binary. A name that is also a profile key (`password`) is not a flow name in a
//!    literal, and is skipped.
//! 3. **No unused dependency**: every dependency of every workspace crate is named in that crate's
//!    source as a path (`name::`, `use name`, `extern crate name`; `-` read as `_`, a `package =`
//!    rename by its new name): a `[dependencies]` entry in `src/`, a `[dev-dependencies]` entry in
//!    `src/`, `tests/`, `benches/` or `examples/`, a `[build-dependencies]` entry in `build.rs`.
//!
//! [`ALLOW`] and [`UNUSED_ALLOW`] list the known exceptions, each with its reason; an entry that no
//! longer matches anything fails the check too, so the lists only shrink.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use syn::visit::Visit;

use crate::harness::{build_binary, root};

/// Known exceptions to rule 2: (file relative to the workspace root, flow name, why).
pub const ALLOW: &[(&str, &str, &str)] = &[
    (
        "crates/brickauth-cache/src/error.rs",
        "interactive",
        "the adjective (\"needs an interactive sign-in\"), not authorization-code's alias",
    ),
    (
        "crates/brickauth-profile/src/profile.rs",
        "interactive",
        "the adjective (\"is not an interactive flow\"), not authorization-code's alias",
    ),
    (
        "crates/brickauth-profile/src/databrickscfg.rs",
        "msi",
        "`azure_use_msi`, a key of the Databricks tools' config file, not managed-identity's alias",
    ),
];

/// Known exceptions to rule 3: (crate, dependency, why it is needed although no source names it).
pub const UNUSED_ALLOW: &[(&str, &str, &str)] = &[];

/// The library crates whose source must not name a flow (every library crate but the flows, the
/// facade that links them, and the mocks; the CLI and xtask are not libraries).
pub const NAME_FREE: &[&str] = &[
    "crates/brickauth-core",
    "crates/brickauth-profile",
    "crates/brickauth-cache",
    "crates/brickauth-databricks",
    "crates/brickauth",
];

/// Every rule over the workspace: the problems found (none when the workspace is tidy).
pub fn check() -> Result<Vec<String>> {
    let metadata = metadata()?;
    let mut problems = dependency_problems(&metadata);
    let bin = build_binary(false)?;
    let flows = registered_flows(&bin)?;
    problems.extend(name_problems(&root(), &flows)?);
    problems.extend(unused_dependencies(&metadata, &lib_names()?)?);
    Ok(problems)
}

pub fn run() -> Result<()> {
    let problems = check()?;
    if problems.is_empty() {
        println!("tidy: dependencies, flow names and used dependencies are as docs/architecture.md says");
        return Ok(());
    }
    for p in &problems {
        eprintln!("tidy: {p}");
    }
    bail!("{} architecture invariant(s) broken (see docs/architecture.md)", problems.len())
}

/// The workspace's own packages, from `cargo metadata --no-deps`.
fn metadata() -> Result<Value> {
    cargo_metadata(&["--no-deps"])
}

fn cargo_metadata(extra: &[&str]) -> Result<Value> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root())
        .args(["metadata", "--format-version", "1"])
        .args(extra)
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    serde_json::from_slice(&out.stdout).context("parsing cargo metadata")
}

/// Package name → the names of its library targets, for every package in the dependency graph
/// (a package's library may be called otherwise: `rust-ini`'s is `ini`).
fn lib_names() -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for package in cargo_metadata(&[])?["packages"].as_array().into_iter().flatten() {
        let Some(name) = package["name"].as_str() else { continue };
        for target in package["targets"].as_array().into_iter().flatten() {
            let kinds = target["kind"].as_array().into_iter().flatten().filter_map(Value::as_str);
            let lib = kinds.into_iter().any(|k| k.ends_with("lib") || k == "proc-macro");
            if let (true, Some(t)) = (lib, target["name"].as_str()) {
                names.entry(name.to_owned()).or_default().insert(t.replace('-', "_"));
            }
        }
    }
    Ok(names)
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
            let broken = if dep_name == "brickauth-cli" {
                name != "brickauth-cli"
            } else if is_flow(name) {
                (is_flow(dep_name) && dep_name != name)
                    || ["brickauth-flows", "brickauth-cache", "brickauth-profile", "brickauth-cli"].contains(&dep_name)
            } else if name == "brickauth-core" || name == "brickauth-keychain" {
                shipped && dep_name.starts_with("brickauth-")
            } else if name == "brickauth-profile" {
                shipped && (is_flow(dep_name) || ["brickauth-flows", "brickauth-cache"].contains(&dep_name))
            } else if name == "brickauth-databricks" {
                shipped && ["brickauth-cache", "brickauth-profile"].contains(&dep_name)
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
            flows.names.insert(n.to_ascii_lowercase());
        }
        for k in f["keys"].as_array().into_iter().flatten().filter_map(|k| k["name"].as_str()) {
            flows.keys.insert(k.to_ascii_lowercase());
        }
    }
    flows
}

/// Rule 2 over the `src/` trees of the crates in [`NAME_FREE`], under `root`.
pub fn name_problems(root: &Path, flows: &Flows) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut used: BTreeSet<(&str, &str)> = BTreeSet::new();
    for dir in NAME_FREE {
        for file in rust_files(&root.join(dir).join("src"))? {
            let rel = file.strip_prefix(root).unwrap_or(&file).to_string_lossy().replace('\\', "/");
            if rel.ends_with("/tests.rs") || rel.contains("/tests/") {
                continue;
            }
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {rel}"))?;
            let hits = flow_names_in(&text, flows).with_context(|| format!("parsing {rel}"))?;
            for (line, name) in hits {
                match ALLOW.iter().find(|(f, n, _)| *f == rel && *n == name) {
                    Some((f, n, _)) => {
                        used.insert((f, n));
                    }
                    None => problems.push(format!(
                        "{rel}:{line}: names the flow `{name}`: only its own crate may (take the words from its FlowSpec, or let the CLI choose them)"
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
    if !dir.exists() {
        return Ok(out);
    }
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

/// (line, flow name) for every string literal of non-test code in `src` in which a flow name or
/// alias appears as a word (see the module documentation).
pub fn flow_names_in(src: &str, flows: &Flows) -> Result<Vec<(usize, String)>> {
    let file = syn::parse_file(src)?;
    let mut literals = Literals::default();
    literals.visit_file(&file);
    let mut hits = Vec::new();
    for (line, value) in literals.found {
        let value = value.to_ascii_lowercase();
        for name in &flows.names {
            if !flows.keys.contains(name) && contains_word(&value, name) {
                hits.push((line, name.clone()));
            }
        }
    }
    Ok(hits)
}

/// Whether `word` occurs in `text` bounded on both sides by the text's ends or by a character
/// that cannot be part of a flow name (anything but `[a-z0-9-]`).
pub fn contains_word(text: &str, word: &str) -> bool {
    let part = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

/// The string literals of a file, with their line: unescaped, outside `#[cfg(test)]` items and
/// doc comments, including those in macro arguments and attributes (which `syn` leaves as tokens).
#[derive(Default)]
struct Literals {
    found: Vec<(usize, String)>,
}

impl Literals {
    fn tokens(&mut self, tokens: proc_macro2::TokenStream) {
        for tt in tokens {
            match tt {
                proc_macro2::TokenTree::Group(g) => self.tokens(g.stream()),
                proc_macro2::TokenTree::Literal(l) => {
                    if let syn::Lit::Str(s) = syn::Lit::new(l) {
                        self.visit_lit_str(&s);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Whether `attrs` hold `#[cfg(test)]`.
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && a.meta.require_list().is_ok_and(|l| l.tokens.to_string().replace(' ', "") == "test")
    })
}

impl<'ast> Visit<'ast> for Literals {
    fn visit_lit_str(&mut self, lit: &'ast syn::LitStr) {
        self.found.push((lit.span().start().line, lit.value()));
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
    }

    fn visit_attribute(&mut self, attr: &'ast syn::Attribute) {
        if attr.path().is_ident("doc") {
            return;
        }
        match &attr.meta {
            syn::Meta::List(list) => self.tokens(list.tokens.clone()),
            meta => syn::visit::visit_meta(self, meta),
        }
    }

    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Const(i) => &i.attrs,
            syn::Item::Enum(i) => &i.attrs,
            syn::Item::Fn(i) => &i.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Macro(i) => &i.attrs,
            syn::Item::Mod(i) => &i.attrs,
            syn::Item::Static(i) => &i.attrs,
            syn::Item::Struct(i) => &i.attrs,
            syn::Item::Trait(i) => &i.attrs,
            syn::Item::Type(i) => &i.attrs,
            syn::Item::Use(i) => &i.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if !is_test(attrs) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        let attrs = match item {
            syn::ImplItem::Const(i) => &i.attrs,
            syn::ImplItem::Fn(i) => &i.attrs,
            syn::ImplItem::Type(i) => &i.attrs,
            syn::ImplItem::Macro(i) => &i.attrs,
            _ => return syn::visit::visit_impl_item(self, item),
        };
        if !is_test(attrs) {
            syn::visit::visit_impl_item(self, item);
        }
    }

    fn visit_stmt(&mut self, stmt: &'ast syn::Stmt) {
        let test = match stmt {
            syn::Stmt::Local(l) => is_test(&l.attrs),
            syn::Stmt::Macro(m) => is_test(&m.attrs),
            _ => false,
        };
        if !test {
            syn::visit::visit_stmt(self, stmt);
        }
    }
}

/// Rule 3 over `cargo metadata --no-deps` output: a problem for each dependency that no source of
/// its crate names. `lib_names` maps a package to its library's names (the package name, `-` as
/// `_`, when it has no entry).
pub fn unused_dependencies(metadata: &Value, lib_names: &BTreeMap<String, BTreeSet<String>>) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut used: BTreeSet<(&str, &str)> = BTreeSet::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default();
        let Some(dir) = package["manifest_path"].as_str().and_then(|p| Path::new(p).parent()) else {
            continue;
        };
        let sources = |subdirs: &[&str]| -> Result<String> {
            let mut text = String::new();
            for sub in subdirs {
                let path = dir.join(sub);
                let files = if path.is_file() { vec![path] } else { rust_files(&path)? };
                for file in files {
                    text.push_str(
                        &std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?,
                    );
                    text.push('\n');
                }
            }
            Ok(text)
        };
        let shipped = sources(&["src"])?;
        let dev = format!("{shipped}{}", sources(&["tests", "benches", "examples"])?);
        let build = sources(&["build.rs"])?;
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().unwrap_or_default();
            let idents: Vec<String> = match (dep["rename"].as_str(), lib_names.get(dep_name)) {
                (Some(rename), _) => vec![rename.replace('-', "_")],
                (None, Some(libs)) => libs.iter().cloned().collect(),
                (None, None) => vec![dep_name.replace('-', "_")],
            };
            let kind = dep["kind"].as_str().unwrap_or("normal");
            let text = match kind {
                "dev" => &dev,
                "build" => &build,
                _ => &shipped,
            };
            if idents.iter().any(|i| names_crate(text, i)) {
                continue;
            }
            let ident = idents.join("` or `");
            match UNUSED_ALLOW.iter().find(|(c, d, _)| *c == name && *d == dep_name) {
                Some((c, d, _)) => {
                    used.insert((c, d));
                }
                None => problems.push(format!(
                    "{name} depends on {dep_name} ({kind}) but no source of it names `{ident}`: remove the dependency"
                )),
            }
        }
    }
    for (c, d, why) in UNUSED_ALLOW {
        if !used.contains(&(*c, *d)) {
            problems.push(format!(
                "xtask/src/tidy.rs: UNUSED_ALLOW entry ({c}, {d}) matches nothing any more ({why}): remove it"
            ));
        }
    }
    Ok(problems)
}

/// Whether `src` names the crate `ident` as a path (`ident::`, `use ident`, `extern crate
/// ident`), outside `//` comments, with no identifier character before it.
pub fn names_crate(src: &str, ident: &str) -> bool {
    let ident_char = |c: char| c.is_alphanumeric() || c == '_';
    src.lines().map(|l| l.split("//").next().unwrap_or_default()).any(|line| {
        line.match_indices(ident).any(|(at, _)| {
            let before = line[..at].trim_end();
            let glued = line[..at].chars().next_back().is_some_and(ident_char);
            let after = &line[at + ident.len()..];
            !glued
                && (after.starts_with("::")
                    || ((before.ends_with("use") || before.ends_with("extern crate"))
                        && !after.chars().next().is_some_and(ident_char)))
        })
    })
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
    fn finds_flow_names_as_words_in_literals_but_not_in_comments_tests_or_keys() {
        let src = r####"
// "device-code" in a comment
/// doc: "device-code"
const A: &str = "device-code";
fn f<'a>(x: &'a str) -> char { let _ = '"'; let _ = "use the `ropc` flow"; 'x' }
const KEY: &str = "password";
const RAW: &str = r#"flow = "device-code""#;
const LONGER: &str = "run the device-code flow";
const PART: &str = "a device-code-like name, a non-ropc or ropc2 text";
fn g() -> String { format!("sign in with {} (the DEVICE-CODE flow)", 1) }
#[derive(Debug, thiserror::Error)]
enum E { #[error("try ropc")] R }
const ESCAPED: &str = "quoted: \"ropc\"\n";
#[cfg(test)]
mod tests {
    const B: &str = "device-code";
    fn g() { let _ = "run the device-code flow"; }
}
#[cfg(test)]
const T: &str = "run the device-code flow";
fn h() {
    #[cfg(test)]
    let _t = "ropc";
}
const C: &str = "ropc";
"####;
        let hits = flow_names_in(src, &flows()).unwrap();
        assert_eq!(
            hits,
            vec![
                (4, "device-code".to_owned()),
                (5, "ropc".to_owned()),
                (7, "device-code".to_owned()),
                (8, "device-code".to_owned()),
                (10, "device-code".to_owned()),
                (12, "ropc".to_owned()),
                (13, "ropc".to_owned()),
                (25, "ropc".to_owned()),
            ],
        );
    }

    #[test]
    fn a_flow_name_inside_a_longer_literal_is_caught_unless_test_code() {
        let caught = flow_names_in(r#"const M: &str = "run the device-code flow";"#, &flows()).unwrap();
        assert_eq!(caught, vec![(1, "device-code".to_owned())]);
        let test_only =
            flow_names_in("#[cfg(test)]\nmod tests { const M: &str = \"run the device-code flow\"; }", &flows())
                .unwrap();
        assert_eq!(test_only, vec![]);
    }

    #[test]
    fn words_are_bounded_by_what_a_flow_name_cannot_hold() {
        assert!(contains_word("use the device-code flow", "device-code"));
        assert!(contains_word("`device-code`", "device-code"));
        assert!(contains_word("device-code", "device-code"));
        assert!(contains_word("flow=device-code,", "device-code"));
        assert!(!contains_word("device-codes", "device-code"));
        assert!(!contains_word("a-device-code", "device-code"));
        assert!(!contains_word("device-code2", "device-code"));
        assert!(!contains_word("msic", "msi"));
    }

    #[test]
    fn a_file_that_does_not_parse_is_an_error() {
        assert!(flow_names_in("fn (", &flows()).is_err());
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
            {"name": "brickauth-databricks", "dependencies": [
                {"name": "brickauth-core", "kind": null},
                {"name": "brickauth-cache", "kind": null},
                {"name": "brickauth-profile", "kind": "dev"},
            ]},
            {"name": "brickauth", "dependencies": [
                {"name": "brickauth-cache", "kind": null},
                {"name": "brickauth-profile", "kind": null},
                {"name": "brickauth-flows", "kind": null},
                {"name": "brickauth-cli", "kind": "dev"},
            ]},
        ]});
        assert_eq!(
            dependency_problems(&m),
            vec![
                "brickauth-flow-a depends on brickauth-flow-b (normal)",
                "brickauth-flow-a depends on brickauth-cache (dev)",
                "brickauth-profile depends on brickauth-flow-b (build)",
                "brickauth-databricks depends on brickauth-cache (normal)",
                "brickauth depends on brickauth-cli (dev)",
            ]
        );
    }

    #[test]
    fn a_crate_is_named_as_a_path() {
        assert!(names_crate("use serde_json::Value;", "serde_json"));
        assert!(names_crate("let v = serde_json::json!({});", "serde_json"));
        assert!(names_crate("#[tokio::test]", "tokio"));
        assert!(names_crate("use libc;", "libc"));
        assert!(names_crate("extern crate libc;", "libc"));
        assert!(!names_crate("// serde_json::Value in a comment", "serde_json"));
        assert!(!names_crate("use my_serde::X;", "serde"));
        assert!(!names_crate("let serde = 1;", "serde"));
        assert!(!names_crate("use serde_json::Value;", "serde"));
    }

    #[test]
    fn unused_dependencies_are_reported_by_kind() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("c");
        std::fs::create_dir_all(c.join("src")).unwrap();
        std::fs::create_dir_all(c.join("tests")).unwrap();
        std::fs::write(c.join("src/lib.rs"), "use used_dep::X;\n// unused_dep::Y\nuse ini::Ini;\nuse lib_named::Z;\n")
            .unwrap();
        std::fs::write(c.join("tests/t.rs"), "use dev_dep::Z;\nuse test_only::W;\n").unwrap();
        let m = json!({"packages": [{
            "name": "c",
            "manifest_path": c.join("Cargo.toml"),
            "dependencies": [
                {"name": "used-dep", "kind": null},
                {"name": "unused-dep", "kind": null},
                {"name": "test-only", "kind": null},
                {"name": "dev-dep", "kind": "dev"},
                {"name": "renamed", "rename": "dev_dep", "kind": "dev"},
                {"name": "rust-ini", "kind": null},
                {"name": "lib-named", "kind": null},
            ],
        }]});
        let libs = BTreeMap::from([
            ("rust-ini".to_owned(), BTreeSet::from(["ini".to_owned()])),
            ("lib-named".to_owned(), BTreeSet::from(["other".to_owned()])),
        ]);
        assert_eq!(
            unused_dependencies(&m, &libs).unwrap(),
            vec![
                "c depends on unused-dep (normal) but no source of it names `unused_dep`: remove the dependency",
                "c depends on test-only (normal) but no source of it names `test_only`: remove the dependency",
                "c depends on lib-named (normal) but no source of it names `other`: remove the dependency",
            ]
        );
    }

    // Both run `cargo metadata`: the Windows test build runs under Wine, where the host's cargo
    // is a Linux program; the rules do not depend on the platform and are checked on the host.
    #[cfg(unix)]
    #[test]
    fn the_workspace_keeps_its_dependency_rules() {
        let problems = dependency_problems(&metadata().unwrap());
        assert!(problems.is_empty(), "{problems:#?}");
    }

    /// Every rule over the real workspace, as `cargo xtask tidy` checks it (builds the binary).
    #[cfg(unix)] // runs `cargo metadata`, see above
    #[test]
    fn the_workspace_is_tidy() {
        let problems = check().unwrap();
        assert!(problems.is_empty(), "tidy: {problems:#?}");
    }
}
