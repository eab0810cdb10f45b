//! Signed outgoing JSON POSTs (the anonymous plugin's link webhook, the SMS
//! relay): one client per destination and one signature scheme, so a
//! receiver verifies every kind the same way. The body is signed with
//! `x-gatehouse-signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`,
//! where `x-gatehouse-timestamp` is the sending time in Unix seconds (part of
//! the signed bytes, so a receiver can refuse replays).

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "x-gatehouse-signature";
pub const TIMESTAMP_HEADER: &str = "x-gatehouse-timestamp";

/// What [`SIGNATURE_HEADER`] carries for `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs signed JSON to one URL (http or https). Redirects are not followed.
pub struct SignedPoster {
    client: reqwest::Client,
    url: String,
    secret: String,
}

impl SignedPoster {
    /// `url` must be `http://` or `https://`; errors name what is wrong.
    pub fn new(url: &str, secret: &str, timeout: Duration) -> Result<Self, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("{url:?}: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("{url:?}: only http:// and https:// are supported"));
        }
        let client = super::outbound::client(timeout)?;
        Ok(SignedPoster {
            client,
            url: url.to_string(),
            secret: secret.to_string(),
        })
    }

    /// Sends `value`; an error for a failed exchange or a non-2xx answer
    /// (never with the URL, which may carry credentials).
    pub async fn post_json(&self, value: &serde_json::Value) -> Result<(), String> {
        let body = serde_json::to_vec(value).map_err(|e| e.to_string())?;
        // Receivers compare with real time, whatever clock the server runs on.
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
            .map_err(|e| e.without_url().to_string())?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {}", resp.status()))
        }
    }
}

impl std::fmt::Debug for SignedPoster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("SignedPoster").finish_non_exhaustive()
    }
}
