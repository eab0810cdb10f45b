//! Server-side calls of the anonymous plugin: `gatehouse.api().anonymous()`.

use futures_util::future::BoxFuture;

use super::settings::{AnonymousSettings, LinkAccount};
use crate::api::ServerApi;
use crate::error::{codes, ApiError};

/// The anonymous calls of a [`ServerApi`].
pub struct AnonymousServerApi<'a>(&'a ServerApi);

impl ServerApi {
    /// The anonymous plugin's server-side calls.
    pub fn anonymous(&self) -> AnonymousServerApi<'_> {
        AnonymousServerApi(self)
    }
}

impl AnonymousServerApi<'_> {
    /// Registers the app's `on_link_account`: it runs when an anonymous
    /// user signs in or up another way, before the anonymous user is
    /// deleted; an error keeps the anonymous user. `NOT_FOUND` when the
    /// plugin is not enabled.
    pub fn on_link_account<F>(&self, hook: F) -> Result<(), ApiError>
    where
        F: Fn(LinkAccount) -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static,
    {
        let state = self.0.state();
        if !state.plugins.is_enabled(super::ID) {
            return Err(ApiError::new(codes::NOT_FOUND));
        }
        state
            .settings::<AnonymousSettings>()
            .hook
            .set(std::sync::Arc::new(hook));
        Ok(())
    }
}
