//! Server-side calls, like Better Auth's `auth.api`: the same service
//! functions as the HTTP routes, without rate limits or origin checks.
//! Results carry the `Set-Cookie` lines a caller may forward to a browser.

use std::sync::Arc;

use poem::http::HeaderMap;

use crate::core::auth::{self, SignInEmailBody, SignUpEmailBody};
use crate::core::dto::{SignInResult, TokenUserResponse};
use crate::core::session::{resolve_session, AuthSession, ResolveOptions};
use crate::error::ApiError;
use crate::http::context::RequestContext;
use crate::state::AppState;

/// A server-side result and the cookies the equivalent HTTP call would set.
#[derive(Debug)]
pub struct WithCookies<T> {
    pub data: T,
    pub set_cookies: Vec<String>,
}

#[derive(Clone)]
pub struct ServerApi {
    state: Arc<AppState>,
}

impl ServerApi {
    pub(crate) fn new(state: Arc<AppState>) -> Self {
        ServerApi { state }
    }

    /// The state the calls run against (plugins add their namespaces to
    /// `ServerApi` in their own folders: `api.<plugin>()`).
    pub(crate) fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The session named by these request headers (the cookie, or what an
    /// enabled plugin accepts, e.g. a token in a header). Does not slide the expiry.
    pub async fn get_session(&self, headers: &HeaderMap) -> Result<Option<AuthSession>, ApiError> {
        let ctx = RequestContext::from_headers(&self.state, headers);
        resolve_session(
            &self.state,
            &ctx,
            ResolveOptions {
                disable_refresh: true,
            },
        )
        .await
    }

    pub async fn sign_up_email(
        &self,
        body: SignUpEmailBody,
    ) -> Result<WithCookies<TokenUserResponse>, ApiError> {
        let ctx = RequestContext::server_side();
        let data = auth::sign_up_email(&self.state, &ctx, &body).await?;
        Ok(WithCookies {
            data,
            set_cookies: ctx.set_cookie_lines(),
        })
    }

    pub async fn sign_in_email(
        &self,
        body: SignInEmailBody,
    ) -> Result<WithCookies<SignInResult>, ApiError> {
        let ctx = RequestContext::server_side();
        let data = auth::sign_in_email(&self.state, &ctx, &body).await?;
        Ok(WithCookies {
            data,
            set_cookies: ctx.set_cookie_lines(),
        })
    }

    /// Signs out the session named by these headers.
    pub async fn sign_out(&self, headers: &HeaderMap) -> Result<WithCookies<()>, ApiError> {
        let ctx = RequestContext::from_headers(&self.state, headers);
        auth::sign_out(&self.state, &ctx).await?;
        Ok(WithCookies {
            data: (),
            set_cookies: ctx.set_cookie_lines(),
        })
    }
}
