//! `cargo xtask release-check [--archives DIR] [--out DIR] [--repository URL] [--tag vX.Y.Z]`: the
//! release configuration, checked without releasing — and, at release time, the Homebrew formula
//! and winget manifests rendered with the archives' SHA-256 (the release workflow runs it so).
//!
//! - `.github/workflows/release.yml` parses, is valid against the GitHub workflow schema that
//!   `check-jsonschema` (PyPI, pinned) ships, and names every target of [`TARGETS`] and the
//!   xtask steps it relies on;
//! - `packaging/homebrew/brickauth.rb` and the three winget manifests of `packaging/winget/`
//!   (schema 1.6.0: version, installer, defaultLocale) are rendered — `{{version}}` (Cargo's),
//!   `{{repository}}` (Cargo's `repository`, or `--repository`), `{{sha256 TARGET}}` (of the
//!   archive in `--archives`, or a stand-in) — into `--out` (default `target/release-check/`);
//! - the formula names an archive and its hash for each macOS and Linux target, and passes
//!   `ruby -c` where Ruby is installed; the winget files agree on identifier and version, name
//!   both Windows archives, and are validated (as YAML) against [`winget_schema`]: the required
//!   keys, enums and patterns of winget's 1.6.0 schemas that these files use.
//!
//! Without `python3` the schema steps say so and are skipped; everything else always runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::root;

/// check-jsonschema from PyPI: parses YAML and ships the GitHub workflow schema.
const CHECK_JSONSCHEMA: &str = "0.39.0";

/// One platform a release archive is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub triple: &'static str,
    /// `tar.gz` or `zip`.
    pub ext: &'static str,
}

/// Every platform brickauth ships archives for: linux, macOS, Windows × x64, arm64.
pub const TARGETS: [Target; 6] = [
    Target { triple: "x86_64-unknown-linux-gnu", ext: "tar.gz" },
    Target { triple: "aarch64-unknown-linux-gnu", ext: "tar.gz" },
    Target { triple: "x86_64-apple-darwin", ext: "tar.gz" },
    Target { triple: "aarch64-apple-darwin", ext: "tar.gz" },
    Target { triple: "x86_64-pc-windows-msvc", ext: "zip" },
    Target { triple: "aarch64-pc-windows-msvc", ext: "zip" },
];

impl Target {
    /// The archive's file name, `brickauth-VERSION-TRIPLE.EXT`.
    pub fn archive(self, version: &str) -> String {
        format!("brickauth-{version}-{}.{}", self.triple, self.ext)
    }

    fn windows(self) -> bool {
        self.triple.contains("windows")
    }
}

/// What the templates are rendered with.
struct Release {
    version: String,
    repository: String,
    /// Target triple → the archive's SHA-256 (hex).
    sha256: BTreeMap<&'static str, String>,
}

/// `cargo xtask release-check`'s arguments.
#[derive(Debug, Default)]
pub struct Args {
    pub archives: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub repository: Option<String>,
    pub tag: Option<String>,
}

/// The workspace's version and repository, from `cargo metadata` (the CLI crate's).
fn cargo_package() -> Result<(String, String)> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("running cargo metadata")?;
    ensure!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).context("parsing cargo metadata")?;
    let cli = v["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "brickauth-cli")
        .context("cargo metadata lists no brickauth-cli package")?;
    let version = cli["version"].as_str().context("brickauth-cli has no version")?.to_owned();
    let repository = cli["repository"].as_str().unwrap_or_default().trim_end_matches('/').to_owned();
    Ok((version, repository))
}

/// The version every package channel ships: brickauth-cli's, from Cargo.
pub fn version() -> Result<String> {
    Ok(cargo_package()?.0)
}

pub fn run(args: &Args) -> Result<()> {
    let (version, cargo_repository) = cargo_package()?;
    if let Some(tag) = &args.tag {
        ensure!(
            tag.strip_prefix('v') == Some(version.as_str()),
            "the tag {tag} is not v{version}, the version in Cargo.toml: bump [workspace.package] version first"
        );
    }
    let repository = args.repository.clone().unwrap_or(cargo_repository);
    ensure!(
        repository.starts_with("https://"),
        "the repository URL {repository:?} (Cargo.toml's `repository`, or --repository) is not https://"
    );
    let sha256 = match &args.archives {
        Some(dir) => archive_hashes(dir, &version)?,
        None => {
            println!("release-check: no --archives: stand-in SHA-256 values");
            TARGETS.iter().map(|t| (t.triple, hex(&Sha256::digest(format!("stand-in {}", t.triple))))).collect()
        }
    };
    let release = Release { version, repository: repository.trim_end_matches('/').to_owned(), sha256 };
    let out = args.out.clone().unwrap_or_else(|| root().join("target/release-check"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let mut checked = 0;
    let workflow = root().join(".github/workflows/release.yml");
    let text = std::fs::read_to_string(&workflow).with_context(|| format!("reading {}", workflow.display()))?;
    check_workflow(&text).with_context(|| workflow.display().to_string())?;
    checked += 1;

    let formula = render_file(&root().join("packaging/homebrew/brickauth.rb"), &release, &out)?;
    check_formula(&std::fs::read_to_string(&formula)?, &release).with_context(|| formula.display().to_string())?;
    checked += ruby_syntax(&formula)?;
    checked += 1;

    let mut winget = Vec::new();
    for kind in WINGET {
        let file = format!("Brickauth.Brickauth{}.yaml", kind.suffix);
        winget.push((kind, render_file(&root().join("packaging/winget").join(&file), &release, &out)?));
    }
    check_winget(&winget, &release)?;
    checked += 1;

    match schema_tool()? {
        None => println!("release-check: skipped the schema checks: python3 not found"),
        Some(tool) => {
            validate(&tool, &["--builtin-schema", "vendor.github-workflows"], &workflow)?;
            println!("release-check: {} is valid against the GitHub workflow schema", workflow.display());
            // The schemas go to a scratch directory: `--out` is what the release attaches.
            let scratch = tempfile::tempdir()?;
            for (kind, path) in &winget {
                let schema = scratch.path().join(format!("winget-{}.schema.json", kind.manifest_type));
                std::fs::write(&schema, serde_json::to_string_pretty(&winget_schema(kind.manifest_type))?)?;
                validate(&tool, &["--schemafile", &schema.display().to_string()], path)?;
            }
            println!("release-check: the winget manifests are valid against the 1.6.0 keys they use");
            checked += 4;
        }
    }
    println!("release-check: rendered into {}", out.display());
    println!("{checked} passed, 0 failed");
    Ok(())
}

/// The SHA-256 of each target's archive in `dir`; a missing archive is an error naming it.
fn archive_hashes(dir: &Path, version: &str) -> Result<BTreeMap<&'static str, String>> {
    let mut hashes = BTreeMap::new();
    for t in TARGETS {
        let path = dir.join(t.archive(version));
        let bytes = std::fs::read(&path).with_context(|| format!("the release archive {}", path.display()))?;
        hashes.insert(t.triple, hex(&Sha256::digest(&bytes)));
    }
    Ok(hashes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `template` with its `{{version}}`, `{{repository}}` and `{{sha256 TARGET}}` filled in; any
/// other `{{…}}` is an error naming its line.
fn render(template: &str, release: &Release) -> Result<String> {
    let mut out = String::with_capacity(template.len());
    for (n, line) in template.lines().enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find("}}").with_context(|| format!("line {}: `{{{{` without `}}}}`", n + 1))?;
            let name = after[..end].trim();
            let value = match name.split_once(' ') {
                None if name == "version" => release.version.as_str(),
                None if name == "repository" => release.repository.as_str(),
                Some(("sha256", target)) => release
                    .sha256
                    .get(target.trim())
                    .with_context(|| format!("line {}: no release target {target:?}", n + 1))?,
                _ => bail!("line {}: unknown placeholder {{{{{name}}}}}", n + 1),
            };
            out.push_str(value);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out.push('\n');
    }
    Ok(out)
}

/// Renders `template` into `out` under the same file name; the rendered file's path.
fn render_file(template: &Path, release: &Release, out: &Path) -> Result<PathBuf> {
    let text = std::fs::read_to_string(template).with_context(|| format!("reading {}", template.display()))?;
    let rendered = render(&text, release).with_context(|| template.display().to_string())?;
    let dest = out.join(template.file_name().context("a template without a file name")?);
    std::fs::write(&dest, rendered).with_context(|| format!("writing {}", dest.display()))?;
    Ok(dest)
}

/// The workflow names every target and runs the xtask steps the release relies on.
fn check_workflow(text: &str) -> Result<()> {
    // Two matrices (archives, wheels), each naming every target.
    let missing: Vec<&str> =
        TARGETS.iter().map(|t| t.triple).filter(|t| text.matches(&format!("target: {t},")).count() < 2).collect();
    ensure!(missing.is_empty(), "the workflow's two matrices (archives, wheels) do not both build {missing:?}");
    for step in ["cargo xtask dist", "cargo xtask wheel", "cargo xtask release-check --archives"] {
        ensure!(text.contains(step), "the workflow does not run `{step}`");
    }
    ensure!(
        text.contains(&format!("maturin=={}", crate::wheel::MATURIN)),
        "the workflow's maturin is not the one xtask pins ({})",
        crate::wheel::MATURIN
    );
    Ok(())
}

/// The formula installs the right archive per OS and CPU, each with its hash.
fn check_formula(text: &str, release: &Release) -> Result<()> {
    ensure!(text.contains("class Brickauth < Formula"), "no `class Brickauth < Formula`");
    ensure!(text.contains(&format!("version \"{}\"", release.version)), "no `version \"{}\"`", release.version);
    for t in TARGETS.iter().filter(|t| !t.windows()) {
        let url = format!(
            "url \"{}/releases/download/v{}/{}\"",
            release.repository,
            release.version,
            t.archive(&release.version)
        );
        let sha = format!("sha256 \"{}\"", release.sha256[t.triple]);
        let at = text.find(&url).with_context(|| format!("no {url}"))?;
        let next_line = text[at..].lines().nth(1).unwrap_or_default().trim();
        ensure!(next_line == sha, "the line after {url} is {next_line:?}, not {sha}");
    }
    ensure!(text.contains("bin.install \"brickauth\""), "the formula does not install the binary");
    Ok(())
}

/// `ruby -c FILE` where Ruby is installed: 1 check, or 0 (after saying so).
fn ruby_syntax(file: &Path) -> Result<usize> {
    let Ok(out) = Command::new("ruby").arg("-c").arg(file).output() else {
        println!("release-check: skipped `ruby -c` of the formula: ruby not found");
        return Ok(0);
    };
    ensure!(out.status.success(), "ruby -c {}:\n{}", file.display(), String::from_utf8_lossy(&out.stderr));
    println!("release-check: ruby -c {}: {}", file.display(), String::from_utf8_lossy(&out.stdout).trim());
    Ok(1)
}

/// One of winget's three manifest files.
#[derive(Clone, Copy, Debug)]
struct WingetKind {
    suffix: &'static str,
    manifest_type: &'static str,
}

const WINGET: [WingetKind; 3] = [
    WingetKind { suffix: "", manifest_type: "version" },
    WingetKind { suffix: ".installer", manifest_type: "installer" },
    WingetKind { suffix: ".locale.en-US", manifest_type: "defaultLocale" },
];

/// The value of the top-level `key: value` line of a flat YAML file.
fn top_level<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':')).map(str::trim)
}

/// The three files agree on identifier and version, each is its `ManifestType`, and the
/// installer names both Windows archives with their hashes.
fn check_winget(files: &[(WingetKind, PathBuf)], release: &Release) -> Result<()> {
    let mut ids = Vec::new();
    for (kind, path) in files {
        let text = std::fs::read_to_string(path)?;
        let at = || path.display().to_string();
        ensure!(
            top_level(&text, "ManifestType") == Some(kind.manifest_type),
            "{}: ManifestType is not {}",
            at(),
            kind.manifest_type
        );
        ensure!(top_level(&text, "ManifestVersion") == Some("1.6.0"), "{}: ManifestVersion is not 1.6.0", at());
        ensure!(
            top_level(&text, "PackageVersion") == Some(release.version.as_str()),
            "{}: PackageVersion is not {}",
            at(),
            release.version
        );
        ids.push(
            top_level(&text, "PackageIdentifier")
                .with_context(|| format!("{}: no PackageIdentifier", at()))?
                .to_owned(),
        );
        if kind.manifest_type == "installer" {
            for t in TARGETS.iter().filter(|t| t.windows()) {
                let url = format!(
                    "{}/releases/download/v{}/{}",
                    release.repository,
                    release.version,
                    t.archive(&release.version)
                );
                ensure!(text.contains(&format!("InstallerUrl: {url}\n")), "{}: no InstallerUrl {url}", at());
                let sha = format!("InstallerSha256: {}\n", release.sha256[t.triple]);
                ensure!(text.contains(&sha), "{}: no {}", at(), sha.trim());
            }
        }
    }
    ensure!(ids.windows(2).all(|w| w[0] == w[1]), "the winget files name different packages: {ids:?}");
    Ok(())
}

/// The JSON schema a rendered winget file of `manifest_type` must meet: the required keys of
/// winget's 1.6.0 schema for it, with the enums and patterns of the keys these files use.
fn winget_schema(manifest_type: &str) -> Value {
    let identifier = json!({"type": "string", "maxLength": 128,
        "pattern": "^[^\\.\\s\\\\/:\\*\\?\"<>\\|\\x01-\\x1f]{1,32}(\\.[^\\.\\s\\\\/:\\*\\?\"<>\\|\\x01-\\x1f]{1,32}){1,7}$"});
    let version = json!({"type": "string", "maxLength": 128, "pattern": "^[^\\\\/:\\*\\?\"<>\\|\\x01-\\x1f]+$"});
    let url = json!({"type": "string", "maxLength": 2048, "pattern": "^([Hh][Tt][Tt][Pp][Ss]?)://.+$"});
    let mut properties = json!({
        "PackageIdentifier": identifier,
        "PackageVersion": version,
        "ManifestType": {"const": manifest_type},
        "ManifestVersion": {"const": "1.6.0"},
    });
    let mut required = vec!["PackageIdentifier", "PackageVersion", "ManifestType", "ManifestVersion"];
    let extra = match manifest_type {
        "version" => {
            required.push("DefaultLocale");
            json!({"DefaultLocale": {"type": "string", "pattern": "^([a-zA-Z]{2,3}|[iI]-[a-zA-Z]+|[xX]-[a-zA-Z]{1,8})(-[a-zA-Z]{1,8})*$"}})
        }
        "installer" => {
            required.push("Installers");
            let nested_files = json!({"type": "array", "maxItems": 1024, "items": {"type": "object",
                "required": ["RelativeFilePath"],
                "properties": {"RelativeFilePath": {"type": "string", "minLength": 1, "maxLength": 512},
                               "PortableCommandAlias": {"type": "string", "minLength": 1, "maxLength": 40}}}});
            json!({
                "InstallerType": {"enum": ["msix", "msi", "appx", "exe", "zip", "inno", "nullsoft", "wix", "burn", "pwa", "portable"]},
                "NestedInstallerType": {"enum": ["msix", "msi", "appx", "exe", "inno", "nullsoft", "wix", "burn", "portable"]},
                "Commands": {"type": "array", "maxItems": 16, "uniqueItems": true, "items": {"type": "string", "minLength": 1, "maxLength": 40}},
                "NestedInstallerFiles": nested_files,
                "Installers": {"type": "array", "minItems": 1, "maxItems": 1024, "items": {"type": "object",
                    "required": ["Architecture", "InstallerUrl", "InstallerSha256"],
                    "properties": {
                        "Architecture": {"enum": ["x86", "x64", "arm", "arm64", "neutral"]},
                        "InstallerUrl": url,
                        "InstallerSha256": {"type": "string", "pattern": "^[A-Fa-f0-9]{64}$"},
                        "NestedInstallerFiles": nested_files,
                    }}},
            })
        }
        _ => {
            required.extend(["PackageLocale", "Publisher", "PackageName", "License", "ShortDescription"]);
            let text = |min: u64, max: u64| json!({"type": "string", "minLength": min, "maxLength": max});
            json!({
                "PackageLocale": {"type": "string", "maxLength": 20},
                "Publisher": text(2, 256),
                "PackageName": text(2, 256),
                "PackageUrl": url,
                "License": text(3, 512),
                "ShortDescription": text(3, 256),
                "Description": text(3, 10000),
                "Moniker": {"type": "string", "minLength": 1, "maxLength": 40, "pattern": "^\\S+$"},
                "Tags": {"type": "array", "maxItems": 16, "uniqueItems": true, "items": {"type": "string", "minLength": 1, "maxLength": 40, "pattern": "^\\S+$"}},
            })
        }
    };
    if let (Some(p), Some(e)) = (properties.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
           "required": required, "properties": properties})
}

/// check-jsonschema in `target/release-check-venv` (installed once), or `None` without python3.
fn schema_tool() -> Result<Option<PathBuf>> {
    if !Command::new("python3").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success()) {
        return Ok(None);
    }
    let venv = root().join("target/release-check-venv");
    let tool = venv.join("bin/check-jsonschema");
    let current = Command::new(&tool).arg("--version").output().ok().filter(|o| o.status.success());
    if current.is_some_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("version {CHECK_JSONSCHEMA}"))) {
        return Ok(Some(tool));
    }
    println!("release-check: installing check-jsonschema {CHECK_JSONSCHEMA} from PyPI into {}", venv.display());
    let made = Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv).stdout(Stdio::null()).status();
    ensure!(made.is_ok_and(|s| s.success()), "python3 -m venv {} failed", venv.display());
    let out = Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            &format!("check-jsonschema=={CHECK_JSONSCHEMA}"),
        ])
        .stdin(Stdio::null())
        .output()
        .context("running pip")?;
    ensure!(out.status.success(), "pip install check-jsonschema failed:\n{}", String::from_utf8_lossy(&out.stderr));
    Ok(Some(tool))
}

/// `check-jsonschema SCHEMA_ARGS FILE`, failing with what it found.
fn validate(tool: &Path, schema: &[&str], file: &Path) -> Result<()> {
    let out =
        Command::new(tool).args(schema).arg(file).stdin(Stdio::null()).output().context("running check-jsonschema")?;
    ensure!(
        out.status.success(),
        "{} is not valid:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release() -> Release {
        Release {
            version: "1.2.3".into(),
            repository: "https://github.com/o/brickauth".into(),
            sha256: TARGETS.iter().map(|t| (t.triple, format!("{:064x}", t.triple.len()))).collect(),
        }
    }

    #[test]
    fn placeholders_are_filled_in() {
        let r = release();
        let got = render("v{{version}} at {{ repository }}\nsha {{sha256 x86_64-apple-darwin}}.\n", &r).unwrap();
        assert_eq!(
            got,
            format!("v1.2.3 at https://github.com/o/brickauth\nsha {}.\n", r.sha256["x86_64-apple-darwin"])
        );
    }

    #[test]
    fn an_unknown_placeholder_or_target_names_its_line() {
        let r = release();
        let e = render("ok\nx {{verison}}\n", &r).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("verison"), "{e}");
        let e = render("{{sha256 riscv64gc-unknown-linux-gnu}}", &r).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("riscv64gc"), "{e}");
        assert!(render("a {{version", &r).is_err());
    }

    /// The checked-in templates render, and the rendered files pass their checks; a formula
    /// whose hash is not the archive's does not.
    #[test]
    fn the_templates_render_and_pass_their_checks() {
        let r = release();
        let dir = tempfile::tempdir().unwrap();
        let formula = render_file(&root().join("packaging/homebrew/brickauth.rb"), &r, dir.path()).unwrap();
        let text = std::fs::read_to_string(&formula).unwrap();
        check_formula(&text, &r).unwrap();
        let wrong = text.replacen(&r.sha256["aarch64-apple-darwin"], &"f".repeat(64), 1);
        assert!(check_formula(&wrong, &r).is_err());

        let files: Vec<_> = WINGET
            .iter()
            .map(|k| {
                let name = format!("Brickauth.Brickauth{}.yaml", k.suffix);
                (*k, render_file(&root().join("packaging/winget").join(name), &r, dir.path()).unwrap())
            })
            .collect();
        check_winget(&files, &r).unwrap();
        let other = Release { version: "9.9.9".into(), ..release() };
        assert!(check_winget(&files, &other).is_err());
    }

    #[test]
    fn the_workflow_builds_every_target() {
        let text = std::fs::read_to_string(root().join(".github/workflows/release.yml")).unwrap();
        check_workflow(&text).unwrap();
        let without_arm_windows = text.replace("target: aarch64-pc-windows-msvc,", "target: nothing,");
        let e = check_workflow(&without_arm_windows).unwrap_err().to_string();
        assert!(e.contains("aarch64-pc-windows-msvc"), "{e}");
    }

    #[test]
    fn the_winget_schemas_require_what_winget_requires() {
        let s = winget_schema("installer");
        let required: Vec<&str> = s["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(required.contains(&"Installers") && required.contains(&"PackageIdentifier"), "{required:?}");
        assert_eq!(s["properties"]["ManifestType"]["const"], "installer");
        let s = winget_schema("defaultLocale");
        let required: Vec<&str> = s["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        for key in ["PackageLocale", "Publisher", "PackageName", "License", "ShortDescription"] {
            assert!(required.contains(&key), "{key}");
        }
    }
}
