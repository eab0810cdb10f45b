//! A short-lived in-process cache of what permission checks and
//! `get-full-organization` read on every request: memberships, an
//! organization's stored roles, and the organization with its members,
//! invitations and teams. Entries live at most `session.cache_ttl` seconds
//! (the session cache's window; 0 turns this off too), and every
//! organization write on this instance empties the cache at once (writes all
//! go through `common::audit`). A read that raced a write is not stored: the
//! write's generation bump tells it apart.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::access::Statements;
use super::dto::{InvitationDto, MemberWithUser, TeamWithCount};
use super::store::{MemberRow, OrgRow};
use crate::error::ApiError;
use crate::state::AppState;

/// An organization with everything `get-full-organization` returns.
#[derive(Debug)]
pub struct FullParts {
    pub org: OrgRow,
    /// Oldest first; members whose user is gone are left out.
    pub members: Vec<MemberWithUser>,
    /// With the role each invitation grants (for the creator-role filter).
    pub invitations: Vec<(Option<String>, InvitationDto)>,
    pub teams: Option<Vec<TeamWithCount>>,
}

/// Bounds memory: past this many entries a map starts over.
const CAPACITY: usize = 50_000;

struct Map<K, V> {
    entries: RwLock<HashMap<K, (Instant, V)>>,
}

impl<K, V> Default for Map<K, V> {
    fn default() -> Self {
        Map {
            entries: RwLock::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Map<K, V> {
    fn get(&self, key: &K, ttl: Duration) -> Option<V> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, key: K, value: V) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), value));
    }

    fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[derive(Default)]
pub struct OrgCache {
    generation: AtomicU64,
    members: Map<(String, String), Option<MemberRow>>,
    roles: Map<String, Arc<std::collections::BTreeMap<String, Statements>>>,
    full: Map<String, Arc<FullParts>>,
    /// Rendered `get-full-organization` bodies by (organization, members
    /// limit, which invitations the caller sees).
    rendered: Map<(String, usize, u8), bytes::Bytes>,
}

impl std::fmt::Debug for OrgCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgCache").finish_non_exhaustive()
    }
}

fn ttl(state: &AppState) -> Option<Duration> {
    let secs = state.config.session.cache_ttl;
    (secs > 0).then(|| Duration::from_secs(secs as u64))
}

impl OrgCache {
    /// Forgets everything (after any organization write).
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.members.clear();
        self.roles.clear();
        self.full.clear();
        self.rendered.clear();
    }

    async fn cached<K, V, F, Fut>(
        &self,
        state: &AppState,
        map: &Map<K, V>,
        key: K,
        load: F,
    ) -> Result<V, ApiError>
    where
        K: Eq + Hash,
        V: Clone,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, ApiError>>,
    {
        let Some(ttl) = ttl(state) else {
            return load().await;
        };
        if let Some(v) = map.get(&key, ttl) {
            return Ok(v);
        }
        let before = self.generation.load(Ordering::SeqCst);
        let value = load().await?;
        if self.generation.load(Ordering::SeqCst) == before {
            map.put(key, value.clone());
        }
        Ok(value)
    }

    pub async fn member<F, Fut>(
        &self,
        state: &AppState,
        org_id: &str,
        user_id: &str,
        load: F,
    ) -> Result<Option<MemberRow>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<MemberRow>, ApiError>>,
    {
        let key = (org_id.to_string(), user_id.to_string());
        self.cached(state, &self.members, key, load).await
    }

    pub async fn stored_roles<F, Fut>(
        &self,
        state: &AppState,
        org_id: &str,
        load: F,
    ) -> Result<Arc<std::collections::BTreeMap<String, Statements>>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Arc<std::collections::BTreeMap<String, Statements>>, ApiError>>,
    {
        self.cached(state, &self.roles, org_id.to_string(), load)
            .await
    }

    pub async fn rendered<F, Fut>(
        &self,
        state: &AppState,
        key: (String, usize, u8),
        render: F,
    ) -> Result<bytes::Bytes, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<bytes::Bytes, ApiError>>,
    {
        self.cached(state, &self.rendered, key, render).await
    }

    pub async fn full<F, Fut>(
        &self,
        state: &AppState,
        org_id: &str,
        load: F,
    ) -> Result<Arc<FullParts>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Arc<FullParts>, ApiError>>,
    {
        self.cached(state, &self.full, org_id.to_string(), load)
            .await
    }
}

/// A JSON response rendered once and served as bytes: its spec entry is
/// `T`'s (as `Json<T>` would give), its body the cached rendering.
pub struct RenderedJson<T> {
    body: bytes::Bytes,
    _schema: std::marker::PhantomData<fn() -> T>,
}

impl<T: poem_openapi::types::ToJSON> RenderedJson<T> {
    /// Renders `value` as `Json<value>` would.
    pub fn render(value: &T) -> bytes::Bytes {
        let json = value.to_json().unwrap_or(serde_json::Value::Null);
        serde_json::to_vec(&json).unwrap_or_default().into()
    }

    pub fn new(body: bytes::Bytes) -> Self {
        RenderedJson {
            body,
            _schema: std::marker::PhantomData,
        }
    }
}

impl<T: poem_openapi::types::Type> poem_openapi::payload::Payload for RenderedJson<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        T::register(registry);
    }
}

impl<T: Send> poem::IntoResponse for RenderedJson<T> {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(poem::Body::from_bytes(self.body))
    }
}

impl<T: poem_openapi::types::Type + Send> poem_openapi::ApiResponse for RenderedJson<T> {
    fn meta() -> poem_openapi::registry::MetaResponses {
        use poem_openapi::payload::Payload;
        poem_openapi::registry::MetaResponses {
            responses: vec![poem_openapi::registry::MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![poem_openapi::registry::MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        T::register(registry);
    }
}
