//! The token endpoint's grants (authorization code with PKCE, refresh with
//! rotation and reuse detection, client credentials), ID tokens signed with
//! the jwt plugin's keys, and the token lookups behind introspection,
//! revocation and userinfo. Access and refresh tokens are opaque, random
//! and stored only as their SHA-256.

use chrono::{Duration, NaiveDateTime};
use serde_json::{Map, Value};

use super::routes::OAuthIntrospectionResponse;
use sha2::Digest;
use subtle::ConstantTimeEq;

use super::authorize::{CodeGrant, CODE_PREFIX, SPENT_CODE_PREFIX};
use super::clients::{self, GRANT_CLIENT_CREDENTIALS, GRANT_CODE, GRANT_REFRESH};
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
        GRANT_CODE | GRANT_REFRESH | GRANT_CLIENT_CREDENTIALS => {}
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
        },
    )
    .await
}

struct Issue<'a> {
    user: Option<&'a UserRow>,
    session_id: Option<String>,
    /// The code's hash, or a new id: every token of one grant shares it.
    grant_id: String,
    scopes: Vec<String>,
    /// What a new refresh token carries (the grant's scopes).
    refresh_scopes: Vec<String>,
    nonce: Option<String>,
    auth_time: Option<i64>,
    with_refresh: bool,
}

async fn issue(
    state: &AppState,
    s: &OAuthProviderSettings,
    client: &ClientRow,
    i: Issue<'_>,
) -> Result<OAuthTokenResponse, OAuthError> {
    let now = state.now();
    let lifetime = if i.user.is_some() {
        s.access_token_expires_in
    } else {
        s.m2m_access_token_expires_in
    };
    let access = clients::random_letters(32);
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
    };
    store::insert_tokens(&state.db, refresh_row.as_ref(), &access_row).await?;
    let id_token = match i.user {
        Some(user) if i.scopes.iter().any(|x| x == OPENID) => {
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
    })
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
    claims.insert("azp".into(), client.client_id.clone().into());
    claims.insert("iat".into(), iat.into());
    claims.insert("exp".into(), (iat + s.id_token_expires_in).into());
    claims.insert("at_hash".into(), at_hash(jwt.alg, access_token).into());
    if let Some(t) = i.auth_time {
        claims.insert("auth_time".into(), t.into());
    }
    if let Some(n) = &i.nonce {
        claims.insert("nonce".into(), n.clone().into());
    }
    if let Some(sid) = &i.session_id {
        claims.insert("sid".into(), sid.clone().into());
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

async fn live_access(state: &AppState, hash: &str) -> Result<Option<Found>, OAuthError> {
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
        };
    };
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
            "refresh_token",
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
    }
}
