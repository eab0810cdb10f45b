//! Queries on the `twoFactor` table and the `twoFactorEnabled` user column.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::store::Tx;
use crate::db::{Db, StorageError};
use crate::{on_tx, with_conn};

// The column this plugin's migration adds to Better Auth's `user` table.
diesel::table! {
    #[sql_name = "user"]
    users (id) {
        id -> Text,
        #[sql_name = "twoFactorEnabled"]
        two_factor_enabled -> Nullable<Bool>,
        #[sql_name = "updatedAt"]
        updated_at -> Timestamp,
    }
}

diesel::table! {
    #[sql_name = "twoFactor"]
    two_factors (id) {
        id -> Text,
        secret -> Text,
        #[sql_name = "backupCodes"]
        backup_codes -> Text,
        #[sql_name = "userId"]
        user_id -> Text,
        verified -> Nullable<Bool>,
        #[sql_name = "failedVerificationCount"]
        failed_verification_count -> Nullable<Integer>,
        #[sql_name = "lockedUntil"]
        locked_until -> Nullable<Timestamp>,
        #[sql_name = "lastUsedStep"]
        last_used_step -> Nullable<BigInt>,
    }
}

/// A user's second-factor record; `secret` and `backup_codes` are sealed.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = two_factors)]
pub struct TwoFactorRow {
    pub id: String,
    pub secret: String,
    pub backup_codes: String,
    pub user_id: String,
    pub verified: Option<bool>,
    pub failed_verification_count: Option<i32>,
    pub locked_until: Option<NaiveDateTime>,
    pub last_used_step: Option<i64>,
}

pub async fn find(db: &Db, user_id: &str) -> Result<Option<TwoFactorRow>, StorageError> {
    with_conn!(db, |conn| Ok(two_factors::table
        .filter(two_factors::user_id.eq(user_id))
        .select(TwoFactorRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

/// Replaces the user's record (a new secret voids the old one).
pub async fn replace(db: &Db, row: &TwoFactorRow) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::delete(two_factors::table.filter(two_factors::user_id.eq(&row.user_id)))
            .execute(conn)
            .await?;
        diesel::insert_into(two_factors::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn delete(db: &Db, user_id: &str) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::delete(two_factors::table.filter(two_factors::user_id.eq(user_id)))
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn is_enabled(db: &Db, user_id: &str) -> Result<bool, StorageError> {
    with_conn!(db, |conn| Ok(users::table
        .find(user_id)
        .select(users::two_factor_enabled)
        .first::<Option<bool>>(conn)
        .await
        .optional()?
        .flatten()
        .unwrap_or(false)))
}

pub async fn set_enabled(
    db: &Db,
    user_id: &str,
    enabled: bool,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::update(users::table.find(user_id))
            .set((
                users::two_factor_enabled.eq(Some(enabled)),
                users::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn mark_verified(db: &Db, id: &str) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::update(two_factors::table.find(id))
            .set(two_factors::verified.eq(Some(true)))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Records `step` as used if it is newer than every step used before; false
/// means the code (or an older one) was already spent. One conditional
/// UPDATE, so two concurrent uses of one code cannot both win.
pub async fn claim_step(db: &Db, id: &str, step: i64) -> Result<bool, StorageError> {
    with_conn!(db, |conn| {
        let n = diesel::update(
            two_factors::table.find(id).filter(
                two_factors::last_used_step
                    .is_null()
                    .or(two_factors::last_used_step.lt(step)),
            ),
        )
        .set(two_factors::last_used_step.eq(Some(step)))
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
}

/// Swaps the sealed backup codes if they are still `expected`; false means
/// another request changed them first (e.g. spent the same code).
pub async fn swap_backup_codes(
    db: &Db,
    id: &str,
    expected: &str,
    new: &str,
) -> Result<bool, StorageError> {
    with_conn!(db, |conn| {
        let n = diesel::update(
            two_factors::table
                .find(id)
                .filter(two_factors::backup_codes.eq(expected)),
        )
        .set(two_factors::backup_codes.eq(new))
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
}

/// Counts a failed code; at `threshold` consecutive failures the account is
/// locked until `lock_until` (and the count starts over).
pub async fn record_failure(
    db: &Db,
    id: &str,
    threshold: i32,
    lock_until: NaiveDateTime,
) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        let count: Option<i32> = diesel::update(two_factors::table.find(id))
            .set(
                two_factors::failed_verification_count
                    .eq(two_factors::failed_verification_count + 1),
            )
            .returning(two_factors::failed_verification_count)
            .get_result(conn)
            .await
            .optional()?
            .flatten();
        if count.unwrap_or(0) >= threshold {
            diesel::update(two_factors::table.find(id))
                .set((
                    two_factors::failed_verification_count.eq(Some(0)),
                    two_factors::locked_until.eq(Some(lock_until)),
                ))
                .execute(conn)
                .await?;
        }
        Ok(())
    })
}

pub async fn reset_failures(db: &Db, id: &str) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::update(two_factors::table.find(id))
            .set((
                two_factors::failed_verification_count.eq(Some(0)),
                two_factors::locked_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Removes the user's second factor (secret, backup codes, the enabled flag),
/// inside the caller's transaction.
pub async fn remove_in(tx: Tx<'_>, user_id: &str) -> Result<(), StorageError> {
    on_tx!(tx, |conn| {
        diesel::delete(two_factors::table.filter(two_factors::user_id.eq(user_id)))
            .execute(conn)
            .await?;
        diesel::update(users::table.find(user_id))
            .set(users::two_factor_enabled.eq(Some(false)))
            .execute(conn)
            .await?;
        Ok(())
    })
}
