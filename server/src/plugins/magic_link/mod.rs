//! `magic-link`: sign-in (and sign-up on first use) by a link mailed to the
//! address. Tokens live hashed in `verification`, expire (5 minutes by
//! default) and work once.

pub mod routes;

pub use routes::MagicLinkApi;

use crate::docs::{RouteAuth, RouteDoc};
use crate::error::codes;
use crate::http::rate_limit::RateLimitRule;
use crate::plugins::Plugin;

pub struct MagicLink;

pub use crate::error::codes::NEW_USER_SIGNUP_DISABLED;

impl Plugin for MagicLink {
    fn id(&self) -> &'static str {
        "magic-link"
    }

    fn rate_limit_rules(&self) -> Vec<RateLimitRule> {
        vec![
            RateLimitRule::new("/sign-in/magic-link", 60, 5),
            RateLimitRule::new("/magic-link/verify", 60, 5),
        ]
    }

    fn route_docs(&self) -> &'static [RouteDoc] {
        &[
            RouteDoc {
                operation_id: "signInMagicLink",
                auth: RouteAuth::Public,
                errors: &[
                    codes::VERIFICATION_EMAIL_NOT_ENABLED,
                    codes::INVALID_CALLBACK_URL,
                    codes::INVALID_NEW_USER_CALLBACK_URL,
                    codes::INVALID_ERROR_CALLBACK_URL,
                    codes::CROSS_SITE_NAVIGATION_LOGIN_BLOCKED,
                ],
            },
            RouteDoc {
                operation_id: "magicLinkVerify",
                auth: RouteAuth::Public,
                errors: &[
                    codes::INVALID_TOKEN,
                    NEW_USER_SIGNUP_DISABLED,
                    codes::FAILED_TO_CREATE_SESSION,
                    codes::INVALID_CALLBACK_URL,
                ],
            },
        ]
    }
}
