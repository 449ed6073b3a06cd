//! Client credentials on the wire: the form of a `client_credentials` grant, with a client
//! secret or a JWT client assertion (RFC 7523).
//!
//! This is protocol, not a flow: the client-credentials flow signs its own assertion with a
//! certificate, the workload-identity flow sends a federated token it fetched, and both post
//! the same form. Parameters are those MSAL's `acquire_token_for_client` sends:
//!
//! ```text
//! client_id, grant_type=client_credentials, scope=<scopes, undecorated>, client_info=1,
//! and either  client_secret=<secret>
//! or          client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer,
//!             client_assertion=<JWT>
//! ```

use secrecy::SecretString;

use crate::app::AppConfig;
use crate::http::Form;

/// `client_assertion_type` of a JWT client assertion (RFC 7523).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The form of a client-credentials request for `scope`, without the credential.
pub fn client_credentials_form(app: &AppConfig, scope: &str) -> Form {
    Form::new()
        .field("client_id", app.client_id.as_str())
        .field("grant_type", "client_credentials")
        .field("scope", scope.to_owned())
        .field("client_info", "1")
}

/// The form of a client-credentials request authenticated by a client secret.
pub fn secret_form(app: &AppConfig, scope: &str, secret: &SecretString) -> Form {
    client_credentials_form(app, scope).secret("client_secret", secret)
}

/// The form of a client-credentials request authenticated by a JWT client assertion (signed by
/// a certificate, or a federated token).
pub fn assertion_form(app: &AppConfig, scope: &str, assertion: &SecretString) -> Form {
    client_credentials_form(app, scope).field("client_assertion_type", JWT_BEARER).secret("client_assertion", assertion)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{ClientId, Tenant};

    fn app() -> AppConfig {
        let tenant: Tenant = "contoso.onmicrosoft.com".parse().unwrap();
        let client: ClientId = "04f0c124-f2bc-4f59-8241-bf6df9866bbd".parse().unwrap();
        AppConfig::new(tenant, client)
    }

    #[test]
    fn assertion_form_is_what_msal_sends() {
        let form = assertion_form(&app(), "x/.default", &SecretString::from("eyJ.a.b"));
        let encoded = form.encode();
        for part in [
            "client_id=04f0c124-f2bc-4f59-8241-bf6df9866bbd",
            "grant_type=client_credentials",
            "client_info=1",
            "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer",
            "client_assertion=eyJ.a.b",
        ] {
            assert!(encoded.contains(part), "{part} missing from {encoded}");
        }
        assert!(!format!("{form:?}").contains("eyJ"), "the assertion leaked into Debug");
    }

    #[test]
    fn secret_form_carries_the_secret_only_on_the_wire() {
        let form = secret_form(&app(), "x/.default", &SecretString::from("s3cr3t"));
        assert!(form.encode().contains("client_secret=s3cr3t"));
        assert!(!form.encode().contains("client_assertion"));
        assert!(!format!("{form:?}").contains("s3cr3t"));
    }
}
