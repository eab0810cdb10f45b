//! A real HTTP receiver on loopback for the server's signed outgoing POSTs
//! (the anonymous link webhook, the SMS relay), and an independent check of
//! their signature: `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use poem::http::HeaderMap;
use poem::web::Data;
use poem::{handler, EndpointExt, Route};
use sha2::Sha256;
use tokio::sync::Notify;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    /// Whether the request is signed with `secret` and at most five minutes old.
    pub fn signed_with(&self, secret: &str) -> Result<(), String> {
        signature_ok(
            secret,
            &self.header("x-gatehouse-timestamp"),
            &self.header("x-gatehouse-signature"),
            &self.body,
        )
    }
}

#[derive(Clone)]
struct Shared {
    received: Arc<Mutex<Vec<Received>>>,
    notify: Arc<Notify>,
    status: u16,
}

/// Accepts POSTs on `url`, answering `status`.
pub struct WebhookSink {
    pub url: String,
    shared: Shared,
}

#[handler]
async fn receive(headers: &HeaderMap, body: String, shared: Data<&Shared>) -> poem::Response {
    shared.received.lock().unwrap().push(Received {
        headers: headers.clone(),
        body,
    });
    shared.notify.notify_waiters();
    poem::Response::builder()
        .status(poem::http::StatusCode::from_u16(shared.status).unwrap())
        .finish()
}

impl WebhookSink {
    /// A receiver at `http://127.0.0.1:<port><path>`.
    pub async fn start(path: &str, status: u16) -> WebhookSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let shared = Shared {
            received: Arc::default(),
            notify: Arc::default(),
            status,
        };
        let app = Route::new()
            .at(path, poem::post(receive))
            .data(shared.clone());
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
        tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        WebhookSink {
            url: format!("http://{addr}{path}"),
            shared,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits up to ten seconds until `pred` finds what it looks for in the
    /// requests so far (deliveries may run in the background).
    pub async fn wait_for<T>(&self, what: &str, pred: impl Fn(&[Received]) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.shared.notify.notified();
            if let Some(r) = pred(&self.received()) {
                return r;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("no {what} within 10 s; received: {:?}", self.received());
            }
        }
    }
}

/// Checks `header` = `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
/// with a timestamp within five minutes of real time.
pub fn signature_ok(secret: &str, timestamp: &str, header: &str, body: &str) -> Result<(), String> {
    let ts: u64 = timestamp
        .parse()
        .map_err(|_| format!("timestamp {timestamp:?}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now.abs_diff(ts) > 300 {
        return Err(format!("stale timestamp {ts}"));
    }
    let given = header.strip_prefix("sha256=").ok_or("no sha256= prefix")?;
    let given = hex::decode(given).map_err(|_| "not hex")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    mac.verify_slice(&given)
        .map_err(|_| "signature mismatch".to_string())
}
