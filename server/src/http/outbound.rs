//! Outgoing HTTP: identity providers, webhooks and the SMS relay. One way to
//! build a client, so every outgoing call has a timeout, follows no
//! redirects (a provider endpoint that redirects is misconfigured, and a
//! followed redirect could carry a secret elsewhere) and speaks TLS through
//! rustls with the ring provider.

use std::time::Duration;

/// Installs ring as the process's rustls provider, once. An application that
/// embeds Gatehouse and installed its own keeps it.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client for outgoing calls with this overall timeout per request.
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    install_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Gatehouse/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("the HTTP client: {e}"))
}
