//! The sidecar's OAuth2 token endpoint (`[auth.oauth]`): the client credentials grant of
//! RFC 6749 §4.4, as Entra's "OAuth2 client credentials grant" setting uses it.
//!
//! `POST {base_path}{token_path}` with `grant_type=client_credentials`; the client authenticates
//! by HTTP Basic or by `client_id`/`client_secret` in the form body (§2.3.1), never both. Client
//! secrets are kept as SHA-256 digests of `id NUL secret` and compared in constant time (the
//! same code as static tokens, `auth::Tokens`), so a secret is only ever valid for its own client.
//! The answer is a short-lived EdDSA JWT (`jwt.rs`). Failed attempts are rate-limited per peer IP
//! and per client id: over either budget a wrong secret answers 429 with `Retry-After` (logged at
//! debug, so a flood cannot fill the logs), while a right one still gets its token. Behind an
//! ingress every client shares the ingress's address, so a budget that refused right secrets
//! would let anyone flooding through it lock Entra out. Guessing is not what the budgets stop: a
//! secret has at least 32 bytes. No secret is logged; an unknown client id is logged as `-`.

use base64::Engine as _;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::time::Instant;

use crate::auth::Tokens;
use crate::jwt::Keys;

/// Failed attempts a peer or a client id may make in a burst.
pub const FAILURE_BURST: f64 = 20.0;
/// Failed attempts a peer or a client id regains per second.
pub const FAILURE_REFILL_PER_SEC: f64 = 1.0;
/// Peers remembered at once; when full, the peers whose budget has refilled are forgotten.
const MAX_PEERS: usize = 10_000;

/// `[auth.oauth]`, validated, files read: the endpoint's path, keys and clients.
#[derive(Clone)]
pub struct Settings {
    /// The endpoint's full path: `scim.base_path` followed by `token_path`.
    pub path: String,
    /// The signing and verification keys, and the claims of issued tokens.
    pub keys: Keys,
    clients: Tokens,
    client_ids: Vec<Arc<str>>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("path", &self.path)
            .field("keys", &self.keys)
            .field("clients", &self.client_ids)
            .finish_non_exhaustive()
    }
}

fn credential(id: &str, secret: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(id.len() + 1 + secret.len());
    v.extend_from_slice(id.as_bytes());
    v.push(0);
    v.extend_from_slice(secret);
    v
}

impl Settings {
    /// Builds the settings from `(client id, secret)` pairs; an id may appear several times (one
    /// entry per secret, for rotation). The secrets are hashed and dropped.
    pub fn new(path: String, keys: Keys, clients: Vec<(String, Vec<u8>)>) -> Settings {
        let mut client_ids: Vec<Arc<str>> = Vec::new();
        for (id, _) in &clients {
            if !client_ids.iter().any(|c| **c == **id) {
                client_ids.push(Arc::from(id.as_str()));
            }
        }
        let clients = Tokens::new(
            clients
                .into_iter()
                .map(|(id, secret)| (id.clone(), credential(&id, &secret))),
        );
        Settings {
            path,
            keys,
            clients,
            client_ids,
        }
    }

    /// The configured client id equal to `id`, if any (unknown ids are not logged, and a token
    /// issued to a client since removed from the config is refused).
    pub fn known(&self, id: &str) -> Option<&Arc<str>> {
        self.client_ids.iter().find(|c| ***c == *id)
    }

    /// Whether `secret` is one of `id`'s secrets, in constant time over all configured secrets.
    fn check(&self, id: &str, secret: &[u8]) -> bool {
        self.clients.verify(&credential(id, secret)).is_some()
    }
}

// === rate limiting ===

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(now: Instant) -> Bucket {
        Bucket {
            tokens: FAILURE_BURST,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let secs = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + secs * FAILURE_REFILL_PER_SEC).min(FAILURE_BURST);
        self.last = now;
    }

    /// Seconds until one more failure is allowed; `None` when one is allowed now.
    fn wait(&self) -> Option<u64> {
        (self.tokens < 1.0).then(|| ((1.0 - self.tokens) / FAILURE_REFILL_PER_SEC).ceil() as u64)
    }
}

#[derive(Debug, Default)]
struct LimiterState {
    peers: HashMap<IpAddr, Bucket>,
    clients: HashMap<Arc<str>, Bucket>,
}

/// Failure budgets per peer IP and per configured client id. It lives in the runtime and is
/// handed from one runtime to the next on reload, so a reload does not reset it.
#[derive(Debug, Default)]
pub struct Limiter {
    state: Mutex<LimiterState>,
}

impl Limiter {
    fn with<T>(&self, f: impl FnOnce(&mut LimiterState) -> T) -> T {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }

    /// Counts a failure against the peer and (when configured) the client id; returns the wait
    /// when either budget is now spent.
    fn fail(&self, peer: IpAddr, client: Option<&Arc<str>>, now: Instant) -> Option<u64> {
        self.with(|s| {
            if s.peers.len() >= MAX_PEERS && !s.peers.contains_key(&peer) {
                s.peers.retain(|_, b| {
                    b.refill(now);
                    b.tokens < FAILURE_BURST
                });
                if s.peers.len() >= MAX_PEERS {
                    s.peers.clear();
                }
            }
            let spend = |b: &mut Bucket| {
                b.refill(now);
                b.tokens = (b.tokens - 1.0).max(0.0);
                b.wait()
            };
            let p = spend(s.peers.entry(peer).or_insert_with(|| Bucket::full(now)));
            let c = client.and_then(|id| {
                spend(
                    s.clients
                        .entry(id.clone())
                        .or_insert_with(|| Bucket::full(now)),
                )
            });
            p.max(c)
        })
    }
}

// === the endpoint ===

/// How a token request ended, for the access log and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A token was issued to this client.
    Issued(Arc<str>),
    /// Refused; the reason label.
    Refused(&'static str),
}

/// A token request as the handler hands it over.
#[derive(Debug)]
pub struct TokenRequest<'a> {
    /// The method.
    pub method: &'a Method,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The body (already read under the server's size and time limits).
    pub body: &'a [u8],
    /// The client's IP address.
    pub peer: IpAddr,
}

/// An RFC 6749 §5.2 error answer.
fn error(status: StatusCode, code: &'static str, description: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "error": code, "error_description": description });
    let mut r = json_response(status, &body);
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"scim-sidecar\", charset=\"UTF-8\""),
        );
    }
    r
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

fn limited(secs: u64) -> Response<Full<Bytes>> {
    let mut r = error(
        StatusCode::TOO_MANY_REQUESTS,
        "invalid_client",
        "too many failed client authentications; retry later",
    );
    r.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
    r
}

/// The form's parameters; `None` if one appears twice (RFC 6749 §3.2).
fn form(body: &[u8]) -> Option<HashMap<String, String>> {
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        if out.insert(k.into_owned(), v.into_owned()).is_some() {
            return None;
        }
    }
    Some(out)
}

/// `application/x-www-form-urlencoded` decoding of one Basic credential part (RFC 6749 §2.3.1).
fn form_decode(s: &str) -> String {
    form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Client id and secret from an `Authorization: Basic` header. `Err` when the header is present
/// but not usable Basic credentials.
fn basic(headers: &HeaderMap) -> Result<Option<(String, String)>, &'static str> {
    let mut all = headers.get_all(http::header::AUTHORIZATION).iter();
    let Some(value) = all.next() else {
        return Ok(None);
    };
    if all.next().is_some() {
        return Err("more than one Authorization header");
    }
    let bytes = value.as_bytes();
    let Some(rest) = bytes
        .get(..6)
        .filter(|s| s.eq_ignore_ascii_case(b"basic "))
        .and(bytes.get(6..))
    else {
        return Err("client authentication must use the Basic scheme");
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim_ascii())
        .map_err(|_| "malformed Basic credentials")?;
    let text = String::from_utf8(decoded).map_err(|_| "malformed Basic credentials")?;
    let (id, secret) = text.split_once(':').ok_or("malformed Basic credentials")?;
    Ok(Some((form_decode(id), form_decode(secret))))
}

/// Answers one token request. Never fails: every problem is an RFC 6749 §5.2 answer.
pub fn answer(
    settings: &Settings,
    limiter: &Limiter,
    req: &TokenRequest<'_>,
) -> (Response<Full<Bytes>>, Outcome) {
    let refused = |r: Response<Full<Bytes>>, reason: &'static str| (r, Outcome::Refused(reason));
    let now = Instant::now();
    if *req.method != Method::POST {
        let mut r = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "the token endpoint accepts POST only",
        );
        r.headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("POST"));
        return refused(r, "invalid_request");
    }
    let bad = |d: &str| error(StatusCode::BAD_REQUEST, "invalid_request", d);
    let form_type = req
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return refused(
            bad("the body must be application/x-www-form-urlencoded"),
            "invalid_request",
        );
    }
    let Some(params) = form(req.body) else {
        return refused(bad("a parameter appears more than once"), "invalid_request");
    };
    match params.get("grant_type").map(String::as_str) {
        None => return refused(bad("grant_type is missing"), "invalid_request"),
        Some("client_credentials") => {}
        Some(_) => {
            return refused(
                error(
                    StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    "only grant_type=client_credentials is supported",
                ),
                "unsupported_grant_type",
            );
        }
    }
    let from_body = match (params.get("client_id"), params.get("client_secret")) {
        (Some(id), Some(secret)) => Some((id.clone(), secret.clone())),
        (None, None) => None,
        _ => {
            return refused(
                bad("client_id and client_secret go together"),
                "invalid_request",
            );
        }
    };
    let (id, secret) = match (basic(req.headers), from_body) {
        (Err(d), _) => return fail(limiter, req.peer, None, d, now),
        (Ok(Some(_)), Some(_)) => {
            return refused(
                bad("use one client authentication method: Basic or the form body, not both"),
                "invalid_request",
            );
        }
        (Ok(Some(c)), None) | (Ok(None), Some(c)) => c,
        (Ok(None), None) => {
            return fail(
                limiter,
                req.peer,
                None,
                "client authentication required",
                now,
            );
        }
    };
    let known = settings.known(&id).cloned();
    if known.is_some() && settings.check(&id, secret.as_bytes()) {
        let client = known.unwrap_or_else(|| Arc::from(id.as_str()));
        return match settings.keys.issue(&client) {
            Ok(token) => {
                let body = serde_json::json!({
                    "access_token": token,
                    "token_type": "Bearer",
                    "expires_in": settings.keys.lifetime.as_secs(),
                });
                (
                    json_response(StatusCode::OK, &body),
                    Outcome::Issued(client),
                )
            }
            Err(e) => {
                tracing::error!(client = %client, error = %e, "could not sign an access token");
                refused(
                    error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "server_error",
                        "the token could not be issued",
                    ),
                    "server_error",
                )
            }
        };
    }
    let reason = if known.is_some() {
        "wrong client secret"
    } else {
        "unknown client id"
    };
    fail(limiter, req.peer, known.as_ref(), reason, now)
}

/// A failed client authentication: counted, logged without the secret, 401 or 429.
fn fail(
    limiter: &Limiter,
    peer: IpAddr,
    client: Option<&Arc<str>>,
    why: &str,
    now: Instant,
) -> (Response<Full<Bytes>>, Outcome) {
    let name = client.map_or("-", |c| &**c);
    match limiter.fail(peer, client, now) {
        Some(secs) => {
            tracing::debug!(client = name, peer = %peer, reason = why, "client authentication failed; rate-limited");
            (limited(secs), Outcome::Refused("rate_limited"))
        }
        None => {
            tracing::info!(client = name, peer = %peer, reason = why, "client authentication failed");
            (
                error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client authentication failed",
                ),
                Outcome::Refused("invalid_client"),
            )
        }
    }
}
