//! The rules of the normalize stage, one pure function per quirk. Each names the Entra quirk it
//! handles (numbers from `shared/reference/entra-scim.md`, §2) and the shape it turns into RFC
//! 7644 form. Shapes a rule does not recognise are left alone for the protocol core to judge.

use serde_json::{Map, Value, json};

use crate::normalize::Fired;
use crate::scim::filter::{Filter, Literal, Test};
use crate::scim::path::{AttrPath, Location, PatchPath, resolve};
use crate::scim::schema::{
    AttrType, Attribute, ENTERPRISE_USER_URN, GROUP_URN, ResourceSchema, USER_URN,
};

fn fire(fired: &mut Fired, rule: &'static str) {
    if !fired.contains(&rule) {
        fired.push(rule);
    }
}

fn string_bool(v: &Value) -> Option<bool> {
    match v {
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn key_ci<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.keys()
        .find(|x| x.eq_ignore_ascii_case(k))
        .map(String::as_str)
}

/// The attribute (and sub-attribute) a key of a resource or path-less value names: a plain name,
/// a dotted `attr.sub`, or a URN-qualified name.
fn attribute_of<'s>(
    schema: &'s ResourceSchema,
    key: &str,
) -> Option<(&'s Attribute, Option<&'s Attribute>)> {
    let p = AttrPath::parse(key).ok()?;
    let t = resolve(schema, &p)?;
    Some((t.attribute, t.sub))
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

/// Quirk 1: Entra sends `"op": "Add" | "Replace" | "Remove"`; RFC 7644 spells them lowercase.
pub fn op_case(op: &mut Value, fired: &mut Fired) {
    let Some(Value::String(name)) = op.get_mut("op") else {
        return;
    };
    let lower = name.to_ascii_lowercase();
    if lower != *name && matches!(lower.as_str(), "add" | "replace" | "remove") {
        *name = lower;
        fire(fired, "entra.1.op_case");
    }
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

/// Rewrites string literals compared with boolean sub-attributes inside an element filter.
fn element_filter_bools(f: Filter, attr: &Attribute, changed: &mut bool) -> Filter {
    match f {
        Filter::Compare {
            path,
            op,
            value,
            pos,
        } => {
            let is_bool = path.urn.is_none()
                && path.sub.is_none()
                && attr
                    .sub(&path.name)
                    .is_some_and(|s| s.ty == AttrType::Boolean);
            let value = literal_bool(value, is_bool, changed);
            Filter::Compare {
                path,
                op,
                value,
                pos,
            }
        }
        Filter::And(a, b) => Filter::And(
            Box::new(element_filter_bools(*a, attr, changed)),
            Box::new(element_filter_bools(*b, attr, changed)),
        ),
        Filter::Or(a, b) => Filter::Or(
            Box::new(element_filter_bools(*a, attr, changed)),
            Box::new(element_filter_bools(*b, attr, changed)),
        ),
        Filter::Not(a) => Filter::Not(Box::new(element_filter_bools(*a, attr, changed))),
        other => other,
    }
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
    fn go(f: Filter, schema: &ResourceSchema, changed: &mut bool) -> Filter {
        match f {
            Filter::Compare {
                path,
                op,
                value,
                pos,
            } => {
                let is_bool = resolve(schema, &path)
                    .is_some_and(|t| t.sub.unwrap_or(t.attribute).ty == AttrType::Boolean);
                let value = literal_bool(value, is_bool, changed);
                Filter::Compare {
                    path,
                    op,
                    value,
                    pos,
                }
            }
            Filter::ValuePath {
                path,
                filter,
                then,
                pos,
            } => match resolve(schema, &path) {
                Some(t) => {
                    let filter = Box::new(element_filter_bools(*filter, t.attribute, changed));
                    let then = then.map(|mut e| {
                        let is_bool = t
                            .attribute
                            .sub(&e.sub)
                            .is_some_and(|s| s.ty == AttrType::Boolean);
                        if let Test::Compare { op, value } = e.test {
                            e.test = Test::Compare {
                                op,
                                value: literal_bool(value, is_bool, changed),
                            };
                        }
                        e
                    });
                    Filter::ValuePath {
                        path,
                        filter,
                        then,
                        pos,
                    }
                }
                None => Filter::ValuePath {
                    path,
                    filter,
                    then,
                    pos,
                },
            },
            Filter::And(a, b) => Filter::And(
                Box::new(go(*a, schema, changed)),
                Box::new(go(*b, schema, changed)),
            ),
            Filter::Or(a, b) => Filter::Or(
                Box::new(go(*a, schema, changed)),
                Box::new(go(*b, schema, changed)),
            ),
            Filter::Not(a) => Filter::Not(Box::new(go(*a, schema, changed))),
            other => other,
        }
    }
    let mut changed = false;
    let out = go(f, schema, &mut changed);
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
    p.filter = Some(element_filter_bools(f, t.attribute, &mut changed));
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

/// Applies `rewrite` to the value of attribute `attr` in a PATCH op: the op's value when its
/// path is `attr`, or the `attr` member (any case) of a path-less object value. Whether it
/// changed anything.
fn attr_in_op(op: &mut Value, attr: &str, rewrite: fn(&mut Value) -> bool) -> bool {
    let is_attr = op
        .get("path")
        .and_then(Value::as_str)
        .is_some_and(|p| p.eq_ignore_ascii_case(attr));
    match op.get_mut("value") {
        Some(v) if is_attr => rewrite(v),
        Some(Value::Object(obj)) => attr_in_object(obj, attr, rewrite),
        _ => false,
    }
}

/// Applies `rewrite` to the `attr` member (any case) of a POST/PUT body.
fn attr_in_resource(body: &mut Value, attr: &str, rewrite: fn(&mut Value) -> bool) -> bool {
    body.as_object_mut()
        .is_some_and(|obj| attr_in_object(obj, attr, rewrite))
}

fn attr_in_object(
    obj: &mut Map<String, Value>,
    attr: &str,
    rewrite: fn(&mut Value) -> bool,
) -> bool {
    match key_ci(obj, attr).map(str::to_owned) {
        Some(k) => obj.get_mut(&k).is_some_and(rewrite),
        None => false,
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

/// Drops a `"$ref": null` from a member item (an object); whether it changed anything. Items that
/// are not objects are left for the core to refuse: a member is `{"value": "<id>"}`.
fn member_item(item: &mut Value) -> bool {
    let Value::Object(o) = item else {
        return false;
    };
    let before = o.len();
    o.retain(|k, v| !(k.eq_ignore_ascii_case("$ref") && v.is_null()));
    o.len() != before
}

/// Member items of an array; anything but an array is left for the core to judge.
fn member_items(v: &mut Value) -> bool {
    match v {
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, it| member_item(it) | changed),
        _ => false,
    }
}

/// Quirk 11: member items with or without `"$ref": null`, several per op →
/// `[{"value": "<id>"}, ...]`. With `bare_add` (the `entra` profile), the one bare-id shape quirk
/// 11 documents (Microsoft's Postman suite: `{"op": "Add", "path": "members", "value": "<id>"}`)
/// becomes `[{"value": "<id>"}]`. Nothing else is coerced: a bare id in any other op or place, an
/// array of bare ids, or a `replace` of `members` with a string reaches the core, which refuses it
/// (a `replace` with a coerced unknown id would empty the group).
pub fn member_items_in_op(op: &mut Value, bare_add: bool, fired: &mut Fired) {
    let is_members = op
        .get("path")
        .and_then(Value::as_str)
        .is_some_and(|p| p.eq_ignore_ascii_case("members"));
    let is_add = op.get("op").and_then(Value::as_str) == Some("add");
    if bare_add
        && is_members
        && is_add
        && let Some(Value::String(id)) = op.get("value")
        && !id.is_empty()
    {
        op["value"] = json!([{ "value": id }]);
        fire(fired, "entra.11.member_items");
        return;
    }
    if attr_in_op(op, "members", member_items) {
        fire(fired, "entra.11.member_items");
    }
}

/// Quirk 11: the same `"$ref": null` items in POST/PUT bodies (Okta pushes groups with members).
/// `members` must be an array of objects there; no other shape is rewritten.
pub fn member_items_in_resource(body: &mut Value, fired: &mut Fired) {
    if attr_in_resource(body, "members", member_items) {
        fire(fired, "entra.11.member_items");
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

/// Quirk 28: `""` means "clear" (Microsoft's validators send `replace` with `""`). A path op
/// with an empty string becomes a `replace` with `null` (RFC 7643 §2.5: null is unassigned);
/// empty strings inside a path-less value become `null`.
pub fn empty_string_clears(op: &mut Value, schema: &ResourceSchema, fired: &mut Fired) {
    let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
    if kind != "add" && kind != "replace" {
        return;
    }
    let path = op.get("path").and_then(Value::as_str);
    let has_path = path.is_some();
    // `""` is never a set of values: a multi-valued attribute (`members`, `emails`) named whole
    // by the path keeps its `""`, and the core refuses it, rather than every value being cleared.
    let whole_multi = path
        .and_then(|p| PatchPath::parse(p).ok())
        .is_some_and(|p| {
            p.filter.is_none()
                && p.sub.is_none()
                && resolve(schema, &p.attr)
                    .is_some_and(|t| t.sub.unwrap_or(t.attribute).multi_valued)
        });
    match op.get_mut("value") {
        Some(Value::String(s)) if s.is_empty() && has_path && !whole_multi => {
            op["op"] = json!("replace");
            op["value"] = Value::Null;
            fire(fired, "entra.28.empty_clears");
        }
        Some(Value::Object(obj)) if !has_path => {
            let mut changed = false;
            for (k, v) in obj.iter_mut() {
                let multi =
                    attribute_of(schema, k).is_some_and(|(a, sub)| sub.unwrap_or(a).multi_valued);
                if matches!(v, Value::String(s) if s.is_empty()) && !multi {
                    *v = Value::Null;
                    changed = true;
                } else if let (Some(_), Value::Object(inner)) = (schema.extension(k), &mut *v) {
                    for iv in inner.values_mut() {
                        if matches!(iv, Value::String(s) if s.is_empty()) {
                            *iv = Value::Null;
                            changed = true;
                        }
                    }
                }
            }
            if changed {
                fire(fired, "entra.28.empty_clears");
            }
        }
        _ => {}
    }
}

/// Quirks 16 and 28: in POST/PUT bodies, empty strings (and elements left empty) are absent
/// values, not values: `"nickName": ""` stores nothing.
pub fn empty_strings_are_absent(body: &mut Value, schema: &ResourceSchema, fired: &mut Fired) {
    fn prune(v: &mut Value) -> bool {
        match v {
            Value::Object(o) => {
                let before = o.len();
                o.retain(|_, x| !matches!(x, Value::String(s) if s.is_empty()));
                let mut changed = o.len() != before;
                for x in o.values_mut() {
                    changed |= prune(x);
                }
                changed
            }
            Value::Array(a) => {
                let mut changed = false;
                for x in a.iter_mut() {
                    changed |= prune(x);
                }
                let before = a.len();
                a.retain(|x| !matches!(x, Value::Object(o) if o.is_empty()));
                changed || a.len() != before
            }
            _ => false,
        }
    }
    // `"members": ""` (a multi-valued attribute given as a string) is not an absent value but a
    // wrong type: kept for the core to refuse, as a PUT would otherwise clear every member.
    let kept: Vec<(String, Value)> = body
        .as_object_mut()
        .map(|o| {
            let keys: Vec<String> = o
                .iter()
                .filter(|(k, v)| {
                    matches!(v, Value::String(s) if s.is_empty())
                        && attribute_of(schema, k)
                            .is_some_and(|(a, sub)| sub.unwrap_or(a).multi_valued)
                })
                .map(|(k, _)| k.clone())
                .collect();
            keys.into_iter()
                .filter_map(|k| o.remove(&k).map(|v| (k, v)))
                .collect()
        })
        .unwrap_or_default();
    let changed = prune(body);
    if let Some(o) = body.as_object_mut() {
        o.extend(kept);
    }
    if changed {
        fire(fired, "entra.28.empty_clears");
    }
}

/// The non-standard group URI Entra lists in `POST /Groups` (quirk 15).
const ADSCIM_GROUP_URN: &str =
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
/// The typo'd enterprise URN of the tutorial's Example 2 (quirk 15).
const ENTERPRISE_TYPO_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0User";

/// Whether `urn` is one quirk 15 lets a body of `schema` list: its own core or extension URNs,
/// the ADSCIM group URI on a Group, the typo'd enterprise URN on a User.
fn tolerated_urn(urn: &str, schema: &ResourceSchema) -> bool {
    urn.eq_ignore_ascii_case(&schema.core.id)
        || schema.extension(urn).is_some()
        || (schema.core.id.eq_ignore_ascii_case(GROUP_URN)
            && urn.eq_ignore_ascii_case(ADSCIM_GROUP_URN))
        || (schema.core.id.eq_ignore_ascii_case(USER_URN)
            && urn.eq_ignore_ascii_case(ENTERPRISE_TYPO_URN))
}

/// Quirk 15: `schemas` as Entra sends it: custom extension URNs omitted though their attributes
/// are present, the non-standard ADSCIM group URI, the typo `...enterprise:2.0User`, or no
/// `schemas` at all. Rebuilt as the core URN plus the extensions actually present. Only those
/// shapes: a `schemas` that is not an array of strings, or lists any other URN (the User schema
/// on a Group, a PatchOp, ...), is left as sent for the core to judge.
pub fn lenient_schemas(body: &mut Value, schema: &ResourceSchema, fired: &mut Fired) {
    let Some(obj) = body.as_object_mut() else {
        return;
    };
    let mut want = vec![Value::String(schema.core.id.clone())];
    for e in &schema.extensions {
        if key_ci(obj, &e.schema.id).is_some() {
            want.push(Value::String(e.schema.id.clone()));
        }
    }
    let key = key_ci(obj, "schemas")
        .map(str::to_owned)
        .unwrap_or_else(|| "schemas".to_owned());
    let same = match obj.get(&key) {
        None | Some(Value::Null) => false,
        Some(Value::Array(have)) => {
            let tolerated = have
                .iter()
                .all(|h| h.as_str().is_some_and(|u| tolerated_urn(u, schema)));
            if !tolerated {
                return;
            }
            have.len() == want.len()
                && want.iter().all(|w| {
                    have.iter().any(|h| {
                        h.as_str()
                            .zip(w.as_str())
                            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
                    })
                })
        }
        Some(_) => return,
    };
    if !same {
        obj.insert(key, Value::Array(want));
        fire(fired, "entra.15.lenient_schemas");
    }
}

// --- e-mail lowercasing ---

fn listed(list: &[AttrPath], attr: &Attribute, sub: Option<&Attribute>) -> bool {
    list.iter().any(|l| {
        l.name.eq_ignore_ascii_case(&attr.name)
            && match (&l.sub, sub) {
                (None, None) => true,
                (Some(ls), Some(s)) => ls.eq_ignore_ascii_case(&s.name),
                _ => false,
            }
    })
}

fn lower_email(v: &mut Value) -> bool {
    if let Value::String(s) = v
        && s.contains('@')
        && s.chars().any(char::is_uppercase)
    {
        *s = s.to_lowercase();
        return true;
    }
    false
}

/// Lowercases e-mail values of `attr` in `v` (a simple value, an object of sub-attributes, or
/// an array of them) where `list` names the attribute or the sub-attribute.
fn lower_in(v: &mut Value, attr: &Attribute, list: &[AttrPath]) -> bool {
    if attr.is_complex() {
        let mut changed = false;
        let mut one = |o: &mut Value| {
            if let Some(obj) = o.as_object_mut() {
                for (k, x) in obj.iter_mut() {
                    if let Some(sub) = attr.sub(k)
                        && listed(list, attr, Some(sub))
                    {
                        changed |= lower_email(x);
                    }
                }
            }
        };
        match v {
            Value::Array(items) => items.iter_mut().for_each(&mut one),
            other => one(other),
        }
        changed
    } else if listed(list, attr, None) {
        lower_email(v)
    } else {
        false
    }
}

fn lower_in_attributes(
    obj: &mut Map<String, Value>,
    schema: &ResourceSchema,
    list: &[AttrPath],
) -> bool {
    let mut changed = false;
    for (k, v) in obj.iter_mut() {
        if let Some((attr, sub)) = attribute_of(schema, k) {
            changed |= match sub {
                Some(s) if listed(list, attr, Some(s)) => lower_email(v),
                Some(_) => false,
                None => lower_in(v, attr, list),
            };
        }
    }
    changed
}

/// `[scim] lowercase_attributes`: e-mail addresses in the listed attributes are stored lowercase
/// (the seed's "Email (must be lowercase)"), in POST/PUT bodies.
pub fn lowercase_emails_in_resource(
    body: &mut Value,
    schema: &ResourceSchema,
    list: &[AttrPath],
    fired: &mut Fired,
) {
    if list.is_empty() {
        return;
    }
    if let Some(obj) = body.as_object_mut()
        && lower_in_attributes(obj, schema, list)
    {
        fire(fired, "lowercase_emails");
    }
}

/// The same in PATCH operations, with or without a path.
pub fn lowercase_emails_in_op(
    op: &mut Value,
    schema: &ResourceSchema,
    list: &[AttrPath],
    fired: &mut Fired,
) {
    if list.is_empty() {
        return;
    }
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
                    Some(sub) if listed(list, t.attribute, Some(sub)) => lower_email(value),
                    Some(_) => false,
                    None => lower_in(value, t.attribute, list),
                }
            }
            None => false,
        },
        None => value
            .as_object_mut()
            .is_some_and(|o| lower_in_attributes(o, schema, list)),
    };
    if changed {
        fire(fired, "lowercase_emails");
    }
}

/// The same for comparison values in filters, so lookups match what was stored.
pub fn lowercase_emails_in_filter(
    f: Filter,
    schema: &ResourceSchema,
    list: &[AttrPath],
    fired: &mut Fired,
) -> Filter {
    fn lit(value: Literal, yes: bool, changed: &mut bool) -> Literal {
        match value {
            Literal::String(s) if yes && s.contains('@') && s.chars().any(char::is_uppercase) => {
                *changed = true;
                Literal::String(s.to_lowercase())
            }
            other => other,
        }
    }
    fn go(f: Filter, schema: &ResourceSchema, list: &[AttrPath], changed: &mut bool) -> Filter {
        match f {
            Filter::Compare {
                path,
                op,
                value,
                pos,
            } => {
                let yes = resolve(schema, &path).is_some_and(|t| listed(list, t.attribute, t.sub));
                let value = lit(value, yes, changed);
                Filter::Compare {
                    path,
                    op,
                    value,
                    pos,
                }
            }
            Filter::ValuePath {
                path,
                filter,
                then,
                pos,
            } => {
                let then = match (then, resolve(schema, &path)) {
                    (Some(mut e), Some(t)) => {
                        let yes = t
                            .attribute
                            .sub(&e.sub)
                            .is_some_and(|s| listed(list, t.attribute, Some(s)));
                        if let Test::Compare { op, value } = e.test {
                            e.test = Test::Compare {
                                op,
                                value: lit(value, yes, changed),
                            };
                        }
                        Some(e)
                    }
                    (then, _) => then,
                };
                Filter::ValuePath {
                    path,
                    filter,
                    then,
                    pos,
                }
            }
            Filter::And(a, b) => Filter::And(
                Box::new(go(*a, schema, list, changed)),
                Box::new(go(*b, schema, list, changed)),
            ),
            Filter::Or(a, b) => Filter::Or(
                Box::new(go(*a, schema, list, changed)),
                Box::new(go(*b, schema, list, changed)),
            ),
            Filter::Not(a) => Filter::Not(Box::new(go(*a, schema, list, changed))),
            other => other,
        }
    }
    if list.is_empty() {
        return f;
    }
    let mut changed = false;
    let out = go(f, schema, list, &mut changed);
    if changed {
        fire(fired, "lowercase_emails");
    }
    out
}

#[cfg(test)]
mod tests;
