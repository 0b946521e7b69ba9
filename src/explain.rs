//! `scim-sidecar explain`: which platform calls a SCIM request would make, without calling the
//! platform. The request pipeline's resource stages (normalize → `Operation::parse` →
//! `service::run`) run against a recording transport whose answers are simulated: reads return an
//! object whose mapped fields hold placeholders (`<email>`; value-mapped fields their first
//! value), lists return nothing, writes echo what was sent. `scim-sidecar test` runs the same
//! stages ([`run`]) with the same recorder replaying a fixture's canned answers instead.

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::Mutex;

use crate::app::Runtime;
use crate::error::Error;
use crate::mapping::model::{Fidelity, Mapping, MemberSpec, Op, PlatformType, ResourceMap};
use crate::operation::Operation;
use crate::platform::calls::Transport;
use crate::platform::{Call, Reply};
use crate::request::{Input, Query};
use crate::respond::{self, Failure};
use crate::routes::{self, Endpoint};
use crate::scim::schema::AttrType;
use crate::service::{self, Ctx};

/// A transport that records calls and answers them: simulated answers (`explain`) or canned
/// ones replayed in order (`scim-sidecar test`).
pub struct DryRun<'a> {
    mapping: &'a Mapping,
    calls: Mutex<Vec<Call>>,
    /// `Some`: the canned answers still to give, in order; `None`: simulate.
    canned: Option<Mutex<VecDeque<Reply>>>,
}

/// The error a replaying [`DryRun`] returns for a call made after its canned answers ran out.
pub const NO_CANNED_ANSWER: &str = "no canned answer left for this platform call";

impl<'a> DryRun<'a> {
    /// A dry run over a mapping.
    pub fn new(mapping: &'a Mapping) -> Self {
        DryRun {
            mapping,
            calls: Mutex::new(Vec::new()),
            canned: None,
        }
    }

    /// A run that answers the calls with `answers`, one each, in order; a call past the last
    /// answer fails with [`NO_CANNED_ANSWER`] (an internal error, so the SCIM answer is a 500).
    pub fn replay(mapping: &'a Mapping, answers: Vec<Reply>) -> Self {
        DryRun {
            mapping,
            calls: Mutex::new(Vec::new()),
            canned: Some(Mutex::new(answers.into())),
        }
    }

    /// The calls recorded so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn find(&self, label: &str) -> Option<(&ResourceMap, Option<&Op>)> {
        for map in [&self.mapping.users, &self.mapping.groups]
            .into_iter()
            .flatten()
        {
            for op in [
                &map.create,
                &map.read,
                &map.replace,
                &map.update,
                &map.delete,
            ]
            .into_iter()
            .flatten()
            {
                if op.label == label {
                    return Some((map, Some(op)));
                }
            }
            if map.list.as_ref().is_some_and(|l| l.label == label) {
                return Some((map, None));
            }
            // The steps of a multi-step create answer like the create (the object at its
            // `response`, so `{steps.<name>.body.…}` finds the id where the platform puts it).
            if let Some(create) = &map.create
                && let Some(s) = &create.steps
                && s.steps.iter().any(|s| s.call.label == label)
            {
                return Some((map, Some(create)));
            }
        }
        None
    }

    fn simulate(&self, call: &Call) -> Reply {
        let last_segment = call
            .path
            .rsplit('/')
            .next()
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .unwrap_or_default();
        let empty = |status: StatusCode| Reply {
            status,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        };
        let json = |status: StatusCode, body: Value, headers: HeaderMap| Reply {
            status,
            headers,
            body: Bytes::from(body.to_string()),
        };
        if let Some(c) = [&self.mapping.users, &self.mapping.groups]
            .into_iter()
            .flatten()
            .filter_map(|m| m.list.as_ref().and_then(|l| l.count.as_ref()))
            .find(|c| c.label == call.operation)
        {
            // a count: nothing
            let mut body = Value::Null;
            c.value.place(&mut body, json!(0));
            return json(StatusCode::OK, body, HeaderMap::new());
        }
        let Some((map, op)) = self.find(call.operation) else {
            // member calls, (de)activation: succeed without a body
            return empty(StatusCode::NO_CONTENT);
        };
        let Some(op) = op else {
            // a list: nothing found
            let mut body = Value::Object(serde_json::Map::new());
            let mut h = HeaderMap::new();
            if let Some(l) = &map.list {
                l.items.place(&mut body, json!([]));
                match &l.total {
                    crate::mapping::model::Total::Body(p) => p.place(&mut body, json!(0)),
                    crate::mapping::model::Total::Header(name) => {
                        h.insert(name.clone(), http::HeaderValue::from_static("0"));
                    }
                    crate::mapping::model::Total::Absent => {}
                }
            }
            return json(StatusCode::OK, body, h);
        };
        if call.method == Method::DELETE {
            return empty(StatusCode::NO_CONTENT);
        }
        let id = if call.method == Method::POST {
            "new-id".to_owned()
        } else {
            last_segment
        };
        let mut obj = match &call.body {
            Some(b) if call.method != Method::GET => b.clone(),
            _ => placeholder(map),
        };
        let id_json = match map.id_type {
            crate::mapping::model::IdType::Integer => {
                id.parse::<u64>().map(Value::from).unwrap_or(json!(1))
            }
            crate::mapping::model::IdType::String => Value::String(id),
        };
        map.id.place(&mut obj, id_json);
        let mut body = Value::Null;
        op.response.place(&mut body, obj);
        let status = if call.method == Method::POST {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        json(status, body, HeaderMap::new())
    }
}

/// The filter rules a list request names that are not used because the platform matches more
/// strictly than SCIM (a case-sensitive match on a case-insensitive attribute not stored
/// lowercase): the reason a lookup becomes a scan.
fn unused_rules(mapping: &Mapping, kind: crate::routes::ResourceKind, query: &str) -> Vec<String> {
    let Some(map) = mapping.resource(kind) else {
        return Vec::new();
    };
    let Some(filter) = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case("filter"))
        .map(|(_, v)| v.to_ascii_lowercase())
    else {
        return Vec::new();
    };
    map.pushdown
        .iter()
        .filter(|r| r.fidelity == Fidelity::Stricter && !r.allow_stricter)
        .filter(|r| filter.contains(&r.attribute.to_ascii_lowercase()))
        .map(|r| {
            format!(
                "Not pushed down: {} {} (?{}): the platform's {} match is stricter than SCIM's; the sidecar scans instead (allow_stricter = true uses it anyway)",
                r.attribute,
                r.op.as_str(),
                r.param,
                r.matching.map(|m| m.as_str()).unwrap_or("declared"),
            )
        })
        .collect()
}

/// A platform object whose mapped fields hold placeholders.
fn placeholder(map: &ResourceMap) -> Value {
    let mut obj = Value::Object(serde_json::Map::new());
    for a in &map.attributes {
        let Some(field) = &a.write else { continue };
        let v = match &a.values {
            // The "true" entry when there is one, so `active` reads as true.
            Some(values) => values
                .get("true")
                .or_else(|| values.values().next())
                .cloned()
                .unwrap_or(Value::Null),
            // A value the attribute reads back as one of its type: a placeholder must not make
            // a field look missing (`"<enabled>"` is no boolean, and `active` would vanish).
            None => match (a.platform_type, a.ty) {
                (Some(PlatformType::Boolean), _) | (None, AttrType::Boolean) => Value::Bool(true),
                (Some(PlatformType::Integer), _) | (None, AttrType::Integer) => json!(1),
                (Some(PlatformType::Number), _) | (None, AttrType::Decimal) => json!(1.5),
                (None, AttrType::DateTime) => json!("2026-01-01T00:00:00Z"),
                _ => Value::String(format!("<{field}>")),
            },
        };
        let v = if a.array { json!([v]) } else { v };
        if field.get(&obj).is_none() {
            field.set(&mut obj, v);
        }
    }
    if let Some(MemberSpec::Embedded { field, .. }) = &map.members {
        field.set(&mut obj, json!([]));
    }
    obj
}

impl Transport for DryRun<'_> {
    fn send(&self, call: &Call) -> impl Future<Output = Result<Reply, Error>> + Send {
        if let Ok(mut c) = self.calls.lock() {
            c.push(call.clone());
        }
        let reply = match &self.canned {
            None => Ok(self.simulate(call)),
            Some(canned) => canned
                .lock()
                .ok()
                .and_then(|mut c| c.pop_front())
                .ok_or_else(|| Error::Internal(NO_CANNED_ANSWER.to_owned())),
        };
        async move { reply }
    }
}

/// Explains a SCIM request (`target` is the path and query as a client sends it, e.g.
/// `/scim/v2/Users?filter=userName eq "a@b"`). Returns the printed explanation.
pub async fn explain(
    rt: &Runtime,
    method: &str,
    target: &str,
    body: Option<&str>,
) -> Result<String, String> {
    let Some(mapping) = rt.config.scim.mapping.as_deref() else {
        return Err("the configuration names no mapping ([scim] mapping)".to_owned());
    };
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("{method:?} is not an HTTP method"))?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    // Accept spaces and quotes as typed on a command line.
    let query: String = query.replace(' ', "%20").replace('"', "%22");
    let endpoint = routes::route(&rt.config.scim.base_path, path).map_err(|_| {
        format!(
            "{path:?} is not a SCIM resource path under {:?} (e.g. {}/Users/17)",
            rt.config.scim.base_path, rt.config.scim.base_path
        )
    })?;
    if !matches!(
        endpoint,
        Endpoint::Collection(_) | Endpoint::Resource(..) | Endpoint::Search(_)
    ) {
        return Err("explain covers /Users, /Groups and /.search: discovery endpoints make no platform calls".to_owned());
    }
    let unused = match &endpoint {
        Endpoint::Collection(kind) => unused_rules(mapping, *kind, &query),
        _ => Vec::new(),
    };
    let body = Bytes::from(body.unwrap_or_default().to_owned());
    let input = Input::new(
        Query::parse((!query.is_empty()).then_some(query.as_str())),
        body,
    );
    let dry = DryRun::new(mapping);
    let (quirks, response) = run(rt, mapping, &dry, endpoint, &method, input).await;
    let status = response.status();
    let answer = response
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let mut out = format!("SCIM request: {method} {target}\n");
    if !quirks.is_empty() {
        out.push_str(&format!(
            "Normalized ({} profile): {}\n",
            rt.normalizer.profile.as_str(),
            quirks.join(", ")
        ));
    }
    let calls = dry.calls();
    let auth = mapping.platform.describe_auth();
    if !calls.is_empty() && !auth.is_empty() {
        out.push_str("Platform authentication (made only when no cached token is valid):\n");
        for a in &auth {
            out.push_str(&format!("  - {a}\n"));
        }
    }
    if calls.is_empty() {
        out.push_str("Platform calls: none\n");
    } else {
        out.push_str("Platform calls (answers simulated: reads return placeholders, lists return nothing):\n");
        for (i, c) in calls.iter().enumerate() {
            out.push_str(&format!(
                "  {}. {} {}    [{}]\n",
                i + 1,
                c.method,
                mapping.platform.url(c),
                c.operation
            ));
            if let Some(b) = &c.body {
                out.push_str(&format!("     body: {b}\n"));
            }
        }
    }
    for line in unused {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&format!("SCIM answer: {}", status.as_u16()));
    if !answer.is_empty() && !status.is_success() {
        out.push_str(&format!(" {}", String::from_utf8_lossy(&answer)));
    }
    out.push('\n');
    Ok(out)
}

/// Runs one SCIM request through the request pipeline's resource stages (normalize →
/// `Operation::parse` → `service::dispatch::run` → the SCIM answer) against a recording
/// transport. Returns the normalize rules that fired and the SCIM response.
pub async fn run(
    rt: &Runtime,
    mapping: &Mapping,
    dry: &DryRun<'_>,
    endpoint: Endpoint,
    method: &Method,
    input: Input,
) -> (crate::normalize::Fired, http::Response<respond::Body>) {
    let base_url = &rt.config.scim.base_path;
    let mut quirks = Vec::new();
    let result = async {
        let (input, fired) = rt.normalizer.apply(mapping, &endpoint, method, input)?;
        quirks = fired;
        let op = Operation::parse(endpoint, method, input, mapping, rt.service.limits())?;
        let ctx = Ctx::new(
            mapping,
            dry,
            base_url,
            &rt.service,
            &rt.metrics,
            &rt.locks,
            None,
        );
        Ok::<_, Failure>(respond::outcome(service::dispatch::run(&ctx, op).await?))
    }
    .await;
    (quirks, result.unwrap_or_else(|f| f.into_response()))
}
