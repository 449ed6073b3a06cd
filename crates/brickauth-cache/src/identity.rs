//! What a cached token is filed under: the [`Identity`] that asked for it, and the
//! [`AccountHint`] that picks one account among several signed in to that identity.
//!
//! The profile name is deliberately not part of the key (kubelogin and the Azure CLI's users
//! complain about caches keyed by profile): two profiles with the same authority, tenant, client
//! id and scopes share their tokens. A profile only remembers which account it used last.

use std::fmt;

use brickauth_core::{AppConfig, Settings};

/// The identity tokens are cached under — never the profile name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The authority host without scheme ([`Authority::environment`](brickauth_core::Authority::environment)),
    /// e.g. `login.microsoftonline.com`.
    pub environment: String,
    /// The tenant as configured (GUID, domain or `organizations`).
    pub tenant: String,
    /// The application (client) id.
    pub client_id: String,
    /// The requested scopes, sorted.
    pub scopes: Vec<String>,
}

impl Identity {
    /// The identity an app configuration requests tokens for.
    pub fn of(app: &AppConfig) -> Identity {
        let mut scopes: Vec<String> = app.scopes.iter().map(str::to_owned).collect();
        scopes.sort();
        Identity {
            environment: app.authority.environment().to_ascii_lowercase(),
            tenant: app.authority.tenant().as_str().to_owned(),
            client_id: app.client_id.as_str().to_owned(),
            scopes,
        }
    }

    /// The scopes sorted and space-joined (sorted again here in case the struct was built by hand).
    pub(crate) fn scopes_joined(&self) -> String {
        if self.scopes.is_sorted() {
            self.scopes.join(" ")
        } else {
            let mut s = self.scopes.clone();
            s.sort();
            s.join(" ")
        }
    }

    /// Whether a stored entry with these fields belongs to this identity.
    pub(crate) fn matches(&self, environment: &str, tenant: &str, client_id: &str, scopes: &[String]) -> bool {
        self.environment.eq_ignore_ascii_case(environment)
            && self.tenant == tenant
            && self.client_id == client_id
            && (self.scopes == scopes || self.scopes_joined() == scopes.join(" "))
    }

    /// The entry key for `account_key` (an [`Account::key`](brickauth_core::Account::key), or
    /// `app` for tokens without a user).
    pub(crate) fn entry_key(&self, account_key: &str) -> String {
        format!("{}|{}|{}|{}|{}", self.environment, self.tenant, self.client_id, self.scopes_joined(), account_key)
    }
}

impl fmt::Display for Identity {
    /// `client_id@environment/tenant [scopes]`, for log lines and messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}/{} [{}]", self.client_id, self.environment, self.tenant, self.scopes_joined())
    }
}

/// Which account of an identity a profile means.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountHint {
    /// The profile's `username` key, if it has one; compared case-insensitively.
    pub username: Option<String>,
    /// The name the profile's sign-ins are bound under — its name; `env:<flow>` for the
    /// environment-only profile ([`Settings::binding_name`]): the cache remembers which account
    /// each profile's own flow last signed in.
    pub profile: String,
}

impl AccountHint {
    /// The hint for a profile's settings: its `username` (if set and not blank), and the name its
    /// sign-ins are bound under ([`Settings::binding_name`]: the profile name, or `env:<flow>` in
    /// the environment-only mode).
    pub fn of(settings: &dyn Settings) -> Self {
        AccountHint {
            username: settings.get("username").map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned),
            profile: settings.binding_name().into_owned(),
        }
    }

    /// A hint for `profile`, without a username.
    pub fn new(profile: impl Into<String>) -> Self {
        AccountHint { username: None, profile: profile.into() }
    }

    /// The same hint, naming the account's username.
    pub fn with_username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }
}

/// Whether two usernames are the same sign-in name (user principal names are case-insensitive).
pub(crate) fn same_username(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickauth_core::{Authority, Scopes};

    #[test]
    fn identity_of_app() {
        let app = AppConfig {
            authority: Authority::new("http://127.0.0.1:8400", "organizations".parse().unwrap()).unwrap(),
            client_id: "04F0C124-f2bc-4f59-8241-bf6df9866bbd".parse().unwrap(),
            scopes: "b/.default a/.default".parse::<Scopes>().unwrap(),
        };
        let id = Identity::of(&app);
        assert_eq!(id.environment, "127.0.0.1:8400");
        assert_eq!(id.tenant, "organizations");
        assert_eq!(id.client_id, "04f0c124-f2bc-4f59-8241-bf6df9866bbd");
        assert_eq!(id.scopes, ["a/.default", "b/.default"]);
        assert_eq!(
            id.entry_key("u.t"),
            "127.0.0.1:8400|organizations|04f0c124-f2bc-4f59-8241-bf6df9866bbd|a/.default b/.default|u.t"
        );
        assert_eq!(
            id.to_string(),
            "04f0c124-f2bc-4f59-8241-bf6df9866bbd@127.0.0.1:8400/organizations [a/.default b/.default]"
        );
    }

    #[test]
    fn usernames_compare_without_case() {
        assert!(same_username("Alice@Contoso.com", "alice@contoso.COM"));
        assert!(same_username("ÉLODIE@contoso.com", "élodie@contoso.com"));
        assert!(!same_username("alice@contoso.com", "bob@contoso.com"));
    }
}
