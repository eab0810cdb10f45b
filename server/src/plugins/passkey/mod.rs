//! `passkey`: WebAuthn registration and sign-in (webauthn-rs), wire-shaped
//! like Better Auth's passkey plugin so `@simplewebauthn/browser` and Better
//! Auth's `passkeyClient` work unchanged.
//!
//! Each ceremony's state lives server-side in `verification`
//! (`passkey:<hash>`, 5 minutes), named by the signed
//! `better-auth.better-auth-passkey` cookie, and is consumed by the first
//! verify call: challenges are single use. Sign-in uses discoverable
//! credentials, so it works signed out and for conditional UI.

pub mod routes;
pub mod settings;
pub mod store;

pub use routes::PasskeyApi;

use futures_util::future::BoxFuture;

use crate::db::store::Tx;
use crate::db::MigrationSet;
use crate::docs::{RouteAuth, RouteDoc};
use crate::error::{codes, ApiError, ErrorCode};
use crate::plugin::Plugin;

/// The plugin's id: its spec tag, `/plugins` entry, configuration section and client namespace.
pub const ID: &str = "passkey";
pub const DESCRIPTION: &str =
    "WebAuthn passkeys: register while signed in, then sign in without a password.";

pub struct Passkey;

pub const MIGRATIONS: MigrationSet = crate::migration_set!(
    "../migrations/sqlite/passkey",
    "../migrations/postgres/passkey"
);

crate::error_codes! {
    CHALLENGE_NOT_FOUND = (400, "Challenge not found");
    YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY = (401, "You are not allowed to register this passkey");
    FAILED_TO_VERIFY_REGISTRATION = (400, "Failed to verify registration");
    PASSKEY_NOT_FOUND = (401, "Passkey not found");
    AUTHENTICATION_FAILED = (401, "Authentication failed");
    UNABLE_TO_CREATE_SESSION = (500, "Unable to create session");
    FAILED_TO_UPDATE_PASSKEY = (500, "Failed to update passkey");
    PREVIOUSLY_REGISTERED = (400, "Previously registered");
}

/// `PASSKEY_NOT_FOUND` as the management routes answer it (404), as
/// Better Auth does; sign-in answers it with 401.
pub const UNKNOWN_PASSKEY: ErrorCode = ErrorCode {
    status: 404,
    ..PASSKEY_NOT_FOUND
};

impl Plugin for Passkey {
    fn id(&self) -> &'static str {
        ID
    }

    fn description(&self) -> &'static str {
        DESCRIPTION
    }

    fn configure(
        &self,
        section: Option<&toml::Value>,
        config: &crate::config::Config,
    ) -> Result<Option<crate::plugin::Settings>, String> {
        let settings: settings::PasskeySettings = crate::plugin::parse_section(section)?;
        routes::relying_party_for(&settings, config)?;
        Ok(Some(crate::plugin::Settings::new(settings)))
    }

    fn migrations(&self) -> Option<&'static MigrationSet> {
        Some(&MIGRATIONS)
    }

    fn error_codes(&self) -> &'static [ErrorCode] {
        ALL
    }

    fn remove_unproven_credentials<'a>(
        &'a self,
        tx: Tx<'a>,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move { Ok(store::delete_all(tx, user_id).await?) })
    }

    fn route_docs(&self) -> &'static [RouteDoc] {
        &[
            RouteDoc {
                operation_id: "passkeyGenerateRegisterOptions",
                auth: RouteAuth::Session,
                errors: &[codes::SESSION_NOT_FRESH],
            },
            RouteDoc {
                operation_id: "passkeyVerifyRegistration",
                auth: RouteAuth::Session,
                errors: &[
                    CHALLENGE_NOT_FOUND,
                    YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY,
                    FAILED_TO_VERIFY_REGISTRATION,
                    PREVIOUSLY_REGISTERED,
                    codes::SESSION_NOT_FRESH,
                ],
            },
            RouteDoc {
                operation_id: "passkeyGenerateAuthenticateOptions",
                auth: RouteAuth::Optional,
                errors: &[],
            },
            RouteDoc {
                operation_id: "passkeyVerifyAuthentication",
                auth: RouteAuth::Public,
                errors: &[
                    CHALLENGE_NOT_FOUND,
                    PASSKEY_NOT_FOUND,
                    AUTHENTICATION_FAILED,
                    UNABLE_TO_CREATE_SESSION,
                ],
            },
            RouteDoc {
                operation_id: "passkeyListUserPasskeys",
                auth: RouteAuth::Session,
                errors: &[],
            },
            RouteDoc {
                operation_id: "passkeyDeletePasskey",
                auth: RouteAuth::Session,
                errors: &[UNKNOWN_PASSKEY, codes::UNAUTHORIZED],
            },
            RouteDoc {
                operation_id: "passkeyUpdatePasskey",
                auth: RouteAuth::Session,
                errors: &[
                    UNKNOWN_PASSKEY,
                    YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY,
                    codes::FIELD_TOO_LONG,
                ],
            },
        ]
    }
}
