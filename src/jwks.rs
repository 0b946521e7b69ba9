//! `[[auth.jwt]]`: bearer JWTs from an external issuer (Entra's own tokens, any OIDC provider),
//! verified against the issuer's JWKS.
//!
//! The key set comes from a file (read at load, reloaded like any file) or from a URL, fetched
//! on demand: when a token names a `kid` the cached set lacks, at most once per
//! `jwks_refresh_interval`, under `jwks_timeout`. A failed fetch keeps the last good set. A
//! request whose `kid` is cached never waits for a fetch; only the request that found a `kid`
//! missing waits, and only while the interval allows a fetch. Checks, in order: size, the issuer
//! (read unverified only to pick the `[[auth.jwt]]` entry), the algorithm against the entry's
//! `algorithms` (never `none` nor HMAC), a `kid` made of safe characters and present in the set,
//! the signature, `exp`/`nbf` within `clock_skew`, `iss`, `aud`.

use arc_swap::ArcSwap;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

use crate::jwt::{MAX_TOKEN_BYTES, Refusal, header_refusal, refusal_of};

/// The largest JWKS document read from a URL.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// The longest `kid` looked up.
const MAX_KID_BYTES: usize = 128;

/// Where an issuer's key set comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A URL fetched on demand (`https://`, or `http://` to a loopback address).
    Url(http::Uri),
    /// A file read at load time (its parsed content).
    File(std::path::PathBuf),
}

/// One `[[auth.jwt]]` entry, validated: data only.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The required `iss`.
    pub issuer: String,
    /// The required `aud`.
    pub audience: String,
    /// The key set's source.
    pub source: Source,
    /// The key set read from `jwks_file` (empty for a URL until fetched).
    pub file_keys: Arc<JwkSet>,
    /// The accepted algorithms (asymmetric only).
    pub algorithms: Vec<Algorithm>,
    /// Clock difference tolerated on `exp` and `nbf`.
    pub clock_skew: Duration,
    /// Least time between two fetches of the URL.
    pub refresh_interval: Duration,
    /// Longest wait for a fetch.
    pub timeout: Duration,
    /// TLS settings for fetching a URL.
    pub tls: Arc<rustls::ClientConfig>,
}

/// Parses a JWKS document.
pub fn parse_jwks(bytes: &[u8]) -> Result<JwkSet, String> {
    serde_json::from_slice::<JwkSet>(bytes).map_err(|e| format!("not a JWKS document: {e}"))
}

/// The live side of one issuer: the cached key set and the refresh gate.
pub struct Issuer {
    /// The entry's settings.
    pub settings: Settings,
    keys: ArcSwap<JwkSet>,
    client: HttpClient,
    last_fetch: Mutex<Option<Instant>>,
    fetching: AtomicBool,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("issuer", &self.settings.issuer)
            .field("keys", &self.keys.load().keys.len())
            .finish_non_exhaustive()
    }
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The TLS settings of JWKS fetches: the public web's roots (webpki-roots), as for any OIDC
/// discovery. Built at config load, where an error is a config error.
pub fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    rustls::ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
        .map_err(|e| e.to_string())
}

fn http_client(tls: &rustls::ClientConfig) -> HttpClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.clone())
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(https)
}

/// Marks a fetch as running until dropped.
struct Running<'a>(&'a AtomicBool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// All issuers of one runtime and the client that fetches their key sets.
#[derive(Default)]
pub struct Issuers {
    list: Vec<Issuer>,
}

impl std::fmt::Debug for Issuers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.list).finish()
    }
}

fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("iss")?.as_str().map(str::to_owned)
}

fn safe_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID_BYTES
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'+'))
}

impl Issuers {
    /// The live issuers for `settings`; a previous runtime's cached key sets are kept for the
    /// entries whose issuer and source did not change.
    pub fn new(settings: &[Settings], previous: Option<&Issuers>) -> Issuers {
        let list = settings
            .iter()
            .map(|s| {
                let carried = previous.and_then(|p| {
                    p.list
                        .iter()
                        .find(|i| i.settings.issuer == s.issuer && i.settings.source == s.source)
                });
                let keys = match (&s.source, carried) {
                    (Source::Url(_), Some(old)) => old.keys.load_full(),
                    _ => s.file_keys.clone(),
                };
                Issuer {
                    settings: s.clone(),
                    keys: ArcSwap::new(keys),
                    client: http_client(&s.tls),
                    last_fetch: Mutex::new(carried.and_then(|o| {
                        *o.last_fetch.lock().unwrap_or_else(PoisonError::into_inner)
                    })),
                    fetching: AtomicBool::new(false),
                }
            })
            .collect();
        Issuers { list }
    }

    /// Whether any issuer is configured.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Verifies an external token; `Ok(subject)` or why not. `None`: no configured issuer
    /// claims this token (it may be another method's).
    pub async fn verify(&self, token: &str) -> Option<Result<String, Refusal>> {
        if token.len() > MAX_TOKEN_BYTES {
            return Some(Err(Refusal::Oversized));
        }
        let iss = unverified_issuer(token)?;
        let issuer = self.list.iter().find(|i| i.settings.issuer == iss)?;
        Some(self.verify_with(issuer, token).await)
    }

    async fn verify_with(&self, issuer: &Issuer, token: &str) -> Result<String, Refusal> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| header_refusal(token))?;
        let s = &issuer.settings;
        if !s.algorithms.contains(&header.alg) {
            return Err(Refusal::Algorithm);
        }
        let kid = header.kid.ok_or(Refusal::UnknownKey)?;
        if !safe_kid(&kid) {
            return Err(Refusal::UnknownKey);
        }
        let jwk = match issuer.keys.load().find(&kid).cloned() {
            Some(j) => j,
            None => {
                self.refresh(issuer).await;
                issuer
                    .keys
                    .load()
                    .find(&kid)
                    .cloned()
                    .ok_or(Refusal::UnknownKey)?
            }
        };
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| Refusal::UnknownKey)?;
        let mut v = Validation::new(header.alg);
        v.algorithms = s.algorithms.clone();
        v.leeway = s.clock_skew.as_secs();
        v.validate_nbf = true;
        v.set_issuer(&[&s.issuer]);
        v.set_audience(&[&s.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &key, &v)
            .map_err(|e| refusal_of(e.kind()))?;
        let sub = data
            .claims
            .get("sub")
            .and_then(|v| v.as_str())
            .unwrap_or("-");
        Ok(sub.to_owned())
    }

    /// Fetches the issuer's key set if it has a URL, no fetch is running and the interval since
    /// the last one has passed. A failure keeps the last good set.
    async fn refresh(&self, issuer: &Issuer) {
        let Source::Url(url) = &issuer.settings.source else {
            return;
        };
        let now = Instant::now();
        {
            let mut last = issuer
                .last_fetch
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|t| {
                now.saturating_duration_since(t) < issuer.settings.refresh_interval
            }) {
                return;
            }
            if issuer.fetching.swap(true, Ordering::AcqRel) {
                return;
            }
            *last = Some(now);
        }
        // Cleared on drop, so a request abandoned mid-fetch (client gone, request timeout) does
        // not leave the issuer marked as fetching forever.
        let _running = Running(&issuer.fetching);
        let fetched = tokio::time::timeout(issuer.settings.timeout, Self::fetch(issuer, url)).await;
        match fetched {
            Ok(Ok(set)) => {
                tracing::info!(issuer = %issuer.settings.issuer, keys = set.keys.len(), "JWKS fetched");
                issuer.keys.store(Arc::new(set));
            }
            Ok(Err(e)) => {
                tracing::warn!(issuer = %issuer.settings.issuer, error = %e, "JWKS fetch failed; keeping the last good key set");
            }
            Err(_) => {
                tracing::warn!(issuer = %issuer.settings.issuer, "JWKS fetch timed out; keeping the last good key set");
            }
        }
    }

    async fn fetch(issuer: &Issuer, url: &http::Uri) -> Result<JwkSet, String> {
        let req = http::Request::get(url.clone())
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let resp = issuer
            .client
            .request(req)
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP status {}", resp.status()));
        }
        let body = Limited::new(resp.into_body(), MAX_JWKS_BYTES)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        parse_jwks(&body)
    }
}
