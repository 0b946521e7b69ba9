//! The access log and the request metrics' labels: one line per request on the
//! `scim_sidecar::access` target, its level chosen by whose fault a failure was.

pub mod line;

use http::{Method, StatusCode};
use std::cell::RefCell;
use std::net::SocketAddr;
use tokio::time::Instant;
use tracing::Level;

use crate::auth::Principal;
use crate::error::Fault;
use crate::routes::Endpoint;

/// The access log's `tracing` target (filter it with `log.level`, e.g. `scim_sidecar::access=warn`).
pub const TARGET: &str = "scim_sidecar::access";

/// The `resource` and `operation` labels of a request's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labels {
    /// `User`, `Group`, `all` (root `/.search`), `discovery` or `none`.
    pub resource: &'static str,
    /// `list`, `search`, `get`, `create`, `replace`, `patch`, `delete`, `discovery` or `other`.
    pub operation: &'static str,
}

impl Default for Labels {
    fn default() -> Self {
        Labels {
            resource: "none",
            operation: "other",
        }
    }
}

impl Labels {
    /// The labels of a request for an endpoint (`None`: a path that names none).
    pub fn of(endpoint: Option<&Endpoint>, method: &Method) -> Labels {
        let op = |m: &Method| match *m {
            Method::GET | Method::HEAD => "get",
            Method::POST => "create",
            Method::PUT => "replace",
            Method::PATCH => "patch",
            Method::DELETE => "delete",
            _ => "other",
        };
        let (resource, operation) = match endpoint {
            None => return Labels::default(),
            Some(Endpoint::Collection(k)) => (
                k.name(),
                if *method == Method::GET {
                    "list"
                } else {
                    op(method)
                },
            ),
            Some(Endpoint::Resource(k, _)) => (k.name(), op(method)),
            Some(Endpoint::Search(Some(k))) => (k.name(), "search"),
            Some(Endpoint::Search(None)) => ("all", "search"),
            Some(Endpoint::Bulk | Endpoint::Me) => ("none", "other"),
            Some(
                Endpoint::ServiceProviderConfig
                | Endpoint::Schemas
                | Endpoint::Schema(_)
                | Endpoint::ResourceTypes
                | Endpoint::ResourceType(_),
            ) => ("discovery", "discovery"),
        };
        Labels {
            resource,
            operation,
        }
    }
}

/// What the access line of one request says.
#[derive(Debug)]
pub struct AccessLine<'a> {
    /// The method.
    pub method: &'a Method,
    /// The path (never the query: filters carry user names and e-mail addresses).
    pub path: &'a str,
    /// The answer's status.
    pub status: StatusCode,
    /// When the request started.
    pub started: Instant,
    /// The request id.
    pub request_id: &'a str,
    /// The token the request authenticated with, if it did.
    pub principal: Option<&'a Principal>,
    /// The normalize rules that fired.
    pub quirks: &'a [&'static str],
    /// The client's address.
    pub peer: SocketAddr,
    /// Whose fault a failure was, and its cause.
    pub fault: Option<(Fault, String)>,
}

/// One line per request on the `scim_sidecar::access` target. The query string is never logged
/// (filters carry user names and e-mail addresses), nor are bodies or tokens: only the method
/// (`auth`: `token` or `oauth`) and the static token's name (`token`) or the OAuth2 client id
/// (`client`).
pub fn access_log(l: &AccessLine<'_>) {
    let duration_ms = (l.started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
    // Static tokens keep their `token=<name>` field; other methods name their client.
    let auth = l.principal.map_or("-", |p| p.method.as_str());
    let (token, client) = match l.principal {
        Some(p) if p.method == crate::auth::Method::Token => (&*p.token_name, "-"),
        Some(p) => ("-", &*p.token_name),
        None => ("-", "-"),
    };
    if let Some(direct) = crate::logging::direct() {
        let f = fields(l, duration_ms, auth, token, client);
        let enabled = match f.level {
            Level::ERROR => tracing::enabled!(target: TARGET, Level::ERROR),
            Level::WARN => tracing::enabled!(target: TARGET, Level::WARN),
            _ => tracing::enabled!(target: TARGET, Level::INFO),
        };
        if enabled {
            write_direct(direct, &f);
        }
        return;
    }
    match &l.fault {
        Some((Fault::Sidecar, cause)) => tracing::error!(
            target: TARGET,
            method = %l.method, path = l.path, status = l.status.as_u16(),
            duration_ms, request_id = l.request_id, auth, token, client, peer = %l.peer, quirks = %l.quirks.join(","),
            fault = Fault::Sidecar.as_str(), cause = %cause, "request failed"
        ),
        Some((Fault::Platform, cause)) => tracing::warn!(
            target: TARGET,
            method = %l.method, path = l.path, status = l.status.as_u16(),
            duration_ms, request_id = l.request_id, auth, token, client, peer = %l.peer, quirks = %l.quirks.join(","),
            fault = Fault::Platform.as_str(), cause = %cause, "request failed"
        ),
        Some((Fault::Client, cause)) => tracing::info!(
            target: TARGET,
            method = %l.method, path = l.path, status = l.status.as_u16(),
            duration_ms, request_id = l.request_id, auth, token, client, peer = %l.peer, quirks = %l.quirks.join(","),
            fault = Fault::Client.as_str(), cause = %cause, "request"
        ),
        None => tracing::info!(
            target: TARGET,
            method = %l.method, path = l.path, status = l.status.as_u16(),
            duration_ms, request_id = l.request_id, auth, token, client, peer = %l.peer, quirks = %l.quirks.join(","), "request"
        ),
    }
}

/// The line's fields, as the `tracing` events below record them.
fn fields<'a>(
    l: &'a AccessLine<'a>,
    duration_ms: f64,
    auth: &'a str,
    token: &'a str,
    client: &'a str,
) -> line::Fields<'a> {
    let (level, message) = match &l.fault {
        Some((Fault::Sidecar, _)) => (Level::ERROR, "request failed"),
        Some((Fault::Platform, _)) => (Level::WARN, "request failed"),
        Some((Fault::Client, _)) | None => (Level::INFO, "request"),
    };
    line::Fields {
        level,
        message,
        method: l.method.as_str(),
        path: l.path,
        status: l.status.as_u16(),
        duration_ms,
        request_id: l.request_id,
        auth,
        token,
        client,
        peer: l.peer,
        quirks: l.quirks,
        fault: l
            .fault
            .as_ref()
            .map(|(f, cause)| (f.as_str(), cause.as_str())),
    }
}

thread_local! {
    /// Each thread's access-line buffer, reused from line to line.
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
}

/// Builds the line in the thread's buffer and queues it (droppable) in the writer's queue.
fn write_direct(direct: crate::logging::Direct, fields: &line::Fields<'_>) {
    let build = |buf: &mut Vec<u8>| {
        buf.clear();
        match direct.format {
            crate::config::LogFormat::Json => line::json(buf, fields),
            crate::config::LogFormat::Text => line::text(buf, fields),
        }
        direct.sink.push(buf, true);
    };
    // Without the thread's buffer (in use, or the thread is ending), a fresh one.
    let built = BUFFER
        .try_with(|b| match b.try_borrow_mut() {
            Ok(mut buf) => {
                build(&mut buf);
                // A rare huge line (a long path) does not keep its memory on the thread.
                if buf.capacity() > 64 * 1024 {
                    *buf = Vec::with_capacity(512);
                }
                true
            }
            Err(_) => false,
        })
        .unwrap_or(false);
    if !built {
        build(&mut Vec::new());
    }
}

#[cfg(test)]
mod tests;
