//! The OAuth 2 exchanges with a provider: the authorization URL, the code
//! exchange, refreshes, and who signed in (verified ID token, userinfo,
//! GitHub's `/user/emails`).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{Duration, NaiveDateTime};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::providers::{ProviderProfile, TokenAuth};
use super::{id_token, OAuthProvider};

/// What a token endpoint answered.
#[derive(Clone, Default)]
pub struct Tokens {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub access_token_expires_at: Option<NaiveDateTime>,
    pub refresh_token_expires_at: Option<NaiveDateTime>,
    /// Granted scopes, comma-separated (Better Auth's stored form).
    pub scope: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The query parameters added to the authorization URL, in Better Auth's order.
pub struct AuthorizationRequest<'a> {
    pub state: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
    pub login_hint: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub code_verifier: &'a str,
    pub additional: &'a [(String, String)],
}

/// Parameters the app may not set through `additionalParams`.
pub const RESERVED_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "state",
    "scope",
    "redirect_uri",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "client_secret",
    "code",
    "grant_type",
];

pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub fn authorization_url(p: &OAuthProvider, r: &AuthorizationRequest<'_>) -> String {
    let mut url = match url::Url::parse(&p.authorization_url) {
        Ok(u) => u,
        // Checked at start-up; kept total anyway.
        Err(_) => return p.authorization_url.clone(),
    };
    let response_type = p
        .authorization_params
        .iter()
        .find(|(k, _)| k == "response_type")
        .map(|(_, v)| v.as_str())
        .unwrap_or("code");
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", response_type);
        q.append_pair("client_id", &p.client_id);
        q.append_pair("state", r.state);
        q.append_pair("scope", &r.scopes.join(p.scope_separator));
        q.append_pair("redirect_uri", r.redirect_uri);
        if let Some(h) = r.login_hint {
            q.append_pair("login_hint", h);
        }
        if let Some(n) = r.nonce {
            q.append_pair("nonce", n);
        }
        for (k, v) in &p.authorization_params {
            if k != "response_type" {
                q.append_pair(k, v);
            }
        }
        if p.pkce {
            q.append_pair("code_challenge_method", "S256");
            q.append_pair("code_challenge", &code_challenge(r.code_verifier));
        }
        for (k, v) in r.additional {
            q.append_pair(k, v);
        }
    }
    url.into()
}

/// A failed exchange: logged with the reason, shown to the user as a code.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ExchangeError(pub String);

async fn token_request(
    http: &reqwest::Client,
    p: &OAuthProvider,
    mut form: Vec<(&str, String)>,
    now: NaiveDateTime,
) -> Result<Tokens, ExchangeError> {
    let mut req = http.post(&p.token_url).header("accept", "application/json");
    match (p.token_auth, &p.client_secret) {
        (TokenAuth::Basic, Some(secret)) => {
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let basic = STANDARD.encode(format!("{}:{}", enc(&p.client_id), enc(secret)));
            req = req.header("authorization", format!("Basic {basic}"));
        }
        (_, secret) => {
            form.push(("client_id", p.client_id.clone()));
            if let Some(s) = secret {
                form.push(("client_secret", s.clone()));
            }
        }
    }
    let resp = req
        .form(&form)
        .send()
        .await
        .map_err(|e| ExchangeError(format!("token endpoint: {}", e.without_url())))?;
    let status = resp.status();
    let body: Value = resp.json().await.map_err(|e| {
        ExchangeError(format!(
            "token endpoint answered {status}: {}",
            e.without_url()
        ))
    })?;
    // GitHub answers errors with 200 and an `error` field.
    if !status.is_success() || body.get("error").is_some() {
        let code = body.get("error").and_then(Value::as_str).unwrap_or("?");
        return Err(ExchangeError(format!(
            "token endpoint answered {status} {code}"
        )));
    }
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let seconds = |k: &str| {
        body.get(k).and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
    };
    let scope = text("scope").map(|s| {
        s.split([' ', ','])
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
            .join(",")
    });
    Ok(Tokens {
        access_token: text("access_token"),
        refresh_token: text("refresh_token"),
        id_token: text("id_token"),
        access_token_expires_at: seconds("expires_in").map(|s| now + Duration::seconds(s)),
        refresh_token_expires_at: seconds("refresh_token_expires_in")
            .map(|s| now + Duration::seconds(s)),
        scope,
    })
}

pub async fn exchange_code(
    http: &reqwest::Client,
    p: &OAuthProvider,
    code: &str,
    code_verifier: &str,
    redirect_uri: &str,
    now: NaiveDateTime,
) -> Result<Tokens, ExchangeError> {
    let mut form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", code.to_string()),
        ("redirect_uri", redirect_uri.to_string()),
    ];
    if p.pkce {
        form.push(("code_verifier", code_verifier.to_string()));
    }
    token_request(http, p, form, now).await
}

pub async fn refresh(
    http: &reqwest::Client,
    p: &OAuthProvider,
    refresh_token: &str,
    now: NaiveDateTime,
) -> Result<Tokens, ExchangeError> {
    let form = vec![
        ("grant_type", "refresh_token".to_string()),
        ("refresh_token", refresh_token.to_string()),
    ];
    token_request(http, p, form, now).await
}

async fn get_json(
    http: &reqwest::Client,
    url: &str,
    access_token: &str,
) -> Result<Value, ExchangeError> {
    let resp = http
        .get(url)
        .bearer_auth(access_token)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| ExchangeError(format!("profile endpoint: {}", e.without_url())))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(ExchangeError(format!("profile endpoint answered {status}")));
    }
    resp.json()
        .await
        .map_err(|e| ExchangeError(format!("profile endpoint: {}", e.without_url())))
}

/// Who signed in, from the tokens of a finished code exchange. An ID token,
/// when the provider has keys, is verified (with the flow's nonce); its
/// claims are the profile when the provider has no userinfo endpoint or they
/// carry the address. Otherwise userinfo (whose `sub` must match the ID token's).
pub async fn profile(
    http: &reqwest::Client,
    p: &OAuthProvider,
    tokens: &Tokens,
    nonce: Option<&str>,
    apple_user: Option<&Value>,
) -> Result<ProviderProfile, ExchangeError> {
    let mut claims: Option<Map<String, Value>> = None;
    if let (Some(t), Some(_)) = (&tokens.id_token, &p.jwks) {
        let c = id_token::verify(http, p, t, nonce)
            .await
            .map_err(|e| ExchangeError(format!("ID token: {e}")))?;
        claims = Some(c);
    } else if nonce.is_some() {
        // The flow bound a nonce; an OIDC provider must answer with an ID token.
        return Err(ExchangeError("no ID token in the token response".into()));
    }
    let claims_suffice = claims
        .as_ref()
        .is_some_and(|c| c.contains_key("sub") && c.contains_key("email"));
    let mut raw = match (&p.userinfo_url, claims) {
        (None, Some(c)) => Value::Object(c),
        (Some(_), Some(c)) if claims_suffice => Value::Object(c),
        (Some(url), c) => {
            let access = tokens
                .access_token
                .as_deref()
                .ok_or_else(|| ExchangeError("no access token".into()))?;
            let info = get_json(http, url, access).await?;
            if let Some(c) = c {
                if c.get("sub") != info.get("sub") {
                    return Err(ExchangeError(
                        "userinfo names another subject than the ID token".into(),
                    ));
                }
            }
            info
        }
        (None, None) => return Err(ExchangeError("no ID token and no userinfo endpoint".into())),
    };
    if let (Some(user), Value::Object(map)) = (apple_user, &mut raw) {
        // Apple sends the name once, in the callback's `user` field.
        map.insert("user".into(), user.clone());
    }
    let emails = match (&p.emails_url, tokens.access_token.as_deref()) {
        (Some(url), Some(access)) => Some(get_json(http, url, access).await?),
        _ => None,
    };
    let mut mapped = if p.generic {
        generic_profile(&raw)
    } else {
        super::providers::map_profile_shape(p.profile, &raw, emails.as_ref())
    }
    .map_err(ExchangeError)?;
    if mapped.name.is_empty() {
        if let Some(email) = &mapped.email {
            mapped.name = email.split('@').next().unwrap_or("").to_string();
        }
    }
    Ok(mapped)
}

/// A plain OAuth 2 profile (generic-oauth without ID tokens): `id` or `sub`.
fn generic_profile(raw: &Value) -> Result<ProviderProfile, String> {
    let mut with_sub = raw.clone();
    if let Value::Object(m) = &mut with_sub {
        if !m.contains_key("sub") {
            if let Some(id) = m.get("id").cloned() {
                m.insert("sub".into(), id);
            }
        }
    }
    let mut p = super::providers::map_oidc_claims(&with_sub)?;
    p.raw = raw.clone();
    Ok(p)
}
