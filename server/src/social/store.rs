//! Queries on linked accounts (the core `account` table).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::models::{AccountRow, UserRow};
use crate::db::schema::{accounts, users};
use crate::db::{Db, StorageError};
use crate::with_conn;

/// The account a provider identity is linked to, with its user.
pub async fn find_linked(
    db: &Db,
    provider_id: &str,
    account_id: &str,
) -> Result<Option<(AccountRow, UserRow)>, StorageError> {
    with_conn!(db, |conn| Ok(accounts::table
        .inner_join(users::table)
        .filter(accounts::provider_id.eq(provider_id))
        .filter(accounts::account_id.eq(account_id))
        .select((AccountRow::as_select(), UserRow::as_select()))
        .first(conn)
        .await
        .optional()?))
}

/// One of the user's accounts, by its row id.
pub async fn find_user_account(
    db: &Db,
    user_id: &str,
    id: &str,
) -> Result<Option<AccountRow>, StorageError> {
    with_conn!(db, |conn| Ok(accounts::table
        .filter(accounts::id.eq(id))
        .filter(accounts::user_id.eq(user_id))
        .select(AccountRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

/// An account's provider tokens as stored (already sealed where configured).
#[derive(Default)]
pub struct StoredTokens {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub access_token_expires_at: Option<NaiveDateTime>,
    pub refresh_token_expires_at: Option<NaiveDateTime>,
    pub scope: Option<String>,
}

/// New tokens for an account; a `None` leaves the stored value (providers
/// often omit the refresh token on refresh).
pub async fn update_tokens(
    db: &Db,
    id: &str,
    t: StoredTokens,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    let StoredTokens {
        access_token,
        refresh_token,
        id_token,
        access_token_expires_at,
        refresh_token_expires_at,
        scope,
    } = t;
    // One statement: a column left `None` is not written, and an expiry is
    // written (NULL included) exactly when its token is.
    let changes = TokenChanges {
        updated_at: now,
        access_token_expires_at: access_token.is_some().then_some(access_token_expires_at),
        access_token,
        refresh_token_expires_at: refresh_token.is_some().then_some(refresh_token_expires_at),
        refresh_token,
        id_token,
        scope,
    };
    with_conn!(db, |conn| {
        diesel::update(accounts::table.find(id))
            .set(changes)
            .execute(conn)
            .await?;
        Ok(())
    })
}

#[derive(AsChangeset)]
#[diesel(table_name = accounts)]
struct TokenChanges {
    updated_at: NaiveDateTime,
    access_token: Option<String>,
    access_token_expires_at: Option<Option<NaiveDateTime>>,
    refresh_token: Option<String>,
    refresh_token_expires_at: Option<Option<NaiveDateTime>>,
    id_token: Option<String>,
    scope: Option<String>,
}

/// Deletes one of the user's accounts; false when it was not theirs or gone.
pub async fn delete_user_account(db: &Db, user_id: &str, id: &str) -> Result<bool, StorageError> {
    with_conn!(db, |conn| {
        let n = diesel::delete(
            accounts::table
                .filter(accounts::id.eq(id))
                .filter(accounts::user_id.eq(user_id)),
        )
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
}

/// Name and image from the provider (`override_user_info_on_sign_in`).
pub async fn update_user_info(
    db: &Db,
    user_id: &str,
    name: &str,
    image: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::update(users::table.find(user_id))
            .set((
                users::name.eq(name),
                users::image.eq(image),
                users::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}
