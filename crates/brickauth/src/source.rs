//! [`Source`]: one profile's tokens — cached, then the refresh token, then the profile's flow.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use brickauth_cache::{CachedToken, Identity, Removed, TokenOptions, TokenProvider};
use brickauth_core::source::SourceError;
use brickauth_core::{AccessToken, BoxFuture, Interaction, TokenClient};
use brickauth_profile::Profile;

use crate::{Auth, Result};

/// A profile's token source: [`TokenProvider`] (the cache, single flight, the flow) for the
/// profile as resolved — its tenant found from the workspace when it names none, and found again
/// once when the workspace's tenant changed. Cheap to build; nothing touches the network until a
/// token is asked for and the cache has none.
///
/// Clones share one state: a tenant relearned through one is used by all.
#[derive(Clone)]
pub struct Source {
    shared: Arc<Shared>,
}

struct Shared {
    auth: Auth,
    interaction: Interaction,
    current: Mutex<Arc<Current>>,
}

/// The provider for the profile as it is now (the tenant may be relearned).
struct Current {
    provider: TokenProvider,
    profile: Arc<Profile>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source").field("profile", &self.profile().name()).finish_non_exhaustive()
    }
}

impl Source {
    pub(crate) fn new(auth: Auth, mut profile: Profile, interaction: Interaction) -> Result<Source> {
        crate::tenant::fill(&auth, &mut profile)?;
        let current = Current::new(&auth, profile, interaction)?;
        Ok(Source { shared: Arc::new(Shared { auth, interaction, current: Mutex::new(Arc::new(current)) }) })
    }

    /// The resolver this source came from.
    #[cfg_attr(not(feature = "azure-core"), allow(dead_code))]
    pub(crate) fn shared_auth(&self) -> &Auth {
        &self.shared.auth
    }

    /// Whether a person may be asked to sign in.
    #[cfg_attr(not(feature = "azure-core"), allow(dead_code))]
    pub(crate) fn interaction(&self) -> Interaction {
        self.shared.interaction
    }

    /// Another handle to the same source.
    pub(crate) fn share(&self) -> Source {
        self.clone()
    }

    fn current(&self) -> Arc<Current> {
        self.shared.current.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The profile as resolved (`tenant_id` filled in from the workspace when it had none).
    pub fn profile(&self) -> Arc<Profile> {
        self.current().profile.clone()
    }

    /// The cache identity tokens are kept under.
    pub fn identity(&self) -> Identity {
        self.current().provider.identity().clone()
    }

    /// A cached token with at least `min_validity` left, if there is one: no network, no lock,
    /// no runtime.
    pub fn cached(&self, min_validity: Duration) -> Result<Option<CachedToken>> {
        Ok(self.current().provider.cached(min_validity)?)
    }

    /// A token valid for a while yet (the provider's default margin).
    pub async fn token(&self) -> Result<CachedToken> {
        self.token_with(TokenOptions::default()).await
    }

    /// A token with these options: cached unless `force_refresh`, else renewed. When the
    /// profile's tenant was found from its workspace and authentication fails, the workspace is
    /// asked again; if it names another tenant now, that one is remembered and tried once.
    pub async fn token_with(&self, opts: TokenOptions) -> Result<CachedToken> {
        let current = self.current();
        let err = match current.provider.token(opts).await {
            Ok(t) => return Ok(t),
            Err(e) if is_auth_failure(&e) => e,
            Err(e) => return Err(e.into()),
        };
        match crate::tenant::relearn(&self.shared.auth, &current.profile).await {
            Ok(Some(again)) => {
                let next = Arc::new(Current::new(&self.shared.auth, again, self.shared.interaction)?);
                *self.shared.current.lock().unwrap_or_else(PoisonError::into_inner) = next.clone();
                Ok(next.provider.token(opts).await?)
            }
            Ok(None) => Err(err.into()),
            Err(e) => {
                tracing::warn!("cannot ask the workspace for its tenant again: {e}");
                Err(err.into())
            }
        }
    }

    /// [`Source::token_with`] for programs without async: the cache first (no runtime), then
    /// the process's runtime ([`crate::block_on`]).
    pub fn blocking_token_with(&self, opts: TokenOptions) -> Result<CachedToken> {
        if !opts.force_refresh
            && let Some(t) = self.cached(opts.min_validity)?
        {
            tracing::debug!(expires_on = t.access_token.expires_on, "answered from the cache");
            return Ok(t);
        }
        crate::block_on(self.token_with(opts))?
    }

    /// [`Source::token`] for programs without async.
    pub fn blocking_token(&self) -> Result<CachedToken> {
        self.blocking_token_with(TokenOptions::default())
    }

    /// `t`'s refresh token, opened from the key store when the cache keeps it sealed (the one way
    /// a refresh token leaves the cache: `token -o json --include-refresh-token`).
    pub fn refresh_token(&self, t: &CachedToken) -> Result<Option<brickauth_core::SecretString>> {
        Ok(self.current().provider.cache().refresh_token(t)?)
    }

    /// Run the profile's flow now, whatever the cache holds, and cache the result.
    pub async fn login(&self) -> Result<CachedToken> {
        Ok(self.current().provider.login().await?)
    }

    /// Forget the profile's sign-in: its account's tokens and the profile's binding.
    pub fn logout(&self) -> Result<Removed> {
        Ok(self.current().provider.logout()?)
    }
}

impl Current {
    fn new(auth: &Auth, profile: Profile, interaction: Interaction) -> Result<Current> {
        let cache = auth.cache_for(&profile)?;
        let profile = Arc::new(profile);
        // Cheap: the HTTP client is built on the first request, never on the cached path.
        let mut client = TokenClient::from_config(auth.http_config()?);
        if let Some(observer) = &auth.options().observer {
            client = client.with_observer(observer.clone());
        }
        let mut provider =
            TokenProvider::from_settings(cache, profile.clone())?.with_interaction(interaction).with_client(client);
        if let Some(prompt) = &auth.options().prompt {
            provider = provider.with_prompt(prompt.clone());
        }
        Ok(Current { provider, profile })
    }
}

/// Whether the failure is the identity provider saying no (worth asking the workspace for its
/// tenant again), not the network or a setting.
fn is_auth_failure(e: &brickauth_cache::ProviderError) -> bool {
    e.class() == brickauth_core::error::ErrorClass::Auth
}

/// The Databricks client (and any [`brickauth_core::TokenSource`] consumer) asks before every
/// request.
impl brickauth_core::TokenSource for Source {
    fn token(&self, force_refresh: bool) -> BoxFuture<'_, Result<AccessToken, SourceError>> {
        Box::pin(async move {
            let opts = TokenOptions { force_refresh, ..TokenOptions::default() };
            self.token_with(opts).await.map(|t| t.access_token).map_err(|e| Box::new(e) as SourceError)
        })
    }
}
