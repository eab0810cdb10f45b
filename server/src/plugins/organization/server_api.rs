//! Server-side calls of the organization plugin: `gatehouse.api().organization()`.

use super::dto::MemberDto;
pub use super::members::AddMember;
use crate::api::ServerApi;
use crate::error::{codes, ApiError};

/// The organization calls of a [`ServerApi`].
pub struct OrganizationServerApi<'a>(&'a ServerApi);

impl ServerApi {
    /// The organization plugin's server-side calls.
    pub fn organization(&self) -> OrganizationServerApi<'_> {
        OrganizationServerApi(self)
    }
}

impl OrganizationServerApi<'_> {
    /// Better Auth's server-only `addMember`: makes a user a member (with
    /// roles, and optionally a team) without an invitation, within the
    /// membership limit. `NOT_FOUND` when the plugin is not enabled.
    pub async fn add_member(&self, input: AddMember) -> Result<MemberDto, ApiError> {
        let state = self.0.state();
        if !state.plugins.is_enabled(super::ID) {
            return Err(ApiError::new(codes::NOT_FOUND));
        }
        super::members::add(state, &input).await
    }
}
