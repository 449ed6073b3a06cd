//! [`TokenProvider`]: silent token acquisition over the cache — cached token, else refresh-token
//! grant, else the profile's flow — with one token request per renewal however many callers ask.
//!
//! The order (DESIGN §5):
//!
//! 0. Which cached token is the profile's: the one of the account its `username` names, else
//!    the one its own flow last signed in (its binding) — never another profile's account. A
//!    binding made by a flow with an [`account_credential`](GrantFlow::account_credential) (a
//!    configured refresh token) holds only while that credential is unchanged: the flow is built
//!    to compare its keyed fingerprint (for such profiles only: building it resolves the
//!    credential from its source).
//! 1. A cached access token valid for `max(min_validity, 40 s)` and not past the server's
//!    `refresh_on` is returned at once: one file read, no lock, no HTTP client, no await.
//! 2. Otherwise the caller queues on the provider's async mutex (other tasks of this process),
//!    then on the cache's file lock (other processes), and reads the cache again: whoever went
//!    first has usually renewed the token already, and it is returned without a request.
//! 3. A refresh token in the entry is redeemed; the rotated refresh token replaces the old one.
//!    If Entra rejects it (`invalid_grant`) it is dropped and step 4 runs.
//! 4. The flow is built (only now: building may resolve secrets or run a command) and run. An
//!    interactive flow without a terminal is not run ([`ProviderError::NeedsLogin`], which the
//!    caller turns into "sign in with …"), so scripts never hang on a prompt. Whatever the flow,
//!    an answer for another account than the profile's `username` is refused
//!    ([`ProviderError::WrongAccount`]) and nothing is cached.
//!
//! When step 3 or 4 fails and the cached access token still has at least 40 s left, that token
//! is returned with a warning, as MSAL does — unless the caller forced a refresh. Such a
//! refresh (the token is merely close to expiry, or past the server's `refresh_in`) gets one
//! attempt rather than the client's retry budget, so an Entra outage does not stall every call
//! for a minute while a usable token is at hand.
//!
//! **Coalescing.** At steps 1 and 2 (before the mutex, after it, and under the file lock) a
//! cached token with at least the 40 s floor left is returned instead of renewing when
//!
//! - it is another token than the one this call saw when it started: someone renewed it while
//!   this call waited (also an older brickauth, which records no time); or
//! - the caller forced a refresh, and the token was received no earlier than [`COALESCE_WINDOW`]
//!   (5 s) before this call started — by another task or process while this one waited, or just
//!   before it began — as the entry's `obtained_at_ms` says. Not when the refresh is forced
//!   because the server refused the token handed out ([`TokenProvider::token_refused`], the
//!   Databricks client's retry after a 401): that token is never handed out again.
//!
//! Such a token is as fresh as a renewal now would make it. So N forced refreshes at once send one
//! token request, and so do SDK processes that each pass `--force-refresh` and start one after
//! another over a few seconds. The price: a forced refresh within 5 s of any renewal gets that
//! renewal's token, not a newer one. An entry without `obtained_at_ms` counts as old. (A call that
//! is not forced keeps the server's `refresh_in`: a token it found due is renewed even if new.)
//!
//! The file lock is held from step 2 to the end, across the token request, so that other
//! processes wait and re-read rather than send their own request. The one exception is an
//! interactive flow: a person may take minutes to sign in, and every brickauth process using the
//! cache directory — whatever its identity — would wait on the lock meanwhile. Interactive flows
//! therefore run without the file lock (still under the provider's mutex), which is re-taken to
//! store the result.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use brickauth_core::{
    Account, AppConfig, AuthError, ConfigError, FlowContext, GrantFlow, Interaction, RetryPolicy, Settings,
    TokenClient, grants, now,
};
use secrecy::{ExposeSecret, SecretString};

use crate::cache::{CacheLock, CachedToken, Removed, TokenCache};
use crate::error::{CacheError, ProviderError};
use crate::identity::{AccountHint, Identity, same_username};
use crate::secure;
use crate::{DEFAULT_MIN_VALIDITY, now_ms};

/// How long before a forced refresh started a token may have been received and still be
/// returned instead of a renewal. The coalescing rule: a forced refresh returns the cached token
/// (with at least 40 s left) when it was received no earlier than this before the call started,
/// or when someone renewed it while the call waited; so N forced refreshes send one request.
pub const COALESCE_WINDOW: Duration = Duration::from_secs(5);

/// [`COALESCE_WINDOW`] in milliseconds.
fn window_ms() -> i64 {
    i64::try_from(COALESCE_WINDOW.as_millis()).unwrap_or(i64::MAX)
}

/// Where the provider's flow comes from.
enum FlowSource {
    /// Built by the caller.
    Built(Box<dyn GrantFlow>),
    /// Built from these settings on first need (a cache miss), then kept.
    Settings(Arc<dyn Settings>, OnceLock<Box<dyn GrantFlow>>),
}

/// What [`TokenProvider::token`] is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenOptions {
    /// Renew the token even if the cached one is still valid (`--force-refresh`). Callers that
    /// ask at the same moment still share one renewal, and a token received within
    /// [`COALESCE_WINDOW`] before the call started is taken as that renewal.
    pub force_refresh: bool,
    /// How long the returned token must stay valid at least (never less than 40 s is applied).
    pub min_validity: Duration,
}

impl Default for TokenOptions {
    /// No forced refresh; five minutes of validity.
    fn default() -> Self {
        TokenOptions { force_refresh: false, min_validity: DEFAULT_MIN_VALIDITY }
    }
}

/// Silent token acquisition for one profile: an identity, an account hint and a flow.
///
/// `Send + Sync`: share one provider (in an `Arc`) between tasks to share its single-flight
/// mutex; separate providers on one cache directory still coordinate through the file lock.
/// Async methods need a Tokio runtime with the time driver enabled.
pub struct TokenProvider {
    cache: TokenCache,
    app: AppConfig,
    identity: Identity,
    account: AccountHint,
    /// The profile's name, for messages (the binding name may differ: see [`AccountHint::of`]).
    name: String,
    flow: FlowSource,
    interaction: Interaction,
    prompt: Arc<dyn brickauth_core::Prompt>,
    client: OnceLock<TokenClient>,
    flight: tokio::sync::Mutex<()>,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("cache", &self.cache)
            .field("identity", &self.identity)
            .field("account", &self.account)
            .field("interaction", &self.interaction)
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// A provider of the tokens `flow` gets (for the app [`GrantFlow::app`] names), cached in
    /// `cache`, for the account `account` means.
    pub fn new(cache: TokenCache, account: AccountHint, flow: Box<dyn GrantFlow>) -> TokenProvider {
        let app = flow.app().clone();
        let name = account.profile.clone();
        Self::with_source(cache, app, account, name, FlowSource::Built(flow))
    }

    /// A provider for a profile's settings: the identity comes from the settings alone (the
    /// registered flow's cache identity — no secret resolved, no I/O), the account from
    /// [`AccountHint::of`] (its `username` and the name its sign-ins are bound under), and the flow is built from them only when the cache
    /// cannot answer (building may resolve secrets or run a command).
    ///
    /// Fails when the settings name no registered flow or an invalid tenant, client id or
    /// authority.
    pub fn from_settings(cache: TokenCache, settings: Arc<dyn Settings>) -> Result<TokenProvider, ConfigError> {
        let app = brickauth_core::flow::app_config(&*settings)?;
        let account = AccountHint::of(&*settings);
        let name = settings.profile_name().to_owned();
        Ok(Self::with_source(cache, app, account, name, FlowSource::Settings(settings, OnceLock::new())))
    }

    fn with_source(
        cache: TokenCache,
        app: AppConfig,
        account: AccountHint,
        name: String,
        flow: FlowSource,
    ) -> TokenProvider {
        TokenProvider {
            cache,
            identity: Identity::of(&app),
            app,
            account,
            name,
            flow,
            interaction: Interaction::NONE,
            prompt: Arc::new(brickauth_core::prompt::Stderr),
            client: OnceLock::new(),
            flight: tokio::sync::Mutex::new(()),
        }
    }

    /// What the user can do in this process (default [`Interaction::NONE`]: interactive flows
    /// are refused with [`ProviderError::NeedsLogin`]).
    pub fn with_interaction(mut self, interaction: Interaction) -> Self {
        self.interaction = interaction;
        self
    }

    /// Where interactive flows show the device code and the sign-in URL and read a pasted answer
    /// (default [`brickauth_core::prompt::Stderr`]).
    pub fn with_prompt(mut self, prompt: Arc<dyn brickauth_core::Prompt>) -> Self {
        self.prompt = prompt;
        self
    }

    /// The HTTP client for token requests. Without one, `TokenClient::new()` is built on the
    /// first request — never on the cached path.
    pub fn with_client(self, client: TokenClient) -> Self {
        // A fresh OnceLock: `set` cannot fail.
        let _ = self.client.set(client);
        self
    }

    /// The identity tokens are cached under.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The cache this provider uses.
    pub fn cache(&self) -> &TokenCache {
        &self.cache
    }

    /// The account this provider serves.
    pub fn account(&self) -> &AccountHint {
        &self.account
    }

    /// The cached-token path: a token valid for at least `min_validity` (and never less than
    /// 40 s) and not past its `refresh_on`, else `None`. No runtime, no network, no lock — not
    /// even for a corrupt file (it reads as empty; the locked path moves it aside).
    pub fn cached(&self, min_validity: Duration) -> Result<Option<CachedToken>, CacheError> {
        let found = self.cache.read()?.find(&self.identity, &self.account);
        let Some((token, credential)) = found.filter(|(t, _)| t.valid_for(min_validity, now())) else {
            return Ok(None);
        };
        Ok(self.still_bound(token, credential.as_deref()))
    }

    /// Silent acquisition: the cached token, else a refresh-token grant, else the flow (see the
    /// module documentation for the exact order).
    pub async fn token(&self, opts: TokenOptions) -> Result<CachedToken, ProviderError> {
        self.acquire(opts, false).await
    }

    /// A forced refresh because the server refused the token this provider handed out (the
    /// Databricks client's retry after a 401; [`TokenSource::token`](brickauth_core::TokenSource)
    /// with `force_refresh`, whose contract is "never the one handed out last"). The coalescing
    /// window does not apply — the token cached when the call started is, as a rule, the refused
    /// one, however new —, but a token someone renewed while the call waited is still taken.
    pub async fn token_refused(&self, opts: TokenOptions) -> Result<CachedToken, ProviderError> {
        self.acquire(TokenOptions { force_refresh: true, ..opts }, true).await
    }

    /// [`token`](Self::token), or with `refused` [`token_refused`](Self::token_refused).
    async fn acquire(&self, opts: TokenOptions, refused: bool) -> Result<CachedToken, ProviderError> {
        // (1) The hot path. Remember which token was there, and when this call started, so that
        // a renewal done by someone else just before or while this call waits is recognised.
        let since = (opts.force_refresh && !refused).then(|| now_ms().saturating_sub(window_ms()));
        let current = self.current(self.cache.read()?.find(&self.identity, &self.account));
        if !opts.force_refresh
            && let Some(t) = current.as_ref().filter(|t| t.valid_for(opts.min_validity, now()))
        {
            tracing::debug!(identity = %self.identity, expires_on = t.access_token.expires_on, "using cached token");
            return Ok(t.clone());
        }
        let seen = current.as_ref().map(|t| t.access_token.secret.clone());
        if let Some(t) = self.renewed(seen.as_ref(), since, current) {
            return Ok(t);
        }

        // (2) Single flight: this process, then every process, then look again.
        let _flight = self.flight.lock().await;
        if let Some(t) =
            self.renewed(seen.as_ref(), since, self.current(self.cache.read()?.find(&self.identity, &self.account)))
        {
            return Ok(t);
        }
        let lock = self.cache.lock_async().await?;
        let current = self.current(self.cache.find_locked(&lock, &self.identity, &self.account)?);
        if let Some(t) = self.renewed(seen.as_ref(), since, current.clone()) {
            return Ok(t);
        }

        // (3) and (4), with the still-usable cached token as a fallback.
        let fallback = current.clone().filter(|t| !opts.force_refresh && t.usable(now()));
        match self.renew(lock, current, fallback.is_some()).await {
            Ok(t) => Ok(t),
            Err(e) => match fallback {
                Some(old) => {
                    tracing::warn!(
                        "renewing the token for {} failed; using the cached one, valid for {} s more: {e}",
                        self.identity,
                        old.access_token.remaining(now())
                    );
                    Ok(old)
                }
                None => Err(e),
            },
        }
    }

    /// Always run the flow and store its result, binding the profile to the account
    /// (`brickauth login`). An interactive flow without a terminal is refused with
    /// [`ProviderError::NeedsLogin`].
    pub async fn login(&self) -> Result<CachedToken, ProviderError> {
        let _flight = self.flight.lock().await;
        let lock = self.cache.lock_async().await?;
        self.run_flow(self.flow()?, lock, "cannot sign in").await
    }

    /// Run `flow` in place of the profile's own and store its result under this provider's
    /// identity, binding the profile to the account, exactly as [`login`](Self::login) does: a
    /// step-up, when the profile's flow was refused for multi-factor authentication and a person
    /// chose to sign in another way. Later calls renew from the stored refresh token silently.
    ///
    /// `flow` must request tokens for this provider's identity (the caller builds it from the
    /// same settings; a warning is logged otherwise), and an answer for another account than the
    /// profile's `username` is refused as always.
    pub async fn login_with(&self, flow: &dyn GrantFlow) -> Result<CachedToken, ProviderError> {
        let _flight = self.flight.lock().await;
        let lock = self.cache.lock_async().await?;
        self.run_flow(flow, lock, "cannot sign in").await
    }

    /// Forget this profile's cached token (see [`TokenCache::remove`]): what was removed, and
    /// every profile that lost its sign-in with it.
    pub fn logout(&self) -> Result<Removed, CacheError> {
        self.cache.remove(&self.identity, &self.account)
    }

    /// The flow, built on first use when the provider was made from settings.
    fn flow(&self) -> Result<&dyn GrantFlow, ConfigError> {
        match &self.flow {
            FlowSource::Built(flow) => Ok(flow.as_ref()),
            FlowSource::Settings(settings, built) => {
                if let Some(flow) = built.get() {
                    return Ok(flow.as_ref());
                }
                let flow = brickauth_core::flow::build(&**settings)?;
                Ok(built.get_or_init(|| flow).as_ref())
            }
        }
    }

    /// A found entry, if the profile is still bound to it (see [`still_bound`](Self::still_bound)).
    fn current(&self, found: Option<(CachedToken, Option<String>)>) -> Option<CachedToken> {
        let (token, credential) = found?;
        self.still_bound(token, credential.as_deref())
    }

    /// `token`, unless it was found through a binding whose credential fingerprint no longer
    /// matches the flow's configured credential (or cannot be checked): then the profile is
    /// treated as unbound, and its flow redeems the credential it has now.
    fn still_bound(&self, token: CachedToken, credential: Option<&str>) -> Option<CachedToken> {
        let Some(expected) = credential else { return Some(token) };
        let check = || -> Result<bool, String> {
            let flow = self.flow().map_err(|e| e.to_string())?;
            let Some(secret) = flow.account_credential() else { return Ok(false) };
            let Some(key) = self.cache.fingerprint_key(false).map_err(|e| e.to_string())? else { return Ok(false) };
            Ok(secure::same_fingerprint(&key, &secret, expected))
        };
        match check() {
            Ok(true) => Some(token),
            Ok(false) => {
                tracing::info!(
                    profile = %self.name,
                    "the profile's configured credential changed since it signed in; not using the cached token"
                );
                None
            }
            Err(e) => {
                tracing::debug!(profile = %self.name, error = %e, "cannot check the profile's credential");
                None
            }
        }
    }

    /// Refuse an answer for another account than the profile's `username`. An answer that
    /// names no account at all (no user name, object id or home account: a bare access token) has
    /// nothing to compare and is taken as the account the flow asked for.
    fn check_account(&self, account: &Account) -> Result<(), ProviderError> {
        let Some(expected) = &self.account.username else { return Ok(()) };
        match account.username.as_deref() {
            Some(actual) if same_username(actual, expected) => Ok(()),
            None if account.key().is_none() => {
                tracing::debug!(profile = %self.name, "the answer names no account; nothing to check");
                Ok(())
            }
            actual => {
                // The error says it (cleaned); a warning would repeat it, raw.
                tracing::debug!(profile = %self.name, "refusing a sign-in for another account");
                Err(ProviderError::WrongAccount {
                    profile: self.name.clone(),
                    expected: expected.clone(),
                    actual: actual.map(str::to_owned),
                })
            }
        }
    }

    /// A token someone renewed while this call waited or, for a forced refresh, just before it,
    /// if it will do: another token than the one this call saw at its start (`seen`), or one
    /// received at or after `since` (milliseconds since the epoch: [`COALESCE_WINDOW`] before a
    /// forced call started; `None` for other calls). Either is as fresh as a renewal now would
    /// make it, so it is taken if it has the 40 s floor left, even if `min_validity` asks for more
    /// than the server grants. An unchanged, older token is not taken: it did not satisfy the
    /// call at its start.
    fn renewed(
        &self,
        seen: Option<&SecretString>,
        since: Option<i64>,
        current: Option<CachedToken>,
    ) -> Option<CachedToken> {
        let t = current?;
        let changed = seen.is_none_or(|s| s.expose_secret() != t.access_token.expose());
        let recent = since.is_some_and(|since| t.obtained_since(since));
        ((changed || recent) && t.usable(now())).then(|| {
            tracing::debug!(
                identity = %self.identity,
                expires_on = t.access_token.expires_on,
                obtained_at_ms = t.obtained_at_ms,
                "a token renewed {} is taken instead of renewing again",
                if changed { "while this call waited" } else { "just before this call" },
            );
            t
        })
    }

    /// Steps (3) and (4), under `lock`. With `quick`, a usable token is cached already, so a
    /// refresh gets one attempt instead of the retry budget: failure costs nothing but time.
    async fn renew(
        &self,
        lock: CacheLock,
        current: Option<CachedToken>,
        quick: bool,
    ) -> Result<CachedToken, ProviderError> {
        let why = match current {
            None => "no token is cached for this profile".to_owned(),
            Some(entry) => match self.unseal(&lock, &entry) {
                Err(why) => why,
                Ok(None) => "the cached token is due for renewal and there is no refresh token".to_owned(),
                Ok(Some(rt)) => {
                    let rt = &rt;
                    let mut client = self.client()?;
                    if quick {
                        client = client.with_policy(RetryPolicy::never());
                    }
                    tracing::info!(
                        identity = %self.identity,
                        expires_on = entry.access_token.expires_on,
                        "refreshing the access token"
                    );
                    match grants::refresh(&client, &self.app, rt).await {
                        Ok(response) => {
                            if response.account.username.is_some() {
                                self.check_account(&response.account)?;
                            }
                            let stored = self.cache.store_locked(
                                &lock,
                                &self.identity,
                                &self.account.profile,
                                &response,
                                Some(&entry.account),
                                None,
                            )?;
                            tracing::info!(identity = %self.identity, expires_on = stored.access_token.expires_on, "token refreshed");
                            return Ok(stored);
                        }
                        Err(e) if e.is_invalid_grant() => {
                            let summary = e.entra().map(|x| x.summary().to_owned()).unwrap_or_default();
                            // At -v only: if signing in again fails, its error says this (the reason
                            // below); said here too, the server's text would be printed twice.
                            tracing::info!(
                                "the cached refresh token for {} was rejected ({summary}); dropping it and signing in again",
                                self.identity
                            );
                            self.cache.drop_refresh_token(&lock, &self.identity, &entry.account)?;
                            format!("the cached refresh token was rejected ({summary})")
                        }
                        Err(e) if e.entra().is_some_and(|x| x.error == "interaction_required") => {
                            // Conditional access wants the user again; the refresh token itself
                            // may still be good for other policies, so keep it.
                            // The error that follows says it; at -v it is logged once.
                            tracing::info!("refreshing the token for {} needs the user: {e}", self.identity);
                            format!(
                                "the identity provider asks for a new sign-in ({})",
                                e.entra().map(|x| x.summary()).unwrap_or_default()
                            )
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            },
        };
        self.run_flow(self.flow()?, lock, &why).await
    }

    /// The cached refresh token of `entry` in clear, opening it with the data key from its key
    /// store (the one place silent acquisition reads a key store). `Err(why)` when it cannot
    /// be used: a key gone from its store (the kernel keyring after a reboot, a cache copied from
    /// another machine) or a token that does not open is dropped; a store that fails or does not
    /// answer keeps it for later. Either way the profile signs in again, and `why` says why.
    fn unseal(&self, lock: &CacheLock, entry: &CachedToken) -> Result<Option<SecretString>, String> {
        match self.cache.refresh_token(entry) {
            Ok(rt) => Ok(rt),
            Err(e @ (CacheError::KeyMissing { .. } | CacheError::Unsealable)) => {
                tracing::warn!("{e}; signing in again");
                if let Err(drop) = self.cache.drop_refresh_token(lock, &self.identity, &entry.account) {
                    tracing::debug!(error = %drop, "cannot drop the unusable refresh token");
                }
                Err(e.to_string())
            }
            Err(e) => {
                tracing::warn!("{e}; signing in again");
                Err(format!("the cached refresh token cannot be read: {e}"))
            }
        }
    }

    /// Step (4): run `flow` (the profile's, or a step-up's), store the result. `why` says
    /// why we got here, for the [`ProviderError::NeedsLogin`] message.
    async fn run_flow(&self, flow: &dyn GrantFlow, lock: CacheLock, why: &str) -> Result<CachedToken, ProviderError> {
        let interactive = flow.interactive();
        if interactive && !self.interaction.terminal {
            return Err(ProviderError::NeedsLogin {
                profile: self.name.clone(),
                reason: format!("{why}; the profile's flow signs in interactively and no terminal is attached"),
            });
        }
        if flow.app() != &self.app {
            tracing::warn!(
                "the flow requests tokens for {}, but they are cached under {}",
                Identity::of(flow.app()),
                self.identity
            );
        }
        let client = self.client()?;
        let cx = FlowContext::new(&client, self.interaction).with_prompt(&*self.prompt);
        tracing::info!(identity = %self.identity, interactive, "running the profile's flow");
        let (response, lock) = if interactive {
            // A person may take minutes: do not hold up every other process meanwhile.
            drop(lock);
            let response = flow.acquire(&cx).await?;
            (response, self.cache.lock_async().await?)
        } else {
            (flow.acquire(&cx).await?, lock)
        };
        // Generic, whatever the flow: a profile that names its account gets that account or nothing.
        self.check_account(&response.account)?;
        if !flow.cacheable() {
            tracing::info!(identity = %self.identity, "the flow's tokens are not cached");
            return Ok(CachedToken::uncached(response.access_token, response.account, self.identity.clone()));
        }
        let credential = match flow.account_credential() {
            Some(secret) => {
                let key = self.cache.fingerprint_key(true)?.ok_or_else(|| {
                    CacheError::io(
                        "create",
                        secure::key_path(self.cache.dir()),
                        std::io::Error::other("no fingerprint key after creating one"),
                    )
                })?;
                Some(secure::fingerprint(&key, &secret))
            }
            None => None,
        };
        let stored =
            self.cache.store_locked(&lock, &self.identity, &self.account.profile, &response, None, Some(credential))?;
        tracing::info!(identity = %self.identity, expires_on = stored.access_token.expires_on, "signed in");
        Ok(stored)
    }

    /// The HTTP client, built on first use.
    fn client(&self) -> Result<TokenClient, AuthError> {
        if let Some(c) = self.client.get() {
            return Ok(c.clone());
        }
        let built = TokenClient::new()?;
        Ok(self.client.get_or_init(|| built).clone())
    }
}

/// The provider is a [`brickauth_core::TokenSource`]: the Databricks client asks it for a token
/// before every request, so long jobs never hold a stale one.
impl brickauth_core::TokenSource for TokenProvider {
    fn token(
        &self,
        force_refresh: bool,
    ) -> brickauth_core::BoxFuture<'_, Result<brickauth_core::AccessToken, brickauth_core::source::SourceError>> {
        Box::pin(async move {
            let opts = TokenOptions { force_refresh, ..TokenOptions::default() };
            let t = if force_refresh { self.token_refused(opts).await } else { TokenProvider::token(self, opts).await };
            t.map(|t| t.access_token).map_err(|e| Box::new(e) as brickauth_core::source::SourceError)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<TokenProvider>();
    }

    #[test]
    fn cached_path_builds_no_client() {
        let dir = tempfile::tempdir().unwrap();
        let app =
            AppConfig::new("organizations".parse().unwrap(), "04f0c124-f2bc-4f59-8241-bf6df9866bbd".parse().unwrap());
        let settings = brickauth_core::MapSettings::new("dev")
            .with("flow", "no-such-flow-is-built-here")
            .with("tenant_id", "organizations")
            .with("client_id", "04f0c124-f2bc-4f59-8241-bf6df9866bbd");
        let p = TokenProvider::with_source(
            TokenCache::at(dir.path()),
            app,
            AccountHint::new("dev"),
            "dev".into(),
            FlowSource::Settings(Arc::new(settings), OnceLock::new()),
        );
        assert!(p.cached(Duration::from_secs(60)).unwrap().is_none());
        assert!(p.client.get().is_none());
        assert!(!dir.path().join("tokens.lock").exists(), "the cached path takes no lock");
    }

    #[test]
    fn the_cached_path_takes_no_lock_even_on_a_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tokens.json"), "{garbage").unwrap();
        let app =
            AppConfig::new("organizations".parse().unwrap(), "04f0c124-f2bc-4f59-8241-bf6df9866bbd".parse().unwrap());
        let settings = brickauth_core::MapSettings::new("dev").with("flow", "x");
        let p = TokenProvider::with_source(
            TokenCache::at(dir.path()),
            app,
            AccountHint::new("dev"),
            "dev".into(),
            FlowSource::Settings(Arc::new(settings), OnceLock::new()),
        );
        assert!(p.cached(Duration::from_secs(60)).unwrap().is_none());
        assert!(!dir.path().join("tokens.lock").exists(), "no lock file created, none taken");
        assert!(dir.path().join("tokens.json").exists(), "left for the locked path to move aside");
    }
}
