//! `GET /token` and `GET /jwks`.

use std::sync::Arc;

use poem::web::Data;
use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::settings::JwtSettings;
use crate::core::session::require_session;
use crate::docs::{RouteAuth, RouteDoc};
use crate::error::ApiResult;
use crate::http::context::request_context;
use crate::plugin::PluginApi;
use crate::state::AppState;

#[derive(Debug, Clone, Object)]
pub struct JwtTokenResponse {
    /// A JWT of the session's user, signed with the current key.
    pub token: String,
}

/// A public key, as RFC 7517 writes it.
#[derive(Debug, Clone, Object)]
pub struct JwtPublicJwk {
    /// The key's id: the `kid` of the tokens it signed.
    pub kid: String,
    /// `OKP` (Ed25519), `EC` (P-256) or `RSA`.
    pub kty: String,
    /// `EdDSA`, `ES256` or `RS256`.
    pub alg: String,
    #[oai(skip_serializing_if_is_none)]
    pub crv: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub x: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub y: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub n: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub e: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct JwtJwksResponse {
    /// The current key and those rotated out less than the grace period ago.
    pub keys: Vec<JwtPublicJwk>,
}

pub struct JwtApi;

impl PluginApi for JwtApi {
    const ID: &'static str = super::ID;
    const DESCRIPTION: &'static str = super::DESCRIPTION;
}

pub const ROUTE_DOCS: &[RouteDoc] = &[
    RouteDoc {
        operation_id: "getJwtToken",
        auth: RouteAuth::Session,
        errors: &[],
    },
    RouteDoc {
        operation_id: "getJwks",
        auth: RouteAuth::Public,
        errors: &[],
    },
];

#[OpenApi]
impl JwtApi {
    /// A JWT of the session
    ///
    /// Claims: the user object, `sub` (the user's id), `iat`, `exp`, `iss`, `aud`.
    #[oai(path = "/token", method = "get", operation_id = "getJwtToken")]
    async fn token(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> ApiResult<JwtTokenResponse> {
        let ctx = request_context(req);
        let session = require_session(&state, &ctx).await?;
        let settings = state.settings::<JwtSettings>();
        let token = super::session_token(&state, &settings, &session).await?;
        Ok(Json(JwtTokenResponse { token }))
    }

    /// The public keys
    ///
    /// A JSON Web Key Set for verifying the tokens offline.
    #[oai(path = "/jwks", method = "get", operation_id = "getJwks")]
    async fn jwks(&self, state: Data<&Arc<AppState>>) -> ApiResult<JwtJwksResponse> {
        let settings = state.settings::<JwtSettings>();
        let keys = settings.keys.public_jwks(&state, &settings).await?;
        Ok(Json(JwtJwksResponse { keys }))
    }
}
