//! Which of the Azure CLI's sign-ins a profile means, and the refresh token that redeems it.
//!
//! 1. The account: the profile's `username`, else the user of az's default entry in
//!    `azureProfile.json`, else the only user account in the MSAL cache.
//! 2. It must be a user: a service principal (or managed identity) has no refresh token, and az
//!    keeps its credential elsewhere — [`Unusable::ServicePrincipal`].
//! 3. Its MSAL `Account` entry in the authority's environment (aliases of the public cloud's host
//!    count as one), and a `RefreshToken` entry of that home account issued to the Azure CLI or
//!    to the family of client ids (`family_id` = `"1"`), the Azure CLI's own preferred.
//! 4. The tenant: the profile's `tenant_id` (applied by the caller), else az's entry for that
//!    user (the default one first), else the account entry's `realm`.
//!
//! Pure: it looks at what [`AzState::read`](crate::files::AzState::read) found, nothing else.

use std::fmt;

use secrecy::SecretString;

use crate::AZURE_CLI_CLIENT_ID;
use crate::files::{AzState, MsalAccount, MsalRefreshToken};

/// The public cloud's authority hosts, which MSAL treats as one environment.
const PUBLIC_ALIASES: &[&str] =
    &["login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"];

/// The sign-in to redeem.
pub struct Choice {
    /// The MSAL account entry.
    pub account: MsalAccount,
    /// The tenant az associates with this account, if it names one.
    pub tenant: Option<String>,
    /// The refresh token.
    pub refresh_token: SecretString,
}

impl fmt::Debug for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Choice").field("account", &self.account).field("tenant", &self.tenant).finish_non_exhaustive()
    }
}

/// Why az's files cannot give a token. [`Unusable::falls_back`] says whether running az could
/// still succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// No `msal_token_cache.json` (and no encrypted one).
    NoCacheFile,
    /// Only the encrypted `msal_token_cache.bin` (Windows).
    Encrypted,
    /// The account is a service principal or managed identity.
    ServicePrincipal(String),
    /// The account is signed in but its refresh token is not in the cache (a broker sign-in, …).
    NoRefreshToken(String),
    /// Several user accounts, no default and no `username`.
    Ambiguous(Vec<String>),
    /// Nobody is signed in (`az logout`, or never `az login`).
    NotSignedIn,
    /// The profile's `username` is not among az's accounts.
    UnknownUser {
        /// The profile's `username`.
        wanted: String,
        /// Who is signed in.
        known: Vec<String>,
    },
    /// az's lock file is stale or held too long ([`crate::files::ReadError::Locked`]): the cache
    /// was not read; az itself may still answer.
    Locked(String),
    /// The account is signed in to another cloud than the profile's authority.
    OtherEnvironment {
        /// The account.
        username: String,
        /// Where az signed it in.
        found: Vec<String>,
        /// The profile's authority host.
        wanted: String,
    },
}

impl Unusable {
    /// Whether `az account get-access-token` may still work where the files do not: az has
    /// stores this crate does not read (the encrypted cache, service principals' secrets, a
    /// broker). When nobody is signed in, or the profile names someone az does not know, az
    /// would only say so more slowly.
    pub fn falls_back(&self) -> bool {
        matches!(
            self,
            Unusable::NoCacheFile
                | Unusable::Encrypted
                | Unusable::ServicePrincipal(_)
                | Unusable::NoRefreshToken(_)
                | Unusable::Ambiguous(_)
                | Unusable::Locked(_)
        )
    }
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unusable::NoCacheFile => write!(f, "there is no {}", crate::files::CACHE_FILE),
            Unusable::Encrypted if cfg!(windows) => {
                write!(f, "the token cache ({}) cannot be decrypted for you", crate::files::ENCRYPTED_CACHE_FILE)
            }
            Unusable::Encrypted => {
                write!(f, "the token cache is encrypted ({}, Windows only)", crate::files::ENCRYPTED_CACHE_FILE)
            }
            Unusable::ServicePrincipal(name) => {
                write!(f, "az's account `{name}` is a service principal, which has no refresh token")
            }
            // Windows: az ≥ 2.61 signs in through the Windows broker (WAM) by default, which keeps
            // refresh tokens to itself; only az can then get a token.
            Unusable::NoRefreshToken(name) if cfg!(windows) => write!(
                f,
                "the token cache holds no refresh token for `{name}`: az signs in through the Windows \
                 broker (WAM), which keeps it; only az itself can get a token"
            ),
            Unusable::NoRefreshToken(name) => write!(f, "the token cache holds no refresh token for `{name}`"),
            Unusable::Ambiguous(names) => write!(
                f,
                "several accounts are signed in ({}) and none is az's default: set `username`",
                names.join(", ")
            ),
            Unusable::NotSignedIn => write!(f, "the Azure CLI is not signed in: run `az login`"),
            Unusable::Locked(why) => f.write_str(why),
            Unusable::UnknownUser { wanted, known } => write!(
                f,
                "the Azure CLI has no sign-in for `{wanted}` (signed in: {}): run `az login` as `{wanted}`",
                known.join(", ")
            ),
            Unusable::OtherEnvironment { username, found, wanted } => write!(
                f,
                "the Azure CLI signed `{username}` in at {}, but the profile's authority is {wanted}: \
                 set `cloud` or `authority_host` to match",
                found.join(", ")
            ),
        }
    }
}

/// Whether two MSAL environments (authority hosts, no port) are the same.
pub fn same_environment(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim().to_ascii_lowercase(), b.trim().to_ascii_lowercase());
    a == b || (PUBLIC_ALIASES.contains(&a.as_str()) && PUBLIC_ALIASES.contains(&b.as_str()))
}

/// The sign-in for `username` (or az's default) in `environment`, with its refresh token.
pub fn choose(state: &AzState, username: Option<&str>, environment: &str) -> Result<Choice, Unusable> {
    let Some(cache) = &state.cache else {
        return Err(if state.encrypted { Unusable::Encrypted } else { Unusable::NoCacheFile });
    };
    let entries = state.profile.as_ref().map(|p| p.subscriptions.as_slice()).unwrap_or_default();
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase();

    // (1) and (2): the account.
    let wanted = match username {
        Some(u) => {
            if entries.iter().any(|e| same(&e.user.name, u) && e.user.is_service_principal()) {
                return Err(Unusable::ServicePrincipal(u.to_owned()));
            }
            u.to_owned()
        }
        None => match entries.iter().find(|e| e.is_default) {
            Some(d) if d.user.is_service_principal() => return Err(Unusable::ServicePrincipal(d.user.name.clone())),
            Some(d) => d.user.name.clone(),
            None => {
                let mut users: Vec<String> = cache.accounts.iter().filter_map(|a| a.username.clone()).collect();
                users.sort_by_key(|u| u.to_lowercase());
                users.dedup_by(|a, b| same(a, b));
                match users.as_slice() {
                    [] if entries.iter().any(|e| e.user.is_service_principal()) => {
                        return Err(Unusable::ServicePrincipal(entries[0].user.name.clone()));
                    }
                    [] => return Err(Unusable::NotSignedIn),
                    [one] => one.clone(),
                    _ => return Err(Unusable::Ambiguous(users)),
                }
            }
        },
    };

    // (3): its account entry and refresh token.
    let mine: Vec<&MsalAccount> =
        cache.accounts.iter().filter(|a| a.username.as_deref().is_some_and(|n| same(n, &wanted))).collect();
    if mine.is_empty() {
        let listed = entries.iter().any(|e| same(&e.user.name, &wanted));
        if listed && username.is_none() {
            // az's default names a user whose cache entries are gone.
            return Err(Unusable::NoRefreshToken(wanted));
        }
        let mut known: Vec<String> = cache
            .accounts
            .iter()
            .filter_map(|a| a.username.clone())
            .chain(entries.iter().map(|e| e.user.name.clone()))
            .collect();
        known.sort_by_key(|u| u.to_lowercase());
        known.dedup_by(|a, b| same(a, b));
        if known.is_empty() {
            return Err(Unusable::NotSignedIn);
        }
        if listed {
            return Err(Unusable::NoRefreshToken(wanted));
        }
        return Err(Unusable::UnknownUser { wanted, known });
    }
    let Some(account) = mine.iter().find(|a| same_environment(&a.environment, environment)).copied() else {
        let mut found: Vec<String> = mine.iter().map(|a| a.environment.clone()).collect();
        found.dedup();
        return Err(Unusable::OtherEnvironment { username: wanted, found, wanted: environment.to_owned() });
    };
    let usable = |t: &&MsalRefreshToken| {
        t.home_account_id.eq_ignore_ascii_case(&account.home_account_id)
            && same_environment(&t.environment, environment)
            && (t.client_id.eq_ignore_ascii_case(AZURE_CLI_CLIENT_ID) || t.family_id.as_deref() == Some("1"))
    };
    let mut tokens: Vec<&MsalRefreshToken> = cache.refresh_tokens.iter().filter(usable).collect();
    tokens.sort_by_key(|t| !t.client_id.eq_ignore_ascii_case(AZURE_CLI_CLIENT_ID));
    let Some(token) = tokens.first() else {
        return Err(Unusable::NoRefreshToken(wanted));
    };

    // (4): the tenant az associates with the account.
    let of_user = |e: &&crate::files::AzSubscription| same(&e.user.name, &wanted) && !e.user.is_service_principal();
    let tenant = entries
        .iter()
        .filter(of_user)
        .find(|e| e.is_default)
        .or_else(|| entries.iter().find(of_user))
        .and_then(|e| e.tenant_id.clone())
        .or_else(|| account.realm.clone())
        .filter(|t| !t.trim().is_empty());
    let account = mine
        .iter()
        .find(|a| same_environment(&a.environment, environment) && tenant.is_some() && a.realm == tenant)
        .copied()
        .unwrap_or(account)
        .clone();
    Ok(Choice { account, tenant, refresh_token: token.secret.clone() })
}
