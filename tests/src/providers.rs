//! The identity providers of `tests/providers/` (a real OpenID provider and
//! a GitHub-shaped OAuth 2 server), run as Node processes on loopback, and a
//! headless browser that walks their login redirects.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn providers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("providers")
}

/// `npm ci` in tests/providers, once per checkout: the first test process
/// to get the lock directory installs, the others wait for it.
fn ensure_installed() {
    let dir = providers_dir();
    let done = dir.join("node_modules/.package-lock.json");
    let lock = dir.join(".install-lock");
    for _ in 0..600 {
        if done.exists() && !lock.exists() {
            return;
        }
        if std::fs::create_dir(&lock).is_ok() {
            if !done.exists() {
                let status = std::process::Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund", "--silent"])
                    .current_dir(&dir)
                    .status();
                let _ = std::fs::remove_dir(&lock);
                assert!(
                    status.is_ok_and(|s| s.success()),
                    "`npm ci` in tests/providers failed (Node and npm are needed for these tests)"
                );
            } else {
                let _ = std::fs::remove_dir(&lock);
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("waited 5 minutes for `npm ci` in tests/providers (stale {lock:?}?)");
}

/// A provider process; killed when dropped.
pub struct NodeProvider {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Drop for NodeProvider {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl NodeProvider {
    async fn spawn(script: &str, env: &[(&str, String)]) -> NodeProvider {
        // Waiting for npm (or another test's install) must not hold a runtime thread.
        tokio::task::spawn_blocking(ensure_installed)
            .await
            .expect("the install check finishes");
        let port = free_port();
        let mut cmd = Command::new("node");
        cmd.arg(script)
            .arg(port.to_string())
            .current_dir(providers_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("node runs");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.strip_prefix("READY ") {
                    return Some(rest.trim().to_string());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("{script} did not start"));
        // Keep draining its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let _ = ready;
        NodeProvider {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The OpenID provider (`op.mjs`); `clients` is its `OP_CLIENTS` JSON,
    /// `issuer` an issuer other than its own URL (e.g. Google's).
    pub async fn openid(clients: serde_json::Value, issuer: Option<&str>) -> NodeProvider {
        let mut env = vec![("OP_CLIENTS", clients.to_string())];
        if let Some(i) = issuer {
            env.push(("OP_ISSUER", i.to_string()));
        }
        Self::spawn("op.mjs", &env).await
    }

    /// Any claims signed with the OP's own key (its test API), as a JWT the
    /// OP's JWKS verifies.
    pub async fn sign(&self, claims: &serde_json::Value) -> String {
        let r: serde_json::Value = crate::http_client()
            .build()
            .expect("a client")
            .post(format!("{}/__test/sign", self.url))
            .json(&serde_json::json!({ "claims": claims }))
            .send()
            .await
            .expect("the OP answers")
            .json()
            .await
            .expect("JSON");
        r["token"].as_str().expect("a token").to_string()
    }

    /// The GitHub-shaped server (`ghmock.mjs`).
    pub async fn github() -> NodeProvider {
        Self::spawn("ghmock.mjs", &[]).await
    }
}

/// One OP client registration with a secret, code + refresh grants and these
/// redirect URIs (client_secret_post, as Better Auth and Gatehouse send).
pub fn op_client(id: &str, secret: &str, redirect_uris: &[String]) -> serde_json::Value {
    serde_json::json!({
        "client_id": id,
        "client_secret": secret,
        "redirect_uris": redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_post",
    })
}

/// Follows redirects from `url` with `http` (which keeps cookies, as a
/// browser) until one points at `stop_prefix`; returns that URL. Relative
/// locations resolve against the answering URL.
pub async fn follow_until(http: &reqwest::Client, url: &str, stop_prefix: &str) -> String {
    let mut current = url.to_string();
    for _ in 0..20 {
        if current.starts_with(stop_prefix) {
            return current;
        }
        let resp = http.get(&current).send().await.expect("provider answers");
        let status = resp.status();
        let Some(loc) = resp.headers().get("location") else {
            let text = resp.text().await.unwrap_or_default();
            panic!("{current} answered {status} without a redirect: {text}");
        };
        let loc = loc.to_str().expect("ascii location");
        current = url::Url::parse(&current)
            .and_then(|base| base.join(loc))
            .expect("a valid location")
            .to_string();
    }
    panic!("more than 20 redirects from {url}");
}
