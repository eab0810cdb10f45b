//! A passkey registration and a password-less sign-in, driven by the Rust
//! client against a real server with a software authenticator. The ceremony
//! state travels in the server's challenge cookie, which the client's jar
//! keeps between the options and the verification.

use gatehouse::{types, AuthClient, ErrorCode, Plugin};
use gatehouse_server::plugins::passkey::settings::PasskeySettings;
use gatehouse_tests::{email, Backend, TestServer, PASSWORD};
use serde_json::{json, Value};
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, RequestChallengeResponse, Url,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator;

/// The options as the authenticator's types want them: wrapped in
/// `publicKey`, with the members @simplewebauthn leaves out filled in.
fn creation_options(options: Value) -> CreationChallengeResponse {
    let mut wrapped = json!({ "publicKey": options });
    let selection = &mut wrapped["publicKey"]["authenticatorSelection"];
    if selection.is_object() {
        selection["requireResidentKey"] = json!(false);
        if selection.get("userVerification").is_none() {
            selection["userVerification"] = json!("preferred");
        }
    }
    serde_json::from_value(wrapped).expect("creation options parse")
}

fn request_options(options: Value, credential_id: &str) -> RequestChallengeResponse {
    let mut wrapped = json!({ "publicKey": options });
    let pk = wrapped["publicKey"].as_object_mut().unwrap();
    pk.entry("rpId").or_insert(json!("localhost"));
    pk.entry("userVerification").or_insert(json!("preferred"));
    // The authenticator is not discoverable: name the credential, as a
    // client that remembers it would.
    pk.insert(
        "allowCredentials".into(),
        json!([{ "type": "public-key", "id": credential_id }]),
    );
    serde_json::from_value(wrapped).expect("request options parse")
}

/// `verify-authentication` with the authenticator's assertion.
async fn sign_in(
    client: &AuthClient,
    assertion: &impl serde::Serialize,
) -> Result<types::SessionWithUser, gatehouse::AuthError> {
    let body = types::PasskeyVerifyAuthenticationBody::builder()
        .response(serde_json::to_value(assertion).unwrap());
    client.passkey()?.verify_authentication(body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_ceremonies_through_the_client() {
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        // WebAuthn needs a domain name: the client talks to localhost.
        let origin = format!("http://localhost:{}", c.listen.port());
        c.plugins.push("passkey".into());
        c.trusted_origins.push(origin.clone());
        c.set_plugin_settings(
            "passkey",
            &PasskeySettings {
                rp_id: Some("localhost".into()),
                origin: Some(origin),
                ..Default::default()
            },
        );
    })
    .await;
    let origin = server.origin.replace("127.0.0.1", "localhost");
    let client = AuthClient::builder(&origin)
        .plugin(Plugin::Passkey)
        .build()
        .await
        .unwrap();
    let addr = email();
    client
        .sign_up_email("Key Holder", &addr, PASSWORD)
        .await
        .unwrap();
    let passkeys = client.passkey().unwrap();
    let mut authenticator = SoftPasskey::new(true);
    let origin_url = Url::parse(&origin).unwrap();

    // Registration: options, the authenticator, then verification (the
    // challenge cookie from the first call must come back on the second).
    let options = passkeys
        .generate_register_options(None, Some("Laptop".into()))
        .await
        .unwrap();
    assert_eq!(options["rp"]["id"], "localhost");
    let credential = authenticator
        .do_registration(origin_url.clone(), creation_options(options))
        .expect("the authenticator registers");
    let registered = passkeys
        .verify_registration(
            types::PasskeyVerifyRegistrationBody::builder()
                .response(serde_json::to_value(&credential).unwrap())
                .name(Some("Laptop".into())),
        )
        .await
        .unwrap();
    assert_eq!(registered.name.as_deref(), Some("Laptop"));
    let listed = passkeys.list_user_passkeys().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].credential_id, registered.credential_id);

    // Sign-in without a password on a fresh client.
    let fresh = AuthClient::builder(&origin)
        .plugin(Plugin::Passkey)
        .build()
        .await
        .unwrap();
    assert!(fresh.get_session().await.unwrap().is_none());
    let options = fresh
        .passkey()
        .unwrap()
        .generate_authenticate_options()
        .await
        .unwrap();
    let assertion = authenticator
        .do_authentication(
            origin_url,
            request_options(options, &registered.credential_id),
        )
        .expect("the authenticator signs");
    let signed_in = sign_in(&fresh, &assertion).await.unwrap();
    assert_eq!(signed_in.user.email, addr);
    let session = fresh.get_session().await.unwrap().expect("signed in");
    assert_eq!(session.user.email, addr);
    assert_eq!(session.session.token, signed_in.session.token);

    // Without the ceremony cookie (a new client) the same answer is refused.
    let stranger = AuthClient::builder(&origin)
        .plugin(Plugin::Passkey)
        .build()
        .await
        .unwrap();
    let err = sign_in(&stranger, &assertion).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ChallengeNotFound);
}
