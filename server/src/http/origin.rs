//! Trusted-origin matching (Better Auth's rules): exact origin equality for
//! http(s), `*`/`?` globs, relative paths for callback URLs only.

/// The configured set of trusted origins (the base URL's origin included).
#[derive(Debug, Clone)]
pub struct TrustedOrigins {
    patterns: Vec<String>,
}

impl TrustedOrigins {
    pub fn new(base_origin: String, extra: &[String]) -> Self {
        let mut patterns = vec![base_origin];
        patterns.extend(extra.iter().map(|s| s.trim_end_matches('/').to_string()));
        TrustedOrigins { patterns }
    }

    /// The origin of the base URL, parsed once at start.
    pub fn base_origin(&self) -> &str {
        &self.patterns[0]
    }

    /// Is this `Origin` header value trusted?
    pub fn is_trusted_origin(&self, origin: &str) -> bool {
        self.matches(origin, false)
    }

    /// Is this callback / redirect URL allowed (relative paths accepted)?
    pub fn is_trusted_url(&self, url: &str) -> bool {
        self.matches(url, true)
    }

    fn matches(&self, candidate: &str, allow_relative: bool) -> bool {
        if candidate.starts_with('/') {
            return allow_relative && is_safe_relative(candidate);
        }
        let parsed = url::Url::parse(candidate).ok();
        self.patterns.iter().any(|pattern| match &parsed {
            Some(u) if pattern.contains('*') || pattern.contains('?') => {
                let target = if pattern.contains("://") {
                    u.origin().ascii_serialization()
                } else {
                    host_port(u)
                };
                glob_match(pattern, &target)
            }
            Some(u) if matches!(u.scheme(), "http" | "https") => {
                u.origin().ascii_serialization() == *pattern
            }
            Some(u) => custom_scheme_match(pattern, u),
            None => false,
        })
    }
}

fn host_port(u: &url::Url) -> String {
    match (u.host_str(), u.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

/// `myapp://callback` style URLs: same scheme, same authority, path nested.
fn custom_scheme_match(pattern: &str, u: &url::Url) -> bool {
    let Ok(p) = url::Url::parse(pattern) else {
        return false;
    };
    if p.scheme() != u.scheme() {
        return false;
    }
    if p.host_str().is_some()
        && !p
            .host_str()
            .unwrap_or("")
            .eq_ignore_ascii_case(u.host_str().unwrap_or(""))
    {
        return false;
    }
    let base = p.path().trim_end_matches('/');
    base.is_empty() || u.path() == base || u.path().starts_with(&format!("{base}/"))
}

/// Relative URLs must stay on this origin: no `//host`, no backslashes,
/// no control characters, no encoded slashes.
fn is_safe_relative(path: &str) -> bool {
    if path.starts_with("//") || path.contains('\\') || path.chars().any(char::is_control) {
        return false;
    }
    let lower = path
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    !(lower.contains("%2f") || lower.contains("%5c"))
}

/// `*` matches any run except `/`, `**` any run, `?` one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some(b'*') if p.get(1) == Some(&b'*') => (0..=t.len()).any(|i| go(&p[2..], &t[i..])),
            Some(b'*') => {
                let mut i = 0;
                loop {
                    if go(&p[1..], &t[i..]) {
                        return true;
                    }
                    if i == t.len() || t[i] == b'/' || t[i] == b'\\' {
                        return false;
                    }
                    i += 1;
                }
            }
            Some(b'?') => !t.is_empty() && t[0] != b'/' && go(&p[1..], &t[1..]),
            Some(c) => t.first().is_some_and(|x| x.eq_ignore_ascii_case(c)) && go(&p[1..], &t[1..]),
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins() -> TrustedOrigins {
        TrustedOrigins::new(
            "http://localhost:3000".into(),
            &["https://*.example.com".into(), "myapp://".into()],
        )
    }

    #[test]
    fn exact_and_glob() {
        let o = origins();
        assert!(o.is_trusted_origin("http://localhost:3000"));
        assert!(!o.is_trusted_origin("http://localhost:3001"));
        assert!(o.is_trusted_origin("https://app.example.com"));
        assert!(!o.is_trusted_origin("https://example.com.evil.net"));
        assert!(!o.is_trusted_origin("http://app.example.com"));
        assert!(o.is_trusted_url("myapp://callback/x"));
    }

    #[test]
    fn relative_urls() {
        let o = origins();
        assert!(o.is_trusted_url("/dashboard?x=1"));
        assert!(!o.is_trusted_origin("/dashboard"));
        assert!(!o.is_trusted_url("//evil.com/x"));
        assert!(!o.is_trusted_url("/\\evil.com"));
        assert!(!o.is_trusted_url("/a%2F%2Fevil.com"));
        assert!(!o.is_trusted_url("https://evil.com/cb"));
    }
}
