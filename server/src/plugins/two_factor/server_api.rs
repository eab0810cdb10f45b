//! Server-side calls of the two-factor plugin: `gatehouse.api().two_factor()`.

use crate::api::ServerApi;
use crate::error::{codes, ApiError};

/// The two-factor calls of a [`ServerApi`].
pub struct TwoFactorServerApi<'a>(&'a ServerApi);

impl ServerApi {
    /// The two-factor plugin's server-side calls.
    pub fn two_factor(&self) -> TwoFactorServerApi<'_> {
        TwoFactorServerApi(self)
    }
}

impl TwoFactorServerApi<'_> {
    /// A user's unused backup codes (never served over HTTP). `NOT_FOUND`
    /// when the plugin is not enabled.
    pub async fn view_backup_codes(&self, user_id: &str) -> Result<Vec<String>, ApiError> {
        let state = self.0.state();
        if !state.plugins.is_enabled(super::ID) {
            return Err(ApiError::new(codes::NOT_FOUND));
        }
        super::service::view_backup_codes(state, user_id).await
    }
}
