//! The `[jwt]` configuration section (Better Auth's `jwt`, `jwks` and
//! `keyPairConfig` options, flattened, in snake_case).

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};

use super::keys::{Alg, KeyRing};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwtSettings {
    /// `EdDSA` (Ed25519, the default), `ES256` or `RS256`.
    pub alg: Alg,
    /// Lifetime of an issued token: seconds, or a string such as `"15m"`, `"1h"`.
    #[serde(deserialize_with = "seconds")]
    pub expiration_time: i64,
    /// `iss`; the base URL's origin when unset.
    pub issuer: Option<String>,
    /// `aud`; the base URL's origin when unset.
    pub audience: Option<String>,
    /// A new signing key after this long (seconds or `"30d"`); 0: never.
    #[serde(deserialize_with = "seconds")]
    pub rotation_interval: i64,
    /// How long a rotated-out key stays in `/jwks` and still verifies.
    #[serde(deserialize_with = "seconds")]
    pub grace_period: i64,
    /// No `set-auth-jwt` header on `get-session`.
    pub disable_setting_jwt_header: bool,
    /// The keys, cached from the database.
    #[serde(skip)]
    pub keys: Arc<KeyRing>,
}

impl Default for JwtSettings {
    fn default() -> Self {
        JwtSettings {
            alg: Alg::EdDsa,
            expiration_time: 15 * 60,
            issuer: None,
            audience: None,
            rotation_interval: 0,
            grace_period: 30 * 24 * 3600,
            disable_setting_jwt_header: false,
            keys: Arc::default(),
        }
    }
}

impl JwtSettings {
    pub fn check(self) -> Result<Self, String> {
        if self.expiration_time <= 0 {
            return Err("expiration_time must be positive".into());
        }
        if self.rotation_interval < 0 || self.grace_period < 0 {
            return Err("rotation_interval and grace_period cannot be negative".into());
        }
        Ok(self)
    }
}

/// Seconds from an integer or a duration string (`30s`, `15m`, `2h`, `7d`, `1w`).
fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(i64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Int(n) => Ok(n),
        Raw::Text(s) => parse_duration(&s).map_err(serde::de::Error::custom),
    }
}

pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 900, \"15m\", \"1h\", \"30d\")"))?;
    let factor = match unit.trim() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 7 * 86_400,
        other => return Err(format!("unknown duration unit {other:?} in {s:?}")),
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("duration {s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("900"), Ok(900));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert_eq!(parse_duration("30d"), Ok(2_592_000));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("m").is_err());
    }
}
