//! Talking to the platform through a compiled mapping: building calls from operation templates,
//! classifying answers, extracting objects, and walking paged collections.
//!
//! Everything goes through a [`Transport`], so the same code serves real requests (the
//! [`Client`]) and `scim-sidecar explain` (a recording dry run).

use http::StatusCode;
use serde_json::{Map, Value};
use std::future::Future;

use crate::error::{Error, PlatformError};
use crate::mapping::jsonpath::JsonPath;
use crate::mapping::model::{CountSpec, ListSpec, Mapping, Op, Paging, Total};
use crate::mapping::platform_errors::{classify, success_error};
use crate::mapping::template::{PlatformId, StepValues, Vars};
use crate::platform::{Call, Client, Reply};
use crate::scim::error::ScimError;

/// Sends platform calls.
pub trait Transport: Send + Sync {
    /// Sends one call and returns the platform's reply (transport failures are errors; HTTP
    /// error statuses are replies).
    fn send(&self, call: &Call) -> impl Future<Output = Result<Reply, Error>> + Send;
}

impl Transport for Client {
    fn send(&self, call: &Call) -> impl Future<Output = Result<Reply, Error>> + Send {
        self.call(call)
    }
}

/// A transport that records every call's duration and outcome in the metrics.
pub struct Observed<'a, T> {
    /// The transport doing the work.
    pub inner: &'a T,
    /// Where calls are recorded.
    pub metrics: &'a crate::metrics::Metrics,
}

impl<T: Transport> Transport for Observed<'_, T> {
    async fn send(&self, call: &Call) -> Result<Reply, Error> {
        let started = tokio::time::Instant::now();
        let result = self.inner.send(call).await;
        let outcome = match &result {
            Ok(r) if r.status.is_success() => "2xx",
            Ok(r) if r.status.is_redirection() => "3xx",
            Ok(r) if r.status.is_client_error() => "4xx",
            Ok(_) => "5xx",
            Err(Error::Platform(PlatformError::Timeout(_))) => "timeout",
            Err(Error::Platform(PlatformError::Unreachable(_))) => "unreachable",
            Err(Error::Platform(PlatformError::Refused(_))) => "refused",
            Err(Error::Platform(PlatformError::Overloaded { .. })) => "overloaded",
            Err(Error::Platform(PlatformError::RateLimited { .. })) => "rate_limited",
            Err(Error::Platform(PlatformError::Contended { .. })) => "contended",
            Err(Error::Platform(PlatformError::BadResponse(_) | PlatformError::Step(_))) => {
                "bad_response"
            }
            Err(Error::Platform(PlatformError::Token(..))) => "no_token",
            Err(Error::Client(_) | Error::Internal(_)) => "error",
        };
        self.metrics
            .platform_call(call.operation, outcome, started.elapsed());
        result
    }
}

fn internal(e: String) -> Error {
    Error::Internal(e)
}

/// Builds the call an operation makes. `body` is the attribute-built body; an explicit body
/// template in the operation replaces it; `set` fields are added to object bodies.
pub fn build(op: &Op, vars: &Vars<'_>, body: Option<Value>) -> Result<Call, Error> {
    build_with(op, vars, &|_| None, body, internal)
}

/// [`build`] with the outputs of a multi-step operation's earlier steps (`steps`); a template
/// that cannot be filled is the error `unfilled` makes of the reason.
pub fn build_with(
    op: &Op,
    vars: &Vars<'_>,
    steps: StepValues<'_>,
    body: Option<Value>,
    unfilled: impl Fn(String) -> Error,
) -> Result<Call, Error> {
    let path = op.path.render_with(vars, steps).map_err(&unfilled)?;
    let query = op
        .query
        .iter()
        .map(|(k, t)| t.render_with(vars, steps).map(|v| (k.clone(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(&unfilled)?;
    let mut body = match &op.body {
        Some(t) => Some(t.render_with(vars, steps).map_err(&unfilled)?),
        None => body,
    };
    if !op.set.is_empty() {
        let b = body.get_or_insert_with(|| Value::Object(Map::new()));
        for (field, v) in &op.set {
            field.set(b, v.clone());
        }
    }
    Ok(Call {
        operation: op.label,
        method: op.method.clone(),
        path,
        query,
        body,
        if_match: None,
    })
}

/// Whether a reply counts as success for an operation.
pub fn succeeded(op: &Op, reply: &Reply) -> bool {
    reply.status.is_success() || op.ok.contains(&reply.status.as_u16())
}

/// Sends an operation's call and turns a failure status into the mapped error.
pub async fn execute<T: Transport>(
    t: &T,
    mapping: &Mapping,
    op: &Op,
    vars: &Vars<'_>,
    body: Option<Value>,
    what: &str,
) -> Result<Reply, Error> {
    let call = build(op, vars, body)?;
    let reply = t.send(&call).await?;
    if succeeded(op, &reply) {
        match success_error(&mapping.errors, &reply, op.label) {
            Some(e) => Err(e),
            None => Ok(reply),
        }
    } else {
        Err(classify(&mapping.errors, &reply, what, op.label))
    }
}

/// The object an operation's reply carries (at its `response` path), or `None` when the reply
/// is empty or has nothing there.
pub fn object(op: &Op, reply: &Reply) -> Result<Option<Value>, Error> {
    let Some(body) = reply.json()? else {
        return Ok(None);
    };
    Ok(op.response.take(body).filter(Value::is_object))
}

/// One page of a collection.
#[derive(Debug, Default)]
pub struct Page {
    /// The items.
    pub items: Vec<Value>,
    /// The total, if the platform gave one.
    pub total: Option<u64>,
    /// Where the next page is, if there is one.
    pub next: Option<Next>,
    /// Page and offset paging: the index (from 0) of the page's first item in the collection.
    pub first_item: Option<u64>,
}

/// How to ask for the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Page or offset paging: the next position (page number or offset).
    Position(u64),
    /// Cursor paging: the cursor.
    Cursor(String),
    /// A URL given by the platform: path (below the base URL) and query.
    Url(String, Vec<(String, String)>),
}

/// Where to start reading a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// The beginning.
    First,
    /// The page holding item `n` (0-based), for page and offset paging.
    Item(u64),
    /// A continuation from a previous page.
    From(Next),
}

/// Reads one page of a collection.
pub async fn page<T: Transport>(
    t: &T,
    mapping: &Mapping,
    spec: &ListSpec,
    vars: &Vars<'_>,
    params: &[(String, String)],
    start: &Start,
) -> Result<Page, Error> {
    let size = spec.page_size;
    let mut call = Call {
        operation: spec.label,
        method: http::Method::GET,
        path: spec.path.render(vars).map_err(internal)?,
        query: spec
            .query
            .iter()
            .map(|(k, t)| t.render(vars).map(|v| (k.clone(), v)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)?,
        body: None,
        if_match: None,
    };
    call.query.extend(params.iter().cloned());
    let mut position = 0;
    match (&spec.paging, start) {
        (_, Start::From(Next::Url(path, query))) => {
            call.path.clone_from(path);
            call.query.clone_from(query);
        }
        (
            Paging::Page {
                page_param,
                size_param,
                first,
            },
            s,
        ) => {
            position = match s {
                Start::First => *first,
                Start::Item(n) => first + n / size,
                Start::From(Next::Position(p)) => *p,
                Start::From(_) => *first,
            };
            call.query.push((page_param.clone(), position.to_string()));
            call.query.push((size_param.clone(), size.to_string()));
        }
        (
            Paging::Offset {
                offset_param,
                limit_param,
            },
            s,
        ) => {
            position = match s {
                Start::First => 0,
                Start::Item(n) => *n,
                Start::From(Next::Position(p)) => *p,
                Start::From(_) => 0,
            };
            call.query
                .push((offset_param.clone(), position.to_string()));
            call.query.push((limit_param.clone(), size.to_string()));
        }
        (
            Paging::Cursor {
                cursor_param,
                size_param,
                ..
            },
            s,
        ) => {
            if let Start::From(Next::Cursor(c)) = s {
                call.query.push((cursor_param.clone(), c.clone()));
            }
            if let Some(p) = size_param {
                call.query.push((p.clone(), size.to_string()));
            }
        }
        (Paging::NextUrl { .. } | Paging::LinkHeader | Paging::None, _) => {}
    }
    let what = format!("the collection {}", spec.path.as_str());
    let reply = t.send(&call).await?;
    if reply.status != StatusCode::OK && !reply.status.is_success() {
        return Err(classify(&mapping.errors, &reply, &what, spec.label));
    }
    let body = reply.json()?.unwrap_or(Value::Null);
    let mut items: Vec<Value> = spec.items.all(&body).into_iter().cloned().collect();
    let total = match &spec.total {
        Total::Body(p) => p.first(&body).and_then(number),
        Total::Header(h) => reply
            .headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok()),
        Total::Absent => None,
    };
    let first_item = match &spec.paging {
        Paging::Page { first, .. } => Some(position.saturating_sub(*first).saturating_mul(size)),
        Paging::Offset { .. } => Some(position),
        _ => None,
    }
    .filter(|_| !matches!(start, Start::From(Next::Url(..))));
    // A platform that answers a page past the end with its last page again (json-server):
    // nothing lies at or past the total.
    if let (Some(at), Some(t)) = (first_item, total)
        && at >= t
    {
        items.clear();
    }
    let got = items.len() as u64;
    let next = match &spec.paging {
        Paging::Page { .. } => {
            let more =
                got >= size && total.is_none_or(|t| page_end(&spec.paging, position, size) < t);
            more.then_some(Next::Position(position + 1))
        }
        Paging::Offset { .. } => {
            let more = got >= size && total.is_none_or(|t| position + got < t);
            more.then_some(Next::Position(position + got))
        }
        Paging::Cursor { next, .. } => cursor(next, &body).map(Next::Cursor),
        Paging::NextUrl { next } => match cursor(next, &body) {
            Some(u) => Some(url_next(mapping, &u)?),
            None => None,
        },
        Paging::LinkHeader => match link_next(&reply) {
            Some(u) => Some(url_next(mapping, &u)?),
            None => None,
        },
        Paging::None => None,
    };
    let next = if got == 0 { None } else { next };
    Ok(Page {
        items,
        total,
        next,
        first_item,
    })
}

/// Asks a collection's separate count call how many items it holds (with `params`, the
/// pushed-down filter's parameters, when the count call takes them).
pub async fn count<T: Transport>(
    t: &T,
    mapping: &Mapping,
    spec: &CountSpec,
    vars: &Vars<'_>,
    params: &[(String, String)],
) -> Result<u64, Error> {
    let mut call = Call {
        operation: spec.label,
        method: http::Method::GET,
        path: spec.path.render(vars).map_err(internal)?,
        query: spec
            .query
            .iter()
            .map(|(k, t)| t.render(vars).map(|v| (k.clone(), v)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)?,
        body: None,
        if_match: None,
    };
    if spec.filters {
        call.query.extend(params.iter().cloned());
    }
    let what = format!("the count {}", spec.path.as_str());
    let reply = t.send(&call).await?;
    if !reply.status.is_success() {
        return Err(classify(&mapping.errors, &reply, &what, spec.label));
    }
    let body = reply.json()?.unwrap_or(Value::Null);
    spec.value.first(&body).and_then(number).ok_or_else(|| {
        Error::Platform(PlatformError::BadResponse(format!(
            "{what} answered no count at {}",
            spec.value.as_str()
        )))
    })
}

/// Whether a page repeats the one read before it (a platform answering a page past the end
/// with its last page again): the same first item, by id when the list knows where ids are.
pub fn repeats(spec: &ListSpec, previous_first: Option<&Value>, page: &Page) -> bool {
    let (Some(prev), Some(first)) = (previous_first, page.items.first()) else {
        return false;
    };
    match &spec.item_id {
        Some(id) => match (id.first(prev), id.first(first)) {
            (Some(a), Some(b)) => a == b,
            _ => prev == first,
        },
        None => prev == first,
    }
}

/// The number of items up to the end of page `position`.
fn page_end(paging: &Paging, position: u64, size: u64) -> u64 {
    match paging {
        Paging::Page { first, .. } => (position.saturating_sub(*first) + 1) * size,
        _ => 0,
    }
}

fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn cursor(path: &JsonPath, body: &Value) -> Option<String> {
    match path.first(body)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `rel="next"` target of an RFC 8288 `Link` header.
fn link_next(reply: &Reply) -> Option<String> {
    for v in reply.headers.get_all(http::header::LINK) {
        let Ok(text) = v.to_str() else { continue };
        for link in text.split(',') {
            let mut parts = link.split(';');
            let target = parts.next()?.trim();
            let is_next = parts.any(|p| {
                let p = p.trim();
                p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
            });
            if is_next {
                return target
                    .strip_prefix('<')
                    .and_then(|t| t.strip_suffix('>'))
                    .map(str::to_owned);
            }
        }
    }
    None
}

/// A next-page URL from the platform, accepted only on the platform's own origin and base path:
/// a hostile or confused platform cannot point the sidecar (and its credentials) elsewhere.
fn url_next(mapping: &Mapping, u: &str) -> Result<Next, Error> {
    let s = &mapping.platform;
    let rest = if let Some(r) = u.strip_prefix(&s.origin) {
        r
    } else if u.starts_with('/') && !u.starts_with("//") {
        u
    } else {
        return Err(Error::Platform(PlatformError::BadResponse(format!(
            "next-page link {u:?} is not on the platform's origin {}",
            s.origin
        ))));
    };
    let rest = match rest.strip_prefix(&s.prefix) {
        Some(r) if r.starts_with('/') => r,
        _ => {
            return Err(Error::Platform(PlatformError::BadResponse(format!(
                "next-page link {u:?} is outside the platform's base path {:?}",
                s.prefix
            ))));
        }
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let query = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Ok(Next::Url(path.to_owned(), query))
}

/// What a scan callback wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// Stop: enough has been read.
    Stop,
}

/// How a scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scanned {
    /// Items read.
    pub read: u64,
    /// The platform's total, if it gave one.
    pub total: Option<u64>,
    /// The scan limit was reached with pages left.
    pub truncated: bool,
}

/// Reads a collection page by page, handing each item to `on_item`, holding one page at a time.
/// Stops at the end, when `on_item` says so, or at the spec's scan limit.
pub async fn scan<T, F>(
    t: &T,
    mapping: &Mapping,
    spec: &ListSpec,
    vars: &Vars<'_>,
    params: &[(String, String)],
    mut on_item: F,
) -> Result<Scanned, Error>
where
    T: Transport,
    F: FnMut(Value) -> Result<Flow, Error>,
{
    let mut start = Start::First;
    let mut read = 0u64;
    let mut total = None;
    let mut previous_first: Option<Value> = None;
    loop {
        let mut p = page(t, mapping, spec, vars, params, &start).await?;
        if repeats(spec, previous_first.as_ref(), &p) {
            // The platform answered past the end with a page already read: the end.
            p.items.clear();
            p.next = None;
        }
        previous_first = p.items.first().cloned();
        if total.is_none() {
            total = p.total;
        }
        for item in p.items {
            read += 1;
            if on_item(item)? == Flow::Stop {
                return Ok(Scanned {
                    read,
                    total,
                    truncated: false,
                });
            }
        }
        match p.next {
            None => {
                return Ok(Scanned {
                    read,
                    total,
                    truncated: false,
                });
            }
            Some(_) if read >= spec.scan_limit => {
                return Ok(Scanned {
                    read,
                    total,
                    truncated: true,
                });
            }
            Some(n) => start = Start::From(n),
        }
    }
}

/// The platform ids listed by a member list (`value` path in each item).
pub async fn member_ids<T: Transport>(
    t: &T,
    mapping: &Mapping,
    spec: &ListSpec,
    group: &PlatformId,
) -> Result<Vec<String>, Error> {
    let vars = Vars {
        id: Some(group),
        member: None,
    };
    let mut ids = Vec::new();
    let value = spec.value.as_ref();
    let scanned = scan(t, mapping, spec, &vars, &[], |item| {
        let v = match value {
            Some(p) => p.first(&item).cloned(),
            None => Some(item),
        };
        match v {
            Some(Value::String(s)) if !s.is_empty() => ids.push(s),
            Some(Value::Number(n)) => ids.push(n.to_string()),
            _ => {}
        }
        Ok(Flow::Continue)
    })
    .await?;
    if scanned.truncated {
        return Err(Error::Client(ScimError::too_many(format!(
            "the group has more than {} members, the member list's scan_limit; raise it in the mapping or ask with excludedAttributes=members",
            spec.scan_limit
        ))));
    }
    Ok(ids)
}
