//! `token`, `login`, `logout` and `auth token`: getting tokens through the cache.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use brickauth_cache::{CachedToken, TokenOptions, TokenProvider};
use brickauth_core::Settings;
use brickauth_profile::{Profile, ProfileError, ProfileFile};

use crate::cli::{AuthTokenArgs, LoginArgs, LogoutArgs, TokenArgs, TokenFormat};
use crate::cmd::print;
use crate::context::{self, Context, with_profile_note};
use crate::output::{self, TokenMeta};
use crate::report::Reported;

/// The default margin: a token with less validity left is renewed.
const DEFAULT_MIN_VALIDITY: u64 = 300;
/// Azure Databricks rejects tokens with 30 s or less left; never hand out one closer than this.
const FLOOR: u64 = 40;

/// `brickauth token`.
pub fn token(cx: &Context, args: &TokenArgs) -> Result<ExitCode> {
    let profile = cx.profile(args.flow.as_deref())?;
    let opts = TokenOptions {
        force_refresh: args.force_refresh,
        min_validity: Duration::from_secs(args.min_validity.unwrap_or(DEFAULT_MIN_VALIDITY).max(FLOOR)),
    };
    let (t, _, profile) = acquire_for(profile, context::interaction(args.no_browser), opts)?;
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
    let who = t.account.username.as_deref().unwrap_or("(an account without a user name)");
    eprintln!(
        "Signed in as {who} with profile `{}`; the token is valid until {}.",
        profile.name(),
        output::local_az(t.access_token.expires_on)
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
        (None, None, Some(h)) => profile_for_host(&cx.file()?, h, &|k| std::env::var(k).ok())?,
        (None, None, None) => cx.profile(None)?,
    };
    let opts =
        TokenOptions { force_refresh: args.force_refresh, min_validity: Duration::from_secs(DEFAULT_MIN_VALIDITY) };
    let (t, _, _) = acquire_for(profile, brickauth_core::Interaction::NONE, opts)?;
    print(&output::databricks_cli(&t))
}

/// The profile `auth token --host H` means. One profile with that host: it. Several: the first
/// rule that picks one of them —
///
/// 1. the profile `$BRICKAUTH_PROFILE` names, else the one `$DATABRICKS_CONFIG_PROFILE` names (an
///    SDK configured through the environment passes that down to its helper);
/// 2. the one marked `default_for_host = true` (two marked: an error naming both);
/// 3. the file's `default_profile`;
///
/// otherwise an error naming the candidates and the one-line fix.
fn profile_for_host(file: &ProfileFile, host: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Profile> {
    let candidates = match file.find_by_host(host) {
        Ok(p) => return Ok(p),
        Err(ProfileError::AmbiguousHost { profiles, .. }) => profiles,
        Err(e) => return Err(e.into()),
    };
    let chosen = |name: &str, why: String| -> Result<Profile> {
        tracing::info!("{} profiles have host `{host}`; using `{name}`: {why}", candidates.len());
        Ok(file.profile(name)?)
    };
    for var in ["BRICKAUTH_PROFILE", "DATABRICKS_CONFIG_PROFILE"] {
        if let Some(name) = env(var).filter(|n| candidates.contains(n)) {
            return chosen(&name, format!("${var} names it"));
        }
    }
    let mut marked = Vec::new();
    for name in &candidates {
        let p = file.profile(name)?;
        match p.get(DEFAULT_FOR_HOST).map(str::trim) {
            None | Some("false") => {}
            Some("true") => marked.push(name.clone()),
            Some(v) => {
                return Err(Reported {
                    code: 2,
                    message: format!(
                        "{}: profile `{name}`, key `{DEFAULT_FOR_HOST}`: `{v}` is not true or false",
                        file.path().display()
                    ),
                }
                .into());
            }
        }
    }
    match marked.as_slice() {
        [one] => return chosen(one, format!("it has {DEFAULT_FOR_HOST} = true")),
        [] => {}
        several => {
            return Err(Reported {
                code: 2,
                message: format!(
                    "{}: profiles {} all have host `{host}` and {DEFAULT_FOR_HOST} = true; keep it on one",
                    file.path().display(),
                    several.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                ),
            }
            .into());
        }
    }
    if let Some(default) = file.default_profile().filter(|d| candidates.iter().any(|c| c == d)) {
        return chosen(default, "it is the file's default_profile".to_owned());
    }
    Err(Reported {
        code: 2,
        message: format!(
            "{}: profiles {} all have host `{host}`, and the caller named none of them. Fix with one line: add \
             `{DEFAULT_FOR_HOST} = true` to the one tools should get (e.g. [profiles.{}]), or set \
             DATABRICKS_CONFIG_PROFILE / BRICKAUTH_PROFILE for the tool, or run it under `brickauth -p NAME exec`",
            file.path().display(),
            candidates.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
            candidates[0]
        ),
    }
    .into())
}

/// The profile key that marks the profile `auth token --host` picks among several on one host.
const DEFAULT_FOR_HOST: &str = "default_for_host";

/// The provider for `profile`, and a token from it (cached first). When the tenant was filled in
/// from the workspace and authentication fails, the workspace is asked again: if it names another
/// tenant now, that one is remembered (with a warning) and tried once.
pub fn acquire_for(
    profile: Profile,
    interaction: brickauth_core::Interaction,
    opts: TokenOptions,
) -> Result<(CachedToken, TokenProvider, Arc<Profile>)> {
    let (provider, profile) = context::provider(profile, interaction)?;
    let err = match acquire(&provider, opts, &profile) {
        Ok(t) => return Ok((t, provider, profile)),
        Err(e) if crate::report::exit_code(&e) == 3 => e,
        Err(e) => return Err(e),
    };
    match super::workspace::relearn_tenant(&profile) {
        Ok(Some(again)) => {
            let (provider, profile) = context::provider(again, interaction)?;
            let t = acquire(&provider, opts, &profile)?;
            Ok((t, provider, profile))
        }
        Ok(None) => Err(err),
        Err(e) => {
            tracing::warn!("cannot ask the workspace for its tenant again: {e:#}");
            Err(err)
        }
    }
}
