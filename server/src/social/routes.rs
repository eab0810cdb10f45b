//! The HTTP surface of social sign-in and linked accounts (tag `core`, as
//! in Better Auth, where these are core routes).

use std::sync::Arc;

use poem::web::Data;
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;

use super::accounts::{self, AccountSelector, UnlinkAccountBody};
use super::flow::{self, CallbackParams, LinkSocialBody, SignInSocialBody};
use super::loopback::{self, LoopbackStart, LoopbackTokenBody};
use crate::core::dto::StatusResponse;
use crate::core::routes::CoreTags;
use crate::docs::{RouteAuth, RouteDoc};
use crate::error::{codes, ApiResult};
use crate::http::context::request_context;
use crate::state::AppState;

pub struct SocialApi;

pub const ROUTE_DOCS: &[RouteDoc] = &[
    RouteDoc {
        operation_id: "signInSocial",
        auth: RouteAuth::Public,
        errors: &[
            codes::PROVIDER_NOT_FOUND,
            codes::ID_TOKEN_NOT_SUPPORTED,
            codes::INVALID_TOKEN,
            codes::FAILED_TO_GET_USER_INFO,
            codes::USER_EMAIL_NOT_FOUND,
            codes::OAUTH_LINK_ERROR,
            codes::FAILED_TO_CREATE_USER,
            codes::FAILED_TO_CREATE_SESSION,
            codes::INVALID_CALLBACK_URL,
            codes::INVALID_ERROR_CALLBACK_URL,
            codes::INVALID_NEW_USER_CALLBACK_URL,
        ],
    },
    RouteDoc {
        operation_id: "signInSocialLoopback",
        auth: RouteAuth::Public,
        errors: &[codes::INVALID_LOOPBACK_REDIRECT, codes::VALIDATION_ERROR],
    },
    RouteDoc {
        operation_id: "signInSocialLoopbackToken",
        auth: RouteAuth::Public,
        errors: &[
            codes::INVALID_LOOPBACK_CODE,
            codes::FAILED_TO_CREATE_SESSION,
        ],
    },
    RouteDoc {
        operation_id: "linkSocial",
        auth: RouteAuth::Session,
        errors: &[
            codes::PROVIDER_NOT_FOUND,
            codes::ID_TOKEN_NOT_SUPPORTED,
            codes::INVALID_TOKEN,
            codes::FAILED_TO_GET_USER_INFO,
            codes::LINKING_NOT_ALLOWED,
            codes::LINKING_DIFFERENT_EMAILS_NOT_ALLOWED,
            codes::SOCIAL_ACCOUNT_ALREADY_LINKED,
            codes::LINKING_FAILED,
            codes::INVALID_CALLBACK_URL,
            codes::INVALID_ERROR_CALLBACK_URL,
        ],
    },
    RouteDoc {
        operation_id: "oauthCallback",
        auth: RouteAuth::Public,
        errors: &[],
    },
    RouteDoc {
        operation_id: "oauthCallbackPost",
        auth: RouteAuth::Public,
        errors: &[],
    },
    RouteDoc {
        operation_id: "unlinkAccount",
        auth: RouteAuth::Session,
        errors: &[
            codes::SESSION_NOT_FRESH,
            codes::ACCOUNT_NOT_FOUND,
            codes::FAILED_TO_UNLINK_LAST_ACCOUNT,
        ],
    },
    RouteDoc {
        operation_id: "getAccessToken",
        auth: RouteAuth::Session,
        errors: &[
            codes::ACCOUNT_NOT_FOUND,
            codes::PROVIDER_NOT_SUPPORTED,
            codes::FAILED_TO_GET_ACCESS_TOKEN,
        ],
    },
    RouteDoc {
        operation_id: "refreshToken",
        auth: RouteAuth::Session,
        errors: &[
            codes::ACCOUNT_NOT_FOUND,
            codes::PROVIDER_NOT_SUPPORTED,
            codes::REFRESH_TOKEN_NOT_FOUND,
            codes::FAILED_TO_REFRESH_ACCESS_TOKEN,
        ],
    },
    RouteDoc {
        operation_id: "accountInfo",
        auth: RouteAuth::Session,
        errors: &[
            codes::ACCOUNT_NOT_FOUND,
            codes::PROVIDER_NOT_SUPPORTED,
            codes::FAILED_TO_GET_USER_INFO,
            codes::FAILED_TO_GET_ACCESS_TOKEN,
        ],
    },
];

/// The callback's query (GET) or form (POST, already read by the pipeline).
fn params(req: &Request) -> CallbackParams {
    let mut out: CallbackParams = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    if let Some(body) = &request_context(req).body {
        for (k, v) in body {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.insert(k.clone(), v);
        }
    }
    out
}

#[OpenApi(tag = "CoreTags::Core")]
impl SocialApi {
    /// Sign in with a social or OAuth provider
    ///
    /// Redirect flow: answers `{url, redirect}` (and `Location`) for the
    /// provider's authorization page; the provider returns to
    /// `/callback/{provider}`. With `idToken` (a token the app obtained
    /// natively): verifies it and answers `{redirect: false, token, user}`.
    #[oai(
        path = "/sign-in/social",
        method = "post",
        operation_id = "signInSocial"
    )]
    async fn sign_in_social(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<SignInSocialBody>,
    ) -> ApiResult<flow::SocialSignInResponse> {
        Ok(Json(
            flow::sign_in_social(&state, &request_context(req), &body).await?,
        ))
    }

    /// Start a desktop or CLI app's sign-in (loopback redirect)
    ///
    /// Gatehouse's own route (RFC 8252). The app opens this in the user's
    /// browser with its loopback address (`http://127.0.0.1:<port>/...`), a
    /// random `state` and an S256 `code_challenge`; the browser goes on to
    /// the provider. The flow ends with a `302` to that address carrying
    /// `code` and `state` (or `error`, `error_description` and `state`),
    /// which the app redeems at `sign-in/social/loopback/token`. A bad
    /// address is answered here, as JSON.
    #[oai(
        path = "/sign-in/social/loopback",
        method = "get",
        operation_id = "signInSocialLoopback"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn sign_in_social_loopback(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        provider: Query<Option<String>>,
        redirect_uri: Query<Option<String>>,
        code_challenge: Query<Option<String>>,
        code_challenge_method: Query<Option<String>>,
        #[oai(name = "state")] app_state: Query<Option<String>>,
        login_hint: Query<Option<String>>,
    ) -> ApiResult<StatusResponse> {
        let ctx = request_context(req);
        let start = LoopbackStart {
            provider: provider.0,
            redirect_uri: redirect_uri.0,
            code_challenge: code_challenge.0,
            code_challenge_method: code_challenge_method.0,
            state: app_state.0.clone(),
            login_hint: login_hint.0,
        };
        match loopback::start(&state, &ctx, start).await {
            Ok(url) => ctx.set_redirect(&url, &[]),
            Err((None, e)) => return Err(e),
            Err((Some(back), e)) => ctx.set_redirect(
                &back,
                &[
                    ("error", &e.code),
                    ("error_description", &e.message),
                    ("state", app_state.0.as_deref().unwrap_or_default()),
                ],
            ),
        }
        Ok(Json(StatusResponse { status: true }))
    }

    /// Redeem a loopback sign-in's code for a session
    ///
    /// Gatehouse's own route. `code` is single use and expires after two
    /// minutes; `codeVerifier` must match the flow's `code_challenge` and
    /// `redirectURI` its address. Answers like an ID-token sign-in:
    /// `{redirect: false, token, user}` and the session cookie.
    #[oai(
        path = "/sign-in/social/loopback/token",
        method = "post",
        operation_id = "signInSocialLoopbackToken"
    )]
    async fn sign_in_social_loopback_token(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<LoopbackTokenBody>,
    ) -> ApiResult<flow::SocialSignInResponse> {
        Ok(Json(
            loopback::redeem(&state, &request_context(req), &body).await?,
        ))
    }

    /// The provider's redirect back after authorization
    ///
    /// Always a `302`: to the flow's `callbackURL` (or `newUserCallbackURL`
    /// for a new user) with the session cookie set, or to its error URL with
    /// `?error=<code>`.
    #[oai(path = "/callback/:id", method = "get", operation_id = "oauthCallback")]
    async fn callback(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        id: Path<String>,
    ) -> ApiResult<StatusResponse> {
        flow::callback(&state, &request_context(req), &id, &params(req)).await;
        Ok(Json(StatusResponse { status: true }))
    }

    /// The provider's form-posted redirect back (Apple's `form_post`)
    ///
    /// Answers `302` to the GET form with the same parameters, so that the
    /// browser sends its SameSite=Lax cookies along.
    #[oai(
        path = "/callback/:id",
        method = "post",
        operation_id = "oauthCallbackPost"
    )]
    async fn callback_post(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        id: Path<String>,
    ) -> ApiResult<StatusResponse> {
        let ctx = request_context(req);
        let params = params(req);
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        ctx.set_redirect(&flow::redirect_uri(&state, &id), &pairs);
        Ok(Json(StatusResponse { status: true }))
    }

    /// Link a social or OAuth provider to the signed-in user
    ///
    /// Redirect flow like `sign-in/social`; with `idToken`, links at once
    /// and answers `{url: "", status: true, redirect: false}`.
    #[oai(path = "/link-social", method = "post", operation_id = "linkSocial")]
    async fn link_social(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<LinkSocialBody>,
    ) -> ApiResult<flow::LinkSocialResponse> {
        Ok(Json(
            flow::link_social(&state, &request_context(req), &body).await?,
        ))
    }

    /// Unlink an account
    ///
    /// Needs a fresh session. The last account stays unless
    /// `account.account_linking.allow_unlinking_all` is set.
    #[oai(
        path = "/unlink-account",
        method = "post",
        operation_id = "unlinkAccount"
    )]
    async fn unlink_account(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<UnlinkAccountBody>,
    ) -> ApiResult<StatusResponse> {
        accounts::unlink_account(&state, &request_context(req), &body).await?;
        Ok(Json(StatusResponse { status: true }))
    }

    /// A valid access token for a linked account
    ///
    /// Refreshed at the provider first when the stored one expires within 5 s.
    #[oai(
        path = "/get-access-token",
        method = "post",
        operation_id = "getAccessToken"
    )]
    async fn get_access_token(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<AccountSelector>,
    ) -> ApiResult<accounts::AccessTokenResponse> {
        Ok(Json(
            accounts::get_access_token(&state, &request_context(req), &body).await?,
        ))
    }

    /// Refresh a linked account's tokens at the provider
    #[oai(
        path = "/refresh-token",
        method = "post",
        operation_id = "refreshToken"
    )]
    async fn refresh_token(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<AccountSelector>,
    ) -> ApiResult<accounts::RefreshTokenResponse> {
        Ok(Json(
            accounts::refresh_token(&state, &request_context(req), &body).await?,
        ))
    }

    /// The provider's profile of a linked account
    #[oai(path = "/account-info", method = "get", operation_id = "accountInfo")]
    async fn account_info(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        #[oai(name = "accountId")] account_id: Query<Option<String>>,
        #[oai(name = "providerId")] provider_id: Query<Option<String>>,
    ) -> ApiResult<accounts::AccountInfoResponse> {
        let sel = AccountSelector {
            account_id: account_id.0,
            provider_id: provider_id.0,
            user_id: None,
        };
        Ok(Json(
            accounts::account_info(&state, &request_context(req), &sel).await?,
        ))
    }
}
