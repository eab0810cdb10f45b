//! The api-key routes: Better Auth's `/api-key/*` wire. Verification is
//! not among them: it is a server-side call only (`ServerApi::api_key`).

use std::sync::Arc;

use poem::web::Data;
use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;

use super::dto::{
    ApiKey, ApiKeyCreateBody, ApiKeyCreated, ApiKeyDeleteBody, ApiKeyList, ApiKeyUpdateBody,
};
use super::errors as e;
use super::service::{self, Caller, ListParams};
use crate::core::dto::SuccessResponse;
use crate::docs::{RouteAuth, RouteDoc};
use crate::error::{ApiResult, ErrorCode};
use crate::http::context::request_context;
use crate::plugin::PluginApi;
use crate::state::AppState;

pub struct ApiKeyApi;

impl PluginApi for ApiKeyApi {
    const ID: &'static str = super::ID;
    const DESCRIPTION: &'static str = super::DESCRIPTION;
}

const fn status(code: ErrorCode, status: u16) -> ErrorCode {
    ErrorCode { status, ..code }
}

/// The codes of an organization-owned key's membership check.
macro_rules! org {
    () => {
        [
            e::USER_NOT_MEMBER_OF_ORGANIZATION,
            e::INSUFFICIENT_API_KEY_PERMISSIONS,
            e::ORGANIZATION_PLUGIN_REQUIRED,
        ]
    };
}

const CREATE: &[ErrorCode] = &[
    e::SERVER_ONLY_PROPERTY,
    e::UNAUTHORIZED_SESSION,
    e::ORGANIZATION_ID_REQUIRED,
    e::METADATA_DISABLED,
    e::INVALID_METADATA_TYPE,
    e::REFILL_AMOUNT_AND_INTERVAL_REQUIRED,
    e::REFILL_INTERVAL_AND_AMOUNT_REQUIRED,
    e::KEY_DISABLED_EXPIRATION,
    e::EXPIRES_IN_IS_TOO_SMALL,
    e::EXPIRES_IN_IS_TOO_LARGE,
    e::INVALID_PREFIX_LENGTH,
    e::INVALID_NAME_LENGTH,
    e::NAME_REQUIRED,
    org!()[0],
    org!()[1],
    org!()[2],
];

const UPDATE: &[ErrorCode] = &[
    e::SERVER_ONLY_PROPERTY,
    e::UNAUTHORIZED_SESSION,
    e::KEY_NOT_FOUND,
    e::INVALID_NAME_LENGTH,
    e::KEY_DISABLED_EXPIRATION,
    e::EXPIRES_IN_IS_TOO_SMALL,
    e::EXPIRES_IN_IS_TOO_LARGE,
    e::INVALID_METADATA_TYPE,
    e::NO_VALUES_TO_UPDATE,
    org!()[0],
    org!()[1],
    org!()[2],
];

const BY_ID: &[ErrorCode] = &[e::KEY_NOT_FOUND, org!()[0], org!()[1], org!()[2]];

const LIST: &[ErrorCode] = &[org!()[0], org!()[1], org!()[2]];

pub const ROUTE_DOCS: &[RouteDoc] = &[
    RouteDoc {
        operation_id: "createApiKey",
        auth: RouteAuth::Session,
        errors: CREATE,
    },
    RouteDoc {
        operation_id: "getApiKey",
        auth: RouteAuth::Session,
        errors: BY_ID,
    },
    RouteDoc {
        operation_id: "updateApiKey",
        auth: RouteAuth::Session,
        errors: UPDATE,
    },
    RouteDoc {
        operation_id: "deleteApiKey",
        auth: RouteAuth::Session,
        errors: BY_ID,
    },
    RouteDoc {
        operation_id: "listApiKeys",
        auth: RouteAuth::Session,
        errors: LIST,
    },
    // A key in the header answers any route that reads the session with its refusal.
    RouteDoc {
        operation_id: "getSession",
        auth: RouteAuth::Public,
        errors: &[
            status(e::INVALID_API_KEY, 403),
            e::KEY_DISABLED,
            e::KEY_EXPIRED,
            e::USAGE_EXCEEDED,
            e::RATE_LIMITED,
            e::INVALID_REFERENCE_ID_FROM_API_KEY,
        ],
    },
];

#[OpenApi]
impl ApiKeyApi {
    /// Create an API key
    ///
    /// Returns the key object with the key itself (`key`), shown this once:
    /// only its SHA-256 is stored. Properties marked server-only are refused.
    #[oai(
        path = "/api-key/create",
        method = "post",
        operation_id = "createApiKey"
    )]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<ApiKeyCreateBody>,
    ) -> ApiResult<ApiKeyCreated> {
        Ok(Json(
            service::create(&state, &request_context(req), body.0, Caller::Http).await?,
        ))
    }

    /// Get an API key
    ///
    /// One of the caller's keys (or, for organization-owned keys, its
    /// organization's), without the key itself.
    #[oai(path = "/api-key/get", method = "get", operation_id = "getApiKey")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        id: Query<String>,
        #[oai(name = "configId")] config_id: Query<Option<String>>,
    ) -> ApiResult<ApiKey> {
        Ok(Json(
            service::get(&state, &request_context(req), &id.0, config_id.0.as_deref()).await?,
        ))
    }

    /// Update an API key
    ///
    /// Name, enabled, expiry (`expiresIn` seconds, `null` for none) and
    /// metadata; the usage and rate-limit properties are server-only.
    #[oai(
        path = "/api-key/update",
        method = "post",
        operation_id = "updateApiKey"
    )]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<ApiKeyUpdateBody>,
    ) -> ApiResult<ApiKey> {
        Ok(Json(
            service::update(&state, &request_context(req), body.0, Caller::Http).await?,
        ))
    }

    /// Delete an API key
    #[oai(
        path = "/api-key/delete",
        method = "post",
        operation_id = "deleteApiKey"
    )]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<ApiKeyDeleteBody>,
    ) -> ApiResult<SuccessResponse> {
        service::delete(
            &state,
            &request_context(req),
            &body.key_id,
            body.config_id.as_deref(),
        )
        .await?;
        Ok(Json(SuccessResponse { success: true }))
    }

    /// List API keys
    ///
    /// The caller's keys, or an organization's with `organizationId`;
    /// `configId` filters, `sortBy` (any key property) and `sortDirection`
    /// order, `limit` and `offset` page; `total` counts before paging.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/api-key/list", method = "get", operation_id = "listApiKeys")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        #[oai(name = "configId")] config_id: Query<Option<String>>,
        #[oai(name = "organizationId")] organization_id: Query<Option<String>>,
        limit: Query<Option<String>>,
        offset: Query<Option<String>>,
        #[oai(name = "sortBy")] sort_by: Query<Option<String>>,
        #[oai(name = "sortDirection")] sort_direction: Query<Option<String>>,
    ) -> ApiResult<ApiKeyList> {
        let params = ListParams {
            config_id: config_id.0,
            organization_id: organization_id.0,
            limit: limit.0,
            offset: offset.0,
            sort_by: sort_by.0,
            sort_direction: sort_direction.0,
        };
        Ok(Json(
            service::list(&state, &request_context(req), params).await?,
        ))
    }
}
