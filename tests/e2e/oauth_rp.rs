//! A Rust relying party built on the `openidconnect` crate signs in at
//! Gatehouse's OpenID provider: discovery, the authorization code flow
//! with PKCE and a nonce, the ID token verified against `/jwks` (signature,
//! `iss`, `aud`, `nonce`, `at_hash`), and userinfo. Nothing in it knows
//! Gatehouse: only the issuer URL, the client's id and secret, and a
//! browser (a cookie-carrying HTTP client) that approves the request.

use gatehouse_tests::{add_sections, on_both_backends, Backend, TestServer};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::json;

on_both_backends!(openidconnect_relying_party_signs_in);

const REDIRECT: &str = "https://rp.example/callback";

/// The relying party's HTTP client: the crate's request, sent with reqwest.
async fn http(
    req: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let client = gatehouse_tests::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let (parts, body) = req.into_parts();
    let resp = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut out = openidconnect::http::Response::builder().status(resp.status());
    for (k, v) in resp.headers() {
        out = out.header(k, v);
    }
    Ok(out
        .body(resp.bytes().await?.to_vec())
        .expect("a response from parts"))
}

async fn openidconnect_relying_party_signs_in(b: Backend) {
    let s = TestServer::start_with(b, |c| {
        c.plugins.push("jwt".into());
        c.plugins.push("oauth-provider".into());
        add_sections(c, "");
    })
    .await;
    // The user, and the client they register for the relying party.
    let browser = s.client();
    let (email, signed_up) = browser.sign_up().await;
    let r = browser
        .post(
            "/oauth2/create-client",
            json!({"redirect_uris": [REDIRECT], "client_name": "Rust RP"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let registered = r.json();

    // The relying party: discovery from the issuer alone.
    let issuer = IssuerUrl::new(format!("{}/api/auth", s.origin)).unwrap();
    let provider = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        provider,
        ClientId::new(registered["client_id"].as_str().unwrap().into()),
        Some(ClientSecret::new(
            registered["client_secret"].as_str().unwrap().into(),
        )),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The browser follows it: consent once, then back with the code.
    let r = browser.request(browser.raw().get(url.as_str())).await;
    assert_eq!(r.status, 302, "{}", r.text);
    let consent = r.header("location").unwrap();
    assert!(consent.contains("/consent?"), "{consent}");
    let r = browser
        .post(
            "/oauth2/consent",
            json!({"accept": true, "oauth_query": consent.split_once('?').unwrap().1}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let back = url::Url::parse(r.json()["url"].as_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    assert_eq!(q["state"], *csrf.secret());
    assert_eq!(q["iss"], format!("{}/api/auth", s.origin));

    let tokens = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .expect("a token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the code is redeemed");
    let id_token = tokens.id_token().expect("an ID token");
    let id_verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&id_verifier, &nonce)
        .expect("the ID token verifies");
    assert_eq!(
        claims.subject().as_str(),
        signed_up["user"]["id"].as_str().unwrap()
    );
    let expected = claims.access_token_hash().expect("at_hash");
    let actual = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(&actual, expected);

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .expect("a userinfo endpoint")
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.email().map(|e| e.as_str()), Some(email.as_str()));
    assert_eq!(info.subject(), claims.subject());
}
