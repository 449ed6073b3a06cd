//! `token`, `login`, `logout` and `auth token`: getting tokens through the cache.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use brickauth_cache::{CachedToken, TokenOptions, TokenProvider};
use brickauth_core::Settings;
use brickauth_profile::{Profile, ProfileError, ProfileFile};

use brickauth_profile::Origin;

use crate::cli::{AuthTokenArgs, AzTokenArgs, LoginArgs, LogoutArgs, TokenArgs, TokenFormat};
use crate::cmd::{print, status};
use crate::context::{self, Context, with_profile_note};
use crate::output::{self, TokenMeta};
use crate::report::Reported;

/// The default margin: a token with less validity left is renewed.
const DEFAULT_MIN_VALIDITY: u64 = 300;
/// Azure Databricks rejects tokens with 30 s or less left; never hand out one closer than this.
const FLOOR: u64 = 40;

/// `brickauth token`.
pub fn token(cx: &Context, args: &TokenArgs) -> Result<ExitCode> {
    let mut profile = cx.profile(None)?;
    az_overrides(&mut profile, &args.az)?;
    let opts = TokenOptions {
        force_refresh: args.force_refresh,
        min_validity: Duration::from_secs(args.min_validity.unwrap_or(DEFAULT_MIN_VALIDITY).max(FLOOR)),
    };
    if args.include_refresh_token && args.output != Some(TokenFormat::Json) {
        tracing::warn!("--include-refresh-token has no effect without -o json: the refresh token is not printed");
    }
    let (mut t, provider, profile) = acquire_for(profile, context::interaction(args.no_browser), opts)?;
    if args.include_refresh_token && args.output == Some(TokenFormat::Json) {
        t.refresh_token = provider.cache().refresh_token(&t)?; // a sealed one is opened only when asked for
    }
    let lifetime = t.access_token.expires_on.saturating_sub(brickauth_core::now());
    if args.min_validity.is_some() && u64::try_from(lifetime).unwrap_or(0) < opts.min_validity.as_secs() {
        tracing::warn!(
            "--min-validity {} s is longer than this fresh token lives ({lifetime} s): every call will get \
             a new token; Entra access tokens live 60-90 minutes",
            opts.min_validity.as_secs()
        );
    }
    // az's default output is JSON: a `--query` without `-o` means JSON too.
    let format = args.output.unwrap_or(if args.az.query.is_some() { TokenFormat::Json } else { TokenFormat::Raw });
    let text = match format {
        TokenFormat::Raw if args.az.query.is_none() => output::raw(&t),
        TokenFormat::Env if args.az.query.is_none() => output::env(&t, profile.get("host")),
        TokenFormat::Raw | TokenFormat::Env => {
            return Err(Reported {
                code: crate::report::Exit::Usage,
                message: "--query needs -o json or -o tsv".into(),
            }
            .into());
        }
        TokenFormat::Json | TokenFormat::Tsv => {
            let value =
                output::json_value(&t, &meta(&profile, t.identity.scopes.join(" ")), args.include_refresh_token);
            let value = output::query(value, args.az.query.as_deref())?;
            if format == TokenFormat::Json { output::pretty(&value) } else { output::tsv(&value) }
        }
    };
    print(&text)
}

/// az's `--resource`, `--scope` and `--tenant`: another scope or tenant for the same profile — a
/// different cache identity, so a token for one never answers for the other.
pub fn az_overrides(profile: &mut Profile, az: &AzTokenArgs) -> Result<()> {
    if let Some(resource) = &az.resource {
        profile.set("scopes", &output::resource_scope(resource), Origin::CommandLine("--resource".into()));
    }
    if !az.scope.is_empty() {
        let scopes: Vec<&str> = az.scope.iter().flat_map(|s| s.split_whitespace()).collect();
        profile.set("scopes", &scopes.join(" "), Origin::CommandLine("--scope".into()));
    }
    if let Some(tenant) = &az.tenant {
        profile.set("tenant_id", tenant, Origin::CommandLine("--tenant".into()));
    }
    Ok(())
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

pub(crate) fn meta(profile: &Profile, scope: String) -> TokenMeta<'_> {
    TokenMeta {
        profile: profile.name(),
        flow: profile.flow().name,
        scope,
        tenant: profile.get("tenant_id").unwrap_or_default(),
        subscription: subscription(profile),
    }
}

/// The Azure subscription the profile names: `azure_subscription_id`, else the one in
/// `azure_workspace_resource_id` (`/subscriptions/<id>/resourceGroups/…`).
pub(crate) fn subscription(profile: &Profile) -> Option<String> {
    if let Some(sub) = profile.get("azure_subscription_id").map(str::trim).filter(|s| !s.is_empty()) {
        return Some(sub.to_owned());
    }
    let id = profile.get("azure_workspace_resource_id")?;
    let mut parts = id.trim().trim_start_matches('/').split('/');
    match (parts.next(), parts.next()) {
        (Some(k), Some(sub)) if k.eq_ignore_ascii_case("subscriptions") && !sub.is_empty() => Some(sub.to_owned()),
        _ => None,
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
    let expires_on = t.access_token.expires_on;
    eprintln!(
        "Signed in as {} with profile `{}`; the token is valid until {} ({}).",
        output::who(&t, profile.get("client_id")),
        profile.name(),
        output::local_with_zone(expires_on),
        status::relative(expires_on - brickauth_core::now()),
    );
    Ok(ExitCode::SUCCESS)
}

/// The token's principal and whether it is an application (a service principal or managed
/// identity) rather than a user: no user name, or the access token says so (`idtyp = app`, or a
/// "user name" that is the token's own `appid`/`azp`). Applications are named by their client id:
/// the token's `appid`/`azp` claim, else the identity's client id.
pub fn principal(t: &CachedToken) -> (String, bool) {
    let claims = brickauth_core::jwt::decode(t.access_token.expose()).ok().map(|j| j.claims);
    let claim = |k: &str| claims.as_ref().and_then(|c| c.get(k)).and_then(|v| v.as_str());
    let app = claim("appid").or_else(|| claim("azp"));
    let is_app = claim("idtyp") == Some("app")
        || t.account.username.is_none()
        || t.account.username.as_deref().zip(app).is_some_and(|(u, a)| u.eq_ignore_ascii_case(a));
    match (&t.account.username, is_app) {
        (Some(u), false) => (u.clone(), false),
        _ => (app.unwrap_or(&t.identity.client_id).to_owned(), true),
    }
}

/// `brickauth logout [--all]`: forget the profile's sign-in, and say which profiles lost theirs
/// with it (tokens are shared by account, not owned by a profile).
pub fn logout(cx: &Context, args: &LogoutArgs) -> Result<ExitCode> {
    if args.all {
        let n = brickauth_cache::TokenCache::from_env()?.clear()?;
        eprintln!("Removed {n} cached token entr{} of every profile.", if n == 1 { "y" } else { "ies" });
        return Ok(ExitCode::SUCCESS);
    }
    let file = cx.file()?;
    let profile = file.select(cx.profile.as_deref())?;
    let name = profile.name().to_owned();
    let (provider, _) = context::provider(profile, brickauth_core::Interaction::NONE)?;
    let removed = provider.logout()?;
    if removed.accounts.is_empty() {
        let unbound = if removed.profiles.is_empty() { "" } else { " (its binding is removed)" };
        eprintln!("Profile `{name}` is not signed in; no cached token removed{unbound}.");
        return Ok(ExitCode::SUCCESS);
    }
    // Profiles that name a removed account by `username` were served its token too.
    let mut signed_out: BTreeSet<String> = removed.profiles.iter().cloned().collect();
    signed_out.insert(name.clone());
    for other in file.names() {
        let Ok(p) = file.profile(other) else { continue };
        let Some(user) = p.get("username") else { continue };
        let same_identity = brickauth_core::flow::app_config(&p)
            .is_ok_and(|app| brickauth_cache::Identity::of(&app) == *provider.identity());
        if same_identity
            && removed
                .accounts
                .iter()
                .any(|a| a.username.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(user.trim())))
        {
            signed_out.insert(other.to_owned());
        }
    }
    let accounts: Vec<String> = removed
        .accounts
        .iter()
        .map(|a| a.username.clone().unwrap_or_else(|| format!("service principal {}", provider.identity().client_id)))
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

/// `brickauth auth token [--profile P | --host H] [--force-refresh]`: the Databricks CLI's
/// token-helper interface.
pub fn auth_token(cx: &Context, args: &AuthTokenArgs) -> Result<ExitCode> {
    let profile = match (&args.positional, &cx.profile, &cx.host) {
        (Some(p), _, _) | (None, Some(p), _) => cx.sources()?.named(p)?,
        (None, None, Some(h)) if cx.flow.is_none() => profile_for_host(&cx.file()?, h, &|k| std::env::var(k).ok())?,
        (None, None, _) => cx.profile(None)?,
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
                    code: crate::report::Exit::Usage,
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
                code: crate::report::Exit::Usage,
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
        code: crate::report::Exit::Usage,
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
        Err(e) if crate::report::exit_code(&e) == crate::report::Exit::Auth => e,
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
