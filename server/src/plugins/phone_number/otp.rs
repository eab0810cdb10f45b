//! One-time codes: issued per (purpose, number), kept as an HMAC under the
//! server secret, spent once. Every guess first takes an attempt with one
//! conditional UPDATE (see [`store::take_attempt`]), so concurrent guesses
//! cannot exceed `allowed_attempts`; the code is compared only after that.
//! Answers follow Better Auth: no code `OTP_NOT_FOUND`, expired
//! `OTP_EXPIRED`, wrong `INVALID_OTP`, past the allowed attempts
//! `TOO_MANY_ATTEMPTS` (the code is then gone).

use std::sync::Arc;
use std::time::Duration;

use subtle::ConstantTimeEq;

use super::errors;
use super::settings::PhoneNumberSettings;
use super::sms::{self, SmsKind, SmsMessage};
use super::store;
use crate::crypto::{sign, token};
use crate::error::ApiError;
use crate::state::AppState;

/// The stored name of a code: a hash, so numbers do not sit in the table in clear.
fn identifier(kind: SmsKind, phone: &str) -> String {
    token::hash_token(&format!("phone-number:{}:{phone}", kind.as_str()))
}

/// Keyed, so a copy of the table alone does not give the codes away (six
/// digits are quickly found from a plain hash).
fn code_hash(state: &AppState, identifier: &str, code: &str) -> String {
    sign::signature(
        &state.secret,
        &format!("phone-number-otp:{identifier}:{code}"),
    )
}

/// Whether codes can be delivered at all (a relay, or the development log).
pub fn can_send(state: &AppState) -> bool {
    state.settings::<PhoneNumberSettings>().sender.0.is_some()
}

/// Issues a code for (kind, phone), replacing any earlier one, and sends it
/// in the background.
pub async fn issue(state: &AppState, kind: SmsKind, phone: &str) -> Result<(), ApiError> {
    let cfg = state.settings::<PhoneNumberSettings>();
    let Some(sender) = cfg.sender.0.clone() else {
        return Err(ApiError::new(errors::SEND_OTP_NOT_IMPLEMENTED));
    };
    let code = store_new_code(state, kind, phone).await?;
    let timeout = Duration::from_secs(cfg.sms.timeout.unwrap_or(10));
    sms::send_later(
        Arc::clone(&sender),
        SmsMessage {
            to: phone.to_string(),
            code,
            kind,
        },
        timeout,
    );
    Ok(())
}

/// Stores a fresh code for (kind, phone), replacing any earlier one, and
/// returns it. Alone (nothing sent), it makes a number without an account
/// answer later guesses exactly like one with an account.
pub async fn store_new_code(
    state: &AppState,
    kind: SmsKind,
    phone: &str,
) -> Result<String, ApiError> {
    let cfg = state.settings::<PhoneNumberSettings>();
    let code = token::random_digits(cfg.otp_length);
    let id = identifier(kind, phone);
    let now = state.now();
    store::put_code(
        &state.db,
        &id,
        &code_hash(state, &id, &code),
        now + chrono::Duration::seconds(cfg.expires_in),
        now,
    )
    .await?;
    Ok(code)
}

/// Checks `code` and spends it when right.
pub async fn verify(
    state: &AppState,
    kind: SmsKind,
    phone: &str,
    code: &str,
) -> Result<(), ApiError> {
    let cfg = state.settings::<PhoneNumberSettings>();
    let allowed = i32::try_from(cfg.allowed_attempts).unwrap_or(i32::MAX);
    let id = identifier(kind, phone);
    let now = state.now();
    let Some((stored, expires_at)) = store::take_attempt(&state.db, &id, allowed).await? else {
        // No attempt left, or no code: say which, and drop a dead code.
        let found = store::find_code(&state.db, &id).await?;
        store::delete_dead_code(&state.db, &id, allowed, now).await?;
        return Err(match found {
            None => ApiError::new(errors::OTP_NOT_FOUND),
            Some((_, expires)) if expires <= now => ApiError::new(errors::OTP_EXPIRED),
            Some(_) => ApiError::new(errors::TOO_MANY_ATTEMPTS),
        });
    };
    if expires_at <= now {
        store::delete_dead_code(&state.db, &id, allowed, now).await?;
        return Err(ApiError::new(errors::OTP_EXPIRED));
    }
    let given = code_hash(state, &id, code);
    if !bool::from(given.as_bytes().ct_eq(stored.as_bytes())) {
        return Err(ApiError::new(errors::INVALID_OTP));
    }
    // Right: spent here, once; a concurrent request with the same code loses.
    if store::spend_code(&state.db, &id, &stored).await? {
        Ok(())
    } else {
        Err(ApiError::new(errors::INVALID_OTP))
    }
}
