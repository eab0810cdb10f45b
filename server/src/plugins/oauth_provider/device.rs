//! Device authorization (RFC 8628): a TV or a CLI gets a device code and
//! a short user code, the user enters the user code on the app's device
//! page while signed in, approves or denies, and the device polls the token
//! endpoint meanwhile.
//!
//! Entering the code binds it to that user, and only that user may then
//! approve or deny it: a code entered by one user cannot be approved by
//! another (Better Auth's CVE-2026-45337 let any signed-in user approve
//! any pending code). Both codes are stored as SHA-256 only; each state
//! change is one conditional update, so a code is redeemed once.

use chrono::Duration;
use rand::Rng;
use serde_json::{Map, Value};

use super::clients::{self, GRANT_DEVICE};
use super::errors::OAuthError;
use super::settings::OAuthProviderSettings;
use super::store::{self, ClientRow, DeviceCodeRow};
use super::tokens::{self, Issue, OAuthTokenResponse};
use crate::crypto::token;
use crate::state::AppState;

/// The letters of a user code: consonants only (RFC 8628 §6.1), so no
/// word is spelled and nothing is mistaken for a digit. 8 of them give
/// about 2^34.6 codes.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LEN: usize = 8;

pub const PENDING: &str = "pending";
pub const APPROVED: &str = "approved";
pub const DENIED: &str = "denied";
pub const REDEEMED: &str = "redeemed";

/// RFC 8628 §3.2's answer.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct OAuthDeviceAuthorizationResponse {
    /// What the device polls the token endpoint with.
    pub device_code: String,
    /// What the user types on the device page (`XXXX-XXXX`).
    pub user_code: String,
    pub verification_uri: String,
    /// `verification_uri` with the user code in its query (for a QR code).
    pub verification_uri_complete: String,
    pub expires_in: i64,
    /// Seconds to wait between polls.
    pub interval: i64,
}

/// What the device page shows the user before they decide.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct OAuthDeviceVerificationResponse {
    pub user_code: String,
    /// `pending` (waiting for this user's decision), `approved` or `denied`.
    pub status: String,
    pub client_id: String,
    #[oai(skip_serializing_if_is_none)]
    pub client_name: Option<String>,
    /// The scopes the device asks for, space-separated.
    pub scope: String,
}

fn new_user_code() -> String {
    let mut rng = rand::rng();
    let code: String = (0..USER_CODE_LEN)
        .map(|_| USER_CODE_ALPHABET[rng.random_range(0..USER_CODE_ALPHABET.len())] as char)
        .collect();
    format!("{}-{}", &code[..4], &code[4..])
}

/// A typed user code as stored: upper case, separators and spaces
/// dropped (RFC 8628 §6.1: users type them loosely).
fn normalize_user_code(typed: &str) -> String {
    typed
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn user_code_hash(typed: &str) -> String {
    token::hash_token(&normalize_user_code(typed))
}

/// `POST /oauth2/device-authorization`: a new device code for `client`.
pub async fn start(
    state: &AppState,
    s: &OAuthProviderSettings,
    client: &ClientRow,
    body: &Map<String, Value>,
) -> Result<OAuthDeviceAuthorizationResponse, OAuthError> {
    if !client.allows_grant(GRANT_DEVICE) {
        return Err(OAuthError::unauthorized_client(
            "The client may not use the device authorization grant",
        ));
    }
    let allowed = client.scope_list();
    let scopes: Vec<String> = match body.get("scope").and_then(Value::as_str) {
        Some(text) => text.split_whitespace().map(String::from).collect(),
        None => allowed.clone(),
    };
    if let Some(bad) = scopes.iter().find(|x| !allowed.contains(x)) {
        return Err(OAuthError::invalid_scope(format!(
            "Scope {bad} is not allowed for this client"
        )));
    }
    let now = state.now();
    let device_code = clients::random_letters(40);
    let user_code = new_user_code();
    let row = DeviceCodeRow {
        id: token::new_id(),
        device_code: token::hash_token(&device_code),
        user_code: user_code_hash(&user_code),
        client_id: client.client_id.clone(),
        scopes: serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".into()),
        status: PENDING.into(),
        user_id: None,
        session_id: None,
        auth_time: None,
        poll_interval: s.device_code_interval as i32,
        last_polled_at: None,
        expires_at: now + Duration::seconds(s.device_code_expires_in),
        created_at: now,
    };
    store::insert_device_code(&state.db, &row).await?;
    let verification_uri = super::authorize::resolve_page(state, &s.device_page);
    let verification_uri_complete =
        crate::http::redirect::location(&verification_uri, &[("user_code", &user_code)])
            .unwrap_or_else(|| verification_uri.clone());
    Ok(OAuthDeviceAuthorizationResponse {
        device_code,
        user_code,
        verification_uri,
        verification_uri_complete,
        expires_in: s.device_code_expires_in,
        interval: s.device_code_interval,
    })
}

async fn live_by_user_code(state: &AppState, user_code: &str) -> Result<DeviceCodeRow, OAuthError> {
    let row = store::device_code_by_user(&state.db, &user_code_hash(user_code))
        .await?
        .ok_or_else(|| OAuthError::invalid_request("The user code is not valid"))?;
    if row.expires_at < state.now() {
        return Err(OAuthError::new(
            400,
            "expired_token",
            "The user code has expired",
        ));
    }
    Ok(row)
}

/// The signed-in user entered `user_code` on the device page: it is now
/// theirs to decide on, unless another user entered it first.
pub async fn enter(
    state: &AppState,
    user: &super::authorize::SignedIn,
    user_code: &str,
) -> Result<OAuthDeviceVerificationResponse, OAuthError> {
    let row = live_by_user_code(state, user_code).await?;
    if row.status == PENDING {
        let auth_time = chrono::DateTime::from_timestamp(user.auth_time, 0)
            .map(|d| d.naive_utc())
            .unwrap_or_else(|| state.now());
        if !store::bind_device_code(
            &state.db,
            &row.id,
            &user.user_id,
            &user.session_id,
            auth_time,
        )
        .await?
        {
            return Err(taken());
        }
    } else if row.user_id.as_deref() != Some(user.user_id.as_str()) {
        return Err(taken());
    }
    let client = store::client(&state.db, &row.client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_request("The user code is not valid"))?;
    let scopes: Vec<String> = serde_json::from_str(&row.scopes).unwrap_or_default();
    Ok(OAuthDeviceVerificationResponse {
        user_code: format_user_code(&normalize_user_code(user_code)),
        status: row.status,
        client_id: client.client_id,
        client_name: client.name,
        scope: scopes.join(" "),
    })
}

fn format_user_code(n: &str) -> String {
    if n.len() == USER_CODE_LEN {
        format!("{}-{}", &n[..4], &n[4..])
    } else {
        n.to_string()
    }
}

fn taken() -> OAuthError {
    OAuthError::new(
        403,
        "access_denied",
        "Another user entered this code: only that user may decide on it",
    )
}

/// Approves or denies a code. The code must be pending and entered by
/// this user; one not entered yet is entered by this decision.
pub async fn decide(
    state: &AppState,
    user: &super::authorize::SignedIn,
    user_code: &str,
    approve: bool,
) -> Result<(), OAuthError> {
    enter(state, user, user_code).await?;
    let row = live_by_user_code(state, user_code).await?;
    let status = if approve { APPROVED } else { DENIED };
    if !store::decide_device_code(&state.db, &row.id, &user.user_id, status).await? {
        return Err(if row.status != PENDING {
            OAuthError::invalid_request(format!("The code was already {}", row.status))
        } else {
            taken()
        });
    }
    tracing::info!(client_id = %row.client_id, status, "device authorization decided");
    Ok(())
}

/// The token endpoint's device-code grant (RFC 8628 §3.4, §3.5).
pub async fn redeem(
    state: &AppState,
    s: &OAuthProviderSettings,
    client: &ClientRow,
    body: &Map<String, Value>,
) -> Result<OAuthTokenResponse, OAuthError> {
    let device_code = body
        .get("device_code")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("device_code is required"))?;
    let row = store::device_code_by_device(&state.db, &token::hash_token(device_code))
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("The device code is invalid"))?;
    if row.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "The device code was issued to another client",
        ));
    }
    let now = state.now();
    if row.expires_at < now {
        return Err(OAuthError::new(
            400,
            "expired_token",
            "The device code has expired",
        ));
    }
    match row.status.as_str() {
        DENIED => {
            return Err(OAuthError::new(
                400,
                "access_denied",
                "The user denied the request",
            ))
        }
        REDEEMED => {
            return Err(OAuthError::invalid_grant(
                "The device code was already used",
            ))
        }
        _ => {}
    }
    if !store::poll_device_code(&state.db, &row.id, now, row.poll_interval).await? {
        return Err(OAuthError::new(
            400,
            "slow_down",
            format!(
                "Polled sooner than every {} seconds: wait {} seconds from now on",
                row.poll_interval,
                row.poll_interval + 5
            ),
        ));
    }
    if row.status == PENDING {
        return Err(OAuthError::new(
            400,
            "authorization_pending",
            "The user has not decided yet",
        ));
    }
    if !store::transition_device_code(&state.db, &row.id, APPROVED, REDEEMED).await? {
        return Err(OAuthError::invalid_grant(
            "The device code was already used",
        ));
    }
    let user_id = row.user_id.clone().ok_or_else(OAuthError::server_error)?;
    let user = crate::db::store::find_user_by_id(&state.db, &user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("The user no longer exists"))?;
    let scopes: Vec<String> = serde_json::from_str(&row.scopes).unwrap_or_default();
    tokens::issue(
        state,
        s,
        client,
        Issue {
            user: Some(&user),
            session_id: row.session_id.clone(),
            grant_id: row.id.clone(),
            refresh_scopes: scopes.clone(),
            with_refresh: scopes.iter().any(|x| x == super::settings::OFFLINE_ACCESS),
            scopes,
            nonce: None,
            auth_time: row.auth_time.map(|t| t.and_utc().timestamp()),
            audience: Vec::new(),
            actor: None,
            expires_at_most: None,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_typed_loosely() {
        let code = new_user_code();
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
        assert!(code
            .chars()
            .filter(|c| *c != '-')
            .all(|c| USER_CODE_ALPHABET.contains(&(c as u8))));
        assert_eq!(normalize_user_code("bcdf-ghjk"), "BCDFGHJK");
        assert_eq!(normalize_user_code(" BCDF GHJK "), "BCDFGHJK");
        assert_eq!(user_code_hash("bcdf ghjk"), user_code_hash("BCDF-GHJK"));
    }
}
