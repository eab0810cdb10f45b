//! A real SMTP server on loopback for tests: it speaks enough of RFC 5321
//! (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) for lettre and records
//! every message, so tests read what users would receive.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// One received message: envelope recipients and the raw DATA.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub to: Vec<String>,
    pub data: String,
}

impl ReceivedMail {
    /// The message with quoted-printable soft breaks and escapes decoded, as
    /// a mail client shows the text parts.
    pub fn decoded(&self) -> String {
        let joined = self.data.replace("=\r\n", "").replace("=\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' && i + 2 < bytes.len() {
                if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                    out.push(b);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The first URL in the (decoded) message containing `needle`.
    pub fn link(&self, needle: &str) -> Option<String> {
        self.decoded()
            .split_whitespace()
            .map(|w| w.trim_matches(|c| c == '"' || c == '<' || c == '>'))
            .find(|w| w.starts_with("http") && w.contains(needle))
            .map(|w| w.split('"').next().unwrap_or(w).to_string())
    }

    /// A one-time code: a line of exactly `digits` digits in the decoded text.
    pub fn code(&self, digits: usize) -> Option<String> {
        self.decoded()
            .lines()
            .map(str::trim)
            .find(|l| l.len() == digits && l.chars().all(|c| c.is_ascii_digit()))
            .map(str::to_string)
    }

    pub fn subject(&self) -> Option<String> {
        self.data
            .lines()
            .find_map(|l| l.strip_prefix("Subject: ").map(str::to_string))
    }
}

#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
    arrived: Arc<Notify>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind smtp sink");
        let port = listener.local_addr().unwrap().port();
        let sink = SmtpSink {
            port,
            mails: Arc::default(),
            arrived: Arc::new(Notify::new()),
        };
        let worker = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let worker = worker.clone();
                tokio::spawn(async move {
                    let _ = worker.session(stream).await;
                });
            }
        });
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    async fn session(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 sink ESMTP ready\r\n").await?;
        let mut to = Vec::new();
        while let Some(line) = lines.next_line().await? {
            let upper = line.to_ascii_uppercase();
            if upper.starts_with("EHLO") {
                write.write_all(b"250-sink\r\n250 8BITMIME\r\n").await?;
            } else if upper.starts_with("HELO")
                || upper.starts_with("MAIL FROM")
                || upper.starts_with("RSET")
                || upper.starts_with("NOOP")
            {
                if upper.starts_with("RSET") {
                    to.clear();
                }
                write.write_all(b"250 OK\r\n").await?;
            } else if upper.starts_with("RCPT TO") {
                to.push(
                    line[8..]
                        .trim()
                        .trim_matches(|c| c == '<' || c == '>' || c == ':')
                        .to_string(),
                );
                write.write_all(b"250 OK\r\n").await?;
            } else if upper == "DATA" {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                while let Some(l) = lines.next_line().await? {
                    if l == "." {
                        break;
                    }
                    data.push_str(
                        l.strip_prefix('.')
                            .filter(|_| l.starts_with(".."))
                            .unwrap_or(&l),
                    );
                    data.push('\n');
                }
                self.mails.lock().unwrap().push(ReceivedMail {
                    to: std::mem::take(&mut to),
                    data,
                });
                self.arrived.notify_waiters();
                write.write_all(b"250 OK queued\r\n").await?;
            } else if upper.starts_with("QUIT") {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                write.write_all(b"502 command not implemented\r\n").await?;
            }
        }
        Ok(())
    }

    /// Every message received so far.
    pub fn all(&self) -> Vec<ReceivedMail> {
        self.mails.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) for the `n`-th message to `to` (1-based) and returns it.
    pub async fn wait_for(&self, to: &str, n: usize) -> ReceivedMail {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.arrived.notified();
            let matching: Vec<ReceivedMail> = self
                .all()
                .into_iter()
                .filter(|m| m.to.iter().any(|t| t == to))
                .collect();
            if matching.len() >= n {
                return matching[n - 1].clone();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "no message #{n} to {to} within 10 s; received: {:?}",
                    self.all()
                );
            }
        }
    }

    /// How many messages went to `to`.
    pub fn count_to(&self, to: &str) -> usize {
        self.all()
            .iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .count()
    }
}
