//! The Rust client's `organization()` and `admin()` namespaces, generated from
//! the spec alone, against a real server over HTTP.

use gatehouse::{types, AuthClient, AuthError, ErrorCode, Plugin};
use gatehouse_tests::{email, Backend, TestServer, PASSWORD};

const ADMIN_PASSWORD: &str = "sdk-admin-password-1";

async fn server(admin_email: &str) -> TestServer {
    let section = format!(
        "[admin]\nbootstrap_email = \"{admin_email}\"\nbootstrap_password = \"{ADMIN_PASSWORD}\"\n"
    );
    TestServer::start_with(Backend::Sqlite, |c| {
        c.plugins.extend(["organization".into(), "admin".into()]);
        let parsed = gatehouse_server::config::Config::from_toml(
            &section,
            &gatehouse_server::plugins::catalog(),
        )
        .expect("admin section");
        c.plugin_sections.extend(parsed.plugin_sections);
    })
    .await
}

async fn signed_in(origin: &str, mail: &str, password: &str, plugins: &[Plugin]) -> AuthClient {
    let mut builder = AuthClient::builder(origin);
    for p in plugins {
        builder = builder.plugin(*p);
    }
    let client = builder.build().await.unwrap();
    client
        .core()
        .sign_in_email(
            types::SignInEmailBody::builder()
                .email(mail)
                .password(password),
        )
        .await
        .unwrap();
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_and_admin_namespaces() {
    let admin_email = email();
    let s = server(&admin_email).await;

    let owner = AuthClient::builder(&s.origin)
        .plugin(Plugin::Organization)
        .build()
        .await
        .unwrap();
    let mail = email();
    owner
        .core()
        .sign_up_email(
            types::SignUpEmailBody::builder()
                .name("Owner")
                .email(&mail)
                .password(PASSWORD),
        )
        .await
        .unwrap();
    let slug = format!("sdk-{}", gatehouse_tests::random_suffix(8).to_lowercase());
    let org = owner
        .organization()
        .unwrap()
        .create(
            types::CreateOrganizationBody::builder()
                .name("SDK Org")
                .slug(slug.as_str()),
        )
        .await
        .unwrap();
    assert_eq!(org.slug, slug);
    let full = owner
        .organization()
        .unwrap()
        .get_full_organization(None, Some(org.id.clone()), None)
        .await
        .unwrap()
        .expect("the caller's organization");
    assert_eq!(full.members.len(), 1);
    assert_eq!(full.members[0].role, "owner");
    // A taken slug is a typed error with Better Auth's code.
    let taken = owner
        .organization()
        .unwrap()
        .create(
            types::CreateOrganizationBody::builder()
                .name("Again")
                .slug(slug.as_str()),
        )
        .await
        .unwrap_err();
    assert_eq!(
        taken.code().as_str(),
        "ORGANIZATION_ALREADY_EXISTS",
        "{taken:?}"
    );

    let admin = signed_in(&s.origin, &admin_email, ADMIN_PASSWORD, &[Plugin::Admin]).await;
    let listed = admin
        .admin()
        .unwrap()
        .list_users(
            Some("email".into()),
            None,
            Some(mail.clone()),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(listed.total, 1);
    assert_eq!(listed.users[0].email, mail);
    // The owner is not an admin: the route's typed 403.
    let plain = signed_in(&s.origin, &mail, PASSWORD, &[Plugin::Admin]).await;
    let denied = plain
        .admin()
        .unwrap()
        .list_users(None, None, None, None, None, None, None, None, None, None)
        .await
        .unwrap_err();
    assert_eq!(
        denied.code().as_str(),
        "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS",
        "{denied:?}"
    );

    // A client that registers `organization` against a server without it
    // fails at build time with a typed error, not a 404 later.
    let bare = TestServer::start(Backend::Sqlite).await;
    let err = AuthClient::builder(&bare.origin)
        .plugin(Plugin::Organization)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthError::PluginNotEnabled { ref plugin } if plugin == "organization"),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::PluginNotEnabled);
}
