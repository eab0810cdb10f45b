//! Changing the email address: a link to the new address (and, optionally,
//! first a confirmation by the old one). Links go through `GET /verify-email`.

use std::sync::Arc;

use poem_openapi::Object;
use serde_json::json;

use crate::core::links;
use crate::core::session::require_session;
use crate::core::validate::is_valid_email;
use crate::crypto::token;
use crate::db::store;
use crate::error::{codes, ApiError};
use crate::http::context::RequestContext;
use crate::mail::templates;
use crate::state::AppState;

pub const PURPOSE: &str = "change-email";

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ChangeEmailBody {
    pub new_email: String,
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
}

/// `POST /change-email`.
pub async fn change_email(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    body: &ChangeEmailBody,
) -> Result<(), ApiError> {
    if !state.config.user.change_email_enabled {
        return Err(ApiError::new(codes::CHANGE_EMAIL_DISABLED));
    }
    let s = require_session(state, ctx).await?;
    if !is_valid_email(&body.new_email) {
        return Err(ApiError::validation(
            "[body.newEmail] Invalid email address",
        ));
    }
    let to = body.new_email.to_lowercase();
    if to == s.user.email {
        return Err(ApiError::new(codes::EMAIL_IS_THE_SAME));
    }
    if !state.mailer.enabled() {
        return Err(ApiError::new(codes::VERIFICATION_EMAIL_NOT_ENABLED));
    }
    // A taken address gets the same answer and nothing is sent.
    if store::find_user_by_email(&state.db, &to).await?.is_some() {
        return Ok(());
    }
    let (step, recipient) = if state.config.user.change_email_confirm_old {
        ("confirm", s.user.email.clone())
    } else {
        ("verify", to.clone())
    };
    send_link(
        state,
        &s.user.id,
        &s.user.email,
        &to,
        step,
        &recipient,
        body.callback_url.as_deref(),
    )
    .await
}

async fn send_link(
    state: &AppState,
    user_id: &str,
    from: &str,
    to: &str,
    step: &str,
    recipient: &str,
    callback_url: Option<&str>,
) -> Result<(), ApiError> {
    let value = json!({ "userId": user_id, "from": from, "to": to, "step": step, "callbackURL": callback_url }).to_string();
    let ttl = state.config.email_verification.expires_in;
    let raw = links::issue(state, PURPOSE, token::random_alphanumeric(32), &value, ttl).await?;
    let url = links::api_url(
        state,
        &format!(
            "/verify-email?token={raw}&callbackURL={}",
            links::enc(callback_url.unwrap_or("/"))
        ),
    );
    if step == "confirm" {
        links::mail(state, &templates::CHANGE_EMAIL_CONFIRM, recipient, &url);
    } else {
        links::mail(state, &templates::VERIFY_EMAIL, recipient, &url);
    }
    Ok(())
}

/// Applies a consumed change-email token: a confirmation mails the new
/// address; a verification moves the user to it. Returns the user id.
pub async fn apply(state: &AppState, value: &str) -> Result<String, ApiError> {
    let invalid = || ApiError::new(codes::INVALID_TOKEN).with_status(401);
    let v: serde_json::Value = serde_json::from_str(value).map_err(|_| invalid())?;
    let (Some(user_id), Some(from), Some(to), Some(step)) = (
        v["userId"].as_str(),
        v["from"].as_str(),
        v["to"].as_str(),
        v["step"].as_str(),
    ) else {
        return Err(invalid());
    };
    match step {
        "confirm" => {
            send_link(
                state,
                user_id,
                from,
                to,
                "verify",
                to,
                v["callbackURL"].as_str(),
            )
            .await?
        }
        _ => {
            let moved = store::update_user_email(&state.db, user_id, from, to, state.now())
                .await
                .map_err(|e| {
                    if e.is_unique_violation() {
                        ApiError::new(codes::INVALID_TOKEN).with_status(401)
                    } else {
                        ApiError::from(e)
                    }
                })?;
            if !moved {
                return Err(invalid());
            }
            state.sessions.invalidate_user(user_id);
        }
    }
    Ok(user_id.to_string())
}
