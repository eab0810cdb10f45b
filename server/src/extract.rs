//! Protecting an application's own poem routes with Gatehouse sessions.
//!
//! ```ignore
//! let app = Route::new()
//!     .at("/me", get(me))
//!     .with(SessionMiddleware::required(gatehouse.api()));
//! #[handler]
//! async fn me(CurrentSession(s): CurrentSession) -> String { s.user.email }
//! ```

use poem::{Endpoint, FromRequest, IntoResponse, Middleware, Request, RequestBody, Response};

use crate::api::ServerApi;
use crate::core::session::AuthSession;
use crate::error::{codes, ApiError};

/// Resolves the session for every request and stores it in the request
/// extensions; `required` answers 401 `UNAUTHORIZED` without one.
#[derive(Clone)]
pub struct SessionMiddleware {
    api: ServerApi,
    required: bool,
}

impl SessionMiddleware {
    pub fn required(api: ServerApi) -> Self {
        SessionMiddleware {
            api,
            required: true,
        }
    }

    pub fn optional(api: ServerApi) -> Self {
        SessionMiddleware {
            api,
            required: false,
        }
    }
}

impl<E: Endpoint> Middleware<E> for SessionMiddleware {
    type Output = SessionEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        SessionEndpoint {
            inner: ep,
            mw: self.clone(),
        }
    }
}

pub struct SessionEndpoint<E> {
    inner: E,
    mw: SessionMiddleware,
}

impl<E: Endpoint> Endpoint for SessionEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let session = match self.mw.api.get_session(req.headers()).await {
            Ok(s) => s,
            Err(e) => return Ok(e.into_response()),
        };
        match session {
            Some(s) => {
                req.extensions_mut().insert(s);
            }
            None if self.mw.required => {
                return Ok(ApiError::new(codes::UNAUTHORIZED).into_response())
            }
            None => {}
        }
        Ok(self.inner.call(req).await?.into_response())
    }
}

/// The signed-in session; 401 `UNAUTHORIZED` if [`SessionMiddleware`] found none.
pub struct CurrentSession(pub AuthSession);

impl<'a> FromRequest<'a> for CurrentSession {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        req.extensions()
            .get::<AuthSession>()
            .cloned()
            .map(CurrentSession)
            .ok_or_else(|| ApiError::new(codes::UNAUTHORIZED).into())
    }
}
