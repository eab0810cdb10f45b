//! ID tokens from providers: verified against the provider's JWKS, which is
//! fetched on first use, cached, and fetched again when a token names a key
//! the cache does not hold (providers rotate keys), at most once a minute.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use super::OAuthProvider;

/// How often an unknown `kid` may trigger a refetch.
const MIN_REFETCH: Duration = Duration::from_secs(60);
/// Cached keys are refetched after this long even when they still match.
const MAX_AGE: Duration = Duration::from_secs(6 * 3600);
/// Clock skew tolerated on `exp`, `iat` and `nbf`.
const LEEWAY_SECS: u64 = 30;

#[derive(Debug)]
pub struct Jwks {
    pub url: String,
    cache: RwLock<Option<(JwkSet, Instant)>>,
}

/// Why an ID token was refused (logged; clients see `INVALID_TOKEN` or `invalid_code`).
#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    #[error("the provider publishes no keys for ID tokens")]
    NoKeys,
    #[error("cannot fetch the provider's keys: {0}")]
    Fetch(String),
    #[error("malformed token")]
    Malformed,
    #[error("no key matches the token")]
    UnknownKey,
    #[error("{0}")]
    Invalid(String),
    #[error("nonce mismatch")]
    Nonce,
}

impl Jwks {
    pub fn new(url: String) -> Jwks {
        Jwks {
            url,
            cache: RwLock::new(None),
        }
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<JwkSet, IdTokenError> {
        let resp = http
            .get(&self.url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| IdTokenError::Fetch(e.without_url().to_string()))?;
        if !resp.status().is_success() {
            return Err(IdTokenError::Fetch(format!("answered {}", resp.status())));
        }
        resp.json::<JwkSet>()
            .await
            .map_err(|e| IdTokenError::Fetch(e.without_url().to_string()))
    }

    /// The key for `kid` (or the only/first key of a fitting type without one).
    async fn key(
        &self,
        http: &reqwest::Client,
        kid: Option<&str>,
    ) -> Result<jsonwebtoken::jwk::Jwk, IdTokenError> {
        let find = |set: &JwkSet| match kid {
            Some(k) => set.find(k).cloned(),
            None => set.keys.first().cloned(),
        };
        {
            let cached = self.cache.read().await;
            if let Some((set, at)) = cached.as_ref() {
                if at.elapsed() < MAX_AGE {
                    if let Some(k) = find(set) {
                        return Ok(k);
                    }
                    if at.elapsed() < MIN_REFETCH {
                        return Err(IdTokenError::UnknownKey);
                    }
                }
            }
        }
        let mut cached = self.cache.write().await;
        // Another request may have refreshed it meanwhile.
        if let Some((set, at)) = cached.as_ref() {
            if at.elapsed() < MIN_REFETCH {
                return find(set).ok_or(IdTokenError::UnknownKey);
            }
        }
        let set = self.fetch(http).await?;
        let found = find(&set);
        *cached = Some((set, Instant::now()));
        found.ok_or(IdTokenError::UnknownKey)
    }
}

/// Verifies `token` from `provider`: signature (asymmetric algorithms only),
/// `iss`, `aud` (the client id or a configured extra audience), `exp`, and
/// `nonce` when one is expected. Returns the claims.
pub async fn verify(
    http: &reqwest::Client,
    provider: &OAuthProvider,
    token: &str,
    nonce: Option<&str>,
) -> Result<Map<String, Value>, IdTokenError> {
    let jwks = provider.jwks.as_ref().ok_or(IdTokenError::NoKeys)?;
    let header = jsonwebtoken::decode_header(token).map_err(|_| IdTokenError::Malformed)?;
    if !matches!(
        header.alg,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
            | Algorithm::ES256
            | Algorithm::ES384
            | Algorithm::EdDSA
    ) {
        return Err(IdTokenError::Invalid(format!(
            "algorithm {:?} is not accepted",
            header.alg
        )));
    }
    let jwk = jwks.key(http, header.kid.as_deref()).await?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| IdTokenError::UnknownKey)?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = LEEWAY_SECS;
    let mut audiences = vec![provider.client_id.clone()];
    audiences.extend(provider.audiences.iter().cloned());
    validation.set_audience(&audiences);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    if !provider.issuers.is_empty() {
        validation.set_issuer(&provider.issuers);
    }
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map_err(|e| IdTokenError::Invalid(e.to_string()))?;
    let claims = data.claims;
    if let Some(template) = &provider.tenant_issuer_template {
        let tid = claims.get("tid").and_then(Value::as_str).unwrap_or("");
        let expected = template.replace("{tid}", tid);
        if tid.is_empty() || claims.get("iss").and_then(Value::as_str) != Some(&expected) {
            return Err(IdTokenError::Invalid(
                "issuer does not name the tenant".into(),
            ));
        }
    } else if provider.issuers.is_empty() {
        return Err(IdTokenError::Invalid(
            "no issuer is configured to check the token against".into(),
        ));
    }
    if let Some(expected) = nonce {
        let got = claims.get("nonce").and_then(Value::as_str);
        let ok = got.is_some_and(|g| {
            subtle::ConstantTimeEq::ct_eq(g.as_bytes(), expected.as_bytes()).into()
        });
        if !ok {
            return Err(IdTokenError::Nonce);
        }
    }
    Ok(claims)
}
