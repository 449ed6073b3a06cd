//! `brickauth logout [--all]`: forget the profile's sign-in, and say which profiles lost theirs
//! with it (tokens are shared by account, not owned by a profile).

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::Result;
use brickauth_core::{Interaction, Settings};
use clap::Args;

use crate::context::Context;

/// `brickauth logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Forget every cached token of every profile
    #[arg(long)]
    pub all: bool,
}

/// `brickauth logout`.
pub fn run(cx: &Context, args: &LogoutArgs) -> Result<ExitCode> {
    if args.all {
        let n = brickauth_cache::TokenCache::from_env()?.clear()?;
        eprintln!("Removed {n} cached token entr{} of every profile.", if n == 1 { "y" } else { "ies" });
        return Ok(ExitCode::SUCCESS);
    }
    let profile = cx.profile()?;
    let name = profile.name().to_owned();
    let source = cx.source(profile, Interaction::NONE)?;
    let identity = source.identity();
    let removed = source.logout()?;
    if removed.accounts.is_empty() {
        let unbound = if removed.profiles.is_empty() { "" } else { " (its binding is removed)" };
        eprintln!("Profile `{name}` is not signed in; no cached token removed{unbound}.");
        return Ok(ExitCode::SUCCESS);
    }
    // Profiles (of either file) that name a removed account by `username` were served its token too.
    let mut signed_out: BTreeSet<String> = removed.profiles.iter().cloned().collect();
    signed_out.insert(name.clone());
    let others = if cx.flow.is_some() { Vec::new() } else { cx.sources()?.list() };
    for (other, p) in others {
        let Ok(p) = p else { continue };
        let Some(user) = p.get("username") else { continue };
        let same_identity =
            brickauth_core::flow::app_config(&p).is_ok_and(|app| brickauth_cache::Identity::of(&app) == identity);
        if same_identity
            && removed
                .accounts
                .iter()
                .any(|a| a.username.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(user.trim())))
        {
            signed_out.insert(other);
        }
    }
    let accounts: Vec<String> = removed
        .accounts
        .iter()
        .map(|a| match &a.username {
            Some(u) => brickauth_core::text::ServerText::new([]).clean(u),
            None => format!("service principal {}", identity.client_id),
        })
        .collect();
    let n = removed.accounts.len();
    let list = signed_out.into_iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ");
    eprintln!(
        "Signed out {} ({n} cached token entr{} removed). Profiles signed out with it: {list}.",
        accounts.join(", "),
        if n == 1 { "y" } else { "ies" }
    );
    Ok(ExitCode::SUCCESS)
}
