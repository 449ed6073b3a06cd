//! Tests across modules: fixtures in raw strings, parsed under the fake path `profiles.toml` so
//! messages and snapshots are stable. Flows come from `crate::test_flows`.

use std::path::Path;
use std::sync::{Arc, Mutex};

use brickauth_core::ExposeSecret;
use brickauth_core::settings::{ConfigError, Settings};

use crate::{DisplayValue, Origin, Profile, ProfileError, ProfileFile};

const FILE: &str = r#"default_profile = "dev"

[defaults]
tenant_id = "contoso.onmicrosoft.com"
client_id = "12a34b56-789c-0d12-e3fa-b456789c0123"
username = "default-user@contoso.com"

[profiles.dev]
flow = "test-password"
host = "https://adb-1234567890123456.7.azuredatabricks.net"
username = "ada@contoso.com"
password_env = "BRICKAUTH_TEST_PASSWORD"

[profiles.ci]
flow = "test-secret"
host = "adb-2.azuredatabricks.net"
client_secret_file = "~/.secrets/ci"
scopes = ["a/.default", "offline_access"]
"#;

fn parse(text: &str) -> Result<ProfileFile, ProfileError> {
    ProfileFile::parse(Path::new("profiles.toml"), text)
}

fn file() -> ProfileFile {
    parse(FILE).expect("fixture parses")
}

/// A one-profile file: `flow = "test-password"` plus `body`.
fn password_profile(body: &str) -> Result<Profile, ProfileError> {
    parse(&format!("[profiles.p]\nflow = \"test-password\"\nusername = \"ada\"\n{body}"))?.profile("p")
}

fn at(line: usize, column: usize) -> Origin {
    Origin::File { path: "profiles.toml".into(), line, column }
}

fn defaults_at(line: usize, column: usize) -> Origin {
    Origin::Defaults { path: "profiles.toml".into(), line, column }
}

// ---------------------------------------------------------------- parsing and merging

#[test]
fn the_fixture_lists_its_profiles() {
    let file = file();
    assert_eq!(file.names(), ["ci", "dev"]);
    assert_eq!(file.default_profile(), Some("dev"));
    assert_eq!(file.path(), Path::new("profiles.toml"));
}

#[test]
fn defaults_merge_under_the_profile_and_the_profile_wins() {
    let dev = file().profile("dev").unwrap();
    assert_eq!(dev.flow().name, "test-password");
    assert_eq!(dev.get("username"), Some("ada@contoso.com"));
    assert_eq!(dev.origin("username").as_deref(), Some("profiles.toml:11:1"));
    assert_eq!(dev.get("tenant_id"), Some("contoso.onmicrosoft.com"));
    assert_eq!(dev.origin("tenant_id").as_deref(), Some("[defaults] at profiles.toml:4:1"));
    let tenant = dev.entries().into_iter().find(|(k, _, _)| k == "tenant_id").map(|(_, _, o)| o);
    assert_eq!(tenant, Some(defaults_at(4, 1)));
}

#[test]
fn defaults_the_flow_does_not_accept_are_left_out() {
    // `username` in [defaults] serves test-password; test-secret does not read it.
    let ci = file().profile("ci").unwrap();
    assert_eq!(ci.get("username"), None);
    assert!(ci.entries().iter().all(|(k, _, _)| k != "username"));
    assert_eq!(ci.get("client_id"), Some("12a34b56-789c-0d12-e3fa-b456789c0123"));
}

#[test]
fn a_profiles_own_secret_source_replaces_the_defaults_source() {
    let text = "[defaults]\npassword_env = \"SHARED\"\n\n[profiles.p]\nflow = \"test-password\"\nusername = \"u\"\npassword_file = \"/pw\"\n";
    let p = parse(text).unwrap().profile("p").unwrap();
    let keys: Vec<String> = p.entries().into_iter().map(|(k, _, _)| k).collect();
    assert_eq!(keys, ["flow", "password_file", "username"]);
    // And without its own source, the profile inherits the defaults'.
    let text = "[defaults]\npassword_env = \"SHARED\"\n\n[profiles.p]\nflow = \"test-password\"\nusername = \"u\"\n";
    let p = parse(text).unwrap().profile("p").unwrap();
    assert_eq!(p.origin("password").as_deref(), Some("[defaults] at profiles.toml:2:1"));
}

#[test]
fn flow_may_come_from_defaults_and_aliases_work() {
    let text = "[defaults]\nflow = \"Test_ROPC\"\n\n[profiles.p]\nusername = \"u\"\npassword_env = \"X\"\n";
    let p = parse(text).unwrap().profile("p").unwrap();
    assert_eq!(p.flow().name, "test-password");
    assert_eq!(p.get("flow"), Some("Test_ROPC"));
}

#[test]
fn values_keep_their_text_form() {
    let p = password_profile("password_env = \"X\"\nlogin_timeout = 0x12c\nscopes = [\"a\", \"b c\"]\n").unwrap();
    assert_eq!(p.get("login_timeout"), Some("300"));
    assert_eq!(p.get("scopes"), Some("a b c"));
    let ci = file().profile("ci").unwrap();
    assert_eq!(ci.get("scopes"), Some("a/.default offline_access"));
    let p = password_profile("password_env = \"X\"\nscopes = \"x y\"\nlogin_timeout = true\n").unwrap();
    assert_eq!((p.get("scopes"), p.get("login_timeout")), (Some("x y"), Some("true")));
}

#[test]
fn line_and_column_count_characters() {
    let text = "[profiles.\"é\"]\n  flow = \"test-password\"\n\t username = \"u\"\n";
    let err = parse(&format!("{text}  \"ü\" = 1\n")).unwrap().profile("é").unwrap_err();
    assert!(err.to_string().starts_with("profiles.toml:4:3: profile `é`: unknown key `ü`"), "{err}");
    let file = parse(&format!("{text}password_env = \"X\"\n")).unwrap();
    assert_eq!(file.profile("é").unwrap().origin("username").as_deref(), Some("profiles.toml:3:3"));
}

// ---------------------------------------------------------------- errors

#[test]
fn unknown_key_names_file_line_profile_and_nearest_key() {
    let text = "[profiles.dev]\nflow = \"test-password\"\nusername = \"u\"\npassword_env = \"X\"\n\ntenat_id = \"t\"\n";
    let err = parse(text).unwrap().profile("dev").unwrap_err();
    assert!(
        matches!(&err, ProfileError::UnknownKey { at: Some(crate::Position { line: 6, column: Some(1) }), suggestion: Some(s), .. } if s == "tenant_id")
    );
    insta::assert_snapshot!("unknown_key", err.to_string());
}

#[test]
fn unknown_key_is_reported_in_file_order() {
    let text = "[profiles.dev]\nzzz = 1\nflow = \"test-password\"\naaa = 2\n";
    let err = parse(text).unwrap().profile("dev").unwrap_err();
    assert!(
        matches!(&err, ProfileError::UnknownKey { key, at: Some(crate::Position { line: 2, .. }), .. } if key == "zzz"),
        "{err}"
    );
}

#[test]
fn unknown_flow_lists_the_registered_flows() {
    let text = "[profiles.dev]\nflow = \"test-pasword\"\n";
    let err = parse(text).unwrap().profile("dev").unwrap_err();
    let ProfileError::UnknownFlow { at, suggestion, known, .. } = &err else { panic!("{err:?}") };
    assert_eq!(*at, Some(crate::Position { line: 2, column: Some(1) }));
    assert_eq!(suggestion.as_deref(), Some("test-password"));
    assert_eq!(
        known[..],
        ["test-cli", "test-interactive", "test-m2m", "test-msi", "test-password", "test-secret", "test-sp"]
    );
    insta::assert_snapshot!("unknown_flow", err.to_string());
}

#[test]
fn missing_flow_lists_the_registered_flows() {
    let err = parse("[profiles.dev]\nusername = \"u\"\n").unwrap().profile("dev").unwrap_err();
    assert_eq!(
        err.to_string(),
        "profiles.toml: profile `dev`: missing required key `flow`; registered flows: test-cli, test-interactive, test-m2m, test-msi, test-password, test-secret, test-sp"
    );
}

#[test]
fn missing_required_keys() {
    let err =
        parse("[profiles.p]\nflow = \"test-password\"\npassword_env = \"X\"\n").unwrap().profile("p").unwrap_err();
    assert!(matches!(&err, ProfileError::MissingKey { key, .. } if key == "username"), "{err}");
    let err = password_profile("").unwrap_err();
    insta::assert_snapshot!("missing_secret", err.to_string());
}

#[test]
fn a_flow_with_alternative_credentials_needs_exactly_one() {
    let base = "[profiles.sp]\nflow = \"test-sp\"\ntenant_id = \"t\"\nclient_id = \"c\"\n";
    let err = parse(base).unwrap().profile("sp").unwrap_err();
    assert!(matches!(&err, ProfileError::MissingKey { key, .. } if key == "client_secret"), "{err:?}");
    assert_eq!(
        err.to_string(),
        "profiles.toml: profile `sp`: missing required key `client_secret`; flow `test-sp` needs a credential: \
         set `client_secret_env`, `client_secret_file`, `client_secret_command` or `client_secret_keychain`, or \
         `client_certificate`"
    );
    for one in
        ["client_secret_env = \"S\"\n", "client_secret_command = \"pass sp\"\n", "client_certificate = \"c.pem\"\n"]
    {
        let text = format!("{base}{one}");
        assert!(parse(&text).unwrap().profile("sp").is_ok(), "{one}");
    }
    let both = format!("{base}client_secret_env = \"S\"\nclient_certificate = \"c.pem\"\n");
    let err = parse(&both).unwrap().profile("sp").unwrap_err();
    assert_eq!(
        err.to_string(),
        "profiles.toml:6:1: profile `sp`: key `client_certificate`: `client_secret` and `client_certificate` are \
         both set: flow `test-sp` takes one credential; remove one"
    );
}

#[test]
fn a_secret_may_have_only_one_source() {
    let err = password_profile("password = \"hunter2\"\npassword_env = \"X\"\n").unwrap_err();
    let ProfileError::AmbiguousSecret { sources, at, .. } = &err else { panic!("{err:?}") };
    let line = &at.map_or(0, |a| a.line as usize);
    assert_eq!(sources, &["password", "password_env"]);
    assert_eq!(*line, 5);
    insta::assert_snapshot!("ambiguous_secret", err.to_string());
}

#[test]
fn empty_secret_sources_are_invalid() {
    let err = password_profile("password_env = \"\"\n").unwrap_err();
    assert_eq!(err.to_string(), "profiles.toml:4:1: profile `p`: key `password_env`: is empty");
}

#[test]
fn defaults_keys_must_be_known_to_some_flow() {
    let err = parse("[defaults]\nclient_id = \"c\"\nusernme = \"u\"\n").unwrap_err();
    assert_eq!(err.to_string(), "profiles.toml:3:1: [defaults]: unknown key `usernme` (did you mean `username`?)");
    // Known to test-password only: fine in [defaults].
    assert!(parse("[defaults]\nlogin_timeout = 30\npassword_command = \"pass x\"\n").is_ok());
}

#[test]
fn top_level_keys_are_checked() {
    let err = parse("[profile.dev]\nflow = \"x\"\n").unwrap_err();
    assert_eq!(err.to_string(), "profiles.toml:1:2: unknown key `profile` (did you mean `profiles`?)");
    let err = parse("[dev]\nflow = \"x\"\n").unwrap_err();
    assert_eq!(err.to_string(), "profiles.toml:1:2: unknown key `dev` (did you mean `profiles.dev`?)");
    let err = parse("default_profile = 3\n").unwrap_err();
    assert!(
        matches!(err, ProfileError::InvalidValue { at: Some(crate::Position { line: 1, column: Some(19) }), .. }),
        "{err}"
    );
    let err = parse("profiles = 3\n").unwrap_err();
    assert!(matches!(err, ProfileError::InvalidValue { .. }), "{err}");
}

#[test]
fn wrong_value_types_point_at_the_value() {
    let err = password_profile("login_timeout = 1.5\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "profiles.toml:4:17: profile `p`: key `login_timeout`: expected a string, an integer or a boolean"
    );
    let err = password_profile("scopes = [\"a\", 1]\n").unwrap_err();
    assert!(err.to_string().starts_with("profiles.toml:4:16: profile `p`: key `scopes`"), "{err}");
    let err = password_profile("username = [\"a\"]\n").unwrap_err();
    assert!(matches!(err, ProfileError::Parse { .. }), "duplicate key: {err}");
    let err = password_profile("host = [\"a\"]\n").unwrap_err();
    assert!(err.to_string().contains("only `scopes` may be a list"), "{err}");
    let err = parse("[profiles.p.nested]\nx = 1\n").unwrap_err();
    assert!(err.to_string().contains("profiles do not nest"), "{err}");
}

#[test]
fn toml_syntax_errors_have_a_position() {
    let err = parse("[profiles.dev]\nflow = \"test-password\nhost = 1\n").unwrap_err();
    let ProfileError::Parse { line, .. } = &err else { panic!("{err:?}") };
    assert_eq!(*line, 2);
    insta::assert_snapshot!("parse_error", err.to_string());
}

#[test]
fn load_reports_a_missing_file_with_its_path_and_how_to_create_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profiles.toml");
    let err = ProfileFile::load(&path).unwrap_err();
    assert!(matches!(&err, ProfileError::NotFound { path: p } if **p == *path));
    let message = err.to_string();
    // Named as messages name paths: `~` for the home directory (the temp dir is under it on Windows).
    assert!(message.contains(&crate::display_path(&path)), "{message}");
    assert!(message.contains("[profiles.dev]") && message.contains("--config"), "{message}");

    std::fs::write(&path, FILE).unwrap();
    assert_eq!(ProfileFile::load(&path).unwrap().names(), ["ci", "dev"]);
}

// ---------------------------------------------------------------- selection

#[test]
fn select_order_is_flag_env_default_profile_then_default() {
    let file = file();
    let no_env = |_: &str| None;
    let env = |name: &str| (name == "BRICKAUTH_PROFILE").then(|| "ci".to_owned());
    assert_eq!(file.select_with(Some("dev"), &env).unwrap().name(), "dev");
    assert_eq!(file.select_with(None, &env).unwrap().name(), "ci");
    assert_eq!(file.select_with(None, &no_env).unwrap().name(), "dev");

    let no_default =
        parse("[profiles.default]\nflow = \"test-password\"\nusername = \"u\"\npassword_env = \"X\"\n").unwrap();
    assert_eq!(no_default.select_with(None, &no_env).unwrap().name(), "default");
}

#[test]
fn unknown_profile_suggests_and_lists() {
    let err = file().select_with(Some("devv"), &|_| None).unwrap_err();
    insta::assert_snapshot!("unknown_profile", err.to_string());
    let err = parse("").unwrap().profile("default").unwrap_err();
    assert!(err.to_string().contains("defines no profiles"), "{err}");
}

#[test]
fn find_by_host_normalizes_and_rejects_ambiguity() {
    let file = file();
    for host in [
        "https://adb-1234567890123456.7.azuredatabricks.net",
        "ADB-1234567890123456.7.azuredatabricks.net/",
        "https://adb-1234567890123456.7.azuredatabricks.net:443/?o=1",
    ] {
        assert_eq!(file.find_by_host(host).unwrap().name(), "dev", "{host}");
    }
    assert_eq!(file.find_by_host("https://adb-2.azuredatabricks.net/").unwrap().name(), "ci");

    let err = file.find_by_host("adb-3.azuredatabricks.net").unwrap_err();
    assert_eq!(
        err.to_string(),
        "profiles.toml: no profile has host `adb-3.azuredatabricks.net`; hosts in this file: \
         ci (adb-2.azuredatabricks.net), dev (https://adb-1234567890123456.7.azuredatabricks.net)"
    );

    let text = format!("{FILE}\n[profiles.dev2]\nflow = \"test-password\"\nhost = \"adb-2.azuredatabricks.net\"\n");
    let err = parse(&text).unwrap().find_by_host("adb-2.azuredatabricks.net").unwrap_err();
    assert!(matches!(&err, ProfileError::AmbiguousHost { profiles, .. } if profiles == &["ci", "dev2"]), "{err}");
}

// ---------------------------------------------------------------- settings and provenance

#[test]
fn get_never_returns_secrets_or_their_sources() {
    let p = password_profile("password = \"hunter2\"\n").unwrap();
    assert_eq!(p.get("password"), None);
    assert_eq!(p.get("username"), Some("ada"));
    let dev = file().profile("dev").unwrap();
    assert_eq!(dev.get("password_env"), None);
}

#[test]
fn entries_show_sources_and_redact_literals() {
    let dev = file().profile("dev").unwrap();
    let shown: Vec<String> = dev.entries().iter().map(|(k, v, o)| format!("{k} = {v}  ({o})")).collect();
    insta::assert_snapshot!("dev_entries", shown.join("\n"));

    let p = password_profile("password = \"hunter2\"\n").unwrap();
    let password = p.entries().into_iter().find(|(k, _, _)| k == "password").unwrap();
    assert_eq!((password.1, password.2), (DisplayValue::Redacted, at(4, 1)));
}

#[test]
fn origin_of_a_secret_is_its_source_key() {
    let dev = file().profile("dev").unwrap();
    assert_eq!(dev.origin("password").as_deref(), Some("profiles.toml:12:1"));
    assert_eq!(dev.origin("password_env").as_deref(), Some("profiles.toml:12:1"));
    assert_eq!(dev.origin("nope"), None);
}

#[test]
fn set_overrides_with_its_origin() {
    let mut dev = file().profile("dev").unwrap();
    dev.set("host", "https://adb-9.azuredatabricks.net", Origin::CommandLine("--host".into()));
    assert_eq!(dev.get("host"), Some("https://adb-9.azuredatabricks.net"));
    assert_eq!(dev.origin("host").as_deref(), Some("--host"));

    // A new source of a secret replaces the old one instead of conflicting with it.
    dev.set("password_file", "/run/secrets/pw", Origin::Env("PW_FILE".into()));
    assert!(dev.validate().is_ok());
    assert_eq!(dev.origin("password").as_deref(), Some("$PW_FILE"));

    dev.set("flow", "test-secret", Origin::CommandLine("--flow".into()));
    assert_eq!(dev.flow().name, "test-secret");
    assert!(matches!(dev.validate(), Err(ProfileError::UnknownKey { .. })));
    dev.set("flow", "no-such-flow", Origin::CommandLine("--flow".into()));
    assert_eq!(dev.flow().name, "test-secret");
}

#[test]
fn every_problem_is_listed_in_file_order_and_the_first_is_the_load_error() {
    let text =
        "[profiles.p]\nflow = \"test-password\"\nusrname = \"ada\"\npassword_env = \"P\"\npassword_file = \"/p\"\n";
    let file = parse(text).unwrap();
    let (profile, problems) = file.profile_and_problems("p").unwrap();
    let kinds: Vec<&str> = problems
        .iter()
        .map(|p| match p {
            ProfileError::UnknownKey { .. } => "unknown",
            ProfileError::AmbiguousSecret { .. } => "ambiguous",
            ProfileError::MissingKey { .. } => "missing",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["unknown", "ambiguous", "missing"], "{problems:?}");
    assert_eq!(profile.problems().len(), 3);
    // Loading reports the first, as before.
    let first = file.profile("p").unwrap_err();
    assert_eq!(first.to_string(), problems[0].to_string());
}

// ---------------------------------------------------------------- secrets

#[test]
fn secret_from_env() {
    // PATH is set in every test environment; no need to mutate the process environment.
    let p = password_profile("password_env = \"PATH\"\n").unwrap();
    let expected = std::env::var("PATH").unwrap();
    assert_eq!(p.secret("password").unwrap().unwrap().expose_secret(), expected);
}

#[test]
fn secret_from_unset_env_names_the_variable() {
    let p = password_profile("password_env = \"BRICKAUTH_TEST_SURELY_UNSET_7C1F\"\n").unwrap();
    let err = p.resolve_secret("password").unwrap_err();
    insta::assert_snapshot!("unset_variable", err.to_string());
    let err: ConfigError = p.secret("password").unwrap_err();
    assert_eq!(err.origin.as_deref(), Some("profiles.toml:4:1"));
    assert_eq!(err.key.as_deref(), Some("password"));
}

#[test]
fn secret_from_file_trims_the_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pw");
    std::fs::write(&path, "s3cret pass\n").unwrap();
    let p = password_profile(&format!("password_file = '{}'\n", path.display())).unwrap();
    assert_eq!(p.secret("password").unwrap().unwrap().expose_secret(), "s3cret pass");
}

/// Who besides the user may use `path`: `Private`, others `Read`, a named other user `Write`
/// (Unix: the group), `Everybody` (Unix: others; Windows: Everyone) may change it.
#[derive(Clone, Copy)]
enum Shared {
    Private,
    Read,
    Write,
    Everybody,
}

/// Whether the platform kept that sharing: Unix always; Wine keeps a DACL only as Unix mode
/// bits (the owner, Everyone as "others", and Everyone may always read), so a private file or
/// one another user may change cannot be made there.
#[cfg(unix)]
fn share(path: &Path, how: Shared) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let mode = match how {
        Shared::Private => 0o600,
        Shared::Read => 0o644,
        Shared::Write => 0o660,
        Shared::Everybody => 0o666,
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    true
}

#[cfg(windows)]
fn share(path: &Path, how: Shared) -> bool {
    use brickauth_core::file::acl::Sid;
    use brickauth_core::file::security::{current_user, set_dacl};
    const FULL: u32 = 0x001F_01FF;
    const READ: u32 = 0x0012_0089;
    let (me, users, bob, everyone) =
        (current_user().unwrap(), Sid::new(5, &[32, 545]), Sid::new(5, &[21, 1, 2, 3, 1002]), Sid::new(1, &[0]));
    let entries: Vec<(u32, &Sid)> = match how {
        Shared::Private => vec![(FULL, &me)],
        Shared::Read => vec![(FULL, &me), (READ, &users)],
        Shared::Write => vec![(FULL, &me), (FULL, &bob)],
        Shared::Everybody => vec![(FULL, &me), (FULL, &everyone)],
    };
    set_dacl(path, &entries).unwrap()
}

#[test]
fn secret_file_readable_by_others_warns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pw");
    std::fs::write(&path, "x").unwrap();
    let _ = share(&path, Shared::Read); // Wine: Everyone reads instead of Users
    let p = password_profile(&format!("password_file = '{}'\n", path.display())).unwrap();
    let (secret, warnings) = capture(|| p.secret("password"));
    assert_eq!(secret.unwrap().unwrap().expose_secret(), "x");
    assert!(
        warnings.iter().any(|w| w.contains("readable by other users") && w.contains("can read it")),
        "{warnings:?}"
    );
    let fix = if cfg!(windows) { "icacls" } else { "chmod 600" };
    assert!(warnings.iter().any(|w| w.contains(fix)), "{warnings:?}");

    if share(&path, Shared::Private) {
        let (_, warnings) = capture(|| p.secret("password"));
        assert!(warnings.is_empty(), "{warnings:?}");
    } else {
        eprintln!("this Windows cannot make a file private (Wine); the rule is tested on ACLs in memory");
    }
}

/// A profile file everybody may change could make brickauth run any command: its `*_command`s
/// are refused, naming the file and the fix; one someone else may change is warned about.
#[test]
fn commands_from_a_profile_file_others_may_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profiles.toml");
    std::fs::write(
        &path,
        "[profiles.p]\nflow = \"test-password\"\nusername = \"ada\"\npassword_command = \"echo pw\"\n",
    )
    .unwrap();
    let p = ProfileFile::load(&path).unwrap().profile("p").unwrap();

    let _ = share(&path, Shared::Everybody); // Wine: Everyone gets what the "others" bits hold
    let (result, _) = capture(|| p.secret("password"));
    let e = result.unwrap_err().to_string();
    assert!(e.contains("refusing to run `password_command`") && e.contains("profiles.toml"), "{e}");
    assert!(e.contains("can change it") && e.contains(if cfg!(windows) { "icacls" } else { "chmod go-w" }), "{e}");

    if share(&path, Shared::Write) {
        let (secret, warnings) = capture(|| p.secret("password"));
        assert_eq!(secret.unwrap().unwrap().expose_secret(), "pw");
        assert!(
            warnings.iter().any(|w| w.contains("names a command to run") && w.contains("can change it")),
            "{warnings:?}"
        );
    } else {
        eprintln!("this Windows cannot let one other user change a file (Wine); tested on ACLs in memory");
    }

    // Readable by others is no reason to refuse or warn about a command (Wine: Everyone reads).
    let _ = share(&path, Shared::Read);
    let (secret, warnings) = capture(|| p.secret("password"));
    assert_eq!(secret.unwrap().unwrap().expose_secret(), "pw");
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn unreadable_secret_file_names_the_path() {
    let p = password_profile("password_file = '/nonexistent/brickauth/pw'\n").unwrap();
    let err = p.resolve_secret("password").unwrap_err().to_string();
    assert!(
        err.starts_with("profile `p`: cannot resolve secret `password`: cannot read /nonexistent/brickauth/pw"),
        "{err}"
    );
}

/// Issue 19 item 7: a secret file is a regular file of at most 64 KiB, never a device or FIFO.
#[cfg(unix)]
#[test]
fn secret_files_are_bounded_regular_files() {
    let p = password_profile("password_file = '/dev/zero'\n").unwrap();
    let err = p.resolve_secret("password").unwrap_err().to_string();
    assert!(
        err.contains("cannot read /dev/zero: it is a character device, not a regular file (named by `password_file`)"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big");
    std::fs::File::create(&path).unwrap().set_len(64 * 1024 + 1).unwrap();
    let p = password_profile(&format!("password_file = '{}'\n", path.display())).unwrap();
    let err = p.resolve_secret("password").unwrap_err().to_string();
    assert!(err.contains("larger than 64 KiB"), "{err}");
}

#[cfg(unix)]
#[test]
fn secret_from_command() {
    let p = password_profile("password_command = \"printf '  from-cmd\\\\n'\"\n").unwrap();
    assert_eq!(p.secret("password").unwrap().unwrap().expose_secret(), "from-cmd");
}

/// Issue 20: the command reaches the shell as written — on Windows cmd.exe, where double quotes
/// around a path with spaces and around an argument must survive (`Command::arg` broke them).
#[test]
fn secret_command_with_quotes_and_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("my scripts");
    std::fs::create_dir(&scripts).unwrap();
    let (script, body) = if cfg!(windows) {
        (scripts.join("pass word.cmd"), "@echo %~1-%~2\r\n")
    } else {
        (scripts.join("pass word.sh"), "printf '%s-%s\\n' \"$1\" \"$2\"\n")
    };
    std::fs::write(&script, body).unwrap();
    let runner = if cfg!(windows) { "" } else { "sh " };
    let command = format!(r#"{runner}"{}" "two words" "and three more""#, script.display());
    let p = password_profile(&format!("password_command = '{command}'\n")).unwrap();
    assert_eq!(p.secret("password").unwrap().unwrap().expose_secret(), "two words-and three more");
}

#[cfg(unix)]
#[test]
fn failing_command_names_the_command_and_status() {
    let p = password_profile("password_command = \"printf 'leaked-%s' stdout; exit 3\"\n").unwrap();
    let err = p.resolve_secret("password").unwrap_err();
    insta::assert_snapshot!("failing_command", err.to_string());
    assert!(!err.to_string().contains("leaked-stdout"));
}

#[cfg(unix)]
#[test]
fn command_printing_nothing_is_an_error() {
    let p = password_profile("password_command = \"true\"\n").unwrap();
    let err = p.resolve_secret("password").unwrap_err().to_string();
    assert!(err.ends_with("the output of command `true` (from `password_command`) is empty"), "{err}");
}

#[test]
fn secret_from_the_keychain_is_read_when_asked_and_never_shown() {
    use brickauth_keychain::{Memory, Passwords, StoreError};
    let store = Arc::new(Memory::new());
    let p = password_profile("password_keychain = \"brickauth-test/alice\"\n").unwrap().with_keychain(store.clone());
    // Loading and showing the profile read nothing from the store.
    assert_eq!(p.get("password_keychain"), None);
    assert_eq!(p.source_key("password").as_deref(), Some("password_keychain"));
    let shown: Vec<String> = p.entries().iter().map(|(k, v, _)| format!("{k}={v}")).collect();
    assert!(shown.contains(&"password_keychain=brickauth-test/alice".to_owned()), "{shown:?}");

    let err = p.resolve_secret("password").unwrap_err().to_string();
    assert_eq!(
        err,
        "profile `p`: cannot resolve secret `password`: the in-memory store has no entry for service \
         `brickauth-test`, account `alice` (named by `password_keychain`)"
    );

    store.set_password("brickauth-test", "alice", "label", &"s3cret-from-keychain".to_owned().into()).unwrap();
    assert_eq!(p.secret("password").unwrap().unwrap().expose_secret(), "s3cret-from-keychain");
    let clone = p.clone();
    assert_eq!(clone.secret("password").unwrap().unwrap().expose_secret(), "s3cret-from-keychain");
    assert!(!format!("{p:?}").contains("s3cret"));

    store.fail_with(Some(StoreError::Unavailable {
        store: "the Secret Service (D-Bus)",
        reason: "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)".into(),
    }));
    let err = p.secret("password").unwrap_err().to_string();
    assert!(
        err.contains("profile `p`")
            && err.contains("`password`")
            && err.contains("service `brickauth-test`, account `alice` (named by `password_keychain`)")
            && err.contains("the Secret Service (D-Bus) is not available: no D-Bus session bus")
            && !err.contains("s3cret"),
        "{err}"
    );
}

#[test]
fn a_keychain_source_must_name_service_and_account() {
    let err = password_profile("password_keychain = \"alice\"\n").unwrap_err().to_string();
    assert_eq!(
        err,
        "profiles.toml:4:1: profile `p`: key `password_keychain`: `alice` is not `service/account`: name the \
         keychain entry's service and account"
    );
    let err = password_profile("password_keychain = \"svc/a\"\npassword_env = \"PW\"\n").unwrap_err();
    assert!(matches!(err, ProfileError::AmbiguousSecret { .. }), "{err:?}");
}

#[test]
fn secret_storage_is_a_top_level_setting_every_profile_carries() {
    let text = "default_profile = \"p\"\nsecret_storage = \"Keychain\"\n\n[profiles.p]\nflow = \"test-password\"\n\
                username = \"u\"\npassword_env = \"PW\"\n";
    let file = parse(text).unwrap();
    assert_eq!(file.secret_storage(), Some(("keychain", &at(2, 1))));
    let p = file.profile("p").unwrap();
    assert_eq!(p.secret_storage(), Some(("keychain", &at(2, 1))));
    assert_eq!(p.clone().secret_storage().map(|(v, _)| v), Some("keychain"));
    assert_eq!(password_profile("password_env = \"PW\"\n").unwrap().secret_storage(), None);
    for word in crate::SECRET_STORAGE_VALUES {
        let file = parse(&format!("secret_storage = \"{word}\"\n")).unwrap();
        assert_eq!(file.secret_storage().map(|(v, _)| v), Some(word));
    }
}

#[test]
fn a_bad_secret_storage_is_an_error_at_its_line() {
    let err = parse("default_profile = \"p\"\nsecret_storage = \"vault\"\n").unwrap_err().to_string();
    assert_eq!(
        err,
        "profiles.toml:2:18: key `secret_storage`: expected \"auto\", \"keychain\", \"keyring\" or \"file\": where \
         refresh tokens are kept (docs/cache.md)"
    );
    let err = parse("secret_storage = true\n").unwrap_err().to_string();
    assert!(err.starts_with("profiles.toml:1:18: key `secret_storage`: expected"), "{err}");
    // Inside a profile it is not a profile key: the storage is one for the whole cache.
    let err = password_profile("password_env = \"PW\"\nsecret_storage = \"file\"\n").unwrap_err().to_string();
    assert!(err.contains("unknown key `secret_storage`"), "{err}");
}

#[test]
fn literal_secret_works_and_warns_once() {
    let p = password_profile("password = \"hunter2\"\n").unwrap();
    let (secret, warnings) = capture(|| {
        let first = p.secret("password");
        let _second = p.secret("password");
        first
    });
    assert_eq!(secret.unwrap().unwrap().expose_secret(), "hunter2");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("profiles.toml:4:1") && warnings[0].contains("`password`"), "{warnings:?}");
    assert!(!warnings[0].contains("hunter2"));
}

#[test]
fn absent_secret_is_none_and_nothing_is_resolved_while_loading() {
    // A command that would fail loudly if load/select/profile ran it.
    let text = "[profiles.p]\nflow = \"test-secret\"\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret_command = \"exit 99\"\n";
    let p = parse(text).unwrap().select(Some("p")).unwrap();
    assert_eq!(p.secret("password").unwrap().map(|_| ()), None);
    assert!(p.secret("client_secret").is_err());
}

#[test]
fn no_secret_in_any_error_or_debug_output() {
    const SECRET: &str = "hunter2-TOPSECRET";
    let text = format!(
        "[defaults]\nclient_secret = \"{SECRET}\"\n\n[profiles.p]\nflow = \"test-password\"\nusername = \"u\"\npassword = \"{SECRET}\"\n\n\
         [profiles.bad]\nflow = \"test-password\"\nusername = \"u\"\npassword = \"{SECRET}\"\npassword_env = \"X\"\n\n\
         [profiles.typo]\nflow = \"test-password\"\nusername = \"u\"\npasword = \"{SECRET}\"\n"
    );
    let file = parse(&text).unwrap();
    let p = file.profile("p").unwrap();
    let mut outputs = vec![format!("{p:?}"), format!("{p:#?}"), format!("{file:?}")];
    outputs.extend(p.entries().iter().map(|(k, v, o)| format!("{k}{v}{o}")));
    let errors = [
        file.profile("bad").unwrap_err(),
        file.profile("typo").unwrap_err(),
        parse(&format!("[profiles.p]\nflow = \"test-password\"\npassword = [\"{SECRET}\"]\n")).unwrap_err(),
        parse(&format!("[profiles.p]\npassword = \"{SECRET}\n")).unwrap_err(),
        password_profile("password_command = \"printf '%s-TOPSECRET' hunter2; exit 1\"\n")
            .unwrap()
            .resolve_secret("password")
            .unwrap_err(),
        password_profile("password_command = \"printf '%s-TOPSECRET' hunter2 >&2; exit 1\"\n")
            .unwrap()
            .resolve_secret("password")
            .unwrap_err(),
    ];
    for err in errors {
        outputs.push(format!("{err:?}"));
        outputs.push(err.to_string());
        outputs.push(ConfigError::from(err).to_string());
    }
    for out in &outputs {
        assert!(!out.contains(SECRET), "secret leaked in: {out}");
    }
}

// ---------------------------------------------------------------- environment-only mode

fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
}

#[test]
fn from_env_maps_variables_first_set_wins() {
    let env = vars(&[
        ("ARM_TENANT_ID", ""),
        ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
        ("ARM_CLIENT_ID", "arm-app"),
        ("AZURE_CLIENT_ID", "azure-app"),
        ("AZURE_CLIENT_SECRET", "not-stored"),
        ("DATABRICKS_HOST", "https://adb-1.azuredatabricks.net"),
        ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"),
        ("BRICKAUTH_USERNAME", "not-accepted-by-this-flow"),
    ]);
    let p = Profile::from_env("test-secret", &env).unwrap();
    assert_eq!(p.name(), "env");
    assert_eq!(p.path(), None);
    let shown: Vec<String> = p.entries().iter().map(|(k, v, o)| format!("{k} = {v}  ({o})")).collect();
    insta::assert_snapshot!("from_env_entries", shown.join("\n"));
}

#[test]
fn from_env_uses_databricks_variables_for_m2m() {
    let env = vars(&[
        ("ARM_TENANT_ID", "t"),
        ("ARM_CLIENT_ID", "entra-app"),
        ("DATABRICKS_CLIENT_ID", "dbx-sp"),
        ("DATABRICKS_CLIENT_SECRET", "x"),
    ]);
    let p = Profile::from_env("oauth-m2m", &env).unwrap();
    assert_eq!(p.flow().name, "test-m2m");
    assert_eq!(p.get("client_id"), Some("dbx-sp"));
    assert_eq!(p.origin("client_secret").as_deref(), Some("$DATABRICKS_CLIENT_SECRET"));
}

#[test]
fn from_env_says_which_variables_to_set() {
    let err = Profile::from_env("test-secret", &vars(&[("ARM_CLIENT_ID", "c")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "environment: missing required key `tenant_id`; set $ARM_TENANT_ID or $AZURE_TENANT_ID"
    );
    let err = Profile::from_env("nope", &vars(&[])).unwrap_err();
    assert!(err.to_string().starts_with("environment: unknown flow `nope`"), "{err}");
}

#[test]
fn from_env_secrets_resolve_lazily_from_the_environment() {
    let env = vars(&[("BRICKAUTH_USERNAME", "u"), ("BRICKAUTH_PASSWORD", "pw")]);
    let p = Profile::from_env("test-password", &env).unwrap();
    assert_eq!(
        p.entries().iter().find(|(k, _, _)| k == "password_env").map(|e| e.1.clone()),
        Some(DisplayValue::Plain("BRICKAUTH_PASSWORD".into()))
    );
}

/// Issue 19 item 1: the one `env` profile binds per flow, so that the account one flow signed in
/// is never served to another; a profile of a file binds under its name.
#[test]
fn the_environment_profile_binds_per_flow() {
    let env = vars(&[
        ("ARM_TENANT_ID", "t"),
        ("ARM_CLIENT_ID", "c"),
        ("BRICKAUTH_USERNAME", "u"),
        ("BRICKAUTH_PASSWORD", "p"),
        ("ARM_CLIENT_SECRET", "s"),
    ]);
    let password = Profile::from_env("test-password", &env).unwrap();
    let secret = Profile::from_env("test-secret", &env).unwrap();
    assert_eq!((password.profile_name(), secret.profile_name()), ("env", "env"));
    assert_eq!(password.binding_name(), "env:test-password");
    assert_eq!(secret.binding_name(), "env:test-secret");
    let file = parse("[profiles.env]\nflow = \"test-password\"\nusername = \"u\"\npassword_env = \"P\"\n").unwrap();
    assert_eq!(file.profile("env").unwrap().binding_name(), "env");
}

// ---------------------------------------------------------------- conversion

#[test]
fn the_error_stays_small_enough_to_return() {
    // clippy's `result_large_err` fires at 128 bytes, in every crate that returns the error.
    assert!(std::mem::size_of::<ProfileError>() < 128, "{}", std::mem::size_of::<ProfileError>());
}

#[test]
fn profile_errors_become_config_errors_without_repeating_themselves() {
    let text = "[profiles.dev]\nflow = \"test-password\"\ntenat_id = \"t\"\n";
    let err = ConfigError::from(parse(text).unwrap().profile("dev").unwrap_err());
    assert_eq!(err.profile.as_deref(), Some("dev"));
    assert_eq!(err.key.as_deref(), Some("tenat_id"));
    assert_eq!(
        err.to_string(),
        "profiles.toml:3:1: profile `dev`, key `tenat_id`: unknown key (did you mean `tenant_id`?)"
    );

    let err = ConfigError::from(parse("[defaults]\nzzz = 1\n").unwrap_err());
    assert_eq!(err.to_string(), "[defaults] at profiles.toml:2:1: key `zzz`: unknown key");

    let err = ConfigError::from(parse("x").unwrap_err());
    assert_eq!(err.profile, None);
    assert!(err.message.starts_with("profiles.toml:1:2: invalid TOML"), "{err}");
}

// ---------------------------------------------------------------- helpers

/// Run `f` with a subscriber that records every event's rendered fields.
fn capture<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let out = tracing::subscriber::with_default(Capture(events.clone()), f);
    let events = events.lock().map(|e| e.clone()).unwrap_or_default();
    (out, events)
}

struct Capture(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={value:?} ", field.name()));
            }
        }
        let mut text = Text(String::new());
        event.record(&mut text);
        if let Ok(mut events) = self.0.lock() {
            events.push(text.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

// ---------------------------------------------------------------- built-in defaults

#[test]
fn declared_defaults_show_as_built_in() {
    let text = "[profiles.i]\nflow = \"test-interactive\"\n";
    let p = parse(text).unwrap().profile("i").unwrap();
    let shown: Vec<String> = p.entries().iter().map(|(k, v, o)| format!("{k} = {v}  ({o})")).collect();
    assert_eq!(
        shown,
        [
            "client_id = 04b07795-8ddb-461a-bbee-02f9e1bf7b46  (built-in default)",
            "flow = test-interactive  (profiles.toml:2:1)",
            "tenant_id = organizations  (built-in default)",
        ]
    );
    // `get` is what the profile sets: the flow applies its defaults itself.
    assert_eq!(p.get("client_id"), None);
    let app = brickauth_core::flow::app_config(&p).unwrap();
    assert_eq!(app.client_id.as_str(), "04b07795-8ddb-461a-bbee-02f9e1bf7b46");
    // With a host, the tenant is the workspace's: no default is shown, and it is missing until found.
    let text = "[profiles.i]\nflow = \"test-interactive\"\nhost = \"https://adb-1.2.azuredatabricks.net\"\nclient_id = \"12a34b56-789c-0d12-e3fa-b456789c0123\"\n";
    let p = parse(text).unwrap().profile("i").unwrap();
    let keys: Vec<(String, Origin)> = p.entries().into_iter().map(|(k, _, o)| (k, o)).collect();
    assert_eq!(keys, [("client_id".into(), at(4, 1)), ("flow".into(), at(2, 1)), ("host".into(), at(3, 1))]);
    assert_eq!(brickauth_core::flow::app_config(&p).unwrap_err().key.as_deref(), Some("tenant_id"));
}

#[test]
fn an_implicit_profile_is_a_host_and_an_interactive_flow() {
    let origin = Origin::CommandLine("--host".into());
    let p =
        Profile::implicit("adb-1", "test-interactive", "https://adb-1.2.azuredatabricks.net", origin.clone()).unwrap();
    assert_eq!((p.name(), p.flow().name, p.path()), ("adb-1", "test-interactive", None));
    assert_eq!(p.get("host"), Some("https://adb-1.2.azuredatabricks.net"));
    assert_eq!(p.origin("host"), Some(origin.to_string()));
    assert_eq!((p.get("client_id"), p.get("tenant_id")), (None, None));
    // The tenant is missing (and says so by key, as for a file's profile) until the caller
    // fills in the workspace's; the client id stays the default.
    assert_eq!(brickauth_core::flow::app_config(&p).unwrap_err().key.as_deref(), Some("tenant_id"));
    let mut p = p;
    p.set("tenant_id", "72f988bf-86f1-41af-91ab-2d7cd011db47", Origin::Default);
    let app = brickauth_core::flow::app_config(&p).unwrap();
    assert_eq!(app.client_id.as_str(), "04b07795-8ddb-461a-bbee-02f9e1bf7b46");
    assert_eq!(app.authority.tenant().as_str(), "72f988bf-86f1-41af-91ab-2d7cd011db47");
    // Only interactive flows, and only registered ones.
    let err = Profile::implicit("x", "test-secret", "https://h", Origin::Default).unwrap_err();
    assert!(err.to_string().contains("not an interactive flow"), "{err}");
    assert!(matches!(
        Profile::implicit("x", "nope", "https://h", Origin::Default),
        Err(ProfileError::UnknownFlow { .. })
    ));
}

#[test]
fn account_and_workspace_ids_are_checked_when_the_profile_is_read() {
    let ok = password_profile(
        "password_env = \"P\"\naccount_id = \"0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6\"\n\
         workspace_id = \"1234567890123456\"\n",
    )
    .expect("valid ids");
    assert_eq!(ok.get("account_id"), Some("0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6"));
    assert_eq!(ok.get("workspace_id"), Some("1234567890123456"));
    let e = password_profile("password_env = \"P\"\naccount_id = \"acme\"\n").unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains("account_id") && shown.contains("`acme` is not a Databricks account id"), "{shown}");
    assert!(shown.contains("profiles.toml:5"), "names the line: {shown}");
    let e = password_profile("password_env = \"P\"\nworkspace_id = \"12 34\"\n").unwrap_err();
    assert!(e.to_string().contains("is not a workspace id"), "{e}");
}
