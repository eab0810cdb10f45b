//! `multi-session`: one browser holds several accounts. Every new session
//! also gets a signed `<session cookie>_multi-<token>` cookie; the routes
//! list those sessions, switch the active one and revoke one; sign-out
//! ends them all.

pub mod routes;

use futures_util::future::BoxFuture;
use poem::Response;
use serde::{Deserialize, Serialize};

pub use routes::MultiSessionApi;

use crate::crypto::{sign, token};
use crate::db::models::{SessionRow, UserRow};
use crate::db::store;
use crate::error::{ApiError, ErrorCode};
use crate::http::context::RequestContext;
use crate::plugin::Plugin;
use crate::state::AppState;

/// The plugin's id: its spec tag, `/plugins` entry, configuration section and client namespace.
pub const ID: &str = "multi-session";
pub const DESCRIPTION: &str =
    "Several signed-in accounts in one browser: list them, switch the active one, revoke one; sign-out ends them all.";

pub const INVALID_SESSION_TOKEN: ErrorCode = ErrorCode {
    code: "INVALID_SESSION_TOKEN",
    message: "Invalid session token",
    status: 401,
};

pub struct MultiSession;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultiSessionSettings {
    /// At most this many accounts per browser (Better Auth: 5).
    pub maximum_sessions: usize,
}

impl Default for MultiSessionSettings {
    fn default() -> Self {
        MultiSessionSettings {
            maximum_sessions: 5,
        }
    }
}

impl Plugin for MultiSession {
    fn id(&self) -> &'static str {
        ID
    }

    fn description(&self) -> &'static str {
        DESCRIPTION
    }

    fn configure(
        &self,
        section: Option<&toml::Value>,
        _config: &crate::config::Config,
    ) -> Result<Option<crate::plugin::Settings>, String> {
        let settings: MultiSessionSettings = crate::plugin::parse_section(section)?;
        if settings.maximum_sessions == 0 {
            return Err("maximum_sessions must be at least 1".into());
        }
        Ok(Some(crate::plugin::Settings::new(settings)))
    }

    fn error_codes(&self) -> &'static [ErrorCode] {
        &[INVALID_SESSION_TOKEN]
    }

    fn route_docs(&self) -> &'static [crate::docs::RouteDoc] {
        routes::ROUTE_DOCS
    }

    fn after_response<'a>(
        &'a self,
        state: &'a AppState,
        ctx: &'a RequestContext,
        path: &'a str,
        _resp: &'a mut Response,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let outcome = if path == "/sign-out" {
                end_all(state, ctx).await
            } else {
                remember_new_session(state, ctx).await
            };
            if let Err(e) = outcome {
                tracing::error!(code = %e.code, "multi-session cookies not updated");
            }
        })
    }
}

/// `<session cookie name>_multi-`: the prefix of every multi-session cookie.
fn cookie_prefix(state: &AppState) -> String {
    format!("{}_multi-", state.cookies.session_token)
}

fn cookie_name(state: &AppState, token: &str) -> String {
    format!("{}{}", cookie_prefix(state), token.to_lowercase())
}

/// A multi-session cookie the request carried.
pub(crate) struct Presented {
    pub name: String,
    /// The session token inside, when the signature holds and the name matches it.
    pub token: Option<String>,
}

/// Every `_multi-` cookie of the request, in a stable order.
pub(crate) fn presented(state: &AppState, ctx: &RequestContext) -> Vec<Presented> {
    let prefix = cookie_prefix(state);
    let mut out: Vec<Presented> = ctx
        .cookies
        .iter()
        .filter_map(|(name, value)| {
            let suffix = name.strip_prefix(&prefix)?;
            let token =
                sign::verify_signed(&state.secret, value).filter(|t| t.to_lowercase() == suffix);
            Some(Presented {
                name: name.clone(),
                token,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The live session a token names.
pub(crate) async fn live_session(
    state: &AppState,
    raw_token: &str,
) -> Result<Option<(SessionRow, UserRow)>, ApiError> {
    let found = store::find_session_with_user(&state.db, &token::hash_token(raw_token)).await?;
    Ok(found.filter(|(s, _)| s.expires_at > state.now()))
}

pub(crate) async fn delete_session(state: &AppState, raw_token: &str) -> Result<(), ApiError> {
    let hash = token::hash_token(raw_token);
    state.sessions.invalidate_token(&hash);
    store::delete_session_by_hash(&state.db, &hash).await?;
    Ok(())
}

/// A session cookie this response sets (a sign-in or sign-up of any kind,
/// or a route that re-issues the cookie, such as update-user) joins the
/// browser's set unless the browser already holds it: the browser's older
/// sessions of the same user end, and past `maximum_sessions` it is not
/// added. Cookies of sessions that no longer exist are left alone, as Better
/// Auth does (they name nothing and list-device-sessions skips them).
async fn remember_new_session(state: &AppState, ctx: &RequestContext) -> Result<(), ApiError> {
    let (token, user_id) = match ctx.created_session() {
        // A new token: the browser cannot hold its cookie yet.
        Some(created) => (created.token, created.user_id),
        None => {
            let Some(token) = ctx
                .issued_session()
                .and_then(|signed| sign::verify_signed(&state.secret, &signed))
            else {
                return Ok(());
            };
            if ctx.cookies.contains_key(&cookie_name(state, &token)) {
                return Ok(());
            }
            // A re-issued cookie (update-user, a refresh) names the session
            // the request resolved: no second lookup.
            let user_id = match ctx.resolved_session().filter(|s| s.token == token) {
                Some(resolved) => resolved.user.id,
                None => match live_session(state, &token).await? {
                    Some((session, _)) => session.user_id,
                    None => return Ok(()),
                },
            };
            (token, user_id)
        }
    };
    let name = cookie_name(state, &token);
    let settings = state.settings::<MultiSessionSettings>();
    let mut others = 0;
    for cookie in presented(state, ctx) {
        let Some(other) = cookie.token else { continue };
        match live_session(state, &other).await? {
            Some((session, _)) if session.user_id == user_id => {
                delete_session(state, &other).await?;
                ctx.set_cookie(&cookie.name, state.cookies.expire(&cookie.name));
            }
            Some(_) => others += 1,
            None => {}
        }
    }
    if others >= settings.maximum_sessions {
        return Ok(());
    }
    let value = sign::sign_value(&state.secret, &token);
    let max_age = Some(state.config.session.expires_in);
    ctx.set_cookie(&name, state.cookies.set_cookie(&name, &value, max_age));
    Ok(())
}

/// Sign-out ends every session the browser holds.
async fn end_all(state: &AppState, ctx: &RequestContext) -> Result<(), ApiError> {
    for cookie in presented(state, ctx) {
        if let Some(token) = &cookie.token {
            delete_session(state, token).await?;
        }
        ctx.set_cookie(&cookie.name, state.cookies.expire(&cookie.name));
    }
    Ok(())
}
