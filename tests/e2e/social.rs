//! Social sign-in against real providers on loopback (tests/providers): an
//! OpenID provider (oidc-provider) behind `generic-oauth` and as "Google",
//! and a GitHub-shaped OAuth 2 server behind the built-in `github`. Each
//! flow goes browser -> Gatehouse -> provider -> Gatehouse over real HTTP.

use chrono::Duration as Span;
use gatehouse_server::social::settings::SocialProviderConfig;
use gatehouse_tests::providers::{follow_until, op_client, NodeProvider};
use gatehouse_tests::{add_sections, email, on_both_backends, Backend, Client, TestServer};
use serde_json::{json, Value};

on_both_backends!(
    social_generic_oidc_sign_in_tokens_and_accounts,
    social_callback_failures_redirect_with_codes,
    social_linking_rules_over_http,
    social_github_shape_and_id_token_refusal,
    social_id_token_sign_in_is_verified,
    social_flow_security,
    social_trusted_providers_and_bans,
    social_discord_and_facebook_shapes,
    social_loopback_hand_off,
    social_callback_refusals,
    social_id_token_refusals_and_account_errors,
    social_storage_failures_are_reported,
);

const OIDC_ID: &str = "local-oidc";
const OIDC_SECRET: &str = "local-oidc-secret";

/// Gatehouse with `generic-oauth` in front of a fresh OP (discovery at start-up).
async fn oidc_server(backend: Backend) -> (TestServer, NodeProvider) {
    oidc_server_with(backend, &[], "").await
}

/// [`oidc_server`] with more plugins and configuration.
async fn oidc_server_with(
    backend: Backend,
    plugins: &[&str],
    extra_toml: &str,
) -> (TestServer, NodeProvider) {
    oidc_server_configured(backend, plugins, extra_toml, |_| {}).await
}

async fn oidc_server_configured(
    backend: Backend,
    plugins: &[&str],
    extra_toml: &str,
    configure: impl FnOnce(&mut gatehouse_server::Config),
) -> (TestServer, NodeProvider) {
    let listener = TestServer::reserve().await;
    let base = format!("http://{}", listener.local_addr().unwrap());
    let op = NodeProvider::openid(
        json!([op_client(
            OIDC_ID,
            OIDC_SECRET,
            &[format!("{base}/api/auth/callback/{OIDC_ID}")]
        )]),
        None,
    )
    .await;
    let discovery = format!("{}/.well-known/openid-configuration", op.url);
    let server = TestServer::start_on(listener, backend, |c| {
        c.plugins.push("generic-oauth".into());
        c.plugins.extend(plugins.iter().map(|p| p.to_string()));
        add_sections(
            c,
            &format!(
                "[generic_oauth.{OIDC_ID}]\nclient_id = \"{OIDC_ID}\"\nclient_secret = \"{OIDC_SECRET}\"\n\
                 discovery_url = \"{discovery}\"\nscopes = [\"openid\", \"email\", \"profile\"]\n{extra_toml}"
            ),
        );
        configure(c);
    })
    .await;
    (server, op)
}

/// Starts a redirect sign-in as `login` and walks the provider's login;
/// returns the callback URL the provider sent the browser to.
async fn authorize(s: &TestServer, c: &Client, provider: &str, body: Value) -> String {
    let r = c.post("/sign-in/social", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let j = r.json();
    assert_eq!(j["redirect"], true);
    let url = j["url"].as_str().unwrap().to_string();
    assert_eq!(r.header("location").as_deref(), Some(url.as_str()));
    assert!(r
        .set_cookie("better-auth.state")
        .is_some_and(|l| l.contains("Max-Age=300")));
    follow_until(c.raw(), &url, &format!("{}/callback/{provider}", s.base)).await
}

/// [`authorize`] for a new user of the generic provider.
async fn new_user_callback(s: &TestServer, c: &Client) -> String {
    authorize(
        s,
        c,
        OIDC_ID,
        json!({"provider": OIDC_ID, "loginHint": email()}),
    )
    .await
}

/// The callback, in the browser that started the flow.
async fn finish(c: &Client, callback: &str) -> gatehouse_tests::Response {
    c.request(c.raw().get(callback)).await
}

fn query(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn param(url: &str, key: &str) -> Option<String> {
    query(url)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

async fn social_generic_oidc_sign_in_tokens_and_accounts(backend: Backend) {
    let (s, op) = oidc_server(backend).await;
    let c = s.client();
    let login = email();
    let body = json!({
        "provider": OIDC_ID, "callbackURL": "/dashboard", "newUserCallbackURL": "/welcome",
        "loginHint": login,
    });
    let r = c.post("/sign-in/social", body.clone()).await;
    let url = r.json()["url"].as_str().unwrap().to_string();
    // PKCE S256, a nonce, our callback; the order is Better Auth's.
    assert!(
        url.starts_with(&format!(
            "{}/auth?response_type=code&client_id={OIDC_ID}&state=",
            op.url
        )),
        "{url}"
    );
    assert_eq!(
        param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(param(&url, "code_challenge").map(|c| c.len()), Some(43));
    assert_eq!(param(&url, "nonce").map(|n| n.len()), Some(32));
    assert_eq!(
        param(&url, "scope").as_deref(),
        Some("openid email profile")
    );
    assert_eq!(
        param(&url, "redirect_uri"),
        Some(format!("{}/callback/{OIDC_ID}", s.base))
    );

    // The first sign-in creates the user: 302 to newUserCallbackURL.
    let cb = authorize(&s, &c, OIDC_ID, body.clone()).await;
    assert_eq!(param(&cb, "iss").as_deref(), Some(op.url.as_str()));
    let r = finish(&c, &cb).await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert_eq!(r.header("location").as_deref(), Some("/welcome"));
    assert!(r.set_cookie("better-auth.session_token").is_some());
    assert!(r
        .set_cookie("better-auth.state")
        .is_some_and(|l| l.contains("Max-Age=0")));
    let session = c.get("/get-session").await.json();
    assert_eq!(session["user"]["email"], login.as_str());
    assert_eq!(session["user"]["emailVerified"], true);
    assert_eq!(session["user"]["name"], login.split('@').next().unwrap());

    // The same callback again: the state was used.
    let r = finish(&c, &cb).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=state_mismatch", s.base))
    );

    // A returning user goes to callbackURL.
    let cb = authorize(&s, &c, OIDC_ID, body).await;
    let r = finish(&c, &cb).await;
    assert_eq!(
        r.header("location").as_deref(),
        Some("/dashboard"),
        "{}",
        r.text
    );

    let accounts = c.get("/list-accounts").await.json();
    let accounts = accounts.as_array().unwrap();
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(accounts[0]["providerId"], OIDC_ID);
    assert!(accounts[0]["accountId"]
        .as_str()
        .unwrap()
        .starts_with("sub-"));
    assert_eq!(accounts[0]["scopes"], json!(["openid", "email", "profile"]));
    assert!(accounts[0].get("accessToken").is_none());
    let account_row = accounts[0]["id"].as_str().unwrap().to_string();

    // Provider tokens: usable through the API, sealed in the database.
    let r = c
        .post("/get-access-token", json!({"accountId": account_row}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let first = r.json()["accessToken"].as_str().unwrap().to_string();
    assert_eq!(r.json()["scopes"], json!(["openid", "email", "profile"]));
    assert!(r.json()["idToken"]
        .as_str()
        .is_some_and(|t| t.split('.').count() == 3));
    let stored = stored_access_token(&s, &account_row).await;
    assert_ne!(stored, first);
    assert!(stored.chars().all(|ch| ch.is_ascii_hexdigit()), "{stored}");
    // The OP's access token is the userinfo key.
    let me = gatehouse_tests::http_client()
        .build()
        .unwrap()
        .get(format!("{}/me", op.url))
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    // Not yet near expiry: the same token. Within 5 s of it: refreshed at the OP.
    let again = c
        .post("/get-access-token", json!({"accountId": account_row}))
        .await;
    assert_eq!(again.json()["accessToken"].as_str(), Some(first.as_str()));
    s.clock.advance(Span::seconds(3600 - 4));
    let refreshed = c
        .post("/get-access-token", json!({"accountId": account_row}))
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let second = refreshed.json()["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(second, first);

    let r = c
        .post("/refresh-token", json!({"accountId": account_row}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let j = r.json();
    assert_eq!(j["providerId"], OIDC_ID);
    assert!(j["refreshToken"].is_string() && j["accessTokenExpiresAt"].is_string());
    assert_ne!(j["accessToken"].as_str(), Some(second.as_str()));

    let r = c
        .get(&format!("/account-info?accountId={account_row}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["email"], login.as_str());
    assert_eq!(r.json()["account"]["providerId"], OIDC_ID);

    // The only way in cannot be unlinked; an unknown account is named.
    c.post("/unlink-account", json!({"accountId": account_row}))
        .await
        .assert_error(400, "FAILED_TO_UNLINK_LAST_ACCOUNT");
    c.post("/unlink-account", json!({"accountId": "nope"}))
        .await
        .assert_error(400, "ACCOUNT_NOT_FOUND");
    c.post("/get-access-token", json!({"accountId": "nope"}))
        .await
        .assert_error(400, "ACCOUNT_NOT_FOUND");
    // Signed out: no tokens.
    s.client()
        .post("/get-access-token", json!({"accountId": account_row}))
        .await
        .assert_error(401, "UNAUTHORIZED");

    // The provider is gone: refreshing fails, and so does a token that
    // would need refreshing.
    drop(op);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    c.post("/refresh-token", json!({"accountId": account_row}))
        .await
        .assert_error(400, "FAILED_TO_REFRESH_ACCESS_TOKEN");
    s.clock.advance(Span::seconds(3600));
    c.post("/get-access-token", json!({"accountId": account_row}))
        .await
        .assert_error(400, "FAILED_TO_GET_ACCESS_TOKEN");
}

async fn stored_access_token(s: &TestServer, id: &str) -> String {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use gatehouse_server::db::schema::accounts;
    let v: Result<Option<String>, gatehouse_server::db::StorageError> = async {
        gatehouse_server::with_conn!(s.db(), |conn| Ok(accounts::table
            .find(id)
            .select(accounts::access_token)
            .first(conn)
            .await?))
    }
    .await;
    v.unwrap().expect("a stored access token")
}

async fn social_callback_failures_redirect_with_codes(backend: Backend) {
    let (s, op) = oidc_server(backend).await;
    let c = s.client();
    // The user cancels at the provider: the flow's error URL gets the provider's error.
    let cb = authorize(
        &s,
        &c,
        OIDC_ID,
        json!({"provider": OIDC_ID, "errorCallbackURL": "/oops", "loginHint": "deny@example.com"}),
    )
    .await;
    let r = finish(&c, &cb).await;
    let loc = r.header("location").unwrap();
    assert!(
        loc.starts_with("/oops?error=access_denied&error_description="),
        "{loc}"
    );

    // Another browser (no state cookie) cannot finish someone's flow, and
    // cannot burn it either: the right browser still can.
    let cb = new_user_callback(&s, &c).await;
    let other = s.client();
    let r = finish(&other, &cb).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=state_mismatch", s.base))
    );
    assert!(r.set_cookie("better-auth.session_token").is_none());
    let r = finish(&c, &cb).await;
    assert_eq!(
        r.header("location").as_deref(),
        Some(&format!("{}/", s.origin)[..])
    );

    // RFC 9207: an answer naming another issuer is refused.
    let cb = new_user_callback(&s, &c).await;
    let forged = cb.replace(
        &format!(
            "iss={}",
            url::form_urlencoded::byte_serialize(op.url.as_bytes()).collect::<String>()
        ),
        "iss=http%3A%2F%2Fevil.example",
    );
    assert_ne!(forged, cb);
    let r = finish(&c, &forged).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=issuer_mismatch", s.base))
    );

    // A code the provider does not know.
    let cb = new_user_callback(&s, &c).await;
    let code = param(&cb, "code").unwrap();
    let r = finish(&c, &cb.replace(&code, "not-a-code")).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=invalid_code", s.base))
    );

    // A callback with a state but no code; one on another provider's path.
    let cb = new_user_callback(&s, &c).await;
    let mut without_code = url::Url::parse(&cb).unwrap();
    let kept: Vec<(String, String)> = query(&cb)
        .into_iter()
        .filter(|(k, _)| k != "code")
        .collect();
    without_code.query_pairs_mut().clear().extend_pairs(kept);
    let r = finish(&c, without_code.as_str()).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=no_code", s.base))
    );
    let cb = new_user_callback(&s, &c).await;
    let elsewhere = cb.replace(
        &format!("/callback/{OIDC_ID}?"),
        "/callback/not-configured?",
    );
    let r = finish(&c, &elsewhere).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=oauth_provider_not_found", s.base))
    );
    // An OpenID flow whose stored state lost its nonce is not finished
    // (the ID token could not be bound to it).
    let cb = new_user_callback(&s, &c).await;
    edit_flow(&s, &param(&cb, "state").unwrap(), |v| {
        v.as_object_mut().unwrap().remove("idTokenNonce");
    })
    .await;
    let r = finish(&c, &cb).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=nonce_binding_missing", s.base))
    );
    assert!(r.set_cookie("better-auth.session_token").is_none());

    // No state at all; a form-posted callback goes to the GET form.
    let r = finish(&c, &format!("{}/callback/{OIDC_ID}?code=x", s.base)).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=state_not_found", s.base))
    );
    let r = c
        .request(
            c.raw()
                .post(format!("{}/callback/{OIDC_ID}", s.base))
                .header("origin", "https://appleid.apple.com")
                .form(&[("code", "abc"), ("state", "xyz")]),
        )
        .await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert_eq!(
        r.header("location"),
        Some(format!("{}/callback/{OIDC_ID}?code=abc&state=xyz", s.base))
    );

    // Refusals before any redirect.
    c.post("/sign-in/social", json!({"provider": "nope"}))
        .await
        .assert_error(404, "PROVIDER_NOT_FOUND");
    c.post(
        "/sign-in/social",
        json!({"provider": OIDC_ID, "callbackURL": "https://evil.example/"}),
    )
    .await
    .assert_error(403, "INVALID_CALLBACK_URL");
    c.post(
        "/sign-in/social",
        json!({"provider": OIDC_ID, "additionalParams": {"redirect_uri": "https://evil.example/"}}),
    )
    .await
    .assert_error(400, "VALIDATION_ERROR");
    let r = c
        .post(
            "/sign-in/social",
            json!({"provider": OIDC_ID, "disableRedirect": true}),
        )
        .await;
    assert_eq!(r.json()["redirect"], false);
    assert!(r.header("location").is_none());
}

async fn social_linking_rules_over_http(backend: Backend) {
    let (s, _op) = oidc_server(backend).await;
    // An unverified local account with the provider's (verified) address is
    // not taken over: someone may have registered it first.
    let squatter = s.client();
    let (addr, _) = squatter.sign_up().await;
    let c = s.client();
    let cb = authorize(
        &s,
        &c,
        OIDC_ID,
        json!({"provider": OIDC_ID, "loginHint": addr}),
    )
    .await;
    let r = finish(&c, &cb).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=account_not_linked", s.base))
    );
    assert!(r.set_cookie("better-auth.session_token").is_none());

    // A provider address it did not verify creates an unverified user (in
    // a new browser: the provider remembers who logged in).
    let c = s.client();
    let unverified = format!("unverified.{}", email());
    let cb = authorize(
        &s,
        &c,
        OIDC_ID,
        json!({"provider": OIDC_ID, "loginHint": unverified}),
    )
    .await;
    let r = finish(&c, &cb).await;
    assert_eq!(r.header("location"), Some(format!("{}/", s.origin)));
    assert_eq!(
        c.get("/get-session").await.json()["user"]["emailVerified"],
        false
    );

    // link-social: the signed-in user adds the provider (same address), then
    // may unlink it again since the password remains.
    let me = s.client();
    let (my_addr, _) = me.sign_up().await;
    let r = me
        .post(
            "/link-social",
            json!({"provider": OIDC_ID, "callbackURL": "/settings", "loginHint": my_addr}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let url = r.json()["url"].as_str().unwrap().to_string();
    let cb = follow_until(me.raw(), &url, &format!("{}/callback/{OIDC_ID}", s.base)).await;
    let r = finish(&me, &cb).await;
    assert_eq!(
        r.header("location").as_deref(),
        Some("/settings"),
        "{}",
        r.text
    );
    let accounts = me.get("/list-accounts").await.json();
    let providers: Vec<&str> = accounts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["providerId"].as_str().unwrap())
        .collect();
    assert_eq!(providers.len(), 2, "{accounts}");
    assert!(providers.contains(&"credential") && providers.contains(&OIDC_ID));
    let linked = accounts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["providerId"] == OIDC_ID)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The identity is now this user's: another user cannot link it.
    let thief = s.client();
    thief.sign_up().await;
    let r = thief
        .post(
            "/link-social",
            json!({"provider": OIDC_ID, "loginHint": my_addr}),
        )
        .await;
    let url = r.json()["url"].as_str().unwrap().to_string();
    let cb = follow_until(thief.raw(), &url, &format!("{}/callback/{OIDC_ID}", s.base)).await;
    let r = finish(&thief, &cb).await;
    assert_eq!(
        r.header("location"),
        Some(format!(
            "{}/error?error=account_already_linked_to_different_user",
            s.base
        ))
    );

    let r = me
        .post("/unlink-account", json!({"accountId": linked}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], true);
    assert_eq!(
        me.get("/list-accounts")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Signed out, link-social needs a session.
    s.client()
        .post("/link-social", json!({"provider": OIDC_ID}))
        .await
        .assert_error(401, "UNAUTHORIZED");
}

async fn social_github_shape_and_id_token_refusal(backend: Backend) {
    let gh = NodeProvider::github().await;
    let s = TestServer::start_with(backend, |c| {
        c.social.insert(
            "github".into(),
            SocialProviderConfig {
                client_id: "github-client".into(),
                client_secret: Some("github-secret".into()),
                authorization_url: Some(format!("{}/login/oauth/authorize", gh.url)),
                token_url: Some(format!("{}/login/oauth/access_token", gh.url)),
                userinfo_url: Some(format!("{}/user", gh.url)),
                emails_url: Some(format!("{}/user/emails", gh.url)),
                ..Default::default()
            },
        );
    })
    .await;
    let c = s.client();
    let login = format!("octo{}", gatehouse_tests::random_suffix(6).to_lowercase());
    let cb = authorize(
        &s,
        &c,
        "github",
        json!({"provider": "github", "callbackURL": "/home", "loginHint": login}),
    )
    .await;
    let r = finish(&c, &cb).await;
    assert_eq!(r.header("location").as_deref(), Some("/home"), "{}", r.text);
    let user = c.get("/get-session").await.json()["user"].clone();
    assert_eq!(user["email"], format!("{login}@example.com"));
    assert_eq!(user["emailVerified"], true);
    assert_eq!(user["name"], format!("The {login}"));
    assert_eq!(user["image"], format!("https://avatars.example/u/{login}"));
    // GitHub has no ID tokens.
    c.post(
        "/sign-in/social",
        json!({"provider": "github", "idToken": {"token": "a.b.c"}}),
    )
    .await
    .assert_error(404, "ID_TOKEN_NOT_SUPPORTED");
    // account-info asks the provider's API (GitHub has no ID token).
    let r = c.get("/account-info?providerId=github").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["data"]["login"], login.as_str());

    // A GitHub account without any address cannot sign in.
    let other = s.client();
    let cb = authorize(
        &s,
        &other,
        "github",
        json!({"provider": "github", "loginHint": format!("noemail{login}")}),
    )
    .await;
    let r = finish(&other, &cb).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=email_not_found", s.base))
    );
    assert!(r.set_cookie("better-auth.session_token").is_none());

    // The provider is gone: its profile cannot be fetched.
    drop(gh);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    c.get("/account-info?providerId=github")
        .await
        .assert_error(404, "FAILED_TO_GET_USER_INFO");
}

/// Runs the code flow directly against the OP (as a mobile app's SDK
/// would) and returns its ID token.
async fn native_id_token(
    op: &NodeProvider,
    client_id: &str,
    secret: &str,
    nonce: &str,
    login: &str,
) -> String {
    native_id_token_with(op, client_id, secret, Some(nonce), login).await
}

async fn native_id_token_with(
    op: &NodeProvider,
    client_id: &str,
    secret: &str,
    nonce: Option<&str>,
    login: &str,
) -> String {
    let http = gatehouse_tests::http_client()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = "http://127.0.0.1:9/native";
    let verifier = "v".repeat(64);
    let challenge = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    let mut url = url::Url::parse(&format!("{}/auth", op.url)).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "openid email profile")
        .append_pair("state", "s")
        .append_pair("login_hint", login)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    if let Some(n) = nonce {
        url.query_pairs_mut().append_pair("nonce", n);
    }
    let back = follow_until(&http, url.as_str(), redirect).await;
    let code = param(&back, "code").expect("a code");
    let tokens: Value = http
        .post(format!("{}/token", op.url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &verifier),
            ("client_id", client_id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["id_token"]
        .as_str()
        .expect("an ID token")
        .to_string()
}

async fn social_id_token_sign_in_is_verified(backend: Backend) {
    // The OP mints Google-issuer tokens while serving on loopback.
    let op = NodeProvider::openid(
        json!([
            op_client(
                "google-client",
                "google-secret",
                &["http://127.0.0.1:9/native".into()]
            ),
            op_client(
                "other-client",
                "other-secret",
                &["http://127.0.0.1:9/native".into()]
            ),
        ]),
        Some("https://accounts.google.com"),
    )
    .await;
    let s = TestServer::start_with(backend, |c| {
        c.social.insert(
            "google".into(),
            SocialProviderConfig {
                client_id: "google-client".into(),
                client_secret: Some("google-secret".into()),
                authorization_url: Some(format!("{}/auth", op.url)),
                token_url: Some(format!("{}/token", op.url)),
                jwks_url: Some(format!("{}/jwks", op.url)),
                ..Default::default()
            },
        );
    })
    .await;
    let c = s.client();
    let login = email();
    let token = native_id_token(&op, "google-client", "google-secret", "n-123", &login).await;

    // A wrong nonce, a tampered payload, a token for another client: refused.
    let sign_in = |t: String, nonce: &str| json!({"provider": "google", "idToken": {"token": t, "nonce": nonce}});
    c.post("/sign-in/social", sign_in(token.clone(), "other"))
        .await
        .assert_error(401, "INVALID_TOKEN");
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: Value = serde_json::from_slice(&b64.decode(&parts[1]).unwrap()).unwrap();
        claims["email"] = json!("victim@example.com");
        parts[1] = b64.encode(serde_json::to_vec(&claims).unwrap());
    }
    c.post("/sign-in/social", sign_in(parts.join("."), "n-123"))
        .await
        .assert_error(401, "INVALID_TOKEN");
    let foreign = native_id_token(&op, "other-client", "other-secret", "n-123", &login).await;
    c.post("/sign-in/social", sign_in(foreign, "n-123"))
        .await
        .assert_error(401, "INVALID_TOKEN");
    // `alg: none` with the real claims.
    {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let none = format!(
            "{}.{}.",
            b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
            token.split('.').nth(1).unwrap()
        );
        c.post("/sign-in/social", sign_in(none, "n-123"))
            .await
            .assert_error(401, "INVALID_TOKEN");
    }
    // The app sent a nonce the token does not carry.
    let without_nonce =
        native_id_token_with(&op, "google-client", "google-secret", None, &login).await;
    c.post("/sign-in/social", sign_in(without_nonce.clone(), "n-123"))
        .await
        .assert_error(401, "INVALID_TOKEN");
    assert!(c.get("/get-session").await.json().is_null());
    // A server that expects another issuer refuses the same, valid token.
    let picky = TestServer::start_with(Backend::Sqlite, |c| {
        c.social.insert(
            "google".into(),
            SocialProviderConfig {
                client_id: "google-client".into(),
                jwks_url: Some(format!("{}/jwks", op.url)),
                issuers: Some(vec!["https://issuer.example".into()]),
                ..Default::default()
            },
        );
    })
    .await;
    picky
        .client()
        .post(
            "/sign-in/social",
            json!({"provider": "google", "idToken": {"token": without_nonce}}),
        )
        .await
        .assert_error(401, "INVALID_TOKEN");

    // Expired: the real claims re-signed with the provider's own key, with
    // `exp` past the 30 s leeway, are refused; the same claims with a
    // current `exp`, signed the same way, are accepted further down.
    let mut claims: Value = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        serde_json::from_slice(&b64.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
    };
    let now = chrono::Utc::now().timestamp();
    claims["iat"] = json!(now - 3700);
    claims["exp"] = json!(now - 100);
    let expired = op.sign(&claims).await;
    c.post("/sign-in/social", sign_in(expired, "n-123"))
        .await
        .assert_error(401, "INVALID_TOKEN");
    assert!(c.get("/get-session").await.json().is_null());
    claims["iat"] = json!(now - 10);
    claims["exp"] = json!(now + 600);
    let resigned = op.sign(&claims).await;
    let r = c.post("/sign-in/social", sign_in(resigned, "n-123")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    c.post("/sign-out", json!({})).await;

    // The real one signs in.
    let r = c.post("/sign-in/social", sign_in(token, "n-123")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let j = r.json();
    assert_eq!(j["redirect"], false);
    assert!(j["token"].as_str().is_some_and(|t| t.len() == 32));
    assert_eq!(j["user"]["email"], login.as_str());
    assert_eq!(j["user"]["emailVerified"], true);
    assert!(j.get("url").is_none());
    assert_eq!(
        c.get("/get-session").await.json()["user"]["email"],
        login.as_str()
    );
    let accounts = c.get("/list-accounts").await.json();
    assert_eq!(accounts[0]["providerId"], "google");
}

async fn social_flow_security(backend: Backend) {
    let (s, _op) = oidc_server(backend).await;
    let c = s.client();
    // Open redirects through any of the flow's URLs are refused up front.
    for (field, bad, code) in [
        ("callbackURL", "//evil.com", "INVALID_CALLBACK_URL"),
        ("callbackURL", "https:evil.com", "INVALID_CALLBACK_URL"),
        ("callbackURL", "https://evil.com/x", "INVALID_CALLBACK_URL"),
        (
            "newUserCallbackURL",
            "https://evil.com/",
            "INVALID_NEW_USER_CALLBACK_URL",
        ),
        (
            "errorCallbackURL",
            "//evil.com/",
            "INVALID_ERROR_CALLBACK_URL",
        ),
    ] {
        let mut body = json!({"provider": OIDC_ID});
        body[field] = json!(bad);
        c.post("/sign-in/social", body)
            .await
            .assert_error(403, code);
    }

    // An expired state (10 minutes) is refused.
    let cb = new_user_callback(&s, &c).await;
    s.clock.advance(Span::minutes(11));
    let r = finish(&c, &cb).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=state_mismatch", s.base))
    );
    assert!(r.set_cookie("better-auth.session_token").is_none());

    // The provider refuses a wrong PKCE verifier: the flow's stored verifier
    // is swapped before the callback, so the exchange fails.
    let cb = new_user_callback(&s, &c).await;
    let state = param(&cb, "state").unwrap();
    swap_verifier(&s, &state).await;
    let r = finish(&c, &cb).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=invalid_code", s.base))
    );
    assert!(r.set_cookie("better-auth.session_token").is_none());
}

/// Replaces the PKCE verifier stored with a flow's state.
async fn swap_verifier(s: &TestServer, state: &str) {
    edit_flow(s, state, |v| v["codeVerifier"] = json!("x".repeat(128))).await;
}

/// Edits the data stored with a flow's state.
async fn edit_flow(s: &TestServer, state: &str, edit: impl FnOnce(&mut Value)) {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use gatehouse_server::db::schema::verifications;
    let key = format!("auth-state:{state}");
    let done: Result<usize, gatehouse_server::db::StorageError> = async {
        gatehouse_server::with_conn!(s.db(), |conn| {
            let value: String = verifications::table
                .filter(verifications::identifier.eq(&key))
                .select(verifications::value)
                .first(conn)
                .await?;
            let mut v: Value = serde_json::from_str(&value).unwrap();
            edit(&mut v);
            Ok(
                diesel::update(verifications::table.filter(verifications::identifier.eq(&key)))
                    .set(verifications::value.eq(v.to_string()))
                    .execute(conn)
                    .await?,
            )
        })
    }
    .await;
    assert_eq!(done.unwrap(), 1);
}

async fn mark_verified(s: &TestServer, email: &str) {
    let user = gatehouse_server::db::store::find_user_by_email(s.db(), email)
        .await
        .unwrap()
        .unwrap();
    gatehouse_server::db::store::mark_email_verified(
        s.db(),
        &user.id,
        email,
        chrono::Utc::now().naive_utc(),
    )
    .await
    .unwrap();
}

async fn social_trusted_providers_and_bans(backend: Backend) {
    let admin = email();
    let admin_section = format!(
        "[admin]\nbootstrap_email = \"{admin}\"\nbootstrap_password = \"admin-password-42\"\n"
    );
    // A verified local user; the provider says it has not verified the address.
    let addr = format!("unverified.{}", email());
    async fn verified_local_user(s: &TestServer, addr: &str) {
        let r = s
            .client()
            .post(
                "/sign-up/email",
                json!({"name": "Local", "email": addr, "password": gatehouse_tests::PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        mark_verified(s, addr).await;
    }
    {
        let (s, _op) = oidc_server_with(backend.clone(), &["admin"], &admin_section).await;
        verified_local_user(&s, &addr).await;
        let c = s.client();
        let cb = authorize(
            &s,
            &c,
            OIDC_ID,
            json!({"provider": OIDC_ID, "loginHint": addr}),
        )
        .await;
        let r = finish(&c, &cb).await;
        assert_eq!(
            r.header("location"),
            Some(format!("{}/error?error=account_not_linked", s.base))
        );
    }

    // With the provider trusted, its word on the address is enough to link.
    let (s, _op) = oidc_server_configured(backend, &["admin"], &admin_section, |c| {
        c.account.account_linking.trusted_providers = vec![OIDC_ID.into()];
    })
    .await;
    verified_local_user(&s, &addr).await;
    let c = s.client();
    let cb = authorize(
        &s,
        &c,
        OIDC_ID,
        json!({"provider": OIDC_ID, "callbackURL": "/in", "loginHint": addr}),
    )
    .await;
    let r = finish(&c, &cb).await;
    assert_eq!(r.header("location").as_deref(), Some("/in"), "{}", r.text);
    let me = c.get("/get-session").await.json();
    assert_eq!(me["user"]["email"], addr.as_str());
    let user_id = me["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        c.get("/list-accounts")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A banned user is refused at the callback with the ban's own code.
    let operator = s.client();
    operator
        .post(
            "/sign-in/email",
            json!({"email": admin, "password": "admin-password-42"}),
        )
        .await;
    let r = operator
        .post("/admin/ban-user", json!({"userId": user_id}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let again = s.client();
    let cb = authorize(
        &s,
        &again,
        OIDC_ID,
        json!({"provider": OIDC_ID, "loginHint": addr}),
    )
    .await;
    let r = finish(&again, &cb).await;
    let loc = r.header("location").unwrap();
    assert!(
        loc.starts_with(&format!(
            "{}/error?error=BANNED_USER&error_description=",
            s.base
        )),
        "{loc}"
    );
    assert!(r.set_cookie("better-auth.session_token").is_none());
}

/// Built-in providers whose profiles are not OIDC claims, reached through
/// their endpoint overrides at the shape server (`ghmock.mjs`).
async fn social_discord_and_facebook_shapes(backend: Backend) {
    let mock = NodeProvider::github().await;
    let at = |path: &str| Some(format!("{}{path}", mock.url));
    let s = TestServer::start_with(backend, |c| {
        for (id, userinfo) in [
            ("discord", "/discord/users/@me"),
            ("facebook", "/facebook/me?fields=id,name,email,picture"),
        ] {
            c.social.insert(
                id.into(),
                SocialProviderConfig {
                    client_id: format!("{id}-client"),
                    client_secret: Some(format!("{id}-secret")),
                    authorization_url: at("/login/oauth/authorize"),
                    token_url: at("/login/oauth/access_token"),
                    userinfo_url: at(userinfo),
                    ..Default::default()
                },
            );
        }
    })
    .await;
    let login = format!("shape{}", gatehouse_tests::random_suffix(6).to_lowercase());

    let c = s.client();
    let cb = authorize(
        &s,
        &c,
        "discord",
        json!({"provider": "discord", "loginHint": login}),
    )
    .await;
    let r = finish(&c, &cb).await;
    assert_eq!(r.status, 302, "{}", r.text);
    let user = c.get("/get-session").await.json()["user"].clone();
    assert_eq!(user["email"], format!("{login}@example.com"));
    assert_eq!(user["emailVerified"], true);
    assert_eq!(user["name"], format!("The {login}"));
    let image = user["image"].as_str().unwrap();
    assert!(
        image.starts_with("https://cdn.discordapp.com/avatars/")
            && image.ends_with("/8342729096ea3675442027381ff50dfe.png"),
        "{image}"
    );

    // Facebook's Graph profile has no verification flag: the address counts
    // as unverified, so it never joins the Discord-made user.
    let f = s.client();
    let cb = authorize(
        &s,
        &f,
        "facebook",
        json!({"provider": "facebook", "loginHint": login}),
    )
    .await;
    let r = finish(&f, &cb).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=account_not_linked", s.base))
    );
    let other = format!("{login}x");
    let f = s.client();
    let cb = authorize(
        &s,
        &f,
        "facebook",
        json!({"provider": "facebook", "loginHint": other}),
    )
    .await;
    let r = finish(&f, &cb).await;
    assert_eq!(r.status, 302, "{}", r.text);
    let user = f.get("/get-session").await.json()["user"].clone();
    assert_eq!(user["email"], format!("{other}@example.com"));
    assert_eq!(user["emailVerified"], false);
    assert_eq!(user["image"], format!("https://graph.example/{other}.jpg"));
}

/// S256 of a PKCE verifier, computed here independently of the server.
fn s256(verifier: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

/// `GET /sign-in/social/loopback` in the browser `c`; walks the provider's
/// login and the callback; returns the callback's answer.
async fn loopback_flow(
    s: &TestServer,
    op_url: &str,
    c: &Client,
    redirect: &str,
    challenge: &str,
    login: &str,
) -> gatehouse_tests::Response {
    let start = format!(
        "{}/sign-in/social/loopback?provider={OIDC_ID}&redirect_uri={}&code_challenge={challenge}\
         &code_challenge_method=S256&state=app-state-1&login_hint={}",
        s.base,
        urlencode(redirect),
        urlencode(login)
    );
    let r = c.request(c.raw().get(&start)).await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert!(r.set_cookie("better-auth.state").is_some());
    let to_provider = r.header("location").unwrap();
    assert!(to_provider.starts_with(op_url), "{to_provider}");
    assert_eq!(
        param(&to_provider, "code_challenge_method").as_deref(),
        Some("S256")
    );
    // The provider sees Gatehouse's own callback, never the app's address.
    assert_eq!(
        param(&to_provider, "redirect_uri"),
        Some(format!("{}/callback/{OIDC_ID}", s.base))
    );
    let cb = follow_until(
        c.raw(),
        &to_provider,
        &format!("{}/callback/{OIDC_ID}", s.base),
    )
    .await;
    finish(c, &cb).await
}

fn urlencode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

async fn social_loopback_hand_off(backend: Backend) {
    let (s, op) = oidc_server(backend).await;
    let c = s.client();
    let redirect = "http://127.0.0.1:45123/callback";
    let verifier = "v".repeat(20) + &gatehouse_tests::random_suffix(30);
    let challenge = s256(&verifier);

    // Addresses other than a loopback IP literal with a port are refused
    // as JSON: there is nowhere safe to redirect the error.
    for bad in [
        "http://localhost:45123/callback",
        "https://127.0.0.1:45123/callback",
        "http://127.0.0.1/callback",
        "http://evil.example:45123/callback",
    ] {
        let url = format!(
            "{}/sign-in/social/loopback?provider={OIDC_ID}&redirect_uri={}&code_challenge={challenge}&state=x",
            s.base,
            urlencode(bad)
        );
        c.request(c.raw().get(&url))
            .await
            .assert_error(400, "INVALID_LOOPBACK_REDIRECT");
    }
    // Later failures go back to the app, with its state.
    for (query, code) in [
        (
            format!("provider=nope&code_challenge={challenge}"),
            "PROVIDER_NOT_FOUND",
        ),
        (
            format!("provider={OIDC_ID}&code_challenge=short"),
            "VALIDATION_ERROR",
        ),
        (
            format!("provider={OIDC_ID}&code_challenge={challenge}&code_challenge_method=plain"),
            "VALIDATION_ERROR",
        ),
    ] {
        let url = format!(
            "{}/sign-in/social/loopback?{query}&redirect_uri={}&state=s-9",
            s.base,
            urlencode(redirect)
        );
        let r = c.request(c.raw().get(&url)).await;
        assert_eq!(r.status, 302, "{query}: {}", r.text);
        let loc = r.header("location").unwrap();
        assert!(loc.starts_with(redirect), "{loc}");
        assert_eq!(param(&loc, "error").as_deref(), Some(code), "{query}");
        assert_eq!(param(&loc, "state").as_deref(), Some("s-9"));
    }

    // The flow ends at the app's address with a code; the browser gets no session.
    let login = email();
    let r = loopback_flow(&s, &op.url, &c, redirect, &challenge, &login).await;
    assert_eq!(r.status, 302);
    let back = r.header("location").unwrap();
    assert!(back.starts_with(&format!("{redirect}?")), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("app-state-1"));
    let code = param(&back, "code").unwrap();
    assert_eq!(code.len(), 43);
    assert!(r.set_cookie("better-auth.session_token").is_none());
    assert_eq!(c.get("/get-session").await.text, "null");

    // A wrong verifier spends the code. (The app is another client: its
    // own cookies, and the Origin the SDK sends.)
    let app = s.client();
    let redeem = |code: &str, verifier: &str, redirect: &str| json!({"code": code, "codeVerifier": verifier, "redirectURI": redirect});
    app.post(
        "/sign-in/social/loopback/token",
        redeem(&code, &"w".repeat(50), redirect),
    )
    .await
    .assert_error(400, "INVALID_LOOPBACK_CODE");
    app.post(
        "/sign-in/social/loopback/token",
        redeem(&code, &verifier, redirect),
    )
    .await
    .assert_error(400, "INVALID_LOOPBACK_CODE");

    // Another address than the flow's is refused (and spends the code too).
    let r = loopback_flow(&s, &op.url, &c, redirect, &challenge, &login).await;
    let code = param(&r.header("location").unwrap(), "code").unwrap();
    app.post(
        "/sign-in/social/loopback/token",
        redeem(&code, &verifier, "http://127.0.0.1:45124/callback"),
    )
    .await
    .assert_error(400, "INVALID_LOOPBACK_CODE");

    // The right verifier: a session for the app, once.
    let r = loopback_flow(&s, &op.url, &c, redirect, &challenge, &login).await;
    let code = param(&r.header("location").unwrap(), "code").unwrap();
    let signed_in = app
        .post(
            "/sign-in/social/loopback/token",
            redeem(&code, &verifier, redirect),
        )
        .await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);
    let body = signed_in.json();
    assert_eq!(body["redirect"], false);
    assert_eq!(body["user"]["email"], login.as_str());
    assert!(body["token"].as_str().is_some_and(|t| t.len() >= 32));
    assert!(signed_in.set_cookie("better-auth.session_token").is_some());
    let session = app.get("/get-session").await.json();
    assert_eq!(session["user"]["email"], login.as_str());
    let accounts = app.get("/list-accounts").await.json();
    assert_eq!(accounts[0]["providerId"], OIDC_ID);
    app.post(
        "/sign-in/social/loopback/token",
        redeem(&code, &verifier, redirect),
    )
    .await
    .assert_error(400, "INVALID_LOOPBACK_CODE");

    // A code lives two minutes.
    let r = loopback_flow(&s, &op.url, &c, redirect, &challenge, &login).await;
    let code = param(&r.header("location").unwrap(), "code").unwrap();
    s.clock.advance(Span::minutes(3));
    app.post(
        "/sign-in/social/loopback/token",
        redeem(&code, &verifier, redirect),
    )
    .await
    .assert_error(400, "INVALID_LOOPBACK_CODE");

    // The user cancels at the provider (in a browser the provider has not
    // seen yet): the app hears it, with its state.
    let fresh = s.client();
    let r = loopback_flow(
        &s,
        &op.url,
        &fresh,
        redirect,
        &challenge,
        "deny@example.com",
    )
    .await;
    let back = r.header("location").unwrap();
    assert!(back.starts_with(&format!("{redirect}?")), "{back}");
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("app-state-1"));
    assert!(param(&back, "code").is_none());
}

/// Everything the process logs, at every level and from every crate.
#[derive(Clone, Default)]
struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Provider tokens, codes, the state, the session token and the client
/// secret never reach the logs, even at TRACE and from the HTTP crates,
/// through a flow that also fails in every way that logs a reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn social_tokens_never_reach_the_logs() {
    let capture = LogCapture::default();
    let sink = capture.clone();
    // All but the test's own browser jar (`cookie_store` logs the cookies it
    // receives, as a browser's devtools would): that is not the server.
    tracing_subscriber::fmt()
        .with_env_filter("trace,cookie_store=off")
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .try_init()
        .expect("this test's process has no other log subscriber");

    let (s, op) = oidc_server(Backend::Sqlite).await;
    let c = s.client();
    let login = email();
    let cb = authorize(
        &s,
        &c,
        OIDC_ID,
        json!({"provider": OIDC_ID, "loginHint": login}),
    )
    .await;
    let mut secrets = vec![
        OIDC_SECRET.to_string(),
        param(&cb, "code").unwrap(),
        param(&cb, "state").unwrap(),
    ];
    let r = finish(&c, &cb).await;
    assert_eq!(r.status, 302, "{}", r.text);
    let session_cookie = r.set_cookie("better-auth.session_token").unwrap();
    let raw_session = session_cookie
        .strip_prefix("better-auth.session_token=")
        .and_then(|v| v.split('.').next())
        .unwrap()
        .to_string();
    secrets.push(raw_session);
    // Replaying the callback is refused (and logged).
    assert!(finish(&c, &cb)
        .await
        .header("location")
        .is_some_and(|l| l.contains("state_mismatch")));

    let account = c.get("/list-accounts").await.json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = c
        .post("/get-access-token", json!({"accountId": account}))
        .await
        .json();
    secrets.push(t["accessToken"].as_str().unwrap().to_string());
    secrets.push(t["idToken"].as_str().unwrap().to_string());
    let t = c
        .post("/refresh-token", json!({"accountId": account}))
        .await
        .json();
    for k in ["accessToken", "refreshToken", "idToken"] {
        secrets.push(t[k].as_str().unwrap().to_string());
    }
    assert_eq!(
        c.get(&format!("/account-info?accountId={account}"))
            .await
            .status,
        200
    );

    // A refused ID token (wrong nonce) logs why, not the token.
    let refused = t["idToken"].as_str().unwrap().to_string();
    c.post(
        "/sign-in/social",
        json!({"provider": OIDC_ID, "idToken": {"token": refused, "nonce": "wrong"}}),
    )
    .await
    .assert_error(401, "INVALID_TOKEN");
    // A code the provider refuses: the exchange failure is logged.
    let cb = new_user_callback(&s, &c).await;
    let bad = cb.replace(&param(&cb, "code").unwrap(), "not-a-real-code");
    assert!(finish(&c, &bad)
        .await
        .header("location")
        .is_some_and(|l| l.contains("invalid_code")));
    drop(op);

    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    // The capture works: the refusals above were logged, and so was HTTP traffic.
    for expected in [
        "ID token refused",
        "code exchange failed",
        "OAuth state refused",
    ] {
        assert!(logs.contains(expected), "no {expected:?} in the logs");
    }
    assert!(
        logs.lines().count() > 50,
        "only {} log lines",
        logs.lines().count()
    );
    for secret in &secrets {
        // A JWT is searched for by its signature: every JWT's header starts alike.
        let probe = secret.rsplit('.').next().unwrap();
        assert!(probe.len() >= 16, "{secret:?} is too short to search for");
        if let Some(line) = logs.lines().find(|l| l.contains(probe)) {
            panic!(
                "a secret ({}...) is in the logs: {}",
                &probe[..6],
                line.replace(probe, "<SECRET>")
            );
        }
    }
}

/// The callback's refusals that depend on the user or the configuration:
/// sign-up off, another address on a link, a link whose user is gone.
async fn social_callback_refusals(backend: Backend) {
    let (s, _op) = oidc_server_with(backend, &[], "disable_sign_up = true\n").await;
    let c = s.client();
    let cb = new_user_callback(&s, &c).await;
    let r = finish(&c, &cb).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=signup_disabled", s.base))
    );
    assert!(r.set_cookie("better-auth.session_token").is_none());

    // link-social with the provider's login at another address.
    let me = s.client();
    me.sign_up().await;
    let r = me
        .post(
            "/link-social",
            json!({"provider": OIDC_ID, "loginHint": email()}),
        )
        .await;
    let url = r.json()["url"].as_str().unwrap().to_string();
    let cb = follow_until(me.raw(), &url, &format!("{}/callback/{OIDC_ID}", s.base)).await;
    let r = finish(&me, &cb).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=email_does_not_match", s.base))
    );
    assert_eq!(
        me.get("/list-accounts")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The user who started a link is deleted before the provider answers.
    let gone = s.client();
    let (gone_addr, _) = gone.sign_up().await;
    let r = gone
        .post(
            "/link-social",
            json!({"provider": OIDC_ID, "loginHint": gone_addr}),
        )
        .await;
    let url = r.json()["url"].as_str().unwrap().to_string();
    let cb = follow_until(gone.raw(), &url, &format!("{}/callback/{OIDC_ID}", s.base)).await;
    let user = gatehouse_server::db::store::find_user_by_email(s.db(), &gone_addr)
        .await
        .unwrap()
        .unwrap();
    gatehouse_server::db::store::delete_user(s.db(), &user.id)
        .await
        .unwrap();
    let r = finish(&gone, &cb).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=unable_to_link_account", s.base))
    );
}

/// An OpenID provider minting Google-issuer tokens, and a server with it as `google`.
async fn google_pair(
    backend: Backend,
    configure: impl FnOnce(&mut gatehouse_server::Config),
) -> (TestServer, NodeProvider) {
    let op = NodeProvider::openid(
        json!([op_client(
            "google-client",
            "google-secret",
            &["http://127.0.0.1:9/native".into()]
        )]),
        Some("https://accounts.google.com"),
    )
    .await;
    let jwks = format!("{}/jwks", op.url);
    let s = TestServer::start_with(backend, move |c| {
        c.social.insert(
            "google".into(),
            SocialProviderConfig {
                client_id: "google-client".into(),
                client_secret: Some("google-secret".into()),
                jwks_url: Some(jwks),
                ..Default::default()
            },
        );
        configure(c);
    })
    .await;
    (s, op)
}

/// The ID-token forms' refusals and the account routes' errors, each over HTTP.
async fn social_id_token_refusals_and_account_errors(backend: Backend) {
    let (s, op) = google_pair(backend.clone(), |_| {}).await;
    let id_token = |t: &str, nonce: &str| json!({"provider": "google", "idToken": {"token": t, "nonce": nonce}});
    let token_for = |login: String, nonce: &'static str| {
        let op = &op;
        async move { native_id_token(op, "google-client", "google-secret", nonce, &login).await }
    };

    // A token without an address cannot sign in.
    let t = token_for(email(), "n-1").await;
    let mut claims: Value = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        serde_json::from_slice(&b64.decode(t.split('.').nth(1).unwrap()).unwrap()).unwrap()
    };
    claims.as_object_mut().unwrap().remove("email");
    let no_email = op.sign(&claims).await;
    s.client()
        .post("/sign-in/social", id_token(&no_email, "n-1"))
        .await
        .assert_error(401, "USER_EMAIL_NOT_FOUND");

    // An address someone registered (and never verified) is not joined.
    let (squatted, _) = s.client().sign_up().await;
    let t = token_for(squatted, "n-2").await;
    s.client()
        .post("/sign-in/social", id_token(&t, "n-2"))
        .await
        .assert_error(401, "OAUTH_LINK_ERROR");

    // link-social with an ID token: unverified at the provider, another
    // address, then the user's own (linked), then someone else's.
    let me = s.client();
    let (mine, _) = me.sign_up().await;
    let t = token_for(format!("unverified.{}", email()), "n-3").await;
    me.post("/link-social", id_token(&t, "n-3"))
        .await
        .assert_error(401, "LINKING_NOT_ALLOWED");
    let t = token_for(email(), "n-4").await;
    me.post("/link-social", id_token(&t, "n-4"))
        .await
        .assert_error(401, "LINKING_DIFFERENT_EMAILS_NOT_ALLOWED");
    let own = token_for(mine.clone(), "n-5").await;
    let r = me.post("/link-social", id_token(&own, "n-5")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"url": "", "status": true, "redirect": false})
    );
    let thief = s.client();
    thief.sign_up().await;
    thief
        .post("/link-social", id_token(&own, "n-5"))
        .await
        .assert_error(409, "SOCIAL_ACCOUNT_ALREADY_LINKED");

    // The linked account holds no provider tokens but the ID token.
    me.post("/refresh-token", json!({"providerId": "google"}))
        .await
        .assert_error(400, "REFRESH_TOKEN_NOT_FOUND");
    me.post("/get-access-token", json!({"providerId": "google"}))
        .await
        .assert_error(400, "FAILED_TO_GET_ACCESS_TOKEN");
    me.post("/get-access-token", json!({"providerId": "credential"}))
        .await
        .assert_error(400, "PROVIDER_NOT_SUPPORTED");
    let google = me
        .get("/list-accounts")
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["providerId"] == "google")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Unlinking needs a fresh session (a day old at most).
    s.clock.advance(Span::hours(25));
    me.post("/unlink-account", json!({"accountId": google}))
        .await
        .assert_error(403, "SESSION_NOT_FRESH");

    // Sign-up through the provider turned off: a new identity is refused.
    let (closed, op2) = google_pair(backend, |c| {
        c.social.get_mut("google").unwrap().disable_sign_up = true;
    })
    .await;
    let t = native_id_token(&op2, "google-client", "google-secret", "n-6", &email()).await;
    closed
        .client()
        .post("/sign-in/social", id_token(&t, "n-6"))
        .await
        .assert_error(401, "OAUTH_LINK_ERROR");
}

/// Makes the real database refuse `op` (INSERT or UPDATE) on `table`, with a
/// trigger, until [`allow`]: storage failures reached over HTTP.
async fn refuse(s: &TestServer, backend: &Backend, op: &str, table: &str) {
    let name = format!("refuse_{}_{table}", op.to_lowercase());
    let statements = match backend {
        Backend::Sqlite => vec![format!(
            "CREATE TRIGGER {name} BEFORE {op} ON \"{table}\" BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )],
        Backend::Postgres(_) => vec![
            "CREATE OR REPLACE FUNCTION gatehouse_test_refuse() RETURNS trigger LANGUAGE plpgsql \
             AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
                .to_string(),
            format!(
                "CREATE TRIGGER {name} BEFORE {op} ON \"{table}\" FOR EACH ROW EXECUTE FUNCTION gatehouse_test_refuse()"
            ),
        ],
    };
    run_sql(s, &statements).await;
}

async fn allow(s: &TestServer, backend: &Backend, op: &str, table: &str) {
    let name = format!("refuse_{}_{table}", op.to_lowercase());
    let statement = match backend {
        Backend::Sqlite => format!("DROP TRIGGER {name}"),
        Backend::Postgres(_) => format!("DROP TRIGGER {name} ON \"{table}\""),
    };
    run_sql(s, &[statement]).await;
}

async fn run_sql(s: &TestServer, statements: &[String]) {
    use diesel_async::RunQueryDsl;
    for sql in statements {
        let done: Result<usize, gatehouse_server::db::StorageError> = async {
            gatehouse_server::with_conn!(s.db(), |conn| Ok(diesel::sql_query(sql)
                .execute(conn)
                .await?))
        }
        .await;
        done.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// The codes for storage failures, reached through the real database
/// refusing a write: the ID-token forms answer them as JSON, the callback
/// as `?error=`.
async fn social_storage_failures_are_reported(backend: Backend) {
    let (s, op) = google_pair(backend.clone(), |_| {}).await;
    let id_token = |t: &str| json!({"provider": "google", "idToken": {"token": t, "nonce": "n"}});
    let login = email();
    let t = native_id_token(&op, "google-client", "google-secret", "n", &login).await;

    refuse(&s, &backend, "INSERT", "user").await;
    s.client()
        .post("/sign-in/social", id_token(&t))
        .await
        .assert_error(422, "FAILED_TO_CREATE_USER");
    allow(&s, &backend, "INSERT", "user").await;
    assert!(
        gatehouse_server::db::store::find_user_by_email(s.db(), &login)
            .await
            .unwrap()
            .is_none()
    );

    refuse(&s, &backend, "INSERT", "session").await;
    s.client()
        .post("/sign-in/social", id_token(&t))
        .await
        .assert_error(500, "FAILED_TO_CREATE_SESSION");
    allow(&s, &backend, "INSERT", "session").await;

    let me = s.client();
    let (mine, _) = me.sign_up().await;
    let own = native_id_token(&op, "google-client", "google-secret", "n", &mine).await;
    refuse(&s, &backend, "INSERT", "account").await;
    me.post("/link-social", id_token(&own))
        .await
        .assert_error(417, "LINKING_FAILED");
    allow(&s, &backend, "INSERT", "account").await;
    assert_eq!(
        me.get("/list-accounts")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The redirect flow's callback reports the same as `?error=` codes.
    let (s, _op) = oidc_server(backend.clone()).await;
    let c = s.client();
    let login = email();
    let body = json!({"provider": OIDC_ID, "loginHint": login});
    refuse(&s, &backend, "INSERT", "user").await;
    let cb = authorize(&s, &c, OIDC_ID, body.clone()).await;
    assert_eq!(
        finish(&c, &cb).await.header("location"),
        Some(format!("{}/error?error=unable_to_create_user", s.base))
    );
    allow(&s, &backend, "INSERT", "user").await;
    refuse(&s, &backend, "INSERT", "session").await;
    let cb = authorize(&s, &c, OIDC_ID, body.clone()).await;
    let r = finish(&c, &cb).await;
    assert_eq!(
        r.header("location"),
        Some(format!("{}/error?error=unable_to_create_session", s.base))
    );
    assert!(r.set_cookie("better-auth.session_token").is_none());
    allow(&s, &backend, "INSERT", "session").await;
    // A returning user whose tokens cannot be stored.
    refuse(&s, &backend, "UPDATE", "account").await;
    let cb = authorize(&s, &c, OIDC_ID, body).await;
    assert_eq!(
        finish(&c, &cb).await.header("location"),
        Some(format!("{}/error?error=internal_server_error", s.base))
    );
    allow(&s, &backend, "UPDATE", "account").await;
}
