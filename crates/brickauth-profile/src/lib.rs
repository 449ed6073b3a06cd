//! The brickauth profile file: load it, merge `[defaults]`, validate, resolve secrets lazily.
//!
//! ```toml
//! default_profile = "dev"
//! secret_storage = "keychain"       # where refresh tokens are kept: auto, keychain, keyring, file
//!
//! [defaults]                        # merged under every profile; a profile's own key wins
//! tenant_id = "a1bc2d34-5e67-8f89-01ab-c2345d6c78de"
//!
//! [profiles.ci]
//! flow = "password"
//! username = "svc-etl@contoso.com"
//! password_env = "BRICKAUTH_PASSWORD"
//! ```
//!
//! - [`config_path`] finds the file (`--config`, `$BRICKAUTH_CONFIG`, XDG, platform default);
//! - [`ProfileFile::load`] reads and parses it, keeping every key's `line:column`;
//! - [`ProfileFile::select`] picks the profile (`-p`, `$BRICKAUTH_PROFILE`, `default_profile`,
//!   `default`) and [`ProfileFile::profile`] merges and validates it against its flow;
//! - [`Profile`] implements [`brickauth_core::settings::Settings`], the view flows are built from;
//!   [`Profile::from_env`] builds one from CI variables instead of a file.
//!
//! **Cheap by design:** loading, selecting and validating never resolve a secret, read a secret
//! file or run a command; the cached-token path runs them on every `brickauth token`. Secrets are
//! resolved when a flow asks [`Settings::secret`](brickauth_core::settings::Settings::secret).
//!
//! **Provenance:** every value remembers its [`Origin`] (file position, `[defaults]`, environment
//! variable, command-line flag), which `profiles show` and authentication errors print.
//!
//! **What this crate does not do:** it does not know any flow by name (flows register themselves
//! with `inventory`; see [`brickauth_core::flow`]), does not check values beyond their TOML type
//! (tenants, hosts and scopes are parsed by core when a flow is built), and never prints.
#![warn(missing_docs)]
// Only the CLI prints; a library reports through types (tests may print).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

mod databrickscfg;
mod error;
mod file;
mod origin;
mod path;
mod profile;
mod secret;
#[cfg(test)]
mod tests;

pub use databrickscfg::{DatabricksCfg, Mapped, MappedKey, Sources, databrickscfg_path, toml_choice};
pub use error::ProfileError;
pub use file::{ProfileFile, SECRET_STORAGE_VALUES};
pub use origin::{Origin, Position, display_path};
pub use path::config_path;
pub use profile::{DisplayValue, Profile};
pub use secret::SECRET_FILE_LIMIT;

/// Flows registered for this crate's unit tests only: no real flow crate is linked here.
#[cfg(test)]
mod test_flows {
    use brickauth_core::flow::{DatabricksAuth, EnvKey, FlowSpec, GrantFlow};
    use brickauth_core::settings::{ConfigError, KeySpec, Settings};

    fn not_built(_: &dyn Settings) -> Result<Box<dyn GrantFlow>, ConfigError> {
        Err(ConfigError::general("test flows are never built"))
    }

    brickauth_core::inventory::submit! {
        FlowSpec {
            name: "test-password",
            aliases: &["test-ropc"],
            summary: "username and password (tests only)",
            interactive: false,
            keys: &[
                KeySpec::required("username", "the user"),
                KeySpec::secret("password", "the user's password"),
                KeySpec::optional("login_timeout", "seconds"),
            ],
            env: &[EnvKey::new("username", &["BRICKAUTH_USERNAME"]), EnvKey::new("password", &["BRICKAUTH_PASSWORD"])],
            databricks: DatabricksAuth::NONE,
            app: brickauth_core::AppConfig::from_settings,
            build: not_built,
        }
    }

    brickauth_core::inventory::submit! {
        FlowSpec {
            name: "test-secret",
            aliases: &[],
            summary: "client credentials (tests only)",
            interactive: false,
            keys: &[
                KeySpec::required("tenant_id", "the tenant"),
                KeySpec::required("client_id", "the app"),
                KeySpec::secret("client_secret", "the app's secret"),
                KeySpec::optional("federated_token_file", "a workload identity token file"),
            ],
            env: &[
                EnvKey::new("client_secret", &["ARM_CLIENT_SECRET", "AZURE_CLIENT_SECRET"]),
                EnvKey::new("federated_token_file", &["AZURE_FEDERATED_TOKEN_FILE"]),
            ],
            databricks: DatabricksAuth {
                auth_types: &["azure-client-secret"],
                detect: &["azure_client_id", "azure_client_secret"],
                fallback: false,
                keys: &[("azure_client_id", "client_id"), ("azure_client_secret", "client_secret")],
            },
            app: brickauth_core::AppConfig::from_settings,
            build: not_built,
        }
    }

    brickauth_core::inventory::submit! {
        FlowSpec {
            name: "test-sp",
            aliases: &[],
            summary: "a client secret or a certificate (tests only)",
            interactive: false,
            keys: &[
                KeySpec::optional_secret("client_secret", "the app's secret").one_of("credential"),
                KeySpec::optional("client_certificate", "a certificate").one_of("credential"),
            ],
            env: &[],
            databricks: DatabricksAuth::NONE,
            app: brickauth_core::AppConfig::from_settings,
            build: not_built,
        }
    }

    brickauth_core::inventory::submit! {
        FlowSpec {
            name: "test-m2m",
            aliases: &["oauth-m2m"],
            summary: "Databricks service principal (tests only)",
            interactive: false,
            keys: &[KeySpec::required("client_id", "the service principal"), KeySpec::secret("client_secret", "its secret")],
            env: &[
                EnvKey::new("client_id", &["DATABRICKS_CLIENT_ID"]),
                EnvKey::new("client_secret", &["DATABRICKS_CLIENT_SECRET"]),
            ],
            databricks: DatabricksAuth {
                auth_types: &["oauth-m2m"],
                detect: &["client_id", "client_secret"],
                fallback: false,
                keys: &[("client_id", "client_id"), ("client_secret", "client_secret")],
            },
            app: brickauth_core::AppConfig::from_settings,
            build: not_built,
        }
    }

    brickauth_core::inventory::submit! {
        FlowSpec {
            name: "test-cli",
            aliases: &[],
            summary: "another tool's sign-in (tests only)",
            interactive: false,
            keys: &[KeySpec::optional("cli_path", "the tool")],
            env: &[],
            databricks: DatabricksAuth { auth_types: &["azure-cli"], detect: &[], fallback: true, keys: &[] },
            app: brickauth_core::AppConfig::from_settings,
            build: not_built,
        }
    }

    /// An interactive flow with the defaults that need no app registration.
    const TEST_INTERACTIVE_KEYS: &[KeySpec] = &[
        KeySpec::optional("client_id", "the app").with_default("04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
        KeySpec::optional("tenant_id", "the tenant").with_default("organizations"),
    ];

    fn test_interactive_app(s: &dyn Settings) -> Result<brickauth_core::AppConfig, ConfigError> {
        brickauth_core::AppConfig::from_settings_with(s, TEST_INTERACTIVE_KEYS)
    }

    brickauth_core::inventory::submit! {
        FlowSpec {
            name: "test-interactive",
            aliases: &[],
            summary: "a person signs in (tests only)",
            interactive: true,
            keys: TEST_INTERACTIVE_KEYS,
            env: &[],
            databricks: DatabricksAuth::NONE,
            app: test_interactive_app,
            build: not_built,
        }
    }

    brickauth_core::inventory::submit! {
        FlowSpec {
            name: "test-msi",
            aliases: &[],
            summary: "managed identity (tests only)",
            interactive: false,
            keys: &[KeySpec::optional("msi_client_id", "user-assigned identity")],
            env: &[],
            databricks: DatabricksAuth {
                auth_types: &["azure-msi"],
                detect: &["azure_use_msi"],
                fallback: false,
                keys: &[("azure_client_id", "msi_client_id")],
            },
            app: brickauth_core::AppConfig::from_settings,
            build: not_built,
        }
    }
}
