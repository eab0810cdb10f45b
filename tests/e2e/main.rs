//! End-to-end tests: the real server over real HTTP. Every scenario runs on
//! SQLite and, when `GATEHOUSE_TEST_POSTGRES_URL` is set, on PostgreSQL.

mod admin;
mod anonymous;
mod api_key;
mod change_email;
mod connections;
mod cookie_cache;
mod delete_confirmation;
mod email_otp;
mod email_password;
mod email_verification;
mod http_rules;
mod jwt;
mod library;
mod magic_link;
mod multi_session;
mod oauth_grants;
mod oauth_provider;
mod oauth_rp;
mod organization;
mod ownership;
mod passkey;
mod password_reset;
mod phone_number;
mod plugins;
mod redirects;
mod sessions;
mod shared_rate_limit;
mod social;
mod social_quirks;
mod startup;
mod two_factor;
mod user_account;
