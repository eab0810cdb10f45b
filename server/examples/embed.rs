//! Embedding Gatehouse in an application's own poem server.
//!
//! `cargo run --example embed`, then:
//!   curl -c jar -H 'content-type: application/json' \
//!     -d '{"name":"A","email":"a@example.com","password":"password123"}' \
//!     http://127.0.0.1:3001/api/auth/sign-up/email
//!   curl -b jar http://127.0.0.1:3001/me        # the app's own protected route

use gatehouse_server::config::{Config, ProcessEnv};
use gatehouse_server::core::auth::SignUpEmailCore;
use gatehouse_server::core::dto::WithUserFields;
use gatehouse_server::extract::{CurrentSession, SessionMiddleware};
use gatehouse_server::Gatehouse;
use poem::listener::TcpListener;
use poem::web::Json;
use poem::{get, handler, EndpointExt, Route, Server};

/// Only reachable with a valid Gatehouse session (cookie, or bearer token
/// when that plugin is enabled).
#[handler]
async fn me(CurrentSession(session): CurrentSession) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "id": session.user.id, "email": session.user.email }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let mut config = Config::load(None, &ProcessEnv)?;
    config.listen = "127.0.0.1:3001".parse()?;
    if std::env::var("DATABASE_URL").is_err() {
        config.database_url = "sqlite://embed.db".into();
    }
    let gatehouse = Gatehouse::builder(config).build().await?;

    let app = Route::new().nest("/api/auth", gatehouse.endpoint()).at(
        "/me",
        get(me).with(SessionMiddleware::required(gatehouse.api())),
    );

    // Server-side calls bypass HTTP: e.g. seed a user at start-up.
    let seeded = gatehouse
        .api()
        .sign_up_email(WithUserFields::new(SignUpEmailCore {
            name: "Seed".into(),
            email: "seed@example.com".into(),
            password: "seed-password-1".into(),
            image: None,
            callback_url: None,
            remember_me: None,
        }))
        .await;
    tracing::info!(created = seeded.is_ok(), "seed user");

    Server::new(TcpListener::bind("127.0.0.1:3001"))
        .run(app)
        .await?;
    Ok(())
}
