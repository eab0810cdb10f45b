//! HTTP concerns that wrap every route: the request pipeline (path
//! canonicalisation, rate limits, body rules, origin checks, error shape),
//! cookies, client IP, trusted origins, redirects; and the server loop
//! with its connection limits.

pub mod body_schema;
pub mod client_ip;
pub mod context;
pub mod cookies;
pub mod metrics;
pub mod origin;
pub mod outbound;
pub mod pipeline;
pub mod rate_limit;
pub mod redirect;
pub mod server;
pub mod webhook;

/// Adds `name` to `Access-Control-Expose-Headers`, so that browser clients
/// can read a header a plugin sets (`set-auth-token`, `set-auth-jwt`).
pub fn expose_header(resp: &mut poem::Response, name: &str) {
    let expose = match resp
        .headers()
        .get("access-control-expose-headers")
        .and_then(|v| v.to_str().ok())
    {
        Some(existing) if !existing.is_empty() => format!("{existing}, {name}"),
        _ => name.to_string(),
    };
    if let Ok(v) = expose.parse() {
        resp.headers_mut()
            .insert("access-control-expose-headers", v);
    }
}
