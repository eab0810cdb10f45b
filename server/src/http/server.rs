//! The HTTP/1.1 server loop, with the limits a public server needs against
//! slow and idle clients:
//!
//! - **header read**: hyper's `header_read_timeout`, counted from when the
//!   server starts waiting for a request (accept, or the end of the previous
//!   response), so it bounds idle new sockets and trickled headers alike;
//! - **keep-alive idle**: a connection that sent nothing since its last
//!   response is closed after `keep_alive_timeout`;
//! - **body read**: enforced where the body is read (`pipeline`), answering
//!   `408 REQUEST_TIMEOUT`;
//! - **connections**: at most `max_connections` are served at once; the next
//!   client waits in the kernel's listen backlog instead of taking a file
//!   descriptor the server needs. An accept error (such as `EMFILE`) pauses
//!   accepting briefly instead of spinning.
//!
//! `gatehouse serve` runs this loop; an embedding app can call [`serve`] too.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use poem::endpoint::BoxEndpoint;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, EndpointExt, IntoEndpoint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use crate::config::ServerConfig;

/// The limits in force, resolved from [`ServerConfig`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn from_config(cfg: &ServerConfig) -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(cfg.header_read_timeout),
            keep_alive_timeout: Duration::from_secs(cfg.keep_alive_timeout),
            max_connections: cfg.max_connections.unwrap_or_else(default_max_connections),
        }
    }
}

/// 4096, or fewer when the open-file limit is lower: a quarter of the
/// descriptors stay free for the database pool, mail and log files.
fn default_max_connections() -> usize {
    const DEFAULT: usize = 4096;
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
            let soft = usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX);
            return DEFAULT.min((soft / 4 * 3).max(16));
        }
    }
    DEFAULT
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests
/// in progress finish (up to 10 s).
pub async fn serve<E>(
    listener: TcpListener,
    app: E,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    E: IntoEndpoint,
    E::Endpoint: 'static,
{
    let app: Arc<BoxEndpoint<'static, poem::Response>> =
        Arc::new(app.into_endpoint().map_to_response().boxed());
    let local = listener.local_addr()?;
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => permit.expect("never closed"),
        };
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of descriptors or a transient network error: pause
                // rather than spin on a failing accept.
                tracing::warn!(error = %e, "accept failed; pausing 100 ms");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            serve_connection(stream, local, peer, app, limits, stop).await;
            drop(permit);
        });
    }
    let _ = stop_tx.send(true);
    // Connections give their slots back as they end.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(10), slots.acquire_many(all)).await;
    Ok(())
}

/// What a connection's watchdog needs to know: when bytes last arrived,
/// and whether a request is being handled.
struct Activity {
    start: Instant,
    /// Milliseconds since `start` of the last read that returned bytes.
    last_read_ms: AtomicU64,
    /// Milliseconds since `start` when the last response was handed over.
    idle_since_ms: AtomicU64,
    in_flight: AtomicUsize,
    served: AtomicUsize,
}

impl Activity {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// When an idle kept-alive connection should close, if it is idle now.
    fn keep_alive_deadline(&self, keep_alive: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 || self.served.load(Ordering::Acquire) == 0 {
            return None;
        }
        let idle_since = self.idle_since_ms.load(Ordering::Acquire);
        if self.last_read_ms.load(Ordering::Acquire) > idle_since {
            // The next request has started arriving: hyper's header timeout rules.
            return None;
        }
        Some(self.start + Duration::from_millis(idle_since) + keep_alive)
    }
}

async fn serve_connection(
    stream: TcpStream,
    local: SocketAddr,
    peer: SocketAddr,
    app: Arc<BoxEndpoint<'static, poem::Response>>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity {
        start: Instant::now(),
        last_read_ms: AtomicU64::new(0),
        idle_since_ms: AtomicU64::new(0),
        in_flight: AtomicUsize::new(0),
        served: AtomicUsize::new(0),
    });
    let io = Tracked {
        inner: stream,
        activity: activity.clone(),
    };
    let service = hyper::service::service_fn({
        let activity = activity.clone();
        move |req: hyper::Request<hyper::body::Incoming>| {
            let app = app.clone();
            let activity = activity.clone();
            async move {
                activity.in_flight.fetch_add(1, Ordering::AcqRel);
                let req = poem::Request::from((
                    req,
                    LocalAddr(Addr::SocketAddr(local)),
                    RemoteAddr(Addr::SocketAddr(peer)),
                    poem::http::uri::Scheme::HTTP,
                ));
                let resp = app.get_response(req).await;
                activity
                    .idle_since_ms
                    .store(activity.now_ms(), Ordering::Release);
                activity.served.fetch_add(1, Ordering::AcqRel);
                activity.in_flight.fetch_sub(1, Ordering::AcqRel);
                Ok::<hyper::Response<BoxBody<Bytes, io::Error>>, Infallible>(resp.into())
            }
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    loop {
        let wake = activity
            .keep_alive_deadline(limits.keep_alive_timeout)
            .unwrap_or_else(|| Instant::now() + limits.keep_alive_timeout);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                }
                return;
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                if activity
                    .keep_alive_deadline(limits.keep_alive_timeout)
                    .is_some_and(|d| d <= Instant::now())
                {
                    // Idle with nothing in flight: closing loses nothing.
                    return;
                }
            }
            _ = stop.changed() => {
                conn.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(Duration::from_secs(10), conn.as_mut()).await;
                return;
            }
        }
    }
}

/// The socket, noting when bytes arrive.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let now = self.activity.now_ms();
            // Strictly after the last response, even within the same millisecond.
            let floor = self.activity.idle_since_ms.load(Ordering::Acquire) + 1;
            self.activity
                .last_read_ms
                .store(now.max(floor), Ordering::Release);
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
