//! Rate-limit counters in the database, shared by two limiters (two
//! instances) on one database: leases never admit more than the limit in a
//! window, and a strict limit is exact.

use gatehouse_server::http::rate_limit::{CounterStore, Decision, RateLimitRule, RateLimiter};
use gatehouse_tests::{on_both_backends, Backend, TestServer};

on_both_backends!(two_instances_share_one_budget);

fn instance(s: &TestServer) -> RateLimiter {
    RateLimiter::with_store(
        true,
        RateLimitRule::new("*", 60, 1_000),
        vec![
            RateLimitRule::new("/strict", 60, 3),
            RateLimitRule::new("/leased", 60, 64),
        ],
        CounterStore::Database(s.db().clone()),
    )
}

async fn two_instances_share_one_budget(b: Backend) {
    let s = TestServer::start(b).await;
    let (a, z) = (instance(&s), instance(&s));
    let client = format!("10.0.0.{}", rand::random::<u8>());

    // Strict: exactly 3 across both, then refused on both.
    let mut outcomes = Vec::new();
    for i in 0..5 {
        let l = if i % 2 == 0 { &a } else { &z };
        outcomes.push(l.check_shared(&client, "/strict").await == Decision::Allow);
    }
    assert_eq!(outcomes, [true, true, true, false, false]);

    // Leased (64 per window, claimed 4 at a time): alternating instances
    // never get more than 64 in all, and both end refused.
    let mut allowed = 0;
    for i in 0..200 {
        let l = if i % 2 == 0 { &a } else { &z };
        if l.check_shared(&client, "/leased").await == Decision::Allow {
            allowed += 1;
        }
    }
    assert!((56..=64).contains(&allowed), "{allowed} admitted of 64");
    assert!(matches!(
        a.check_shared(&client, "/leased").await,
        Decision::Reject { .. }
    ));
    assert!(matches!(
        z.check_shared(&client, "/leased").await,
        Decision::Reject { .. }
    ));
    // Another client has its own budget.
    assert_eq!(a.check_shared("10.9.9.9", "/strict").await, Decision::Allow);
}
