//! `POST /sign-in/username` and `POST /is-username-available`.

use std::sync::Arc;

use poem::web::Data;
use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::{errors, normalize, store, validate_username};
use crate::core::auth::sign_in_with_password;
use crate::core::dto::SignInResult;
use crate::error::ApiResult;
use crate::http::context::request_context;
use crate::plugin::PluginApi;
use crate::state::AppState;

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SignInUsernameBody {
    pub username: String,
    pub password: String,
    pub remember_me: Option<bool>,
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct IsUsernameAvailableBody {
    pub username: String,
}

#[derive(Debug, Clone, Object)]
pub struct IsUsernameAvailableResponse {
    pub available: bool,
}

pub struct UsernameApi;

impl PluginApi for UsernameApi {
    const ID: &'static str = super::ID;
    const DESCRIPTION: &'static str = super::DESCRIPTION;
}

#[OpenApi]
impl UsernameApi {
    /// Sign in with username and password
    ///
    /// Errors: `INVALID_USERNAME_OR_PASSWORD` (401), `USERNAME_TOO_SHORT`,
    /// `USERNAME_TOO_LONG`, `INVALID_USERNAME` (422).
    #[oai(
        path = "/sign-in/username",
        method = "post",
        operation_id = "signInUsername"
    )]
    async fn sign_in_username(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<SignInUsernameBody>,
    ) -> ApiResult<SignInResult> {
        let username = normalize(&body.username);
        validate_username(&state, &username)?;
        let user = store::find_user_by_username(&state.db, &username).await?;
        let ctx = request_context(req);
        Ok(Json(
            sign_in_with_password(
                &state,
                &ctx,
                user,
                &body.password,
                body.remember_me,
                body.callback_url.as_deref(),
                errors::INVALID_USERNAME_OR_PASSWORD,
            )
            .await?,
        ))
    }

    /// Check whether a username is free
    #[oai(
        path = "/is-username-available",
        method = "post",
        operation_id = "isUsernameAvailable"
    )]
    async fn is_username_available(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<IsUsernameAvailableBody>,
    ) -> ApiResult<IsUsernameAvailableResponse> {
        let username = normalize(&body.username);
        validate_username(&state, &username)?;
        let taken = store::find_username_owner(&state.db, &username)
            .await?
            .is_some();
        Ok(Json(IsUsernameAvailableResponse { available: !taken }))
    }
}
