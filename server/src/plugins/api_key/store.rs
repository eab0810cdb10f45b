//! Queries on `apikey`, and a read-only view of the organization plugin's
//! `member` table (organization-owned keys). Usage counters change only
//! through conditional updates, so concurrent verifications of one key
//! cannot spend more than it has, on either backend.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::{Db, StorageError};
use crate::with_conn;

diesel::table! {
    apikey (id) {
        id -> Text,
        #[sql_name = "configId"]
        config_id -> Text,
        name -> Nullable<Text>,
        start -> Nullable<Text>,
        #[sql_name = "referenceId"]
        reference_id -> Text,
        prefix -> Nullable<Text>,
        key -> Text,
        #[sql_name = "refillInterval"]
        refill_interval -> Nullable<BigInt>,
        #[sql_name = "refillAmount"]
        refill_amount -> Nullable<BigInt>,
        #[sql_name = "lastRefillAt"]
        last_refill_at -> Nullable<Timestamp>,
        enabled -> Nullable<Bool>,
        #[sql_name = "rateLimitEnabled"]
        rate_limit_enabled -> Nullable<Bool>,
        #[sql_name = "rateLimitTimeWindow"]
        rate_limit_time_window -> Nullable<BigInt>,
        #[sql_name = "rateLimitMax"]
        rate_limit_max -> Nullable<BigInt>,
        #[sql_name = "requestCount"]
        request_count -> Nullable<BigInt>,
        remaining -> Nullable<BigInt>,
        #[sql_name = "lastRequest"]
        last_request -> Nullable<Timestamp>,
        #[sql_name = "expiresAt"]
        expires_at -> Nullable<Timestamp>,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
        #[sql_name = "updatedAt"]
        updated_at -> Timestamp,
        permissions -> Nullable<Text>,
        metadata -> Nullable<Text>,
    }
}

// The organization plugin's table, read only: is a user a member, with which roles.
diesel::table! {
    #[sql_name = "member"]
    org_members (id) {
        id -> Text,
        #[sql_name = "organizationId"]
        organization_id -> Text,
        #[sql_name = "userId"]
        user_id -> Text,
        role -> Text,
    }
}

/// One stored key; `key` is the hash, never the key.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = apikey)]
pub struct ApiKeyRow {
    pub id: String,
    pub config_id: String,
    pub name: Option<String>,
    pub start: Option<String>,
    pub reference_id: String,
    pub prefix: Option<String>,
    pub key: String,
    pub refill_interval: Option<i64>,
    pub refill_amount: Option<i64>,
    pub last_refill_at: Option<NaiveDateTime>,
    pub enabled: Option<bool>,
    pub rate_limit_enabled: Option<bool>,
    pub rate_limit_time_window: Option<i64>,
    pub rate_limit_max: Option<i64>,
    pub request_count: Option<i64>,
    pub remaining: Option<i64>,
    pub last_request: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub permissions: Option<String>,
    pub metadata: Option<String>,
}

/// The columns `update` may change, each `None` when unchanged.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = apikey)]
pub struct KeyChanges {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub expires_at: Option<Option<NaiveDateTime>>,
    pub metadata: Option<Option<String>>,
    pub remaining: Option<Option<i64>>,
    pub refill_amount: Option<Option<i64>>,
    pub refill_interval: Option<Option<i64>>,
    pub rate_limit_enabled: Option<bool>,
    pub rate_limit_time_window: Option<Option<i64>>,
    pub rate_limit_max: Option<Option<i64>>,
    pub permissions: Option<Option<String>>,
    pub updated_at: Option<NaiveDateTime>,
}

pub async fn insert(db: &Db, row: &ApiKeyRow) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::insert_into(apikey::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn find_by_id(db: &Db, id: &str) -> Result<Option<ApiKeyRow>, StorageError> {
    with_conn!(db, |conn| Ok(apikey::table
        .find(id)
        .select(ApiKeyRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

pub async fn find_by_hash(db: &Db, hash: &str) -> Result<Option<ApiKeyRow>, StorageError> {
    with_conn!(db, |conn| Ok(apikey::table
        .filter(apikey::key.eq(hash))
        .select(ApiKeyRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

/// Every key of one owner (a user or an organization), oldest first.
pub async fn list_by_reference(
    db: &Db,
    reference_id: &str,
) -> Result<Vec<ApiKeyRow>, StorageError> {
    with_conn!(db, |conn| Ok(apikey::table
        .filter(apikey::reference_id.eq(reference_id))
        .order((apikey::created_at.asc(), apikey::id.asc()))
        .select(ApiKeyRow::as_select())
        .load(conn)
        .await?))
}

pub async fn update(db: &Db, id: &str, changes: &KeyChanges) -> Result<bool, StorageError> {
    with_conn!(db, |conn| Ok(diesel::update(apikey::table.find(id))
        .set(changes)
        .execute(conn)
        .await?
        > 0))
}

pub async fn delete(db: &Db, id: &str) -> Result<bool, StorageError> {
    with_conn!(db, |conn| Ok(diesel::delete(apikey::table.find(id))
        .execute(conn)
        .await?
        > 0))
}

/// Deletes every key that expired before `now`; returns how many.
pub async fn delete_expired(db: &Db, now: NaiveDateTime) -> Result<usize, StorageError> {
    with_conn!(db, |conn| Ok(diesel::delete(
        apikey::table.filter(
            apikey::expires_at
                .is_not_null()
                .and(apikey::expires_at.lt(now))
        )
    )
    .execute(conn)
    .await?))
}

/// Refills the key to `amount - 1` (this use included) if nobody refilled
/// it since `observed` (the `lastRefillAt` read): one winner per refill.
pub async fn claim_refill(
    db: &Db,
    id: &str,
    observed: Option<NaiveDateTime>,
    amount: i64,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let set = (
        apikey::remaining.eq(Some(amount - 1)),
        apikey::last_refill_at.eq(Some(now)),
    );
    with_conn!(db, |conn| {
        let n = match observed {
            Some(t) => {
                diesel::update(apikey::table.find(id).filter(apikey::last_refill_at.eq(t)))
                    .set(set)
                    .execute(conn)
                    .await?
            }
            None => {
                diesel::update(
                    apikey::table
                        .find(id)
                        .filter(apikey::last_refill_at.is_null()),
                )
                .set(set)
                .execute(conn)
                .await?
            }
        };
        Ok(n > 0)
    })
}

/// Spends one use: `remaining - 1` only while `remaining > 0`.
pub async fn claim_use(db: &Db, id: &str) -> Result<bool, StorageError> {
    with_conn!(db, |conn| Ok(diesel::update(
        apikey::table.find(id).filter(apikey::remaining.gt(0i64))
    )
    .set(apikey::remaining.eq(apikey::remaining - 1i64))
    .execute(conn)
    .await?
        > 0))
}

/// Records a request without counting it (rate limiting off for the key).
pub async fn touch_last_request(db: &Db, id: &str, now: NaiveDateTime) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::update(apikey::table.find(id))
            .set(apikey::last_request.eq(Some(now)))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Opens a window (count 1) if the key's window is still the one read:
/// never used (`window_start` none), or last used at or before `window_start`.
pub async fn claim_window_start(
    db: &Db,
    id: &str,
    window_start: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let set = (
        apikey::request_count.eq(Some(1i64)),
        apikey::last_request.eq(Some(now)),
    );
    with_conn!(db, |conn| {
        let n = match window_start {
            Some(t) => {
                diesel::update(apikey::table.find(id).filter(apikey::last_request.le(t)))
                    .set(set)
                    .execute(conn)
                    .await?
            }
            None => {
                diesel::update(
                    apikey::table
                        .find(id)
                        .filter(apikey::last_request.is_null()),
                )
                .set(set)
                .execute(conn)
                .await?
            }
        };
        Ok(n > 0)
    })
}

/// Counts a request inside the current window while the count is below `max`.
pub async fn claim_window_slot(
    db: &Db,
    id: &str,
    window_start: NaiveDateTime,
    max: i64,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    with_conn!(db, |conn| Ok(diesel::update(
        apikey::table
            .find(id)
            .filter(apikey::last_request.gt(window_start))
            .filter(apikey::request_count.lt(max))
    )
    .set((
        apikey::request_count.eq(apikey::request_count + 1i64),
        apikey::last_request.eq(Some(now)),
    ))
    .execute(conn)
    .await?
        > 0))
}

pub async fn touch_updated(db: &Db, id: &str, now: NaiveDateTime) -> Result<bool, StorageError> {
    with_conn!(db, |conn| Ok(diesel::update(apikey::table.find(id))
        .set(apikey::updated_at.eq(now))
        .execute(conn)
        .await?
        > 0))
}

/// The role list of a user's membership in an organization, if any.
pub async fn member_role(
    db: &Db,
    organization_id: &str,
    user_id: &str,
) -> Result<Option<String>, StorageError> {
    with_conn!(db, |conn| Ok(org_members::table
        .filter(org_members::organization_id.eq(organization_id))
        .filter(org_members::user_id.eq(user_id))
        .select(org_members::role)
        .first::<String>(conn)
        .await
        .optional()?))
}
