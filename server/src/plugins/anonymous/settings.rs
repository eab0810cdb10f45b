//! The `[anonymous]` configuration section, and the link hook.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::webhook::SignedPoster;

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnonymousSettings {
    /// Anonymous users get `temp-<id>@<this domain>`; unset:
    /// `<id>@anonymous.placeholder.invalid` (Better Auth 1.7).
    pub email_domain_name: Option<String>,
    /// The anonymous user stays after it signs in another way.
    pub disable_delete_anonymous_user: bool,
    /// When an anonymous user signs in or up another way, POST
    /// `{"anonymousUser": …, "newUser": …}` here before the anonymous user
    /// is deleted (the binary's `on_link_account`); signed with `webhook_secret`.
    pub on_link_account_url: Option<String>,
    #[serde(skip_serializing)]
    pub webhook_secret: Option<String>,
    /// Seconds to wait for the webhook.
    pub webhook_timeout: u64,
    /// The webhook's client, built from the three settings above.
    #[serde(skip)]
    pub webhook: Option<Arc<SignedPoster>>,
    /// The library's `on_link_account` callback, registered through
    /// `gatehouse.api().anonymous().on_link_account(..)`.
    #[serde(skip)]
    pub hook: LinkHookSlot,
}

/// What `on_link_account` receives: both wire users (with plugin fields).
#[derive(Debug, Clone)]
pub struct LinkAccount {
    pub anonymous_user: Value,
    pub new_user: Value,
}

/// The app's callback; an error keeps the anonymous user (nothing is lost).
pub type LinkHook =
    Arc<dyn Fn(LinkAccount) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

#[derive(Clone, Default)]
pub struct LinkHookSlot(pub Arc<RwLock<Option<LinkHook>>>);

impl std::fmt::Debug for LinkHookSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkHookSlot")
    }
}

impl LinkHookSlot {
    pub fn get(&self) -> Option<LinkHook> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, hook: LinkHook) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(hook);
    }
}

impl AnonymousSettings {
    pub fn check(mut self) -> Result<Self, String> {
        if self.webhook_timeout == 0 {
            self.webhook_timeout = 10;
        }
        if let Some(url) = &self.on_link_account_url {
            let secret = match self.webhook_secret.as_deref() {
                Some(s) if s.len() >= 16 => s,
                _ => return Err("on_link_account_url needs webhook_secret (at least 16 characters) to sign its requests".into()),
            };
            let poster = SignedPoster::new(url, secret, Duration::from_secs(self.webhook_timeout))
                .map_err(|e| format!("on_link_account_url {e}"))?;
            self.webhook = Some(Arc::new(poster));
        }
        if let Some(domain) = &self.email_domain_name {
            if domain.is_empty() || domain.contains('@') || domain.contains(char::is_whitespace) {
                return Err(format!("email_domain_name {domain:?} is not a domain"));
            }
        }
        Ok(self)
    }
}
