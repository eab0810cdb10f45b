//! Social sign-in for desktop and command-line apps: the user signs in at the
//! provider in their own browser, and the result comes back to this process
//! on a loopback address (RFC 8252).
//!
//! The client listens on `127.0.0.1` on a free port and opens the browser at
//! the server's `GET /sign-in/social/loopback` with that address, a random
//! `state` and a PKCE challenge. When the user is done, the browser is sent
//! to the address with a one-time code, which the client redeems together
//! with its verifier at `POST /sign-in/social/loopback/token`. The session
//! then lives in this client, not in the browser.

use std::net::Ipv4Addr;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::Rng as _;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::{types, AuthClient, AuthError, ErrorCode};

/// The longest request line and headers read from the browser.
const MAX_REQUEST: usize = 16 * 1024;
/// How long one connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(3);

/// Options of [`AuthClient::sign_in_social_loopback_with`].
#[derive(Debug, Clone)]
pub struct LoopbackOptions {
    /// The provider id (`github`, `google`, a generic provider's id...).
    pub provider: String,
    /// Passed to the provider as `login_hint`.
    pub login_hint: Option<String>,
    /// How long to wait for the browser (default five minutes).
    pub timeout: Duration,
    /// The loopback address's path (default `/callback`).
    pub path: String,
}

impl LoopbackOptions {
    /// Defaults for `provider`.
    pub fn new(provider: impl Into<String>) -> Self {
        LoopbackOptions {
            provider: provider.into(),
            login_hint: None,
            timeout: Duration::from_secs(300),
            path: "/callback".into(),
        }
    }
}

/// Opens `url` in the user's default browser (`open` on macOS, `xdg-open`
/// elsewhere on Unix, `start` on Windows).
pub fn open_in_browser(url: &str) -> std::io::Result<()> {
    let mut cmd = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    cmd.arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
}

fn random_unreserved(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// What the browser brought to the loopback address.
enum Answer {
    Code(String),
    Refused { code: String, message: String },
}

const PAGE_DONE: &str = "<!doctype html><meta charset=utf-8><title>Signed in</title>\
<p>You are signed in. You can close this window and return to the app.</p>";
const PAGE_FAILED: &str = "<!doctype html><meta charset=utf-8><title>Sign-in failed</title>\
<p>The sign-in did not complete. Return to the app for details.</p>";

async fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The request target of one HTTP request (`/callback?code=...`).
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > MAX_REQUEST {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = buf.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let mut parts = line.split(' ');
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) => Some(target.to_string()),
        _ => None,
    }
}

/// Serves the loopback address until a request for `path` carries our
/// `state`; anything else (a favicon, a stray request) is answered and
/// ignored.
async fn wait_for_answer(listener: &TcpListener, path: &str, state: &str) -> Answer {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            // Out of descriptors or the like: do not spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // Browsers open spare connections they may never use: one that
        // sends nothing must not hold up the one that brings the answer.
        let target = tokio::time::timeout(READ_TIMEOUT, read_target(&mut stream))
            .await
            .ok()
            .flatten();
        let Some(target) = target else {
            respond(&mut stream, "400 Bad Request", "").await;
            continue;
        };
        let Ok(url) = url::Url::parse("http://127.0.0.1").and_then(|b| b.join(&target)) else {
            respond(&mut stream, "400 Bad Request", "").await;
            continue;
        };
        if url.path() != path {
            respond(&mut stream, "404 Not Found", "").await;
            continue;
        }
        let get = |k: &str| {
            url.query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        if get("state").as_deref() != Some(state) {
            respond(&mut stream, "400 Bad Request", PAGE_FAILED).await;
            continue;
        }
        if let Some(code) = get("error") {
            respond(&mut stream, "200 OK", PAGE_FAILED).await;
            return Answer::Refused {
                message: get("error_description").unwrap_or_default(),
                code,
            };
        }
        if let Some(code) = get("code") {
            respond(&mut stream, "200 OK", PAGE_DONE).await;
            return Answer::Code(code);
        }
        respond(&mut stream, "400 Bad Request", PAGE_FAILED).await;
    }
}

impl AuthClient {
    /// Signs in with `provider` through the user's browser, for desktop and
    /// command-line apps: `open` is given the URL to show (for example
    /// [`open_in_browser`], or print it for the user to follow). Resolves
    /// when the browser comes back to this process's loopback address, with
    /// the session stored in this client.
    pub async fn sign_in_social_loopback(
        &self,
        provider: &str,
        open: impl FnOnce(&str) -> std::io::Result<()>,
    ) -> Result<types::SocialSignInResponse, AuthError> {
        self.sign_in_social_loopback_with(LoopbackOptions::new(provider), open)
            .await
    }

    /// [`AuthClient::sign_in_social_loopback`] with every option.
    pub async fn sign_in_social_loopback_with(
        &self,
        options: LoopbackOptions,
        open: impl FnOnce(&str) -> std::io::Result<()>,
    ) -> Result<types::SocialSignInResponse, AuthError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| AuthError::Network(format!("cannot listen on 127.0.0.1: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| AuthError::Network(e.to_string()))?
            .port();
        let redirect_uri = format!("http://127.0.0.1:{port}{}", options.path);
        let verifier = random_unreserved(64);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state = random_unreserved(32);

        let mut url = url::Url::parse(&format!("{}/sign-in/social/loopback", self.raw.baseurl))
            .map_err(|e| AuthError::Unexpected(format!("bad base URL: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("provider", &options.provider)
                .append_pair("redirect_uri", &redirect_uri)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256")
                .append_pair("state", &state);
            if let Some(hint) = &options.login_hint {
                q.append_pair("login_hint", hint);
            }
        }
        open(url.as_str())
            .map_err(|e| AuthError::Unexpected(format!("cannot open the browser: {e}")))?;

        let answer = tokio::time::timeout(
            options.timeout,
            wait_for_answer(&listener, &options.path, &state),
        )
        .await
        .map_err(|_| {
            AuthError::Unexpected(format!(
                "the browser did not come back within {} s",
                options.timeout.as_secs()
            ))
        })?;
        let code = match answer {
            Answer::Code(c) => c,
            Answer::Refused { code, message } => {
                // The error arrived as the query of a redirect.
                return Err(AuthError::Api {
                    status: 302,
                    code: ErrorCode::parse(&code),
                    message,
                });
            }
        };
        let body = types::LoopbackTokenBody::builder()
            .code(code)
            .code_verifier(verifier)
            .redirect_uri(redirect_uri);
        self.call(self.raw.sign_in_social_loopback_token().body(body).send())
            .await
    }
}
