//! The authorization endpoint's decisions (RFC 6749 §4.1, OAuth 2.1, OIDC
//! Core §3.1.2): which client and redirect URI, which scopes, PKCE, whether
//! the user must sign in or consent first, and the one-time code at the end.
//! Every decision produces the next URL for the browser: the client's
//! `redirect_uri` (with a code or an error), or the app's login or consent
//! page with the signed query that brings the user back here.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::errors::OAuthError;
use super::settings::{OAuthProviderSettings, OFFLINE_ACCESS, OPENID};
use super::store::{self, ClientRow, ConsentRow};
use crate::core::session::{resolve_session, AuthSession, ResolveOptions};
use crate::crypto::{sign, token};
use crate::http::context::RequestContext;
use crate::state::AppState;

/// Where codes live in the `verification` table (by the code's hash), and
/// where a redeemed one is kept until it would have expired, so that a
/// replay is recognised.
pub const CODE_PREFIX: &str = "oauth-code:";
pub const SPENT_CODE_PREFIX: &str = "oauth-code-spent:";

/// Parameters the hand-off adds: the time of the original request, the
/// expiry and the signature over everything else.
const ISSUED_AT: &str = "ba_iat";
const EXPIRES: &str = "exp";
const SIGNATURE: &str = "sig";

pub type Params = BTreeMap<String, String>;

/// What a code stands for, stored as JSON under its hash.
#[derive(Debug, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether the authorization request named the redirect URI (then the
    /// token request must repeat it).
    pub redirect_uri_given: bool,
    pub scopes: Vec<String>,
    pub user_id: String,
    pub session_id: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    /// Unix seconds: when the user signed in.
    pub auth_time: i64,
    /// The resource servers the request named (RFC 8707): its access
    /// tokens are JWTs addressed to them.
    #[serde(default)]
    pub resource: Vec<String>,
}

fn canonical(params: &Params) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params.iter().filter(|(k, _)| k.as_str() != SIGNATURE) {
        out.append_pair(k, v);
    }
    out.finish()
}

/// The query handed to the login or consent page: the request's own
/// parameters, when it was made, when the hand-off expires, and an
/// HMAC-SHA256 under the server secret over all of it.
pub fn signed_query(
    state: &AppState,
    s: &OAuthProviderSettings,
    params: &Params,
    issued: i64,
) -> String {
    let mut p = params.clone();
    p.insert(ISSUED_AT.into(), issued.to_string());
    p.insert(
        EXPIRES.into(),
        (state.now().and_utc().timestamp() + s.hand_off_expires_in).to_string(),
    );
    let sig = sign::signature(&state.secret, &canonical(&p));
    p.insert(SIGNATURE.into(), sig);
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &p {
        out.append_pair(k, v);
    }
    out.finish()
}

/// Checks a signed query (`?` optional) and returns the original request's
/// parameters and its time. Any change, a repeated parameter or an expired
/// hand-off is `invalid_signature`.
pub fn verify_signed_query(state: &AppState, query: &str) -> Result<(Params, i64), OAuthError> {
    let mut p = Params::new();
    for (k, v) in url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
        if p.insert(k.into_owned(), v.into_owned()).is_some() {
            return Err(bad_signature());
        }
    }
    verify_signed_params(state, p)
}

fn bad_signature() -> OAuthError {
    OAuthError::new(
        400,
        "invalid_signature",
        "The signed authorization query is invalid or has expired",
    )
}

/// [`verify_signed_query`] for parameters already parsed.
pub fn verify_signed_params(state: &AppState, mut p: Params) -> Result<(Params, i64), OAuthError> {
    let bad = bad_signature;
    let sig = p.remove(SIGNATURE).ok_or_else(bad)?;
    let expected = sign::signature(&state.secret, &canonical(&p));
    if !bool::from(expected.as_bytes().ct_eq(sig.as_bytes())) {
        return Err(bad());
    }
    let exp: i64 = p
        .remove(EXPIRES)
        .and_then(|v| v.parse().ok())
        .ok_or_else(bad)?;
    let issued: i64 = p
        .remove(ISSUED_AT)
        .and_then(|v| v.parse().ok())
        .ok_or_else(bad)?;
    if exp < state.now().and_utc().timestamp() {
        return Err(bad());
    }
    Ok((p, issued))
}

/// The parameters of a request, refusing repeated ones (RFC 6749 §3.1).
pub fn params_from_pairs(
    pairs: impl Iterator<Item = (String, String)>,
) -> Result<Params, OAuthError> {
    let mut p = Params::new();
    for (k, v) in pairs {
        if v.len() > 4096 {
            return Err(OAuthError::invalid_request(format!("{k} is too long")));
        }
        if p.insert(k.clone(), v).is_some() {
            return Err(OAuthError::invalid_request(format!("{k} is repeated")));
        }
    }
    Ok(p)
}

/// How a resumed authorization differs from a fresh one.
#[derive(Default, Clone, Copy)]
pub struct Resume {
    /// When the original request was made, in Unix milliseconds (signed
    /// hand-off), else now.
    pub issued_at: Option<i64>,
    /// The user chose the account (`prompt=select_account` done).
    pub selected: bool,
    /// The user created an account (`prompt=create` done).
    pub created: bool,
    /// The session was created by this very request, after the hand-off
    /// (`prompt=login` done).
    pub post_login: bool,
}

/// The signed-in user an authorization is for.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: String,
    pub session_id: String,
    /// Unix seconds: when the session was created (the sign-in).
    pub auth_time: i64,
    /// The same in milliseconds, to order it against the request.
    pub auth_time_ms: i64,
}

impl SignedIn {
    pub fn of(session: &AuthSession) -> Self {
        SignedIn {
            user_id: session.user.id.clone(),
            session_id: session.session.id.clone(),
            auth_time: session.session.created_at.and_utc().timestamp(),
            auth_time_ms: session.session.created_at.and_utc().timestamp_millis(),
        }
    }
}

/// The request's session, as [`authorize`] takes it.
pub async fn signed_in(
    state: &AppState,
    ctx: &RequestContext,
) -> Result<Option<SignedIn>, OAuthError> {
    Ok(resolve_session(state, ctx, ResolveOptions::default())
        .await?
        .as_ref()
        .map(SignedIn::of))
}

/// A consent decision from the consent page.
pub struct ConsentDecision {
    pub accept: bool,
    /// The scopes granted (a subset of those requested); all when `None`.
    pub scope: Option<String>,
}

/// A configured page (a path on the base URL's origin, or an absolute URL) as a URL.
pub fn resolve_page(state: &AppState, page: &str) -> String {
    if page.starts_with('/') {
        format!("{}{page}", state.origins.base_origin())
    } else {
        page.to_string()
    }
}

/// Runs the authorization request in `params` for `session` (the signed-in
/// user, if any) and returns the URL to send the browser to. `Err` only
/// when the client or redirect URI cannot be trusted with a redirect.
pub async fn authorize(
    state: &AppState,
    s: &OAuthProviderSettings,
    session: Option<SignedIn>,
    params: Params,
    resume: Resume,
    consent: Option<ConsentDecision>,
) -> Result<String, OAuthError> {
    // 1. The client and where it may be answered; errors here are not redirected.
    let client_id = params
        .get("client_id")
        .ok_or_else(|| OAuthError::invalid_request("client_id is required"))?;
    let client = s
        .clients
        .get_or_load(state, client_id, store::client(&state.db, client_id))
        .await?
        .filter(|c| !c.disabled.unwrap_or(false))
        .ok_or_else(|| OAuthError::new(400, "invalid_client", "Unknown or disabled client"))?;
    let registered = client.redirect_uri_list();
    let (redirect_uri, redirect_uri_given) = match params.get("redirect_uri") {
        Some(uri)
            if registered
                .iter()
                .any(|r| super::clients::redirect_matches(r, uri, client.is_native())) =>
        {
            (uri.clone(), true)
        }
        Some(_) => {
            return Err(OAuthError::new(
                400,
                "invalid_redirect_uri",
                "redirect_uri is not registered for this client",
            ))
        }
        None if registered.len() == 1 => (registered[0].clone(), false),
        None => return Err(OAuthError::invalid_request("redirect_uri is required")),
    };
    let state_param = params.get("state").cloned();
    let iss = super::issuer(state);
    let answer = |query: &[(&str, &str)]| -> String {
        let mut q: Vec<(&str, &str)> = query.to_vec();
        if let Some(st) = &state_param {
            q.push(("state", st));
        }
        q.push(("iss", &iss));
        crate::http::redirect::location(&redirect_uri, &q).unwrap_or_else(|| redirect_uri.clone())
    };
    let fail = |error: &str, description: &str| -> Result<String, OAuthError> {
        Ok(answer(&[
            ("error", error),
            ("error_description", description),
        ]))
    };

    // 2. The request itself.
    if params.get("response_type").map(String::as_str) != Some("code") {
        return fail("unsupported_response_type", "response_type must be code");
    }
    if !client.allows_grant(super::clients::GRANT_CODE) {
        return fail(
            "unauthorized_client",
            "The client may not use authorization_code",
        );
    }
    if params.contains_key("request") || params.contains_key("request_uri") {
        return fail("request_not_supported", "Request objects are not supported");
    }
    let scopes: Vec<String> = match params.get("scope") {
        Some(text) => {
            let mut v: Vec<String> = Vec::new();
            for sc in text.split_whitespace() {
                if !v.iter().any(|x| x == sc) {
                    v.push(sc.to_string());
                }
            }
            v
        }
        None => Vec::new(),
    };
    if scopes.is_empty() {
        return fail("invalid_scope", "scope is required");
    }
    let allowed = client.scope_list();
    if let Some(bad) = scopes.iter().find(|sc| !allowed.contains(sc)) {
        return fail(
            "invalid_scope",
            &format!("Scope {bad} is not allowed for this client"),
        );
    }
    let resource: Vec<String> = params
        .get("resource")
        .map(|r| r.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    if let Some(bad) = resource.iter().find(|r| !s.audiences(state).contains(r)) {
        return fail(
            "invalid_target",
            &format!("{bad} is not a resource this server issues tokens for"),
        );
    }
    let nonce = params.get("nonce").cloned();
    let openid = scopes.iter().any(|x| x == OPENID);
    let challenge = params.get("code_challenge").cloned();
    match (
        params.get("code_challenge_method").map(String::as_str),
        &challenge,
    ) {
        (Some("S256"), Some(c)) => {
            let well_formed = c.len() == 43
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !well_formed {
                return fail(
                    "invalid_request",
                    "code_challenge must be a base64url SHA-256 (43 characters)",
                );
            }
        }
        (Some(_), _) | (None, Some(_)) => {
            return fail("invalid_request", "code_challenge_method must be S256");
        }
        (None, None) => {
            let offline = scopes.iter().any(|x| x == OFFLINE_ACCESS);
            let required = client.is_public()
                || (offline && !(openid && nonce.is_some()))
                || client.require_pkce.unwrap_or(true);
            if required {
                return fail("invalid_request", "code_challenge is required (PKCE, S256)");
            }
        }
    }
    let mut prompts: Vec<&str> = params
        .get("prompt")
        .map(|p| p.split_whitespace().collect())
        .unwrap_or_default();
    for p in &prompts {
        if !["none", "login", "consent", "select_account", "create"].contains(p) {
            return fail("invalid_request", &format!("Unknown prompt value {p}"));
        }
    }
    if prompts.contains(&"none") && prompts.len() > 1 {
        return fail(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        );
    }
    if resume.selected {
        prompts.retain(|p| *p != "select_account");
    }
    if resume.created {
        prompts.retain(|p| *p != "create");
    }
    let max_age: Option<i64> = match params.get("max_age") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return fail("invalid_request", "max_age must be a non-negative integer"),
        },
    };

    // 3. Who is signing in.
    let now = state.now().and_utc().timestamp();
    let issued_at = resume
        .issued_at
        .unwrap_or_else(|| state.now().and_utc().timestamp_millis());
    let to_login = |state: &AppState| -> String {
        format!(
            "{}?{}",
            resolve_page(state, &s.login_page),
            signed_query(state, s, &params, issued_at)
        )
    };
    let Some(session) = session else {
        if prompts.contains(&"none") {
            return fail("login_required", "The user is not signed in");
        }
        return Ok(to_login(state));
    };
    let auth_time = session.auth_time;
    let stale = max_age.is_some_and(|m| now - auth_time > m);
    // prompt=login: only a sign-in made after the request counts.
    let needs_fresh_login =
        prompts.contains(&"login") && !resume.post_login && session.auth_time_ms <= issued_at;
    if prompts.contains(&"none") && stale {
        return fail("login_required", "The sign-in is older than max_age");
    }
    if stale
        || needs_fresh_login
        || prompts.contains(&"create")
        || prompts.contains(&"select_account")
    {
        return Ok(to_login(state));
    }

    // 4. Consent.
    let mut granted = scopes.clone();
    if let Some(decision) = consent {
        if !decision.accept {
            return fail("access_denied", "The user denied the request");
        }
        if let Some(text) = decision.scope {
            let chosen: Vec<String> = text.split_whitespace().map(String::from).collect();
            if let Some(bad) = chosen.iter().find(|c| !scopes.contains(c)) {
                // Better Auth's code: the consent request itself is wrong.
                return Err(OAuthError::invalid_request(format!(
                    "Scope {bad} was not requested"
                )));
            }
            if chosen.is_empty() {
                return fail("access_denied", "No scope was granted");
            }
            granted = chosen;
        }
        record_consent(state, &client, &session, &granted).await?;
    } else if !client.skip_consent.unwrap_or(false) {
        let existing = store::consent(&state.db, &client.client_id, &session.user_id).await?;
        let covered = existing.as_ref().is_some_and(|c| {
            let had: Vec<String> = serde_json::from_str(&c.scopes).unwrap_or_default();
            scopes.iter().all(|sc| had.contains(sc))
        });
        if !covered || prompts.contains(&"consent") {
            if prompts.contains(&"none") {
                return fail(
                    "consent_required",
                    "The user has not consented to these scopes",
                );
            }
            return Ok(format!(
                "{}?{}",
                resolve_page(state, &s.consent_page),
                signed_query(state, s, &params, issued_at)
            ));
        }
    }

    // 5. The code.
    let code = token::random_alphanumeric(32);
    let grant = CodeGrant {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        redirect_uri_given,
        scopes: granted,
        user_id: session.user_id.clone(),
        session_id: session.session_id.clone(),
        code_challenge: challenge,
        nonce,
        auth_time,
        resource,
    };
    let value = serde_json::to_string(&grant).map_err(|_| OAuthError::server_error())?;
    let at: NaiveDateTime = state.now();
    crate::db::store::create_verification(
        &state.db,
        &format!("{CODE_PREFIX}{}", token::hash_token(&code)),
        &value,
        at + Duration::seconds(s.code_expires_in),
        at,
    )
    .await?;
    Ok(answer(&[("code", &code)]))
}

async fn record_consent(
    state: &AppState,
    client: &ClientRow,
    session: &SignedIn,
    scopes: &[String],
) -> Result<(), OAuthError> {
    let now = state.now();
    store::put_consent(
        &state.db,
        &ConsentRow {
            id: token::new_id(),
            client_id: client.client_id.clone(),
            user_id: Some(session.user_id.clone()),
            scopes: serde_json::to_string(scopes).unwrap_or_else(|_| "[]".into()),
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    Ok(())
}
