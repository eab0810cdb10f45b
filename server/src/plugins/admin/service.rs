//! What the admin routes do, each permission check first.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDateTime};
use serde_json::{json, Map, Value};

use super::errors as e;
use super::roles::{permission, Caller, RoleBook};
use super::routes::*;
use super::settings::AdminSettings;
use super::store::{self, Cmp, Condition, Field, TextOp, UserChanges, UserQuery};
use crate::core::dto::{iso, User};
use crate::core::session::{self, create_session, require_session, session_json, user_json};
use crate::core::validate::{check_password_length, is_valid_email};
use crate::crypto::{sign, token};
use crate::db::models::{AccountRow, UserRow};
use crate::db::store as core_store;
use crate::error::{codes, ApiError};
use crate::http::context::RequestContext;
use crate::plugin::access;
use crate::plugin::audit::{self, Entry};
use crate::state::AppState;
use crate::{in_transaction, with_conn};

fn user_not_found() -> ApiError {
    ApiError::new(codes::USER_NOT_FOUND).with_status(404)
}

async fn find_user(state: &AppState, id: &str) -> Result<UserRow, ApiError> {
    core_store::find_user_by_id(&state.db, id)
        .await?
        .ok_or_else(user_not_found)
}

async fn record(
    state: &AppState,
    ctx: &RequestContext,
    caller: Option<&str>,
    action: &str,
    target_type: &str,
    target_id: &str,
    details: Value,
) -> Result<(), ApiError> {
    audit::record(
        state,
        ctx,
        Entry {
            actor_id: caller,
            action,
            target_type,
            target_id,
            organization_id: None,
            details,
        },
    )
    .await
}

/// The `check_new_session` hook: a banned user gets no session, whatever the
/// sign-in method; a ban past its expiry lifts itself here.
pub async fn refuse_banned(state: &AppState, user_id: &str) -> Result<(), ApiError> {
    let Some(f) = store::find_fields(&state.db, user_id).await? else {
        return Ok(());
    };
    if f.banned != Some(true) {
        return Ok(());
    }
    let now = state.now();
    if f.ban_expires.is_some_and(|t| t <= now) {
        store::set_ban(&state.db, user_id, None, now).await?;
        state.sessions.invalidate_user(user_id);
        return Ok(());
    }
    let message = state
        .settings::<AdminSettings>()
        .banned_user_message
        .clone();
    Err(ApiError::with_message(e::BANNED_USER, message))
}

/// The `on_start` hook: creates the configured admin account once.
pub async fn bootstrap_admin(state: &std::sync::Arc<AppState>) -> Result<(), String> {
    let settings = state.settings::<AdminSettings>();
    let (Some(email), Some(password)) = (&settings.bootstrap_email, &settings.bootstrap_password)
    else {
        return Ok(());
    };
    let email = email.trim().to_lowercase();
    let db_err = |e: crate::db::StorageError| format!("bootstrap admin: {e}");
    if core_store::find_user_by_email(&state.db, &email)
        .await
        .map_err(db_err)?
        .is_some()
    {
        tracing::info!("bootstrap admin account exists; left as it is");
        return Ok(());
    }
    check_password_length(state, password).map_err(|e| {
        format!(
            "bootstrap admin: GATEHOUSE_ADMIN_PASSWORD is refused: {}",
            e.body().message
        )
    })?;
    let hash = state
        .hasher
        .hash(password)
        .await
        .map_err(|e| format!("bootstrap admin: {e}"))?;
    let now = state.now();
    let name = email.split('@').next().unwrap_or("admin").to_string();
    let mut user = UserRow::verified(email.clone(), name, now);
    user.email_verified = true;
    let role = settings
        .admin_roles
        .first()
        .cloned()
        .unwrap_or_else(|| "admin".into());
    let account = AccountRow::credential(&user.id, hash, now);
    match store::insert_user_with_role(&state.db, &user, &account, &role).await {
        Ok(()) => {}
        // Another instance starting at the same moment created it.
        Err(e) if e.is_unique_violation() => return Ok(()),
        Err(e) => return Err(db_err(e)),
    }
    record(
        state,
        &RequestContext::server_side(),
        None,
        "admin.bootstrap",
        "user",
        &user.id,
        json!({"email": email, "role": role}),
    )
    .await
    .map_err(|e| format!("bootstrap admin: {}", e.body().message))?;
    tracing::info!(user_id = %user.id, "bootstrap admin account created");
    Ok(())
}

/// Checks a role list to be assigned: every name exists, and the caller
/// could do everything it grants. Returns it comma-joined.
fn assignable_roles(caller: &Caller, names: &[String]) -> Result<String, ApiError> {
    if names.is_empty() || names.iter().any(|n| n.trim().is_empty()) {
        return Err(ApiError::new(e::INVALID_ROLE_TYPE));
    }
    if names.iter().any(|n| caller.book.get(n.trim()).is_none()) {
        return Err(ApiError::new(
            e::YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE,
        ));
    }
    let joined = names.iter().map(|n| n.trim()).collect::<Vec<_>>().join(",");
    if !caller.covers_roles(&joined) {
        return Err(ApiError::new(e::YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE));
    }
    Ok(joined)
}

/// A role given in a `data` object: a string or an array of strings.
fn role_names_in(value: &Value) -> Result<Vec<String>, ApiError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ApiError::new(e::INVALID_ROLE_TYPE))
            })
            .collect(),
        _ => Err(ApiError::new(e::INVALID_ROLE_TYPE)),
    }
}

const BAN_KEYS: [&str; 3] = ["banned", "banReason", "banExpires"];

fn invalid(key: &str, expected: &str) -> ApiError {
    ApiError::validation(format!(
        "[body.data.{key}] Invalid input: expected {expected}"
    ))
}

/// Reads `banned`, `banReason`, `banExpires` (ISO date or null) into `changes`.
fn ban_changes(data: &Map<String, Value>, changes: &mut UserChanges) -> Result<(), ApiError> {
    match data.get("banned") {
        None => {}
        Some(Value::Bool(b)) => changes.banned = Some(*b),
        Some(_) => return Err(invalid("banned", "boolean")),
    }
    match data.get("banReason") {
        None => {}
        Some(Value::Null) => changes.ban_reason = Some(None),
        Some(Value::String(s)) => changes.ban_reason = Some(Some(s.clone())),
        Some(_) => return Err(invalid("banReason", "string")),
    }
    match data.get("banExpires") {
        None => {}
        Some(Value::Null) => changes.ban_expires = Some(None),
        Some(Value::String(s)) => {
            let t = DateTime::parse_from_rfc3339(s).map_err(|_| invalid("banExpires", "date"))?;
            changes.ban_expires = Some(Some(t.naive_utc()));
        }
        Some(_) => return Err(invalid("banExpires", "date")),
    }
    Ok(())
}

pub async fn create_user(
    state: &AppState,
    ctx: &RequestContext,
    body: CreateUserBody,
) -> Result<UserEnvelope, ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check("user", &["create"], e::YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS)?;
    let data: Map<String, Value> = body.data.unwrap_or_default().into_iter().collect();
    let requested = match (&body.role, data.get("role")) {
        (Some(r), _) => Some(r.to_vec()),
        (None, Some(v)) => Some(role_names_in(v)?),
        (None, None) => None,
    };
    let role = match requested {
        Some(names) => {
            caller.check(
                "user",
                &["set-role"],
                e::YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE,
            )?;
            assignable_roles(&caller, &names)?
        }
        None => caller.book.settings().default_role.clone(),
    };
    let mut changes = UserChanges::default();
    if BAN_KEYS.iter().any(|k| data.contains_key(*k)) {
        caller.check("user", &["ban"], e::YOU_ARE_NOT_ALLOWED_TO_BAN_USERS)?;
        ban_changes(&data, &mut changes)?;
    }
    let email = body.email.trim().to_lowercase();
    if !is_valid_email(&email) {
        return Err(ApiError::new(codes::INVALID_EMAIL));
    }
    crate::core::validate::check_field_length(state, "name", &body.name)?;
    if let Some(p) = &body.password {
        check_password_length(state, p)?;
    }
    let email_verified = match data.get("emailVerified") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("emailVerified", "boolean")),
    };
    let image = match data.get("image") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(invalid("image", "string")),
    };
    let exists = || ApiError::new(codes::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL).with_status(400);
    if core_store::find_user_by_email(&state.db, &email)
        .await?
        .is_some()
    {
        return Err(exists());
    }
    let hash = match &body.password {
        Some(p) => Some(state.hasher.hash(p).await?),
        None => None,
    };
    let now = state.now();
    let user = UserRow {
        id: token::new_id(),
        name: body.name.clone(),
        email: email.clone(),
        email_verified,
        image,
        created_at: now,
        updated_at: now,
    };
    let account = hash.map(|h| AccountRow::credential(&user.id, h, now));
    let has_ban =
        changes.banned.is_some() || changes.ban_reason.is_some() || changes.ban_expires.is_some();
    let inserted: Result<(), ApiError> = with_conn!(&state.db, |conn| {
        in_transaction!(conn, {
            core_store::insert_user(conn.into(), &user)
                .await
                .map_err(|err| {
                    if err.is_unique_violation() {
                        exists()
                    } else {
                        err.into()
                    }
                })?;
            if let Some(a) = &account {
                core_store::insert_account(conn.into(), a).await?;
            }
            store::write_role(conn.into(), &user.id, &role).await?;
            if has_ban {
                store::update_user(conn.into(), &user.id, &changes).await?;
            }
            audit::record_in(
                conn.into(),
                state,
                ctx,
                Entry {
                    actor_id: Some(caller.id()),
                    action: "admin.create-user",
                    target_type: "user",
                    target_id: &user.id,
                    organization_id: None,
                    details: json!({"email": email, "role": role, "password": account.is_some()}),
                },
            )
            .await?;
            Ok::<_, ApiError>(())
        })
    });
    inserted?;
    Ok(UserEnvelope {
        user: user_json(state, &user).await?,
    })
}

pub async fn get_user(state: &AppState, ctx: &RequestContext, id: &str) -> Result<User, ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check("user", &["get"], e::YOU_ARE_NOT_ALLOWED_TO_GET_USER)?;
    let user = find_user(state, id).await?;
    user_json(state, &user).await
}

pub async fn update_user(
    state: &AppState,
    ctx: &RequestContext,
    body: AdminUpdateUserBody,
) -> Result<User, ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check("user", &["update"], e::YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS)?;
    let data: Map<String, Value> = body.data.into_iter().collect();
    if data.is_empty() {
        return Err(ApiError::new(e::NO_DATA_TO_UPDATE));
    }
    if data.contains_key("password") {
        return Err(ApiError::new(e::PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER));
    }
    if data.contains_key("id") {
        return Err(ApiError::new(e::USER_ID_CANNOT_BE_UPDATED));
    }
    let mut changes = UserChanges::default();
    if let Some(v) = data.get("role") {
        caller.check(
            "user",
            &["set-role"],
            e::YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE,
        )?;
        changes.role = Some(assignable_roles(&caller, &role_names_in(v)?)?);
    }
    if BAN_KEYS.iter().any(|k| data.contains_key(*k)) {
        caller.check("user", &["ban"], e::YOU_ARE_NOT_ALLOWED_TO_BAN_USERS)?;
        if data.get("banned") == Some(&Value::Bool(true)) && body.user_id == caller.id() {
            return Err(ApiError::new(e::YOU_CANNOT_BAN_YOURSELF));
        }
        ban_changes(&data, &mut changes)?;
    }
    if data.contains_key("email") || data.contains_key("emailVerified") {
        caller.check(
            "user",
            &["set-email"],
            e::YOU_ARE_NOT_ALLOWED_TO_SET_USERS_EMAIL,
        )?;
        match data.get("email") {
            None => {}
            Some(Value::String(s)) => {
                let email = s.trim().to_lowercase();
                if !is_valid_email(&email) {
                    return Err(ApiError::new(codes::INVALID_EMAIL));
                }
                if let Some(other) = core_store::find_user_by_email(&state.db, &email).await? {
                    if other.id != body.user_id {
                        return Err(ApiError::new(codes::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL)
                            .with_status(400));
                    }
                }
                changes.email = Some(email);
            }
            Some(_) => return Err(invalid("email", "string")),
        }
        match data.get("emailVerified") {
            None => {}
            Some(Value::Bool(b)) => changes.email_verified = Some(*b),
            Some(_) => return Err(invalid("emailVerified", "boolean")),
        }
    }
    match data.get("name") {
        None => {}
        Some(Value::String(s)) => {
            crate::core::validate::check_field_length(state, "name", s)?;
            changes.name = Some(s.clone());
        }
        Some(_) => return Err(invalid("name", "string")),
    }
    match data.get("image") {
        None => {}
        Some(Value::Null) => changes.image = Some(None),
        Some(Value::String(s)) => changes.image = Some(Some(s.clone())),
        Some(_) => return Err(invalid("image", "string")),
    }
    find_user(state, &body.user_id).await?;
    // The other keys are other plugins' user fields (e.g. `username`).
    let own = ["name", "email", "emailVerified", "image", "role"];
    let rest: Map<String, Value> = data
        .iter()
        .filter(|(k, _)| !own.contains(&k.as_str()) && !BAN_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut plugin_values = Vec::new();
    for fields in state.plugins.user_fields().filter(|f| f.client_settable()) {
        plugin_values.push((
            fields,
            fields.prepare(state, &rest, Some(&body.user_id)).await?,
        ));
    }
    changes.updated_at = Some(state.now());
    let banned_now = changes.banned == Some(true);
    let user_id = body.user_id.clone();
    let details = Value::Object(data.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    let result: Result<(), ApiError> = with_conn!(&state.db, |conn| {
        in_transaction!(conn, {
            store::update_user(conn.into(), &user_id, &changes)
                .await
                .map_err(|err| {
                    // The unique index settles a race the check above lost.
                    if err.is_unique_violation() {
                        ApiError::new(codes::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL).with_status(400)
                    } else {
                        err.into()
                    }
                })?;
            for (fields, values) in &plugin_values {
                fields.write(conn.into(), &user_id, values).await?;
            }
            audit::record_in(
                conn.into(),
                state,
                ctx,
                Entry {
                    actor_id: Some(caller.id()),
                    action: "admin.update-user",
                    target_type: "user",
                    target_id: &user_id,
                    organization_id: None,
                    details,
                },
            )
            .await?;
            Ok::<_, ApiError>(())
        })
    });
    result?;
    if banned_now {
        core_store::delete_user_sessions(&state.db, &user_id, None).await?;
    }
    state.sessions.invalidate_user(&user_id);
    let user = find_user(state, &user_id).await?;
    user_json(state, &user).await
}

fn parse_cmp(op: &str) -> Option<Cmp> {
    Some(match op {
        "eq" => Cmp::Eq,
        "ne" => Cmp::Ne,
        "lt" => Cmp::Lt,
        "lte" => Cmp::Lte,
        "gt" => Cmp::Gt,
        "gte" => Cmp::Gte,
        _ => return None,
    })
}

/// One condition from a field, operator and value; `None` when they do not
/// fit together (Better Auth answers such a listing with no users).
fn condition(field: &str, op: &str, value: &str) -> Option<Condition> {
    let field = Field::parse(field)?;
    match field {
        Field::EmailVerified | Field::Banned => {
            let value = match value {
                "true" => true,
                "false" => false,
                _ => return None,
            };
            let negate = match op {
                "eq" => false,
                "ne" => true,
                _ => return None,
            };
            Some(Condition::Bool {
                field,
                negate,
                value,
            })
        }
        Field::CreatedAt | Field::UpdatedAt | Field::BanExpires => {
            let value = DateTime::parse_from_rfc3339(value).ok()?.naive_utc();
            Some(Condition::Time {
                field,
                op: parse_cmp(op)?,
                value,
            })
        }
        _ => {
            let text = |op| {
                Some(Condition::Text {
                    field,
                    op,
                    value: value.to_string(),
                })
            };
            match op {
                "contains" => text(TextOp::Contains),
                "starts_with" => text(TextOp::StartsWith),
                "ends_with" => text(TextOp::EndsWith),
                "in" | "not_in" => Some(Condition::TextIn {
                    field,
                    negate: op == "not_in",
                    values: value.split(',').map(|v| v.trim().to_string()).collect(),
                }),
                _ => text(TextOp::Cmp(parse_cmp(op)?)),
            }
        }
    }
}

/// Better Auth reads paging numbers with `Number(x) || undefined`.
fn js_number(v: &Option<String>) -> Option<i64> {
    v.as_deref()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|n| n.is_finite() && *n != 0.0)
        .map(|n| n as i64)
}

/// The most users one page holds.
const MAX_PAGE: i64 = 1000;

pub async fn list_users(
    state: &AppState,
    ctx: &RequestContext,
    p: ListUsersParams,
) -> Result<ListUsersResponse, ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check("user", &["list"], e::YOU_ARE_NOT_ALLOWED_TO_LIST_USERS)?;
    let limit = js_number(&p.limit);
    let offset = js_number(&p.offset);
    let empty = ListUsersResponse {
        users: Vec::new(),
        total: 0,
        limit: None,
        offset: None,
    };
    let mut conditions = Vec::new();
    if let Some(v) = p.search_value.as_deref().filter(|v| !v.is_empty()) {
        let field = p.search_field.as_deref().unwrap_or("email");
        let op = p.search_operator.as_deref().unwrap_or("contains");
        if !matches!(field, "email" | "name")
            || !matches!(op, "contains" | "starts_with" | "ends_with")
        {
            return Err(ApiError::validation(
                "[query] searchField is email or name; searchOperator is contains, starts_with or ends_with",
            ));
        }
        let Some(c) = condition(field, op, v) else {
            return Ok(empty);
        };
        conditions.push(c);
    }
    if let Some(v) = &p.filter_value {
        let field = p.filter_field.as_deref().unwrap_or("email");
        let op = p.filter_operator.as_deref().unwrap_or("eq");
        let Some(c) = condition(field, op, v) else {
            return Ok(empty);
        };
        conditions.push(c);
    }
    let sort = match &p.sort_by {
        None => None,
        Some(f) => match Field::parse(f) {
            Some(field) => Some((field, p.sort_direction.as_deref() == Some("desc"))),
            None => return Ok(empty),
        },
    };
    let query = UserQuery {
        conditions,
        sort,
        limit: limit.unwrap_or(MAX_PAGE).clamp(0, MAX_PAGE),
        offset: offset.unwrap_or(0).max(0),
    };
    let (rows, total) = store::list_users(&state.db, &query).await?;
    let mut users = Vec::with_capacity(rows.len());
    for row in &rows {
        users.push(user_json(state, row).await?);
    }
    Ok(ListUsersResponse {
        users,
        total,
        limit,
        offset,
    })
}

pub async fn list_user_sessions(
    state: &AppState,
    ctx: &RequestContext,
    user_id: &str,
) -> Result<SessionsEnvelope, ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check(
        "session",
        &["list"],
        e::YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS,
    )?;
    let mut sessions = Vec::new();
    for row in store::list_sessions(&state.db, user_id).await? {
        // Tokens are stored hashed: the handle stands in for them.
        let handle = row.id.clone();
        sessions.push(session_json(state, &row, handle).await?);
    }
    Ok(SessionsEnvelope { sessions })
}

pub async fn set_role(
    state: &AppState,
    ctx: &RequestContext,
    body: SetRoleBody,
) -> Result<UserEnvelope, ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check(
        "user",
        &["set-role"],
        e::YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE,
    )?;
    let role = assignable_roles(&caller, &body.role.to_vec())?;
    let before = store::find_fields(&state.db, &body.user_id)
        .await?
        .ok_or_else(user_not_found)?;
    store::set_role(&state.db, &body.user_id, &role, state.now()).await?;
    state.sessions.invalidate_user(&body.user_id);
    record(
        state,
        ctx,
        Some(caller.id()),
        "admin.set-role",
        "user",
        &body.user_id,
        json!({"from": before.role, "to": role}),
    )
    .await?;
    let user = find_user(state, &body.user_id).await?;
    Ok(UserEnvelope {
        user: user_json(state, &user).await?,
    })
}

pub async fn ban_user(
    state: &AppState,
    ctx: &RequestContext,
    body: BanUserBody,
) -> Result<UserEnvelope, ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check("user", &["ban"], e::YOU_ARE_NOT_ALLOWED_TO_BAN_USERS)?;
    find_user(state, &body.user_id).await?;
    if body.user_id == caller.id() {
        return Err(ApiError::new(e::YOU_CANNOT_BAN_YOURSELF));
    }
    let settings = caller.book.settings();
    let reason = body
        .ban_reason
        .clone()
        .filter(|r| !r.is_empty())
        .or_else(|| settings.default_ban_reason.clone())
        .unwrap_or_else(|| "No reason".into());
    crate::core::validate::check_field_length(state, "banReason", &reason)?;
    let now = state.now();
    let expires_in = body
        .ban_expires_in
        .filter(|s| *s != 0)
        .or(settings.default_ban_expires_in);
    let expires = match expires_in {
        Some(s) if s < 0 => {
            return Err(ApiError::validation(
                "[body.banExpiresIn] Invalid input: expected a positive number of seconds",
            ))
        }
        Some(s) => Some(
            now.checked_add_signed(Duration::seconds(s.min(100 * 365 * 86_400)))
                .unwrap_or(NaiveDateTime::MAX),
        ),
        None => None,
    };
    store::set_ban(&state.db, &body.user_id, Some((&reason, expires)), now).await?;
    let revoked = core_store::delete_user_sessions(&state.db, &body.user_id, None).await?;
    state.sessions.invalidate_user(&body.user_id);
    record(
        state,
        ctx,
        Some(caller.id()),
        "admin.ban-user",
        "user",
        &body.user_id,
        json!({"reason": reason, "expires": expires.map(iso), "sessionsRevoked": revoked}),
    )
    .await?;
    let user = find_user(state, &body.user_id).await?;
    Ok(UserEnvelope {
        user: user_json(state, &user).await?,
    })
}

pub async fn unban_user(
    state: &AppState,
    ctx: &RequestContext,
    user_id: &str,
) -> Result<UserEnvelope, ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check("user", &["ban"], e::YOU_ARE_NOT_ALLOWED_TO_BAN_USERS)?;
    find_user(state, user_id).await?;
    store::set_ban(&state.db, user_id, None, state.now()).await?;
    state.sessions.invalidate_user(user_id);
    record(
        state,
        ctx,
        Some(caller.id()),
        "admin.unban-user",
        "user",
        user_id,
        json!({}),
    )
    .await?;
    let user = find_user(state, user_id).await?;
    Ok(UserEnvelope {
        user: user_json(state, &user).await?,
    })
}

fn admin_cookie(state: &AppState) -> String {
    state.cookies.name("admin_session")
}

pub async fn impersonate_user(
    state: &AppState,
    ctx: &RequestContext,
    user_id: &str,
) -> Result<SessionAndUser, ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check(
        "user",
        &["impersonate"],
        e::YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS,
    )?;
    let target = find_user(state, user_id).await?;
    let target_fields = store::find_fields(&state.db, user_id)
        .await?
        .unwrap_or_default();
    if caller.book.is_admin(user_id, target_fields.role.as_deref())
        && !(caller.book.settings().allow_impersonating_admins
            || caller.may(&permission("user", &["impersonate-admins"])))
    {
        return Err(ApiError::new(e::YOU_CANNOT_IMPERSONATE_ADMINS));
    }
    let dont_remember = ctx
        .signed_cookie(state, &state.cookies.dont_remember)
        .unwrap_or_default();
    let (mut row, raw) = create_session(state, ctx, user_id, false).await?;
    let expires =
        state.now() + Duration::seconds(caller.book.settings().impersonation_session_duration);
    store::mark_impersonation(&state.db, &row.id, caller.id(), expires).await?;
    row.expires_at = expires;
    let name = admin_cookie(state);
    let value = sign::sign_value(
        &state.secret,
        &format!("{}:{}", caller.session.token, dont_remember),
    );
    ctx.set_cookie(
        &name,
        state
            .cookies
            .set_cookie(&name, &value, Some(state.config.session.expires_in)),
    );
    record(
        state,
        ctx,
        Some(caller.id()),
        "admin.impersonate-user",
        "user",
        user_id,
        json!({"sessionId": row.id, "expiresAt": iso(expires)}),
    )
    .await?;
    Ok(SessionAndUser {
        session: session_json(state, &row, raw).await?,
        user: user_json(state, &target).await?,
    })
}

pub async fn stop_impersonating(
    state: &AppState,
    ctx: &RequestContext,
) -> Result<SessionAndUser, ApiError> {
    let s = require_session(state, ctx).await?;
    let Some(admin_id) = store::find_impersonated_by(&state.db, &s.session.id).await? else {
        return Err(ApiError::new(e::NOT_IMPERSONATING));
    };
    let name = admin_cookie(state);
    let not_found = || ApiError::new(e::ADMIN_SESSION_NOT_FOUND);
    let cookie = ctx.signed_cookie(state, &name).ok_or_else(not_found)?;
    let (admin_token, dont_remember) = cookie.split_once(':').ok_or_else(not_found)?;
    let (admin_session, admin_user) =
        core_store::find_session_with_user(&state.db, &token::hash_token(admin_token))
            .await?
            .ok_or_else(not_found)?;
    if admin_user.id != admin_id || admin_session.expires_at <= state.now() {
        return Err(not_found());
    }
    core_store::delete_session(&state.db, &s.session.id).await?;
    state
        .sessions
        .invalidate_token(&token::hash_token(&s.token));
    session::set_session_cookies(state, ctx, admin_token, dont_remember.is_empty());
    ctx.set_cookie(&name, state.cookies.expire(&name));
    record(
        state,
        ctx,
        Some(&admin_id),
        "admin.stop-impersonating",
        "user",
        &s.user.id,
        json!({"sessionId": s.session.id}),
    )
    .await?;
    Ok(SessionAndUser {
        session: session_json(state, &admin_session, admin_token.to_string()).await?,
        user: user_json(state, &admin_user).await?,
    })
}

pub async fn revoke_user_session(
    state: &AppState,
    ctx: &RequestContext,
    handle: &str,
) -> Result<(), ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check(
        "session",
        &["revoke"],
        e::YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS,
    )?;
    if let Some(row) = store::find_session(&state.db, handle, &token::hash_token(handle)).await? {
        core_store::delete_session(&state.db, &row.id).await?;
        state.sessions.invalidate_user(&row.user_id);
        record(
            state,
            ctx,
            Some(caller.id()),
            "admin.revoke-user-session",
            "session",
            &row.id,
            json!({"userId": row.user_id}),
        )
        .await?;
    }
    Ok(())
}

pub async fn revoke_user_sessions(
    state: &AppState,
    ctx: &RequestContext,
    user_id: &str,
) -> Result<(), ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check(
        "session",
        &["revoke"],
        e::YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS,
    )?;
    let n = core_store::delete_user_sessions(&state.db, user_id, None).await?;
    state.sessions.invalidate_user(user_id);
    record(
        state,
        ctx,
        Some(caller.id()),
        "admin.revoke-user-sessions",
        "user",
        user_id,
        json!({"sessionsRevoked": n}),
    )
    .await
}

pub async fn remove_user(
    state: &AppState,
    ctx: &RequestContext,
    user_id: &str,
) -> Result<(), ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check("user", &["delete"], e::YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS)?;
    if user_id == caller.id() {
        return Err(ApiError::new(e::YOU_CANNOT_REMOVE_YOURSELF));
    }
    let user = find_user(state, user_id).await?;
    core_store::delete_user(&state.db, user_id).await?;
    state.sessions.invalidate_user(user_id);
    record(
        state,
        ctx,
        Some(caller.id()),
        "admin.remove-user",
        "user",
        user_id,
        json!({"email": user.email}),
    )
    .await
}

pub async fn set_user_password(
    state: &AppState,
    ctx: &RequestContext,
    body: SetUserPasswordBody,
) -> Result<(), ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check(
        "user",
        &["set-password"],
        e::YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD,
    )?;
    if body.user_id.is_empty() {
        return Err(ApiError::validation("[body.userId] userId cannot be empty"));
    }
    if body.new_password.is_empty() {
        return Err(ApiError::validation(
            "[body.newPassword] newPassword cannot be empty",
        ));
    }
    check_password_length(state, &body.new_password)?;
    let user = find_user(state, &body.user_id).await?;
    let hash = state.hasher.hash(&body.new_password).await?;
    let now = state.now();
    match core_store::find_user_with_credential(&state.db, &user.id).await? {
        Some(account) => {
            core_store::update_account_password(&state.db, &account.id, &hash, now).await?
        }
        None => {
            core_store::create_account(&state.db, &AccountRow::credential(&user.id, hash, now))
                .await?
        }
    }
    record(
        state,
        ctx,
        Some(caller.id()),
        "admin.set-user-password",
        "user",
        &user.id,
        json!({}),
    )
    .await
}

pub async fn has_permission(
    state: &AppState,
    ctx: &RequestContext,
    body: UserHasPermissionBody,
) -> Result<bool, ApiError> {
    let Some(permissions) = body.permissions else {
        return Err(ApiError::new(e::INVALID_PERMISSION_CHECK));
    };
    let s = require_session(state, ctx).await?;
    let role = store::find_fields(&state.db, &s.user.id)
        .await?
        .and_then(|f| f.role);
    let book = RoleBook::load(state).await?;
    Ok(book.allows(&s.user.id, role.as_deref(), &permissions))
}

fn valid_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn role_dto(role: &str, statements: &BTreeMap<String, Vec<String>>, built_in: bool) -> AdminRole {
    AdminRole {
        role: role.to_string(),
        permission: statements.clone(),
        built_in,
    }
}

/// The statements of a new or changed role: declared, and within what the caller holds.
fn checked_statements(
    caller: &Caller,
    permission: &BTreeMap<String, Vec<String>>,
) -> Result<access::Statements, ApiError> {
    let s = permission.clone();
    caller
        .book
        .settings()
        .access
        .check_statements(&s)
        .map_err(|m| {
            ApiError::with_message(e::INVALID_PERMISSION, format!("Invalid permission: {m}"))
        })?;
    if !caller.covers_statements(&s) {
        return Err(ApiError::new(e::ROLE_EXCEEDS_YOUR_PERMISSIONS));
    }
    Ok(s)
}

pub async fn create_role(
    state: &AppState,
    ctx: &RequestContext,
    body: RoleBody,
) -> Result<RoleResult, ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check("ac", &["create"], e::YOU_ARE_NOT_ALLOWED_TO_CREATE_ROLES)?;
    if !valid_role_name(&body.role) {
        return Err(ApiError::new(e::INVALID_ROLE_NAME));
    }
    if caller.book.get(&body.role).is_some() {
        return Err(ApiError::new(e::ADMIN_ROLE_ALREADY_EXISTS));
    }
    let s = checked_statements(&caller, &body.permission)?;
    if caller.book.runtime().len() >= caller.book.settings().maximum_roles {
        return Err(ApiError::new(e::TOO_MANY_ADMIN_ROLES));
    }
    let now = state.now();
    let row = store::RoleRow {
        id: token::new_id(),
        role: body.role.clone(),
        permission: serde_json::to_string(&s).unwrap_or_default(),
        created_at: now,
        updated_at: now,
    };
    store::insert_role(&state.db, &row).await.map_err(|err| {
        if err.is_unique_violation() {
            ApiError::new(e::ADMIN_ROLE_ALREADY_EXISTS)
        } else {
            err.into()
        }
    })?;
    caller.book.settings().runtime.invalidate();
    record(
        state,
        ctx,
        Some(caller.id()),
        "admin.create-role",
        "role",
        &body.role,
        json!({"permission": s}),
    )
    .await?;
    Ok(RoleResult {
        success: true,
        role: role_dto(&body.role, &s, false),
    })
}

pub async fn update_role(
    state: &AppState,
    ctx: &RequestContext,
    body: RoleBody,
) -> Result<RoleResult, ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check("ac", &["update"], e::YOU_ARE_NOT_ALLOWED_TO_UPDATE_ROLES)?;
    if caller.book.is_built_in(&body.role) {
        return Err(ApiError::new(e::CANNOT_CHANGE_A_BUILT_IN_ROLE));
    }
    let before = caller
        .book
        .runtime()
        .get(&body.role)
        .cloned()
        .ok_or_else(|| ApiError::new(e::ADMIN_ROLE_NOT_FOUND))?;
    let s = checked_statements(&caller, &body.permission)?;
    let n = store::update_role(
        &state.db,
        &body.role,
        &serde_json::to_string(&s).unwrap_or_default(),
        state.now(),
    )
    .await?;
    caller.book.settings().runtime.invalidate();
    if n == 0 {
        return Err(ApiError::new(e::ADMIN_ROLE_NOT_FOUND));
    }
    record(
        state,
        ctx,
        Some(caller.id()),
        "admin.update-role",
        "role",
        &body.role,
        json!({"from": before, "to": s}),
    )
    .await?;
    Ok(RoleResult {
        success: true,
        role: role_dto(&body.role, &s, false),
    })
}

pub async fn delete_role(
    state: &AppState,
    ctx: &RequestContext,
    role: &str,
) -> Result<(), ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check("ac", &["delete"], e::YOU_ARE_NOT_ALLOWED_TO_DELETE_ROLES)?;
    if caller.book.is_built_in(role) {
        return Err(ApiError::new(e::CANNOT_CHANGE_A_BUILT_IN_ROLE));
    }
    if !caller.book.runtime().contains_key(role) {
        return Err(ApiError::new(e::ADMIN_ROLE_NOT_FOUND));
    }
    if store::count_users_with_role(&state.db, role).await? > 0 {
        return Err(ApiError::new(e::ADMIN_ROLE_IS_ASSIGNED));
    }
    let n = store::delete_role(&state.db, role).await?;
    caller.book.settings().runtime.invalidate();
    if n == 0 {
        return Err(ApiError::new(e::ADMIN_ROLE_NOT_FOUND));
    }
    record(
        state,
        ctx,
        Some(caller.id()),
        "admin.delete-role",
        "role",
        role,
        json!({}),
    )
    .await
}

pub async fn list_roles(state: &AppState, ctx: &RequestContext) -> Result<RolesEnvelope, ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check("ac", &["read"], e::YOU_ARE_NOT_ALLOWED_TO_READ_ROLES)?;
    let built_in = caller.book.settings().access.roles();
    let mut roles: Vec<AdminRole> = built_in.iter().map(|(n, s)| role_dto(n, s, true)).collect();
    roles.extend(
        caller
            .book
            .runtime()
            .iter()
            .filter(|(n, _)| !built_in.contains_key(*n))
            .map(|(n, s)| role_dto(n, s, false)),
    );
    Ok(RolesEnvelope { roles })
}

pub async fn get_role(
    state: &AppState,
    ctx: &RequestContext,
    role: &str,
) -> Result<AdminRole, ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check("ac", &["read"], e::YOU_ARE_NOT_ALLOWED_TO_READ_ROLES)?;
    let s = caller
        .book
        .get(role)
        .ok_or_else(|| ApiError::new(e::ADMIN_ROLE_NOT_FOUND))?;
    Ok(role_dto(role, s, caller.book.is_built_in(role)))
}

pub async fn list_audit_logs(
    state: &AppState,
    ctx: &RequestContext,
    filter: audit::Filter,
    limit: Option<i64>,
    offset: Option<i64>,
) -> Result<AuditLogPage, ApiError> {
    let caller = Caller::require(state, ctx).await?;
    caller.check(
        "audit",
        &["list"],
        e::YOU_ARE_NOT_ALLOWED_TO_LIST_AUDIT_LOGS,
    )?;
    let limit = limit.unwrap_or(50).clamp(1, 200);
    let (rows, total) = audit::list(&state.db, &filter, limit, offset.unwrap_or(0).max(0)).await?;
    Ok(AuditLogPage {
        entries: rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                actor_id: r.actor_id,
                action: r.action,
                target_type: r.target_type,
                target_id: r.target_id,
                organization_id: r.organization_id,
                ip_address: r.ip_address,
                user_agent: r.user_agent,
                details: serde_json::from_str(&r.details).unwrap_or_default(),
                created_at: iso(r.created_at),
            })
            .collect(),
        total,
    })
}
