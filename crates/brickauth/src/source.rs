//! [`Source`]: one profile's tokens — cached, then the refresh token, then the profile's flow.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use brickauth_cache::{CachedToken, Identity, ProviderError, Removed, TokenOptions, TokenProvider};
use brickauth_core::hints::Hint;
use brickauth_core::source::SourceError;
use brickauth_core::{AccessToken, BoxFuture, ConfigError, Interaction, SecretString, Settings, TokenClient};
use brickauth_profile::Profile;

use crate::{Auth, Error, Result};

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
        self.acquire(opts, false).await
    }

    /// [`token_with`](Self::token_with), or with `refused` a forced refresh because the server
    /// refused the token handed out ([`TokenProvider::token_refused`]: never that token again).
    async fn acquire(&self, opts: TokenOptions, refused: bool) -> Result<CachedToken> {
        let current = self.current();
        let err = match Self::ask(&current.provider, opts, refused).await {
            Ok(t) => return Ok(t),
            Err(e) if is_auth_failure(&e) => e,
            Err(e) => return Err(e.into()),
        };
        match crate::tenant::relearn(&self.shared.auth, &current.profile).await {
            Ok(Some(again)) => {
                let next = Arc::new(Current::new(&self.shared.auth, again, self.shared.interaction)?);
                *self.shared.current.lock().unwrap_or_else(PoisonError::into_inner) = next.clone();
                Ok(Self::ask(&next.provider, opts, refused).await?)
            }
            Ok(None) => Err(err.into()),
            Err(e) => {
                tracing::warn!("cannot ask the workspace for its tenant again: {e}");
                Err(err.into())
            }
        }
    }

    /// `provider`'s token: [`TokenProvider::token_refused`] when `refused`, else
    /// [`TokenProvider::token`].
    async fn ask(
        provider: &TokenProvider,
        opts: TokenOptions,
        refused: bool,
    ) -> std::result::Result<CachedToken, ProviderError> {
        if refused { provider.token_refused(opts).await } else { provider.token(opts).await }
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

    /// When `err` (from this source's [`token_with`](Self::token_with) or [`login`](Self::login))
    /// is the identity provider refusing the profile's flow, which signs in without a person, for
    /// want of one — multi-factor authentication (AADSTS50076, 50079, 50158 …), Conditional
    /// Access (53003 …) or `interaction_required` —: what a sign-in as a person would step up
    /// to. `None` for any other error, and for a profile whose own flow is interactive already.
    ///
    /// The library asks nobody: the caller decides whether a person is there and which
    /// interactive flow to offer ([`sign_in_with`](Self::sign_in_with)).
    pub fn step_up(&self, err: &Error) -> Option<StepUp> {
        let current = self.current();
        if current.profile.flow().interactive {
            return None;
        }
        let Error::Token(ProviderError::Auth(auth)) = err else { return None };
        let hint = auth.entra()?.hint()?;
        matches!(hint, Hint::MfaRequired | Hint::ConditionalAccess | Hint::InteractionRequired).then(|| StepUp {
            profile: current.profile.name().to_owned(),
            username: Settings::get(&*current.profile, "username").map(str::to_owned),
            hint,
        })
    }

    /// Sign in with the registered flow `flow` in place of the profile's own: built from the
    /// profile's settings (the same tenant, client id, scopes and `username`, which an
    /// interactive flow suggests as the account to sign in with), its token cached under the
    /// profile's identity and the profile bound to the account, as [`login`](Self::login) does.
    /// Later calls of the profile are then answered from that token and renewed silently with
    /// its refresh token — a step-up ([`step_up`](Self::step_up)) lasts as long as the sign-in.
    ///
    /// Fails with [`Error::Usage`] when that flow would cache its tokens under another identity
    /// than the profile's (its own default client id or tenant), and with [`Error::Config`]
    /// when no such flow is registered.
    pub async fn sign_in_with(&self, flow: &str) -> Result<CachedToken> {
        let current = self.current();
        let settings = WithFlow { profile: &current.profile, flow };
        let built = brickauth_core::flow::build(&settings)?;
        let ours = current.provider.identity();
        if Identity::of(built.app()) != *ours {
            return Err(Error::Usage(format!(
                "profile `{}` caches its tokens under {ours}, but the {flow} flow would sign in as {}: set                  `client_id` and `tenant_id` in the profile",
                current.profile.name(),
                Identity::of(built.app())
            )));
        }
        Ok(current.provider.login_with(&*built).await?)
    }
}

/// The identity provider wants a person where the profile's flow signs in without one (see
/// [`Source::step_up`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StepUp {
    /// The profile.
    pub profile: String,
    /// The account to sign in as: the profile's `username`, when it names one.
    pub username: Option<String>,
    /// What the identity provider asked for (multi-factor authentication, Conditional Access, a
    /// sign-in by a person).
    pub hint: Hint,
}

/// A profile's settings with another flow: what [`Source::sign_in_with`] builds.
struct WithFlow<'a> {
    profile: &'a Profile,
    flow: &'a str,
}

impl Settings for WithFlow<'_> {
    fn profile_name(&self) -> &str {
        Settings::profile_name(self.profile)
    }
    fn get(&self, key: &str) -> Option<&str> {
        if key == "flow" { Some(self.flow) } else { Settings::get(self.profile, key) }
    }
    fn secret(&self, key: &str) -> std::result::Result<Option<SecretString>, ConfigError> {
        Settings::secret(self.profile, key)
    }
    fn origin(&self, key: &str) -> Option<String> {
        if key == "flow" { None } else { Settings::origin(self.profile, key) }
    }
    fn source_key(&self, key: &str) -> Option<String> {
        Settings::source_key(self.profile, key)
    }
    fn binding_name(&self) -> std::borrow::Cow<'_, str> {
        Settings::binding_name(self.profile)
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
            // A forced refresh here is the server refusing the token handed out: never again.
            let opts = TokenOptions { force_refresh, ..TokenOptions::default() };
            self.acquire(opts, force_refresh).await.map(|t| t.access_token).map_err(|e| Box::new(e) as SourceError)
        })
    }
}
