//! The request pipeline around every route, in order:
//! 1. canonical path + client address; rate limit (on the canonical path, so
//!    `//sign-in/email` or `/sign-in/email/` cannot dodge it);
//! 2. non-canonical paths answer 404 (Better Auth's router does the same);
//! 3. plugin `on_request` hooks (e.g. a token in a header);
//! 4. body rules: size limit, media type, JSON syntax;
//! 5. origin/CSRF checks and callback-URL checks; strict body validation
//!    against the spec;
//! 6. the route; then every non-JSON error is turned into `{code, message}`,
//!    queued cookies/headers are added, plugin `after_response` hooks run.

use std::sync::Arc;

use percent_encoding::percent_decode_str;
use poem::http::{header, Method, StatusCode};
use poem::{Body, Endpoint, IntoResponse, Request, Response};
use serde_json::{Map, Value};

use crate::error::{codes, ApiError, ErrorBody};
use crate::http::body_schema::BodySchemas;
use crate::http::context::RequestContext;
use crate::http::rate_limit::Decision;
use crate::state::AppState;

/// Body and query fields holding URLs that must point at trusted origins.
const URL_FIELDS: &[(&str, crate::error::ErrorCode)] = &[
    ("callbackURL", codes::INVALID_CALLBACK_URL),
    ("redirectTo", codes::INVALID_REDIRECT_URL),
    ("errorCallbackURL", codes::INVALID_ERROR_CALLBACK_URL),
    ("newUserCallbackURL", codes::INVALID_NEW_USER_CALLBACK_URL),
];

pub struct Pipeline<E> {
    pub state: Arc<AppState>,
    pub bodies: BodySchemas,
    /// Route templates for metrics labels.
    pub routes: crate::http::metrics::RouteTemplates,
    pub inner: E,
}

/// Decodes percent-escapes, collapses repeated slashes and drops a trailing
/// slash: the form used for rate-limit keys and route decisions.
pub fn canonical_path(raw: &str) -> String {
    let decoded = percent_decode_str(raw).decode_utf8_lossy();
    let mut out = String::with_capacity(decoded.len());
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

fn empty_404() -> Response {
    Response::builder().status(StatusCode::NOT_FOUND).finish()
}

impl<E: Endpoint> Endpoint for Pipeline<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let started = std::time::Instant::now();
        let path = canonical_path(req.uri().path());
        let method = req.method().clone();
        let mut resp = self.handle(req).await?;
        // A revocation this request made reaches the other instances first.
        self.state.sessions.flushed().await;
        if self.state.plugins.is_oauth_path(&path) {
            resp = oauth_shaped(resp).await;
        }
        crate::http::metrics::global().observe(
            method.as_str(),
            self.routes.label(&path),
            resp.status(),
            started.elapsed().as_secs_f64(),
        );
        Ok(resp)
    }
}

impl<E: Endpoint> Pipeline<E> {
    async fn handle(&self, mut req: Request) -> poem::Result<Response> {
        let state = &self.state;
        let raw_path = req.uri().path().to_string();
        let path = canonical_path(&raw_path);
        let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
        let client_ip = state.client_ip.resolve(peer, req.headers());

        if state.limiter.enabled() {
            // No address (e.g. a Unix socket) shares one fail-closed bucket.
            let key =
                client_ip.map_or_else(|| "no-client-ip".to_string(), |ip| state.client_ip.key(ip));
            if let Decision::Reject { retry_after_secs } =
                state.limiter.check_shared(&key, &path).await
            {
                let mut resp = ApiError::new(codes::TOO_MANY_REQUESTS).into_response();
                resp.headers_mut()
                    .insert("x-retry-after", retry_after_secs.into());
                return Ok(resp);
            }
        }
        if raw_path != path {
            return Ok(empty_404());
        }

        let mut ctx = RequestContext::new(client_ip, &req);
        for plugin in state.plugins.all() {
            plugin.on_request(state, req.headers(), &mut ctx);
        }

        if let Err(err) = read_body(state, &path, &mut req, &mut ctx).await {
            let close = matches!(
                err.status,
                StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
            );
            let mut resp = err.into_response();
            if close {
                // The unread rest of the body would poison a kept-alive connection.
                resp.headers_mut()
                    .insert(header::CONNECTION, "close".parse().expect("static header"));
            }
            return Ok(resp);
        }
        if let Err(err) = check_origin(state, &path, &req, &ctx) {
            return Ok(err.into_response());
        }
        // Validation comes before authentication, as in Better Auth.
        if let Some(body) = &ctx.body {
            let body = Value::Object(body.clone());
            if let Err(message) = self.bodies.validate(req.method().as_str(), &path, &body) {
                return Ok(ApiError::validation(message).into_response());
            }
        }

        let ctx = Arc::new(ctx);
        req.extensions_mut().insert(ctx.clone());
        let resp = match self.inner.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        let mut resp = normalize(resp).await;
        if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
            // Password hashing at capacity: a second is about one queue's worth.
            resp.headers_mut()
                .insert(header::RETRY_AFTER, "1".parse().expect("static header"));
        }
        // A handler that chose a redirect (success, or `?error=` on failure) gets it.
        if let Some(location) = ctx.redirect() {
            // Better Auth's redirects say `application/json` over an empty body.
            resp = Response::builder()
                .status(StatusCode::FOUND)
                .header(header::LOCATION, location)
                .content_type("application/json")
                .finish();
        }
        // Plugins' hooks first: they may queue cookies too (e.g. for other sessions).
        for plugin in state.plugins.all() {
            plugin.after_response(state, &ctx, &path, &mut resp).await;
        }
        for line in ctx.set_cookie_lines() {
            if let Ok(v) = line.parse() {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        for (name, value) in ctx.extra_headers() {
            if let Ok(v) = value.parse() {
                resp.headers_mut().insert(name, v);
            }
        }
        Ok(resp)
    }
}

/// Reads and checks the body, then puts it back for the route's extractor.
async fn read_body(
    state: &AppState,
    path: &str,
    req: &mut Request,
    ctx: &mut RequestContext,
) -> Result<(), ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let limit = state.config.max_body_bytes;
    let too_large = || {
        ApiError::with_message(
            codes::PAYLOAD_TOO_LARGE,
            format!("Request body is larger than {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // A body trickled in byte by byte must not hold the connection forever.
    let timeout = std::time::Duration::from_secs(state.config.server.body_read_timeout);
    let bytes = tokio::time::timeout(timeout, req.take_body().into_bytes_limit(limit))
        .await
        .map_err(|_| ApiError::new(codes::REQUEST_TIMEOUT))?
        .map_err(|e| match e {
            poem::error::ReadBodyError::PayloadTooLarge => too_large(),
            _ => ApiError::with_message(codes::BAD_REQUEST, "Could not read the request body"),
        })?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });

    // No body: treated as `{}` so optional-body routes work and routes with
    // required fields answer with a validation error.
    let json: Value = if bytes.is_empty() {
        Value::Object(Map::new())
    } else {
        match content_type.as_deref() {
            Some(ct)
                if ct == "application/json"
                    || (ct.starts_with("application/") && ct.ends_with("+json")) =>
            {
                serde_json::from_slice(&bytes).map_err(|_| ApiError::new(codes::BAD_REQUEST))?
            }
            Some("application/x-www-form-urlencoded")
                if state.plugins.is_form_path(path)
                    || state.plugins.is_oauth_path(path)
                    || is_provider_callback(path) =>
            {
                let form: Map<String, Value> = url::form_urlencoded::parse(&bytes)
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect();
                Value::Object(form)
            }
            Some(ct) => {
                let allowed =
                    if state.plugins.is_form_path(path) || state.plugins.is_oauth_path(path) {
                        "application/x-www-form-urlencoded, application/json"
                    } else {
                        "application/json"
                    };
                return Err(ApiError::with_message(
                    codes::UNSUPPORTED_MEDIA_TYPE,
                    format!("Content-Type \"{ct}\" is not allowed. Allowed types: {allowed}"),
                ));
            }
            None => {
                return Err(ApiError::with_message(
                    codes::UNSUPPORTED_MEDIA_TYPE,
                    "Content-Type is required. Allowed types: application/json",
                ))
            }
        }
    };
    if let Value::Object(map) = &json {
        ctx.body = Some(map.clone());
    } else {
        return Err(ApiError::new(codes::BODY_MUST_BE_AN_OBJECT));
    }
    let normalized = serde_json::to_vec(&json).map_err(|_| ApiError::internal())?;
    req.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/json".parse().expect("static header"),
    );
    req.headers_mut().remove(header::CONTENT_LENGTH);
    req.set_body(Body::from(normalized));
    Ok(())
}

fn is_provider_callback(path: &str) -> bool {
    path.strip_prefix(crate::social::CALLBACK_PREFIX)
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

fn header_str<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Better Auth's origin rules: state-changing requests that carry cookies
/// need a trusted `Origin` (or `Referer`); form endpoints are also checked
/// when a browser sent fetch metadata or an Origin; URL fields must be trusted.
fn check_origin(
    state: &AppState,
    path: &str,
    req: &Request,
    ctx: &RequestContext,
) -> Result<(), ApiError> {
    // A provider form-posts its callback cross-site (Apple's form_post);
    // the flow's state, bound to a signed cookie, is its CSRF protection,
    // and the route only redirects to its own GET form.
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || is_provider_callback(path);
    if !safe {
        let has_cookie = req.headers().contains_key(header::COOKIE);
        let origin = header_str(req, "origin")
            .map(str::to_string)
            .or_else(|| header_str(req, "referer").map(referer_origin));
        let must_check = if has_cookie {
            true
        } else if state.plugins.is_form_path(path) {
            let site = header_str(req, "sec-fetch-site");
            let mode = header_str(req, "sec-fetch-mode");
            let dest = header_str(req, "sec-fetch-dest");
            if site == Some("cross-site") && mode == Some("navigate") {
                return Err(ApiError::new(codes::CROSS_SITE_NAVIGATION_LOGIN_BLOCKED));
            }
            site.is_some() || mode.is_some() || dest.is_some() || origin.is_some()
        } else {
            false
        };
        if must_check {
            match origin.as_deref() {
                None | Some("null") | Some("") => {
                    return Err(ApiError::new(codes::MISSING_OR_NULL_ORIGIN))
                }
                Some(o) if !state.origins.is_trusted_origin(o) => {
                    return Err(ApiError::new(codes::INVALID_ORIGIN))
                }
                Some(_) => {}
            }
        }
    }

    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    for (field, code) in URL_FIELDS {
        let from_body = ctx.body.as_ref().and_then(|b| b.get(*field));
        if let Some(v) = from_body {
            match v {
                Value::Null => {}
                Value::String(s) if state.origins.is_trusted_url(s) => {}
                Value::String(_) => return Err(ApiError::new(*code)),
                _ => {
                    return Err(ApiError::validation(format!(
                        "Invalid {field}: expected a string"
                    )))
                }
            }
        }
        if let Some((_, v)) = query.iter().find(|(k, _)| k == field) {
            if !state.origins.is_trusted_url(v) {
                return Err(ApiError::new(*code));
            }
        }
    }
    Ok(())
}

fn referer_origin(referer: &str) -> String {
    url::Url::parse(referer)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

/// Unknown routes and methods become empty 404s (as in Better Auth); any
/// other non-JSON error (extractor failures, panics) becomes `{code, message}`.
/// poem-openapi's "failed to parse parameter `x`: Type "string" expects an
/// input value." for a missing query parameter, in Better Auth's words.
fn zod_style_param_message(text: &str) -> Option<String> {
    let rest = text.strip_prefix("failed to parse parameter `")?;
    let (name, detail) = rest.split_once("`: ")?;
    let ty = detail
        .strip_prefix("Type \"")?
        .split_once("\" expects an input value")?
        .0;
    Some(format!(
        "[query.{name}] Invalid input: expected {ty}, received undefined"
    ))
}

/// On an OAuth path, a refusal the pipeline (or an extractor) wrote as
/// `{code, message}` becomes RFC 6749's `{error, error_description}`;
/// the handlers there answer in that shape already.
async fn oauth_shaped(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = body.into_bytes().await.unwrap_or_default();
    let parsed: Option<Map<String, Value>> = serde_json::from_slice(&bytes).ok();
    let Some(body) = parsed.filter(|b| b.contains_key("code") && !b.contains_key("error")) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let error = if status.is_server_error() {
        "server_error"
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        "temporarily_unavailable"
    } else {
        "invalid_request"
    };
    let description = body
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut out = Response::from_parts(
        parts,
        Body::from(
            serde_json::to_vec(&serde_json::json!({
                "error": error,
                "error_description": description,
            }))
            .unwrap_or_default(),
        ),
    );
    out.headers_mut().remove(header::CONTENT_LENGTH);
    out
}

async fn normalize(resp: Response) -> Response {
    let status = resp.status();
    if status.is_success() || status.is_redirection() {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        return resp;
    }
    if status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED {
        return empty_404();
    }
    let (code, default_message) = match status.as_u16() {
        400 => (codes::VALIDATION_ERROR.code, "Validation Error"),
        401 => (codes::UNAUTHORIZED.code, "Unauthorized"),
        413 => (codes::PAYLOAD_TOO_LARGE.code, "Request body is too large"),
        415 => (codes::UNSUPPORTED_MEDIA_TYPE.code, "Unsupported media type"),
        s if s >= 500 => (codes::INTERNAL_SERVER_ERROR.code, "Internal Server Error"),
        _ => (codes::BAD_REQUEST.code, "Bad request"),
    };
    // Extractor messages are safe to show; server errors are not.
    let message = if status.is_client_error() {
        let text = resp.into_body().into_string().await.unwrap_or_default();
        if text.is_empty() {
            default_message.to_string()
        } else {
            zod_style_param_message(&text).unwrap_or(text)
        }
    } else {
        default_message.to_string()
    };
    crate::error::json_error_response(
        status,
        &ErrorBody {
            code: code.to_string(),
            message,
            details: None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::canonical_path;

    #[test]
    fn canonicalisation() {
        assert_eq!(canonical_path("/sign-in/email"), "/sign-in/email");
        assert_eq!(canonical_path("//sign-in//email/"), "/sign-in/email");
        assert_eq!(canonical_path("/sign-in%2Femail"), "/sign-in/email");
        assert_eq!(canonical_path(""), "/");
    }
}
