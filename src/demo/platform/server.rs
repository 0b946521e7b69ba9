//! The public handle on a demo platform ([`Platform`], [`OAuth`], [`RunningPlatform`]): seeding, call counts,
//! fault switches, and the HTTP/1.1 + h2c server with its graceful shutdown.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, info, warn};

use super::counters::{CallCounters, CallCounts};
use super::faults::{CHAOS_MS, Chaos, FAULT_KIND_SHIFT, Fault, FaultCell};
use super::handlers::Shared;
use super::oauth::TokenEndpoint;
use super::records::{Group, Stamp, Status, User, fold};
use super::store::{Store, Taken};

/// How long [`Platform::serve`] waits for in-flight requests once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop cannot spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A handle on one demo platform: its data, call counters and fault switch. Cloning is cheap and
/// every clone sees the same state, so tests keep one while [`Platform::serve`] owns another.
#[derive(Clone)]
pub struct Platform {
    shared: Arc<Shared>,
}

/// An OAuth2 client-credentials token endpoint for the demo platform (`POST /oauth/token`).
/// When it is enabled, `Authorization: Bearer <issued token>` is accepted as well as `X-Api-Key`.
#[derive(Clone)]
pub struct OAuth {
    /// The one client id accepted.
    pub client_id: String,
    /// Its secret (change it later with [`Platform::set_client_secret`]).
    pub client_secret: String,
    /// How long an issued token is accepted, sent as `expires_in` (whole seconds, at least 1);
    /// `None`: tokens never expire and the answer has no `expires_in`.
    pub lifetime: Option<Duration>,
}

impl fmt::Debug for OAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth")
            .field("client_id", &self.client_id)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// A platform served on `127.0.0.1` by [`Platform::spawn`]. Dropping it starts a graceful shutdown
/// in the background; [`RunningPlatform::stop`] also waits for it to finish.
#[derive(Debug)]
pub struct RunningPlatform {
    addr: SocketAddr,
    platform: Platform,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl RunningPlatform {
    /// The address the platform listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The platform's handle, for seeding, call counts and faults.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// Stops accepting connections, lets in-flight requests finish (at most 5 s, then drops them),
    /// and returns once every connection is closed.
    pub async fn stop(self) {
        let RunningPlatform { stop, task, .. } = self;
        drop(stop);
        if let Err(error) = task.await {
            warn!(%error, "demo platform server task failed");
        }
    }
}

impl fmt::Debug for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Platform")
            .field("fault", &self.shared.fault.get())
            .finish_non_exhaustive()
    }
}

impl Platform {
    /// An empty platform that accepts requests carrying `X-Api-Key: {api_key}`.
    pub fn new(api_key: impl Into<String>) -> Platform {
        Platform::build(api_key.into(), None)
    }

    /// An empty platform that also has an OAuth2 token endpoint (`POST /oauth/token`) and accepts
    /// the tokens it issues.
    pub fn with_oauth(api_key: impl Into<String>, oauth: OAuth) -> Platform {
        Platform::build(api_key.into(), Some(oauth))
    }

    fn build(api_key: String, oauth: Option<OAuth>) -> Platform {
        Platform {
            shared: Arc::new(Shared {
                api_key: api_key.into_bytes().into_boxed_slice(),
                oauth: oauth.map(|o| TokenEndpoint {
                    client_id: o.client_id,
                    client_secret: RwLock::new(o.client_secret),
                    lifetime: o.lifetime.map(|l| l.max(Duration::from_secs(1))),
                    issued: std::sync::Mutex::default(),
                    calls: AtomicU64::new(0),
                    granted: AtomicU64::new(0),
                    last_form: std::sync::Mutex::default(),
                }),
                store: RwLock::default(),
                calls: CallCounters::default(),
                fault: FaultCell::default(),
                fault_budget: AtomicU64::new(u64::MAX),
                chaos: AtomicU64::new(0),
                chaos_rng: AtomicU64::new(1),
                injected: AtomicU64::new(0),
            }),
        }
    }

    /// Binds `127.0.0.1:0` and serves a new platform there on a background task.
    pub async fn spawn(api_key: impl Into<String>) -> io::Result<RunningPlatform> {
        Platform::new(api_key).spawn_on_loopback().await
    }

    /// Binds `127.0.0.1:0` and serves this platform there on a background task.
    pub async fn spawn_on_loopback(self) -> io::Result<RunningPlatform> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let platform = self;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(platform.clone().serve(listener, async move {
            // Completes on `send` and when the sender is dropped alike.
            _ = stopped.await;
        }));
        Ok(RunningPlatform {
            addr,
            platform,
            stop,
            task,
        })
    }

    /// Serves HTTP/1.1 (keep-alive) and HTTP/2 prior knowledge on `listener`, one task per
    /// connection, until `shutdown` completes; then stops accepting, lets in-flight requests finish
    /// (at most 5 s, after which the remaining connections are dropped) and returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // A timer makes hyper's default header-read timeout effective (slow clients are dropped).
        builder.http1().timer(TokioTimer::new());
        let shared = self.shared;
        let service = hyper::service::service_fn(move |request| {
            let shared = Arc::clone(&shared);
            async move { shared.handle(request).await }
        });
        if let Ok(addr) = listener.local_addr() {
            info!(%addr, "demo platform listening");
        }

        let graceful = GracefulShutdown::new();
        let mut connections = JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(joined) = connections.join_next(), if !connections.is_empty() => {
                    if let Err(error) = joined {
                        warn!(%error, "demo platform connection task failed");
                    }
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        if let Err(error) = stream.set_nodelay(true) {
                            debug!(%peer, %error, "could not set TCP_NODELAY");
                        }
                        let connection = builder
                            .serve_connection(TokioIo::new(stream), service.clone())
                            .into_owned();
                        let connection = graceful.watch(connection);
                        connections.spawn(async move {
                            if let Err(error) = connection.await {
                                debug!(%peer, %error, "demo platform connection ended with an error");
                            }
                        });
                    }
                    Err(error) => {
                        warn!(%error, "demo platform could not accept a connection");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                },
            }
        }

        drop(listener);
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
            .await
            .is_err()
        {
            warn!(
                open = connections.len(),
                "demo platform shutdown grace period elapsed; dropping connections"
            );
            connections.abort_all();
        }
        while connections.join_next().await.is_some() {}
        debug!("demo platform stopped");
    }

    /// A snapshot of the per-route call counters.
    pub fn calls(&self) -> CallCounts {
        self.shared.calls.snapshot()
    }

    /// Sets every call counter to zero.
    pub fn reset_calls(&self) {
        self.shared.calls.reset();
    }

    /// Injects `fault` into every request from now on; `None` turns injection off.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.shared.fault_budget.store(u64::MAX, Ordering::Release);
        self.shared.fault.set(fault);
    }

    /// Injects `fault` into the next `requests` requests only, then none.
    pub fn set_fault_for(&self, fault: Fault, requests: u64) {
        self.shared.fault_budget.store(requests, Ordering::Release);
        self.shared.fault.set(Some(fault));
    }

    /// Injects random faults ([`Chaos`]) into requests while no fixed fault is set; `None` turns
    /// it off. Each request draws independently; which request gets which fault also depends on
    /// the order requests arrive in.
    pub fn set_chaos(&self, chaos: Option<Chaos>) {
        let ms = |d: Duration| {
            u64::try_from(d.as_millis())
                .unwrap_or(CHAOS_MS)
                .min(CHAOS_MS)
        };
        let word = chaos.map_or(0, |c| {
            (u64::from(c.percent.min(100)) << FAULT_KIND_SHIFT) | (ms(c.slow) << 28) | ms(c.stall)
        });
        if let Some(c) = chaos {
            // xorshift must not start at 0.
            self.shared.chaos_rng.store(c.seed | 1, Ordering::Release);
        }
        self.shared.chaos.store(word, Ordering::Release);
    }

    /// Requests to `POST /oauth/token` so far, granted or refused (0 without OAuth).
    pub fn token_calls(&self) -> u64 {
        self.shared
            .oauth
            .as_ref()
            .map_or(0, |o| o.calls.load(Ordering::Relaxed))
    }

    /// Tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.shared
            .oauth
            .as_ref()
            .map_or(0, |o| o.granted.load(Ordering::Relaxed))
    }

    /// Revokes every issued token: the next call carrying one gets 401.
    pub fn revoke_tokens(&self) {
        if let Some(o) = &self.shared.oauth {
            o.issued
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        }
    }

    /// The tokens issued and not revoked (for tests that look for them where they must not be).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.oauth.as_ref().map_or_else(Vec::new, |o| {
            o.issued
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .keys()
                .cloned()
                .collect()
        })
    }

    /// Replaces the client secret the token endpoint accepts (issued tokens stay valid).
    pub fn set_client_secret(&self, secret: &str) {
        if let Some(o) = &self.shared.oauth {
            *o.client_secret
                .write()
                .unwrap_or_else(PoisonError::into_inner) = secret.to_owned();
        }
    }

    /// The form fields of the last token request, `client_secret` left out.
    pub fn last_token_request(&self) -> Vec<(String, String)> {
        self.shared.oauth.as_ref().map_or_else(Vec::new, |o| {
            o.last_form
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        })
    }

    /// How many faults were injected so far (fixed and random).
    pub fn injected_faults(&self) -> u64 {
        self.shared.injected.load(Ordering::Relaxed)
    }

    /// Back to the state of [`Platform::new`]: no users or groups (ids restart at 1), counters at
    /// zero, no fault.
    pub fn reset(&self) {
        *self.shared.write() = Store::default();
        self.shared.calls.reset();
        self.shared.fault.set(None);
        self.shared.chaos.store(0, Ordering::Release);
    }

    /// Creates `n` active users and returns their ids (ascending). Each is named `User {id}` with
    /// email `user{id}@example.com`; should a client already have taken that address, the seeded
    /// user gets `user{id}-2@example.com` (then `-3`, ...).
    pub fn seed_users(&self, n: usize) -> Vec<u64> {
        let now = Stamp::now();
        let mut store = self.shared.write();
        let Store {
            users,
            usernames: store_usernames,
            ..
        } = &mut *store;
        users.reserve(n);
        store_usernames.reserve(n);
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            let id = users.next_id();
            for attempt in 1u64.. {
                let email = if attempt == 1 {
                    format!("user{id}@example.com")
                } else {
                    format!("user{id}-{attempt}@example.com")
                };
                let key = email.clone(); // Already in folded (lower-case) form.
                let username = email.clone();
                let inserted = users.insert(key, |id| User {
                    id,
                    username,
                    email,
                    first_name: "User".to_owned(),
                    last_name: id.to_string(),
                    display_name: format!("User {id}"),
                    status: Status::Active,
                    external_ref: None,
                    created_at: now.clone(),
                    updated_at: now.clone(),
                });
                if let Ok(user) = inserted {
                    store_usernames.insert(fold(&user.username).into_owned(), user.id);
                    ids.push(user.id);
                    break;
                }
            }
        }
        ids
    }

    /// Ensures a group named `name` exists (reusing the one with that name, compared
    /// case-insensitively) and adds `member_ids` to it; ids that name no user and existing members
    /// are skipped. Returns the group's id.
    pub fn seed_group(&self, name: &str, member_ids: &[u64]) -> u64 {
        let now = Stamp::now();
        let mut store = self.shared.write();
        let created = store.groups.insert(fold(name).into_owned(), |id| Group {
            id,
            name: name.to_owned(),
            external_ref: None,
            created_at: now.clone(),
            updated_at: now,
        });
        let group_id = match created {
            Ok(group) => group.id,
            Err(Taken { holder }) => holder,
        };
        for &user_id in member_ids {
            // Unknown users and existing members are skipped, as documented.
            _ = store.add_member(group_id, user_id);
        }
        group_id
    }
}
