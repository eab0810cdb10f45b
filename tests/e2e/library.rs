//! Embedding: an app's own route protected by the session middleware, and
//! server-side calls that bypass HTTP rules.

use gatehouse_server::core::auth::SignInEmailBody;
use gatehouse_server::extract::{CurrentSession, SessionMiddleware};
use gatehouse_tests::{on_both_backends, Backend, TestServer, PASSWORD};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{get, handler, EndpointExt, Route};

on_both_backends!(
    app_route_protected_by_session,
    server_side_calls_skip_rate_limits
);

#[handler]
async fn me(CurrentSession(s): CurrentSession) -> String {
    s.user.email
}

async fn app_route_protected_by_session(b: Backend) {
    let s = TestServer::start(b).await;
    let c = s.client();
    let (addr, _) = c.sign_up().await;

    let app = Route::new().nest("/api/auth", s.gatehouse.endpoint()).at(
        "/me",
        get(me).with(SessionMiddleware::required(s.gatehouse.api())),
    );
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
    let server =
        tokio::spawn(async move { poem::Server::new_with_acceptor(acceptor).run(app).await });

    let url = format!("http://127.0.0.1:{port}/me");
    let anon = reqwest::get(&url).await.unwrap();
    assert_eq!(anon.status(), 401);
    let body: serde_json::Value = anon.json().await.unwrap();
    assert_eq!(body["code"], "UNAUTHORIZED");

    let token = c.get("/get-session").await.json()["session"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = gatehouse_tests::http_client()
        .build()
        .unwrap()
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), addr);
    server.abort();
}

async fn server_side_calls_skip_rate_limits(b: Backend) {
    let s = TestServer::start_with(b, |c| c.rate_limit.enabled = true).await;
    let (addr, _) = s.client().sign_up().await;
    let api = s.gatehouse.api();
    let body = || SignInEmailBody {
        email: addr.clone(),
        password: PASSWORD.into(),
        callback_url: None,
        remember_me: None,
    };
    let mut last = None;
    for _ in 0..6 {
        last = Some(
            api.sign_in_email(body())
                .await
                .expect("server-side sign-in is not rate limited"),
        );
    }
    let signed_in = last.unwrap();
    let cookie_line = signed_in
        .set_cookies
        .iter()
        .find(|c| c.starts_with("better-auth.session_token="))
        .unwrap();
    let cookie = cookie_line.split(';').next().unwrap();

    let mut headers = poem::http::HeaderMap::new();
    headers.insert("cookie", cookie.parse().unwrap());
    let session = api
        .get_session(&headers)
        .await
        .unwrap()
        .expect("session from the cookie");
    assert_eq!(session.user.email, addr);
    let gatehouse_server::core::dto::SignInResult::Session(signed_in) = signed_in.data else {
        panic!("no second factor is configured");
    };
    assert_eq!(session.token, signed_in.token);

    let wrong = SignInEmailBody {
        password: "nope-nope-nope".into(),
        ..body()
    };
    let err = api.sign_in_email(wrong).await.unwrap_err();
    assert_eq!(err.code, "INVALID_EMAIL_OR_PASSWORD");
    assert_eq!(err.status.as_u16(), 401);

    api.sign_out(&headers).await.unwrap();
    assert!(api.get_session(&headers).await.unwrap().is_none());
}
