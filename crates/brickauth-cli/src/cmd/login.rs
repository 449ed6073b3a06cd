//! `brickauth login`: run the profile's flow now, cache the result, say who signed in.

use std::process::ExitCode;

use anyhow::Result;
use brickauth_core::{Interaction, Settings};
use clap::Args;

use crate::context::{self, Context};
use crate::output;

/// `brickauth login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Do not open a browser: print the sign-in URL and read the redirected URL from stdin
    #[arg(long)]
    pub no_browser: bool,
}

/// `brickauth login`.
pub fn run(cx: &Context, args: &LoginArgs) -> Result<ExitCode> {
    let profile = cx.profile()?;
    // `login` is a person asking to sign in: interactive flows run even when stdin is a pipe
    // (paste mode reads the redirected URL from it; device code only prints to stderr).
    let interaction = Interaction { terminal: true, ..context::interaction(args.no_browser) };
    let source = cx.source(profile, interaction)?;
    let profile = source.profile();
    // A password sign-in refused for MFA may step up to a device code (context::step_up).
    let t = context::run(&profile, async {
        match source.login().await {
            Ok(t) => Ok(t),
            Err(e) => context::step_up(&source, e).await,
        }
    })?;
    let expires_on = t.access_token.expires_on;
    eprintln!(
        "Signed in as {} with profile `{}`; the token is valid until {} ({}).",
        output::who(&t, profile.get("client_id")),
        profile.name(),
        output::local_with_zone(expires_on),
        output::relative(expires_on - brickauth_core::now()),
    );
    // Signed in with no profile file: the next call needs the same `--host`; a profile makes it
    // the default (the workspace's tenant is found again from the host, or remembered).
    if profile.name().starts_with(crate::report::IMPLICIT)
        && let Some(host) = profile.get("host")
    {
        eprintln!(
            "To use it without --host: brickauth profiles add NAME --flow {} --set host={} --default",
            profile.flow().name,
            crate::report::shell_word(host)
        );
    }
    Ok(ExitCode::SUCCESS)
}
