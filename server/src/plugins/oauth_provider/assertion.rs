//! `private_key_jwt` client authentication (RFC 7523 §2.2, OIDC Core §9):
//! the client signs a short-lived JWT with a key whose public half it
//! registered (`jwks`) or publishes (`jwks_uri`). The assertion names the
//! client in `iss` and `sub`, this server in `aud`, and carries a `jti`
//! that is accepted once: the `oauthClientAssertion` row's unique index
//! makes a replay fail even when two copies arrive at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::errors::OAuthError;
use super::settings::OAuthProviderSettings;
use super::store::{self, ClientRow};
use crate::crypto::token;
use crate::state::AppState;

/// `client_assertion_type` for a JWT assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Asymmetric algorithms only: an HMAC assertion would need a shared
/// secret (that is `client_secret_jwt`), and `none` is never accepted.
pub const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The names discovery lists for [`ALGORITHMS`] (Better Auth's order; it
/// also lists ES512, which the verifier here does not implement).
pub const ALGORITHM_NAMES: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// Longest accepted assertion lifetime: it bounds how long a `jti` is kept.
const MAX_LIFETIME_SECS: i64 = 3600;
const MAX_KEYS: usize = 10;
const MAX_JWKS_BYTES: usize = 16 * 1024;
/// A fetched JWK Set is reused this long; an unknown `kid` refetches it
/// once it is older than [`REFETCH_AFTER`].
const JWKS_TTL: Duration = Duration::from_secs(300);
const REFETCH_AFTER: Duration = Duration::from_secs(30);

fn metadata_error(d: impl Into<String>) -> OAuthError {
    OAuthError::new(400, "invalid_client_metadata", d)
}

/// Checks the key material a client registers: exactly one of `jwks` and
/// `jwks_uri` for `private_key_jwt`, neither otherwise. Public keys only.
/// `jwks_uri` must be https; plain http on a loopback address is allowed
/// only when this server itself runs on plain http (development).
pub fn check_client_keys(
    private_key_jwt: bool,
    dev: bool,
    jwks: Option<&Value>,
    jwks_uri: Option<&str>,
) -> Result<(Option<String>, Option<String>), OAuthError> {
    let jwks = jwks.filter(|v| !v.is_null());
    if !private_key_jwt {
        if jwks.is_some() || jwks_uri.is_some() {
            return Err(metadata_error(
                "jwks and jwks_uri are for clients that use private_key_jwt",
            ));
        }
        return Ok((None, None));
    }
    match (jwks, jwks_uri) {
        (Some(set), None) => {
            let text = set.to_string();
            if text.len() > MAX_JWKS_BYTES {
                return Err(metadata_error("jwks is too large"));
            }
            parse_set(set).map_err(metadata_error)?;
            Ok((Some(text), None))
        }
        (None, Some(uri)) => {
            let url = url::Url::parse(uri)
                .map_err(|_| metadata_error("jwks_uri is not an absolute URL"))?;
            let loopback = match url.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                None => false,
            };
            let ok = match url.scheme() {
                "https" => url.host().is_some(),
                "http" => dev && loopback,
                _ => false,
            };
            if !ok || uri.len() > 2048 || !url.username().is_empty() || url.fragment().is_some() {
                return Err(metadata_error("jwks_uri must be an https URL"));
            }
            Ok((None, Some(uri.to_string())))
        }
        (Some(_), Some(_)) => Err(metadata_error("Give jwks or jwks_uri, not both")),
        (None, None) => Err(metadata_error(
            "private_key_jwt needs the client's public keys: jwks or jwks_uri",
        )),
    }
}

/// A JWK Set with 1 to 10 public asymmetric keys.
fn parse_set(v: &Value) -> Result<JwkSet, String> {
    let keys = v
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("jwks must be a JWK Set: {\"keys\": [...]}")?;
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(format!("jwks must hold 1 to {MAX_KEYS} keys"));
    }
    for k in keys {
        let private = ["d", "p", "q", "k"].iter().any(|p| k.get(p).is_some());
        if private {
            return Err("jwks must hold public keys only (no d, p, q or k)".into());
        }
    }
    serde_json::from_value::<JwkSet>(v.clone()).map_err(|e| format!("jwks: {e}"))
}

/// Fetched JWK Sets by URL, shared by every request.
#[derive(Default)]
pub struct JwksCache {
    sets: Mutex<HashMap<String, (Instant, Arc<JwkSet>)>>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwksCache")
    }
}

impl JwksCache {
    fn get(&self, uri: &str, max_age: Duration) -> Option<Arc<JwkSet>> {
        let sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        sets.get(uri)
            .filter(|(at, _)| at.elapsed() < max_age)
            .map(|(_, set)| set.clone())
    }

    fn put(&self, uri: &str, set: Arc<JwkSet>) {
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        if sets.len() > 10_000 {
            sets.clear();
        }
        sets.insert(uri.to_string(), (Instant::now(), set));
    }
}

async fn fetch(uri: &str) -> Result<JwkSet, String> {
    let client = crate::http::outbound::client(Duration::from_secs(5))?;
    let mut resp = client
        .get(uri)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("fetching jwks_uri: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("jwks_uri answered {}", resp.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("reading jwks_uri: {e}"))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_JWKS_BYTES * 4 {
            return Err("jwks_uri answered too much".into());
        }
    }
    let v: Value = serde_json::from_slice(&body).map_err(|e| format!("jwks_uri: {e}"))?;
    parse_set(&v)
}

/// The client's keys; `fresh` asks for a refetch of a `jwks_uri` set
/// (an unknown `kid`: the client may have rotated).
async fn client_keys(
    s: &OAuthProviderSettings,
    client: &ClientRow,
    fresh: bool,
) -> Result<Arc<JwkSet>, OAuthError> {
    if let Some(text) = &client.jwks {
        let v: Value = serde_json::from_str(text).map_err(|_| OAuthError::server_error())?;
        return parse_set(&v)
            .map(Arc::new)
            .map_err(|_| OAuthError::server_error());
    }
    let uri = client
        .jwks_uri
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_client("The client has no registered keys"))?;
    let max_age = if fresh { REFETCH_AFTER } else { JWKS_TTL };
    if let Some(set) = s.jwks.get(uri, max_age) {
        return Ok(set);
    }
    let set = Arc::new(fetch(uri).await.map_err(|e| {
        tracing::warn!(client_id = %client.client_id, error = %e, "a client's jwks_uri failed");
        OAuthError::invalid_client("The client's jwks_uri could not be read")
    })?);
    s.jwks.put(uri, set.clone());
    Ok(set)
}

/// The claims of a JWT, unverified: only to learn which client it claims
/// to be from, before its signature is checked with that client's keys.
fn peek_claims(jwt: &str) -> Option<Map<String, Value>> {
    let payload = jwt.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

fn verify_with(
    set: &JwkSet,
    kid: Option<&str>,
    alg: Algorithm,
    assertion: &str,
) -> Option<Map<String, Value>> {
    let mut validation = Validation::new(alg);
    // Time and audience are checked by the caller against the server clock
    // and this server's own URLs.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = Default::default();
    let candidates: Vec<&Jwk> = set
        .keys
        .iter()
        .filter(|k| kid.is_none() || k.common.key_id.as_deref() == kid)
        .collect();
    candidates.into_iter().find_map(|k| {
        let key = DecodingKey::from_jwk(k).ok()?;
        jsonwebtoken::decode::<Map<String, Value>>(assertion, &key, &validation)
            .ok()
            .map(|d| d.claims)
    })
}

/// Authenticates the client a `client_assertion` is from.
pub async fn authenticate(
    state: &AppState,
    assertion: &str,
    body_client_id: Option<&str>,
) -> Result<ClientRow, OAuthError> {
    let refused = || OAuthError::invalid_client("Client authentication failed");
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| OAuthError::invalid_client("client_assertion is not a signed JWT"))?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(OAuthError::invalid_client(
            "client_assertion must be signed with an asymmetric algorithm",
        ));
    }
    let peeked = peek_claims(assertion).ok_or_else(refused)?;
    let client_id = peeked
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(|| OAuthError::invalid_client("client_assertion has no sub"))?
        .to_string();
    if body_client_id.is_some_and(|c| c != client_id) {
        // RFC 7521 §4.2.1: an assertion that does not authenticate the
        // named client is a failed client authentication.
        return Err(OAuthError::invalid_client(
            "client_id in the body differs from the assertion's sub",
        ));
    }
    let s = state.settings::<OAuthProviderSettings>();
    let client = s
        .clients
        .get_or_load(state, &client_id, store::client(&state.db, &client_id))
        .await?
        .ok_or_else(refused)?;
    if client.disabled.unwrap_or(false) {
        return Err(OAuthError::invalid_client("The client is disabled"));
    }
    if client.token_endpoint_auth_method.as_deref() != Some(super::clients::AUTH_PRIVATE_KEY_JWT) {
        let registered = client
            .token_endpoint_auth_method
            .as_deref()
            .unwrap_or(super::clients::AUTH_BASIC);
        return Err(OAuthError::invalid_client(format!(
            "client registered for {registered} cannot use private_key_jwt"
        )));
    }
    let kid = header.kid.as_deref();
    let mut claims = verify_with(
        &*client_keys(&s, &client, false).await?,
        kid,
        header.alg,
        assertion,
    );
    if claims.is_none() && client.jwks_uri.is_some() {
        claims = verify_with(
            &*client_keys(&s, &client, true).await?,
            kid,
            header.alg,
            assertion,
        );
    }
    let claims = claims.ok_or_else(|| {
        OAuthError::invalid_client("client_assertion's signature does not verify")
    })?;
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    if text("iss") != Some(client_id.as_str()) || text("sub") != Some(client_id.as_str()) {
        return Err(OAuthError::invalid_client(
            "client_assertion's iss and sub must both be the client_id",
        ));
    }
    let issuer = super::issuer(state);
    let base = format!("{}{}", state.config.base_url(), state.config.base_path);
    let ours = |a: &str| {
        a == issuer
            || a.strip_prefix(base.as_str()).is_some_and(|rest| {
                matches!(
                    rest,
                    "/oauth2/token"
                        | "/oauth2/introspect"
                        | "/oauth2/revoke"
                        | "/oauth2/device-authorization"
                )
            })
    };
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => ours(a),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(ours),
        _ => false,
    };
    if !aud_ok {
        return Err(OAuthError::invalid_client(
            "client_assertion's aud must be this server's issuer or token endpoint",
        ));
    }
    let now = state.now().and_utc().timestamp();
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(|| OAuthError::invalid_client("client_assertion has no exp"))?;
    if exp <= now {
        return Err(OAuthError::invalid_client("client_assertion has expired"));
    }
    if exp > now + MAX_LIFETIME_SECS {
        return Err(OAuthError::invalid_client(
            "client_assertion lives too long (at most an hour)",
        ));
    }
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf > now + 60)
    {
        return Err(OAuthError::invalid_client(
            "client_assertion is not valid yet",
        ));
    }
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| OAuthError::invalid_client("client_assertion needs a jti"))?;
    let expires = chrono::DateTime::from_timestamp(exp, 0)
        .map(|d| d.naive_utc())
        .ok_or_else(refused)?;
    if !store::record_assertion(
        &state.db,
        &client.client_id,
        &token::hash_token(jti),
        expires,
        state.now(),
    )
    .await?
    {
        tracing::warn!(client_id = %client.client_id, "a client assertion was replayed");
        return Err(OAuthError::invalid_client(
            "client_assertion was already used (its jti is single use)",
        ));
    }
    Ok(client)
}
