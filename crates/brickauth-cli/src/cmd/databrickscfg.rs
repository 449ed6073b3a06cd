//! `profiles import --databrickscfg [PATH]` and `profiles export --databrickscfg`: moving between
//! the Databricks config file and brickauth's TOML profiles.
//!
//! - **import** writes one `[profiles.NAME]` table per section brickauth can serve, through
//!   `toml_edit`, so an existing file keeps its comments and layout. It never writes a secret:
//!   a secret becomes `KEY_env = "BRICKAUTH_<SECTION>_<KEY>"`, and stderr says which value to put
//!   in that variable (or to change the line to `KEY_command`). With `--secrets keychain` the
//!   secret is moved into the user's keychain instead (service `brickauth`, account the profile's
//!   name) and the profile reads it from there (`KEY_keychain = "brickauth/NAME"`): the keychain
//!   is asked first whether it is reachable and holds no such entry yet, the entries are stored
//!   only once the new file validates, and if storing one or writing the file fails, the entries
//!   stored are deleted again — nothing is left half-written. Profiles that exist already and
//!   sections brickauth cannot serve are left alone, with a line saying so. What was written is
//!   validated before the command succeeds.
//! - **export** prints, for each TOML profile with a `host`, a section that points the
//!   Databricks CLI, the SDKs and Terraform at brickauth as their token helper
//!   (`auth_type = databricks-cli`, `databricks_cli_path` = this executable): they then run
//!   `brickauth auth token --profile NAME` whenever they need a token. A profile's `account_id`
//!   and `workspace_id` are written too (account and unified hosts: an SDK that calls its helper
//!   by host passes `--host H --account-id A`).
//!
//! Both files are generated safely by construction: TOML values and keys go through `toml_edit`
//! (which quotes and escapes them), and the one piece of raw text, the comment naming where a
//! profile came from, is refused when the path or section name holds a control character (a
//! newline would end the comment and start a line of TOML). INI has no escaping at all, so a
//! section name with a control character, `[` or `]`, and a value with a control character are
//! refused, naming the profile and the key; so is a profile file path with a control character
//! (export names it in a comment). Refused means nothing is written or printed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use brickauth_cache::keychain::{Passwords, SecretString};
use brickauth_core::Settings;
use brickauth_profile::{DatabricksCfg, ProfileFile};
use clap::Args;

use crate::context::Context;
use crate::output::print;
use crate::report::Reported;

/// `brickauth profiles import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Read this Databricks config file [default: $DATABRICKS_CONFIG_FILE, else ~/.databrickscfg]
    #[arg(long, value_name = "PATH", required = true)]
    pub databrickscfg: Option<Option<PathBuf>>,
    /// Only these sections [default: every section brickauth can serve]
    #[arg(long = "section", value_name = "NAME")]
    pub sections: Vec<String>,
    /// Print the TOML that would be written instead of writing it
    #[arg(long)]
    pub dry_run: bool,
    /// Where a secret of the Databricks config file goes: a variable the profile names
    /// (`KEY_env`), or the keychain (`KEY_keychain`, the value moved there)
    #[arg(long, value_enum, value_name = "WHERE", default_value_t = SecretsTo::Env)]
    pub secrets: SecretsTo,
}

/// Where `profiles import` puts a section's secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SecretsTo {
    /// `KEY_env = "BRICKAUTH_<SECTION>_<KEY>"`: the value is left for you to put in that variable
    Env,
    /// Stored in the OS keychain under service `brickauth`; the profile gets `KEY_keychain`
    Keychain,
}

/// The keychain service `profiles import --secrets keychain` files secrets under.
const KEYCHAIN_SERVICE: &str = "brickauth";

/// `brickauth profiles export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Print Databricks config sections (the only format for now)
    #[arg(long, required = true)]
    pub databrickscfg: bool,
}

fn usage(message: String) -> anyhow::Error {
    Reported { code: crate::report::Exit::Usage, message }.into()
}

fn failure(message: String) -> anyhow::Error {
    Reported { code: crate::report::Exit::Failure, message }.into()
}

/// `BRICKAUTH_DEV_CLIENT_SECRET` for section `dev`, key `client_secret`.
fn variable(section: &str, key: &str) -> String {
    let clean: String =
        format!("BRICKAUTH_{section}_{key}").chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    clean.to_ascii_uppercase()
}

/// `brickauth profiles import --databrickscfg [PATH]`.
pub fn import(cx: &Context, args: &ImportArgs) -> Result<ExitCode> {
    let cfg_path = match args.databrickscfg.clone().flatten() {
        Some(p) => p,
        None => brickauth_profile::databrickscfg_path()
            .ok_or_else(|| usage("no home directory: pass --databrickscfg PATH".into()))?,
    };
    let Some(cfg) = DatabricksCfg::load(&cfg_path)? else {
        return Err(usage(format!("{}: no Databricks config file here", cfg_path.display())));
    };
    let (toml_path, _) = brickauth_profile::config_path(cx.config.as_deref())?;
    let text = match std::fs::read_to_string(&toml_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", toml_path.display())),
    };
    let mut doc: toml_edit::DocumentMut =
        text.parse().map_err(|e| usage(format!("{}: invalid TOML: {e}", toml_path.display())))?;
    if !doc.contains_key("profiles") {
        let mut t = toml_edit::Table::new();
        t.set_implicit(true);
        doc.insert("profiles", toml_edit::Item::Table(t));
    }
    let Some(profiles) = doc.get_mut("profiles").and_then(|p| p.as_table_mut()) else {
        return Err(usage(format!("{}: `profiles` is not a table", toml_path.display())));
    };

    let shown_cfg = cfg.path().display().to_string();
    comment_text("the Databricks config file's path", &shown_cfg, "the profile file")?;
    let names: Vec<String> = if args.sections.is_empty() {
        cfg.names().into_iter().map(str::to_owned).collect()
    } else {
        args.sections.clone()
    };
    let mut imported = Vec::new();
    let mut notes = Vec::new();
    let mut moves: Vec<Move> = Vec::new();
    for name in &names {
        if profiles.contains_key(name) {
            notes.push(format!("kept     [{name}]: the profile file already has profiles.{name}"));
            continue;
        }
        let mapped = match cfg.mapped(name) {
            Ok(m) => m,
            Err(e) => {
                notes.push(format!("skipped  [{name}]: {e}"));
                continue;
            }
        };
        comment_text(&format!("the section name [{}]", name.escape_debug()), name, "the profile file")?;
        let mut table = toml_edit::Table::new();
        table.decor_mut().set_prefix(format!("\n# imported from {shown_cfg} [{name}]\n"));
        table.insert("flow", toml_edit::value(mapped.flow.name));
        let secrets = mapped.keys.iter().filter(|k| k.secret).count();
        for k in &mapped.keys {
            if k.secret && args.secrets == SecretsTo::Keychain {
                // One entry per profile; a section with two secrets names each by its key too.
                let account = if secrets == 1 { name.clone() } else { format!("{name}/{}", k.key) };
                let entry = format!("{KEYCHAIN_SERVICE}/{account}");
                table.insert(&format!("{}_keychain", k.key), toml_edit::value(entry.as_str()));
                notes.push(format!(
                    "secret   [{name}] {} ({shown_cfg}:{}): kept in the keychain as {entry}; delete it from \
                     {shown_cfg}",
                    k.from, k.line
                ));
                moves.push(Move {
                    account,
                    label: format!("brickauth profile {name}: {}", k.key),
                    secret: SecretString::from(k.value.clone()),
                });
            } else if k.secret {
                let var = variable(name, &k.key);
                table.insert(&format!("{}_env", k.key), toml_edit::value(var.as_str()));
                notes.push(format!(
                    "secret   [{name}] {} ({shown_cfg}:{}): put its value in ${var}, or change `{}_env` to \
                     `{}_command` (a command that prints it); then delete it from {shown_cfg}",
                    k.from, k.line, k.key, k.key
                ));
            } else {
                table.insert(&k.key, toml_edit::value(k.value.as_str()));
            }
        }
        profiles.insert(name, toml_edit::Item::Table(table));
        imported.push(name.clone());
    }

    let out = doc.to_string();
    if args.dry_run {
        for n in &notes {
            eprintln!("{n}");
        }
        return print(&out);
    }
    if !imported.is_empty() {
        // Validate before writing: a file that does not load is never left behind.
        let file = ProfileFile::parse(&toml_path, &out)?;
        for name in &imported {
            file.profile(name).with_context(|| format!("the imported profile `{name}` does not validate"))?;
        }
        let keychain = brickauth_cache::keychain::passwords();
        let stored = store_in_keychain(keychain.as_ref(), &moves)?;
        if let Err(e) = write(&toml_path, &out) {
            unstore(keychain.as_ref(), &stored);
            return Err(e.context("the secrets stored in the keychain for it were deleted again"));
        }
    }
    for n in &notes {
        eprintln!("{n}");
    }
    eprintln!(
        "Imported {} profile{} into {}{}",
        imported.len(),
        if imported.len() == 1 { "" } else { "s" },
        toml_path.display(),
        if imported.is_empty() { String::new() } else { format!(": {}", imported.join(", ")) }
    );
    Ok(ExitCode::SUCCESS)
}

/// A literal secret of the Databricks config file on its way into the keychain.
struct Move {
    account: String,
    label: String,
    secret: SecretString,
}

/// Store every secret of `moves` in `keychain`, or none: the keychain is asked first whether it
/// answers and holds none of the entries yet (an entry is never overwritten), and when storing
/// one fails, those stored before it are deleted. Returns the accounts stored.
fn store_in_keychain(keychain: &dyn Passwords, moves: &[Move]) -> Result<Vec<String>> {
    let where_ = |account: &str| format!("service `{KEYCHAIN_SERVICE}`, account `{account}`");
    for m in moves {
        match keychain.password(KEYCHAIN_SERVICE, &m.account) {
            Ok(None) => {}
            Ok(Some(_)) => {
                return Err(usage(format!(
                    "{} already holds an entry for {}: remove it first, or import without --secrets keychain; \
                     nothing was written",
                    keychain.store(),
                    where_(&m.account)
                )));
            }
            Err(e) => {
                return Err(failure(format!(
                    "--secrets keychain: cannot use the keychain ({e}); import without it (the secrets then go to \
                     variables); nothing was written"
                )));
            }
        }
    }
    let mut stored = Vec::new();
    for m in moves {
        if let Err(e) = keychain.set_password(KEYCHAIN_SERVICE, &m.account, &m.label, &m.secret) {
            unstore(keychain, &stored);
            return Err(failure(format!(
                "--secrets keychain: cannot store {} ({e}); nothing was written",
                where_(&m.account)
            )));
        }
        stored.push(m.account.clone());
    }
    Ok(stored)
}

/// Delete the entries this import stored (best effort: a failure is said, not hidden).
fn unstore(keychain: &dyn Passwords, accounts: &[String]) {
    for account in accounts {
        if let Err(e) = keychain.delete_password(KEYCHAIN_SERVICE, account) {
            eprintln!(
                "warning: could not delete service `{KEYCHAIN_SERVICE}`, account `{account}` from the keychain \
                 again ({e}): delete it by hand"
            );
        }
    }
}

/// Write the profile file atomically (a temporary file in the same directory, then a rename),
/// owner-only on Unix.
fn write(path: &std::path::Path, text: &str) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = dir.join(format!(".{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("profiles.toml")));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    {
        use std::io::Write;
        let mut f = options.open(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(text.as_bytes()).and_then(|()| f.sync_all())?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// `brickauth profiles export --databrickscfg`.
pub fn export(cx: &Context, _args: &ExportArgs) -> Result<ExitCode> {
    let file = cx.file()?;
    let exe = std::env::current_exe().context("cannot find this executable's path for databricks_cli_path")?;
    let shown = file.path().display().to_string();
    comment_text("the profile file's path", &shown, "~/.databrickscfg")?;
    let mut out = format!(
        "; Sections for ~/.databrickscfg: the Databricks CLI, SDKs and Terraform get their tokens from\n\
         ; `brickauth auth token --profile NAME` (profiles of {shown}).\n"
    );
    let names: Vec<&str> = match cx.profile.as_deref() {
        Some(p) => vec![p],
        None => file.names(),
    };
    let Some(exe) = exe.to_str() else {
        return Err(usage(format!(
            "this executable's path {} is not UTF-8, which ~/.databrickscfg cannot hold as databricks_cli_path; \
             nothing was printed",
            exe.display()
        )));
    };
    for name in names {
        let profile = file.profile(name)?;
        let Some(host) = profile.get("host").map(str::trim).filter(|h| !h.is_empty()) else {
            eprintln!("skipped  {}: no `host` (the Databricks tools need the workspace URL)", name.escape_debug());
            continue;
        };
        let host = host.trim_end_matches('/');
        let mut values = vec![("host", host)];
        // An account or unified host: the SDKs need the ids, and pass `--account-id` to the helper.
        for key in ["account_id", "workspace_id"] {
            if let Some(id) = profile.get(key).map(str::trim) {
                values.push((key, id));
            }
        }
        values.extend([("auth_type", "databricks-cli"), ("databricks_cli_path", exe)]);
        if let Some(id) = profile.get("azure_workspace_resource_id") {
            values.push(("azure_workspace_resource_id", id));
        }
        out.push_str(&ini_section(name, &values)?);
    }
    print(&out)
}

/// `[name]` and its `key = value` lines, keys aligned. INI has no quoting or escaping: a name
/// with `[`, `]` or a control character, or a value with a control character, is refused.
/// The error (exit 2) names the profile and the key.
fn ini_section(name: &str, values: &[(&'static str, &str)]) -> Result<String> {
    let bad_name = if name.trim().is_empty() {
        Some("nothing but spaces")
    } else if name.chars().any(char::is_control) {
        Some("a control character")
    } else if name.contains(['[', ']']) {
        Some("`[` or `]`")
    } else if name.trim() != name {
        Some("leading or trailing spaces")
    } else {
        None
    };
    if let Some(what) = bad_name {
        return Err(usage(format!(
            "profile `{}` cannot be a ~/.databrickscfg section: its name holds {what}, which INI cannot hold \
             (rename the profile); nothing was printed",
            name.escape_debug()
        )));
    }
    let width = values.iter().map(|(k, _)| k.len()).filter(|&n| n <= 19).max().unwrap_or(0);
    let mut out = format!("\n[{name}]\n");
    for (key, value) in values {
        if value.chars().any(char::is_control) {
            return Err(usage(format!(
                "profile `{name}`: `{key}` = \"{}\" holds a newline or another control character, which would \
                 start a line of its own in ~/.databrickscfg (fix the value); nothing was printed",
                value.escape_debug()
            )));
        }
        out.push_str(&format!("{key:width$} = {value}\n"));
    }
    Ok(out)
}

/// Check `text` before it goes into a comment of `file` (TOML or INI), or an error naming
/// `what`: a control character (a newline, say) would end the comment and start a line of
/// configuration, so it is refused, never escaped or dropped.
fn comment_text(what: &str, text: &str, file: &str) -> Result<()> {
    if text.chars().any(char::is_control) {
        return Err(usage(format!(
            "{what} \"{}\" holds a newline or another control character, which cannot be written in a comment \
             of {file}; rename it (or copy the file to a plain path); nothing was written",
            text.escape_debug()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_written_with_aligned_keys() {
        let s = ini_section(
            "dev",
            &[
                ("host", "https://adb-1.2.azuredatabricks.net"),
                ("auth_type", "databricks-cli"),
                ("databricks_cli_path", "/usr/local/bin/brickauth"),
                ("azure_workspace_resource_id", "/subscriptions/s/resourceGroups/g/providers/x/workspaces/w"),
            ],
        )
        .unwrap();
        assert!(s.starts_with("\n[dev]\n"), "{s}");
        insta::assert_snapshot!(s.trim_start(), @r"
        [dev]
        host                = https://adb-1.2.azuredatabricks.net
        auth_type           = databricks-cli
        databricks_cli_path = /usr/local/bin/brickauth
        azure_workspace_resource_id = /subscriptions/s/resourceGroups/g/providers/x/workspaces/w
        ");
    }

    #[test]
    fn injections_into_a_section_are_refused_naming_the_profile_and_key() {
        let host = [("host", "https://adb-1.2.azuredatabricks.net")];
        let refused: Vec<String> = [
            ini_section("dev]\n[evil", &host),
            ini_section("dev\n[evil]", &host),
            ini_section("[evil]", &host),
            ini_section(" dev", &host),
            ini_section("", &host),
            ini_section("dev", &[("host", "https://h\n[evil]\nauth_type = pat\ntoken = dapi")]),
            ini_section("dev", &[("azure_workspace_resource_id", "/s\rauth_type = pat")]),
            ini_section("dev", &[("host", "https://h\u{1b}]0;x\u{7}")]),
        ]
        .into_iter()
        .map(|r| r.expect_err("injection accepted").to_string())
        .collect();
        insta::assert_snapshot!(refused.join("\n"), @r#"
        profile `dev]\n[evil` cannot be a ~/.databrickscfg section: its name holds a control character, which INI cannot hold (rename the profile); nothing was printed
        profile `dev\n[evil]` cannot be a ~/.databrickscfg section: its name holds a control character, which INI cannot hold (rename the profile); nothing was printed
        profile `[evil]` cannot be a ~/.databrickscfg section: its name holds `[` or `]`, which INI cannot hold (rename the profile); nothing was printed
        profile ` dev` cannot be a ~/.databrickscfg section: its name holds leading or trailing spaces, which INI cannot hold (rename the profile); nothing was printed
        profile `` cannot be a ~/.databrickscfg section: its name holds nothing but spaces, which INI cannot hold (rename the profile); nothing was printed
        profile `dev`: `host` = "https://h\n[evil]\nauth_type = pat\ntoken = dapi" holds a newline or another control character, which would start a line of its own in ~/.databrickscfg (fix the value); nothing was printed
        profile `dev`: `azure_workspace_resource_id` = "/s\rauth_type = pat" holds a newline or another control character, which would start a line of its own in ~/.databrickscfg (fix the value); nothing was printed
        profile `dev`: `host` = "https://h\u{1b}]0;x\u{7}" holds a newline or another control character, which would start a line of its own in ~/.databrickscfg (fix the value); nothing was printed
        "#);
    }

    #[test]
    fn secrets_go_into_the_keychain_all_or_none_and_never_over_an_entry() {
        use brickauth_cache::keychain::{ExposeSecret, Memory, StoreError};
        let moves = |accounts: &[&str]| -> Vec<Move> {
            accounts
                .iter()
                .map(|a| Move {
                    account: (*a).to_owned(),
                    label: "l".into(),
                    secret: SecretString::from(format!("s-{a}")),
                })
                .collect()
        };
        let store = Memory::new();
        assert_eq!(store_in_keychain(&store, &moves(&["dev", "prod"])).unwrap(), ["dev", "prod"]);
        assert_eq!(store.password("brickauth", "prod").unwrap().unwrap().expose_secret(), "s-prod");

        // An entry there already: refused before anything is stored, the entry untouched.
        let e = store_in_keychain(&store, &moves(&["new", "dev"])).unwrap_err().to_string();
        assert!(e.contains("already holds an entry for service `brickauth`, account `dev`"), "{e}");
        assert!(store.password("brickauth", "new").unwrap().is_none());
        assert_eq!(store.password("brickauth", "dev").unwrap().unwrap().expose_secret(), "s-dev");

        // No keychain: a clear error, nothing stored.
        let absent = Memory::new();
        absent
            .fail_with(Some(StoreError::Unavailable { store: "the Secret Service (D-Bus)", reason: "no bus".into() }));
        let e = store_in_keychain(&absent, &moves(&["dev"])).unwrap_err().to_string();
        assert!(e.contains("cannot use the keychain (the Secret Service (D-Bus) is not available: no bus)"), "{e}");
        absent.fail_with(None);
        assert!(absent.names().is_empty());

        unstore(&store, &["dev".to_owned(), "prod".to_owned()]);
        assert!(store.names().is_empty());
    }

    #[test]
    fn comment_text_refuses_control_characters() {
        assert!(comment_text("path", "/home/me/.databrickscfg", "f").is_ok());
        assert!(comment_text("path", "/home/me/.databricks cfg (copy)", "f").is_ok());
        for bad in ["/tmp/x\n[profiles.evil]\npassword_command = \"sh\"", "/tmp/x\r\n", "/tmp/\u{1b}[2J", "a\tb"] {
            let e = comment_text("the Databricks config file's path", bad, "f").expect_err(bad).to_string();
            assert!(e.contains("control character") && e.contains("nothing was written"), "{e}");
            assert!(!e.contains('\n') && !e.contains('\u{1b}'), "the raw text is repeated: {e}");
        }
    }

    #[test]
    fn variable_names_are_shell_safe() {
        assert_eq!(variable("dev", "client_secret"), "BRICKAUTH_DEV_CLIENT_SECRET");
        assert_eq!(variable("my-sp.prod", "client_secret"), "BRICKAUTH_MY_SP_PROD_CLIENT_SECRET");
    }
}
