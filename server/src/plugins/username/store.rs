//! Queries on the `username` / `displayUsername` user columns.

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
        username -> Nullable<Text>,
        #[sql_name = "displayUsername"]
        display_username -> Nullable<Text>,
    }
}

pub async fn find_user_by_username(
    db: &Db,
    username: &str,
) -> Result<Option<UserRow>, StorageError> {
    match find_username_owner(db, username).await? {
        Some(id) => store::find_user_by_id(db, &id).await,
        None => Ok(None),
    }
}

/// The id of the user holding `username`, if any.
pub async fn find_username_owner(db: &Db, username: &str) -> Result<Option<String>, StorageError> {
    with_conn!(db, |conn| Ok(users::table
        .filter(users::username.eq(username))
        .select(users::id)
        .first::<String>(conn)
        .await
        .optional()?))
}

pub async fn find_usernames(
    db: &Db,
    user_id: &str,
) -> Result<Option<(Option<String>, Option<String>)>, StorageError> {
    with_conn!(db, |conn| Ok(users::table
        .find(user_id)
        .select((users::username, users::display_username))
        .first(conn)
        .await
        .optional()?))
}

/// Sets whichever of the two columns is given.
pub async fn update_usernames(
    tx: Tx<'_>,
    user_id: &str,
    username: Option<&str>,
    display: Option<&str>,
) -> Result<(), StorageError> {
    on_tx!(tx, |conn| {
        let target = users::table.find(user_id);
        match (username, display) {
            (Some(u), Some(d)) => {
                diesel::update(target)
                    .set((users::username.eq(u), users::display_username.eq(d)))
                    .execute(conn)
                    .await?
            }
            (Some(u), None) => {
                diesel::update(target)
                    .set(users::username.eq(u))
                    .execute(conn)
                    .await?
            }
            (None, Some(d)) => {
                diesel::update(target)
                    .set(users::display_username.eq(d))
                    .execute(conn)
                    .await?
            }
            (None, None) => 0,
        };
        Ok(())
    })
}
