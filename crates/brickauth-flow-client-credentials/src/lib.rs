//! The client credentials grant: a service principal signs in as itself.
//!
//! Flow name `client-credentials`, alias `service-principal`. One POST to the token endpoint, as
//! MSAL's `ConfidentialClientApplication.acquire_token_for_client` sends it:
//!
//! ```text
//! POST {authority}/{tenant}/oauth2/v2.0/token
//! client_id, grant_type=client_credentials, scope=<profile scopes, undecorated>, client_info=1,
//! and either  client_secret=<secret>
//! or          client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer,
//!             client_assertion=<JWT signed with the certificate's private key>
//! ```
//!
//! The assertion is a JWT with header `{alg: PS256 | RS256, typ: JWT, x5t#S256, x5t, x5c}` (the
//! certificate's SHA-256 and SHA-1 thumbprints, base64url) and claims `aud` = the token endpoint,
//! `iss` = `sub` = the client id, a random `jti`, `iat`, `nbf` and `exp` = `iat` + 10 minutes.
//! A fresh one is made for every request.
//!
//! The certificate and key are read from PEM files when the flow is built (`client_certificate`,
//! `client_certificate_key`; one file holding both is fine). The key may be PKCS#8 or PKCS#1 RSA.
//!
//! ```no_run
//! use brickauth_core::{AppConfig, FlowContext, GrantFlow, Interaction, SecretString, TokenClient};
//! use brickauth_flow_client_credentials::{ClientCredential, ClientCredentialsFlow, ClientCredentialsOptions};
//!
//! # async fn run() -> Result<(), brickauth_core::AuthError> {
//! let app = AppConfig::new("contoso.onmicrosoft.com".parse().unwrap(), "9d5c3b1a-7e2f-4a6b-8c0d-1e3f5a7b9c2d".parse().unwrap());
//! let secret = SecretString::from(std::env::var("ARM_CLIENT_SECRET").unwrap_or_default());
//! let flow = ClientCredentialsFlow::new(ClientCredentialsOptions::new(app, ClientCredential::Secret(secret)));
//! let client = TokenClient::new()?;
//! let token = flow.acquire(&FlowContext::new(&client, Interaction::NONE)).await?;
//! println!("expires at {}", token.access_token.expires_on);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
// Only the CLI prints; a library reports through types (tests may print).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use brickauth_core::assertion::{assertion_form, secret_form};
use brickauth_core::flow::{BoxFuture, FlowContext, FlowSpec, GrantFlow};
use brickauth_core::http::Form;
use brickauth_core::settings::{ConfigError, Flag, KeySpec, Settings};
use brickauth_core::{AppConfig, AuthError, SecretString, TokenResponse};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// `client_assertion_type` of a JWT client assertion (RFC 7523); the form itself is built by
/// [`brickauth_core::assertion`].
pub use brickauth_core::assertion::JWT_BEARER;

/// The scope of the Azure management token Azure Databricks accepts in
/// `X-Databricks-Azure-SP-Management-Token`.
pub const MANAGEMENT_SCOPE: &str = "https://management.core.windows.net//.default";

/// Lifetime of a certificate assertion, seconds (Entra accepts at most ten minutes).
const ASSERTION_LIFETIME: i64 = 600;

/// How the service principal proves who it is.
pub enum ClientCredential {
    /// A client secret, sent in the form body.
    Secret(SecretString),
    /// A certificate whose private key signs a client assertion.
    Certificate(Certificate),
}

impl std::fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientCredential::Secret(_) => f.write_str("Secret([REDACTED])"),
            ClientCredential::Certificate(c) => f.debug_tuple("Certificate").field(c).finish(),
        }
    }
}

/// The signature algorithm of a certificate assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssertionAlg {
    /// RSASSA-PSS with SHA-256, what MSAL uses when it has the public certificate.
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
}

impl AssertionAlg {
    /// The JOSE name, `PS256` or `RS256`.
    pub fn name(self) -> &'static str {
        match self {
            AssertionAlg::Ps256 => "PS256",
            AssertionAlg::Rs256 => "RS256",
        }
    }
}

impl std::str::FromStr for AssertionAlg {
    type Err = UnknownAlg;
    fn from_str(s: &str) -> Result<Self, UnknownAlg> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PS256" => Ok(AssertionAlg::Ps256),
            "RS256" => Ok(AssertionAlg::Rs256),
            other => Err(UnknownAlg(other.to_owned())),
        }
    }
}

/// An assertion algorithm other than PS256 and RS256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAlg(pub String);

impl std::fmt::Display for UnknownAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` is not a supported assertion algorithm: expected PS256 or RS256", self.0)
    }
}

impl std::error::Error for UnknownAlg {}

/// The largest certificate or key file read: a certificate chain with its key is a few KiB.
pub const PEM_FILE_LIMIT: u64 = 1024 * 1024;

/// Why a certificate and key cannot sign assertions. Messages never quote the key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateError {
    /// A file could not be read.
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why: the operating system's reason, not a regular file, or larger than
        /// [`PEM_FILE_LIMIT`].
        reason: String,
    },
    /// The certificate text has no `CERTIFICATE` block.
    NoCertificate,
    /// The `CERTIFICATE` block is not valid PEM.
    MalformedCertificate(String),
    /// The key text has no `PRIVATE KEY` or `RSA PRIVATE KEY` block.
    NoKey,
    /// The key is not an RSA key.
    NotRsa,
    /// The RSA key is unusable (too short, or malformed).
    UnusableKey,
    /// The key's public half is not the certificate's.
    KeyMismatch,
}

impl std::fmt::Display for CertificateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertificateError::Read { path, reason } => write!(f, "cannot read {}: {reason}", path.display()),
            CertificateError::NoCertificate => f.write_str("no `-----BEGIN CERTIFICATE-----` block found"),
            CertificateError::MalformedCertificate(e) => write!(f, "the certificate PEM is malformed: {e}"),
            CertificateError::NoKey => f.write_str("no PEM private key (`PRIVATE KEY` or `RSA PRIVATE KEY`) found"),
            CertificateError::NotRsa => f.write_str("the private key is not an RSA key (only RSA keys are supported)"),
            CertificateError::UnusableKey => f.write_str("the private key is not a usable RSA key (2048 bits or more)"),
            CertificateError::KeyMismatch => f.write_str("the private key does not belong to the certificate"),
        }
    }
}

impl std::error::Error for CertificateError {}

/// A certificate and its RSA private key, ready to sign assertions.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    key: Arc<RsaKeyPair>,
    alg: AssertionAlg,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("x5t#S256", &self.thumbprint_sha256())
            .field("alg", &self.alg)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

impl Certificate {
    /// From the PEM text of the certificate (first `CERTIFICATE` block) and of the private key
    /// (`PRIVATE KEY` or `RSA PRIVATE KEY`; both may be the same file). Checks that the key
    /// belongs to the certificate. Errors never quote the key.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8], alg: AssertionAlg) -> Result<Self, CertificateError> {
        let der = CertificateDer::pem_slice_iter(cert_pem)
            .next()
            .ok_or(CertificateError::NoCertificate)?
            .map_err(|e| CertificateError::MalformedCertificate(e.to_string()))?
            .to_vec();
        let key = match PrivateKeyDer::from_pem_slice(key_pem) {
            Ok(PrivateKeyDer::Pkcs8(k)) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            Ok(PrivateKeyDer::Pkcs1(k)) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            Ok(_) => return Err(CertificateError::NotRsa),
            Err(_) => return Err(CertificateError::NoKey),
        }
        .map_err(|_| CertificateError::UnusableKey)?;
        // The certificate's SubjectPublicKeyInfo holds the key's DER `RSAPublicKey` verbatim.
        let public = key.public_key().as_ref();
        if !der.windows(public.len()).any(|w| w == public) {
            return Err(CertificateError::KeyMismatch);
        }
        Ok(Certificate { der, key: Arc::new(key), alg })
    }

    /// Read both from files (which may be the same file).
    pub fn from_files(cert: &Path, key: &Path, alg: AssertionAlg) -> Result<Self, CertificateError> {
        // A regular file of reasonable size: `/dev/zero` or a FIFO is refused at once.
        let read = |p: &Path| {
            brickauth_core::file::read(p, PEM_FILE_LIMIT)
                .map_err(|e| CertificateError::Read { path: p.to_path_buf(), reason: e.reason() })
        };
        Certificate::from_pem(&read(cert)?, &read(key)?, alg)
    }

    /// `x5t#S256`: base64url (no padding) of the SHA-256 of the certificate's DER.
    pub fn thumbprint_sha256(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &self.der))
    }

    /// `x5t`: base64url (no padding) of the SHA-1 of the certificate's DER.
    pub fn thumbprint_sha1(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &self.der))
    }

    /// A signed client assertion for `client_id` at `audience` (the token endpoint), issued at `now`.
    pub fn assertion(&self, client_id: &str, audience: &str, now: i64) -> Result<SecretString, AuthError> {
        let header = serde_json::json!({
            "alg": self.alg.name(),
            "typ": "JWT",
            "x5t#S256": self.thumbprint_sha256(),
            "x5t": self.thumbprint_sha1(),
            "x5c": [STANDARD.encode(&self.der)],
        });
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": brickauth_core::http::request_id(),
            "iat": now,
            "nbf": now,
            "exp": now + ASSERTION_LIFETIME,
        });
        let signed =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let padding: &dyn signature::RsaEncoding = match self.alg {
            AssertionAlg::Ps256 => &signature::RSA_PSS_SHA256,
            AssertionAlg::Rs256 => &signature::RSA_PKCS1_SHA256,
        };
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(padding, &SystemRandom::new(), signed.as_bytes(), &mut sig)
            .map_err(|_| AuthError::Io("signing the client assertion failed".into()))?;
        Ok(SecretString::from(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))))
    }
}

/// What the client-credentials flow needs.
#[derive(Debug)]
pub struct ClientCredentialsOptions {
    /// Authority, client id, scopes (sent undecorated).
    pub app: AppConfig,
    /// Secret or certificate.
    pub credential: ClientCredential,
    /// Whether the caller also wants an Azure management token (see
    /// [`ClientCredentialsFlow::management_token`]).
    pub management_token: bool,
}

impl ClientCredentialsOptions {
    /// Options with this credential and no management token.
    pub fn new(app: AppConfig, credential: ClientCredential) -> Self {
        ClientCredentialsOptions { app, credential, management_token: false }
    }
}

/// The client-credentials flow.
#[derive(Debug)]
pub struct ClientCredentialsFlow {
    options: ClientCredentialsOptions,
}

impl ClientCredentialsFlow {
    /// A flow with these options.
    pub fn new(options: ClientCredentialsOptions) -> Self {
        ClientCredentialsFlow { options }
    }

    /// Build from profile settings: the common keys plus exactly one of the `client_secret`
    /// secret or `client_certificate` (+ `client_certificate_key`, default: the same file).
    pub fn from_settings(s: &dyn Settings) -> Result<Self, ConfigError> {
        let app = AppConfig::from_settings(s)?;
        let secret = s.secret("client_secret")?;
        let cert = s.get("client_certificate");
        let credential = match (secret, cert) {
            (Some(secret), None) => ClientCredential::Secret(secret),
            (None, Some(cert)) => {
                let alg = s.parse::<AssertionAlg>("client_assertion_alg")?.unwrap_or_default();
                let key = s.get("client_certificate_key").unwrap_or(cert);
                let key_name = if s.get("client_certificate_key").is_some() {
                    "client_certificate_key"
                } else {
                    "client_certificate"
                };
                let certificate = Certificate::from_files(Path::new(cert), Path::new(key), alg)
                    .map_err(|e| s.invalid(key_name, e))?;
                ClientCredential::Certificate(certificate)
            }
            (Some(_), Some(_)) => {
                return Err(
                    s.invalid("client_certificate", "set either `client_secret` or `client_certificate`, not both")
                );
            }
            (None, None) => {
                return Err(ConfigError::new(
                    s.profile_name(),
                    "client_secret",
                    "this flow needs a credential: set `client_secret` (or `client_secret_env`, `client_secret_file`, \
                     `client_secret_command`), or `client_certificate` with `client_certificate_key`",
                ));
            }
        };
        let Flag(management_token) = s.parse("azure_management_token")?.unwrap_or_default();
        Ok(ClientCredentialsFlow::new(ClientCredentialsOptions { app, credential, management_token }))
    }

    /// Whether the profile asked for an Azure management token too (`azure_management_token`).
    pub fn wants_management_token(&self) -> bool {
        self.options.management_token
    }

    /// The form this flow posts for `scope` (assertions are made fresh; Debug redacts secrets).
    pub fn form(&self, scope: &str) -> Result<Form, AuthError> {
        let app = &self.options.app;
        Ok(match &self.options.credential {
            ClientCredential::Secret(secret) => secret_form(app, scope, secret),
            ClientCredential::Certificate(cert) => {
                let audience = app.authority.token_endpoint();
                let assertion = cert.assertion(app.client_id.as_str(), audience.as_str(), brickauth_core::now())?;
                assertion_form(app, scope, &assertion)
            }
        })
    }

    /// A token for other scopes than the profile's, with the same credential.
    pub async fn acquire_scope(&self, cx: &FlowContext<'_>, scope: &str) -> Result<TokenResponse, AuthError> {
        let app = &self.options.app;
        let form = self.form(scope)?;
        tracing::debug!(
            client_id = %app.client_id.as_str(),
            credential = match self.options.credential { ClientCredential::Secret(_) => "secret", _ => "certificate" },
            "client credentials grant"
        );
        cx.client.token(&app.authority.token_endpoint(), &form, true).await
    }

    /// A token for the Azure management endpoint, which Azure Databricks takes in
    /// `X-Databricks-Azure-SP-Management-Token` from service principals that are not yet
    /// workspace users.
    pub async fn management_token(&self, cx: &FlowContext<'_>) -> Result<TokenResponse, AuthError> {
        self.acquire_scope(cx, MANAGEMENT_SCOPE).await
    }
}

impl GrantFlow for ClientCredentialsFlow {
    fn app(&self) -> &AppConfig {
        &self.options.app
    }

    fn acquire<'a>(&'a self, cx: &'a FlowContext<'a>) -> BoxFuture<'a, Result<TokenResponse, AuthError>> {
        Box::pin(async move { self.acquire_scope(cx, &self.options.app.scopes.joined()).await })
    }
}

/// The keys this flow reads, on top of the common ones.
pub const KEYS: &[KeySpec] = &[
    KeySpec::optional_secret("client_secret", "the service principal's client secret (or use a certificate)")
        .one_of("credential"),
    KeySpec::optional("client_certificate", "path of the PEM certificate registered with the app").one_of("credential"),
    KeySpec::optional("client_certificate_key", "path of the PEM private key (default: the certificate file)"),
    KeySpec::optional("client_assertion_alg", "PS256 (default) or RS256: how the certificate assertion is signed"),
    KeySpec::optional("azure_management_token", "true: also get an Azure management token for the workspace"),
];

fn build(s: &dyn Settings) -> Result<Box<dyn GrantFlow>, ConfigError> {
    Ok(Box::new(ClientCredentialsFlow::from_settings(s)?))
}

brickauth_core::register_flow! {
    FlowSpec {
        name: "client-credentials",
        aliases: &["service-principal"],
        summary: "a service principal with a client secret or certificate: for pipelines",
        interactive: false,
        keys: KEYS,
        env: &[brickauth_core::flow::EnvKey::new("client_secret", &["ARM_CLIENT_SECRET", "AZURE_CLIENT_SECRET"])],
        databricks: brickauth_core::flow::DatabricksAuth {
            auth_types: &["azure-client-secret"],
            detect: &["azure_client_id", "azure_client_secret"],
            fallback: false,
            keys: &[("azure_client_id", "client_id"), ("azure_client_secret", "client_secret")],
        },
        app: brickauth_core::AppConfig::from_settings,
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickauth_core::{Interaction, MapSettings, TokenClient};
    use brickauth_mock::{MockEntra, SP_CLIENT_ID, SP_CLIENT_SECRET, TENANT_ID};

    fn fixture(name: &str) -> String {
        format!("{}/../../fixtures/certs/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn base(mock: &MockEntra) -> MapSettings {
        MapSettings::new("sp")
            .with("flow", "client-credentials")
            .with("tenant_id", TENANT_ID)
            .with("client_id", SP_CLIENT_ID)
            .with("authority_host", mock.uri())
    }

    async fn acquire(flow: &ClientCredentialsFlow) -> Result<TokenResponse, AuthError> {
        brickauth_core::flow::acquire_unattended(flow).await
    }

    #[test]
    fn registered_under_its_names() {
        for n in ["client-credentials", "service-principal"] {
            assert_eq!(brickauth_core::flow::find(n).map(|s| s.name), Ok("client-credentials"));
        }
    }

    #[tokio::test]
    async fn secret_sends_what_msal_sends() {
        let mock = MockEntra::start().await;
        let flow =
            ClientCredentialsFlow::from_settings(&base(&mock).with_secret("client_secret", SP_CLIENT_SECRET)).unwrap();
        let r = acquire(&flow).await.unwrap();
        assert!(r.refresh_token.is_none());
        let reqs = mock.token_requests().await;
        let form = &reqs[0].form;
        assert_eq!(form.get("grant_type").map(String::as_str), Some("client_credentials"));
        assert_eq!(form.get("scope").map(String::as_str), Some("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"));
        assert_eq!(form.get("client_info").map(String::as_str), Some("1"));
        assert_eq!(form.get("client_secret").map(String::as_str), Some(SP_CLIENT_SECRET));
    }

    #[tokio::test]
    async fn wrong_secret_is_invalid_client() {
        let mock = MockEntra::start().await;
        let flow =
            ClientCredentialsFlow::from_settings(&base(&mock).with_secret("client_secret", "nope-wrong")).unwrap();
        let err = acquire(&flow).await.unwrap_err();
        assert_eq!(err.entra().map(|e| (e.error.as_str(), e.code())), Some(("invalid_client", Some(7000215))));
        assert!(!err.to_string().contains("nope-wrong"));
    }

    #[tokio::test]
    async fn certificate_assertion_verifies_in_both_algorithms_and_key_formats() {
        let mock = MockEntra::start().await;
        for (key, alg) in [("sp-key.pem", "PS256"), ("sp-key-pkcs1.pem", "RS256"), ("sp-combined.pem", "PS256")] {
            let s = base(&mock)
                .with("client_certificate", fixture("sp-cert.pem"))
                .with("client_certificate_key", fixture(key))
                .with("client_assertion_alg", alg);
            let flow = ClientCredentialsFlow::from_settings(&s).unwrap();
            acquire(&flow).await.unwrap_or_else(|e| panic!("{key} {alg}: {e}"));
        }
        let reqs = mock.token_requests().await;
        let assertion = reqs[0].form.get("client_assertion").cloned().unwrap_or_default();
        let header = brickauth_mock::jwt::header(&assertion).unwrap();
        let claims = brickauth_mock::jwt::claims(&assertion).unwrap();
        assert_eq!(header["alg"], "PS256");
        assert!(header["x5t#S256"].is_string() && header["x5t"].is_string());
        assert_eq!(claims["aud"], mock.token_endpoint());
        assert_eq!(claims["iss"], SP_CLIENT_ID);
        assert_eq!(claims["sub"], SP_CLIENT_ID);
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 600);
        assert!(!reqs[0].form.contains_key("client_secret"));
    }

    #[tokio::test]
    async fn mock_refuses_expired_wrong_audience_and_foreign_key() {
        let mock = MockEntra::start().await;
        let good = base(&mock).with("client_certificate", fixture("sp-combined.pem"));
        let flow = ClientCredentialsFlow::from_settings(&good).unwrap();
        mock.set_assertion_clock_offset(700);
        assert_eq!(acquire(&flow).await.unwrap_err().entra().and_then(|e| e.code()), Some(700024));
        mock.set_assertion_clock_offset(0);
        mock.set_assertion_audience(Some("https://login.microsoftonline.com/other/oauth2/v2.0/token"));
        assert_eq!(acquire(&flow).await.unwrap_err().entra().and_then(|e| e.code()), Some(50012));
        mock.set_assertion_audience(None);
        acquire(&flow).await.unwrap();
        let other = base(&mock)
            .with("client_certificate", fixture("other-cert.pem"))
            .with("client_certificate_key", fixture("other-key.pem"));
        let err = acquire(&ClientCredentialsFlow::from_settings(&other).unwrap()).await.unwrap_err();
        assert_eq!(err.entra().map(|e| (e.status, e.code())), Some((401, Some(700027))));
    }

    #[tokio::test]
    async fn management_token_uses_the_management_scope() {
        let mock = MockEntra::start().await;
        let s = base(&mock).with_secret("client_secret", SP_CLIENT_SECRET).with("azure_management_token", "true");
        let flow = ClientCredentialsFlow::from_settings(&s).unwrap();
        assert!(flow.wants_management_token());
        let client = TokenClient::new().unwrap();
        flow.management_token(&FlowContext::new(&client, Interaction::NONE)).await.unwrap();
        let reqs = mock.token_requests().await;
        assert_eq!(reqs[0].form.get("scope").map(String::as_str), Some(MANAGEMENT_SCOPE));
    }

    #[test]
    fn exactly_one_credential() {
        let s = MapSettings::new("p").with("tenant_id", TENANT_ID).with("client_id", SP_CLIENT_ID);
        assert_eq!(ClientCredentialsFlow::from_settings(&s).unwrap_err().key.as_deref(), Some("client_secret"));
        let both = s.with_secret("client_secret", "x").with("client_certificate", fixture("sp-combined.pem"));
        let err = ClientCredentialsFlow::from_settings(&both).unwrap_err();
        assert!(err.message.contains("not both"), "{err}");
    }

    #[test]
    fn mismatched_key_and_missing_file_are_config_errors() {
        let s = MapSettings::new("p")
            .with("tenant_id", TENANT_ID)
            .with("client_id", SP_CLIENT_ID)
            .with("client_certificate", fixture("sp-cert.pem"));
        let wrong = MapSettings::new("p")
            .with("tenant_id", TENANT_ID)
            .with("client_id", SP_CLIENT_ID)
            .with("client_certificate", fixture("sp-cert.pem"))
            .with("client_certificate_key", fixture("other-key.pem"));
        let err = ClientCredentialsFlow::from_settings(&wrong).unwrap_err();
        assert!(err.message.contains("does not belong"), "{err}");
        // The certificate file holds no key.
        let err = ClientCredentialsFlow::from_settings(&s).unwrap_err();
        assert!(err.message.contains("private key"), "{err}");
        let missing = MapSettings::new("p")
            .with("tenant_id", TENANT_ID)
            .with("client_id", SP_CLIENT_ID)
            .with("client_certificate", "/nonexistent/cert.pem");
        assert!(ClientCredentialsFlow::from_settings(&missing).unwrap_err().message.contains("cannot read"));
    }

    #[test]
    fn debug_redacts() {
        let s = MapSettings::new("p")
            .with("tenant_id", TENANT_ID)
            .with("client_id", SP_CLIENT_ID)
            .with_secret("client_secret", "s3cr3t-value");
        let f = ClientCredentialsFlow::from_settings(&s).unwrap();
        assert!(!format!("{f:?} {:?}", f.form("x/.default").unwrap()).contains("s3cr3t-value"));
        let c = MapSettings::new("p")
            .with("tenant_id", TENANT_ID)
            .with("client_id", SP_CLIENT_ID)
            .with("client_certificate", fixture("sp-combined.pem"));
        let f = ClientCredentialsFlow::from_settings(&c).unwrap();
        let form = f.form("x/.default").unwrap();
        assert!(form.encode().contains("client_assertion=eyJ"));
        assert!(!format!("{f:?} {form:?}").contains("eyJ"), "an assertion leaked into Debug");
    }
}
