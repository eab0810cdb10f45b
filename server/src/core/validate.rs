//! Input rules shared by core routes and plugins.

use crate::error::{codes, ApiError};
use crate::state::AppState;

/// A pragmatic email check: one `@`, a non-empty local part, a dotted domain,
/// no whitespace or control characters, at most 254 characters.
pub fn is_valid_email(email: &str) -> bool {
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// Length in UTF-16 code units, as JavaScript counts (Better Auth's limits).
pub fn js_length(s: &str) -> usize {
    s.encode_utf16().count()
}

pub fn check_password_length(state: &AppState, password: &str) -> Result<(), ApiError> {
    let len = js_length(password);
    let cfg = &state.config.email_and_password;
    if len < cfg.min_password_length {
        return Err(ApiError::new(codes::PASSWORD_TOO_SHORT));
    }
    if len > cfg.max_password_length {
        return Err(ApiError::new(codes::PASSWORD_TOO_LONG));
    }
    Ok(())
}

/// Rejects over-long free-text fields with Better Auth's validation message shape.
pub fn check_field_length(state: &AppState, field: &str, value: &str) -> Result<(), ApiError> {
    let max = state.config.user.max_field_length;
    if js_length(value) > max {
        return Err(ApiError::validation(format!(
            "[body.{field}] Too big: expected string to have <={max} characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(is_valid_email("alice@example.com"));
        assert!(!is_valid_email("nope"));
        assert!(!is_valid_email("a@b"));
        assert!(!is_valid_email("a b@example.com"));
        assert!(!is_valid_email("@example.com"));
        assert!(!is_valid_email(&format!("{}@example.com", "a".repeat(300))));
    }

    #[test]
    fn js_lengths() {
        assert_eq!(js_length("abc"), 3);
        assert_eq!(js_length("😀"), 2);
    }
}
