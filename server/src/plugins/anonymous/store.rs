//! The `isAnonymous` user column.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::store::Tx;
use crate::db::{Db, StorageError};
use crate::{on_tx, with_conn};

diesel::table! {
    #[sql_name = "user"]
    users (id) {
        id -> Text,
        #[sql_name = "isAnonymous"]
        is_anonymous -> Nullable<Bool>,
    }
}

pub async fn mark_anonymous(tx: Tx<'_>, user_id: &str) -> Result<(), StorageError> {
    on_tx!(tx, |conn| {
        diesel::update(users::table.find(user_id))
            .set(users::is_anonymous.eq(Some(true)))
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn is_anonymous(db: &Db, user_id: &str) -> Result<bool, StorageError> {
    with_conn!(db, |conn| {
        let flag: Option<Option<bool>> = users::table
            .find(user_id)
            .select(users::is_anonymous)
            .first(conn)
            .await
            .optional()?;
        Ok(flag.flatten().unwrap_or(false))
    })
}
