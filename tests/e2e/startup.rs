//! Start-up behaviour: the development secret, production refusal, client
//! addresses behind trusted proxies.

use gatehouse_server::config::{Config, Environment};
use gatehouse_server::plugins::passkey::settings::PasskeySettings;
use gatehouse_server::Gatehouse;
use gatehouse_tests::{email, on_both_backends, test_config, Backend, TestServer, PASSWORD};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_secret_is_generated_once_and_private() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dev.db");
    let config = || Config {
        secret: None,
        database_url: format!("sqlite://{}", db.display()),
        ..test_config()
    };
    let first = Gatehouse::builder(config())
        .build()
        .await
        .expect("starts without a secret");
    let secret_file = dir.path().join("dev.db.secret");
    let secret = std::fs::read_to_string(&secret_file).expect("secret written beside the database");
    assert!(secret.trim().len() >= 32);
    assert_eq!(first.state().secret, secret.trim());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_file)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    let second = Gatehouse::builder(config()).build().await.unwrap();
    assert_eq!(
        second.state().secret,
        first.state().secret,
        "kept across restarts"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_refuses_weak_or_missing_secret() {
    let dir = tempfile::tempdir().unwrap();
    for secret in [None, Some("too-short".to_string())] {
        let config = Config {
            env: Environment::Production,
            secret,
            database_url: format!("sqlite://{}", dir.path().join("prod.db").display()),
            ..test_config()
        };
        let err = refusal(config).await;
        assert!(
            err.contains("GATEHOUSE_SECRET"),
            "names the variable: {err}"
        );
    }
    assert!(
        !dir.path().join("prod.db.secret").exists(),
        "no secret generated in production"
    );
}

/// The start-up error a configuration gets.
async fn refusal(config: Config) -> String {
    Gatehouse::builder(config)
        .build()
        .await
        .err()
        .expect("refused")
        .to_string()
}

/// WebAuthn cannot use an IP address as relying party: a base URL like
/// `http://127.0.0.1:PORT` with passkeys on is refused at start, naming the
/// settings, instead of answering 500 on every passkey route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_relying_party_is_checked_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        base_url: Some("http://127.0.0.1:3000".into()),
        database_url: format!("sqlite://{}", dir.path().join("rp.db").display()),
        ..test_config()
    };
    config.plugins.push("passkey".into());
    let err = refusal(config.clone()).await;
    assert!(
        err.contains("[passkey] rp_id") && err.contains("origin") && err.contains("127.0.0.1"),
        "{err}"
    );
    config.set_plugin_settings(
        "passkey",
        &PasskeySettings {
            rp_id: Some("example.com".into()),
            origin: Some("http://localhost:3000".into()),
            ..Default::default()
        },
    );
    let err = refusal(config.clone()).await;
    assert!(err.contains("does not fit origin"), "{err}");

    // A working pair starts, and the route answers.
    let s = gatehouse_tests::TestServer::start_with(Backend::Sqlite, |c| {
        c.plugins.push("passkey".into());
        c.set_plugin_settings(
            "passkey",
            &PasskeySettings {
                rp_id: Some("localhost".into()),
                origin: Some("http://localhost:3000".into()),
                ..Default::default()
            },
        );
    })
    .await;
    let r = s
        .client()
        .get("/passkey/generate-authenticate-options")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["rpId"], "localhost");
}

on_both_backends!(forwarded_for_counts_only_from_trusted_proxies);

async fn forwarded_for_counts_only_from_trusted_proxies(b: Backend) {
    async fn sign_in(c: &gatehouse_tests::Client, xff: &str) -> gatehouse_tests::Response {
        let req = c
            .raw()
            .post(format!("{}/sign-in/email", c.base))
            .header("x-forwarded-for", xff.to_string())
            .json(&json!({"email": email(), "password": PASSWORD}));
        c.request(req).await
    }
    // Behind a trusted proxy (the test client is 127.0.0.1): each forwarded
    // address has its own budget, and the address is recorded on sessions.
    let proxied = TestServer::start_with(b.clone(), |c| {
        c.rate_limit.enabled = true;
        c.ip.headers = vec!["x-forwarded-for".into()];
        c.ip.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let c = proxied.client();
    for _ in 0..3 {
        assert_eq!(sign_in(&c, "203.0.113.7").await.status, 401);
    }
    assert_eq!(sign_in(&c, "203.0.113.7").await.status, 429);
    assert_eq!(
        sign_in(&c, "203.0.113.8").await.status,
        401,
        "another client"
    );
    // IPv6 clients in one /64 share a budget.
    for i in 1..=3 {
        assert_eq!(
            sign_in(&c, &format!("2001:db8:aa:bb::{i}")).await.status,
            401
        );
    }
    assert_eq!(sign_in(&c, "2001:db8:aa:bb:ffff::9").await.status, 429);

    let (addr, _) = c.sign_up().await;
    let r = c
        .request(
            c.raw()
                .post(format!("{}/sign-in/email", c.base))
                .header("x-forwarded-for", "198.51.100.20")
                .json(&json!({"email": addr, "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200);
    let me = c.get("/get-session").await.json();
    assert_eq!(me["session"]["ipAddress"], "198.51.100.20");

    // Without trust, the header is ignored: all share the peer's budget.
    let direct = TestServer::start_with(Backend::Sqlite, |c| {
        c.rate_limit.enabled = true;
        c.ip.headers = vec!["x-forwarded-for".into()];
    })
    .await;
    let d = direct.client();
    for i in 0..3 {
        assert_eq!(sign_in(&d, &format!("192.0.2.{i}")).await.status, 401);
    }
    assert_eq!(sign_in(&d, "192.0.2.99").await.status, 429);
}

/// A provider that cannot be used stops the start with a message naming it:
/// an unreachable discovery document, an unknown built-in, a missing client id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn social_providers_fail_loudly_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let base = || Config {
        database_url: format!("sqlite://{}", dir.path().join("s.db").display()),
        ..test_config()
    };
    // Nothing listens on port 9 of loopback.
    let mut c = base();
    c.plugins.push("generic-oauth".into());
    gatehouse_tests::add_sections(
        &mut c,
        "[generic_oauth.corp-sso]\nclient_id = \"x\"\n\
         discovery_url = \"http://127.0.0.1:9/.well-known/openid-configuration\"\n",
    );
    let err = Gatehouse::builder(c)
        .build()
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("\"corp-sso\"") && err.contains("discovery at http://127.0.0.1:9/"),
        "{err}"
    );

    let mut c = base();
    c.social.insert("myspace".into(), Default::default());
    let err = Gatehouse::builder(c)
        .build()
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("[social.myspace]") && err.contains("github"),
        "{err}"
    );

    let mut c = base();
    c.social.insert("github".into(), Default::default());
    let err = Gatehouse::builder(c)
        .build()
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("GATEHOUSE_SOCIAL_GITHUB_CLIENT_ID"), "{err}");

    // A built-in shadowed by a generic provider of the same id.
    let mut c = base();
    c.plugins.push("generic-oauth".into());
    gatehouse_tests::add_sections(
        &mut c,
        "[generic_oauth.github]\nclient_id = \"x\"\nauthorization_url = \"http://127.0.0.1:9/a\"\ntoken_url = \"http://127.0.0.1:9/t\"\nuser_info_url = \"http://127.0.0.1:9/u\"\n",
    );
    let err = Gatehouse::builder(c)
        .build()
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("[social.github]"), "{err}");
}
