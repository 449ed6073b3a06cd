//! The `brickauth` binary as a user sees it: help text, listings and error reports, as insta
//! snapshots. Runs the real binary with a clean environment.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/profiles")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn brickauth(args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brickauth"));
    cmd.args(args)
        .current_dir(fixtures())
        .env_clear()
        .env("HOME", dir.path())
        .env("USERPROFILE", dir.path())
        .env("BRICKAUTH_CACHE_DIR", dir.path().join("cache"))
        .env("TZ", "UTC")
        .env("COLUMNS", "100");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run brickauth");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn help() {
    let r = brickauth(&["--help"], &[]);
    assert_eq!(r.code, 0);
    insta::assert_snapshot!(r.stdout);
    let r = brickauth(&["token", "--help"], &[]);
    insta::assert_snapshot!("token_help", r.stdout);
}

/// `exec --static` finds its program and passes its exit code on whole (issue 20). On Windows
/// the program is a `.cmd` named without its extension (found through `PATHEXT`, under a
/// directory with a space) and its code, `0xC000013A` (Ctrl-C), does not fit in a byte. The
/// token comes from a stand-in `az` (the `azure-cli` flow in process mode): no network.
#[test]
fn exec_finds_the_program_and_passes_its_exit_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bin = dir.path().join("bin dir");
    std::fs::create_dir(&bin).expect("bin dir");
    let token = r#"{"accessToken":"eyJ0eXAiOiJKV1QifQ.e30.c2ln","expires_on":4070908800,"tokenType":"Bearer"}"#;
    let (az, expected_code) = if cfg!(windows) {
        std::fs::write(bin.join("az.cmd"), format!("@echo {token}\r\n")).expect("az.cmd");
        let tool = "@echo token=%DATABRICKS_TOKEN% arg=%~1\r\n@exit /b -1073741510\r\n";
        std::fs::write(bin.join("tool.cmd"), tool).expect("tool.cmd");
        (bin.join("az.cmd"), 0xC000_013A_u32 as i32)
    } else {
        let tool = "#!/bin/sh\necho \"token=$DATABRICKS_TOKEN arg=$1\"\nexit 7\n";
        for (name, body) in [("az", format!("#!/bin/sh\necho '{token}'\n")), ("tool", tool.to_owned())] {
            std::fs::write(bin.join(name), body).expect("script");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(bin.join(name), std::fs::Permissions::from_mode(0o755)).expect("chmod");
            }
        }
        (bin.join("az"), 7)
    };
    let config = dir.path().join("profiles.toml");
    let profile = format!(
        "[profiles.p]\nflow = \"azure-cli\"\nazure_cli_mode = \"process\"\nazure_cli_path = '{}'\n\
         host = \"https://adb-1234567890123456.7.azuredatabricks.net\"\n",
        az.display()
    );
    std::fs::write(&config, profile).expect("profiles.toml");
    let path = bin.to_string_lossy().into_owned();
    let system_root = std::env::var("SystemRoot").unwrap_or_default();
    let mut env = vec![("PATH", path.as_str()), ("BRICKAUTH_CONFIG", config.to_str().expect("utf-8 path"))];
    if cfg!(windows) {
        env.push(("SystemRoot", system_root.as_str()));
    }
    let r = brickauth(&["-p", "p", "exec", "--static", "--", "tool", "two words"], &env);
    assert_eq!(r.code, expected_code, "{}", r.stderr);
    assert_eq!(r.stdout.trim_end(), "token=eyJ0eXAiOiJKV1QifQ.e30.c2ln arg=two words", "{}", r.stderr);
}

#[test]
fn flows() {
    let r = brickauth(&["flows"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!(r.stdout);
}

#[test]
fn profiles_show_redacts_secrets_and_names_sources() {
    let r = brickauth(&["--config", "show.toml", "profiles", "show"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("literal-secret-never-shown"));
    assert!(!r.stderr.contains("literal-secret-never-shown"));
    insta::assert_snapshot!(r.stdout);
    let list = brickauth(&["--config", "show.toml", "profiles", "list"], &[]);
    insta::assert_snapshot!("profiles_list", list.stdout);
}

#[test]
fn unknown_key_is_a_profile_error() {
    let r = brickauth(&["--config", "typo-key.toml", "token"], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn unknown_flow_lists_the_registered_ones() {
    let r = brickauth(&["--config", "unknown-flow.toml", "token"], &[]);
    assert_eq!(r.code, 2);
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn clear_text_authority_is_refused() {
    let r = brickauth(&["--config", "clear-text.toml", "token"], &[]);
    assert_eq!(r.code, 2);
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn missing_profile_file_says_how_to_create_one() {
    let r = brickauth(&["--config", "does-not-exist.toml", "token"], &[]);
    assert_eq!(r.code, 2);
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn version_json_has_the_fields_the_databricks_sdks_read() {
    let r = brickauth(&["version", "--output", "json"], &[]);
    assert_eq!(r.code, 0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["Version"], env!("CARGO_PKG_VERSION"));
    assert!(v["Major"].is_u64() && v["Minor"].is_u64() && v["Patch"].is_u64());
    // The level at which the SDKs pass `--profile` (0.207.1) and `--force-refresh` (0.296.0):
    // both are implemented, forced refreshes coalescing.
    let level = (v["Major"].as_u64(), v["Minor"].as_u64(), v["Patch"].as_u64());
    assert_eq!(level, (Some(0), Some(296), Some(0)), "{v}");
    assert_eq!(v["Protocol"], "databricks-cli-token-helper/0.296.0");
    let text = brickauth(&["version"], &[]);
    assert_eq!(
        text.stdout,
        format!("brickauth {} (Databricks token-helper protocol 0.296.0)\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn inspect_reads_a_token_from_stdin_or_argument() {
    // header {"alg":"none"} . claims {"exp":4102444800,"upn":"a@b.com"}
    let t = "eyJhbGciOiJub25lIn0.eyJleHAiOjQxMDI0NDQ4MDAsInVwbiI6ImFAYi5jb20ifQ.";
    let r = brickauth(&["inspect", t], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["claims"]["upn"], "a@b.com");
    assert_eq!(v["expires"]["expired"], false);
    let bad = brickauth(&["inspect", "not-a-jwt"], &[]);
    assert_eq!(bad.code, 2);
    insta::assert_snapshot!("inspect_bad", bad.stderr);
}

#[test]
fn environment_only_errors_name_the_variables_to_set() {
    let none = "no-such-profiles.toml";
    let missing_tenant = brickauth(
        &["--flow", "client-credentials", "token"],
        &[
            ("BRICKAUTH_CONFIG", none),
            ("ARM_CLIENT_ID", "12a34b56-789c-0d12-e3fa-b456789c0123"),
            ("ARM_CLIENT_SECRET", "not-shown"),
        ],
    );
    let missing_secret = brickauth(&["--flow", "databricks-m2m", "token"], &[("BRICKAUTH_CONFIG", none)]);
    let missing_host = brickauth(
        &["--flow", "client-credentials", "whoami"],
        &[("BRICKAUTH_CONFIG", none), ("ARM_CLIENT_ID", "c"), ("ARM_CLIENT_SECRET", "not-shown")],
    );
    for r in [&missing_tenant, &missing_secret, &missing_host] {
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(!r.stderr.contains("not-shown"), "{}", r.stderr);
    }
    insta::assert_snapshot!(
        "environment_only_missing_variables",
        [missing_tenant.stderr, missing_secret.stderr, missing_host.stderr].join("\n")
    );
}

#[test]
fn a_databrickscfg_pat_section_is_refused_naming_section_and_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("databrickscfg");
    std::fs::write(&cfg, "[DEFAULT]\nhost = https://adb-1.1.azuredatabricks.net\ntoken = dapi-not-shown\n").unwrap();
    let cfg = cfg.display().to_string();
    let r = brickauth(&["token"], &[("BRICKAUTH_CONFIG", "no-such-profiles.toml"), ("DATABRICKS_CONFIG_FILE", &cfg)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!r.stderr.contains("dapi-not-shown"));
    insta::assert_snapshot!("databrickscfg_pat_refused", r.stderr.replace(&cfg, "[CFG]"));
}

#[test]
fn a_swapped_letter_in_the_profile_name_gets_a_suggestion() {
    let r = brickauth(&["--config", "polish.toml", "-p", "dve", "profiles", "show"], &[]);
    assert_eq!(r.code, 2);
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn no_profile_chosen_among_several_says_how_to_choose() {
    let r = brickauth(&["--config", "polish.toml", "profiles", "show"], &[]);
    assert_eq!(r.code, 2);
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn the_only_profile_is_used_without_default_profile() {
    let r = brickauth(&["--config", "only-one.toml", "profiles", "show"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("[dev]\n"), "{}", r.stdout);
}

#[test]
fn userinfo_in_a_url_is_refused_and_never_printed() {
    let r = brickauth(&["--config", "polish.toml", "-p", "leaky", "token"], &[("ALICE_PASSWORD", "x")]);
    assert_eq!(r.code, 2);
    assert!(!r.stderr.contains("hunter2") && !r.stderr.contains("alice:"), "{}", r.stderr);
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn validate_checks_formats_and_files() {
    let r = brickauth(&["--config", "polish.toml", "profiles", "validate", "admin"], &[]);
    assert_eq!(r.code, 2);
    let mut settings = insta::Settings::clone_current();
    // The OS words a missing directory its own way; Windows' text reads as Linux's.
    settings.add_filter(r"Path not found\. \(os error 3\)", "No such file or directory (os error 2)");
    settings.bind(|| insta::assert_snapshot!(r.stdout));
}

#[test]
fn profiles_show_prints_a_value_of_100000_characters() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("long.toml");
    let long = "x".repeat(100_000);
    std::fs::write(
        &path,
        format!(
            "[profiles.long]\nflow = \"password\"\ntenant_id = \"a1bc2d34-5e67-8f89-01ab-c2345d6c78de\"\n\
             client_id = \"12a34b56-789c-0d12-e3fa-b456789c0123\"\nusername = \"{long}\"\npassword_env = \"P\"\n"
        ),
    )
    .expect("write");
    let r = brickauth(&["--config", path.to_str().expect("utf-8"), "profiles", "show"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(&long));
}

#[test]
fn profiles_add_writes_a_valid_profile_and_keeps_comments() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("profiles.toml");
    std::fs::write(&path, "# mine: keep this\n[profiles.dev]\nflow = \"device-code\" # inline note\ntenant_id = \"a1bc2d34-5e67-8f89-01ab-c2345d6c78de\"\nclient_id = \"12a34b56-789c-0d12-e3fa-b456789c0123\"\n").expect("write");
    let config = path.to_str().expect("utf-8");
    let r = brickauth(
        &[
            "--config",
            config,
            "profiles",
            "add",
            "ci",
            "--flow",
            "ropc",
            "--set",
            "username=svc@contoso.com",
            "--set",
            "password_env=CI_PASSWORD",
            "--set",
            "tenant_id=a1bc2d34-5e67-8f89-01ab-c2345d6c78de",
            "--set",
            "client_id=12a34b56-789c-0d12-e3fa-b456789c0123",
            "--default",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&path).expect("read");
    insta::assert_snapshot!("profiles_add_file", text);
    insta::assert_snapshot!("profiles_add_stderr", r.stderr.replace(config, "[PATH]"));
    let v = brickauth(&["--config", config, "profiles", "validate"], &[]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);

    // A literal secret is refused, and the file is left as it was.
    let r = brickauth(
        &["--config", config, "profiles", "add", "x", "--flow", "password", "--set", "password=hunter2"],
        &[],
    );
    assert_eq!(r.code, 2);
    assert!(!r.stderr.contains("hunter2"));
    insta::assert_snapshot!("profiles_add_literal_secret", r.stderr);
    assert_eq!(std::fs::read_to_string(&path).expect("read"), text);

    // A profile that would not validate is not written.
    let r =
        brickauth(&["--config", config, "profiles", "add", "y", "--flow", "password", "--set", "password_env=P"], &[]);
    assert_eq!(r.code, 2);
    insta::assert_snapshot!("profiles_add_invalid", r.stderr.replace(config, "[PATH]"));
    assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
}

#[test]
fn completions_survive_a_closed_pipe() {
    for shell in ["bash", "zsh", "fish"] {
        // The reading end is closed before the binary writes anything: every write is EPIPE,
        // as with `brickauth completions zsh | head -1` once head has exited.
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_brickauth"))
            .args(["completions", shell])
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{shell}: {stderr}");
        assert!(!stderr.contains("panicked"), "{shell}: {stderr}");
    }
}

/// Run `script` (bash, with the completion script loaded) and return its stdout.
#[cfg(unix)] // runs bash, which Windows has none of
fn bash_completion(words: &[&str], config: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_brickauth");
    let script = Command::new(bin).args(["completions", "bash"]).output().expect("script").stdout;
    let script = String::from_utf8(script).expect("utf-8");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("brickauth.bash");
    std::fs::write(&file, script).expect("write");
    let words_arr = words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" ");
    let cword = words.len() - 1;
    let current = words[cword];
    let prev = if cword > 0 { words[cword - 1] } else { "" };
    let test = format!(
        "source '{}'\nCOMP_WORDS=({words_arr})\nCOMP_CWORD={cword}\nCOMP_TYPE=9\n\
         _clap_complete_brickauth brickauth '{current}' '{prev}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        file.display()
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &test])
        .current_dir(fixtures())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("BRICKAUTH_CONFIG", config)
        .env("BRICKAUTH_CACHE_DIR", dir.path().join("cache"))
        .output()
        .expect("bash");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[cfg(unix)] // runs bash, which Windows has none of
#[test]
fn bash_completes_profile_and_flow_names() {
    let config = fixtures().join("polish.toml");
    let config = config.to_str().expect("utf-8");
    let offered = bash_completion(&["brickauth", "-p", ""], config);
    let names: Vec<&str> = offered.lines().map(str::trim).collect();
    assert_eq!(names, ["admin", "dev", "leaky"], "{offered}");
    let offered = bash_completion(&["brickauth", "token", "--profile", "d"], config);
    assert_eq!(offered.trim(), "dev");
    let offered = bash_completion(&["brickauth", "token", "--flow", "dev"], config);
    assert_eq!(offered.trim(), "device-code");
    // Cluster ids: no cached token, so none — and no sign-in attempt (it would fail or prompt).
    let offered = bash_completion(&["brickauth", "-p", "dev", "clusters", "get", ""], config);
    assert!(offered.lines().all(|l| l.starts_with("--")), "only flags, no cluster ids: {offered}");
}

/// Every problem of a profile, not only the first (issue 23): a misspelt key, two sources of one
/// secret, a missing required key, and two values of the wrong format.
#[test]
fn validate_lists_every_problem_of_a_profile() {
    let r = brickauth(&["--config", "many-problems.toml", "profiles", "validate"], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    for needle in ["usrname", "password_command", "`username`", "`client_id`", "`host`"] {
        assert!(r.stdout.contains(needle), "{needle} not reported:\n{}", r.stdout);
    }
    insta::assert_snapshot!(r.stdout);
}

/// `--flow` takes every setting from the environment: errors name the variables, never the
/// internal profile name `env` (issue 23), and the next step names `--flow`, not `-p env`.
#[test]
fn environment_only_errors_name_variables_not_the_internal_profile() {
    let runs = [
        brickauth(&["--flow", "client-credentials", "token"], &[]),
        brickauth(
            &["--flow", "client-credentials", "token"],
            &[
                ("AZURE_CLIENT_ID", "nope"),
                ("AZURE_TENANT_ID", "a1bc2d34-5e67-8f89-01ab-c2345d6c78de"),
                ("AZURE_CLIENT_SECRET", "x"),
            ],
        ),
        brickauth(&["--flow", "device-code", "token"], &[]),
    ];
    for r in &runs {
        assert_ne!(r.code, 0, "{}", r.stderr);
        assert!(!r.stderr.contains("`env`") && !r.stderr.contains("-p env"), "{}", r.stderr);
    }
    assert!(runs[0].stderr.contains("$AZURE_CLIENT_SECRET"), "{}", runs[0].stderr);
    assert!(runs[1].stderr.contains("$AZURE_CLIENT_ID: key `client_id`"), "{}", runs[1].stderr);
    assert!(runs[2].stderr.contains("brickauth --flow FLOW login"), "{}", runs[2].stderr);
    assert!(runs[2].stderr.contains("settings from the environment (--flow device-code)"), "{}", runs[2].stderr);
}

/// Make `path` changeable by every user (Unix mode 0666; Windows: Everyone full control), or
/// (`everybody = false`) by the user alone.
fn open_to_everybody(path: &Path, everybody: bool) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if everybody { 0o666 } else { 0o600 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    #[cfg(windows)]
    {
        use brickauth_core::file::acl::Sid;
        use brickauth_core::file::security::{current_user, set_dacl};
        let (me, everyone) = (current_user().expect("user"), Sid::new(1, &[0]));
        let mut entries = vec![(0x001F_01FF, &me)];
        if everybody {
            entries.push((0x001F_01FF, &everyone));
        }
        // Wine keeps Everyone's write on and off (as the Unix "others" bit): all this needs.
        let _kept = set_dacl(path, &entries).expect("set the DACL");
    }
}

/// A profile file every user may change (issue 20, on every platform): `profiles validate`
/// says so with the platform's fix, and `token` refuses to run the `*_command` it names rather
/// than run a command anyone could have written. Restricted, the command runs.
#[test]
fn a_profile_file_everybody_may_change_runs_no_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("profiles.toml");
    // The command would print the password; the authority is a closed loopback port, so the
    // restricted run fails at the network, after the command ran.
    std::fs::write(
        &path,
        "[profiles.p]\nflow = \"password\"\ntenant_id = \"a1bc2d34-5e67-8f89-01ab-c2345d6c78de\"\n\
         client_id = \"12a34b56-789c-0d12-e3fa-b456789c0123\"\nusername = \"ada@contoso.com\"\n\
         password_command = \"echo pw\"\nauthority_host = \"http://127.0.0.1:9\"\n",
    )
    .expect("write");
    let config = path.to_str().expect("utf-8 path");
    let fix = if cfg!(windows) { "icacls" } else { "chmod go-w" };

    open_to_everybody(&path, true);
    let v = brickauth(&["--config", config, "profiles", "validate"], &[]);
    assert_eq!(v.code, 0, "a warning, not an invalid profile: {}{}", v.stdout, v.stderr);
    assert!(v.stderr.contains("can change it") && v.stderr.contains("refuses to run the commands"), "{}", v.stderr);
    assert!(v.stderr.contains(fix), "{}", v.stderr);
    let t = brickauth(&["--config", config, "token", "-p", "p"], &[]);
    assert_ne!(t.code, 0);
    assert!(t.stderr.contains("refusing to run `password_command`") && t.stderr.contains(fix), "{}", t.stderr);

    open_to_everybody(&path, false);
    let v = brickauth(&["--config", config, "profiles", "validate"], &[]);
    assert!(!v.stderr.contains("can change it"), "{}", v.stderr);
    let t = brickauth(&["--config", config, "token", "-p", "p"], &[]);
    assert_ne!(t.code, 0);
    assert!(!t.stderr.contains("refusing"), "{}", t.stderr);
    assert!(t.stderr.contains("127.0.0.1:9"), "the command ran and the sign-in was tried: {}", t.stderr);
}
