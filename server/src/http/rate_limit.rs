//! Rate limiting with governor, keyed by client address and canonical path.
//! Rules: the default window, Better Auth's stricter built-ins, then plugin
//! rules, then the operator's; the most specific source wins.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

pub struct RateLimiter {
    enabled: bool,
    default: Limiter,
    /// Ordered lowest to highest precedence; the last match wins.
    rules: Vec<Limiter>,
    checks: AtomicU64,
}

impl RateLimiter {
    pub fn new(enabled: bool, default: RateLimitRule, rules: Vec<RateLimitRule>) -> Self {
        RateLimiter {
            enabled,
            default: Limiter::new(default),
            rules: rules.into_iter().map(Limiter::new).collect(),
            checks: AtomicU64::new(0),
        }
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
        let limiter = self
            .rules
            .iter()
            .rev()
            .find(|l| l.rule.matches(path))
            .unwrap_or(&self.default);
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
