//! The token endpoint's grants (authorization code with PKCE, refresh with
//! rotation and reuse detection, client credentials, token exchange; the
//! device code grant is in `device`), ID tokens signed with the jwt
//! plugin's keys, and the token lookups behind introspection, revocation
//! and userinfo. Access tokens are opaque by default; addressed to a
//! resource server (`resource`, RFC 8707) they are JWTs (`at+jwt`, RFC 9068)
//! it verifies offline. Either kind, and every refresh token, is stored
//! only as its SHA-256, so revocation and introspection treat them alike.

use chrono::{Duration, NaiveDateTime};
use serde_json::{Map, Value};

use super::routes::OAuthIntrospectionResponse;
use sha2::Digest;
use subtle::ConstantTimeEq;

use super::authorize::{CodeGrant, CODE_PREFIX, SPENT_CODE_PREFIX};
use super::clients::{
    self, GRANT_CLIENT_CREDENTIALS, GRANT_CODE, GRANT_DEVICE, GRANT_REFRESH, GRANT_TOKEN_EXCHANGE,
};
use super::errors::OAuthError;
use super::settings::{OAuthProviderSettings, OFFLINE_ACCESS, OPENID};
use super::store::{self, AccessRow, ClientRow, RefreshRow};
use crate::crypto::token;
use crate::db::models::UserRow;
use crate::plugins::jwt::keys::Alg;
use crate::plugins::jwt::settings::JwtSettings;
use crate::state::AppState;

/// The token endpoint's answer (RFC 6749 §5.1).
#[derive(Debug, Clone, serde::Serialize, poem_openapi::Object)]
pub struct OAuthTokenResponse {
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// Unix seconds when the access token expires.
    pub expires_at: i64,
    /// With `offline_access`: a single-use token for the next access token.
    #[oai(skip_serializing_if_is_none)]
    pub refresh_token: Option<String>,
    /// The scopes granted, space-separated.
    pub scope: String,
    /// With `openid`: the ID token, signed with the jwt plugin's current key.
    #[oai(skip_serializing_if_is_none)]
    pub id_token: Option<String>,
    /// Token exchange (RFC 8693 §2.2.1): what `access_token` is.
    #[oai(skip_serializing_if_is_none)]
    pub issued_token_type: Option<String>,
}

/// RFC 8693's name for an access token, as subject and as result.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The resource servers a token request names (`resource`, and for token
/// exchange `audience` too), each one this server issues tokens for and,
/// when the grant named some, one of those; none named: the grant's.
fn requested_audience(
    state: &AppState,
    s: &OAuthProviderSettings,
    body: &Map<String, Value>,
    keys: &[&str],
    granted: &[String],
) -> Result<Vec<String>, OAuthError> {
    let mut asked: Vec<String> = Vec::new();
    for k in keys {
        match body.get(*k) {
            Some(Value::String(v)) => asked.extend(v.split_whitespace().map(String::from)),
            Some(Value::Array(list)) => {
                asked.extend(list.iter().filter_map(Value::as_str).map(String::from))
            }
            _ => {}
        }
    }
    if asked.is_empty() {
        return Ok(granted.to_vec());
    }
    asked.dedup();
    let valid = s.audiences(state);
    for a in &asked {
        if !valid.contains(a) || (!granted.is_empty() && !granted.contains(a)) {
            return Err(OAuthError::new(
                400,
                "invalid_target",
                format!("{a} is not a resource this grant may address"),
            ));
        }
    }
    Ok(asked)
}

fn field<'a>(body: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    body.get(k).and_then(Value::as_str)
}

fn required<'a>(body: &'a Map<String, Value>, k: &str) -> Result<&'a str, OAuthError> {
    field(body, k)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::invalid_request(format!("{k} is required")))
}

fn scopes_text(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

fn parse_scopes(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// Runs one token request for an authenticated client.
pub async fn grant(
    state: &AppState,
    s: &OAuthProviderSettings,
    client: &ClientRow,
    body: &Map<String, Value>,
) -> Result<OAuthTokenResponse, OAuthError> {
    let grant_type = required(body, "grant_type")?;
    match grant_type {
        GRANT_CODE
        | GRANT_REFRESH
        | GRANT_CLIENT_CREDENTIALS
        | GRANT_DEVICE
        | GRANT_TOKEN_EXCHANGE => {}
        other => {
            return Err(OAuthError::new(
                400,
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported"),
            ))
        }
    }
    if !client.allows_grant(grant_type) {
        return Err(OAuthError::unauthorized_client(format!(
            "The client may not use {grant_type}"
        )));
    }
    match grant_type {
        GRANT_CODE => authorization_code(state, s, client, body).await,
        GRANT_REFRESH => refresh(state, s, client, body).await,
        GRANT_DEVICE => super::device::redeem(state, s, client, body).await,
        GRANT_TOKEN_EXCHANGE => token_exchange(state, s, client, body).await,
        _ => client_credentials(state, s, client, body).await,
    }
}

async fn authorization_code(
    state: &AppState,
    s: &OAuthProviderSettings,
    client: &ClientRow,
    body: &Map<String, Value>,
) -> Result<OAuthTokenResponse, OAuthError> {
    let code = required(body, "code")?;
    let hash = token::hash_token(code);
    let now = state.now();
    let redeemed = store::redeem_code(
        &state.db,
        &format!("{CODE_PREFIX}{hash}"),
        &format!("{SPENT_CODE_PREFIX}{hash}"),
        now,
    )
    .await?;
    let Some((value, expires_at)) = redeemed else {
        // A replay: whatever the code issued is revoked (RFC 6749 §4.1.2).
        let spent =
            crate::db::store::find_verification(&state.db, &format!("{SPENT_CODE_PREFIX}{hash}"))
                .await?;
        if spent.is_some() {
            store::revoke_grant(&state.db, &hash, now).await?;
            s.tokens.clear();
            tracing::warn!(client_id = %client.client_id, "authorization code replayed: its tokens are revoked");
            return Err(OAuthError::invalid_grant(
                "The authorization code was already used",
            ));
        }
        return Err(OAuthError::invalid_grant(
            "The authorization code is invalid",
        ));
    };
    if expires_at < now {
        return Err(OAuthError::invalid_grant(
            "The authorization code has expired",
        ));
    }
    let grant: CodeGrant = serde_json::from_str(&value).map_err(|_| OAuthError::server_error())?;
    if grant.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "The authorization code was issued to another client",
        ));
    }
    match field(body, "redirect_uri") {
        Some(uri) if uri != grant.redirect_uri => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the authorization request's",
            ))
        }
        None if grant.redirect_uri_given => {
            return Err(OAuthError::invalid_request(
                "redirect_uri is required: the authorization request had one",
            ))
        }
        _ => {}
    }
    match (&grant.code_challenge, field(body, "code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            let well_formed = (43..=128).contains(&verifier.len())
                && verifier
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            let matches: bool = token::hash_token(verifier)
                .as_bytes()
                .ct_eq(challenge.as_bytes())
                .into();
            if !well_formed || !matches {
                return Err(OAuthError::invalid_grant("code_verifier does not match"));
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_grant("code_verifier is required"));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier was sent, but the authorization request had no code_challenge",
            ));
        }
        (None, None) => {}
    }
    let audience = requested_audience(state, s, body, &["resource"], &grant.resource)?;
    let user = crate::db::store::find_user_by_id(&state.db, &grant.user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("The user no longer exists"))?;
    issue(
        state,
        s,
        client,
        Issue {
            user: Some(&user),
            session_id: Some(grant.session_id.clone()),
            grant_id: hash,
            scopes: grant.scopes.clone(),
            refresh_scopes: grant.scopes.clone(),
            nonce: grant.nonce.clone(),
            auth_time: Some(grant.auth_time),
            with_refresh: grant.scopes.iter().any(|x| x == OFFLINE_ACCESS),
            audience,
            actor: None,
            expires_at_most: None,
        },
    )
    .await
}

async fn refresh(
    state: &AppState,
    s: &OAuthProviderSettings,
    client: &ClientRow,
    body: &Map<String, Value>,
) -> Result<OAuthTokenResponse, OAuthError> {
    let presented = required(body, "refresh_token")?;
    let now = state.now();
    let invalid = || OAuthError::invalid_grant("The refresh token is invalid");
    let row = store::refresh_token(&state.db, &token::hash_token(presented))
        .await?
        .ok_or_else(invalid)?;
    if row.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "The refresh token was issued to another client",
        ));
    }
    if row.revoked.is_some() {
        return Err(OAuthError::invalid_grant("The refresh token was revoked"));
    }
    if row.expires_at < now {
        return Err(OAuthError::invalid_grant("The refresh token has expired"));
    }
    if !store::rotate_refresh(&state.db, &row.id, now).await? {
        // A spent token came back: someone holds a copy. The whole family
        // goes (OAuth 2.1 §6.1), the legitimate holder signs in again.
        if let Some(grant) = &row.authorization_code_id {
            store::revoke_grant(&state.db, grant, now).await?;
            s.tokens.clear();
        }
        tracing::warn!(client_id = %client.client_id, "refresh token reused: its family is revoked");
        return Err(OAuthError::invalid_grant(
            "The refresh token was already used",
        ));
    }
    let original = parse_scopes(&row.scopes);
    let scopes = match field(body, "scope") {
        Some(text) => {
            let asked: Vec<String> = text.split_whitespace().map(String::from).collect();
            if let Some(bad) = asked.iter().find(|a| !original.contains(a)) {
                return Err(OAuthError::invalid_scope(format!(
                    "Scope {bad} was not granted originally"
                )));
            }
            asked
        }
        None => original.clone(),
    };
    let audience = requested_audience(state, s, body, &["resource"], &[])?;
    let user = crate::db::store::find_user_by_id(&state.db, &row.user_id)
        .await?
        .ok_or_else(invalid)?;
    issue(
        state,
        s,
        client,
        Issue {
            user: Some(&user),
            session_id: row.session_id.clone(),
            grant_id: row
                .authorization_code_id
                .clone()
                .unwrap_or_else(token::new_id),
            scopes,
            // The new refresh token keeps the original grant, so a narrower
            // access token now does not shrink what the next refresh may ask.
            refresh_scopes: original,
            nonce: None,
            auth_time: row.auth_time.map(|t| t.and_utc().timestamp()),
            with_refresh: true,
            audience,
            actor: None,
            expires_at_most: None,
        },
    )
    .await
}

async fn client_credentials(
    state: &AppState,
    s: &OAuthProviderSettings,
    client: &ClientRow,
    body: &Map<String, Value>,
) -> Result<OAuthTokenResponse, OAuthError> {
    if client.is_public() {
        return Err(OAuthError::unauthorized_client(
            "A public client cannot use client_credentials",
        ));
    }
    // A machine acts for itself: no user scopes.
    let allowed: Vec<String> = client
        .scope_list()
        .into_iter()
        .filter(|x| x != OPENID && x != OFFLINE_ACCESS)
        .collect();
    let scopes = match field(body, "scope") {
        Some(text) => {
            let asked: Vec<String> = text.split_whitespace().map(String::from).collect();
            if let Some(bad) = asked.iter().find(|a| !allowed.contains(a)) {
                return Err(OAuthError::invalid_scope(format!(
                    "Scope {bad} is not allowed for client credentials"
                )));
            }
            asked
        }
        None => allowed,
    };
    let audience = requested_audience(state, s, body, &["resource"], &[])?;
    issue(
        state,
        s,
        client,
        Issue {
            user: None,
            session_id: None,
            grant_id: token::new_id(),
            refresh_scopes: Vec::new(),
            scopes,
            nonce: None,
            auth_time: None,
            with_refresh: false,
            audience,
            actor: None,
            expires_at_most: None,
        },
    )
    .await
}

/// Token exchange (RFC 8693): a service holding a user's access token gets
/// a narrower one, for itself or another resource server, that says who
/// acts (`act`, nested when the subject token was itself delegated). Only
/// confidential clients registered for the grant and listed by the operator
/// in `token_exchange_clients` may exchange; the new
/// token has at most the subject token's scopes, lives no longer, gets no
/// refresh token, and is revoked with the subject token's grant.
async fn token_exchange(
    state: &AppState,
    s: &OAuthProviderSettings,
    client: &ClientRow,
    body: &Map<String, Value>,
) -> Result<OAuthTokenResponse, OAuthError> {
    if client.is_public() || !s.token_exchange_clients.contains(&client.client_id) {
        return Err(OAuthError::unauthorized_client(
            "The client is not allowed to exchange tokens (token_exchange_clients)",
        ));
    }
    let subject = required(body, "subject_token")?;
    if required(body, "subject_token_type")? != ACCESS_TOKEN_TYPE {
        return Err(OAuthError::invalid_request(format!(
            "subject_token_type must be {ACCESS_TOKEN_TYPE}"
        )));
    }
    if field(body, "requested_token_type").is_some_and(|t| t != ACCESS_TOKEN_TYPE) {
        return Err(OAuthError::invalid_request(format!(
            "requested_token_type must be {ACCESS_TOKEN_TYPE}"
        )));
    }
    if body.contains_key("actor_token") {
        return Err(OAuthError::invalid_request(
            "actor_token is not accepted: the actor is the authenticated client",
        ));
    }
    let Some(Found::Access(row)) = live_access(state, &token::hash_token(subject)).await? else {
        return Err(OAuthError::invalid_grant(
            "The subject token is invalid, expired or revoked",
        ));
    };
    let held = parse_scopes(&row.scopes);
    let scopes: Vec<String> = match field(body, "scope") {
        Some(text) => {
            let asked: Vec<String> = text.split_whitespace().map(String::from).collect();
            if let Some(bad) = asked.iter().find(|a| !held.contains(a)) {
                return Err(OAuthError::invalid_scope(format!(
                    "Scope {bad} is beyond the subject token's scopes"
                )));
            }
            asked
        }
        None => held.into_iter().filter(|x| x != OFFLINE_ACCESS).collect(),
    };
    let audience = requested_audience(state, s, body, &["resource", "audience"], &[])?;
    let mut actor = Map::new();
    actor.insert("sub".into(), client.client_id.clone().into());
    if let Some(prior) = row
        .actor
        .as_deref()
        .and_then(|a| serde_json::from_str::<Value>(a).ok())
    {
        actor.insert("act".into(), prior);
    }
    let user = match &row.user_id {
        Some(id) => Some(
            crate::db::store::find_user_by_id(&state.db, id)
                .await?
                .ok_or_else(|| OAuthError::invalid_grant("The user no longer exists"))?,
        ),
        None => None,
    };
    let mut answer = issue(
        state,
        s,
        client,
        Issue {
            user: user.as_ref(),
            session_id: row.session_id.clone(),
            grant_id: row
                .authorization_code_id
                .clone()
                .unwrap_or_else(token::new_id),
            refresh_scopes: Vec::new(),
            scopes: scopes.into_iter().filter(|x| x != OFFLINE_ACCESS).collect(),
            nonce: None,
            auth_time: None,
            with_refresh: false,
            audience,
            actor: Some(Value::Object(actor)),
            expires_at_most: Some(row.expires_at),
        },
    )
    .await?;
    answer.issued_token_type = Some(ACCESS_TOKEN_TYPE.into());
    Ok(answer)
}

/// One issuance: what the tokens stand for.
pub struct Issue<'a> {
    pub user: Option<&'a UserRow>,
    pub session_id: Option<String>,
    /// The code's hash, or a new id: every token of one grant shares it.
    pub grant_id: String,
    pub scopes: Vec<String>,
    /// What a new refresh token carries (the grant's scopes).
    pub refresh_scopes: Vec<String>,
    pub nonce: Option<String>,
    pub auth_time: Option<i64>,
    pub with_refresh: bool,
    /// Resource servers the access token is for: non-empty makes it a JWT.
    pub audience: Vec<String>,
    /// RFC 8693 `act`: who acts for the subject.
    pub actor: Option<Value>,
    /// The access token expires no later than this (an exchanged token
    /// does not outlive its subject token).
    pub expires_at_most: Option<NaiveDateTime>,
}

pub async fn issue(
    state: &AppState,
    s: &OAuthProviderSettings,
    client: &ClientRow,
    i: Issue<'_>,
) -> Result<OAuthTokenResponse, OAuthError> {
    let now = state.now();
    let mut lifetime = if i.user.is_some() {
        s.access_token_expires_in
    } else {
        s.m2m_access_token_expires_in
    };
    if let Some(limit) = i.expires_at_most {
        lifetime = lifetime.min((limit - now).num_seconds().max(0));
    }
    let access = if i.audience.is_empty() {
        clients::random_letters(32)
    } else {
        jwt_access_token(state, client, &i, now, lifetime).await?
    };
    let refresh = i.with_refresh.then(|| clients::random_letters(32));
    let refresh_row = match (&refresh, i.user) {
        (Some(r), Some(user)) => Some(RefreshRow {
            id: token::new_id(),
            token: token::hash_token(r),
            client_id: client.client_id.clone(),
            session_id: i.session_id.clone(),
            user_id: user.id.clone(),
            authorization_code_id: Some(i.grant_id.clone()),
            expires_at: now + Duration::seconds(s.refresh_token_expires_in),
            created_at: now,
            revoked: None,
            rotated_at: None,
            auth_time: i
                .auth_time
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map(|d| d.naive_utc()),
            scopes: scopes_text(&i.refresh_scopes),
        }),
        _ => None,
    };
    let access_row = AccessRow {
        id: token::new_id(),
        token: token::hash_token(&access),
        client_id: client.client_id.clone(),
        session_id: i.session_id.clone(),
        user_id: i.user.map(|u| u.id.clone()),
        authorization_code_id: Some(i.grant_id.clone()),
        refresh_id: refresh_row.as_ref().map(|r| r.id.clone()),
        expires_at: now + Duration::seconds(lifetime),
        created_at: now,
        revoked: None,
        scopes: scopes_text(&i.scopes),
        audience: (!i.audience.is_empty()).then(|| scopes_text(&i.audience)),
        actor: i.actor.as_ref().map(Value::to_string),
    };
    store::insert_tokens(&state.db, refresh_row.as_ref(), &access_row).await?;
    let id_token = match i.user {
        // An exchanged token is for a service, not a sign-in: no ID token.
        Some(user) if i.actor.is_none() && i.scopes.iter().any(|x| x == OPENID) => {
            Some(id_token(state, s, client, user, &i, &access, now).await?)
        }
        _ => None,
    };
    Ok(OAuthTokenResponse {
        access_token: access,
        token_type: "Bearer".into(),
        expires_in: lifetime,
        expires_at: (now + Duration::seconds(lifetime)).and_utc().timestamp(),
        refresh_token: refresh_row.is_some().then_some(refresh).flatten(),
        scope: i.scopes.join(" "),
        id_token,
        issued_token_type: None,
    })
}

/// `aud` as a claim: the one audience, or the list.
fn audience_claim(list: &[String]) -> Value {
    match list {
        [one] => one.clone().into(),
        many => many.to_vec().into(),
    }
}

/// An access token for resource servers (RFC 9068): a JWT with `typ`
/// `at+jwt`, signed with the jwt plugin's current key, so they verify it
/// against `/jwks` without calling back.
async fn jwt_access_token(
    state: &AppState,
    client: &ClientRow,
    i: &Issue<'_>,
    now: NaiveDateTime,
    lifetime: i64,
) -> Result<String, OAuthError> {
    let jwt = state.settings::<JwtSettings>();
    let iat = now.and_utc().timestamp();
    let mut c = Map::new();
    c.insert("iss".into(), super::issuer(state).into());
    c.insert(
        "sub".into(),
        i.user
            .map_or_else(|| client.client_id.clone(), |u| u.id.clone())
            .into(),
    );
    c.insert("aud".into(), audience_claim(&i.audience));
    c.insert("client_id".into(), client.client_id.clone().into());
    c.insert("azp".into(), client.client_id.clone().into());
    c.insert("scope".into(), i.scopes.join(" ").into());
    c.insert("iat".into(), iat.into());
    c.insert("exp".into(), (iat + lifetime).into());
    c.insert("jti".into(), token::new_id().into());
    if let Some(sid) = &i.session_id {
        c.insert("sid".into(), sid.clone().into());
    }
    if let Some(t) = i.auth_time {
        c.insert("auth_time".into(), t.into());
    }
    if let Some(act) = &i.actor {
        c.insert("act".into(), act.clone());
    }
    Ok(jwt.keys.sign_typed(state, &jwt, "at+jwt", &c).await?)
}

/// The claims a scope set releases about a user (OIDC Core §5.4).
pub fn user_claims(user: &UserRow, scopes: &[String]) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("sub".into(), user.id.clone().into());
    if scopes.iter().any(|x| x == "profile") {
        c.insert("name".into(), user.name.clone().into());
        if let Some(image) = &user.image {
            c.insert("picture".into(), image.clone().into());
        }
        // Better Auth's split: the last word is the family name.
        if let Some((given, family)) = user.name.trim().rsplit_once(' ') {
            c.insert("given_name".into(), given.trim_end().into());
            c.insert("family_name".into(), family.into());
        }
    }
    if scopes.iter().any(|x| x == "email") {
        c.insert("email".into(), user.email.clone().into());
        c.insert("email_verified".into(), user.email_verified.into());
    }
    c
}

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the access token's
/// hash under the ID token's algorithm's hash (SHA-512 for Ed25519).
pub fn at_hash(alg: Alg, access_token: &str) -> String {
    use base64::Engine;
    let digest: Vec<u8> = match alg {
        Alg::EdDsa => sha2::Sha512::digest(access_token.as_bytes()).to_vec(),
        _ => sha2::Sha256::digest(access_token.as_bytes()).to_vec(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

async fn id_token(
    state: &AppState,
    s: &OAuthProviderSettings,
    client: &ClientRow,
    user: &UserRow,
    i: &Issue<'_>,
    access_token: &str,
    now: NaiveDateTime,
) -> Result<String, OAuthError> {
    let jwt = state.settings::<JwtSettings>();
    let iat = now.and_utc().timestamp();
    let mut claims = user_claims(user, &i.scopes);
    claims.insert("iss".into(), super::issuer(state).into());
    claims.insert("aud".into(), client.client_id.clone().into());
    // Better Auth's: no assurance level is claimed ("0", OIDC Core §2).
    claims.insert("acr".into(), "0".into());
    claims.insert("iat".into(), iat.into());
    claims.insert("exp".into(), (iat + s.id_token_expires_in).into());
    claims.insert("at_hash".into(), at_hash(jwt.alg, access_token).into());
    if let Some(t) = i.auth_time {
        claims.insert("auth_time".into(), t.into());
    }
    if let Some(n) = &i.nonce {
        claims.insert("nonce".into(), n.clone().into());
    }
    // The session only for a client that may end it (Better Auth's rule).
    if client.enable_end_session.unwrap_or(false) {
        if let Some(sid) = &i.session_id {
            claims.insert("sid".into(), sid.clone().into());
        }
    }
    Ok(crate::plugins::jwt::sign_claims(state, &jwt, claims).await?)
}

/// What a presented token is, if it is live.
pub enum Found {
    Access(AccessRow),
    Refresh(RefreshRow),
}

impl Found {
    pub fn client_id(&self) -> &str {
        match self {
            Found::Access(r) => &r.client_id,
            Found::Refresh(r) => &r.client_id,
        }
    }
}

/// Looks a token up (the hint says which table first); `None` when it is
/// unknown, revoked or expired.
pub async fn find_live(
    state: &AppState,
    presented: &str,
    hint: Option<&str>,
) -> Result<Option<Found>, OAuthError> {
    let hash = token::hash_token(presented);
    if hint == Some("refresh_token") {
        if let Some(f) = live_refresh(state, &hash).await? {
            return Ok(Some(f));
        }
        return live_access(state, &hash).await;
    }
    if let Some(f) = live_access(state, &hash).await? {
        return Ok(Some(f));
    }
    live_refresh(state, &hash).await
}

pub(super) async fn live_access(state: &AppState, hash: &str) -> Result<Option<Found>, OAuthError> {
    let now = state.now();
    let row = state
        .settings::<OAuthProviderSettings>()
        .tokens
        .get_or_load(state, hash, store::access_token(&state.db, hash))
        .await?;
    Ok(row
        .filter(|r| r.revoked.is_none() && r.expires_at > now)
        .map(Found::Access))
}

async fn live_refresh(state: &AppState, hash: &str) -> Result<Option<Found>, OAuthError> {
    let now = state.now();
    Ok(store::refresh_token(&state.db, hash)
        .await?
        .filter(|r| r.revoked.is_none() && r.rotated_at.is_none() && r.expires_at > now)
        .map(Found::Refresh))
}

/// RFC 7662's answer for a token (`{active: false}` for none).
pub fn introspection(state: &AppState, found: Option<Found>) -> OAuthIntrospectionResponse {
    let ts = |t: NaiveDateTime| Some(t.and_utc().timestamp());
    let Some(found) = found else {
        return OAuthIntrospectionResponse {
            active: false,
            token_type: None,
            client_id: None,
            scope: None,
            sub: None,
            iat: None,
            exp: None,
            iss: None,
            sid: None,
            aud: None,
            act: None,
            azp: None,
        };
    };
    let (aud, act) = match &found {
        Found::Access(r) => (
            r.audience
                .as_deref()
                .map(|a| audience_claim(&parse_scopes(a))),
            r.actor
                .as_deref()
                .and_then(|a| serde_json::from_str(a).ok()),
        ),
        Found::Refresh(_) => (None, None),
    };
    // Better Auth names the client as `azp` too, for access tokens.
    let azp = match &found {
        Found::Access(r) => Some(r.client_id.clone()),
        Found::Refresh(_) => None,
    };
    // RFC 7662 §2.2: the token type of RFC 6749 §7.1, for both kinds.
    let (token_type, client_id, scopes, sub, created, expires, sid) = match found {
        Found::Access(r) => (
            "Bearer",
            r.client_id.clone(),
            r.scopes,
            r.user_id.unwrap_or(r.client_id),
            r.created_at,
            r.expires_at,
            r.session_id,
        ),
        Found::Refresh(r) => (
            "Bearer",
            r.client_id,
            r.scopes,
            r.user_id,
            r.created_at,
            r.expires_at,
            r.session_id,
        ),
    };
    OAuthIntrospectionResponse {
        active: true,
        token_type: Some(token_type.into()),
        client_id: Some(client_id),
        scope: Some(parse_scopes(&scopes).join(" ")),
        sub: Some(sub),
        iat: ts(created),
        exp: ts(expires),
        iss: Some(super::issuer(state)),
        sid,
        aud,
        act,
        azp,
    }
}
