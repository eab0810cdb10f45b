//! Session lifecycle shared by routes, plugins, the server-side API and the
//! poem extractor: create, resolve (with sliding refresh), require, freshness.

use std::collections::HashMap;
use std::sync::RwLock;

use chrono::{Duration, NaiveDateTime};
use serde_json::{Map, Value};

use crate::core::dto::{SessionDto, User, UserCore, WithPluginFields};
use crate::crypto::{sign, token};
use crate::db::models::{SessionRow, UserRow};
use crate::db::store;
use crate::error::{codes, ApiError};
use crate::http::context::{CreatedSession, RequestContext};
use crate::state::AppState;

/// A valid session and its user.
#[derive(Debug, Clone)]
pub struct AuthSession {
    pub session: SessionRow,
    pub user: UserRow,
    /// The fields enabled plugins add to the user (`UserFields`).
    pub user_fields: Map<String, Value>,
    /// The fields enabled plugins add to the session (`SessionFields`).
    pub session_fields: Map<String, Value>,
    /// The raw token of this session (the secret that names it).
    pub token: String,
}

impl AuthSession {
    /// The wire user, without another database round trip.
    pub fn user_json(&self) -> User {
        let mut out = WithPluginFields::new(UserCore::from(&self.user));
        out.extra = self.user_fields.clone();
        out
    }

    /// The wire session, carrying its own token.
    pub fn session_json(&self) -> SessionDto {
        SessionDto::from_row(&self.session, self.token.clone()).with_fields(&self.session_fields)
    }
}

#[derive(Clone)]
struct Cached {
    session: SessionRow,
    user: UserRow,
    user_fields: Map<String, Value>,
    session_fields: Map<String, Value>,
    loaded_at: NaiveDateTime,
}

/// A short-lived in-process cache of resolved sessions, keyed by token hash,
/// so `get-session` (the hottest route) usually needs no database round trip.
/// Every local write that affects a user's sessions or profile invalidates
/// it; other instances see such writes after at most the TTL (Better Auth's
/// session cookie cache makes the same trade with a 5-minute window).
pub struct SessionCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, Cached>>,
    /// When each token key or user was last invalidated, and the horizon
    /// before which nothing is trusted (start, listener reconnect): what
    /// the session cookie cache checks a copy's age against.
    invalidated: RwLock<Invalidations>,
    clock: std::sync::Arc<dyn crate::state::Clock>,
    /// Set when there are other instances to tell (`shared::revocation`).
    publisher: std::sync::OnceLock<crate::shared::revocation::Publisher>,
}

/// Bounds memory: past this many entries the cache starts over.
const SESSION_CACHE_CAPACITY: usize = 100_000;

#[derive(Default)]
struct Invalidations {
    /// `t:<token key>` or `u:<user id>` -> Unix ms.
    at: HashMap<String, i64>,
    horizon_ms: i64,
}

/// Invalidation times are kept this long: longer than any cookie-cache copy lives.
const INVALIDATION_MEMORY_MS: i64 = 24 * 3600 * 1000;

impl SessionCache {
    pub fn new(ttl_secs: i64, clock: std::sync::Arc<dyn crate::state::Clock>) -> Self {
        let now_ms = clock.now_utc().timestamp_millis();
        SessionCache {
            ttl: Duration::seconds(ttl_secs.max(0)),
            entries: RwLock::new(HashMap::new()),
            invalidated: RwLock::new(Invalidations {
                at: HashMap::new(),
                horizon_ms: now_ms,
            }),
            clock,
            publisher: std::sync::OnceLock::new(),
        }
    }

    fn get(&self, token_hash: &str, now: NaiveDateTime) -> Option<Cached> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(token_hash)
            .filter(|c| self.is_fresh(c.loaded_at, now))
            .cloned()
    }

    /// Whether a session read from the database at `loaded_at` may still
    /// be used without reading it again (here, or a copy in Redis).
    fn is_fresh(&self, loaded_at: NaiveDateTime, now: NaiveDateTime) -> bool {
        loaded_at <= now && now - loaded_at < self.ttl
    }

    fn put(&self, token_hash: String, entry: Cached) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= SESSION_CACHE_CAPACITY {
            entries.clear();
        }
        entries.insert(token_hash, entry);
    }

    /// A session a plugin's authenticator built (an API key's synthetic
    /// session), cached under the plugin's own `key` with the same TTL and
    /// the same invalidation: [`Self::invalidate_token`] with that key, and
    /// [`Self::invalidate_user`] for the user's bans, profile changes and
    /// deletion.
    pub fn get_authenticated(
        &self,
        key: &str,
        token: &str,
        now: NaiveDateTime,
    ) -> Option<AuthSession> {
        let c = self.get(key, now)?;
        (c.session.expires_at > now).then(|| AuthSession {
            session: c.session,
            user: c.user,
            user_fields: c.user_fields,
            session_fields: c.session_fields,
            token: token.to_string(),
        })
    }

    /// Caches `session` under `key` (see [`Self::get_authenticated`]).
    pub fn put_authenticated(&self, key: String, session: &AuthSession, now: NaiveDateTime) {
        self.put(
            key,
            Cached {
                session: session.session.clone(),
                user: session.user.clone(),
                user_fields: session.user_fields.clone(),
                session_fields: session.session_fields.clone(),
                loaded_at: now,
            },
        );
    }

    /// Forgets one session, here and on every other instance.
    pub fn invalidate_token(&self, token_hash: &str) {
        self.forget_token(token_hash);
        if let Some(p) = self.publisher.get() {
            p.send(crate::shared::revocation::Revoked::Token(token_hash));
        }
    }

    /// Forgets every session of a user (profile change, revocation,
    /// deletion), here and on every other instance.
    pub fn invalidate_user(&self, user_id: &str) {
        self.forget_user(user_id);
        if let Some(p) = self.publisher.get() {
            p.send(crate::shared::revocation::Revoked::User(user_id));
        }
    }

    fn note_invalidated(&self, key: String) {
        let now = self.clock.now_utc().timestamp_millis();
        let mut inv = self.invalidated.write().unwrap_or_else(|e| e.into_inner());
        if inv.at.len() >= SESSION_CACHE_CAPACITY {
            // Forgetting old entries would trust old copies: move the horizon instead.
            inv.at.retain(|_, t| now - *t < INVALIDATION_MEMORY_MS);
            if inv.at.len() >= SESSION_CACHE_CAPACITY {
                inv.at.clear();
                inv.horizon_ms = now;
            }
        }
        inv.at.insert(key, now);
    }

    /// Whether a copy of a session written at `written_ms` predates an
    /// invalidation of that session or user, or the trust horizon.
    pub fn invalidated_since(&self, token_hash: &str, user_id: &str, written_ms: i64) -> bool {
        let inv = self.invalidated.read().unwrap_or_else(|e| e.into_inner());
        written_ms < inv.horizon_ms
            || [format!("t:{token_hash}"), format!("u:{user_id}")]
                .iter()
                .any(|k| inv.at.get(k).is_some_and(|t| written_ms <= *t))
    }

    /// Forgets one session here only (what another instance broadcast).
    pub fn forget_token(&self, token_hash: &str) {
        self.note_invalidated(format!("t:{token_hash}"));
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token_hash);
    }

    /// Forgets a user's sessions here only.
    pub fn forget_user(&self, user_id: &str) {
        self.note_invalidated(format!("u:{user_id}"));
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, c| c.user.id != user_id);
    }

    /// Forgets everything, and trusts no copy written before now.
    pub fn clear(&self) {
        self.invalidated
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .horizon_ms = self.clock.now_utc().timestamp_millis();
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Installs the broadcast (once).
    pub fn set_publisher(
        &self,
        p: crate::shared::revocation::Publisher,
    ) -> Result<(), crate::shared::revocation::Publisher> {
        self.publisher.set(p)
    }

    /// Waits until this instance's invalidations so far are broadcast: a
    /// response that revoked something goes out only then.
    pub async fn flushed(&self) {
        if let Some(p) = self.publisher.get() {
            p.flushed().await;
        }
    }
}

/// Creates a session for `user_id` and queues its cookies on `ctx`.
/// `remember = false`: one-day session, browser-session cookie, and the
/// `dont_remember` marker that disables sliding refresh. Every enabled
/// plugin's `check_new_session` runs first; any may refuse.
pub async fn create_session(
    state: &AppState,
    ctx: &RequestContext,
    user_id: &str,
    remember: bool,
) -> Result<(SessionRow, String), ApiError> {
    for plugin in state.plugins.all() {
        plugin.check_new_session(state, user_id).await?;
    }
    let now = state.now();
    let lifetime = if remember {
        state.config.session.expires_in
    } else {
        24 * 3600
    };
    let raw_token = token::random_alphanumeric(32);
    let row = SessionRow {
        id: token::new_id(),
        expires_at: now + Duration::seconds(lifetime),
        token_hash: token::hash_token(&raw_token),
        created_at: now,
        updated_at: now,
        ip_address: Some(ctx.client_ip.map(|ip| ip.to_string()).unwrap_or_default()),
        user_agent: Some(ctx.user_agent.clone().unwrap_or_default()),
        user_id: user_id.to_string(),
    };
    store::create_session(&state.db, &row).await.map_err(|e| {
        tracing::error!(error = %e, "session insert failed");
        ApiError::new(codes::FAILED_TO_CREATE_SESSION)
    })?;
    crate::http::metrics::global().sessions_created.inc();
    set_session_cookies(state, ctx, &raw_token, remember);
    ctx.set_created_session(CreatedSession {
        session_id: row.id.clone(),
        user_id: row.user_id.clone(),
        token: raw_token.clone(),
    });
    Ok((row, raw_token))
}

/// Queues the session cookie (and the `dont_remember` marker when needed).
pub fn set_session_cookies(
    state: &AppState,
    ctx: &RequestContext,
    raw_token: &str,
    remember: bool,
) {
    let names = &state.cookies;
    let max_age = remember.then_some(state.config.session.expires_in);
    ctx.set_cookie(
        &names.session_token,
        names.session_cookie(&state.secret, raw_token, max_age),
    );
    if remember {
        if ctx.cookies.contains_key(&names.dont_remember) {
            ctx.set_cookie(&names.dont_remember, names.expire(&names.dont_remember));
        }
    } else {
        ctx.set_cookie(
            &names.dont_remember,
            names.dont_remember_cookie(&state.secret),
        );
    }
    ctx.set_issued_session(Some(sign::sign_value(&state.secret, raw_token)));
}

/// Queues the expiry of every session cookie.
pub fn expire_session_cookies(state: &AppState, ctx: &RequestContext) {
    let names = &state.cookies;
    for (name, line) in [
        &names.session_token,
        &names.session_data,
        &names.dont_remember,
    ]
    .into_iter()
    .zip(names.expire_session())
    {
        ctx.set_cookie(name, line);
    }
    ctx.set_issued_session(None);
}

/// Options for [`resolve_session`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ResolveOptions {
    /// Never slide the expiry on this call.
    pub disable_refresh: bool,
}

/// The request's session, if valid: one a plugin's `authenticate` hook
/// vouches for (e.g. an API key), else the session token's. Expired
/// sessions are deleted and their cookies expired; a session due for
/// refresh gets a later expiry (its token does not change).
pub async fn resolve_session(
    state: &AppState,
    ctx: &RequestContext,
    opts: ResolveOptions,
) -> Result<Option<AuthSession>, ApiError> {
    if let Some(session) = plugin_session(state, ctx).await? {
        ctx.set_resolved_session(Some(session.clone()));
        return Ok(Some(session));
    }
    let found = resolve_token_session(state, ctx, opts).await?;
    ctx.set_resolved_session(found.clone());
    Ok(found)
}

/// The copy in secondary storage (`shared::sessions`), if it is still
/// within `session.cache_ttl` of when it was read from the database.
async fn shared_copy(state: &AppState, hash: &str, now: NaiveDateTime) -> Option<Cached> {
    let copy = crate::shared::sessions::get(state, hash).await?;
    let loaded_at = copy.loaded_at()?;
    state.sessions.is_fresh(loaded_at, now).then(|| Cached {
        session: copy.session,
        user: copy.user,
        user_fields: copy.user_fields,
        session_fields: copy.session_fields,
        loaded_at,
    })
}

/// Puts a session just read from the database into secondary storage.
async fn share(state: &AppState, hash: &str, entry: &Cached) {
    if crate::shared::sessions::enabled(state).is_none() {
        return;
    }
    let copy = crate::shared::sessions::SessionCopy {
        session: entry.session.clone(),
        user: entry.user.clone(),
        user_fields: entry.user_fields.clone(),
        session_fields: entry.session_fields.clone(),
        loaded_at_ms: entry.loaded_at.and_utc().timestamp_millis(),
    };
    crate::shared::sessions::put(state, hash, &copy).await;
}

/// What the enabled plugins' `authenticate` hooks say, asked once per request.
async fn plugin_session(
    state: &AppState,
    ctx: &RequestContext,
) -> Result<Option<AuthSession>, ApiError> {
    let found = ctx
        .plugin_session
        .get_or_try_init(|| async {
            for plugin in state.plugins.all() {
                if let Some(session) = plugin.authenticate(state, ctx).await? {
                    // Whatever vouches for the user, a refused user gets nothing.
                    for check in state.plugins.all() {
                        check.check_new_session(state, &session.user.id).await?;
                    }
                    return Ok::<_, ApiError>(Some(session));
                }
            }
            Ok(None)
        })
        .await?;
    Ok(found.clone())
}

async fn resolve_token_session(
    state: &AppState,
    ctx: &RequestContext,
    opts: ResolveOptions,
) -> Result<Option<AuthSession>, ApiError> {
    let Some(raw_token) = ctx.session_token(state) else {
        return Ok(None);
    };
    let hash = token::hash_token(&raw_token);
    let now = state.now();
    let cached = state.sessions.get(&hash, now);
    let (mut session, user, user_fields, session_fields) = match cached {
        Some(c) => (c.session, c.user, c.user_fields, c.session_fields),
        None => match shared_copy(state, &hash, now).await {
            // Another instance (or this one) read it lately: Redis has it.
            Some(c) => {
                state.sessions.put(hash.clone(), c.clone());
                (c.session, c.user, c.user_fields, c.session_fields)
            }
            None => {
                let Some((session, user)) = store::find_session_with_user(&state.db, &hash).await?
                else {
                    if ctx.cookies.contains_key(&state.cookies.session_token) {
                        expire_session_cookies(state, ctx);
                    }
                    return Ok(None);
                };
                let user_fields = load_user_fields(state, &user.id).await?;
                let session_fields = load_session_fields(state, &session.id).await?;
                let entry = Cached {
                    session: session.clone(),
                    user: user.clone(),
                    user_fields: user_fields.clone(),
                    session_fields: session_fields.clone(),
                    loaded_at: now,
                };
                share(state, &hash, &entry).await;
                state.sessions.put(hash.clone(), entry);
                (session, user, user_fields, session_fields)
            }
        },
    };
    if session.expires_at <= now {
        state.sessions.invalidate_token(&hash);
        store::delete_session(&state.db, &session.id).await?;
        expire_session_cookies(state, ctx);
        return Ok(None);
    }
    let cfg = &state.config.session;
    let dont_remember = ctx.dont_remember(state);
    let refresh_allowed = !opts.disable_refresh && !cfg.disable_refresh && !dont_remember;
    // Refresh once `update_age` has passed since the last extension.
    let last_extended = session.expires_at - Duration::seconds(cfg.expires_in);
    if refresh_allowed && last_extended + Duration::seconds(cfg.update_age) <= now {
        let new_expiry = now + Duration::seconds(cfg.expires_in);
        state.sessions.invalidate_token(&hash);
        if !store::update_session_expiry(&state.db, &session.id, new_expiry, now).await? {
            expire_session_cookies(state, ctx);
            return Err(ApiError::with_message(
                codes::FAILED_TO_GET_SESSION,
                "Failed to get session",
            )
            .with_status(401));
        }
        session.expires_at = new_expiry;
        session.updated_at = now;
        set_session_cookies(state, ctx, &raw_token, true);
    }
    Ok(Some(AuthSession {
        session,
        user,
        user_fields,
        session_fields,
        token: raw_token,
    }))
}

/// The session or 401 `UNAUTHORIZED`.
pub async fn require_session(
    state: &AppState,
    ctx: &RequestContext,
) -> Result<AuthSession, ApiError> {
    resolve_session(state, ctx, ResolveOptions::default())
        .await?
        .ok_or_else(|| ApiError::new(codes::UNAUTHORIZED))
}

/// Whether the session was created within `fresh_age` (0 disables the check).
pub fn is_fresh(state: &AppState, session: &SessionRow) -> bool {
    let fresh_age = state.config.session.fresh_age;
    fresh_age == 0 || state.now() - session.created_at < Duration::seconds(fresh_age)
}

/// A session created within `fresh_age`, or 403 `SESSION_NOT_FRESH`.
pub async fn require_fresh_session(
    state: &AppState,
    ctx: &RequestContext,
) -> Result<AuthSession, ApiError> {
    let s = require_session(state, ctx).await?;
    if !is_fresh(state, &s.session) {
        return Err(ApiError::new(codes::SESSION_NOT_FRESH));
    }
    Ok(s)
}

pub async fn load_user_fields(
    state: &AppState,
    user_id: &str,
) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    for fields in state.plugins.user_fields() {
        out.extend(fields.load(&state.db, user_id).await?);
    }
    Ok(out)
}

/// The fields every enabled plugin adds to the session `session_id`.
pub async fn load_session_fields(
    state: &AppState,
    session_id: &str,
) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    for fields in state.plugins.session_fields() {
        out.extend(fields.load(&state.db, session_id).await?);
    }
    Ok(out)
}

/// The wire session of `row`, with the fields enabled plugins add to it.
pub async fn session_json(
    state: &AppState,
    row: &SessionRow,
    token: String,
) -> Result<SessionDto, ApiError> {
    let fields = load_session_fields(state, &row.id).await?;
    Ok(SessionDto::from_row(row, token).with_fields(&fields))
}

/// The wire user: core fields plus the fields of every enabled plugin.
pub async fn user_json(state: &AppState, user: &UserRow) -> Result<User, ApiError> {
    let mut out = WithPluginFields::new(UserCore::from(user));
    out.extra = load_user_fields(state, &user.id).await?;
    Ok(out)
}
