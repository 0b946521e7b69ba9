//! The shadow transport: reads go to the real transport unless the run wrote the object; writes
//! are recorded and answered with what the platform would most likely answer.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::{Map, Value, json};

use super::record::{self, Entry, Kind, Origin};
use super::{Known, Shadow};
use crate::error::Error;
use crate::mapping::model::{
    Deactivation, IdType, ListSpec, Mapping, MemberSpec, Op, ResourceMap, Total,
};
use crate::mapping::template::{PathTemplate, PlatformId, Vars};
use crate::metrics::Metrics;
use crate::platform::calls::{self, Transport};
use crate::platform::{Call, Reply};

/// A request's transport in shadow mode.
pub struct Shadowed<'a, T> {
    pub(super) inner: &'a T,
    pub(super) shadow: &'a Shadow,
    pub(super) mapping: &'a Mapping,
    pub(super) metrics: &'a Metrics,
    pub(super) origin: Origin,
}

/// What a call is, in the mapping's terms.
#[derive(Clone, Copy)]
enum Role<'m> {
    Create(&'m Op),
    Read(&'m Op),
    Write(&'m Op),
    Delete(&'m Op),
    MembersList(&'m ListSpec),
    MemberAdd(&'m Op),
    MemberRemove(&'m Op),
    Deactivate(&'m Op),
    Activate(&'m Op),
    /// A later step of a multi-step create (`[[*.create.steps]]`), with the create it belongs to.
    Step(&'m Op),
    Other,
}

const ID_SENTINEL: &str = "zzshadowidzz";
const MEMBER_SENTINEL: &str = "zzshadowmemberzz";

fn sentinel(text: &str) -> PlatformId {
    PlatformId {
        text: text.to_owned(),
        json: Value::String(text.to_owned()),
    }
}

/// The `{id}` and `{member}` values a rendered path holds, matched against its template.
fn ids_in(template: &PathTemplate, path: &str) -> (Option<String>, Option<String>) {
    let (id, member) = (sentinel(ID_SENTINEL), sentinel(MEMBER_SENTINEL));
    let vars = Vars {
        id: Some(&id),
        member: Some(&member),
    };
    let Ok(rendered) = template.render(&vars) else {
        return (None, None);
    };
    // Split the rendered template into literals and the sentinels between them.
    let mut pieces: Vec<(&str, Option<&str>)> = Vec::new();
    let mut rest = rendered.as_str();
    loop {
        let next = [ID_SENTINEL, MEMBER_SENTINEL]
            .into_iter()
            .filter_map(|s| rest.find(s).map(|i| (i, s)))
            .min();
        match next {
            Some((i, s)) => {
                pieces.push((&rest[..i], Some(s)));
                rest = &rest[i + s.len()..];
            }
            None => {
                pieces.push((rest, None));
                break;
            }
        }
    }
    let (mut found_id, mut found_member) = (None, None);
    let mut at = path;
    for (i, (lit, var)) in pieces.iter().enumerate() {
        let Some(r) = at.strip_prefix(lit) else {
            return (None, None);
        };
        at = r;
        let Some(var) = var else {
            if !at.is_empty() {
                return (None, None);
            }
            break;
        };
        let next_lit = pieces.get(i + 1).map_or("", |p| p.0);
        let end = if next_lit.is_empty() {
            at.find('/').unwrap_or(at.len())
        } else {
            match at.find(next_lit) {
                Some(e) => e,
                None => return (None, None),
            }
        };
        let value = percent_encoding::percent_decode_str(&at[..end])
            .decode_utf8_lossy()
            .into_owned();
        if *var == ID_SENTINEL {
            found_id = Some(value);
        } else {
            found_member = Some(value);
        }
        at = &at[end..];
    }
    (found_id, found_member)
}

/// Where in a JSON value a string equal to `needle` sits, as keys and indexes.
fn find_string(v: &Value, needle: &str, path: &mut Vec<String>) -> bool {
    match v {
        Value::String(s) => s.contains(needle),
        Value::Object(m) => m.iter().any(|(k, v)| {
            path.push(k.clone());
            let found = find_string(v, needle, path);
            if !found {
                path.pop();
            }
            found
        }),
        Value::Array(a) => a.iter().enumerate().any(|(i, v)| {
            path.push(i.to_string());
            let found = find_string(v, needle, path);
            if !found {
                path.pop();
            }
            found
        }),
        _ => false,
    }
}

/// An id as text (numbers without quotes).
fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `{member}` of a member call: from its path, else from its body.
fn member_of(op: &Op, call: &Call) -> Option<String> {
    if let (_, Some(m)) = ids_in(&op.path, &call.path) {
        return Some(m);
    }
    let (id, member) = (sentinel(ID_SENTINEL), sentinel(MEMBER_SENTINEL));
    let vars = Vars {
        id: Some(&id),
        member: Some(&member),
    };
    let rendered = op.body.as_ref()?.render(&vars).ok()?;
    let mut path = Vec::new();
    if !find_string(&rendered, MEMBER_SENTINEL, &mut path) {
        return None;
    }
    let mut v = call.body.as_ref()?;
    for step in &path {
        v = match v {
            Value::Array(a) => a.get(step.parse::<usize>().ok()?)?,
            other => other.get(step)?,
        };
    }
    id_text(v)
}

/// Objects merged: `patch`'s fields over `base`'s, recursively for objects.
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

fn reply(status: StatusCode, body: Option<Value>, headers: HeaderMap) -> Reply {
    Reply {
        status,
        headers,
        body: body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string())),
    }
}

/// The resource's name in labels (`users`, `groups`).
fn resource_name(label: &str) -> &str {
    label.split('.').next().unwrap_or(label)
}

impl<T: Transport> Shadowed<'_, T> {
    fn role(&self, call: &Call) -> (Option<&ResourceMap>, Role<'_>) {
        let label = call.operation;
        for map in [&self.mapping.users, &self.mapping.groups]
            .into_iter()
            .flatten()
        {
            fn is<'m>(op: &'m Option<Op>, label: &str) -> Option<&'m Op> {
                op.as_ref().filter(|o| o.label == label)
            }
            if let Some(op) = is(&map.create, label) {
                return (Some(map), Role::Create(op));
            }
            // A multi-step create: the step that sends the attribute-built body is the create
            // (its simulated answer carries the new id, so later steps can use it); later steps
            // update the object the run created when their path names it.
            if let Some(create) = &map.create
                && let Some(steps) = &create.steps
                && let Some(i) = steps.steps.iter().position(|s| s.call.label == label)
            {
                let role = if i == steps.body_step.unwrap_or(0) {
                    Role::Create(create)
                } else {
                    Role::Step(create)
                };
                return (Some(map), role);
            }
            if let Some(op) = is(&map.read, label) {
                return (Some(map), Role::Read(op));
            }
            if let Some(op) = is(&map.replace, label).or_else(|| is(&map.update, label)) {
                return (Some(map), Role::Write(op));
            }
            if let Some(op) = is(&map.delete, label) {
                return (Some(map), Role::Delete(op));
            }
            if let Deactivation::Calls(pair) = &map.deactivate {
                if pair.deactivate.label == label {
                    return (Some(map), Role::Deactivate(&pair.deactivate));
                }
                if pair.activate.label == label {
                    return (Some(map), Role::Activate(&pair.activate));
                }
            }
            if let Some(MemberSpec::Calls(m)) = &map.members {
                if m.list.label == label {
                    return (Some(map), Role::MembersList(&m.list));
                }
                if m.add.label == label {
                    return (Some(map), Role::MemberAdd(&m.add));
                }
                if m.remove.label == label {
                    return (Some(map), Role::MemberRemove(&m.remove));
                }
            }
        }
        (None, Role::Other)
    }

    /// A read: served from the run's memory when it wrote the object, else by the platform.
    async fn read(
        &self,
        call: &Call,
        map: Option<&ResourceMap>,
        role: Role<'_>,
    ) -> Result<Reply, Error> {
        match (map, role) {
            (Some(_), Role::Read(op)) => {
                if let (Some(id), _) = ids_in(&op.path, &call.path) {
                    let key = format!("{}/{id}", resource_name(op.label));
                    match self.shadow.with_store(|s| s.objects.get(&key).cloned()) {
                        Some(Known::Object { value, .. }) => {
                            let mut body = Value::Null;
                            op.response.place(&mut body, value);
                            return Ok(reply(StatusCode::OK, Some(body), HeaderMap::new()));
                        }
                        Some(Known::Deleted) => {
                            return Ok(reply(
                                StatusCode::NOT_FOUND,
                                Some(json!({"error": "not_found"})),
                                HeaderMap::new(),
                            ));
                        }
                        None => {}
                    }
                }
            }
            (Some(_), Role::MembersList(list)) => {
                if let (Some(id), _) = ids_in(&list.path, &call.path) {
                    let key = format!("{}/{id}", resource_name(list.label));
                    let members = self.shadow.with_store(|s| s.members.get(&key).cloned());
                    if let Some(members) = members {
                        return Ok(member_page(list, &members));
                    }
                }
            }
            _ => {}
        }
        self.inner.send(call).await
    }

    /// The object a write starts from: the run's copy, else the platform's (read through GET).
    async fn current(
        &self,
        map: &ResourceMap,
        key: &str,
        id: &str,
    ) -> Result<Option<Value>, Error> {
        match self.shadow.with_store(|s| s.objects.get(key).cloned()) {
            Some(Known::Object { value, .. }) => return Ok(Some(value)),
            Some(Known::Deleted) => return Ok(None),
            None => {}
        }
        let Some(read) = &map.read else {
            return Ok(Some(Value::Object(Map::new())));
        };
        let pid = PlatformId {
            text: id.to_owned(),
            json: platform_id_json(map, id),
        };
        let vars = Vars {
            id: Some(&pid),
            member: None,
        };
        let call = calls::build(read, &vars, None)?;
        let answer = self.inner.send(&call).await?;
        if !calls::succeeded(read, &answer) {
            return Ok(None);
        }
        calls::object(read, &answer)
    }

    /// A write: recorded, simulated, answered.
    async fn write(
        &self,
        call: &Call,
        map: Option<&ResourceMap>,
        role: Role<'_>,
    ) -> Result<Reply, Error> {
        let resource = resource_name(call.operation).to_owned();
        let secrets = secrets(self.mapping);
        let mut entry = Entry {
            at: crate::scim::datetime::format(crate::scim::datetime::Instant::now()),
            kind: Kind::Other,
            operation: call.operation.to_owned(),
            method: call.method.to_string(),
            path: record::redact_text(&call.path, &secrets),
            query: call
                .query
                .iter()
                .map(|(k, v)| (k.clone(), record::redact_text(v, &secrets)))
                .collect(),
            body: call.body.as_ref().map(|b| record::redact(b, &secrets)),
            resource: resource.clone(),
            id: None,
            name: None,
            changed: Vec::new(),
            member: None,
            request: self.origin.clone(),
        };
        let body = call
            .body
            .clone()
            .unwrap_or_else(|| Value::Object(Map::new()));
        let answer = match (map, role) {
            (Some(map), Role::Create(op)) => {
                let id = self.new_id(map, &resource, &body);
                let mut obj = body;
                map.id.place(&mut obj, platform_id_json(map, &id));
                entry.kind = Kind::Create;
                entry.name = name_of(map, &obj);
                entry.id = Some(id.clone());
                let key = format!("{resource}/{id}");
                self.shadow.with_store(|s| {
                    s.objects.insert(
                        key.clone(),
                        Known::Object {
                            value: obj.clone(),
                            created: true,
                        },
                    );
                    if map.members.is_some() {
                        s.members.insert(key, Default::default());
                    }
                });
                let mut out = Value::Null;
                op.response.place(&mut out, obj);
                reply(StatusCode::CREATED, Some(out), HeaderMap::new())
            }
            (Some(map), Role::Step(create)) => {
                // The object this run created that the step's path names, if any.
                let named = call.path.split('/').find_map(|segment| {
                    let id = percent_encoding::percent_decode_str(segment)
                        .decode_utf8_lossy()
                        .into_owned();
                    let key = format!("{resource}/{id}");
                    self.shadow.with_store(|s| match s.objects.get(&key) {
                        Some(Known::Object {
                            value,
                            created: true,
                        }) => Some((key, id, value.clone())),
                        _ => None,
                    })
                });
                let Some(known) = named else {
                    return self.record_only(entry, call);
                };
                self.updated(map, create, &mut entry, known, &body)
            }
            (Some(map), Role::Write(op)) => {
                let (Some(id), _) = ids_in(&op.path, &call.path) else {
                    return self.record_only(entry, call);
                };
                let key = format!("{resource}/{id}");
                let Some(before) = self.current(map, &key, &id).await? else {
                    return Ok(reply(
                        StatusCode::NOT_FOUND,
                        Some(json!({"error": "not_found"})),
                        HeaderMap::new(),
                    ));
                };
                self.updated(map, op, &mut entry, (key, id, before), &body)
            }
            (Some(map), Role::Delete(op)) => {
                let (id, _) = ids_in(&op.path, &call.path);
                // `active = false` deleting the record ([*.deactivate] mode = "delete").
                let disabling = matches!(map.deactivate, Deactivation::Delete)
                    && !self.origin.method.eq_ignore_ascii_case("DELETE");
                entry.kind = if disabling {
                    Kind::Disable
                } else {
                    Kind::Delete
                };
                if let Some(id) = &id {
                    let key = format!("{resource}/{id}");
                    self.shadow.with_store(|s| {
                        if let Some(Known::Object { value, .. }) = s.objects.get(&key) {
                            entry.name = name_of(map, value);
                        }
                        s.objects.insert(key.clone(), Known::Deleted);
                        s.members.remove(&key);
                    });
                }
                entry.id = id;
                reply(StatusCode::NO_CONTENT, None, HeaderMap::new())
            }
            (Some(_), Role::MemberAdd(op) | Role::MemberRemove(op)) => {
                let adding = matches!(role, Role::MemberAdd(_));
                let (group, _) = ids_in(&op.path, &call.path);
                let group = group.or_else(|| self.origin.resource_id.clone());
                let member = member_of(op, call);
                entry.kind = if adding {
                    Kind::MemberAdd
                } else {
                    Kind::MemberRemove
                };
                if let (Some(g), Some(m)) = (&group, &member) {
                    let key = format!("{resource}/{g}");
                    self.shadow.with_store(|s| {
                        if let Some(set) = s.members.get_mut(&key) {
                            if adding {
                                set.insert(m.clone());
                            } else {
                                set.remove(m);
                            }
                        }
                    });
                }
                entry.id = group;
                entry.member = member;
                reply(StatusCode::NO_CONTENT, None, HeaderMap::new())
            }
            (Some(_), Role::Deactivate(op) | Role::Activate(op)) => {
                entry.kind = if matches!(role, Role::Deactivate(_)) {
                    Kind::Disable
                } else {
                    Kind::Enable
                };
                entry.id = ids_in(&op.path, &call.path).0;
                reply(StatusCode::NO_CONTENT, None, HeaderMap::new())
            }
            _ => return self.record_only(entry, call),
        };
        self.shadow.append(&entry)?;
        self.metrics.shadow_write(call.operation);
        Ok(answer)
    }

    /// An update of a known object simulated: the body merged into it, the change recorded in
    /// `entry`, the run's copy replaced, and the object answered in `op`'s response shape.
    fn updated(
        &self,
        map: &ResourceMap,
        op: &Op,
        entry: &mut Entry,
        (key, id, before): (String, String, Value),
        body: &Value,
    ) -> Reply {
        let mut after = before.clone();
        merge(&mut after, body);
        entry.changed = record::changed_fields(&before, &after);
        entry.kind = activity(map, &before, &after).unwrap_or(Kind::Update);
        entry.id = Some(id);
        entry.name = name_of(map, &after);
        self.shadow.with_store(|s| {
            let created = matches!(
                s.objects.get(&key),
                Some(Known::Object { created: true, .. })
            );
            s.objects.insert(
                key,
                Known::Object {
                    value: after.clone(),
                    created,
                },
            );
        });
        let mut out = Value::Null;
        op.response.place(&mut out, after);
        reply(StatusCode::OK, Some(out), HeaderMap::new())
    }

    /// A write the simulation has no model for: recorded, answered 204.
    fn record_only(&self, mut entry: Entry, call: &Call) -> Result<Reply, Error> {
        entry.kind = Kind::Other;
        entry.id = self.origin.resource_id.clone();
        self.shadow.append(&entry)?;
        self.metrics.shadow_write(call.operation);
        Ok(reply(StatusCode::NO_CONTENT, None, HeaderMap::new()))
    }

    /// A deterministic id for a created object: from a digest of its body (`shadow-<hex>`, or a
    /// large number when ids are integers), never one the run already holds.
    fn new_id(&self, map: &ResourceMap, resource: &str, body: &Value) -> String {
        let text = body.to_string();
        let mut n = 0u32;
        loop {
            let d = aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                format!("{resource}\n{text}\n{n}").as_bytes(),
            );
            let mut eight = [0u8; 8];
            eight.copy_from_slice(&d.as_ref()[..8]);
            let h = u64::from_be_bytes(eight);
            let id = match map.id_type {
                IdType::Integer => (9_000_000_000 + h % 1_000_000_000).to_string(),
                IdType::String => format!("shadow-{h:016x}"),
            };
            let key = format!("{resource}/{id}");
            if n > 1000 || !self.shadow.with_store(|s| s.objects.contains_key(&key)) {
                return id;
            }
            n += 1;
        }
    }
}

/// An id in the platform's type.
fn platform_id_json(map: &ResourceMap, id: &str) -> Value {
    match map.id_type {
        IdType::Integer => id
            .parse::<u64>()
            .map_or_else(|_| Value::String(id.to_owned()), Value::from),
        IdType::String => Value::String(id.to_owned()),
    }
}

/// The object's name: its userName (users) or displayName (groups) field.
fn name_of(map: &ResourceMap, obj: &Value) -> Option<String> {
    let wanted = match map.kind {
        crate::scim::resource::ResourceKind::User => "userName",
        crate::scim::resource::ResourceKind::Group => "displayName",
    };
    map.attributes
        .iter()
        .filter(|a| a.attr.eq_ignore_ascii_case(wanted) && a.sub.is_none())
        .find_map(|a| a.write.as_ref()?.get(obj).and_then(id_text))
}

/// Whether a change of fields deactivates or activates: the `active` attribute's field took its
/// false or true value.
fn activity(map: &ResourceMap, before: &Value, after: &Value) -> Option<Kind> {
    let a = map
        .attributes
        .iter()
        .find(|a| a.attr.eq_ignore_ascii_case("active") && a.write.is_some())?;
    let field = a.write.as_ref()?;
    let (b, n) = (field.get(before), field.get(after)?);
    if b == Some(n) {
        return None;
    }
    let (off, on) = match &a.values {
        Some(v) => (v.get("false").cloned()?, v.get("true").cloned()?),
        None => (Value::Bool(false), Value::Bool(true)),
    };
    if *n == off {
        Some(Kind::Disable)
    } else if *n == on {
        Some(Kind::Enable)
    } else {
        None
    }
}

/// A page of a shadow-created group's members, in the list's shape.
fn member_page(list: &ListSpec, members: &std::collections::BTreeSet<String>) -> Reply {
    let items: Vec<Value> = members
        .iter()
        .map(|m| {
            let mut item = Value::Null;
            let v = m
                .parse::<u64>()
                .map_or_else(|_| Value::String(m.clone()), Value::from);
            match &list.value {
                Some(p) => p.place(&mut item, v),
                None => item = v,
            }
            item
        })
        .collect();
    let n = items.len();
    let mut body = Value::Object(Map::new());
    list.items.place(&mut body, Value::Array(items));
    let mut headers = HeaderMap::new();
    match &list.total {
        Total::Body(p) => p.place(&mut body, json!(n)),
        Total::Header(name) => {
            headers.insert(name.clone(), HeaderValue::from(n));
        }
        Total::Absent => {}
    }
    reply(StatusCode::OK, Some(body), headers)
}

/// The configured platform secrets (sensitive header values, the OAuth2 client secret).
fn secrets(mapping: &Mapping) -> Vec<&str> {
    let p = &mapping.platform;
    let mut out: Vec<&str> = p
        .headers
        .iter()
        .filter(|(_, v)| v.is_sensitive())
        .filter_map(|(_, v)| v.to_str().ok())
        .collect();
    if let Some(o) = &p.oauth {
        out.push(o.client_secret.expose());
    }
    out
}

impl<T: Transport> Transport for Shadowed<'_, T> {
    async fn send(&self, call: &Call) -> Result<Reply, Error> {
        let (map, role) = self.role(call);
        if call.method == Method::GET || call.method == Method::HEAD {
            self.read(call, map, role).await
        } else {
            self.write(call, map, role).await
        }
    }
}

#[cfg(test)]
pub(super) fn path_ids(template: &PathTemplate, path: &str) -> (Option<String>, Option<String>) {
    ids_in(template, path)
}
