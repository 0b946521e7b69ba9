//! scim-sidecar: a SCIM 2.0 server for platforms that only have their own REST API, run next to
//! them as a Kubernetes sidecar. This library is what the binary and the integration tests call.
#![forbid(unsafe_code)]

pub mod access_log;
pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod demo;
pub mod discovery;
pub mod error;
pub mod explain;
pub mod handler;
pub mod jwks;
pub mod jwt;
pub mod logging;
pub mod mapping;
pub mod mapping_test;
pub mod metrics;
pub mod normalize;
pub mod oauth;
pub mod openapi;
pub mod operation;
pub mod platform;
pub mod reload;
pub mod request;
pub mod respond;
pub mod routes;
pub mod scim;
pub mod server;
pub mod service;
pub mod shadow;
pub mod tls;

use hyper_util::server::graceful::GracefulShutdown;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::app::{App, Runtime};
use crate::config::Config;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not bind.
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The TLS configuration was refused by rustls.
    #[error("TLS configuration rejected: {0}")]
    Tls(#[from] rustls::Error),
}

/// A running server: its bound addresses and the handle to drain and stop it.
#[derive(Debug)]
pub struct Running {
    /// The SCIM listener's address (useful when configured with port 0).
    pub scim_addr: SocketAddr,
    /// The admin listener's address.
    pub admin_addr: SocketAddr,
    /// The shared state (health flags, current runtime).
    pub app: Arc<App>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    /// Begins a graceful shutdown: `/readyz` turns 503, then after `server.shutdown_delay` the
    /// listener closes and in-flight requests get `server.drain_timeout` to finish.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits until the server has drained and stopped.
    pub async fn wait(self) {
        let _ = self.task.await;
    }

    /// Shuts down and waits.
    pub async fn stop(self) {
        self.shutdown();
        self.wait().await;
    }
}

/// Binds the listeners and starts serving, without hot reload. Returns once both listeners are
/// bound and `/readyz` answers 200.
pub async fn start(config: Config) -> Result<Running, StartError> {
    start_with(config, None).await
}

/// Like [`start`], and reloads the configuration with `loader` when its files change, on a
/// poll, or on SIGHUP (unless `[reload] enabled = false`).
pub async fn start_with(
    config: Config,
    loader: Option<config::Loader>,
) -> Result<Running, StartError> {
    let scim_listener = TcpListener::bind(config.server.listen)
        .await
        .map_err(|source| StartError::Bind {
            what: "SCIM",
            addr: config.server.listen,
            source,
        })?;
    let admin_listener = TcpListener::bind(config.admin.listen)
        .await
        .map_err(|source| StartError::Bind {
            what: "admin",
            addr: config.admin.listen,
            source,
        })?;
    let scim_addr = local_addr(&scim_listener, config.server.listen);
    let admin_addr = local_addr(&admin_listener, config.admin.listen);

    let hot_cert = config
        .tls
        .as_ref()
        .map(|t| tls::HotCert::new(t.certified_key.clone()));
    let acceptor = match (&config.tls, &hot_cert) {
        (Some(t), Some(hot)) => Some(TlsAcceptor::from(tls::server_config(
            hot.clone(),
            t.min_version,
            tls::provider(),
        )?)),
        _ => None,
    };
    let reload_enabled = config.reload.enabled;
    let base_path = config.scim.base_path.clone();
    let shutdown_delay = config.server.shutdown_delay;
    let drain_timeout = config.server.drain_timeout;
    let app = App::new(Runtime::new(config, metrics::Metrics::new()));

    let (stop_tx, mut stop_rx) = watch::channel(false);
    let (accept_stop_tx, accept_stop_rx) = watch::channel(false);
    let (admin_stop_tx, admin_stop_rx) = watch::channel(false);
    let admin_task = tokio::spawn(admin::serve(
        admin_listener,
        app.clone(),
        admin_stop_rx.clone(),
    ));
    let reload_task = match loader {
        Some(loader) if reload_enabled => {
            let r = reload::Reloader {
                loader,
                app: app.clone(),
                cert: hot_cert,
            };
            Some(tokio::spawn(r.run(admin_stop_rx)))
        }
        _ => None,
    };

    match &acceptor {
        Some(_) => {
            tracing::info!(addr = %scim_addr, base_path = %base_path, "SCIM interface listening (HTTPS)")
        }
        None => tracing::warn!(
            addr = %scim_addr, base_path = %base_path,
            "SCIM interface listening over PLAIN HTTP (server.plain_http = true): bearer tokens travel unencrypted unless a TLS-terminating proxy is in front"
        ),
    }
    tracing::info!(addr = %admin_addr, "admin interface listening (/livez, /readyz)");
    app.health.set_ready();

    let task_app = app.clone();
    let task = tokio::spawn(async move {
        let graceful = GracefulShutdown::new();
        let control = async {
            server::stopped(&mut stop_rx).await;
            task_app.health.set_draining();
            tracing::info!(
                delay = %config::values::format_duration(shutdown_delay),
                "shutdown requested: /readyz now reports draining"
            );
            tokio::time::sleep(shutdown_delay).await;
            let _ = accept_stop_tx.send(true);
        };
        let accept = server::accept_loop(
            scim_listener,
            acceptor,
            task_app.clone(),
            &graceful,
            accept_stop_rx,
        );
        tokio::join!(control, accept);
        tracing::info!(
            timeout = %config::values::format_duration(drain_timeout),
            "listener closed; draining in-flight requests"
        );
        match tokio::time::timeout(drain_timeout, graceful.shutdown()).await {
            Ok(()) => tracing::info!("all connections drained"),
            Err(_) => tracing::warn!(
                "drain did not complete within server.drain_timeout; remaining connections are dropped"
            ),
        }
        let _ = admin_stop_tx.send(true);
        let _ = admin_task.await;
        if let Some(t) = reload_task {
            let _ = t.await;
        }
    });
    Ok(Running {
        scim_addr,
        admin_addr,
        app,
        stop: stop_tx,
        task,
    })
}

fn local_addr(l: &TcpListener, fallback: SocketAddr) -> SocketAddr {
    l.local_addr().unwrap_or(fallback)
}
