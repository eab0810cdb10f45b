//! Rate limiting, keyed by client address and canonical path. Rules: the
//! default window, Better Auth's stricter built-ins, then plugin rules,
//! then the operator's; the most specific source wins.
//!
//! Counters live in this process (governor's GCRA, the default) or, for
//! several instances behind one load balancer, where every instance counts
//! together (`[rate_limit] storage`): Redis (`SET NX PX` + `INCR` + `PTTL`
//! in one `MULTI`, so a window's key always expires: Better Auth's Redis
//! counters had no TTL, issue #4472) or the database (one upsert). Shared
//! counters are fixed windows, claimed in leases: an instance takes
//! `max / 16` requests (at least 1) of a window's budget at a time and
//! spends them locally, and once the store says the budget is gone it
//! refuses locally until the window ends. Leases never admit more than
//! `max` in a window across instances (a budget left in another
//! instance's lease is simply not used), and a strict limit (`max` < 32,
//! e.g. Better Auth's 3 sign-ins per 10 s) goes to the store on every
//! request. When the shared store fails, the request is counted in this
//! process instead: limits stay on, per instance.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::db::Db;
use crate::shared::Redis;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter as Governor};

/// A rule as declared by config or a plugin.
#[derive(Debug, Clone)]
pub struct RateLimitRule {
    /// Path under the base path; a trailing `*` makes it a prefix.
    pub path: String,
    pub window_secs: u64,
    pub max: u32,
}

impl RateLimitRule {
    pub fn new(path: &str, window_secs: u64, max: u32) -> Self {
        RateLimitRule {
            path: path.to_string(),
            window_secs,
            max,
        }
    }

    fn matches(&self, path: &str) -> bool {
        match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == self.path,
        }
    }
}

/// Better Auth's stricter built-in rules for credential endpoints.
pub fn builtin_rules() -> Vec<RateLimitRule> {
    vec![
        RateLimitRule::new("/sign-in*", 10, 3),
        RateLimitRule::new("/sign-up*", 10, 3),
        RateLimitRule::new("/change-password*", 10, 3),
        RateLimitRule::new("/change-email*", 10, 3),
        RateLimitRule::new("/request-password-reset", 60, 3),
        RateLimitRule::new("/send-verification-email", 60, 3),
        RateLimitRule::new("/forget-password*", 60, 3),
    ]
}

struct Limiter {
    rule: RateLimitRule,
    governor: DefaultKeyedRateLimiter<String>,
}

impl Limiter {
    fn new(rule: RateLimitRule) -> Self {
        let max = NonZeroU32::new(rule.max.max(1)).expect("max >= 1");
        let period = Duration::from_secs(rule.window_secs.max(1)) / max.get();
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(max))
            .allow_burst(max);
        Limiter {
            rule,
            governor: Governor::keyed(quota),
        }
    }
}

/// Outcome of a check: allowed, or rejected with seconds to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Reject { retry_after_secs: u64 },
}

/// Where counters are kept.
pub enum CounterStore {
    Memory,
    Database(Db),
    Redis(Arc<Redis>),
}

/// Part of a window's shared budget held by this instance.
struct Lease {
    until_ms: i64,
    remaining: u32,
    /// The store said the window's budget is spent.
    exhausted: bool,
}

/// How much of a window's budget an instance claims at a time.
fn lease_size(max: u32) -> u32 {
    (max / 16).clamp(1, 1_000_000)
}

pub struct RateLimiter {
    enabled: bool,
    leases: std::sync::Mutex<std::collections::HashMap<String, Lease>>,
    default: Limiter,
    /// Ordered lowest to highest precedence; the last match wins.
    rules: Vec<Limiter>,
    checks: AtomicU64,
    store: CounterStore,
}

impl RateLimiter {
    pub fn new(enabled: bool, default: RateLimitRule, rules: Vec<RateLimitRule>) -> Self {
        Self::with_store(enabled, default, rules, CounterStore::Memory)
    }

    pub fn with_store(
        enabled: bool,
        default: RateLimitRule,
        rules: Vec<RateLimitRule>,
        store: CounterStore,
    ) -> Self {
        RateLimiter {
            enabled,
            default: Limiter::new(default),
            rules: rules.into_iter().map(Limiter::new).collect(),
            checks: AtomicU64::new(0),
            leases: Default::default(),
            store,
        }
    }

    /// Checks one request, counting it where the configured store keeps
    /// counters.
    pub async fn check_shared(&self, client: &str, path: &str) -> Decision {
        if !self.enabled {
            return Decision::Allow;
        }
        let limiter = self.limiter_for(path);
        let key = format!("{client}|{path}");
        let window_ms = limiter.rule.window_secs.max(1) * 1000;
        if let CounterStore::Memory = &self.store {
            return self.count(self.check(client, path));
        }
        let max = limiter.rule.max;
        let now = now_ms() as i64;
        if let Some(d) = self.spend_lease(&key, now) {
            return self.count(d);
        }
        let chunk = lease_size(max);
        let claimed = match &self.store {
            CounterStore::Memory => unreachable!("handled above"),
            CounterStore::Redis(r) => redis_claim(r, &key, window_ms, chunk).await,
            CounterStore::Database(db) => {
                if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
                    let db = db.clone();
                    let horizon = self.longest_window_ms();
                    tokio::spawn(async move {
                        if let Err(e) = sweep(&db, horizon).await {
                            tracing::warn!(error = %e, "sweeping rate-limit counters failed");
                        }
                    });
                }
                db_claim(db, &key, window_ms, chunk).await
            }
        };
        match claimed {
            Ok((count, left_ms)) => {
                let before = count.saturating_sub(u64::from(chunk));
                let granted = u64::from(max).saturating_sub(before).min(u64::from(chunk)) as u32;
                let lease = Lease {
                    until_ms: now + left_ms as i64,
                    remaining: granted.saturating_sub(1),
                    exhausted: granted == 0,
                };
                self.keep_lease(key, lease, now);
                if granted == 0 {
                    self.count(Decision::Reject {
                        retry_after_secs: left_ms.div_ceil(1000).max(1),
                    })
                } else {
                    Decision::Allow
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the shared rate-limit store failed: counting in this process");
                self.count(self.check(client, path))
            }
        }
    }

    /// Spends from this instance's lease on `key`, when it has one for the
    /// current window; `None` to ask the store.
    fn spend_lease(&self, key: &str, now: i64) -> Option<Decision> {
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        let lease = leases.get_mut(key).filter(|l| l.until_ms > now)?;
        if lease.remaining > 0 {
            lease.remaining -= 1;
            return Some(Decision::Allow);
        }
        lease.exhausted.then(|| Decision::Reject {
            retry_after_secs: ((lease.until_ms - now) as u64).div_ceil(1000).max(1),
        })
    }

    fn keep_lease(&self, key: String, lease: Lease, now: i64) {
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        if leases.len() >= 100_000 {
            leases.retain(|_, l| l.until_ms > now);
            if leases.len() >= 100_000 {
                leases.clear();
            }
        }
        leases.insert(key, lease);
    }

    fn count(&self, d: Decision) -> Decision {
        if d != Decision::Allow {
            crate::http::metrics::global().rate_limited.inc();
        }
        d
    }

    fn limiter_for(&self, path: &str) -> &Limiter {
        self.rules
            .iter()
            .rev()
            .find(|l| l.rule.matches(path))
            .unwrap_or(&self.default)
    }

    fn longest_window_ms(&self) -> u64 {
        std::iter::once(&self.default)
            .chain(self.rules.iter())
            .map(|l| l.rule.window_secs.max(1) * 1000)
            .max()
            .unwrap_or(60_000)
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Checks one request from `client` (an address key) to canonical `path`.
    pub fn check(&self, client: &str, path: &str) -> Decision {
        if !self.enabled {
            return Decision::Allow;
        }
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.prune();
        }
        let limiter = self.limiter_for(path);
        let key = format!("{client}|{path}");
        match limiter.governor.check_key(&key) {
            Ok(()) => Decision::Allow,
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Decision::Reject {
                    retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
                }
            }
        }
    }

    /// Drops keys whose buckets are full again, bounding memory.
    fn prune(&self) {
        for l in std::iter::once(&self.default).chain(self.rules.iter()) {
            l.governor.retain_recent();
            l.governor.shrink_to_fit();
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Claims `chunk` of a window's budget in Redis: the window's key is
/// created with its expiry (`SET NX PX`), then incremented, in one
/// transaction. Returns the count after the claim and the milliseconds
/// left in the window.
async fn redis_claim(
    r: &Redis,
    key: &str,
    window_ms: u64,
    chunk: u32,
) -> Result<(u64, u64), String> {
    let k = r.key(&format!("rl:{key}"));
    let mut conn = r.conn();
    let (count, pttl): (u64, i64) = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(&k)
        .arg(0)
        .arg("PX")
        .arg(window_ms)
        .arg("NX")
        .ignore()
        .cmd("INCRBY")
        .arg(&k)
        .arg(chunk)
        .cmd("PTTL")
        .arg(&k)
        .query_async(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok((count, pttl.max(0) as u64))
}

#[derive(diesel::QueryableByName)]
struct Counted {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    count: i32,
    #[diesel(sql_type = diesel::sql_types::BigInt, column_name = "lastRequest")]
    window_start: i64,
}

/// One upsert: a new window starts at the claim, a current one counts up.
const COUNT_SQL: &str = r#"INSERT INTO "rateLimit" ("id", "key", "count", "lastRequest")
VALUES ($1, $2, $5, $3)
ON CONFLICT ("key") DO UPDATE SET
  "count" = CASE WHEN "rateLimit"."lastRequest" <= $4 THEN $5 ELSE "rateLimit"."count" + $5 END,
  "lastRequest" = CASE WHEN "rateLimit"."lastRequest" <= $4 THEN $3 ELSE "rateLimit"."lastRequest" END
RETURNING "count", "lastRequest""#;

/// Claims `chunk` of a window's budget in the database's `rateLimit` table.
async fn db_claim(db: &Db, key: &str, window_ms: u64, chunk: u32) -> Result<(u64, u64), String> {
    use diesel::sql_types::{BigInt, Integer, Text};
    use diesel_async::RunQueryDsl;
    let now = now_ms() as i64;
    let cutoff = now - window_ms as i64;
    let id = crate::crypto::token::new_id();
    let row: Counted = match db {
        Db::Postgres(pool) => {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            diesel::sql_query(COUNT_SQL)
                .bind::<Text, _>(&id)
                .bind::<Text, _>(key)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(cutoff)
                .bind::<Integer, _>(chunk as i32)
                .get_result(&mut *conn)
                .await
                .map_err(|e| e.to_string())?
        }
        Db::Sqlite(pool) => {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            // SQLite numbers its parameters `?N`.
            diesel::sql_query(COUNT_SQL.replace('$', "?"))
                .bind::<Text, _>(&id)
                .bind::<Text, _>(key)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(cutoff)
                .bind::<Integer, _>(chunk as i32)
                .get_result(&mut *conn)
                .await
                .map_err(|e| e.to_string())?
        }
    };
    let left = (row.window_start + window_ms as i64 - now).max(0) as u64;
    Ok((row.count.max(0) as u64, left))
}

/// Deletes counters whose window ended (older than the longest window).
async fn sweep(db: &Db, horizon_ms: u64) -> Result<(), crate::db::StorageError> {
    let before = now_ms() as i64 - horizon_ms as i64;
    db.batch_execute(&format!(
        r#"DELETE FROM "rateLimit" WHERE "lastRequest" < {before}"#
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stricter_rule_applies_and_keys_are_separate() {
        let rl = RateLimiter::new(true, RateLimitRule::new("*", 60, 100), builtin_rules());
        for _ in 0..3 {
            assert_eq!(rl.check("1.2.3.4", "/sign-in/email"), Decision::Allow);
        }
        assert!(
            matches!(rl.check("1.2.3.4", "/sign-in/email"), Decision::Reject { retry_after_secs } if retry_after_secs >= 1)
        );
        assert_eq!(rl.check("5.6.7.8", "/sign-in/email"), Decision::Allow);
        assert_eq!(rl.check("1.2.3.4", "/get-session"), Decision::Allow);
    }

    #[test]
    fn later_rules_win() {
        let mut rules = builtin_rules();
        rules.push(RateLimitRule::new("/sign-in/email", 60, 1));
        let rl = RateLimiter::new(true, RateLimitRule::new("*", 60, 100), rules);
        assert_eq!(rl.check("a", "/sign-in/email"), Decision::Allow);
        assert!(matches!(
            rl.check("a", "/sign-in/email"),
            Decision::Reject { .. }
        ));
    }
}
