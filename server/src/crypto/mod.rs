//! Cryptographic primitives: password hashing, random tokens, HMAC signing.

pub mod password;
pub mod sign;
pub mod token;
