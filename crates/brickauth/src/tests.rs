//! The library against the bundled mocks: a named profile's token in three lines, the cache on
//! the second call, the workspace client, and the selection rules that must not guess.

use std::path::Path;

use brickauth_mock::{ALICE, ALICE_PASSWORD, CLIENT_ID, MockDatabricks, MockEntra, TENANT_ID};

use super::*;

/// A profile file with two password profiles of one workspace (`alice` and `alice2`, both
/// Alice's), her password in a file, and `default_profile = "alice"`.
fn profiles(dir: &Path, entra: &MockEntra, host: &str) -> PathBuf {
    let password = dir.join("password");
    std::fs::write(&password, ALICE_PASSWORD).unwrap();
    // `password_file` as a TOML literal string: a Windows path's backslashes are not escapes.
    let profile = |name: &str| {
        format!(
            "[profiles.{name}]\nflow = \"password\"\ntenant_id = \"{TENANT_ID}\"\nclient_id = \"{CLIENT_ID}\"\n\
             authority_host = \"{}\"\nhost = \"{host}\"\nusername = \"{ALICE}\"\npassword_file = '{}'\n\n",
            entra.uri(),
            password.display()
        )
    };
    let path = dir.join("profiles.toml");
    std::fs::write(&path, format!("default_profile = \"alice\"\n\n{}{}", profile("alice"), profile("alice2"))).unwrap();
    path
}

fn auth(dir: &Path, config: PathBuf) -> Auth {
    Auth::new(Options { config: Some(config), cache_dir: Some(dir.join("cache")), ..Options::default() })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_named_profile_token_then_the_cache_then_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let entra = MockEntra::start().await;
    let workspace = MockDatabricks::start(entra.registry()).await;
    let auth = auth(dir.path(), profiles(dir.path(), &entra, &workspace.uri()));

    let source = auth.profile("alice").unwrap();
    let token = source.token().await.unwrap();
    assert_eq!(token.account.username.as_deref(), Some(ALICE));
    assert_eq!(entra.token_requests().await.len(), 1);

    let again = source.token().await.unwrap();
    assert_eq!(again.access_token.expose(), token.access_token.expose(), "the second call is the cached token");
    assert_eq!(entra.token_requests().await.len(), 1, "no second request");

    let client = auth.workspace(&source).unwrap();
    let me = client.current_user().await.unwrap();
    assert_eq!(me.user_name.as_deref(), Some(ALICE));
}

#[test]
fn the_blocking_api_runs_without_a_runtime_and_refuses_inside_one() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (entra, workspace) = rt.block_on(async {
        let entra = MockEntra::start().await;
        let workspace = MockDatabricks::start(entra.registry()).await;
        (entra, workspace)
    });
    let auth = auth(dir.path(), profiles(dir.path(), &entra, &workspace.uri()));
    let source = auth.profile("alice").unwrap();
    let token = source.blocking_token().unwrap();
    assert_eq!(token.account.username.as_deref(), Some(ALICE));
    // A cached token needs no runtime, inside one or not; a request would deadlock, so it is refused.
    let cached = rt.block_on(async { source.blocking_token() }).unwrap();
    assert_eq!(cached.access_token.expose(), token.access_token.expose());
    let forced = TokenOptions { force_refresh: true, ..TokenOptions::default() };
    let inside = rt.block_on(async { source.blocking_token_with(forced) });
    assert!(matches!(inside, Err(Error::InsideRuntime)), "{inside:?}");
}

#[test]
fn a_config_file_named_on_the_command_line_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such.toml");
    let err = auth(dir.path(), missing.clone()).select().unwrap_err();
    assert!(matches!(err, Error::Profile(brickauth_profile::ProfileError::NotFound { .. })), "{err:?}");
    // Named as messages name paths: `~` for the home directory (the temp dir is under it on Windows).
    assert!(err.to_string().contains(&brickauth_profile::display_path(&missing)), "{err}");
}

#[tokio::test]
async fn a_host_shared_by_two_profiles_is_never_guessed_and_clear_text_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let entra = MockEntra::start().await;
    let host = "https://adb-1111111111111111.11.azuredatabricks.net";
    let auth = auth(dir.path(), profiles(dir.path(), &entra, host));

    // Both profiles have the host; `default_profile = "alice"` does not decide for a tool.
    let err = auth.for_host(host).unwrap_err().to_string();
    assert!(err.contains("`alice`, `alice2`") && err.contains("default_for_host"), "{err}");

    // The scheme is compared, never stripped: a clear-text request gets no token.
    for clear in
        ["http://adb-1111111111111111.11.azuredatabricks.net", "http://adb-1111111111111111.11.azuredatabricks.net:443"]
    {
        let err = auth.for_host(clear).unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{clear}: {err:?}");
        assert!(err.to_string().contains("https"), "{err}");
    }
}

#[tokio::test]
async fn the_one_profile_marked_default_for_host_is_picked() {
    let dir = tempfile::tempdir().unwrap();
    let entra = MockEntra::start().await;
    let host = "https://adb-1111111111111111.11.azuredatabricks.net";
    let path = profiles(dir.path(), &entra, host);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("[profiles.alice2]\n", "[profiles.alice2]\ndefault_for_host = true\n")).unwrap();
    let p = auth(dir.path(), path).for_host("ADB-1111111111111111.11.azuredatabricks.net/").unwrap();
    assert_eq!(p.name(), "alice2");
}

/// An async program builds a source for a profile with a workspace but no `tenant_id`: the
/// tenant is asked for (from a thread of the library's own), not refused as a blocking call.
#[tokio::test]
async fn a_host_only_profile_is_resolved_inside_an_async_program() {
    let dir = tempfile::tempdir().unwrap();
    let entra = MockEntra::start().await;
    let workspace = MockDatabricks::start(entra.registry()).await;
    let path = profiles(dir.path(), &entra, &workspace.uri());
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace(&format!("tenant_id = \"{TENANT_ID}\"\n"), "")).unwrap();
    let source = auth(dir.path(), path).profile("alice").unwrap();
    assert_eq!(source.profile().get("tenant_id"), Some(TENANT_ID));
    let token = source.token().await.unwrap();
    assert_eq!(token.account.username.as_deref(), Some(ALICE));
}
