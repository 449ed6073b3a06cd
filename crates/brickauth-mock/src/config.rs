//! [`MockConfig`] and [`MockUser`]: who can sign in to the mock Entra, with which client.

use crate::constants::{ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD};
use crate::{CLIENT_ID, ids};

/// A user of the mock tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockUser {
    /// User principal name, e.g. `alice@contoso.com`; matched case-insensitively, as Entra does.
    pub username: String,
    /// The password the password grant accepts.
    pub password: String,
    /// Whether Conditional Access demands MFA: the password grant then fails with AADSTS50076
    /// even with the right password.
    pub mfa_required: bool,
    /// Object id (a GUID), the `oid` claim.
    pub oid: String,
    /// Display name, the `name` claim.
    pub name: String,
}

impl MockUser {
    /// A user without MFA, with a random object id and a display name taken from the part of the
    /// username before `@` (`carol@contoso.com` → `Carol`).
    pub fn new(username: &str, password: &str) -> Self {
        let local = username.split('@').next().unwrap_or(username);
        let mut chars = local.chars();
        let name = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        };
        MockUser {
            username: username.to_owned(),
            password: password.to_owned(),
            mfa_required: false,
            oid: ids::guid(),
            name,
        }
    }

    /// The same user, with MFA required.
    pub fn with_mfa(mut self) -> Self {
        self.mfa_required = true;
        self
    }
}

/// The mock tenant's users, registered clients and token lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockConfig {
    /// Users who exist in the tenant.
    pub users: Vec<MockUser>,
    /// Registered (public) client application ids; any other `client_id` gets AADSTS700016.
    pub clients: Vec<String>,
    /// Lifetime of issued access tokens in seconds (`expires_in`); may be 0 or negative to mint
    /// already-expired tokens.
    pub token_lifetime_secs: i64,
}

impl Default for MockConfig {
    /// Alice (no MFA) and Bob (MFA required), the one client [`CLIENT_ID`], one-hour tokens.
    fn default() -> Self {
        MockConfig {
            users: vec![
                MockUser {
                    username: ALICE.to_owned(),
                    password: ALICE_PASSWORD.to_owned(),
                    mfa_required: false,
                    oid: "5f1d4b2e-8c3a-4e7f-9b6d-2a1c3e5f7d90".to_owned(),
                    name: "Alice Smith".to_owned(),
                },
                MockUser {
                    username: BOB.to_owned(),
                    password: BOB_PASSWORD.to_owned(),
                    mfa_required: true,
                    oid: "a3c8e1f0-6b2d-4d9a-8e7f-1b4c6d8e0f2a".to_owned(),
                    name: "Bob Jones".to_owned(),
                },
            ],
            clients: vec![CLIENT_ID.to_owned()],
            token_lifetime_secs: 3600,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_user_defaults() {
        let carol = MockUser::new("carol@contoso.com", "pw").with_mfa();
        assert_eq!(carol.name, "Carol");
        assert!(carol.mfa_required);
        assert_eq!(carol.oid.len(), 36);
    }
}
