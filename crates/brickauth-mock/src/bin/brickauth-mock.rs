//! `brickauth-mock`: runs the mock Entra ID and the mock Databricks workspace until Ctrl-C.
//!
//! stdout carries a ready-to-use profile file for `brickauth` pointing at the mocks (a comment in
//! it says which password to export); status messages go to stderr. For demos and for poking at
//! the CLI by hand:
//!
//! ```text
//! brickauth-mock > /tmp/mock-profiles.toml &
//! export BRICKAUTH_PASSWORD='correct horse battery staple'
//! brickauth --config /tmp/mock-profiles.toml clusters list
//! ```

use brickauth_mock::{CLIENT_ID, MockConfig, MockDatabricks, MockEntra, TENANT_ID};

#[tokio::main]
async fn main() {
    let config = MockConfig::default();
    let alice = config.users.first().cloned();
    let entra = MockEntra::start_with(config).await;
    let workspace = MockDatabricks::start(entra.registry()).await;

    let (username, password) = alice.map(|user| (user.username, user.password)).unwrap_or_default();
    print!("{}", profile_toml(&entra.uri(), &workspace.uri(), &username, &password));

    eprintln!(
        "brickauth-mock: Entra ID at {}, Databricks workspace at {}; press Ctrl-C to stop.",
        entra.uri(),
        workspace.uri()
    );
    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("brickauth-mock: cannot wait for Ctrl-C ({error}); stopping.");
        std::process::exit(1);
    }
    eprintln!("brickauth-mock: stopped.");
}

/// A complete profile file with one profile, `mock`, using the password flow.
fn profile_toml(authority_host: &str, host: &str, username: &str, password: &str) -> String {
    format!(
        r#"# brickauth profile for the mock servers. Before use:
#   export BRICKAUTH_PASSWORD={password}
default_profile = "mock"

[profiles.mock]
flow = "password"
authority_host = "{authority_host}"
tenant_id = "{TENANT_ID}"
client_id = "{CLIENT_ID}"
host = "{host}"
username = "{username}"
password_env = "BRICKAUTH_PASSWORD"
"#,
        password = shell_quote(password)
    )
}

/// Single-quotes `value` for a POSIX shell.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}
