//! The request pipeline, one stage per line: route → authenticate → read → discovery
//! (short-circuit) → normalize → `Operation::parse` → `service::dispatch::run` → respond, then one
//! access-log line. Every failure becomes a SCIM error response here; the hyper service never
//! sees an `Err`.

use bytes::Bytes;
use http::header::{HOST, WWW_AUTHENTICATE};
use http::{HeaderValue, Request, Response};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::time::Instant;

use crate::access_log::{AccessLine, Labels, access_log};
use crate::app::{App, Runtime};
use crate::audit::Who;
use crate::auth::{AuthFailure, Method as AuthMethod, Principal};
use crate::error::{Error, PlatformError};
use crate::mapping::model::Mapping;
use crate::operation::Operation;
use crate::platform::calls::{Observed, Transport};
use crate::request::{self, Input, Query};
use crate::respond::{self, Body, Failure};
use crate::routes::{self, Endpoint, NoRoute};
use crate::scim::error::ScimError;
use crate::service::{self, Ctx};

/// What the connection knows about a request that the request itself does not carry.
#[derive(Debug, Clone, Copy)]
pub struct Conn {
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the connection is TLS (for absolute URLs in `Location` and `meta.location`).
    pub tls: bool,
}

/// Serves one request: never fails, always answers, always logs one access line.
pub async fn handle<B>(
    app: Arc<App>,
    req: Request<B>,
    conn: Conn,
) -> Result<Response<Body>, Infallible>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let started = Instant::now();
    let rt = app.runtime();
    let _in_flight = rt.metrics.in_flight();
    let request_id = app.request_ids.for_request(req.headers());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut trace = Trace {
        request_id: request_id.clone(),
        ..Trace::default()
    };
    let timeout = rt.config.server.request_timeout;
    // The platform calls' budget, counted from the request's start like the client's own clock.
    let budget = rt
        .config
        .scim
        .mapping
        .as_deref()
        .map_or(timeout, |m| m.platform.request_budget);
    let deadline = crate::platform::budget::deadline_for(started, budget, timeout);
    let served = crate::platform::budget::within(deadline, serve(&rt, req, conn, &mut trace));
    let outcome = match tokio::time::timeout(timeout, served).await {
        Ok(outcome) => outcome,
        Err(_) => Err(Failure::from(Error::Platform(PlatformError::Timeout(
            format!(
                "request exceeded server.request_timeout ({})",
                crate::config::values::format_duration(timeout)
            ),
        )))),
    };
    let (mut response, fault) = match outcome {
        Ok(r) => (r, None),
        Err(f) => {
            let fault = Some((f.error.fault(), f.error.to_string()));
            (f.into_response(), fault)
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    if rt.shadow.is_some() {
        response
            .headers_mut()
            .insert(crate::shadow::HEADER, HeaderValue::from_static("shadow"));
    }
    rt.metrics.request(
        trace.labels.resource,
        trace.labels.operation,
        response.status().as_u16(),
        started.elapsed(),
    );
    access_log(&AccessLine {
        method: &method,
        path: &path,
        status: response.status(),
        started,
        request_id: &request_id,
        principal: trace.principal.as_ref(),
        quirks: &trace.quirks,
        peer: conn.peer,
        fault,
    });
    Ok(response)
}

/// The stages of one request, one per line. The OAuth2 token endpoint (`[auth.oauth]`) is the one
/// path answered before authentication: its clients authenticate with their id and secret there.
/// Any other path is routed before authentication only to label the metrics: its answer waits
/// until the client has authenticated, so an unauthenticated client gets 401 whatever the path
/// and learns nothing of which paths exist.
async fn serve<B>(
    rt: &Runtime,
    req: Request<B>,
    conn: Conn,
    trace: &mut Trace,
) -> Result<Response<Body>, Failure>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if let Some(o) = rt.config.auth.oauth.as_ref()
        && req.uri().path() == o.settings.path
    {
        return token_endpoint(rt, &o.settings, req, conn, trace).await;
    }
    let endpoint = route(rt, req.uri().path());
    trace.labels = Labels::of(endpoint.as_ref().ok(), req.method());
    trace.principal = Some(authenticate(rt, req.headers()).await?);
    let endpoint = endpoint?;
    let (parts, body) = req.into_parts();
    let body = read(rt, &parts.headers, body).await?;
    let base_url = base_url(rt, &parts, conn);
    let method = &parts.method;
    if let Some(answer) = rt.discovery.answer(&endpoint, method, &base_url) {
        return answer;
    }
    let Some((mapping, client)) = rt.mapped() else {
        return crate::discovery::unmapped(&endpoint, method);
    };
    let input = Input::new(Query::parse(parts.uri.query()), body);
    let (input, quirks) = rt.normalizer.apply(mapping, &endpoint, method, input)?;
    trace.quirks = quirks;
    let origin = rt
        .shadow
        .as_ref()
        .map(|_| crate::shadow::Origin::of(&trace.request_id, method, &parts.uri, &endpoint));
    let op = Operation::parse(endpoint, method, input, mapping, rt.service.limits())?;
    let observed = Observed {
        inner: client,
        metrics: &rt.metrics,
    };
    if let (Some(shadow), Some(origin)) = (rt.shadow.as_deref(), origin) {
        let shadowed = shadow.transport(&observed, mapping, &rt.metrics, origin);
        let ctx = context(rt, mapping, &shadowed, &base_url, trace);
        return Ok(respond::outcome(service::dispatch::run(&ctx, op).await?));
    }
    let ctx = context(rt, mapping, &observed, &base_url, trace);
    let outcome = service::dispatch::run(&ctx, op).await?;
    Ok(respond::outcome(outcome))
}

/// The context of a resource operation served for a client through the platform.
fn context<'a, T: Transport>(
    rt: &'a Runtime,
    mapping: &'a Mapping,
    transport: &'a T,
    base_url: &'a str,
    trace: &'a Trace,
) -> Ctx<'a, T> {
    let who = Who {
        request_id: &trace.request_id,
        token: trace.principal.as_ref().map_or("-", |p| &*p.token_name),
    };
    let (settings, metrics, locks) = (&rt.service, &rt.metrics, &*rt.locks);
    Ctx::new(
        mapping,
        transport,
        base_url,
        settings,
        metrics,
        locks,
        Some(who),
    )
}

/// What the access log learns while a request is served.
#[derive(Debug, Default)]
struct Trace {
    /// The request id.
    request_id: String,
    /// `resource` and `operation` labels for metrics.
    labels: Labels,
    /// The token the request authenticated with.
    principal: Option<Principal>,
    /// The normalize rules that fired.
    quirks: crate::normalize::Fired,
}

/// The body, after its media type is checked, within the size and time limits.
async fn read<B>(rt: &Runtime, headers: &http::HeaderMap, body: B) -> Result<Bytes, Failure>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    request::check_content_type(headers)?;
    let server = &rt.config.server;
    Ok(request::read_body(
        headers,
        body,
        server.max_body_bytes,
        server.body_read_timeout,
    )
    .await?)
}

fn route(rt: &Runtime, path: &str) -> Result<Endpoint, Failure> {
    routes::route(&rt.config.scim.base_path, path).map_err(|e| {
        let detail = match e {
            NoRoute::OutsideBase => format!(
                "no SCIM endpoint at {path:?}; the SCIM base path is {:?}",
                if rt.config.scim.base_path.is_empty() {
                    "/"
                } else {
                    &rt.config.scim.base_path
                }
            ),
            NoRoute::Unknown => format!("no SCIM endpoint at {path:?}"),
            NoRoute::BadId => "the resource id in the path is empty or not valid UTF-8".to_owned(),
        };
        Failure::from(ScimError::not_found(detail))
    })
}

/// The one path served before authentication: the OAuth2 token endpoint (`oauth.rs`), where
/// clients authenticate with their id and secret instead of a bearer token.
async fn token_endpoint<B>(
    rt: &Runtime,
    settings: &crate::oauth::Settings,
    req: Request<B>,
    conn: Conn,
    trace: &mut Trace,
) -> Result<Response<Body>, Failure>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    trace.labels = Labels {
        resource: "none",
        operation: "token",
    };
    let (parts, body) = req.into_parts();
    let server = &rt.config.server;
    let body = request::read_body(
        &parts.headers,
        body,
        server.max_body_bytes,
        server.body_read_timeout,
    )
    .await?;
    let token_request = crate::oauth::TokenRequest {
        method: &parts.method,
        headers: &parts.headers,
        body: &body,
        peer: conn.peer.ip(),
    };
    let (response, outcome) = crate::oauth::answer(settings, &rt.oauth_limiter, &token_request);
    match outcome {
        crate::oauth::Outcome::Issued(client) => {
            rt.metrics.oauth_token_issued();
            trace.principal = Some(Principal {
                token_name: client,
                method: AuthMethod::OAuth,
            });
        }
        crate::oauth::Outcome::Refused(reason) => rt.metrics.oauth_token_failure(reason),
    }
    Ok(response)
}

/// Authenticates a bearer token: a static token first (constant time over all of them); then a
/// JWT whose `iss` names a `[[auth.jwt]]` issuer (its JWKS); then, with `[auth.oauth]`, an access
/// token the sidecar issued (signature, `exp`/`nbf`, `iss`, `aud`, a client still configured).
async fn authenticate(rt: &Runtime, headers: &http::HeaderMap) -> Result<Principal, Failure> {
    let refuse = |f: AuthFailure, reason: &'static str| {
        rt.metrics.auth_failure(reason);
        Failure::from(f.to_error()).with_header(WWW_AUTHENTICATE, f.challenge())
    };
    let auth = &rt.config.auth;
    let token = crate::auth::bearer(headers).map_err(|f| {
        tracing::debug!(reason = f.as_str(), "authentication failed");
        refuse(f, f.as_str())
    })?;
    if let Some(name) = auth.tokens.verify(token) {
        return Ok(Principal {
            token_name: name.clone(),
            method: AuthMethod::Token,
        });
    }
    let jwt = std::str::from_utf8(token)
        .ok()
        .filter(|t| t.bytes().filter(|b| *b == b'.').count() == 2);
    if let Some(jwt) = jwt
        && let Some(verified) = rt.jwt.verify(jwt).await
    {
        return match verified {
            Ok(subject) => Ok(Principal {
                token_name: Arc::from(subject),
                method: AuthMethod::Jwt,
            }),
            Err(r) => {
                tracing::info!(method = "jwt", reason = r.as_str(), "bearer token refused");
                Err(refuse(AuthFailure::Invalid, r.as_str()))
            }
        };
    }
    if let (None, Some(_), false) = (&auth.oauth, jwt, rt.jwt.is_empty()) {
        // A JWT whose `iss` names none of the configured issuers.
        tracing::info!(
            method = "jwt",
            reason = "wrong_issuer",
            "bearer token refused"
        );
        return Err(refuse(AuthFailure::Invalid, "wrong_issuer"));
    }
    if let (Some(o), Some(jwt)) = (&auth.oauth, jwt) {
        let settings = &o.settings;
        let verified = settings
            .keys
            .verify(jwt)
            .map_err(|r| r.as_str())
            .and_then(|sub| settings.known(&sub).cloned().ok_or("unknown_client"));
        return match verified {
            Ok(client) => Ok(Principal {
                token_name: client,
                method: AuthMethod::OAuth,
            }),
            Err(reason) => {
                tracing::info!(method = "oauth", reason, "bearer token refused");
                Err(refuse(AuthFailure::Invalid, reason))
            }
        };
    }
    tracing::debug!(
        reason = AuthFailure::Invalid.as_str(),
        "authentication failed"
    );
    Err(refuse(AuthFailure::Invalid, AuthFailure::Invalid.as_str()))
}

/// The externally visible URL of the SCIM base: `server.public_url` if set, else built from the
/// request's authority (HTTP/2) or `Host` header and the connection's scheme; relative when the
/// host is missing or not a plain host name.
fn base_url(rt: &Runtime, parts: &http::request::Parts, conn: Conn) -> String {
    if let Some(u) = &rt.config.server.public_url {
        return u.clone();
    }
    let host = parts
        .uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| parts.headers.get(HOST).and_then(|h| h.to_str().ok()))
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                })
        });
    let base = &rt.config.scim.base_path;
    match host {
        Some(h) => format!("{}://{h}{base}", if conn.tls { "https" } else { "http" }),
        None => base.clone(),
    }
}
