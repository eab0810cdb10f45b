//! `username`: sign-in by username; `username` (normalised, unique) and
//! `displayUsername` (as typed) on the user, settable at sign-up and update.

pub mod errors;
pub mod routes;
pub mod settings;
pub mod store;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use poem_openapi::registry::MetaSchemaRef;
use poem_openapi::types::Type;
use serde_json::{Map, Value};

pub use routes::UsernameApi;

use crate::core::validate::check_field_length;
use crate::db::store::Tx;
use crate::db::{Db, MigrationSet};
use crate::docs::{RouteAuth, RouteDoc};
use crate::error::{codes, ApiError, ErrorCode};
use crate::http::rate_limit::RateLimitRule;
use crate::plugin::{Plugin, UserFields};
use crate::state::AppState;

/// The plugin's id: its spec tag, `/plugins` entry, configuration section and client namespace.
pub const ID: &str = "username";
pub const DESCRIPTION: &str = "Sign in with a username; `username`/`displayUsername` on the user.";

pub struct Username;

pub const MIGRATIONS: MigrationSet = crate::migration_set!(
    "../migrations/sqlite/username",
    "../migrations/postgres/username"
);

/// Usernames compare case-insensitively: stored lower-cased.
pub fn normalize(username: &str) -> String {
    username.trim().to_lowercase()
}

pub fn validate_username(state: &AppState, username: &str) -> Result<(), ApiError> {
    let cfg = state.settings::<settings::UsernameSettings>();
    let len = username.chars().count();
    if len < cfg.min_length {
        return Err(ApiError::new(errors::USERNAME_TOO_SHORT));
    }
    if len > cfg.max_length {
        return Err(ApiError::new(errors::USERNAME_TOO_LONG));
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(ApiError::new(errors::INVALID_USERNAME));
    }
    Ok(())
}

fn string_field<'a>(input: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, ApiError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::validation(format!(
            "[body.{key}] Invalid input: expected string"
        ))),
    }
}

impl Plugin for Username {
    fn id(&self) -> &'static str {
        ID
    }

    fn description(&self) -> &'static str {
        DESCRIPTION
    }

    fn form_paths(&self) -> &'static [&'static str] {
        &["/sign-in/username"]
    }

    fn configure(
        &self,
        section: Option<&toml::Value>,
        _config: &crate::config::Config,
    ) -> Result<Option<crate::plugin::Settings>, String> {
        let settings: settings::UsernameSettings = crate::plugin::parse_section(section)?;
        Ok(Some(crate::plugin::Settings::new(settings)))
    }

    fn migrations(&self) -> Option<&'static MigrationSet> {
        Some(&MIGRATIONS)
    }

    fn error_codes(&self) -> &'static [ErrorCode] {
        errors::ALL
    }

    fn rate_limit_rules(&self) -> Vec<RateLimitRule> {
        vec![RateLimitRule::new("/is-username-available", 10, 10)]
    }

    fn user_fields(&self) -> Option<&dyn UserFields> {
        Some(self)
    }

    fn route_docs(&self) -> &'static [RouteDoc] {
        // On sign-up and update-user the username codes come with 400.
        const fn on_profile(code: ErrorCode) -> ErrorCode {
            ErrorCode {
                status: 400,
                ..code
            }
        }
        const FIELD_ERRORS: &[ErrorCode] = &[
            errors::USERNAME_IS_ALREADY_TAKEN,
            on_profile(errors::USERNAME_TOO_SHORT),
            on_profile(errors::USERNAME_TOO_LONG),
            on_profile(errors::INVALID_USERNAME),
        ];
        &[
            RouteDoc {
                operation_id: "signInUsername",
                auth: RouteAuth::Public,
                errors: &[
                    codes::SERVER_BUSY,
                    errors::INVALID_USERNAME_OR_PASSWORD,
                    errors::USERNAME_TOO_SHORT,
                    errors::USERNAME_TOO_LONG,
                    errors::INVALID_USERNAME,
                    crate::error::codes::FAILED_TO_CREATE_SESSION,
                    crate::error::codes::INVALID_CALLBACK_URL,
                    crate::error::codes::CROSS_SITE_NAVIGATION_LOGIN_BLOCKED,
                ],
            },
            RouteDoc {
                operation_id: "isUsernameAvailable",
                auth: RouteAuth::Public,
                errors: &[
                    errors::USERNAME_TOO_SHORT,
                    errors::USERNAME_TOO_LONG,
                    errors::INVALID_USERNAME,
                ],
            },
            // The username fields on core operations.
            RouteDoc {
                operation_id: "signUpEmail",
                auth: RouteAuth::Public,
                errors: FIELD_ERRORS,
            },
            RouteDoc {
                operation_id: "updateUser",
                auth: RouteAuth::Session,
                errors: FIELD_ERRORS,
            },
        ]
    }
}

impl UserFields for Username {
    fn schema(&self) -> Vec<(&'static str, MetaSchemaRef)> {
        vec![
            ("username", <Option<String> as Type>::schema_ref()),
            ("displayUsername", <Option<String> as Type>::schema_ref()),
        ]
    }

    fn prepare<'a>(
        &'a self,
        state: &'a AppState,
        input: &'a Map<String, Value>,
        user_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Map<String, Value>, ApiError>> {
        async move {
            // Better Auth's rules: sign-up and update-user answer 400 for a bad
            // username (sign-in-by-username answers 422).
            let as_400 = |e: ApiError| e.with_status(400);
            let display = string_field(input, "displayUsername")?;
            let sign_up = user_id.is_none();
            let username = match string_field(input, "username")? {
                // At sign-up a display name that is a valid username is also the username.
                None if sign_up => {
                    display.filter(|d| validate_username(state, &normalize(d)).is_ok())
                }
                u => u,
            };
            let mut values = Map::new();
            if let Some(raw) = username {
                let normalized = normalize(raw);
                validate_username(state, &normalized).map_err(as_400)?;
                if let Some(owner) = store::find_username_owner(&state.db, &normalized).await? {
                    if Some(owner.as_str()) != user_id {
                        return Err(ApiError::new(errors::USERNAME_IS_ALREADY_TAKEN));
                    }
                }
                values.insert("username".into(), Value::String(normalized));
                if sign_up && display.is_none() {
                    // The display form keeps the casing the user typed.
                    values.insert("displayUsername".into(), Value::String(raw.to_string()));
                }
            }
            if let Some(d) = display {
                check_field_length(state, "displayUsername", d)?;
                values.insert("displayUsername".into(), Value::String(d.to_string()));
            }
            Ok(values)
        }
        .boxed()
    }

    fn write<'a>(
        &'a self,
        tx: Tx<'a>,
        user_id: &'a str,
        values: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        async move {
            let text = |key| match values.get(key) {
                Some(Value::String(v)) => Some(v.as_str()),
                _ => None,
            };
            let (username, display) = (text("username"), text("displayUsername"));
            if username.is_none() && display.is_none() {
                return Ok(());
            }
            store::update_usernames(tx, user_id, username, display)
                .await
                .map_err(|e| {
                    // The unique index settles a race the availability check lost.
                    if e.is_unique_violation() {
                        ApiError::new(errors::USERNAME_IS_ALREADY_TAKEN)
                    } else {
                        ApiError::from(e)
                    }
                })
        }
        .boxed()
    }

    fn load<'a>(
        &'a self,
        db: &'a Db,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Map<String, Value>, ApiError>> {
        async move {
            let (u, d) = store::find_usernames(db, user_id)
                .await?
                .unwrap_or((None, None));
            let mut out = Map::new();
            out.insert("username".into(), u.map_or(Value::Null, Value::String));
            out.insert(
                "displayUsername".into(),
                d.map_or(Value::Null, Value::String),
            );
            Ok(out)
        }
        .boxed()
    }
}
