//! The `/oauth2/*` routes. The protocol routes (authorize, token,
//! introspect, revoke, userinfo, register) answer errors in OAuth's shape;
//! the session-owned routes (consent, continue, client and consent
//! management) as Better Auth's do: 401 `{code, message}` without a
//! session, their own refusals in OAuth's shape.

use std::sync::Arc;

use poem::web::Data;
use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::{Map, Value};

use super::authorize::{self, ConsentDecision, Params, Resume, SignedIn};
use super::clients::{self, OAuthClientMetadata, OAuthClientResponse};
use super::errors::{self as oauth, ManageError, OAuthError};
use super::settings::OAuthProviderSettings;
use super::store;
use super::tokens::{self, OAuthTokenResponse};
use crate::core::dto::SuccessResponse;
use crate::core::session::{require_session, resolve_session, AuthSession, ResolveOptions};
use crate::docs::{RouteAuth, RouteDoc};
use crate::error::{codes, ApiError, ErrorCode};
use crate::http::context::{request_context, RequestContext};
use crate::plugin::PluginApi;
use crate::state::AppState;

pub struct OAuthProviderApi;

impl PluginApi for OAuthProviderApi {
    const ID: &'static str = super::ID;
    const DESCRIPTION: &'static str = super::DESCRIPTION;
}

const AUTHORIZE_ERRORS: &[ErrorCode] = &[
    oauth::INVALID_REQUEST,
    oauth::INVALID_CLIENT,
    oauth::INVALID_REDIRECT_URI,
    oauth::INVALID_SIGNATURE,
];
const CLIENT_AUTH_ERRORS: &[ErrorCode] = &[oauth::INVALID_REQUEST, oauth::INVALID_CLIENT];
const TOKEN_ERRORS: &[ErrorCode] = &[
    oauth::INVALID_REQUEST,
    oauth::INVALID_CLIENT,
    oauth::INVALID_GRANT,
    oauth::UNAUTHORIZED_CLIENT,
    oauth::UNSUPPORTED_GRANT_TYPE,
    oauth::INVALID_SCOPE,
    oauth::INVALID_TARGET,
    oauth::AUTHORIZATION_PENDING,
    oauth::SLOW_DOWN,
    oauth::EXPIRED_TOKEN,
    oauth::DEVICE_ACCESS_DENIED,
];
const HAND_OFF_ERRORS: &[ErrorCode] = &[
    oauth::INVALID_REQUEST,
    oauth::INVALID_CLIENT,
    oauth::INVALID_REDIRECT_URI,
    oauth::INVALID_SIGNATURE,
    oauth::INVALID_SCOPE,
];
const REGISTER_ERRORS: &[ErrorCode] = &[
    oauth::INVALID_REDIRECT_URI,
    oauth::INVALID_CLIENT_METADATA,
    oauth::INVALID_SCOPE,
    oauth::ACCESS_DENIED,
    oauth::LOGIN_REQUIRED,
];
const METADATA_ERRORS: &[ErrorCode] = &[
    oauth::INVALID_CLIENT_METADATA,
    oauth::INVALID_REDIRECT_URI,
    oauth::INVALID_SCOPE,
];
const MANAGE_ERRORS: &[ErrorCode] = &[oauth::CLIENT_NOT_FOUND];

const DEVICE_ERRORS: &[ErrorCode] = &[
    oauth::INVALID_REQUEST,
    oauth::LOGIN_REQUIRED,
    oauth::EXPIRED_TOKEN,
    oauth::USER_CODE_TAKEN,
];

pub const ROUTE_DOCS: &[RouteDoc] = &[
    RouteDoc {
        operation_id: "oauth2DeviceAuthorization",
        auth: RouteAuth::Public,
        errors: &[
            oauth::INVALID_REQUEST,
            oauth::INVALID_CLIENT,
            oauth::UNAUTHORIZED_CLIENT,
            oauth::INVALID_SCOPE,
        ],
    },
    RouteDoc {
        operation_id: "oauth2DeviceVerify",
        auth: RouteAuth::Session,
        errors: DEVICE_ERRORS,
    },
    RouteDoc {
        operation_id: "oauth2DeviceApprove",
        auth: RouteAuth::Session,
        errors: DEVICE_ERRORS,
    },
    RouteDoc {
        operation_id: "oauth2DeviceDeny",
        auth: RouteAuth::Session,
        errors: DEVICE_ERRORS,
    },
    RouteDoc {
        operation_id: "oauth2Authorize",
        auth: RouteAuth::Optional,
        errors: AUTHORIZE_ERRORS,
    },
    RouteDoc {
        operation_id: "oauth2AuthorizePost",
        auth: RouteAuth::Optional,
        errors: AUTHORIZE_ERRORS,
    },
    RouteDoc {
        operation_id: "oauth2Consent",
        auth: RouteAuth::Session,
        errors: HAND_OFF_ERRORS,
    },
    RouteDoc {
        operation_id: "oauth2Continue",
        auth: RouteAuth::Session,
        errors: HAND_OFF_ERRORS,
    },
    RouteDoc {
        operation_id: "oauth2Token",
        auth: RouteAuth::Public,
        errors: TOKEN_ERRORS,
    },
    RouteDoc {
        operation_id: "oauth2Introspect",
        auth: RouteAuth::Public,
        errors: CLIENT_AUTH_ERRORS,
    },
    RouteDoc {
        operation_id: "oauth2Revoke",
        auth: RouteAuth::Public,
        errors: &[
            oauth::INVALID_REQUEST,
            oauth::INVALID_CLIENT,
            oauth::UNAUTHORIZED_CLIENT,
        ],
    },
    RouteDoc {
        operation_id: "oauth2Userinfo",
        auth: RouteAuth::Public,
        errors: &[oauth::INVALID_TOKEN, oauth::INSUFFICIENT_SCOPE],
    },
    RouteDoc {
        operation_id: "oauth2UserinfoPost",
        auth: RouteAuth::Public,
        errors: &[oauth::INVALID_TOKEN, oauth::INSUFFICIENT_SCOPE],
    },
    RouteDoc {
        operation_id: "oauth2EndSession",
        auth: RouteAuth::Optional,
        errors: &[
            oauth::INVALID_REQUEST,
            oauth::INVALID_REDIRECT_URI,
            oauth::CLIENT_NOT_ALLOWED_TO_LOG_OUT,
        ],
    },
    RouteDoc {
        operation_id: "oauth2EndSessionPost",
        auth: RouteAuth::Optional,
        errors: &[
            oauth::INVALID_REQUEST,
            oauth::INVALID_REDIRECT_URI,
            oauth::CLIENT_NOT_ALLOWED_TO_LOG_OUT,
        ],
    },
    RouteDoc {
        operation_id: "oauth2Register",
        auth: RouteAuth::Optional,
        errors: REGISTER_ERRORS,
    },
    RouteDoc {
        operation_id: "oauth2CreateClient",
        auth: RouteAuth::Session,
        errors: METADATA_ERRORS,
    },
    RouteDoc {
        operation_id: "oauth2GetClient",
        auth: RouteAuth::Session,
        errors: MANAGE_ERRORS,
    },
    RouteDoc {
        operation_id: "oauth2GetClients",
        auth: RouteAuth::Session,
        errors: &[],
    },
    RouteDoc {
        operation_id: "oauth2PublicClient",
        auth: RouteAuth::Session,
        errors: MANAGE_ERRORS,
    },
    RouteDoc {
        operation_id: "oauth2UpdateClient",
        auth: RouteAuth::Session,
        errors: &[
            oauth::CLIENT_NOT_FOUND,
            oauth::INVALID_CLIENT_METADATA,
            oauth::INVALID_REDIRECT_URI,
            oauth::INVALID_SCOPE,
        ],
    },
    RouteDoc {
        operation_id: "oauth2RotateClientSecret",
        auth: RouteAuth::Session,
        errors: &[oauth::CLIENT_NOT_FOUND, oauth::CLIENT_HAS_NO_SECRET],
    },
    RouteDoc {
        operation_id: "oauth2DeleteClient",
        auth: RouteAuth::Session,
        errors: MANAGE_ERRORS,
    },
    RouteDoc {
        operation_id: "oauth2GetConsents",
        auth: RouteAuth::Session,
        errors: &[],
    },
    RouteDoc {
        operation_id: "oauth2GetConsent",
        auth: RouteAuth::Session,
        errors: &[oauth::CONSENT_NOT_FOUND],
    },
    RouteDoc {
        operation_id: "oauth2UpdateConsent",
        auth: RouteAuth::Session,
        errors: &[oauth::CONSENT_NOT_FOUND, oauth::INVALID_REQUEST],
    },
    RouteDoc {
        operation_id: "oauth2DeleteConsent",
        auth: RouteAuth::Session,
        errors: &[oauth::CONSENT_NOT_FOUND],
    },
];

/// The authorization request's parameters (RFC 6749 §4.1.1, OIDC Core
/// §3.1.2.1), as a form body; the query form takes the same names.
#[derive(Debug, Clone, Object)]
pub struct OAuthAuthorizeBody {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    /// `S256` only.
    pub code_challenge_method: Option<String>,
    pub nonce: Option<String>,
    /// `none`, `login`, `consent`, `select_account`, `create`.
    pub prompt: Option<String>,
    /// Seconds: the oldest sign-in accepted.
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    /// RFC 8707: the resource server the tokens are for (its access tokens are JWTs).
    pub resource: Option<String>,
}

/// An RP-initiated logout request, as a form body.
#[derive(Debug, Clone, Object)]
pub struct OAuthEndSessionBody {
    /// The ID token the client holds for the user.
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    /// Where to send the browser afterwards: one the client registered.
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

/// Where the browser goes next.
#[derive(Debug, Clone, Object)]
pub struct OAuthRedirectResponse {
    pub redirect: bool,
    pub url: String,
}

#[derive(ApiResponse)]
pub enum AuthorizeResponse {
    /// `fetch` callers (`Accept: application/json` or `Sec-Fetch-Mode: cors`)
    /// get the next URL as JSON; browsers get a `302` to it.
    #[oai(status = 200)]
    Json(Json<OAuthRedirectResponse>),
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct OAuthConsentBody {
    /// Whether the user grants the request.
    pub accept: bool,
    /// The scopes granted, space-separated: a subset of those requested (all when absent).
    pub scope: Option<String>,
    /// The signed query the consent page was opened with (required; a
    /// missing one is Better Auth's 400 `invalid_request`).
    #[oai(rename = "oauth_query")]
    pub oauth_query: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct OAuthContinueBody {
    /// The user chose an account (`prompt=select_account`).
    pub selected: Option<bool>,
    /// The user created an account (`prompt=create`).
    pub created: Option<bool>,
    /// The user has just signed in (`prompt=login`).
    pub post_login: Option<bool>,
    /// The signed query the page was opened with (required, as for consent).
    #[oai(rename = "oauth_query")]
    pub oauth_query: Option<String>,
}

/// A token request (RFC 6749 §4.1.3, §6, §4.4; RFC 8628 §3.4; RFC 8693
/// §2.1), form-encoded. Client credentials go in `Authorization: Basic`,
/// in the body, or as a signed `client_assertion` (`private_key_jwt`).
#[derive(Debug, Clone, Object)]
pub struct OAuthTokenBody {
    /// `authorization_code`, `refresh_token`, `client_credentials`,
    /// `urn:ietf:params:oauth:grant-type:device_code` or
    /// `urn:ietf:params:oauth:grant-type:token-exchange`.
    pub grant_type: String,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    /// RFC 8707: the resource server the access token is for (then a JWT).
    pub resource: Option<String>,
    /// The device code grant: what device authorization answered.
    pub device_code: Option<String>,
    /// Token exchange: the access token to exchange.
    pub subject_token: Option<String>,
    /// Token exchange: `urn:ietf:params:oauth:token-type:access_token`.
    pub subject_token_type: Option<String>,
    /// Token exchange: `urn:ietf:params:oauth:token-type:access_token` (the only one).
    pub requested_token_type: Option<String>,
    /// Token exchange: the resource server the new token is for (as `resource`).
    pub audience: Option<String>,
    /// Token exchange: not accepted (the actor is the authenticated client).
    pub actor_token: Option<String>,
    pub actor_token_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// `private_key_jwt`: `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    pub client_assertion_type: Option<String>,
    /// `private_key_jwt`: a JWT signed with one of the client's registered keys.
    pub client_assertion: Option<String>,
}

/// A device asks for codes (RFC 8628 §3.1), form-encoded, with its client
/// authentication (a public client sends `client_id` alone).
#[derive(Debug, Clone, Object)]
pub struct OAuthDeviceAuthorizationBody {
    pub client_id: Option<String>,
    /// Space-separated; the client's registered scopes when absent.
    pub scope: Option<String>,
    pub client_secret: Option<String>,
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
}

#[derive(ApiResponse)]
pub enum DeviceAuthorizationAnswer {
    /// The codes; never cached.
    #[oai(status = 200)]
    Ok(
        Json<super::device::OAuthDeviceAuthorizationResponse>,
        #[oai(header = "Cache-Control")] String,
    ),
}

/// The user code the signed-in user typed on the device page.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct OAuthDeviceDecisionBody {
    /// As shown on the device (`XXXX-XXXX`; case, spaces and dashes do not matter).
    pub user_code: String,
}

#[derive(ApiResponse)]
pub enum TokenAnswer {
    /// Tokens; never cached (`Cache-Control: no-store`).
    #[oai(status = 200)]
    Ok(
        Json<OAuthTokenResponse>,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "Pragma")] String,
    ),
}

/// A token to introspect or revoke (RFC 7662, RFC 7009), with the client's credentials.
#[derive(Debug, Clone, Object)]
pub struct OAuthTokenQueryBody {
    pub token: String,
    /// `access_token` or `refresh_token`: which kind to look for first.
    pub token_type_hint: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
}

/// RFC 7662's answer: `{active: false}` for anything not live.
#[derive(Debug, Clone, Object)]
pub struct OAuthIntrospectionResponse {
    pub active: bool,
    #[oai(skip_serializing_if_is_none)]
    pub token_type: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub client_id: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub scope: Option<String>,
    /// The user, or the client itself for client credentials.
    #[oai(skip_serializing_if_is_none)]
    pub sub: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub iat: Option<i64>,
    #[oai(skip_serializing_if_is_none)]
    pub exp: Option<i64>,
    #[oai(skip_serializing_if_is_none)]
    pub iss: Option<String>,
    /// The session the grant came from.
    #[oai(skip_serializing_if_is_none)]
    pub sid: Option<String>,
    /// The resource server(s) a JWT access token is addressed to.
    #[oai(skip_serializing_if_is_none)]
    pub aud: Option<Value>,
    /// An exchanged token's actor chain (RFC 8693 §4.1).
    #[oai(skip_serializing_if_is_none)]
    pub act: Option<Value>,
    /// The client an access token was issued to (as `client_id`).
    #[oai(skip_serializing_if_is_none)]
    pub azp: Option<String>,
}

#[derive(ApiResponse)]
pub enum EmptyAnswer {
    /// Done (also for a token that was unknown or already revoked, RFC 7009 §2.2).
    #[oai(status = 200)]
    Ok,
}

/// OIDC Core §5.3: `sub` plus the claims the token's scopes release.
#[derive(Debug, Clone, Object)]
pub struct OAuthUserinfoResponse {
    pub sub: String,
    #[oai(skip_serializing_if_is_none)]
    pub name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub given_name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub family_name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub picture: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub email_verified: Option<bool>,
}

#[derive(ApiResponse)]
pub enum RegisterAnswer {
    /// The client; its secret (confidential clients) is shown only here.
    #[oai(status = 201)]
    Created(
        Json<OAuthClientResponse>,
        #[oai(header = "Cache-Control")] String,
    ),
}

#[derive(ApiResponse)]
pub enum CreatedClient {
    /// The client; its secret (confidential clients) is shown only here.
    #[oai(status = 201)]
    Created(
        Json<OAuthClientResponse>,
        #[oai(header = "Cache-Control")] String,
    ),
}

#[derive(Debug, Clone, Object)]
pub struct OAuthClientIdBody {
    pub client_id: String,
}

#[derive(Debug, Clone, Object)]
pub struct OAuthUpdateClientBody {
    pub client_id: String,
    /// The client's new metadata (replaces the old; the authentication method is fixed).
    pub update: OAuthClientMetadata,
}

/// What a consent page may show about a client.
#[derive(Debug, Clone, Object)]
pub struct OAuthPublicClientResponse {
    pub client_id: String,
    /// Always empty: where the client may send users back is not public
    /// (Better Auth's answer has the key, empty, too).
    pub redirect_uris: Vec<String>,
    #[oai(skip_serializing_if_is_none)]
    pub contacts: Option<Vec<String>>,
    #[oai(skip_serializing_if_is_none)]
    pub client_name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub client_uri: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub logo_uri: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub tos_uri: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub policy_uri: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct OAuthConsentResponse {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Better Auth's consent row has these; Gatehouse's consents are per
    /// user and client, for every resource and claim: always null, null, [].
    pub reference_id: Option<String>,
    pub resources: Option<Vec<String>>,
    pub requested_user_info_claims: Vec<String>,
}

#[derive(Debug, Clone, Object)]
pub struct OAuthConsentIdBody {
    pub id: String,
}

#[derive(Debug, Clone, Object)]
pub struct OAuthConsentUpdate {
    /// The scopes the user keeps granting (a subset of those granted).
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Object)]
pub struct OAuthUpdateConsentBody {
    pub id: String,
    pub update: OAuthConsentUpdate,
}

/// Every parameter of the request (query, or form/JSON body), repeated ones refused.
fn request_params(req: &Request, ctx: &RequestContext) -> Result<Params, OAuthError> {
    match &ctx.body {
        Some(body) => authorize::params_from_pairs(body.iter().filter_map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.clone(), text))
        })),
        None => authorize::params_from_pairs(
            url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).into_owned(),
        ),
    }
}

/// Browsers get a 302; `fetch` callers the URL as JSON.
fn navigate(req: &Request, ctx: &RequestContext, url: String) -> AuthorizeResponse {
    let wants_json = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"))
        || req
            .headers()
            .get("sec-fetch-mode")
            .and_then(|v| v.to_str().ok())
            == Some("cors");
    if !wants_json {
        ctx.set_redirect(&url, &[]);
    }
    AuthorizeResponse::Json(Json(OAuthRedirectResponse {
        redirect: true,
        url,
    }))
}

/// Approve or deny, by the signed-in user who entered the code.
async fn device_decision(
    state: &AppState,
    req: &Request,
    user_code: &str,
    approve: bool,
) -> Result<Json<SuccessResponse>, OAuthError> {
    let session = hand_off_session(state, &request_context(req)).await?;
    super::device::decide(state, &session, user_code, approve).await?;
    Ok(Json(SuccessResponse { success: true }))
}

async fn hand_off_session(state: &AppState, ctx: &RequestContext) -> Result<SignedIn, OAuthError> {
    authorize::signed_in(state, ctx)
        .await?
        .ok_or_else(|| OAuthError::new(401, "login_required", "A session is required"))
}

fn required_query(q: &Option<String>) -> Result<&str, OAuthError> {
    q.as_deref()
        .ok_or_else(|| OAuthError::invalid_request("missing oauth query"))
}

/// The consent and continue steps' session: without one, Better Auth's
/// session middleware answers 401 `UNAUTHORIZED` in its own shape.
async fn consent_session(state: &AppState, ctx: &RequestContext) -> Result<SignedIn, ManageError> {
    authorize::signed_in(state, ctx)
        .await?
        .ok_or_else(|| ManageError::Api(ApiError::new(codes::UNAUTHORIZED)))
}

fn body_map(ctx: &RequestContext) -> Map<String, Value> {
    ctx.body.clone().unwrap_or_default()
}

fn bearer(req: &Request) -> Option<String> {
    let v = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

async fn owned_client(
    state: &AppState,
    session: &AuthSession,
    client_id: &str,
) -> Result<store::ClientRow, ManageError> {
    // Another user's client is "not found": its existence is not disclosed.
    store::client(&state.db, client_id)
        .await?
        .filter(|c| c.user_id.as_deref() == Some(session.user.id.as_str()))
        .ok_or_else(|| ManageError::OAuth(OAuthError::of(oauth::CLIENT_NOT_FOUND)))
}

fn consent_json(row: store::ConsentRow) -> OAuthConsentResponse {
    OAuthConsentResponse {
        id: row.id,
        client_id: row.client_id,
        user_id: row.user_id.unwrap_or_default(),
        scopes: serde_json::from_str(&row.scopes).unwrap_or_default(),
        created_at: crate::core::dto::iso(row.created_at),
        updated_at: crate::core::dto::iso(row.updated_at),
        reference_id: None,
        resources: None,
        requested_user_info_claims: Vec::new(),
    }
}

async fn owned_consent(
    state: &AppState,
    session: &AuthSession,
    id: &str,
) -> Result<store::ConsentRow, ManageError> {
    store::consent_by_id(&state.db, id)
        .await?
        .filter(|c| c.user_id.as_deref() == Some(session.user.id.as_str()))
        .ok_or_else(|| ManageError::OAuth(OAuthError::of(oauth::CONSENT_NOT_FOUND)))
}

#[OpenApi]
impl OAuthProviderApi {
    /// Authorization request
    ///
    /// Sends the browser on: to the app's login page or consent page (with
    /// a signed query that brings it back), or to the client's
    /// `redirect_uri` with `code`, `state` and `iss` (RFC 9207), or with
    /// `error`. A request whose client or `redirect_uri` cannot be trusted
    /// is answered here, never redirected.
    #[oai(
        path = "/oauth2/authorize",
        method = "get",
        operation_id = "oauth2Authorize"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn authorize_get(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        #[oai(name = "response_type")] _response_type: Query<Option<String>>,
        #[oai(name = "client_id")] _client_id: Query<Option<String>>,
        #[oai(name = "redirect_uri")] _redirect_uri: Query<Option<String>>,
        #[oai(name = "scope")] _scope: Query<Option<String>>,
        #[oai(name = "state")] _oauth_state: Query<Option<String>>,
        #[oai(name = "code_challenge")] _code_challenge: Query<Option<String>>,
        #[oai(name = "code_challenge_method")] _code_challenge_method: Query<Option<String>>,
        #[oai(name = "nonce")] _nonce: Query<Option<String>>,
        #[oai(name = "prompt")] _prompt: Query<Option<String>>,
        #[oai(name = "max_age")] _max_age: Query<Option<String>>,
        #[oai(name = "resource")] _resource: Query<Option<String>>,
    ) -> Result<AuthorizeResponse, OAuthError> {
        self.run_authorize(&state, req).await
    }

    /// Authorization request (form post)
    ///
    /// The same as the GET form, parameters in an
    /// `application/x-www-form-urlencoded` body.
    #[oai(
        path = "/oauth2/authorize",
        method = "post",
        operation_id = "oauth2AuthorizePost"
    )]
    async fn authorize_post(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        _body: Json<OAuthAuthorizeBody>,
    ) -> Result<AuthorizeResponse, OAuthError> {
        self.run_authorize(&state, req).await
    }

    /// Answer a consent request
    ///
    /// From the consent page, with the signed query it was opened with:
    /// records the user's grant (or refusal) and answers with the client's
    /// `redirect_uri` (a code, or `error=access_denied`).
    #[oai(
        path = "/oauth2/consent",
        method = "post",
        operation_id = "oauth2Consent"
    )]
    async fn consent(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<OAuthConsentBody>,
    ) -> Result<Json<OAuthRedirectResponse>, ManageError> {
        let ctx = request_context(req);
        let session = consent_session(&state, &ctx).await?;
        let s = state.settings::<OAuthProviderSettings>();
        let (params, issued) =
            authorize::verify_signed_query(&state, required_query(&body.oauth_query)?)?;
        let url = authorize::authorize(
            &state,
            &s,
            Some(session),
            params,
            Resume {
                issued_at: Some(issued),
                ..Resume::default()
            },
            Some(ConsentDecision {
                accept: body.accept,
                scope: body.scope.clone(),
            }),
        )
        .await?;
        Ok(Json(OAuthRedirectResponse {
            redirect: true,
            url,
        }))
    }

    /// Continue an authorization
    ///
    /// After the login page chose an account (`selected`), created one
    /// (`created`) or signed in (`postLogin`): resumes the signed request
    /// and answers with where the browser goes next.
    #[oai(
        path = "/oauth2/continue",
        method = "post",
        operation_id = "oauth2Continue"
    )]
    async fn continue_authorization(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<OAuthContinueBody>,
    ) -> Result<Json<OAuthRedirectResponse>, ManageError> {
        let ctx = request_context(req);
        let session = consent_session(&state, &ctx).await?;
        let flags = [body.selected, body.created, body.post_login];
        if !flags.contains(&Some(true)) {
            return Err(OAuthError::invalid_request(
                "Missing parameters: one of selected, created or postLogin",
            )
            .into());
        }
        let s = state.settings::<OAuthProviderSettings>();
        let (params, issued) =
            authorize::verify_signed_query(&state, required_query(&body.oauth_query)?)?;
        let url = authorize::authorize(
            &state,
            &s,
            Some(session),
            params,
            Resume {
                issued_at: Some(issued),
                selected: body.selected.unwrap_or(false),
                created: body.created.unwrap_or(false),
                post_login: body.post_login.unwrap_or(false),
            },
            None,
        )
        .await?;
        Ok(Json(OAuthRedirectResponse {
            redirect: true,
            url,
        }))
    }

    /// Device authorization request (RFC 8628)
    ///
    /// A device that cannot show a browser gets a `device_code` to poll the
    /// token endpoint with and a `user_code` for the user to enter at
    /// `verification_uri` (the app's device page), signed in.
    #[oai(
        path = "/oauth2/device-authorization",
        method = "post",
        operation_id = "oauth2DeviceAuthorization"
    )]
    async fn device_authorization(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        _body: Json<OAuthDeviceAuthorizationBody>,
    ) -> Result<DeviceAuthorizationAnswer, OAuthError> {
        let ctx = request_context(req);
        let body = body_map(&ctx);
        let client = clients::authenticate(&state, req.headers(), &body).await?;
        let s = state.settings::<OAuthProviderSettings>();
        let answer = super::device::start(&state, &s, &client, &body).await?;
        Ok(DeviceAuthorizationAnswer::Ok(
            Json(answer),
            "no-store".into(),
        ))
    }

    /// Enter a device's user code
    ///
    /// The device page calls this when the signed-in user types the code:
    /// it answers what the device asks for, and binds the code to this
    /// user. Only the user who entered a code may then approve or deny it.
    #[oai(
        path = "/oauth2/device",
        method = "get",
        operation_id = "oauth2DeviceVerify"
    )]
    async fn device_verify(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        #[oai(name = "user_code")] user_code: Query<String>,
    ) -> Result<Json<super::device::OAuthDeviceVerificationResponse>, OAuthError> {
        let session = hand_off_session(&state, &request_context(req)).await?;
        Ok(Json(
            super::device::enter(&state, &session, &user_code.0).await?,
        ))
    }

    /// Approve a device
    ///
    /// The signed-in user who entered the code lets the device have tokens
    /// for the scopes it asked for; its next poll gets them.
    #[oai(
        path = "/oauth2/device/approve",
        method = "post",
        operation_id = "oauth2DeviceApprove"
    )]
    async fn device_approve(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<OAuthDeviceDecisionBody>,
    ) -> Result<Json<SuccessResponse>, OAuthError> {
        device_decision(&state, req, &body.user_code, true).await
    }

    /// Deny a device
    ///
    /// The device's next poll gets `access_denied`.
    #[oai(
        path = "/oauth2/device/deny",
        method = "post",
        operation_id = "oauth2DeviceDeny"
    )]
    async fn device_deny(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<OAuthDeviceDecisionBody>,
    ) -> Result<Json<SuccessResponse>, OAuthError> {
        device_decision(&state, req, &body.user_code, false).await
    }

    /// Token request
    ///
    /// `authorization_code` (with the PKCE verifier), `refresh_token`
    /// (rotated on every use; a reused one revokes its whole family),
    /// `client_credentials`, the device code grant (RFC 8628), or token
    /// exchange (RFC 8693). With `resource`, the access token is a JWT
    /// (`at+jwt`, RFC 9068). Form-encoded; client authentication by
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt` or
    /// `none` (public clients).
    #[oai(path = "/oauth2/token", method = "post", operation_id = "oauth2Token")]
    async fn token(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        _body: Json<OAuthTokenBody>,
    ) -> Result<TokenAnswer, OAuthError> {
        let ctx = request_context(req);
        let body = body_map(&ctx);
        let client = clients::authenticate(&state, req.headers(), &body).await?;
        let s = state.settings::<OAuthProviderSettings>();
        let answer = tokens::grant(&state, &s, &client, &body).await?;
        Ok(TokenAnswer::Ok(
            Json(answer),
            "no-store".into(),
            "no-cache".into(),
        ))
    }

    /// Token introspection (RFC 7662)
    ///
    /// For resource servers, authenticated as a confidential client:
    /// whether a token is live, and what it stands for.
    #[oai(
        path = "/oauth2/introspect",
        method = "post",
        operation_id = "oauth2Introspect"
    )]
    async fn introspect(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<OAuthTokenQueryBody>,
    ) -> Result<Json<OAuthIntrospectionResponse>, OAuthError> {
        let ctx = request_context(req);
        let client = clients::authenticate(&state, req.headers(), &body_map(&ctx)).await?;
        if client.is_public() {
            return Err(OAuthError::invalid_client(
                "Introspection needs a confidential client",
            ));
        }
        // A client learns about its own tokens only: another client's is
        // "not active" to it, as in Better Auth.
        let found = tokens::find_live(&state, &body.token, body.token_type_hint.as_deref())
            .await?
            .filter(|f| f.client_id() == client.client_id);
        Ok(Json(tokens::introspection(&state, found)))
    }

    /// Token revocation (RFC 7009)
    ///
    /// Revokes an access token, or a refresh token and the access tokens
    /// issued with it. Only the client the token was issued to may revoke
    /// it; an unknown token is a success.
    #[oai(
        path = "/oauth2/revoke",
        method = "post",
        operation_id = "oauth2Revoke"
    )]
    async fn revoke(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<OAuthTokenQueryBody>,
    ) -> Result<EmptyAnswer, OAuthError> {
        let ctx = request_context(req);
        let client = clients::authenticate(&state, req.headers(), &body_map(&ctx)).await?;
        let now = state.now();
        match tokens::find_live(&state, &body.token, body.token_type_hint.as_deref()).await? {
            None => {}
            Some(tokens::Found::Access(r)) => {
                if r.client_id != client.client_id {
                    return Err(OAuthError::unauthorized_client(
                        "The token was issued to another client",
                    ));
                }
                store::revoke_access(&state.db, &r.id, now).await?;
                state.settings::<OAuthProviderSettings>().tokens.clear();
            }
            Some(tokens::Found::Refresh(r)) => {
                if r.client_id != client.client_id {
                    return Err(OAuthError::unauthorized_client(
                        "The token was issued to another client",
                    ));
                }
                store::revoke_refresh(&state.db, &r.id, now).await?;
                state.settings::<OAuthProviderSettings>().tokens.clear();
            }
        }
        Ok(EmptyAnswer::Ok)
    }

    /// UserInfo (OIDC Core §5.3)
    ///
    /// With `Authorization: Bearer <access token>` whose scopes include
    /// `openid`: the user's `sub` and the claims its scopes release.
    #[oai(
        path = "/oauth2/userinfo",
        method = "get",
        operation_id = "oauth2Userinfo"
    )]
    async fn userinfo(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> Result<Json<OAuthUserinfoResponse>, OAuthError> {
        userinfo(&state, req).await
    }

    /// UserInfo (POST)
    #[oai(
        path = "/oauth2/userinfo",
        method = "post",
        operation_id = "oauth2UserinfoPost"
    )]
    async fn userinfo_post(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> Result<Json<OAuthUserinfoResponse>, OAuthError> {
        userinfo(&state, req).await
    }

    /// RP-initiated logout
    ///
    /// With the `id_token_hint` the client holds: ends the browser's session
    /// of that user, then sends the browser to the registered
    /// `post_logout_redirect_uri` (with `state`), or answers
    /// `{success: true}` when none is given.
    #[oai(
        path = "/oauth2/end-session",
        method = "get",
        operation_id = "oauth2EndSession"
    )]
    async fn end_session_get(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        #[oai(name = "id_token_hint")] _id_token_hint: Query<Option<String>>,
        #[oai(name = "client_id")] _client_id: Query<Option<String>>,
        #[oai(name = "post_logout_redirect_uri")] _post_logout_redirect_uri: Query<Option<String>>,
        #[oai(name = "state")] _logout_state: Query<Option<String>>,
    ) -> Result<Json<OAuthEndSessionResponse>, OAuthError> {
        run_end_session(&state, req).await
    }

    /// RP-initiated logout (form post)
    #[oai(
        path = "/oauth2/end-session",
        method = "post",
        operation_id = "oauth2EndSessionPost"
    )]
    async fn end_session_post(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        _body: Json<OAuthEndSessionBody>,
    ) -> Result<Json<OAuthEndSessionResponse>, OAuthError> {
        run_end_session(&state, req).await
    }

    /// Dynamic client registration (RFC 7591)
    ///
    /// Open when `allow_dynamic_client_registration` is on: with a session
    /// the client belongs to its user; without one (only with
    /// `allow_unauthenticated_client_registration`) only public clients
    /// register, since no one could be shown a secret safely. The secret is
    /// shown only in this answer.
    #[oai(
        path = "/oauth2/register",
        method = "post",
        operation_id = "oauth2Register"
    )]
    async fn register(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<OAuthClientMetadata>,
    ) -> Result<RegisterAnswer, OAuthError> {
        let s = state.settings::<OAuthProviderSettings>();
        if !s.allow_dynamic_client_registration {
            return Err(OAuthError::new(
                403,
                "access_denied",
                "Client registration is disabled",
            ));
        }
        let ctx = request_context(req);
        let session = resolve_session(&state, &ctx, ResolveOptions::default()).await?;
        if session.is_none() {
            if !s.allow_unauthenticated_client_registration {
                return Err(OAuthError::new(
                    401,
                    "login_required",
                    "Client registration needs a session",
                ));
            }
            if body.token_endpoint_auth_method.as_deref() != Some(clients::AUTH_NONE) {
                return Err(OAuthError::new(
                    400,
                    "invalid_client_metadata",
                    "Without a session only public clients (token_endpoint_auth_method none) may register",
                ));
            }
        }
        let owner = session.map(|s| s.user.id);
        let (row, secret) = new_client(&state, &s, &body, owner)?;
        store::insert_client(&state.db, &row).await?;
        Ok(RegisterAnswer::Created(
            Json(row.to_response(secret)),
            "no-store".into(),
        ))
    }

    /// Create a client for the signed-in user
    ///
    /// Takes RFC 7591 metadata; the secret (confidential clients) is shown only here.
    #[oai(
        path = "/oauth2/create-client",
        method = "post",
        operation_id = "oauth2CreateClient"
    )]
    async fn create_client(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<OAuthClientMetadata>,
    ) -> Result<CreatedClient, ManageError> {
        let session = require_session(&state, &request_context(req)).await?;
        let s = state.settings::<OAuthProviderSettings>();
        let (row, secret) = new_client(&state, &s, &body, Some(session.user.id))?;
        store::insert_client(&state.db, &row).await?;
        Ok(CreatedClient::Created(
            Json(row.to_response(secret)),
            "no-store".into(),
        ))
    }

    /// One of the signed-in user's clients
    #[oai(
        path = "/oauth2/get-client",
        method = "get",
        operation_id = "oauth2GetClient"
    )]
    async fn get_client(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        client_id: Query<String>,
    ) -> Result<Json<OAuthClientResponse>, ManageError> {
        let session = require_session(&state, &request_context(req)).await?;
        let row = owned_client(&state, &session, &client_id).await?;
        Ok(Json(row.to_response(None)))
    }

    /// The signed-in user's clients
    #[oai(
        path = "/oauth2/get-clients",
        method = "get",
        operation_id = "oauth2GetClients"
    )]
    async fn get_clients(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> Result<Json<Vec<OAuthClientResponse>>, ManageError> {
        let session = require_session(&state, &request_context(req)).await?;
        let rows = store::clients_of(&state.db, &session.user.id).await?;
        Ok(Json(rows.iter().map(|r| r.to_response(None)).collect()))
    }

    /// What a consent page shows about a client
    ///
    /// Name, links and logo of any enabled client, for the signed-in user deciding on it.
    #[oai(
        path = "/oauth2/public-client",
        method = "get",
        operation_id = "oauth2PublicClient"
    )]
    async fn public_client(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        client_id: Query<String>,
    ) -> Result<Json<OAuthPublicClientResponse>, ManageError> {
        require_session(&state, &request_context(req)).await?;
        let row = store::client(&state.db, &client_id)
            .await?
            .filter(|c| !c.disabled.unwrap_or(false))
            .ok_or_else(|| ManageError::OAuth(OAuthError::of(oauth::CLIENT_NOT_FOUND)))?;
        Ok(Json(OAuthPublicClientResponse {
            redirect_uris: Vec::new(),
            contacts: row.contacts.as_ref().map(|_| clients::list(&row.contacts)),
            client_id: row.client_id,
            client_name: row.name,
            client_uri: row.uri,
            logo_uri: row.icon,
            tos_uri: row.tos,
            policy_uri: row.policy,
        }))
    }

    /// Update one of the signed-in user's clients
    #[oai(
        path = "/oauth2/update-client",
        method = "post",
        operation_id = "oauth2UpdateClient"
    )]
    async fn update_client(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<OAuthUpdateClientBody>,
    ) -> Result<Json<OAuthClientResponse>, ManageError> {
        let session = require_session(&state, &request_context(req)).await?;
        let existing = owned_client(&state, &session, &body.client_id).await?;
        let s = state.settings::<OAuthProviderSettings>();
        // What the update names replaces; the rest stays as registered.
        let merged = clients::merge(existing.metadata_of(), &body.update);
        let row = clients::build_row(&state, &s, &merged, Some(&existing), None)?;
        store::update_client(&state.db, &row).await?;
        s.clients.forget(&row.client_id);
        Ok(Json(row.to_response(None)))
    }

    /// A new secret for one of the signed-in user's confidential clients
    ///
    /// The old secret stops working at once; the new one is shown only here.
    #[oai(
        path = "/oauth2/client/rotate-secret",
        method = "post",
        operation_id = "oauth2RotateClientSecret"
    )]
    async fn rotate_secret(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<OAuthClientIdBody>,
    ) -> Result<Json<OAuthClientResponse>, ManageError> {
        let session = require_session(&state, &request_context(req)).await?;
        let mut row = owned_client(&state, &session, &body.client_id).await?;
        if !row.uses_secret() {
            return Err(ManageError::OAuth(OAuthError::of(
                oauth::CLIENT_HAS_NO_SECRET,
            )));
        }
        let (secret, stored) = clients::new_secret();
        row.client_secret = Some(stored);
        row.updated_at = state.now();
        store::update_client(&state.db, &row).await?;
        state
            .settings::<OAuthProviderSettings>()
            .clients
            .forget(&row.client_id);
        Ok(Json(row.to_response(Some(secret))))
    }

    /// Delete one of the signed-in user's clients
    ///
    /// Its tokens and consents go with it.
    #[oai(
        path = "/oauth2/delete-client",
        method = "post",
        operation_id = "oauth2DeleteClient"
    )]
    async fn delete_client(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<OAuthClientIdBody>,
    ) -> Result<Json<SuccessResponse>, ManageError> {
        let session = require_session(&state, &request_context(req)).await?;
        let row = owned_client(&state, &session, &body.client_id).await?;
        store::delete_client(&state.db, &row.client_id).await?;
        state.settings::<OAuthProviderSettings>().tokens.clear();
        state
            .settings::<OAuthProviderSettings>()
            .clients
            .forget(&row.client_id);
        Ok(Json(SuccessResponse { success: true }))
    }

    /// The signed-in user's consents
    #[oai(
        path = "/oauth2/get-consents",
        method = "get",
        operation_id = "oauth2GetConsents"
    )]
    async fn get_consents(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> Result<Json<Vec<OAuthConsentResponse>>, ManageError> {
        let session = require_session(&state, &request_context(req)).await?;
        let rows = store::consents_of(&state.db, &session.user.id).await?;
        Ok(Json(rows.into_iter().map(consent_json).collect()))
    }

    /// One of the signed-in user's consents
    #[oai(
        path = "/oauth2/get-consent",
        method = "get",
        operation_id = "oauth2GetConsent"
    )]
    async fn get_consent(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        id: Query<String>,
    ) -> Result<Json<OAuthConsentResponse>, ManageError> {
        let session = require_session(&state, &request_context(req)).await?;
        Ok(Json(consent_json(
            owned_consent(&state, &session, &id).await?,
        )))
    }

    /// Narrow one of the signed-in user's consents
    ///
    /// The scopes kept must be among those granted; the client asks again for the rest.
    #[oai(
        path = "/oauth2/update-consent",
        method = "post",
        operation_id = "oauth2UpdateConsent"
    )]
    async fn update_consent(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<OAuthUpdateConsentBody>,
    ) -> Result<Json<OAuthConsentResponse>, ManageError> {
        let session = require_session(&state, &request_context(req)).await?;
        let row = owned_consent(&state, &session, &body.id).await?;
        let granted: Vec<String> = serde_json::from_str(&row.scopes).unwrap_or_default();
        if let Some(bad) = body.update.scopes.iter().find(|s| !granted.contains(s)) {
            return Err(OAuthError::invalid_request(format!(
                "Scope {bad} was not granted: a consent can only be narrowed"
            ))
            .into());
        }
        let text = serde_json::to_string(&body.update.scopes).unwrap_or_else(|_| "[]".into());
        store::set_consent_scopes(&state.db, &row.id, &text, state.now()).await?;
        Ok(Json(consent_json(
            owned_consent(&state, &session, &body.id).await?,
        )))
    }

    /// Withdraw one of the signed-in user's consents
    ///
    /// The client must ask again next time.
    #[oai(
        path = "/oauth2/delete-consent",
        method = "post",
        operation_id = "oauth2DeleteConsent"
    )]
    async fn delete_consent(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<OAuthConsentIdBody>,
    ) -> Result<Json<SuccessResponse>, ManageError> {
        let session = require_session(&state, &request_context(req)).await?;
        let row = owned_consent(&state, &session, &body.id).await?;
        store::delete_consent(&state.db, &row.id).await?;
        Ok(Json(SuccessResponse { success: true }))
    }
}

impl OAuthProviderApi {
    async fn run_authorize(
        &self,
        state: &AppState,
        req: &Request,
    ) -> Result<AuthorizeResponse, OAuthError> {
        let ctx = request_context(req);
        let s = state.settings::<OAuthProviderSettings>();
        let mut params = request_params(req, &ctx)?;
        // A login page that sends the user back with the signed query: the
        // original request, and when it was made.
        let resume = if params.contains_key("sig") {
            let (original, issued) = authorize::verify_signed_params(state, params)?;
            params = original;
            Resume {
                issued_at: Some(issued),
                ..Resume::default()
            }
        } else {
            Resume::default()
        };
        let session = authorize::signed_in(state, &ctx).await?;
        let url = authorize::authorize(state, &s, session, params, resume, None).await?;
        Ok(navigate(req, &ctx, url))
    }
}

async fn run_end_session(
    state: &AppState,
    req: &Request,
) -> Result<Json<OAuthEndSessionResponse>, OAuthError> {
    let ctx = request_context(req);
    let params = request_params(req, &ctx)?;
    let s = state.settings::<OAuthProviderSettings>();
    match super::end_session::end_session(state, &s, &ctx, &params).await? {
        // A browser follows a 302; a fetch gets where to go (`{redirect, url}`).
        Some(url) => {
            let AuthorizeResponse::Json(Json(r)) = navigate(req, &ctx, url);
            Ok(Json(OAuthEndSessionResponse {
                success: None,
                redirect: Some(r.redirect),
                url: Some(r.url),
            }))
        }
        None => Ok(Json(OAuthEndSessionResponse {
            success: Some(true),
            redirect: None,
            url: None,
        })),
    }
}

/// What RP-initiated logout answers: `{success: true}`, or where to send
/// the browser next (`{redirect: true, url}`, with a 302 for browsers).
#[derive(Debug, Clone, Object)]
pub struct OAuthEndSessionResponse {
    #[oai(skip_serializing_if_is_none)]
    pub success: Option<bool>,
    #[oai(skip_serializing_if_is_none)]
    pub redirect: Option<bool>,
    #[oai(skip_serializing_if_is_none)]
    pub url: Option<String>,
}

fn new_client(
    state: &AppState,
    s: &OAuthProviderSettings,
    meta: &OAuthClientMetadata,
    owner: Option<String>,
) -> Result<(store::ClientRow, Option<String>), OAuthError> {
    let mut row = clients::build_row(state, s, meta, None, owner)?;
    let secret = if !row.uses_secret() {
        None
    } else {
        let (secret, stored) = clients::new_secret();
        row.client_secret = Some(stored);
        Some(secret)
    };
    Ok((row, secret))
}

async fn userinfo(
    state: &AppState,
    req: &Request,
) -> Result<Json<OAuthUserinfoResponse>, OAuthError> {
    let presented = bearer(req)
        .ok_or_else(|| OAuthError::invalid_token("A bearer access token is required"))?;
    let Some(tokens::Found::Access(row)) =
        tokens::find_live(state, &presented, Some("access_token")).await?
    else {
        return Err(OAuthError::invalid_token(
            "The access token is invalid or expired",
        ));
    };
    let scopes: Vec<String> = serde_json::from_str(&row.scopes).unwrap_or_default();
    if !scopes.iter().any(|s| s == super::settings::OPENID) {
        return Err(OAuthError::new(
            403,
            "insufficient_scope",
            "The access token lacks the openid scope",
        ));
    }
    let user_id = row
        .user_id
        .ok_or_else(|| OAuthError::invalid_token("The token stands for no user"))?;
    let user = crate::db::store::find_user_by_id(&state.db, &user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("The user no longer exists"))?;
    let c = tokens::user_claims(&user, &scopes);
    let text = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(Json(OAuthUserinfoResponse {
        sub: user.id.clone(),
        name: text("name"),
        given_name: text("given_name"),
        family_name: text("family_name"),
        picture: text("picture"),
        email: text("email"),
        email_verified: c.get("email_verified").and_then(Value::as_bool),
    }))
}
