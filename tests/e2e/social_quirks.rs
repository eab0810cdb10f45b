//! Provider quirks over live HTTP: Apple's form-posted callback with the
//! name sent on the first sign-in only, and Microsoft's per-tenant issuer.
//! The provider is the real OpenID provider of tests/providers, minting
//! tokens under Apple's and Microsoft's issuers while serving on loopback.

use gatehouse_server::social::settings::SocialProviderConfig;
use gatehouse_tests::providers::NodeProvider;
use gatehouse_tests::{email, on_both_backends, Backend, Client, TestServer};
use serde_json::{json, Value};

on_both_backends!(
    social_apple_form_post_and_first_login_name,
    social_microsoft_tenant_issuer,
);

const APPLE_ISSUER: &str = "https://appleid.apple.com";

/// Walks the provider's login from `url` (following its redirects with the
/// browser's cookies) to the page that form-posts the answer back, and
/// returns that form's action and fields, as a browser would submit them.
async fn form_post_answer(browser: &reqwest::Client, url: &str) -> (String, Vec<(String, String)>) {
    let mut current = url.to_string();
    for _ in 0..10 {
        let resp = browser.get(&current).send().await.expect("the OP answers");
        if let Some(loc) = resp.headers().get("location") {
            let loc = loc.to_str().expect("ascii location");
            current = url::Url::parse(&current)
                .unwrap()
                .join(loc)
                .unwrap()
                .to_string();
            continue;
        }
        let status = resp.status();
        let html = resp.text().await.unwrap();
        assert_eq!(status, 200, "{html}");
        let action = between(&html, "<form method=\"post\" action=\"", "\"").to_string();
        let fields = html
            .split("<input type=\"hidden\" ")
            .skip(1)
            .map(|input| {
                let name = between(input, "name=\"", "\"");
                let value = between(input, "value=\"", "\"").replace("&#39;", "'");
                (name.to_string(), value)
            })
            .collect();
        return (action, fields);
    }
    panic!("more than 10 redirects from {url}");
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {text}"))
        + start.len();
    let len = text[from..].find(end).expect("the closing quote");
    &text[from..from + len]
}

/// One Apple sign-in in a fresh browser: `sign-in/social`, the provider's
/// login, the form post back (with `user` when given, as Apple sends it on
/// the first consent only), then the GET the POST redirects to.
async fn apple_sign_in(
    s: &TestServer,
    login: &str,
    user: Option<Value>,
) -> (Client, gatehouse_tests::Response) {
    let c = s.client();
    let r = c
        .post(
            "/sign-in/social",
            json!({"provider": "apple", "callbackURL": "/home", "newUserCallbackURL": "/welcome"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let url = r.json()["url"].as_str().unwrap().to_string();
    let query: Vec<(String, String)> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("response_mode"), Some("form_post"));
    assert_eq!(get("response_type"), Some("code id_token"));
    assert_eq!(get("code_challenge_method"), Some("S256"));
    assert_eq!(
        get("redirect_uri"),
        Some(format!("{}/callback/apple", s.base).as_str())
    );
    // Apple takes no nonce here; oidc-provider insists on one for a hybrid
    // response, so the test's browser adds it. Gatehouse bound none and
    // checks none. The login hint picks the account at the test provider.
    let walk = format!("{url}&nonce=test-nonce&login_hint={}", urlencode(login));
    let (action, mut fields) = form_post_answer(c.raw(), &walk).await;
    assert_eq!(action, format!("{}/callback/apple", s.base));
    assert!(fields.iter().any(|(k, _)| k == "code"), "{fields:?}");
    if let Some(u) = user {
        fields.push(("user".into(), u.to_string()));
    }
    // The cross-site form post: a 302 to the GET form with the same fields.
    let posted = c
        .request(
            c.raw()
                .post(&action)
                .header("origin", APPLE_ISSUER)
                .form(&fields),
        )
        .await;
    assert_eq!(posted.status, 302, "{}", posted.text);
    let to = posted.header("location").expect("a redirect");
    let back: Vec<(String, String)> = url::Url::parse(&to)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert!(
        to.starts_with(&format!("{}/callback/apple?", s.base)),
        "{to}"
    );
    assert_eq!(back, fields, "the GET form carries every posted field");
    assert!(posted.set_cookie("better-auth.session_token").is_none());
    let done = c.request(c.raw().get(&to)).await;
    (c, done)
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn social_apple_form_post_and_first_login_name(backend: Backend) {
    let listener = TestServer::reserve().await;
    let base = format!("http://{}", listener.local_addr().unwrap());
    // A native client: oidc-provider allows a hybrid response to a plain-http
    // redirect on loopback only for those.
    let op = NodeProvider::openid(
        json!([{
            "application_type": "native",
            "client_id": "apple-client",
            "client_secret": "apple-secret",
            "redirect_uris": [format!("{base}/api/auth/callback/apple")],
            "grant_types": ["authorization_code", "implicit", "refresh_token"],
            "response_types": ["code id_token"],
            "token_endpoint_auth_method": "client_secret_post",
        }]),
        Some(APPLE_ISSUER),
    )
    .await;
    let s = TestServer::start_on(listener, backend, |c| {
        c.social.insert(
            "apple".into(),
            SocialProviderConfig {
                client_id: "apple-client".into(),
                client_secret: Some("apple-secret".into()),
                authorization_url: Some(format!("{}/auth", op.url)),
                token_url: Some(format!("{}/token", op.url)),
                jwks_url: Some(format!("{}/jwks", op.url)),
                // Apple asks for `email name`; the test provider issues ID
                // tokens only for `openid`.
                scopes: vec!["openid".into()],
                ..Default::default()
            },
        );
    })
    .await;

    // First sign-in: Apple posts the name once, in `user`, beside an address
    // the app must not trust (the ID token's is the one that counts).
    let login = email();
    let user = json!({
        "name": {"firstName": "Ada", "lastName": "Lovelace"},
        "email": "someone-else@example.com",
    });
    let (first, done) = apple_sign_in(&s, &login, Some(user)).await;
    assert_eq!(done.status, 302, "{}", done.text);
    assert_eq!(done.header("location").as_deref(), Some("/welcome"));
    assert!(done.set_cookie("better-auth.session_token").is_some());
    let session = first.get("/get-session").await.json();
    assert_eq!(session["user"]["name"], "Ada Lovelace");
    assert_eq!(session["user"]["email"], login.as_str());
    assert_eq!(session["user"]["emailVerified"], true);
    let accounts = first.get("/list-accounts").await.json();
    assert_eq!(accounts.as_array().map(Vec::len), Some(1), "{accounts}");
    assert_eq!(accounts[0]["providerId"], "apple");
    let sub = accounts[0]["accountId"].as_str().unwrap().to_string();
    assert!(sub.starts_with("sub-"), "{sub}");

    // Later sign-ins carry no `user`: the same user, the name kept.
    let (again, done) = apple_sign_in(&s, &login, None).await;
    assert_eq!(done.status, 302, "{}", done.text);
    assert_eq!(done.header("location").as_deref(), Some("/home"));
    let session = again.get("/get-session").await.json();
    assert_eq!(session["user"]["name"], "Ada Lovelace");
    assert_eq!(session["user"]["email"], login.as_str());
    assert_eq!(
        again.get("/list-accounts").await.json()[0]["accountId"],
        sub.as_str()
    );

    // A `user` field that is not JSON is ignored, never an error: a new
    // Apple user without a name is still signed in.
    let other = email();
    let (fresh, done) = apple_sign_in(&s, &other, Some(json!("not json {"))).await;
    assert_eq!(done.status, 302, "{}", done.text);
    assert_eq!(done.header("location").as_deref(), Some("/welcome"));
    assert_eq!(
        fresh.get("/get-session").await.json()["user"]["email"],
        other.as_str()
    );

    // A forged form post (no flow of this browser's) goes to the GET form,
    // then to the error page with Better Auth's code.
    let c = s.client();
    let posted = c
        .request(
            c.raw()
                .post(format!("{}/callback/apple", s.base))
                .header("origin", APPLE_ISSUER)
                .form(&[("code", "forged"), ("state", "forged")]),
        )
        .await;
    assert_eq!(posted.status, 302);
    let to = posted.header("location").unwrap();
    let r = c.request(c.raw().get(&to)).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=state_mismatch", s.base))
    );
}

/// Microsoft's multi-tenant issuer: for `common` the token's `iss` must be
/// the issuer URL with the token's own `tid`; a configured tenant takes
/// only its own tokens.
async fn social_microsoft_tenant_issuer(backend: Backend) {
    let op = NodeProvider::openid(json!([]), None).await;
    const TENANT_A: &str = "9122040d-6c67-4c5b-b112-36a304b66dad";
    const TENANT_B: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let server = |tenant: Option<&str>| {
        let jwks = format!("{}/jwks", op.url);
        let tenant = tenant.map(str::to_owned);
        let backend = backend.clone();
        async move {
            TestServer::start_with(backend, move |c| {
                c.social.insert(
                    "microsoft".into(),
                    SocialProviderConfig {
                        client_id: "ms-client".into(),
                        client_secret: Some("ms-secret".into()),
                        jwks_url: Some(jwks),
                        tenant_id: tenant,
                        ..Default::default()
                    },
                );
            })
            .await
        }
    };
    let now = chrono::Utc::now().timestamp();
    let token = |iss_tenant: &str, tid: Option<&str>, login: &str| {
        let mut claims = json!({
            "iss": format!("https://login.microsoftonline.com/{iss_tenant}/v2.0"),
            "aud": "ms-client",
            "sub": format!("pairwise-{login}"),
            "oid": format!("oid-{login}"),
            "email": login,
            "email_verified": true,
            "name": "Abe Li",
            "iat": now,
            "exp": now + 600,
        });
        if let Some(t) = tid {
            claims["tid"] = json!(t);
        }
        let op = &op;
        async move { op.sign(&claims).await }
    };
    let sign_in = |t: String| json!({"provider": "microsoft", "idToken": {"token": t}});

    // `common` (the default): any tenant, as long as `iss` names the token's own.
    let common = server(None).await;
    let login = email();
    let r = common
        .client()
        .post(
            "/sign-in/social",
            sign_in(token(TENANT_A, Some(TENANT_A), &login).await),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["email"], login.as_str());
    assert_eq!(r.json()["user"]["name"], "Abe Li");
    let c = common.client();
    let r = c
        .post(
            "/sign-in/social",
            sign_in(token(TENANT_B, Some(TENANT_B), &login).await),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Accounts are keyed by `oid`, not the per-app `sub`.
    let accounts = c.get("/list-accounts").await.json();
    assert_eq!(accounts[0]["accountId"], format!("oid-{login}").as_str());
    // An issuer naming another tenant than `tid`, or no `tid` at all: refused.
    common
        .client()
        .post(
            "/sign-in/social",
            sign_in(token(TENANT_A, Some(TENANT_B), &email()).await),
        )
        .await
        .assert_error(401, "INVALID_TOKEN");
    common
        .client()
        .post(
            "/sign-in/social",
            sign_in(token(TENANT_A, None, &email()).await),
        )
        .await
        .assert_error(401, "INVALID_TOKEN");

    // A configured tenant: its own tokens only.
    let single = server(Some(TENANT_A)).await;
    let r = single
        .client()
        .post(
            "/sign-in/social",
            sign_in(token(TENANT_A, Some(TENANT_A), &email()).await),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    single
        .client()
        .post(
            "/sign-in/social",
            sign_in(token(TENANT_B, Some(TENANT_B), &email()).await),
        )
        .await
        .assert_error(401, "INVALID_TOKEN");
}
