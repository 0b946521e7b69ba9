//! The normalize rules every dialect profile that rewrites at all shares (`entra` and `okta`), and
//! the helpers the other rule files use. Each rule names the Entra quirk it handles (numbers from
//! `shared/reference/entra-scim.md`, §2; the quirk ids in the access log keep their `entra.`
//! prefix) and the shape it turns into RFC 7644 form.

use serde_json::{Map, Value, json};

use crate::scim::filter::PatchPath;
use crate::scim::path::{AttrPath, resolve};
use crate::scim::schema::{Attribute, GROUP_URN, ResourceSchema, USER_URN};
use crate::scim::value::key_ci;

/// The rules that fired on one request, for the access log.
pub type Fired = Vec<&'static str>;

/// Records that `rule` fired (once per request).
pub(super) fn fire(fired: &mut Fired, rule: &'static str) {
    if !fired.contains(&rule) {
        fired.push(rule);
    }
}

/// The attribute (and sub-attribute) a key of a resource or path-less value names: a plain name,
/// a dotted `attr.sub`, or a URN-qualified name.
pub(super) fn attribute_of<'s>(
    schema: &'s ResourceSchema,
    key: &str,
) -> Option<(&'s Attribute, Option<&'s Attribute>)> {
    let p = AttrPath::parse(key).ok()?;
    let t = resolve(schema, &p)?;
    Some((t.attribute, t.sub))
}

/// Applies `rewrite` to the value of attribute `attr` in a PATCH op: the op's value when its
/// path is `attr`, or the `attr` member (any case) of a path-less object value. Whether it
/// changed anything.
pub(super) fn attr_in_op(op: &mut Value, attr: &str, rewrite: fn(&mut Value) -> bool) -> bool {
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
pub(super) fn attr_in_resource(
    body: &mut Value,
    attr: &str,
    rewrite: fn(&mut Value) -> bool,
) -> bool {
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
pub(super) const ADSCIM_GROUP_URN: &str =
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
/// The typo'd enterprise URN of the tutorial's Example 2 (quirk 15).
pub(super) const ENTERPRISE_TYPO_URN: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0User";

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
