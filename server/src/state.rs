//! Shared application state and the clock.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDateTime, SubsecRound, Utc};

use crate::config::Config;
use crate::core::session::SessionCache;
use crate::crypto::password::PasswordHasher;
use crate::db::Db;
use crate::http::client_ip::ClientIpResolver;
use crate::http::cookies::CookieNames;
use crate::http::origin::TrustedOrigins;
use crate::http::rate_limit::RateLimiter;
use crate::plugin::PluginRegistry;

/// Time source. Tests and embedders can substitute a [`ManualClock`].
pub trait Clock: Send + Sync + 'static {
    fn now_utc(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_utc(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Arc<Self> {
        Arc::new(ManualClock(Mutex::new(start)))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now_utc(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct AppState {
    pub config: Config,
    /// The resolved signing secret (configured or generated for development).
    pub secret: String,
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub hasher: PasswordHasher,
    pub cookies: CookieNames,
    pub plugins: PluginRegistry,
    /// The sign-in providers (built-ins from `[social.*]`, plugins' others).
    pub social: crate::social::SocialRegistry,
    pub origins: TrustedOrigins,
    pub limiter: RateLimiter,
    /// Secondary storage shared by instances (`[secondary_storage]`).
    pub redis: Option<Arc<crate::shared::Redis>>,
    pub client_ip: ClientIpResolver,
    pub sessions: SessionCache,
    pub mailer: Arc<crate::mail::Mailer>,
}

impl AppState {
    /// Now, in UTC, truncated to milliseconds (what storage and JSON keep).
    pub fn now(&self) -> NaiveDateTime {
        self.clock.now_utc().naive_utc().trunc_subsecs(3)
    }

    /// A plugin's settings, as its `configure` hook parsed them at start-up
    /// (the type's defaults if that plugin is not enabled).
    pub fn settings<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        self.plugins.settings().get::<T>().unwrap_or_default()
    }
}
