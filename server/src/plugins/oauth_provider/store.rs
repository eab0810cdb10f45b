//! The plugin's tables and its queries. Tokens are looked up by their
//! SHA-256; every "use once" step (a code, a refresh token) is one
//! conditional statement, so of two concurrent uses exactly one wins.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::{Db, StorageError};
use crate::with_conn;

diesel::table! {
    #[sql_name = "oauthClient"]
    oauth_client (id) {
        id -> Text,
        #[sql_name = "clientId"]
        client_id -> Text,
        #[sql_name = "clientSecret"]
        client_secret -> Nullable<Text>,
        disabled -> Nullable<Bool>,
        #[sql_name = "skipConsent"]
        skip_consent -> Nullable<Bool>,
        #[sql_name = "enableEndSession"]
        enable_end_session -> Nullable<Bool>,
        scopes -> Nullable<Text>,
        #[sql_name = "clientCredentialsScopes"]
        client_credentials_scopes -> Nullable<Text>,
        #[sql_name = "userId"]
        user_id -> Nullable<Text>,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
        #[sql_name = "updatedAt"]
        updated_at -> Timestamp,
        name -> Nullable<Text>,
        uri -> Nullable<Text>,
        icon -> Nullable<Text>,
        contacts -> Nullable<Text>,
        tos -> Nullable<Text>,
        policy -> Nullable<Text>,
        #[sql_name = "softwareId"]
        software_id -> Nullable<Text>,
        #[sql_name = "softwareVersion"]
        software_version -> Nullable<Text>,
        #[sql_name = "redirectUris"]
        redirect_uris -> Text,
        #[sql_name = "postLogoutRedirectUris"]
        post_logout_redirect_uris -> Nullable<Text>,
        #[sql_name = "tokenEndpointAuthMethod"]
        token_endpoint_auth_method -> Nullable<Text>,
        #[sql_name = "applicationType"]
        application_type -> Nullable<Text>,
        #[sql_name = "grantTypes"]
        grant_types -> Nullable<Text>,
        #[sql_name = "responseTypes"]
        response_types -> Nullable<Text>,
        #[sql_name = "requirePKCE"]
        require_pkce -> Nullable<Bool>,
        metadata -> Nullable<Text>,
        jwks -> Nullable<Text>,
        #[sql_name = "jwksUri"]
        jwks_uri -> Nullable<Text>,
    }
}

diesel::table! {
    #[sql_name = "oauthRefreshToken"]
    oauth_refresh_token (id) {
        id -> Text,
        token -> Text,
        #[sql_name = "clientId"]
        client_id -> Text,
        #[sql_name = "sessionId"]
        session_id -> Nullable<Text>,
        #[sql_name = "userId"]
        user_id -> Text,
        #[sql_name = "authorizationCodeId"]
        authorization_code_id -> Nullable<Text>,
        #[sql_name = "expiresAt"]
        expires_at -> Timestamp,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
        revoked -> Nullable<Timestamp>,
        #[sql_name = "rotatedAt"]
        rotated_at -> Nullable<Timestamp>,
        #[sql_name = "authTime"]
        auth_time -> Nullable<Timestamp>,
        scopes -> Text,
    }
}

diesel::table! {
    #[sql_name = "oauthAccessToken"]
    oauth_access_token (id) {
        id -> Text,
        token -> Text,
        #[sql_name = "clientId"]
        client_id -> Text,
        #[sql_name = "sessionId"]
        session_id -> Nullable<Text>,
        #[sql_name = "userId"]
        user_id -> Nullable<Text>,
        #[sql_name = "authorizationCodeId"]
        authorization_code_id -> Nullable<Text>,
        #[sql_name = "refreshId"]
        refresh_id -> Nullable<Text>,
        #[sql_name = "expiresAt"]
        expires_at -> Timestamp,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
        revoked -> Nullable<Timestamp>,
        scopes -> Text,
        audience -> Nullable<Text>,
        actor -> Nullable<Text>,
    }
}

diesel::table! {
    #[sql_name = "oauthClientAssertion"]
    oauth_client_assertion (id) {
        id -> Text,
        #[sql_name = "clientId"]
        client_id -> Text,
        jti -> Text,
        #[sql_name = "expiresAt"]
        expires_at -> Timestamp,
    }
}

diesel::table! {
    #[sql_name = "oauthDeviceCode"]
    oauth_device_code (id) {
        id -> Text,
        #[sql_name = "deviceCode"]
        device_code -> Text,
        #[sql_name = "userCode"]
        user_code -> Text,
        #[sql_name = "clientId"]
        client_id -> Text,
        scopes -> Text,
        status -> Text,
        #[sql_name = "userId"]
        user_id -> Nullable<Text>,
        #[sql_name = "sessionId"]
        session_id -> Nullable<Text>,
        #[sql_name = "authTime"]
        auth_time -> Nullable<Timestamp>,
        #[sql_name = "pollInterval"]
        poll_interval -> Integer,
        #[sql_name = "lastPolledAt"]
        last_polled_at -> Nullable<Timestamp>,
        #[sql_name = "expiresAt"]
        expires_at -> Timestamp,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
    }
}

diesel::table! {
    #[sql_name = "oauthConsent"]
    oauth_consent (id) {
        id -> Text,
        #[sql_name = "clientId"]
        client_id -> Text,
        #[sql_name = "userId"]
        user_id -> Nullable<Text>,
        scopes -> Text,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
        #[sql_name = "updatedAt"]
        updated_at -> Timestamp,
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = oauth_client, treat_none_as_null = true)]
pub struct ClientRow {
    pub id: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub disabled: Option<bool>,
    pub skip_consent: Option<bool>,
    pub enable_end_session: Option<bool>,
    pub scopes: Option<String>,
    pub client_credentials_scopes: Option<String>,
    pub user_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub name: Option<String>,
    pub uri: Option<String>,
    pub icon: Option<String>,
    pub contacts: Option<String>,
    pub tos: Option<String>,
    pub policy: Option<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: Option<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub application_type: Option<String>,
    pub grant_types: Option<String>,
    pub response_types: Option<String>,
    pub require_pkce: Option<bool>,
    pub metadata: Option<String>,
    /// A `private_key_jwt` client's JWK Set (JSON).
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_refresh_token)]
pub struct RefreshRow {
    pub id: String,
    pub token: String,
    pub client_id: String,
    pub session_id: Option<String>,
    pub user_id: String,
    pub authorization_code_id: Option<String>,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub revoked: Option<NaiveDateTime>,
    pub rotated_at: Option<NaiveDateTime>,
    pub auth_time: Option<NaiveDateTime>,
    pub scopes: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_access_token)]
pub struct AccessRow {
    pub id: String,
    pub token: String,
    pub client_id: String,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub authorization_code_id: Option<String>,
    pub refresh_id: Option<String>,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub revoked: Option<NaiveDateTime>,
    pub scopes: String,
    /// JSON array of resource URIs: set for JWT access tokens.
    pub audience: Option<String>,
    /// JSON `act` claim: set for exchanged tokens.
    pub actor: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_device_code)]
pub struct DeviceCodeRow {
    pub id: String,
    pub device_code: String,
    pub user_code: String,
    pub client_id: String,
    pub scopes: String,
    pub status: String,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub auth_time: Option<NaiveDateTime>,
    pub poll_interval: i32,
    pub last_polled_at: Option<NaiveDateTime>,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_consent)]
pub struct ConsentRow {
    pub id: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

// ---- clients ----

pub async fn insert_client(db: &Db, row: &ClientRow) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::insert_into(oauth_client::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn client(db: &Db, client_id: &str) -> Result<Option<ClientRow>, StorageError> {
    with_conn!(db, |conn| Ok(oauth_client::table
        .filter(oauth_client::client_id.eq(client_id))
        .select(ClientRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

pub async fn clients_of(db: &Db, user_id: &str) -> Result<Vec<ClientRow>, StorageError> {
    with_conn!(db, |conn| Ok(oauth_client::table
        .filter(oauth_client::user_id.eq(user_id))
        .order(oauth_client::created_at.asc())
        .select(ClientRow::as_select())
        .load(conn)
        .await?))
}

pub async fn update_client(db: &Db, row: &ClientRow) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::update(oauth_client::table.find(&row.id))
            .set(row)
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Deletes a client; its tokens and consents go with it (foreign keys).
pub async fn delete_client(db: &Db, client_id: &str) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::delete(
            oauth_access_token::table.filter(oauth_access_token::client_id.eq(client_id)),
        )
        .execute(conn)
        .await?;
        diesel::delete(
            oauth_refresh_token::table.filter(oauth_refresh_token::client_id.eq(client_id)),
        )
        .execute(conn)
        .await?;
        diesel::delete(oauth_consent::table.filter(oauth_consent::client_id.eq(client_id)))
            .execute(conn)
            .await?;
        diesel::delete(oauth_device_code::table.filter(oauth_device_code::client_id.eq(client_id)))
            .execute(conn)
            .await?;
        diesel::delete(
            oauth_client_assertion::table.filter(oauth_client_assertion::client_id.eq(client_id)),
        )
        .execute(conn)
        .await?;
        diesel::delete(oauth_client::table.filter(oauth_client::client_id.eq(client_id)))
            .execute(conn)
            .await?;
        Ok(())
    })
}

// ---- authorization codes (in the core's `verification` table) ----

/// Redeems a code: its row is renamed to `spent` in one statement, so one
/// caller gets the value; a later attempt finds the spent row instead
/// (the replay that revokes what the code issued).
pub async fn redeem_code(
    db: &Db,
    identifier: &str,
    spent: &str,
    now: NaiveDateTime,
) -> Result<Option<(String, NaiveDateTime)>, StorageError> {
    use crate::db::schema::verifications;
    with_conn!(db, |conn| Ok(diesel::update(
        verifications::table.filter(verifications::identifier.eq(identifier))
    )
    .set((
        verifications::identifier.eq(spent),
        verifications::updated_at.eq(now),
    ))
    .returning((verifications::value, verifications::expires_at))
    .get_result(conn)
    .await
    .optional()?))
}

// ---- tokens ----

pub async fn insert_tokens(
    db: &Db,
    refresh: Option<&RefreshRow>,
    access: &AccessRow,
) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        if let Some(r) = refresh {
            diesel::insert_into(oauth_refresh_token::table)
                .values(r)
                .execute(conn)
                .await?;
        }
        diesel::insert_into(oauth_access_token::table)
            .values(access)
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn access_token(db: &Db, hash: &str) -> Result<Option<AccessRow>, StorageError> {
    with_conn!(db, |conn| Ok(oauth_access_token::table
        .filter(oauth_access_token::token.eq(hash))
        .select(AccessRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

pub async fn refresh_token(db: &Db, hash: &str) -> Result<Option<RefreshRow>, StorageError> {
    with_conn!(db, |conn| Ok(oauth_refresh_token::table
        .filter(oauth_refresh_token::token.eq(hash))
        .select(RefreshRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

/// Marks a live refresh token rotated; false when it already was (or was
/// revoked): the caller holds a spent token.
pub async fn rotate_refresh(db: &Db, id: &str, now: NaiveDateTime) -> Result<bool, StorageError> {
    with_conn!(db, |conn| {
        let n = diesel::update(
            oauth_refresh_token::table
                .find(id)
                .filter(oauth_refresh_token::rotated_at.is_null())
                .filter(oauth_refresh_token::revoked.is_null()),
        )
        .set(oauth_refresh_token::rotated_at.eq(now))
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
}

/// Revokes every token of a grant (a replayed code, a reused refresh token).
pub async fn revoke_grant(db: &Db, grant: &str, now: NaiveDateTime) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::update(
            oauth_access_token::table
                .filter(oauth_access_token::authorization_code_id.eq(grant))
                .filter(oauth_access_token::revoked.is_null()),
        )
        .set(oauth_access_token::revoked.eq(now))
        .execute(conn)
        .await?;
        diesel::update(
            oauth_refresh_token::table
                .filter(oauth_refresh_token::authorization_code_id.eq(grant))
                .filter(oauth_refresh_token::revoked.is_null()),
        )
        .set(oauth_refresh_token::revoked.eq(now))
        .execute(conn)
        .await?;
        Ok(())
    })
}

pub async fn revoke_access(db: &Db, id: &str, now: NaiveDateTime) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::update(
            oauth_access_token::table
                .find(id)
                .filter(oauth_access_token::revoked.is_null()),
        )
        .set(oauth_access_token::revoked.eq(now))
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// Revokes a refresh token and the access tokens issued with it.
pub async fn revoke_refresh(db: &Db, id: &str, now: NaiveDateTime) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::update(
            oauth_refresh_token::table
                .find(id)
                .filter(oauth_refresh_token::revoked.is_null()),
        )
        .set(oauth_refresh_token::revoked.eq(now))
        .execute(conn)
        .await?;
        diesel::update(
            oauth_access_token::table
                .filter(oauth_access_token::refresh_id.eq(id))
                .filter(oauth_access_token::revoked.is_null()),
        )
        .set(oauth_access_token::revoked.eq(now))
        .execute(conn)
        .await?;
        Ok(())
    })
}

// ---- consents ----

pub async fn consent(
    db: &Db,
    client_id: &str,
    user_id: &str,
) -> Result<Option<ConsentRow>, StorageError> {
    with_conn!(db, |conn| Ok(oauth_consent::table
        .filter(oauth_consent::client_id.eq(client_id))
        .filter(oauth_consent::user_id.eq(user_id))
        .select(ConsentRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

pub async fn consent_by_id(db: &Db, id: &str) -> Result<Option<ConsentRow>, StorageError> {
    with_conn!(db, |conn| Ok(oauth_consent::table
        .find(id)
        .select(ConsentRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

pub async fn consents_of(db: &Db, user_id: &str) -> Result<Vec<ConsentRow>, StorageError> {
    with_conn!(db, |conn| Ok(oauth_consent::table
        .filter(oauth_consent::user_id.eq(user_id))
        .order(oauth_consent::created_at.asc())
        .select(ConsentRow::as_select())
        .load(conn)
        .await?))
}

/// Records a user's consent to a client for `scopes` (replacing an earlier one).
pub async fn put_consent(db: &Db, row: &ConsentRow) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        let n = diesel::update(
            oauth_consent::table
                .filter(oauth_consent::client_id.eq(&row.client_id))
                .filter(oauth_consent::user_id.eq(&row.user_id)),
        )
        .set((
            oauth_consent::scopes.eq(&row.scopes),
            oauth_consent::updated_at.eq(row.updated_at),
        ))
        .execute(conn)
        .await?;
        if n == 0 {
            diesel::insert_into(oauth_consent::table)
                .values(row)
                .execute(conn)
                .await?;
        }
        Ok(())
    })
}

pub async fn set_consent_scopes(
    db: &Db,
    id: &str,
    scopes: &str,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::update(oauth_consent::table.find(id))
            .set((
                oauth_consent::scopes.eq(scopes),
                oauth_consent::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn delete_consent(db: &Db, id: &str) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::delete(oauth_consent::table.find(id))
            .execute(conn)
            .await?;
        Ok(())
    })
}

// ---- client assertions (private_key_jwt) ----

/// Records an assertion's `jti` for its client; false when it was seen
/// before (a replay). Expired records are swept on the way.
pub async fn record_assertion(
    db: &Db,
    client_id: &str,
    jti_hash: &str,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    with_conn!(db, |conn| {
        diesel::delete(
            oauth_client_assertion::table.filter(oauth_client_assertion::expires_at.lt(now)),
        )
        .execute(conn)
        .await?;
        let n = diesel::insert_into(oauth_client_assertion::table)
            .values((
                oauth_client_assertion::id.eq(crate::crypto::token::new_id()),
                oauth_client_assertion::client_id.eq(client_id),
                oauth_client_assertion::jti.eq(jti_hash),
                oauth_client_assertion::expires_at.eq(expires_at),
            ))
            .on_conflict((
                oauth_client_assertion::client_id,
                oauth_client_assertion::jti,
            ))
            .do_nothing()
            .execute(conn)
            .await?;
        Ok(n == 1)
    })
}

// ---- device codes ----

pub async fn insert_device_code(db: &Db, row: &DeviceCodeRow) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::insert_into(oauth_device_code::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn device_code_by_device(
    db: &Db,
    hash: &str,
) -> Result<Option<DeviceCodeRow>, StorageError> {
    with_conn!(db, |conn| Ok(oauth_device_code::table
        .filter(oauth_device_code::device_code.eq(hash))
        .select(DeviceCodeRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

pub async fn device_code_by_user(
    db: &Db,
    hash: &str,
) -> Result<Option<DeviceCodeRow>, StorageError> {
    with_conn!(db, |conn| Ok(oauth_device_code::table
        .filter(oauth_device_code::user_code.eq(hash))
        .select(DeviceCodeRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

/// Binds a pending code to the user who entered it; true when it is now
/// bound to `user_id` (it was unbound, or already theirs).
pub async fn bind_device_code(
    db: &Db,
    id: &str,
    user_id: &str,
    session_id: &str,
    auth_time: NaiveDateTime,
) -> Result<bool, StorageError> {
    with_conn!(db, |conn| {
        let n = diesel::update(
            oauth_device_code::table
                .find(id)
                .filter(oauth_device_code::status.eq("pending"))
                .filter(
                    oauth_device_code::user_id
                        .is_null()
                        .or(oauth_device_code::user_id.eq(user_id)),
                ),
        )
        .set((
            oauth_device_code::user_id.eq(user_id),
            oauth_device_code::session_id.eq(session_id),
            oauth_device_code::auth_time.eq(auth_time),
        ))
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
}

/// Approves or denies a pending code bound to `user_id`; false when it
/// is not pending or another user entered it.
pub async fn decide_device_code(
    db: &Db,
    id: &str,
    user_id: &str,
    status: &str,
) -> Result<bool, StorageError> {
    with_conn!(db, |conn| {
        let n = diesel::update(
            oauth_device_code::table
                .find(id)
                .filter(oauth_device_code::status.eq("pending"))
                .filter(oauth_device_code::user_id.eq(user_id)),
        )
        .set(oauth_device_code::status.eq(status))
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
}

/// Records a poll unless the previous one was less than the interval ago
/// (then the interval grows by 5 s, RFC 8628 §3.5, and false comes back).
pub async fn poll_device_code(
    db: &Db,
    id: &str,
    now: NaiveDateTime,
    interval: i32,
) -> Result<bool, StorageError> {
    let since = now - chrono::Duration::seconds(i64::from(interval));
    with_conn!(db, |conn| {
        let n = diesel::update(
            oauth_device_code::table.find(id).filter(
                oauth_device_code::last_polled_at
                    .is_null()
                    .or(oauth_device_code::last_polled_at.le(since)),
            ),
        )
        .set(oauth_device_code::last_polled_at.eq(now))
        .execute(conn)
        .await?;
        if n == 1 {
            return Ok(true);
        }
        diesel::update(oauth_device_code::table.find(id))
            .set((
                oauth_device_code::last_polled_at.eq(now),
                oauth_device_code::poll_interval.eq(oauth_device_code::poll_interval + 5),
            ))
            .execute(conn)
            .await?;
        Ok(false)
    })
}

/// Moves a code from `from` to `to` (approved -> redeemed); true for the one caller that did.
pub async fn transition_device_code(
    db: &Db,
    id: &str,
    from: &str,
    to: &str,
) -> Result<bool, StorageError> {
    with_conn!(db, |conn| {
        let n = diesel::update(
            oauth_device_code::table
                .find(id)
                .filter(oauth_device_code::status.eq(from)),
        )
        .set(oauth_device_code::status.eq(to))
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
}
