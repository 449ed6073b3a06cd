//! The CLI's [`Prompt`]: what interactive flows show goes to stderr (stdout carries data only);
//! while a device code or a browser sign-in waits, a spinner turns on a terminal, and Enter
//! leaves a browser that shows nothing for paste mode; the pasted answer is read from stdin,
//! terminal or not (`login --no-browser < answer.txt` works).

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use brickauth_core::prompt::{self, DeviceCode, PasteRequest};
use brickauth_core::{BoxFuture, Prompt, SecretString};

/// Ask `question` on stderr and read one line of answer from stdin: yes unless it starts with
/// `n` (Enter is yes); the end of input is no.
pub fn confirm(question: &str) -> std::io::Result<bool> {
    let mut err = std::io::stderr().lock();
    err.write_all(question.as_bytes())?;
    err.flush()?;
    drop(err);
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line)? == 0 {
        return Ok(false);
    }
    Ok(!line.trim_start().to_ascii_lowercase().starts_with('n'))
}

/// Prints to stderr; a spinner on a terminal while a device code or a browser waits.
pub struct CliPrompt {
    spinner: Mutex<Option<Spinner>>,
}

impl CliPrompt {
    /// A prompt with no spinner yet. Costs nothing: it is built on the cached path too.
    pub fn new() -> CliPrompt {
        CliPrompt { spinner: Mutex::new(None) }
    }
}

impl Prompt for CliPrompt {
    fn device_code(&self, code: &DeviceCode<'_>) {
        prompt::Stderr.device_code(code);
        let spinner = Spinner::start("waiting for sign-in…");
        if let Ok(mut s) = self.spinner.lock() {
            *s = Some(spinner);
        }
    }

    fn device_code_done(&self) {
        // Dropping the spinner clears it.
        let _ = self.spinner.lock().ok().and_then(|mut s| s.take());
    }

    // The rest is the plain default's.
    fn sign_in_url(&self, url: &str, browser_opened: bool) {
        prompt::Stderr.sign_in_url(url, browser_opened);
    }

    fn notice(&self, message: &str) {
        prompt::Stderr.notice(message);
    }

    /// On a terminal (stdin and stderr): the waiting line, a spinner, and Enter switches to paste
    /// mode. Elsewhere the line only: there is nobody to press Enter, and stdin may carry a
    /// pasted answer meant for paste mode proper.
    fn browser_waiting<'a>(&'a self, timeout: Duration) -> BoxFuture<'a, ()> {
        use std::io::IsTerminal;
        let can_switch = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        eprintln!("{}", prompt::browser_wait_line(timeout, can_switch));
        if !can_switch {
            return Box::pin(std::future::pending());
        }
        let spinner = Spinner::start("waiting for the browser…");
        Box::pin(async move {
            // Enter (any line) switches; a closed stdin leaves only the browser.
            match prompt::read_line().await {
                Ok(Some(_)) => drop(spinner),
                _ => std::future::pending::<()>().await,
            }
        })
    }

    fn read_pasted<'a>(
        &'a self,
        request: &'a PasteRequest<'a>,
    ) -> BoxFuture<'a, std::io::Result<Option<SecretString>>> {
        prompt::Stderr.read_pasted(request)
    }
}

/// A spinner with a message on stderr, drawn only when stderr is a terminal (nothing lands in a
/// log file or a pipe); cleared when dropped.
struct Spinner(indicatif::ProgressBar);

impl Spinner {
    fn start(message: &str) -> Spinner {
        let pb = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg}") {
            pb.set_style(style);
        }
        // The colour is ours to decide (NO_COLOR, CLICOLOR_FORCE), not the terminal library's.
        if crate::report::colour_stderr() {
            pb.set_message(format!("\x1b[36m{message}\x1b[0m"));
        } else {
            pb.set_message(message.to_owned());
        }
        pb.enable_steady_tick(Duration::from_millis(120));
        Spinner(pb)
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
