//! HTTP concerns that wrap every route: the request pipeline (path
//! canonicalisation, rate limits, body rules, origin checks, error shape),
//! cookies, client IP, trusted origins, redirects; and the server loop
//! with its connection limits.

pub mod body_schema;
pub mod client_ip;
pub mod context;
pub mod cookies;
pub mod origin;
pub mod pipeline;
pub mod rate_limit;
pub mod redirect;
pub mod server;
