//! The revocation broadcast. Each instance keeps recently resolved sessions
//! in memory for `session.cache_ttl` seconds (`core::session::SessionCache`);
//! a sign-out, revocation, ban, password change or deletion on one instance
//! must reach that memory on every other one. Every invalidation is
//! published (`t:<token key>` or `u:<user id>`) on Redis pub/sub when
//! secondary storage is configured, else on PostgreSQL's NOTIFY; every
//! instance listens and forgets what it is told. The request that revoked
//! answers only once the message is out (see [`Publisher::flushed`]), and a
//! listener that lost its connection starts over with an empty cache, since
//! it may have missed messages. SQLite deployments are one host, usually
//! one process: there is nothing to broadcast to.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};

use super::Redis;
use crate::db::Db;
use crate::state::AppState;

/// PostgreSQL's channel (Redis' is `<key_prefix>revocations`).
const PG_CHANNEL: &str = "gatehouse_revocations";
/// How long a revoking request waits for its message to go out before
/// answering anyway (the broker is down: the other instances' caches then
/// expire within `session.cache_ttl`).
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// One invalidation, as published.
pub enum Revoked<'a> {
    /// A cache key: a session token's hash, or a plugin's key.
    Token(&'a str),
    User(&'a str),
}

impl Revoked<'_> {
    fn encode(&self) -> String {
        match self {
            Revoked::Token(t) => format!("t:{t}"),
            Revoked::User(u) => format!("u:{u}"),
        }
    }
}

/// The sending side, held by the session cache.
pub struct Publisher {
    tx: mpsc::UnboundedSender<(u64, String)>,
    queued: AtomicU64,
    published: watch::Receiver<u64>,
}

impl Publisher {
    pub fn send(&self, what: Revoked<'_>) {
        let seq = self.queued.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = self.tx.send((seq, what.encode()));
    }

    /// Resolves once everything queued so far is published (or after
    /// [`FLUSH_WAIT`]). Cheap when nothing is pending.
    pub async fn flushed(&self) {
        let target = self.queued.load(Ordering::SeqCst);
        if *self.published.borrow() >= target {
            return;
        }
        let mut rx = self.published.clone();
        let _ = tokio::time::timeout(FLUSH_WAIT, rx.wait_for(|done| *done >= target)).await;
    }
}

enum Channel {
    Redis(Arc<Redis>),
    Postgres { url: String },
}

/// Starts the broadcast for `state` when there is a channel to use, and
/// installs its publisher in the session cache.
pub fn start(state: &Arc<AppState>) {
    let channel = match (&state.redis, &state.db) {
        (Some(r), _) => Channel::Redis(r.clone()),
        (None, Db::Postgres(_)) => Channel::Postgres {
            url: state.config.database_url.clone(),
        },
        (None, Db::Sqlite(_)) => return,
    };
    if state.config.session.cache_ttl <= 0 {
        // Nothing is cached, so nothing can outlive a revocation.
        return;
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let (done_tx, done_rx) = watch::channel(0u64);
    let publisher = Publisher {
        tx,
        queued: AtomicU64::new(0),
        published: done_rx,
    };
    if state.sessions.set_publisher(publisher).is_err() {
        return;
    }
    let channel = Arc::new(channel);
    tokio::spawn(publish_loop(
        Arc::downgrade(state),
        channel.clone(),
        rx,
        done_tx,
    ));
    tokio::spawn(listen_loop(Arc::downgrade(state), channel));
}

async fn publish_loop(
    state: Weak<AppState>,
    channel: Arc<Channel>,
    mut rx: mpsc::UnboundedReceiver<(u64, String)>,
    done: watch::Sender<u64>,
) {
    while let Some((seq, message)) = rx.recv().await {
        let Some(state) = state.upgrade() else { return };
        let outcome = match &*channel {
            // The sessions' copies in Redis go with the message.
            Channel::Redis(r) => {
                super::sessions::revoke_and_publish(r, &message, state.config.session.cache_ttl)
                    .await
            }
            Channel::Postgres { .. } => notify(&state.db, &message).await,
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "could not broadcast a session revocation; other instances forget it within session.cache_ttl");
        }
        done.send_replace(seq);
    }
}

async fn notify(db: &Db, message: &str) -> Result<(), String> {
    use diesel_async::RunQueryDsl;
    let Db::Postgres(pool) = db else {
        return Ok(());
    };
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<diesel::sql_types::Text, _>(PG_CHANNEL)
        .bind::<diesel::sql_types::Text, _>(message)
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn apply(state: &AppState, message: &str) {
    if let Some(token) = message.strip_prefix("t:") {
        state.sessions.forget_token(token);
    } else if let Some(user) = message.strip_prefix("u:") {
        state.sessions.forget_user(user);
    }
}

async fn listen_loop(state: Weak<AppState>, channel: Arc<Channel>) {
    let mut first = true;
    loop {
        if !first {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        first = false;
        let Some(strong) = state.upgrade() else {
            return;
        };
        // Messages may have been missed while not listening.
        strong.sessions.clear();
        drop(strong);
        let outcome = match &*channel {
            Channel::Redis(r) => listen_redis(&state, r).await,
            Channel::Postgres { url } => listen_postgres(&state, url).await,
        };
        match outcome {
            Ok(()) => return, // the server is gone
            Err(e) => {
                tracing::warn!(error = %e, "the revocation listener lost its connection; reconnecting")
            }
        }
    }
}

/// Now listening: whatever was cached or handed out before may have
/// missed a message while no one listened.
fn subscribed(state: &Weak<AppState>) {
    if let Some(state) = state.upgrade() {
        state.sessions.clear();
    }
}

async fn listen_redis(state: &Weak<AppState>, r: &Redis) -> Result<(), String> {
    let mut pubsub = r
        .client()
        .get_async_pubsub()
        .await
        .map_err(|e| e.to_string())?;
    pubsub
        .subscribe(r.key("revocations"))
        .await
        .map_err(|e| e.to_string())?;
    subscribed(state);
    let mut messages = pubsub.on_message();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), messages.next()).await {
            Err(_) => {
                if state.upgrade().is_none() {
                    return Ok(());
                }
            }
            Ok(None) => return Err("the subscription ended".into()),
            Ok(Some(msg)) => {
                let Some(state) = state.upgrade() else {
                    return Ok(());
                };
                if let Ok(text) = msg.get_payload::<String>() {
                    apply(&state, &text);
                }
            }
        }
    }
}

async fn listen_postgres(state: &Weak<AppState>, url: &str) -> Result<(), String> {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .map_err(|e| e.to_string())?;
    diesel::sql_query(format!("LISTEN {PG_CHANNEL}"))
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    subscribed(state);
    let mut notifications = std::pin::pin!(conn.notifications_stream());
    loop {
        // Checks now and then that the server still exists, so the task
        // (and its connection) end with it even when nothing is sent.
        match tokio::time::timeout(Duration::from_secs(5), notifications.next()).await {
            Err(_) => {
                if state.upgrade().is_none() {
                    return Ok(());
                }
            }
            Ok(None) => return Err("the notification stream ended".into()),
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(Some(Ok(n))) => {
                let Some(state) = state.upgrade() else {
                    return Ok(());
                };
                apply(&state, &n.payload);
            }
        }
    }
}
