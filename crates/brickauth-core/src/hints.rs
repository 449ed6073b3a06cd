//! One-line hints for the Entra errors people meet most (codes from Entra's error reference).
//!
//! Entra's documentation asks clients to react to the OAuth `error`, not the AADSTS number, so
//! these are advice for a person reading the message, never used for control flow.
//!
//! A [`Hint`] is a type. Its words speak of the profile's keys and the app registration only: a
//! library names no flow and no command of a program built on it. What a hint asks of the
//! person beyond that is [`Hint::sign_in`], and the caller words it (the CLI names its `login`
//! command and the flows that sign a person in, from the registry).

use std::fmt;

/// What to do about an Entra error, for a person reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hint {
    /// AADSTS50126.
    WrongPassword,
    /// Multi-factor authentication, which a stored password cannot do.
    MfaRequired,
    /// AADSTS65001: the app has no consent for Azure Databricks.
    ConsentMissing,
    /// Only an administrator can consent.
    AdminConsentRequired,
    /// The app registration lacks Azure Databricks' `user_impersonation` permission.
    PermissionMissing,
    /// Azure Databricks is not in the tenant, or the tenant is wrong.
    NotProvisioned,
    /// The client id is not registered in the tenant.
    UnknownClient,
    /// The app registration does not allow public client flows.
    PublicClientFlowsDisabled,
    /// A public client sent a client secret.
    PublicClientWithSecret,
    /// The client secret is wrong or expired.
    BadSecret,
    /// The client assertion (certificate) was rejected.
    BadAssertion,
    /// The user is not in the tenant.
    UnknownUser,
    /// The account is locked.
    Locked,
    /// The password has expired.
    PasswordExpired,
    /// The account is disabled.
    Disabled,
    /// The sign-in (the refresh token) expired or was revoked.
    SignInExpired,
    /// A Conditional Access policy blocked the sign-in.
    ConditionalAccess,
    /// The tenant does not exist.
    TenantNotFound,
    /// The tenant is in another national cloud.
    OtherCloud,
    /// The grant needs a tenant, not `/common`.
    NeedsTenant,
    /// The redirect URI is not registered.
    RedirectUri,
    /// The authorization code was redeemed already.
    CodeRedeemed,
    /// The PKCE verifier did not match.
    PkceMismatch,
    /// The app is registered as a single-page application.
    SpaRegistration,
    /// Entra is throttling or unavailable (by AADSTS code).
    Throttled,
    /// `interaction_required`: a person has to sign in.
    InteractionRequired,
    /// `consent_required`.
    ConsentRequired,
    /// `invalid_client`, `unauthorized_client`.
    CheckClient,
    /// `temporarily_unavailable`.
    Unavailable,
}

/// The sign-in a [`Hint`] asks for, which the caller words (its command, its flows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignIn {
    /// Sign in again with the same profile.
    Again,
    /// Sign in as a person, with a flow that can (a browser, a device code): one whose
    /// [`FlowSpec::interactive`](crate::flow::FlowSpec::interactive) is set.
    Interactive,
}

/// A hint for an AADSTS `code` (or, failing that, the OAuth `error`).
pub fn hint(code: Option<u64>, error: &str) -> Option<Hint> {
    use Hint::*;
    let by_code = code.and_then(|c| {
        Some(match c {
            50126 => WrongPassword,
            50076 | 50079 | 50078 | 50158 => MfaRequired,
            65001 => ConsentMissing,
            90094 | 90095 => AdminConsentRequired,
            650057 => PermissionMissing,
            500011 => NotProvisioned,
            700016 => UnknownClient,
            7000218 => PublicClientFlowsDisabled,
            700025 => PublicClientWithSecret,
            7000215 | 7000222 | 70002 => BadSecret,
            700027 | 50012 | 700030 => BadAssertion,
            50034 => UnknownUser,
            50053 => Locked,
            50055 => PasswordExpired,
            50057 => Disabled,
            70008 | 700082 | 50173 | 70043 | 700084 => SignInExpired,
            53003 | 53000 | 53001 | 530003 => ConditionalAccess,
            90002 => TenantNotFound,
            90038 => OtherCloud,
            9001023 | 90124 | 90130 | 50194 => NeedsTenant,
            50011 | 500113 => RedirectUri,
            54005 => CodeRedeemed,
            501481 => PkceMismatch,
            9002326 => SpaRegistration,
            90055 | 50033 | 90006 | 90033 => Throttled,
            _ => return None,
        })
    });
    by_code.or(match error {
        "interaction_required" => Some(InteractionRequired),
        "consent_required" => Some(ConsentRequired),
        "invalid_client" | "unauthorized_client" => Some(CheckClient),
        "temporarily_unavailable" => Some(Unavailable),
        _ => None,
    })
}

impl Hint {
    /// The sign-in following this hint takes, if any (the caller says how: [`SignIn`]).
    pub fn sign_in(self) -> Option<SignIn> {
        match self {
            Hint::MfaRequired | Hint::ConsentMissing | Hint::ConditionalAccess | Hint::ConsentRequired => {
                Some(SignIn::Interactive)
            }
            Hint::SignInExpired | Hint::InteractionRequired | Hint::CodeRedeemed | Hint::PkceMismatch => {
                Some(SignIn::Again)
            }
            _ => None,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Hint::WrongPassword => {
                "wrong username or password; check the password source of the profile (`password_env`, `password_file`, `password_command`)"
            }
            Hint::MfaRequired => {
                "multi-factor authentication is required, which a sign-in with a stored password cannot do: sign in as a person (in a browser, or on another device)"
            }
            Hint::ConsentMissing => {
                "the app lacks consent for Azure Databricks: sign in once as a person and consent, or ask an admin to grant admin consent"
            }
            Hint::AdminConsentRequired => {
                "admin consent is required: ask a tenant administrator to grant consent to the app registration"
            }
            Hint::PermissionMissing => {
                "the app registration does not request the AzureDatabricks `user_impersonation` permission: add it under API permissions and grant consent"
            }
            Hint::NotProvisioned => {
                "the resource asked for (the application of the scope: Azure Databricks unless `scopes` names \
                 another) is not in this tenant, or the tenant is wrong: check `scopes` and `tenant_id`"
            }
            Hint::UnknownClient => {
                "the client id is not registered in this tenant: check `client_id` and `tenant_id` (and `cloud`)"
            }
            Hint::PublicClientFlowsDisabled => {
                "public client flows are disabled for this app: enable \"Allow public client flows\" in the app registration, or use a confidential client with a secret"
            }
            Hint::PublicClientWithSecret => {
                "this is a public client: remove `client_secret`, or sign in as the app with a confidential app registration"
            }
            Hint::BadSecret => "the client secret is wrong or expired: create a new secret in the app registration",
            Hint::BadAssertion => {
                "the client assertion was rejected: check the certificate uploaded to the app registration and the clock"
            }
            Hint::UnknownUser => "the user does not exist in this tenant: check the username and `tenant_id`",
            Hint::Locked => {
                "the account is locked (too many failed sign-ins): wait, or ask an administrator to unlock it"
            }
            Hint::PasswordExpired => {
                "the password has expired: change it at https://mysignins.microsoft.com, then sign in again"
            }
            Hint::Disabled => "the account is disabled: ask an administrator",
            Hint::SignInExpired => "the sign-in has expired or was revoked: sign in again",
            Hint::ConditionalAccess => {
                "blocked by a Conditional Access policy: sign in as a person from a compliant device, or ask an administrator which policy applies"
            }
            Hint::TenantNotFound => "the tenant was not found: check `tenant_id`, and `cloud` for national clouds",
            Hint::OtherCloud => {
                "the tenant belongs to another national cloud: set `cloud` (`usgov` or `china`) in the profile"
            }
            Hint::NeedsTenant => "this grant is not supported on /common: set `tenant_id` to your tenant id or domain",
            Hint::RedirectUri => {
                "the redirect URI is not registered: add http://localhost under \"Mobile and desktop applications\" in the app registration"
            }
            Hint::CodeRedeemed => "this authorization code was already redeemed: sign in again",
            Hint::PkceMismatch => "the PKCE code verifier did not match: sign in again",
            Hint::SpaRegistration => {
                "the app is registered as a single-page application: register http://localhost under \"Mobile and desktop applications\" instead"
            }
            Hint::Throttled => "Entra is throttling or temporarily unavailable: try again in a minute",
            Hint::InteractionRequired => "a sign-in by a person is required",
            Hint::ConsentRequired => "consent is required: sign in once as a person, or ask an admin for admin consent",
            Hint::CheckClient => "check `client_id`, `tenant_id` and the client credential",
            Hint::Unavailable => "Entra is temporarily unavailable: try again in a minute",
        }
    }
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

#[cfg(test)]
mod tests {
    use super::{Hint, SignIn, hint};

    #[test]
    fn every_listed_code_has_a_hint() {
        for code in [
            50126, 50076, 50079, 65001, 650057, 500011, 700016, 7000218, 50034, 50053, 50055, 50057, 70008, 700082,
            50173, 53003, 90002, 90038,
        ] {
            assert!(hint(Some(code), "").is_some(), "no hint for AADSTS{code}");
        }
        assert_eq!(hint(Some(50076), "invalid_grant"), Some(Hint::MfaRequired));
        assert_eq!(hint(Some(1), "nothing"), None);
        assert_eq!(hint(None, "interaction_required"), Some(Hint::InteractionRequired));
    }

    #[test]
    fn the_sign_in_a_hint_asks_for_is_a_type_the_caller_words() {
        assert_eq!(Hint::MfaRequired.sign_in(), Some(SignIn::Interactive));
        assert_eq!(Hint::SignInExpired.sign_in(), Some(SignIn::Again));
        assert_eq!(Hint::WrongPassword.sign_in(), None);
        assert!(Hint::MfaRequired.to_string().contains("multi-factor"));
        assert!(!Hint::SignInExpired.to_string().contains("brickauth"), "a library names no command");
    }
}
