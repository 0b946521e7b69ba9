//! The request pipeline, one stage per line: route → authenticate → read body → dispatch →
//! respond, then one access-log line. Every failure becomes a SCIM error response here; the
//! hyper service never sees an `Err`.

use bytes::Bytes;
use http::header::{ALLOW, HOST, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::time::Instant;

use crate::app::{App, Runtime};
use crate::auth::Principal;
use crate::error::{Error, PlatformError};
use crate::request::{self, Query};
use crate::respond::{self, Body, Failure};
use crate::routes::{self, Endpoint, NoRoute};
use crate::scim::error::ScimError;

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
    let (resource, operation) = trace.kind;
    rt.metrics.request(
        resource,
        operation,
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
    let endpoint = route(rt, req.uri().path())?;
    trace.kind = classify(&endpoint, req.method());
    trace.principal = Some(authenticate(rt, req.headers())?);
    let (parts, body) = req.into_parts();
    request::check_content_type(&parts.headers)?;
    let server = &rt.config.server;
    let body = request::read_body(
        &parts.headers,
        body,
        server.max_body_bytes,
        server.body_read_timeout,
    )
    .await?;
    let query = Query::parse(parts.uri.query());
    let base_url = base_url(rt, &parts, conn);
    dispatch(rt, &parts.method, endpoint, &query, &body, &base_url, trace).await
}

/// The `resource` and `operation` metric labels of a request.
fn classify(endpoint: &Endpoint, method: &Method) -> (&'static str, &'static str) {
    let op = |m: &Method| match *m {
        Method::GET | Method::HEAD => "get",
        Method::POST => "create",
        Method::PUT => "replace",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "other",
    };
    match endpoint {
        Endpoint::Collection(k) => (
            k.name(),
            if *method == Method::GET {
                "list"
            } else {
                op(method)
            },
        ),
        Endpoint::Resource(k, _) => (k.name(), op(method)),
        Endpoint::Search(Some(k)) => (k.name(), "search"),
        Endpoint::Search(None) => ("all", "search"),
        Endpoint::Bulk | Endpoint::Me => ("none", "other"),
        _ => ("discovery", "discovery"),
    }
}

/// What the access log learns while a request is served.
#[derive(Debug)]
struct Trace {
    /// The request id.
    request_id: String,
    /// `resource` and `operation` labels for metrics.
    kind: (&'static str, &'static str),
    /// The token the request authenticated with.
    principal: Option<Principal>,
    /// The normalize rules that fired.
    quirks: crate::normalize::Fired,
}

impl Default for Trace {
    fn default() -> Self {
        Trace {
            request_id: String::new(),
            kind: ("none", "other"),
            principal: None,
            quirks: Vec::new(),
        }
    }
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

fn authenticate(rt: &Runtime, headers: &http::HeaderMap) -> Result<Principal, Failure> {
    rt.config.auth.tokens.authenticate(headers).map_err(|f| {
        tracing::debug!(reason = f.as_str(), "authentication failed");
        rt.metrics.auth_failure(f.as_str());
        Failure::from(f.to_error()).with_header(WWW_AUTHENTICATE, f.challenge())
    })
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

async fn dispatch(
    rt: &Runtime,
    method: &Method,
    endpoint: Endpoint,
    query: &Query,
    body: &Bytes,
    base_url: &str,
    trace: &mut Trace,
) -> Result<Response<Body>, Failure> {
    let d = &rt.discovery;
    let read_only = |name: &str| -> Failure {
        Failure::from(ScimError::new(
            405,
            None,
            format!("{name} is read-only: only GET is supported"),
        ))
        .with_header(ALLOW, "GET, HEAD")
    };
    let is_read = *method == Method::GET || *method == Method::HEAD;
    match endpoint {
        Endpoint::ServiceProviderConfig if is_read => Ok(respond::json(
            StatusCode::OK,
            &d.service_provider_config(base_url),
        )),
        Endpoint::Schemas if is_read => Ok(respond::json(StatusCode::OK, &d.schemas(base_url))),
        Endpoint::Schema(id) if is_read => d
            .schema(&id, base_url)
            .map(|v| respond::json(StatusCode::OK, &v))
            .ok_or_else(|| Failure::from(ScimError::not_found(format!("no schema {id:?}")))),
        Endpoint::ResourceTypes if is_read => {
            Ok(respond::json(StatusCode::OK, &d.resource_types(base_url)))
        }
        Endpoint::ResourceType(name) if is_read => d
            .resource_type(&name, base_url)
            .map(|v| respond::json(StatusCode::OK, &v))
            .ok_or_else(|| {
                Failure::from(ScimError::not_found(format!("no resource type {name:?}")))
            }),
        Endpoint::ServiceProviderConfig => Err(read_only("/ServiceProviderConfig")),
        Endpoint::Schemas | Endpoint::Schema(_) => Err(read_only("/Schemas")),
        Endpoint::ResourceTypes | Endpoint::ResourceType(_) => Err(read_only("/ResourceTypes")),
        Endpoint::Bulk => Err(Failure::from(ScimError::new(
            501,
            None,
            "bulk operations are not supported (ServiceProviderConfig bulk.supported = false); send individual requests",
        ))),
        Endpoint::Me => Err(Failure::from(ScimError::new(
            501,
            None,
            "the /Me endpoint is not supported (RFC 7644 §3.11)",
        ))),
        Endpoint::Collection(_) | Endpoint::Resource(..) | Endpoint::Search(_) => {
            match rt.mapped() {
                Some((m, client)) => {
                    let token = trace.principal.as_ref().map_or("-", |p| &*p.token_name);
                    let req = ResourceRequest {
                        method,
                        endpoint,
                        query,
                        body,
                        base_url,
                        who: Some(crate::audit::Who {
                            request_id: &trace.request_id,
                            token,
                        }),
                    };
                    let observed = crate::platform::calls::Observed {
                        inner: client,
                        metrics: &rt.metrics,
                    };
                    let (result, quirks) = resources(rt, m, &observed, req).await;
                    trace.quirks = quirks;
                    result
                }
                None => unmapped(method, &endpoint),
            }
        }
    }
}

/// Without a mapping only Entra's Test Connection probes get an answer (an empty list).
fn unmapped(method: &Method, endpoint: &Endpoint) -> Result<Response<Body>, Failure> {
    if let (Endpoint::Collection(_), &Method::GET) = (endpoint, method) {
        return Ok(respond::json(
            StatusCode::OK,
            &crate::scim::list::list_response(0, 1, Vec::new()),
        ));
    }
    Err(Failure::from(ScimError::not_found(
        "no mapping is configured ([scim] mapping), so no resources are served",
    )))
}

/// A request for a resource endpoint, as far as the service needs it.
#[derive(Debug)]
pub struct ResourceRequest<'a> {
    /// The method.
    pub method: &'a Method,
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The query parameters.
    pub query: &'a Query,
    /// The body (possibly empty).
    pub body: &'a Bytes,
    /// The SCIM base URL the client used.
    pub base_url: &'a str,
    /// The request id and the token name, for the audit log (`None`: no audit, e.g. `explain`).
    pub who: Option<crate::audit::Who<'a>>,
}

/// The resource endpoints, served through the mapping and a transport (the platform client, or
/// the dry run of `scim-sidecar explain`).
pub async fn resources<T: crate::platform::calls::Transport>(
    rt: &Runtime,
    mapping: &crate::mapping::model::Mapping,
    transport: &T,
    req: ResourceRequest<'_>,
) -> (Result<Response<Body>, Failure>, crate::normalize::Fired) {
    use crate::service::{Ctx, Projection, read, write};
    let ResourceRequest {
        method,
        endpoint,
        query,
        body,
        base_url,
        who,
    } = req;
    let ctx = Ctx {
        mapping,
        transport,
        base_url,
        settings: &rt.service,
        normalizer: &rt.normalizer,
        fired: std::sync::Mutex::new(Vec::new()),
        metrics: &rt.metrics,
        audit: who,
        locks: &rt.locks,
        conflicted: std::sync::atomic::AtomicU16::new(0),
    };
    let result = async {
        let projection = || {
            Projection::parse(
                query.attributes.as_deref(),
                query.excluded_attributes.as_deref(),
            )
        };
        let json = || request::parse_json(body);
        // The client's dialect → RFC 7644, for a resource type's POST/PUT and PATCH bodies.
        let resource_body = |kind| -> Result<serde_json::Value, Failure> {
            let v = json()?;
            match mapping.resource(kind) {
                Some(map) => {
                    let mut fired = Vec::new();
                    let v = rt.normalizer.resource(v, &map.schema, &mut fired)?;
                    ctx.record(fired);
                    Ok(v)
                }
                None => Ok(v),
            }
        };
        let patch_body = |kind| -> Result<serde_json::Value, Failure> {
            let v = json()?;
            match mapping.resource(kind) {
                Some(map) => {
                    let mut fired = Vec::new();
                    let v = rt.normalizer.patch(v, &map.schema, &mut fired)?;
                    ctx.record(fired);
                    Ok(v)
                }
                None => Ok(v),
            }
        };
        let not_allowed = |allowed: &str, what: &str| -> Failure {
            Failure::from(ScimError::bad_request_plain(format!(
                "{method} is not supported on {what}; use {allowed}"
            )))
        };
        let outcome = match (endpoint, method) {
            (Endpoint::Collection(kind), &Method::GET) => {
                let q = list_query(&ctx, kind, query)?;
                read::list(&ctx, kind, &q).await?
            }
            (Endpoint::Collection(kind), &Method::POST) => {
                write::create(&ctx, kind, &resource_body(kind)?).await?
            }
            (Endpoint::Collection(kind), _) => {
                return Err(not_allowed("GET or POST", kind.endpoint()));
            }
            (Endpoint::Resource(kind, id), &Method::GET) => {
                read::get(&ctx, kind, &id, &projection()?).await?
            }
            (Endpoint::Resource(kind, id), &Method::PUT) => {
                write::replace(&ctx, kind, &id, &resource_body(kind)?).await?
            }
            (Endpoint::Resource(kind, id), &Method::PATCH) => {
                write::patch(&ctx, kind, &id, &patch_body(kind)?, &projection()?).await?
            }
            (Endpoint::Resource(kind, id), &Method::DELETE) => {
                write::delete(&ctx, kind, &id).await?
            }
            (Endpoint::Resource(kind, _), _) => {
                return Err(not_allowed(
                    "GET, PUT, PATCH or DELETE",
                    &format!("{}/{{id}}", kind.endpoint()),
                ));
            }
            (Endpoint::Search(kind), &Method::POST) => read::search(&ctx, kind, &json()?).await?,
            (Endpoint::Search(_), _) => return Err(not_allowed("POST", "/.search")),
            _ => return Err(Failure::from(ScimError::not_found("no such endpoint"))),
        };
        Ok(answer(outcome))
    }
    .await;
    (result, ctx.fired())
}

fn list_query<T: crate::platform::calls::Transport>(
    ctx: &crate::service::Ctx<'_, T>,
    kind: crate::routes::ResourceKind,
    query: &Query,
) -> Result<crate::service::read::ListQuery, Failure> {
    let paging = crate::scim::list::parse_paging(
        query.start_index.as_deref(),
        query.count.as_deref(),
        ctx.settings.max_page_size,
    )?;
    let projection = crate::service::Projection::parse(
        query.attributes.as_deref(),
        query.excluded_attributes.as_deref(),
    )?;
    let filter = match (&query.filter, ctx.mapping.resource(kind)) {
        (Some(text), Some(map)) => Some(crate::service::read::parse_filter(ctx, map, text)?),
        _ => None,
    };
    Ok(crate::service::read::ListQuery {
        filter,
        paging,
        projection,
    })
}

fn answer(outcome: crate::service::Outcome) -> Response<Body> {
    use crate::service::Outcome;
    let etag_header = |r: &mut Response<Body>, etag: &str| {
        if let Ok(v) = HeaderValue::from_str(etag) {
            r.headers_mut().insert(http::header::ETAG, v);
        }
    };
    match outcome {
        Outcome::Ok { body, etag } => {
            let mut r = respond::json(StatusCode::OK, &body);
            if let Some(e) = etag {
                etag_header(&mut r, &e);
            }
            r
        }
        Outcome::Created {
            body,
            location,
            etag,
        } => {
            let mut r = respond::json(StatusCode::CREATED, &body);
            etag_header(&mut r, &etag);
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(http::header::LOCATION, v);
            }
            r
        }
        Outcome::NoContent => respond::no_content(),
    }
}

struct AccessLine<'a> {
    method: &'a Method,
    path: &'a str,
    status: StatusCode,
    started: Instant,
    request_id: &'a str,
    principal: Option<&'a Principal>,
    quirks: &'a [&'static str],
    peer: SocketAddr,
    fault: Option<(&'static str, String)>,
}

/// One line per request on the `scim_sidecar::access` target. The query string is never logged
/// (filters carry user names and e-mail addresses), nor are bodies or tokens: only the token's name.
fn access_log(l: &AccessLine<'_>) {
    let duration_ms = (l.started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
    let token = l.principal.map(|p| &*p.token_name).unwrap_or("-");
    match &l.fault {
        Some(("sidecar", cause)) => tracing::error!(
            target: "scim_sidecar::access",
            method = %l.method, path = l.path, status = l.status.as_u16(),
            duration_ms, request_id = l.request_id, token, peer = %l.peer, quirks = %l.quirks.join(","),
            fault = "sidecar", cause = %cause, "request failed"
        ),
        Some(("platform", cause)) => tracing::warn!(
            target: "scim_sidecar::access",
            method = %l.method, path = l.path, status = l.status.as_u16(),
            duration_ms, request_id = l.request_id, token, peer = %l.peer, quirks = %l.quirks.join(","),
            fault = "platform", cause = %cause, "request failed"
        ),
        Some((fault, cause)) => tracing::info!(
            target: "scim_sidecar::access",
            method = %l.method, path = l.path, status = l.status.as_u16(),
            duration_ms, request_id = l.request_id, token, peer = %l.peer, quirks = %l.quirks.join(","),
            fault = *fault, cause = %cause, "request"
        ),
        None => tracing::info!(
            target: "scim_sidecar::access",
            method = %l.method, path = l.path, status = l.status.as_u16(),
            duration_ms, request_id = l.request_id, token, peer = %l.peer, quirks = %l.quirks.join(","), "request"
        ),
    }
}
