//! `POST /sign-in/anonymous` and `POST /delete-anonymous-user`.

use std::sync::Arc;

use poem::web::Data;
use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;

use super::errors as e;
use super::settings::AnonymousSettings;
use super::store;
use crate::core::dto::{SuccessResponse, TokenUserResponse};
use crate::core::session::{
    create_session, expire_session_cookies, require_fresh_session, resolve_session, user_json,
    ResolveOptions,
};
use crate::crypto::token;
use crate::db::models::UserRow;
use crate::db::store as core_store;
use crate::docs::{RouteAuth, RouteDoc};
use crate::error::{codes, ApiError, ApiResult};
use crate::http::context::request_context;
use crate::plugin::PluginApi;
use crate::state::AppState;
use crate::{in_transaction, with_conn};

pub struct AnonymousApi;

impl PluginApi for AnonymousApi {
    const ID: &'static str = super::ID;
    const DESCRIPTION: &'static str = super::DESCRIPTION;
}

pub const ROUTE_DOCS: &[RouteDoc] = &[
    RouteDoc {
        operation_id: "signInAnonymous",
        auth: RouteAuth::Optional,
        errors: &[e::ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY],
    },
    RouteDoc {
        operation_id: "deleteAnonymousUser",
        auth: RouteAuth::Session,
        errors: &[
            codes::SESSION_NOT_FRESH,
            e::USER_IS_NOT_ANONYMOUS,
            e::DELETE_ANONYMOUS_USER_DISABLED,
        ],
    },
];

/// The placeholder address of a new anonymous user.
fn placeholder_email(settings: &AnonymousSettings, id: &str) -> String {
    match &settings.email_domain_name {
        Some(domain) => format!("temp-{id}@{domain}").to_lowercase(),
        None => format!("{id}@anonymous.placeholder.invalid").to_lowercase(),
    }
}

#[OpenApi]
impl AnonymousApi {
    /// Sign in as a guest
    ///
    /// Creates an anonymous user (`isAnonymous: true`, name "Anonymous") and its session.
    #[oai(
        path = "/sign-in/anonymous",
        method = "post",
        operation_id = "signInAnonymous"
    )]
    async fn sign_in_anonymous(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> ApiResult<TokenUserResponse> {
        let ctx = request_context(req);
        let current = resolve_session(
            &state,
            &ctx,
            ResolveOptions {
                disable_refresh: true,
            },
        )
        .await?;
        if let Some(current) = current {
            if store::is_anonymous(&state.db, &current.user.id).await? {
                return Err(ApiError::new(
                    e::ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY,
                ));
            }
        }
        let settings = state.settings::<AnonymousSettings>();
        let now = state.now();
        let id = token::new_id();
        let user = UserRow {
            id: id.clone(),
            name: "Anonymous".into(),
            email: placeholder_email(&settings, &id),
            email_verified: false,
            image: None,
            created_at: now,
            updated_at: now,
        };
        let created: Result<(), ApiError> = with_conn!(&state.db, |conn| {
            in_transaction!(conn, {
                core_store::insert_user(conn.into(), &user).await?;
                store::mark_anonymous(conn.into(), &user.id).await?;
                Ok::<_, ApiError>(())
            })
        });
        created?;
        let (_, token) = create_session(&state, &ctx, &user.id, true).await?;
        Ok(Json(TokenUserResponse {
            token: Some(token),
            user: user_json(&state, &user).await?,
        }))
    }

    /// Delete the anonymous user
    ///
    /// The signed-in anonymous user and everything it holds; the cookies are cleared.
    #[oai(
        path = "/delete-anonymous-user",
        method = "post",
        operation_id = "deleteAnonymousUser"
    )]
    async fn delete_anonymous_user(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> ApiResult<SuccessResponse> {
        let ctx = request_context(req);
        let session = require_fresh_session(&state, &ctx).await?;
        let settings = state.settings::<AnonymousSettings>();
        if settings.disable_delete_anonymous_user {
            return Err(ApiError::new(e::DELETE_ANONYMOUS_USER_DISABLED));
        }
        if !store::is_anonymous(&state.db, &session.user.id).await? {
            return Err(ApiError::new(e::USER_IS_NOT_ANONYMOUS));
        }
        core_store::delete_user(&state.db, &session.user.id).await?;
        state.sessions.invalidate_user(&session.user.id);
        expire_session_cookies(&state, &ctx);
        Ok(Json(SuccessResponse { success: true }))
    }
}
