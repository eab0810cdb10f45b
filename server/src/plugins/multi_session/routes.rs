//! `GET /multi-session/list-device-sessions`, `POST /multi-session/set-active`,
//! `POST /multi-session/revoke`.

use std::collections::HashSet;
use std::sync::Arc;

use poem::web::Data;
use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::{delete_session, live_session, presented, INVALID_SESSION_TOKEN};
use crate::core::dto::{SessionWithUser, StatusResponse};
use crate::core::session::{
    expire_session_cookies, require_session, session_json, set_session_cookies, user_json,
};
use crate::docs::{RouteAuth, RouteDoc};
use crate::error::{ApiError, ApiResult};
use crate::http::context::{request_context, RequestContext};
use crate::plugin::PluginApi;
use crate::state::AppState;

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct MultiSessionTokenBody {
    /// The token of one of the browser's sessions (from list-device-sessions).
    pub session_token: String,
}

pub struct MultiSessionApi;

impl PluginApi for MultiSessionApi {
    const ID: &'static str = super::ID;
    const DESCRIPTION: &'static str = super::DESCRIPTION;
}

pub const ROUTE_DOCS: &[RouteDoc] = &[
    RouteDoc {
        operation_id: "listDeviceSessions",
        auth: RouteAuth::Optional,
        errors: &[],
    },
    RouteDoc {
        operation_id: "setActiveSession",
        auth: RouteAuth::Optional,
        errors: &[INVALID_SESSION_TOKEN],
    },
    RouteDoc {
        operation_id: "revokeDeviceSession",
        auth: RouteAuth::Session,
        errors: &[INVALID_SESSION_TOKEN],
    },
];

/// The session a browser's `_multi-` cookie for `session_token` names, or
/// 401 `INVALID_SESSION_TOKEN` (and that cookie expired). The cookie must
/// be signed by this server and name exactly this token.
async fn held_session(
    state: &AppState,
    ctx: &RequestContext,
    session_token: &str,
) -> Result<
    (
        String,
        crate::db::models::SessionRow,
        crate::db::models::UserRow,
    ),
    ApiError,
> {
    let wanted = super::cookie_name(state, session_token);
    let cookie = presented(state, ctx).into_iter().find(|c| c.name == wanted);
    let refuse = |name: Option<&str>| {
        if let Some(name) = name {
            ctx.set_cookie(name, state.cookies.expire(name));
        }
        ApiError::new(INVALID_SESSION_TOKEN)
    };
    let Some(cookie) = cookie else {
        return Err(refuse(None));
    };
    let Some(token) = cookie.token.filter(|t| t == session_token) else {
        return Err(refuse(Some(&cookie.name)));
    };
    match live_session(state, &token).await? {
        Some((session, user)) => Ok((token, session, user)),
        None => Err(refuse(Some(&cookie.name))),
    }
}

#[OpenApi]
impl MultiSessionApi {
    /// The browser's sessions
    ///
    /// One entry per account this browser is signed in to (`[]` when none).
    #[oai(
        path = "/multi-session/list-device-sessions",
        method = "get",
        operation_id = "listDeviceSessions"
    )]
    async fn list_device_sessions(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> ApiResult<Vec<SessionWithUser>> {
        let ctx = request_context(req);
        let mut live = Vec::new();
        for cookie in presented(&state, &ctx) {
            let Some(token) = cookie.token else { continue };
            if let Some((session, user)) = live_session(&state, &token).await? {
                live.push((token, session, user));
            }
        }
        // Oldest first: the order a browser sends cookies in, which Better Auth follows.
        live.sort_by_key(|(_, session, _)| session.created_at);
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (token, session, user) in live {
            if !seen.insert(user.id.clone()) {
                continue;
            }
            out.push(SessionWithUser {
                session: session_json(&state, &session, token).await?,
                user: user_json(&state, &user).await?,
            });
        }
        Ok(Json(out))
    }

    /// Switch the active session
    ///
    /// Makes one of the browser's sessions the active one.
    #[oai(
        path = "/multi-session/set-active",
        method = "post",
        operation_id = "setActiveSession"
    )]
    async fn set_active(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<MultiSessionTokenBody>,
    ) -> ApiResult<SessionWithUser> {
        let ctx = request_context(req);
        let (token, session, user) = held_session(&state, &ctx, &body.session_token).await?;
        set_session_cookies(&state, &ctx, &token, true);
        Ok(Json(SessionWithUser {
            session: session_json(&state, &session, token).await?,
            user: user_json(&state, &user).await?,
        }))
    }

    /// Revoke one of the browser's sessions
    ///
    /// When it was the active one, the next of the browser's sessions becomes active.
    #[oai(
        path = "/multi-session/revoke",
        method = "post",
        operation_id = "revokeDeviceSession"
    )]
    async fn revoke(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<MultiSessionTokenBody>,
    ) -> ApiResult<StatusResponse> {
        let ctx = request_context(req);
        let current = require_session(&state, &ctx).await?;
        let (token, _, _) = held_session(&state, &ctx, &body.session_token).await?;
        delete_session(&state, &token).await?;
        let revoked_name = super::cookie_name(&state, &token);
        ctx.set_cookie(&revoked_name, state.cookies.expire(&revoked_name));
        if current.token == token {
            let mut next = None;
            for cookie in presented(&state, &ctx) {
                let Some(t) = cookie.token.filter(|t| *t != token) else {
                    continue;
                };
                if live_session(&state, &t).await?.is_some() {
                    next = Some(t);
                    break;
                }
            }
            match next {
                Some(t) => set_session_cookies(&state, &ctx, &t, true),
                None => expire_session_cookies(&state, &ctx),
            }
        }
        Ok(Json(StatusResponse { status: true }))
    }
}
