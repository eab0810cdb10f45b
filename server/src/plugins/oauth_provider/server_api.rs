//! Server-side calls of the oauth-provider plugin:
//! `gatehouse.api().oauth_provider()`, and the binary's
//! `gatehouse oauth-provider client ...`. What only the operator may set on
//! a client (Better Auth's server-only `adminUpdateOAuthClient`) is set
//! here, never over HTTP.

use clap::Parser;

use super::settings::OAuthProviderSettings;
use super::store;
use crate::api::ServerApi;
use crate::error::{codes, ApiError};

/// The oauth-provider calls of a [`ServerApi`].
pub struct OAuthProviderServerApi<'a>(&'a ServerApi);

impl ServerApi {
    /// The oauth-provider plugin's server-side calls.
    pub fn oauth_provider(&self) -> OAuthProviderServerApi<'_> {
        OAuthProviderServerApi(self)
    }
}

/// The operator's settings of one client; `None` leaves one as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientOptions {
    /// The client may send users to `/oauth2/end-session` (RP-initiated
    /// logout), and its ID tokens carry `sid`.
    pub enable_end_session: Option<bool>,
    /// The user is not asked to consent (first-party apps).
    pub skip_consent: Option<bool>,
}

impl OAuthProviderServerApi<'_> {
    /// Sets `options` on the client; `Ok(false)` when there is no such client.
    pub async fn update_client(
        &self,
        client_id: &str,
        options: ClientOptions,
    ) -> Result<bool, ApiError> {
        let state = self.0.state();
        if !state.plugins.is_enabled(super::ID) {
            return Err(ApiError::new(codes::NOT_FOUND));
        }
        let Some(mut row) = store::client(&state.db, client_id).await? else {
            return Ok(false);
        };
        if let Some(v) = options.enable_end_session {
            row.enable_end_session = Some(v);
        }
        if let Some(v) = options.skip_consent {
            row.skip_consent = Some(v);
        }
        row.updated_at = state.now();
        store::update_client(&state.db, &row).await?;
        // Other instances see it within `session.cache_ttl`.
        state
            .settings::<OAuthProviderSettings>()
            .clients
            .forget(client_id);
        Ok(true)
    }
}

/// The oauth-provider plugin's operator commands.
#[derive(Debug, Parser)]
#[command(name = "gatehouse oauth-provider", no_binary_name = true)]
enum OperatorCommand {
    /// Set what only the operator may set on a client; servers running see
    /// it within `session.cache_ttl` seconds.
    Client {
        /// The client's `client_id`.
        client_id: String,
        /// Let the client sign its users out through /oauth2/end-session
        /// (its ID tokens then carry `sid`).
        #[arg(long)]
        enable_end_session: Option<bool>,
        /// Do not ask users to consent to this client (a first-party app).
        #[arg(long)]
        skip_consent: Option<bool>,
    },
}

/// Runs an operator command; the answer is what to print.
pub async fn run_command(api: &ServerApi, args: &[String]) -> Result<String, String> {
    let command = match OperatorCommand::try_parse_from(args) {
        Ok(c) => c,
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp) => {
            return Ok(e.to_string())
        }
        Err(e) => return Err(e.to_string()),
    };
    match command {
        OperatorCommand::Client {
            client_id,
            enable_end_session,
            skip_consent,
        } => {
            if enable_end_session.is_none() && skip_consent.is_none() {
                return Err("nothing to set: --enable-end-session or --skip-consent".into());
            }
            let options = ClientOptions {
                enable_end_session,
                skip_consent,
            };
            match api
                .oauth_provider()
                .update_client(&client_id, options)
                .await
            {
                Ok(true) => Ok(format!("updated OAuth client {client_id}")),
                Ok(false) => Err(format!("no OAuth client {client_id}")),
                Err(e) => Err(e.to_string()),
            }
        }
    }
}
