//! Hostile and careless clients at the socket level: idle sockets, trickled
//! headers, idle kept-alive connections, bodies sent a byte at a time, a
//! connection flood; and sign-ins past the password-hash queue. The server
//! under test runs the same loop as `gatehouse serve` (`http::server`).

use std::time::{Duration, Instant};

use gatehouse_tests::{email, Backend, TestServer, PASSWORD};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADER_TIMEOUT: u64 = 2;
const BODY_TIMEOUT: u64 = 2;
const KEEP_ALIVE: u64 = 1;

async fn server(max_connections: Option<usize>) -> TestServer {
    TestServer::start_with(Backend::Sqlite, move |c| {
        c.server.header_read_timeout = HEADER_TIMEOUT;
        c.server.body_read_timeout = BODY_TIMEOUT;
        c.server.keep_alive_timeout = KEEP_ALIVE;
        c.server.max_connections = max_connections;
    })
    .await
}

fn addr(s: &TestServer) -> String {
    s.origin.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the socket; returns what it sent and when
/// it closed, or panics after `limit`.
async fn until_closed(sock: &mut TcpStream, limit: Duration) -> (String, Instant) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, sock.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (String::from_utf8_lossy(&out).into(), Instant::now())
            }
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "socket still open after {limit:?}; received {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_sockets_are_closed_while_ok_keeps_answering() {
    let s = server(None).await;
    let target = addr(&s);
    let opened = Instant::now();
    let grace = Duration::from_secs(3);

    // 40 sockets that never send a byte.
    let mut idle = Vec::new();
    for _ in 0..40 {
        idle.push(TcpStream::connect(&target).await.unwrap());
    }
    // 20 sockets that trickle header lines, one every 300 ms, forever.
    let mut tricklers = Vec::new();
    for _ in 0..20 {
        let mut sock = TcpStream::connect(&target).await.unwrap();
        tricklers.push(tokio::spawn(async move {
            let _ = sock
                .write_all(b"GET /api/auth/ok HTTP/1.1\r\nHost: x\r\n")
                .await;
            for i in 0.. {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if sock
                    .write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    return Instant::now();
                }
            }
            unreachable!()
        }));
    }
    // 20 kept-alive connections that finish one request, then go quiet.
    let mut kept = Vec::new();
    for _ in 0..20 {
        let mut sock = TcpStream::connect(&target).await.unwrap();
        sock.write_all(b"GET /api/auth/ok HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = sock.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        kept.push((sock, Instant::now()));
    }
    // 20 bodies sent one byte every 300 ms.
    let mut slow_bodies = Vec::new();
    for _ in 0..20 {
        let mut sock = TcpStream::connect(&target).await.unwrap();
        let head = "POST /api/auth/sign-in/email HTTP/1.1\r\nHost: x\r\n\
                    Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{";
        sock.write_all(head.as_bytes()).await.unwrap();
        let (mut rd, mut wr) = sock.into_split();
        let writer = tokio::spawn(async move {
            while wr.write_all(b" ").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
        slow_bodies.push((
            tokio::spawn(async move {
                let mut out = Vec::new();
                let _ = tokio::time::timeout(
                    Duration::from_secs(BODY_TIMEOUT) + Duration::from_secs(3),
                    rd.read_to_end(&mut out),
                )
                .await;
                (String::from_utf8_lossy(&out).to_string(), Instant::now())
            }),
            writer,
        ));
    }

    // With 100 slow clients connected, the server still answers at once.
    for _ in 0..5 {
        let started = Instant::now();
        let r = s.client().get("/ok").await;
        assert_eq!(r.status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    for mut sock in idle {
        let (sent, closed) =
            until_closed(&mut sock, Duration::from_secs(HEADER_TIMEOUT) + grace).await;
        let after = closed - opened;
        assert!(
            after >= Duration::from_secs(HEADER_TIMEOUT) - Duration::from_millis(300),
            "{after:?}"
        );
        assert!(!sent.starts_with("HTTP/1.1 200"), "{sent}");
    }
    for t in tricklers {
        // The write fails once the server has closed (a reset after close).
        let closed = tokio::time::timeout(Duration::from_secs(HEADER_TIMEOUT) + grace + grace, t)
            .await
            .expect("the trickled-header socket is closed")
            .unwrap();
        let after = closed - opened;
        assert!(
            after >= Duration::from_secs(HEADER_TIMEOUT) - Duration::from_millis(300),
            "{after:?}"
        );
    }
    for (mut sock, idle_since) in kept {
        let (_, closed) = until_closed(&mut sock, Duration::from_secs(KEEP_ALIVE) + grace).await;
        assert!(closed - idle_since >= Duration::from_millis(KEEP_ALIVE * 1000 - 300));
    }
    for (reader, writer) in slow_bodies {
        let (sent, closed) = reader.await.unwrap();
        writer.abort();
        assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
        assert!(sent.contains("\"code\":\"REQUEST_TIMEOUT\""), "{sent}");
        assert!(
            sent.to_ascii_lowercase().contains("connection: close"),
            "{sent}"
        );
        let after = closed - opened;
        assert!(
            after >= Duration::from_secs(BODY_TIMEOUT) - Duration::from_millis(300),
            "{after:?}"
        );
    }
    assert_eq!(s.client().get("/ok").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let s = server(Some(3)).await;
    let target = addr(&s);
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(&target).await.unwrap());
    }
    // The fourth connects (the kernel queues it) but is not served while
    // the three idle sockets hold every slot...
    let mut fourth = TcpStream::connect(&target).await.unwrap();
    fourth
        .write_all(b"GET /api/auth/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    assert!(
        tokio::time::timeout(Duration::from_millis(700), fourth.read(&mut buf))
            .await
            .is_err(),
        "served although every slot was taken"
    );
    // ...and is served once the header timeout frees the slots.
    let (answer, _) = until_closed(&mut fourth, Duration::from_secs(HEADER_TIMEOUT + 4)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"ok\":true"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ups_past_the_hash_queue_get_503_and_lose_nothing() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        // One worker, one waiting: a burst overflows at once.
        c.password_hash.concurrency = Some(1);
        c.password_hash.queue = Some(1);
        c.password_hash.memory_kib = 19456;
        c.password_hash.iterations = 3;
    })
    .await;
    let addrs: Vec<String> = (0..12).map(|_| email()).collect();
    let burst: Vec<_> = addrs
        .iter()
        .map(|addr| {
            let c = s.client();
            let addr = addr.clone();
            tokio::spawn(async move {
                let r = c
                    .post(
                        "/sign-up/email",
                        json!({"name": "Burst", "email": addr, "password": PASSWORD}),
                    )
                    .await;
                (addr, r)
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in burst {
        results.push(task.await.unwrap());
    }
    let mut busy = Vec::new();
    for (addr, r) in &results {
        match r.status {
            200 => assert_eq!(r.json()["user"]["email"], addr.as_str()),
            503 => {
                assert_eq!(r.code(), "SERVER_BUSY");
                assert_eq!(r.header("retry-after").as_deref(), Some("1"));
                busy.push(addr.clone());
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert!(
        !busy.is_empty(),
        "12 simultaneous hashes on 1 worker + 1 queue slot"
    );
    assert!(busy.len() < results.len(), "some got through");
    // A refused sign-up wrote nothing, and the same request succeeds later.
    for addr in &busy {
        assert!(
            gatehouse_server::db::store::find_user_by_email(s.db(), addr)
                .await
                .unwrap()
                .is_none()
        );
        let r = s
            .client()
            .post(
                "/sign-up/email",
                json!({"name": "Retry", "email": addr, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // Sign-in of an existing user is bounded the same way, and still works.
    let r = s
        .client()
        .post(
            "/sign-in/email",
            json!({"email": addrs[0], "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}
