//! The core HTTP surface. Handlers are thin: context, call the service
//! function, wrap the result.

use std::sync::Arc;

use poem::web::Data;
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Html, Json};
use poem_openapi::{OpenApi, Tags};

use crate::core::dto::*;
use crate::core::session::{resolve_session, ResolveOptions};
use crate::core::{auth, change_email, email_verification, password_reset, user};
use crate::docs::{RouteAuth, RouteDoc};
use crate::error::{codes, ApiError, ApiResult};
use crate::http::context::request_context;
use crate::state::AppState;

#[derive(Tags)]
#[oai(rename_all = "kebab-case")]
pub enum CoreTags {
    /// Built-in email/password authentication, sessions and account routes.
    Core,
}

pub struct CoreApi;

/// What each core operation can answer besides the pipeline's common codes.
pub const ROUTE_DOCS: &[RouteDoc] = &[
    RouteDoc {
        operation_id: "signUpEmail",
        auth: RouteAuth::Public,
        errors: &[
            codes::SERVER_BUSY,
            codes::PASSWORD_TOO_SHORT,
            codes::PASSWORD_TOO_LONG,
            codes::EMAIL_PASSWORD_SIGN_UP_DISABLED,
            codes::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL,
            codes::FAILED_TO_CREATE_USER,
            codes::FAILED_TO_CREATE_SESSION,
            codes::CROSS_SITE_NAVIGATION_LOGIN_BLOCKED,
            codes::INVALID_CALLBACK_URL,
        ],
    },
    RouteDoc {
        operation_id: "signInEmail",
        auth: RouteAuth::Public,
        errors: &[
            codes::SERVER_BUSY,
            codes::INVALID_EMAIL,
            codes::INVALID_EMAIL_OR_PASSWORD,
            codes::EMAIL_NOT_VERIFIED,
            codes::EMAIL_PASSWORD_DISABLED,
            codes::FAILED_TO_CREATE_SESSION,
            codes::CROSS_SITE_NAVIGATION_LOGIN_BLOCKED,
            codes::INVALID_CALLBACK_URL,
        ],
    },
    RouteDoc {
        operation_id: "signOut",
        auth: RouteAuth::Optional,
        errors: &[codes::INVALID_CALLBACK_URL],
    },
    RouteDoc {
        operation_id: "getSession",
        auth: RouteAuth::Optional,
        errors: &[codes::INVALID_CALLBACK_URL],
    },
    RouteDoc {
        operation_id: "listSessions",
        auth: RouteAuth::Session,
        errors: &[codes::SESSION_NOT_FRESH],
    },
    RouteDoc {
        operation_id: "revokeSession",
        auth: RouteAuth::Session,
        errors: &[],
    },
    RouteDoc {
        operation_id: "revokeSessions",
        auth: RouteAuth::Session,
        errors: &[],
    },
    RouteDoc {
        operation_id: "revokeOtherSessions",
        auth: RouteAuth::Session,
        errors: &[],
    },
    RouteDoc {
        operation_id: "updateUser",
        auth: RouteAuth::Session,
        errors: &[codes::EMAIL_CAN_NOT_BE_UPDATED, codes::NO_FIELDS_TO_UPDATE],
    },
    RouteDoc {
        operation_id: "changePassword",
        auth: RouteAuth::Session,
        errors: &[
            codes::SERVER_BUSY,
            codes::INVALID_PASSWORD,
            codes::CREDENTIAL_ACCOUNT_NOT_FOUND,
            codes::PASSWORD_TOO_SHORT,
            codes::PASSWORD_TOO_LONG,
            codes::FAILED_TO_CREATE_SESSION,
        ],
    },
    RouteDoc {
        operation_id: "setPassword",
        auth: RouteAuth::Session,
        errors: &[
            codes::SERVER_BUSY,
            codes::PASSWORD_ALREADY_SET,
            codes::PASSWORD_TOO_SHORT,
            codes::PASSWORD_TOO_LONG,
            codes::SESSION_NOT_FRESH,
        ],
    },
    RouteDoc {
        operation_id: "deleteUser",
        auth: RouteAuth::Session,
        errors: &[
            codes::SERVER_BUSY,
            codes::NOT_FOUND,
            codes::INVALID_PASSWORD,
            codes::CREDENTIAL_ACCOUNT_NOT_FOUND,
            codes::USER_ALREADY_HAS_PASSWORD,
            codes::SESSION_EXPIRED,
            codes::INVALID_TOKEN,
            codes::INVALID_CALLBACK_URL,
        ],
    },
    RouteDoc {
        operation_id: "listAccounts",
        auth: RouteAuth::Session,
        errors: &[],
    },
    RouteDoc {
        operation_id: "sendVerificationEmail",
        auth: RouteAuth::Optional,
        errors: &[
            codes::VERIFICATION_EMAIL_NOT_ENABLED,
            codes::EMAIL_MISMATCH,
            codes::EMAIL_ALREADY_VERIFIED,
            codes::INVALID_CALLBACK_URL,
        ],
    },
    RouteDoc {
        operation_id: "verifyEmail",
        auth: RouteAuth::Optional,
        errors: &[
            codes::INVALID_TOKEN,
            codes::TOKEN_EXPIRED,
            codes::USER_NOT_FOUND,
            codes::INVALID_CALLBACK_URL,
        ],
    },
    RouteDoc {
        operation_id: "requestPasswordReset",
        auth: RouteAuth::Public,
        errors: &[codes::RESET_PASSWORD_DISABLED, codes::INVALID_REDIRECT_URL],
    },
    RouteDoc {
        operation_id: "forgetPassword",
        auth: RouteAuth::Public,
        errors: &[codes::RESET_PASSWORD_DISABLED, codes::INVALID_REDIRECT_URL],
    },
    RouteDoc {
        operation_id: "resetPasswordCallback",
        auth: RouteAuth::Public,
        errors: &[codes::INVALID_CALLBACK_URL],
    },
    RouteDoc {
        operation_id: "resetPassword",
        auth: RouteAuth::Public,
        errors: &[
            codes::SERVER_BUSY,
            codes::INVALID_TOKEN,
            codes::PASSWORD_TOO_SHORT,
            codes::PASSWORD_TOO_LONG,
            codes::USER_NOT_FOUND,
        ],
    },
    RouteDoc {
        operation_id: "deleteUserCallback",
        auth: RouteAuth::Optional,
        errors: &[
            codes::NOT_FOUND,
            codes::FAILED_TO_GET_USER_INFO,
            codes::INVALID_TOKEN,
            codes::INVALID_CALLBACK_URL,
        ],
    },
    RouteDoc {
        operation_id: "changeEmail",
        auth: RouteAuth::Session,
        errors: &[
            codes::CHANGE_EMAIL_DISABLED,
            codes::EMAIL_IS_THE_SAME,
            codes::VERIFICATION_EMAIL_NOT_ENABLED,
            codes::INVALID_CALLBACK_URL,
        ],
    },
    RouteDoc {
        operation_id: "ok",
        auth: RouteAuth::Public,
        errors: &[],
    },
    RouteDoc {
        operation_id: "ready",
        auth: RouteAuth::Public,
        errors: &[],
    },
    RouteDoc {
        operation_id: "errorPage",
        auth: RouteAuth::Public,
        errors: &[],
    },
    RouteDoc {
        operation_id: "listPlugins",
        auth: RouteAuth::Public,
        errors: &[],
    },
];

/// Better Auth's `z.coerce.boolean()`: any non-empty string is true.
fn coerced_bool(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.is_empty())
}

#[OpenApi(tag = "CoreTags::Core")]
impl CoreApi {
    /// Sign up with email and password
    ///
    /// Creates the user and its credential account, then (with auto sign-in)
    /// a session. Errors: `USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL` (422),
    /// `PASSWORD_TOO_SHORT`, `PASSWORD_TOO_LONG`, `VALIDATION_ERROR`,
    /// `EMAIL_PASSWORD_SIGN_UP_DISABLED` (400).
    #[oai(path = "/sign-up/email", method = "post", operation_id = "signUpEmail")]
    async fn sign_up_email(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<auth::SignUpEmailBody>,
    ) -> ApiResult<TokenUserResponse> {
        Ok(Json(
            auth::sign_up_email(&state, &request_context(req), &body).await?,
        ))
    }

    /// Sign in with email and password
    ///
    /// Errors: `INVALID_EMAIL_OR_PASSWORD` (401), `INVALID_EMAIL` (400),
    /// `EMAIL_PASSWORD_DISABLED` (400).
    #[oai(path = "/sign-in/email", method = "post", operation_id = "signInEmail")]
    async fn sign_in_email(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<auth::SignInEmailBody>,
    ) -> ApiResult<SignInResult> {
        Ok(Json(
            auth::sign_in_email(&state, &request_context(req), &body).await?,
        ))
    }

    /// Sign out
    ///
    /// Deletes the current session, if any, and expires the session cookies.
    #[oai(path = "/sign-out", method = "post", operation_id = "signOut")]
    async fn sign_out(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        _body: Json<auth::SignOutBody>,
    ) -> ApiResult<SuccessResponse> {
        auth::sign_out(&state, &request_context(req)).await?;
        Ok(Json(SuccessResponse { success: true }))
    }

    /// Get the current session
    ///
    /// Returns `{session, user}`, or `null` when signed out. Slides the
    /// expiry once `updateAge` has passed unless `disableRefresh` is set.
    #[oai(path = "/get-session", method = "get", operation_id = "getSession")]
    async fn get_session(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        #[oai(name = "disableRefresh")] disable_refresh: Query<Option<String>>,
        #[oai(name = "disableCookieCache")] disable_cookie_cache: Query<Option<String>>,
    ) -> ApiResult<Nullable<SessionWithUser>> {
        let ctx = request_context(req);
        ctx.set_header("cache-control", "no-store".into());
        ctx.set_header("pragma", "no-cache".into());
        let opts = ResolveOptions {
            disable_refresh: coerced_bool(&disable_refresh),
        };
        let cookie_cache = state.config.session.cookie_cache.enabled;
        if cookie_cache && !coerced_bool(&disable_cookie_cache) {
            if let Some(token) = ctx.session_token(&state) {
                if let Some(cached) = crate::core::cookie_cache::read(&state, &ctx, &token) {
                    return Ok(Json(Nullable(Some(cached))));
                }
            }
        }
        let Some(s) = resolve_session(&state, &ctx, opts).await? else {
            return Ok(Json(Nullable(None)));
        };
        if cookie_cache && ctx.session_token(&state).as_deref() == Some(s.token.as_str()) {
            crate::core::cookie_cache::write(&state, &ctx, &s);
        }
        Ok(Json(Nullable(Some(SessionWithUser {
            session: s.session_json(),
            user: s.user_json(),
        }))))
    }

    /// List the user's active sessions
    ///
    /// Requires a fresh session (`SESSION_NOT_FRESH`, 403). Other sessions'
    /// `token` is an opaque handle accepted by `revoke-session`.
    #[oai(path = "/list-sessions", method = "get", operation_id = "listSessions")]
    async fn list_sessions(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> ApiResult<Vec<SessionDto>> {
        Ok(Json(
            user::list_sessions(&state, &request_context(req)).await?,
        ))
    }

    /// Revoke one of the user's sessions
    #[oai(
        path = "/revoke-session",
        method = "post",
        operation_id = "revokeSession"
    )]
    async fn revoke_session(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<user::RevokeSessionBody>,
    ) -> ApiResult<StatusResponse> {
        user::revoke_session(&state, &request_context(req), &body).await?;
        Ok(Json(StatusResponse { status: true }))
    }

    /// Revoke all of the user's sessions, the current one included
    #[oai(
        path = "/revoke-sessions",
        method = "post",
        operation_id = "revokeSessions"
    )]
    async fn revoke_sessions(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> ApiResult<StatusResponse> {
        user::revoke_sessions(&state, &request_context(req)).await?;
        Ok(Json(StatusResponse { status: true }))
    }

    /// Revoke every session except the current one
    #[oai(
        path = "/revoke-other-sessions",
        method = "post",
        operation_id = "revokeOtherSessions"
    )]
    async fn revoke_other_sessions(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> ApiResult<StatusResponse> {
        user::revoke_other_sessions(&state, &request_context(req)).await?;
        Ok(Json(StatusResponse { status: true }))
    }

    /// Update the user's profile
    ///
    /// `email` cannot be changed here (`EMAIL_CAN_NOT_BE_UPDATED`).
    #[oai(path = "/update-user", method = "post", operation_id = "updateUser")]
    async fn update_user(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<user::UpdateUserBody>,
    ) -> ApiResult<StatusResponse> {
        user::update_user(&state, &request_context(req), &body).await?;
        Ok(Json(StatusResponse { status: true }))
    }

    /// Change the password
    ///
    /// Errors: `INVALID_PASSWORD`, `CREDENTIAL_ACCOUNT_NOT_FOUND`,
    /// `PASSWORD_TOO_SHORT`, `PASSWORD_TOO_LONG` (400).
    #[oai(
        path = "/change-password",
        method = "post",
        operation_id = "changePassword"
    )]
    async fn change_password(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<user::ChangePasswordBody>,
    ) -> ApiResult<TokenUserResponse> {
        Ok(Json(
            user::change_password(&state, &request_context(req), &body).await?,
        ))
    }

    /// Set a password for a user who has none
    ///
    /// Requires a fresh session. Errors: `PASSWORD_ALREADY_SET` (400).
    #[oai(path = "/set-password", method = "post", operation_id = "setPassword")]
    async fn set_password(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<user::SetPasswordBody>,
    ) -> ApiResult<StatusResponse> {
        user::set_password(&state, &request_context(req), &body).await?;
        Ok(Json(StatusResponse { status: true }))
    }

    /// Delete the user
    ///
    /// Users with a password confirm it; others need a fresh session
    /// (`SESSION_EXPIRED`). Disabled unless `user.delete_enabled` (404).
    #[oai(path = "/delete-user", method = "post", operation_id = "deleteUser")]
    async fn delete_user(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<user::DeleteUserBody>,
    ) -> ApiResult<SuccessMessageResponse> {
        let message = user::delete_user(&state, &request_context(req), &body).await?;
        Ok(Json(SuccessMessageResponse {
            success: true,
            message: message.into(),
        }))
    }

    /// List the user's linked accounts
    #[oai(path = "/list-accounts", method = "get", operation_id = "listAccounts")]
    async fn list_accounts(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> ApiResult<Vec<AccountDto>> {
        Ok(Json(
            user::list_accounts(&state, &request_context(req)).await?,
        ))
    }

    /// Send a verification email
    ///
    /// Signed out, the answer is the same whether or not the address exists.
    #[oai(
        path = "/send-verification-email",
        method = "post",
        operation_id = "sendVerificationEmail"
    )]
    async fn send_verification_email(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<email_verification::SendVerificationEmailBody>,
    ) -> ApiResult<StatusResponse> {
        email_verification::send_verification_email(&state, &request_context(req), &body).await?;
        Ok(Json(StatusResponse { status: true }))
    }

    /// Verify an email address from a mailed link
    ///
    /// With `callbackURL`, answers `302` to it (with `?error=CODE` on failure).
    #[oai(path = "/verify-email", method = "get", operation_id = "verifyEmail")]
    async fn verify_email(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        token: Query<String>,
        #[oai(name = "callbackURL")] callback_url: Query<Option<String>>,
    ) -> ApiResult<email_verification::VerifyEmailResponse> {
        Ok(Json(
            email_verification::verify_email(
                &state,
                &request_context(req),
                &token,
                callback_url.as_deref(),
            )
            .await?,
        ))
    }

    /// Request a password-reset link by email
    ///
    /// The answer is the same whether or not the address exists.
    #[oai(
        path = "/request-password-reset",
        method = "post",
        operation_id = "requestPasswordReset"
    )]
    async fn request_password_reset(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<password_reset::RequestPasswordResetBody>,
    ) -> ApiResult<password_reset::StatusMessageResponse> {
        Ok(Json(password_reset::request_reset(&state, &body).await?))
    }

    /// Request a password-reset link (the older path)
    #[oai(
        path = "/forget-password",
        method = "post",
        operation_id = "forgetPassword"
    )]
    async fn forget_password(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<password_reset::RequestPasswordResetBody>,
    ) -> ApiResult<password_reset::StatusMessageResponse> {
        Ok(Json(password_reset::request_reset(&state, &body).await?))
    }

    /// Follow a mailed reset link
    ///
    /// Answers `302` to `callbackURL?token=…` (or `?error=INVALID_TOKEN`).
    #[oai(
        path = "/reset-password/:token",
        method = "get",
        operation_id = "resetPasswordCallback"
    )]
    async fn reset_password_callback(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        token: Path<String>,
        #[oai(name = "callbackURL")] callback_url: Query<String>,
    ) -> ApiResult<StatusResponse> {
        password_reset::reset_redirect(&state, &request_context(req), &token, &callback_url)
            .await?;
        Ok(Json(StatusResponse { status: true }))
    }

    /// Set a new password with a reset token
    ///
    /// Signs out every session of the user.
    #[oai(
        path = "/reset-password",
        method = "post",
        operation_id = "resetPassword"
    )]
    async fn reset_password(
        &self,
        state: Data<&Arc<AppState>>,
        token: Query<Option<String>>,
        body: Json<password_reset::ResetPasswordBody>,
    ) -> ApiResult<StatusResponse> {
        password_reset::reset_password(&state, &body, token.as_deref()).await?;
        Ok(Json(StatusResponse { status: true }))
    }

    /// Confirm a user deletion from the mailed link
    ///
    /// Needs the user's session. With `callbackURL`, answers `302` to it.
    #[oai(
        path = "/delete-user/callback",
        method = "get",
        operation_id = "deleteUserCallback"
    )]
    async fn delete_user_callback(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        token: Query<String>,
        #[oai(name = "callbackURL")] callback_url: Query<Option<String>>,
    ) -> ApiResult<SuccessMessageResponse> {
        user::delete_user_callback(
            &state,
            &request_context(req),
            &token,
            callback_url.as_deref(),
        )
        .await?;
        Ok(Json(SuccessMessageResponse {
            success: true,
            message: "User deleted".into(),
        }))
    }

    /// Change the email address
    ///
    /// Mails a link to the new address (first a confirmation to the current
    /// one when configured); the change happens when the link is opened.
    #[oai(path = "/change-email", method = "post", operation_id = "changeEmail")]
    async fn change_email(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<change_email::ChangeEmailBody>,
    ) -> ApiResult<StatusResponse> {
        change_email::change_email(&state, &request_context(req), &body).await?;
        Ok(Json(StatusResponse { status: true }))
    }

    /// Liveness check
    #[oai(path = "/ok", method = "get", operation_id = "ok")]
    async fn ok(&self) -> ApiResult<OkResponse> {
        Ok(Json(OkResponse { ok: true }))
    }

    /// Readiness check
    ///
    /// Whether this instance can serve: the database answers, and so does
    /// the secondary storage (Redis) when configured. `503` otherwise, so a
    /// load balancer stops sending it requests (`/ok` stays the liveness check).
    #[oai(path = "/ready", method = "get", operation_id = "ready")]
    async fn ready(&self, state: Data<&Arc<AppState>>) -> ReadyAnswer {
        let timeout = std::time::Duration::from_secs(2);
        let database = match tokio::time::timeout(timeout, state.db.batch_execute("SELECT 1")).await
        {
            Ok(Ok(())) => "ok".to_string(),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: the database failed");
                "unavailable".to_string()
            }
            Err(_) => "timeout".to_string(),
        };
        let secondary_storage = match &state.redis {
            None => None,
            Some(r) => Some(match tokio::time::timeout(timeout, r.ping()).await {
                Ok(Ok(())) => "ok".to_string(),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "readiness: redis failed");
                    "unavailable".to_string()
                }
                Err(_) => "timeout".to_string(),
            }),
        };
        let ready = database == "ok" && secondary_storage.as_deref().is_none_or(|s| s == "ok");
        let body = Json(ReadyResponse {
            ready,
            database,
            secondary_storage,
        });
        if ready {
            ReadyAnswer::Ready(body)
        } else {
            ReadyAnswer::NotReady(body)
        }
    }

    /// Error page shown after a failed redirect flow
    #[oai(path = "/error", method = "get", operation_id = "errorPage")]
    async fn error(&self, error: Query<Option<String>>) -> Result<Html<String>, ApiError> {
        // Only a safe alphabet is echoed back into HTML.
        let code = error
            .0
            .filter(|c| {
                !c.is_empty()
                    && c.len() <= 100
                    && c.chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || "_'-".contains(ch))
            })
            .unwrap_or_else(|| "UNKNOWN".to_string());
        Ok(Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Authentication error</title></head>\
             <body><h1>Authentication error</h1><p>Error code: <code>{code}</code></p></body></html>"
        )))
    }

    /// The registered plugins and their versions
    ///
    /// Clients use this to mirror the server's plugin registration.
    #[oai(path = "/plugins", method = "get", operation_id = "listPlugins")]
    async fn plugins(&self, state: Data<&Arc<AppState>>) -> ApiResult<PluginsResponse> {
        Ok(Json(PluginsResponse {
            version: env!("CARGO_PKG_VERSION").to_string(),
            plugins: state
                .plugins
                .all()
                .iter()
                .map(|p| PluginInfo {
                    id: p.id().to_string(),
                    version: p.version().to_string(),
                })
                .collect(),
        }))
    }
}
