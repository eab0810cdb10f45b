//! Server-side calls of the jwt plugin: `gatehouse.api().jwt()`.

use serde_json::{Map, Value};

use super::keys::VerifyError;
use super::settings::JwtSettings;
use crate::api::ServerApi;
use crate::error::{codes, ApiError};

/// The jwt calls of a [`ServerApi`].
pub struct JwtServerApi<'a>(&'a ServerApi);

impl ServerApi {
    /// The jwt plugin's server-side calls.
    pub fn jwt(&self) -> JwtServerApi<'_> {
        JwtServerApi(self)
    }
}

impl JwtServerApi<'_> {
    fn settings(&self) -> Result<std::sync::Arc<JwtSettings>, ApiError> {
        let state = self.0.state();
        if !state.plugins.is_enabled(super::ID) {
            return Err(ApiError::new(codes::NOT_FOUND));
        }
        Ok(state.settings::<JwtSettings>())
    }

    /// Signs `payload` with the current key; `iat`, `exp` (now +
    /// `expiration_time`), `iss` and `aud` are added unless the payload has them.
    pub async fn sign_jwt(&self, payload: Map<String, Value>) -> Result<String, ApiError> {
        let s = self.settings()?;
        super::sign_claims(self.0.state(), &s, payload).await
    }

    /// The claims of a token this server issued, if it verifies: see
    /// [`super::keys::KeyRing::verify`] for every check.
    pub async fn verify_jwt(&self, token: &str) -> Result<Map<String, Value>, VerifyError> {
        let s = self.settings().map_err(VerifyError::Storage)?;
        let state = self.0.state();
        let (iss, aud) = (super::issuer(state, &s), super::audience(state, &s));
        s.keys.verify(state, &s, token, iss, aud).await
    }
}
