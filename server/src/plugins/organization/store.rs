//! Queries on the organization tables and the session's active
//! organization and team. Writes that must hold together (creating an
//! organization with its owner, accepting an invitation, membership changes
//! that could leave an organization without an owner or past a limit) run
//! in one transaction that starts by writing the organization's row: that
//! write serialises them per organization on both backends (SQLite's write
//! lock, PostgreSQL's row lock), and no transaction reads before it writes.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::models::UserRow;
use crate::db::schema::users;
use crate::db::{Db, StorageError};
use crate::{in_transaction, with_conn};

diesel::table! {
    #[sql_name = "organization"]
    organizations (id) {
        id -> Text,
        name -> Text,
        slug -> Text,
        logo -> Nullable<Text>,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
        metadata -> Nullable<Text>,
    }
}

diesel::table! {
    #[sql_name = "member"]
    members (id) {
        id -> Text,
        #[sql_name = "organizationId"]
        organization_id -> Text,
        #[sql_name = "userId"]
        user_id -> Text,
        role -> Text,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
    }
}

diesel::table! {
    #[sql_name = "invitation"]
    invitations (id) {
        id -> Text,
        #[sql_name = "organizationId"]
        organization_id -> Text,
        email -> Text,
        role -> Nullable<Text>,
        #[sql_name = "teamId"]
        team_id -> Nullable<Text>,
        status -> Text,
        #[sql_name = "expiresAt"]
        expires_at -> Timestamp,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
        #[sql_name = "inviterId"]
        inviter_id -> Text,
    }
}

diesel::table! {
    #[sql_name = "team"]
    teams (id) {
        id -> Text,
        name -> Text,
        #[sql_name = "organizationId"]
        organization_id -> Text,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
        #[sql_name = "updatedAt"]
        updated_at -> Nullable<Timestamp>,
        #[sql_name = "memberCount"]
        member_count -> Integer,
    }
}

diesel::table! {
    #[sql_name = "teamMember"]
    team_members (id) {
        id -> Text,
        #[sql_name = "teamId"]
        team_id -> Text,
        #[sql_name = "userId"]
        user_id -> Text,
        #[sql_name = "membershipKey"]
        membership_key -> Nullable<Text>,
        #[sql_name = "createdAt"]
        created_at -> Nullable<Timestamp>,
        role -> Nullable<Text>,
    }
}

diesel::table! {
    #[sql_name = "organizationRole"]
    organization_roles (id) {
        id -> Text,
        #[sql_name = "organizationId"]
        organization_id -> Text,
        role -> Text,
        permission -> Text,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
        #[sql_name = "updatedAt"]
        updated_at -> Nullable<Timestamp>,
    }
}

// The columns this plugin's migration adds to Better Auth's `session` table.
diesel::table! {
    #[sql_name = "session"]
    sessions (id) {
        id -> Text,
        #[sql_name = "userId"]
        user_id -> Text,
        #[sql_name = "activeOrganizationId"]
        active_organization_id -> Nullable<Text>,
        #[sql_name = "activeTeamId"]
        active_team_id -> Nullable<Text>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    members,
    invitations,
    teams,
    team_members,
    organization_roles,
    sessions,
);

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = organizations)]
pub struct OrgRow {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub logo: Option<String>,
    pub created_at: NaiveDateTime,
    /// JSON text.
    pub metadata: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = members)]
pub struct MemberRow {
    pub id: String,
    pub organization_id: String,
    pub user_id: String,
    /// Comma-separated role names.
    pub role: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = invitations)]
pub struct InvitationRow {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub role: Option<String>,
    /// Comma-separated team ids.
    pub team_id: Option<String>,
    pub status: String,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub inviter_id: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = teams)]
pub struct TeamRow {
    pub id: String,
    pub name: String,
    pub organization_id: String,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
    pub member_count: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = team_members)]
pub struct TeamMemberRow {
    pub id: String,
    pub team_id: String,
    pub user_id: String,
    pub membership_key: Option<String>,
    pub created_at: Option<NaiveDateTime>,
    /// A team-scoped role (comma-separated), if any.
    pub role: Option<String>,
}

impl TeamMemberRow {
    pub fn new(team_id: &str, user_id: &str, role: Option<String>, now: NaiveDateTime) -> Self {
        TeamMemberRow {
            id: crate::crypto::token::new_id(),
            team_id: team_id.to_string(),
            user_id: user_id.to_string(),
            membership_key: Some(membership_key(team_id, user_id)),
            created_at: Some(now),
            role,
        }
    }
}

/// Better Auth's team membership key: base64url(SHA-256(JSON `[teamId, userId]`)).
pub fn membership_key(team_id: &str, user_id: &str) -> String {
    let json = serde_json::to_string(&[team_id, user_id]).unwrap_or_default();
    crate::crypto::token::hash_token(&json)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = organization_roles)]
pub struct RoleRow {
    pub id: String,
    pub organization_id: String,
    pub role: String,
    /// JSON `{resource: [actions]}`.
    pub permission: String,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
}

/// Why a transactional write was refused (it was rolled back).
#[derive(Debug)]
pub enum Refused {
    /// The organization is gone.
    OrganizationGone,
    /// The invitation is not pending (or expired) any more.
    NotPending,
    /// The user already belongs to the organization.
    AlreadyMember,
    MembershipLimit,
    /// A team named by the write does not exist in the organization.
    TeamGone,
    TeamMemberLimit,
    /// The write would leave the organization without a creator-role member.
    LastOwner,
    /// The member is gone.
    MemberGone,
}

/// A transaction's failure: storage, or a refusal (rolled back).
pub enum TxError {
    Storage(StorageError),
    Refused(Refused),
}

impl From<StorageError> for TxError {
    fn from(e: StorageError) -> Self {
        TxError::Storage(e)
    }
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Storage(e.into())
    }
}

fn refuse<T>(r: Refused) -> Result<T, TxError> {
    Err(TxError::Refused(r))
}

/// Takes the organization's row lock (a no-op write); false if it is gone.
macro_rules! lock_org {
    ($conn:ident, $org_id:expr) => {{
        let n = diesel::update(organizations::table.find($org_id))
            .set(organizations::name.eq(organizations::name))
            .execute($conn)
            .await?;
        n == 1
    }};
}

/// The creator-role members left in an organization (read inside a transaction).
macro_rules! count_with_role {
    ($conn:ident, $org_id:expr, $role:expr) => {{
        let roles: Vec<String> = members::table
            .filter(members::organization_id.eq($org_id))
            .select(members::role)
            .load($conn)
            .await?;
        roles
            .iter()
            .filter(|r| super::access::role_names(r).any(|n| n == $role))
            .count()
    }};
}

/// Takes a seat on a team (one conditional update); false when it is full.
macro_rules! reserve_seat {
    ($conn:ident, $team_id:expr, $maximum:expr) => {{
        let target = teams::table.find($team_id);
        let n = match $maximum {
            Some(max) => {
                diesel::update(target.filter(teams::member_count.lt(max)))
                    .set(teams::member_count.eq(teams::member_count + 1))
                    .execute($conn)
                    .await?
            }
            None => {
                diesel::update(target)
                    .set(teams::member_count.eq(teams::member_count + 1))
                    .execute($conn)
                    .await?
            }
        };
        n == 1
    }};
}

/// Frees one seat of a team.
macro_rules! release_seat {
    ($conn:ident, $team_id:expr) => {{
        diesel::update(
            teams::table
                .find($team_id)
                .filter(teams::member_count.ge(1)),
        )
        .set(teams::member_count.eq(teams::member_count - 1))
        .execute($conn)
        .await?;
    }};
}

/// Inside a transaction holding the organization's lock: refuses a
/// duplicate member or a full organization, inserts the member, then its
/// team memberships (each team must be in the organization and have a seat).
macro_rules! insert_member_locked {
    ($conn:ident, $member:expr, $teams:expr, $limit:expr) => {{
        let member: &MemberRow = $member;
        let existing: i64 = members::table
            .filter(members::organization_id.eq(&member.organization_id))
            .filter(members::user_id.eq(&member.user_id))
            .count()
            .get_result($conn)
            .await?;
        if existing > 0 {
            return refuse(Refused::AlreadyMember);
        }
        let count: i64 = members::table
            .filter(members::organization_id.eq(&member.organization_id))
            .count()
            .get_result($conn)
            .await?;
        if count >= $limit {
            return refuse(Refused::MembershipLimit);
        }
        diesel::insert_into(members::table)
            .values(member)
            .execute($conn)
            .await?;
        for seat in $teams {
            let seat: &TeamSeat = seat;
            let in_org: i64 = teams::table
                .find(&seat.row.team_id)
                .filter(teams::organization_id.eq(&member.organization_id))
                .count()
                .get_result($conn)
                .await?;
            if in_org == 0 {
                return refuse(Refused::TeamGone);
            }
            let already: i64 = team_members::table
                .filter(team_members::team_id.eq(&seat.row.team_id))
                .filter(team_members::user_id.eq(&seat.row.user_id))
                .count()
                .get_result($conn)
                .await?;
            if already > 0 {
                continue;
            }
            if !reserve_seat!($conn, &seat.row.team_id, seat.maximum) {
                return refuse(Refused::TeamMemberLimit);
            }
            diesel::insert_into(team_members::table)
                .values(&seat.row)
                .execute($conn)
                .await?;
        }
    }};
}

// ---- organizations ----

pub async fn find_org(db: &Db, id: &str) -> Result<Option<OrgRow>, StorageError> {
    with_conn!(db, |conn| Ok(organizations::table
        .find(id)
        .select(OrgRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

pub async fn find_org_by_slug(db: &Db, slug: &str) -> Result<Option<OrgRow>, StorageError> {
    with_conn!(db, |conn| Ok(organizations::table
        .filter(organizations::slug.eq(slug))
        .select(OrgRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

/// The organizations a user belongs to, oldest membership first.
pub async fn list_orgs_of_user(db: &Db, user_id: &str) -> Result<Vec<OrgRow>, StorageError> {
    with_conn!(db, |conn| {
        let ids: Vec<String> = members::table
            .filter(members::user_id.eq(user_id))
            .order((members::created_at.asc(), members::id.asc()))
            .select(members::organization_id)
            .load(conn)
            .await?;
        let mut orgs: Vec<OrgRow> = organizations::table
            .filter(organizations::id.eq_any(&ids))
            .select(OrgRow::as_select())
            .load(conn)
            .await?;
        orgs.sort_by_key(|o| ids.iter().position(|i| *i == o.id));
        Ok(orgs)
    })
}

pub async fn count_orgs_of_user(db: &Db, user_id: &str) -> Result<i64, StorageError> {
    with_conn!(db, |conn| Ok(members::table
        .filter(members::user_id.eq(user_id))
        .count()
        .get_result(conn)
        .await?))
}

/// Creates an organization with its creator's membership (and, with teams,
/// its default team holding the creator), all or nothing. A taken slug is a
/// unique violation.
pub async fn create_org(
    db: &Db,
    org: &OrgRow,
    owner: &MemberRow,
    team: Option<(&TeamRow, &TeamMemberRow)>,
) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        in_transaction!(conn, {
            diesel::insert_into(organizations::table)
                .values(org)
                .execute(conn)
                .await?;
            diesel::insert_into(members::table)
                .values(owner)
                .execute(conn)
                .await?;
            if let Some((t, tm)) = team {
                diesel::insert_into(teams::table)
                    .values(t)
                    .execute(conn)
                    .await?;
                diesel::insert_into(team_members::table)
                    .values(tm)
                    .execute(conn)
                    .await?;
            }
            Ok::<_, StorageError>(())
        })
    })
}

/// The columns `update` may change; `None` leaves one as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = organizations)]
pub struct OrgChanges {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub logo: Option<Option<String>>,
    pub metadata: Option<Option<String>>,
}

impl OrgChanges {
    fn is_empty(&self) -> bool {
        self.name.is_none() && self.slug.is_none() && self.logo.is_none() && self.metadata.is_none()
    }
}

/// Applies `changes`; `None` when the organization is gone. A taken slug is
/// a unique violation.
pub async fn update_org(
    db: &Db,
    id: &str,
    changes: &OrgChanges,
) -> Result<Option<OrgRow>, StorageError> {
    if changes.is_empty() {
        return find_org(db, id).await;
    }
    with_conn!(db, |conn| Ok(diesel::update(organizations::table.find(id))
        .set(changes)
        .returning(OrgRow::as_returning())
        .get_result(conn)
        .await
        .optional()?))
}

/// Deletes an organization and everything in it; returns the users whose
/// sessions had it active (now cleared). `None` when it was already gone.
pub async fn delete_org(db: &Db, id: &str) -> Result<Option<Vec<String>>, StorageError> {
    with_conn!(db, |conn| {
        in_transaction!(conn, {
            let cleared: Vec<String> =
                diesel::update(sessions::table.filter(sessions::active_organization_id.eq(id)))
                    .set((
                        sessions::active_organization_id.eq(None::<String>),
                        sessions::active_team_id.eq(None::<String>),
                    ))
                    .returning(sessions::user_id)
                    .get_results(conn)
                    .await?;
            let org_teams = teams::table
                .filter(teams::organization_id.eq(id))
                .select(teams::id);
            diesel::delete(team_members::table.filter(team_members::team_id.eq_any(org_teams)))
                .execute(conn)
                .await?;
            diesel::delete(teams::table.filter(teams::organization_id.eq(id)))
                .execute(conn)
                .await?;
            diesel::delete(invitations::table.filter(invitations::organization_id.eq(id)))
                .execute(conn)
                .await?;
            diesel::delete(members::table.filter(members::organization_id.eq(id)))
                .execute(conn)
                .await?;
            diesel::delete(
                organization_roles::table.filter(organization_roles::organization_id.eq(id)),
            )
            .execute(conn)
            .await?;
            let n = diesel::delete(organizations::table.find(id))
                .execute(conn)
                .await?;
            Ok::<_, StorageError>((n == 1).then_some(cleared))
        })
    })
}

// ---- members ----

pub async fn find_member(
    db: &Db,
    org_id: &str,
    user_id: &str,
) -> Result<Option<MemberRow>, StorageError> {
    with_conn!(db, |conn| Ok(members::table
        .filter(members::organization_id.eq(org_id))
        .filter(members::user_id.eq(user_id))
        .select(MemberRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

pub async fn find_member_by_id(db: &Db, id: &str) -> Result<Option<MemberRow>, StorageError> {
    with_conn!(db, |conn| Ok(members::table
        .find(id)
        .select(MemberRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

pub async fn count_members(db: &Db, org_id: &str) -> Result<i64, StorageError> {
    with_conn!(db, |conn| Ok(members::table
        .filter(members::organization_id.eq(org_id))
        .count()
        .get_result(conn)
        .await?))
}

/// Every member of an organization, oldest first (bounded by the membership limit).
pub async fn list_all_members(db: &Db, org_id: &str) -> Result<Vec<MemberRow>, StorageError> {
    with_conn!(db, |conn| Ok(members::table
        .filter(members::organization_id.eq(org_id))
        .order((members::created_at.asc(), members::id.asc()))
        .select(MemberRow::as_select())
        .load(conn)
        .await?))
}

/// A member column `list-members` may sort or filter by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberField {
    Id,
    UserId,
    Role,
    CreatedAt,
    OrganizationId,
}

impl MemberField {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "id" => MemberField::Id,
            "userId" => MemberField::UserId,
            "role" => MemberField::Role,
            "createdAt" => MemberField::CreatedAt,
            "organizationId" => MemberField::OrganizationId,
            _ => return None,
        })
    }
}

/// Better Auth's `where` operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    In,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
}

impl FilterOp {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "eq" => FilterOp::Eq,
            "ne" => FilterOp::Ne,
            "lt" => FilterOp::Lt,
            "lte" => FilterOp::Lte,
            "gt" => FilterOp::Gt,
            "gte" => FilterOp::Gte,
            "in" => FilterOp::In,
            "not_in" => FilterOp::NotIn,
            "contains" => FilterOp::Contains,
            "starts_with" => FilterOp::StartsWith,
            "ends_with" => FilterOp::EndsWith,
            _ => return None,
        })
    }

    pub const NAMES: &'static str =
        "eq, ne, lt, lte, gt, gte, in, not_in, contains, starts_with, ends_with";
}

/// A filter's value: text (or a list of it), or a date-time for `createdAt`.
#[derive(Debug, Clone)]
pub enum FilterValue {
    Text(Vec<String>),
    Time(NaiveDateTime),
}

#[derive(Debug, Clone)]
pub struct MemberFilter {
    pub field: MemberField,
    pub op: FilterOp,
    pub value: FilterValue,
}

#[derive(Debug, Clone)]
pub struct MemberPage {
    pub limit: i64,
    pub offset: i64,
    pub sort_by: Option<MemberField>,
    pub descending: bool,
    pub filter: Option<MemberFilter>,
}

use crate::db::escape_like as like_escape;

/// Applies a text filter on `$col` to the boxed query `$q`.
macro_rules! text_filter {
    ($q:expr, $col:expr, $op:expr, $values:expr) => {{
        let values: &Vec<String> = $values;
        let first = values.iter().next().cloned().unwrap_or_default();
        match $op {
            FilterOp::Eq => $q.filter($col.eq(first)),
            FilterOp::Ne => $q.filter($col.ne(first)),
            FilterOp::Lt => $q.filter($col.lt(first)),
            FilterOp::Lte => $q.filter($col.le(first)),
            FilterOp::Gt => $q.filter($col.gt(first)),
            FilterOp::Gte => $q.filter($col.ge(first)),
            FilterOp::In => $q.filter($col.eq_any(values.clone())),
            FilterOp::NotIn => $q.filter($col.ne_all(values.clone())),
            FilterOp::Contains => {
                $q.filter($col.like(format!("%{}%", like_escape(&first))).escape('\\'))
            }
            FilterOp::StartsWith => {
                $q.filter($col.like(format!("{}%", like_escape(&first))).escape('\\'))
            }
            FilterOp::EndsWith => {
                $q.filter($col.like(format!("%{}", like_escape(&first))).escape('\\'))
            }
        }
    }};
}

/// The organization's members as a boxed query, filtered.
macro_rules! member_query {
    ($org_id:expr, $filter:expr) => {{
        let mut q = members::table
            .filter(members::organization_id.eq($org_id))
            .into_boxed();
        if let Some(f) = $filter {
            q = match (&f.value, f.field) {
                (FilterValue::Text(v), MemberField::Id) => text_filter!(q, members::id, f.op, v),
                (FilterValue::Text(v), MemberField::UserId) => {
                    text_filter!(q, members::user_id, f.op, v)
                }
                (FilterValue::Text(v), MemberField::Role) => {
                    text_filter!(q, members::role, f.op, v)
                }
                (FilterValue::Text(v), MemberField::OrganizationId) => {
                    text_filter!(q, members::organization_id, f.op, v)
                }
                (FilterValue::Time(t), _) => match f.op {
                    FilterOp::Ne => q.filter(members::created_at.ne(*t)),
                    FilterOp::Lt => q.filter(members::created_at.lt(*t)),
                    FilterOp::Lte => q.filter(members::created_at.le(*t)),
                    FilterOp::Gt => q.filter(members::created_at.gt(*t)),
                    FilterOp::Gte => q.filter(members::created_at.ge(*t)),
                    _ => q.filter(members::created_at.eq(*t)),
                },
                (FilterValue::Text(_), MemberField::CreatedAt) => q,
            };
        }
        q
    }};
}

/// One page of an organization's members, and how many match the filter.
pub async fn list_members_page(
    db: &Db,
    org_id: &str,
    page: &MemberPage,
) -> Result<(Vec<MemberRow>, i64), StorageError> {
    with_conn!(db, |conn| {
        let total: i64 = member_query!(org_id, &page.filter)
            .count()
            .get_result(conn)
            .await?;
        let mut q = member_query!(org_id, &page.filter);
        q = match (page.sort_by, page.descending) {
            (Some(MemberField::Id), false) => q.order(members::id.asc()),
            (Some(MemberField::Id), true) => q.order(members::id.desc()),
            (Some(MemberField::UserId), false) => q.order(members::user_id.asc()),
            (Some(MemberField::UserId), true) => q.order(members::user_id.desc()),
            (Some(MemberField::Role), false) => q.order(members::role.asc()),
            (Some(MemberField::Role), true) => q.order(members::role.desc()),
            (Some(MemberField::OrganizationId), false) => q.order(members::organization_id.asc()),
            (Some(MemberField::OrganizationId), true) => q.order(members::organization_id.desc()),
            (Some(MemberField::CreatedAt) | None, false) => q.order(members::created_at.asc()),
            (Some(MemberField::CreatedAt) | None, true) => q.order(members::created_at.desc()),
        };
        let rows = q
            .then_order_by(members::id.asc())
            .limit(page.limit)
            .offset(page.offset)
            .select(MemberRow::as_select())
            .load(conn)
            .await?;
        Ok((rows, total))
    })
}

pub async fn find_users(db: &Db, ids: &[String]) -> Result<Vec<UserRow>, StorageError> {
    with_conn!(db, |conn| Ok(users::table
        .filter(users::id.eq_any(ids))
        .select(UserRow::as_select())
        .load(conn)
        .await?))
}

/// Adds a member (and its team memberships) under the organization's lock,
/// within the membership limit.
pub async fn add_member(
    db: &Db,
    member: &MemberRow,
    teams: &[TeamSeat],
    membership_limit: i64,
) -> Result<(), TxError> {
    with_conn!(db, |conn| {
        in_transaction!(conn, {
            if !lock_org!(conn, &member.organization_id) {
                return refuse(Refused::OrganizationGone);
            }
            insert_member_locked!(conn, member, teams, membership_limit);
            Ok::<_, TxError>(())
        })
    })
}

/// A team membership to create with a member, and the team's seat limit.
#[derive(Debug, Clone)]
pub struct TeamSeat {
    pub row: TeamMemberRow,
    pub maximum: Option<i32>,
}

/// Gives a member new roles, unless that takes the last `creator_role`
/// away from the organization.
pub async fn update_member_role(
    db: &Db,
    member: &MemberRow,
    role: &str,
    creator_role: &str,
) -> Result<MemberRow, TxError> {
    with_conn!(db, |conn| {
        in_transaction!(conn, {
            if !lock_org!(conn, &member.organization_id) {
                return refuse(Refused::OrganizationGone);
            }
            let updated: Option<MemberRow> = diesel::update(
                members::table
                    .find(&member.id)
                    .filter(members::organization_id.eq(&member.organization_id)),
            )
            .set(members::role.eq(role))
            .returning(MemberRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
            let Some(updated) = updated else {
                return refuse(Refused::MemberGone);
            };
            let had = super::access::role_names(&member.role).any(|r| r == creator_role);
            let has = super::access::role_names(role).any(|r| r == creator_role);
            if had && !has && count_with_role!(conn, &member.organization_id, creator_role) == 0 {
                return refuse(Refused::LastOwner);
            }
            Ok::<_, TxError>(updated)
        })
    })
}

/// Removes a member, its team memberships in the organization, and the
/// organization (and team) from its sessions' active ones, unless that
/// leaves the organization without a `creator_role` member.
pub async fn remove_member(db: &Db, member: &MemberRow, creator_role: &str) -> Result<(), TxError> {
    with_conn!(db, |conn| {
        in_transaction!(conn, {
            if !lock_org!(conn, &member.organization_id) {
                return refuse(Refused::OrganizationGone);
            }
            let n = diesel::delete(members::table.find(&member.id))
                .execute(conn)
                .await?;
            if n == 0 {
                return refuse(Refused::MemberGone);
            }
            if super::access::role_names(&member.role).any(|r| r == creator_role)
                && count_with_role!(conn, &member.organization_id, creator_role) == 0
            {
                return refuse(Refused::LastOwner);
            }
            let org_teams = teams::table
                .filter(teams::organization_id.eq(&member.organization_id))
                .select(teams::id);
            let left: Vec<String> = diesel::delete(
                team_members::table
                    .filter(team_members::user_id.eq(&member.user_id))
                    .filter(team_members::team_id.eq_any(org_teams)),
            )
            .returning(team_members::team_id)
            .get_results(conn)
            .await?;
            for team_id in &left {
                release_seat!(conn, team_id);
            }
            diesel::update(
                sessions::table
                    .filter(sessions::user_id.eq(&member.user_id))
                    .filter(sessions::active_organization_id.eq(&member.organization_id)),
            )
            .set((
                sessions::active_organization_id.eq(None::<String>),
                sessions::active_team_id.eq(None::<String>),
            ))
            .execute(conn)
            .await?;
            Ok::<_, TxError>(())
        })
    })
}

// ---- invitations ----

pub async fn insert_invitation(db: &Db, row: &InvitationRow) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::insert_into(invitations::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn find_invitation(db: &Db, id: &str) -> Result<Option<InvitationRow>, StorageError> {
    with_conn!(db, |conn| Ok(invitations::table
        .find(id)
        .select(InvitationRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

/// Pending, unexpired invitations of `email` to an organization.
pub async fn find_pending_invitations(
    db: &Db,
    org_id: &str,
    email: &str,
    now: NaiveDateTime,
) -> Result<Vec<InvitationRow>, StorageError> {
    with_conn!(db, |conn| Ok(invitations::table
        .filter(invitations::organization_id.eq(org_id))
        .filter(invitations::email.eq(email))
        .filter(invitations::status.eq("pending"))
        .filter(invitations::expires_at.gt(now))
        .order(invitations::created_at.asc())
        .select(InvitationRow::as_select())
        .load(conn)
        .await?))
}

pub async fn count_pending_invitations(
    db: &Db,
    org_id: &str,
    now: NaiveDateTime,
) -> Result<i64, StorageError> {
    with_conn!(db, |conn| Ok(invitations::table
        .filter(invitations::organization_id.eq(org_id))
        .filter(invitations::status.eq("pending"))
        .filter(invitations::expires_at.gt(now))
        .count()
        .get_result(conn)
        .await?))
}

/// Every invitation of an organization, oldest first.
pub async fn list_invitations(db: &Db, org_id: &str) -> Result<Vec<InvitationRow>, StorageError> {
    with_conn!(db, |conn| Ok(invitations::table
        .filter(invitations::organization_id.eq(org_id))
        .order((invitations::created_at.asc(), invitations::id.asc()))
        .select(InvitationRow::as_select())
        .load(conn)
        .await?))
}

/// Pending invitations of an address, with their organization.
pub async fn list_pending_for_email(
    db: &Db,
    email: &str,
) -> Result<Vec<(InvitationRow, OrgRow)>, StorageError> {
    with_conn!(db, |conn| {
        let invs: Vec<InvitationRow> = invitations::table
            .filter(invitations::email.eq(email))
            .filter(invitations::status.eq("pending"))
            .order((invitations::created_at.asc(), invitations::id.asc()))
            .select(InvitationRow::as_select())
            .load(conn)
            .await?;
        let org_ids: Vec<&String> = invs.iter().map(|i| &i.organization_id).collect();
        let orgs: Vec<OrgRow> = organizations::table
            .filter(organizations::id.eq_any(org_ids))
            .select(OrgRow::as_select())
            .load(conn)
            .await?;
        Ok(invs
            .into_iter()
            .filter_map(|i| {
                let org = orgs.iter().find(|o| o.id == i.organization_id)?.clone();
                Some((i, org))
            })
            .collect())
    })
}

/// Moves an invitation to `to`, from `from` when given; `None` when it was
/// not in that state (or is gone).
pub async fn set_invitation_status(
    db: &Db,
    id: &str,
    from: Option<&str>,
    to: &str,
) -> Result<Option<InvitationRow>, StorageError> {
    with_conn!(db, |conn| {
        let row = match from {
            Some(f) => diesel::update(
                invitations::table
                    .find(id)
                    .filter(invitations::status.eq(f)),
            )
            .set(invitations::status.eq(to))
            .returning(InvitationRow::as_returning())
            .get_result(conn)
            .await
            .optional()?,
            None => diesel::update(invitations::table.find(id))
                .set(invitations::status.eq(to))
                .returning(InvitationRow::as_returning())
                .get_result(conn)
                .await
                .optional()?,
        };
        Ok(row)
    })
}

/// Gives a pending invitation a new expiry.
pub async fn extend_invitation(
    db: &Db,
    id: &str,
    expires_at: NaiveDateTime,
) -> Result<Option<InvitationRow>, StorageError> {
    with_conn!(db, |conn| Ok(diesel::update(
        invitations::table
            .find(id)
            .filter(invitations::status.eq("pending"))
    )
    .set(invitations::expires_at.eq(expires_at))
    .returning(InvitationRow::as_returning())
    .get_result(conn)
    .await
    .optional()?))
}

/// Accepts a pending invitation exactly once: the status moves from
/// `pending` to `accepted` in a conditional update, and the membership (and
/// team memberships) are created in the same transaction, under the
/// organization's lock and within its membership limit; any refusal rolls
/// the whole back, the invitation included.
pub async fn accept_invitation(
    db: &Db,
    id: &str,
    now: NaiveDateTime,
    member: &MemberRow,
    teams: &[TeamSeat],
    membership_limit: i64,
) -> Result<InvitationRow, TxError> {
    with_conn!(db, |conn| {
        in_transaction!(conn, {
            let accepted: Option<InvitationRow> = diesel::update(
                invitations::table
                    .find(id)
                    .filter(invitations::status.eq("pending"))
                    .filter(invitations::expires_at.gt(now)),
            )
            .set(invitations::status.eq("accepted"))
            .returning(InvitationRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
            let Some(accepted) = accepted else {
                return refuse(Refused::NotPending);
            };
            if !lock_org!(conn, &member.organization_id) {
                return refuse(Refused::OrganizationGone);
            }
            insert_member_locked!(conn, member, teams, membership_limit);
            Ok::<_, TxError>(accepted)
        })
    })
}

// ---- teams ----

pub async fn find_team(
    db: &Db,
    team_id: &str,
    org_id: Option<&str>,
) -> Result<Option<TeamRow>, StorageError> {
    with_conn!(db, |conn| {
        let q = teams::table.find(team_id).into_boxed();
        let q = match org_id {
            Some(o) => q.filter(teams::organization_id.eq(o)),
            None => q,
        };
        Ok(q.select(TeamRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
}

pub async fn list_teams(db: &Db, org_id: &str) -> Result<Vec<TeamRow>, StorageError> {
    with_conn!(db, |conn| Ok(teams::table
        .filter(teams::organization_id.eq(org_id))
        .order((teams::created_at.asc(), teams::id.asc()))
        .select(TeamRow::as_select())
        .load(conn)
        .await?))
}

pub async fn insert_team(db: &Db, row: &TeamRow) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::insert_into(teams::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn rename_team(
    db: &Db,
    team_id: &str,
    name: Option<&str>,
    now: NaiveDateTime,
) -> Result<Option<TeamRow>, StorageError> {
    with_conn!(db, |conn| {
        let target = teams::table.find(team_id);
        let row = match name {
            Some(n) => diesel::update(target)
                .set((teams::name.eq(n), teams::updated_at.eq(Some(now))))
                .returning(TeamRow::as_returning())
                .get_result(conn)
                .await
                .optional()?,
            None => diesel::update(target)
                .set(teams::updated_at.eq(Some(now)))
                .returning(TeamRow::as_returning())
                .get_result(conn)
                .await
                .optional()?,
        };
        Ok(row)
    })
}

/// Removes a team, its memberships, its id from pending invitations, and
/// it from the sessions that had it active.
pub async fn delete_team(db: &Db, team: &TeamRow) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        in_transaction!(conn, {
            diesel::delete(team_members::table.filter(team_members::team_id.eq(&team.id)))
                .execute(conn)
                .await?;
            diesel::delete(teams::table.find(&team.id))
                .execute(conn)
                .await?;
            diesel::update(sessions::table.filter(sessions::active_team_id.eq(&team.id)))
                .set(sessions::active_team_id.eq(None::<String>))
                .execute(conn)
                .await?;
            let pending: Vec<(String, Option<String>)> = invitations::table
                .filter(invitations::organization_id.eq(&team.organization_id))
                .filter(invitations::status.eq("pending"))
                .filter(invitations::team_id.is_not_null())
                .select((invitations::id, invitations::team_id))
                .load(conn)
                .await?;
            for (id, ids) in pending {
                let ids = ids.unwrap_or_default();
                let list: Vec<&str> = ids.split(',').collect();
                if !list.contains(&team.id.as_str()) {
                    continue;
                }
                let rest: Vec<&str> = list.into_iter().filter(|t| *t != team.id).collect();
                let rest = (!rest.is_empty()).then(|| rest.join(","));
                diesel::update(invitations::table.find(&id))
                    .set(invitations::team_id.eq(rest))
                    .execute(conn)
                    .await?;
            }
            Ok::<_, StorageError>(())
        })
    })
}

pub async fn find_team_member(
    db: &Db,
    team_id: &str,
    user_id: &str,
) -> Result<Option<TeamMemberRow>, StorageError> {
    with_conn!(db, |conn| Ok(team_members::table
        .filter(team_members::team_id.eq(team_id))
        .filter(team_members::user_id.eq(user_id))
        .select(TeamMemberRow::as_select())
        .first(conn)
        .await
        .optional()?))
}

pub async fn list_team_members(db: &Db, team_id: &str) -> Result<Vec<TeamMemberRow>, StorageError> {
    with_conn!(db, |conn| Ok(team_members::table
        .filter(team_members::team_id.eq(team_id))
        .order((team_members::created_at.asc(), team_members::id.asc()))
        .select(TeamMemberRow::as_select())
        .load(conn)
        .await?))
}

/// The teams a user is in, with their organization id.
pub async fn list_teams_of_user(db: &Db, user_id: &str) -> Result<Vec<TeamRow>, StorageError> {
    with_conn!(db, |conn| {
        let ids = team_members::table
            .filter(team_members::user_id.eq(user_id))
            .select(team_members::team_id);
        Ok(teams::table
            .filter(teams::id.eq_any(ids))
            .order((teams::created_at.asc(), teams::id.asc()))
            .select(TeamRow::as_select())
            .load(conn)
            .await?)
    })
}

/// Adds a user to a team within its seat limit; an existing membership is
/// returned as it is (`false`: nothing was added).
pub async fn add_team_member(db: &Db, seat: &TeamSeat) -> Result<(TeamMemberRow, bool), TxError> {
    if let Some(existing) = find_team_member(db, &seat.row.team_id, &seat.row.user_id).await? {
        return Ok((existing, false));
    }
    let added = with_conn!(db, |conn| {
        in_transaction!(conn, {
            if !reserve_seat!(conn, &seat.row.team_id, seat.maximum) {
                let exists: i64 = teams::table
                    .find(&seat.row.team_id)
                    .count()
                    .get_result(conn)
                    .await?;
                return refuse(if exists == 0 {
                    Refused::TeamGone
                } else {
                    Refused::TeamMemberLimit
                });
            }
            let already: i64 = team_members::table
                .filter(team_members::team_id.eq(&seat.row.team_id))
                .filter(team_members::user_id.eq(&seat.row.user_id))
                .count()
                .get_result(conn)
                .await?;
            if already > 0 {
                // A concurrent add won: give the seat back (roll back).
                return refuse(Refused::AlreadyMember);
            }
            diesel::insert_into(team_members::table)
                .values(&seat.row)
                .execute(conn)
                .await?;
            Ok::<_, TxError>(())
        })
    });
    match added {
        Ok(()) => Ok((seat.row.clone(), true)),
        Err(TxError::Refused(Refused::AlreadyMember)) => {
            find_team_member(db, &seat.row.team_id, &seat.row.user_id)
                .await?
                .map(|row| (row, false))
                .ok_or(TxError::Refused(Refused::MemberGone))
        }
        Err(e) => Err(e),
    }
}

/// Removes a user from a team, frees the seat and clears the team from the
/// user's sessions; false when the user was not in it.
pub async fn remove_team_member(
    db: &Db,
    team_id: &str,
    user_id: &str,
) -> Result<bool, StorageError> {
    with_conn!(db, |conn| {
        in_transaction!(conn, {
            let n = diesel::delete(
                team_members::table
                    .filter(team_members::team_id.eq(team_id))
                    .filter(team_members::user_id.eq(user_id)),
            )
            .execute(conn)
            .await?;
            if n > 0 {
                release_seat!(conn, team_id);
                diesel::update(
                    sessions::table
                        .filter(sessions::user_id.eq(user_id))
                        .filter(sessions::active_team_id.eq(team_id)),
                )
                .set(sessions::active_team_id.eq(None::<String>))
                .execute(conn)
                .await?;
            }
            Ok::<_, StorageError>(n > 0)
        })
    })
}

/// Sets (or clears) a team member's team-scoped role.
pub async fn set_team_member_role(
    db: &Db,
    team_id: &str,
    user_id: &str,
    role: Option<&str>,
) -> Result<Option<TeamMemberRow>, StorageError> {
    with_conn!(db, |conn| Ok(diesel::update(
        team_members::table
            .filter(team_members::team_id.eq(team_id))
            .filter(team_members::user_id.eq(user_id))
    )
    .set(team_members::role.eq(role))
    .returning(TeamMemberRow::as_returning())
    .get_result(conn)
    .await
    .optional()?))
}

// ---- stored roles (dynamic access control) ----

pub async fn list_roles(db: &Db, org_id: &str) -> Result<Vec<RoleRow>, StorageError> {
    with_conn!(db, |conn| Ok(organization_roles::table
        .filter(organization_roles::organization_id.eq(org_id))
        .order((
            organization_roles::created_at.asc(),
            organization_roles::id.asc()
        ))
        .select(RoleRow::as_select())
        .load(conn)
        .await?))
}

/// A stored role of an organization, by name or by id.
pub async fn find_role(
    db: &Db,
    org_id: &str,
    name: Option<&str>,
    id: Option<&str>,
) -> Result<Option<RoleRow>, StorageError> {
    with_conn!(db, |conn| {
        let q = organization_roles::table
            .filter(organization_roles::organization_id.eq(org_id))
            .into_boxed();
        let q = match (name, id) {
            (Some(n), _) => q.filter(organization_roles::role.eq(n)),
            (None, Some(i)) => q.filter(organization_roles::id.eq(i)),
            (None, None) => return Ok(None),
        };
        Ok(q.select(RoleRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
}

pub async fn count_roles(db: &Db, org_id: &str) -> Result<i64, StorageError> {
    with_conn!(db, |conn| Ok(organization_roles::table
        .filter(organization_roles::organization_id.eq(org_id))
        .count()
        .get_result(conn)
        .await?))
}

/// Stores a role; a taken name is a unique violation.
pub async fn insert_role(db: &Db, row: &RoleRow) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::insert_into(organization_roles::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Renames and/or re-permissions a stored role; a taken name is a unique violation.
pub async fn update_role(
    db: &Db,
    id: &str,
    name: Option<&str>,
    permission: Option<&str>,
    now: NaiveDateTime,
) -> Result<Option<RoleRow>, StorageError> {
    #[derive(AsChangeset)]
    #[diesel(table_name = organization_roles)]
    struct Changes<'a> {
        role: Option<&'a str>,
        permission: Option<&'a str>,
        updated_at: Option<NaiveDateTime>,
    }
    let changes = Changes {
        role: name,
        permission,
        updated_at: Some(now),
    };
    with_conn!(db, |conn| Ok(diesel::update(
        organization_roles::table.find(id)
    )
    .set(&changes)
    .returning(RoleRow::as_returning())
    .get_result(conn)
    .await
    .optional()?))
}

/// Deletes a stored role unless a member of the organization holds it
/// (checked under the organization's lock); false when it was held.
pub async fn delete_role(db: &Db, role: &RoleRow) -> Result<bool, TxError> {
    with_conn!(db, |conn| {
        in_transaction!(conn, {
            if !lock_org!(conn, &role.organization_id) {
                return refuse(Refused::OrganizationGone);
            }
            if count_with_role!(conn, &role.organization_id, role.role.as_str()) > 0 {
                return Ok(false);
            }
            let org_teams = teams::table
                .filter(teams::organization_id.eq(&role.organization_id))
                .select(teams::id);
            let team_roles: Vec<Option<String>> = team_members::table
                .filter(team_members::team_id.eq_any(org_teams))
                .filter(team_members::role.is_not_null())
                .select(team_members::role)
                .load(conn)
                .await?;
            if team_roles
                .iter()
                .flatten()
                .any(|r| super::access::role_names(r).any(|n| n == role.role))
            {
                return Ok(false);
            }
            diesel::delete(organization_roles::table.find(&role.id))
                .execute(conn)
                .await?;
            Ok::<_, TxError>(true)
        })
    })
}

// ---- the session's active organization and team ----

/// `(activeOrganizationId, activeTeamId)` of a session.
pub async fn active_ids(
    db: &Db,
    session_id: &str,
) -> Result<(Option<String>, Option<String>), StorageError> {
    with_conn!(db, |conn| Ok(sessions::table
        .find(session_id)
        .select((sessions::active_organization_id, sessions::active_team_id))
        .first(conn)
        .await
        .optional()?
        .unwrap_or((None, None))))
}

pub async fn set_active_org(
    db: &Db,
    session_id: &str,
    org_id: Option<&str>,
) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::update(sessions::table.find(session_id))
            .set(sessions::active_organization_id.eq(org_id))
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn set_active_team(
    db: &Db,
    session_id: &str,
    team_id: Option<&str>,
) -> Result<(), StorageError> {
    with_conn!(db, |conn| {
        diesel::update(sessions::table.find(session_id))
            .set(sessions::active_team_id.eq(team_id))
            .execute(conn)
            .await?;
        Ok(())
    })
}
