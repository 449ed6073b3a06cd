//! `brickauth profiles add` and `brickauth profiles init`: create a profile without editing TOML
//! by hand.
//!
//! Both edit the file with a format-preserving TOML editor (`toml_edit`), so the comments, the
//! order and the layout of what is there already stay as they were; both validate the whole
//! resulting file as `brickauth token` would read it (flow, keys, required keys, formats) *before*
//! writing, and write atomically (a temporary file renamed over the old one, mode 0600 for a new
//! file). Neither ever writes a literal secret: a secret key must be given as `K_env`, `K_file` or
//! `K_command`, which is also what `init` offers.
//!
//! `init` is the guided form for a terminal: it asks for the name and the flow, then only for
//! what the chosen flow needs — its required keys (`FlowSpec::keys`), which of its alternative
//! credentials to use (`KeySpec::one_of`: a client secret or a certificate) and that one, and
//! whatever validation still reports missing — and the workspace host.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use brickauth_core::FlowSpec;
use brickauth_core::settings::{COMMON_KEYS, KeySpec, SECRET_SUFFIXES};
use brickauth_profile::ProfileFile;
use clap::Args;

use crate::complete;
use crate::context::Context;
use crate::report::Reported;

/// `brickauth profiles add NAME --flow F [--set key=value]…`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The new profile's name
    pub name: String,
    /// Its grant flow (see `brickauth flows`)
    #[arg(long, value_name = "NAME", add = clap_complete::ArgValueCompleter::new(complete::flows))]
    pub flow: String,
    /// A key of the profile; repeat for more. Secrets only as KEY_env, KEY_file or KEY_command
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Also make it the file's default_profile
    #[arg(long)]
    pub default: bool,
}

/// `brickauth profiles init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The new profile's name [asked when not given]
    pub name: Option<String>,
}

/// What to add: validated names, values in the order given.
struct Draft {
    name: String,
    flow: &'static FlowSpec,
    values: Vec<(String, String)>,
    make_default: bool,
}

fn usage(message: String) -> anyhow::Error {
    Reported { code: crate::report::Exit::Usage, message }.into()
}

/// `brickauth profiles add`.
pub fn add(cx: &Context, args: &AddArgs) -> Result<ExitCode> {
    let flow = brickauth_core::flow::find(&args.flow)?;
    let mut values = Vec::new();
    for kv in &args.set {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(usage(format!("--set `{kv}`: expected KEY=VALUE")));
        };
        values.push((k.trim().to_owned(), v.to_owned()));
    }
    // The global `--host` names the new profile's workspace here: accepted and written, never
    // ignored.
    if let Some(h) = &cx.host {
        if values.iter().any(|(k, _)| k == "host") {
            return Err(usage("the host is given twice: with --host and with --set host=…".to_owned()));
        }
        values.push(("host".to_owned(), h.clone()));
    }
    let draft = Draft { name: args.name.clone(), flow, values, make_default: args.default };
    let path = config_path(cx)?;
    let written = write(&path, &draft)?;
    eprintln!("{}", written.summary(&draft));
    Ok(ExitCode::SUCCESS)
}

/// `brickauth profiles init`: ask, then add.
pub fn init(cx: &Context, args: &InitArgs) -> Result<ExitCode> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(usage(
            "profiles init asks questions and needs a terminal; without one use \
             `brickauth profiles add NAME --flow FLOW --set KEY=VALUE …`"
                .to_owned(),
        ));
    }
    let stdin = std::io::stdin();
    let mut answers = stdin.lock();
    let draft = interview(cx, args, &mut answers)?;
    let path = config_path(cx)?;
    let written = write(&path, &draft)?;
    eprintln!("{}", written.summary(&draft));
    Ok(ExitCode::SUCCESS)
}

/// Add profile `name` with what a command learned (`app create`), as `profiles add` would: the
/// same checks, the same atomic write. `Ok(None)` when a profile of that name exists already:
/// it is left as it is. Otherwise the summary to show.
pub(crate) fn add_learned(
    cx: &Context,
    name: &str,
    flow: &str,
    values: Vec<(String, String)>,
) -> Result<Option<String>> {
    let flow = brickauth_core::flow::find(flow)?;
    let path = config_path(cx)?;
    if let Ok(file) = ProfileFile::load(&path)
        && file.names().contains(&name)
    {
        return Ok(None);
    }
    let draft = Draft { name: name.to_owned(), flow, values, make_default: false };
    let written = write(&path, &draft)?;
    Ok(Some(written.summary(&draft)))
}

fn config_path(cx: &Context) -> Result<PathBuf> {
    Ok(brickauth_profile::config_path(cx.config.as_deref())?.0)
}

/// One question on stderr, one line of answer; `None` at end of input.
fn ask(input: &mut dyn BufRead, question: &str) -> Result<Option<String>> {
    eprint!("{question}: ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim().to_owned()))
}

fn ask_required(input: &mut dyn BufRead, question: &str) -> Result<String> {
    for _ in 0..3 {
        match ask(input, question)? {
            None => break,
            Some(a) if !a.is_empty() => return Ok(a),
            Some(_) => eprintln!("  (an answer is needed)"),
        }
    }
    Err(usage("profiles init: no answer; nothing was written".to_owned()))
}

/// The questions of `init`, the answers read from `input`.
fn interview(cx: &Context, args: &InitArgs, input: &mut dyn BufRead) -> Result<Draft> {
    let existing = cx.file().ok();
    let taken = |n: &str| existing.as_ref().is_some_and(|f| f.names().contains(&n));
    let name = match &args.name {
        Some(n) => n.clone(),
        None => {
            // A suggestion only when there is one to make (no `[]`); Enter takes it, else asks again.
            let suggested = (!taken("default")).then_some("default");
            let question = match suggested {
                Some(s) => format!("Profile name [{s}]"),
                None => "Profile name".to_owned(),
            };
            let mut chosen = None;
            for _ in 0..3 {
                let Some(a) = ask(input, &question)? else { break };
                let a = if a.is_empty() { suggested.unwrap_or_default().to_owned() } else { a };
                match name_problem(&a) {
                    _ if a.is_empty() => eprintln!("  (an answer is needed)"),
                    Some(p) => eprintln!("  {p}"),
                    None if taken(&a) => eprintln!("  profile `{a}` exists already: choose another name"),
                    None => {
                        chosen = Some(a);
                        break;
                    }
                }
            }
            chosen.ok_or_else(|| usage("profiles init: a profile needs a name; nothing was written".to_owned()))?
        }
    };
    if let Some(p) = name_problem(&name) {
        return Err(usage(p));
    }
    let flows = brickauth_core::flow::flows();
    eprintln!("Grant flows:");
    for (i, f) in flows.iter().enumerate() {
        eprintln!("  {:>2}. {:<20} {}", i + 1, f.name, f.summary);
    }
    let answer = ask_required(input, "Flow (number or name)")?;
    let flow = match answer.parse::<usize>() {
        Ok(n) if (1..=flows.len()).contains(&n) => flows[n - 1],
        _ => brickauth_core::flow::find(&answer)?,
    };
    let mut draft = Draft { name, flow, values: Vec::new(), make_default: false };
    if let Some(h) = ask(input, "Workspace URL (host), e.g. https://adb-123.4.azuredatabricks.net [none]")?
        && !h.is_empty()
    {
        draft.values.push(("host".to_owned(), h));
    }
    for key in flow.keys.iter().filter(|k| k.required) {
        ask_key(input, key, &mut draft)?;
    }
    // Alternatives the flow declares (a client secret or a certificate): which one, then it.
    let mut groups: Vec<&str> = flow.keys.iter().filter_map(|k| k.one_of).collect();
    groups.dedup();
    for group in groups {
        let members: Vec<&KeySpec> = flow.keys.iter().filter(|k| k.one_of == Some(group)).collect();
        eprintln!("Flow `{}` needs a {group}, one of:", flow.name);
        for (i, k) in members.iter().enumerate() {
            eprintln!("  {:>2}. {} ({})", i + 1, k.name, k.help);
        }
        let question = format!("Which {group} [1-{}]", members.len());
        let pick = (0..3).find_map(|_| match ask_required(input, &question) {
            Ok(a) => match a.parse::<usize>() {
                Ok(n) if (1..=members.len()).contains(&n) => Some(Ok(members[n - 1])),
                _ => {
                    eprintln!("  `{a}`: answer a number from the list");
                    None
                }
            },
            Err(e) => Some(Err(e)),
        });
        match pick {
            Some(Ok(key)) => ask_key(input, key, &mut draft)?,
            Some(Err(e)) => return Err(e),
            None => return Err(usage(format!("profiles init: no {group} chosen; nothing was written"))),
        }
    }
    // Whatever validation still finds missing (tenant_id and client_id for Entra flows, say).
    let text = std::fs::read_to_string(config_path(cx)?).unwrap_or_default();
    // A bad answer is asked again, with the reason; the other answers are kept.
    for _ in 0..8 {
        let candidate = edit(&text, &draft)?;
        let Err(e) = check(Path::new("profiles.toml"), &candidate, &draft.name) else { break };
        let key = match missing_key(&e) {
            Some(key) if !draft.values.iter().any(|(k, _)| *k == key) => key,
            _ => {
                let shown = e.to_string();
                let Some(bad) = draft.values.iter().map(|(k, _)| k.clone()).find(|k| shown.contains(&format!("`{k}`")))
                else {
                    break;
                };
                eprintln!("  {}", shown.lines().next().unwrap_or_default());
                draft.values.retain(|(k, _)| *k != bad);
                // A secret's source key (`password_env`) is asked as its secret.
                SECRET_SUFFIXES.iter().find_map(|s| bad.strip_suffix(s)).map(str::to_owned).unwrap_or(bad)
            }
        };
        let spec = flow.keys.iter().chain(COMMON_KEYS).find(|k| k.name == key).copied();
        let spec = spec.unwrap_or(KeySpec::required("", ""));
        ask_key(input, &KeySpec { name: leak(key), ..spec }, &mut draft)?;
    }
    if existing.as_ref().is_none_or(|f| f.default_profile().is_none()) {
        let a = ask(input, &format!("Make `{}` the default profile? [Y/n]", draft.name))?.unwrap_or_default();
        draft.make_default = !a.to_ascii_lowercase().starts_with('n');
    }
    Ok(draft)
}

/// Keys are `&'static str` in `KeySpec`; the few asked for by name live as long as the process.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Ask for one key; a secret gets a choice of source, never its value.
fn ask_key(input: &mut dyn BufRead, key: &KeySpec, draft: &mut Draft) -> Result<()> {
    if key.secret {
        eprintln!("`{}` is a secret ({}); brickauth never stores it in the file. Read it from:", key.name, key.help);
        eprintln!("   1. an environment variable   2. a file   3. a command's output");
        let (suffix, what) = loop {
            match ask_required(input, "Source [1/2/3]")?.as_str() {
                "1" | "env" => break ("_env", "Variable name"),
                "2" | "file" => break ("_file", "Path of the file"),
                "3" | "command" => break ("_command", "Command"),
                other => eprintln!("  `{other}`: answer 1, 2 or 3"),
            }
        };
        let value = ask_required(input, what)?;
        draft.values.push((format!("{}{suffix}", key.name), value));
    } else {
        let help = if key.help.is_empty() { String::new() } else { format!(" ({})", key.help) };
        let value = ask_required(input, &format!("{}{help}", key.name))?;
        draft.values.push((key.name.to_owned(), value));
    }
    Ok(())
}

/// Why `name` cannot be a new profile's name: it must be one plain word — a letter or digit, then
/// letters, digits, `-`, `_` or `@` — so that `-p NAME`, a `~/.databrickscfg` section and a shell
/// line all take it as it is.
fn name_problem(name: &str) -> Option<String> {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_@".contains(c));
    (!plain).then(|| {
        format!(
            "{} is not a usable profile name: use one word of letters, digits, `-`, `_` and `@`",
            crate::report::shell_word(name)
        )
    })
}

/// The key a "missing required key" error names.
fn missing_key(e: &anyhow::Error) -> Option<String> {
    let text = e.to_string();
    let rest = text.split("missing required key `").nth(1)?;
    Some(rest.split('`').next()?.to_owned())
}

/// What [`write()`] did.
struct Written {
    path: PathBuf,
    created: bool,
}

impl Written {
    fn summary(&self, d: &Draft) -> String {
        let verb = if self.created { "Created" } else { "Updated" };
        let mut s = format!(
            "{verb} {}: added profile `{}` (flow {}){}.",
            self.path.display(),
            d.name,
            d.flow.name,
            if d.make_default { ", now the default" } else { "" }
        );
        let next = if d.flow.interactive { "login" } else { "token" };
        s.push_str(&format!("\nNext: brickauth {next} -p {}", crate::report::shell_word(&d.name)));
        s
    }
}

/// Check the draft, apply it to the file at `path` (created if missing), validate the result,
/// write it atomically.
fn write(path: &Path, draft: &Draft) -> Result<Written> {
    check_values(draft)?;
    let (text, created) = match std::fs::read_to_string(path) {
        Ok(t) => (t, false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), true),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let new = edit(&text, draft)?;
    check(path, &new, &draft.name).map_err(|e| usage(format!("{e}\nnothing was written to {}", path.display())))?;
    save(path, &new, created)?;
    Ok(Written { path: path.to_owned(), created })
}

/// Keys the flow accepts, and no literal secret.
fn check_values(draft: &Draft) -> Result<()> {
    if let Some(p) = name_problem(&draft.name) {
        return Err(usage(p));
    }
    for (key, _) in &draft.values {
        if key == "flow" {
            return Err(usage("--set flow=…: the flow is given with --flow".to_owned()));
        }
        if let Some(secret) = draft.flow.keys.iter().chain(COMMON_KEYS).find(|k| k.secret && k.name == key) {
            let n = secret.name;
            return Err(usage(format!(
                "`{n}` is a secret and is never written to the profile file: use \
                 --set {n}_env=VARIABLE, --set {n}_file=PATH or --set {n}_command='COMMAND'"
            )));
        }
        if !draft.flow.accepts(key) {
            let names = draft.flow.key_names();
            let hint = brickauth_core::nearest(key, names.iter().map(String::as_str))
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(usage(format!(
                "flow `{}` does not read `{key}`{hint}; its keys are listed by `brickauth flows`",
                draft.flow.name
            )));
        }
        if SECRET_SUFFIXES.iter().any(|s| key.ends_with(s)) && draft.values.iter().filter(|(k, _)| k == key).count() > 1
        {
            return Err(usage(format!("`{key}` is given twice")));
        }
    }
    Ok(())
}

/// The file's text with the draft applied; everything else kept as it was written.
fn edit(text: &str, draft: &Draft) -> Result<String> {
    use toml_edit::{DocumentMut, Item, Table, value};
    let mut doc: DocumentMut = text.parse().map_err(|e| usage(format!("the profile file is not valid TOML: {e}")))?;
    if draft.make_default {
        // At the top, where a reader looks for it.
        doc.insert("default_profile", value(&draft.name));
    }
    let profiles = doc.entry("profiles").or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    let Some(profiles) = profiles.as_table_mut() else {
        return Err(usage("the profile file's `profiles` is not a table".to_owned()));
    };
    if profiles.contains_key(&draft.name) {
        return Err(usage(format!(
            "profile `{}` exists already: edit it in the file, or choose another name",
            draft.name
        )));
    }
    let mut t = Table::new();
    t.insert("flow", value(draft.flow.name));
    for (k, v) in &draft.values {
        t.insert(k, value(v.as_str()));
    }
    profiles.insert(&draft.name, Item::Table(t));
    let mut out = doc.to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// Validate `text` as the profile file: shape, the new profile against its flow, the app
/// registration settings, and the formats `profiles validate` checks.
fn check(path: &Path, text: &str, name: &str) -> Result<()> {
    let file = ProfileFile::parse(path, text)?;
    let profile = file.profile(name)?;
    super::profiles::check_identity(&profile)?;
    let problems = super::profiles::format_problems(&profile);
    if let Some(first) = problems.into_iter().next() {
        return Err(usage(first));
    }
    Ok(())
}

/// Write `text` to `path` atomically: a temporary file next to it, then a rename. A new file (and
/// its directory) is private to the user.
fn save(path: &Path, text: &str, created: bool) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if created {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Keep an existing file's mode; a new one is 0600.
            let mode = if created {
                0o600
            } else {
                use std::os::unix::fs::PermissionsExt;
                std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0o600)
            };
            o.mode(mode);
        }
        let mut f = o.open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(flow: &str, values: &[(&str, &str)], make_default: bool) -> Draft {
        brickauth_flows::link();
        Draft {
            name: "ci".to_owned(),
            flow: brickauth_core::flow::find(flow).expect("flow"),
            values: values.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            make_default,
        }
    }

    const EXISTING: &str = r#"# My profiles — hand-written, keep this comment.
[defaults]
tenant_id = "a1bc2d34-5e67-8f89-01ab-c2345d6c78de"   # the Contoso tenant
client_id = "12a34b56-789c-0d12-e3fa-b456789c0123"

[profiles.dev]
# interactive, for me
flow = "authorization-code"
"#;

    #[test]
    fn add_keeps_comments_and_layout() {
        let d = draft("password", &[("username", "svc-etl@contoso.com"), ("password_env", "BRICKAUTH_PASSWORD")], true);
        let out = edit(EXISTING, &d).expect("edit");
        check(Path::new("profiles.toml"), &out, "ci").expect("valid");
        insta::assert_snapshot!(out);
    }

    #[test]
    fn add_to_an_empty_file() {
        let d = draft(
            "client-credentials",
            &[
                ("tenant_id", "a1bc2d34-5e67-8f89-01ab-c2345d6c78de"),
                ("client_id", "12a34b56-789c-0d12-e3fa-b456789c0123"),
                ("client_secret_env", "ARM_CLIENT_SECRET"),
            ],
            false,
        );
        insta::assert_snapshot!(edit("", &d).expect("edit"));
    }

    #[test]
    fn literal_secrets_are_refused() {
        let d = draft("password", &[("username", "u@contoso.com"), ("password", "hunter2")], false);
        let e = check_values(&d).expect_err("literal secret").to_string();
        assert!(!e.contains("hunter2"), "{e}");
        insta::assert_snapshot!(e);
    }

    #[test]
    fn unknown_keys_get_a_suggestion() {
        let d = draft("password", &[("usernme", "u@contoso.com")], false);
        insta::assert_snapshot!(check_values(&d).expect_err("unknown key").to_string());
    }

    #[test]
    fn an_existing_profile_is_not_overwritten() {
        let mut d = draft("password", &[], false);
        d.name = "dev".to_owned();
        let e = edit(EXISTING, &d).expect_err("exists").to_string();
        assert!(e.contains("exists already"), "{e}");
    }

    #[test]
    fn missing_required_keys_fail_validation() {
        let d = draft("password", &[("password_env", "PW")], false);
        let out = edit(EXISTING, &d).expect("edit");
        let e = check(Path::new("profiles.toml"), &out, "ci").expect_err("no username");
        assert_eq!(missing_key(&e).as_deref(), Some("username"), "{e}");
    }

    #[test]
    fn names_are_one_plain_word() {
        for bad in ["bad name", "", "-x", "a.b", "x\ny", "[s]", "é"] {
            let mut d = draft("password", &[("username", "u@contoso.com"), ("password_env", "PW")], false);
            d.name = bad.to_owned();
            let e = check_values(&d).expect_err(bad).to_string();
            assert!(e.contains("not a usable profile name"), "{bad:?}: {e}");
        }
        assert_eq!(name_problem("svc-etl_2@prod"), None);
        assert!(name_problem("bad name").is_some_and(|p| p.starts_with("'bad name'")));
    }

    #[test]
    fn init_asks_again_and_keeps_the_other_answers() {
        brickauth_flows::link();
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("profiles.toml");
        std::fs::write(&path, EXISTING).expect("existing file");
        let cx = Context::new(Some(path), None, None, None);
        // Enter at the name (no suggestion: asked again), a bad tenant id (asked again), the rest kept.
        let answers = "\nci\npassword\n\nsvc@contoso.com\n1\nCI_PASSWORD\nnot-a-tenant!\n\
                       a1bc2d34-5e67-8f89-01ab-c2345d6c78de\nn\n";
        let mut input = std::io::Cursor::new(answers.as_bytes());
        let mut existing =
            EXISTING.replace("tenant_id = \"a1bc2d34-5e67-8f89-01ab-c2345d6c78de\"   # the Contoso tenant\n", "");
        existing.push_str("\n[profiles.default]\nflow = \"authorization-code\"\n");
        std::fs::write(cx.config.as_deref().expect("path"), &existing).expect("existing file");
        let d = interview(&cx, &InitArgs { name: None }, &mut input).expect("interview");
        assert_eq!(d.name, "ci");
        let tenant = d.values.iter().find(|(k, _)| k == "tenant_id").map(|(_, v)| v.as_str());
        assert_eq!(tenant, Some("a1bc2d34-5e67-8f89-01ab-c2345d6c78de"));
        assert!(d.values.iter().any(|(k, v)| k == "username" && v == "svc@contoso.com"), "{:?}", d.values);
    }

    #[test]
    fn init_asks_what_the_flow_needs() {
        brickauth_flows::link();
        let dir = tempfile::tempdir().expect("dir");
        let cx = Context::new(Some(dir.path().join("profiles.toml")), None, None, None);
        // With a host, the tenant is the workspace's: init does not ask for it.
        let answers = "ci\npassword\nhttps://adb-1.2.azuredatabricks.net\nsvc@contoso.com\n1\nCI_PASSWORD\n\
                       12a34b56-789c-0d12-e3fa-b456789c0123\ny\n";
        let mut input = std::io::Cursor::new(answers.as_bytes());
        let d = interview(&cx, &InitArgs { name: None }, &mut input).expect("interview");
        let keys: Vec<&str> = d.values.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["host", "username", "password_env", "client_id"]);
        assert!(d.make_default);
        let w = write(cx.config.as_deref().expect("path"), &d).expect("write");
        assert!(w.created);
    }

    #[test]
    fn init_asks_which_credential_a_flow_needs() {
        brickauth_flows::link();
        let dir = tempfile::tempdir().expect("dir");
        let cx = Context::new(Some(dir.path().join("profiles.toml")), None, None, None);
        // A certificate: the second choice, after a wrong answer.
        // init checks that the certificate file can be read and holds a key: the fixture's.
        let cert = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/certs/sp-combined.pem");
        let answers = format!(
            "sp\nclient-credentials\n\n7\n2\n{}\na1bc2d34-5e67-8f89-01ab-c2345d6c78de\n\
             12a34b56-789c-0d12-e3fa-b456789c0123\nn\n",
            cert.display()
        );
        let mut input = std::io::Cursor::new(answers.as_bytes());
        let d = interview(&cx, &InitArgs { name: None }, &mut input).expect("interview");
        let keys: Vec<&str> = d.values.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["client_certificate", "tenant_id", "client_id"]);
        // No answer: nothing is drafted.
        let mut input = std::io::Cursor::new("sp\nclient-credentials\n\n".as_bytes());
        let e = interview(&cx, &InitArgs { name: None }, &mut input).err().expect("refused");
        assert!(e.to_string().contains("no answer"), "{e}");
        // Added without any: refused before anything is written.
        let d = draft("client-credentials", &[("tenant_id", "a1bc2d34-5e67-8f89-01ab-c2345d6c78de")], false);
        let e = write(cx.config.as_deref().expect("path"), &d).err().expect("no credential");
        assert!(e.to_string().contains("needs a credential"), "{e}");
        assert!(!dir.path().join("profiles.toml").exists());
    }
}
