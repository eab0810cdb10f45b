//! Server-side calls of the api-key plugin: `gatehouse.api().api_key()`.
//! Verification exists only here, never over HTTP.

use std::collections::BTreeMap;

use poem::http::HeaderMap;

use super::dto::{ApiKey, ApiKeyCreateBody, ApiKeyCreated, ApiKeyUpdateBody, ApiKeyVerifyResult};
use super::service::{self, Caller};
use crate::api::ServerApi;
use crate::error::{codes, ApiError};
use crate::http::context::RequestContext;

/// The api-key calls of a [`ServerApi`].
pub struct ApiKeyServerApi<'a>(&'a ServerApi);

impl ServerApi {
    /// The api-key plugin's server-side calls.
    pub fn api_key(&self) -> ApiKeyServerApi<'_> {
        ApiKeyServerApi(self)
    }
}

impl ApiKeyServerApi<'_> {
    fn state(&self) -> Result<&crate::state::AppState, ApiError> {
        let state = self.0.state();
        if !state.plugins.is_enabled(super::ID) {
            return Err(ApiError::new(codes::NOT_FOUND));
        }
        Ok(state)
    }

    /// Verifies a key (and, when given, that it grants `permissions`),
    /// spending one use and one rate-limit slot. `config_id` restricts it
    /// to keys of that configuration. Never an error: `valid: false` with
    /// the reason (Better Auth's `verifyApiKey`).
    pub async fn verify_api_key(
        &self,
        key: &str,
        permissions: Option<&BTreeMap<String, Vec<String>>>,
        config_id: Option<&str>,
    ) -> Result<ApiKeyVerifyResult, ApiError> {
        let state = self.state()?;
        Ok(
            match service::validate(state, key, config_id, permissions).await {
                Ok(row) => ApiKeyVerifyResult {
                    valid: true,
                    error: None,
                    key: Some(ApiKey::from(&row)),
                },
                Err(refused) => ApiKeyVerifyResult {
                    valid: false,
                    error: Some(refused.body()),
                    key: None,
                },
            },
        )
    }

    /// Creates a key with any property, server-only ones included. The
    /// owner is `body.user_id`, or the session named by `headers`.
    pub async fn create_api_key(
        &self,
        body: ApiKeyCreateBody,
        headers: Option<&HeaderMap>,
    ) -> Result<ApiKeyCreated, ApiError> {
        let state = self.state()?;
        let ctx = context(state, headers);
        service::create(state, &ctx, body, Caller::Server).await
    }

    /// Updates a key with any property, server-only ones included; the key
    /// must belong to `body.user_id` (or the session named by `headers`).
    pub async fn update_api_key(
        &self,
        body: ApiKeyUpdateBody,
        headers: Option<&HeaderMap>,
    ) -> Result<ApiKey, ApiError> {
        let state = self.state()?;
        let ctx = context(state, headers);
        service::update(state, &ctx, body, Caller::Server).await
    }

    /// Deletes every expired key; returns how many.
    pub async fn delete_all_expired_api_keys(&self) -> Result<usize, ApiError> {
        service::delete_all_expired(self.state()?).await
    }
}

fn context(state: &crate::state::AppState, headers: Option<&HeaderMap>) -> RequestContext {
    match headers {
        Some(h) => RequestContext::from_headers(state, h),
        None => RequestContext::server_side(),
    }
}
