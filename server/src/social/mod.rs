//! Sign-in with other identity providers (social sign-in, generic OAuth,
//! ID-token sign-in, linked accounts). Built up in parts; so far:
//! - `providers`: the built-in providers as data (endpoints, scopes, quirks,
//!   profile mapping);
//! - `linking`: the one decision of which user a provider identity becomes.
pub mod linking;
pub mod providers;
