//! [`TokenProvider`]: silent token acquisition over the cache — cached token, else refresh-token
//! grant, else the profile's flow — with one token request per renewal however many callers ask.
//!
//! The order (DESIGN §5):
//!
//! 1. A cached access token valid for `max(min_validity, 40 s)` and not past the server's
//!    `refresh_on` is returned at once: one file read, no lock, no HTTP client, no await.
//! 2. Otherwise the caller queues on the provider's async mutex (other tasks of this process),
//!    then on the cache's file lock (other processes), and reads the cache again: whoever went
//!    first has usually renewed the token already, and it is returned without a request.
//! 3. A refresh token in the entry is redeemed; the rotated refresh token replaces the old one.
//!    If Entra rejects it (`invalid_grant`) it is dropped and step 4 runs.
//! 4. The flow is built (only now: building may resolve secrets or run a command) and run. An
//!    interactive flow without a terminal is not run: the error names the `brickauth login`
//!    command instead, so scripts never hang on a prompt.
//!
//! When step 3 or 4 fails and the cached access token still has at least 40 s left, that token
//! is returned with a warning, as MSAL does — unless the caller forced a refresh. Such a
//! refresh (the token is merely close to expiry, or past the server's `refresh_in`) gets one
//! attempt rather than the client's retry budget, so an Entra outage does not stall every call
//! for a minute while a usable token is at hand. A forced refresh compares tokens, not times:
//! a waiter takes the token another caller stored after it started, and renews otherwise.
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
    AppConfig, AuthError, ConfigError, FlowContext, GrantFlow, Interaction, RetryPolicy, TokenClient, grants, now,
};
use secrecy::{ExposeSecret, SecretString};

use crate::DEFAULT_MIN_VALIDITY;
use crate::cache::{CacheLock, CachedToken, TokenCache};
use crate::error::{CacheError, ProviderError};
use crate::identity::{AccountHint, Identity};

/// Builds the profile's grant flow. Called only on a cache miss, because building a flow may
/// resolve secrets (read a file, run a command).
pub type FlowFactory = Box<dyn Fn() -> Result<Box<dyn GrantFlow>, ConfigError> + Send + Sync>;

/// What [`TokenProvider::token`] is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenOptions {
    /// Renew the token even if the cached one is still valid (`--force-refresh`). Callers that
    /// ask at the same moment still share one renewal.
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
    flow: FlowFactory,
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
    /// A provider of tokens for `app`, cached in `cache`, for the account `account` means,
    /// obtained when needed from the flow `flow` builds.
    pub fn new(cache: TokenCache, app: AppConfig, account: AccountHint, flow: FlowFactory) -> TokenProvider {
        TokenProvider {
            cache,
            identity: Identity::of(&app),
            app,
            account,
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

    /// The cached-token path: a token valid for at least `min_validity` (and never less than
    /// 40 s) and not past its `refresh_on`, else `None`. No runtime, no network, no lock.
    pub fn cached(&self, min_validity: Duration) -> Result<Option<CachedToken>, CacheError> {
        let token = self.cache.lookup(&self.identity, &self.account)?;
        Ok(token.filter(|t| t.valid_for(min_validity, now())))
    }

    /// Silent acquisition: the cached token, else a refresh-token grant, else the flow (see the
    /// module documentation for the exact order).
    pub async fn token(&self, opts: TokenOptions) -> Result<CachedToken, ProviderError> {
        // (1) The hot path. Remember which token was there, so that a renewal done by someone
        // else while this call waits is recognised as such.
        let current = self.cache.lookup(&self.identity, &self.account)?;
        if !opts.force_refresh
            && let Some(t) = current.as_ref().filter(|t| t.valid_for(opts.min_validity, now()))
        {
            tracing::debug!(identity = %self.identity, expires_on = t.access_token.expires_on, "using cached token");
            return Ok(t.clone());
        }
        let seen = current.map(|t| t.access_token.secret);

        // (2) Single flight: this process, then every process, then look again.
        let _flight = self.flight.lock().await;
        if let Some(t) = self.renewed(seen.as_ref(), self.cache.lookup(&self.identity, &self.account)?) {
            return Ok(t);
        }
        let lock = self.cache.lock_async().await?;
        let current = self.cache.lookup(&self.identity, &self.account)?;
        if let Some(t) = self.renewed(seen.as_ref(), current.clone()) {
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
        self.run_flow(lock, "cannot sign in").await
    }

    /// Forget this profile's cached token (see [`TokenCache::remove`]); returns how many
    /// entries were removed.
    pub fn logout(&self) -> Result<usize, CacheError> {
        self.cache.remove(&self.identity, &self.account)
    }

    /// A token someone else renewed while this call waited, if it will do. A token other than
    /// the one this call started with is as fresh as a renewal now would make it, so it is taken
    /// if it has the 40 s floor left, even if `min_validity` asks for more than the server grants.
    /// An unchanged token is not taken: it did not satisfy `opts` when the call started.
    fn renewed(&self, seen: Option<&SecretString>, current: Option<CachedToken>) -> Option<CachedToken> {
        let t = current?;
        let changed = seen.is_none_or(|s| s.expose_secret() != t.access_token.expose());
        (changed && t.usable(now())).then(|| {
            tracing::debug!(identity = %self.identity, expires_on = t.access_token.expires_on, "token renewed meanwhile");
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
            Some(entry) => match &entry.refresh_token {
                None => "the cached token is due for renewal and there is no refresh token".to_owned(),
                Some(rt) => {
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
                            let stored = self.cache.store_locked(
                                &lock,
                                &self.identity,
                                &self.account.profile,
                                &response,
                                Some(&entry.account),
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
                            tracing::warn!("refreshing the token for {} needs the user: {e}", self.identity);
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
        self.run_flow(lock, &why).await
    }

    /// Step (4): build the flow, run it, store the result. `why` says why we got here, for the
    /// [`ProviderError::NeedsLogin`] message.
    async fn run_flow(&self, lock: CacheLock, why: &str) -> Result<CachedToken, ProviderError> {
        let flow = (self.flow)()?;
        let interactive = flow.interactive();
        if interactive && !self.interaction.terminal {
            return Err(ProviderError::NeedsLogin {
                profile: self.account.profile.clone(),
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
        if !flow.cacheable() {
            tracing::info!(identity = %self.identity, "the flow's tokens are not cached");
            return Ok(CachedToken {
                access_token: response.access_token,
                refresh_token: None,
                account: response.account,
                identity: self.identity.clone(),
            });
        }
        let stored = self.cache.store_locked(&lock, &self.identity, &self.account.profile, &response, None)?;
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
            TokenProvider::token(self, opts)
                .await
                .map(|t| t.access_token)
                .map_err(|e| Box::new(e) as brickauth_core::source::SourceError)
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
        let p = TokenProvider::new(
            TokenCache::at(dir.path()),
            app,
            AccountHint::new("dev"),
            Box::new(|| Err(ConfigError::general("not built in this test"))),
        );
        assert!(p.cached(Duration::from_secs(60)).unwrap().is_none());
        assert!(p.client.get().is_none());
        assert!(!dir.path().join("tokens.lock").exists(), "the cached path takes no lock");
    }
}
