//! `anonymous`: guests get a real user (`isAnonymous: true`) and session
//! without giving anything; when they later sign in or up another way, the
//! app moves what it attached (`on_link_account`: a callback in library
//! use, a signed webhook for the binary) and the anonymous user is deleted.

pub mod link;
pub mod routes;
pub mod server_api;
pub mod settings;
pub mod store;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use poem::Response;
use poem_openapi::registry::MetaSchemaRef;
use poem_openapi::types::Type;
use serde_json::{Map, Value};

pub use routes::AnonymousApi;
use settings::AnonymousSettings;

use crate::db::store::Tx;
use crate::db::{Db, MigrationSet};
use crate::error::{ApiError, ErrorCode};
use crate::http::context::RequestContext;
use crate::plugin::{Plugin, UserFields};
use crate::state::AppState;

/// The plugin's id: its spec tag, `/plugins` entry, configuration section and client namespace.
pub const ID: &str = "anonymous";
pub const DESCRIPTION: &str =
    "Guest users without credentials, linked to the account they later sign in or up with.";

pub mod errors {
    use crate::error::ErrorCode;

    pub const ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY: ErrorCode = ErrorCode {
        code: "ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY",
        message: "Anonymous users cannot sign in again anonymously",
        status: 400,
    };
    pub const USER_IS_NOT_ANONYMOUS: ErrorCode = ErrorCode {
        code: "USER_IS_NOT_ANONYMOUS",
        message: "User is not anonymous",
        status: 403,
    };
    pub const DELETE_ANONYMOUS_USER_DISABLED: ErrorCode = ErrorCode {
        code: "DELETE_ANONYMOUS_USER_DISABLED",
        message: "Deleting anonymous users is disabled",
        status: 400,
    };
    pub const ALL: &[ErrorCode] = &[
        ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY,
        USER_IS_NOT_ANONYMOUS,
        DELETE_ANONYMOUS_USER_DISABLED,
    ];
}

pub struct Anonymous;

pub const MIGRATIONS: MigrationSet = crate::migration_set!(
    "../migrations/sqlite/anonymous",
    "../migrations/postgres/anonymous"
);

impl Plugin for Anonymous {
    fn id(&self) -> &'static str {
        ID
    }

    fn description(&self) -> &'static str {
        DESCRIPTION
    }

    fn configure(
        &self,
        section: Option<&toml::Value>,
        _config: &crate::config::Config,
    ) -> Result<Option<crate::plugin::Settings>, String> {
        let settings: AnonymousSettings = crate::plugin::parse_section(section)?;
        Ok(Some(crate::plugin::Settings::new(settings.check()?)))
    }

    fn migrations(&self) -> Option<&'static MigrationSet> {
        Some(&MIGRATIONS)
    }

    fn error_codes(&self) -> &'static [ErrorCode] {
        errors::ALL
    }

    fn route_docs(&self) -> &'static [crate::docs::RouteDoc] {
        routes::ROUTE_DOCS
    }

    fn user_fields(&self) -> Option<&dyn UserFields> {
        Some(&AnonymousFlag)
    }

    fn after_response<'a>(
        &'a self,
        state: &'a AppState,
        ctx: &'a RequestContext,
        _path: &'a str,
        _resp: &'a mut Response,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = link::link_after_sign_in(state, ctx).await {
                tracing::error!(code = %e.code, "linking an anonymous user failed");
            }
        })
    }
}

/// `isAnonymous` on the user; only this plugin sets it.
struct AnonymousFlag;

impl UserFields for AnonymousFlag {
    fn schema(&self) -> Vec<(&'static str, MetaSchemaRef)> {
        vec![("isAnonymous", <Option<bool> as Type>::schema_ref())]
    }

    fn client_settable(&self) -> bool {
        false
    }

    fn prepare<'a>(
        &'a self,
        _state: &'a AppState,
        input: &'a Map<String, Value>,
        _user_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Map<String, Value>, ApiError>> {
        async move {
            if input.contains_key("isAnonymous") {
                return Err(ApiError::validation(
                    "[body.isAnonymous] isAnonymous is not allowed to be set",
                ));
            }
            Ok(Map::new())
        }
        .boxed()
    }

    fn write<'a>(
        &'a self,
        _tx: Tx<'a>,
        _user_id: &'a str,
        _values: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        async { Ok(()) }.boxed()
    }

    fn load<'a>(
        &'a self,
        db: &'a Db,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Map<String, Value>, ApiError>> {
        async move {
            let mut out = Map::new();
            out.insert(
                "isAnonymous".into(),
                Value::Bool(store::is_anonymous(db, user_id).await?),
            );
            Ok(out)
        }
        .boxed()
    }
}
