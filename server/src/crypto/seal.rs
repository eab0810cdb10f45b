//! Encryption at rest, in Better Auth's format: XChaCha20-Poly1305 with
//! key = SHA-256(secret), a random 24-byte nonce prepended to ciphertext and
//! tag, the whole hex-encoded. Used for TOTP secrets and backup codes.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

fn cipher(secret: &str) -> XChaCha20Poly1305 {
    let key = Sha256::digest(secret.as_bytes());
    XChaCha20Poly1305::new_from_slice(&key).expect("a 32-byte key")
}

/// Encrypts `plaintext`; the output is lowercase hex.
pub fn seal(secret: &str, plaintext: &str) -> String {
    let mut nonce = [0u8; 24];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = cipher(secret)
        .encrypt(&XNonce::from(nonce), plaintext.as_bytes())
        .expect("encryption of an in-memory buffer cannot fail");
    let mut out = Vec::with_capacity(24 + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    hex::encode(out)
}

/// Decrypts the output of [`seal`]; `None` if it was altered or the key differs.
pub fn open(secret: &str, sealed_hex: &str) -> Option<String> {
    let bytes = hex::decode(sealed_hex).ok()?;
    if bytes.len() < 24 + 16 {
        return None;
    }
    let (nonce, body) = bytes.split_at(24);
    let nonce = XNonce::try_from(nonce).ok()?;
    let plain = cipher(secret).decrypt(&nonce, body).ok()?;
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let s = seal("k", "hello");
        assert_ne!(seal("k", "hello"), s, "fresh nonce each time");
        assert_eq!(open("k", &s).as_deref(), Some("hello"));
        assert_eq!(open("other", &s), None);
        let mut bytes = hex::decode(&s).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        assert_eq!(open("k", &hex::encode(bytes)), None);
    }
}
