//! Wire types of the api-key routes (Better Auth's shapes, camelCase).

use std::collections::BTreeMap;

use poem_openapi::types::MaybeUndefined;
use poem_openapi::Object;
use serde_json::Value;

use super::store::ApiKeyRow;
use crate::core::dto::iso;

/// A key as `get`, `list` and `update` return it: never the key itself.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    /// The key configuration it belongs to (`default` unless created with a `configId`).
    pub config_id: String,
    pub name: Option<String>,
    /// The key's first characters (prefix included), for display.
    pub start: Option<String>,
    /// The owner: a user id, or an organization id for organization-owned keys.
    pub reference_id: String,
    pub prefix: Option<String>,
    /// Milliseconds between refills of `remaining`.
    pub refill_interval: Option<i64>,
    pub refill_amount: Option<i64>,
    pub last_refill_at: Option<String>,
    pub enabled: bool,
    pub rate_limit_enabled: bool,
    /// Milliseconds.
    pub rate_limit_time_window: Option<i64>,
    pub rate_limit_max: Option<i64>,
    pub request_count: i64,
    /// Uses left (`null`: unlimited).
    pub remaining: Option<i64>,
    pub last_request: Option<String>,
    pub expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// `{resource: [actions]}` the key grants.
    pub permissions: Option<BTreeMap<String, Vec<String>>>,
    /// Any JSON object stored with the key (with `enable_metadata`).
    pub metadata: Option<Value>,
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &Option<String>) -> Option<T> {
    text.as_deref().and_then(|t| serde_json::from_str(t).ok())
}

impl From<&ApiKeyRow> for ApiKey {
    fn from(r: &ApiKeyRow) -> Self {
        ApiKey {
            id: r.id.clone(),
            config_id: r.config_id.clone(),
            name: r.name.clone(),
            start: r.start.clone(),
            reference_id: r.reference_id.clone(),
            prefix: r.prefix.clone(),
            refill_interval: r.refill_interval,
            refill_amount: r.refill_amount,
            last_refill_at: r.last_refill_at.map(iso),
            enabled: r.enabled.unwrap_or(true),
            rate_limit_enabled: r.rate_limit_enabled.unwrap_or(true),
            rate_limit_time_window: r.rate_limit_time_window,
            rate_limit_max: r.rate_limit_max,
            request_count: r.request_count.unwrap_or(0),
            remaining: r.remaining,
            last_request: r.last_request.map(iso),
            expires_at: r.expires_at.map(iso),
            created_at: iso(r.created_at),
            updated_at: iso(r.updated_at),
            permissions: parse_json(&r.permissions),
            metadata: parse_json::<Value>(&r.metadata).filter(|v| !v.is_null()),
        }
    }
}

/// A key just created: the only time the key itself is shown.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ApiKeyCreated {
    #[oai(flatten)]
    pub api_key: ApiKey,
    /// The full key. Stored only as a hash: it cannot be shown again.
    pub key: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKey>,
    pub total: i64,
    #[oai(skip_serializing_if_is_none)]
    pub limit: Option<i64>,
    #[oai(skip_serializing_if_is_none)]
    pub offset: Option<i64>,
}

/// `create`'s body. Properties marked server-only are refused over HTTP
/// (`SERVER_ONLY_PROPERTY`; `userId`: `UNAUTHORIZED_SESSION`): they exist
/// for the server-side call.
#[derive(Debug, Clone, Default, Object)]
#[oai(rename_all = "camelCase")]
pub struct ApiKeyCreateBody {
    /// The key configuration (default when absent or unknown).
    pub config_id: Option<String>,
    pub name: Option<String>,
    /// Seconds until the key expires (within the configuration's bounds).
    pub expires_in: Option<i64>,
    /// `[a-zA-Z0-9_-]`, prepended to the key.
    pub prefix: Option<String>,
    /// An object (with `enable_metadata`).
    pub metadata: Option<Value>,
    /// Server-only: uses allowed (`null`: unlimited).
    pub remaining: Option<i64>,
    /// Server-only: `remaining` after each refill.
    pub refill_amount: Option<i64>,
    /// Server-only: milliseconds between refills.
    pub refill_interval: Option<i64>,
    /// Server-only: milliseconds of the key's rate-limit window.
    pub rate_limit_time_window: Option<i64>,
    /// Server-only: verifications per window.
    pub rate_limit_max: Option<i64>,
    /// Server-only.
    pub rate_limit_enabled: Option<bool>,
    /// Server-only: `{resource: [actions]}`.
    pub permissions: Option<BTreeMap<String, Vec<String>>>,
    /// Server-only: the owner (over HTTP the owner is the caller).
    pub user_id: Option<String>,
    /// The owning organization (configurations with `references = "organization"`).
    pub organization_id: Option<String>,
}

/// `update`'s body; absent properties are left alone.
#[derive(Debug, Clone, Default, Object)]
#[oai(rename_all = "camelCase")]
pub struct ApiKeyUpdateBody {
    pub config_id: Option<String>,
    pub key_id: String,
    /// Server-only: the owner the key must belong to.
    pub user_id: Option<String>,
    pub name: Option<String>,
    pub enabled: Option<bool>,
    /// Server-only.
    pub remaining: Option<i64>,
    /// Server-only.
    pub refill_amount: Option<i64>,
    /// Server-only.
    pub refill_interval: Option<i64>,
    /// An object, or `null` to clear (ignored without `enable_metadata`).
    pub metadata: MaybeUndefined<Value>,
    /// Seconds from now; `null` removes the expiry.
    pub expires_in: MaybeUndefined<i64>,
    /// Server-only.
    pub rate_limit_enabled: Option<bool>,
    /// Server-only.
    pub rate_limit_time_window: Option<i64>,
    /// Server-only.
    pub rate_limit_max: Option<i64>,
    /// Server-only: `{resource: [actions]}`, or `null` to clear.
    pub permissions: MaybeUndefined<BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ApiKeyDeleteBody {
    pub config_id: Option<String>,
    pub key_id: String,
}

/// What the server-side `verify_api_key` answers (Better Auth's shape).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiKeyVerifyResult {
    pub valid: bool,
    /// Why it failed (`details.tryAgainIn`: milliseconds, on `RATE_LIMITED`).
    pub error: Option<crate::error::ErrorBody>,
    pub key: Option<ApiKey>,
}
