//! Resolved sessions in Redis (secondary storage), shared by every
//! instance: a session one instance read from the database is found by the
//! others in Redis, as Better Auth's `secondaryStorage` keeps sessions. The
//! database stays the record (listing, revoking by user, the admin's
//! views); a copy here lives `session.cache_ttl` seconds, the same window
//! as each instance's memory, and a revocation deletes it before the
//! revoking request answers (see `revocation`). A tombstone left by the
//! revocation keeps a request that read the database just before it from
//! writing its now stale copy back.

use chrono::{DateTime, NaiveDateTime};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Redis;
use crate::db::models::{SessionRow, UserRow};
use crate::state::AppState;

/// One resolved session, as stored.
#[derive(Serialize, Deserialize)]
pub struct SessionCopy {
    pub session: SessionRow,
    pub user: UserRow,
    pub user_fields: Map<String, Value>,
    pub session_fields: Map<String, Value>,
    /// When it was read from the database (Unix ms): it is trusted until
    /// `session.cache_ttl` after that, here and in each instance's memory.
    pub loaded_at_ms: i64,
}

impl SessionCopy {
    pub fn loaded_at(&self) -> Option<NaiveDateTime> {
        DateTime::from_timestamp_millis(self.loaded_at_ms).map(|d| d.naive_utc())
    }
}

fn session_key(r: &Redis, token_hash: &str) -> String {
    r.key(&format!("session:{token_hash}"))
}

fn user_key(r: &Redis, user_id: &str) -> String {
    r.key(&format!("user-sessions:{user_id}"))
}

/// `what` is a revocation message: `t:<token hash>` or `u:<user id>`.
fn tombstone_key(r: &Redis, what: &str) -> String {
    r.key(&format!("revoked:{what}"))
}

/// Whether sessions go to Redis: secondary storage is configured and
/// sessions are cached at all (the broadcast that deletes copies runs then).
pub fn enabled(state: &AppState) -> Option<&Redis> {
    (state.config.session.cache_ttl > 0)
        .then_some(state.redis.as_deref())
        .flatten()
}

/// The copy of the session whose token hashes to `token_hash`, if one is
/// stored. A Redis failure reads as "none": the database answers instead.
pub async fn get(state: &AppState, token_hash: &str) -> Option<SessionCopy> {
    let r = enabled(state)?;
    let text: Option<String> = match redis::cmd("GET")
        .arg(session_key(r, token_hash))
        .query_async(&mut r.conn())
        .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "secondary storage: session read failed; reading the database");
            return None;
        }
    };
    serde_json::from_str(&text?).ok()
}

/// Stores `copy` for `session.cache_ttl` seconds, unless the session or
/// its user was revoked since (a tombstone is there). Best effort.
pub async fn put(state: &AppState, token_hash: &str, copy: &SessionCopy) {
    let Some(r) = enabled(state) else { return };
    let Ok(text) = serde_json::to_string(copy) else {
        return;
    };
    const PUT: &str = "if redis.call('EXISTS', KEYS[3]) == 1 or redis.call('EXISTS', KEYS[4]) == 1 then return 0 end \
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) \
        redis.call('SADD', KEYS[2], ARGV[3]) \
        redis.call('PEXPIRE', KEYS[2], ARGV[2]) \
        return 1";
    let ttl_ms = state.config.session.cache_ttl * 1000;
    let outcome = redis::cmd("EVAL")
        .arg(PUT)
        .arg(4)
        .arg(session_key(r, token_hash))
        .arg(user_key(r, &copy.user.id))
        .arg(tombstone_key(r, &format!("t:{token_hash}")))
        .arg(tombstone_key(r, &format!("u:{}", copy.user.id)))
        .arg(text)
        .arg(ttl_ms)
        .arg(token_hash)
        .query_async::<i64>(&mut r.conn())
        .await;
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "secondary storage: session write failed");
    }
}

/// Deletes the copies a revocation `message` names (`t:<token hash>`, or
/// every session of `u:<user id>`), leaves its tombstone, and publishes it
/// on `channel`: one script, so no instance hears of a revocation whose
/// copies are still there.
pub async fn revoke_and_publish(
    r: &Redis,
    message: &str,
    cache_ttl_secs: i64,
) -> Result<(), String> {
    const TOKEN: &str = "redis.call('DEL', KEYS[1]) \
        redis.call('SET', KEYS[2], '1', 'PX', ARGV[1]) \
        return redis.call('PUBLISH', KEYS[3], ARGV[2])";
    const USER: &str = "for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do \
            redis.call('DEL', ARGV[3] .. h) \
        end \
        redis.call('DEL', KEYS[1]) \
        redis.call('SET', KEYS[2], '1', 'PX', ARGV[1]) \
        return redis.call('PUBLISH', KEYS[3], ARGV[2])";
    // Longer than any read-then-write of a copy can take.
    let tombstone_ms = (cache_ttl_secs.max(10)) * 1000;
    let (script, first_key) = match message.split_once(':') {
        Some(("u", user)) => (USER, user_key(r, user)),
        Some((_, token)) => (TOKEN, session_key(r, token)),
        None => (TOKEN, session_key(r, message)),
    };
    redis::cmd("EVAL")
        .arg(script)
        .arg(3)
        .arg(first_key)
        .arg(tombstone_key(r, message))
        .arg(r.key("revocations"))
        .arg(tombstone_ms)
        .arg(message)
        .arg(r.key("session:"))
        .query_async::<i64>(&mut r.conn())
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
