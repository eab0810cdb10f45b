//! A signed-in user's linked accounts: unlinking, the provider's tokens
//! (refreshed when they are about to expire) and the provider's view of the
//! user. Tokens are stored sealed (see `flow::protect`) and opened here.

use std::sync::Arc;

use chrono::Duration;
use poem_openapi::Object;
use serde_json::{Map, Value};

use super::flow::{protect, stored};
use super::oauth::{self, Tokens};
use super::{store as social_store, OAuthProvider};
use crate::core::dto::iso;
use crate::core::session::{require_fresh_session, require_session, AuthSession};
use crate::crypto::seal;
use crate::db::models::AccountRow;
use crate::db::store;
use crate::error::{codes, ApiError};
use crate::http::context::RequestContext;
use crate::state::AppState;

/// Refresh when the stored access token expires within this long.
const REFRESH_MARGIN_SECS: i64 = 5;

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UnlinkAccountBody {
    /// The account's row id (`id` in `list-accounts`).
    pub account_id: String,
}

/// Which linked account: `accountId` (the row id from `list-accounts`), or
/// `providerId` for the user's account at that provider.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AccountSelector {
    pub account_id: Option<String>,
    pub provider_id: Option<String>,
    /// Server-side calls only; over HTTP the session's user is used.
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AccessTokenResponse {
    pub access_token: String,
    #[oai(skip_serializing_if_is_none)]
    pub access_token_expires_at: Option<String>,
    pub scopes: Vec<String>,
    #[oai(skip_serializing_if_is_none)]
    pub id_token: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct RefreshTokenResponse {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub access_token_expires_at: Option<String>,
    pub refresh_token_expires_at: Option<String>,
    pub scope: Option<String>,
    pub id_token: Option<String>,
    pub provider_id: String,
    pub account_id: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AccountInfoUser {
    pub name: String,
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub image: Option<String>,
    pub email_verified: bool,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AccountRef {
    pub id: String,
    pub provider_id: String,
    pub account_id: String,
}

#[derive(Debug, Clone, Object)]
pub struct AccountInfoResponse {
    pub user: AccountInfoUser,
    /// The provider's profile as it answered.
    pub data: Value,
    pub account: AccountRef,
}

pub async fn unlink_account(
    state: &AppState,
    ctx: &RequestContext,
    body: &UnlinkAccountBody,
) -> Result<(), ApiError> {
    let s = require_fresh_session(state, ctx).await?;
    let accounts = store::list_accounts(&state.db, &s.user.id).await?;
    if !accounts.iter().any(|a| a.id == body.account_id) {
        return Err(ApiError::new(codes::ACCOUNT_NOT_FOUND));
    }
    if accounts.len() == 1 && !state.config.account.account_linking.allow_unlinking_all {
        return Err(ApiError::new(codes::FAILED_TO_UNLINK_LAST_ACCOUNT));
    }
    if !social_store::delete_user_account(&state.db, &s.user.id, &body.account_id).await? {
        return Err(ApiError::new(codes::ACCOUNT_NOT_FOUND));
    }
    Ok(())
}

/// A stored token in clear (sealed ones opened; ones stored before sealing
/// was turned on, or by another server, as they are).
fn open(state: &AppState, v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|t| seal::open(&state.secret, t).unwrap_or_else(|| t.clone()))
}

async fn selected(
    state: &AppState,
    ctx: &RequestContext,
    sel: &AccountSelector,
) -> Result<(AuthSession, AccountRow, Arc<OAuthProvider>), ApiError> {
    let s = require_session(state, ctx).await?;
    let accounts = store::list_accounts(&state.db, &s.user.id).await?;
    let account = match (&sel.account_id, &sel.provider_id) {
        (Some(id), _) => accounts.into_iter().find(|a| &a.id == id),
        (None, Some(provider)) => accounts.into_iter().find(|a| &a.provider_id == provider),
        (None, None) => {
            return Err(ApiError::validation(
                "[body.accountId] Invalid input: expected string, received undefined",
            ))
        }
    }
    .ok_or_else(|| ApiError::new(codes::ACCOUNT_NOT_FOUND))?;
    let provider = state.social.get(&account.provider_id).ok_or_else(|| {
        ApiError::with_message(
            codes::PROVIDER_NOT_SUPPORTED,
            format!("Provider {} is not supported.", account.provider_id),
        )
    })?;
    Ok((s, account, provider))
}

fn scopes(account: &AccountRow) -> Vec<String> {
    account
        .scope
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Refreshes at the provider and stores the new tokens; the account as stored after.
async fn refresh_account(
    state: &AppState,
    provider: &OAuthProvider,
    account: &AccountRow,
) -> Result<(AccountRow, Tokens), ApiError> {
    let refresh = open(state, &account.refresh_token)
        .ok_or_else(|| ApiError::new(codes::REFRESH_TOKEN_NOT_FOUND))?;
    let tokens = oauth::refresh(&state.social.http, provider, &refresh, state.now())
        .await
        .map_err(|e| {
            tracing::info!(provider = %provider.id, reason = %e, "token refresh failed");
            ApiError::new(codes::FAILED_TO_REFRESH_ACCESS_TOKEN)
        })?;
    social_store::update_tokens(
        &state.db,
        &account.id,
        stored(state, &tokens, tokens.scope.clone()),
        state.now(),
    )
    .await?;
    let mut updated = account.clone();
    if tokens.access_token.is_some() {
        updated.access_token = protect(state, tokens.access_token.clone());
        updated.access_token_expires_at = tokens.access_token_expires_at;
    }
    if tokens.refresh_token.is_some() {
        updated.refresh_token = protect(state, tokens.refresh_token.clone());
        updated.refresh_token_expires_at = tokens.refresh_token_expires_at;
    }
    if tokens.id_token.is_some() {
        updated.id_token = protect(state, tokens.id_token.clone());
    }
    if tokens.scope.is_some() {
        updated.scope = tokens.scope.clone();
    }
    Ok((updated, tokens))
}

/// The account with an access token valid for at least a few more seconds.
async fn fresh_account(
    state: &AppState,
    provider: &OAuthProvider,
    account: AccountRow,
) -> Result<AccountRow, ApiError> {
    let expiring = account
        .access_token_expires_at
        .is_some_and(|at| at - state.now() < Duration::seconds(REFRESH_MARGIN_SECS));
    if expiring && account.refresh_token.is_some() {
        let (updated, _) = refresh_account(state, provider, &account)
            .await
            .map_err(|_| ApiError::new(codes::FAILED_TO_GET_ACCESS_TOKEN))?;
        return Ok(updated);
    }
    Ok(account)
}

pub async fn get_access_token(
    state: &AppState,
    ctx: &RequestContext,
    sel: &AccountSelector,
) -> Result<AccessTokenResponse, ApiError> {
    let (_, account, provider) = selected(state, ctx, sel).await?;
    let account = fresh_account(state, &provider, account).await?;
    let access_token = open(state, &account.access_token)
        .ok_or_else(|| ApiError::new(codes::FAILED_TO_GET_ACCESS_TOKEN))?;
    Ok(AccessTokenResponse {
        access_token,
        access_token_expires_at: account.access_token_expires_at.map(iso),
        scopes: scopes(&account),
        id_token: open(state, &account.id_token),
    })
}

pub async fn refresh_token(
    state: &AppState,
    ctx: &RequestContext,
    sel: &AccountSelector,
) -> Result<RefreshTokenResponse, ApiError> {
    let (_, account, provider) = selected(state, ctx, sel).await?;
    let (updated, _) = refresh_account(state, &provider, &account).await?;
    Ok(RefreshTokenResponse {
        access_token: open(state, &updated.access_token),
        refresh_token: open(state, &updated.refresh_token),
        access_token_expires_at: updated.access_token_expires_at.map(iso),
        refresh_token_expires_at: updated.refresh_token_expires_at.map(iso),
        scope: updated.scope.clone(),
        id_token: open(state, &updated.id_token),
        provider_id: updated.provider_id.clone(),
        account_id: updated.account_id.clone(),
    })
}

/// The claims of a stored ID token (verified when it was received).
fn stored_claims(id_token: &str) -> Option<Map<String, Value>> {
    use base64::Engine;
    let payload = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub async fn account_info(
    state: &AppState,
    ctx: &RequestContext,
    sel: &AccountSelector,
) -> Result<AccountInfoResponse, ApiError> {
    let (_, account, provider) = selected(state, ctx, sel).await?;
    let account = fresh_account(state, &provider, account).await?;
    let info_error = || ApiError::new(codes::FAILED_TO_GET_USER_INFO);
    let tokens = Tokens {
        access_token: open(state, &account.access_token),
        ..Tokens::default()
    };
    // As at sign-in: the stored ID token's claims when they name the user,
    // else the provider's userinfo (with a fresh access token).
    let claims = open(state, &account.id_token)
        .and_then(|t| stored_claims(&t))
        .filter(|c| c.contains_key("sub") && c.contains_key("email"));
    let raw = match (claims, &provider.userinfo_url) {
        (Some(c), _) => Value::Object(c),
        (None, Some(_)) => {
            let profile = oauth::profile(&state.social.http, &provider, &tokens, None, None)
                .await
                .map_err(|e| {
                    tracing::info!(provider = %provider.id, reason = %e, "account-info failed");
                    info_error()
                })?;
            profile.raw
        }
        (None, None) => return Err(info_error()),
    };
    let mapped = if provider.generic {
        None
    } else {
        super::providers::map_profile_shape(provider.profile, &raw, None).ok()
    };
    let mapped = match mapped {
        Some(m) => m,
        None => super::providers::map_oidc_claims(&raw).map_err(|_| info_error())?,
    };
    // Better Auth's `data`: the mapped id, emailVerified and image, then the profile.
    let mut data = Map::new();
    data.insert("id".into(), Value::String(mapped.account_id.clone()));
    data.insert("emailVerified".into(), Value::Bool(mapped.email_verified));
    if let Some(image) = &mapped.image {
        data.insert("image".into(), Value::String(image.clone()));
    }
    if let Value::Object(profile) = raw {
        for (k, v) in profile {
            data.insert(k, v);
        }
    }
    Ok(AccountInfoResponse {
        user: AccountInfoUser {
            name: mapped.name,
            email: mapped.email,
            image: mapped.image,
            email_verified: mapped.email_verified,
        },
        data: Value::Object(data),
        account: AccountRef {
            id: account.id,
            provider_id: account.provider_id,
            account_id: account.account_id,
        },
    })
}
