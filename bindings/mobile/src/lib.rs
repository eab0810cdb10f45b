//! Kotlin (`dev.gatehouse`) and Swift (`Gatehouse`) bindings over the Rust
//! client: one `AuthClient` with async methods, plugin namespaces, an error
//! enum whose variants all carry a code, and a `TokenStorage` callback so
//! apps keep sessions in the Keychain or Keystore.

use std::sync::Arc;

use gatehouse::types;
use tokio::sync::OnceCell;

uniffi::setup_scaffolding!();

/// Server plugins the client mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ClientPlugin {
    /// `username`: sign-in by username.
    Username,
    /// `bearer`: sessions as `Authorization: Bearer`.
    Bearer,
    /// `magic-link`: sign-in links by email.
    MagicLink,
    /// `email-otp`: one-time codes by email.
    EmailOtp,
    /// `two-factor`: a second factor after the password.
    TwoFactor,
    /// `passkey`: WebAuthn; ceremonies run in the platform authenticator
    /// (ASAuthorization, Credential Manager) through the generated `passkey*Json` routes.
    Passkey,
}

/// Errors; every variant has the wire `code` (e.g. `PLUGIN_NOT_ENABLED`).
#[derive(Debug, Clone, thiserror::Error, uniffi::Error)]
pub enum AuthError {
    /// The server answered with an error body.
    #[error("{status} {code}: {reason}")]
    Api {
        status: u16,
        code: String,
        reason: String,
    },
    /// A registered plugin the server does not have; no request was sent to its routes.
    #[error("{code}: the plugin {plugin} is not enabled on this server")]
    PluginNotEnabled { plugin: String, code: String },
    /// The password was right; finish with `twoFactor()` (`TWO_FACTOR_REQUIRED`).
    #[error("{code}: a second factor is needed ({})", methods.join(", "))]
    TwoFactorRequired { methods: Vec<String>, code: String },
    /// The server could not be reached.
    #[error("{code}: {reason}")]
    Network { code: String, reason: String },
    /// Anything else.
    #[error("{code}: {reason}")]
    Unexpected { code: String, reason: String },
}

impl From<gatehouse::AuthError> for AuthError {
    fn from(e: gatehouse::AuthError) -> Self {
        let code = e.code().as_str().to_string();
        match e {
            gatehouse::AuthError::Api {
                status, message, ..
            } => AuthError::Api {
                status,
                code,
                reason: message,
            },
            gatehouse::AuthError::PluginNotEnabled { plugin } => {
                AuthError::PluginNotEnabled { plugin, code }
            }
            gatehouse::AuthError::TwoFactorRequired { methods } => {
                AuthError::TwoFactorRequired { methods, code }
            }
            gatehouse::AuthError::Network(reason) => AuthError::Network { code, reason },
            gatehouse::AuthError::Unexpected(reason) => AuthError::Unexpected { code, reason },
        }
    }
}

/// Where the app keeps the session token (Keychain, Keystore, a file...).
#[uniffi::export(with_foreign)]
pub trait TokenStorage: Send + Sync {
    /// The stored token, if any.
    fn load(&self) -> Option<String>;
    /// Replaces it (`None`: signed out).
    fn save(&self, token: Option<String>);
}

/// Adapts the app's storage to the Rust client's store.
struct ForeignStore(Arc<dyn TokenStorage>);

impl std::fmt::Debug for ForeignStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForeignStore")
    }
}

impl gatehouse::TokenStore for ForeignStore {
    fn load(&self) -> Option<String> {
        self.0.load()
    }
    fn save(&self, token: Option<String>) {
        self.0.save(token)
    }
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub username: Option<String>,
    pub display_username: Option<String>,
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct Session {
    pub id: String,
    pub token: String,
    pub user_id: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct SessionWithUser {
    pub session: Session,
    pub user: User,
}

/// Result of a sign-up or sign-in: the session token (none without auto sign-in).
#[derive(Debug, Clone, uniffi::Record)]
pub struct SignInResult {
    pub token: Option<String>,
    pub user: User,
}

impl From<types::User> for User {
    fn from(u: types::User) -> Self {
        User {
            id: u.id,
            name: u.name,
            email: u.email,
            email_verified: u.email_verified,
            image: u.image,
            username: u.username,
            display_username: u.display_username,
        }
    }
}

impl From<types::SessionWithUser> for SessionWithUser {
    fn from(s: types::SessionWithUser) -> Self {
        SessionWithUser {
            session: Session {
                id: s.session.id,
                token: s.session.token,
                user_id: s.session.user_id,
                expires_at: s.session.expires_at,
            },
            user: s.user.into(),
        }
    }
}

/// A client for one server. Connects on first use, checking that the server
/// has every registered plugin.
#[derive(uniffi::Object)]
pub struct AuthClient {
    base_url: String,
    plugins: Vec<ClientPlugin>,
    storage: Option<Arc<dyn TokenStorage>>,
    client: OnceCell<Result<gatehouse::AuthClient, AuthError>>,
}

impl AuthClient {
    async fn connected(&self) -> Result<&gatehouse::AuthClient, AuthError> {
        let r = self
            .client
            .get_or_init(|| async {
                let mut b = gatehouse::AuthClient::builder(self.base_url.clone());
                if let Some(s) = &self.storage {
                    b = b.token_store(Arc::new(ForeignStore(s.clone())));
                }
                for p in &self.plugins {
                    b = match p {
                        ClientPlugin::Username => b.plugin(gatehouse::Plugin::Username),
                        ClientPlugin::Bearer => b.bearer(),
                        ClientPlugin::MagicLink => b.plugin(gatehouse::Plugin::MagicLink),
                        ClientPlugin::EmailOtp => b.plugin(gatehouse::Plugin::EmailOtp),
                        ClientPlugin::TwoFactor => b.plugin(gatehouse::Plugin::TwoFactor),
                        ClientPlugin::Passkey => b.plugin(gatehouse::Plugin::Passkey),
                    };
                }
                b.build().await.map_err(AuthError::from)
            })
            .await;
        r.as_ref().map_err(Clone::clone)
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl AuthClient {
    /// `base_url`: `http://host:port` (the API lives under `/api/auth`).
    #[uniffi::constructor]
    pub fn new(
        base_url: String,
        plugins: Vec<ClientPlugin>,
        storage: Option<Arc<dyn TokenStorage>>,
    ) -> Arc<Self> {
        Arc::new(AuthClient {
            base_url,
            plugins,
            storage,
            client: OnceCell::new(),
        })
    }

    pub async fn sign_up_email(
        &self,
        name: String,
        email: String,
        password: String,
    ) -> Result<SignInResult, AuthError> {
        let r = self
            .connected()
            .await?
            .sign_up_email(&name, &email, &password)
            .await?;
        Ok(SignInResult {
            token: r.token,
            user: r.user.into(),
        })
    }

    pub async fn sign_in_email(
        &self,
        email: String,
        password: String,
    ) -> Result<SignInResult, AuthError> {
        let r = self
            .connected()
            .await?
            .sign_in_email(&email, &password)
            .await?;
        Ok(SignInResult {
            token: Some(r.token),
            user: r.user.into(),
        })
    }

    /// The current session, or `None` when signed out.
    pub async fn get_session(&self) -> Result<Option<SessionWithUser>, AuthError> {
        Ok(self.connected().await?.get_session().await?.map(Into::into))
    }

    pub async fn sign_out(&self) -> Result<(), AuthError> {
        Ok(self.connected().await?.sign_out().await?)
    }

    /// Any route by method and path (under the API base), JSON in and out.
    /// `plugin`, when given, must be registered here and enabled on the
    /// server, or no request is sent. The spec-generated `*Json` extension
    /// functions (generated/kotlin/.../Routes.kt, generated/swift/Routes.swift)
    /// call this, so a new server route reaches Kotlin and Swift on `cargo codegen`.
    pub async fn request(
        &self,
        method: String,
        path: String,
        body_json: Option<String>,
        plugin: Option<String>,
    ) -> Result<String, AuthError> {
        let client = self.connected().await?;
        if let Some(p) = plugin {
            client.require_plugin(&p)?;
        }
        let body = body_json
            .as_deref()
            .map(serde_json::from_str::<serde_json::Value>)
            .transpose()
            .map_err(|e| AuthError::Unexpected {
                code: "INVALID_BODY".into(),
                reason: e.to_string(),
            })?;
        Ok(client
            .request(&method, &path, body.as_ref())
            .await?
            .to_string())
    }

    /// The `username` plugin's routes; `PluginNotEnabled` unless registered
    /// here and enabled on the server.
    pub async fn username(self: Arc<Self>) -> Result<Arc<UsernameApi>, AuthError> {
        self.connected().await?.username()?;
        Ok(Arc::new(UsernameApi { client: self }))
    }

    /// The `two-factor` plugin's routes; `PluginNotEnabled` unless registered
    /// here and enabled on the server.
    pub async fn two_factor(self: Arc<Self>) -> Result<Arc<TwoFactorApi>, AuthError> {
        self.connected().await?.two_factor()?;
        Ok(Arc::new(TwoFactorApi { client: self }))
    }
}

/// `enable`'s answer: the URI for authenticator apps and one-time backup codes.
#[derive(Debug, Clone, uniffi::Record)]
pub struct TwoFactorSetup {
    pub totp_uri: Option<String>,
    pub backup_codes: Vec<String>,
}

/// Routes of the `two-factor` plugin. The `verify*` calls complete a sign-in
/// that failed with `TwoFactorRequired`.
#[derive(uniffi::Object)]
pub struct TwoFactorApi {
    client: Arc<AuthClient>,
}

fn signed_in(r: types::TokenUserResponse) -> SignInResult {
    SignInResult {
        token: r.token,
        user: r.user.into(),
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl TwoFactorApi {
    /// Starts TOTP; active after the first `verifyTotp`.
    pub async fn enable(&self, password: String) -> Result<TwoFactorSetup, AuthError> {
        let c = self.client.connected().await?;
        let r = c.two_factor()?.enable(&password).await?;
        Ok(TwoFactorSetup {
            totp_uri: r.totp_uri,
            backup_codes: r.backup_codes,
        })
    }

    pub async fn disable(&self, password: String) -> Result<(), AuthError> {
        let c = self.client.connected().await?;
        Ok(c.two_factor()?.disable(&password).await?)
    }

    pub async fn verify_totp(
        &self,
        code: String,
        trust_device: bool,
    ) -> Result<SignInResult, AuthError> {
        let c = self.client.connected().await?;
        Ok(signed_in(
            c.two_factor()?.verify_totp(&code, trust_device).await?,
        ))
    }

    /// Mails a one-time code to the user signing in.
    pub async fn send_otp(&self) -> Result<(), AuthError> {
        let c = self.client.connected().await?;
        Ok(c.two_factor()?.send_otp().await?)
    }

    pub async fn verify_otp(
        &self,
        code: String,
        trust_device: bool,
    ) -> Result<SignInResult, AuthError> {
        let c = self.client.connected().await?;
        Ok(signed_in(
            c.two_factor()?.verify_otp(&code, trust_device).await?,
        ))
    }

    pub async fn verify_backup_code(
        &self,
        code: String,
        trust_device: bool,
    ) -> Result<SignInResult, AuthError> {
        let c = self.client.connected().await?;
        Ok(signed_in(
            c.two_factor()?
                .verify_backup_code(&code, trust_device)
                .await?,
        ))
    }
}

/// Routes of the `username` plugin.
#[derive(uniffi::Object)]
pub struct UsernameApi {
    client: Arc<AuthClient>,
}

#[uniffi::export(async_runtime = "tokio")]
impl UsernameApi {
    pub async fn sign_in(
        &self,
        username: String,
        password: String,
    ) -> Result<SignInResult, AuthError> {
        let c = self.client.connected().await?;
        let r = c.username()?.sign_in(&username, &password).await?;
        Ok(SignInResult {
            token: Some(r.token),
            user: r.user.into(),
        })
    }

    pub async fn sign_up(
        &self,
        name: String,
        email: String,
        password: String,
        username: String,
    ) -> Result<SignInResult, AuthError> {
        let c = self.client.connected().await?;
        let r = c
            .username()?
            .sign_up(&name, &email, &password, &username)
            .await?;
        Ok(SignInResult {
            token: r.token,
            user: r.user.into(),
        })
    }

    pub async fn is_available(&self, username: String) -> Result<bool, AuthError> {
        let c = self.client.connected().await?;
        Ok(c.username()?.is_available(&username).await?)
    }
}
