//! The Rust client against a real server over HTTP.

use gatehouse::{types, AuthClient, AuthError, ErrorCode, Plugin};
use gatehouse_tests::{email, Backend, TestServer, PASSWORD};

/// The servers under test: the shared ones of `scripts/cross-language.sh`
/// (`GATEHOUSE_URL`, `GATEHOUSE_URL_NO_USERNAME`), or fresh in-process ones.
struct Servers {
    with_username: String,
    without_username: String,
    _owned: Vec<TestServer>,
}

async fn servers() -> Servers {
    let shared = (
        std::env::var("GATEHOUSE_URL"),
        std::env::var("GATEHOUSE_URL_NO_USERNAME"),
    );
    if let (Ok(with_username), Ok(without_username)) = shared {
        return Servers {
            with_username,
            without_username,
            _owned: Vec::new(),
        };
    }
    let full = TestServer::start(Backend::Sqlite).await;
    let plain =
        TestServer::start_with(Backend::Sqlite, |c| c.plugins = vec!["open-api".into()]).await;
    Servers {
        with_username: full.origin.clone(),
        without_username: plain.origin.clone(),
        _owned: vec![full, plain],
    }
}

fn username() -> String {
    format!("u_{}", gatehouse_tests::random_suffix(10).to_lowercase())
}

/// The cross-language scenario: sign-up, sign-in, get-session, username
/// sign-in, sign-out, and a wrong password's typed error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_with_cookies() {
    let servers = servers().await;
    let client = AuthClient::builder(&servers.with_username)
        .plugin(Plugin::Username)
        .build()
        .await
        .unwrap();
    let (mail, name) = (email(), username());

    let up = client
        .core()
        .sign_up_email(
            types::SignUpEmailBody::builder()
                .name("Rusty")
                .email(&mail)
                .password(PASSWORD)
                .username(Some(name.clone())),
        )
        .await
        .unwrap();
    assert_eq!(up.user.email, mail);
    assert!(client
        .session_token()
        .unwrap()
        .starts_with(up.token.as_deref().unwrap()));
    let s = client
        .get_session()
        .await
        .unwrap()
        .expect("signed in after sign-up");
    assert_eq!(s.user.username.as_deref(), Some(name.as_str()));

    client.sign_out().await.unwrap();
    assert!(client.session_token().is_none());
    assert!(client.get_session().await.unwrap().is_none());

    let signed_in = client.sign_in_email(&mail, PASSWORD).await.unwrap();
    assert_eq!(
        client.get_session().await.unwrap().unwrap().session.token,
        signed_in.token
    );
    client.sign_out().await.unwrap();

    client
        .username()
        .unwrap()
        .sign_in_username(
            types::SignInUsernameBody::builder()
                .username(&name)
                .password(PASSWORD),
        )
        .await
        .unwrap()
        .into_session()
        .unwrap();
    assert_eq!(
        client.get_session().await.unwrap().unwrap().user.email,
        mail
    );
    assert!(
        !client
            .username()
            .unwrap()
            .is_username_available(types::IsUsernameAvailableBody::builder().username(&name))
            .await
            .unwrap()
            .available
    );
    client.sign_out().await.unwrap();

    // The generated low-level client goes through the same response path:
    // its answer's session is kept too.
    client
        .raw()
        .sign_in_email()
        .body(
            types::SignInEmailBody::builder()
                .email(&mail)
                .password(PASSWORD),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        client.get_session().await.unwrap().unwrap().user.email,
        mail,
        "raw() keeps the session"
    );
    client.sign_out().await.unwrap();

    let err = client
        .sign_in_email(&mail, "wrong-password-1")
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidEmailOrPassword);
    assert_eq!(err.status(), Some(401));
    assert!(
        matches!(err, AuthError::Api { ref message, .. } if message == "Invalid email or password")
    );
    let err = client
        .sign_up_email("Dup", &mail, PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UserAlreadyExistsUseAnotherEmail);
    assert_eq!(err.status(), Some(422));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_transport_and_session_routes() {
    let servers = servers().await;
    let client = AuthClient::builder(&servers.with_username)
        .bearer()
        .build()
        .await
        .unwrap();
    client
        .sign_up_email("Bea", &email(), PASSWORD)
        .await
        .unwrap();
    let token = client.session_token().expect("set-auth-token kept");
    assert!(token.contains('.'), "the signed form: {token}");
    client.update_name("Bea Renamed").await.unwrap();
    assert_eq!(
        client.get_session().await.unwrap().unwrap().user.name,
        "Bea Renamed"
    );
    assert_eq!(client.list_sessions().await.unwrap().len(), 1);
    assert_eq!(
        client.list_accounts().await.unwrap()[0].provider_id,
        "credential"
    );
    let changed = client
        .change_password(PASSWORD, "another-password-2", true)
        .await
        .unwrap();
    assert!(changed.token.is_some());
    assert!(
        client.get_session().await.unwrap().is_some(),
        "moved to the new session"
    );
}

/// Mirroring: a plugin the server lacks fails at build time, naming it, and
/// an unregistered namespace fails before any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_registration_is_mirrored() {
    let servers = servers().await;
    let err = AuthClient::builder(&servers.without_username)
        .plugin(Plugin::Username)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthError::PluginNotEnabled { ref plugin } if plugin == "username"),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::PluginNotEnabled);
    assert!(err.to_string().contains("username"));
    let err = AuthClient::builder(&servers.without_username)
        .bearer()
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::PluginNotEnabled { ref plugin } if plugin == "bearer"));

    let plain = AuthClient::builder(&servers.without_username)
        .build()
        .await
        .unwrap();
    assert!(matches!(
        plain.username(),
        Err(AuthError::PluginNotEnabled { .. })
    ));
    assert_eq!(plain.server_plugins(), ["open-api".to_string()]);
    // Core routes work with matching registration.
    plain
        .sign_up_email("Core", &email(), PASSWORD)
        .await
        .unwrap();
    assert!(plain.get_session().await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_a_network_error() {
    let err = AuthClient::builder("http://127.0.0.1:9")
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Network(_)), "{err:?}");
}
