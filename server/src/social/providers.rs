//! The built-in social providers as data: one [`ProviderRecord`] per provider,
//! holding its endpoints, default scopes, token-endpoint authentication, PKCE
//! use and the shape of its profile JSON. The values follow Better Auth
//! 1.7.25's `social-providers/<id>` code, so the wire traffic matches.
//!
//! Adding a provider means adding one record to [`PROVIDERS`] (and, only if
//! its profile JSON maps differently from the existing shapes, one
//! [`ProfileShape`] variant). Every URL here is a default: configuration can
//! override each of them per provider (self-hosted GitLab, test doubles, ...).

use serde_json::Value;

/// How the client authenticates at the token endpoint (Better Auth's default
/// for that provider).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAuth {
    /// `client_secret_basic`: an `Authorization: Basic` header.
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
}

/// Which JSON the profile comes in and how it maps to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileShape {
    /// Standard OIDC claims (ID token or userinfo): `sub`, `email`, `email_verified`, `name`, `picture`.
    OidcClaims,
    /// GitHub `/user` plus the `/user/emails` array; numeric `id`; `name || login`.
    GitHub,
    /// Discord `/users/@me`: `verified`, `global_name || username`, avatar URL built from the CDN.
    Discord,
    /// Facebook Graph `/me` (`picture.data.url`), or Limited Login ID-token claims when `sub` is present.
    Facebook,
    /// X `/2/users/me` (`data.*`); the address comes from the second `confirmed_email` call.
    Twitter,
    /// GitLab `/api/v4/user`: numeric `id`; inactive or locked accounts are refused.
    GitLab,
    /// Twitch ID-token claims: the name is `preferred_username`.
    Twitch,
    /// Slack `openid.connect.userInfo`: subject `https://slack.com/user_id`, image fallback `user_image_512`.
    Slack,
    /// LinkedIn `/v2/userinfo`; maps exactly like `OidcClaims` (the built-in record uses `OidcClaims`).
    LinkedIn,
    /// Microsoft Entra ID-token claims: subject `oid`; verified only with evidence.
    Microsoft,
    /// Apple ID-token claims: `email_verified` may be a string; no picture.
    Apple,
}

/// Behaviour that does not fit the plain authorization-code flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quirks {
    /// The provider posts the callback as a form (Apple's response_mode=form_post).
    pub form_post_callback: bool,
    /// The user's name arrives only on the first login, in the callback's `user` form field (Apple).
    pub name_on_first_login_only: bool,
    /// The issuer carries the tenant (Microsoft: https://login.microsoftonline.com/{tenant}/v2.0); `{tenant}` in URLs is replaced by the configured tenant (default "common").
    pub tenant_in_urls: bool,
    /// The verified address comes from a second endpoint (GitHub /user/emails).
    pub emails_endpoint: bool,
}

const NO_QUIRKS: Quirks = Quirks {
    form_post_callback: false,
    name_on_first_login_only: false,
    tenant_in_urls: false,
    emails_endpoint: false,
};

/// One built-in provider.
#[derive(Debug, Clone, Copy)]
pub struct ProviderRecord {
    /// Better Auth's provider id, e.g. "github", "microsoft".
    pub id: &'static str,
    /// Display name (Better Auth's `name`).
    pub name: &'static str,
    pub authorization_url: &'static str,
    pub token_url: &'static str,
    /// None when the ID token carries the profile.
    pub userinfo_url: Option<&'static str>,
    /// The second call that yields the verified address (GitHub's /user/emails, X's `confirmed_email`).
    pub emails_url: Option<&'static str>,
    /// For ID-token verification.
    pub jwks_url: Option<&'static str>,
    /// Accepted `iss` values of its ID tokens (empty: its ID tokens are not used).
    pub issuers: &'static [&'static str],
    pub default_scopes: &'static [&'static str],
    /// " " for most.
    pub scope_separator: &'static str,
    /// Better Auth sends PKCE (S256) for this provider.
    pub pkce: bool,
    /// `signIn.social({provider, idToken})` is supported.
    pub id_token_sign_in: bool,
    /// Sent on every authorization request; a pair replaces the standard
    /// parameter of the same name (Apple's `response_type`).
    pub extra_authorization_params: &'static [(&'static str, &'static str)],
    pub token_auth: TokenAuth,
    pub profile: ProfileShape,
    pub quirks: Quirks,
}

/// A provider's answer, mapped to what Gatehouse stores.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderProfile {
    /// The provider's subject, stringified (GitHub's numeric id as a string).
    pub account_id: String,
    /// Lower-cased.
    pub email: Option<String>,
    pub email_verified: bool,
    /// Never empty when the provider gives any name/login; "" otherwise.
    pub name: String,
    pub image: Option<String>,
    /// The profile JSON as received (for account-info's `data`).
    pub raw: Value,
}

/// The built-in providers.
pub static PROVIDERS: &[ProviderRecord] = &[
    ProviderRecord {
        id: "google",
        name: "Google",
        authorization_url: "https://accounts.google.com/o/oauth2/v2/auth",
        token_url: "https://oauth2.googleapis.com/token",
        // BA decodes the ID token from the token response; there is no userinfo call.
        userinfo_url: None,
        emails_url: None,
        jwks_url: Some("https://www.googleapis.com/oauth2/v3/certs"),
        issuers: &["https://accounts.google.com", "accounts.google.com"],
        default_scopes: &["email", "profile", "openid"],
        scope_separator: " ",
        pkce: true,
        id_token_sign_in: true,
        extra_authorization_params: &[("include_granted_scopes", "true")],
        token_auth: TokenAuth::Post,
        profile: ProfileShape::OidcClaims,
        quirks: NO_QUIRKS,
    },
    ProviderRecord {
        id: "github",
        name: "GitHub",
        authorization_url: "https://github.com/login/oauth/authorize",
        token_url: "https://github.com/login/oauth/access_token",
        userinfo_url: Some("https://api.github.com/user"),
        emails_url: Some("https://api.github.com/user/emails"),
        jwks_url: None,
        issuers: &[],
        default_scopes: &["read:user", "user:email"],
        scope_separator: " ",
        pkce: true,
        id_token_sign_in: false,
        extra_authorization_params: &[],
        token_auth: TokenAuth::Post,
        profile: ProfileShape::GitHub,
        quirks: Quirks {
            emails_endpoint: true,
            ..NO_QUIRKS
        },
    },
    ProviderRecord {
        id: "apple",
        name: "Apple",
        authorization_url: "https://appleid.apple.com/auth/authorize",
        token_url: "https://appleid.apple.com/auth/token",
        userinfo_url: None,
        emails_url: None,
        jwks_url: Some("https://appleid.apple.com/auth/keys"),
        issuers: &["https://appleid.apple.com"],
        default_scopes: &["email", "name"],
        scope_separator: " ",
        pkce: true,
        id_token_sign_in: true,
        // BA asks for `code id_token`, posted back as a form.
        extra_authorization_params: &[
            ("response_mode", "form_post"),
            ("response_type", "code id_token"),
        ],
        token_auth: TokenAuth::Post,
        profile: ProfileShape::Apple,
        quirks: Quirks {
            form_post_callback: true,
            name_on_first_login_only: true,
            ..NO_QUIRKS
        },
    },
    ProviderRecord {
        id: "microsoft",
        name: "Microsoft EntraID",
        authorization_url: "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
        token_url: "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
        // The profile is the ID token (BA only adds a Graph photo, as a data URL).
        userinfo_url: None,
        emails_url: None,
        jwks_url: Some("https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"),
        // For "common", "organizations" and "consumers" BA skips the fixed issuer
        // and instead requires `iss` to be this URL with the token's own `tid`.
        issuers: &["https://login.microsoftonline.com/{tenant}/v2.0"],
        default_scopes: &["openid", "profile", "email", "User.Read", "offline_access"],
        scope_separator: " ",
        pkce: true,
        id_token_sign_in: true,
        extra_authorization_params: &[],
        token_auth: TokenAuth::Post,
        profile: ProfileShape::Microsoft,
        quirks: Quirks {
            tenant_in_urls: true,
            ..NO_QUIRKS
        },
    },
    ProviderRecord {
        id: "discord",
        name: "Discord",
        authorization_url: "https://discord.com/api/oauth2/authorize",
        token_url: "https://discord.com/api/oauth2/token",
        userinfo_url: Some("https://discord.com/api/users/@me"),
        emails_url: None,
        jwks_url: None,
        issuers: &[],
        default_scopes: &["identify", "email"],
        scope_separator: " ",
        pkce: false,
        id_token_sign_in: false,
        // BA defaults Discord's prompt to "none" (skip the consent screen when already granted).
        extra_authorization_params: &[("prompt", "none")],
        token_auth: TokenAuth::Post,
        profile: ProfileShape::Discord,
        quirks: NO_QUIRKS,
    },
    ProviderRecord {
        id: "gitlab",
        name: "Gitlab",
        authorization_url: "https://gitlab.com/oauth/authorize",
        token_url: "https://gitlab.com/oauth/token",
        userinfo_url: Some("https://gitlab.com/api/v4/user"),
        emails_url: None,
        jwks_url: None,
        issuers: &[],
        default_scopes: &["read_user"],
        scope_separator: " ",
        pkce: true,
        id_token_sign_in: false,
        extra_authorization_params: &[],
        token_auth: TokenAuth::Post,
        profile: ProfileShape::GitLab,
        quirks: NO_QUIRKS,
    },
    ProviderRecord {
        id: "facebook",
        name: "Facebook",
        authorization_url: "https://www.facebook.com/v24.0/dialog/oauth",
        token_url: "https://graph.facebook.com/v24.0/oauth/access_token",
        // BA first checks the access token with /debug_token (valid, our app id, user_id == /me id).
        userinfo_url: Some("https://graph.facebook.com/me?fields=id,name,email,picture"),
        emails_url: None,
        // Limited Login ID tokens; BA also accepts opaque access tokens for ID-token sign-in.
        jwks_url: Some("https://limited.facebook.com/.well-known/oauth/openid/jwks/"),
        issuers: &["https://www.facebook.com"],
        default_scopes: &["email", "public_profile"],
        scope_separator: " ",
        pkce: false,
        id_token_sign_in: true,
        extra_authorization_params: &[],
        token_auth: TokenAuth::Post,
        profile: ProfileShape::Facebook,
        quirks: NO_QUIRKS,
    },
    ProviderRecord {
        id: "linkedin",
        name: "Linkedin",
        authorization_url: "https://www.linkedin.com/oauth/v2/authorization",
        token_url: "https://www.linkedin.com/oauth/v2/accessToken",
        userinfo_url: Some("https://api.linkedin.com/v2/userinfo"),
        emails_url: None,
        jwks_url: None,
        issuers: &[],
        default_scopes: &["profile", "email", "openid"],
        scope_separator: " ",
        pkce: false,
        id_token_sign_in: false,
        extra_authorization_params: &[],
        token_auth: TokenAuth::Post,
        profile: ProfileShape::OidcClaims,
        quirks: NO_QUIRKS,
    },
    ProviderRecord {
        id: "twitter",
        name: "Twitter",
        authorization_url: "https://x.com/i/oauth2/authorize",
        token_url: "https://api.x.com/2/oauth2/token",
        userinfo_url: Some("https://api.x.com/2/users/me?user.fields=profile_image_url"),
        // A second call; BA counts the address as verified only when it returns `confirmed_email`.
        emails_url: Some("https://api.x.com/2/users/me?user.fields=confirmed_email"),
        jwks_url: None,
        issuers: &[],
        default_scopes: &["users.read", "tweet.read", "offline.access", "users.email"],
        scope_separator: " ",
        pkce: true,
        id_token_sign_in: false,
        extra_authorization_params: &[],
        // The only built-in here where BA uses HTTP Basic at the token endpoint.
        token_auth: TokenAuth::Basic,
        profile: ProfileShape::Twitter,
        quirks: Quirks {
            emails_endpoint: true,
            ..NO_QUIRKS
        },
    },
    ProviderRecord {
        id: "slack",
        name: "Slack",
        authorization_url: "https://slack.com/openid/connect/authorize",
        token_url: "https://slack.com/api/openid.connect.token",
        userinfo_url: Some("https://slack.com/api/openid.connect.userInfo"),
        emails_url: None,
        jwks_url: None,
        issuers: &[],
        default_scopes: &["openid", "profile", "email"],
        scope_separator: " ",
        pkce: false,
        id_token_sign_in: false,
        extra_authorization_params: &[],
        token_auth: TokenAuth::Post,
        profile: ProfileShape::Slack,
        quirks: NO_QUIRKS,
    },
    ProviderRecord {
        id: "twitch",
        name: "Twitch",
        authorization_url: "https://id.twitch.tv/oauth2/authorize",
        token_url: "https://id.twitch.tv/oauth2/token",
        // BA reads the profile from the ID token.
        userinfo_url: None,
        emails_url: None,
        jwks_url: Some("https://id.twitch.tv/oauth2/keys"),
        issuers: &["https://id.twitch.tv/oauth2"],
        default_scopes: &["user:read:email", "openid"],
        scope_separator: " ",
        pkce: false,
        id_token_sign_in: false,
        // Twitch puts these claims in the ID token only when asked; this is BA's exact JSON.
        extra_authorization_params: &[(
            "claims",
            r#"{"id_token":{"email":null,"email_verified":null,"preferred_username":null,"picture":null}}"#,
        )],
        token_auth: TokenAuth::Post,
        profile: ProfileShape::Twitch,
        quirks: NO_QUIRKS,
    },
];

/// The built-in provider with this id.
pub fn find(id: &str) -> Option<&'static ProviderRecord> {
    PROVIDERS.iter().find(|p| p.id == id)
}

impl ProviderRecord {
    /// Maps the profile JSON (and, for GitHub, the /user/emails array) to a ProviderProfile; Err with a short reason when the subject is missing.
    ///
    /// For X, `emails` is the `confirmed_email` response. GitLab accounts that
    /// are not `active`, or are `locked`, are refused as Better Auth refuses them.
    pub fn map_profile(
        &self,
        profile: &Value,
        emails: Option<&Value>,
    ) -> Result<ProviderProfile, String> {
        map_profile_shape(self.profile, profile, emails)
    }
}

/// Maps a profile of this shape (see [`ProviderRecord::map_profile`]).
pub fn map_profile_shape(
    shape: ProfileShape,
    profile: &Value,
    emails: Option<&Value>,
) -> Result<ProviderProfile, String> {
    match shape {
        ProfileShape::OidcClaims | ProfileShape::LinkedIn => map_oidc(profile),
        ProfileShape::GitHub => map_github(profile, emails),
        ProfileShape::Discord => map_discord(profile),
        ProfileShape::Facebook => map_facebook(profile),
        ProfileShape::Twitter => map_twitter(profile, emails),
        ProfileShape::GitLab => map_gitlab(profile),
        ProfileShape::Twitch => map_twitch(profile),
        ProfileShape::Slack => map_slack(profile),
        ProfileShape::Microsoft => map_microsoft(profile),
        ProfileShape::Apple => map_apple(profile),
    }
}

/// Standard OIDC claims to a profile.
pub fn map_oidc_claims(p: &Value) -> Result<ProviderProfile, String> {
    map_oidc(p)
}

static NULL: Value = Value::Null;

/// A non-empty string field.
fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn owned(v: &Value, key: &str) -> Option<String> {
    text(v, key).map(str::to_owned)
}

fn email_of(v: &Value, key: &str) -> Option<String> {
    text(v, key).map(str::to_lowercase)
}

/// `true` or the string "true" (Better Auth's `parseStringBoolean`); anything else is false.
fn flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.as_str() == "true",
        _ => false,
    }
}

/// JavaScript truthiness, for fields Better Auth tests with `if (x)`.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_)) | Some(Value::Object(_)) => true,
    }
}

/// The subject as Better Auth's `resolveOAuthAccountKey` accepts it: a
/// non-blank string or a number, stringified.
fn subject(v: Option<&Value>, what: &str) -> Result<String, String> {
    let id = match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(format!("profile has no `{what}`")),
    };
    if id.trim().is_empty() || id == "undefined" || id == "null" {
        return Err(format!("profile has an empty `{what}`"));
    }
    Ok(id)
}

fn map_oidc(p: &Value) -> Result<ProviderProfile, String> {
    let account_id = subject(p.get("sub"), "sub")?;
    let name = owned(p, "name").unwrap_or_else(|| {
        let given = text(p, "given_name").unwrap_or("");
        let family = text(p, "family_name").unwrap_or("");
        format!("{given} {family}").trim().to_owned()
    });
    Ok(ProviderProfile {
        account_id,
        email: email_of(p, "email"),
        email_verified: flag(p.get("email_verified")),
        name,
        image: owned(p, "picture"),
        raw: p.clone(),
    })
}

fn map_github(p: &Value, emails: Option<&Value>) -> Result<ProviderProfile, String> {
    let account_id = subject(p.get("id"), "id")?;
    let list: &[Value] = emails
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    // BA: profile.email, else the primary (or first) entry of /user/emails.
    let chosen = text(p, "email").or_else(|| {
        list.iter()
            .find(|e| truthy(e.get("primary")))
            .or_else(|| list.first())
            .and_then(|e| text(e, "email"))
    });
    // BA: `verified` of the entry equal to that address (exact match), default false.
    let email_verified = chosen.is_some_and(|c| {
        list.iter()
            .find(|e| e.get("email").and_then(Value::as_str) == Some(c))
            .is_some_and(|e| flag(e.get("verified")))
    });
    let name = text(p, "name")
        .or_else(|| text(p, "login"))
        .unwrap_or("")
        .to_owned();
    Ok(ProviderProfile {
        account_id,
        email: chosen.map(str::to_lowercase),
        email_verified,
        name,
        image: owned(p, "avatar_url"),
        raw: p.clone(),
    })
}

/// Better Auth's Discord image: the user's avatar (`a_` hashes are animated,
/// so .gif), else the default avatar, `(id >> 22) % 6` for the new username
/// system (discriminator "0") and `discriminator % 5` for legacy accounts.
fn discord_image(id: &str, p: &Value) -> Option<String> {
    if let Some(hash) = text(p, "avatar") {
        let ext = if hash.starts_with("a_") { "gif" } else { "png" };
        return Some(format!(
            "https://cdn.discordapp.com/avatars/{id}/{hash}.{ext}"
        ));
    }
    let index = match p.get("discriminator") {
        Some(Value::String(d)) if d.as_str() == "0" => (id.parse::<u64>().ok()? >> 22) % 6,
        Some(Value::String(d)) => {
            // parseInt: the leading digits.
            let digits: String = d
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            digits.parse::<u64>().ok()? % 5
        }
        Some(Value::Number(n)) => n.as_u64()? % 5,
        _ => return None,
    };
    Some(format!(
        "https://cdn.discordapp.com/embed/avatars/{index}.png"
    ))
}

fn map_discord(p: &Value) -> Result<ProviderProfile, String> {
    let account_id = subject(p.get("id"), "id")?;
    let name = text(p, "global_name")
        .or_else(|| text(p, "username"))
        .unwrap_or("")
        .to_owned();
    Ok(ProviderProfile {
        image: discord_image(&account_id, p),
        account_id,
        email: email_of(p, "email"),
        email_verified: flag(p.get("verified")),
        name,
        raw: p.clone(),
    })
}

fn map_facebook(p: &Value) -> Result<ProviderProfile, String> {
    // BA: `"sub" in profile ? profile.sub : profile.id`. Claims with `sub` come
    // from a Limited Login ID token, which BA never counts as verified.
    let limited = p.get("sub").is_some();
    let account_id = if limited {
        subject(p.get("sub"), "sub")?
    } else {
        subject(p.get("id"), "id")?
    };
    let image = match p.get("picture") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(pic) => pic
            .pointer("/data/url")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        None => None,
    };
    Ok(ProviderProfile {
        account_id,
        email: email_of(p, "email"),
        // Graph's /me has no `email_verified` unless asked for, so this is false in practice.
        email_verified: !limited && flag(p.get("email_verified")),
        name: owned(p, "name").unwrap_or_default(),
        image,
        raw: p.clone(),
    })
}

fn map_twitter(p: &Value, second: Option<&Value>) -> Result<ProviderProfile, String> {
    let d = p.get("data").unwrap_or(&NULL);
    let account_id = subject(d.get("id"), "data.id")?;
    let confirmed = second
        .and_then(|s| s.pointer("/data/confirmed_email"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| text(d, "confirmed_email"));
    let (email, email_verified) = match confirmed {
        Some(c) => (c.to_lowercase(), true),
        // BA stores a placeholder address when X gives none (never verified).
        None => (
            email_of(d, "email").unwrap_or_else(|| {
                format!("{account_id}@twitter.placeholder.invalid").to_lowercase()
            }),
            false,
        ),
    };
    Ok(ProviderProfile {
        email: Some(email),
        email_verified,
        name: owned(d, "name").unwrap_or_default(),
        image: owned(d, "profile_image_url"),
        account_id,
        raw: p.clone(),
    })
}

fn map_gitlab(p: &Value) -> Result<ProviderProfile, String> {
    let account_id = subject(p.get("id"), "id")?;
    // BA returns no user for blocked, deactivated or locked GitLab accounts.
    if p.get("state").and_then(Value::as_str) != Some("active") {
        return Err("gitlab account is not active".to_owned());
    }
    if truthy(p.get("locked")) {
        return Err("gitlab account is locked".to_owned());
    }
    let name = text(p, "name")
        .or_else(|| text(p, "username"))
        .unwrap_or("")
        .to_owned();
    Ok(ProviderProfile {
        account_id,
        email: email_of(p, "email"),
        email_verified: flag(p.get("email_verified")),
        name,
        image: owned(p, "avatar_url"),
        raw: p.clone(),
    })
}

fn map_twitch(p: &Value) -> Result<ProviderProfile, String> {
    Ok(ProviderProfile {
        account_id: subject(p.get("sub"), "sub")?,
        email: email_of(p, "email"),
        email_verified: flag(p.get("email_verified")),
        name: owned(p, "preferred_username").unwrap_or_default(),
        image: owned(p, "picture"),
        raw: p.clone(),
    })
}

fn map_slack(p: &Value) -> Result<ProviderProfile, String> {
    Ok(ProviderProfile {
        account_id: subject(
            p.get("https://slack.com/user_id"),
            "https://slack.com/user_id",
        )?,
        email: email_of(p, "email"),
        email_verified: flag(p.get("email_verified")),
        name: owned(p, "name").unwrap_or_default(),
        image: owned(p, "picture").or_else(|| owned(p, "https://slack.com/user_image_512")),
        raw: p.clone(),
    })
}

/// Whether `email` is listed in an Entra `verified_*_email` claim.
fn listed(v: Option<&Value>, email: &str) -> bool {
    match v {
        Some(Value::Array(items)) => items.iter().any(|x| x.as_str() == Some(email)),
        Some(Value::String(s)) => s.as_str() == email,
        _ => false,
    }
}

fn map_microsoft(p: &Value) -> Result<ProviderProfile, String> {
    // BA keys Microsoft accounts by `oid` (stable across apps), not `sub`.
    let account_id = match p.get("oid") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => return Err("ID token has no `oid`".to_owned()),
    };
    let email = text(p, "email");
    // BA: the `email_verified` claim when present (even null); otherwise the
    // address must appear in `verified_primary_email`/`verified_secondary_email`.
    let email_verified = match p.get("email_verified") {
        Some(v) => flag(Some(v)),
        None => email.is_some_and(|e| {
            listed(p.get("verified_primary_email"), e)
                || listed(p.get("verified_secondary_email"), e)
        }),
    };
    Ok(ProviderProfile {
        account_id,
        email: email.map(str::to_lowercase),
        email_verified,
        name: owned(p, "name").unwrap_or_default(),
        image: owned(p, "picture"),
        raw: p.clone(),
    })
}

fn map_apple(p: &Value) -> Result<ProviderProfile, String> {
    Ok(ProviderProfile {
        account_id: subject(p.get("sub"), "sub")?,
        email: email_of(p, "email"),
        // Apple sends "true"/"false" strings.
        email_verified: flag(p.get("email_verified")),
        // The name comes once, in the first callback's `user` form field.
        name: owned(p, "name").unwrap_or_else(|| {
            let n = p.get("user").and_then(|u| u.get("name"));
            let first = n.and_then(|n| text(n, "firstName")).unwrap_or("");
            let last = n.and_then(|n| text(n, "lastName")).unwrap_or("");
            format!("{first} {last}").trim().to_owned()
        }),
        image: None,
        raw: p.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashSet;

    fn map(id: &str, profile: &Value, emails: Option<&Value>) -> Result<ProviderProfile, String> {
        find(id).unwrap().map_profile(profile, emails)
    }

    #[test]
    fn google_id_token_claims() {
        let p = json!({
            "iss": "https://accounts.google.com",
            "azp": "1234987819200.apps.googleusercontent.com",
            "aud": "1234987819200.apps.googleusercontent.com",
            "sub": "110169484474386276334",
            "email": "Jane.Doe@gmail.com",
            "email_verified": true,
            "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q",
            "name": "Jane Doe",
            "picture": "https://lh3.googleusercontent.com/a/ACg8ocJ=s96-c",
            "given_name": "Jane",
            "family_name": "Doe",
            "iat": 1700000000,
            "exp": 1700003600
        });
        assert_eq!(
            map("google", &p, None).unwrap(),
            ProviderProfile {
                account_id: "110169484474386276334".into(),
                email: Some("jane.doe@gmail.com".into()),
                email_verified: true,
                name: "Jane Doe".into(),
                image: Some("https://lh3.googleusercontent.com/a/ACg8ocJ=s96-c".into()),
                raw: p.clone(),
            }
        );
    }

    #[test]
    fn oidc_email_verified_string_false_and_name_fallback() {
        let p = json!({
            "sub": "42",
            "email": "a@example.com",
            "email_verified": "false",
            "given_name": "Ada",
            "family_name": "Lovelace"
        });
        assert_eq!(
            map("google", &p, None).unwrap(),
            ProviderProfile {
                account_id: "42".into(),
                email: Some("a@example.com".into()),
                email_verified: false,
                name: "Ada Lovelace".into(),
                image: None,
                raw: p.clone(),
            }
        );
        let t = json!({"sub": "42", "email_verified": "true"});
        let got = map("google", &t, None).unwrap();
        assert!(got.email_verified);
        assert_eq!(got.email, None);
        assert_eq!(got.name, "");
    }

    #[test]
    fn missing_or_bad_subject_is_err() {
        assert!(map("google", &json!({"email": "a@example.com"}), None).is_err());
        assert!(map("google", &json!({"sub": ""}), None).is_err());
        assert!(map("google", &json!({"sub": null}), None).is_err());
        assert!(map("google", &json!({"sub": {"x": 1}}), None).is_err());
        assert!(map("github", &json!({"login": "octocat"}), None).is_err());
        assert!(map("discord", &json!([]), None).is_err());
        assert!(map("twitter", &json!({"data": {"name": "x"}}), None).is_err());
        assert!(map("slack", &json!({"sub": "U1"}), None).is_err());
        assert!(map("microsoft", &json!({"sub": "abc", "oid": " "}), None).is_err());
        assert!(map("apple", &json!("not an object"), None).is_err());
    }

    #[test]
    fn github_public_email() {
        let p = json!({
            "login": "octocat",
            "id": 583231,
            "node_id": "MDQ6VXNlcjU4MzIzMQ==",
            "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
            "type": "User",
            "name": "The Octocat",
            "company": "@github",
            "email": "Octocat@GitHub.com"
        });
        let emails = json!([
            {"email": "Octocat@GitHub.com", "primary": true, "verified": true, "visibility": "public"},
            {"email": "583231+octocat@users.noreply.github.com", "primary": false, "verified": true, "visibility": null}
        ]);
        assert_eq!(
            map("github", &p, Some(&emails)).unwrap(),
            ProviderProfile {
                account_id: "583231".into(),
                email: Some("octocat@github.com".into()),
                email_verified: true,
                name: "The Octocat".into(),
                image: Some("https://avatars.githubusercontent.com/u/583231?v=4".into()),
                raw: p.clone(),
            }
        );
    }

    #[test]
    fn github_private_email_from_primary_entry() {
        let p = json!({
            "login": "octocat",
            "id": 583231,
            "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
            "name": null,
            "email": null
        });
        let emails = json!([
            {"email": "583231+octocat@users.noreply.github.com", "primary": false, "verified": true, "visibility": null},
            {"email": "Private@Example.com", "primary": true, "verified": true, "visibility": "private"}
        ]);
        assert_eq!(
            map("github", &p, Some(&emails)).unwrap(),
            ProviderProfile {
                account_id: "583231".into(),
                email: Some("private@example.com".into()),
                email_verified: true,
                name: "octocat".into(),
                image: Some("https://avatars.githubusercontent.com/u/583231?v=4".into()),
                raw: p.clone(),
            }
        );
    }

    #[test]
    fn github_unverified_primary() {
        let p = json!({"login": "newbie", "id": 99, "avatar_url": null, "name": "", "email": null});
        let emails = json!([{"email": "new@example.com", "primary": true, "verified": false, "visibility": "private"}]);
        assert_eq!(
            map("github", &p, Some(&emails)).unwrap(),
            ProviderProfile {
                account_id: "99".into(),
                email: Some("new@example.com".into()),
                email_verified: false,
                name: "newbie".into(),
                image: None,
                raw: p.clone(),
            }
        );
    }

    #[test]
    fn github_without_emails_or_primary() {
        let p = json!({"login": "ghost", "id": 10137, "email": null});
        let got = map("github", &p, None).unwrap();
        assert_eq!((got.email, got.email_verified), (None, false));
        // No primary: the first entry, with its own `verified`.
        let emails =
            json!([{"email": "First@Example.com", "verified": true}, {"email": "b@example.com"}]);
        let got = map("github", &p, Some(&emails)).unwrap();
        assert_eq!(got.email.as_deref(), Some("first@example.com"));
        assert!(got.email_verified);
        // A non-array answer is ignored.
        let got = map("github", &p, Some(&json!({"message": "Not Found"}))).unwrap();
        assert_eq!((got.email, got.email_verified), (None, false));
    }

    #[test]
    fn discord_custom_avatar() {
        let p = json!({
            "id": "80351110224678912",
            "username": "nelly",
            "discriminator": "1337",
            "global_name": "Nelly",
            "avatar": "8342729096ea3675442027381ff50dfe",
            "verified": true,
            "email": "Nelly@Discord.com",
            "flags": 64,
            "premium_type": 1,
            "public_flags": 64,
            "mfa_enabled": true,
            "locale": "en-US"
        });
        assert_eq!(
            map("discord", &p, None).unwrap(),
            ProviderProfile {
                account_id: "80351110224678912".into(),
                email: Some("nelly@discord.com".into()),
                email_verified: true,
                name: "Nelly".into(),
                image: Some(
                    "https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe.png".into()
                ),
                raw: p.clone(),
            }
        );
    }

    #[test]
    fn discord_animated_avatar() {
        let p = json!({
            "id": "80351110224678912",
            "username": "nelly",
            "discriminator": "0",
            "global_name": null,
            "avatar": "a_1269e74af4df7417b13759eae50c83dc",
            "verified": false,
            "email": "nelly@discord.com"
        });
        assert_eq!(
            map("discord", &p, None).unwrap(),
            ProviderProfile {
                account_id: "80351110224678912".into(),
                email: Some("nelly@discord.com".into()),
                email_verified: false,
                name: "nelly".into(),
                image: Some(
                    "https://cdn.discordapp.com/avatars/80351110224678912/a_1269e74af4df7417b13759eae50c83dc.gif".into()
                ),
                raw: p.clone(),
            }
        );
    }

    #[test]
    fn discord_default_avatars() {
        // New username system: (80351110224678912 >> 22) % 6 == 5.
        let p = json!({
            "id": "80351110224678912",
            "username": "nelly",
            "discriminator": "0",
            "global_name": "Nelly",
            "avatar": null,
            "verified": true,
            "email": "nelly@discord.com"
        });
        assert_eq!(
            map("discord", &p, None).unwrap(),
            ProviderProfile {
                account_id: "80351110224678912".into(),
                email: Some("nelly@discord.com".into()),
                email_verified: true,
                name: "Nelly".into(),
                image: Some("https://cdn.discordapp.com/embed/avatars/5.png".into()),
                raw: p.clone(),
            }
        );
        // Legacy discriminator: 1337 % 5 == 2.
        let legacy = json!({"id": "80351110224678912", "username": "nelly", "discriminator": "1337", "avatar": null});
        let got = map("discord", &legacy, None).unwrap();
        assert_eq!(
            got.image.as_deref(),
            Some("https://cdn.discordapp.com/embed/avatars/2.png")
        );
        assert_eq!((got.email, got.email_verified), (None, false));
        // No discriminator at all: no image rather than a broken URL.
        let odd = json!({"id": "1", "username": "x", "avatar": null});
        assert_eq!(map("discord", &odd, None).unwrap().image, None);
    }

    #[test]
    fn facebook_graph_me() {
        let p = json!({
            "id": "10158001234567890",
            "name": "Jane Doe",
            "email": "Jane@Example.com",
            "picture": {"data": {
                "height": 50,
                "is_silhouette": false,
                "url": "https://platform-lookaside.fbsbx.com/platform/profilepic/?asid=10158001234567890&height=50&width=50&ext=1700000000&hash=AbC",
                "width": 50
            }}
        });
        assert_eq!(
            map("facebook", &p, None).unwrap(),
            ProviderProfile {
                account_id: "10158001234567890".into(),
                email: Some("jane@example.com".into()),
                email_verified: false,
                name: "Jane Doe".into(),
                image: Some(
                    "https://platform-lookaside.fbsbx.com/platform/profilepic/?asid=10158001234567890&height=50&width=50&ext=1700000000&hash=AbC".into()
                ),
                raw: p.clone(),
            }
        );
    }

    #[test]
    fn facebook_limited_login_claims() {
        let p = json!({
            "iss": "https://www.facebook.com",
            "aud": "1234567890",
            "sub": "10158001234567890",
            "iat": 1700000000,
            "exp": 1700003600,
            "name": "Jane Doe",
            "email": "jane@example.com",
            "email_verified": true,
            "picture": "https://platform-lookaside.fbsbx.com/platform/profilepic/?asid=10158001234567890"
        });
        assert_eq!(
            map("facebook", &p, None).unwrap(),
            ProviderProfile {
                account_id: "10158001234567890".into(),
                email: Some("jane@example.com".into()),
                email_verified: false,
                name: "Jane Doe".into(),
                image: Some("https://platform-lookaside.fbsbx.com/platform/profilepic/?asid=10158001234567890".into()),
                raw: p.clone(),
            }
        );
    }

    #[test]
    fn twitter_with_confirmed_email() {
        let p = json!({"data": {
            "id": "2244994945",
            "name": "X Developers",
            "username": "XDevelopers",
            "profile_image_url": "https://pbs.twimg.com/profile_images/1683325380441128960/yRsRRjGO_normal.jpg"
        }});
        let second = json!({"data": {
            "id": "2244994945",
            "name": "X Developers",
            "username": "XDevelopers",
            "confirmed_email": "Dev@X.com"
        }});
        assert_eq!(
            map("twitter", &p, Some(&second)).unwrap(),
            ProviderProfile {
                account_id: "2244994945".into(),
                email: Some("dev@x.com".into()),
                email_verified: true,
                name: "X Developers".into(),
                image: Some(
                    "https://pbs.twimg.com/profile_images/1683325380441128960/yRsRRjGO_normal.jpg"
                        .into()
                ),
                raw: p.clone(),
            }
        );
    }

    #[test]
    fn twitter_without_email_gets_placeholder() {
        let p = json!({"data": {"id": "2244994945", "name": "X Developers", "username": "XDevelopers"}});
        let failed = json!({"errors": [{"message": "Forbidden"}]});
        assert_eq!(
            map("twitter", &p, Some(&failed)).unwrap(),
            ProviderProfile {
                account_id: "2244994945".into(),
                email: Some("2244994945@twitter.placeholder.invalid".into()),
                email_verified: false,
                name: "X Developers".into(),
                image: None,
                raw: p.clone(),
            }
        );
    }

    #[test]
    fn gitlab_user() {
        let p = json!({
            "id": 1,
            "username": "john_smith",
            "name": "John Smith",
            "state": "active",
            "locked": false,
            "avatar_url": "https://gitlab.com/uploads/-/system/user/avatar/1/avatar.png",
            "web_url": "https://gitlab.com/john_smith",
            "created_at": "2012-05-23T08:00:58Z",
            "email": "John@Example.com",
            "confirmed_at": "2012-05-23T09:05:22Z",
            "two_factor_enabled": true
        });
        assert_eq!(
            map("gitlab", &p, None).unwrap(),
            ProviderProfile {
                account_id: "1".into(),
                email: Some("john@example.com".into()),
                // /api/v4/user has no `email_verified`; BA defaults to false.
                email_verified: false,
                name: "John Smith".into(),
                image: Some("https://gitlab.com/uploads/-/system/user/avatar/1/avatar.png".into()),
                raw: p.clone(),
            }
        );
    }

    #[test]
    fn gitlab_blocked_or_locked_is_refused() {
        let blocked =
            json!({"id": 2, "username": "b", "state": "blocked", "email": "b@example.com"});
        assert!(map("gitlab", &blocked, None).is_err());
        let locked = json!({"id": 3, "username": "l", "state": "active", "locked": true});
        assert!(map("gitlab", &locked, None).is_err());
        let no_state = json!({"id": 4, "username": "n"});
        assert!(map("gitlab", &no_state, None).is_err());
    }

    #[test]
    fn twitch_id_token_claims() {
        let p = json!({
            "aud": "hof5gwx0su6owfnys0yan9c87zr6t",
            "exp": 1700003600,
            "iat": 1700000000,
            "iss": "https://id.twitch.tv/oauth2",
            "sub": "713936733",
            "azp": "hof5gwx0su6owfnys0yan9c87zr6t",
            "email": "Me@Example.com",
            "email_verified": true,
            "picture": "https://static-cdn.jtvnw.net/jtv_user_pictures/abc-profile_image-300x300.png",
            "preferred_username": "MyTwitchUser"
        });
        assert_eq!(
            map("twitch", &p, None).unwrap(),
            ProviderProfile {
                account_id: "713936733".into(),
                email: Some("me@example.com".into()),
                email_verified: true,
                name: "MyTwitchUser".into(),
                image: Some(
                    "https://static-cdn.jtvnw.net/jtv_user_pictures/abc-profile_image-300x300.png"
                        .into()
                ),
                raw: p.clone(),
            }
        );
    }

    #[test]
    fn slack_userinfo() {
        let p = json!({
            "ok": true,
            "sub": "U0R7JM",
            "https://slack.com/user_id": "U0R7JM",
            "https://slack.com/team_id": "T0R7GR",
            "email": "Krane@Slack-Corp.com",
            "email_verified": true,
            "date_email_verified": 1622128723,
            "name": "krane",
            "picture": "https://secure.gravatar.com/avatar/bc.jpg?s=512",
            "given_name": "Bront",
            "family_name": "Labradoodle",
            "locale": "en-US",
            "https://slack.com/team_name": "kraneflannel",
            "https://slack.com/team_domain": "kraneflannel",
            "https://slack.com/user_image_24": "https://avatars.slack-edge.com/u_24.jpg",
            "https://slack.com/user_image_512": "https://avatars.slack-edge.com/u_512.jpg"
        });
        assert_eq!(
            map("slack", &p, None).unwrap(),
            ProviderProfile {
                account_id: "U0R7JM".into(),
                email: Some("krane@slack-corp.com".into()),
                email_verified: true,
                name: "krane".into(),
                image: Some("https://secure.gravatar.com/avatar/bc.jpg?s=512".into()),
                raw: p.clone(),
            }
        );
        let no_picture = json!({
            "https://slack.com/user_id": "U1",
            "https://slack.com/user_image_512": "https://avatars.slack-edge.com/u_512.jpg"
        });
        let got = map("slack", &no_picture, None).unwrap();
        assert_eq!(
            got.image.as_deref(),
            Some("https://avatars.slack-edge.com/u_512.jpg")
        );
        assert_eq!((got.name.as_str(), got.email_verified), ("", false));
    }

    #[test]
    fn linkedin_userinfo() {
        let p = json!({
            "sub": "782bbtaQ",
            "name": "John Doe",
            "given_name": "John",
            "family_name": "Doe",
            "picture": "https://media.licdn.com/dms/image/C5F03AQHqK8v7tB1HCQ/profile-displayphoto-shrink_100_100/0/",
            "locale": "en-US",
            "email": "Doe@Email.com",
            "email_verified": true
        });
        assert_eq!(
            map("linkedin", &p, None).unwrap(),
            ProviderProfile {
                account_id: "782bbtaQ".into(),
                email: Some("doe@email.com".into()),
                email_verified: true,
                name: "John Doe".into(),
                image: Some(
                    "https://media.licdn.com/dms/image/C5F03AQHqK8v7tB1HCQ/profile-displayphoto-shrink_100_100/0/".into()
                ),
                raw: p.clone(),
            }
        );
    }

    #[test]
    fn microsoft_id_token_claims() {
        let p = json!({
            "aud": "6cb04018-a3f5-46a7-b995-940c78f5aef3",
            "iss": "https://login.microsoftonline.com/9122040d-6c67-4c5b-b112-36a304b66dad/v2.0",
            "iat": 1700000000,
            "nbf": 1700000000,
            "exp": 1700003600,
            "name": "Abe Lincoln",
            "oid": "00000000-0000-0000-66f3-3332eca7ea81",
            "preferred_username": "AbeLi@microsoft.com",
            "email": "AbeLi@microsoft.com",
            "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
            "tid": "9122040d-6c67-4c5b-b112-36a304b66dad",
            "ver": "2.0"
        });
        assert_eq!(
            map("microsoft", &p, None).unwrap(),
            ProviderProfile {
                account_id: "00000000-0000-0000-66f3-3332eca7ea81".into(),
                email: Some("abeli@microsoft.com".into()),
                // No `email_verified` and no verified_*_email listing: not verified.
                email_verified: false,
                name: "Abe Lincoln".into(),
                image: None,
                raw: p.clone(),
            }
        );
        let mut primary = p.clone();
        primary["verified_primary_email"] = json!(["AbeLi@microsoft.com"]);
        assert!(map("microsoft", &primary, None).unwrap().email_verified);
        let mut secondary = p.clone();
        secondary["verified_secondary_email"] =
            json!(["other@microsoft.com", "AbeLi@microsoft.com"]);
        assert!(map("microsoft", &secondary, None).unwrap().email_verified);
        let mut claim = p.clone();
        claim["email_verified"] = json!("true");
        assert!(map("microsoft", &claim, None).unwrap().email_verified);
        // An explicit claim wins over the listing (BA checks the claim first).
        let mut both = primary.clone();
        both["email_verified"] = json!(false);
        assert!(!map("microsoft", &both, None).unwrap().email_verified);
    }

    #[test]
    fn apple_id_token_claims() {
        let p = json!({
            "iss": "https://appleid.apple.com",
            "aud": "com.example.web",
            "exp": 1700003600,
            "iat": 1700000000,
            "sub": "001234.abcdef0123456789abcdef0123456789.1234",
            "c_hash": "kq8Ec0cFf2YbR1wrsAx6hw",
            "email": "Abc123xyz@privaterelay.appleid.com",
            "email_verified": "true",
            "is_private_email": "true",
            "auth_time": 1700000000,
            "nonce_supported": true
        });
        assert_eq!(
            map("apple", &p, None).unwrap(),
            ProviderProfile {
                account_id: "001234.abcdef0123456789abcdef0123456789.1234".into(),
                email: Some("abc123xyz@privaterelay.appleid.com".into()),
                email_verified: true,
                name: "".into(),
                image: None,
                raw: p.clone(),
            }
        );
    }

    #[test]
    fn odd_json_never_panics() {
        let odd = json!({"sub": 7, "id": 7, "oid": "o", "data": {"id": 7},
            "https://slack.com/user_id": "U", "state": "active",
            "email": 5, "email_verified": "yes", "name": ["x"], "picture": {"data": 1},
            "avatar": 3, "discriminator": {}, "verified": "true"});
        for p in PROVIDERS {
            let got = p.map_profile(&odd, Some(&json!("x"))).unwrap();
            assert!(!got.account_id.is_empty(), "{}", p.id);
            assert!(
                !got.email_verified || matches!(p.profile, ProfileShape::Discord),
                "{}",
                p.id
            );
        }
        for p in PROVIDERS {
            for v in [json!(null), json!(1), json!("s"), json!([]), json!({})] {
                assert!(p.map_profile(&v, Some(&v)).is_err(), "{}", p.id);
            }
        }
    }

    #[test]
    fn registry_is_consistent() {
        let mut ids = HashSet::new();
        for p in PROVIDERS {
            assert!(ids.insert(p.id), "duplicate id {}", p.id);
            let mut urls = vec![p.authorization_url, p.token_url];
            urls.extend(p.userinfo_url);
            urls.extend(p.emails_url);
            urls.extend(p.jwks_url);
            for u in urls {
                assert!(u.starts_with("https://"), "{}: {u}", p.id);
            }
            if p.id_token_sign_in {
                assert!(!p.issuers.is_empty(), "{}", p.id);
                assert!(p.jwks_url.is_some(), "{}", p.id);
            }
            assert!(!p.default_scopes.is_empty(), "{}", p.id);
            assert_eq!(p.quirks.emails_endpoint, p.emails_url.is_some(), "{}", p.id);
        }
        for id in [
            "google",
            "github",
            "apple",
            "microsoft",
            "discord",
            "gitlab",
            "facebook",
            "linkedin",
            "twitter",
            "slack",
            "twitch",
        ] {
            assert_eq!(find(id).map(|p| p.id), Some(id));
        }
        assert!(find("nope").is_none());
        assert_eq!(find("twitter").unwrap().token_auth, TokenAuth::Basic);
        assert!(PROVIDERS
            .iter()
            .filter(|p| p.id != "twitter")
            .all(|p| p.token_auth == TokenAuth::Post));
        assert!(find("microsoft").unwrap().quirks.tenant_in_urls);
        assert!(find("microsoft")
            .unwrap()
            .authorization_url
            .contains("{tenant}"));
    }
}
