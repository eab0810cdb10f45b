//! Outgoing mail: SMTP through lettre (`smtp://`, `smtp+starttls://`,
//! `smtps://`), or, in development without SMTP, the message printed to the
//! log with its links so a newcomer can click through. Sending happens in the
//! background: it never delays or shapes an HTTP response, and a failure is
//! logged with the message kind only, never its token or link. Messages to
//! one recipient leave in the order they were queued (a second code never
//! overtakes the first); different recipients are served in parallel.

pub mod templates;

use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use tokio::sync::mpsc;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Environment, MailConfig};

/// One message ready to go.
#[derive(Clone)]
pub struct OutgoingMail {
    /// What it is (`verify-email`, `reset-password`...), for logs.
    pub kind: &'static str,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

enum Delivery {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Development without SMTP: print to the log.
    Log,
    /// Production without SMTP: nothing can be sent.
    Disabled,
}

/// Background senders; a recipient always maps to the same one.
const SENDERS: usize = 4;
/// Messages a sender holds before new ones are dropped (logged): an SMTP
/// outage must not grow memory without bound.
const QUEUE: usize = 1024;

pub struct Mailer {
    delivery: Delivery,
    from: Mailbox,
    /// Started on first use, inside the runtime.
    queues: OnceLock<Vec<mpsc::Sender<OutgoingMail>>>,
}

impl Mailer {
    pub fn from_config(cfg: &MailConfig, env: Environment) -> Result<Mailer, String> {
        let from: Mailbox = cfg
            .from
            .parse()
            .map_err(|e| format!("mail from address {:?} is invalid: {e}", cfg.from))?;
        let delivery = match &cfg.smtp_url {
            Some(url) => Delivery::Smtp(transport(url)?),
            None if env == Environment::Development => Delivery::Log,
            None => Delivery::Disabled,
        };
        Ok(Mailer {
            delivery,
            from,
            queues: OnceLock::new(),
        })
    }

    /// Whether mail can reach users at all (SMTP, or the development log).
    pub fn enabled(&self) -> bool {
        !matches!(self.delivery, Delivery::Disabled)
    }

    /// Queues a message; returns at once.
    pub fn send_later(self: &Arc<Self>, mail: OutgoingMail) {
        let queues = self.queues.get_or_init(|| {
            (0..SENDERS)
                .map(|_| {
                    let (tx, mut rx) = mpsc::channel::<OutgoingMail>(QUEUE);
                    // The sender holds the mailer weakly: it ends with it.
                    let mailer = Arc::downgrade(self);
                    tokio::spawn(async move {
                        while let Some(mail) = rx.recv().await {
                            let Some(m) = mailer.upgrade() else { break };
                            let metrics = crate::http::metrics::global();
                            match m.send(&mail).await {
                                Ok(()) => {
                                    metrics.mail_sent.inc();
                                }
                                Err(e) => {
                                    metrics.mail_failed.inc();
                                    tracing::warn!(kind = mail.kind, error = %e, "mail not sent");
                                }
                            };
                        }
                    });
                    tx
                })
                .collect()
        });
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        mail.to.to_ascii_lowercase().hash(&mut hasher);
        let queue = &queues[(hasher.finish() as usize) % queues.len()];
        if let Err(e) = queue.try_send(mail) {
            let kind = match &e {
                mpsc::error::TrySendError::Full(m) | mpsc::error::TrySendError::Closed(m) => m.kind,
            };
            crate::http::metrics::global().mail_failed.inc();
            tracing::warn!(kind, "mail not sent: the outgoing queue is full");
        }
    }

    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), String> {
        match &self.delivery {
            Delivery::Disabled => Err("no SMTP server configured (GATEHOUSE_SMTP_URL)".into()),
            Delivery::Log => {
                tracing::info!(kind = mail.kind, to = %mail.to, subject = %mail.subject, "development mail (no SMTP configured):\n{}", mail.text);
                Ok(())
            }
            Delivery::Smtp(transport) => {
                let to: Mailbox = mail.to.parse().map_err(|e| format!("recipient: {e}"))?;
                let message = Message::builder()
                    .from(self.from.clone())
                    .to(to)
                    .subject(mail.subject.clone())
                    // lettre picks the transfer encoding (quoted-printable for long link lines).
                    .multipart(MultiPart::alternative_plain_html(
                        mail.text.clone(),
                        mail.html.clone(),
                    ))
                    .map_err(|e| format!("building the message: {e}"))?;
                transport
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// `smtp://host:port` (plain), `smtp+starttls://user:pass@host:587`,
/// `smtps://user:pass@host:465` (implicit TLS).
fn transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let parsed =
        url::Url::parse(url).map_err(|e| format!("GATEHOUSE_SMTP_URL is not a URL: {e}"))?;
    let host = parsed
        .host_str()
        .ok_or("GATEHOUSE_SMTP_URL has no host")?
        .to_string();
    let credentials = (!parsed.username().is_empty()).then(|| {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        Credentials::new(
            decode(parsed.username()),
            decode(parsed.password().unwrap_or("")),
        )
    });
    let builder = match parsed.scheme() {
        "smtp" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
            .port(parsed.port().unwrap_or(25)),
        "smtp+starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)
            .map_err(|e| e.to_string())?
            .port(parsed.port().unwrap_or(587)),
        "smtps" => AsyncSmtpTransport::<Tokio1Executor>::relay(&host)
            .map_err(|e| e.to_string())?
            .port(parsed.port().unwrap_or(465)),
        other => {
            return Err(format!(
                "GATEHOUSE_SMTP_URL scheme {other:?}: use smtp, smtp+starttls or smtps"
            ))
        }
    };
    let builder = match credentials {
        Some(c) => builder.credentials(c),
        None => builder,
    };
    Ok(builder.build())
}
