//! OAuth's own error shape (RFC 6749 §5.2): `{"error", "error_description"}`,
//! which every relying-party library reads. The session-owned management
//! routes answer as Better Auth's do: the session check in its
//! `{code, message}`, the route's own refusals in OAuth's shape
//! ([`ManageError`]).

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaResponses, Registry};
use poem_openapi::ApiResponse;

use crate::db::StorageError;
use crate::error::{ApiError, ErrorCode, ErrorOrOAuthErrorBody, OAuthErrorBody};

#[derive(Debug, Clone)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// `WWW-Authenticate` for 401s (RFC 6749 §5.2, RFC 6750 §3).
    pub challenge: Option<String>,
}

impl OAuthError {
    pub fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            error,
            description: description.into(),
            challenge: None,
        }
    }

    /// One of the declared codes below, with its own description.
    pub fn of(c: ErrorCode) -> Self {
        Self::new(c.status, c.code, c.message)
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", d)
    }

    pub fn invalid_client(d: impl Into<String>) -> Self {
        let mut e = Self::new(401, "invalid_client", d);
        e.challenge = Some("Basic realm=\"oauth\"".into());
        e
    }

    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(400, "invalid_grant", d)
    }

    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(400, "invalid_scope", d)
    }

    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(400, "unauthorized_client", d)
    }

    pub fn invalid_token(d: impl Into<String>) -> Self {
        let description: String = d.into();
        let mut e = Self::new(401, "invalid_token", description.clone());
        e.challenge = Some(format!(
            "Bearer error=\"invalid_token\", error_description=\"{}\"",
            description.replace('"', "'")
        ));
        e
    }

    pub fn server_error() -> Self {
        Self::new(500, "server_error", "Internal server error")
    }

    pub fn body(&self) -> OAuthErrorBody {
        OAuthErrorBody {
            error: self.error.to_string(),
            error_description: self.description.clone(),
        }
    }
}

impl From<StorageError> for OAuthError {
    fn from(e: StorageError) -> Self {
        tracing::error!(error = %e, "oauth-provider storage error");
        OAuthError::server_error()
    }
}

impl From<crate::error::ApiError> for OAuthError {
    fn from(e: crate::error::ApiError) -> Self {
        if e.status.is_server_error() {
            return OAuthError::server_error();
        }
        OAuthError::new(e.status.as_u16(), "invalid_request", e.message.to_string())
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.description)
    }
}

impl std::error::Error for OAuthError {}

impl poem::error::ResponseError for OAuthError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        self.clone().into_response()
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut b = Response::builder()
            .status(self.status)
            .content_type("application/json")
            .header("cache-control", "no-store");
        if let Some(c) = &self.challenge {
            b = b.header("www-authenticate", c.as_str());
        }
        b.body(serde_json::to_vec(&self.body()).unwrap_or_default())
    }
}

/// The spec's error responses come from the route docs (see `crate::docs`).
impl ApiResponse for OAuthError {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: Vec::new(),
        }
    }

    fn register(registry: &mut Registry) {
        <OAuthErrorBody as poem_openapi::types::Type>::register(registry);
    }
}

/// A refusal of a route where Better Auth answers in both shapes: its
/// session middleware's `{code, message}` (401 `UNAUTHORIZED`, and the body
/// checks), the route's own refusals as OAuth errors.
#[derive(Debug)]
pub enum ManageError {
    Api(ApiError),
    OAuth(OAuthError),
}

impl From<ApiError> for ManageError {
    fn from(e: ApiError) -> Self {
        ManageError::Api(e)
    }
}

impl From<OAuthError> for ManageError {
    fn from(e: OAuthError) -> Self {
        ManageError::OAuth(e)
    }
}

impl From<StorageError> for ManageError {
    fn from(e: StorageError) -> Self {
        ManageError::Api(e.into())
    }
}

impl std::fmt::Display for ManageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManageError::Api(e) => e.fmt(f),
            ManageError::OAuth(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ManageError {}

impl poem::error::ResponseError for ManageError {
    fn status(&self) -> StatusCode {
        match self {
            ManageError::Api(e) => e.status,
            ManageError::OAuth(e) => e.status,
        }
    }

    fn as_response(&self) -> Response {
        match self {
            ManageError::Api(e) => e.as_response(),
            ManageError::OAuth(e) => e.as_response(),
        }
    }
}

impl IntoResponse for ManageError {
    fn into_response(self) -> Response {
        match self {
            ManageError::Api(e) => e.into_response(),
            ManageError::OAuth(e) => e.into_response(),
        }
    }
}

impl ApiResponse for ManageError {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: Vec::new(),
        }
    }

    fn register(registry: &mut Registry) {
        <ErrorOrOAuthErrorBody as poem_openapi::types::Type>::register(registry);
    }
}

/// The OAuth errors, as route-doc entries (the spec lists them per status).
macro_rules! oauth_codes {
    ($($name:ident = ($status:expr, $code:expr, $message:expr);)*) => {
        $(pub const $name: ErrorCode = ErrorCode { code: $code, message: $message, status: $status };)*
    };
}

oauth_codes! {
    INVALID_REQUEST = (400, "invalid_request", "A parameter is missing, repeated or malformed");
    INVALID_CLIENT = (401, "invalid_client", "Client authentication failed (unknown client, wrong secret, wrong method)");
    INVALID_GRANT = (400, "invalid_grant", "The code or refresh token is invalid, expired, spent, or was issued to another client or redirect URI; or the PKCE verifier does not match");
    UNAUTHORIZED_CLIENT = (400, "unauthorized_client", "The client may not use this grant or act on this token");
    UNSUPPORTED_GRANT_TYPE = (400, "unsupported_grant_type", "The grant type is not supported");
    INVALID_SCOPE = (400, "invalid_scope", "A requested scope is unknown or not allowed for the client");
    INVALID_TOKEN = (401, "invalid_token", "The access token is missing, invalid, expired or revoked");
    INSUFFICIENT_SCOPE = (403, "insufficient_scope", "The access token lacks the openid scope");
    INVALID_REDIRECT_URI = (400, "invalid_redirect_uri", "A redirect URI is not acceptable");
    INVALID_CLIENT_METADATA = (400, "invalid_client_metadata", "A client metadata value is not acceptable");
    ACCESS_DENIED = (403, "access_denied", "Registration is closed, or needs a session");
    LOGIN_REQUIRED = (401, "login_required", "A session is required");
    INVALID_SIGNATURE = (400, "invalid_signature", "The signed authorization query does not verify or has expired");
    UNSUPPORTED_TOKEN_TYPE = (400, "unsupported_token_type", "The token type hint names a type this server does not revoke");
    AUTHORIZATION_PENDING = (400, "authorization_pending", "The user has not approved the device yet: poll again after the interval");
    SLOW_DOWN = (400, "slow_down", "Polled sooner than the interval: wait 5 seconds longer from now on");
    EXPIRED_TOKEN = (400, "expired_token", "The device code has expired: start again");
    DEVICE_ACCESS_DENIED = (400, "access_denied", "The user denied the device");
    INVALID_TARGET = (400, "invalid_target", "The resource or audience is not one this server issues tokens for");
    USER_CODE_TAKEN = (403, "access_denied", "Another user entered this code: only that user may decide on it");
    CLIENT_NOT_FOUND = (404, "not_found", "client not found");
    CONSENT_NOT_FOUND = (404, "not_found", "no consent");
    CLIENT_HAS_NO_SECRET = (400, "invalid_client", "secret rotation is only available for clients using client_secret authentication");
    CLIENT_NOT_ALLOWED_TO_LOG_OUT = (401, "invalid_client", "The client is not allowed to initiate logout");
}
