//! Test harness: each test starts a real Gatehouse on 127.0.0.1:0 with its
//! own database (a SQLite temp file, or a fresh PostgreSQL schema) and a
//! manual clock, and talks to it over real HTTP.

pub mod providers;
pub mod smtp;
pub mod webhook;

use std::sync::Arc;

use gatehouse_server::config::Config;
use gatehouse_server::http::server::{serve, Limits};
use gatehouse_server::{Gatehouse, ManualClock};
use rand::Rng;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// Fixed so signed values are reproducible across runs.
pub const TEST_SECRET: &str = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// PostgreSQL from `GATEHOUSE_TEST_POSTGRES_URL`; `None` when unset.
    pub fn postgres() -> Option<Backend> {
        std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
            .ok()
            .filter(|s| !s.is_empty())
            .map(Backend::Postgres)
    }
}

/// Runs a scenario on SQLite, and on PostgreSQL when configured.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    match $crate::Backend::postgres() {
                        Some(backend) => super::$name(backend).await,
                        None => eprintln!("GATEHOUSE_TEST_POSTGRES_URL unset: PostgreSQL run skipped"),
                    }
                }
            }
        )*
    };
}

pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub origin: String,
    /// `http://127.0.0.1:PORT/api/auth`
    pub base: String,
    pub clock: Arc<ManualClock>,
    pub gatehouse: Arc<Gatehouse>,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A plain HTTP client builder (TLS through the ring provider, as the server's).
pub fn http_client() -> reqwest::ClientBuilder {
    gatehouse_server::http::outbound::install_crypto_provider();
    reqwest::Client::builder()
}

/// A cheap password hash so suites stay fast; the production cost is
/// exercised by unit tests and the bench.
pub fn test_config() -> Config {
    let mut c = Config {
        secret: Some(TEST_SECRET.into()),
        plugins: vec!["open-api".into(), "username".into(), "bearer".into()],
        database_pool_size: 8,
        ..Config::default()
    };
    c.rate_limit.enabled = false;
    c.password_hash.memory_kib = 4096;
    c.password_hash.iterations = 1;
    c
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_on(Self::reserve().await, backend, configure).await
    }

    /// A listener for a server started later with [`TestServer::start_on`]:
    /// its address is known first (to register callback URLs elsewhere).
    pub async fn reserve() -> tokio::net::TcpListener {
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind")
    }

    pub async fn start_on(
        listener: tokio::net::TcpListener,
        backend: Backend,
        configure: impl FnOnce(&mut Config),
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let addr = listener.local_addr().expect("tcp address");
        let origin = format!("http://{addr}");

        let mut config = test_config();
        config.listen = addr;
        config.base_url = Some(origin.clone());
        config.database_url = match &backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("test.db").display()),
            Backend::Postgres(url) => fresh_postgres_schema(url).await,
        };
        configure(&mut config);

        let clock = ManualClock::new(chrono::Utc::now());
        let gatehouse = Arc::new(
            Gatehouse::builder(config)
                .clock(clock.clone())
                .build()
                .await
                .expect("gatehouse starts"),
        );
        let app = gatehouse.app();
        // The server loop `gatehouse serve` runs, with its connection limits.
        let limits = Limits::from_config(&gatehouse.state().config.server);
        let server = tokio::spawn(async move {
            let _ = serve(listener, app, limits, std::future::pending()).await;
        });
        TestServer {
            base: format!("{origin}/api/auth"),
            origin,
            clock,
            gatehouse,
            server,
            _dir: dir,
        }
    }

    /// A client with its own cookie jar that sends this server's Origin.
    pub fn client(&self) -> Client {
        Client::new(self, true)
    }

    /// A client that sends no Origin header (curl, server-to-server).
    pub fn client_without_origin(&self) -> Client {
        Client::new(self, false)
    }

    pub fn db(&self) -> &gatehouse_server::db::Db {
        &self.gatehouse.state().db
    }
}

/// Creates a uniquely named schema and returns a URL whose connections use it.
async fn fresh_postgres_schema(url: &str) -> String {
    let schema = format!("t_{}", random_suffix(16).to_lowercase());
    let admin = gatehouse_server::db::Db::connect(url, 1)
        .await
        .expect("GATEHOUSE_TEST_POSTGRES_URL is set but PostgreSQL is unreachable");
    admin
        .batch_execute(&format!("CREATE SCHEMA \"{schema}\""))
        .await
        .expect("GATEHOUSE_TEST_POSTGRES_URL is set but PostgreSQL is unreachable");
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{schema}")
}

pub fn random_suffix(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
        .collect()
}

/// A unique email for one test user.
pub fn email() -> String {
    format!("user-{}@example.com", random_suffix(10).to_lowercase())
}

pub const PASSWORD: &str = "correct-horse-battery";

pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    /// The `code` of an error body.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_string()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    }

    /// The `Set-Cookie` line for a cookie name, if any.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(self.code(), code, "body: {}", self.text);
        assert!(
            self.json()["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "message missing: {}",
            self.text
        );
    }
}

/// An HTTP client with a cookie jar, as a browser would be.
pub struct Client {
    http: reqwest::Client,
    pub base: String,
    origin: Option<String>,
}

impl Client {
    fn new(server: &TestServer, send_origin: bool) -> Client {
        Client {
            http: http_client()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: server.base.clone(),
            origin: send_origin.then(|| server.origin.clone()),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Response {
        let mut req = req.build().expect("request builds");
        if let Some(o) = &self.origin {
            // A test's own Origin header wins over the client's default.
            if !req.headers().contains_key("origin") {
                req.headers_mut()
                    .insert("origin", o.parse().expect("origin header"));
            }
        }
        let resp = self.http.execute(req).await.expect("request");
        Response {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            text: resp.text().await.expect("body"),
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body))
            .await
    }

    /// A request with full control (headers, raw bodies).
    pub async fn request(&self, req: reqwest::RequestBuilder) -> Response {
        self.send(req).await
    }

    pub fn raw(&self) -> &reqwest::Client {
        &self.http
    }

    /// Signs up a fresh user; returns (email, response JSON).
    pub async fn sign_up(&self) -> (String, Value) {
        let email = email();
        let r = self
            .post(
                "/sign-up/email",
                serde_json::json!({"name": "Test User", "email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "sign-up failed: {}", r.text);
        (email, r.json())
    }
}

/// Adds plugin sections written as TOML (`[jwt]\n...`) to a test configuration.
pub fn add_sections(c: &mut Config, text: &str) {
    let parsed = Config::from_toml(text, &gatehouse_server::plugins::catalog())
        .unwrap_or_else(|e| panic!("test config: {e}"));
    c.plugin_sections.extend(parsed.plugin_sections);
}

impl TestServer {
    /// A server with `plugin` enabled and the plugin sections in `toml`.
    pub async fn with_plugin(backend: Backend, plugin: &str, toml: &str) -> TestServer {
        TestServer::start_with(backend, |c| {
            c.plugins.push(plugin.into());
            add_sections(c, toml);
        })
        .await
    }
}
