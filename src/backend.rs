//! The platform client: a pooled hyper-util client over HTTP or HTTPS (rustls with the configured
//! CA bundle, or the Mozilla roots), with a deadline on every attempt, retries with backoff for
//! idempotent calls only, a cap on concurrent calls, and a cap on response size. With OAuth2
//! client credentials (`oauth`), every call carries a cached access token, and a 401 refreshes it
//! and retries the call once. A client certificate, when configured, is presented to the platform
//! and to its token endpoint alike.
//!
//! Every call of a SCIM request fits in the request's budget ([`budget`]): an attempt's deadline
//! is capped at what is left of it, no attempt starts with less than [`budget::MIN_ATTEMPT`] left,
//! and an attempt cut short by the budget is not retried.
//!
//! It moves bytes and classifies transport failures; what a platform status *means* is the
//! mapping's business (`mapping::errors`).

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::error::{Error, PlatformError};

pub mod budget;
mod oauth;

pub use oauth::{ClientAuth, OAuth2, Secret};

/// How to reach the platform (the `[platform]` section of a mapping, validated).
#[derive(Clone, PartialEq)]
pub struct Settings {
    /// Scheme and authority, e.g. `http://127.0.0.1:8081`.
    pub origin: String,
    /// Path prefix from the base URL, without trailing slash (e.g. `/api`), possibly empty.
    pub prefix: String,
    /// Whether the origin is HTTPS.
    pub https: bool,
    /// PEM CA bundle for HTTPS; the Mozilla roots when `None`.
    pub ca_file: Option<PathBuf>,
    /// TCP connect deadline.
    pub connect_timeout: Duration,
    /// Deadline for each attempt (send + full response).
    pub timeout: Duration,
    /// Extra attempts for idempotent calls after a transport failure or 502/503/504.
    pub retries: u32,
    /// How long, from its start, a SCIM request's platform calls may take in all (attempts,
    /// retries, backoffs, waits for a slot).
    pub request_budget: Duration,
    /// Concurrent platform calls.
    pub max_concurrency: usize,
    /// How long a call may wait for a free slot before the request gets 503 + Retry-After.
    pub queue_timeout: Duration,
    /// Largest response body read.
    pub max_response_bytes: usize,
    /// Headers sent on every call (auth included); values marked sensitive.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// OAuth2 client credentials (`[platform.auth] kind = "oauth2"`): calls carry an access token.
    pub oauth: Option<OAuth2>,
    /// PEM client certificate chain and key presented over TLS (mTLS), to the platform and to
    /// its token endpoint.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Every file these settings were read from (CA bundle, client certificate and key, secret
    /// files): the reloader watches them, so a rotated secret is picked up without a restart.
    pub files: Vec<PathBuf>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("origin", &self.origin)
            .field("prefix", &self.prefix)
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("request_budget", &self.request_budget)
            .field("max_concurrency", &self.max_concurrency)
            .field("oauth", &self.oauth)
            .field("client_cert", &self.client_cert)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// One platform call, fully built (ids already percent-encoded into the path).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The mapped operation, for logs and metrics (`users.read`, `groups.members.add`, ...).
    pub operation: &'static str,
    /// HTTP method.
    pub method: Method,
    /// Path below the base URL, starting with `/`, segments percent-encoded.
    pub path: String,
    /// Query parameters (encoded when sent).
    pub query: Vec<(String, String)>,
    /// JSON body, if any.
    pub body: Option<Value>,
    /// `If-Match`: the version the write expects (the platform's optimistic concurrency).
    pub if_match: Option<HeaderValue>,
}

impl Call {
    /// The path and query as sent (`/api/v1/users?email=a%40b`).
    pub fn target(&self, prefix: &str) -> String {
        let mut t = format!("{prefix}{}", self.path);
        if !self.query.is_empty() {
            let q = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(self.query.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .finish();
            t.push('?');
            t.push_str(&q);
        }
        t
    }
}

/// The platform's answer: status, the headers the mapping may read, and the body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers (for `Location`, `Link`, `X-Total-Count`, `Retry-After`).
    pub headers: HeaderMap,
    /// Response body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON; an empty body is `None`; malformed JSON is a platform fault.
    pub fn json(&self) -> Result<Option<Value>, Error> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&self.body).map(Some).map_err(|e| {
            Error::Platform(PlatformError::BadResponse(format!(
                "platform answered {} with a body that is not JSON: {e}",
                self.status
            )))
        })
    }
}

pub(crate) type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The platform client. Cheap to share (`Arc`); one per compiled mapping.
pub struct Backend {
    settings: Settings,
    client: HttpClient,
    slots: Arc<Semaphore>,
    /// The access-token cache, with OAuth2.
    tokens: oauth::Tokens,
    /// A digest of the client certificate and key as read, so a reload can tell whether a cached
    /// token may be kept (a token may be bound to the certificate, RFC 8705).
    identity: Option<u64>,
    /// Where token fetches are counted (set once the runtime is built).
    metrics: OnceLock<Arc<crate::metrics::Metrics>>,
}

/// Why a client could not be built, with the mapping key at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError {
    /// The mapping key (`platform.ca_file`, `platform.client_cert_file`, ...).
    pub key: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backend")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Reads a PEM CA bundle into a root store.
pub fn load_roots(ca_file: Option<&std::path::Path>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(p) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(p)
                .map_err(|e| format!("cannot read CA bundle: {e}"))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("invalid PEM in CA bundle: {e}"))?;
            if certs.is_empty() {
                return Err("no certificate in CA bundle".to_owned());
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("unusable CA certificate: {e}"))?;
            }
        }
    }
    Ok(roots)
}

impl Backend {
    /// Builds the client (reads the CA bundle and the client certificate and key).
    pub fn new(settings: Settings) -> Result<Backend, SetupError> {
        let roots = load_roots(settings.ca_file.as_deref()).map_err(|reason| SetupError {
            key: "platform.ca_file",
            reason,
        })?;
        let builder = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| SetupError {
                key: "platform",
                reason: format!("TLS client configuration: {e}"),
            })?
            .with_root_certificates(roots);
        let (tls, identity) = match &settings.client_cert {
            None => (builder.with_no_client_auth(), None),
            Some((cert, key)) => {
                let (chain, key_der, digest) = load_identity(cert, key)?;
                let tls =
                    builder
                        .with_client_auth_cert(chain, key_der)
                        .map_err(|e| SetupError {
                            key: "platform.client_key_file",
                            reason: format!("the key does not fit the client certificate: {e}"),
                        })?;
                (tls, Some(digest))
            }
        };
        if let Some(o) = &settings.oauth
            && let Some(rest) = o.token_url.strip_prefix("http://")
        {
            let host = rest.split(['/', '?']).next().unwrap_or("");
            let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
            if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
                tracing::warn!(
                    token_url = %o.token_url,
                    "the OAuth2 token endpoint is plain HTTP on another host: the client secret and tokens travel unencrypted"
                );
            }
        }
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(settings.connect_timeout));
        http.set_nodelay(true);
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(settings.max_concurrency)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https);
        Ok(Backend {
            slots: Arc::new(Semaphore::new(settings.max_concurrency)),
            settings,
            client,
            tokens: oauth::Tokens::default(),
            identity,
            metrics: OnceLock::new(),
        })
    }

    /// Counts this client's token fetches in `metrics` (the process's registry).
    pub fn observe(&self, metrics: Arc<crate::metrics::Metrics>) {
        let _ = self.metrics.set(metrics);
    }

    /// After a reload: keeps the access token `old` holds when the credentials it was issued
    /// for (token endpoint, client id and secret, scope, audience, client certificate) did not
    /// change. A changed secret or certificate starts with no token.
    pub fn adopt_token(&self, old: &Backend) {
        if self.settings.oauth.is_some()
            && self.settings.oauth == old.settings.oauth
            && self.identity == old.identity
        {
            self.tokens.adopt(&old.tokens);
        }
    }

    /// How calls authenticate beyond fixed headers, for `explain`: the token call and the
    /// client certificate, without secrets.
    pub fn describe_auth(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(o) = &self.settings.oauth {
            out.push(o.describe());
        }
        if let Some((cert, _)) = &self.settings.client_cert {
            out.push(format!(
                "TLS client certificate {} (to the platform and its token endpoint)",
                cert.display()
            ));
        }
        out
    }

    /// The settings this client was built with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The absolute URL a call goes to (for logs and `explain`).
    pub fn url(&self, call: &Call) -> String {
        format!(
            "{}{}",
            self.settings.origin,
            call.target(&self.settings.prefix)
        )
    }

    /// Performs a call: waits for a slot (bounded), sends, reads the whole reply under the
    /// deadline, and retries idempotent calls on transport failures and 502/503/504, all within
    /// the current request's budget ([`budget::deadline`]).
    pub async fn call(&self, call: &Call) -> Result<Reply, Error> {
        let idempotent = matches!(
            call.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE
        );
        let attempts = if idempotent {
            self.settings.retries + 1
        } else {
            1
        };
        let min_attempt = budget::MIN_ATTEMPT.min(self.settings.timeout);
        self.call_until(call, budget::deadline(), attempts, min_attempt)
            .await
    }

    /// One attempt of `call`, done (answer, failure or timeout) by `deadline`: the readiness
    /// probe, which must answer within its own deadline whatever the platform does (however
    /// short that deadline is: it is the whole point of the call).
    pub async fn probe(&self, call: &Call, deadline: Instant) -> Result<Reply, Error> {
        self.call_until(call, Some(deadline), 1, Duration::ZERO)
            .await
    }

    /// `call` in at most `attempts` attempts, none starting with less than `min_attempt` left
    /// before `deadline`.
    async fn call_until(
        &self,
        call: &Call,
        deadline: Option<Instant>,
        attempts: u32,
        min_attempt: Duration,
    ) -> Result<Reply, Error> {
        let left = |d: Option<Instant>| d.map(|d| d.saturating_duration_since(Instant::now()));
        let spent = |what: &str| {
            Err(Error::Platform(PlatformError::Timeout(format!(
                "{}: the request's platform budget (platform.request_budget) was spent {what}",
                call.operation
            ))))
        };
        // A free slot is taken at once; only a wait for one sets up a deadline.
        let _slot = match self.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let wait = left(deadline).map_or(self.settings.queue_timeout, |l| {
                    l.min(self.settings.queue_timeout)
                });
                match tokio::time::timeout(wait, self.slots.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) | Err(_) => {
                        return Err(Error::Platform(PlatformError::Overloaded {
                            retry_after_secs: 1,
                        }));
                    }
                }
            }
        };
        let mut backoff = Duration::from_millis(50);
        let mut last = None;
        let mut reauthorized = false;
        for attempt in 1..=attempts {
            // The attempt's deadline: the platform timeout, capped at what is left of the budget.
            let timeout = match left(deadline) {
                None => self.settings.timeout,
                Some(l) if l < min_attempt || l.is_zero() => {
                    return last.unwrap_or_else(|| spent("before the call could start"));
                }
                Some(l) => l.min(self.settings.timeout),
            };
            let outcome = self
                .authorized_attempt(call, &mut reauthorized, timeout)
                .await;
            let retryable = match &outcome {
                Ok(r) => matches!(r.status.as_u16(), 502..=504),
                Err(Error::Platform(
                    PlatformError::Unreachable(_)
                    | PlatformError::Refused(_)
                    | PlatformError::Timeout(_),
                )) => true,
                Err(_) => false,
            };
            if attempt > 1
                && call.method == Method::DELETE
                && matches!(&outcome, Ok(r) if r.status == StatusCode::NOT_FOUND)
            {
                // An earlier attempt failed without a clear answer and may have deleted it: the
                // 404 is the earlier attempt's success, not a missing resource.
                tracing::warn!(
                    operation = call.operation,
                    attempt,
                    "platform DELETE answered 404 on retry; the earlier attempt deleted it"
                );
                return Ok(Reply {
                    status: StatusCode::NO_CONTENT,
                    headers: HeaderMap::new(),
                    body: Bytes::new(),
                });
            }
            // Room for a retry after the backoff: after a timeout, a whole `timeout` (a platform
            // that did not answer in that long will not answer in less); after a failure that
            // came fast, the shortest attempt worth starting.
            let needed = if matches!(outcome, Err(Error::Platform(PlatformError::Timeout(_)))) {
                self.settings.timeout
            } else {
                min_attempt
            };
            let room = left(deadline).is_none_or(|l| l >= backoff + needed);
            if !retryable || attempt == attempts || !room {
                if attempt > 1 && outcome.is_ok() {
                    tracing::warn!(
                        operation = call.operation,
                        attempt,
                        "platform call succeeded after retry"
                    );
                }
                if retryable && attempt < attempts && !room {
                    tracing::debug!(
                        operation = call.operation,
                        attempt,
                        "not retrying: the request's platform budget is spent"
                    );
                }
                return outcome;
            }
            tracing::debug!(
                operation = call.operation,
                attempt,
                "retrying platform call"
            );
            last = Some(outcome);
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        last.unwrap_or_else(|| Err(Error::Internal("no attempt made".to_owned())))
    }

    /// One attempt, with an access token when OAuth2 is configured. A 401 to a token means the
    /// platform did not process the call: the token is dropped, a new one fetched, and the call
    /// sent once more (once per [`Backend::call`], whatever its retries).
    async fn authorized_attempt(
        &self,
        call: &Call,
        reauthorized: &mut bool,
        timeout: Duration,
    ) -> Result<Reply, Error> {
        let Some(oauth) = &self.settings.oauth else {
            return self.attempt(call, None, timeout).await;
        };
        let fetch = oauth::Fetch {
            oauth,
            client: &self.client,
            timeout,
            max_bytes: self.settings.max_response_bytes.min(1 << 20),
            metrics: self.metrics.get().map(Arc::as_ref),
        };
        let token = self.tokens.get(&fetch).await?;
        let reply = self.attempt(call, Some(&token.header), timeout).await?;
        if reply.status != StatusCode::UNAUTHORIZED || *reauthorized {
            return Ok(reply);
        }
        *reauthorized = true;
        tracing::info!(
            operation = call.operation,
            "platform answered 401 to the access token; fetching a new one and sending the call again"
        );
        self.tokens.reject(&token);
        let token = self.tokens.get(&fetch).await?;
        self.attempt(call, Some(&token.header), timeout).await
    }

    async fn attempt(
        &self,
        call: &Call,
        token: Option<&HeaderValue>,
        timeout: Duration,
    ) -> Result<Reply, Error> {
        let uri = self.url(call);
        let body = match &call.body {
            Some(v) => {
                Bytes::from(serde_json::to_vec(v).map_err(|e| Error::Internal(e.to_string()))?)
            }
            None => Bytes::new(),
        };
        let mut builder = Request::builder().method(call.method.clone()).uri(&uri);
        if let Some(h) = builder.headers_mut() {
            for (n, v) in &self.settings.headers {
                h.insert(n.clone(), v.clone());
            }
            if let Some(t) = token {
                h.insert(http::header::AUTHORIZATION, t.clone());
            }
            h.insert(
                http::header::ACCEPT,
                HeaderValue::from_static("application/json"),
            );
            if call.body.is_some() {
                h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            if let Some(v) = &call.if_match {
                h.insert(http::header::IF_MATCH, v.clone());
            }
        }
        let req = builder
            .body(Full::new(body))
            .map_err(|e| Error::Internal(format!("cannot build platform request: {e}")))?;
        let max = self.settings.max_response_bytes;
        let op = call.operation;
        let fut = async {
            let resp = self.client.request(req).await.map_err(|e| {
                let detail = format!("{op}: {}", describe(&e));
                if never_sent(&e) {
                    Error::Platform(PlatformError::Refused(detail))
                } else {
                    Error::Platform(PlatformError::Unreachable(detail))
                }
            })?;
            let (parts, body) = resp.into_parts();
            let bytes = Limited::new(body, max)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        Error::Platform(PlatformError::BadResponse(format!(
                            "{op}: response body over {max} bytes (platform.max_response_size)"
                        )))
                    } else {
                        // The connection broke mid-answer: a transport failure, retried like
                        // one when the call is idempotent.
                        Error::Platform(PlatformError::Unreachable(format!(
                            "{op}: connection lost while reading the answer: {e}"
                        )))
                    }
                })?
                .to_bytes();
            if parts.status.is_success()
                && call.method != Method::GET
                && claims_json(&parts.headers)
                && !bytes.iter().all(u8::is_ascii_whitespace)
                && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err()
            {
                // A write "succeeded" with a corrupt answer: whether it happened is unknown, so
                // it is not reported as done (GET answers are parsed, and checked, by their
                // readers).
                return Err(Error::Platform(PlatformError::BadResponse(format!(
                    "{op}: platform answered {} with a body that is not JSON",
                    parts.status
                ))));
            }
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body: bytes,
            })
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::Platform(PlatformError::Timeout(format!(
                "{op}: no complete answer within {}",
                crate::config::values::format_duration(timeout)
            )))),
        }
    }
}

/// Reads a PEM client certificate chain and key; returns them and a digest of both.
fn load_identity(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, u64), SetupError> {
    use std::hash::{Hash, Hasher};
    let cert_pem = std::fs::read(cert).map_err(|e| SetupError {
        key: "platform.client_cert_file",
        reason: format!("cannot read {}: {e}", cert.display()),
    })?;
    let key_pem = std::fs::read(key).map_err(|e| SetupError {
        key: "platform.client_key_file",
        reason: format!("cannot read {}: {e}", key.display()),
    })?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| SetupError {
            key: "platform.client_cert_file",
            reason: format!("invalid PEM: {e}"),
        })?;
    if chain.is_empty() {
        return Err(SetupError {
            key: "platform.client_cert_file",
            reason: "no certificate in the file".to_owned(),
        });
    }
    // The key's own error text is not repeated: it could quote key material.
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| SetupError {
        key: "platform.client_key_file",
        reason: "no PEM private key (PKCS#8, PKCS#1 or SEC1) in the file".to_owned(),
    })?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    cert_pem.hash(&mut h);
    key_pem.hash(&mut h);
    Ok((chain, key_der, h.finish()))
}

/// Whether a response labels its body JSON (`application/json`, `application/*+json`).
fn claims_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let essence = v.split(';').next().unwrap_or("").trim().as_bytes();
            essence.eq_ignore_ascii_case(b"application/json")
                || (essence.len() > 17
                    && essence[..12].eq_ignore_ascii_case(b"application/")
                    && essence[essence.len() - 5..].eq_ignore_ascii_case(b"+json"))
        })
        .unwrap_or(false)
}

/// Whether a client error says the request never left: the TCP connection was refused or could
/// not be opened in time (the platform is down or restarting, not misbehaving). TLS and DNS
/// failures are not: they are usually configuration, not a passing state.
fn never_sent(e: &hyper_util::client::legacy::Error) -> bool {
    use std::error::Error as _;
    if !e.is_connect() {
        return false;
    }
    let mut src = e.source();
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::TimedOut
            );
        }
        src = s.source();
    }
    false
}

pub(crate) fn describe(e: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error as _;
    let mut text = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        text.push_str(": ");
        text.push_str(&s.to_string());
        src = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_encode_query_values() {
        let c = Call {
            operation: "users.list",
            method: Method::GET,
            path: "/api/v1/users".to_owned(),
            query: vec![
                ("email".to_owned(), "a+b@x.com".to_owned()),
                ("page".to_owned(), "1".to_owned()),
            ],
            body: None,
            if_match: None,
        };
        assert_eq!(c.target(""), "/api/v1/users?email=a%2Bb%40x.com&page=1");
        assert_eq!(
            c.target("/base"),
            "/base/api/v1/users?email=a%2Bb%40x.com&page=1"
        );
    }

    #[test]
    fn json_content_types_are_recognised() {
        let h = |v: &'static str| {
            let mut m = HeaderMap::new();
            m.insert(CONTENT_TYPE, HeaderValue::from_static(v));
            m
        };
        assert!(claims_json(&h("application/json")));
        assert!(claims_json(&h("Application/JSON; charset=utf-8")));
        assert!(claims_json(&h("application/problem+json")));
        assert!(!claims_json(&h("text/plain")));
        assert!(!claims_json(&h("application/jsonx")));
        assert!(!claims_json(&HeaderMap::new()));
    }

    #[test]
    fn ca_bundles_are_checked() {
        assert!(load_roots(None).is_ok_and(|r| !r.is_empty()));
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not pem").expect("write");
        assert!(load_roots(Some(&p)).is_err());
        assert!(load_roots(Some(&dir.path().join("missing.pem"))).is_err());
        let (cert, _) = crate::tls::self_signed(&["ca.test"]).expect("cert");
        std::fs::write(&p, cert).expect("write");
        assert_eq!(load_roots(Some(&p)).map(|r| r.len()), Ok(1));
    }
}
