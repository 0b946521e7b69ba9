//! Converting between SCIM resources and platform objects through a compiled mapping: reading
//! (platform → SCIM), writing (SCIM → platform body), and the changed-fields diff used for
//! partial updates. Pure functions; no I/O.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

use crate::mapping::field::FieldPath;
use crate::mapping::model::{
    AttrMap, Deactivation, IdType, MemberSpec, PlatformType, Read, ResourceMap,
};
use crate::mapping::template::PlatformId;
use crate::scim::error::ScimError;
use crate::scim::schema::AttrType;
use crate::scim::value::get_ci;

/// A platform object read as a SCIM resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// The platform id.
    pub id: PlatformId,
    /// The SCIM resource: `schemas`, `id` and the mapped attributes (no `meta.location`, no
    /// members from separate calls).
    pub scim: Value,
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    }
}

fn eq_loose(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

/// Whether an element of a multi-valued attribute satisfies a mapping's filter equalities.
pub fn element_selected(m: &AttrMap, el: &Value) -> bool {
    let Some(obj) = el.as_object() else {
        return false;
    };
    m.filter_eqs
        .iter()
        .all(|(sub, want)| get_ci(obj, sub).is_some_and(|v| eq_loose(v, want)))
}

/// The SCIM value a mapping targets in a resource (`null`, `""` and `[]` count as absent).
pub fn scim_get<'a>(m: &AttrMap, scim: &'a Value) -> Option<&'a Value> {
    let root = scim.as_object()?;
    let container = match &m.extension {
        None => root,
        Some(urn) => get_ci(root, urn)?.as_object()?,
    };
    let top = get_ci(container, &m.attr)?;
    let v = if m.filter.is_some() {
        let el = top.as_array()?.iter().find(|e| element_selected(m, e))?;
        get_ci(el.as_object()?, m.sub.as_deref()?)?
    } else if let Some(sub) = &m.sub {
        get_ci(top.as_object()?, sub)?
    } else {
        top
    };
    present(v).then_some(v)
}

/// Sets the SCIM value a mapping targets, creating the extension object, the complex value or
/// the selected element (from the filter equalities) as needed.
pub fn scim_set(m: &AttrMap, scim: &mut Value, v: Value) {
    if !scim.is_object() {
        *scim = Value::Object(Map::new());
    }
    let Some(root) = scim.as_object_mut() else {
        return;
    };
    let container = match &m.extension {
        None => root,
        Some(urn) => {
            let ext = root
                .entry(urn.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !ext.is_object() {
                *ext = Value::Object(Map::new());
            }
            match ext.as_object_mut() {
                Some(o) => o,
                None => return,
            }
        }
    };
    if m.filter.is_some() {
        let Some(sub) = &m.sub else { return };
        let arr = container
            .entry(m.attr.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if !arr.is_array() {
            *arr = Value::Array(Vec::new());
        }
        let Some(items) = arr.as_array_mut() else {
            return;
        };
        let idx = match items.iter().position(|e| element_selected(m, e)) {
            Some(i) => i,
            None => {
                let el: Map<String, Value> = m.filter_eqs.iter().cloned().collect();
                items.push(Value::Object(el));
                items.len() - 1
            }
        };
        if let Some(el) = items[idx].as_object_mut() {
            el.insert(sub.clone(), v);
        }
    } else if let Some(sub) = &m.sub {
        let obj = container
            .entry(m.attr.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !obj.is_object() {
            *obj = Value::Object(Map::new());
        }
        if let Some(o) = obj.as_object_mut() {
            o.insert(sub.clone(), v);
        }
    } else {
        container.insert(m.attr.clone(), v);
    }
}

/// A SCIM value (as text) for value-map lookups: `true`, `work`, `42`.
fn value_key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// SCIM value → platform value: trim, lowercase, value map, platform type.
pub fn to_platform_value(m: &AttrMap, v: &Value) -> Result<Value, ScimError> {
    let mut v = v.clone();
    if let Value::String(s) = &mut v {
        if m.trim {
            *s = s.trim().to_owned();
        }
        if m.lowercase {
            *s = s.to_lowercase();
        }
    }
    if let Some(map) = &m.values {
        let k = value_key(&v);
        let found = map.get(&k).or_else(|| {
            map.iter()
                .find(|(x, _)| x.eq_ignore_ascii_case(&k))
                .map(|(_, y)| y)
        });
        v = match found {
            Some(p) => p.clone(),
            None => {
                let accepted: Vec<&str> = map.keys().map(String::as_str).collect();
                return Err(ScimError::invalid_value(format!(
                    "{}: the platform cannot store {}; accepted values: {}",
                    m.scim,
                    v,
                    accepted.join(", ")
                )));
            }
        };
    }
    let bad = |want: &str, v: &Value| {
        ScimError::invalid_value(format!(
            "{}: {} cannot be stored as the platform's {want}",
            m.scim, v
        ))
    };
    Ok(match m.platform_type {
        None => v,
        Some(PlatformType::String) => match v {
            Value::String(_) => v,
            Value::Number(n) => Value::String(n.to_string()),
            Value::Bool(b) => Value::String(b.to_string()),
            other => return Err(bad("string", &other)),
        },
        Some(PlatformType::Integer) => match &v {
            Value::Number(n) if n.is_i64() || n.is_u64() => v,
            Value::String(s) => match s.trim().parse::<i64>() {
                Ok(i) => json!(i),
                Err(_) => return Err(bad("integer", &v)),
            },
            other => return Err(bad("integer", other)),
        },
        Some(PlatformType::Number) => match &v {
            Value::Number(_) => v,
            Value::String(s) => match s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                Some(n) => Value::Number(n),
                None => return Err(bad("number", &v)),
            },
            other => return Err(bad("number", other)),
        },
        Some(PlatformType::Boolean) => match &v {
            Value::Bool(_) => v,
            Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            other => return Err(bad("boolean", other)),
        },
    })
}

/// Platform value → SCIM value: reverse value map, then coercion to the SCIM type. `None` when
/// the platform value is empty or has no SCIM counterpart.
pub fn to_scim_value(m: &AttrMap, v: Value) -> Option<Value> {
    if !present(&v) {
        return None;
    }
    let v = match &m.values {
        Some(map) => {
            let (k, _) = map.iter().find(|(_, p)| eq_loose(p, &v))?;
            match m.ty {
                AttrType::Boolean => Value::Bool(k == "true"),
                AttrType::Integer => json!(k.parse::<i64>().ok()?),
                AttrType::Decimal => Value::Number(serde_json::Number::from_f64(k.parse().ok()?)?),
                _ => Value::String(k.clone()),
            }
        }
        None => v,
    };
    Some(match (m.ty, v) {
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Value::Bool(true)
        }
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Value::Bool(false)
        }
        (AttrType::Boolean, v @ Value::Bool(_)) => v,
        (AttrType::Boolean, _) => return None,
        (AttrType::Integer, Value::String(s)) => json!(s.trim().parse::<i64>().ok()?),
        (AttrType::Integer | AttrType::Decimal, v @ Value::Number(_)) => v,
        (AttrType::Decimal, Value::String(s)) => {
            Value::Number(serde_json::Number::from_f64(s.trim().parse().ok()?)?)
        }
        (AttrType::Integer | AttrType::Decimal, _) => return None,
        (_, Value::Number(n)) => Value::String(n.to_string()),
        (_, Value::Bool(b)) => Value::String(b.to_string()),
        (_, v @ Value::String(_)) => v,
        (AttrType::Complex, v @ Value::Object(_)) => v,
        (_, _) => return None,
    })
}

/// Reads the platform id of a platform object.
pub fn platform_id(map: &ResourceMap, obj: &Value) -> Option<PlatformId> {
    match map.id.first(obj)? {
        Value::String(s) if !s.is_empty() => Some(PlatformId {
            text: s.clone(),
            json: Value::String(s.clone()),
        }),
        Value::Number(n) => Some(PlatformId {
            text: n.to_string(),
            json: Value::Number(n.clone()),
        }),
        _ => None,
    }
}

/// A SCIM id turned into a platform id, or `None` when it cannot name a platform resource
/// (a non-integer for integer ids, or one in a non-canonical form such as `007`, which would
/// otherwise alias `7`): such ids are answered 404 without calling the platform.
pub fn parse_id(id_type: IdType, scim_id: &str) -> Option<PlatformId> {
    match id_type {
        IdType::Integer => {
            if scim_id.is_empty()
                || scim_id.len() > 19
                || !scim_id.bytes().all(|b| b.is_ascii_digit())
                || (scim_id.len() > 1 && scim_id.starts_with('0'))
            {
                return None;
            }
            let n: u64 = scim_id.parse().ok()?;
            Some(PlatformId {
                text: n.to_string(),
                json: json!(n),
            })
        }
        IdType::String => {
            if scim_id.is_empty() || scim_id == "." || scim_id == ".." || scim_id.len() > 1024 {
                return None;
            }
            Some(PlatformId {
                text: scim_id.to_owned(),
                json: Value::String(scim_id.to_owned()),
            })
        }
    }
}

/// Reads a platform object into a SCIM resource.
pub fn to_scim(map: &ResourceMap, obj: &Value) -> Result<Converted, String> {
    let id = platform_id(map, obj).ok_or_else(|| {
        format!(
            "the platform object has no usable id at {}",
            map.id.as_str()
        )
    })?;
    // Built directly (no `json!` temporaries), with room for the attributes it will get.
    let mut top = Map::with_capacity(map.attributes.len() + 3);
    top.insert(
        "schemas".to_owned(),
        Value::Array(vec![Value::from(map.schema.core.id.as_str())]),
    );
    top.insert("id".to_owned(), Value::String(id.text.clone()));
    let mut scim = Value::Object(top);
    for m in map.attributes.iter().filter(|m| !m.copy) {
        let raw = match &m.read {
            Read::Field(f) => f.get(obj).cloned(),
            Read::Json(p) => p.first(obj).cloned(),
            Read::Join(t) => t.render(obj).map(Value::String),
            Read::Constant(c) => Some(c.clone()),
        };
        let raw = if m.array { raw.map(first_element) } else { raw };
        if let Some(v) = raw.and_then(|r| to_scim_value(m, r)) {
            scim_set(m, &mut scim, v);
        }
    }
    if matches!(map.deactivate, Deactivation::Delete) {
        scim["active"] = Value::Bool(true);
    }
    if let Some(MemberSpec::Embedded { field, item_field }) = &map.members {
        let members = embedded_members(obj, field, item_field.as_ref());
        if !members.is_empty() {
            scim["members"] = Value::Array(
                members
                    .into_iter()
                    .map(|id| json!({ "value": id, "type": "User" }))
                    .collect(),
            );
        }
    }
    // Extension URNs in use join the core URN in `schemas`.
    for e in &map.schema.extensions {
        if scim.get(&e.schema.id).is_some()
            && let Some(arr) = scim["schemas"].as_array_mut()
        {
            arr.push(Value::from(e.schema.id.as_str()));
        }
    }
    Ok(Converted { id, scim })
}

/// The value an `array = true` mapping reads: the first present element of an array (a platform
/// that holds a bare value is read as is).
fn first_element(v: Value) -> Value {
    match v {
        Value::Array(items) => items.into_iter().find(present).unwrap_or(Value::Null),
        other => other,
    }
}

/// A platform value as stored in the mapping's field: wrapped in a one-element array for
/// `array = true`.
fn stored(m: &AttrMap, v: Value) -> Value {
    if m.array { Value::Array(vec![v]) } else { v }
}

/// The member ids held in a group object (`field`, optionally objects with `item_field`).
pub fn embedded_members(
    obj: &Value,
    field: &FieldPath,
    item_field: Option<&FieldPath>,
) -> Vec<String> {
    let Some(Value::Array(items)) = field.get(obj) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|it| match item_field {
            Some(f) => f.get(it),
            None => Some(it),
        })
        .filter_map(|v| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

/// How a full platform body is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A create: defaults apply, required fields must be present.
    Create,
    /// A full replace (PUT): required fields must be present; absent fields are left out.
    Replace,
}

struct Candidate<'m> {
    field: &'m FieldPath,
    value: Option<Value>,
    from: &'m AttrMap,
}

fn conflict(field: &FieldPath, a: &AttrMap, b: &AttrMap, va: &Value, vb: &Value) -> ScimError {
    ScimError::invalid_value(format!(
        "{} ({va}) and {} ({vb}) are both stored in the platform field `{field}` but differ; send the same value, or drop one of them from the provisioning client's attribute mappings",
        a.scim, b.scim
    ))
}

fn required_missing(m: &AttrMap) -> ScimError {
    ScimError::invalid_value(format!(
        "{} is required by the platform (stored in `{}`) but the request has none; set it at the source (for Entra ID: make sure the attribute mapped to {} has a value for this user)",
        m.scim,
        m.write.as_ref().map(FieldPath::as_str).unwrap_or("?"),
        m.scim
    ))
}

/// A platform field, its merged value (`None`: cleared or absent) and the mapping it came from.
type Merged<'m> = (&'m FieldPath, Option<Value>, &'m AttrMap);

/// Merges candidates per field: agreeing values merge, differing ones are a 400 naming both.
fn merge<'m>(cands: Vec<Candidate<'m>>) -> Result<Vec<Merged<'m>>, ScimError> {
    let mut out: Vec<(&FieldPath, Option<Value>, &AttrMap)> = Vec::new();
    for c in cands {
        match out.iter_mut().find(|(f, _, _)| *f == c.field) {
            None => out.push((c.field, c.value, c.from)),
            Some((_, existing, from)) => match (&*existing, &c.value) {
                (Some(a), Some(b)) if a != b => return Err(conflict(c.field, from, c.from, a, b)),
                (None, Some(_)) => {
                    *existing = c.value;
                    *from = c.from;
                }
                _ => {}
            },
        }
    }
    Ok(out)
}

/// Builds the platform body for a create or a full replace.
pub fn to_platform(map: &ResourceMap, scim: &Value, purpose: Purpose) -> Result<Value, ScimError> {
    let mut cands = Vec::new();
    for m in &map.attributes {
        let Some(field) = &m.write else { continue };
        let v = match scim_get(m, scim) {
            Some(v) => Some(stored(m, to_platform_value(m, v)?)),
            None if purpose == Purpose::Create => match &m.default {
                Some(d) => Some(stored(m, to_platform_value(m, d)?)),
                None => None,
            },
            None => None,
        };
        cands.push(Candidate {
            field,
            value: v,
            from: m,
        });
    }
    let merged = merge(cands)?;
    let mut body = Value::Object(Map::new());
    for (field, value, _) in &merged {
        if let Some(v) = value {
            field.set(&mut body, v.clone());
        }
    }
    for m in map.attributes.iter().filter(|m| m.required) {
        let Some(field) = &m.write else { continue };
        if field.get(&body).is_none() {
            return Err(required_missing(m));
        }
    }
    Ok(body)
}

/// The body of a `replace` that keeps what the mapping does not cover: the platform object as
/// read, with every field the mapping writes taken from `body` (the body built from the mapping).
/// A mapped field that `body` lacks is removed, exactly as a body built from the mapping alone
/// would leave it out, so SCIM PUT semantics (omitted attributes are cleared) are unchanged.
pub fn overlay(map: &ResourceMap, read: &Value, body: Value) -> Value {
    let mut out = read.clone();
    for m in &map.attributes {
        if let Some(f) = &m.write {
            f.remove(&mut out);
        }
    }
    if let Some(MemberSpec::Embedded { field, .. }) = &map.members {
        field.remove(&mut out);
    }
    merge_into(&mut out, body);
    out
}

/// Merges `src` into `dst`: objects key by key, anything else replaced.
fn merge_into(dst: &mut Value, src: Value) {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) => {
            for (k, v) in s {
                match d.get_mut(&k) {
                    Some(slot) => merge_into(slot, v),
                    None => {
                        d.insert(k, v);
                    }
                }
            }
        }
        (d, s) => *d = s,
    }
}

/// The platform fields that change between two SCIM resources (old as read from the platform,
/// new after the client's changes), for a partial update. A field written by several SCIM
/// attributes takes the value of the one that changed; clearing writes the mapping's `clear`.
pub fn diff(map: &ResourceMap, old: &Value, new: &Value) -> Result<Map<String, Value>, ScimError> {
    let mut cands = Vec::new();
    for m in &map.attributes {
        let Some(field) = &m.write else { continue };
        let before = scim_get(m, old)
            .and_then(|v| to_platform_value(m, v).ok())
            .map(|v| stored(m, v));
        let after = match scim_get(m, new) {
            Some(v) => Some(stored(m, to_platform_value(m, v)?)),
            None => None,
        };
        if before != after {
            cands.push(Candidate {
                field,
                value: after,
                from: m,
            });
        }
    }
    let merged = merge(cands)?;
    let mut body = Value::Object(Map::new());
    for (field, value, from) in merged {
        match value {
            Some(v) => field.set(&mut body, v),
            None => {
                let still_provided = map
                    .attributes
                    .iter()
                    .any(|o| o.write.as_ref() == Some(field) && scim_get(o, new).is_some());
                if still_provided {
                    continue;
                }
                if let Some(req) = map
                    .attributes
                    .iter()
                    .find(|o| o.required && o.write.as_ref() == Some(field))
                {
                    return Err(ScimError::invalid_value(format!(
                        "{} cannot be removed: the platform requires it (field `{field}`)",
                        req.scim
                    )));
                }
                field.set(&mut body, from.clear.clone());
            }
        }
    }
    match body {
        Value::Object(m) => Ok(m),
        _ => Ok(Map::new()),
    }
}

/// The attributes of a (validated, canonical-key) SCIM resource that no mapping covers, as
/// paths (`phoneNumbers`, `name.middleName`, `emails[type eq "home"]`,
/// `urn:...:User:department`). Read-only mappings count as covering their attribute.
pub fn uncovered(map: &ResourceMap, scim: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(root) = scim.as_object() else {
        return out;
    };
    let skip = ["schemas", "id", "meta"];
    let ext_urns: BTreeMap<String, String> = map
        .schema
        .extensions
        .iter()
        .map(|e| (e.schema.id.to_ascii_lowercase(), e.schema.id.clone()))
        .collect();
    let check = |ext: Option<&str>, attr: &str, v: &Value, out: &mut Vec<String>| {
        let prefix = ext.map(|u| format!("{u}:")).unwrap_or_default();
        let maps: Vec<&AttrMap> = map
            .attributes
            .iter()
            .filter(|m| {
                m.extension.as_deref().map(str::to_ascii_lowercase)
                    == ext.map(str::to_ascii_lowercase)
                    && m.attr.eq_ignore_ascii_case(attr)
            })
            .collect();
        if ext.is_none() && attr.eq_ignore_ascii_case("members") && map.members.is_some() {
            return;
        }
        if maps.is_empty() {
            if present(v) {
                out.push(format!("{prefix}{attr}"));
            }
            return;
        }
        match v {
            Value::Array(items) if maps.iter().any(|m| m.filter.is_some()) => {
                for el in items {
                    let selecting: Vec<&&AttrMap> =
                        maps.iter().filter(|m| element_selected(m, el)).collect();
                    let Some(obj) = el.as_object() else { continue };
                    if selecting.is_empty() {
                        let what = obj
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("type"))
                            .map(|(_, t)| format!("[type eq {t}]"))
                            .unwrap_or_default();
                        out.push(format!("{prefix}{attr}{what}"));
                        continue;
                    }
                    for (k, sv) in obj {
                        // `primary` marks the element the mapping selects as the main one; the
                        // platform holds that one element, so it is implied, not stored.
                        let covered = k.eq_ignore_ascii_case("primary")
                            || selecting.iter().any(|m| {
                                m.sub.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(k))
                                    || m.filter_eqs.iter().any(|(s, _)| s.eq_ignore_ascii_case(k))
                            });
                        if !covered && present(sv) {
                            out.push(format!("{prefix}{attr}.{k}"));
                        }
                    }
                }
            }
            Value::Object(obj) => {
                for (k, sv) in obj {
                    let covered = maps
                        .iter()
                        .any(|m| m.sub.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(k)));
                    if !covered && present(sv) {
                        out.push(format!("{prefix}{attr}.{k}"));
                    }
                }
            }
            _ => {}
        }
    };
    for (k, v) in root {
        if skip.iter().any(|s| s.eq_ignore_ascii_case(k)) {
            continue;
        }
        if let Some(urn) = ext_urns.get(&k.to_ascii_lowercase()) {
            if let Some(obj) = v.as_object() {
                for (ak, av) in obj {
                    check(Some(urn), ak, av, &mut out);
                }
            }
            continue;
        }
        check(None, k, v, &mut out);
    }
    out
}

#[cfg(test)]
mod tests;
