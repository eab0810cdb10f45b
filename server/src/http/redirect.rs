//! Every `Location` the server writes is built here: the target is parsed,
//! query parameters go before any fragment, and the normalised form is
//! written, never the raw input (`http://host\@evil.com` becomes
//! `http://host/@evil.com`, which is where a browser would go anyway).

use url::Url;

/// Stands in for the origin while a relative target is parsed.
const RELATIVE_BASE: &str = "http://relative.invalid";

/// The `Location` for `target` (absolute, or a path starting with `/`) with
/// `query` appended. `None` when the target does not parse as a URL.
pub fn location(target: &str, query: &[(&str, &str)]) -> Option<String> {
    let relative = target.starts_with('/') && !target.starts_with("//");
    let mut url = if relative {
        Url::parse(RELATIVE_BASE).ok()?.join(target).ok()?
    } else {
        Url::parse(target).ok()?
    };
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in query {
            pairs.append_pair(k, v);
        }
    }
    if relative {
        if url.origin() != Url::parse(RELATIVE_BASE).ok()?.origin() {
            return None;
        }
        Some(url.as_str()[RELATIVE_BASE.len()..].to_string())
    } else {
        Some(url.into())
    }
}

#[cfg(test)]
mod tests {
    use super::location;

    #[test]
    fn query_goes_before_the_fragment() {
        assert_eq!(
            location("/ok#x", &[("error", "INVALID_TOKEN")]).as_deref(),
            Some("/ok?error=INVALID_TOKEN#x")
        );
        assert_eq!(
            location("https://app.example.com/cb?a=1#frag", &[("error", "E")]).as_deref(),
            Some("https://app.example.com/cb?a=1&error=E#frag")
        );
    }

    #[test]
    fn raw_input_is_normalised() {
        assert_eq!(
            location("http://HOST\\@evil.com", &[]).as_deref(),
            Some("http://host/@evil.com")
        );
        assert_eq!(location("/a b", &[]).as_deref(), Some("/a%20b"));
        assert_eq!(location("/", &[]).as_deref(), Some("/"));
        assert_eq!(location("/x/../y", &[]).as_deref(), Some("/y"));
    }

    #[test]
    fn relative_targets_stay_relative_and_on_this_site() {
        assert_eq!(location("/welcome", &[]).as_deref(), Some("/welcome"));
        // A backslash is a slash to browsers: this would leave the site.
        assert_eq!(location("/\\evil.com", &[]), None);
        assert_eq!(location("not a url", &[]), None);
    }
}
