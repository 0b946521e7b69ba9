//! The platform client: a pooled hyper-util client over HTTP or HTTPS (rustls with the configured
//! CA bundle, or the Mozilla roots), with a deadline on every attempt, retries with backoff for
//! idempotent calls only, a cap on concurrent calls, and a cap on response size.
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
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::Value;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

use crate::error::{Error, PlatformError};

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
    /// Concurrent platform calls.
    pub max_concurrency: usize,
    /// How long a call may wait for a free slot before the request gets 503 + Retry-After.
    pub queue_timeout: Duration,
    /// Largest response body read.
    pub max_response_bytes: usize,
    /// Headers sent on every call (auth included); values marked sensitive.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("origin", &self.origin)
            .field("prefix", &self.prefix)
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("max_concurrency", &self.max_concurrency)
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

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The platform client. Cheap to share (`Arc`); one per compiled mapping.
pub struct Backend {
    settings: Settings,
    client: HttpClient,
    slots: Arc<Semaphore>,
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
    /// Builds the client (reads the CA bundle).
    pub fn new(settings: Settings) -> Result<Backend, String> {
        let roots = load_roots(settings.ca_file.as_deref())?;
        let tls = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS client configuration: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
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
        })
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
    /// deadline, and retries idempotent calls on transport failures and 502/503/504.
    pub async fn call(&self, call: &Call) -> Result<Reply, Error> {
        // A free slot is taken at once; only a wait for one sets up a deadline.
        let _slot = match self.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => match tokio::time::timeout(
                self.settings.queue_timeout,
                self.slots.clone().acquire_owned(),
            )
            .await
            {
                Ok(Ok(permit)) => permit,
                Ok(Err(_)) | Err(_) => {
                    return Err(Error::Platform(PlatformError::Overloaded {
                        retry_after_secs: 1,
                    }));
                }
            },
        };
        let idempotent = matches!(
            call.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE
        );
        let attempts = if idempotent {
            self.settings.retries + 1
        } else {
            1
        };
        let mut backoff = Duration::from_millis(50);
        let mut last = None;
        for attempt in 1..=attempts {
            let outcome = self.attempt(call).await;
            let retryable = match &outcome {
                Ok(r) => matches!(r.status.as_u16(), 502..=504),
                Err(Error::Platform(PlatformError::Unreachable(_) | PlatformError::Timeout(_))) => {
                    true
                }
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
            if !retryable || attempt == attempts {
                if attempt > 1 && outcome.is_ok() {
                    tracing::warn!(
                        operation = call.operation,
                        attempt,
                        "platform call succeeded after retry"
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

    async fn attempt(&self, call: &Call) -> Result<Reply, Error> {
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
        let timeout = self.settings.timeout;
        let max = self.settings.max_response_bytes;
        let op = call.operation;
        let fut = async {
            let resp = self.client.request(req).await.map_err(|e| {
                let detail = format!("{op}: {}", describe(&e));
                Error::Platform(PlatformError::Unreachable(detail))
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

fn describe(e: &hyper_util::client::legacy::Error) -> String {
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
