//! The README's samples are valid: every ```toml block is a profile file that `brickauth profiles
//! validate` accepts, and every ```ini block a `~/.databrickscfg` whose sections it accepts. Part
//! of `cargo test --workspace`, so of `cargo xtask test`: the README cannot drift from the code.
//!
//! A block that is not meant to be a whole file says so with `toml,ignore` / `ini,ignore` on its
//! opening fence.

use std::path::Path;
use std::process::Command;

/// The code blocks of `markdown` whose fence names `lang` (` ```toml `), with their first line's
/// number (1-based), in order.
fn blocks(markdown: &str, lang: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut open, fence) {
            (None, Some(info)) if info.trim() == lang => open = Some((i + 2, String::new())),
            (None, Some(_)) => open = Some((0, String::new())),
            (Some((start, body)), Some(_)) => {
                if *start > 0 {
                    out.push((*start, std::mem::take(body)));
                }
                open = None;
            }
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `brickauth ARGS` with a clean environment and `home` as the home directory (`$HOME`, `%USERPROFILE%`).
fn brickauth(home: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_brickauth"))
        .args(args)
        .current_dir(home)
        .env_clear()
        .env("HOME", home)
        .env("USERPROFILE", home)
        .env("BRICKAUTH_CACHE_DIR", home.join("cache"))
        .output()
        .expect("run brickauth");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// The files a sample's `*_file = "~/…"` keys name, created in `home` (mode 600): the sample is
/// valid for a reader who has them.
fn secret_files(home: &Path, sample: &str) {
    for line in sample.lines() {
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = value.split('#').next().unwrap_or_default().trim().trim_matches('"');
        if let (true, Some(rel)) = (key.trim().ends_with("_file"), value.strip_prefix("~/")) {
            let path = home.join(rel);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("create the directory");
            std::fs::write(&path, "placeholder\n").expect("write the file");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
            }
        }
    }
}

#[test]
fn every_toml_sample_in_the_readme_validates() {
    let samples = blocks(&readme(), "toml");
    assert!(!samples.is_empty(), "the README has no ```toml block: did the fence change?");
    for (line, toml) in samples {
        let home = tempfile::tempdir().expect("temp dir");
        let file = home.path().join("profiles.toml");
        std::fs::write(&file, &toml).expect("write the sample");
        secret_files(home.path(), &toml);
        let (code, out) = brickauth(home.path(), &["--config", &file.display().to_string(), "profiles", "validate"]);
        assert_eq!(code, 0, "README.md:{line}: the sample does not validate:\n{toml}\n{out}");
    }
}

#[test]
fn every_ini_sample_in_the_readme_validates() {
    for (line, ini) in blocks(&readme(), "ini") {
        let home = tempfile::tempdir().expect("temp dir");
        std::fs::write(home.path().join(".databrickscfg"), &ini).expect("write the sample");
        let empty = home.path().join("none.toml");
        std::fs::write(&empty, "").expect("write an empty profile file");
        for section in ini.lines().filter_map(|l| l.trim().strip_prefix('[')?.strip_suffix(']')) {
            let (code, out) =
                brickauth(home.path(), &["--config", &empty.display().to_string(), "profiles", "validate", section]);
            assert_eq!(code, 0, "README.md:{line}: section [{section}] does not validate:\n{ini}\n{out}");
        }
    }
}

#[test]
fn blocks_are_found_by_their_fence() {
    let md = "text\n```toml\na = 1\n```\n```sh\nx\n```\n```toml,ignore\nb\n```\n```toml\nc = 2\n```\n";
    assert_eq!(blocks(md, "toml"), [(3, "a = 1\n".to_owned()), (12, "c = 2\n".to_owned())]);
}
