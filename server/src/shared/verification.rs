//! One-time values (email links, OTPs, second-factor challenges, social
//! sign-in states): in Redis when secondary storage is configured, as
//! Better Auth keeps them in its `secondaryStorage`, each key expiring with
//! its value; else in the `verification` table. Consuming is atomic either
//! way (`GETDEL`, or `DELETE ... RETURNING`), so a value is used once even
//! under concurrent requests on several instances.

use chrono::{DateTime, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::db::{store, StorageError};
use crate::state::AppState;

#[derive(Serialize, Deserialize)]
struct Stored {
    value: String,
    /// Unix milliseconds.
    expires_at: i64,
}

fn key(redis: &crate::shared::Redis, identifier: &str) -> String {
    redis.key(&format!("verification:{identifier}"))
}

fn redis_error(e: redis::RedisError) -> StorageError {
    StorageError::Secondary(e.to_string())
}

fn decode(text: Option<String>) -> Option<(String, NaiveDateTime)> {
    let stored: Stored = serde_json::from_str(&text?).ok()?;
    let at = DateTime::from_timestamp_millis(stored.expires_at)?.naive_utc();
    Some((stored.value, at))
}

/// Stores a one-time value under `identifier` (already hashed by the
/// caller where it is a secret), replacing any value stored there.
pub async fn create(
    state: &AppState,
    identifier: &str,
    value: &str,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    let Some(redis) = &state.redis else {
        return store::create_verification(&state.db, identifier, value, expires_at, now).await;
    };
    let text = serde_json::to_string(&Stored {
        value: value.to_string(),
        expires_at: expires_at.and_utc().timestamp_millis(),
    })
    .map_err(|e| StorageError::Secondary(e.to_string()))?;
    // Redis expires it on its own clock: at least a second, however the
    // server's clock was set (the reader still checks `expires_at`).
    let ttl_ms = (expires_at - now).num_milliseconds().max(1_000);
    redis::cmd("SET")
        .arg(key(redis, identifier))
        .arg(text)
        .arg("PX")
        .arg(ttl_ms)
        .query_async::<()>(&mut redis.conn())
        .await
        .map_err(redis_error)
}

/// Removes and returns the value (and its expiry): exactly one caller
/// gets it.
pub async fn consume(
    state: &AppState,
    identifier: &str,
) -> Result<Option<(String, NaiveDateTime)>, StorageError> {
    let Some(redis) = &state.redis else {
        return store::consume_verification(&state.db, identifier).await;
    };
    let text: Option<String> = redis::cmd("GETDEL")
        .arg(key(redis, identifier))
        .query_async(&mut redis.conn())
        .await
        .map_err(redis_error)?;
    Ok(decode(text))
}

/// Reads the value without consuming it.
pub async fn find(
    state: &AppState,
    identifier: &str,
) -> Result<Option<(String, NaiveDateTime)>, StorageError> {
    let Some(redis) = &state.redis else {
        return store::find_verification(&state.db, identifier).await;
    };
    let text: Option<String> = redis::cmd("GET")
        .arg(key(redis, identifier))
        .query_async(&mut redis.conn())
        .await
        .map_err(redis_error)?;
    Ok(decode(text))
}

/// Removes any value under `identifier`.
pub async fn delete(state: &AppState, identifier: &str) -> Result<(), StorageError> {
    let Some(redis) = &state.redis else {
        return store::delete_verification(&state.db, identifier).await;
    };
    redis::cmd("DEL")
        .arg(key(redis, identifier))
        .query_async::<()>(&mut redis.conn())
        .await
        .map_err(redis_error)
}
