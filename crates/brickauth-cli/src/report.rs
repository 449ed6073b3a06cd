//! Diagnostics: logging set-up, error reports and exit codes (DESIGN §4), in one place.
//!
//! Exit codes are the [`Exit`] enum, the only place they are numbered: 0 ok · 1 other failure
//! (I/O, network after retries) · 2 usage or profile error · 3 authentication failed or needs the
//! user · 4 Databricks API error · 126/127 `exec` could not run / find its program. `exec` ends
//! with its child's own code instead ([`child_exit`]).

use std::fmt;
use std::process::ExitCode;

use brickauth_cache::{CacheError, ProviderError};
use brickauth_core::error::ErrorClass;
use brickauth_core::flow::RegistryError;
use brickauth_core::hints::SignIn;
use brickauth_core::{AuthError, ConfigError};
use brickauth_databricks::DatabricksError;
use brickauth_profile::ProfileError;

/// Set up `tracing` to stderr: warnings by default, `-v` info, `-vv` debug, `-vvv` trace.
/// `BRICKAUTH_LOG` (an `EnvFilter` directive) overrides.
///
/// Without `-v` a warning is one line in the error's own shape, `brickauth: warning: …` (the
/// label yellow when stderr is coloured), not the log format with its ` WARN` column; with `-v`
/// and more, every line is the log format.
pub fn init_tracing(verbose: u8) {
    use tracing_subscriber::filter::LevelFilter;
    let level = match verbose {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    if verbose == 0 && std::env::var("BRICKAUTH_LOG").ok().is_none_or(|d| d.is_empty()) {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(level)
            .event_format(Labelled { colour: colour_stderr() })
            .init();
        return;
    }
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(colour_stderr())
        .with_target(verbose >= 3)
        .without_time();
    match std::env::var("BRICKAUTH_LOG") {
        Ok(directive) if !directive.is_empty() => {
            builder.with_env_filter(tracing_subscriber::EnvFilter::new(directive)).init();
        }
        // Only our crates speak at -v/-vv: hyper and rustls at debug level are noise.
        _ if verbose > 0 && verbose < 3 => {
            let filter = tracing_subscriber::EnvFilter::new(format!("warn,brickauth={level}"));
            builder.with_env_filter(filter).init();
        }
        _ => builder.with_max_level(level).init(),
    }
}

/// The default verbosity's line: `brickauth: warning: MESSAGE field=value`.
struct Labelled {
    colour: bool,
}

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Labelled
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let label = match *event.metadata().level() {
            tracing::Level::ERROR => "error:",
            tracing::Level::WARN => "warning:",
            _ => "note:",
        };
        if self.colour {
            write!(writer, "brickauth: \x1b[1m\x1b[33m{label}\x1b[0m ")?;
        } else {
            write!(writer, "brickauth: {label} ")?;
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Whether to colour what goes to stderr, by the conventions clap follows too: `NO_COLOR` (set
/// and not empty) never, else `CLICOLOR_FORCE` (set, not `0`) always, else `CLICOLOR=0` never,
/// else only on a terminal that is not `TERM=dumb`.
pub fn colour_stderr() -> bool {
    use std::io::IsTerminal;
    colour_with(&|k| std::env::var_os(k), std::io::stderr().is_terminal())
}

fn colour_with(var: &dyn Fn(&str) -> Option<std::ffi::OsString>, terminal: bool) -> bool {
    let set = |k: &str| var(k).filter(|v| !v.is_empty());
    if set("NO_COLOR").is_some() {
        return false;
    }
    if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        return true;
    }
    if set("CLICOLOR").is_some_and(|v| v == "0") {
        return false;
    }
    terminal && set("TERM").is_none_or(|t| t != "dumb")
}

/// How `brickauth` exits (DESIGN §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 1: any other failure: I/O, the network after retries, the cache file.
    Failure = 1,
    /// 2: a usage, profile or settings error: the user must change a flag or the profile.
    Usage = 2,
    /// 3: authentication failed or needs the user (`brickauth login`).
    Auth = 3,
    /// 4: the Databricks workspace answered with an error.
    Databricks = 4,
    /// 126: `exec` found its program but could not run it (as shells report it).
    CannotRun = 126,
    /// 127: `exec` did not find its program.
    NotFound = 127,
    /// 130: interrupted (Ctrl-C), as shells report death by SIGINT.
    Interrupted = 130,
}

impl Exit {
    /// The process exit status.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// How `exec` ends once its child has exited: with the child's exit code ([`child_code`]).
///
/// On Windows a code may be any 32-bit value (`0xC000013A` when Ctrl-C ended the child), but
/// `ExitCode` carries only 0–255 on stable Rust (`ExitCodeExt::from_raw` is unstable). A code
/// beyond that ends brickauth here with `std::process::exit`, which hands all 32 bits to
/// `ExitProcess`; nothing is left to clean up then, as the child has exited and the metadata
/// service is stopped. On Unix every code fits.
pub fn child_exit(status: std::process::ExitStatus) -> ExitCode {
    let code = child_code(status);
    match u8::try_from(code) {
        Ok(code) => ExitCode::from(code),
        Err(_) => std::process::exit(code),
    }
}

/// The exit code that reports `status` whole: the child's code; on Unix, killed by a signal,
/// 128 + the signal, as shells report it. On Windows the full 32-bit code (negative as `i32`
/// for NTSTATUS values like `0xC000013A`).
pub fn child_code(status: std::process::ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    Exit::Failure as i32
}

/// An error the command already rendered, with its exit code.
#[derive(Debug)]
pub struct Reported {
    /// The exit code.
    pub code: Exit,
    /// The full message.
    pub message: String,
}

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for Reported {}

impl Reported {
    /// A usage error (exit 2) with this message.
    pub fn usage(message: impl Into<String>) -> Reported {
        Reported { code: Exit::Usage, message: message.into() }
    }
}

/// The exit code for an error, by what it is.
pub fn exit_code(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if let Some(r) = cause.downcast_ref::<Reported>() {
            return r.code;
        }
        if let Some(e) = cause.downcast_ref::<brickauth::Error>() {
            return library_code(e);
        }
        if cause.is::<ProfileError>() || cause.is::<ConfigError>() || cause.is::<RegistryError>() {
            return Exit::Usage;
        }
        if let Some(a) = cause.downcast_ref::<AuthError>() {
            return auth_code(a);
        }
        if let Some(p) = cause.downcast_ref::<ProviderError>() {
            return provider_code(p);
        }
        if let Some(d) = cause.downcast_ref::<DatabricksError>() {
            match databricks_code(d) {
                // The token source's own error, next in the chain, decides.
                None => continue,
                Some(code) => return code,
            }
        }
        if cause.is::<CacheError>() {
            return Exit::Failure;
        }
        if cause.is::<clap::Error>() {
            return Exit::Usage;
        }
    }
    Exit::Failure
}

/// The exit code for the library's error: by the typed error inside it.
fn library_code(e: &brickauth::Error) -> Exit {
    use brickauth::Error as E;
    match e {
        E::Profile(_) | E::Config(_) | E::Usage(_) => Exit::Usage,
        E::Token(p) => provider_code(p),
        E::Databricks(d) => match databricks_code(d) {
            Some(code) => code,
            None => match d {
                DatabricksError::Token(source) => source
                    .downcast_ref::<brickauth::Error>()
                    .map(library_code)
                    .or_else(|| source.downcast_ref::<ProviderError>().map(provider_code))
                    .unwrap_or(Exit::Failure),
                _ => Exit::Failure,
            },
        },
        E::TenantDiscovery { source, .. } => databricks_code(source).unwrap_or(Exit::Failure),
        _ => Exit::Failure,
    }
}

fn provider_code(p: &ProviderError) -> Exit {
    match p {
        ProviderError::Auth(a) => auth_code(a),
        ProviderError::Config(_) => Exit::Usage,
        ProviderError::NeedsLogin { .. } | ProviderError::WrongAccount { .. } => Exit::Auth,
        _ => Exit::Failure,
    }
}

/// 4 for what the workspace answered, 1 for the network, 2 for a bad host or resource id; `None`
/// for a token-source failure (decided by its cause).
fn databricks_code(d: &DatabricksError) -> Option<Exit> {
    match d {
        DatabricksError::Token(_) => None,
        DatabricksError::InvalidHost(_)
        | DatabricksError::InvalidResourceId(_)
        | DatabricksError::NotAWorkspace { .. } => Some(Exit::Usage),
        DatabricksError::Transport { .. } => Some(Exit::Failure),
        DatabricksError::RetriesExhausted { last, .. } => databricks_code(last),
        _ => Some(Exit::Databricks),
    }
}

fn auth_code(a: &AuthError) -> Exit {
    match a.class() {
        ErrorClass::Usage => Exit::Usage,
        ErrorClass::Auth => Exit::Auth,
        ErrorClass::Other => Exit::Failure,
    }
}

/// What the name of an implicit profile (a workspace with no profile file) starts with, before
/// the workspace URL.
pub const IMPLICIT: &str = "@";

/// What the user should run next, when the error says a person must sign in: the library says
/// which profile, the CLI names its own command.
pub fn next_step(err: &anyhow::Error) -> Option<String> {
    err.chain()
        .find_map(|c| {
            c.downcast_ref::<ProviderError>()
                .and_then(ProviderError::needs_login)
                .or_else(|| c.downcast_ref::<brickauth::Error>().and_then(brickauth::Error::needs_login))
        })
        .map(|profile| match profile.strip_prefix(IMPLICIT) {
            // A workspace with no profile file: sign in to it the same way.
            Some(host) => {
                format!("run `brickauth --host {} login` on a terminal", shell_word(host))
            }
            None => format!("run `brickauth login -p {}`", shell_word(profile)),
        })
}

/// `err`'s message, with [`next_step`] appended when there is one.
pub fn message(err: &anyhow::Error) -> String {
    match next_step(err) {
        Some(step) => format!("{err}: {step}"),
        None => err.to_string(),
    }
}

/// A profile name as one shell word: bare when it is plain, else single-quoted.
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.@+=:,/".contains(&b));
    if plain { s.to_owned() } else { format!("'{}'", s.replace('\'', r"'\''")) }
}

/// Print `err` to stderr and return its exit code. `error:` is bold red on a terminal, as in
/// clap's own usage errors.
pub fn report(err: &anyhow::Error) -> ExitCode {
    let code = exit_code(err);
    let label = if colour_stderr() { "\x1b[1m\x1b[31merror:\x1b[0m" } else { "error:" };
    eprintln!("brickauth: {label} {}", render(err));
    ExitCode::from(code)
}

/// The message of `err` (with [`next_step`]), its causes not already in it, and hints for what to
/// do next.
pub fn render(err: &anyhow::Error) -> String {
    let mut msg = message(err);
    for cause in err.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(&format!("\n  caused by: {c}"));
        }
    }
    for hint in hints(err) {
        if !msg.contains(&hint) {
            msg.push_str(&format!("\nhint: {hint}"));
        }
    }
    msg
}

/// What to do next, for the failures whose own message cannot say it.
pub fn hints(err: &anyhow::Error) -> Vec<String> {
    let mut out = Vec::new();
    for cause in err.chain() {
        let auth = cause
            .downcast_ref::<AuthError>()
            .or_else(|| match cause.downcast_ref::<ProviderError>() {
                Some(ProviderError::Auth(a)) => Some(a),
                _ => None,
            })
            .or_else(|| match cause.downcast_ref::<brickauth::Error>() {
                Some(brickauth::Error::Token(ProviderError::Auth(a))) => Some(a),
                _ => None,
            })
            .map(|a| match a {
                AuthError::RetriesExhausted { last, .. } => last,
                a => a,
            });
        if let Some(AuthError::ConfiguredRefused { from, .. }) = auth {
            out.push(refused_credential(from));
        } else if let Some(h) = sign_in_hint(cause).filter(|h| !out.contains(h))
            && !err.chain().any(|c| matches!(c.downcast_ref::<AuthError>(), Some(AuthError::ConfiguredRefused { .. })))
        {
            out.push(h);
        }
        if let Some(AuthError::Response { source: brickauth_core::token::ResponseError::NotJson(_), .. }) = auth {
            out.push(
                "the answer was not Entra ID's JSON: check the profile's `authority_host` (and `cloud`) — the \
                 authority is https://login.microsoftonline.com unless you sign in elsewhere — and that no proxy \
                 or sign-in portal answers in its place"
                    .to_owned(),
            );
        }
        let d = cause.downcast_ref::<DatabricksError>().or(match cause.downcast_ref::<brickauth::Error>() {
            Some(brickauth::Error::Databricks(d)) => Some(d),
            _ => None,
        });
        let Some(d) = d else { continue };
        let d = match d {
            DatabricksError::RetriesExhausted { last, .. } => last,
            d => d,
        };
        match d {
            DatabricksError::Api { status: 403, message, .. }
                if message.contains("X-Databricks-Azure-Workspace-Resource-Id") =>
            {
                out.push(
                    "the workspace wants to know which Azure workspace this is (a service principal that is not \
                     yet a workspace user is added on first use): set `azure_workspace_resource_id = \
                     \"/subscriptions/<subscription>/resourceGroups/<group>/providers/Microsoft.Databricks/\
                     workspaces/<name>\"` in the profile (Azure portal: the workspace's Properties, \"Id\")"
                        .to_owned(),
                );
            }
            DatabricksError::NotAWorkspace { .. } => out.push(
                "check the profile's `host`: it is the workspace URL, https://adb-<workspace-id>.<n>.azuredatabricks.net \
                 (Azure portal: the workspace's Overview, \"URL\")"
                    .to_owned(),
            ),
            DatabricksError::Decode { message, .. }
                if message.contains("HTML") || message.contains("expected value") =>
            {
                out.push(
                    "the answer was not the JSON of the Databricks API: check that the profile's `host` is the \
                     workspace URL (https://adb-<workspace-id>.<n>.azuredatabricks.net), and that no proxy or \
                     sign-in portal answers in its place"
                        .to_owned(),
                );
            }
            _ => {}
        }
    }
    out
}

/// The sign-in an Entra error's hint asks for ([`SignIn`]), in the CLI's words: its `login`
/// command and the flows that sign a person in (from the registry).
fn sign_in_hint(cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    let from_provider = |p: &ProviderError| match p {
        ProviderError::Auth(a) => a.entra().and_then(|e| e.hint()),
        _ => None,
    };
    let hint = match (cause.downcast_ref::<AuthError>(), cause.downcast_ref::<ProviderError>()) {
        (Some(a), _) => a.entra().and_then(|e| e.hint()),
        (_, Some(p)) => from_provider(p),
        _ => match cause.downcast_ref::<brickauth::Error>() {
            Some(brickauth::Error::Token(p)) => from_provider(p),
            _ => None,
        },
    };
    match hint?.sign_in()? {
        SignIn::Again => Some("run `brickauth login` to sign in again".to_owned()),
        SignIn::Interactive => {
            let flows: Vec<String> = brickauth_core::flow::flows()
                .iter()
                .filter(|f| f.interactive)
                .map(|f| format!("`flow = \"{}\"`", f.name))
                .collect();
            Some(format!("sign in as a person with {}, then run `brickauth login`", flows.join(" or ")))
        }
        _ => None,
    }
}

/// The next step for a configured refresh token Entra refused: a new one where the profile reads
/// it — never `brickauth login`, which would send the same one again.
fn refused_credential(from: &str) -> String {
    let put = if from.contains("_file`") {
        "write a new refresh token to that file"
    } else if from.contains("_command`") {
        "make that command print a new refresh token"
    } else if from.contains("_env`") || from.starts_with('$') {
        "set that variable to a new refresh token"
    } else {
        "put a new refresh token in the profile"
    };
    format!(
        "the refresh token from {from} is expired, revoked or already used: {put} (`brickauth login` would send \
         the same one again); once redeemed, brickauth keeps the rotated one in its cache"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_follows_no_color_and_clicolor_force() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| std::ffi::OsString::from(v))
        };
        assert!(colour_with(&env(&[]), true));
        assert!(!colour_with(&env(&[]), false));
        assert!(!colour_with(&env(&[("NO_COLOR", "1")]), true));
        assert!(colour_with(&env(&[("NO_COLOR", "")]), true), "an empty NO_COLOR does not count");
        assert!(colour_with(&env(&[("CLICOLOR_FORCE", "1")]), false));
        assert!(!colour_with(&env(&[("CLICOLOR_FORCE", "0")]), false));
        assert!(!colour_with(&env(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]), true), "NO_COLOR wins");
        assert!(!colour_with(&env(&[("TERM", "dumb")]), true));
        assert!(!colour_with(&env(&[("CLICOLOR", "0")]), true));
    }

    #[test]
    fn an_entra_hint_asking_for_a_sign_in_names_login_and_the_flows_that_sign_a_person_in() {
        brickauth_flows::link();
        let entra = |body: &[u8]| {
            let e = brickauth_core::error::EntraError::parse(400, body).expect("an OAuth error body");
            anyhow::Error::from(ProviderError::Auth(AuthError::Entra(Box::new(e))))
        };
        let mfa = render(&entra(
            br#"{"error":"invalid_grant","error_description":"AADSTS50076: MFA","error_codes":[50076]}"#,
        ));
        assert!(mfa.contains("\nhint: multi-factor authentication is required"), "{mfa}");
        assert!(
            mfa.contains("\nhint: sign in as a person with `flow = \"authorization-code\"` or `flow = \"device-code\"`, then run `brickauth login`"),
            "{mfa}"
        );
        let expired = render(&entra(
            br#"{"error":"invalid_grant","error_description":"AADSTS70008: expired","error_codes":[70008]}"#,
        ));
        assert!(expired.contains("\nhint: run `brickauth login` to sign in again"), "{expired}");
        let wrong = render(&entra(
            br#"{"error":"invalid_grant","error_description":"AADSTS50126: wrong","error_codes":[50126]}"#,
        ));
        assert!(!wrong.contains("brickauth login"), "{wrong}");
    }

    #[test]
    fn hints_for_workspace_answers() {
        let forbidden = anyhow::Error::from(DatabricksError::from_response(
            403,
            br#"{"error_code":"PERMISSION_DENIED","message":"Missing X-Databricks-Azure-Workspace-Resource-Id header."}"#,
        ));
        insta::assert_snapshot!("hint_403_resource_id", render(&forbidden));
        let html = anyhow::Error::from(DatabricksError::Decode {
            url: "https://adb-1.2.azuredatabricks.net/api/2.1/clusters/list".to_owned(),
            message: "an HTML page (\"Sign in to your account\") instead of JSON".to_owned(),
        });
        insta::assert_snapshot!("hint_html_200", render(&html));
        let other =
            anyhow::Error::from(DatabricksError::from_response(404, br#"{"error_code":"NOT_FOUND","message":"x"}"#));
        assert!(hints(&other).is_empty());
    }

    /// A web server that is not a workspace (`python -m http.server`'s 404 page): said so, exit 2,
    /// with the `host` to check — not "Databricks API error 404: Error response Error response…".
    #[test]
    fn a_host_that_is_not_a_workspace() {
        let page = b"<!DOCTYPE HTML>\n<html lang=\"en\">\n<head><title>Error response</title></head>\n<body>\n\
                     <h1>Error response</h1>\n<p>Error code: 404</p>\n</body>\n</html>\n";
        let answer = brickauth_core::http::Answer {
            url: "http://127.0.0.1:8000/api/2.0/preview/scim/v2/Me".to_owned(),
            status: 404,
            retry_after: None,
            body: page.to_vec(),
            truncated: false,
            text: brickauth_core::text::ServerText::default(),
        };
        let err = anyhow::Error::from(DatabricksError::from_answer_at(&answer.url, &answer));
        let shown = render(&err);
        assert!(shown.contains("an HTML page (\"Error response\")"), "{shown}");
        assert!(shown.contains("does not look like a Databricks workspace"), "{shown}");
        assert!(shown.contains("hint: check the profile's `host`"), "{shown}");
        assert!(!shown.contains("Error response Error response"), "{shown}");
        assert_eq!(exit_code(&err), Exit::Usage);
    }

    #[test]
    fn broken_transfers_are_network_failures_everywhere() {
        let cut = br#"{"clusters":[{"cluster_id":"1"#;
        let e = serde_json::from_slice::<serde_json::Value>(cut).unwrap_err();
        let api = anyhow::Error::from(DatabricksError::undecodable("https://h/api".to_owned(), cut, &e));
        assert_eq!(exit_code(&api), Exit::Failure, "{api}");
        assert!(api.to_string().contains("cut short"), "{api}");
        let answer = brickauth_core::http::Answer {
            url: "https://login.microsoftonline.com/t/oauth2/v2.0/token".to_owned(),
            status: 200,
            retry_after: None,
            body: br#"{"token_type":"Bearer","access_token":"eyJ"#.to_vec(),
            truncated: false,
            text: brickauth_core::text::ServerText::default(),
        };
        let token = anyhow::Error::from(answer.token_response().unwrap_err());
        assert_eq!(exit_code(&token), Exit::Failure, "{token}");
        assert!(token.to_string().contains("cut short"), "{token}");
    }

    /// An HTML page with status 200 from the token endpoint: named, with a hint, as the workspace
    /// side does — not "expected value at line 1 column 1".
    #[test]
    fn an_html_page_from_the_token_endpoint() {
        let answer = brickauth_core::http::Answer {
            url: "https://login.microsoftonline.com/t/oauth2/v2.0/token".to_owned(),
            status: 200,
            retry_after: None,
            body: b"<!DOCTYPE html><html><head><title>Sign in to your account</title></head></html>".to_vec(),
            truncated: false,
            text: brickauth_core::text::ServerText::default(),
        };
        let err = anyhow::Error::from(answer.token_response().unwrap_err());
        let shown = render(&err);
        assert!(shown.contains("an HTML page (\"Sign in to your account\")"), "{shown}");
        assert!(shown.contains("hint: the answer was not Entra ID's JSON"), "{shown}");
        assert!(!shown.contains("expected value"), "{shown}");
    }

    /// `exec` passes its child's exit code on whole.
    #[cfg(unix)]
    #[test]
    fn child_codes_as_shells_report_them() {
        let status = |script: &str| std::process::Command::new("sh").args(["-c", script]).status().unwrap();
        assert_eq!(child_code(status("exit 7")), 7);
        assert_eq!(child_code(status("kill -TERM $$")), 128 + 15);
    }

    /// Windows: codes beyond 255 survive, such as `STATUS_CONTROL_C_EXIT` (0xC000013A).
    #[cfg(windows)]
    #[test]
    fn child_codes_keep_all_32_bits() {
        let status = |code: &str| brickauth_core::process::shell(&format!("exit {code}")).unwrap().status().unwrap();
        assert_eq!(child_code(status("7")), 7);
        assert_eq!(child_code(status("300")), 300);
        assert_eq!(child_code(status("-1073741510")) as u32, 0xC000_013A);
    }
}

#[cfg(test)]
mod render_tests {
    use super::*;

    #[test]
    fn needs_login_gets_the_exact_command() {
        let e = ProviderError::NeedsLogin { profile: "dev".into(), reason: "no token is cached".into() };
        let err = anyhow::Error::from(e);
        assert!(message(&err).ends_with("run `brickauth login -p dev`"), "{}", message(&err));
        assert_eq!(exit_code(&err), Exit::Auth);
        let e = ProviderError::NeedsLogin { profile: "my prof".into(), reason: "x".into() };
        assert!(message(&e.into()).ends_with("run `brickauth login -p 'my prof'`"));
    }

    #[test]
    fn a_wrong_account_is_exit_3() {
        let e = ProviderError::WrongAccount { profile: "p".into(), expected: "a@x".into(), actual: Some("b@x".into()) };
        assert_eq!(exit_code(&e.into()), Exit::Auth);
    }
}
