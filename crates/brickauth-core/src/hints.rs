//! One-line hints for the Entra errors people meet most (codes from Entra's error reference).
//!
//! Entra's documentation asks clients to react to the OAuth `error`, not the AADSTS number, so
//! these are advice for a person reading the message, never used for control flow.
//!
//! Most hints are a fixed sentence ([`Hint::Text`]). Advice whose right words depend on what the
//! library cannot know is a type the caller words: [`Hint::SignInAgain`] — an interactive
//! profile signs in again, but a profile holding a refresh token must be given a new one where it
//! reads it from (sending the same dead token again would fail the same way).

/// What to do about an Entra error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// Advice that holds whatever the profile: printed as it is.
    Text(&'static str),
    /// The sign-in (the refresh token) expired or was revoked: a new one is needed. How to get
    /// it depends on the profile (an interactive sign-in, or a new refresh token in the place the
    /// profile reads it from), so the caller words it.
    SignInAgain,
}

impl Hint {
    /// The fixed words, for a [`Hint::Text`].
    pub fn text(self) -> Option<&'static str> {
        match self {
            Hint::Text(t) => Some(t),
            Hint::SignInAgain => None,
        }
    }
}

/// A hint for an AADSTS `code` (or, failing that, the OAuth `error`).
pub fn hint(code: Option<u64>, error: &str) -> Option<Hint> {
    if matches!(code, Some(70008 | 700082 | 50173 | 70043 | 700084)) {
        return Some(Hint::SignInAgain);
    }
    text(code, error).map(Hint::Text)
}

fn text(code: Option<u64>, error: &str) -> Option<&'static str> {
    let by_code = code.and_then(|c| {
        Some(match c {
            50126 => "wrong username or password; check the password source of the profile (`password_env`, `password_file`, `password_command`)",
            50076 | 50079 | 50078 | 50158 => {
                "multi-factor authentication is required: the password flow cannot do MFA; use `flow = \"authorization-code\"` or `\"device-code\"` and run `brickauth login`"
            }
            65001 => "the app lacks consent for Azure Databricks: sign in once interactively (`brickauth login` with the authorization-code flow) or ask an admin to grant admin consent",
            90094 | 90095 => "admin consent is required: ask a tenant administrator to grant consent to the app registration",
            650057 => "the app registration does not request the AzureDatabricks `user_impersonation` permission: add it under API permissions and grant consent",
            500011 => "the resource asked for (the application of the scope: Azure Databricks unless `scopes` names another) is not in this tenant, or the tenant is wrong: check `scopes` and `tenant_id`",
            700016 => "the client id is not registered in this tenant: check `client_id` and `tenant_id` (and `cloud`)",
            7000218 => "public client flows are disabled for this app: enable \"Allow public client flows\" in the app registration, or use a confidential flow with a secret",
            700025 => "this is a public client: remove `client_secret` or use the client-credentials flow with a confidential app",
            7000215 | 7000222 | 70002 => "the client secret is wrong or expired: create a new secret in the app registration",
            700027 | 50012 | 700030 => "the client assertion was rejected: check the certificate uploaded to the app registration and the clock",
            50034 => "the user does not exist in this tenant: check the username and `tenant_id`",
            50053 => "the account is locked (too many failed sign-ins): wait, or ask an administrator to unlock it",
            50055 => "the password has expired: change it at https://mysignins.microsoft.com, then sign in again",
            50057 => "the account is disabled: ask an administrator",
            53003 | 53000 | 53001 | 530003 => {
                "blocked by a Conditional Access policy: sign in interactively from a compliant device, or ask an administrator which policy applies"
            }
            90002 => "the tenant was not found: check `tenant_id`, and `cloud` for national clouds",
            90038 => "the tenant belongs to another national cloud: set `cloud` (`usgov` or `china`) in the profile",
            9001023 | 90124 | 90130 | 50194 => "this grant is not supported on /common: set `tenant_id` to your tenant id or domain",
            50011 | 500113 => "the redirect URI is not registered: add http://localhost under \"Mobile and desktop applications\" in the app registration",
            54005 => "this authorization code was already redeemed: sign in again",
            501481 => "the PKCE code verifier did not match: sign in again",
            9002326 => "the app is registered as a single-page application: register http://localhost under \"Mobile and desktop applications\" instead",
            90055 | 50033 | 90006 | 90033 => "Entra is throttling or temporarily unavailable: try again in a minute",
            _ => return None,
        })
    });
    by_code.or(match error {
        "interaction_required" => Some("an interactive sign-in is required: run `brickauth login`"),
        "consent_required" => {
            Some("consent is required: sign in once interactively, or ask an admin for admin consent")
        }
        "invalid_client" | "unauthorized_client" => Some("check `client_id`, `tenant_id` and the client credential"),
        "temporarily_unavailable" => Some("Entra is temporarily unavailable: try again in a minute"),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::{Hint, hint};

    #[test]
    fn every_listed_code_has_a_hint() {
        for code in [
            50126, 50076, 50079, 65001, 650057, 500011, 700016, 7000218, 50034, 50053, 50055, 50057, 70008, 700082,
            50173, 53003, 90002, 90038,
        ] {
            assert!(hint(Some(code), "").is_some(), "no hint for AADSTS{code}");
        }
        assert!(hint(Some(50076), "invalid_grant").and_then(Hint::text).unwrap().contains("authorization-code"));
        assert_eq!(hint(Some(70008), "invalid_grant"), Some(Hint::SignInAgain), "worded by the caller");
        let other_resource = hint(Some(500011), "invalid_resource").and_then(Hint::text).unwrap();
        assert!(other_resource.contains("`scopes`") && !other_resource.starts_with("Azure Databricks"));
        assert_eq!(hint(Some(1), "nothing"), None);
        assert!(hint(None, "interaction_required").is_some());
    }
}
