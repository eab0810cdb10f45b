//! Delivery of codes: the [`SmsSender`] interface and its two senders, the
//! development log and a signed HTTP POST to a relay (an SMS provider's
//! webhook or the operator's own service). Sends run in the background with
//! a timeout; a failure is logged with the kind and never the code.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use crate::http::webhook::SignedPoster;

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

/// POSTs `{"to","code","kind"}` to the relay, signed (see [`crate::http::webhook`]).
pub struct HttpSender(pub SignedPoster);

impl SmsSender for HttpSender {
    fn send<'a>(&'a self, m: &'a SmsMessage) -> BoxFuture<'a, Result<(), String>> {
        async move {
            let body = serde_json::json!({"to": m.to, "code": m.code, "kind": m.kind.as_str()});
            self.0.post_json(&body).await
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
