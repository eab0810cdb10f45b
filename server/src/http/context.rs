//! Per-request context: what the pipeline learned about the request, and what
//! handlers want added to the response (cookies, headers).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use poem::Request;
use serde_json::{Map, Value};

use crate::core::session::AuthSession;
use crate::crypto::sign;
use crate::state::AppState;

#[derive(Default)]
struct Outgoing {
    /// (cookie name, full Set-Cookie line); a later write for a name replaces
    /// the earlier one so a value is never sent together with its expiry.
    cookies: Vec<(String, String)>,
    headers: Vec<(&'static str, String)>,
    /// The signed session value if this response issues a session cookie.
    issued_session: Option<String>,
    /// The session this request created, if any (not a refreshed one).
    created_session: Option<CreatedSession>,
    /// The last session `resolve_session` found for this request.
    resolved_session: Option<AuthSession>,
    /// Answer with a 302 here instead of the route's JSON.
    redirect: Option<String>,
}

/// A session created while answering this request (see
/// [`RequestContext::created_session`]).
#[derive(Debug, Clone)]
pub struct CreatedSession {
    pub session_id: String,
    pub user_id: String,
    /// The raw token (the secret that names the session).
    pub token: String,
}

/// A session token a plugin's `on_request` hook found and proved (checked
/// before the session cookie).
#[derive(Debug, Clone)]
pub struct PresentedSessionToken(pub String);

pub struct RequestContext {
    pub client_ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub cookies: HashMap<String, String>,
    /// Per-request data of plugins, by type (e.g. [`PresentedSessionToken`]).
    pub extensions: poem::http::Extensions,
    /// The JSON body as an object, when there was one.
    pub body: Option<Map<String, Value>>,
    /// What plugins' `authenticate` hooks found, decided once per request
    /// (e.g. an API key is verified, and its usage counted, once).
    pub(crate) plugin_session: tokio::sync::OnceCell<Option<AuthSession>>,
    outgoing: Mutex<Outgoing>,
}

impl RequestContext {
    pub fn new(client_ip: Option<IpAddr>, req: &Request) -> Self {
        RequestContext {
            client_ip,
            user_agent: req
                .headers()
                .get(poem::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(512).collect()),
            cookies: crate::http::cookies::parse_cookie_header(req.headers()),
            extensions: poem::http::Extensions::new(),
            body: None,
            plugin_session: tokio::sync::OnceCell::new(),
            outgoing: Mutex::new(Outgoing::default()),
        }
    }

    /// A context for server-side calls that did not come over HTTP.
    pub fn server_side() -> Self {
        RequestContext {
            client_ip: None,
            user_agent: None,
            cookies: HashMap::new(),
            extensions: poem::http::Extensions::new(),
            body: None,
            plugin_session: tokio::sync::OnceCell::new(),
            outgoing: Mutex::new(Outgoing::default()),
        }
    }

    /// Builds a context from request headers alone (server-side API, extractor).
    pub fn from_headers(state: &AppState, headers: &poem::http::HeaderMap) -> Self {
        let mut ctx = RequestContext::server_side();
        ctx.cookies = crate::http::cookies::parse_cookie_header(headers);
        for plugin in state.plugins.all() {
            plugin.on_request(state, headers, &mut ctx);
        }
        ctx
    }

    /// The session token this request carries: one a plugin found (e.g. in
    /// an `Authorization` header) first, then the signed cookie.
    pub fn session_token(&self, state: &AppState) -> Option<String> {
        if let Some(PresentedSessionToken(t)) = self.extensions.get() {
            return Some(t.clone());
        }
        let signed = self.cookies.get(&state.cookies.session_token)?;
        sign::verify_signed(&state.secret, signed)
    }

    /// The value of a signed cookie, if present and its signature holds.
    pub fn signed_cookie(&self, state: &AppState, name: &str) -> Option<String> {
        let signed = self.cookies.get(name)?;
        sign::verify_signed(&state.secret, signed)
    }

    /// True when the signed `dont_remember` cookie is present.
    pub fn dont_remember(&self, state: &AppState) -> bool {
        self.cookies
            .get(&state.cookies.dont_remember)
            .and_then(|v| sign::verify_signed(&state.secret, v))
            .is_some()
    }

    pub fn set_cookie(&self, name: &str, line: String) {
        let mut out = self.outgoing.lock().unwrap_or_else(|e| e.into_inner());
        out.cookies.retain(|(n, _)| n != name);
        out.cookies.push((name.to_string(), line));
    }

    pub fn set_header(&self, name: &'static str, value: String) {
        let mut out = self.outgoing.lock().unwrap_or_else(|e| e.into_inner());
        out.headers.retain(|(n, _)| *n != name);
        out.headers.push((name, value));
    }

    pub fn set_issued_session(&self, signed: Option<String>) {
        self.outgoing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .issued_session = signed;
    }

    /// Turns a successful response into `302 Location: url` (empty body).
    /// Answers with a `302` to `target` plus `query` (e.g. `error=CODE`),
    /// built by [`crate::http::redirect::location`]. A target that does not
    /// parse leaves no redirect: the route's own answer goes out instead.
    pub fn set_redirect(&self, target: &str, query: &[(&str, &str)]) {
        let location = crate::http::redirect::location(target, query);
        if location.is_none() {
            tracing::warn!("redirect target does not parse; answering without it");
        }
        self.outgoing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .redirect = location;
    }

    pub fn redirect(&self) -> Option<String> {
        self.outgoing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .redirect
            .clone()
    }

    pub fn issued_session(&self) -> Option<String> {
        self.outgoing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .issued_session
            .clone()
    }

    pub(crate) fn set_created_session(&self, created: CreatedSession) {
        self.outgoing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .created_session = Some(created);
    }

    /// The session this request created (a sign-in or sign-up of any kind),
    /// as opposed to one it refreshed or re-activated.
    pub fn created_session(&self) -> Option<CreatedSession> {
        self.outgoing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .created_session
            .clone()
    }

    pub(crate) fn set_resolved_session(&self, session: Option<AuthSession>) {
        self.outgoing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .resolved_session = session;
    }

    /// The session the request was last found to carry (by
    /// `core::session::resolve_session`), e.g. the one `get-session` answered with.
    pub fn resolved_session(&self) -> Option<AuthSession> {
        self.outgoing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .resolved_session
            .clone()
    }

    pub fn set_cookie_lines(&self) -> Vec<String> {
        let out = self.outgoing.lock().unwrap_or_else(|e| e.into_inner());
        out.cookies.iter().map(|(_, l)| l.clone()).collect()
    }

    pub fn extra_headers(&self) -> Vec<(&'static str, String)> {
        self.outgoing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .headers
            .clone()
    }
}

/// The context the pipeline attached to this request.
pub fn request_context(req: &Request) -> Arc<RequestContext> {
    req.extensions()
        .get::<Arc<RequestContext>>()
        .cloned()
        .unwrap_or_else(|| Arc::new(RequestContext::server_side()))
}
