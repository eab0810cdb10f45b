//! Sign-in and linking through a provider: `sign-in/social` and
//! `link-social` (the redirect form and the ID-token form) and the callback
//! that finishes a redirect. Which user an identity becomes is decided by
//! [`super::linking::decide`]; this module gathers what it needs and carries
//! the answer out.

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::http::StatusCode;
use poem_openapi::Object;
use serde_json::{Map, Value};

use super::flow_state::{self, FlowData, LinkTarget, StateError};
use super::linking::{self, Decision, Identity, Intent, Known, LocalUser, Policy, Refusal};
use super::loopback::{self, LoopbackTarget};
use super::oauth::{self, AuthorizationRequest, Tokens};
use super::providers::ProviderProfile;
use super::store::StoredTokens;
use super::{id_token, store as social_store, OAuthProvider};
use crate::core::dto::User;
use crate::core::ownership::{self, Proof};
use crate::core::session::{create_session, require_session, user_json};
use crate::crypto::{seal, token};
use crate::db::models::{AccountRow, UserRow};
use crate::db::store;
use crate::error::{codes, ApiError};
use crate::http::context::RequestContext;
use crate::state::AppState;
use crate::{in_transaction, with_conn};

/// An ID token the app obtained natively (Google/Apple SDKs on mobile).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct IdTokenInput {
    pub token: String,
    /// The nonce the app sent to the provider; the token must carry it.
    pub nonce: Option<String>,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    /// When `accessToken` expires, in milliseconds since the epoch.
    pub expires_at: Option<i64>,
    /// Apple's first-login user object (`{name: {firstName, lastName}, email}`).
    pub user: Option<Value>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SignInSocialBody {
    /// A built-in provider id (`google`, `github`...) or a generic-oauth provider id.
    pub provider: String,
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
    #[oai(rename = "newUserCallbackURL")]
    pub new_user_callback_url: Option<String>,
    #[oai(rename = "errorCallbackURL")]
    pub error_callback_url: Option<String>,
    pub disable_redirect: Option<bool>,
    pub id_token: Option<IdTokenInput>,
    /// Scopes requested on top of the configured ones.
    pub scopes: Option<Vec<String>>,
    /// With `disable_implicit_sign_up`, a new user is created only when this is true.
    pub request_sign_up: Option<bool>,
    pub login_hint: Option<String>,
    /// Extra authorization parameters (OAuth's own are refused).
    pub additional_params: Option<BTreeMap<String, String>>,
    /// Any JSON object, kept with the flow's state.
    pub additional_data: Option<Value>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct LinkSocialBody {
    pub provider: String,
    #[oai(rename = "callbackURL")]
    pub callback_url: Option<String>,
    #[oai(rename = "errorCallbackURL")]
    pub error_callback_url: Option<String>,
    pub disable_redirect: Option<bool>,
    pub id_token: Option<IdTokenInput>,
    pub scopes: Option<Vec<String>>,
    pub request_sign_up: Option<bool>,
    pub login_hint: Option<String>,
    pub additional_params: Option<BTreeMap<String, String>>,
    pub additional_data: Option<Value>,
}

/// `{url, redirect}` for a redirect flow; `{redirect: false, token, user}`
/// after an ID-token sign-in.
#[derive(Debug, Clone, Object)]
pub struct SocialSignInResponse {
    pub redirect: bool,
    #[oai(skip_serializing_if_is_none)]
    pub url: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub token: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub user: Option<User>,
}

/// `{url, redirect}` for a redirect flow; `{url: "", status: true, redirect: false}`
/// after an ID-token link.
#[derive(Debug, Clone, Object)]
pub struct LinkSocialResponse {
    pub url: String,
    pub redirect: bool,
    #[oai(skip_serializing_if_is_none)]
    pub status: Option<bool>,
}

fn provider(state: &AppState, id: &str) -> Result<Arc<OAuthProvider>, ApiError> {
    state
        .social
        .get(id)
        .ok_or_else(|| ApiError::new(codes::PROVIDER_NOT_FOUND))
}

fn with_status(mut e: ApiError, status: u16) -> ApiError {
    e.status = StatusCode::from_u16(status).unwrap_or(e.status);
    e
}

/// `{base}/callback/<id>`.
pub fn redirect_uri(state: &AppState, provider_id: &str) -> String {
    format!(
        "{}{}{}{}",
        state.config.base_url(),
        state.config.base_path,
        super::CALLBACK_PREFIX,
        provider_id
    )
}

/// `{base}/error`: where failures go when the flow named no error URL.
pub fn default_error_url(state: &AppState) -> String {
    format!(
        "{}{}/error",
        state.config.base_url(),
        state.config.base_path
    )
}

struct Start<'a> {
    provider: &'a OAuthProvider,
    callback_url: Option<&'a str>,
    new_user_url: Option<&'a str>,
    error_url: Option<&'a str>,
    scopes: &'a [String],
    request_sign_up: Option<bool>,
    login_hint: Option<&'a str>,
    additional_params: Option<&'a BTreeMap<String, String>>,
    additional_data: Option<&'a Value>,
    link: Option<LinkTarget>,
    loopback: Option<LoopbackTarget>,
}

/// Stores the flow and answers the authorization URL.
async fn start_redirect(
    state: &AppState,
    ctx: &RequestContext,
    s: Start<'_>,
) -> Result<String, ApiError> {
    let mut params = Vec::new();
    for (k, v) in s.additional_params.into_iter().flatten() {
        if oauth::RESERVED_PARAMS.contains(&k.as_str()) {
            return Err(ApiError::validation(format!(
                "[body.additionalParams] {k} is set by the server"
            )));
        }
        params.push((k.clone(), v.clone()));
    }
    let additional = match s.additional_data {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(ApiError::validation(
                "[body.additionalData] Invalid input: expected object",
            ))
        }
    };
    let mut scopes = s.provider.scopes.clone();
    for sc in s.scopes {
        if !scopes.contains(sc) {
            scopes.push(sc.clone());
        }
    }
    let nonce = s.provider.nonce.then(|| flow_state::random(32));
    let data = flow_state::start(
        state,
        ctx,
        FlowData {
            callback_url: s
                .callback_url
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{}/", state.origins.base_origin())),
            code_verifier: String::new(),
            error_url: s.error_url.map(str::to_owned),
            new_user_url: s.new_user_url.map(str::to_owned),
            link: s.link,
            expires_at: 0,
            request_sign_up: s.request_sign_up,
            id_token_nonce: nonce,
            oauth_state: String::new(),
            loopback: s.loopback,
            additional,
        },
    )
    .await?;
    let redirect_uri = redirect_uri(state, &s.provider.id);
    Ok(oauth::authorization_url(
        s.provider,
        &AuthorizationRequest {
            state: &data.oauth_state,
            redirect_uri: &redirect_uri,
            scopes: &scopes,
            login_hint: s.login_hint,
            nonce: data.id_token_nonce.as_deref(),
            code_verifier: &data.code_verifier,
            additional: &params,
        },
    ))
}

pub async fn sign_in_social(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    body: &SignInSocialBody,
) -> Result<SocialSignInResponse, ApiError> {
    let p = provider(state, &body.provider)?;
    if let Some(id_token) = &body.id_token {
        let profile = id_token_profile(state, &p, id_token).await?;
        let tokens = id_token_tokens(id_token);
        let intent = Intent::SignIn {
            request_sign_up: body.request_sign_up.unwrap_or(false),
        };
        return match finish(state, ctx, &p, &profile, &tokens, intent, &[]).await? {
            Finished::SignedIn { user, token, .. } => Ok(SocialSignInResponse {
                redirect: false,
                url: None,
                token: Some(token),
                user: Some(user_json(state, &user).await?),
            }),
            Finished::Refused(r) => Err(ApiError::new(r.api_error(false))),
            Finished::Linked => Err(ApiError::internal()),
        };
    }
    let url = start_redirect(
        state,
        ctx,
        Start {
            provider: &p,
            callback_url: body.callback_url.as_deref(),
            new_user_url: body.new_user_callback_url.as_deref(),
            error_url: body.error_callback_url.as_deref(),
            scopes: body.scopes.as_deref().unwrap_or(&[]),
            request_sign_up: body.request_sign_up,
            login_hint: body.login_hint.as_deref(),
            additional_params: body.additional_params.as_ref(),
            additional_data: body.additional_data.as_ref(),
            link: None,
            loopback: None,
        },
    )
    .await?;
    let redirect = !body.disable_redirect.unwrap_or(false);
    if redirect {
        ctx.set_header("location", url.clone());
    }
    Ok(SocialSignInResponse {
        redirect,
        url: Some(url),
        token: None,
        user: None,
    })
}

/// Starts a sign-in whose result goes to a desktop app's loopback address
/// (see [`loopback`]): the browser is sent to the provider at once.
pub async fn start_loopback(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    provider_id: &str,
    login_hint: Option<&str>,
    target: LoopbackTarget,
) -> Result<String, ApiError> {
    let p = provider(state, provider_id)?;
    let callback_url = target.redirect_uri.clone();
    start_redirect(
        state,
        ctx,
        Start {
            provider: &p,
            callback_url: Some(&callback_url),
            new_user_url: None,
            error_url: None,
            scopes: &[],
            request_sign_up: None,
            login_hint,
            additional_params: None,
            additional_data: None,
            link: None,
            loopback: Some(target),
        },
    )
    .await
}

pub async fn link_social(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    body: &LinkSocialBody,
) -> Result<LinkSocialResponse, ApiError> {
    let s = require_session(state, ctx).await?;
    let p = provider(state, &body.provider)?;
    if let Some(id_token) = &body.id_token {
        let profile = id_token_profile(state, &p, id_token).await?;
        let tokens = id_token_tokens(id_token);
        let me = LocalUser {
            id: &s.user.id,
            email: &s.user.email,
            email_verified: s.user.email_verified,
        };
        return match finish(
            state,
            ctx,
            &p,
            &profile,
            &tokens,
            Intent::Link { user: me },
            &[],
        )
        .await?
        {
            Finished::Linked => Ok(LinkSocialResponse {
                url: String::new(),
                redirect: false,
                status: Some(true),
            }),
            Finished::Refused(r) => Err(ApiError::new(r.api_error(true))),
            Finished::SignedIn { .. } => Err(ApiError::internal()),
        };
    }
    let url = start_redirect(
        state,
        ctx,
        Start {
            provider: &p,
            callback_url: body.callback_url.as_deref(),
            new_user_url: None,
            error_url: body.error_callback_url.as_deref(),
            scopes: body.scopes.as_deref().unwrap_or(&[]),
            request_sign_up: body.request_sign_up,
            login_hint: body.login_hint.as_deref(),
            additional_params: body.additional_params.as_ref(),
            additional_data: body.additional_data.as_ref(),
            link: Some(LinkTarget {
                user_id: s.user.id.clone(),
                email: s.user.email.clone(),
            }),
            loopback: None,
        },
    )
    .await?;
    let redirect = !body.disable_redirect.unwrap_or(false);
    if redirect {
        ctx.set_header("location", url.clone());
    }
    Ok(LinkSocialResponse {
        url,
        redirect,
        status: None,
    })
}

async fn id_token_profile(
    state: &AppState,
    p: &OAuthProvider,
    input: &IdTokenInput,
) -> Result<ProviderProfile, ApiError> {
    if !p.id_token_sign_in {
        return Err(ApiError::new(codes::ID_TOKEN_NOT_SUPPORTED));
    }
    let claims = id_token::verify(&state.social.http, p, &input.token, input.nonce.as_deref())
        .await
        .map_err(|e| {
            tracing::info!(provider = %p.id, reason = %e, "ID token refused");
            with_status(ApiError::new(codes::INVALID_TOKEN), 401)
        })?;
    let mut raw = Value::Object(claims);
    if let (Some(user), Value::Object(m)) = (&input.user, &mut raw) {
        m.insert("user".into(), user.clone());
    }
    super::providers::map_profile_shape(p.profile, &raw, None).map_err(|e| {
        tracing::info!(provider = %p.id, reason = %e, "ID token without a usable profile");
        with_status(ApiError::new(codes::FAILED_TO_GET_USER_INFO), 401)
    })
}

fn id_token_tokens(input: &IdTokenInput) -> Tokens {
    Tokens {
        access_token: input.access_token.clone(),
        refresh_token: input.refresh_token.clone(),
        id_token: Some(input.token.clone()),
        access_token_expires_at: input
            .expires_at
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|d| d.naive_utc()),
        refresh_token_expires_at: None,
        scope: None,
    }
}

pub enum Finished {
    SignedIn {
        user: UserRow,
        token: String,
        is_new: bool,
    },
    Linked,
    Refused(Refusal),
}

fn policy(state: &AppState, p: &OAuthProvider) -> Policy {
    let l = &state.config.account.account_linking;
    Policy {
        linking_enabled: l.enabled,
        trusted_providers: l.trusted_providers.clone(),
        allow_different_emails: l.allow_different_emails,
        require_local_email_verified: l.require_local_email_verified,
        disable_sign_up: p.disable_sign_up,
        disable_implicit_sign_up: p.disable_implicit_sign_up,
    }
}

/// The tokens as stored: sealed when `account.encrypt_oauth_tokens` is on.
pub fn stored(state: &AppState, tokens: &Tokens, scope: Option<String>) -> StoredTokens {
    StoredTokens {
        access_token: protect(state, tokens.access_token.clone()),
        refresh_token: protect(state, tokens.refresh_token.clone()),
        id_token: protect(state, tokens.id_token.clone()),
        access_token_expires_at: tokens.access_token_expires_at,
        refresh_token_expires_at: tokens.refresh_token_expires_at,
        scope,
    }
}

/// A token sealed under the secret when `account.encrypt_oauth_tokens` is on.
pub fn protect(state: &AppState, value: Option<String>) -> Option<String> {
    value.map(|v| {
        if state.config.account.encrypt_oauth_tokens {
            seal::seal(&state.secret, &v)
        } else {
            v
        }
    })
}

fn scope_of(tokens: &Tokens, requested: &[String]) -> Option<String> {
    tokens
        .scope
        .clone()
        .or_else(|| (!requested.is_empty()).then(|| requested.join(",")))
}

fn new_account(
    state: &AppState,
    p: &OAuthProvider,
    profile: &ProviderProfile,
    user_id: &str,
    tokens: &Tokens,
    requested: &[String],
) -> AccountRow {
    let now = state.now();
    AccountRow {
        id: token::new_id(),
        account_id: profile.account_id.clone(),
        provider_id: p.id.clone(),
        user_id: user_id.to_string(),
        access_token: protect(state, tokens.access_token.clone()),
        refresh_token: protect(state, tokens.refresh_token.clone()),
        id_token: protect(state, tokens.id_token.clone()),
        access_token_expires_at: tokens.access_token_expires_at,
        refresh_token_expires_at: tokens.refresh_token_expires_at,
        scope: scope_of(tokens, requested),
        password: None,
        created_at: now,
        updated_at: now,
    }
}

async fn store_tokens(
    state: &AppState,
    account_row_id: &str,
    tokens: &Tokens,
    requested: &[String],
) -> Result<(), ApiError> {
    social_store::update_tokens(
        &state.db,
        account_row_id,
        stored(state, tokens, scope_of(tokens, requested)),
        state.now(),
    )
    .await?;
    Ok(())
}

/// Decides and carries out, then signs the user in on this request: the
/// identity signs in, is linked, creates a user, or is refused.
pub async fn finish(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    p: &OAuthProvider,
    profile: &ProviderProfile,
    tokens: &Tokens,
    intent: Intent<'_>,
    requested: &[String],
) -> Result<Finished, ApiError> {
    Ok(
        match resolve(state, ctx, p, profile, tokens, intent, requested).await? {
            Resolved::User { user, is_new } => {
                let (_, token) = create_session(state, ctx, &user.id, true).await?;
                Finished::SignedIn {
                    user,
                    token,
                    is_new,
                }
            }
            Resolved::Linked => Finished::Linked,
            Resolved::Refused(r) => Finished::Refused(r),
        },
    )
}

/// Who the identity turned out to be, before any session exists.
pub enum Resolved {
    User { user: UserRow, is_new: bool },
    Linked,
    Refused(Refusal),
}

/// Decides and carries out everything but the session: links, creates the
/// user, stores the provider's tokens.
async fn resolve(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    p: &OAuthProvider,
    profile: &ProviderProfile,
    tokens: &Tokens,
    intent: Intent<'_>,
    requested: &[String],
) -> Result<Resolved, ApiError> {
    let linked = social_store::find_linked(&state.db, &p.id, &profile.account_id).await?;
    let by_email = match (&intent, &linked, &profile.email) {
        (Intent::SignIn { .. }, None, Some(email)) => {
            store::find_user_by_email(&state.db, email).await?
        }
        _ => None,
    };
    fn local(u: &UserRow) -> LocalUser<'_> {
        LocalUser {
            id: &u.id,
            email: &u.email,
            email_verified: u.email_verified,
        }
    }
    let owner = linked.as_ref().map(|(_, u)| u.clone());
    let known = Known {
        account_owner: owner.as_ref().map(local),
        user_with_email: by_email.as_ref().map(local),
    };
    let identity = Identity {
        provider_id: &p.id,
        account_id: &profile.account_id,
        email: profile.email.as_deref(),
        email_verified: profile.email_verified,
    };
    let decision = linking::decide(&policy(state, p), &identity, intent, known);
    let (user, is_new) = match decision {
        Decision::Refuse(r) => return Ok(Resolved::Refused(r)),
        Decision::Linked { already, .. } => {
            match (&linked, already) {
                (Some((account, _)), true) => {
                    store_tokens(state, &account.id, tokens, requested).await?
                }
                _ => {
                    let Intent::Link { user } = intent else {
                        return Err(ApiError::internal());
                    };
                    let row = new_account(state, p, profile, user.id, tokens, requested);
                    store::create_account(&state.db, &row).await.map_err(|e| {
                        if e.is_unique_violation() {
                            ApiError::new(codes::SOCIAL_ACCOUNT_ALREADY_LINKED)
                        } else {
                            tracing::error!(error = %e, "linking an account failed");
                            ApiError::new(codes::LINKING_FAILED)
                        }
                    })?;
                }
            }
            return Ok(Resolved::Linked);
        }
        Decision::SignInLinked { .. } => {
            let Some((account, user)) = linked else {
                return Err(ApiError::internal());
            };
            store_tokens(state, &account.id, tokens, requested).await?;
            let user = refresh_user_info(state, p, profile, user).await?;
            (user, false)
        }
        Decision::LinkAndSignIn { verify_email, .. } => {
            let Some(mut user) = by_email else {
                return Err(ApiError::internal());
            };
            if verify_email {
                // The provider proved the address: whoever registered it
                // unverified loses what they set up (core::ownership).
                user = ownership::claim_address(state, Some(ctx), &user, Proof::SignIn).await?;
            }
            let row = new_account(state, p, profile, &user.id, tokens, requested);
            store::create_account(&state.db, &row).await?;
            let user = refresh_user_info(state, p, profile, user).await?;
            (user, false)
        }
        Decision::CreateUser => {
            let now = state.now();
            let user = UserRow {
                id: token::new_id(),
                name: profile.name.clone(),
                email: profile.email.clone().unwrap_or_default(),
                email_verified: profile.email_verified,
                image: profile.image.clone(),
                created_at: now,
                updated_at: now,
            };
            let account = new_account(state, p, profile, &user.id, tokens, requested);
            let created: Result<(), ApiError> = with_conn!(&state.db, |conn| {
                in_transaction!(conn, {
                    store::insert_user(conn.into(), &user).await?;
                    store::insert_account(conn.into(), &account).await?;
                    Ok::<_, ApiError>(())
                })
            });
            created.map_err(|e| {
                tracing::error!(error = %e.message, "creating a user from a provider failed");
                ApiError::new(codes::FAILED_TO_CREATE_USER)
            })?;
            (user, true)
        }
    };
    Ok(Resolved::User { user, is_new })
}

async fn refresh_user_info(
    state: &AppState,
    p: &OAuthProvider,
    profile: &ProviderProfile,
    mut user: UserRow,
) -> Result<UserRow, ApiError> {
    if p.override_user_info_on_sign_in && !profile.name.is_empty() {
        social_store::update_user_info(
            &state.db,
            &user.id,
            &profile.name,
            profile.image.as_deref(),
            state.now(),
        )
        .await?;
        state.sessions.invalidate_user(&user.id);
        user.name = profile.name.clone();
        user.image = profile.image.clone();
    }
    Ok(user)
}

/// The callback's query (or form), as received.
pub type CallbackParams = BTreeMap<String, String>;

/// Finishes a redirect flow. Every outcome is a redirect: success to the
/// flow's callback URL (or new-user URL), failure to its error URL with
/// Better Auth's `?error=` code.
pub async fn callback(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    provider_id: &str,
    params: &CallbackParams,
) {
    let default_error = default_error_url(state);
    let fail = |url: &str, code: &str| ctx.set_redirect(url, &[("error", code)]);
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(oauth_state) = get("state") else {
        return fail(&default_error, "state_not_found");
    };
    let flow = match flow_state::take(state, ctx, oauth_state).await {
        Ok(f) => f,
        Err(e) => {
            tracing::info!(provider = provider_id, reason = ?e, "OAuth state refused");
            let code = match e {
                StateError::NotFound | StateError::OtherBrowser | StateError::Expired => {
                    "state_mismatch"
                }
            };
            return fail(&default_error, code);
        }
    };
    // A loopback flow reports to the app, with the app's state.
    let error_url = match &flow.loopback {
        Some(l) => crate::http::redirect::location(&l.redirect_uri, &[("state", &l.state)])
            .unwrap_or(default_error),
        None => flow.error_url.clone().unwrap_or(default_error),
    };
    if let Some(error) = get("error") {
        let description = get("error_description").unwrap_or("");
        ctx.set_redirect(
            &error_url,
            &[("error", error), ("error_description", description)],
        );
        return;
    }
    let Some(code) = get("code") else {
        return fail(&error_url, "no_code");
    };
    let Some(p) = state.social.get(provider_id) else {
        return fail(&error_url, "oauth_provider_not_found");
    };
    if let Some(iss) = get("iss") {
        // RFC 9207: an answer from another issuer is a mix-up attack.
        let expected = !p.issuers.is_empty() && !p.issuers.iter().any(|i| i == iss);
        if expected {
            return fail(&error_url, "issuer_mismatch");
        }
    }
    if p.nonce && flow.id_token_nonce.is_none() {
        return fail(&error_url, "nonce_binding_missing");
    }
    let http = &state.social.http;
    let now = state.now();
    let tokens = match oauth::exchange_code(
        http,
        &p,
        code,
        &flow.code_verifier,
        &redirect_uri(state, &p.id),
        now,
    )
    .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::info!(provider = %p.id, reason = %e, "code exchange failed");
            return fail(&error_url, "invalid_code");
        }
    };
    let apple_user = get("user").and_then(|u| serde_json::from_str::<Value>(u).ok());
    let profile = match oauth::profile(
        http,
        &p,
        &tokens,
        flow.id_token_nonce.as_deref(),
        apple_user.as_ref(),
    )
    .await
    {
        Ok(pr) => pr,
        Err(e) => {
            tracing::info!(provider = %p.id, reason = %e, "no usable profile");
            return fail(&error_url, "unable_to_get_user_info");
        }
    };
    let link_user;
    let intent = match &flow.link {
        Some(target) => {
            link_user = match store::find_user_by_id(&state.db, &target.user_id).await {
                Ok(Some(u)) => u,
                _ => return fail(&error_url, "unable_to_link_account"),
            };
            Intent::Link {
                user: LocalUser {
                    id: &link_user.id,
                    email: &link_user.email,
                    email_verified: link_user.email_verified,
                },
            }
        }
        None => Intent::SignIn {
            request_sign_up: flow.request_sign_up.unwrap_or(false),
        },
    };
    if let Some(target) = &flow.loopback {
        match resolve(state, ctx, &p, &profile, &tokens, intent, &p.scopes).await {
            Ok(Resolved::User { user, .. }) => {
                if let Err(e) = loopback::hand_off(state, ctx, target, &user.id).await {
                    fail_with(ctx, &error_url, &e);
                }
            }
            Ok(Resolved::Refused(r)) => fail(&error_url, r.callback_error()),
            Ok(Resolved::Linked) => fail_with(ctx, &error_url, &ApiError::internal()),
            Err(e) => fail_with(ctx, &error_url, &e),
        }
        return;
    }
    match finish(state, ctx, &p, &profile, &tokens, intent, &p.scopes).await {
        Ok(Finished::SignedIn { is_new, .. }) => {
            let target = match (&flow.new_user_url, is_new) {
                (Some(u), true) => u.as_str(),
                _ => flow.callback_url.as_str(),
            };
            ctx.set_redirect(target, &[]);
        }
        Ok(Finished::Linked) => ctx.set_redirect(&flow.callback_url, &[]),
        Ok(Finished::Refused(r)) => fail(&error_url, r.callback_error()),
        Err(e) => fail_with(ctx, &error_url, &e),
    }
}

/// A callback's failure as Better Auth's `?error=` code: storage failures by
/// their callback names; a plugin's refusal (a ban, ...) keeps its code and
/// message.
fn fail_with(ctx: &RequestContext, error_url: &str, e: &ApiError) {
    let code = if e.code == codes::FAILED_TO_CREATE_USER.code {
        "unable_to_create_user"
    } else if e.code == codes::FAILED_TO_CREATE_SESSION.code {
        "unable_to_create_session"
    } else if e.status.is_server_error() {
        "internal_server_error"
    } else {
        ctx.set_redirect(
            error_url,
            &[("error", &e.code), ("error_description", &e.message)],
        );
        return;
    };
    ctx.set_redirect(error_url, &[("error", code)]);
}
