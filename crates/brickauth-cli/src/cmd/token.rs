//! `token`, `login`, `logout` and `auth token`: getting tokens through the cache.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use brickauth_cache::{CachedToken, TokenOptions, TokenProvider};
use brickauth_core::Settings;
use brickauth_profile::Profile;

use crate::cli::{AuthTokenArgs, LoginArgs, LogoutArgs, TokenArgs, TokenFormat};
use crate::cmd::print;
use crate::context::{self, Context, with_profile_note};
use crate::output::{self, TokenMeta};

/// The default margin: a token with less validity left is renewed.
const DEFAULT_MIN_VALIDITY: u64 = 300;
/// Azure Databricks rejects tokens with 30 s or less left; never hand out one closer than this.
const FLOOR: u64 = 40;

/// `brickauth token`.
pub fn token(cx: &Context, args: &TokenArgs) -> Result<ExitCode> {
    let profile = cx.profile(args.flow.as_deref())?;
    let (provider, profile) = context::provider(profile, context::interaction(args.no_browser))?;
    let opts = TokenOptions {
        force_refresh: args.force_refresh,
        min_validity: Duration::from_secs(args.min_validity.unwrap_or(DEFAULT_MIN_VALIDITY).max(FLOOR)),
    };
    if args.include_refresh_token && args.output != TokenFormat::Json {
        tracing::warn!("--include-refresh-token has no effect without -o json: the refresh token is not printed");
    }
    let t = acquire(&provider, opts, &profile)?;
    let lifetime = t.access_token.expires_on.saturating_sub(brickauth_core::now());
    if args.min_validity.is_some() && u64::try_from(lifetime).unwrap_or(0) < opts.min_validity.as_secs() {
        tracing::warn!(
            "--min-validity {} s is longer than this fresh token lives ({lifetime} s): every call will get \
             a new token; Entra access tokens live 60-90 minutes",
            opts.min_validity.as_secs()
        );
    }
    let text = match args.output {
        TokenFormat::Raw => output::raw(&t),
        TokenFormat::Env => output::env(&t, profile.get("host")),
        TokenFormat::Json => output::json(&t, &meta(&profile, t.identity.scopes.join(" ")), args.include_refresh_token),
    };
    print(&text)
}

/// Cached first (no runtime, no network), then silent acquisition.
pub fn acquire(provider: &TokenProvider, opts: TokenOptions, profile: &Profile) -> Result<CachedToken> {
    if !opts.force_refresh
        && let Some(t) = provider.cached(opts.min_validity)?
    {
        tracing::debug!(expires_on = t.access_token.expires_on, "answered from the cache");
        return Ok(t);
    }
    let rt = context::runtime()?;
    rt.block_on(provider.token(opts)).map_err(|e| with_profile_note(e.into(), profile))
}

fn meta(profile: &Profile, scope: String) -> TokenMeta<'_> {
    TokenMeta {
        profile: profile.name(),
        flow: profile.flow().name,
        scope,
        tenant: profile.get("tenant_id").unwrap_or_default(),
    }
}

/// `brickauth login`: run the flow now, cache the result, say who signed in.
pub fn login(cx: &Context, args: &LoginArgs) -> Result<ExitCode> {
    let profile = cx.profile(None)?;
    // `login` is a person asking to sign in: interactive flows run even when stdin is a pipe
    // (paste mode reads the redirected URL from it; device code only prints to stderr).
    let interaction = brickauth_core::Interaction { terminal: true, ..context::interaction(args.no_browser) };
    let (provider, profile) = context::provider(profile, interaction)?;
    let rt = context::runtime()?;
    let t = rt.block_on(provider.login()).map_err(|e| with_profile_note(e.into(), &profile))?;
    eprintln!(
        "Signed in as {} with profile `{}`; the token is valid until {}.",
        output::who(&t, profile.get("client_id")),
        profile.name(),
        output::local_with_zone(t.access_token.expires_on)
    );
    Ok(ExitCode::SUCCESS)
}

/// `brickauth logout [--all]`.
pub fn logout(cx: &Context, args: &LogoutArgs) -> Result<ExitCode> {
    if args.all {
        let n = brickauth_cache::TokenCache::from_env()?.clear()?;
        eprintln!("Removed {n} cached token entr{} of every profile.", if n == 1 { "y" } else { "ies" });
        return Ok(ExitCode::SUCCESS);
    }
    let profile = cx.profile(None)?;
    let name = profile.name().to_owned();
    let (provider, _) = context::provider(profile, brickauth_core::Interaction::NONE)?;
    let n = provider.logout()?;
    eprintln!("Removed {n} cached token entr{} for profile `{name}`.", if n == 1 { "y" } else { "ies" });
    Ok(ExitCode::SUCCESS)
}

/// `brickauth auth token [--profile P | --host H] [--force-refresh]`: the Databricks CLI's
/// token-helper interface.
pub fn auth_token(cx: &Context, args: &AuthTokenArgs) -> Result<ExitCode> {
    let profile = match (&args.positional, &cx.profile, &args.host) {
        (Some(p), _, _) | (None, Some(p), _) => cx.file()?.profile(p)?,
        (None, None, Some(h)) => cx.file()?.find_by_host(h)?,
        (None, None, None) => cx.profile(None)?,
    };
    let (provider, profile) = context::provider(profile, brickauth_core::Interaction::NONE)?;
    let opts =
        TokenOptions { force_refresh: args.force_refresh, min_validity: Duration::from_secs(DEFAULT_MIN_VALIDITY) };
    let t = acquire(&provider, opts, &profile)?;
    print(&output::databricks_cli(&t))
}
