//! Cookie names and `Set-Cookie` serialisation, byte-compatible with Better
//! Auth: values are `encodeURIComponent`-encoded, attributes in its order.

use std::collections::HashMap;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::config::Config;
use crate::crypto::sign;

/// Characters `encodeURIComponent` leaves alone: `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

pub fn encode_uri_component(s: &str) -> String {
    utf8_percent_encode(s, URI_COMPONENT).to_string()
}

/// The runtime cookie names (prefix and `__Secure-` depend on config).
#[derive(Debug, Clone)]
pub struct CookieNames {
    pub session_token: String,
    pub session_data: String,
    pub dont_remember: String,
    pub prefix: String,
    pub secure: bool,
}

impl CookieNames {
    pub fn new(config: &Config) -> Self {
        let mut names = CookieNames {
            session_token: String::new(),
            session_data: String::new(),
            dont_remember: String::new(),
            prefix: config.cookies.prefix.clone(),
            secure: config.secure_cookies(),
        };
        names.session_token = names.name("session_token");
        names.session_data = names.name("session_data");
        names.dont_remember = names.name("dont_remember");
        names
    }

    /// A cookie's full name: `<prefix>.<suffix>`, `__Secure-` prefixed on
    /// https (Better Auth's scheme). Plugins name their cookies with it.
    pub fn name(&self, suffix: &str) -> String {
        let base = format!("{}.{}", self.prefix, suffix);
        if self.secure {
            format!("__Secure-{base}")
        } else {
            base
        }
    }

    /// `name=value; Max-Age=..; Path=/; HttpOnly; [Secure; ]SameSite=Lax`.
    pub fn set_cookie(&self, name: &str, value: &str, max_age: Option<i64>) -> String {
        let mut s = format!("{name}={}", encode_uri_component(value));
        if let Some(age) = max_age {
            s.push_str(&format!("; Max-Age={age}"));
        }
        s.push_str("; Path=/; HttpOnly");
        if self.secure {
            s.push_str("; Secure");
        }
        s.push_str("; SameSite=Lax");
        s
    }

    /// The signed session cookie; no Max-Age when the user chose not to be remembered.
    pub fn session_cookie(&self, secret: &str, token: &str, max_age: Option<i64>) -> String {
        self.set_cookie(
            &self.session_token,
            &sign::sign_value(secret, token),
            max_age,
        )
    }

    pub fn dont_remember_cookie(&self, secret: &str) -> String {
        self.set_cookie(&self.dont_remember, &sign::sign_value(secret, "true"), None)
    }

    pub fn expire(&self, name: &str) -> String {
        self.set_cookie(name, "", Some(0))
    }

    /// Expiry of every session cookie (sign-out, expired session).
    pub fn expire_session(&self) -> Vec<String> {
        vec![
            self.expire(&self.session_token),
            self.expire(&self.session_data),
            self.expire(&self.dont_remember),
        ]
    }
}

/// Parses a `Cookie` header: first occurrence wins, quotes stripped,
/// percent-encoded values decoded.
pub fn parse_cookie_header(headers: &poem::http::HeaderMap) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for header in headers.get_all(poem::http::header::COOKIE) {
        let Ok(text) = header.to_str() else { continue };
        for pair in text.split(';') {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let name = name.trim();
            let mut value = value.trim();
            if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
                value = &value[1..value.len() - 1];
            }
            let value = if value.contains('%') {
                percent_decode_str(value).decode_utf8_lossy().into_owned()
            } else {
                value.to_string()
            };
            out.entry(name.to_string()).or_insert(value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_encode_uri_component() {
        assert_eq!(encode_uri_component("ab+cd/ef=="), "ab%2Bcd%2Fef%3D%3D");
        assert_eq!(encode_uri_component("a.b-c_d!~*'()"), "a.b-c_d!~*'()");
    }

    /// The exact `Set-Cookie` Better Auth 1.7.5 sent in its observed sign-up.
    #[test]
    fn matches_observed_better_auth_set_cookie() {
        let config = Config::default();
        let names = CookieNames::new(&config);
        let line = names.set_cookie(
            &names.session_token,
            "DZMkRywHx5Y2hXdRZIjKOcRRYXowoLZn.dg7Np6X8/iTmPQqQqZGXM2HlIug71nP1F1oEQPW1vA4=",
            Some(604800),
        );
        assert_eq!(
            line,
            "better-auth.session_token=DZMkRywHx5Y2hXdRZIjKOcRRYXowoLZn.dg7Np6X8%2FiTmPQqQqZGXM2HlIug71nP1F1oEQPW1vA4%3D; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn secure_base_url_prefixes_names() {
        let config = Config {
            base_url: Some("https://auth.example.com".into()),
            ..Config::default()
        };
        let names = CookieNames::new(&config);
        assert_eq!(names.session_token, "__Secure-better-auth.session_token");
        assert!(names
            .set_cookie("x", "y", None)
            .contains("; Secure; SameSite=Lax"));
    }

    #[test]
    fn cookie_header_parsing() {
        let mut h = poem::http::HeaderMap::new();
        h.insert("cookie", "a=1; b=%2Bx%3D; a=2; c=\"q\"".parse().unwrap());
        let c = parse_cookie_header(&h);
        assert_eq!(c["a"], "1");
        assert_eq!(c["b"], "+x=");
        assert_eq!(c["c"], "q");
    }
}
