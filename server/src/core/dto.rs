//! Wire types (camelCase JSON), apart from the storage rows.

use std::borrow::Cow;

use chrono::NaiveDateTime;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use poem_openapi::Object;
use serde_json::{Map, Value};

use crate::db::models::{SessionRow, UserRow};
use crate::plugin::SignInChallenge;

/// ISO-8601 UTC with milliseconds, as JavaScript's `toISOString()`.
///
/// Written out by hand: every user and session on the wire carries two or
/// three of these, and chrono's `format` re-parses its pattern each time
/// (a few per cent of a `get-session` answer under load).
pub fn iso(ts: NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    let year = ts.year();
    if !(0..=9999).contains(&year) {
        return ts.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    let nanos = ts.nanosecond();
    // chrono keeps a leap second as nanoseconds past 1e9 of second 59.
    let second = ts.second() + u32::from(nanos >= 1_000_000_000);
    let millis = nanos % 1_000_000_000 / 1_000_000;
    let mut out = String::with_capacity(24);
    let mut push = |n: u32, width: u32, sep: Option<char>| {
        for place in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u32.pow(place) % 10) as u8));
        }
        if let Some(c) = sep {
            out.push(c);
        }
    };
    push(year as u32, 4, Some('-'));
    push(ts.month(), 2, Some('-'));
    push(ts.day(), 2, Some('T'));
    push(ts.hour(), 2, Some(':'));
    push(ts.minute(), 2, Some(':'));
    push(second, 2, Some('.'));
    push(millis, 3, Some('Z'));
    out
}

// `Serialize` writes the same members as the wire object, for payloads built
// without a JSON tree (the jwt plugin's claims). A plain comment: doc comments
// here become the spec's description of `User`.
/// A user; enabled plugins add their own fields.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "User", rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct UserCore {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    /// ISO-8601 date-time.
    pub created_at: String,
    /// ISO-8601 date-time.
    pub updated_at: String,
}

impl From<&UserRow> for UserCore {
    fn from(u: &UserRow) -> Self {
        UserCore {
            id: u.id.clone(),
            name: u.name.clone(),
            email: u.email.clone(),
            email_verified: u.email_verified,
            image: u.image.clone(),
            created_at: iso(u.created_at),
            updated_at: iso(u.updated_at),
        }
    }
}

/// A session; enabled plugins add their own fields. `token` is the secret
/// for the caller's own session only; other sessions carry an opaque handle
/// that `revoke-session` accepts.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Session", rename_all = "camelCase")]
pub struct SessionCore {
    pub id: String,
    pub token: String,
    pub user_id: String,
    pub expires_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// The session object on the wire: core fields plus plugin fields.
pub type SessionDto = WithPluginFields<SessionCore>;

impl SessionDto {
    /// The core fields of `row`, without plugin fields.
    pub fn from_row(row: &SessionRow, token: String) -> Self {
        Self::new(SessionCore {
            id: row.id.clone(),
            token,
            user_id: row.user_id.clone(),
            expires_at: iso(row.expires_at),
            created_at: iso(row.created_at),
            updated_at: iso(row.updated_at),
            ip_address: row.ip_address.clone(),
            user_agent: row.user_agent.clone(),
        })
    }

    /// With the plugin fields loaded alongside the session.
    pub fn with_fields(mut self, fields: &Map<String, Value>) -> Self {
        self.extra = fields.clone();
        self
    }
}

/// An object whose schema plugins extend (user or session fields): the
/// typed core plus any extra JSON members (kept on input, merged on output).
#[derive(Debug, Clone)]
pub struct WithPluginFields<T> {
    pub core: T,
    pub extra: Map<String, Value>,
}

impl<T> WithPluginFields<T> {
    pub fn new(core: T) -> Self {
        WithPluginFields {
            core,
            extra: Map::new(),
        }
    }
}

impl<T: Type> Type for WithPluginFields<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    /// Registers `T`, then adds the fields of the plugins enabled in the
    /// current build scope (session fields to `Session`, user fields to
    /// `User` and to the bodies that carry them), so the spec matches the
    /// registered plugins.
    fn register(registry: &mut Registry) {
        T::register(registry);
        if let Some(schema) = registry.schemas.get_mut(T::name().as_ref()) {
            let fields = if T::name() == SessionCore::name() {
                crate::plugin::active_session_field_schemas()
            } else {
                crate::plugin::active_user_field_schemas(T::name() != UserCore::name())
            };
            for (name, field) in fields {
                if !schema.properties.iter().any(|(n, _)| *n == name) {
                    schema.properties.push((name, field));
                }
            }
        }
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl<T: ParseFromJSON> ParseFromJSON for WithPluginFields<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let extra = match &value {
            Some(Value::Object(map)) => map.clone(),
            _ => Map::new(),
        };
        let core = T::parse_from_json(value).map_err(ParseError::propagate)?;
        Ok(WithPluginFields { core, extra })
    }
}

impl<T: ToJSON> ToJSON for WithPluginFields<T> {
    fn to_json(&self) -> Option<Value> {
        let mut value = self.core.to_json()?;
        if let Value::Object(map) = &mut value {
            for (k, v) in &self.extra {
                map.insert(k.clone(), v.clone());
            }
        }
        Some(value)
    }
}

/// The user object on the wire: core fields plus plugin fields.
pub type User = WithPluginFields<UserCore>;

/// A JSON value that may be `null` (get-session when signed out); the spec
/// marks it nullable so generated clients model it as optional.
#[derive(Debug, Clone)]
pub struct Nullable<T>(pub Option<T>);

impl<T: Type> Type for Nullable<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        format!("Nullable_{}", T::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            nullable: true,
            all_of: vec![T::schema_ref()],
            ..MetaSchema::ANY
        }))
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl<T: ToJSON> ToJSON for Nullable<T> {
    fn to_json(&self) -> Option<Value> {
        Some(
            self.0
                .as_ref()
                .and_then(ToJSON::to_json)
                .unwrap_or(Value::Null),
        )
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SessionWithUser {
    pub session: SessionDto,
    pub user: User,
}

#[derive(Debug, Clone, Object)]
pub struct StatusResponse {
    pub status: bool,
}

#[derive(Debug, Clone, Object)]
pub struct SuccessResponse {
    pub success: bool,
}

#[derive(Debug, Clone, Object)]
pub struct SuccessMessageResponse {
    pub success: bool,
    pub message: String,
}

/// `{token, user}`: sign-up (`token` null without auto sign-in), change-password.
#[derive(Debug, Clone, Object)]
pub struct TokenUserResponse {
    pub token: Option<String>,
    pub user: User,
}

/// Sign-in result; `url` is present when a callbackURL was given.
#[derive(Debug, Clone, Object)]
pub struct SignInResponse {
    pub redirect: bool,
    pub token: String,
    #[oai(skip_serializing_if_is_none)]
    pub url: Option<String>,
    pub user: User,
}

/// The session part of a sign-in answer, named for the schema of the
/// `oneOf` it forms with the enabled plugins' challenges.
pub trait SignInSession: Type + ToJSON + Clone + Send + Sync {
    /// The result schema's name (`SignInResult`, `PhoneNumberSignInResult`).
    const RESULT_NAME: &'static str;
    const RESULT_DESCRIPTION: &'static str;
}

impl SignInSession for SignInResponse {
    const RESULT_NAME: &'static str = "SignInResult";
    const RESULT_DESCRIPTION: &'static str =
        "What a sign-in answers: a session, or a plugin's challenge (e.g. a second factor).";
}

/// What a password sign-in answers: a session, or the challenge of a plugin
/// that wants more proof first (`Plugin::challenge_password_sign_in`). The
/// schema is `oneOf` the session and the enabled plugins' challenges.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // built once per sign-in; boxing buys nothing
pub enum SignInOutcome<S> {
    Session(S),
    Challenge(SignInChallenge),
}

/// The email and username sign-ins' answer.
pub type SignInResult = SignInOutcome<SignInResponse>;

impl<S: SignInSession> Type for SignInOutcome<S> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        S::RESULT_NAME.into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
        S::register(registry);
        let mut one_of = vec![S::schema_ref()];
        for challenge in crate::plugin::active_plugins()
            .iter()
            .filter_map(|p| p.sign_in_challenge())
        {
            (challenge.register)(registry);
            one_of.push((challenge.schema_ref)());
        }
        registry.schemas.insert(
            Self::name().into_owned(),
            MetaSchema {
                description: Some(S::RESULT_DESCRIPTION),
                one_of,
                ..MetaSchema::new("object")
            },
        );
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl<S: SignInSession> ToJSON for SignInOutcome<S> {
    fn to_json(&self) -> Option<Value> {
        match self {
            SignInOutcome::Session(s) => s.to_json(),
            SignInOutcome::Challenge(c) => Some(c.0.clone()),
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AccountDto {
    pub id: String,
    pub provider_id: String,
    pub account_id: String,
    pub user_id: String,
    pub created_at: String,
    pub updated_at: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Object)]
pub struct OkResponse {
    pub ok: bool,
}

/// What `/ready` checked: `ok`, `unavailable` or `timeout` for each part.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ReadyResponse {
    pub ready: bool,
    pub database: String,
    /// Redis, when configured.
    #[oai(skip_serializing_if_is_none)]
    pub secondary_storage: Option<String>,
}

#[derive(poem_openapi::ApiResponse)]
pub enum ReadyAnswer {
    /// Every part answers.
    #[oai(status = 200)]
    Ready(poem_openapi::payload::Json<ReadyResponse>),
    /// A part does not answer: take this instance out of rotation.
    #[oai(status = 503)]
    NotReady(poem_openapi::payload::Json<ReadyResponse>),
}

#[derive(Debug, Clone, Object)]
pub struct PluginInfo {
    /// Plugin id, Better Auth's plugin name in kebab-case.
    pub id: String,
    pub version: String,
}

#[derive(Debug, Clone, Object)]
pub struct PluginsResponse {
    /// Gatehouse server version.
    pub version: String,
    pub plugins: Vec<PluginInfo>,
}

/// A string or a list of strings (Better Auth's `string | string[]`, e.g. a
/// role or roles), read as the list. Its schema is a plain `oneOf` of the
/// two, which poem-openapi's `Union` cannot emit for non-object variants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OneOrMany(pub Vec<String>);

impl OneOrMany {
    /// The strings, one or many.
    pub fn to_vec(&self) -> Vec<String> {
        self.0.clone()
    }

    /// The comma-joined value (`["a", "b"]` -> `a,b`), as
    /// role lists are stored.
    pub fn joined(&self) -> String {
        self.0.join(",")
    }
}

impl Type for OneOrMany {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "OneOrMany".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            one_of: vec![String::schema_ref(), <Vec<String> as Type>::schema_ref()],
            ..MetaSchema::ANY
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ParseFromJSON for OneOrMany {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let expected = || ParseError::custom("expected a string or an array of strings");
        match value {
            Some(Value::String(s)) => Ok(OneOrMany(vec![s])),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(expected()),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(OneOrMany),
            _ => Err(expected()),
        }
    }
}

impl ToJSON for OneOrMany {
    fn to_json(&self) -> Option<Value> {
        Some(Value::Array(
            self.0.iter().cloned().map(Value::String).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDate};

    use super::iso;

    #[test]
    fn iso_matches_the_chrono_pattern_it_replaces() {
        let pattern = |ts: chrono::NaiveDateTime| ts.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        // Every tenth of a day for 60 years, with varied milliseconds.
        let mut secs: i64 = 0;
        while secs < 60 * 365 * 86_400 {
            let nanos = (secs % 1000) as u32 * 1_000_000 + 987_654;
            let ts = DateTime::from_timestamp(secs, nanos).unwrap().naive_utc();
            assert_eq!(iso(ts), pattern(ts));
            secs += 8_641;
        }
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_milli_opt(23, 59, 59, 1_500)
            .unwrap();
        assert_eq!(iso(leap), "2016-12-31T23:59:60.500Z");
        assert_eq!(iso(leap), pattern(leap));
        let far = NaiveDate::from_ymd_opt(12_345, 1, 2)
            .unwrap()
            .and_hms_opt(3, 4, 5)
            .unwrap();
        assert_eq!(iso(far), pattern(far));
        let early = NaiveDate::from_ymd_opt(7, 8, 9)
            .unwrap()
            .and_hms_opt(1, 2, 3)
            .unwrap();
        assert_eq!(iso(early), "0007-08-09T01:02:03.000Z");
    }
}
