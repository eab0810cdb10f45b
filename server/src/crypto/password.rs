//! Password hashing: argon2id for new hashes; Better Auth's scrypt format is
//! verified too so an imported database keeps working, and rehashed on the
//! next successful sign-in. Hashing runs on the blocking pool, bounded.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use unicode_normalization::UnicodeNormalization;

use crate::config::PasswordHashConfig;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("unrecognised password hash format")]
    Format,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but the stored hash is legacy (scrypt) or has old parameters.
    YesRehash,
}

impl Verified {
    pub fn ok(self) -> bool {
        self != Verified::No
    }
}

/// Hashes and verifies passwords off the async workers.
#[derive(Clone)]
pub struct PasswordHasher {
    params: PasswordHashConfig,
    permits: Arc<Semaphore>,
    /// A real hash of a random password: verifying against it costs the same
    /// as a real check, so unknown accounts take as long as wrong passwords.
    dummy_hash: Arc<String>,
}

impl PasswordHasher {
    pub fn new(params: PasswordHashConfig) -> Result<Self, PasswordError> {
        let dummy = crate::crypto::token::random_alphanumeric(32);
        let dummy_hash = hash_argon2(&params, &dummy)?;
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(PasswordHasher {
            params,
            permits: Arc::new(Semaphore::new(workers * 2)),
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        let params = self.params.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_argon2(&params, &password))
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?
    }

    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verified, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        let params = self.params.clone();
        let password = password.to_owned();
        let stored = stored.to_owned();
        tokio::task::spawn_blocking(move || verify(&params, &password, &stored))
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?
    }

    /// Burns the same work as a verification; used when there is no account.
    pub async fn verify_dummy(&self, password: &str) {
        let stored = self.dummy_hash.clone();
        let _ = self.verify(password, &stored).await;
    }
}

fn argon2_for(m: u32, t: u32, p: u32, len: usize) -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(m, t, p, Some(len)).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// PHC string: `$argon2id$v=19$m=..,t=..,p=..$salt$hash` (unpadded base64).
pub fn hash_argon2(cfg: &PasswordHashConfig, password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let mut out = [0u8; 32];
    argon2_for(cfg.memory_kib, cfg.iterations, cfg.parallelism, out.len())?
        .hash_password_into(password.as_bytes(), &salt, &mut out)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        cfg.memory_kib,
        cfg.iterations,
        cfg.parallelism,
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    ))
}

pub fn verify(
    cfg: &PasswordHashConfig,
    password: &str,
    stored: &str,
) -> Result<Verified, PasswordError> {
    if stored.starts_with("$argon2id$") {
        let (ok, m, t, p) = verify_argon2(password, stored)?;
        let current = m == cfg.memory_kib && t == cfg.iterations && p == cfg.parallelism;
        Ok(match (ok, current) {
            (false, _) => Verified::No,
            (true, true) => Verified::Yes,
            (true, false) => Verified::YesRehash,
        })
    } else if stored.contains(':') {
        Ok(if verify_scrypt(password, stored)? {
            Verified::YesRehash
        } else {
            Verified::No
        })
    } else {
        Err(PasswordError::Format)
    }
}

fn verify_argon2(password: &str, stored: &str) -> Result<(bool, u32, u32, u32), PasswordError> {
    // ["", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash]
    let parts: Vec<&str> = stored.split('$').collect();
    if parts.len() != 6 || parts[2] != "v=19" {
        return Err(PasswordError::Format);
    }
    let (mut m, mut t, mut p) = (0, 0, 0);
    for kv in parts[3].split(',') {
        let (k, v) = kv.split_once('=').ok_or(PasswordError::Format)?;
        let v: u32 = v.parse().map_err(|_| PasswordError::Format)?;
        match k {
            "m" => m = v,
            "t" => t = v,
            "p" => p = v,
            _ => return Err(PasswordError::Format),
        }
    }
    let salt = STANDARD_NO_PAD
        .decode(parts[4])
        .map_err(|_| PasswordError::Format)?;
    let expected = STANDARD_NO_PAD
        .decode(parts[5])
        .map_err(|_| PasswordError::Format)?;
    if expected.len() < 16 || expected.len() > 64 {
        return Err(PasswordError::Format);
    }
    let mut out = vec![0u8; expected.len()];
    argon2_for(m, t, p, expected.len())?
        .hash_password_into(password.as_bytes(), &salt, &mut out)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok((bool::from(out.ct_eq(&expected)), m, t, p))
}

/// Better Auth's format: `<32 hex salt>:<128 hex key>`, scrypt N=16384, r=16,
/// p=1, dkLen=64, over the NFKC-normalised password; the salt is the hex
/// *string's* bytes, not the decoded bytes.
fn verify_scrypt(password: &str, stored: &str) -> Result<bool, PasswordError> {
    let (salt_hex, key_hex) = stored.split_once(':').ok_or(PasswordError::Format)?;
    let expected = hex::decode(key_hex).map_err(|_| PasswordError::Format)?;
    if expected.len() != 64 {
        return Err(PasswordError::Format);
    }
    let normalized: String = password.nfkc().collect();
    let params = scrypt::Params::new(14, 16, 1).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let mut out = [0u8; 64];
    scrypt::scrypt(
        normalized.as_bytes(),
        salt_hex.as_bytes(),
        &params,
        &mut out,
    )
    .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(bool::from(out.as_slice().ct_eq(&expected)))
}

/// Builds a hash in Better Auth's scrypt format (used by import tests).
pub fn hash_scrypt_better_auth(password: &str, salt_hex: &str) -> String {
    let normalized: String = password.nfkc().collect();
    let params = scrypt::Params::new(14, 16, 1).expect("static params");
    let mut out = [0u8; 64];
    scrypt::scrypt(
        normalized.as_bytes(),
        salt_hex.as_bytes(),
        &params,
        &mut out,
    )
    .expect("64-byte output");
    format!("{salt_hex}:{}", hex::encode(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHashConfig {
        PasswordHashConfig {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[test]
    fn argon2_round_trip() {
        let h = hash_argon2(&cheap(), "correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(
            verify(&cheap(), "correct horse", &h).unwrap(),
            Verified::Yes
        );
        assert_eq!(verify(&cheap(), "wrong horse", &h).unwrap(), Verified::No);
        let stronger = PasswordHashConfig {
            memory_kib: 2048,
            ..cheap()
        };
        assert_eq!(
            verify(&stronger, "correct horse", &h).unwrap(),
            Verified::YesRehash
        );
    }

    #[test]
    fn better_auth_scrypt_vector() {
        // Computed independently with Node: crypto.scryptSync("password123",
        // salt, 64, {N: 16384, r: 16, p: 1}) — Better Auth's parameters.
        let stored = "0123456789abcdef0123456789abcdef:e8b256b6f9f4b1641136a66d4a26ba41a47b6c8c9bad6aa4145559ffda45ece1f0f16dec8482a3e5545feada0ba62f2b05eeb943b750c9396874e1762c78d27d";
        assert_eq!(
            hash_scrypt_better_auth("password123", "0123456789abcdef0123456789abcdef"),
            stored
        );
        assert_eq!(
            verify(&cheap(), "password123", stored).unwrap(),
            Verified::YesRehash
        );
        assert_eq!(
            verify(&cheap(), "password124", stored).unwrap(),
            Verified::No
        );
    }

    #[test]
    fn garbage_hash_is_an_error_not_a_panic() {
        assert!(verify(&cheap(), "x", "nonsense").is_err());
        assert!(verify(&cheap(), "x", "$argon2id$v=19$m=1,t=1$zz$zz").is_err());
    }
}
