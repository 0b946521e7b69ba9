//! Hot reload of the configuration, the mapping, the bearer tokens, the TLS certificate and the
//! platform's secrets (secret files, client certificate and key, CA bundle).
//!
//! Three triggers: a file watcher on the directories holding those files (directories, not the
//! files: Kubernetes updates mounted ConfigMaps and Secrets by swapping a `..data` symlink, and a
//! watch on the file itself goes silent after the first swap), a periodic poll that compares the
//! files' contents with what was loaded (watchers miss events on some volumes), and SIGHUP.
//!
//! A reload validates everything, exactly as at start, then swaps the whole runtime in one
//! atomic store. On any error nothing changes: the last good configuration keeps serving, the
//! failure is logged with every error, and `scim_sidecar_config_reloads_total{outcome="failure"}`
//! counts it. Requests in flight finish on the runtime they started with.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

use crate::app::{App, Runtime};
use crate::config::{Config, ConfigErrors, Loader, TokenSource};
use crate::tls::HotCert;

/// Everything the reloader needs.
pub struct Reloader {
    /// How to load the configuration again.
    pub loader: Loader,
    /// Where the new runtime goes.
    pub app: Arc<App>,
    /// The certificate resolver of the TLS listener, if TLS is on.
    pub cert: Option<Arc<HotCert>>,
}

/// The files a configuration was read from: config, mapping, certificate, key, token files, and
/// the platform's secret files, client certificate and key and CA bundle.
pub fn files(cfg: &Config) -> Vec<PathBuf> {
    let mut out = vec![cfg.file.clone()];
    if let Some(m) = &cfg.scim.mapping {
        out.push(m.file.clone());
        out.extend(m.platform.files.iter().cloned());
    }
    if let Some(t) = &cfg.tls {
        out.push(t.cert_file.clone());
        out.push(t.key_file.clone());
    }
    for (_, src) in &cfg.auth.sources {
        if let TokenSource::File(p) = src {
            out.push(p.clone());
        }
    }
    for j in &cfg.auth.jwt {
        if let crate::jwks::Source::File(p) = &j.source {
            out.push(p.clone());
        }
    }
    if let Some(o) = &cfg.auth.oauth {
        out.push(o.signing_key_file.clone());
        out.extend(o.verify_key_files.iter().cloned());
        for (_, src) in &o.secret_sources {
            if let TokenSource::File(p) = src {
                out.push(p.clone());
            }
        }
    }
    if let Some(dir) = &cfg.auth.tokens_dir {
        out.push(dir.clone());
        if let Ok(entries) = std::fs::read_dir(dir) {
            let mut names: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
                })
                .collect();
            names.sort();
            out.extend(names);
        }
    }
    out
}

/// The directories to watch: the parents of [`files`], and the tokens directory.
pub fn dirs(cfg: &Config) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = files(cfg)
        .iter()
        .filter_map(|f| {
            if f.is_dir() {
                Some(f.clone())
            } else {
                f.parent().map(Path::to_path_buf)
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A fingerprint of the files' names and contents (following symlinks).
pub fn fingerprint(files: &[PathBuf]) -> u64 {
    let mut h = DefaultHasher::new();
    for f in files {
        f.hash(&mut h);
        match std::fs::read(f) {
            Ok(bytes) => bytes.hash(&mut h),
            Err(e) => e.kind().to_string().hash(&mut h),
        }
    }
    h.finish()
}

impl Reloader {
    /// Loads the configuration again and, if it is valid, swaps it in.
    pub fn reload(&self) -> Result<(), ConfigErrors> {
        let metrics = self.app.runtime().metrics.clone();
        let cfg = match self.loader.load() {
            Ok(c) => c,
            Err(e) => {
                metrics.reload(false);
                tracing::warn!(
                    errors = %e.to_string().replace('\n', " | "),
                    "configuration reload failed; the last good configuration keeps serving"
                );
                return Err(e);
            }
        };
        let old = self.app.runtime();
        let (a, b) = (&old.config, &cfg);
        let mut restart = Vec::new();
        if a.server.listen != b.server.listen {
            restart.push("server.listen");
        }
        if a.server.plain_http != b.server.plain_http || a.tls.is_some() != b.tls.is_some() {
            restart.push("server.plain_http / [tls]");
        }
        if a.admin.listen != b.admin.listen {
            restart.push("admin.listen");
        }
        if a.server.max_connections != b.server.max_connections
            || a.server.handshake_timeout != b.server.handshake_timeout
            || a.server.header_read_timeout != b.server.header_read_timeout
            || a.server.max_header_bytes != b.server.max_header_bytes
            || a.server.http2_max_concurrent_streams != b.server.http2_max_concurrent_streams
        {
            restart.push("connection limits and timeouts in [server]");
        }
        if a.log != b.log {
            restart.push("[log]");
        }
        if !restart.is_empty() {
            tracing::warn!(
                settings = %restart.join(", "),
                "these settings changed but take effect only after a restart"
            );
        }
        if let (Some(hot), Some(tls)) = (&self.cert, &cfg.tls) {
            hot.store(tls.certified_key.clone());
        }
        let tokens: Vec<String> = cfg.auth.tokens.names().map(str::to_owned).collect();
        let previous = self.app.runtime();
        self.app
            .swap_runtime(Runtime::new(cfg, metrics.clone()).succeeding(&previous));
        metrics.reload(true);
        tracing::info!(tokens = %tokens.join(","), "configuration reloaded");
        Ok(())
    }

    /// Watches, polls and listens for SIGHUP until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let settings = self.app.runtime().config.reload;
        let (tx, mut rx) = mpsc::channel::<()>(1);
        let mut watched = dirs(&self.app.runtime().config);
        // Kept alive for the loop's lifetime: dropping it stops the watch.
        let mut watcher = make_watcher(tx.clone(), &watched);
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut known = fingerprint(&files(&self.app.runtime().config));
        let mut poll = tokio::time::interval(settings.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        poll.tick().await;
        loop {
            let forced = tokio::select! {
                () = crate::server::stopped(&mut stop) => break,
                Some(()) = rx.recv() => false,
                () = sighup(&mut hup) => {
                    tracing::info!("SIGHUP received: reloading");
                    true
                }
                _ = poll.tick() => false,
            };
            tokio::time::sleep(settings.debounce).await;
            while rx.try_recv().is_ok() {}
            let now = fingerprint(&files(&self.app.runtime().config));
            if now == known && !forced {
                continue;
            }
            // Whatever the outcome, these contents have been tried: a broken file is not
            // retried on every poll, only when it changes again.
            let _ = self.reload();
            let runtime = self.app.runtime();
            known = fingerprint(&files(&runtime.config));
            let again = dirs(&runtime.config);
            if again != watched {
                watched = again;
                drop(std::mem::replace(
                    &mut watcher,
                    make_watcher(tx.clone(), &watched),
                ));
            }
        }
    }
}

async fn sighup(hup: &mut Option<tokio::signal::unix::Signal>) {
    match hup {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// A watcher on `dirs` that pokes `tx` on any event; `None` (poll only) if none can be set up.
fn make_watcher(tx: mpsc::Sender<()>, dirs: &[PathBuf]) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let mut w = match notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if res.is_ok() {
            let _ = tx.try_send(());
        }
    }) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch files; falling back to polling");
            return None;
        }
    };
    for d in dirs {
        if let Err(e) = w.watch(d, notify::RecursiveMode::NonRecursive) {
            tracing::warn!(dir = %d.display(), error = %e, "cannot watch directory; polling covers it");
        }
    }
    Some(w)
}
