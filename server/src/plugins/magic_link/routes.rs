//! `POST /sign-in/magic-link` and `GET /magic-link/verify`.

use std::sync::Arc;

use poem::web::Data;
use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::json;

use super::NEW_USER_SIGNUP_DISABLED;
use crate::core::dto::{SessionDto, StatusResponse, User};
use crate::core::links;
use crate::core::ownership;
use crate::core::session::{create_session, user_json};
use crate::core::validate::{check_field_length, is_valid_email};
use crate::crypto::token;
use crate::db::models::UserRow;
use crate::db::store;
use crate::error::{codes, ApiError, ApiResult};
use crate::http::context::{request_context, RequestContext};
use crate::plugin::PluginApi;
use crate::state::AppState;

const PURPOSE: &str = "magic-link";

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SignInMagicLinkBody {
    pub email: String,
    /// Name for a user created on first use.
    pub name: Option<String>,
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
    #[oai(rename = "newUserCallbackURL")]
    pub new_user_callback_url: Option<String>,
    #[oai(rename = "errorCallbackURL")]
    pub error_callback_url: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct MagicLinkVerifyResponse {
    pub token: String,
    pub user: User,
    pub session: SessionDto,
}

pub struct MagicLinkApi;

impl PluginApi for MagicLinkApi {
    const ID: &'static str = super::ID;
    const DESCRIPTION: &'static str = super::DESCRIPTION;
}

#[OpenApi]
impl MagicLinkApi {
    /// Mail a sign-in link
    ///
    /// The answer is the same for every address.
    #[oai(
        path = "/sign-in/magic-link",
        method = "post",
        operation_id = "signInMagicLink"
    )]
    async fn sign_in_magic_link(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<SignInMagicLinkBody>,
    ) -> ApiResult<StatusResponse> {
        if !state.mailer.enabled() {
            return Err(ApiError::new(codes::VERIFICATION_EMAIL_NOT_ENABLED));
        }
        if !is_valid_email(&body.email) {
            return Err(ApiError::validation("[body.email] Invalid email address"));
        }
        if let Some(name) = &body.name {
            check_field_length(&state, "name", name)?;
        }
        let email = body.email.to_lowercase();
        // Better Auth's token shape: 32 letters.
        let raw: String = token::random_alphanumeric(64)
            .chars()
            .filter(|c| c.is_ascii_alphabetic())
            .take(32)
            .collect();
        let value = json!({ "email": email, "name": body.name }).to_string();
        let raw = links::issue(
            &state,
            PURPOSE,
            raw,
            &value,
            state
                .settings::<super::settings::MagicLinkSettings>()
                .expires_in,
        )
        .await?;
        let mut url = links::api_url(
            &state,
            &format!(
                "/magic-link/verify?token={raw}&callbackURL={}",
                links::enc(body.callback_url.as_deref().unwrap_or("/"))
            ),
        );
        if let Some(u) = &body.new_user_callback_url {
            url.push_str(&format!("&newUserCallbackURL={}", links::enc(u)));
        }
        if let Some(u) = &body.error_callback_url {
            url.push_str(&format!("&errorCallbackURL={}", links::enc(u)));
        }
        links::mail(&state, &super::MAGIC_LINK_MAIL, &email, &url);
        Ok(Json(StatusResponse { status: true }))
    }

    /// Sign in from a mailed link
    ///
    /// Creates the user on first use unless sign-up is disabled. Without
    /// `callbackURL` answers `{token, user, session}`; with it (or
    /// `newUserCallbackURL` for new users) `302`. Failures always answer
    /// `302` to `errorCallbackURL`, else `callbackURL`, else `/`, with `?error=CODE`.
    #[oai(
        path = "/magic-link/verify",
        method = "get",
        operation_id = "magicLinkVerify"
    )]
    async fn magic_link_verify(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        token: Query<String>,
        #[oai(name = "callbackURL")] callback_url: Query<Option<String>>,
        #[oai(name = "newUserCallbackURL")] new_user_callback_url: Query<Option<String>>,
        #[oai(name = "errorCallbackURL")] error_callback_url: Query<Option<String>>,
    ) -> ApiResult<MagicLinkVerifyResponse> {
        let ctx = request_context(req);
        match verify(&state, &ctx, &token).await {
            Ok((out, created)) => {
                let target = if created {
                    new_user_callback_url.0.clone().or(callback_url.0.clone())
                } else {
                    callback_url.0.clone()
                };
                if let Some(t) = target {
                    ctx.set_redirect(&t, &[]);
                }
                Ok(Json(out))
            }
            // Failures always redirect, to "/" when no callback was given
            // (Better Auth's behaviour: the link was opened in a browser).
            Err(e) => {
                let cb = error_callback_url
                    .0
                    .clone()
                    .or(callback_url.0.clone())
                    .unwrap_or_else(|| "/".into());
                ctx.set_redirect(&cb, &[("error", e.code.as_ref())]);
                Err(e)
            }
        }
    }
}

/// Consumes the token and signs the user in; `true` when the user is new.
async fn verify(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    raw: &str,
) -> Result<(MagicLinkVerifyResponse, bool), ApiError> {
    let invalid = || ApiError::new(codes::INVALID_TOKEN).with_status(401);
    if raw.is_empty() || raw.len() > 128 {
        return Err(invalid());
    }
    let (value, expires_at) = links::consume(state, PURPOSE, raw)
        .await?
        .ok_or_else(invalid)?;
    let now = state.now();
    if expires_at <= now {
        // An expired link is simply no link (Better Auth's answer).
        return Err(invalid());
    }
    let value: serde_json::Value = serde_json::from_str(&value).map_err(|_| invalid())?;
    let email = value["email"].as_str().ok_or_else(invalid)?.to_string();
    let (user, created) = match store::find_user_by_email(&state.db, &email).await? {
        Some(user) if user.email_verified => (user, false),
        // Whoever registered this unverified address may not be its owner.
        Some(user) => (
            ownership::claim_address(state, Some(ctx), &user, ownership::Proof::SignIn).await?,
            false,
        ),
        None if state
            .settings::<super::settings::MagicLinkSettings>()
            .disable_sign_up =>
        {
            return Err(ApiError::new(NEW_USER_SIGNUP_DISABLED))
        }
        None => {
            let name = value["name"].as_str().unwrap_or_default().to_string();
            let user = UserRow::verified(email.clone(), name, now);
            store::create_user(&state.db, &user).await?;
            (user, true)
        }
    };
    let (session, raw_session) = create_session(state, ctx, &user.id, true).await?;
    Ok((
        MagicLinkVerifyResponse {
            session: crate::core::session::session_json(state, &session, raw_session.clone())
                .await?,
            token: raw_session,
            user: user_json(state, &user).await?,
        },
        created,
    ))
}
