//! One-time links, shared by every mailed flow: a random token stored as a
//! hash under its purpose (`verify-email:<hash>`...) in `verification`, a URL
//! under the API base, and a templated mail carrying it.

use chrono::{Duration, NaiveDateTime};

use crate::crypto::token;
use crate::error::ApiError;
use crate::mail::templates::{self, MailKind};
use crate::mail::OutgoingMail;
use crate::state::AppState;

fn identifier(purpose: &str, raw: &str) -> String {
    format!("{purpose}:{}", token::hash_token(raw))
}

/// Stores `raw` for `purpose` with `value`, valid for `ttl_secs`; returns `raw`.
pub async fn issue(
    state: &AppState,
    purpose: &str,
    raw: String,
    value: &str,
    ttl_secs: i64,
) -> Result<String, ApiError> {
    let now = state.now();
    crate::shared::verification::create(
        state,
        &identifier(purpose, &raw),
        value,
        now + Duration::seconds(ttl_secs),
        now,
    )
    .await?;
    Ok(raw)
}

/// Takes a token of `purpose` (value, expiry); exactly one caller gets it.
pub async fn consume(
    state: &AppState,
    purpose: &str,
    raw: &str,
) -> Result<Option<(String, NaiveDateTime)>, ApiError> {
    Ok(crate::shared::verification::consume(state, &identifier(purpose, raw)).await?)
}

/// Reads a token of `purpose` without taking it.
pub async fn peek(
    state: &AppState,
    purpose: &str,
    raw: &str,
) -> Result<Option<(String, NaiveDateTime)>, ApiError> {
    Ok(crate::shared::verification::find(state, &identifier(purpose, raw)).await?)
}

/// `{base_url}{base_path}{path_and_query}`: the absolute link users click.
pub fn api_url(state: &AppState, path_and_query: &str) -> String {
    format!(
        "{}{}{path_and_query}",
        state.config.base_url(),
        state.config.base_path
    )
}

/// `encodeURIComponent` for query values.
pub fn enc(s: &str) -> String {
    crate::http::cookies::encode_uri_component(s)
}

/// Renders the configured template (or the default) and queues the mail.
pub fn mail(state: &AppState, kind: &MailKind, to: &str, url: &str) {
    let template = state
        .config
        .mail
        .templates
        .get(kind.key)
        .cloned()
        .unwrap_or_else(kind.default);
    let r = templates::render(&template, &state.config.app_name, url, to);
    state.mailer.send_later(OutgoingMail {
        kind: kind.key,
        to: to.to_string(),
        subject: r.subject,
        text: r.text,
        html: r.html,
    });
}
