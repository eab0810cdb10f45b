//! The passkey routes and the WebAuthn ceremonies behind them.

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use poem::web::Data;
use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::{json, Value};
use sha2::Sha256;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey as Credential, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::settings::PasskeySettings;
use super::store::{self as pk_store, PasskeyRow};
use super::*;
use crate::config::Config;
use crate::core::dto::{iso, SessionWithUser, StatusResponse};
use crate::core::links;
use crate::core::session::{
    create_session, require_fresh_session, require_session, resolve_session, user_json,
    ResolveOptions,
};
use crate::core::validate::check_field_length;
use crate::crypto::{sign, token};
use crate::db::store;
use crate::error::{codes, ApiError, ApiResult};
use crate::http::context::{request_context, RequestContext};
use crate::plugin::PluginApi;
use crate::state::AppState;

/// A registered passkey (Better Auth's shape).
#[derive(Debug, Clone, Object)]
#[oai(rename = "Passkey", rename_all = "camelCase")]
pub struct PasskeyDto {
    pub id: String,
    pub name: Option<String>,
    pub public_key: String,
    pub user_id: String,
    #[oai(rename = "credentialID")]
    pub credential_id: String,
    pub counter: i64,
    /// `singleDevice` or `multiDevice` (synced).
    pub device_type: String,
    pub backed_up: bool,
    /// Comma-separated (`internal`, `usb`, `hybrid`...).
    pub transports: Option<String>,
    pub created_at: Option<String>,
    pub aaguid: Option<String>,
}

impl From<PasskeyRow> for PasskeyDto {
    fn from(r: PasskeyRow) -> Self {
        PasskeyDto {
            id: r.id,
            name: r.name,
            public_key: r.public_key,
            user_id: r.user_id,
            credential_id: r.credential_id,
            counter: r.counter,
            device_type: r.device_type,
            backed_up: r.backed_up,
            transports: r.transports,
            created_at: r.created_at.map(iso),
            aaguid: r.aaguid,
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PasskeyVerifyRegistrationBody {
    /// The browser's `RegistrationResponseJSON`.
    pub response: Value,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct PasskeyVerifyAuthenticationBody {
    /// The browser's `AuthenticationResponseJSON`.
    pub response: Value,
}

#[derive(Debug, Clone, Object)]
pub struct PasskeyIdBody {
    pub id: String,
}

#[derive(Debug, Clone, Object)]
pub struct UpdatePasskeyBody {
    pub id: String,
    #[oai(validator(min_length = 1))]
    pub name: String,
}

#[derive(Debug, Clone, Object)]
pub struct UpdatePasskeyResponse {
    pub passkey: PasskeyDto,
}

pub struct PasskeyApi;

impl PluginApi for PasskeyApi {
    const ID: &'static str = super::ID;
    const DESCRIPTION: &'static str = super::DESCRIPTION;
}

const CEREMONY: &str = "passkey";
/// The `timeout` browsers are given, in milliseconds (Better Auth's); the
/// ceremony itself stays answerable for `CEREMONY_TTL`.
const BROWSER_TIMEOUT_MS: u64 = 60_000;
const CEREMONY_TTL: i64 = 300;

/// The relying party, from config or the base URL. Checked at start-up
/// ([`super::Passkey`]'s `configure`), so a failure here is not expected.
fn relying_party(state: &AppState) -> Result<Webauthn, ApiError> {
    relying_party_for(&state.settings::<PasskeySettings>(), &state.config).map_err(|e| {
        tracing::error!(error = %e, "passkey relying party misconfigured");
        ApiError::internal()
    })
}

/// Builds the relying party; the error names the settings to fix.
pub(super) fn relying_party_for(
    cfg: &PasskeySettings,
    config: &Config,
) -> Result<Webauthn, String> {
    let origin_text = cfg.origin.clone().unwrap_or_else(|| config.base_url());
    let origin = Url::parse(&origin_text)
        .map_err(|e| format!("origin {origin_text:?} is not a URL: {e}"))?;
    let rp_id = cfg
        .rp_id
        .clone()
        .or_else(|| origin.host_str().map(str::to_string))
        .unwrap_or_else(|| "localhost".into());
    let rp_name = cfg
        .rp_name
        .clone()
        .unwrap_or_else(|| config.app_name.clone());
    let fix = "WebAuthn needs a domain name (an IP address is not allowed) and an origin on \
               that domain or a subdomain of it: set [passkey] rp_id and origin \
               (env GATEHOUSE_BASE_URL sets both by default), e.g. rp_id = \"localhost\", \
               origin = \"http://localhost:3000\"";
    if rp_id.parse::<std::net::IpAddr>().is_ok()
        || rp_id
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok()
    {
        return Err(format!(
            "rp_id {rp_id:?} (origin {origin_text:?}) is an IP address. {fix}"
        ));
    }
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|b| b.rp_name(&rp_name).build())
        .map_err(|e| format!("rp_id {rp_id:?} does not fit origin {origin_text:?} ({e}). {fix}"))
}

/// A stable, opaque WebAuthn user handle: not the user id itself.
fn user_handle(state: &AppState, user_id: &str) -> Uuid {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(state.secret.as_bytes()).expect("any key length");
    mac.update(format!("passkey-user:{user_id}").as_bytes());
    let bytes = mac.finalize().into_bytes();
    let mut id = [0u8; 16];
    id.copy_from_slice(&bytes[..16]);
    Uuid::from_bytes(id)
}

/// Stores a ceremony's state and sets the cookie that names it.
async fn begin(state: &AppState, ctx: &RequestContext, value: Value) -> Result<(), ApiError> {
    let raw = token::random_alphanumeric(32);
    links::issue(
        state,
        CEREMONY,
        raw.clone(),
        &value.to_string(),
        CEREMONY_TTL,
    )
    .await?;
    let names = &state.cookies;
    ctx.set_cookie(
        &ceremony_cookie(state),
        names.set_cookie(
            &ceremony_cookie(state),
            &sign::sign_value(&state.secret, &raw),
            Some(CEREMONY_TTL),
        ),
    );
    Ok(())
}

/// Takes the ceremony named by the cookie: single use, unexpired, of `kind`.
async fn take(state: &AppState, ctx: &RequestContext, kind: &str) -> Result<Value, ApiError> {
    let missing = || ApiError::new(CHALLENGE_NOT_FOUND);
    let raw = ctx
        .signed_cookie(state, &ceremony_cookie(state))
        .ok_or_else(missing)?;
    let (value, expires_at) = links::consume(state, CEREMONY, &raw)
        .await?
        .ok_or_else(missing)?;
    // The cookie stays, as in Better Auth: the challenge it names is spent.
    let value: Value = serde_json::from_str(&value).map_err(|_| missing())?;
    if expires_at <= state.now() || value["type"] != kind {
        return Err(missing());
    }
    Ok(value)
}

/// A credential descriptor for options: id, type and the stored transports.
fn descriptor(row: &PasskeyRow) -> Value {
    let mut d = json!({"id": row.credential_id, "type": "public-key"});
    if let Some(t) = &row.transports {
        d["transports"] = json!(t.split(',').collect::<Vec<_>>());
    }
    d
}

/// The passkey `id` exists and is `user_id`'s: 404 `PASSKEY_NOT_FOUND` for an
/// unknown id, `not_yours` for someone else's (Better Auth's answers).
async fn owned(
    state: &AppState,
    user_id: &str,
    id: &str,
    not_yours: ApiError,
) -> Result<(), ApiError> {
    match pk_store::find_by_id(&state.db, id).await? {
        None => Err(ApiError::new(super::UNKNOWN_PASSKEY)),
        Some(row) if row.user_id != user_id => Err(not_yours),
        Some(_) => Ok(()),
    }
}

/// The signature counter the authenticator reported, from the record.
fn record_counter(credential: &Credential) -> i64 {
    serde_json::to_value(credential).unwrap_or_default()["cred"]["counter"]
        .as_i64()
        .unwrap_or(0)
}

fn encode_record(credential: &Credential) -> String {
    STANDARD.encode(serde_json::to_vec(credential).expect("a credential serialises"))
}

fn decode_record(row: &PasskeyRow) -> Option<Credential> {
    serde_json::from_slice(&STANDARD.decode(&row.public_key).ok()?).ok()
}

/// Backup flags from the record (webauthn-rs keeps them inside it).
fn backup_flags(credential: &Credential) -> (bool, bool) {
    let v = serde_json::to_value(credential).unwrap_or_default();
    let cred = &v["cred"];
    (
        cred["backup_eligible"].as_bool().unwrap_or(false),
        cred["backup_state"].as_bool().unwrap_or(false),
    )
}

#[OpenApi]
impl PasskeyApi {
    /// Options for `navigator.credentials.create` (fresh session)
    #[oai(
        path = "/passkey/generate-register-options",
        method = "get",
        operation_id = "passkeyGenerateRegisterOptions"
    )]
    async fn generate_register_options(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        /// `platform` or `cross-platform`.
        #[oai(name = "authenticatorAttachment")]
        authenticator_attachment: Query<Option<String>>,
        /// A name for the new passkey.
        name: Query<Option<String>>,
    ) -> ApiResult<Value> {
        let ctx = request_context(req);
        let s = require_fresh_session(&state, &ctx).await?;
        let rp = relying_party(&state)?;
        let existing = pk_store::list(&state.db, &s.user.id).await?;
        let exclude = existing
            .iter()
            .filter_map(decode_record)
            .map(|c| c.cred_id().clone())
            .collect::<Vec<_>>();
        // Better Auth's names for the authenticator: `?name=` (when given)
        // or the email, shown as the email. A name webauthn-rs will not take
        // (empty after normalisation, say) falls back to the email.
        let start = |user_name: &str| {
            rp.start_passkey_registration(
                user_handle(&state, &s.user.id),
                user_name,
                &s.user.email,
                Some(exclude.clone()),
            )
        };
        let asked = name.0.as_deref().filter(|n| !n.trim().is_empty());
        let (options, registration) = asked
            .and_then(|n| start(n).ok())
            .map_or_else(|| start(&s.user.email), Ok)
            .map_err(|e| {
                tracing::error!(error = %e, "passkey registration could not start");
                ApiError::internal()
            })?;
        let mut options = serde_json::to_value(&options.public_key).unwrap_or_default();
        // Discoverable credentials make password-less sign-in possible, as
        // Better Auth asks ("preferred"); webauthn-rs defaults to discouraged.
        let selection = &mut options["authenticatorSelection"];
        selection["residentKey"] = json!("preferred");
        selection["requireResidentKey"] = json!(false);
        if let Some(a) = authenticator_attachment.0.as_deref() {
            if a == "platform" || a == "cross-platform" {
                selection["authenticatorAttachment"] = json!(a);
            }
        }
        options["timeout"] = json!(BROWSER_TIMEOUT_MS);
        options["hints"] = json!([]);
        // The stored transports go with each excluded credential, as
        // Better Auth sends them (webauthn-rs's record has none).
        options["excludeCredentials"] = json!(existing.iter().map(descriptor).collect::<Vec<_>>());
        begin(
            &state,
            &ctx,
            json!({
                "type": "registration",
                "userId": s.user.id,
                "state": registration,
            }),
        )
        .await?;
        Ok(Json(options))
    }

    /// Store the new passkey from the browser's response (fresh session)
    #[oai(
        path = "/passkey/verify-registration",
        method = "post",
        operation_id = "passkeyVerifyRegistration"
    )]
    async fn verify_registration(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<PasskeyVerifyRegistrationBody>,
    ) -> ApiResult<PasskeyDto> {
        let ctx = request_context(req);
        let s = require_fresh_session(&state, &ctx).await?;
        let ceremony = take(&state, &ctx, "registration").await?;
        if ceremony["userId"] != s.user.id.as_str() {
            return Err(ApiError::new(YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY));
        }
        let failed = || ApiError::new(FAILED_TO_VERIFY_REGISTRATION);
        let registration: PasskeyRegistration =
            serde_json::from_value(ceremony["state"].clone()).map_err(|_| failed())?;
        let response: RegisterPublicKeyCredential =
            serde_json::from_value(body.response.clone()).map_err(|_| failed())?;
        let credential = relying_party(&state)?
            .finish_passkey_registration(&response, &registration)
            .map_err(|e| {
                tracing::info!(error = %e, "passkey registration refused");
                failed()
            })?;
        let name = body.name.clone();
        if let Some(n) = &name {
            check_field_length(&state, "name", n)?;
        }
        let transports = body.response["response"]["transports"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .filter(|t| !t.is_empty());
        let (eligible, backed_up) = backup_flags(&credential);
        let row = PasskeyRow {
            id: token::new_id(),
            name,
            public_key: encode_record(&credential),
            user_id: s.user.id.clone(),
            credential_id: URL_SAFE_NO_PAD.encode(credential.cred_id().as_slice()),
            counter: record_counter(&credential),
            device_type: if eligible {
                "multiDevice"
            } else {
                "singleDevice"
            }
            .into(),
            backed_up,
            transports,
            created_at: Some(state.now()),
            aaguid: None,
        };
        pk_store::insert(&state.db, &row).await.map_err(|e| {
            if e.is_unique_violation() {
                ApiError::new(PREVIOUSLY_REGISTERED)
            } else {
                ApiError::from(e)
            }
        })?;
        Ok(Json(row.into()))
    }

    /// Options for `navigator.credentials.get` (discoverable: works signed out)
    #[oai(
        path = "/passkey/generate-authenticate-options",
        method = "get",
        operation_id = "passkeyGenerateAuthenticateOptions"
    )]
    async fn generate_authenticate_options(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> ApiResult<Value> {
        let ctx = request_context(req);
        let rp = relying_party(&state)?;
        let (options, authentication) = rp.start_discoverable_authentication().map_err(|e| {
            tracing::error!(error = %e, "passkey authentication could not start");
            ApiError::internal()
        })?;
        let mut options = serde_json::to_value(&options.public_key).unwrap_or_default();
        options["timeout"] = json!(BROWSER_TIMEOUT_MS);
        // A hint for the browser (the check is the stored credential itself),
        // left out when empty, as Better Auth does.
        let signed_in = resolve_session(&state, &ctx, ResolveOptions::default()).await?;
        let allow: Vec<Value> = match signed_in {
            Some(s) => pk_store::list(&state.db, &s.user.id)
                .await?
                .iter()
                .map(descriptor)
                .collect(),
            None => Vec::new(),
        };
        match options.as_object_mut() {
            Some(o) if allow.is_empty() => {
                o.remove("allowCredentials");
            }
            Some(o) => {
                o.insert("allowCredentials".into(), json!(allow));
            }
            None => {}
        }
        begin(
            &state,
            &ctx,
            json!({"type": "authentication", "state": authentication}),
        )
        .await?;
        Ok(Json(options))
    }

    /// Sign in with the browser's assertion; sets the session cookie
    #[oai(
        path = "/passkey/verify-authentication",
        method = "post",
        operation_id = "passkeyVerifyAuthentication"
    )]
    async fn verify_authentication(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<PasskeyVerifyAuthenticationBody>,
    ) -> ApiResult<SessionWithUser> {
        let ctx = request_context(req);
        let ceremony = take(&state, &ctx, "authentication").await?;
        let failed = || ApiError::new(AUTHENTICATION_FAILED);
        let authentication: DiscoverableAuthentication =
            serde_json::from_value(ceremony["state"].clone()).map_err(|_| failed())?;
        // The credential named by the response comes first (Better Auth's
        // order): an unknown one is PASSKEY_NOT_FOUND whatever else is wrong.
        let named = body.response["id"].as_str().unwrap_or_default();
        let row = pk_store::find_by_credential(&state.db, named)
            .await?
            .ok_or_else(|| ApiError::new(PASSKEY_NOT_FOUND))?;
        let response: PublicKeyCredential =
            serde_json::from_value(body.response.clone()).map_err(|_| failed())?;
        if URL_SAFE_NO_PAD.encode(&response.raw_id) != row.credential_id {
            return Err(failed());
        }
        let mut credential = decode_record(&row).ok_or_else(|| {
            tracing::error!(passkey = %row.id, "stored passkey record unreadable");
            ApiError::internal()
        })?;
        // The authenticator's user handle must be this passkey's owner.
        let handle = response.get_user_unique_id().map(<[u8]>::to_vec);
        if handle.is_some_and(|h| h != user_handle(&state, &row.user_id).as_bytes()) {
            return Err(failed());
        }
        let result = relying_party(&state)?
            .finish_discoverable_authentication_v2(&response, authentication, &credential)
            .map_err(|e| {
                tracing::info!(error = %e, "passkey assertion refused");
                failed()
            })?;
        if credential.update_credential(&result).is_some() {
            let (_, backed_up) = backup_flags(&credential);
            pk_store::update_credential(
                &state.db,
                &row.id,
                &encode_record(&credential),
                i64::from(result.counter()),
                backed_up,
            )
            .await?;
        }
        let user = store::find_user_by_id(&state.db, &row.user_id)
            .await?
            .ok_or_else(|| ApiError::new(crate::error::codes::USER_NOT_FOUND))?;
        let (session, raw) = create_session(&state, &ctx, &user.id, true)
            .await
            .map_err(|_| ApiError::new(UNABLE_TO_CREATE_SESSION))?;
        Ok(Json(SessionWithUser {
            session: crate::core::session::session_json(&state, &session, raw).await?,
            user: user_json(&state, &user).await?,
        }))
    }

    /// The caller's passkeys
    #[oai(
        path = "/passkey/list-user-passkeys",
        method = "get",
        operation_id = "passkeyListUserPasskeys"
    )]
    async fn list_user_passkeys(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
    ) -> ApiResult<Vec<PasskeyDto>> {
        let s = require_session(&state, &request_context(req)).await?;
        let rows = pk_store::list(&state.db, &s.user.id).await?;
        Ok(Json(rows.into_iter().map(Into::into).collect()))
    }

    /// Delete one of the caller's passkeys
    #[oai(
        path = "/passkey/delete-passkey",
        method = "post",
        operation_id = "passkeyDeletePasskey"
    )]
    async fn delete_passkey(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<PasskeyIdBody>,
    ) -> ApiResult<StatusResponse> {
        let s = require_session(&state, &request_context(req)).await?;
        owned(
            &state,
            &s.user.id,
            &body.id,
            ApiError::new(codes::UNAUTHORIZED),
        )
        .await?;
        pk_store::delete(&state.db, &s.user.id, &body.id).await?;
        Ok(Json(StatusResponse { status: true }))
    }

    /// Rename one of the caller's passkeys
    #[oai(
        path = "/passkey/update-passkey",
        method = "post",
        operation_id = "passkeyUpdatePasskey"
    )]
    async fn update_passkey(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<UpdatePasskeyBody>,
    ) -> ApiResult<UpdatePasskeyResponse> {
        let s = require_session(&state, &request_context(req)).await?;
        check_field_length(&state, "name", &body.name)?;
        let not_yours = ApiError::new(YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY);
        owned(&state, &s.user.id, &body.id, not_yours).await?;
        let row = pk_store::rename(&state.db, &s.user.id, &body.id, &body.name)
            .await?
            .ok_or_else(|| ApiError::new(super::UNKNOWN_PASSKEY))?;
        Ok(Json(UpdatePasskeyResponse {
            passkey: row.into(),
        }))
    }
}

/// The pending ceremony's cookie: Better Auth's name, `<prefix>.<prefix>-passkey`.
fn ceremony_cookie(state: &AppState) -> String {
    state
        .cookies
        .name(&format!("{}-passkey", state.cookies.prefix))
}
