//! What several instances behind one load balancer share beyond the
//! database: Redis as secondary storage (`[secondary_storage]`), and the
//! revocation broadcast that makes a revoked session stop working on every
//! instance at once, through Redis pub/sub or PostgreSQL's LISTEN/NOTIFY,
//! resolved sessions shared by the instances (`sessions`), and where
//! one-time values live (`verification`).
//! (Rate-limit counters in Redis or the database are in `http::rate_limit`.)

pub mod revocation;
pub mod sessions;
pub mod verification;

use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::config::SecondaryStorageConfig;

/// A connection to the shared Redis, with the deployment's key prefix.
pub struct Redis {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
}

impl Redis {
    /// Connects (failing the start if Redis cannot be reached: an instance
    /// that silently kept its counters to itself would undo the point).
    pub async fn connect(cfg: &SecondaryStorageConfig) -> Result<Option<Redis>, String> {
        let Some(url) = &cfg.url else {
            return Ok(None);
        };
        let shown = crate::config::redact_url(url);
        let client = redis::Client::open(url.as_str()).map_err(|e| format!("{shown}: {e}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2);
        let conn = tokio::time::timeout(
            Duration::from_secs(10),
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        .map_err(|_| format!("{shown}: timed out connecting"))?
        .map_err(|e| format!("{shown}: {e}"))?;
        let redis = Redis {
            client,
            conn,
            prefix: cfg.prefix().to_string(),
        };
        redis.ping().await.map_err(|e| format!("{shown}: {e}"))?;
        Ok(Some(redis))
    }

    /// `name` under the deployment's prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A handle for commands (multiplexed: clones share one connection).
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    pub async fn ping(&self) -> Result<(), String> {
        let mut conn = self.conn();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
