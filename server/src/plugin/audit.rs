//! The audit trail of privileged writes: every admin and organization write
//! records who did what, to whom, when and from which address. Shared by the
//! plugins that perform such writes; the rows are append-only.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;

use crate::crypto::token;
use crate::db::store::Tx;
use crate::db::{Db, StorageError};
use crate::error::ApiError;
use crate::http::context::RequestContext;
use crate::state::AppState;
use crate::{on_tx, with_conn};

diesel::table! {
    #[sql_name = "auditLog"]
    audit_log (id) {
        id -> Text,
        #[sql_name = "actorId"]
        actor_id -> Nullable<Text>,
        action -> Text,
        #[sql_name = "targetType"]
        target_type -> Text,
        #[sql_name = "targetId"]
        target_id -> Text,
        #[sql_name = "organizationId"]
        organization_id -> Nullable<Text>,
        #[sql_name = "ipAddress"]
        ip_address -> Nullable<Text>,
        #[sql_name = "userAgent"]
        user_agent -> Nullable<Text>,
        details -> Text,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
    }
}

/// One privileged action.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// The signed-in user who acted (`None` for server-side calls and start-up).
    pub actor_id: Option<&'a str>,
    /// What was done, `<plugin>.<verb>` (e.g. `admin.ban-user`).
    pub action: &'a str,
    /// What it was done to (`user`, `session`, `organization`, `member`, ...).
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub organization_id: Option<&'a str>,
    /// Action-specific facts (never secrets).
    pub details: Value,
}

/// A stored audit record.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub organization_id: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub details: String,
    pub created_at: NaiveDateTime,
}

fn row(state: &AppState, ctx: &RequestContext, e: Entry<'_>) -> AuditRow {
    AuditRow {
        id: token::new_id(),
        actor_id: e.actor_id.map(str::to_string),
        action: e.action.to_string(),
        target_type: e.target_type.to_string(),
        target_id: e.target_id.to_string(),
        organization_id: e.organization_id.map(str::to_string),
        ip_address: ctx.client_ip.map(|ip| ip.to_string()),
        user_agent: ctx.user_agent.clone(),
        details: e.details.to_string(),
        created_at: state.now(),
    }
}

/// Records an action (its own write; use [`record_in`] inside a transaction).
pub async fn record(
    state: &AppState,
    ctx: &RequestContext,
    entry: Entry<'_>,
) -> Result<(), ApiError> {
    let r = row(state, ctx, entry);
    with_conn!(&state.db, |conn| {
        diesel::insert_into(audit_log::table)
            .values(r)
            .execute(conn)
            .await
            .map_err(StorageError::from)?;
        Ok::<_, StorageError>(())
    })?;
    Ok(())
}

/// Records an action inside the caller's transaction, so it commits with the write.
pub async fn record_in(
    tx: Tx<'_>,
    state: &AppState,
    ctx: &RequestContext,
    entry: Entry<'_>,
) -> Result<(), ApiError> {
    let r = row(state, ctx, entry);
    on_tx!(tx, |conn| {
        diesel::insert_into(audit_log::table)
            .values(r)
            .execute(conn)
            .await
            .map_err(StorageError::from)?;
    });
    Ok(())
}

/// Filters for [`list`]; `None` matches anything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor_id: Option<String>,
    pub target_id: Option<String>,
    pub organization_id: Option<String>,
    /// An exact action, or a prefix ending in `.` (`admin.`).
    pub action: Option<String>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

/// Records newest first, with the total matching the filter.
pub async fn list(
    db: &Db,
    filter: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AuditRow>, i64), StorageError> {
    macro_rules! filtered {
        () => {{
            let mut q = audit_log::table.into_boxed();
            if let Some(v) = &filter.actor_id {
                q = q.filter(audit_log::actor_id.eq(v.clone()));
            }
            if let Some(v) = &filter.target_id {
                q = q.filter(audit_log::target_id.eq(v.clone()));
            }
            if let Some(v) = &filter.organization_id {
                q = q.filter(audit_log::organization_id.eq(v.clone()));
            }
            if let Some(v) = &filter.action {
                if let Some(prefix) = v.strip_suffix('.') {
                    let escaped = crate::db::escape_like(prefix);
                    q = q.filter(audit_log::action.like(format!("{escaped}.%")).escape('\\'));
                } else {
                    q = q.filter(audit_log::action.eq(v.clone()));
                }
            }
            if let Some(v) = filter.since {
                q = q.filter(audit_log::created_at.ge(v));
            }
            if let Some(v) = filter.until {
                q = q.filter(audit_log::created_at.lt(v));
            }
            q
        }};
    }
    with_conn!(db, |conn| {
        let total: i64 = filtered!().count().get_result(conn).await?;
        let rows = filtered!()
            .order((audit_log::created_at.desc(), audit_log::id.desc()))
            .limit(limit)
            .offset(offset)
            .select(AuditRow::as_select())
            .load(conn)
            .await?;
        Ok((rows, total))
    })
}
