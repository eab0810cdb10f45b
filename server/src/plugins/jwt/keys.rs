//! Signing keys: generation (Ed25519, P-256, RSA-2048), their JWKs, sealed
//! storage, rotation, and the in-process key ring that signs and verifies.
//!
//! Tokens are verified with the `jsonwebtoken` crate (pure-Rust backend; it
//! supports EdDSA). They are signed with `ring`, which the SMTP client's TLS
//! already builds: a signature is most of a `get-session` answer's cost when
//! the plugin is on, and ring's assembly signs Ed25519 and P-256 in about
//! half the time of the pure-Rust crates. The key pairs come from the
//! generators jsonwebtoken already depends on.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, NaiveDateTime};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::routes::JwtPublicJwk;
use super::settings::JwtSettings;
use super::store::{self, KeyRow};
use crate::crypto::{seal, token};
use crate::error::{codes, ApiError};
use crate::state::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Alg {
    #[serde(rename = "EdDSA")]
    EdDsa,
    #[serde(rename = "ES256")]
    Es256,
    #[serde(rename = "RS256")]
    Rs256,
}

impl Alg {
    pub fn name(self) -> &'static str {
        match self {
            Alg::EdDsa => "EdDSA",
            Alg::Es256 => "ES256",
            Alg::Rs256 => "RS256",
        }
    }

    fn parse(name: &str) -> Option<Alg> {
        [Alg::EdDsa, Alg::Es256, Alg::Rs256]
            .into_iter()
            .find(|a| a.name() == name)
    }

    fn jwt(self) -> Algorithm {
        match self {
            Alg::EdDsa => Algorithm::EdDSA,
            Alg::Es256 => Algorithm::ES256,
            Alg::Rs256 => Algorithm::RS256,
        }
    }

    fn crv(self) -> Option<&'static str> {
        match self {
            Alg::EdDsa => Some("Ed25519"),
            Alg::Es256 => Some("P-256"),
            Alg::Rs256 => None,
        }
    }
}

/// One usable key pair.
pub struct Key {
    pub id: String,
    pub alg: Alg,
    pub created_at: NaiveDateTime,
    /// When it was rotated out (it verifies for the grace period after).
    pub expires_at: Option<NaiveDateTime>,
    signer: KeySigner,
    /// `base64url({"alg":..,"kid":..})`: the same for every token of this key.
    header_b64: String,
    decoding: DecodingKey,
    /// The public JWK as `/jwks` lists it (with `kid` and `alg`).
    pub public_jwk: JwtPublicJwk,
}

/// The private half, parsed once (re-reading a PKCS#8 document and
/// recomputing the public point on every token doubled each signature's cost).
enum KeySigner {
    Ed(Ed25519KeyPair),
    Es(EcdsaKeyPair),
    Rs(RsaKeyPair),
}

impl KeySigner {
    /// A compact JWS over `header_b64.base64url(payload)`.
    fn sign(&self, header_b64: &str, payload: &[u8]) -> Result<String, String> {
        let mut token = String::with_capacity(header_b64.len() + payload.len() * 4 / 3 + 360);
        token.push_str(header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = match self {
            KeySigner::Ed(k) => k.sign(token.as_bytes()).as_ref().to_vec(),
            KeySigner::Es(k) => k
                .sign(&SystemRandom::new(), token.as_bytes())
                .map_err(|_| "ES256 signing failed".to_string())?
                .as_ref()
                .to_vec(),
            KeySigner::Rs(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    token.as_bytes(),
                    &mut sig,
                )
                .map_err(|_| "RS256 signing failed".to_string())?;
                sig
            }
        };
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(token)
    }
}

struct Loaded {
    keys: Vec<Arc<Key>>,
    at: NaiveDateTime,
}

/// The keys, cached for `session.cache_ttl` (a key another instance
/// created is picked up then, or at once when a token names it).
#[derive(Default)]
pub struct KeyRing {
    loaded: RwLock<Option<Arc<Loaded>>>,
    /// One key creation at a time in this process.
    creating: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRing")
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(field: &Value, name: &str) -> Result<Vec<u8>, String> {
    let s = field
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("JWK without {name}"))?;
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| format!("JWK {name}: {e}"))
}

/// A new key pair: (public JWK, private JWK), both without `kid`.
fn generate(alg: Alg) -> Result<(Value, Value), String> {
    match alg {
        Alg::EdDsa => {
            let seed: [u8; 32] = rand::random();
            let public = ed25519_dalek::SigningKey::from_bytes(&seed)
                .verifying_key()
                .to_bytes();
            let public_jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&public)});
            let mut private = public_jwk.clone();
            private["d"] = Value::String(b64(&seed));
            Ok((public_jwk, private))
        }
        Alg::Es256 => {
            use p256::elliptic_curve::sec1::ToEncodedPoint;
            let secret = loop {
                let bytes: [u8; 32] = rand::random();
                if let Ok(k) = p256::SecretKey::from_slice(&bytes) {
                    break k;
                }
            };
            let point = secret.public_key().to_encoded_point(false);
            let (Some(x), Some(y)) = (point.x(), point.y()) else {
                return Err("P-256 point without coordinates".into());
            };
            let public_jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)});
            let mut private = public_jwk.clone();
            private["d"] = Value::String(b64(&secret.to_bytes()));
            Ok((public_jwk, private))
        }
        Alg::Rs256 => {
            use rsa::traits::{PrivateKeyParts, PublicKeyParts};
            let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048)
                .map_err(|e| format!("RSA key generation: {e}"))?;
            let public_jwk = json!({
                "kty": "RSA",
                "n": b64(&key.n().to_bytes_be()),
                "e": b64(&key.e().to_bytes_be()),
            });
            let [p, q] = key.primes() else {
                return Err("RSA key without two primes".into());
            };
            let mut private = public_jwk.clone();
            private["d"] = Value::String(b64(&key.d().to_bytes_be()));
            private["p"] = Value::String(b64(&p.to_bytes_be()));
            private["q"] = Value::String(b64(&q.to_bytes_be()));
            Ok((public_jwk, private))
        }
    }
}

fn key_signer(alg: Alg, private: &Value) -> Result<KeySigner, String> {
    match alg {
        Alg::EdDsa => {
            let seed = unb64(private, "d")?;
            let public = unb64(private, "x")?;
            Ed25519KeyPair::from_seed_and_public_key(&seed, &public)
                .map(KeySigner::Ed)
                .map_err(|e| format!("Ed25519 key: {e}"))
        }
        Alg::Es256 => {
            use p256::elliptic_curve::sec1::ToEncodedPoint;
            let d = unb64(private, "d")?;
            let secret = p256::SecretKey::from_slice(&d).map_err(|e| format!("P-256 key: {e}"))?;
            let public = secret.public_key().to_encoded_point(false);
            EcdsaKeyPair::from_private_key_and_public_key(
                &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &d,
                public.as_bytes(),
                &SystemRandom::new(),
            )
            .map(KeySigner::Es)
            .map_err(|e| format!("P-256 key: {e}"))
        }
        Alg::Rs256 => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            let int = |name| unb64(private, name).map(|b| rsa::BigUint::from_bytes_be(&b));
            let key = rsa::RsaPrivateKey::from_components(
                int("n")?,
                int("e")?,
                int("d")?,
                vec![int("p")?, int("q")?],
            )
            .map_err(|e| format!("RSA key: {e}"))?;
            let der = key.to_pkcs1_der().map_err(|e| format!("RSA key: {e}"))?;
            RsaKeyPair::from_der(der.as_bytes())
                .map(KeySigner::Rs)
                .map_err(|e| format!("RSA key: {e}"))
        }
    }
}

fn decoding_key(alg: Alg, public: &Value) -> Result<DecodingKey, String> {
    let field = |name: &str| {
        public
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("JWK without {name}"))
    };
    let key = match alg {
        Alg::EdDsa => DecodingKey::from_ed_components(field("x")?),
        Alg::Es256 => DecodingKey::from_ec_components(field("x")?, field("y")?),
        Alg::Rs256 => DecodingKey::from_rsa_components(field("n")?, field("e")?),
    };
    key.map_err(|e| format!("public JWK: {e}"))
}

fn key_from_row(secret: &str, row: &KeyRow) -> Result<Key, String> {
    let alg = row
        .alg
        .as_deref()
        .and_then(Alg::parse)
        .ok_or_else(|| format!("unsupported alg {:?}", row.alg))?;
    let public: Value =
        serde_json::from_str(&row.public_key).map_err(|e| format!("public key: {e}"))?;
    let private_json = seal::open(secret, &row.private_key)
        .ok_or("the private key does not open with this secret")?;
    let private: Value =
        serde_json::from_str(&private_json).map_err(|e| format!("private key: {e}"))?;
    let signer = key_signer(alg, &private)?;
    let header_b64 = b64(
        &serde_json::to_vec(&json!({"alg": alg.name(), "kid": row.id}))
            .map_err(|e| format!("header: {e}"))?,
    );
    let decoding = decoding_key(alg, &public)?;
    let part = |name: &str| public.get(name).and_then(Value::as_str).map(str::to_string);
    let public_jwk = JwtPublicJwk {
        kid: row.id.clone(),
        kty: part("kty").unwrap_or_default(),
        alg: alg.name().into(),
        crv: part("crv"),
        x: part("x"),
        y: part("y"),
        n: part("n"),
        e: part("e"),
    };
    Ok(Key {
        id: row.id.clone(),
        alg,
        created_at: row.created_at,
        expires_at: row.expires_at,
        signer,
        header_b64,
        decoding,
        public_jwk,
    })
}

fn storage_err(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "jwt key storage failed");
    ApiError::new(codes::INTERNAL_SERVER_ERROR)
}

impl KeyRing {
    fn cached(&self, now: NaiveDateTime, ttl: Duration) -> Option<Arc<Loaded>> {
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        loaded
            .as_ref()
            .filter(|l| l.at <= now && now - l.at < ttl)
            .cloned()
    }

    /// The keys still within their grace period, from the cache unless `fresh`.
    async fn keys(
        &self,
        state: &AppState,
        s: &JwtSettings,
        fresh: bool,
    ) -> Result<Arc<Loaded>, ApiError> {
        let now = state.now();
        let ttl = Duration::seconds(state.config.session.cache_ttl.max(1));
        if !fresh {
            if let Some(l) = self.cached(now, ttl) {
                return Ok(l);
            }
        }
        let cutoff = now - Duration::seconds(s.grace_period);
        let rows = store::live_keys(&state.db, cutoff)
            .await
            .map_err(storage_err)?;
        let keys = rows
            .iter()
            .filter_map(|row| match key_from_row(&state.secret, row) {
                Ok(k) => Some(Arc::new(k)),
                Err(e) => {
                    tracing::warn!(kid = %row.id, error = %e, "skipping an unusable jwks key");
                    None
                }
            })
            .collect();
        let loaded = Arc::new(Loaded { keys, at: now });
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = Some(loaded.clone());
        Ok(loaded)
    }

    /// The public JWKs of every key still within its grace period.
    pub async fn public_jwks(
        &self,
        state: &AppState,
        s: &JwtSettings,
    ) -> Result<Vec<JwtPublicJwk>, ApiError> {
        // Publishing creates the first key, so /jwks is never empty.
        self.signing_key(state, s).await?;
        Ok(self
            .keys(state, s, false)
            .await?
            .keys
            .iter()
            .map(|k| k.public_jwk.clone())
            .collect())
    }

    fn current(loaded: &Loaded, s: &JwtSettings, now: NaiveDateTime) -> Option<Arc<Key>> {
        loaded
            .keys
            .iter()
            .find(|k| {
                k.alg == s.alg
                    && k.expires_at.is_none()
                    && (s.rotation_interval == 0
                        || now - k.created_at < Duration::seconds(s.rotation_interval))
            })
            .cloned()
    }

    /// The key new tokens are signed with: the newest current key of the
    /// configured algorithm; a new one when there is none or it is due for
    /// rotation (the previous keys are then retired, and verify for the grace period).
    pub async fn signing_key(
        &self,
        state: &AppState,
        s: &JwtSettings,
    ) -> Result<Arc<Key>, ApiError> {
        let now = state.now();
        if let Some(k) = Self::current(&*self.keys(state, s, false).await?, s, now) {
            return Ok(k);
        }
        let _one_at_a_time = self.creating.lock().await;
        let loaded = self.keys(state, s, true).await?;
        if let Some(k) = Self::current(&loaded, s, now) {
            return Ok(k);
        }
        let alg = s.alg;
        let (public, private) = tokio::task::spawn_blocking(move || generate(alg))
            .await
            .map_err(storage_err)?
            .map_err(storage_err)?;
        let row = KeyRow {
            id: token::new_id(),
            public_key: public.to_string(),
            private_key: seal::seal(&state.secret, &private.to_string()),
            created_at: now,
            expires_at: None,
            alg: Some(alg.name().into()),
            crv: alg.crv().map(str::to_string),
        };
        store::insert(&state.db, &row).await.map_err(storage_err)?;
        for old in loaded.keys.iter().filter(|k| k.expires_at.is_none()) {
            store::retire(&state.db, &old.id, now)
                .await
                .map_err(storage_err)?;
        }
        tracing::info!(kid = %row.id, alg = alg.name(), "created a jwt signing key");
        let loaded = self.keys(state, s, true).await?;
        loaded
            .keys
            .iter()
            .find(|k| k.id == row.id)
            .cloned()
            .ok_or_else(|| storage_err("the new key did not load"))
    }

    /// Signs `claims` as they are, with the current key (`{alg, kid}` header).
    pub async fn sign(
        &self,
        state: &AppState,
        s: &JwtSettings,
        claims: &impl Serialize,
    ) -> Result<String, ApiError> {
        self.sign_with(state, s, None, claims).await
    }

    /// Signs `claims` with the current key and a `typ` header: tokens of
    /// another kind than this plugin's (an OAuth access token is
    /// `at+jwt`, RFC 9068 §2.1), which a verifier must not mistake for one.
    pub async fn sign_typed(
        &self,
        state: &AppState,
        s: &JwtSettings,
        typ: &str,
        claims: &impl Serialize,
    ) -> Result<String, ApiError> {
        self.sign_with(state, s, Some(typ), claims).await
    }

    /// The current key's precomputed `{alg, kid}` header, or one with `typ`.
    async fn sign_with(
        &self,
        state: &AppState,
        s: &JwtSettings,
        typ: Option<&str>,
        claims: &impl Serialize,
    ) -> Result<String, ApiError> {
        let payload = serde_json::to_vec(claims).map_err(storage_err)?;
        let key = self.signing_key(state, s).await?;
        let header = match typ {
            None => key.header_b64.clone(),
            Some(typ) => b64(&serde_json::to_vec(
                &json!({"alg": key.alg.name(), "kid": key.id, "typ": typ}),
            )
            .map_err(storage_err)?),
        };
        key.signer.sign(&header, &payload).map_err(storage_err)
    }

    /// Verifies a token issued here: a known key within its grace period,
    /// exactly that key's algorithm (so `none` and HS256 keyed with a public
    /// key fail), a valid signature, `exp` in the future and `nbf` passed
    /// (by the server clock), and the configured `iss` and `aud`.
    pub async fn verify(
        &self,
        state: &AppState,
        s: &JwtSettings,
        token_text: &str,
        issuer: &str,
        audience: &str,
    ) -> Result<Map<String, Value>, VerifyError> {
        self.verify_with(state, s, token_text, issuer, audience, true)
            .await
    }

    /// As [`Self::verify`], but an expired token passes: for a token that
    /// only identifies (an ID token sent back as a logout hint, which OIDC
    /// RP-Initiated Logout §2 says may have expired), never for access.
    pub async fn verify_allowing_expired(
        &self,
        state: &AppState,
        s: &JwtSettings,
        token_text: &str,
        issuer: &str,
        audience: &str,
    ) -> Result<Map<String, Value>, VerifyError> {
        self.verify_with(state, s, token_text, issuer, audience, false)
            .await
    }

    async fn verify_with(
        &self,
        state: &AppState,
        s: &JwtSettings,
        token_text: &str,
        issuer: &str,
        audience: &str,
        check_expiry: bool,
    ) -> Result<Map<String, Value>, VerifyError> {
        let header = jsonwebtoken::decode_header(token_text).map_err(|_| VerifyError::Malformed)?;
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        let find = |l: &Loaded| l.keys.iter().find(|k| k.id == kid).cloned();
        let mut key = find(
            &*self
                .keys(state, s, false)
                .await
                .map_err(VerifyError::Storage)?,
        );
        if key.is_none() {
            // Maybe created by another instance since the cache was filled.
            key = find(
                &*self
                    .keys(state, s, true)
                    .await
                    .map_err(VerifyError::Storage)?,
            );
        }
        let key = key.ok_or(VerifyError::UnknownKey)?;
        if header.alg != key.alg.jwt() {
            return Err(VerifyError::WrongAlgorithm);
        }
        let mut validation = Validation::new(key.alg.jwt());
        // Time is checked below against the server clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::new();
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token_text, &key.decoding, &validation)
                .map_err(|_| VerifyError::BadSignature)?;
        let claims = data.claims;
        let now = state.now().and_utc().timestamp();
        match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if exp > now || !check_expiry => {}
            _ => return Err(VerifyError::Expired),
        }
        if claims
            .get("nbf")
            .and_then(Value::as_i64)
            .is_some_and(|nbf| nbf > now)
        {
            return Err(VerifyError::NotYetValid);
        }
        if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
            return Err(VerifyError::WrongIssuer);
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => a == audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !aud_ok {
            return Err(VerifyError::WrongAudience);
        }
        Ok(claims)
    }
}

/// Why `verify_jwt` refused a token.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("the token is not a JWT")]
    Malformed,
    #[error("no current or grace-period key has the token's kid")]
    UnknownKey,
    #[error("the token's alg is not its key's")]
    WrongAlgorithm,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the token has expired (or has no exp)")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's iss is not this issuer")]
    WrongIssuer,
    #[error("the token's aud is not this audience")]
    WrongAudience,
    #[error("key storage failed")]
    Storage(ApiError),
}
