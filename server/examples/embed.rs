//! Embedding Gatehouse in an application's own poem server.
//!
//! An app's `Cargo.toml` needs (versions as in this workspace):
//!
//! ```toml
//! [dependencies]
//! gatehouse-server = { path = "../gatehouse/server" } # this repository's server crate
//! poem = { version = "3.1", features = ["cookie"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread", "net", "signal"] }
//! serde_json = "1"
//! anyhow = "1"
//! ```
//!
//! `cargo run --example embed` (it listens on `GATEHOUSE_LISTEN`, default
//! 127.0.0.1:3001), then:
//!   curl -c jar -H 'content-type: application/json' \
//!     -d '{"name":"A","email":"a@example.com","password":"password123"}' \
//!     http://127.0.0.1:3001/api/auth/sign-up/email
//!   curl -b jar http://127.0.0.1:3001/me        # the app's own protected route

use gatehouse_server::config::{Config, ProcessEnv};
use gatehouse_server::core::auth::SignUpEmailCore;
use gatehouse_server::core::dto::WithPluginFields;
use gatehouse_server::extract::{CurrentSession, SessionMiddleware};
use gatehouse_server::http::server::{serve, Limits};
use gatehouse_server::Gatehouse;
use poem::web::Json;
use poem::{get, handler, EndpointExt, Route};

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
    if std::env::var("GATEHOUSE_LISTEN").is_err() {
        config.listen = "127.0.0.1:3001".parse()?;
    }
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
        .sign_up_email(WithPluginFields::new(SignUpEmailCore {
            name: "Seed".into(),
            email: "seed@example.com".into(),
            password: "seed-password-1".into(),
            image: None,
            callback_url: None,
            remember_me: None,
        }))
        .await;
    tracing::info!(created = seeded.is_ok(), "seed user");

    // Gatehouse's server loop brings its connection limits (`[server]`);
    // `poem::Server::new(TcpListener::bind(..)).run(app)` works too, without them.
    let listener = tokio::net::TcpListener::bind(gatehouse.state().config.listen).await?;
    let limits = Limits::from_config(&gatehouse.state().config.server);
    serve(listener, app, limits, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
