//! `ProfileFile::parse` + `profile()` of a realistic five-profile file: the work every
//! `brickauth token` does before it can look at the token cache.
//!
//! The flows are registered here (no flow crate is linked into this bench) with the key sets the
//! real flows declare, so validation does the same amount of work.

use std::hint::black_box;
use std::path::Path;

use brickauth_core::flow::{FlowSpec, GrantFlow};
use brickauth_core::settings::{ConfigError, KeySpec, Settings};
use brickauth_profile::ProfileFile;
use criterion::{Criterion, criterion_group, criterion_main};

fn not_built(_: &dyn Settings) -> Result<Box<dyn GrantFlow>, ConfigError> {
    Err(ConfigError::general("bench flows are never built"))
}

brickauth_core::inventory::submit! {
    FlowSpec {
        name: "bench-authorization-code",
        aliases: &[],
        summary: "browser sign-in",
        interactive: true,
        keys: &[KeySpec::optional("redirect_uri", "loopback redirect"), KeySpec::optional("login_timeout", "seconds")],
        env: &[],
        databricks: brickauth_core::flow::DatabricksAuth::NONE,
        app: brickauth_core::AppConfig::from_settings,
        build: not_built,
    }
}

brickauth_core::inventory::submit! {
    FlowSpec {
        name: "bench-password",
        aliases: &[],
        summary: "username and password",
        interactive: false,
        keys: &[KeySpec::required("username", "user"), KeySpec::secret("password", "password")],
        env: &[],
        databricks: brickauth_core::flow::DatabricksAuth::NONE,
        app: brickauth_core::AppConfig::from_settings,
        build: not_built,
    }
}

brickauth_core::inventory::submit! {
    FlowSpec {
        name: "bench-refresh-token",
        aliases: &[],
        summary: "a refresh token",
        interactive: false,
        keys: &[KeySpec::secret("refresh_token", "refresh token")],
        env: &[],
        databricks: brickauth_core::flow::DatabricksAuth::NONE,
        app: brickauth_core::AppConfig::from_settings,
        build: not_built,
    }
}

brickauth_core::inventory::submit! {
    FlowSpec {
        name: "bench-client-credentials",
        aliases: &[],
        summary: "service principal",
        interactive: false,
        keys: &[
            KeySpec::optional_secret("client_secret", "secret"),
            KeySpec::optional("federated_token_file", "workload identity"),
        ],
        env: &[],
        databricks: brickauth_core::flow::DatabricksAuth::NONE,
        app: brickauth_core::AppConfig::from_settings,
        build: not_built,
    }
}

const FILE: &str = r#"
default_profile = "dev"

[defaults]
tenant_id = "a1bc2d34-5e67-8f89-01ab-c2345d6c78de"
client_id = "12a34b56-789c-0d12-e3fa-b456789c0123"
login_timeout = 300

[profiles.dev]
flow = "bench-authorization-code"
host = "https://adb-1234567890123456.7.azuredatabricks.net"
redirect_uri = "http://localhost"

[profiles.ci]
flow = "bench-password"
host = "https://adb-2345678901234567.8.azuredatabricks.net"
username = "svc-etl@contoso.com"
password_env = "BRICKAUTH_PASSWORD"

[profiles.admin]
flow = "bench-refresh-token"
host = "https://adb-3456789012345678.9.azuredatabricks.net"
refresh_token_file = "~/.secrets/dbx-rt"
azure_workspace_resource_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws"

[profiles.sp]
flow = "bench-client-credentials"
host = "https://adb-4567890123456789.0.azuredatabricks.net"
client_id = "23b45c67-890d-1e23-f4ab-c567890d1234"
client_secret_command = "az keyvault secret show --vault-name kv --name sp --query value -o tsv"
scopes = ["2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"]

[profiles.gov]
flow = "bench-authorization-code"
host = "https://adb-5678901234567890.1.databricks.azure.us"
cloud = "usgov"
tenant_id = "b2cd3e45-6f78-9a90-12bc-d3456e7f89ef"
"#;

fn bench(c: &mut Criterion) {
    let path = Path::new("profiles.toml");
    c.bench_function("parse", |b| b.iter(|| ProfileFile::parse(path, black_box(FILE))));
    c.bench_function("parse + profile", |b| {
        b.iter(|| ProfileFile::parse(path, black_box(FILE)).and_then(|f| f.profile(black_box("ci"))))
    });
    let file = ProfileFile::parse(path, FILE).expect("the bench file is valid");
    for name in file.names() {
        file.profile(name).expect("every bench profile is valid");
    }
    c.bench_function("profile", |b| b.iter(|| file.profile(black_box("sp"))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
