//! Core queries. Verbs: `find_*`, `create_*`, `update_*`, `delete_*`.
//! Each function is written once and runs on both backends.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, TransactionManager};

use super::models::{AccountRow, SessionRow, UserRow};
use super::schema::{accounts, sessions, users};
use super::{Db, SqliteConn, StorageError};
use crate::with_conn;

/// A connection inside a transaction, handed to plugin hooks so that their
/// writes commit or roll back together with the core write.
pub enum Tx<'a> {
    Sqlite(&'a mut SqliteConn),
    Postgres(&'a mut AsyncPgConnection),
}

impl<'a> From<&'a mut SqliteConn> for Tx<'a> {
    fn from(c: &'a mut SqliteConn) -> Self {
        Tx::Sqlite(c)
    }
}
impl<'a> From<&'a mut AsyncPgConnection> for Tx<'a> {
    fn from(c: &'a mut AsyncPgConnection) -> Self {
        Tx::Postgres(c)
    }
}

/// Runs `$body` with `$conn` bound to the backend connection held by a [`Tx`].
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::db::store::Tx::Sqlite($conn) => $body,
            $crate::db::store::Tx::Postgres($conn) => $body,
        }
    };
}

/// Runs the block inside a transaction on `$conn`: commit on `Ok`, roll back
/// on `Err`. The block's error type must implement `From<StorageError>`.
#[macro_export]
macro_rules! in_transaction {
    ($conn:ident, $body:block) => {{
        $crate::db::store::begin(&mut *$conn).await?;
        let result = async { $body }.await;
        match result {
            Ok(value) => {
                $crate::db::store::commit(&mut *$conn).await?;
                Ok(value)
            }
            Err(err) => {
                $crate::db::store::rollback(&mut *$conn).await;
                Err(err)
            }
        }
    }};
}

pub async fn begin<C: AsyncConnection>(conn: &mut C) -> Result<(), StorageError> {
    Ok(C::TransactionManager::begin_transaction(conn).await?)
}

pub async fn commit<C: AsyncConnection>(conn: &mut C) -> Result<(), StorageError> {
    Ok(C::TransactionManager::commit_transaction(conn).await?)
}

/// Best effort: a failed rollback leaves the connection broken, and the pool
/// discards broken connections.
pub async fn rollback<C: AsyncConnection>(conn: &mut C) {
    let _ = C::TransactionManager::rollback_transaction(conn).await;
}

pub async fn find_user_by_id(db: &Db, id: &str) -> Result<Option<UserRow>, StorageError> {
    with_conn!(db, |conn| Ok(users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

pub async fn find_user_by_email(db: &Db, email: &str) -> Result<Option<UserRow>, StorageError> {
    with_conn!(db, |conn| Ok(users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

/// The user and its credential (email/password) account, if any.
pub async fn find_user_with_credential(
    db: &Db,
    user_id: &str,
) -> Result<Option<AccountRow>, StorageError> {
    with_conn!(db, |conn| Ok(accounts::table
        .filter(accounts::user_id.eq(user_id))
        .filter(accounts::provider_id.eq("credential"))
        .select(AccountRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

pub async fn insert_user(tx: Tx<'_>, user: &UserRow) -> Result<(), StorageError> {
    on_tx!(tx, |conn| {
        diesel::insert_into(users::table)
            .values((
                users::id.eq(&user.id),
                users::name.eq(&user.name),
                users::email.eq(&user.email),
                users::email_verified.eq(user.email_verified),
                users::image.eq(&user.image),
                users::created_at.eq(user.created_at),
                users::updated_at.eq(user.updated_at),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Inserts a user on its own (no account: passwordless sign-up).
pub async fn create_user(db: &Db, user: &UserRow) -> Result<(), StorageError> {
    with_conn!(db, |conn| insert_user(conn.into(), user).await)
}

pub async fn insert_account(tx: Tx<'_>, account: &AccountRow) -> Result<(), StorageError> {
    on_tx!(tx, |conn| {
        diesel::insert_into(accounts::table)
            .values(account.clone())
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn update_user_profile(
    tx: Tx<'_>,
    user_id: &str,
    name: Option<&str>,
    image: Option<Option<&str>>,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    on_tx!(tx, |conn| {
        let target = users::table.find(user_id);
        match (name, image) {
            (Some(n), Some(i)) => {
                diesel::update(target)
                    .set((
                        users::name.eq(n),
                        users::image.eq(i),
                        users::updated_at.eq(now),
                    ))
                    .execute(conn)
                    .await?
            }
            (Some(n), None) => {
                diesel::update(target)
                    .set((users::name.eq(n), users::updated_at.eq(now)))
                    .execute(conn)
                    .await?
            }
            (None, Some(i)) => {
                diesel::update(target)
                    .set((users::image.eq(i), users::updated_at.eq(now)))
                    .execute(conn)
                    .await?
            }
            (None, None) => {
                diesel::update(target)
                    .set(users::updated_at.eq(now))
                    .execute(conn)
                    .await?
            }
        };
        Ok(())
    })
}

pub async fn delete_user(db: &Db, user_id: &str) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        in_transaction!(conn, {
            // Explicit deletes so no backend depends on foreign-key cascades.
            remove_sign_in_credentials(conn.into(), user_id).await?;
            diesel::delete(users::table.find(user_id))
                .execute(conn)
                .await?;
            Ok::<_, StorageError>(())
        })
    })
}

pub async fn list_accounts(db: &Db, user_id: &str) -> Result<Vec<AccountRow>, StorageError> {
    with_conn!(db, |conn| Ok(accounts::table
        .filter(accounts::user_id.eq(user_id))
        .order(accounts::created_at.asc())
        .select(AccountRow::as_select())
        .load(conn)
        .await?))
}

pub async fn update_account_password(
    db: &Db,
    account_id: &str,
    hash: &str,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::update(accounts::table.find(account_id))
            .set((accounts::password.eq(hash), accounts::updated_at.eq(now)))
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn create_account(db: &Db, account: &AccountRow) -> Result<(), StorageError> {
    with_conn!(db, |conn| insert_account(conn.into(), account).await)
}

pub async fn create_session(db: &Db, session: &SessionRow) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::insert_into(sessions::table)
            .values(session.clone())
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// One query for the hot path: the session by token hash, joined to its user.
pub async fn find_session_with_user(
    db: &Db,
    token_hash: &str,
) -> Result<Option<(SessionRow, UserRow)>, StorageError> {
    with_conn!(db, |conn| Ok(sessions::table
        .inner_join(users::table)
        .filter(sessions::token_hash.eq(token_hash))
        .select((SessionRow::as_select(), UserRow::as_select()))
        .first(conn)
        .await
        .optional()?))
}

/// Slides the expiry; false when the row is gone (revoked concurrently).
pub async fn update_session_expiry(
    db: &Db,
    session_id: &str,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    with_conn!(db, |conn| {
        let n = diesel::update(sessions::table.find(session_id))
            .set((
                sessions::expires_at.eq(expires_at),
                sessions::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        Ok(n == 1)
    })
}

pub async fn delete_session_by_hash(db: &Db, token_hash: &str) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::delete(sessions::table.filter(sessions::token_hash.eq(token_hash)))
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn delete_session(db: &Db, session_id: &str) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::delete(sessions::table.find(session_id))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Deletes one of the user's sessions, matched by its handle (id) or token hash.
pub async fn delete_user_session(
    db: &Db,
    user_id: &str,
    handle: &str,
    token_hash: &str,
) -> Result<usize, StorageError> {
    with_conn!(db, |conn| Ok(diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(
                sessions::id
                    .eq(handle)
                    .or(sessions::token_hash.eq(token_hash))
            )
    )
    .execute(conn)
    .await?))
}

pub async fn list_active_sessions(
    db: &Db,
    user_id: &str,
    now: NaiveDateTime,
) -> Result<Vec<SessionRow>, StorageError> {
    with_conn!(db, |conn| Ok(sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::expires_at.gt(now))
        .order(sessions::created_at.asc())
        .select(SessionRow::as_select())
        .load(conn)
        .await?))
}

/// Deletes all the user's sessions, optionally keeping one.
pub async fn delete_user_sessions(
    db: &Db,
    user_id: &str,
    keep_session_id: Option<&str>,
) -> Result<usize, StorageError> {
    with_conn!(db, |conn| {
        let n = match keep_session_id {
            Some(keep) => {
                diesel::delete(
                    sessions::table
                        .filter(sessions::user_id.eq(user_id))
                        .filter(sessions::id.ne(keep)),
                )
                .execute(conn)
                .await?
            }
            None => {
                diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id)))
                    .execute(conn)
                    .await?
            }
        };
        Ok(n)
    })
}

/// Stores a one-time token (its identifier already hashed by the caller).
pub async fn create_verification(
    db: &Db,
    identifier: &str,
    value: &str,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    use super::schema::verifications;
    with_conn!(db, |conn| {
        diesel::insert_into(verifications::table)
            .values((
                verifications::id.eq(crate::crypto::token::new_id()),
                verifications::identifier.eq(identifier),
                verifications::value.eq(value),
                verifications::expires_at.eq(expires_at),
                verifications::created_at.eq(now),
                verifications::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Deletes and returns a one-time token's (value, expiry) in one statement,
/// so under concurrent use exactly one caller gets it.
pub async fn consume_verification(
    db: &Db,
    identifier: &str,
) -> Result<Option<(String, NaiveDateTime)>, StorageError> {
    use super::schema::verifications;
    with_conn!(db, |conn| Ok(diesel::delete(
        verifications::table.filter(verifications::identifier.eq(identifier))
    )
    .returning((verifications::value, verifications::expires_at))
    .get_result(conn)
    .await
    .optional()?))
}

/// Marks the email verified if the user still has that email.
pub async fn mark_email_verified(
    db: &Db,
    user_id: &str,
    email: &str,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    with_conn!(db, |conn| mark_email_verified_in(
        conn.into(),
        user_id,
        email,
        now
    )
    .await)
}

/// [`mark_email_verified`] inside the caller's transaction.
pub async fn mark_email_verified_in(
    tx: Tx<'_>,
    user_id: &str,
    email: &str,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    on_tx!(tx, |conn| {
        let n = diesel::update(users::table.find(user_id).filter(users::email.eq(email)))
            .set((users::email_verified.eq(true), users::updated_at.eq(now)))
            .execute(conn)
            .await?;
        Ok(n == 1)
    })
}

/// Deletes every session and every account (password and linked providers)
/// of a user, inside the caller's transaction.
pub async fn remove_sign_in_credentials(tx: Tx<'_>, user_id: &str) -> Result<(), StorageError> {
    on_tx!(tx, |conn| {
        diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id)))
            .execute(conn)
            .await?;
        diesel::delete(accounts::table.filter(accounts::user_id.eq(user_id)))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Reads a one-time token without consuming it (the reset link's redirect).
pub async fn find_verification(
    db: &Db,
    identifier: &str,
) -> Result<Option<(String, NaiveDateTime)>, StorageError> {
    use super::schema::verifications;
    with_conn!(db, |conn| Ok(verifications::table
        .filter(verifications::identifier.eq(identifier))
        .select((verifications::value, verifications::expires_at))
        .first(conn)
        .await
        .optional()?))
}

/// Moves a user from one email to another (verified), if it still has the old one.
pub async fn update_user_email(
    db: &Db,
    user_id: &str,
    from: &str,
    to: &str,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    with_conn!(db, |conn| {
        let n = diesel::update(users::table.find(user_id).filter(users::email.eq(from)))
            .set((
                users::email.eq(to),
                users::email_verified.eq(true),
                users::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        Ok(n == 1)
    })
}

/// Deletes any one-time value under `identifier`.
pub async fn delete_verification(db: &Db, identifier: &str) -> Result<(), StorageError> {
    use super::schema::verifications;
    with_conn!(db, |conn| {
        diesel::delete(verifications::table.filter(verifications::identifier.eq(identifier)))
            .execute(conn)
            .await?;
        Ok(())
    })
}
