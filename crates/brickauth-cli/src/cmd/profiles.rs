//! `brickauth profiles list | show | validate` (`add` and `init` are in `profiles_edit.rs`).
//!
//! `validate` goes further than loading does: it checks the formats of the values brickauth will
//! send or use (the Azure workspace resource id, URLs, GUIDs), that files the profile names exist
//! and can be read, that certificate and key files parse as PEM, and warns about loose file
//! permissions — all without resolving a secret or running a `*_command`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use brickauth_core::Settings;
use brickauth_profile::Profile;

use clap::Subcommand;
use clap_complete::ArgValueCompleter;

use crate::context::Context;
use crate::output::print;
use crate::report::Reported;

/// `brickauth profiles …`.
#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// The profiles in the file, with their flow and host
    List,
    /// A profile's resolved settings and where each came from (secrets redacted)
    Show {
        /// Profile name [default: the selected profile]
        #[arg(add = ArgValueCompleter::new(crate::complete::profiles))]
        name: Option<String>,
    },
    /// Add a profile to the file: `profiles add NAME --flow F --set key=value…` (comments kept)
    Add(super::profiles_edit::AddArgs),
    /// Create a profile by answering a few questions (on a terminal)
    Init(super::profiles_edit::InitArgs),
    /// Check one profile, or all of them, without contacting anyone
    Validate {
        /// Profile name [default: every profile]
        #[arg(add = ArgValueCompleter::new(crate::complete::profiles))]
        name: Option<String>,
    },
    /// Write the profiles of a Databricks config file into the brickauth profile file
    Import(super::databrickscfg::ImportArgs),
    /// Print Databricks config sections that point the Databricks CLI, SDKs and Terraform at brickauth
    Export(super::databrickscfg::ExportArgs),
}

/// `brickauth profiles …`.
pub fn run(cx: &Context, c: &ProfilesCommand) -> Result<ExitCode> {
    match c {
        ProfilesCommand::List => {
            // Both sources: the TOML file's profiles, then the `~/.databrickscfg` sections that no
            // TOML profile hides; the last column says which file each comes from.
            let sources = cx.sources()?;
            if sources.toml.is_none() && sources.databrickscfg.is_none() {
                cx.file()?; // "no profile file here", with how to create one
            }
            // The star marks the profile a command would use here (`[DEFAULT]` of
            // `~/.databrickscfg` included), by the one selection rule.
            let default = cx.selected_name(&sources);
            let mut out = String::new();
            for (name, result) in sources.list() {
                let mark = if default.as_deref() == Some(name.as_str()) { "*" } else { " " };
                let from = match &result {
                    Ok(p) => p.path().map(brickauth_profile::display_path).unwrap_or_default(),
                    Err(_) => String::new(),
                };
                match result {
                    Ok(p) => out.push_str(&format!(
                        "{mark} {name:<20} {:<20} {:<56} {from}\n",
                        p.flow().name,
                        p.get("host").unwrap_or("-")
                    )),
                    Err(e) => out.push_str(&format!("{mark} {name:<20} (invalid: {e})\n")),
                }
            }
            print(&out)
        }
        ProfilesCommand::Import(args) => super::databrickscfg::import(cx, args),
        ProfilesCommand::Export(args) => super::databrickscfg::export(cx, args),
        ProfilesCommand::Show { name } => {
            // What every command would use: the same selection and overrides (--flow, --host,
            // $DATABRICKS_HOST), so the origins shown are the precedence applied.
            let profile = match name {
                Some(n) if cx.flow.is_none() => cx.named(n)?,
                _ => cx.profile()?,
            };
            print(&show(&profile))
        }
        ProfilesCommand::Validate { name } => validate(cx, name.as_deref()),
        ProfilesCommand::Add(args) => super::profiles_edit::add(cx, args),
        ProfilesCommand::Init(args) => super::profiles_edit::init(cx, args),
    }
}

/// `profiles show`: `key = value  # origin`, the origins aligned. Alignment is done by hand:
/// `format!`'s width (`{:<w$}`) is limited to 65,535 and panics beyond it, and a value that long
/// (a pasted certificate, say) must print, not abort. Values past the alignment width are simply
/// not padded.
fn show(profile: &Profile) -> String {
    /// Origins line up for values up to this width; longer lines keep two spaces.
    const ALIGN_AT: usize = 72;
    let mut out = format!("[{}]\n", profile.name());
    let lines: Vec<(String, String)> =
        profile.entries().into_iter().map(|(k, v, o)| (format!("{k} = {v}"), o.to_string())).collect();
    let width = lines.iter().map(|(kv, _)| kv.chars().count()).filter(|&w| w <= ALIGN_AT).max().unwrap_or(0);
    for (kv, origin) in lines {
        let pad = width.saturating_sub(kv.chars().count());
        out.push_str(&kv);
        out.extend(std::iter::repeat_n(' ', pad + 2));
        out.push_str("# ");
        out.push_str(&origin);
        out.push('\n');
    }
    out
}

/// Every profile of both files (the TOML file's, then the `~/.databrickscfg` sections it does not
/// hide), or the one named.
fn validate(cx: &Context, name: Option<&str>) -> Result<ExitCode> {
    let sources = cx.sources()?;
    if sources.toml.is_none() && sources.databrickscfg.is_none() {
        cx.file()?; // "no profile file here", with how to create one
    }
    let mut warnings = Vec::new();
    if let Some(file) = &sources.toml {
        warnings.extend(file_permission_warnings(file.path()));
    }
    if let Some(cfg) = &sources.databrickscfg {
        warnings.extend(file_permission_warnings(cfg.path()));
    }
    let names: Vec<String> = match name {
        Some(n) => vec![n.to_owned()],
        None => sources.list().into_iter().map(|(n, _)| n).collect(),
    };
    let mut failures = Vec::new();
    let mut out = String::new();
    for n in &names {
        // Every problem of a profile, not only the first: structure (keys, sources, required
        // keys), then the identity it signs in as, then the formats of its values.
        match sources.named_and_problems(n) {
            Ok((p, structural)) => {
                let mut problems: Vec<String> = structural.iter().map(ToString::to_string).collect();
                let formats = format_problems(&p);
                if problems.is_empty()
                    && let Err(e) = check_identity(&p)
                    // The same key's format problem says it better.
                    && !e.key.as_ref().is_some_and(|k| formats.iter().any(|f| f.contains(&format!("`{k}` "))))
                {
                    problems.push(e.to_string());
                }
                problems.extend(formats);
                warnings.extend(key_permission_warnings(&p));
                if problems.is_empty() {
                    out.push_str(&format!("ok       {n} ({})\n", p.flow().name));
                } else {
                    out.push_str(&format!("invalid  {n}: {}\n", problems.join("\n         ")));
                    failures.push(n.clone());
                }
            }
            Err(e) => {
                out.push_str(&format!("invalid  {n}: {e}\n"));
                failures.push(n.clone());
            }
        }
    }
    for w in warnings {
        tracing::warn!("{w}");
    }
    print(&out)?;
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Reported {
            code: crate::report::Exit::Usage,
            message: format!("invalid profiles: {}", failures.join(", ")),
        }
        .into())
    }
}

/// The profile's cache identity can be computed — or will be: a missing `tenant_id` is not a
/// fault when the profile has a `host`, whose tenant every command finds (and remembers) first.
pub(crate) fn check_identity(profile: &Profile) -> Result<(), brickauth_core::ConfigError> {
    match brickauth_core::flow::app_config(profile) {
        Err(e)
            if e.key.as_deref() == Some("tenant_id") && profile.get("host").is_some_and(|h| !h.trim().is_empty()) =>
        {
            // Whatever else is missing or wrong is still a fault: check with a stand-in tenant.
            let mut probe = profile.clone();
            probe.set("tenant_id", "organizations", brickauth_profile::Origin::Default);
            brickauth_core::flow::app_config(&probe).map(|_| ())
        }
        other => other.map(|_| ()),
    }
}

/// A warning when others may change the profile file (it may run `*_command`s: brickauth
/// refuses to run them when every user may), judged on every platform by
/// [`brickauth_core::file::sharing`].
pub fn file_permission_warnings(path: &Path) -> Vec<String> {
    let Ok(sharing) = brickauth_core::file::sharing_of(path) else { return Vec::new() };
    let Some(problem) = sharing.change_problem() else { return Vec::new() };
    let consequence = if sharing.changeable_by_everybody() {
        "brickauth refuses to run the commands it names (`*_command` keys) until it is restricted"
    } else {
        "whoever can edit it can make brickauth run commands as you (`*_command` keys)"
    };
    vec![format!("{}: {problem}; {consequence}; fix with `{}`", path.display(), sharing.fix(path, true))]
}

/// A certificate or key file, read as the flow reads it: a regular file within its limit (never
/// `/dev/zero` or a FIFO).
fn read_pem(path: &std::path::Path) -> Result<String, brickauth_core::file::FileError> {
    brickauth_core::file::read_to_string(path, brickauth_flows::client_credentials::PEM_FILE_LIMIT)
}

/// Warnings for private keys other users can read.
pub fn key_permission_warnings(profile: &Profile) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["client_certificate_key", "client_certificate"] {
        let Some(path) = profile.get(key).map(expand) else { continue };
        // The certificate file holds the key too when no separate key is given.
        if key == "client_certificate" && profile.get("client_certificate_key").is_some() {
            continue;
        }
        if key == "client_certificate" && !read_pem(&path).is_ok_and(|t| t.contains("PRIVATE KEY-----")) {
            continue;
        }
        if let Ok(sharing) = brickauth_core::file::sharing_of(&path)
            && let Some(readers) = sharing.read_problem()
        {
            out.push(format!(
                "profile `{}`: {key} {} holds a private key and {readers}; fix with `{}`",
                profile.name(),
                path.display(),
                sharing.fix(&path, false)
            ));
        }
    }
    out
}

/// `~/` expanded by the one home-directory rule (`brickauth_core::paths`).
fn expand(path: &str) -> PathBuf {
    brickauth_core::paths::expand_tilde(Path::new(path))
}

/// Format problems of `profile`'s values, each naming the key and what is expected. Reads no
/// secret and runs nothing: `*_file` keys are checked for existence and readability only, except
/// certificates, which must parse as PEM.
pub fn format_problems(profile: &Profile) -> Vec<String> {
    let mut problems = Vec::new();
    // Each problem says where its value came from (file:line:column, a variable), as load errors do.
    let origins: std::collections::BTreeMap<String, brickauth_profile::Origin> =
        profile.entries().into_iter().map(|(key, _, origin)| (key, origin)).collect();
    let mut problem = |key: &str, message: String| {
        problems.push(match origins.get(key) {
            Some(origin) if !matches!(origin, brickauth_profile::Origin::Default) => {
                format!("{origin}: `{key}` {message}")
            }
            _ => format!("`{key}` {message}"),
        })
    };
    if let Some(id) = profile.get("azure_workspace_resource_id")
        && let Err(e) = resource_id(id)
    {
        problem("azure_workspace_resource_id", e);
    }
    if let Some(sub) = profile.get("azure_subscription_id")
        && !is_guid(sub)
    {
        problem("azure_subscription_id", format!("is `{sub}`, not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"));
    }
    for key in ["client_id", "msi_client_id", "msi_object_id"] {
        if let Some(v) = profile.get(key)
            && !is_guid(v)
        {
            problem(key, format!("is `{v}`, not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"));
        }
    }
    for key in ["host", "authority_host", "imds_endpoint", "redirect_uri"] {
        if let Some(v) = profile.get(key)
            && let Err(e) = url(v)
        {
            problem(key, e);
        }
    }
    for (key, shown, _) in profile.entries() {
        let is_path = key.ends_with("_file") || matches!(key.as_str(), "client_certificate" | "client_certificate_key");
        // A `_file` source is shown as its path (only a literal secret is redacted).
        let brickauth_profile::DisplayValue::Plain(raw) = shown else { continue };
        if !is_path {
            continue;
        }
        let path = expand(&raw);
        let pem_key = key == "client_certificate" || key == "client_certificate_key";
        // Read as the flow will read it: a regular file within its limit, never blocking.
        let read = if pem_key {
            read_pem(&path).map(String::into_bytes)
        } else {
            brickauth_core::file::read(&path, brickauth_profile::SECRET_FILE_LIMIT)
        };
        match read {
            Err(e) => problem(&key, format!("names {}, which cannot be read: {}", path.display(), e.reason())),
            Ok(bytes) if pem_key => {
                if let Err(e) = pem(&bytes, key == "client_certificate") {
                    problem(&key, format!("names {}, which {e}", path.display()));
                }
            }
            Ok(_) => {}
        }
    }
    if profile.get("client_certificate").is_some()
        && profile.get("client_certificate_key").is_none()
        && let Some(p) = profile.get("client_certificate").map(expand)
        && read_pem(&p).is_ok_and(|t| !t.contains("PRIVATE KEY-----"))
    {
        problem(
            "client_certificate",
            format!(
                "names {}, which holds no private key: add it to the file or set client_certificate_key",
                p.display()
            ),
        );
    }
    problems
}

/// A certificate file must hold a certificate; a key file a private key; both as PEM that parses.
fn pem(bytes: &[u8], certificate: bool) -> Result<(), String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    if certificate {
        let certs: Vec<_> = CertificateDer::pem_slice_iter(bytes)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("is not valid PEM: {e}"))?;
        if certs.is_empty() {
            return Err("holds no `-----BEGIN CERTIFICATE-----` block".to_owned());
        }
        Ok(())
    } else {
        PrivateKeyDer::from_pem_slice(bytes).map(|_| ()).map_err(|e| format!("holds no usable PEM private key: {e}"))
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hexadecimal (core's check, around surrounding blanks).
pub fn is_guid(s: &str) -> bool {
    brickauth_core::app::is_guid(s.trim())
}

/// `/subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.Databricks/workspaces/<name>`.
fn resource_id(id: &str) -> Result<(), String> {
    const SHAPE: &str =
        "/subscriptions/<subscription GUID>/resourceGroups/<group>/providers/Microsoft.Databricks/workspaces/<name>";
    // The shape is the client's to know; the checks below are the stricter ones of `validate`.
    let parsed = brickauth_databricks::ResourceId::parse(id)
        .map_err(|_| format!("is not a workspace resource id: expected {SHAPE}"))?;
    let (sub, rg, name) = parsed.parts();
    if !is_guid(sub) {
        return Err(format!(
            "has `{sub}` as its subscription, not a GUID: copy the id from the workspace's Properties page \
             in the Azure portal (expected {SHAPE})"
        ));
    }
    // ARM names: letters, digits, `-`, `_`, `.`, `(`, `)`; the README's `…` placeholder is not one.
    let arm_name = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.()".contains(c));
    for (part, what) in [(rg, "resource group"), (name, "workspace name")] {
        if !arm_name(part) {
            return Err(format!("has `{part}` as its {what}, which is not a valid Azure name (expected {SHAPE})"));
        }
    }
    Ok(())
}

/// An `https://` URL with a host (or `http://` to a loopback address), without a user name or
/// password in it — the message never repeats such a URL.
fn url(value: &str) -> Result<(), String> {
    let u = url::Url::parse(value.trim()).map_err(|e| format!("is `{value}`, not a URL: {e}"))?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err("holds a user name or password (`scheme://user:…@host`): remove it".to_owned());
    }
    let Some(host) = u.host_str() else { return Err(format!("is `{value}`, a URL without a host")) };
    match u.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = host == "localhost"
                || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
            let link_local = host == "169.254.169.254";
            if loopback || link_local {
                Ok(())
            } else {
                Err(format!("is `{value}`: plain http is allowed only to loopback addresses; use https://"))
            }
        }
        other => Err(format!("is `{value}`: `{other}://` is not http or https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids() {
        let good = "/subscriptions/3f2a1b4c-0000-4a5b-9c8d-112233445566/resourceGroups/rg-data/providers/Microsoft.Databricks/workspaces/ws-prod";
        assert_eq!(resource_id(good), Ok(()));
        let placeholder = "/subscriptions/…/resourceGroups/…/providers/Microsoft.Databricks/workspaces/…";
        insta::assert_snapshot!(resource_id(placeholder).expect_err("placeholder"));
        let compute = "/subscriptions/3f2a1b4c-0000-4a5b-9c8d-112233445566/resourceGroups/rg/providers/Microsoft.Compute/workspaces/ws";
        assert!(resource_id(compute).is_err());
    }

    #[test]
    fn urls() {
        assert_eq!(url("https://adb-1.2.azuredatabricks.net"), Ok(()));
        assert_eq!(url("http://127.0.0.1:8400"), Ok(()));
        assert_eq!(url("http://[::1]:8400"), Ok(()));
        assert!(url("http://adb-1.2.azuredatabricks.net").is_err());
        let e = url("https://alice:hunter2@login.microsoftonline.com").expect_err("userinfo");
        assert!(!e.contains("hunter2") && !e.contains("alice"), "{e}");
        assert!(url("adb-1.2.azuredatabricks.net").is_err());
    }

    #[test]
    fn guids() {
        assert!(is_guid("12a34b56-789c-0d12-e3fa-b456789c0123"));
        assert!(!is_guid("12a34b56-789c-0d12-e3fa-b456789c012"));
        assert!(!is_guid("…"));
    }
}
