//! Queries on the `phoneNumber` / `phoneNumberVerified` user columns and the
//! `phoneNumberOtp` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::models::UserRow;
use crate::db::store::{self, Tx};
use crate::db::{Db, StorageError};
use crate::{on_tx, with_conn};

// The columns this plugin's migration adds to Better Auth's `user` table.
diesel::table! {
    #[sql_name = "user"]
    users (id) {
        id -> Text,
        #[sql_name = "phoneNumber"]
        phone_number -> Nullable<Text>,
        #[sql_name = "phoneNumberVerified"]
        phone_number_verified -> Nullable<Bool>,
        #[sql_name = "updatedAt"]
        updated_at -> Timestamp,
    }
}

diesel::table! {
    #[sql_name = "phoneNumberOtp"]
    otps (id) {
        id -> Text,
        identifier -> Text,
        #[sql_name = "codeHash"]
        code_hash -> Text,
        attempts -> Integer,
        #[sql_name = "expiresAt"]
        expires_at -> Timestamp,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
    }
}

/// A user with the plugin's two columns.
pub struct PhoneUser {
    pub user: UserRow,
    pub phone_number: Option<String>,
    pub verified: bool,
}

/// The user holding `phone` (E.164), if any.
pub async fn find_user_by_phone(db: &Db, phone: &str) -> Result<Option<PhoneUser>, StorageError> {
    let found: Option<(String, Option<bool>)> = with_conn!(db, |conn| Ok::<_, StorageError>(
        users::table
            .filter(users::phone_number.eq(phone))
            .select((users::id, users::phone_number_verified))
            .first(conn)
            .await
            .optional()?
    ))?;
    let Some((id, verified)) = found else {
        return Ok(None);
    };
    Ok(store::find_user_by_id(db, &id)
        .await?
        .map(|user| PhoneUser {
            user,
            phone_number: Some(phone.to_string()),
            verified: verified.unwrap_or(false),
        }))
}

/// `(phoneNumber, phoneNumberVerified)` of a user.
pub async fn find_fields(
    db: &Db,
    user_id: &str,
) -> Result<Option<(Option<String>, Option<bool>)>, StorageError> {
    with_conn!(db, |conn| Ok(users::table
        .find(user_id)
        .select((users::phone_number, users::phone_number_verified))
        .first(conn)
        .await
        .optional()?))
}

/// Sets both columns inside the caller's transaction.
pub async fn write_fields(
    tx: Tx<'_>,
    user_id: &str,
    phone: Option<&str>,
    verified: Option<bool>,
) -> Result<(), StorageError> {
    on_tx!(tx, |conn| {
        diesel::update(users::table.find(user_id))
            .set((
                users::phone_number.eq(phone),
                users::phone_number_verified.eq(verified),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Gives `user_id` the number, verified. The unique index refuses a number
/// another user holds.
pub async fn set_verified_phone(
    db: &Db,
    user_id: &str,
    phone: &str,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    with_conn!(db, |conn| set_verified_phone_in(
        conn.into(),
        user_id,
        phone,
        now
    )
    .await)
}

/// [`set_verified_phone`] inside the caller's transaction.
pub async fn set_verified_phone_in(
    tx: Tx<'_>,
    user_id: &str,
    phone: &str,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    on_tx!(tx, |conn| {
        diesel::update(users::table.find(user_id))
            .set((
                users::phone_number.eq(phone),
                users::phone_number_verified.eq(true),
                users::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Stores a fresh code for `identifier`, replacing any earlier one (and its
/// attempt count).
pub async fn put_code(
    db: &Db,
    identifier: &str,
    code_hash: &str,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::insert_into(otps::table)
            .values((
                otps::id.eq(crate::crypto::token::new_id()),
                otps::identifier.eq(identifier),
                otps::code_hash.eq(code_hash),
                otps::attempts.eq(0),
                otps::expires_at.eq(expires_at),
                otps::created_at.eq(now),
            ))
            .on_conflict(otps::identifier)
            .do_update()
            .set((
                otps::code_hash.eq(code_hash),
                otps::attempts.eq(0),
                otps::expires_at.eq(expires_at),
                otps::created_at.eq(now),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Takes one attempt on the code in a single conditional UPDATE: the
/// database serialises concurrent guesses, so at most `allowed` of them
/// ever see the code. Returns the code's (hash, expiry), or `None` when
/// there is no code or its attempts are used up.
pub async fn take_attempt(
    db: &Db,
    identifier: &str,
    allowed: i32,
) -> Result<Option<(String, NaiveDateTime)>, StorageError> {
    with_conn!(db, |conn| Ok(diesel::update(
        otps::table
            .filter(otps::identifier.eq(identifier))
            .filter(otps::attempts.lt(allowed))
    )
    .set(otps::attempts.eq(otps::attempts + 1))
    .returning((otps::code_hash, otps::expires_at))
    .get_result(conn)
    .await
    .optional()?))
}

/// The code's (attempts, expiry), if there is one.
pub async fn find_code(
    db: &Db,
    identifier: &str,
) -> Result<Option<(i32, NaiveDateTime)>, StorageError> {
    with_conn!(db, |conn| Ok(otps::table
        .filter(otps::identifier.eq(identifier))
        .select((otps::attempts, otps::expires_at))
        .first(conn)
        .await
        .optional()?))
}

/// Spends the code whose hash is `code_hash`; false when another request
/// spent it first (or a new code replaced it).
pub async fn spend_code(db: &Db, identifier: &str, code_hash: &str) -> Result<bool, StorageError> {
    with_conn!(db, |conn| {
        let n = diesel::delete(
            otps::table
                .filter(otps::identifier.eq(identifier))
                .filter(otps::code_hash.eq(code_hash)),
        )
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
}

/// Deletes a dead code: expired, or with its attempts used up. A code
/// issued meanwhile is neither, and stays.
pub async fn delete_dead_code(
    db: &Db,
    identifier: &str,
    allowed: i32,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::delete(
            otps::table
                .filter(otps::identifier.eq(identifier))
                .filter(otps::attempts.ge(allowed).or(otps::expires_at.le(now))),
        )
        .execute(conn)
        .await?;
        Ok(())
    })
}
