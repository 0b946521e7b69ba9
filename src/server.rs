//! The SCIM listener: TCP accept loop with a connection cap, TLS handshake under a deadline,
//! HTTP/1.1 and HTTP/2 (ALPN, or h2c prior knowledge in plain mode) through hyper-util's auto
//! builder, a deadline on the opening bytes and on headers, and graceful drain.

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use crate::app::App;
use crate::config::Server as ServerConfig;
use crate::handler::{self, Conn};

mod opening;
use opening::OpeningDeadline;

/// The HTTP connection builder for the SCIM listener, with its limits and deadlines.
pub fn http_builder(cfg: &ServerConfig) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(cfg.header_read_timeout)
        .max_buf_size(cfg.max_header_bytes.max(8192));
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(cfg.http2_max_concurrent_streams)
        .max_header_list_size(u32::try_from(cfg.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20))
        .max_pending_accept_reset_streams(Some(20))
        .max_local_error_reset_streams(Some(256));
    b
}

/// Accepts connections until `stop` turns true, then returns; connections already accepted are
/// tracked by `graceful` so the caller can drain them.
pub async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Arc<App>,
    graceful: &GracefulShutdown,
    mut stop: watch::Receiver<bool>,
) {
    let rt = app.runtime();
    let cfg = &rt.config.server;
    let builder = Arc::new(http_builder(cfg));
    let handshake_timeout = cfg.handshake_timeout;
    let opening_timeout = cfg.header_read_timeout;
    let slots = Arc::new(Semaphore::new(cfg.max_connections));
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = stopped(&mut stop) => break,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off rather than spin or die.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let _ = tcp.set_nodelay(true);
        let watcher = graceful.watcher();
        let app = app.clone();
        let builder = builder.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let conn = Conn { peer, tls: true };
                            let io = OpeningDeadline::new(stream, opening_timeout);
                            serve(io, &builder, app, conn, watcher).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
                None => {
                    let conn = Conn { peer, tls: false };
                    let io = OpeningDeadline::new(tcp, opening_timeout);
                    serve(io, &builder, app, conn, watcher).await;
                }
            }
        });
    }
}

async fn serve<IO>(
    io: IO,
    builder: &auto::Builder<TokioExecutor>,
    app: Arc<App>,
    conn: Conn,
    watcher: hyper_util::server::graceful::Watcher,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| handler::handle(app.clone(), req, conn));
    let connection = builder.serve_connection(TokioIo::new(io), svc).into_owned();
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!(peer = %conn.peer, error = %e, "connection ended with an error");
    }
}

/// Resolves once `stop` holds `true` (or its sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
