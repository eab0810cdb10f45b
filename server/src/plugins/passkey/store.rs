//! Queries on the `passkey` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::store::Tx;
use crate::db::{Db, StorageError};
use crate::{on_tx, with_conn};

diesel::table! {
    #[sql_name = "passkey"]
    passkeys (id) {
        id -> Text,
        name -> Nullable<Text>,
        #[sql_name = "publicKey"]
        public_key -> Text,
        #[sql_name = "userId"]
        user_id -> Text,
        #[sql_name = "credentialID"]
        credential_id -> Text,
        counter -> BigInt,
        #[sql_name = "deviceType"]
        device_type -> Text,
        #[sql_name = "backedUp"]
        backed_up -> Bool,
        transports -> Nullable<Text>,
        #[sql_name = "createdAt"]
        created_at -> Nullable<Timestamp>,
        aaguid -> Nullable<Text>,
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    pub id: String,
    pub name: Option<String>,
    /// Standard base64 of the webauthn-rs credential record (JSON).
    pub public_key: String,
    pub user_id: String,
    /// base64url credential id, as browsers report it.
    pub credential_id: String,
    pub counter: i64,
    pub device_type: String,
    pub backed_up: bool,
    pub transports: Option<String>,
    pub created_at: Option<NaiveDateTime>,
    pub aaguid: Option<String>,
}

pub async fn insert(db: &Db, row: &PasskeyRow) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::insert_into(passkeys::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn list(db: &Db, user_id: &str) -> Result<Vec<PasskeyRow>, StorageError> {
    with_conn!(db, |conn| Ok(passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .order(passkeys::created_at.asc())
        .select(PasskeyRow::as_select())
        .load(conn)
        .await?))
}

pub async fn find_by_id(db: &Db, id: &str) -> Result<Option<PasskeyRow>, StorageError> {
    with_conn!(db, |conn| Ok(passkeys::table
        .find(id)
        .select(PasskeyRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

pub async fn find_by_credential(
    db: &Db,
    credential_id: &str,
) -> Result<Option<PasskeyRow>, StorageError> {
    with_conn!(db, |conn| Ok(passkeys::table
        .filter(passkeys::credential_id.eq(credential_id))
        .select(PasskeyRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

/// Stores the credential record after a sign-in (counter, backup state).
pub async fn update_credential(
    db: &Db,
    id: &str,
    public_key: &str,
    counter: i64,
    backed_up: bool,
) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::update(passkeys::table.find(id))
            .set((
                passkeys::public_key.eq(public_key),
                passkeys::counter.eq(counter),
                passkeys::backed_up.eq(backed_up),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Renames one of the user's passkeys; `None` if it is not theirs.
pub async fn rename(
    db: &Db,
    user_id: &str,
    id: &str,
    name: &str,
) -> Result<Option<PasskeyRow>, StorageError> {
    with_conn!(db, |conn| Ok(diesel::update(
        passkeys::table
            .find(id)
            .filter(passkeys::user_id.eq(user_id))
    )
    .set(passkeys::name.eq(name))
    .returning(PasskeyRow::as_returning())
    .get_result(conn)
    .await
    .optional()?))
}

/// Deletes one of the user's passkeys; false if it is not theirs.
pub async fn delete(db: &Db, user_id: &str, id: &str) -> Result<bool, StorageError> {
    with_conn!(db, |conn| Ok(diesel::delete(
        passkeys::table
            .find(id)
            .filter(passkeys::user_id.eq(user_id))
    )
    .execute(conn)
    .await?
        == 1))
}

/// Deletes every passkey of a user, inside the caller's transaction.
pub async fn delete_all(tx: Tx<'_>, user_id: &str) -> Result<(), StorageError> {
    on_tx!(tx, |conn| {
        diesel::delete(passkeys::table.filter(passkeys::user_id.eq(user_id)))
            .execute(conn)
            .await?;
        Ok(())
    })
}
