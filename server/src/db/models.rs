//! Row types: what storage reads and writes. Wire types live in `core::dto`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{accounts, sessions, users};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: String,
    pub expires_at: NaiveDateTime,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub user_id: String,
}

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts)]
pub struct AccountRow {
    pub id: String,
    pub account_id: String,
    pub provider_id: String,
    pub user_id: String,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub access_token_expires_at: Option<NaiveDateTime>,
    pub refresh_token_expires_at: Option<NaiveDateTime>,
    pub scope: Option<String>,
    pub password: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl UserRow {
    /// A user whose address was proven by a mailed link or code (magic link,
    /// email OTP): verified, and without a password.
    pub fn verified(email: String, name: String, now: NaiveDateTime) -> Self {
        UserRow {
            id: crate::crypto::token::new_id(),
            name,
            email,
            email_verified: true,
            image: None,
            created_at: now,
            updated_at: now,
        }
    }
}

impl AccountRow {
    /// The email/password account of a user: provider `credential`,
    /// `accountId` = the user id (Better Auth's convention).
    pub fn credential(user_id: &str, password_hash: String, now: NaiveDateTime) -> Self {
        AccountRow {
            id: crate::crypto::token::new_id(),
            account_id: user_id.to_string(),
            provider_id: "credential".into(),
            user_id: user_id.to_string(),
            access_token: None,
            refresh_token: None,
            id_token: None,
            access_token_expires_at: None,
            refresh_token_expires_at: None,
            scope: None,
            password: Some(password_hash),
            created_at: now,
            updated_at: now,
        }
    }
}

// Tokens and password hashes never reach a log line.
impl std::fmt::Debug for AccountRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRow")
            .field("id", &self.id)
            .field("provider_id", &self.provider_id)
            .field("user_id", &self.user_id)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}
