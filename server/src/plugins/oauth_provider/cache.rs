//! Rows the protocol routes read on every request (clients, live access
//! tokens), kept for `session.cache_ttl` seconds, as sessions are. A change
//! made on this instance removes its entries at once; another instance
//! sees it within that window.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::NaiveDateTime;

use crate::state::AppState;

pub struct ReadCache<V> {
    entries: Mutex<HashMap<String, (V, NaiveDateTime)>>,
    /// Past this many entries the cache starts over.
    max: usize,
}

impl<V> std::fmt::Debug for ReadCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadCache")
    }
}

impl<V: Clone> ReadCache<V> {
    pub fn new(max: usize) -> Self {
        ReadCache {
            entries: Mutex::new(HashMap::new()),
            max,
        }
    }

    /// The cached value of `key`, else what `load` reads (cached when found).
    pub async fn get_or_load<E, F>(
        &self,
        state: &AppState,
        key: &str,
        load: F,
    ) -> Result<Option<V>, E>
    where
        F: std::future::Future<Output = Result<Option<V>, E>>,
    {
        let ttl = state.config.session.cache_ttl;
        let now = state.now();
        if ttl <= 0 {
            return load.await;
        }
        if let Some((v, at)) = self.lock().get(key) {
            if (now - *at).num_seconds() < ttl {
                return Ok(Some(v.clone()));
            }
        }
        let loaded = load.await?;
        if let Some(v) = &loaded {
            let mut map = self.lock();
            if map.len() >= self.max {
                map.clear();
            }
            map.insert(key.to_string(), (v.clone(), now));
        }
        Ok(loaded)
    }

    pub fn forget(&self, key: &str) {
        self.lock().remove(key);
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (V, NaiveDateTime)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
