//! The Entra ID rules of the normalize stage (the `entra` profile only), one pure function per
//! quirk. Each names the Entra quirk it handles (numbers from `shared/reference/entra-scim.md`, §2)
//! and the shape it turns into RFC 7644 form. Shapes a rule does not recognise are left alone for
//! the protocol core to judge. Rules Okta needs too are in `normalize/common.rs`.

use serde_json::{Map, Value, json};

use super::common::{Fired, attr_in_op, attr_in_resource, attribute_of, fire};
use crate::scim::filter::{Filter, Literal, PatchPath, Site};
use crate::scim::path::{AttrPath, Location, resolve};
use crate::scim::schema::{AttrType, Attribute, ENTERPRISE_USER_URN, ResourceSchema};
use crate::scim::value::key_ci;

fn string_bool(v: &Value) -> Option<bool> {
    match v {
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Converts `"True"`/`"False"` (any case) to booleans wherever `attr` (or its sub-attributes)
/// is boolean. Returns whether anything changed.
fn coerce_bools(v: &mut Value, attr: &Attribute) -> bool {
    match (attr.ty, &mut *v) {
        (AttrType::Boolean, _) => match string_bool(v) {
            Some(b) => {
                *v = Value::Bool(b);
                true
            }
            None => false,
        },
        (AttrType::Complex, Value::Array(items)) => {
            let mut changed = false;
            for it in items {
                changed |= coerce_bools_in_object(it, attr);
            }
            changed
        }
        (AttrType::Complex, Value::Object(_)) => coerce_bools_in_object(v, attr),
        _ => false,
    }
}

fn coerce_bools_in_object(v: &mut Value, attr: &Attribute) -> bool {
    let Some(obj) = v.as_object_mut() else {
        return false;
    };
    let mut changed = false;
    for (k, x) in obj.iter_mut() {
        if let Some(sub) = attr.sub(k) {
            changed |= coerce_bools(x, sub);
        }
    }
    changed
}

/// Coerces booleans in an object of attributes (a resource body or a path-less PATCH value):
/// keys may be names, dotted names, URN-qualified names, or extension URNs holding objects.
fn coerce_bools_in_attributes(obj: &mut Map<String, Value>, schema: &ResourceSchema) -> bool {
    let mut changed = false;
    for (k, v) in obj.iter_mut() {
        if let Some(ext) = schema.extension(k) {
            if let Some(inner) = v.as_object_mut() {
                for (ik, iv) in inner.iter_mut() {
                    if let Some(a) = ext.schema.attribute(ik) {
                        changed |= coerce_bools(iv, a);
                    }
                }
            }
            continue;
        }
        if let Some((attr, sub)) = attribute_of(schema, k) {
            changed |= coerce_bools(v, sub.unwrap_or(attr));
        }
    }
    changed
}

/// Quirk 2: `active` (and any boolean) arrives as `"True"`/`"False"`/`"false"` strings, in PATCH
/// values with or without a path.
pub fn string_booleans_in_op(op: &mut Value, schema: &ResourceSchema, fired: &mut Fired) {
    let path = op
        .get("path")
        .and_then(Value::as_str)
        .and_then(|p| PatchPath::parse(p).ok());
    let Some(value) = op.get_mut("value") else {
        return;
    };
    let changed = match path {
        Some(p) => match resolve(schema, &p.attr) {
            Some(t) => {
                let leaf = p.sub.as_deref().and_then(|s| t.attribute.sub(s)).or(t.sub);
                match leaf {
                    Some(sub) => coerce_bools(value, sub),
                    None if p.filter.is_some() => coerce_bools_in_object(value, t.attribute),
                    None => coerce_bools(value, t.attribute),
                }
            }
            None => false,
        },
        None => match value.as_object_mut() {
            Some(obj) => coerce_bools_in_attributes(obj, schema),
            None => false,
        },
    };
    if changed {
        fire(fired, "entra.2.string_booleans");
    }
}

/// Quirk 2: string booleans in POST/PUT bodies (`"active": "True"`, Microsoft's Postman suite).
pub fn string_booleans_in_resource(body: &mut Value, schema: &ResourceSchema, fired: &mut Fired) {
    if let Some(obj) = body.as_object_mut()
        && coerce_bools_in_attributes(obj, schema)
    {
        fire(fired, "entra.2.string_booleans");
    }
}

/// Whether `path`, inside a value filter on `attr`, names a boolean sub-attribute.
fn element_is_bool(attr: &Attribute, path: &AttrPath) -> bool {
    path.urn.is_none()
        && path.sub.is_none()
        && attr
            .sub(&path.name)
            .is_some_and(|s| s.ty == AttrType::Boolean)
}

fn literal_bool(value: Literal, is_bool: bool, changed: &mut bool) -> Literal {
    match &value {
        Literal::String(s)
            if is_bool && (s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false")) =>
        {
            *changed = true;
            Literal::Bool(s.eq_ignore_ascii_case("true"))
        }
        _ => value,
    }
}

/// Quirk 3: a string boolean compared with a boolean attribute, in a filter
/// (`roles[primary eq "True"]`, `active eq "true"`).
pub fn filter_string_booleans(f: Filter, schema: &ResourceSchema, fired: &mut Fired) -> Filter {
    let mut changed = false;
    let out = f.map_compares(&mut |site, _, value| {
        let is_bool = match site {
            Site::Resource(path) => resolve(schema, path)
                .is_some_and(|t| t.sub.unwrap_or(t.attribute).ty == AttrType::Boolean),
            Site::Element { parent, path } => {
                resolve(schema, parent).is_some_and(|t| element_is_bool(t.attribute, path))
            }
            Site::Then { parent, sub } => resolve(schema, parent).is_some_and(|t| {
                t.attribute
                    .sub(sub)
                    .is_some_and(|s| s.ty == AttrType::Boolean)
            }),
        };
        literal_bool(value, is_bool, &mut changed)
    });
    if changed {
        fire(fired, "entra.3.filter_string_booleans");
    }
    out
}

/// Quirk 3: a string boolean inside a PATCH path's value filter (`roles[primary eq "True"].value`).
pub fn filter_string_booleans_in_path(op: &mut Value, schema: &ResourceSchema, fired: &mut Fired) {
    let Some(Value::String(text)) = op.get("path") else {
        return;
    };
    let Ok(mut p) = PatchPath::parse(text) else {
        return;
    };
    let (Some(f), Some(t)) = (p.filter.take(), resolve(schema, &p.attr)) else {
        return;
    };
    let mut changed = false;
    // The value filter's paths are relative to an element of `t.attribute`.
    p.filter = Some(f.map_compares(&mut |site, _, value| match site {
        Site::Resource(path) | Site::Element { path, .. } => {
            let is_bool = element_is_bool(t.attribute, path);
            literal_bool(value, is_bool, &mut changed)
        }
        Site::Then { .. } => value,
    }));
    if changed {
        op["path"] = Value::String(p.to_string());
        fire(fired, "entra.3.filter_string_booleans");
    }
}

fn is_manager(schema: &ResourceSchema, attr: &AttrPath) -> bool {
    resolve(schema, attr).is_some_and(|t| {
        t.attribute.name == "manager"
            && matches!(t.location, Location::Extension(u) if u.eq_ignore_ascii_case(ENTERPRISE_USER_URN))
    })
}

/// The `{"value": id}` form of a manager given as a string, an object, or a one-element array.
fn manager_value(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) if !s.is_empty() => Some(json!({ "value": s })),
        Value::Array(a) if a.len() == 1 => manager_value(&a[0]),
        Value::Object(o) => {
            let mut o = o.clone();
            o.retain(|k, v| !(k == "$ref" && v.is_null()));
            Some(Value::Object(o))
        }
        _ => None,
    }
}

/// Quirk 12: `manager` as a plain string (`"value": "<id>"`), as an array (tutorial Example 5),
/// removed by `replace ""` or by `remove manager[value eq "<id>"]` (a filter on a single-valued
/// attribute); normalized to `{"value": "<id>"}`, and to a plain `remove` of the manager.
pub fn manager_in_op(op: &mut Value, schema: &ResourceSchema, fired: &mut Fired) {
    let Some(text) = op.get("path").and_then(Value::as_str).map(str::to_owned) else {
        // path-less: {"urn:...:User:manager": "id"} or {"urn:...:User": {"manager": "id"}}
        if let Some(obj) = op.get_mut("value").and_then(Value::as_object_mut)
            && manager_in_attributes(obj, schema)
        {
            fire(fired, "entra.12.manager");
        }
        return;
    };
    let Ok(p) = PatchPath::parse(&text) else {
        return;
    };
    if !is_manager(schema, &p.attr) || p.attr.sub.is_some() || p.sub.is_some() {
        return;
    }
    let is_remove = op.get("op").and_then(Value::as_str) == Some("remove");
    if p.filter.is_some() {
        // remove manager[value eq "x"] → remove manager
        let plain = AttrPath {
            sub: None,
            ..p.attr.clone()
        };
        op["path"] = Value::String(plain.to_string());
        fire(fired, "entra.12.manager");
        return;
    }
    if is_remove {
        return;
    }
    match op.get("value") {
        Some(Value::String(s)) if s.is_empty() => {
            op["op"] = json!("remove");
            if let Some(o) = op.as_object_mut() {
                o.remove("value");
            }
            fire(fired, "entra.12.manager");
        }
        Some(v @ (Value::String(_) | Value::Array(_))) => {
            if let Some(m) = manager_value(v) {
                op["value"] = m;
                fire(fired, "entra.12.manager");
            }
        }
        _ => {}
    }
}

fn manager_in_attributes(obj: &mut Map<String, Value>, schema: &ResourceSchema) -> bool {
    let mut changed = false;
    let keys: Vec<String> = obj.keys().cloned().collect();
    for k in keys {
        if schema
            .extension(&k)
            .is_some_and(|e| e.schema.id.eq_ignore_ascii_case(ENTERPRISE_USER_URN))
        {
            if let Some(inner) = obj.get_mut(&k).and_then(Value::as_object_mut)
                && let Some(mk) = key_ci(inner, "manager").map(str::to_owned)
            {
                match inner.get(&mk) {
                    Some(Value::String(s)) if s.is_empty() => {
                        inner.insert(mk, Value::Null);
                        changed = true;
                    }
                    Some(v @ (Value::String(_) | Value::Array(_))) => {
                        if let Some(m) = manager_value(v) {
                            inner.insert(mk, m);
                            changed = true;
                        }
                    }
                    _ => {}
                }
            }
        } else if AttrPath::parse(&k).is_ok_and(|p| p.sub.is_none() && is_manager(schema, &p)) {
            match obj.get(&k) {
                Some(Value::String(s)) if s.is_empty() => {
                    obj.insert(k, Value::Null);
                    changed = true;
                }
                Some(v @ (Value::String(_) | Value::Array(_))) => {
                    if let Some(m) = manager_value(v) {
                        obj.insert(k, m);
                        changed = true;
                    }
                }
                _ => {}
            }
        }
    }
    changed
}

/// Quirk 12: `"manager": "<id>"` in POST/PUT bodies.
pub fn manager_in_resource(body: &mut Value, schema: &ResourceSchema, fired: &mut Fired) {
    if let Some(obj) = body.as_object_mut()
        && manager_in_attributes(obj, schema)
    {
        fire(fired, "entra.12.manager");
    }
}

/// A role serialised as a JSON string (`{"value": "{\"id\":..,\"value\":\"25\",\"displayName\":..}"}`)
/// turned into `{"value": "25", "display": ...}`.
fn role_item(item: &mut Value) -> bool {
    let Some(obj) = item.as_object_mut() else {
        return false;
    };
    let Some(k) = key_ci(obj, "value").map(str::to_owned) else {
        return false;
    };
    let Some(Value::String(s)) = obj.get(&k) else {
        return false;
    };
    if !s.trim_start().starts_with('{') {
        return false;
    }
    let Ok(Value::Object(inner)) = serde_json::from_str::<Value>(s) else {
        return false;
    };
    let value = inner
        .get("value")
        .or_else(|| inner.get("id"))
        .cloned()
        .unwrap_or(Value::Null);
    obj.insert(
        k,
        match value {
            Value::Number(n) => Value::String(n.to_string()),
            other => other,
        },
    );
    if let Some(d) = inner.get("displayName").or_else(|| inner.get("display")) {
        obj.entry("display").or_insert_with(|| d.clone());
    }
    true
}

fn roles_in(v: &mut Value) -> bool {
    match v {
        Value::Array(items) => {
            let mut changed = false;
            for it in items {
                changed |= role_item(it);
            }
            changed
        }
        Value::Object(_) => role_item(v),
        _ => false,
    }
}

/// Quirk 14: PATCH values of `roles` serialised as JSON strings.
pub fn roles_as_json_strings_in_op(op: &mut Value, fired: &mut Fired) {
    if attr_in_op(op, "roles", roles_in) {
        fire(fired, "entra.14.roles_json");
    }
}

/// Quirk 14: the same in POST/PUT bodies.
pub fn roles_as_json_strings_in_resource(body: &mut Value, fired: &mut Fired) {
    if attr_in_resource(body, "roles", roles_in) {
        fire(fired, "entra.14.roles_json");
    }
}

/// Quirk 10: `{"op": "remove", "path": "members", "value": [{"value": "<id>"}, ...]}` means
/// "remove these members" to Entra; an RFC-literal server would remove every member. Rewritten
/// to one `remove members[value eq "<id>"]` per item. Any other op is returned as is.
pub fn member_removal_by_value(op: Value, fired: &mut Fired) -> Vec<Value> {
    let is_remove = op.get("op").and_then(Value::as_str) == Some("remove");
    let is_members = op
        .get("path")
        .and_then(Value::as_str)
        .is_some_and(|p| p.eq_ignore_ascii_case("members"));
    // Only the documented shape: an array of member objects. A single object or bare ids are
    // left for the core, which refuses a `remove` with a value and explains the RFC form.
    let items = match op.get("value") {
        Some(Value::Array(a)) if is_remove && is_members && !a.is_empty() => a.clone(),
        _ => return vec![op],
    };
    let mut out = Vec::with_capacity(items.len());
    for it in &items {
        let id = match it {
            Value::Object(o) => key_ci(o, "value").and_then(|k| o.get(k)),
            _ => None,
        };
        let Some(Value::String(id)) = id else {
            // not an id we can name: leave the op for the core to refuse
            return vec![op];
        };
        out.push(json!({
            "op": "remove",
            "path": format!("members[value eq {}]", Value::String(id.clone())),
        }));
    }
    fire(fired, "entra.10.member_removal_by_value");
    out
}

#[cfg(test)]
mod tests;
