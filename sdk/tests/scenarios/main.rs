//! The Rust client against real servers over HTTP, one scenario module per
//! area. One test binary: each would otherwise link the whole server again.

mod client;
mod mail_sign_in;
mod organization;
mod passkey;
mod social_loopback;
mod two_factor;
