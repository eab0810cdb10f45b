//! The api-key operations, shared by the HTTP routes and the server-side
//! calls (`Caller::Server`, which may set the server-only properties).

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime};
use poem_openapi::types::MaybeUndefined;
use rand::Rng;
use serde_json::Value;

use super::dto::{ApiKey, ApiKeyCreateBody, ApiKeyCreated, ApiKeyList, ApiKeyUpdateBody};
use super::errors as e;
use super::settings::{config_id_matches, ApiKeySettings, KeyConfig, References};
use super::store::{self, ApiKeyRow, KeyChanges};
use crate::core::session::{require_session, resolve_session, ResolveOptions};
use crate::crypto::token;
use crate::error::{ApiError, ErrorCode};
use crate::http::context::RequestContext;
use crate::plugin::access::{grants, Statements};
use crate::state::AppState;

/// Who is asking: an HTTP client (server-only properties refused) or the
/// application through `ServerApi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Http,
    Server,
}

fn err(code: ErrorCode) -> ApiError {
    ApiError::new(code)
}

fn with_status(code: ErrorCode, status: u16) -> ApiError {
    ApiError::new(code).with_status(status)
}

const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// `<prefix><length random letters>` (Better Auth's default generator).
fn generate_key(prefix: Option<&str>, length: usize) -> String {
    let mut rng = rand::rng();
    let mut out = prefix.unwrap_or_default().to_string();
    out.extend((0..length).map(|_| LETTERS[rng.random_range(0..LETTERS.len())] as char));
    out
}

/// JavaScript truthiness, for the checks Better Auth writes as `if (x)`.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// Sweeps expired keys, at most every 10 seconds (Better Auth's rhythm).
async fn sweep_expired(state: &AppState, force: bool) -> Result<usize, ApiError> {
    let settings = state.settings::<ApiKeySettings>();
    let now = state.now();
    {
        let mut last = settings
            .last_sweep
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !force && last.is_some_and(|t| now - t < Duration::seconds(10) && t <= now) {
            return Ok(0);
        }
        *last = Some(now);
    }
    Ok(store::delete_expired(&state.db, now).await?)
}

/// Server-side `deleteAllExpiredApiKeys`.
pub async fn delete_all_expired(state: &AppState) -> Result<usize, ApiError> {
    sweep_expired(state, true).await
}

/// A member of `organization_id` whose roles allow `action` on `apiKey`
/// (the organization's creator role allows everything), as Better Auth checks.
async fn check_organization(
    state: &AppState,
    user_id: &str,
    organization_id: &str,
    action: &str,
) -> Result<(), ApiError> {
    use crate::plugins::organization;
    if !state.plugins.is_enabled(organization::ID) {
        return Err(err(e::ORGANIZATION_PLUGIN_REQUIRED));
    }
    let Some(roles) = store::member_role(&state.db, organization_id, user_id).await? else {
        return Err(err(e::USER_NOT_MEMBER_OF_ORGANIZATION));
    };
    let org = state.settings::<organization::settings::OrganizationSettings>();
    if crate::plugin::access::role_names(&roles).any(|r| r == org.creator_role) {
        return Ok(());
    }
    let access = org.access_control();
    let request: Statements = BTreeMap::from([("apiKey".to_string(), vec![action.to_string()])]);
    if crate::plugin::access::authorize(&roles, |r| access.role(r).cloned(), &request) {
        Ok(())
    } else {
        Err(err(e::INSUFFICIENT_API_KEY_PERMISSIONS))
    }
}

fn check_expires_in(cfg: &KeyConfig, seconds: i64) -> Result<(), ApiError> {
    if cfg.key_expiration.disable_custom_expires_time {
        return Err(err(e::KEY_DISABLED_EXPIRATION));
    }
    let days = seconds as f64 / 86_400.0;
    if days < cfg.key_expiration.min_expires_in {
        return Err(err(e::EXPIRES_IN_IS_TOO_SMALL));
    }
    if days > cfg.key_expiration.max_expires_in {
        return Err(err(e::EXPIRES_IN_IS_TOO_LARGE));
    }
    Ok(())
}

fn check_name(cfg: &KeyConfig, name: &str) -> Result<(), ApiError> {
    let n = name.chars().count();
    if n < cfg.minimum_name_length || n > cfg.maximum_name_length {
        return Err(err(e::INVALID_NAME_LENGTH));
    }
    Ok(())
}

fn expiry(now: NaiveDateTime, seconds: i64) -> Result<NaiveDateTime, ApiError> {
    now.checked_add_signed(Duration::seconds(seconds))
        .ok_or_else(|| err(e::EXPIRES_IN_IS_TOO_LARGE))
}

pub async fn create(
    state: &AppState,
    ctx: &RequestContext,
    body: ApiKeyCreateBody,
    caller: Caller,
) -> Result<ApiKeyCreated, ApiError> {
    let settings = state.settings::<ApiKeySettings>();
    let cfg = settings.resolve(body.config_id.as_deref());
    let session = resolve_session(state, ctx, ResolveOptions::default()).await?;
    if caller == Caller::Http {
        // CVE-2025-61928: none of these may come from a client.
        if body.refill_amount.is_some()
            || body.refill_interval.is_some()
            || body.rate_limit_max.is_some()
            || body.rate_limit_time_window.is_some()
            || body.rate_limit_enabled.is_some()
            || body.permissions.is_some()
            || body.remaining.is_some()
        {
            return Err(err(e::SERVER_ONLY_PROPERTY));
        }
        if body.user_id.is_some() {
            return Err(err(e::UNAUTHORIZED_SESSION));
        }
    }
    let session_user = session.as_ref().map(|s| s.user.id.clone());
    let reference_id = if cfg.references == References::Organization {
        let Some(org_id) = body.organization_id.clone().filter(|s| !s.is_empty()) else {
            return Err(err(e::ORGANIZATION_ID_REQUIRED));
        };
        let user_id = session_user
            .clone()
            .or_else(|| body.user_id.clone())
            .ok_or_else(|| err(e::UNAUTHORIZED_SESSION))?;
        check_organization(state, &user_id, &org_id, "create").await?;
        org_id
    } else {
        match (caller, session_user, body.user_id.clone()) {
            (Caller::Http, Some(me), _) => me,
            (Caller::Http, None, _) => return Err(err(e::UNAUTHORIZED_SESSION)),
            (Caller::Server, Some(me), Some(other)) if me != other => {
                return Err(err(e::UNAUTHORIZED_SESSION))
            }
            (Caller::Server, Some(me), _) => me,
            (Caller::Server, None, Some(id)) => id,
            (Caller::Server, None, None) => return Err(err(e::UNAUTHORIZED_SESSION)),
        }
    };
    let metadata = body.metadata.clone().filter(truthy);
    if let Some(m) = &metadata {
        if !cfg.enable_metadata {
            return Err(err(e::METADATA_DISABLED));
        }
        if !m.is_object() {
            return Err(err(e::INVALID_METADATA_TYPE));
        }
    }
    let refill_amount = body.refill_amount.filter(|v| *v != 0);
    let refill_interval = body.refill_interval.filter(|v| *v != 0);
    if refill_amount.is_some() && refill_interval.is_none() {
        return Err(err(e::REFILL_AMOUNT_AND_INTERVAL_REQUIRED));
    }
    if refill_interval.is_some() && refill_amount.is_none() {
        return Err(err(e::REFILL_INTERVAL_AND_AMOUNT_REQUIRED));
    }
    // The bounds Better Auth's body schema sets.
    for (name, value, min) in [
        ("expiresIn", body.expires_in, 1),
        ("remaining", body.remaining, 0),
        ("refillAmount", body.refill_amount, 1),
    ] {
        if value.is_some_and(|v| v < min) {
            return Err(ApiError::validation(format!(
                "[body.{name}] Too small: expected number to be >={min}"
            )));
        }
    }
    let expires_in = body.expires_in.filter(|s| *s != 0);
    if let Some(s) = expires_in {
        check_expires_in(cfg, s)?;
    }
    if let Some(p) = body.prefix.as_deref().filter(|p| !p.is_empty()) {
        if !super::settings::is_valid_prefix(p) {
            return Err(ApiError::validation(
                "[body.prefix] Invalid prefix format, must be alphanumeric and contain only underscores and hyphens.",
            ));
        }
        let n = p.chars().count();
        if n < cfg.minimum_prefix_length || n > cfg.maximum_prefix_length {
            return Err(err(e::INVALID_PREFIX_LENGTH));
        }
    }
    match body.name.as_deref().filter(|n| !n.is_empty()) {
        Some(n) => check_name(cfg, n)?,
        None if cfg.require_name => return Err(err(e::NAME_REQUIRED)),
        None => {}
    }
    sweep_expired(state, false).await?;

    let prefix = body
        .prefix
        .clone()
        .filter(|p| !p.is_empty())
        .or_else(|| cfg.default_prefix.clone());
    let key = generate_key(prefix.as_deref(), cfg.default_key_length);
    let start = cfg.starting_characters_config.should_store.then(|| {
        key.chars()
            .take(cfg.starting_characters_config.characters_length)
            .collect()
    });
    let permissions = body
        .permissions
        .clone()
        .or_else(|| cfg.permissions.default_permissions.clone());
    let now = state.now();
    let expires_at = match expires_in.or(cfg.key_expiration.default_expires_in) {
        Some(s) => Some(expiry(now, s)?),
        None => None,
    };
    let row = ApiKeyRow {
        id: token::new_id(),
        config_id: cfg.config_id.clone(),
        name: body.name.clone(),
        start,
        reference_id,
        prefix,
        key: token::hash_token(&key),
        refill_interval,
        refill_amount,
        last_refill_at: None,
        enabled: Some(true),
        rate_limit_enabled: Some(body.rate_limit_enabled.unwrap_or(cfg.rate_limit.enabled)),
        rate_limit_time_window: Some(
            body.rate_limit_time_window
                .unwrap_or(cfg.rate_limit.time_window),
        ),
        rate_limit_max: Some(body.rate_limit_max.unwrap_or(cfg.rate_limit.max_requests)),
        request_count: Some(0),
        remaining: body.remaining.or(refill_amount),
        last_request: None,
        expires_at,
        created_at: now,
        updated_at: now,
        permissions: permissions
            .as_ref()
            .map(|p| serde_json::to_string(p).unwrap_or_default()),
        metadata: metadata.as_ref().map(Value::to_string),
    };
    store::insert(&state.db, &row).await?;
    Ok(ApiKeyCreated {
        api_key: ApiKey::from(&row),
        key,
    })
}

/// Finds a key by id for `user_id`, checking the configuration and the
/// owner (a member's rights for organization-owned keys): `KEY_NOT_FOUND` (404).
async fn owned_key(
    state: &AppState,
    user_id: &str,
    key_id: &str,
    config_id: Option<&str>,
    action: &str,
) -> Result<ApiKeyRow, ApiError> {
    let settings = state.settings::<ApiKeySettings>();
    let lookup = settings.resolve(config_id);
    let row = store::find_by_id(&state.db, key_id)
        .await?
        .filter(|r| config_id_matches(&r.config_id, Some(&lookup.config_id)))
        .ok_or_else(|| err(e::KEY_NOT_FOUND))?;
    let cfg = settings.resolve(Some(&row.config_id));
    if cfg.references == References::Organization {
        check_organization(state, user_id, &row.reference_id, action).await?;
    } else if row.reference_id != user_id {
        return Err(err(e::KEY_NOT_FOUND));
    }
    Ok(row)
}

pub async fn get(
    state: &AppState,
    ctx: &RequestContext,
    id: &str,
    config_id: Option<&str>,
) -> Result<ApiKey, ApiError> {
    let session = require_session(state, ctx).await?;
    let row = owned_key(state, &session.user.id, id, config_id, "read").await?;
    sweep_expired(state, false).await?;
    Ok(ApiKey::from(&row))
}

/// Where a key's synthetic session is cached (see `session_from_key`),
/// from the key's stored hash; updates and deletes forget it.
pub fn session_cache_key(key_hash: &str) -> String {
    format!("api-key:{key_hash}")
}

pub async fn delete(
    state: &AppState,
    ctx: &RequestContext,
    key_id: &str,
    config_id: Option<&str>,
) -> Result<(), ApiError> {
    let session = require_session(state, ctx).await?;
    let row = owned_key(state, &session.user.id, key_id, config_id, "delete").await?;
    store::delete(&state.db, &row.id).await?;
    state
        .sessions
        .invalidate_token(&session_cache_key(&row.key));
    sweep_expired(state, false).await?;
    Ok(())
}

pub async fn update(
    state: &AppState,
    ctx: &RequestContext,
    body: ApiKeyUpdateBody,
    caller: Caller,
) -> Result<ApiKey, ApiError> {
    let session = resolve_session(state, ctx, ResolveOptions::default()).await?;
    let user_id = match (caller, &session, &body.user_id) {
        (Caller::Http, None, _) => return Err(err(e::UNAUTHORIZED_SESSION)),
        // A client never names the owner (Better Auth accepts its own id; nothing needs it).
        (Caller::Http, Some(_), Some(_)) => return Err(err(e::UNAUTHORIZED_SESSION)),
        (Caller::Http, Some(s), None) => s.user.id.clone(),
        (Caller::Server, Some(s), Some(other)) if s.user.id != *other => {
            return Err(err(e::UNAUTHORIZED_SESSION))
        }
        (Caller::Server, Some(s), _) => s.user.id.clone(),
        (Caller::Server, None, Some(id)) => id.clone(),
        (Caller::Server, None, None) => return Err(err(e::UNAUTHORIZED_SESSION)),
    };
    if caller == Caller::Http
        && (body.refill_amount.is_some()
            || body.refill_interval.is_some()
            || body.rate_limit_max.is_some()
            || body.rate_limit_time_window.is_some()
            || body.rate_limit_enabled.is_some()
            || body.remaining.is_some()
            || !body.permissions.is_undefined())
    {
        return Err(err(e::SERVER_ONLY_PROPERTY));
    }
    let row = owned_key(
        state,
        &user_id,
        &body.key_id,
        body.config_id.as_deref(),
        "update",
    )
    .await?;
    let settings = state.settings::<ApiKeySettings>();
    let cfg = settings.resolve(Some(&row.config_id));
    let now = state.now();
    let mut changes = KeyChanges::default();
    let mut any = false;
    if let Some(name) = &body.name {
        check_name(cfg, name)?;
        changes.name = Some(name.clone());
        any = true;
    }
    if let Some(enabled) = body.enabled {
        changes.enabled = Some(enabled);
        any = true;
    }
    match body.expires_in {
        MaybeUndefined::Undefined => {}
        MaybeUndefined::Null => {
            if cfg.key_expiration.disable_custom_expires_time {
                return Err(err(e::KEY_DISABLED_EXPIRATION));
            }
            changes.expires_at = Some(None);
            any = true;
        }
        MaybeUndefined::Value(s) => {
            if s < 1 {
                return Err(ApiError::validation(
                    "[body.expiresIn] Too small: expected number to be >=1",
                ));
            }
            check_expires_in(cfg, s)?;
            changes.expires_at = Some(Some(expiry(now, s)?));
            any = true;
        }
    }
    if cfg.enable_metadata {
        match &body.metadata {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => {
                changes.metadata = Some(None);
                any = true;
            }
            MaybeUndefined::Value(m) => {
                if !m.is_object() {
                    return Err(err(e::INVALID_METADATA_TYPE));
                }
                changes.metadata = Some(Some(m.to_string()));
                any = true;
            }
        }
    }
    if let Some(r) = body.remaining {
        if r < 1 {
            return Err(ApiError::validation(
                "[body.remaining] Too small: expected number to be >=1",
            ));
        }
        changes.remaining = Some(Some(r));
        any = true;
    }
    match (body.refill_amount, body.refill_interval) {
        (None, None) => {}
        (Some(_), None) => return Err(err(e::REFILL_AMOUNT_AND_INTERVAL_REQUIRED)),
        (None, Some(_)) => return Err(err(e::REFILL_INTERVAL_AND_AMOUNT_REQUIRED)),
        (Some(a), Some(i)) => {
            changes.refill_amount = Some(Some(a));
            changes.refill_interval = Some(Some(i));
            any = true;
        }
    }
    if let Some(v) = body.rate_limit_enabled {
        changes.rate_limit_enabled = Some(v);
        any = true;
    }
    if let Some(v) = body.rate_limit_time_window {
        changes.rate_limit_time_window = Some(Some(v));
        any = true;
    }
    if let Some(v) = body.rate_limit_max {
        changes.rate_limit_max = Some(Some(v));
        any = true;
    }
    match &body.permissions {
        MaybeUndefined::Undefined => {}
        MaybeUndefined::Null => {
            changes.permissions = Some(None);
            any = true;
        }
        MaybeUndefined::Value(p) => {
            changes.permissions = Some(Some(serde_json::to_string(p).unwrap_or_default()));
            any = true;
        }
    }
    if !any {
        return Err(err(e::NO_VALUES_TO_UPDATE));
    }
    changes.updated_at = Some(now);
    if !store::update(&state.db, &row.id, &changes).await? {
        return Err(err(e::KEY_NOT_FOUND));
    }
    state
        .sessions
        .invalidate_token(&session_cache_key(&row.key));
    sweep_expired(state, false).await?;
    let row = store::find_by_id(&state.db, &row.id)
        .await?
        .ok_or_else(|| err(e::KEY_NOT_FOUND))?;
    Ok(ApiKey::from(&row))
}

/// The listing's query.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub config_id: Option<String>,
    pub organization_id: Option<String>,
    pub limit: Option<String>,
    pub offset: Option<String>,
    pub sort_by: Option<String>,
    pub sort_direction: Option<String>,
}

fn parse_count(name: &str, v: &Option<String>) -> Result<Option<i64>, ApiError> {
    match v.as_deref() {
        None => Ok(None),
        Some(s) => s
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| {
                ApiError::validation(format!(
                    "[query.{name}] Invalid input: expected a non-negative integer"
                ))
            }),
    }
}

/// Orders JSON values as Better Auth's in-memory sort does (nulls first when ascending).
fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

pub async fn list(
    state: &AppState,
    ctx: &RequestContext,
    params: ListParams,
) -> Result<ApiKeyList, ApiError> {
    let session = require_session(state, ctx).await?;
    let limit = parse_count("limit", &params.limit)?;
    let offset = parse_count("offset", &params.offset)?;
    let descending = match params.sort_direction.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => {
            return Err(ApiError::validation(
                "[query.sortDirection] Invalid option: expected one of \"asc\"|\"desc\"",
            ))
        }
    };
    let organization_id = params.organization_id.filter(|s| !s.is_empty());
    if let Some(org) = &organization_id {
        check_organization(state, &session.user.id, org, "read").await?;
    }
    let reference_id = organization_id
        .clone()
        .unwrap_or_else(|| session.user.id.clone());
    let expected = if organization_id.is_some() {
        References::Organization
    } else {
        References::User
    };
    let settings = state.settings::<ApiKeySettings>();
    let config_filter = params.config_id.filter(|s| !s.is_empty());
    let mut keys: Vec<ApiKey> = store::list_by_reference(&state.db, &reference_id)
        .await?
        .iter()
        .filter(|r| settings.resolve(Some(&r.config_id)).references == expected)
        .filter(|r| {
            config_filter
                .as_deref()
                .is_none_or(|c| config_id_matches(&r.config_id, Some(c)))
        })
        .map(ApiKey::from)
        .collect();
    if let Some(field) = params.sort_by.as_deref().filter(|s| !s.is_empty()) {
        let mut keyed: Vec<(Value, ApiKey)> = keys
            .into_iter()
            .map(|k| {
                let v = serde_json::to_value(&k).unwrap_or(Value::Null)[field].clone();
                (v, k)
            })
            .collect();
        keyed.sort_by(|(a, _), (b, _)| {
            let o = compare(a, b);
            if descending {
                o.reverse()
            } else {
                o
            }
        });
        keys = keyed.into_iter().map(|(_, k)| k).collect();
    }
    let total = keys.len() as i64;
    let start = offset.unwrap_or(0).min(total) as usize;
    let mut page: Vec<ApiKey> = keys.into_iter().skip(start).collect();
    if let Some(l) = limit {
        page.truncate(l as usize);
    }
    sweep_expired(state, false).await?;
    Ok(ApiKeyList {
        api_keys: page,
        total,
        limit,
        offset,
    })
}

/// Verifies a key and spends one use, in Better Auth's order: unknown
/// (401 `INVALID_API_KEY`), disabled, expired (deleted), permissions
/// (401 `KEY_NOT_FOUND`), used up (deleted, 429 `USAGE_EXCEEDED`), then the
/// atomic usage claim (refill or decrement) and the key's rate limit
/// (429 `RATE_LIMITED` with `tryAgainIn`). `expected_config`: `None` accepts
/// a key of any configuration.
pub async fn validate(
    state: &AppState,
    key: &str,
    expected_config: Option<&str>,
    permissions: Option<&Statements>,
) -> Result<ApiKeyRow, ApiError> {
    let settings = state.settings::<ApiKeySettings>();
    let invalid = || with_status(e::INVALID_API_KEY, 401);
    let row = store::find_by_hash(&state.db, &token::hash_token(key))
        .await?
        .ok_or_else(invalid)?;
    if expected_config.is_some_and(|c| !config_id_matches(&row.config_id, Some(c))) {
        return Err(invalid());
    }
    let cfg = settings.resolve(Some(&row.config_id));
    if row.enabled == Some(false) {
        return Err(err(e::KEY_DISABLED));
    }
    let now = state.now();
    if row.expires_at.is_some_and(|t| now > t) {
        store::delete(&state.db, &row.id).await?;
        return Err(err(e::KEY_EXPIRED));
    }
    if let Some(wanted) = permissions {
        let held: Option<Statements> = row
            .permissions
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok());
        if !held.is_some_and(|h| grants(&h, wanted)) {
            return Err(with_status(e::KEY_NOT_FOUND, 401));
        }
    }
    if row.remaining == Some(0) && row.refill_amount.is_none() {
        store::delete(&state.db, &row.id).await?;
        return Err(err(e::USAGE_EXCEEDED));
    }
    let mut spent = row.clone();
    if row.remaining.is_some() {
        spent.remaining = Some(claim_use(state, &row, now).await?);
    }
    // From here the use is paid for: a concurrent request that deletes the
    // used-up key must not turn this one into a failure.
    claim_rate_limit(state, cfg, &row.id, now).await?;
    store::touch_updated(&state.db, &row.id, now).await?;
    Ok(store::find_by_id(&state.db, &row.id)
        .await?
        .unwrap_or(spent))
}

/// One use of a key with `remaining`: the due refill (one winner), else
/// the guarded decrement. Returns what is left (as far as this request knows).
async fn claim_use(state: &AppState, row: &ApiKeyRow, now: NaiveDateTime) -> Result<i64, ApiError> {
    if let (Some(interval), Some(amount)) = (row.refill_interval, row.refill_amount) {
        if interval != 0 && amount != 0 {
            let last = row.last_refill_at.unwrap_or(row.created_at);
            if (now - last).num_milliseconds() > interval
                && store::claim_refill(&state.db, &row.id, row.last_refill_at, amount, now).await?
            {
                return Ok(amount - 1);
            }
        }
    }
    if store::claim_use(&state.db, &row.id).await? {
        Ok((row.remaining.unwrap_or(1) - 1).max(0))
    } else {
        Err(err(e::USAGE_EXCEEDED))
    }
}

/// Counts a verification against the key's window; every step is a
/// conditional update, re-read and re-decided when another request won.
async fn claim_rate_limit(
    state: &AppState,
    cfg: &KeyConfig,
    id: &str,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    for _ in 0..32 {
        let Some(row) = store::find_by_id(&state.db, id).await? else {
            // Deleted meanwhile (used up by others): this use was already paid.
            return Ok(());
        };
        if !cfg.rate_limit.enabled || row.rate_limit_enabled == Some(false) {
            store::touch_last_request(&state.db, id, now).await?;
            return Ok(());
        }
        let (Some(window), Some(max)) = (row.rate_limit_time_window, row.rate_limit_max) else {
            return Ok(());
        };
        let window_start = now - Duration::milliseconds(window);
        let claimed = match row.last_request {
            None => store::claim_window_start(&state.db, id, None, now).await?,
            Some(last) => {
                let since = (now - last).num_milliseconds();
                if since > window {
                    store::claim_window_start(&state.db, id, Some(window_start), now).await?
                } else if row.request_count.unwrap_or(0) >= max {
                    return Err(err(e::RATE_LIMITED)
                        .with_details(serde_json::json!({"tryAgainIn": (window - since).max(0)})));
                } else {
                    store::claim_window_slot(&state.db, id, window_start, max, now).await?
                }
            }
        };
        if claimed {
            return Ok(());
        }
    }
    // Lost every race: as busy as a full window.
    Err(err(e::RATE_LIMITED))
}
