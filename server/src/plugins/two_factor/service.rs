//! The second-factor logic behind the routes and the sign-in hook.
//!
//! Verification rows (`verification` table, identifiers hashed like every
//! one-time token):
//! - `two-factor:<hash>`: a pending sign-in, value `<userId>:<remember>:<failures>`;
//! - `two-factor-otp:<hash>`: an emailed code, value `<hash(code)>:<failures>`;
//! - `trust-device:<hash>`: a trusted device, value `<userId>:<twoFactorId>:<password fingerprint>`,
//!   so disabling 2FA (new record on re-enable) or any password change voids it.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, NaiveDateTime};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::routes::TwoFactorRedirect;
use super::store::{self as tf_store, TwoFactorRow};
use super::*;
use crate::core::dto::TokenUserResponse;
use crate::core::links;
use crate::core::session::{
    create_session, resolve_session, user_json, AuthSession, ResolveOptions,
};
use crate::crypto::{seal, token, totp};
use crate::db::store;
use crate::error::ApiError;
use serde_json::Value;

const CHALLENGE: &str = "two-factor";
const OTP: &str = "two-factor-otp";
const TRUST: &str = "trust-device";
const TOTP_PERIOD: u64 = 30;
const TOTP_DIGITS: u32 = 6;
const OTP_DIGITS: usize = 6;

/// Which second factor a verify call uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Totp,
    Otp,
    BackupCode,
}

/// Who is presenting a code: a signed-in user managing 2FA, or a password
/// sign-in waiting on its challenge (taken out of storage while checked).
enum Verifier {
    Session(Box<AuthSession>),
    Challenge(Challenge),
}

struct Challenge {
    raw: String,
    user: UserRow,
    remember: bool,
    failures: u32,
    expires_at: NaiveDateTime,
}

impl Verifier {
    fn user(&self) -> &UserRow {
        match self {
            Verifier::Session(s) => &s.user,
            Verifier::Challenge(c) => &c.user,
        }
    }

    /// The key an emailed code is filed under.
    fn otp_key(&self) -> String {
        match self {
            Verifier::Session(s) => format!("session:{}", s.session.id),
            Verifier::Challenge(c) => format!("challenge:{}", c.raw),
        }
    }
}

fn challenge_value(user_id: &str, remember: bool, failures: u32) -> String {
    format!("{user_id}:{}:{failures}", u8::from(remember))
}

/// The session, else the `two_factor` cookie's challenge. `take` removes the
/// challenge while a code is checked; it goes back unless the check succeeds.
async fn verifier(
    state: &AppState,
    ctx: &RequestContext,
    take: bool,
) -> Result<Verifier, ApiError> {
    let opts = ResolveOptions::default();
    if let Some(s) = resolve_session(state, ctx, opts).await? {
        return Ok(Verifier::Session(Box::new(s)));
    }
    let invalid = || ApiError::new(INVALID_TWO_FACTOR_COOKIE);
    let raw = ctx
        .signed_cookie(state, &challenge_cookie(state))
        .ok_or_else(invalid)?;
    let found = if take {
        links::consume(state, CHALLENGE, &raw).await?
    } else {
        links::peek(state, CHALLENGE, &raw).await?
    };
    let (value, expires_at) = found.ok_or_else(invalid)?;
    if expires_at <= state.now() {
        if !take {
            links::consume(state, CHALLENGE, &raw).await?;
        }
        return Err(invalid());
    }
    let mut parts = value.splitn(3, ':');
    let (Some(user_id), Some(remember), Some(failures)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let failures: u32 = failures.parse().unwrap_or(u32::MAX);
    if failures
        >= state
            .settings::<super::settings::TwoFactorSettings>()
            .allowed_attempts
    {
        // The challenge is spent: the user must sign in again.
        if !take {
            links::consume(state, CHALLENGE, &raw).await?;
        }
        return Err(ApiError::new(TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE));
    }
    let user = store::find_user_by_id(&state.db, user_id)
        .await?
        .ok_or_else(invalid)?;
    Ok(Verifier::Challenge(Challenge {
        raw,
        user,
        remember: remember == "1",
        failures,
        expires_at,
    }))
}

/// Puts a taken challenge back, counting one more failure if `failed`.
async fn restore(state: &AppState, c: &Challenge, failed: bool) -> Result<(), ApiError> {
    let failures = c.failures + u32::from(failed);
    let value = challenge_value(&c.user.id, c.remember, failures);
    crate::shared::verification::create(
        state,
        &format!("{CHALLENGE}:{}", token::hash_token(&c.raw)),
        &value,
        c.expires_at,
        state.now(),
    )
    .await?;
    Ok(())
}

fn issuer(state: &AppState, requested: Option<&str>) -> String {
    requested
        .map(str::to_string)
        .or_else(|| {
            state
                .settings::<super::settings::TwoFactorSettings>()
                .issuer
                .clone()
        })
        .unwrap_or_else(|| state.config.app_name.clone())
}

/// Better Auth's URI: the secret string's bytes are the HMAC key, base32 in the URI.
fn totp_uri(issuer: &str, email: &str, secret: &str) -> String {
    let issuer = links::enc(issuer);
    format!(
        "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&digits={TOTP_DIGITS}&period={TOTP_PERIOD}",
        links::enc(email),
        totp::base32(secret.as_bytes()),
    )
}

/// `count` codes shaped `xxxxx-xxxxx` from `[a-zA-Z0-9]`.
fn new_backup_codes(count: usize) -> Vec<String> {
    (0..count)
        .map(|_| {
            let s = token::random_alphanumeric(10);
            format!("{}-{}", &s[..5], &s[5..])
        })
        .collect()
}

fn seal_codes(state: &AppState, codes: &[String]) -> String {
    seal::seal(
        &state.secret,
        &serde_json::to_string(codes).expect("strings serialise"),
    )
}

fn open_codes(state: &AppState, sealed: &str) -> Result<Vec<String>, ApiError> {
    seal::open(&state.secret, sealed)
        .and_then(|json| serde_json::from_str(&json).ok())
        .ok_or_else(|| {
            tracing::error!("backup codes cannot be decrypted (was the secret changed?)");
            ApiError::internal()
        })
}

/// Checks the caller's password (401-free: a wrong one is `INVALID_PASSWORD`).
async fn check_password(state: &AppState, user_id: &str, password: &str) -> Result<(), ApiError> {
    let stored = store::find_user_with_credential(&state.db, user_id)
        .await?
        .and_then(|a| a.password);
    let ok = match stored {
        Some(hash) => state.hasher.verify(password, &hash).await?.ok(),
        None => {
            state.hasher.verify_dummy(password).await?;
            false
        }
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(codes::INVALID_PASSWORD))
    }
}

/// A short fingerprint of the current password hash ("-" without one).
async fn password_fingerprint(state: &AppState, user_id: &str) -> Result<String, ApiError> {
    Ok(store::find_user_with_credential(&state.db, user_id)
        .await?
        .and_then(|a| a.password)
        .map(|h| token::hash_token(&h)[..16].to_string())
        .unwrap_or_else(|| "-".into()))
}

pub struct Enabled {
    pub totp_uri: Option<String>,
    pub backup_codes: Option<Vec<String>>,
}

/// Creates a new secret and backup codes. TOTP becomes active with the first
/// verified code (unless `skip_verification_on_enable`); `otp` is active at once.
/// A change of the second factor (on or off) moves the caller to a new
/// session and ends the old one, as Better Auth does: a session opened
/// under the old rules does not outlive them. Returns the new token.
async fn rotate_session(
    state: &AppState,
    ctx: &RequestContext,
    s: &AuthSession,
) -> Result<String, ApiError> {
    let (_, raw) = create_session(state, ctx, &s.user.id, true).await?;
    store::delete_session(&state.db, &s.session.id).await?;
    state.sessions.invalidate_user(&s.user.id);
    Ok(raw)
}

pub async fn enable(
    state: &AppState,
    ctx: &RequestContext,
    s: &AuthSession,
    password: &str,
    use_otp: bool,
    requested_issuer: Option<&str>,
) -> Result<Enabled, ApiError> {
    check_password(state, &s.user.id, password).await?;
    let cfg = state.settings::<super::settings::TwoFactorSettings>();
    let secret = token::random_alphanumeric(32);
    let codes = new_backup_codes(cfg.backup_code_count);
    let active_now = use_otp || cfg.skip_verification_on_enable;
    tf_store::replace(
        &state.db,
        &TwoFactorRow {
            id: token::new_id(),
            secret: seal::seal(&state.secret, &secret),
            backup_codes: seal_codes(state, &codes),
            user_id: s.user.id.clone(),
            verified: Some(!use_otp && cfg.skip_verification_on_enable),
            failed_verification_count: Some(0),
            locked_until: None,
            last_used_step: None,
        },
    )
    .await?;
    if active_now {
        tf_store::set_enabled(&state.db, &s.user.id, true, state.now()).await?;
        rotate_session(state, ctx, s).await?;
    }
    state.sessions.invalidate_user(&s.user.id);
    if use_otp {
        return Ok(Enabled {
            totp_uri: None,
            backup_codes: None,
        });
    }
    Ok(Enabled {
        totp_uri: Some(totp_uri(
            &issuer(state, requested_issuer),
            &s.user.email,
            &secret,
        )),
        backup_codes: Some(codes),
    })
}

pub async fn disable(
    state: &AppState,
    ctx: &RequestContext,
    s: &AuthSession,
    password: &str,
) -> Result<(), ApiError> {
    check_password(state, &s.user.id, password).await?;
    tf_store::delete(&state.db, &s.user.id).await?;
    tf_store::set_enabled(&state.db, &s.user.id, false, state.now()).await?;
    rotate_session(state, ctx, s).await?;
    Ok(())
}

async fn require_row(
    state: &AppState,
    user_id: &str,
    missing: ErrorCode,
) -> Result<TwoFactorRow, ApiError> {
    tf_store::find(&state.db, user_id)
        .await?
        .ok_or_else(|| ApiError::new(missing))
}

fn open_secret(state: &AppState, row: &TwoFactorRow) -> Result<String, ApiError> {
    seal::open(&state.secret, &row.secret).ok_or_else(|| {
        tracing::error!("a TOTP secret cannot be decrypted (was the secret changed?)");
        ApiError::internal()
    })
}

pub async fn totp_uri_for(
    state: &AppState,
    s: &AuthSession,
    password: &str,
) -> Result<String, ApiError> {
    check_password(state, &s.user.id, password).await?;
    let row = require_row(state, &s.user.id, TOTP_NOT_ENABLED).await?;
    Ok(totp_uri(
        &issuer(state, None),
        &s.user.email,
        &open_secret(state, &row)?,
    ))
}

pub async fn generate_backup_codes(
    state: &AppState,
    s: &AuthSession,
    password: &str,
) -> Result<Vec<String>, ApiError> {
    check_password(state, &s.user.id, password).await?;
    let row = require_row(state, &s.user.id, TWO_FACTOR_NOT_ENABLED).await?;
    let codes = new_backup_codes(
        state
            .settings::<super::settings::TwoFactorSettings>()
            .backup_code_count,
    );
    if !tf_store::swap_backup_codes(
        &state.db,
        &row.id,
        &row.backup_codes,
        &seal_codes(state, &codes),
    )
    .await?
    {
        return Err(ApiError::internal());
    }
    Ok(codes)
}

/// The user's unused backup codes (server-side only, like Better Auth's
/// `viewBackupCodes`: never exposed over HTTP).
pub async fn view_backup_codes(state: &AppState, user_id: &str) -> Result<Vec<String>, ApiError> {
    let row = require_row(state, user_id, BACKUP_CODES_NOT_ENABLED).await?;
    open_codes(state, &row.backup_codes)
}

/// Mails a fresh code to the signed-in user or the pending sign-in's user.
pub async fn send_otp(state: &AppState, ctx: &RequestContext) -> Result<(), ApiError> {
    if !state.mailer.enabled() {
        return Err(ApiError::new(OTP_NOT_ENABLED));
    }
    let v = verifier(state, ctx, false).await?;
    let user = v.user();
    if !tf_store::is_enabled(&state.db, &user.id).await? {
        return Err(ApiError::new(TWO_FACTOR_NOT_ENABLED));
    }
    let code = token::random_digits(OTP_DIGITS);
    let key = v.otp_key();
    let id = format!("{OTP}:{}", token::hash_token(&key));
    let now = state.now();
    crate::shared::verification::delete(state, &id).await?;
    crate::shared::verification::create(
        state,
        &id,
        &format!("{}:0", token::hash_token(&code)),
        now + Duration::seconds(
            state
                .settings::<super::settings::TwoFactorSettings>()
                .otp_expires_in,
        ),
        now,
    )
    .await?;
    links::mail(state, &super::OTP_MAIL, &user.email, &code);
    Ok(())
}

/// Outcome of checking one code.
enum Check {
    Ok,
    /// A wrong code: counted against the challenge and the account.
    Wrong(ErrorCode),
}

async fn check_totp(
    state: &AppState,
    v: &Verifier,
    row: &TwoFactorRow,
    code: &str,
) -> Result<Check, ApiError> {
    if matches!(v, Verifier::Challenge(_)) && row.verified != Some(true) {
        return Err(ApiError::new(TOTP_NOT_ENABLED));
    }
    let key = open_secret(state, row)?;
    let now_step = state.now().and_utc().timestamp().max(0) as u64 / TOTP_PERIOD;
    let Some(step) = totp::matching_step(key.as_bytes(), code.trim(), now_step, TOTP_DIGITS) else {
        return Ok(Check::Wrong(INVALID_CODE));
    };
    // A code is good once: its step (and every older one) is spent.
    if !tf_store::claim_step(&state.db, &row.id, step as i64).await? {
        return Ok(Check::Wrong(INVALID_CODE));
    }
    if row.verified != Some(true) {
        // The first good code completes `enable`.
        tf_store::mark_verified(&state.db, &row.id).await?;
        tf_store::set_enabled(&state.db, &row.user_id, true, state.now()).await?;
        state.sessions.invalidate_user(&row.user_id);
    }
    Ok(Check::Ok)
}

async fn check_otp(state: &AppState, v: &Verifier, code: &str) -> Result<Check, ApiError> {
    let id = format!("{OTP}:{}", token::hash_token(&v.otp_key()));
    let Some((value, expires_at)) = crate::shared::verification::consume(state, &id).await? else {
        return Err(ApiError::new(OTP_HAS_EXPIRED));
    };
    let now = state.now();
    if expires_at <= now {
        return Err(ApiError::new(OTP_HAS_EXPIRED));
    }
    let (hash, failures) = value.rsplit_once(':').unwrap_or((&value, "0"));
    let failures: u32 = failures.parse().unwrap_or(u32::MAX);
    if failures
        >= state
            .settings::<super::settings::TwoFactorSettings>()
            .allowed_attempts
    {
        return Err(ApiError::new(TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE));
    }
    if bool::from(
        token::hash_token(code.trim())
            .as_bytes()
            .ct_eq(hash.as_bytes()),
    ) {
        return Ok(Check::Ok);
    }
    let value = format!("{hash}:{}", failures + 1);
    crate::shared::verification::create(state, &id, &value, expires_at, now).await?;
    Ok(Check::Wrong(INVALID_CODE))
}

async fn check_backup_code(
    state: &AppState,
    row: &TwoFactorRow,
    code: &str,
) -> Result<Check, ApiError> {
    let codes = open_codes(state, &row.backup_codes)?;
    let code = code.trim();
    let mut position = None;
    for (i, c) in codes.iter().enumerate() {
        if bool::from(c.as_bytes().ct_eq(code.as_bytes())) {
            position = Some(i);
        }
    }
    let Some(i) = position else {
        return Ok(Check::Wrong(INVALID_BACKUP_CODE));
    };
    let mut left = codes;
    left.remove(i);
    // Compare-and-swap: of two concurrent uses of one code, one wins.
    if !tf_store::swap_backup_codes(
        &state.db,
        &row.id,
        &row.backup_codes,
        &seal_codes(state, &left),
    )
    .await?
    {
        return Ok(Check::Wrong(INVALID_BACKUP_CODE));
    }
    Ok(Check::Ok)
}

/// Checks a code with `method` and, for a pending sign-in, completes it with
/// a session (`create_session: false` skips that, for backup-code recovery
/// flows). Signed-in callers get their current session back.
pub async fn verify(
    state: &AppState,
    ctx: &RequestContext,
    method: Method,
    code: &str,
    trust_device: bool,
    create_new_session: bool,
) -> Result<TokenUserResponse, ApiError> {
    let v = verifier(state, ctx, true).await?;
    let outcome = check(state, &v, method, code).await;
    if let Verifier::Challenge(c) = &v {
        match &outcome {
            Ok(Check::Ok) => {}
            Ok(Check::Wrong(_)) => restore(state, c, true).await?,
            Err(_) => restore(state, c, false).await?,
        }
    }
    match outcome? {
        Check::Wrong(code) => Err(ApiError::new(code)),
        Check::Ok => complete(state, ctx, v, trust_device, create_new_session).await,
    }
}

async fn check(
    state: &AppState,
    v: &Verifier,
    method: Method,
    code: &str,
) -> Result<Check, ApiError> {
    let user_id = &v.user().id;
    let missing = match method {
        Method::Totp => TOTP_NOT_ENABLED,
        Method::Otp => TWO_FACTOR_NOT_ENABLED,
        Method::BackupCode => BACKUP_CODES_NOT_ENABLED,
    };
    let row = require_row(state, user_id, missing).await?;
    let now = state.now();
    if row.locked_until.is_some_and(|t| t > now) {
        return Err(ApiError::new(ACCOUNT_TEMPORARILY_LOCKED));
    }
    let result = match method {
        Method::Totp => check_totp(state, v, &row, code).await?,
        Method::Otp => check_otp(state, v, code).await?,
        Method::BackupCode => check_backup_code(state, &row, code).await?,
    };
    let cfg = state.settings::<super::settings::TwoFactorSettings>();
    match result {
        Check::Ok => {
            if row.failed_verification_count.unwrap_or(0) > 0 || row.locked_until.is_some() {
                tf_store::reset_failures(&state.db, &row.id).await?;
            }
        }
        Check::Wrong(_) => {
            let until = now + Duration::seconds(cfg.lockout_secs);
            tf_store::record_failure(&state.db, &row.id, cfg.lockout_threshold as i32, until)
                .await?;
        }
    }
    Ok(result)
}

async fn complete(
    state: &AppState,
    ctx: &RequestContext,
    v: Verifier,
    trust_device: bool,
    create_new_session: bool,
) -> Result<TokenUserResponse, ApiError> {
    let names = &state.cookies;
    let (token, user, snapshot) = match v {
        Verifier::Session(s) => {
            let was_enabled = s.user_fields.get("twoFactorEnabled") == Some(&Value::Bool(true));
            if !was_enabled && tf_store::is_enabled(&state.db, &s.user.id).await? {
                // This code completed `enable`. Better Auth answers with the
                // session and user as they were when the request came in.
                rotate_session(state, ctx, &s).await?;
            }
            (Some(s.token.clone()), s.user.clone(), Some(s.user_json()))
        }
        Verifier::Challenge(c) => {
            ctx.set_cookie(
                &challenge_cookie(state),
                names.expire(&challenge_cookie(state)),
            );
            let token = if create_new_session {
                let (_, raw) = create_session(state, ctx, &c.user.id, c.remember).await?;
                Some(raw)
            } else {
                None
            };
            (token, c.user, None)
        }
    };
    if trust_device {
        let row = tf_store::find(&state.db, &user.id).await?;
        if let Some(binding) = trust_binding(state, &user.id, row.as_ref()).await? {
            issue_trust(state, ctx, &user.id, &binding).await?;
            // A trusted device is a remembered one.
            ctx.set_cookie(&names.dont_remember, names.expire(&names.dont_remember));
        }
    }
    let user = match snapshot {
        Some(u) => u,
        None => user_json(state, &user).await?,
    };
    Ok(TokenUserResponse { token, user })
}

fn device_mac(state: &AppState, user_id: &str, identifier: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(state.secret.as_bytes()).expect("any key length");
    mac.update(format!("{user_id}!{identifier}").as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// What a trusted-device record is bound to: the user, the current 2FA
/// enrolment and the current password, so disabling 2FA or any password
/// change voids it. `None` without an enrolment.
async fn trust_binding(
    state: &AppState,
    user_id: &str,
    row: Option<&TwoFactorRow>,
) -> Result<Option<String>, ApiError> {
    let Some(row) = row else {
        return Ok(None);
    };
    let fingerprint = password_fingerprint(state, user_id).await?;
    Ok(Some(format!("{user_id}:{}:{fingerprint}", row.id)))
}

/// Issues a `trust_device` cookie: `<HMAC(userId!id)>!trust-device-<32>`, signed.
async fn issue_trust(
    state: &AppState,
    ctx: &RequestContext,
    user_id: &str,
    binding: &str,
) -> Result<(), ApiError> {
    let identifier = format!("trust-device-{}", token::random_alphanumeric(32));
    let max_age = state
        .settings::<super::settings::TwoFactorSettings>()
        .trust_device_max_age;
    links::issue(state, TRUST, identifier.clone(), binding, max_age).await?;
    let cookie = format!("{}!{identifier}", device_mac(state, user_id, &identifier));
    let names = &state.cookies;
    ctx.set_cookie(
        &trust_device_cookie(state),
        names.set_cookie(
            &trust_device_cookie(state),
            &crate::crypto::sign::sign_value(&state.secret, &cookie),
            Some(max_age),
        ),
    );
    Ok(())
}

/// True (and the cookie rotated) when this request carries a valid trust
/// cookie for `user_id` that neither a 2FA reset nor a password change voided.
async fn trusted_device(
    state: &AppState,
    ctx: &RequestContext,
    user_id: &str,
    row: Option<&TwoFactorRow>,
) -> Result<bool, ApiError> {
    let Some(cookie) = ctx.signed_cookie(state, &trust_device_cookie(state)) else {
        return Ok(false);
    };
    let Some((mac, identifier)) = cookie.split_once('!') else {
        return Ok(false);
    };
    let expected = device_mac(state, user_id, identifier);
    if !bool::from(expected.as_bytes().ct_eq(mac.as_bytes())) {
        return Ok(false); // another user's device cookie
    }
    let Some((value, expires_at)) = links::consume(state, TRUST, identifier).await? else {
        return Ok(false);
    };
    let Some(binding) = trust_binding(state, user_id, row).await? else {
        return Ok(false);
    };
    if expires_at <= state.now() || !bool::from(binding.as_bytes().ct_eq(value.as_bytes())) {
        return Ok(false);
    }
    issue_trust(state, ctx, user_id, &binding).await?;
    Ok(true)
}

/// The sign-in hook: users with 2FA get a challenge instead of a session,
/// unless this device is trusted.
pub async fn challenge_sign_in(
    state: &Arc<AppState>,
    ctx: &RequestContext,
    user: &UserRow,
    remember: bool,
) -> Result<Option<TwoFactorRedirect>, ApiError> {
    if !tf_store::is_enabled(&state.db, &user.id).await? {
        return Ok(None);
    }
    let row = tf_store::find(&state.db, &user.id).await?;
    if trusted_device(state, ctx, &user.id, row.as_ref()).await? {
        return Ok(None);
    }
    let mut methods = Vec::new();
    if row.as_ref().is_some_and(|r| r.verified == Some(true)) {
        methods.push("totp".to_string());
    }
    if state.mailer.enabled() {
        methods.push("otp".to_string());
    }
    let raw = format!("2fa-{}", token::random_alphanumeric(20));
    let cfg = state.settings::<super::settings::TwoFactorSettings>();
    links::issue(
        state,
        CHALLENGE,
        raw.clone(),
        &challenge_value(&user.id, remember, 0),
        cfg.challenge_max_age,
    )
    .await?;
    let names = &state.cookies;
    // As Better Auth: any earlier session cookie goes; the challenge cookie comes.
    ctx.set_cookie(&names.session_token, names.expire(&names.session_token));
    ctx.set_cookie(&names.session_data, names.expire(&names.session_data));
    ctx.set_cookie(
        &challenge_cookie(state),
        names.set_cookie(
            &challenge_cookie(state),
            &crate::crypto::sign::sign_value(&state.secret, &raw),
            Some(cfg.challenge_max_age),
        ),
    );
    Ok(Some(TwoFactorRedirect {
        two_factor_redirect: true,
        two_factor_methods: methods,
    }))
}

/// The cookie naming a password sign-in that waits for its second factor.
fn challenge_cookie(state: &AppState) -> String {
    state.cookies.name("two_factor")
}

/// The cookie of a device that skips the second factor.
fn trust_device_cookie(state: &AppState) -> String {
    state.cookies.name("trust_device")
}
