//! Workload identity federation: a service principal signs in with an OIDC token that the
//! platform it runs on hands out, instead of a secret.
//!
//! Flow name `workload-identity`, alias `federated`. The request is a client-credentials grant
//! whose client assertion is that external token (Entra checks it against the app's federated
//! credentials: issuer, subject, audience `api://AzureADTokenExchange`):
//!
//! ```text
//! POST {authority}/{tenant}/oauth2/v2.0/token
//! client_id, grant_type=client_credentials, scope=<profile scopes, undecorated>, client_info=1,
//! client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer, client_assertion=<external token>
//! ```
//!
//! The external token is fetched **fresh for every acquisition** (they live minutes), from the
//! first source that is configured:
//!
//! 1. a file: key `federated_token_file`, else `$AZURE_FEDERATED_TOKEN_FILE` (Kubernetes
//!    workload identity projects it there);
//! 2. GitHub Actions (`permissions: id-token: write`): `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=api://AzureADTokenExchange`
//!    with `Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN` → `{"value": "<jwt>"}`;
//! 3. Azure Pipelines: `POST $SYSTEM_OIDCREQUESTURI?api-version=7.1&serviceConnectionId=<id>` with
//!    `Authorization: Bearer $SYSTEM_ACCESSTOKEN` → `{"oidcToken": "<jwt>"}`; the id comes from key
//!    `service_connection_id` or `$AZURESUBSCRIPTION_SERVICE_CONNECTION_ID`.
//!
//! Variables are read through [`Env`] when the flow is built, so that embedders and tests can
//! supply them without touching the process environment.
#![warn(missing_docs)]
// Only the CLI prints; a library reports through types (tests may print).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

use std::path::PathBuf;

use brickauth_core::app::secure_url;
use brickauth_core::assertion::assertion_form;
use brickauth_core::flow::{BoxFuture, FlowContext, FlowSpec, GrantFlow};
use brickauth_core::http::{TOKEN_BUSY, send, strip};
use brickauth_core::settings::{ConfigError, KeySpec, Settings};
use brickauth_core::{AppConfig, AuthError, ExposeSecret, SecretString, TokenResponse};
use url::Url;

/// The largest federated token file read: a JWT is a few KiB.
pub const FEDERATED_TOKEN_LIMIT: u64 = 64 * 1024;

/// The audience external tokens are requested for.
pub const AUDIENCE: &str = "api://AzureADTokenExchange";

/// Where environment variables come from.
pub trait Env: Send + Sync {
    /// The variable's value, if set and valid UTF-8.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for std::collections::BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// Where the external OIDC token comes from.
pub enum TokenSource {
    /// A file, re-read on every acquisition.
    File(PathBuf),
    /// GitHub Actions' OIDC provider.
    GitHubActions {
        /// `ACTIONS_ID_TOKEN_REQUEST_URL` with `audience` added.
        url: Url,
        /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
        token: SecretString,
    },
    /// Azure Pipelines' OIDC endpoint for a service connection.
    AzurePipelines {
        /// `SYSTEM_OIDCREQUESTURI` with `api-version` and `serviceConnectionId` added.
        url: Url,
        /// `SYSTEM_ACCESSTOKEN`.
        token: SecretString,
    },
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::File(p) => f.debug_tuple("File").field(p).finish(),
            TokenSource::GitHubActions { url, .. } => {
                f.debug_struct("GitHubActions").field("url", &strip(url)).finish()
            }
            TokenSource::AzurePipelines { url, .. } => {
                f.debug_struct("AzurePipelines").field("url", &strip(url)).finish()
            }
        }
    }
}

impl TokenSource {
    /// The first source `settings` and `env` configure (see the crate docs for the order).
    pub fn detect(s: &dyn Settings, env: &dyn Env) -> Result<Self, ConfigError> {
        let profile = s.profile_name();
        if let Some(path) = s.get("federated_token_file") {
            return Ok(TokenSource::File(PathBuf::from(path)));
        }
        if let Some(path) = env.var("AZURE_FEDERATED_TOKEN_FILE").filter(|p| !p.is_empty()) {
            return Ok(TokenSource::File(PathBuf::from(path)));
        }
        let url = |var: &str, raw: String| {
            secure_url(&raw).map_err(|e| ConfigError::general(format!("profile `{profile}`: ${var}: {e}")))
        };
        if let (Some(raw), Some(token)) =
            (env.var("ACTIONS_ID_TOKEN_REQUEST_URL"), env.var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
        {
            let mut url = url("ACTIONS_ID_TOKEN_REQUEST_URL", raw)?;
            url.query_pairs_mut().append_pair("audience", AUDIENCE);
            return Ok(TokenSource::GitHubActions { url, token: SecretString::from(token) });
        }
        if let (Some(raw), Some(token)) = (env.var("SYSTEM_OIDCREQUESTURI"), env.var("SYSTEM_ACCESSTOKEN")) {
            let id = s
                .get("service_connection_id")
                .map(str::to_owned)
                .or_else(|| env.var("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"))
                .ok_or_else(|| {
                    ConfigError::new(
                        profile,
                        "service_connection_id",
                        "running in Azure Pipelines: set `service_connection_id` (or \
                         $AZURESUBSCRIPTION_SERVICE_CONNECTION_ID) to the service connection's id",
                    )
                })?;
            let mut url = url("SYSTEM_OIDCREQUESTURI", raw)?;
            url.query_pairs_mut().append_pair("api-version", "7.1").append_pair("serviceConnectionId", &id);
            return Ok(TokenSource::AzurePipelines { url, token: SecretString::from(token) });
        }
        Err(ConfigError::new(
            profile,
            "federated_token_file",
            "no federated token source: set `federated_token_file` or $AZURE_FEDERATED_TOKEN_FILE, or run in GitHub \
             Actions with `permissions: id-token: write`, or in Azure Pipelines with $SYSTEM_OIDCREQUESTURI, \
             $SYSTEM_ACCESSTOKEN and a service connection id",
        ))
    }

    /// Fetch the external token now.
    pub async fn token(&self, cx: &FlowContext<'_>) -> Result<SecretString, AuthError> {
        let (url, bearer, field, post) = match self {
            TokenSource::File(path) => {
                // A regular file within the limit: never a FIFO or a device (`brickauth_core::file`).
                let text = brickauth_core::file::read_to_string(path, FEDERATED_TOKEN_LIMIT).map_err(|e| {
                    AuthError::Io(format!("cannot read federated token file {}: {}", path.display(), e.reason()))
                })?;
                let text = text.trim();
                if text.is_empty() {
                    return Err(AuthError::Io(format!("federated token file {} is empty", path.display())));
                }
                return Ok(SecretString::from(text.to_owned()));
            }
            TokenSource::GitHubActions { url, token } => (url, token, "value", false),
            TokenSource::AzurePipelines { url, token } => (url, token, "oidcToken", true),
        };
        let http = cx.client.http()?;
        let text = brickauth_core::text::ServerText::new([bearer.expose_secret()]);
        let answer = send(cx.client.policy(), cx.client.observer(), TOKEN_BUSY, url, &text, || {
            let r = if post { http.post(url.clone()) } else { http.get(url.clone()) };
            r.header("Accept", "application/json")
                .header("Content-Type", "application/json")
                .bearer_auth(bearer.expose_secret())
        })
        .await?;
        let (status, body) = (answer.status, &answer.body);
        if !answer.is_success() {
            return Err(AuthError::Status { url: strip(url), status, body: answer.snippet() });
        }
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get(field).and_then(serde_json::Value::as_str).map(str::to_owned))
            .filter(|t| !t.is_empty())
            .map(SecretString::from)
            .ok_or_else(|| AuthError::Status {
                url: strip(url),
                status,
                body: format!("the answer has no `{field}` token"),
            })
    }
}

/// What the workload identity flow needs.
#[derive(Debug)]
pub struct WorkloadIdentityOptions {
    /// Authority, client id, scopes (sent undecorated).
    pub app: AppConfig,
    /// Where the external token comes from.
    pub source: TokenSource,
}

/// The workload identity flow.
#[derive(Debug)]
pub struct WorkloadIdentityFlow {
    options: WorkloadIdentityOptions,
}

impl WorkloadIdentityFlow {
    /// A flow with these options.
    pub fn new(options: WorkloadIdentityOptions) -> Self {
        WorkloadIdentityFlow { options }
    }

    /// Build from profile settings and the process environment.
    pub fn from_settings(s: &dyn Settings) -> Result<Self, ConfigError> {
        WorkloadIdentityFlow::from_settings_env(s, &ProcessEnv)
    }

    /// Build from profile settings and the given environment.
    pub fn from_settings_env(s: &dyn Settings, env: &dyn Env) -> Result<Self, ConfigError> {
        let app = AppConfig::from_settings(s)?;
        let source = TokenSource::detect(s, env)?;
        Ok(WorkloadIdentityFlow::new(WorkloadIdentityOptions { app, source }))
    }
}

impl GrantFlow for WorkloadIdentityFlow {
    fn app(&self) -> &AppConfig {
        &self.options.app
    }

    fn acquire<'a>(&'a self, cx: &'a FlowContext<'a>) -> BoxFuture<'a, Result<TokenResponse, AuthError>> {
        Box::pin(async move {
            let app = &self.options.app;
            tracing::debug!(source = ?self.options.source, "workload identity: fetching the federated token");
            let assertion = self.options.source.token(cx).await?;
            let form = assertion_form(app, &app.scopes.joined(), &assertion);
            cx.client.token(&app.authority.token_endpoint(), &form, true).await
        })
    }
}

/// The keys this flow reads, on top of the common ones.
pub const KEYS: &[KeySpec] = &[
    KeySpec::optional(
        "federated_token_file",
        "file holding the federated OIDC token (default: $AZURE_FEDERATED_TOKEN_FILE)",
    ),
    KeySpec::optional(
        "service_connection_id",
        "Azure Pipelines service connection id (or $AZURESUBSCRIPTION_SERVICE_CONNECTION_ID)",
    ),
];

fn build(s: &dyn Settings) -> Result<Box<dyn GrantFlow>, ConfigError> {
    Ok(Box::new(WorkloadIdentityFlow::from_settings(s)?))
}

brickauth_core::register_flow! {
    FlowSpec {
        name: "workload-identity",
        aliases: &["federated"],
        summary: "a service principal with a federated OIDC token: Kubernetes, GitHub Actions, Azure Pipelines",
        interactive: false,
        keys: KEYS,
        env: &[brickauth_core::flow::EnvKey::new("federated_token_file", &["AZURE_FEDERATED_TOKEN_FILE"])],
        databricks: brickauth_core::flow::DatabricksAuth {
            auth_types: &["github-oidc-azure", "azure-devops-oidc"],
            detect: &[],
            fallback: false,
            keys: &[("azure_client_id", "client_id"), ("client_id", "client_id")],
        },
        app: brickauth_core::AppConfig::from_settings,
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use brickauth_core::MapSettings;
    use brickauth_mock::{MockEntra, SP_CLIENT_ID, TENANT_ID};
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn settings(mock: &MockEntra) -> MapSettings {
        MapSettings::new("wi")
            .with("tenant_id", TENANT_ID)
            .with("client_id", SP_CLIENT_ID)
            .with("authority_host", mock.uri())
    }

    fn env(vars: &[(&str, &str)]) -> BTreeMap<String, String> {
        vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    async fn acquire(flow: &WorkloadIdentityFlow) -> Result<TokenResponse, AuthError> {
        brickauth_core::flow::acquire_unattended(flow).await
    }

    #[test]
    fn registered_under_its_names() {
        for n in ["workload-identity", "federated"] {
            assert_eq!(brickauth_core::flow::find(n).map(|s| s.name), Ok("workload-identity"));
        }
    }

    #[tokio::test]
    async fn file_is_read_fresh_every_time() {
        let mock = MockEntra::start().await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, mock.federated_token(600)).unwrap();
        let s = settings(&mock);
        let flow = WorkloadIdentityFlow::from_settings_env(
            &s,
            &env(&[("AZURE_FEDERATED_TOKEN_FILE", &file.to_string_lossy())]),
        )
        .unwrap();
        acquire(&flow).await.unwrap();
        let form = mock.token_requests().await[0].form.clone();
        assert_eq!(form.get("grant_type").map(String::as_str), Some("client_credentials"));
        assert_eq!(
            form.get("client_assertion_type").map(String::as_str),
            Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        );
        // Rotated to a token from another subject: the next acquisition must use it, and fail.
        let other = brickauth_mock::federated_token(
            brickauth_mock::FEDERATED_ISSUER,
            "repo:evil/fork:ref:refs/heads/x",
            AUDIENCE,
            600,
        );
        std::fs::write(&file, other).unwrap();
        let err = acquire(&flow).await.unwrap_err();
        assert_eq!(err.entra().and_then(|e| e.code()), Some(70021));
        // An expired one.
        std::fs::write(&file, mock.federated_token(-5)).unwrap();
        assert_eq!(acquire(&flow).await.unwrap_err().entra().and_then(|e| e.code()), Some(700024));
    }

    #[tokio::test]
    async fn github_actions() {
        let mock = MockEntra::start().await;
        let gh = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/token"))
            .and(query_param("api-version", "2.0"))
            .and(query_param("audience", AUDIENCE))
            .and(header("authorization", "Bearer gh-request-token"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({ "value": mock.federated_token(300) })),
            )
            .expect(1)
            .mount(&gh)
            .await;
        let vars = env(&[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &format!("{}/token?api-version=2.0", gh.uri())),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-token"),
        ]);
        let flow = WorkloadIdentityFlow::from_settings_env(&settings(&mock), &vars).unwrap();
        assert!(!format!("{flow:?}").contains("gh-request-token"));
        acquire(&flow).await.unwrap();
    }

    #[tokio::test]
    async fn azure_pipelines() {
        let mock = MockEntra::start().await;
        let ado = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/oidc"))
            .and(query_param("api-version", "7.1"))
            .and(query_param("serviceConnectionId", "sc-123"))
            .and(header("authorization", "Bearer ado-token"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({ "oidcToken": mock.federated_token(300) })),
            )
            .expect(1)
            .mount(&ado)
            .await;
        let vars = env(&[
            ("SYSTEM_OIDCREQUESTURI", &format!("{}/oidc", ado.uri())),
            ("SYSTEM_ACCESSTOKEN", "ado-token"),
            ("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID", "sc-123"),
        ]);
        let flow = WorkloadIdentityFlow::from_settings_env(&settings(&mock), &vars).unwrap();
        acquire(&flow).await.unwrap();
        // Without a service connection id it is a configuration error.
        let vars = env(&[("SYSTEM_OIDCREQUESTURI", "https://dev.azure.invalid/oidc"), ("SYSTEM_ACCESSTOKEN", "t")]);
        let err = WorkloadIdentityFlow::from_settings_env(&settings(&mock), &vars).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("service_connection_id"));
    }

    #[tokio::test]
    async fn no_source_and_clear_text_are_config_errors() {
        let mock = MockEntra::start().await;
        let err = WorkloadIdentityFlow::from_settings_env(&settings(&mock), &env(&[])).unwrap_err();
        assert!(err.message.contains("no federated token source"), "{err}");
        let vars =
            env(&[("ACTIONS_ID_TOKEN_REQUEST_URL", "http://example.com/t"), ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "x")]);
        let err = WorkloadIdentityFlow::from_settings_env(&settings(&mock), &vars).unwrap_err();
        assert!(err.message.contains("clear-text"), "{err}");
    }
}
