//! [`Prompt`]: how an interactive flow talks to the person signing in.
//!
//! Flows never print: they hand what the person must see — the device code, the sign-in URL, a
//! notice — to the [`Prompt`] in their [`FlowContext`](crate::FlowContext), and ask it for the
//! pasted answer in paste mode. A command-line program shows these on stderr (the `brickauth` CLI
//! adds a spinner while a device code waits); a GUI can show a dialog; a service can send the
//! code to its operator. [`Stderr`] is the plain default: it writes to stderr and reads a line
//! from stdin.
//!
//! Every method but [`Prompt::read_pasted`] returns at once: a flow calls them between its
//! requests. [`Prompt::read_pasted`] is awaited under the flow's own deadline (`login_timeout`),
//! so an implementation need not time out by itself.

use std::time::Duration;

use secrecy::SecretString;

use crate::BoxFuture;

/// What the device-code flow asks the person to do.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct DeviceCode<'a> {
    /// The code to enter.
    pub user_code: &'a str,
    /// Where to enter it (`https://microsoft.com/devicelogin`).
    pub verification_uri: &'a str,
    /// Entra's own sentence saying both, in the user's language.
    pub message: &'a str,
    /// Seconds before the code expires.
    pub expires_in: u64,
}

impl<'a> DeviceCode<'a> {
    /// A device code to enter at `verification_uri`, described by `message`; `expires_in` 0.
    pub fn new(user_code: &'a str, verification_uri: &'a str, message: &'a str) -> Self {
        DeviceCode { user_code, verification_uri, message, expires_in: 0 }
    }
}

/// A paste-mode request: sign in at `url` anywhere, then paste where the browser was sent.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PasteRequest<'a> {
    /// The authorize URL to open.
    pub url: &'a str,
    /// The redirect the pasted address starts with.
    pub redirect_uri: &'a str,
    /// 1 for the first request; more after an answer that was refused (its reason was given to
    /// [`Prompt::notice`] just before).
    pub attempt: u32,
    /// How long the flow waits for this answer.
    pub timeout: Duration,
}

impl<'a> PasteRequest<'a> {
    /// The first request for `url`, redirecting to `redirect_uri`, waited for `timeout`.
    pub fn new(url: &'a str, redirect_uri: &'a str, timeout: Duration) -> Self {
        PasteRequest { url, redirect_uri, attempt: 1, timeout }
    }
}

/// The person on the other side of an interactive flow.
pub trait Prompt: Send + Sync {
    /// A device code was issued: show it. The flow then polls until the person has signed in.
    fn device_code(&self, code: &DeviceCode<'_>);

    /// The wait that [`Prompt::device_code`] started is over (signed in, declined, expired or
    /// cancelled): stop whatever shows that it is going on.
    fn device_code_done(&self) {}

    /// The browser sign-in URL; `browser_opened` says whether a browser was started with it (if
    /// not, or if it shows nothing, the person opens it by hand).
    fn sign_in_url(&self, url: &str, browser_opened: bool);

    /// A sentence for the person: a change of plan (no browser: paste mode) or why an answer was
    /// refused.
    fn notice(&self, message: &str);

    /// A browser was started with the sign-in URL and the flow now waits, up to `timeout`, for it
    /// to deliver the answer. A browser command can start and still show nothing (`$BROWSER`
    /// pointing at a program that fails, a browser on another display), so the person needs to
    /// see that the flow is waiting, and a way out: the returned future resolves when the person
    /// asks to sign in by pasting instead (the CLI: Enter on a terminal). The flow drops it as
    /// soon as the browser answered or the wait timed out, which must end whatever it shows.
    /// The default shows nothing and never resolves.
    fn browser_waiting<'a>(&'a self, timeout: Duration) -> BoxFuture<'a, ()> {
        let _ = timeout;
        Box::pin(std::future::pending())
    }

    /// Paste mode: show `request` and read the pasted answer; `Ok(None)` when there is no more
    /// input (stdin closed, the dialog dismissed). The answer is a secret (it holds a code).
    fn read_pasted<'a>(&'a self, request: &'a PasteRequest<'a>)
    -> BoxFuture<'a, std::io::Result<Option<SecretString>>>;
}

/// The default [`Prompt`]: plain lines on stderr, the pasted answer from one line of stdin.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stderr;

// The one place a library crate writes to stderr: showing the person a device code or a URL is
// this prompt's whole job, and a caller that did not want it brings its own `Prompt`.
#[allow(clippy::print_stderr)]
impl Prompt for Stderr {
    fn device_code(&self, code: &DeviceCode<'_>) {
        eprintln!("{}", code.message);
    }

    fn sign_in_url(&self, url: &str, _browser_opened: bool) {
        eprintln!("If no browser opened, visit: {url}");
    }

    fn notice(&self, message: &str) {
        eprintln!("{message}");
    }

    fn browser_waiting<'a>(&'a self, timeout: Duration) -> BoxFuture<'a, ()> {
        eprintln!("{}", browser_wait_line(timeout, false));
        Box::pin(std::future::pending())
    }

    fn read_pasted<'a>(
        &'a self,
        request: &'a PasteRequest<'a>,
    ) -> BoxFuture<'a, std::io::Result<Option<SecretString>>> {
        if request.attempt == 1 {
            eprintln!("{}", paste_instructions(request));
        } else {
            eprintln!("Paste the address again (attempt {} of {}):", request.attempt, MAX_PASTE_ATTEMPTS);
        }
        Box::pin(read_line())
    }
}

/// The line shown while a browser sign-in is awaited; with `can_switch`, it says how to switch
/// to paste mode (press Enter).
pub fn browser_wait_line(timeout: Duration, can_switch: bool) -> String {
    let wait = format!("Waiting up to {} s for the sign-in in the browser (login_timeout).", timeout.as_secs());
    if can_switch {
        format!("{wait} No browser, or nothing happened? Press Enter to sign in by pasting instead.")
    } else {
        wait
    }
}

/// How many answers paste mode reads before it gives up.
pub const MAX_PASTE_ATTEMPTS: u32 = 3;

/// The sentence paste mode starts with: where to sign in and what to paste.
pub fn paste_instructions(request: &PasteRequest<'_>) -> String {
    format!(
        "Sign in with a browser on any device at this URL, then paste the address the browser was sent to \
         (it starts with {}; the page need not load):\n\n  {}\n",
        request.redirect_uri, request.url
    )
}

/// One line of stdin, read on a plain thread (not the runtime's blocking pool: a pending read
/// must not keep a runtime from shutting down after the flow's deadline); `None` at end of input.
pub async fn read_line() -> std::io::Result<Option<SecretString>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = tx.send(std::io::stdin().read_line(&mut line).map(|n| (n, line)));
    });
    match rx.await {
        Err(_) => Err(std::io::Error::other("the stdin reader stopped")),
        Ok(Err(e)) => Err(e),
        Ok(Ok((0, _))) => Ok(None),
        Ok(Ok((_, line))) => Ok(Some(SecretString::from(line))),
    }
}
