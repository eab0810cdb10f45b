//! Proof of address ownership, the one place every such proof goes through.
//!
//! Anyone can register an address they do not own and keep the session (an
//! "account pre-hijacking" attack). When the real owner later proves control
//! of the address, what whoever registered it set up must not survive:
//! sessions, password and linked accounts, and plugin credentials (security keys,
//! second factors) all go, in one transaction, before the address is marked
//! verified. What counts as such a proof is a [`Proof`]:
//!
//! - signing in by the address (magic link, email OTP; later OAuth and phone)
//!   proves the address and nothing else: everything earlier goes;
//! - a verification code, or a link asked for by address alone, confirms the
//!   address of a registration the caller did not show they made: the same,
//!   except where `require_email_verification` kept the account unusable
//!   until now (no session or second factor can exist, and the password is
//!   how the registrant signs in next, so it stays);
//! - a verification link mailed in answer to the registrant (at sign-up, at
//!   a password sign-in, or to their session) confirms that registration.
//!
//! A proof that arrives with a live session of the same user comes from the
//! registrant, who now also shows control of the address: nothing is removed.

use std::sync::Arc;

use crate::core::session::{resolve_session, ResolveOptions};
use crate::db::models::UserRow;
use crate::db::store;
use crate::error::ApiError;
use crate::http::context::RequestContext;
use crate::in_transaction;
use crate::state::AppState;
use crate::with_conn;

/// How the caller showed control of the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// Signs in by the address: magic link, email OTP, OAuth, phone.
    SignIn,
    /// Confirms the address: a code, or a link asked for by address alone.
    Verification,
    /// Follows a verification link mailed in answer to the registrant.
    Registrant,
}

/// Records that the caller proved control of `user`'s address and returns
/// the user as stored afterwards. A no-op for verified addresses. `ctx` is
/// `None` for server-side calls, which carry no registrant session.
pub async fn claim_address(
    state: &Arc<AppState>,
    ctx: Option<&RequestContext>,
    user: &UserRow,
    proof: Proof,
) -> Result<UserRow, ApiError> {
    if user.email_verified {
        return Ok(user.clone());
    }
    let now = state.now();
    let keep = match proof {
        Proof::Registrant => true,
        Proof::Verification => state.config.email_and_password.require_email_verification,
        Proof::SignIn => false,
    };
    let keep_everything = keep
        || match ctx {
            Some(ctx) => resolve_session(
                state,
                ctx,
                ResolveOptions {
                    disable_refresh: true,
                },
            )
            .await?
            .is_some_and(|s| s.user.id == user.id),
            None => false,
        };
    if keep_everything {
        store::mark_email_verified(&state.db, &user.id, &user.email, now).await?;
    } else {
        let plugins = state.plugins.all().to_vec();
        let done: Result<(), ApiError> = with_conn!(&state.db, |conn| {
            in_transaction!(conn, {
                store::remove_sign_in_credentials(conn.into(), &user.id).await?;
                for plugin in &plugins {
                    plugin
                        .remove_unproven_credentials(conn.into(), &user.id)
                        .await?;
                }
                store::mark_email_verified_in(conn.into(), &user.id, &user.email, now).await?;
                Ok::<_, ApiError>(())
            })
        });
        done?;
        tracing::info!(user_id = %user.id, "address proven by its owner; earlier credentials removed");
    }
    state.sessions.invalidate_user(&user.id);
    Ok(store::find_user_by_id(&state.db, &user.id)
        .await?
        .unwrap_or_else(|| user.clone()))
}
