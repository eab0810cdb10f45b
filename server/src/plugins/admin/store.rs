//! Queries on the admin columns of `user` and `session`, on `adminRole`,
//! and the user listing with Better Auth's search, filter, sort and paging.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::models::{SessionRow, UserRow};
use crate::db::schema::sessions as core_sessions;
use crate::db::store::Tx;
use crate::db::{Db, StorageError};
use crate::{on_tx, with_conn};

// The columns this plugin's migration adds to Better Auth's `user` table,
// beside the core ones the listing filters and sorts on.
diesel::table! {
    #[sql_name = "user"]
    users (id) {
        id -> Text,
        name -> Text,
        email -> Text,
        #[sql_name = "emailVerified"]
        email_verified -> Bool,
        image -> Nullable<Text>,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
        #[sql_name = "updatedAt"]
        updated_at -> Timestamp,
        role -> Nullable<Text>,
        banned -> Nullable<Bool>,
        #[sql_name = "banReason"]
        ban_reason -> Nullable<Text>,
        #[sql_name = "banExpires"]
        ban_expires -> Nullable<Timestamp>,
    }
}

diesel::table! {
    #[sql_name = "session"]
    sessions (id) {
        id -> Text,
        #[sql_name = "expiresAt"]
        expires_at -> Timestamp,
        #[sql_name = "impersonatedBy"]
        impersonated_by -> Nullable<Text>,
    }
}

diesel::table! {
    #[sql_name = "adminRole"]
    admin_roles (id) {
        id -> Text,
        role -> Text,
        permission -> Text,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
        #[sql_name = "updatedAt"]
        updated_at -> Timestamp,
    }
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// The admin columns of one user.
#[derive(Debug, Clone, Default, Queryable)]
pub struct AdminFields {
    pub role: Option<String>,
    pub banned: Option<bool>,
    pub ban_reason: Option<String>,
    pub ban_expires: Option<NaiveDateTime>,
}

pub async fn find_fields(db: &Db, user_id: &str) -> Result<Option<AdminFields>, StorageError> {
    with_conn!(db, |conn| Ok(users::table
        .find(user_id)
        .select((
            users::role,
            users::banned,
            users::ban_reason,
            users::ban_expires
        ))
        .first::<AdminFields>(conn)
        .await
        .optional()?))
}

pub async fn write_role(tx: Tx<'_>, user_id: &str, role: &str) -> Result<(), StorageError> {
    on_tx!(tx, |conn| {
        diesel::update(users::table.find(user_id))
            .set(users::role.eq(role))
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn set_role(
    db: &Db,
    user_id: &str,
    role: &str,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::update(users::table.find(user_id))
            .set((users::role.eq(role), users::updated_at.eq(now)))
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn set_ban(
    db: &Db,
    user_id: &str,
    ban: Option<(&str, Option<NaiveDateTime>)>,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    let (banned, reason, expires) = match ban {
        Some((reason, expires)) => (true, Some(reason), expires),
        None => (false, None, None),
    };
    with_conn!(db, |conn| {
        diesel::update(users::table.find(user_id))
            .set((
                users::banned.eq(banned),
                users::ban_reason.eq(reason),
                users::ban_expires.eq(expires),
                users::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// The user columns `update-user` may change, each `None` when unchanged.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub image: Option<Option<String>>,
    pub role: Option<String>,
    pub banned: Option<bool>,
    pub ban_reason: Option<Option<String>>,
    pub ban_expires: Option<Option<NaiveDateTime>>,
    pub updated_at: Option<NaiveDateTime>,
}

pub async fn update_user(
    tx: Tx<'_>,
    user_id: &str,
    changes: &UserChanges,
) -> Result<(), StorageError> {
    on_tx!(tx, |conn| {
        diesel::update(users::table.find(user_id))
            .set(changes)
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn find_impersonated_by(
    db: &Db,
    session_id: &str,
) -> Result<Option<String>, StorageError> {
    with_conn!(db, |conn| Ok(sessions::table
        .find(session_id)
        .select(sessions::impersonated_by)
        .first::<Option<String>>(conn)
        .await
        .optional()?
        .flatten()))
}

/// Marks a new session as an impersonation by `admin_id`, with its own expiry.
pub async fn mark_impersonation(
    db: &Db,
    session_id: &str,
    admin_id: &str,
    expires_at: NaiveDateTime,
) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::update(sessions::table.find(session_id))
            .set((
                sessions::impersonated_by.eq(admin_id),
                sessions::expires_at.eq(expires_at),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Inserts a user with a password account and a role, in one transaction.
pub async fn insert_user_with_role(
    db: &Db,
    user: &UserRow,
    account: &crate::db::models::AccountRow,
    role: &str,
) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        crate::in_transaction!(conn, {
            crate::db::store::insert_user(conn.into(), user).await?;
            crate::db::store::insert_account(conn.into(), account).await?;
            write_role(conn.into(), &user.id, role).await?;
            Ok::<_, StorageError>(())
        })
    })
}

/// A session named by its handle (id) or by its token's hash.
pub async fn find_session(
    db: &Db,
    handle: &str,
    token_hash: &str,
) -> Result<Option<SessionRow>, StorageError> {
    with_conn!(db, |conn| Ok(core_sessions::table
        .filter(
            core_sessions::id
                .eq(handle)
                .or(core_sessions::token_hash.eq(token_hash)),
        )
        .select(SessionRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

/// Every session of a user, expired ones included (Better Auth lists them all).
pub async fn list_sessions(db: &Db, user_id: &str) -> Result<Vec<SessionRow>, StorageError> {
    with_conn!(db, |conn| Ok(core_sessions::table
        .filter(core_sessions::user_id.eq(user_id))
        .order((core_sessions::created_at.asc(), core_sessions::id.asc()))
        .select(SessionRow::as_select())
        .load(conn)
        .await?))
}

/// How many users hold `role` in their comma-separated role list.
pub async fn count_users_with_role(db: &Db, role: &str) -> Result<i64, StorageError> {
    let escaped = escape_like(role);
    with_conn!(db, |conn| Ok(users::table
        .filter(
            users::role
                .eq(role)
                .or(users::role.like(format!("{escaped},%")).escape('\\'))
                .or(users::role.like(format!("%,{escaped}")).escape('\\'))
                .or(users::role.like(format!("%,{escaped},%")).escape('\\')),
        )
        .count()
        .get_result(conn)
        .await?))
}

/// A role created at runtime.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = admin_roles)]
pub struct RoleRow {
    pub id: String,
    pub role: String,
    /// The role's statements, JSON.
    pub permission: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub async fn list_roles(db: &Db) -> Result<Vec<RoleRow>, StorageError> {
    with_conn!(db, |conn| Ok(admin_roles::table
        .order(admin_roles::role.asc())
        .select(RoleRow::as_select())
        .load(conn)
        .await?))
}

pub async fn insert_role(db: &Db, row: &RoleRow) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::insert_into(admin_roles::table)
            .values(row.clone())
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn update_role(
    db: &Db,
    name: &str,
    permission: &str,
    now: NaiveDateTime,
) -> Result<usize, StorageError> {
    with_conn!(db, |conn| Ok(diesel::update(
        admin_roles::table.filter(admin_roles::role.eq(name))
    )
    .set((
        admin_roles::permission.eq(permission),
        admin_roles::updated_at.eq(now)
    ))
    .execute(conn)
    .await?))
}

pub async fn delete_role(db: &Db, name: &str) -> Result<usize, StorageError> {
    with_conn!(db, |conn| Ok(diesel::delete(
        admin_roles::table.filter(admin_roles::role.eq(name))
    )
    .execute(conn)
    .await?))
}

use crate::db::escape_like;

/// A text column the listing may search, filter or sort on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Id,
    Name,
    Email,
    Image,
    Role,
    EmailVerified,
    Banned,
    CreatedAt,
    UpdatedAt,
    BanExpires,
}

impl Field {
    pub fn parse(name: &str) -> Option<Field> {
        Some(match name {
            "id" => Field::Id,
            "name" => Field::Name,
            "email" => Field::Email,
            "image" => Field::Image,
            "role" => Field::Role,
            "emailVerified" => Field::EmailVerified,
            "banned" => Field::Banned,
            "createdAt" => Field::CreatedAt,
            "updatedAt" => Field::UpdatedAt,
            "banExpires" => Field::BanExpires,
            _ => return None,
        })
    }
}

/// One `where` clause of the listing, already checked against the column type.
#[derive(Debug, Clone)]
pub enum Condition {
    Text {
        field: Field,
        op: TextOp,
        value: String,
    },
    TextIn {
        field: Field,
        negate: bool,
        values: Vec<String>,
    },
    Bool {
        field: Field,
        negate: bool,
        value: bool,
    },
    Time {
        field: Field,
        op: Cmp,
        value: NaiveDateTime,
    },
}

#[derive(Debug, Clone, Copy)]
pub enum TextOp {
    Cmp(Cmp),
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, Copy)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Debug, Clone)]
pub struct UserQuery {
    pub conditions: Vec<Condition>,
    pub sort: Option<(Field, bool)>,
    pub limit: i64,
    pub offset: i64,
}

macro_rules! text_column {
    ($field:expr, |$c:ident| $body:expr) => {
        match $field {
            Field::Id => {
                let $c = users::id.nullable();
                $body
            }
            Field::Name => {
                let $c = users::name.nullable();
                $body
            }
            Field::Email => {
                let $c = users::email.nullable();
                $body
            }
            Field::Image => {
                let $c = users::image;
                $body
            }
            _ => {
                let $c = users::role;
                $body
            }
        }
    };
}

macro_rules! cmp {
    ($q:ident, $col:expr, $op:expr, $v:expr) => {
        match $op {
            Cmp::Eq => $q.filter($col.eq($v)),
            Cmp::Ne => $q.filter($col.ne($v)),
            Cmp::Lt => $q.filter($col.lt($v)),
            Cmp::Lte => $q.filter($col.le($v)),
            Cmp::Gt => $q.filter($col.gt($v)),
            Cmp::Gte => $q.filter($col.ge($v)),
        }
    };
}

macro_rules! filtered_users {
    ($query:expr) => {{
        let mut q = users::table.into_boxed();
        for c in &$query.conditions {
            q = match c.clone() {
                Condition::Text { field, op, value } => text_column!(field, |col| match op {
                    TextOp::Cmp(op) => cmp!(q, col, op, value),
                    TextOp::Contains => q.filter(
                        lower(col.assume_not_null())
                            .like(format!("%{}%", escape_like(&value.to_lowercase())))
                            .escape('\\')
                    ),
                    TextOp::StartsWith => q.filter(
                        lower(col.assume_not_null())
                            .like(format!("{}%", escape_like(&value.to_lowercase())))
                            .escape('\\')
                    ),
                    TextOp::EndsWith => q.filter(
                        lower(col.assume_not_null())
                            .like(format!("%{}", escape_like(&value.to_lowercase())))
                            .escape('\\')
                    ),
                }),
                Condition::TextIn {
                    field,
                    negate,
                    values,
                } => text_column!(field, |col| {
                    if negate {
                        q.filter(col.assume_not_null().ne_all(values))
                    } else {
                        q.filter(col.assume_not_null().eq_any(values))
                    }
                }),
                Condition::Bool {
                    field,
                    negate,
                    value,
                } => {
                    let want = value != negate;
                    match field {
                        // Never-banned users have no value: they count as `false`.
                        Field::Banned if !want => {
                            q.filter(users::banned.is_null().or(users::banned.eq(false)))
                        }
                        Field::Banned => q.filter(users::banned.eq(true)),
                        _ => q.filter(users::email_verified.eq(want)),
                    }
                }
                Condition::Time { field, op, value } => match field {
                    Field::CreatedAt => cmp!(q, users::created_at.nullable(), op, value),
                    Field::UpdatedAt => cmp!(q, users::updated_at.nullable(), op, value),
                    _ => cmp!(q, users::ban_expires, op, value),
                },
            };
        }
        q
    }};
}

/// The page of users matching `query`, and how many match in all.
pub async fn list_users(db: &Db, query: &UserQuery) -> Result<(Vec<UserRow>, i64), StorageError> {
    with_conn!(db, |conn| {
        let total: i64 = filtered_users!(query).count().get_result(conn).await?;
        let mut q = filtered_users!(query);
        q = match query.sort {
            None => q.order((users::created_at.asc(), users::id.asc())),
            Some((field, desc)) => {
                macro_rules! by {
                    ($col:expr) => {
                        if desc {
                            q.order(($col.desc(), users::id.asc()))
                        } else {
                            q.order(($col.asc(), users::id.asc()))
                        }
                    };
                }
                match field {
                    Field::Id => by!(users::id),
                    Field::Name => by!(users::name),
                    Field::Email => by!(users::email),
                    Field::Image => by!(users::image),
                    Field::Role => by!(users::role),
                    Field::EmailVerified => by!(users::email_verified),
                    Field::Banned => by!(users::banned),
                    Field::CreatedAt => by!(users::created_at),
                    Field::UpdatedAt => by!(users::updated_at),
                    Field::BanExpires => by!(users::ban_expires),
                }
            }
        };
        let rows = q
            .limit(query.limit)
            .offset(query.offset)
            .select((
                users::id,
                users::name,
                users::email,
                users::email_verified,
                users::image,
                users::created_at,
                users::updated_at,
            ))
            .load::<(
                String,
                String,
                String,
                bool,
                Option<String>,
                NaiveDateTime,
                NaiveDateTime,
            )>(conn)
            .await?;
        let rows = rows
            .into_iter()
            .map(
                |(id, name, email, email_verified, image, created_at, updated_at)| UserRow {
                    id,
                    name,
                    email,
                    email_verified,
                    image,
                    created_at,
                    updated_at,
                },
            )
            .collect();
        Ok((rows, total))
    })
}
