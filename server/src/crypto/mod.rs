//! Cryptographic primitives: password hashing, random tokens, HMAC signing,
//! encryption at rest, one-time passwords.

pub mod password;
pub mod seal;
pub mod sign;
pub mod token;
pub mod totp;
