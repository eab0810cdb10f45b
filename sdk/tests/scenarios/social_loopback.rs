//! Desktop sign-in through the Rust client: the client listens on a loopback
//! port, a "browser" (a separate HTTP client with its own cookies) walks the
//! real OpenID provider's login and comes back to that port, and the client
//! ends up holding the session.

use gatehouse::{AuthClient, LoopbackOptions};
use gatehouse_tests::providers::{follow_until, op_client, NodeProvider};
use gatehouse_tests::{add_sections, email, http_client, Backend, TestServer};
use serde_json::json;

const PROVIDER: &str = "local-oidc";

fn param(url: &str, key: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// A server with `generic-oauth` in front of a fresh OpenID provider.
async fn server_with_provider() -> (TestServer, NodeProvider) {
    let listener = TestServer::reserve().await;
    let base = format!("http://{}", listener.local_addr().unwrap());
    let op = NodeProvider::openid(
        json!([op_client(
            PROVIDER,
            "local-oidc-secret",
            &[format!("{base}/api/auth/callback/{PROVIDER}")]
        )]),
        None,
    )
    .await;
    let discovery = format!("{}/.well-known/openid-configuration", op.url);
    let server = TestServer::start_on(listener, Backend::Sqlite, |c| {
        c.plugins.push("generic-oauth".into());
        add_sections(
            c,
            &format!(
                "[generic_oauth.{PROVIDER}]\nclient_id = \"{PROVIDER}\"\n\
                 client_secret = \"local-oidc-secret\"\ndiscovery_url = \"{discovery}\"\n\
                 scopes = [\"openid\", \"email\", \"profile\"]\n"
            ),
        );
    })
    .await;
    (server, op)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_sign_in_through_the_users_browser() {
    let (server, _op) = server_with_provider().await;
    let client = AuthClient::builder(&server.origin).build().await.unwrap();
    assert!(client.session_token().is_none());

    let browser = http_client()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
    let login = email();
    let mut options = LoopbackOptions::new(PROVIDER);
    options.login_hint = Some(login.clone());
    let browser_for_open = browser.clone();
    let signed_in = client
        .sign_in_social_loopback_with(options, move |url| {
            let url = url.to_string();
            tokio::spawn(async move {
                let app = param(&url, "redirect_uri").unwrap();
                // A spare connection that never sends a request (browsers
                // open such), held open for the whole walk.
                let listener = url::Url::parse(&app).unwrap();
                let _idle = tokio::net::TcpStream::connect((
                    listener.host_str().unwrap(),
                    listener.port().unwrap(),
                ))
                .await
                .unwrap();
                let landing = follow_until(&browser_for_open, &url, &app).await;
                let page = browser_for_open.get(&landing).send().await.unwrap();
                let status = page.status().as_u16();
                let _ = seen_tx.send((url, app, landing, status, page.text().await.unwrap()));
            });
            Ok(())
        })
        .await
        .unwrap();

    let (opened, app, landing, status, page) = seen_rx.await.unwrap();
    // What the client asked for: a loopback address and an S256 challenge.
    assert!(opened.starts_with(&format!("{}/sign-in/social/loopback?", server.base)));
    assert!(
        app.starts_with("http://127.0.0.1:") && app.ends_with("/callback"),
        "{app}"
    );
    assert_eq!(
        param(&opened, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(param(&opened, "code_challenge").map(|c| c.len()), Some(43));
    // The browser came back with a code and saw the listener's page.
    assert!(param(&landing, "code").is_some());
    assert_eq!(param(&landing, "state"), param(&opened, "state"));
    assert_eq!(status, 200);
    assert!(page.contains("You are signed in"), "{page}");

    // The client holds the session; the browser holds none.
    assert_eq!(signed_in.user.as_ref().unwrap().email, login);
    assert!(client.session_token().is_some());
    let session = client.get_session().await.unwrap().unwrap();
    assert_eq!(session.user.email, login);
    let accounts = client.list_accounts().await.unwrap();
    assert_eq!(accounts[0].provider_id, PROVIDER);
    let browser_session = browser
        .get(format!("{}/get-session", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(browser_session, "null");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_sign_in_reports_the_providers_refusal() {
    let (server, _op) = server_with_provider().await;
    let client = AuthClient::builder(&server.origin).build().await.unwrap();
    let browser = http_client()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // The user cancels at the provider ("deny@" makes the test provider do so).
    let mut options = LoopbackOptions::new(PROVIDER);
    options.login_hint = Some("deny@example.com".into());
    let err = client
        .sign_in_social_loopback_with(options, move |url| {
            let url = url.to_string();
            tokio::spawn(async move {
                let app = param(&url, "redirect_uri").unwrap();
                let landing = follow_until(&browser, &url, &app).await;
                browser.get(&landing).send().await.unwrap();
            });
            Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(err.code().as_str(), "access_denied");
    assert!(client.session_token().is_none());

    // An unknown provider comes back as the server's code.
    let browser = http_client()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let err = client
        .sign_in_social_loopback("no-such-provider", move |url| {
            let url = url.to_string();
            tokio::spawn(async move {
                let app = param(&url, "redirect_uri").unwrap();
                let landing = follow_until(&browser, &url, &app).await;
                browser.get(&landing).send().await.unwrap();
            });
            Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(err.code().as_str(), "PROVIDER_NOT_FOUND");

    // Nobody comes back: a clear timeout, not a hang.
    let mut options = LoopbackOptions::new(PROVIDER);
    options.timeout = std::time::Duration::from_millis(300);
    let err = client
        .sign_in_social_loopback_with(options, |_| Ok(()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("did not come back"), "{err}");
}
