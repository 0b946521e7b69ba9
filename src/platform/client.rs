//! The platform client: a pooled hyper-util client over HTTP or HTTPS (rustls with the configured
//! CA bundle, or the Mozilla roots), with a deadline on every attempt, retries with backoff for
//! idempotent calls only, a cap on concurrent calls, and a cap on response size. With OAuth2
//! client credentials (`oauth`), every call carries a cached access token, and a 401 refreshes it
//! and retries the call once. A client certificate, when configured, is presented to the platform
//! and to its token endpoint alike.
//!
//! With a rate cap (`platform.rate`), every attempt first takes a token of the client's bucket
//! ([`rate`](super::rate)), waiting for it up to `queue_timeout`, and a platform `Retry-After` on
//! a 429 or 503 holds every call until it passes; the readiness probe is not counted.
//!
//! Every call of a SCIM request fits in the request's budget ([`budget`]): an attempt's deadline
//! is capped at what is left of it, no attempt starts with less than [`budget::MIN_ATTEMPT`] left,
//! and an attempt cut short by the budget is not retried.
//!
//! It moves bytes and classifies transport failures; what a platform status *means* is the
//! mapping's business (`mapping::platform_errors`).

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::budget;
use super::oauth;
use super::rate::Bucket;
use super::settings::Settings;
use super::wire::{self, Call, HttpClient, Reply};
use crate::error::{Error, PlatformError};

/// The platform client: the live part built from [`Settings`] by the runtime. Cheap to share
/// (`Arc`); one per runtime.
pub struct Client {
    settings: Settings,
    client: HttpClient,
    slots: Arc<Semaphore>,
    /// The access-token cache, with OAuth2.
    tokens: oauth::Tokens,
    /// Where token fetches are counted.
    metrics: Arc<crate::metrics::Metrics>,
    /// The rate cap's token bucket, with `platform.rate`.
    bucket: Option<Bucket>,
}

/// What the rate cap needs to know of a call: whether it is counted (not the readiness probe)
/// and the request's deadline.
#[derive(Clone, Copy)]
struct Gate {
    rated: bool,
    deadline: Option<Instant>,
    min_attempt: Duration,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds the live client from loaded settings: the connection pool, the concurrency
    /// slots and an empty access-token cache. Token fetches are counted in `metrics`.
    pub fn new(settings: Settings, metrics: Arc<crate::metrics::Metrics>) -> Client {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(settings.connect_timeout));
        http.set_nodelay(true);
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(rustls::ClientConfig::clone(&settings.tls.config))
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        let client = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(settings.max_concurrency)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https);
        Client {
            slots: Arc::new(Semaphore::new(settings.max_concurrency)),
            bucket: settings.rate.map(Bucket::new),
            settings,
            client,
            tokens: oauth::Tokens::default(),
            metrics,
        }
    }

    /// After a reload: keeps the access token `old` holds when the credentials it was issued
    /// for (token endpoint, client id and secret, scope, audience, client certificate) did not
    /// change. A changed secret or certificate starts with no token.
    pub fn adopt_token(&self, old: &Client) {
        if self.settings.oauth.is_some()
            && self.settings.oauth == old.settings.oauth
            && self.settings.tls.identity == old.settings.tls.identity
        {
            self.tokens.adopt(&old.tokens);
        }
    }

    /// After a reload: keeps the state of `old`'s rate bucket, whatever the new rate (the tokens
    /// taken and not yet refilled stay taken, a platform `Retry-After` hold stays), so that a
    /// reload does not refill the bucket; the new rate applies at once. Without a rate before,
    /// the bucket starts full.
    pub fn adopt_rate(&self, old: &Client) {
        if let (Some(new), Some(old)) = (&self.bucket, &old.bucket) {
            new.adopt(old);
        }
    }

    /// The settings this client was built with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The absolute URL a call goes to (for logs and `explain`).
    pub fn url(&self, call: &Call) -> String {
        self.settings.url(call)
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
        let gate = Gate {
            rated: true,
            deadline: budget::deadline(),
            min_attempt,
        };
        self.call_until(call, gate, attempts).await
    }

    /// One attempt of `call`, done (answer, failure or timeout) by `deadline`: the readiness
    /// probe, which must answer within its own deadline whatever the platform does (however
    /// short that deadline is: it is the whole point of the call).
    pub async fn probe(&self, call: &Call, deadline: Instant) -> Result<Reply, Error> {
        let gate = Gate {
            rated: false,
            deadline: Some(deadline),
            min_attempt: Duration::ZERO,
        };
        self.call_until(call, gate, 1).await
    }

    /// How long a call may wait for a token of the rate cap: `queue_timeout`; an undo
    /// ([`budget::undoing`]) until the request's deadline, so that a part-done write is taken
    /// back rather than left half-applied because the bucket was empty.
    fn token_wait_until(&self, gate: &Gate) -> Instant {
        let queue = Instant::now() + self.settings.queue_timeout;
        match gate.deadline {
            Some(deadline) if budget::is_undoing() => deadline.max(queue),
            _ => queue,
        }
    }

    /// Waits for a token of the rate cap, if there is one and the call is counted, until `until`
    /// at the latest and never so long that less than `min_attempt` of the budget is left.
    async fn admit(&self, gate: Gate, until: Instant) -> Result<(), Error> {
        let Some(bucket) = self.bucket.as_ref().filter(|_| gate.rated) else {
            return Ok(());
        };
        let now = Instant::now();
        let mut max_wait = until.saturating_duration_since(now);
        if let Some(d) = gate.deadline {
            max_wait = max_wait.min(
                d.saturating_duration_since(now)
                    .saturating_sub(gate.min_attempt),
            );
        }
        match bucket.acquire(max_wait).await {
            Ok(waited) => {
                self.metrics.rate_wait(waited);
                Ok(())
            }
            Err(limited) => {
                self.metrics.rate_limited();
                Err(Error::Platform(PlatformError::RateLimited {
                    retry_after_secs: limited.retry_after_secs,
                }))
            }
        }
    }

    /// A platform 429 or 503 with `Retry-After: <seconds>` holds every call until then (with a
    /// rate cap; capped at [`super::rate::MAX_HOLD`]).
    fn note_retry_after(&self, outcome: &Result<Reply, Error>) {
        let (Some(bucket), Ok(reply)) = (&self.bucket, outcome) else {
            return;
        };
        if !matches!(reply.status.as_u16(), 429 | 503) {
            return;
        }
        if let Some(secs) = reply
            .headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            bucket.hold(Instant::now() + Duration::from_secs(secs));
        }
    }

    /// `call` in at most `attempts` attempts, none starting with less than `gate.min_attempt`
    /// left before `gate.deadline`.
    async fn call_until(&self, call: &Call, gate: Gate, attempts: u32) -> Result<Reply, Error> {
        let Gate {
            deadline,
            min_attempt,
            ..
        } = gate;
        let left = |d: Option<Instant>| d.map(|d| d.saturating_duration_since(Instant::now()));
        let spent = |what: &str| {
            Err(Error::Platform(PlatformError::Timeout(format!(
                "{}: the request's platform budget (platform.request_budget) was spent {what}",
                call.operation
            ))))
        };
        // The first attempt's token before the slot: a call waiting for a token holds no slot.
        self.admit(gate, self.token_wait_until(&gate)).await?;
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
            if attempt > 1
                && let Err(e) = self.admit(gate, self.token_wait_until(&gate)).await
            {
                // No token for the retry in time: the last answer stands.
                return last.unwrap_or(Err(e));
            }
            // The attempt's deadline: the platform timeout, capped at what is left of the budget.
            let timeout = match left(deadline) {
                None => self.settings.timeout,
                Some(l) if l < min_attempt || l.is_zero() => {
                    return last.unwrap_or_else(|| spent("before the call could start"));
                }
                Some(l) => l.min(self.settings.timeout),
            };
            let outcome = self
                .authorized_attempt(call, &mut reauthorized, timeout, gate)
                .await;
            self.note_retry_after(&outcome);
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
    /// sent once more (once per [`Client::call`], whatever its retries).
    async fn authorized_attempt(
        &self,
        call: &Call,
        reauthorized: &mut bool,
        timeout: Duration,
        gate: Gate,
    ) -> Result<Reply, Error> {
        let Some(oauth) = &self.settings.oauth else {
            return self.attempt(call, None, timeout).await;
        };
        let fetch = oauth::Fetch {
            oauth,
            client: &self.client,
            timeout,
            max_bytes: self.settings.max_response_bytes.min(1 << 20),
            metrics: Some(&self.metrics),
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
        // The call is sent again: it takes a token of its own.
        self.admit(
            gate,
            Instant::now() + self.settings.queue_timeout.min(timeout),
        )
        .await?;
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
                let detail = format!("{op}: {}", wire::describe(&e));
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
