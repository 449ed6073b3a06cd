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

#[test]
fn the_profile_files_secret_storage_words_are_the_cache_policies() {
    for word in brickauth_profile::SECRET_STORAGE_VALUES {
        let policy: brickauth_cache::StoragePolicy = word.parse().unwrap();
        assert_eq!(policy.to_string(), word);
    }
}

#[test]
fn the_cache_keeps_refresh_tokens_where_the_profile_file_says_unless_the_variable_does() {
    use brickauth_cache::{Storage, StoragePolicy};
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("profiles.toml");
    std::fs::write(
        &config,
        "secret_storage = \"keyring\"\n[profiles.p]\nflow = \"password\"\ntenant_id = \"t\"\nclient_id = \"c\"\n\
         username = \"u\"\npassword_env = \"PW\"\n",
    )
    .unwrap();
    let auth = auth(dir.path(), config);
    let profile = auth.named("p").unwrap();
    let policy = auth.cache_for(&profile).unwrap().storage_policy();
    // The variable wins when the environment of this test run sets it.
    match std::env::var(brickauth_cache::STORAGE_VARIABLE).ok().filter(|v| !v.trim().is_empty()) {
        None => {
            assert_eq!(policy, StoragePolicy::Only(Storage::Keyring));
            assert_eq!(auth.cache().unwrap().storage_policy(), StoragePolicy::Auto);
        }
        Some(v) => assert_eq!(policy, v.parse::<StoragePolicy>().unwrap()),
    }
}

/// A password sign-in refused for MFA (Bob) is a step-up, a wrong password is not; stepping up
/// with another registered flow signs the same account in, sends `username` as the login hint,
/// and caches under the profile: the next call is the cache's.
#[tokio::test(flavor = "multi_thread")]
async fn an_mfa_refusal_steps_up_to_another_flow_for_the_same_account() {
    use brickauth_core::hints::Hint;
    use brickauth_mock::{BOB, BOB_PASSWORD};
    let dir = tempfile::tempdir().unwrap();
    let entra = MockEntra::start().await;
    entra.set_device_interval(1);
    let password = dir.path().join("bob-password");
    std::fs::write(&password, BOB_PASSWORD).unwrap();
    let profile = |name: &str, user: &str| {
        format!(
            "[profiles.{name}]\nflow = \"password\"\ntenant_id = \"{TENANT_ID}\"\nclient_id = \"{CLIENT_ID}\"\n\
             authority_host = \"{}\"\nusername = \"{user}\"\npassword_file = '{}'\n\n",
            entra.uri(),
            password.display()
        )
    };
    let config = dir.path().join("profiles.toml");
    std::fs::write(&config, format!("{}{}", profile("bob", BOB), profile("wrong", ALICE))).unwrap();
    let terminal = Interaction { terminal: true, browser: false };
    let auth = Auth::new(Options {
        config: Some(config),
        cache_dir: Some(dir.path().join("cache")),
        interaction: terminal,
        ..Options::default()
    });

    let source = auth.profile("bob").unwrap();
    let err = source.token().await.unwrap_err();
    let step = source.step_up(&err).expect("an MFA refusal is a step-up");
    assert_eq!((step.profile.as_str(), step.username.as_deref(), step.hint), ("bob", Some(BOB), Hint::MfaRequired));
    let wrong = auth.profile("wrong").unwrap();
    let err = wrong.token().await.unwrap_err();
    assert!(wrong.step_up(&err).is_none(), "a wrong password is no step-up: {err}");

    let t = source.sign_in_with("device-code").await.unwrap();
    assert_eq!(t.account.username.as_deref(), Some(BOB));
    let start = entra.requests().await.into_iter().find(|r| r.path.ends_with("/devicecode")).unwrap();
    assert_eq!(start.form.get("login_hint").map(String::as_str), Some(BOB));
    let requests = entra.token_requests().await.len();
    let again = source.token().await.unwrap();
    assert_eq!(again.access_token.expose(), t.access_token.expose(), "the next call is the cached token");
    assert_eq!(entra.token_requests().await.len(), requests);
    assert!(matches!(source.sign_in_with("no-such-flow").await, Err(Error::Config(_))));
}

/// `auth token --host H --account-id A`: among several profiles on an account host, the one for
/// account A; a profile on the same host for no account or another is never handed out.
#[tokio::test]
async fn an_account_host_is_matched_by_host_and_account_id() {
    const A: &str = "0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6";
    const B: &str = "11111111-2222-3333-4444-555555555555";
    let dir = tempfile::tempdir().unwrap();
    let entra = MockEntra::start().await;
    let host = "https://accounts.azuredatabricks.net";
    let path = profiles(dir.path(), &entra, host);
    let text = std::fs::read_to_string(&path).unwrap();
    // `alice` is for account A (written in upper case: ids compare as GUIDs), `alice2` for none.
    let text =
        text.replace("[profiles.alice]\n", &format!("[profiles.alice]\naccount_id = \"{}\"\n", A.to_uppercase()));
    std::fs::write(&path, text).unwrap();
    let auth = auth(dir.path(), path);
    let target = |account: &str| host::Target {
        host: "accounts.azuredatabricks.net/".into(),
        account_id: Some(account.parse().unwrap()),
        workspace_id: None,
    };
    assert_eq!(auth.for_target(&target(A)).unwrap().name(), "alice");
    let err = auth.for_target(&target(B)).unwrap_err().to_string();
    assert!(err.contains(&format!("account_id = \"{B}\"")), "{err}");
    assert!(err.contains(&format!("alice (account_id {A})")) && err.contains("alice2 (no account_id)"), "{err}");
    // Without an account id, both are on the host: never guessed.
    assert!(auth.for_host(host).unwrap_err().to_string().contains("`alice`, `alice2`"));
}
