//! `magic-link`: sign-in (and sign-up on first use) by a link mailed to the
//! address. Tokens live hashed in `verification`, expire (5 minutes by
//! default) and work once.

pub mod routes;
pub mod settings;

pub use routes::MagicLinkApi;

use crate::docs::{RouteAuth, RouteDoc};
use crate::error::codes;
use crate::http::rate_limit::RateLimitRule;
use crate::mail::templates::{MailKind, MailTemplate};
use crate::plugin::Plugin;

/// The plugin's id: its spec tag, `/plugins` entry, configuration section and client namespace.
pub const ID: &str = "magic-link";
pub const DESCRIPTION: &str = "Sign-in by a link mailed to the address.";

pub struct MagicLink;

pub use crate::error::codes::NEW_USER_SIGNUP_DISABLED;

impl Plugin for MagicLink {
    fn id(&self) -> &'static str {
        ID
    }

    fn description(&self) -> &'static str {
        DESCRIPTION
    }

    fn form_paths(&self) -> &'static [&'static str] {
        &["/sign-in/magic-link"]
    }

    fn configure(
        &self,
        section: Option<&toml::Value>,
        _config: &crate::config::Config,
    ) -> Result<Option<crate::plugin::Settings>, String> {
        let settings: settings::MagicLinkSettings = crate::plugin::parse_section(section)?;
        Ok(Some(crate::plugin::Settings::new(settings)))
    }

    fn mail_templates(&self) -> &'static [MailKind] {
        &[MAGIC_LINK_MAIL]
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

/// The mail this plugin sends (`[mail.templates.magic_link]` overrides it).
pub const MAGIC_LINK_MAIL: MailKind = MailKind {
    key: "magic_link",
    default: default_template,
};

fn default_template() -> MailTemplate {
    MailTemplate {
        subject: "Sign in to {app}".into(),
        text: "Open this link to sign in to {app} as {email}:\n\n{url}\n\nIt works once and expires soon. If you did not ask for it, ignore this message.\n".into(),
        html: "<p>Sign in to {app} as {email}:</p><p><a href=\"{url}\">Sign in</a></p><p>The link works once and expires soon.</p>".into(),
    }
}
