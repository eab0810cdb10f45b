//! Delivery of codes: the [`SmsSender`] interface and its two senders, the
//! development log and a signed HTTP POST to a relay (an SMS provider's
//! webhook or the operator's own service). Sends run in the background with
//! a timeout; a failure is logged with the kind and never the code.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Why a code is sent: the `kind` of the relay's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsKind {
    /// `send-otp`, or a password sign-in of a number never verified: the
    /// code verifies the number and signs in (`/phone-number/verify`).
    PhoneVerification,
    /// `request-password-reset`: the code sets a new password.
    PasswordReset,
}

impl SmsKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SmsKind::PhoneVerification => "phone-verification",
            SmsKind::PasswordReset => "password-reset",
        }
    }
}

/// One code on its way to a phone.
#[derive(Debug, Clone)]
pub struct SmsMessage {
    /// E.164.
    pub to: String,
    pub code: String,
    pub kind: SmsKind,
}

/// Something that gets a code to a phone.
pub trait SmsSender: Send + Sync {
    fn send<'a>(&'a self, message: &'a SmsMessage) -> BoxFuture<'a, Result<(), String>>;
}

/// Development without a relay: the log says a code was sent, and shows it
/// only in development (as the mailer's development log shows mails).
pub struct LogSender {
    pub reveal_codes: bool,
}

impl SmsSender for LogSender {
    fn send<'a>(&'a self, m: &'a SmsMessage) -> BoxFuture<'a, Result<(), String>> {
        async move {
            if self.reveal_codes {
                tracing::info!(kind = m.kind.as_str(), to = %m.to, code = %m.code, "development text message (no SMS relay configured)");
            } else {
                tracing::info!(kind = m.kind.as_str(), to = %m.to, "text message code issued (no SMS relay configured)");
            }
            Ok(())
        }
        .boxed()
    }
}

/// The header carrying the signature: `sha256=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "x-gatehouse-signature";
/// The header carrying the signing time (Unix seconds), part of the signed bytes.
pub const TIMESTAMP_HEADER: &str = "x-gatehouse-timestamp";

/// `sha256=` + hex(HMAC-SHA256(secret, "<timestamp>." + body)): what
/// [`SIGNATURE_HEADER`] carries. A relay recomputes it over the raw body
/// and refuses stale timestamps, so a captured request cannot be replayed
/// later or altered.
pub fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs `{"to","code","kind"}` to the relay, signed.
pub struct HttpSender {
    client: reqwest::Client,
    url: String,
    secret: String,
}

impl HttpSender {
    pub fn new(url: &str, secret: &str, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the SMS relay client: {e}"))?;
        Ok(HttpSender {
            client,
            url: url.to_string(),
            secret: secret.to_string(),
        })
    }
}

impl SmsSender for HttpSender {
    fn send<'a>(&'a self, m: &'a SmsMessage) -> BoxFuture<'a, Result<(), String>> {
        async move {
            let body = serde_json::to_vec(&serde_json::json!({
                "to": m.to,
                "code": m.code,
                "kind": m.kind.as_str(),
            }))
            .map_err(|e| e.to_string())?;
            // The relay's clock is real time, whatever clock the server runs on.
            let timestamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
                .to_string();
            let resp = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .header(TIMESTAMP_HEADER, &timestamp)
                .header(SIGNATURE_HEADER, signature(&self.secret, &timestamp, &body))
                .body(body)
                .send()
                .await
                // Without the URL: it may carry credentials.
                .map_err(|e| e.without_url().to_string())?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(format!("the SMS relay answered {}", resp.status()))
            }
        }
        .boxed()
    }
}

/// Sends in the background; a failure or timeout is logged without the code.
pub fn send_later(sender: Arc<dyn SmsSender>, message: SmsMessage, timeout: Duration) {
    tokio::spawn(async move {
        let kind = message.kind.as_str();
        match tokio::time::timeout(timeout, sender.send(&message)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(kind, error = %e, "text message not sent"),
            Err(_) => tracing::warn!(kind, "text message not sent: the relay timed out"),
        }
    });
}
