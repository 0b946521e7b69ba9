//! The access log and the request metrics' labels: one line per request on the
//! `scim_sidecar::access` target, its level chosen by whose fault a failure was.

use http::{Method, StatusCode};
use std::net::SocketAddr;
use tokio::time::Instant;

use crate::auth::Principal;
use crate::error::Fault;
use crate::routes::Endpoint;

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
    match &l.fault {
        Some((Fault::Sidecar, cause)) => tracing::error!(
            target: "scim_sidecar::access",
            method = %l.method, path = l.path, status = l.status.as_u16(),
            duration_ms, request_id = l.request_id, auth, token, client, peer = %l.peer, quirks = %l.quirks.join(","),
            fault = Fault::Sidecar.as_str(), cause = %cause, "request failed"
        ),
        Some((Fault::Platform, cause)) => tracing::warn!(
            target: "scim_sidecar::access",
            method = %l.method, path = l.path, status = l.status.as_u16(),
            duration_ms, request_id = l.request_id, auth, token, client, peer = %l.peer, quirks = %l.quirks.join(","),
            fault = Fault::Platform.as_str(), cause = %cause, "request failed"
        ),
        Some((Fault::Client, cause)) => tracing::info!(
            target: "scim_sidecar::access",
            method = %l.method, path = l.path, status = l.status.as_u16(),
            duration_ms, request_id = l.request_id, auth, token, client, peer = %l.peer, quirks = %l.quirks.join(","),
            fault = Fault::Client.as_str(), cause = %cause, "request"
        ),
        None => tracing::info!(
            target: "scim_sidecar::access",
            method = %l.method, path = l.path, status = l.status.as_u16(),
            duration_ms, request_id = l.request_id, auth, token, client, peer = %l.peer, quirks = %l.quirks.join(","), "request"
        ),
    }
}
