//! The CLI's [`Prompt`]: what interactive flows show goes to stderr (stdout carries data only);
//! while a device code waits, a spinner turns on a terminal; the pasted answer is read from
//! stdin, terminal or not (`login --no-browser < answer.txt` works).

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

/// Prints to stderr; a spinner on a terminal while a device code waits.
pub struct CliPrompt {
    spinner: Mutex<Option<indicatif::ProgressBar>>,
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
        // Draws only when stderr is a terminal: nothing lands in a log file or a pipe.
        let pb = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg}") {
            pb.set_style(style);
        }
        // The colour is ours to decide (NO_COLOR, CLICOLOR_FORCE), not the terminal library's.
        let message = "waiting for sign-in…";
        if crate::report::colour_stderr() {
            pb.set_message(format!("\x1b[36m{message}\x1b[0m"));
        } else {
            pb.set_message(message);
        }
        pb.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut s) = self.spinner.lock() {
            *s = Some(pb);
        }
    }

    fn device_code_done(&self) {
        if let Some(pb) = self.spinner.lock().ok().and_then(|mut s| s.take()) {
            pb.finish_and_clear();
        }
    }

    // The rest is the plain default's.
    fn sign_in_url(&self, url: &str, browser_opened: bool) {
        prompt::Stderr.sign_in_url(url, browser_opened);
    }

    fn notice(&self, message: &str) {
        prompt::Stderr.notice(message);
    }

    fn read_pasted<'a>(
        &'a self,
        request: &'a PasteRequest<'a>,
    ) -> BoxFuture<'a, std::io::Result<Option<SecretString>>> {
        prompt::Stderr.read_pasted(request)
    }
}
