//! The demo platform: an in-memory REST API with a legacy shape, served over HTTP/1.1 and h2c.
//!
//! See the [module documentation](crate::demo) for the API itself. This file holds, in order: the
//! public handle and its test hooks, the HTTP server, routing and request handlers, the store, body
//! and query parsing, and the response plumbing.
//!
//! Performance notes: records live behind `Arc`s in a `BTreeMap`, so a read holds the lock only long
//! enough to clone a few `Arc`s and serialises after releasing it; indexes make every filter and
//! membership change `O(log n)`; call counting is one relaxed atomic add; an unset fault costs one
//! atomic load.

use std::borrow::Cow;
use std::collections::hash_map::{Entry, HashMap};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use serde::Serialize;
use serde::ser::Serializer;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, info, warn};

use crate::scim::datetime;

#[cfg(test)]
mod tests;

/// Largest accepted request body; larger ones get `413 {"error":"too_large"}`.
const MAX_BODY_BYTES: usize = 1 << 20;
/// Page size when the client sends no `per_page`.
const DEFAULT_PER_PAGE: u64 = 25;
/// Largest page size; larger `per_page` values are clamped to it.
const MAX_PER_PAGE: u64 = 100;
/// How long [`Platform::serve`] waits for in-flight requests once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop cannot spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

static API_KEY: HeaderName = HeaderName::from_static("x-api-key");
static APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
// `Allow` values for 405 answers; statics, so a typo fails to compile rather than at run time.
static ALLOW_COLLECTION: HeaderValue = HeaderValue::from_static("GET, POST");
static ALLOW_USER: HeaderValue = HeaderValue::from_static("GET, PUT, PATCH, DELETE");
static ALLOW_GROUP: HeaderValue = HeaderValue::from_static("GET, PATCH, DELETE");
static ALLOW_MEMBER: HeaderValue = HeaderValue::from_static("DELETE");

// ---------------------------------------------------------------------------------------------
// Public handle
// ---------------------------------------------------------------------------------------------

/// A handle on one demo platform: its data, call counters and fault switch. Cloning is cheap and
/// every clone sees the same state, so tests keep one while [`Platform::serve`] owns another.
#[derive(Clone)]
pub struct Platform {
    shared: Arc<Shared>,
}

struct Shared {
    api_key: Box<[u8]>,
    /// The OAuth2 token endpoint, when enabled ([`Platform::with_oauth`]).
    oauth: Option<TokenEndpoint>,
    store: RwLock<Store>,
    calls: CallCounters,
    fault: FaultCell,
    /// Requests the set fault still applies to (`u64::MAX`: all).
    fault_budget: AtomicU64,
    /// Random faults: percent in the top byte, then the slow and the stall durations in
    /// milliseconds (28 bits each); 0 is off.
    chaos: AtomicU64,
    /// The random generator of `chaos` (xorshift64*).
    chaos_rng: AtomicU64,
    /// Faults injected so far.
    injected: AtomicU64,
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

struct TokenEndpoint {
    client_id: String,
    client_secret: RwLock<String>,
    lifetime: Option<Duration>,
    /// Issued tokens and when they expire.
    issued: std::sync::Mutex<HashMap<String, Option<tokio::time::Instant>>>,
    /// Token requests received (granted or not).
    calls: AtomicU64,
    /// Tokens issued.
    granted: AtomicU64,
    /// The form of the last token request, `client_secret` left out.
    last_form: std::sync::Mutex<Vec<(String, String)>>,
}

/// Random faults (see [`Platform::set_chaos`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chaos {
    /// Share of requests that get a fault, 0–100.
    pub percent: u8,
    /// Seed of the generator: the same seed draws the same sequence of faults.
    pub seed: u64,
    /// The delay of [`Fault::Delay`] when it is drawn: a slow answer, still in time (keep it
    /// below the client's timeout).
    pub slow: Duration,
    /// The duration of [`Fault::Stall`] when it is drawn (make it longer than the client's
    /// timeout).
    pub stall: Duration,
}

/// A failure to inject into every request while it is set (see [`Platform::set_fault`]).
///
/// No fault except `Delay` and `ResetAfterApply` lets the request reach the data: a `POST` answered with an injected
/// status, garbage, a truncated body or a reset has created nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and `{"error":"injected"}`. A code that is not a valid final status
    /// (below 200 or above 999) is served as 500.
    Status(u16),
    /// Wait this long, then serve the request normally. Capped at about 834 days.
    Delay(Duration),
    /// Answer `200` with the body `not json` (still labelled `application/json`).
    Garbage,
    /// Answer `200` with a `Content-Length` for a whole JSON body, send half of it, then close the
    /// connection (HTTP/2: reset the stream). A client sees an error while reading the body.
    Truncated,
    /// Close the connection without answering (HTTP/2: reset the stream).
    Reset,
    /// Serve the request (its change is made), then close the connection instead of answering:
    /// the client cannot tell whether it happened. The hardest case for retries.
    ResetAfterApply,
    /// Answer nothing for this long, then close the connection; the request is not applied. A
    /// platform that hangs: the client times out first. (Unlike `Delay`, which serves the request
    /// after waiting, so a client that gave up may see it applied later.) Capped like `Delay`.
    Stall(Duration),
}

/// The faults [`Chaos`] draws from, equally likely.
const CHAOS_FAULTS: [Fault; 11] = [
    Fault::Status(500),
    Fault::Status(502),
    Fault::Status(503),
    Fault::Status(504),
    Fault::Status(429),
    Fault::Reset,
    Fault::ResetAfterApply,
    Fault::Truncated,
    Fault::Garbage,
    Fault::Delay(Duration::ZERO), // Chaos::slow
    Fault::Stall(Duration::ZERO), // Chaos::stall
];

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

// ---------------------------------------------------------------------------------------------
// Call counting
// ---------------------------------------------------------------------------------------------

/// Route patterns, in counter order. `*` stands for every path that matches no route.
const PATTERNS: [&str; 8] = [
    "/api/v1/users",
    "/api/v1/users/{id}",
    "/api/v1/groups",
    "/api/v1/groups/{id}",
    "/api/v1/groups/{id}/members",
    "/api/v1/groups/{id}/members/{user_id}",
    "/oauth/token",
    "*",
];

/// Methods, in counter order. `OTHER` counts every method not listed before it.
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER",
];

const SLOTS: usize = PATTERNS.len() * METHODS.len();

fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::PATCH => 4,
        Method::DELETE => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

struct CallCounters([AtomicU64; SLOTS]);

impl Default for CallCounters {
    fn default() -> Self {
        CallCounters([const { AtomicU64::new(0) }; SLOTS])
    }
}

impl CallCounters {
    fn record(&self, route: Route, method: &Method) {
        let slot = route.pattern_index() * METHODS.len() + method_index(method);
        if let Some(counter) = self.0.get(slot) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn snapshot(&self) -> CallCounts {
        CallCounts {
            counts: std::array::from_fn(|slot| self.0[slot].load(Ordering::Relaxed)),
        }
    }

    fn reset(&self) {
        for counter in &self.0 {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// A snapshot of how many requests each `(method, route pattern)` received, authorised or not.
///
/// Patterns are written as in the API description (`/api/v1/groups/{id}/members/{user_id}`); `*`
/// counts paths that match no route, and the method `OTHER` counts methods other than `GET`,
/// `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE` and `OPTIONS`.
#[derive(Clone, PartialEq, Eq)]
pub struct CallCounts {
    counts: [u64; SLOTS],
}

impl CallCounts {
    /// Requests received as `method` (upper case) on `pattern`. Debug builds panic on a method or
    /// pattern that is not counted at all (a typo would otherwise make an assertion vacuous);
    /// release builds return 0.
    pub fn get(&self, method: &str, pattern: &str) -> u64 {
        let route = PATTERNS.iter().position(|p| *p == pattern);
        let method_slot = METHODS.iter().position(|m| *m == method);
        debug_assert!(
            route.is_some() && method_slot.is_some(),
            "no call counter for {method} {pattern}; patterns are {PATTERNS:?}, methods {METHODS:?}"
        );
        match (route, method_slot) {
            (Some(r), Some(m)) => self.counts.get(r * METHODS.len() + m).copied().unwrap_or(0),
            _ => 0,
        }
    }

    /// All requests counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The non-zero counters as `(method, pattern, count)`, grouped by pattern.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'static str, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|&(_, &count)| count > 0)
            .map(|(slot, &count)| {
                let pattern = PATTERNS[slot / METHODS.len()];
                let method = METHODS[slot % METHODS.len()];
                (method, pattern, count)
            })
    }
}

impl fmt::Display for CallCounts {
    /// One `METHOD pattern: count` line per non-zero counter, or `no calls`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut any = false;
        for (method, pattern, count) in self.iter() {
            if any {
                f.write_str("\n")?;
            }
            write!(f, "{method} {pattern}: {count}")?;
            any = true;
        }
        if !any {
            f.write_str("no calls")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CallCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(method, pattern, count)| (format!("{method} {pattern}"), count)),
            )
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Fault switch
// ---------------------------------------------------------------------------------------------

/// The current [`Fault`], packed in one atomic word (kind in the top byte, payload below) so that
/// the per-request check is a single load and a reader can never see half of an update.
#[derive(Default)]
struct FaultCell(AtomicU64);

const FAULT_KIND_SHIFT: u32 = 56;
const FAULT_PAYLOAD: u64 = (1 << FAULT_KIND_SHIFT) - 1;
/// Largest millisecond count a chaos duration holds (28 bits: about 74 hours).
const CHAOS_MS: u64 = (1 << 28) - 1;

impl FaultCell {
    fn set(&self, fault: Option<Fault>) {
        self.0.store(encode_fault(fault), Ordering::Release);
    }

    fn get(&self) -> Option<Fault> {
        decode_fault(self.0.load(Ordering::Acquire))
    }
}

fn encode_fault(fault: Option<Fault>) -> u64 {
    let (kind, payload) = match fault {
        None => (0, 0),
        Some(Fault::Status(code)) => (1, u64::from(code)),
        Some(Fault::Delay(delay)) => (
            2,
            u64::try_from(delay.as_nanos())
                .unwrap_or(u64::MAX)
                .min(FAULT_PAYLOAD),
        ),
        Some(Fault::Garbage) => (3, 0),
        Some(Fault::Truncated) => (4, 0),
        Some(Fault::Reset) => (5, 0),
        Some(Fault::ResetAfterApply) => (6, 0),
        Some(Fault::Stall(stall)) => (
            7,
            u64::try_from(stall.as_nanos())
                .unwrap_or(u64::MAX)
                .min(FAULT_PAYLOAD),
        ),
    };
    (kind << FAULT_KIND_SHIFT) | payload
}

fn decode_fault(word: u64) -> Option<Fault> {
    let payload = word & FAULT_PAYLOAD;
    match word >> FAULT_KIND_SHIFT {
        1 => Some(Fault::Status(u16::try_from(payload).unwrap_or(500))),
        2 => Some(Fault::Delay(Duration::from_nanos(payload))),
        3 => Some(Fault::Garbage),
        4 => Some(Fault::Truncated),
        5 => Some(Fault::Reset),
        6 => Some(Fault::ResetAfterApply),
        7 => Some(Fault::Stall(Duration::from_nanos(payload))),
        _ => None,
    }
}

/// Why a connection was cut on purpose; hyper logs it and closes the connection (or stream).
#[derive(Debug)]
enum InjectedFault {
    Reset,
    Truncated,
}

impl fmt::Display for InjectedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InjectedFault::Reset => "injected fault: connection reset",
            InjectedFault::Truncated => "injected fault: body truncated",
        })
    }
}

impl std::error::Error for InjectedFault {}

/// What a truncated response claims to carry; half of it is sent.
const TRUNCATED_BODY: &[u8] = br#"{"data":[],"meta":{"page":1,"per_page":25,"total":0}}"#;

/// `Fault::Status`: the code as a final status, 500 when it is not one.
fn injected_status(code: u16) -> Response<ResponseBody> {
    let status = StatusCode::from_u16(code)
        .ok()
        .filter(|status| !status.is_informational())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    respond(status, Bytes::from_static(br#"{"error":"injected"}"#))
}

// ---------------------------------------------------------------------------------------------
// Routing and handlers
// ---------------------------------------------------------------------------------------------

/// A request path, resolved. Ids are `None` when the (percent-decoded) segment is not a canonical
/// decimal number, which every handler answers with 404.
///
/// Literal segments are compared on the raw path, so `..`, `.`, `%2F` or an encoded literal can
/// never steer a request to another route: such a path either matches nothing or puts the odd
/// segment where an id goes, where it is not a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Users,
    User(Option<u64>),
    Groups,
    Group(Option<u64>),
    Members(Option<u64>),
    Member(Option<u64>, Option<u64>),
    /// `/oauth/token`, the OAuth2 token endpoint (when enabled).
    Token,
    Unmatched,
}

impl Route {
    fn parse(path: &str) -> Route {
        if path == "/oauth/token" {
            return Route::Token;
        }
        let Some(rest) = path.strip_prefix("/api/v1/") else {
            return Route::Unmatched;
        };
        let mut segments = rest.split('/');
        match (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) {
            (Some("users"), None, ..) => Route::Users,
            (Some("users"), Some(id), None, ..) => Route::User(parse_id(id)),
            (Some("groups"), None, ..) => Route::Groups,
            (Some("groups"), Some(id), None, ..) => Route::Group(parse_id(id)),
            (Some("groups"), Some(id), Some("members"), None, _) => Route::Members(parse_id(id)),
            (Some("groups"), Some(group), Some("members"), Some(user), None) => {
                Route::Member(parse_id(group), parse_id(user))
            }
            _ => Route::Unmatched,
        }
    }

    fn pattern_index(self) -> usize {
        match self {
            Route::Users => 0,
            Route::User(_) => 1,
            Route::Groups => 2,
            Route::Group(_) => 3,
            Route::Members(_) => 4,
            Route::Member(..) => 5,
            Route::Token => 6,
            Route::Unmatched => 7,
        }
    }
}

/// A percent-decoded path segment as an id: ASCII digits without sign or leading zero.
fn parse_id(segment: &str) -> Option<u64> {
    let decoded: Cow<'_, [u8]> = percent_encoding::percent_decode_str(segment).into();
    match &*decoded {
        [] | [b'0', _, ..] => None,
        digits => digits.iter().try_fold(0u64, |id, &b| {
            if b.is_ascii_digit() {
                id.checked_mul(10)?.checked_add(u64::from(b - b'0'))
            } else {
                None
            }
        }),
    }
}

fn found(id: Option<u64>) -> Result<u64, ApiError> {
    id.ok_or(ApiError::NotFound)
}

fn not_allowed(allow: &'static HeaderValue) -> Result<Response<ResponseBody>, ApiError> {
    Err(ApiError::MethodNotAllowed(allow))
}

/// `a == b` without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    a.len() == b.len() && std::hint::black_box(diff) == 0
}

type Reply = Result<Response<ResponseBody>, ApiError>;

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fault for this request: the fixed one while its budget lasts, else a random one.
    fn draw_fault(&self) -> Option<Fault> {
        if let Some(fault) = self.fault.get() {
            let spent = self
                .fault_budget
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| match b {
                    0 => None,
                    u64::MAX => Some(b),
                    _ => Some(b - 1),
                });
            return spent.is_ok().then_some(fault);
        }
        let chaos = self.chaos.load(Ordering::Acquire);
        if chaos == 0 {
            return None;
        }
        let percent = chaos >> FAULT_KIND_SHIFT;
        let slow = Duration::from_millis((chaos >> 28) & CHAOS_MS);
        let stall = Duration::from_millis(chaos & CHAOS_MS);
        let next = |x: u64| {
            let mut x = x;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x
        };
        let state = self
            .chaos_rng
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |x| Some(next(x)))
            .map_or(1, next);
        let draw = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        if (draw >> 32) % 100 >= percent {
            return None;
        }
        let pick = CHAOS_FAULTS[usize::try_from((draw >> 8) % 11).unwrap_or(0)];
        Some(match pick {
            Fault::Delay(_) => Fault::Delay(slow),
            Fault::Stall(_) => Fault::Stall(stall),
            other => other,
        })
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        headers
            .get(&API_KEY)
            .is_some_and(|key| constant_time_eq(key.as_bytes(), &self.api_key))
            || self.oauth.as_ref().is_some_and(|o| o.accepts(headers))
    }

    /// Count, inject the fault if one is set, authenticate, dispatch.
    async fn handle(
        &self,
        request: Request<Incoming>,
    ) -> Result<Response<ResponseBody>, InjectedFault> {
        let route = Route::parse(request.uri().path());
        self.calls.record(route, request.method());
        // The token endpoint stands for a separate identity provider: the platform's faults do
        // not apply to it.
        if route == Route::Token
            && let Some(oauth) = &self.oauth
        {
            return Ok(oauth.token(request).await);
        }
        let fault = self.draw_fault();
        if fault.is_some() {
            self.injected.fetch_add(1, Ordering::Relaxed);
        }
        match fault {
            None => {}
            Some(Fault::Stall(stall)) => {
                tokio::time::sleep(stall).await;
                return Err(InjectedFault::Reset);
            }
            Some(Fault::ResetAfterApply) => {
                if self.authorized(request.headers()) {
                    drop(self.dispatch(route, request).await);
                }
                return Err(InjectedFault::Reset);
            }
            Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
            Some(Fault::Status(code)) => return Ok(injected_status(code)),
            Some(Fault::Garbage) => {
                return Ok(respond(StatusCode::OK, Bytes::from_static(b"not json")));
            }
            Some(Fault::Truncated) => {
                let mut response = respond(StatusCode::OK, Bytes::new());
                *response.body_mut() = ResponseBody::truncated(Bytes::from_static(TRUNCATED_BODY));
                return Ok(response);
            }
            Some(Fault::Reset) => return Err(InjectedFault::Reset),
        }
        if !self.authorized(request.headers()) {
            return Ok(ApiError::Unauthorized.into_response());
        }
        Ok(self
            .dispatch(route, request)
            .await
            .unwrap_or_else(ApiError::into_response))
    }

    async fn dispatch(&self, route: Route, request: Request<Incoming>) -> Reply {
        let method = request.method().clone();
        let query = request.uri().query();
        match route {
            Route::Users => match method {
                Method::GET => self.list_users(query),
                Method::POST => self.create_user(&read_body(request).await?),
                _ => not_allowed(&ALLOW_COLLECTION),
            },
            Route::User(id) => match method {
                Method::GET => self.get(found(id)?, |store| &store.users),
                Method::PUT => self.update_user(found(id)?, Shape::Full, request).await,
                Method::PATCH => self.update_user(found(id)?, Shape::Partial, request).await,
                Method::DELETE => {
                    self.write().delete_user(found(id)?)?;
                    Ok(no_content())
                }
                _ => not_allowed(&ALLOW_USER),
            },
            Route::Groups => match method {
                Method::GET => self.list(query, "name", |store| &store.groups),
                Method::POST => self.create_group(&read_body(request).await?),
                _ => not_allowed(&ALLOW_COLLECTION),
            },
            Route::Group(id) => match method {
                Method::GET => self.get(found(id)?, |store| &store.groups),
                Method::PATCH => {
                    let id = found(id)?;
                    self.patch_group(id, &read_body(request).await?)
                }
                Method::DELETE => {
                    self.write().delete_group(found(id)?)?;
                    Ok(no_content())
                }
                _ => not_allowed(&ALLOW_GROUP),
            },
            Route::Members(id) => match method {
                Method::GET => self.list_members(found(id)?, query),
                Method::POST => {
                    let id = found(id)?;
                    self.add_member(id, &read_body(request).await?)
                }
                _ => not_allowed(&ALLOW_COLLECTION),
            },
            Route::Member(group_id, user_id) => match method {
                Method::DELETE => {
                    self.write()
                        .remove_member(found(group_id)?, found(user_id)?)?;
                    Ok(no_content())
                }
                _ => not_allowed(&ALLOW_MEMBER),
            },
            Route::Token | Route::Unmatched => Err(ApiError::NotFound),
        }
    }

    fn list<T: Record>(
        &self,
        query: Option<&str>,
        key_param: &str,
        table: fn(&Store) -> &Table<T>,
    ) -> Reply {
        let query = ListQuery::parse(query, key_param)?;
        let key = query.key.as_deref().map(fold);
        let (records, total) =
            table(&self.read()).list(key.as_deref(), query.external_ref.as_deref(), query.paging);
        Ok(json(
            StatusCode::OK,
            &Listing {
                data: Records(&records),
                meta: query.paging.meta(total),
            },
            64 + 256 * records.len(),
        ))
    }

    /// `GET /api/v1/users`: like any list, plus `?username=` (one lookup in its index).
    fn list_users(&self, query: Option<&str>) -> Reply {
        let username = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .filter(|(k, _)| k == "username")
            .last()
            .map(|(_, v)| fold(&v).into_owned());
        let Some(username) = username else {
            return self.list(query, "email", |store| &store.users);
        };
        let parsed = ListQuery::parse(query, "email")?;
        let store = self.read();
        let hit = store
            .usernames
            .get(&username)
            .and_then(|id| store.users.get(*id))
            .filter(|u| {
                parsed
                    .key
                    .as_deref()
                    .is_none_or(|e| fold(&u.email) == fold(e))
                    && parsed
                        .external_ref
                        .as_deref()
                        .is_none_or(|r| u.external_ref.as_deref() == Some(r))
            });
        let total = usize::from(hit.is_some());
        let records: Vec<Arc<User>> = hit
            .into_iter()
            .skip(parsed.paging.offset())
            .take(parsed.paging.limit())
            .collect();
        Ok(json(
            StatusCode::OK,
            &Listing {
                data: Records(&records),
                meta: parsed.paging.meta(total),
            },
            320,
        ))
    }

    fn get<T: Record>(&self, id: u64, table: fn(&Store) -> &Table<T>) -> Reply {
        let record = table(&self.read()).get(id).ok_or(ApiError::NotFound)?;
        Ok(json(StatusCode::OK, &Data { data: &*record }, 320))
    }

    fn create_user(&self, body: &[u8]) -> Reply {
        let mut patch = UserPatch::parse(body, Shape::Full)?;
        let email = patch.email.take().ok_or_else(|| required("email"))?;
        let username = patch
            .username
            .take()
            .unwrap_or_else(|| Keyed::new(email.value.clone()));
        let now = Stamp::now();
        let mut user = User {
            id: 0,
            username: username.value,
            email: email.value,
            first_name: String::new(),
            last_name: String::new(),
            display_name: String::new(),
            status: Status::Active,
            external_ref: None,
            created_at: now.clone(),
            updated_at: now,
        };
        patch.apply(&mut user);
        let mut store = self.write();
        if store.users.by_key.contains_key(&email.key) {
            return Err(ApiError::Conflict(User::TAKEN));
        }
        if store.usernames.contains_key(&username.key) {
            return Err(ApiError::Conflict("username_taken"));
        }
        let user = store
            .users
            .insert(email.key, |id| User { id, ..user })
            .map_err(|_| ApiError::Conflict(User::TAKEN))?;
        store.usernames.insert(username.key, user.id);
        Ok(json(StatusCode::CREATED, &Data { data: &*user }, 320))
    }

    /// PUT (`Shape::Full`: missing fields reset to defaults) or PATCH (`Shape::Partial`). The body
    /// is validated before the user is looked up, so an invalid body on an unknown id is a 422.
    async fn update_user(&self, id: u64, shape: Shape, request: Request<Incoming>) -> Reply {
        let mut patch = UserPatch::parse(&read_body(request).await?, shape)?;
        let key = patch.email.as_ref().map(|email| email.key.clone());
        let mut store = self.write();
        let old_username = store
            .users
            .get(id)
            .map(|u| fold(&u.username).into_owned())
            .ok_or(ApiError::NotFound)?;
        if shape == Shape::Full && patch.username.is_none() {
            // PUT resets what it leaves out: the user name falls back to the e-mail.
            patch.username = patch.email.as_ref().map(|e| Keyed::new(e.value.clone()));
        }
        let email_taken = key.as_ref().is_some_and(|k| {
            store
                .users
                .by_key
                .get(k)
                .is_some_and(|holder| *holder != id)
        });
        if email_taken {
            return Err(ApiError::Conflict(User::TAKEN));
        }
        let new_username = patch.username.as_ref().map(|u| u.key.clone());
        if let Some(k) = new_username.as_ref().filter(|k| **k != old_username)
            && store.usernames.contains_key(k)
        {
            return Err(ApiError::Conflict("username_taken"));
        }
        let user = store.users.update(id, key, |user| patch.apply(user))?;
        if let Some(k) = new_username.filter(|k| *k != old_username) {
            store.usernames.remove(&old_username);
            store.usernames.insert(k, id);
        }
        Ok(json(StatusCode::OK, &Data { data: &*user }, 320))
    }

    fn create_group(&self, body: &[u8]) -> Reply {
        let mut patch = GroupPatch::parse(body, Shape::Full)?;
        let name = patch.name.take().ok_or_else(|| required("name"))?;
        let now = Stamp::now();
        let mut group = Group {
            id: 0,
            name: name.value,
            external_ref: None,
            created_at: now.clone(),
            updated_at: now,
        };
        patch.apply(&mut group);
        let group = self
            .write()
            .groups
            .insert(name.key, |id| Group { id, ..group })
            .map_err(|_| ApiError::Conflict(Group::TAKEN))?;
        Ok(json(StatusCode::CREATED, &Data { data: &*group }, 192))
    }

    fn patch_group(&self, id: u64, body: &[u8]) -> Reply {
        let patch = GroupPatch::parse(body, Shape::Partial)?;
        let key = patch.name.as_ref().map(|name| name.key.clone());
        let group = self
            .write()
            .groups
            .update(id, key, |group| patch.apply(group))?;
        Ok(json(StatusCode::OK, &Data { data: &*group }, 192))
    }

    fn list_members(&self, group_id: u64, query: Option<&str>) -> Reply {
        let paging = ListQuery::parse(query, "")?.paging;
        let (members, total) = {
            let store = self.read();
            let group = store.groups.row(group_id).ok_or(ApiError::NotFound)?;
            let members: Vec<Member> = group
                .links
                .iter()
                .skip(paging.offset())
                .take(paging.limit())
                .map(|&user_id| Member { user_id })
                .collect();
            (members, group.links.len())
        };
        Ok(json(
            StatusCode::OK,
            &Listing {
                data: &members,
                meta: paging.meta(total),
            },
            64 + 20 * members.len(),
        ))
    }

    fn add_member(&self, group_id: u64, body: &[u8]) -> Reply {
        let user_id = parse_member(body)?;
        self.write().add_member(group_id, user_id)?;
        Ok(json(
            StatusCode::CREATED,
            &Data {
                data: &Member { user_id },
            },
            40,
        ))
    }
}

impl TokenEndpoint {
    /// Whether `Authorization: Bearer <t>` carries a token issued and not yet expired or revoked.
    fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let now = tokio::time::Instant::now();
        self.issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .is_some_and(|expiry| expiry.is_none_or(|at| now < at))
    }

    /// `POST /oauth/token`: client credentials by HTTP Basic or in the form (RFC 6749 §2.3.1,
    /// §4.4); errors as in §5.2.
    async fn token(&self, request: Request<Incoming>) -> Response<ResponseBody> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let refuse = |status: StatusCode, error: &str, description: &str| {
            json(
                status,
                &serde_json::json!({"error": error, "error_description": description}),
                96,
            )
        };
        if request.method() != Method::POST {
            return refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "the token endpoint takes POST",
            );
        }
        let basic = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .map(str::to_owned);
        let Ok(body) = read_body(request).await else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "unreadable body",
            );
        };
        let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        *self
            .last_form
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = form
            .iter()
            .filter(|(k, _)| k != "client_secret")
            .cloned()
            .collect();
        if field("grant_type").as_deref() != Some("client_credentials") {
            return refuse(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            );
        }
        let from_basic = basic.as_deref().and_then(decode_basic);
        let in_body = field("client_secret").map(|s| (field("client_id").unwrap_or_default(), s));
        let (id, secret) = match (from_basic, in_body, basic.is_some()) {
            (Some(c), None, _) => c,
            (None, Some(c), false) => c,
            (None, None, false) => {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "no client authentication",
                );
            }
            (None, _, true) => {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "malformed Basic credentials",
                );
            }
            (Some(_), Some(_), _) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "more than one client authentication method",
                );
            }
        };
        let secret_ok = {
            let expected = self
                .client_secret
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            constant_time_eq(secret.as_bytes(), expected.as_bytes())
        };
        if id != self.client_id || !secret_ok {
            let mut r = refuse(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            );
            r.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"demo\""),
            );
            return r;
        }
        let token = crate::demo::random_hex(16);
        let now = tokio::time::Instant::now();
        {
            let mut issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
            issued.retain(|_, expiry| expiry.is_none_or(|at| now < at));
            issued.insert(token.clone(), self.lifetime.map(|l| now + l));
        }
        self.granted.fetch_add(1, Ordering::Relaxed);
        let body = match self.lifetime {
            Some(l) => {
                serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": l.as_secs()})
            }
            None => serde_json::json!({"access_token": token, "token_type": "Bearer"}),
        };
        json(StatusCode::OK, &body, 96)
    }
}

/// `base64(urlencode(id):urlencode(secret))` → `(id, secret)`.
fn decode_basic(text: &str) -> Option<(String, String)> {
    let bytes = decode_base64(text.trim())?;
    let pair = String::from_utf8(bytes).ok()?;
    let (id, secret) = pair.split_once(':')?;
    let dec = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((dec(id)?, dec(secret)?))
}

/// Standard base64 with padding (RFC 4648 §4).
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let three = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&three[..3 - pad]);
    }
    Some(out)
}

/// Reads a request body of at most [`MAX_BODY_BYTES`].
async fn read_body(request: Request<Incoming>) -> Result<Bytes, ApiError> {
    let body = request.into_body();
    if body.size_hint().lower() > MAX_BODY_BYTES as u64 {
        return Err(ApiError::TooLarge);
    }
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(ApiError::TooLarge),
        Err(_) => Err(ApiError::BadRequest("could not read the request body")),
    }
}

// ---------------------------------------------------------------------------------------------
// Store
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Active,
    Disabled,
}

#[derive(Debug, Clone, Serialize)]
struct User {
    id: u64,
    username: String,
    email: String,
    first_name: String,
    last_name: String,
    display_name: String,
    status: Status,
    external_ref: Option<String>,
    created_at: Stamp,
    updated_at: Stamp,
}

#[derive(Debug, Clone, Serialize)]
struct Group {
    id: u64,
    name: String,
    external_ref: Option<String>,
    created_at: Stamp,
    updated_at: Stamp,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct Member {
    user_id: u64,
}

/// What [`Table`] needs from a record.
trait Record: Clone + Serialize {
    /// The 409 error code when the unique key (email, name) is taken.
    const TAKEN: &'static str;
    fn external_ref(&self) -> Option<&str>;
    fn updated_at(&mut self) -> &mut Stamp;
}

impl Record for User {
    const TAKEN: &'static str = "email_taken";
    fn external_ref(&self) -> Option<&str> {
        self.external_ref.as_deref()
    }
    fn updated_at(&mut self) -> &mut Stamp {
        &mut self.updated_at
    }
}

impl Record for Group {
    const TAKEN: &'static str = "name_taken";
    fn external_ref(&self) -> Option<&str> {
        self.external_ref.as_deref()
    }
    fn updated_at(&mut self) -> &mut Stamp {
        &mut self.updated_at
    }
}

#[derive(Default)]
struct Store {
    users: Table<User>,
    groups: Table<Group>,
    /// Users by folded `username` (unique, like the e-mail).
    usernames: HashMap<String, u64>,
}

impl Store {
    fn add_member(&mut self, group_id: u64, user_id: u64) -> Result<(), ApiError> {
        let group = self
            .groups
            .rows
            .get_mut(&group_id)
            .ok_or(ApiError::NotFound)?;
        let user = self
            .users
            .rows
            .get_mut(&user_id)
            .ok_or_else(|| ApiError::invalid("user_id", "unknown user"))?;
        if !group.links.insert(user_id) {
            return Err(ApiError::Conflict("already_member"));
        }
        user.links.insert(group_id);
        Ok(())
    }

    fn remove_member(&mut self, group_id: u64, user_id: u64) -> Result<(), ApiError> {
        let group = self
            .groups
            .rows
            .get_mut(&group_id)
            .ok_or(ApiError::NotFound)?;
        if !group.links.remove(&user_id) {
            return Err(ApiError::NotFound);
        }
        if let Some(user) = self.users.rows.get_mut(&user_id) {
            user.links.remove(&group_id);
        }
        Ok(())
    }

    /// Deletes a user and its memberships: `O(g log n)` for a user in `g` groups.
    fn delete_user(&mut self, id: u64) -> Result<(), ApiError> {
        let row = self.users.remove(id).ok_or(ApiError::NotFound)?;
        self.usernames.remove(&*fold(&row.record.username));
        for group_id in &row.links {
            if let Some(group) = self.groups.rows.get_mut(group_id) {
                group.links.remove(&id);
            }
        }
        Ok(())
    }

    fn delete_group(&mut self, id: u64) -> Result<(), ApiError> {
        let row = self.groups.remove(id).ok_or(ApiError::NotFound)?;
        for user_id in &row.links {
            if let Some(user) = self.users.rows.get_mut(user_id) {
                user.links.remove(&id);
            }
        }
        Ok(())
    }
}

/// A write timestamp: wall-clock milliseconds since the epoch, and their RFC 3339 form.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    millis: i64,
    text: String,
}

impl Stamp {
    fn now() -> Stamp {
        let now = datetime::Instant::now();
        Stamp::at(
            now.secs
                .saturating_mul(1000)
                .saturating_add(i64::from(now.nanos / 1_000_000)),
        )
    }

    /// Now, or 1 ms after `previous` if the clock has not passed it yet: every write moves a
    /// record's `updated_at` forward, even several writes within one millisecond.
    fn after(previous: &Stamp) -> Stamp {
        let now = Stamp::now();
        if now.millis > previous.millis {
            now
        } else {
            Stamp::at(previous.millis.saturating_add(1))
        }
    }

    fn at(millis: i64) -> Stamp {
        let sub_millis = u32::try_from(millis.rem_euclid(1000)).unwrap_or(0);
        let text = datetime::format(datetime::Instant {
            secs: millis.div_euclid(1000),
            nanos: sub_millis * 1_000_000,
        });
        Stamp { millis, text }
    }
}

impl Serialize for Stamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// One record plus its links: a user's groups or a group's members, each side the mirror of the
/// other, so membership changes and deletions never scan.
struct Row<T> {
    record: Arc<T>,
    /// The record's unique key in folded form, as stored in `Table::by_key`.
    key: String,
    links: BTreeSet<u64>,
}

/// Returned by [`Table::insert`] when another record holds the key.
#[derive(Debug)]
struct Taken {
    holder: u64,
}

/// Records by id, with a unique index on a case-folded key and a multi-index on `external_ref`.
struct Table<T> {
    last_id: u64,
    rows: BTreeMap<u64, Row<T>>,
    by_key: HashMap<String, u64>,
    by_external_ref: HashMap<String, BTreeSet<u64>>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            last_id: 0,
            rows: BTreeMap::new(),
            by_key: HashMap::new(),
            by_external_ref: HashMap::new(),
        }
    }
}

impl<T: Record> Table<T> {
    fn next_id(&self) -> u64 {
        self.last_id + 1
    }

    fn reserve(&mut self, additional: usize) {
        self.by_key.reserve(additional);
    }

    fn row(&self, id: u64) -> Option<&Row<T>> {
        self.rows.get(&id)
    }

    fn get(&self, id: u64) -> Option<Arc<T>> {
        self.row(id).map(|row| Arc::clone(&row.record))
    }

    /// Inserts the record `build(id)` under the folded `key`, unless another record holds it.
    fn insert(&mut self, key: String, build: impl FnOnce(u64) -> T) -> Result<Arc<T>, Taken> {
        let slot = match self.by_key.entry(key) {
            Entry::Vacant(slot) => slot,
            Entry::Occupied(taken) => {
                return Err(Taken {
                    holder: *taken.get(),
                });
            }
        };
        let id = self.last_id + 1;
        let record = Arc::new(build(id));
        let key = slot.key().clone();
        slot.insert(id);
        self.last_id = id;
        if let Some(external_ref) = record.external_ref() {
            index_insert(&mut self.by_external_ref, external_ref, id);
        }
        let row = Row {
            record: Arc::clone(&record),
            key,
            links: BTreeSet::new(),
        };
        self.rows.insert(id, row);
        Ok(record)
    }

    /// Applies `apply` to a copy of record `id`, moves its `updated_at` forward and stores it,
    /// moving it to `key` in the unique index when given (409 if another record holds that key).
    fn update(
        &mut self,
        id: u64,
        key: Option<String>,
        apply: impl FnOnce(&mut T),
    ) -> Result<Arc<T>, ApiError> {
        let row = self.rows.get_mut(&id).ok_or(ApiError::NotFound)?;
        let key = key.filter(|key| *key != row.key);
        if let Some(key) = &key
            && self.by_key.contains_key(key)
        {
            return Err(ApiError::Conflict(T::TAKEN));
        }
        let mut next = T::clone(&row.record);
        apply(&mut next);
        let updated_at = next.updated_at();
        *updated_at = Stamp::after(updated_at);
        if row.record.external_ref() != next.external_ref() {
            if let Some(old) = row.record.external_ref() {
                index_remove(&mut self.by_external_ref, old, id);
            }
            if let Some(new) = next.external_ref() {
                index_insert(&mut self.by_external_ref, new, id);
            }
        }
        if let Some(key) = key {
            self.by_key.remove(&row.key);
            self.by_key.insert(key.clone(), id);
            row.key = key;
        }
        row.record = Arc::new(next);
        Ok(Arc::clone(&row.record))
    }

    /// Removes record `id` from the table and its indexes; the caller unlinks its links.
    fn remove(&mut self, id: u64) -> Option<Row<T>> {
        let row = self.rows.remove(&id)?;
        self.by_key.remove(&row.key);
        if let Some(external_ref) = row.record.external_ref() {
            index_remove(&mut self.by_external_ref, external_ref, id);
        }
        Some(row)
    }

    /// One page of the records matching the filters (ascending id) and the number matching.
    /// A `key` filter is one hash lookup; an `external_ref` filter walks only its matches.
    fn list(
        &self,
        key: Option<&str>,
        external_ref: Option<&str>,
        paging: Paging,
    ) -> (Vec<Arc<T>>, usize) {
        fn page<'a, T: 'a>(rows: impl Iterator<Item = &'a Row<T>>, paging: Paging) -> Vec<Arc<T>> {
            rows.skip(paging.offset())
                .take(paging.limit())
                .map(|row| Arc::clone(&row.record))
                .collect()
        }
        match (key, external_ref) {
            (Some(key), external_ref) => {
                let hit = self
                    .by_key
                    .get(key)
                    .and_then(|id| self.rows.get(id))
                    .filter(|row| {
                        external_ref.is_none_or(|e| row.record.external_ref() == Some(e))
                    });
                (page(hit.into_iter(), paging), usize::from(hit.is_some()))
            }
            (None, Some(external_ref)) => {
                let ids = self.by_external_ref.get(external_ref);
                let rows = ids.into_iter().flatten().filter_map(|id| self.rows.get(id));
                (page(rows, paging), ids.map_or(0, BTreeSet::len))
            }
            (None, None) => (page(self.rows.values(), paging), self.rows.len()),
        }
    }
}

fn index_insert(index: &mut HashMap<String, BTreeSet<u64>>, value: &str, id: u64) {
    match index.get_mut(value) {
        Some(ids) => {
            ids.insert(id);
        }
        None => {
            index.insert(value.to_owned(), BTreeSet::from([id]));
        }
    }
}

fn index_remove(index: &mut HashMap<String, BTreeSet<u64>>, value: &str, id: u64) {
    if let Some(ids) = index.get_mut(value) {
        ids.remove(&id);
        if ids.is_empty() {
            index.remove(value);
        }
    }
}

/// The case-insensitive form of an email or group name (Unicode lower case; no allocation for the
/// common all-lower-case ASCII input).
fn fold(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

// ---------------------------------------------------------------------------------------------
// Request bodies and queries
// ---------------------------------------------------------------------------------------------

/// Whether a body describes a whole record (POST, PUT: required fields checked, missing optional
/// fields take their defaults) or a partial update (PATCH).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Full,
    Partial,
}

/// Field-level validation failures, in body order.
#[derive(Debug, Default)]
struct Problems(Vec<(String, &'static str)>);

impl Problems {
    /// Stores `parsed` in `slot`, or records why `field` was rejected.
    fn take<V>(&mut self, slot: &mut Option<V>, field: String, parsed: Result<V, &'static str>) {
        match parsed {
            Ok(value) => *slot = Some(value),
            Err(message) => self.0.push((field, message)),
        }
    }

    fn require<V>(&mut self, slot: &Option<V>, field: &str) {
        if slot.is_none() && !self.0.iter().any(|(name, _)| name == field) {
            self.0.push((field.to_owned(), "required"));
        }
    }

    fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::BadRequest("the body must be a JSON object")),
        Err(_) => Err(ApiError::BadRequest("malformed JSON")),
    }
}

fn string(value: Value) -> Result<String, &'static str> {
    match value {
        Value::String(s) => Ok(s),
        _ => Err("must be a string"),
    }
}

fn nullable_string(value: Value) -> Result<Option<String>, &'static str> {
    match value {
        Value::String(s) => Ok(Some(s)),
        Value::Null => Ok(None),
        _ => Err("must be a string or null"),
    }
}

/// A unique value (email, group name) as given, with its folded index key.
#[derive(Debug)]
struct Keyed {
    value: String,
    key: String,
}

impl Keyed {
    fn new(value: String) -> Keyed {
        let key = fold(&value).into_owned();
        Keyed { value, key }
    }
}

/// An email address: exactly one `@`, with something on both sides. Stored as given.
fn email(value: Value) -> Result<Keyed, &'static str> {
    match value {
        Value::String(address) => match address.split_once('@') {
            Some((local, domain))
                if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
            {
                Ok(Keyed::new(address))
            }
            _ => Err("invalid"),
        },
        Value::Null => Err("required"),
        _ => Err("must be a string"),
    }
}

/// A user name: any non-empty string of at most 256 characters. Stored as given.
fn username(value: Value) -> Result<Keyed, &'static str> {
    match value {
        Value::String(name) if name.trim().is_empty() => Err("must not be empty"),
        Value::String(name) if name.chars().count() > 256 => Err("too long"),
        Value::String(name) => Ok(Keyed::new(name)),
        Value::Null => Err("required"),
        _ => Err("must be a string"),
    }
}

fn status(value: Value) -> Result<Status, &'static str> {
    match value.as_str() {
        Some("active") => Ok(Status::Active),
        Some("disabled") => Ok(Status::Disabled),
        _ => Err(r#"must be "active" or "disabled""#),
    }
}

fn group_name(value: Value) -> Result<Keyed, &'static str> {
    match value {
        Value::String(name) if name.is_empty() => Err("must not be empty"),
        Value::String(name) => Ok(Keyed::new(name)),
        Value::Null => Err("required"),
        _ => Err("must be a string"),
    }
}

/// Read-only fields get their own message, so a client echoing a record back learns why.
const READ_ONLY: [&str; 3] = ["id", "created_at", "updated_at"];

fn unknown_field(field: &str) -> &'static str {
    if READ_ONLY.contains(&field) {
        "read-only"
    } else {
        "unknown field"
    }
}

/// A validated user body: `None` leaves a field alone.
#[derive(Debug, Default)]
struct UserPatch {
    username: Option<Keyed>,
    email: Option<Keyed>,
    first_name: Option<String>,
    last_name: Option<String>,
    display_name: Option<String>,
    status: Option<Status>,
    external_ref: Option<Option<String>>,
}

impl UserPatch {
    fn parse(body: &[u8], shape: Shape) -> Result<UserPatch, ApiError> {
        let mut patch = UserPatch::default();
        let mut problems = Problems::default();
        for (field, value) in json_object(body)? {
            match field.as_str() {
                "username" => problems.take(&mut patch.username, field, username(value)),
                "email" => problems.take(&mut patch.email, field, email(value)),
                "first_name" => problems.take(&mut patch.first_name, field, string(value)),
                "last_name" => problems.take(&mut patch.last_name, field, string(value)),
                "display_name" => problems.take(&mut patch.display_name, field, string(value)),
                "status" => problems.take(&mut patch.status, field, status(value)),
                "external_ref" => {
                    problems.take(&mut patch.external_ref, field, nullable_string(value));
                }
                other => {
                    let message = unknown_field(other);
                    problems.0.push((field, message));
                }
            }
        }
        if shape == Shape::Full {
            problems.require(&patch.email, "email");
            patch.first_name.get_or_insert_with(String::new);
            patch.last_name.get_or_insert_with(String::new);
            patch.display_name.get_or_insert_with(String::new);
            patch.status.get_or_insert(Status::Active);
            patch.external_ref.get_or_insert(None);
        }
        problems.into_result()?;
        Ok(patch)
    }

    fn apply(self, user: &mut User) {
        if let Some(username) = self.username {
            user.username = username.value;
        }
        if let Some(email) = self.email {
            user.email = email.value;
        }
        if let Some(first_name) = self.first_name {
            user.first_name = first_name;
        }
        if let Some(last_name) = self.last_name {
            user.last_name = last_name;
        }
        if let Some(display_name) = self.display_name {
            user.display_name = display_name;
        }
        if let Some(status) = self.status {
            user.status = status;
        }
        if let Some(external_ref) = self.external_ref {
            user.external_ref = external_ref;
        }
    }
}

/// A validated group body: `None` leaves a field alone.
#[derive(Debug, Default)]
struct GroupPatch {
    name: Option<Keyed>,
    external_ref: Option<Option<String>>,
}

impl GroupPatch {
    fn parse(body: &[u8], shape: Shape) -> Result<GroupPatch, ApiError> {
        let mut patch = GroupPatch::default();
        let mut problems = Problems::default();
        for (field, value) in json_object(body)? {
            match field.as_str() {
                "name" => problems.take(&mut patch.name, field, group_name(value)),
                "external_ref" => {
                    problems.take(&mut patch.external_ref, field, nullable_string(value));
                }
                other => {
                    let message = unknown_field(other);
                    problems.0.push((field, message));
                }
            }
        }
        if shape == Shape::Full {
            problems.require(&patch.name, "name");
        }
        problems.into_result()?;
        Ok(patch)
    }

    fn apply(self, group: &mut Group) {
        if let Some(name) = self.name {
            group.name = name.value;
        }
        if let Some(external_ref) = self.external_ref {
            group.external_ref = external_ref;
        }
    }
}

/// `{"user_id": 17}` for `POST /api/v1/groups/{id}/members`.
fn parse_member(body: &[u8]) -> Result<u64, ApiError> {
    let mut user_id = None;
    let mut problems = Problems::default();
    for (field, value) in json_object(body)? {
        match field.as_str() {
            "user_id" => {
                let parsed = match value {
                    Value::Null => Err("required"),
                    value => value.as_u64().ok_or("must be a non-negative integer"),
                };
                problems.take(&mut user_id, field, parsed);
            }
            _ => problems.0.push((field, "unknown field")),
        }
    }
    problems.require(&user_id, "user_id");
    problems.into_result()?;
    user_id.ok_or_else(|| required("user_id"))
}

fn required(field: &str) -> ApiError {
    ApiError::invalid(field, "required")
}

/// Page selection: `page` is 1-based; `per_page` is clamped to [`MAX_PER_PAGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Paging {
    page: u64,
    per_page: u64,
}

impl Default for Paging {
    fn default() -> Self {
        Paging {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

impl Paging {
    fn offset(self) -> usize {
        let offset = self.page.saturating_sub(1).saturating_mul(self.per_page);
        usize::try_from(offset).unwrap_or(usize::MAX)
    }

    fn limit(self) -> usize {
        usize::try_from(self.per_page).unwrap_or(usize::MAX)
    }

    fn meta(self, total: usize) -> Meta {
        Meta {
            page: self.page,
            per_page: self.per_page,
            total,
        }
    }
}

/// The query of a list call. Filter values are percent-decoded (`+` is a space, as in forms) and
/// match exactly what is given (so `?email=` matches nothing); unknown parameters are ignored; the
/// last of repeated parameters wins.
struct ListQuery<'q> {
    key: Option<Cow<'q, str>>,
    external_ref: Option<Cow<'q, str>>,
    paging: Paging,
}

impl<'q> ListQuery<'q> {
    /// `key_param` names the unique-key filter (`email`, `name`), or is empty for none.
    fn parse(query: Option<&'q str>, key_param: &str) -> Result<ListQuery<'q>, ApiError> {
        let mut parsed = ListQuery {
            key: None,
            external_ref: None,
            paging: Paging::default(),
        };
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes());
        for (name, value) in pairs {
            match &*name {
                "page" => {
                    parsed.paging.page = count(&value)
                        .filter(|&page| page > 0)
                        .ok_or(ApiError::BadRequest("page must be a positive integer"))?;
                }
                "per_page" => {
                    parsed.paging.per_page = count(&value)
                        .filter(|&per_page| per_page > 0)
                        .ok_or(ApiError::BadRequest("per_page must be a positive integer"))?
                        .min(MAX_PER_PAGE);
                }
                "external_ref" => parsed.external_ref = Some(value),
                name if !key_param.is_empty() && name == key_param => parsed.key = Some(value),
                _ => {}
            }
        }
        Ok(parsed)
    }
}

/// A decimal count: ASCII digits only, saturating at `u64::MAX` (so a huge `per_page` clamps).
fn count(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// A request the platform refuses, with the legacy error body it answers with.
#[derive(Debug)]
enum ApiError {
    BadRequest(&'static str),
    Unauthorized,
    NotFound,
    MethodNotAllowed(&'static HeaderValue),
    Conflict(&'static str),
    TooLarge,
    Validation(Vec<(String, &'static str)>),
}

impl ApiError {
    fn invalid(field: &str, message: &'static str) -> ApiError {
        ApiError::Validation(vec![(field.to_owned(), message)])
    }

    fn into_response(self) -> Response<ResponseBody> {
        let (status, error) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Conflict(code) => (StatusCode::CONFLICT, *code),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation"),
        };
        let body = ErrorBody {
            error,
            message: match &self {
                ApiError::BadRequest(message) => Some(*message),
                _ => None,
            },
            fields: match &self {
                ApiError::Validation(fields) => Some(Fields(fields)),
                _ => None,
            },
        };
        let mut response = json(status, &body, 64);
        if let ApiError::MethodNotAllowed(allow) = self {
            response.headers_mut().insert(ALLOW, allow.clone());
        }
        response
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<Fields<'a>>,
}

/// Validation failures as a JSON object, field name to message.
struct Fields<'a>(&'a [(String, &'static str)]);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(field, message)| (field, message)))
    }
}

#[derive(Serialize)]
struct Data<T> {
    data: T,
}

#[derive(Serialize)]
struct Listing<T> {
    data: T,
    meta: Meta,
}

#[derive(Debug, Serialize)]
struct Meta {
    page: u64,
    per_page: u64,
    total: usize,
}

/// Shared records, serialised as a JSON array after the lock that produced them is released.
struct Records<'a, T>(&'a [Arc<T>]);

impl<T: Serialize> Serialize for Records<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|record| &**record))
    }
}

fn respond(status: StatusCode, body: Bytes) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::whole(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, APPLICATION_JSON.clone());
    response
}

fn json(status: StatusCode, value: &impl Serialize, capacity: usize) -> Response<ResponseBody> {
    let mut buffer = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut buffer, value) {
        Ok(()) => respond(status, Bytes::from(buffer)),
        Err(error) => {
            warn!(%error, "demo platform could not serialise a response");
            respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                Bytes::from_static(br#"{"error":"internal"}"#),
            )
        }
    }
}

fn no_content() -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::whole(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// A response body: whole, or (fault injection) cut off after half of its declared length.
struct ResponseBody(BodyState);

enum BodyState {
    Whole(Option<Bytes>),
    Truncated {
        head: Option<Bytes>,
        declared: u64,
        flushed: bool,
    },
}

impl ResponseBody {
    fn whole(bytes: Bytes) -> ResponseBody {
        ResponseBody(BodyState::Whole(Some(bytes).filter(|b| !b.is_empty())))
    }

    fn truncated(full: Bytes) -> ResponseBody {
        ResponseBody(BodyState::Truncated {
            declared: full.len() as u64,
            head: Some(full.slice(..full.len() / 2)),
            flushed: false,
        })
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = InjectedFault;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, InjectedFault>>> {
        match &mut self.get_mut().0 {
            BodyState::Whole(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            BodyState::Truncated { head, flushed, .. } => {
                if let Some(head) = head.take() {
                    return Poll::Ready(Some(Ok(Frame::data(head))));
                }
                if !*flushed {
                    // Yield once so hyper flushes the head and the first half to the socket before
                    // the error below makes it drop the connection.
                    *flushed = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Poll::Ready(Some(Err(InjectedFault::Truncated)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.0, BodyState::Whole(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            BodyState::Whole(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            BodyState::Truncated { declared, .. } => SizeHint::with_exact(*declared),
        }
    }
}
