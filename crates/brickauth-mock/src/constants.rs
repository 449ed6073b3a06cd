//! The mock's well-known credentials and the profile templates that use them, defined once for
//! the unit tests, `cargo xtask` (integration, bench, soak, demo, sdk) and the demo binary.
//!
//! Templates carry placeholders that `xtask`'s harness fills in from the running mocks:
//! `{AUTHORITY}` (the mock Entra's URL), `{HOST}` (the mock workspace's URL), `{TENANT}`
//! ([`TENANT_ID`](crate::TENANT_ID)) and `{CLIENT}` ([`CLIENT_ID`](crate::CLIENT_ID)).

/// Alice: a user of the default [`MockConfig`](crate::MockConfig) without MFA.
pub const ALICE: &str = "alice@contoso.com";
/// Alice's password.
pub const ALICE_PASSWORD: &str = "correct horse battery staple";
/// Bob: a user of the default config whom Entra asks for MFA (the password grant fails).
pub const BOB: &str = "bob@contoso.com";
/// Bob's password.
pub const BOB_PASSWORD: &str = "hunter2-but-longer";
/// A password no mock user has.
pub const WRONG_PASSWORD: &str = "not-the-password-at-all";

/// A profile `name` for Alice's password flow against the mocks, her password read from the
/// environment variable `password_env`; with `default`, the file's `default_profile` too.
///
/// ```
/// let t = brickauth_mock::constants::password_profile("bench", "BENCH_PASSWORD", true);
/// assert!(t.starts_with("default_profile = \"bench\"\n"));
/// assert!(t.contains("[profiles.bench]\nflow = \"password\"\n"));
/// assert!(t.contains("password_env = \"BENCH_PASSWORD\"\n"));
/// ```
pub fn password_profile(name: &str, password_env: &str, default: bool) -> String {
    let head = if default { format!("default_profile = \"{name}\"\n\n") } else { String::new() };
    format!(
        "{head}[profiles.{name}]
flow = \"password\"
tenant_id = \"{{TENANT}}\"
client_id = \"{{CLIENT}}\"
authority_host = \"{{AUTHORITY}}\"
host = \"{{HOST}}\"
username = \"{ALICE}\"
password_env = \"{password_env}\"
"
    )
}
