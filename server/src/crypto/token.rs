//! Random identifiers and tokens, and their at-rest hashes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};

const ALPHANUMERIC: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `len` characters of `[a-zA-Z0-9]` from the OS RNG, without modulo bias
/// (Better Auth's id and session-token shape).
pub fn random_alphanumeric(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHANUMERIC[rng.random_range(0..ALPHANUMERIC.len())] as char)
        .collect()
}

/// `n` decimal digits from the OS RNG (one-time codes).
pub fn random_digits(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// A 32-character record id.
pub fn new_id() -> String {
    random_alphanumeric(32)
}

/// SHA-256, base64url without padding: how tokens are stored at rest.
pub fn hash_token(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_expected_shape() {
        let t = random_alphanumeric(32);
        assert_eq!(t.len(), 32);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(t, random_alphanumeric(32));
    }

    #[test]
    fn hash_is_stable_and_unpadded() {
        assert_eq!(
            hash_token("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }
}
