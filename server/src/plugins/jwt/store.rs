//! The `jwks` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::{Db, StorageError};
use crate::with_conn;

diesel::table! {
    jwks (id) {
        id -> Text,
        #[sql_name = "publicKey"]
        public_key -> Text,
        #[sql_name = "privateKey"]
        private_key -> Text,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
        #[sql_name = "expiresAt"]
        expires_at -> Nullable<Timestamp>,
        alg -> Nullable<Text>,
        crv -> Nullable<Text>,
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = jwks)]
pub struct KeyRow {
    pub id: String,
    pub public_key: String,
    pub private_key: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub alg: Option<String>,
    pub crv: Option<String>,
}

/// Keys that still verify at `cutoff` (not expired before it), newest first.
pub async fn live_keys(db: &Db, cutoff: NaiveDateTime) -> Result<Vec<KeyRow>, StorageError> {
    with_conn!(db, |conn| {
        Ok(jwks::table
            .filter(jwks::expires_at.is_null().or(jwks::expires_at.gt(cutoff)))
            .order(jwks::created_at.desc())
            .select(KeyRow::as_select())
            .load(conn)
            .await?)
    })
}

pub async fn insert(db: &Db, row: &KeyRow) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::insert_into(jwks::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Marks a key rotated out at `at`, unless it already was.
pub async fn retire(db: &Db, id: &str, at: NaiveDateTime) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::update(
            jwks::table
                .filter(jwks::id.eq(id))
                .filter(jwks::expires_at.is_null()),
        )
        .set(jwks::expires_at.eq(Some(at)))
        .execute(conn)
        .await?;
        Ok(())
    })
}
