//! Built-in routes: email/password, sessions, the user's own account, and
//! the small public endpoints (`ok`, `error`, `plugins`).

pub mod auth;
pub mod change_email;
pub mod cookie_cache;
pub mod dto;
pub mod email_verification;
pub mod links;
pub mod ownership;
pub mod password_reset;
pub mod routes;
pub mod session;
pub mod user;
pub mod validate;
