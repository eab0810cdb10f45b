//! Better Auth's signed-cookie scheme: `value + "." + base64(HMAC-SHA256(secret, value))`,
//! standard base64 with padding (always 44 characters).

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str) -> HmacSha256 {
    <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length")
}

/// The signature part: standard base64 (with padding) of HMAC-SHA256.
pub fn signature(secret: &str, value: &str) -> String {
    let mut m = mac(secret);
    m.update(value.as_bytes());
    STANDARD.encode(m.finalize().into_bytes())
}

/// `value.signature`, before percent-encoding.
pub fn sign_value(secret: &str, value: &str) -> String {
    format!("{value}.{}", signature(secret, value))
}

/// Verifies `value.signature` (already percent-decoded) and returns the value.
/// The signature must be 44 characters ending in `=`, as Better Auth requires;
/// base64url is accepted too (Better Auth accepts both in headers).
pub fn verify_signed(secret: &str, signed: &str) -> Option<String> {
    let (value, sig) = signed.rsplit_once('.')?;
    if sig.len() != 44 || !sig.ends_with('=') {
        return None;
    }
    let bytes = STANDARD
        .decode(sig)
        .or_else(|_| URL_SAFE.decode(sig))
        .ok()?;
    let mut m = mac(secret);
    m.update(value.as_bytes());
    // verify_slice compares in constant time.
    m.verify_slice(&bytes).ok()?;
    Some(value.to_string())
}

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(message);
    m.finalize().into_bytes().to_vec()
}

/// Equality in time independent of where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known vector, computed independently with Node's crypto:
    // createHmac("sha256", "better-auth-secret-12345678901234567890")
    //   .update("DZMkRywHx5Y2hXdRZIjKOcRRYXowoLZn").digest("base64")
    const SECRET: &str = "better-auth-secret-12345678901234567890";
    const TOKEN: &str = "DZMkRywHx5Y2hXdRZIjKOcRRYXowoLZn";

    #[test]
    fn matches_node_vector() {
        assert_eq!(
            signature(SECRET, TOKEN),
            "uWVg9pRI58ER28Qz90w86xVQU8d74zpVwcqPhORSSdg="
        );
    }

    #[test]
    fn round_trip() {
        let signed = sign_value(SECRET, TOKEN);
        assert_eq!(signed.len(), TOKEN.len() + 1 + 44);
        assert_eq!(verify_signed(SECRET, &signed).as_deref(), Some(TOKEN));
    }

    #[test]
    fn tampering_is_rejected() {
        let signed = sign_value(SECRET, TOKEN);
        let tampered = signed.replacen('D', "E", 1);
        assert_eq!(verify_signed(SECRET, &tampered), None);
        assert_eq!(verify_signed("another-secret", &signed), None);
        assert_eq!(verify_signed(SECRET, TOKEN), None);
        assert_eq!(verify_signed(SECRET, &format!("{TOKEN}.short=")), None);
    }
}
