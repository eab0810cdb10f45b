//! The one error type that reaches HTTP: `{"code": "...", "message": "..."}`
//! with a status. Lower layers return typed errors that map into it here.

use std::borrow::Cow;

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::{ApiResponse, Object};

use crate::db::StorageError;

/// The error body every failing route returns.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "ErrorBody")]
pub struct ErrorBody {
    /// Stable UPPER_SNAKE error code (Better Auth's codes, plus the plugins').
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// More about this error, for the few codes that carry it (e.g.
    /// `RATE_LIMITED`'s `{"tryAgainIn": <ms>}`).
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// The error body of the routes that speak OAuth 2 (RFC 6749 §5.2), for
/// the OAuth client libraries that call them; see `Plugin::oauth_paths`.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "OAuthErrorBody")]
pub struct OAuthErrorBody {
    /// An RFC 6749 / 7009 / 7662 / 8628 error code (`invalid_request`, `invalid_client`, `invalid_grant`, ...).
    pub error: String,
    /// Human-readable detail.
    pub error_description: String,
}

/// The error body of the few operations where Better Auth answers in both
/// shapes: its own `{code, message}` for the session and body checks, and
/// OAuth's `{error, error_description}` for the route's own refusals (the
/// oauth-provider's client and consent management, its consent hand-off).
/// Exactly one pair is present.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "ErrorOrOAuthErrorBody")]
pub struct ErrorOrOAuthErrorBody {
    /// As in `ErrorBody`.
    pub code: Option<String>,
    /// As in `ErrorBody`.
    pub message: Option<String>,
    /// As in `ErrorBody`.
    pub details: Option<serde_json::Value>,
    /// As in `OAuthErrorBody`.
    pub error: Option<String>,
    /// As in `OAuthErrorBody`.
    pub error_description: Option<String>,
}

/// An error code with its default message and status, declared as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: &'static str,
    pub message: &'static str,
    pub status: u16,
}

/// Declares error codes as `pub const NAME: ErrorCode` plus `ALL`, the
/// table of them (core here; each plugin declares its own the same way).
#[macro_export]
macro_rules! error_codes {
    ($($name:ident = ($status:expr, $message:expr);)*) => {
        $(pub const $name: $crate::error::ErrorCode = $crate::error::ErrorCode { code: stringify!($name), message: $message, status: $status };)*
        /// Every error code of this table, for uniqueness checks and documentation.
        pub const ALL: &[$crate::error::ErrorCode] = &[$($name),*];
    };
}

/// Core error codes (Better Auth's base codes that core routes can return).
pub mod codes {
    error_codes! {
        USER_NOT_FOUND = (400, "User not found");
        FAILED_TO_CREATE_USER = (422, "Failed to create user");
        FAILED_TO_CREATE_SESSION = (500, "Failed to create session");
        FAILED_TO_GET_SESSION = (500, "Failed to get session");
        INVALID_PASSWORD = (400, "Invalid password");
        INVALID_EMAIL = (400, "Invalid email");
        INVALID_EMAIL_OR_PASSWORD = (401, "Invalid email or password");
        EMAIL_NOT_VERIFIED = (403, "Email not verified");
        PASSWORD_TOO_SHORT = (400, "Password too short");
        PASSWORD_TOO_LONG = (400, "Password too long");
        USER_ALREADY_EXISTS = (422, "User already exists.");
        USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL = (422, "User already exists. Use another email.");
        EMAIL_CAN_NOT_BE_UPDATED = (400, "Email can not be updated");
        CREDENTIAL_ACCOUNT_NOT_FOUND = (400, "Credential account not found");
        SESSION_EXPIRED = (400, "Session expired. Re-authenticate to perform this action.");
        USER_ALREADY_HAS_PASSWORD = (400, "User already has a password. Provide that to delete the account.");
        CROSS_SITE_NAVIGATION_LOGIN_BLOCKED = (403, "Cross-site navigation login blocked. This request appears to be a CSRF attack.");
        SESSION_NOT_FRESH = (403, "Session is not fresh");
        INVALID_ORIGIN = (403, "Invalid origin");
        INVALID_CALLBACK_URL = (403, "Invalid callbackURL");
        INVALID_REDIRECT_URL = (403, "Invalid redirectURL");
        INVALID_ERROR_CALLBACK_URL = (403, "Invalid errorCallbackURL");
        INVALID_NEW_USER_CALLBACK_URL = (403, "Invalid newUserCallbackURL");
        MISSING_OR_NULL_ORIGIN = (403, "Missing or null Origin");
        VALIDATION_ERROR = (400, "Validation Error");
        BODY_MUST_BE_AN_OBJECT = (400, "Body must be an object");
        PASSWORD_ALREADY_SET = (400, "User already has a password set");
        UNAUTHORIZED = (401, "Unauthorized");
        NOT_FOUND = (404, "Not found");
        BAD_REQUEST = (400, "Invalid JSON in request body");
        UNSUPPORTED_MEDIA_TYPE = (415, "Unsupported media type");
        PAYLOAD_TOO_LARGE = (413, "Request body is too large");
        EMAIL_PASSWORD_DISABLED = (400, "Email and password is not enabled");
        EMAIL_PASSWORD_SIGN_UP_DISABLED = (400, "Email and password sign up is not enabled");
        NO_FIELDS_TO_UPDATE = (400, "No fields to update");
        INVALID_TOKEN = (400, "Invalid token");
        TOKEN_EXPIRED = (400, "Token expired");
        VERIFICATION_EMAIL_NOT_ENABLED = (400, "Verification email isn't enabled");
        EMAIL_ALREADY_VERIFIED = (400, "Email is already verified");
        EMAIL_MISMATCH = (400, "Email mismatch");
        RESET_PASSWORD_DISABLED = (400, "Reset password isn't enabled");
        FAILED_TO_GET_USER_INFO = (404, "Failed to get user info");
        CHANGE_EMAIL_DISABLED = (400, "Change email is disabled");
        EMAIL_IS_THE_SAME = (400, "Email is the same");
        NEW_USER_SIGNUP_DISABLED = (400, "New user signup is disabled");
        FIELD_TOO_LONG = (400, "Field is too long");
        TOO_MANY_REQUESTS = (429, "Too many requests. Please try again later.");
        REQUEST_TIMEOUT = (408, "The request body did not arrive in time");
        SERVER_BUSY = (503, "The server is busy. Please try again shortly.");
        INTERNAL_SERVER_ERROR = (500, "Internal Server Error");
        PROVIDER_NOT_FOUND = (404, "Provider not found");
        ID_TOKEN_NOT_SUPPORTED = (404, "id_token not supported");
        USER_EMAIL_NOT_FOUND = (401, "User email not found");
        OAUTH_LINK_ERROR = (401, "Unable to link account");
        LINKING_NOT_ALLOWED = (401, "Account not linked - linking not allowed");
        LINKING_DIFFERENT_EMAILS_NOT_ALLOWED = (401, "Account not linked - different emails not allowed");
        LINKING_FAILED = (417, "Account not linked - unable to create account");
        SOCIAL_ACCOUNT_ALREADY_LINKED = (409, "Social account already linked");
        FAILED_TO_UNLINK_LAST_ACCOUNT = (400, "You can't unlink your last account");
        ACCOUNT_NOT_FOUND = (400, "Account not found");
        PROVIDER_NOT_SUPPORTED = (400, "Provider not supported");
        FAILED_TO_GET_ACCESS_TOKEN = (400, "Failed to get a valid access token");
        TOKEN_REFRESH_NOT_SUPPORTED = (400, "Token refresh not supported");
        REFRESH_TOKEN_NOT_FOUND = (400, "Refresh token not found");
        FAILED_TO_REFRESH_ACCESS_TOKEN = (400, "Failed to refresh access token");
        INVALID_LOOPBACK_REDIRECT = (400, "Invalid loopback redirect");
        INVALID_LOOPBACK_CODE = (400, "Invalid or expired sign-in code");
    }
}

/// An error on its way to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: Cow<'static, str>,
    /// Sent as the body's `details` when set (boxed: errors travel in
    /// `Result`s everywhere and the common case carries none).
    pub details: Option<Box<serde_json::Value>>,
}

impl ApiError {
    pub fn new(code: ErrorCode) -> Self {
        ApiError {
            status: StatusCode::from_u16(code.status).unwrap_or(StatusCode::BAD_REQUEST),
            code: Cow::Borrowed(code.code),
            message: Cow::Borrowed(code.message),
            details: None,
        }
    }

    /// Same code and status, a more specific message.
    pub fn with_message(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            message: message.into(),
            ..ApiError::new(code)
        }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = StatusCode::from_u16(status).unwrap_or(self.status);
        self
    }

    /// Adds the body's `details` (e.g. how long to wait).
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    pub fn validation(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::with_message(codes::VALIDATION_ERROR, message)
    }

    pub fn internal() -> Self {
        ApiError::new(codes::INTERNAL_SERVER_ERROR)
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.to_string(),
            message: self.message.to_string(),
            details: self.details.as_deref().cloned(),
        }
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        ApiError::new(code)
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        // Details go to the log, never to the client.
        tracing::error!(error = %err, "storage failure");
        ApiError::internal()
    }
}

impl From<crate::crypto::password::PasswordError> for ApiError {
    fn from(err: crate::crypto::password::PasswordError) -> Self {
        match err {
            crate::crypto::password::PasswordError::Busy => ApiError::new(codes::SERVER_BUSY),
            other => {
                tracing::error!(error = %other, "password hashing failed");
                ApiError::internal()
            }
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        json_error_response(self.status, &self.body())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_error_response(self.status, &self.body())
    }
}

pub(crate) fn json_error_response(status: StatusCode, body: &ErrorBody) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(serde_json::to_vec(body).unwrap_or_default())
}

/// Every route declares the same error schema for the statuses it can fail
/// with, so generated clients get one typed error.
impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        const STATUSES: &[(u16, &str)] = &[
            (
                400,
                "Invalid input (`VALIDATION_ERROR` and route-specific codes)",
            ),
            (401, "Not signed in, or wrong credentials"),
            (403, "Forbidden: origin check, freshness or policy"),
            (404, "Not found"),
            (413, "Request body too large"),
            (415, "Unsupported media type"),
            (422, "Unprocessable: e.g. the user already exists"),
            (
                408,
                "The request body did not arrive in time (`REQUEST_TIMEOUT`)",
            ),
            (429, "Rate limited; see the X-Retry-After header"),
            (500, "Internal error"),
            (
                503,
                "Busy: too many password hashes queued (`SERVER_BUSY`); see the Retry-After header",
            ),
        ];
        MetaResponses {
            responses: STATUSES
                .iter()
                .map(|(status, description)| MetaResponse {
                    description,
                    status: Some(*status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: "application/json",
                        schema: <ErrorBody as poem_openapi::types::Type>::schema_ref(),
                    }],
                    headers: vec![],
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        <ErrorBody as poem_openapi::types::Type>::register(registry);
    }
}

pub type ApiResult<T> = Result<poem_openapi::payload::Json<T>, ApiError>;

#[cfg(test)]
mod tests {
    use super::codes;

    #[test]
    fn core_codes_are_unique_upper_snake() {
        let mut seen = std::collections::HashSet::new();
        for c in codes::ALL {
            assert!(seen.insert(c.code), "duplicate code {}", c.code);
            assert!(c
                .code
                .chars()
                .all(|ch| ch.is_ascii_uppercase() || ch == '_'));
        }
    }
}
