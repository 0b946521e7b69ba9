//! Validation of create (POST) and replace (PUT) bodies (RFC 7643 §2–§3, RFC 7644 §3.3, §3.5.1):
//! shape, `schemas`, types, mutability and required attributes, producing the canonical resource
//! to store.
//!
//! - The body is an object whose `schemas` array lists the core schema URN (else 400
//!   `invalidSyntax`). Other URNs must be this resource type's extensions; an extension's
//!   attributes live in the object keyed by its URN. Another resource type's core schema or a
//!   protocol message URN (`...:core:2.0:User` on a Group, `...:PatchOp`) is 400 `invalidSyntax`
//!   whatever the unknown-attribute policy.
//! - Keys are matched case-insensitively and written in the schema's spelling; the same key
//!   given twice (differing only in case) is 400 `invalidSyntax`.
//! - Values are type-checked (400 `invalidValue` naming the attribute and the expected type).
//!   Multi-valued attributes must be arrays here (PATCH is more lenient). `null` and empty arrays
//!   mean unassigned and are dropped (RFC 7643 §2.5).
//! - readOnly attributes and sub-attributes (`id`, `meta`, `groups`, `members.display`, ...) are
//!   ignored (RFC 7644 §3.3, §3.5.1): dropped silently, not listed in [`Validated::ignored`].
//! - Required attributes (and sub-attributes of values present, and required extensions) must
//!   be present: 400 `invalidValue` "attribute 'userName' is required".
//! - On replace with an `existing` resource, an immutable attribute (or immutable sub-attribute of
//!   a single-valued complex attribute) that already has a value must keep it: a different value
//!   is 400 `mutability`, an omitted one is carried over. Elements of multi-valued attributes have
//!   no identity across requests, so their immutable sub-attributes are not compared on replace.
//! - More than one `primary: true` value in a multi-valued attribute is 400 `invalidValue`
//!   (RFC 7643 §2.4).
//! - Unknown attributes, sub-attributes, extension objects and schema URNs are rejected (400
//!   `invalidValue` naming the path) or, with [`UnknownAttributes::Ignore`], dropped and listed as
//!   dotted paths (`phoneNumberz`, `name.nickname`, `urn:...:User:departmentCode`).
//! - The returned `schemas` lists the core URN and the URNs of extensions actually present (an
//!   extension object whose URN the body's `schemas` forgot is accepted, and listed).

use crate::scim::error::ScimError;
use crate::scim::schema::{
    AttrType, Attribute, Mutability, ResourceSchema, common_attribute, common_attributes,
};
use crate::scim::value::{
    Checker, Object, Unknown, excerpt, get_ci, is_present, kind, values_equal,
};
use serde_json::Value;

/// Which request the body belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// POST: a new resource.
    Create,
    /// PUT: replaces an existing resource.
    Replace,
}

/// What to do with attributes the schemas do not define.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownAttributes {
    /// 400 `invalidValue` naming the attribute.
    Reject,
    /// Drop them and list them in [`Validated::ignored`].
    Ignore,
}

/// A validated body.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// The canonical resource (without readOnly attributes: the caller adds `id` and `meta`).
    pub resource: Value,
    /// Dotted paths of the unknown attributes dropped under [`UnknownAttributes::Ignore`].
    pub ignored: Vec<String>,
}

/// Validates a create or replace body against `schema`.
pub fn validate(
    body: &Value,
    schema: &ResourceSchema,
    mode: Mode,
    unknown: UnknownAttributes,
    existing: Option<&Value>,
) -> Result<Validated, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "a {} resource must be a JSON object, found {}",
            schema.resource_type,
            kind(body)
        )));
    };
    let mut ignored = Vec::new();
    let policy = match unknown {
        UnknownAttributes::Reject => Unknown::Reject,
        UnknownAttributes::Ignore => Unknown::Ignore(&mut ignored),
    };
    let mut checker = Checker::new(policy, false);
    check_schemas(obj, schema, &mut checker)?;

    let mut out = Object::new();
    // Canonical names already seen: bounded by the number of schema attributes.
    let mut seen: Vec<&str> = Vec::new();
    for (key, v) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(ext) = schema.extension(key) {
            let urn = ext.schema.id.as_str();
            claim(&mut seen, urn, urn)?;
            let inner = match v {
                Value::Null => continue,
                Value::Object(inner) => inner,
                other => {
                    return Err(ScimError::invalid_value(format!(
                        "\"{urn}\" must be an object of that extension's attributes, found {}",
                        kind(other)
                    )));
                }
            };
            let mut ext_out = Object::new();
            let mut ext_seen: Vec<&str> = Vec::new();
            for (k, iv) in inner {
                let Some(attr) = ext.schema.attribute(k) else {
                    checker.unknown(&format!("{urn}:{k}"), "attribute")?;
                    continue;
                };
                claim(&mut ext_seen, &attr.name, &format!("{urn}:{}", attr.name))?;
                if attr.mutability == Mutability::ReadOnly {
                    continue;
                }
                if let Some(c) = checker.attr(attr, &format!("{urn}:{}", attr.name), iv)? {
                    ext_out.insert(attr.name.clone(), c);
                }
            }
            if !ext_out.is_empty() {
                out.insert(urn.to_owned(), Value::Object(ext_out));
            }
            continue;
        }
        let Some(attr) = common_attribute(key).or_else(|| schema.core.attribute(key)) else {
            checker.unknown(key, "attribute")?;
            continue;
        };
        claim(&mut seen, &attr.name, &attr.name)?;
        if attr.mutability == Mutability::ReadOnly {
            continue;
        }
        if let Some(c) = checker.attr(attr, &attr.name, v)? {
            out.insert(attr.name.clone(), c);
        }
    }
    drop(checker);

    if let (Mode::Replace, Some(Value::Object(old))) = (mode, existing) {
        keep_immutable(&mut out, old, schema)?;
    }
    check_required(&out, schema)?;
    check_present_values(&out, schema)?;

    let mut schemas = vec![Value::String(schema.core.id.clone())];
    schemas.extend(
        schema
            .extensions
            .iter()
            .filter(|e| out.contains_key(&e.schema.id))
            .map(|e| Value::String(e.schema.id.clone())),
    );
    let mut resource = Object::new();
    resource.insert("schemas".to_owned(), Value::Array(schemas));
    resource.extend(out);
    Ok(Validated {
        resource: Value::Object(resource),
        ignored,
    })
}

/// Records canonical `name`, failing if it was already given (in another letter case).
fn claim<'n>(seen: &mut Vec<&'n str>, name: &'n str, label: &str) -> Result<(), ScimError> {
    if seen.contains(&name) {
        return Err(ScimError::invalid_syntax(format!(
            "'{label}' is given more than once (attribute names are case-insensitive)"
        )));
    }
    seen.push(name);
    Ok(())
}

fn check_schemas(
    obj: &Object,
    schema: &ResourceSchema,
    checker: &mut Checker<'_>,
) -> Result<(), ScimError> {
    let core = schema.core.id.as_str();
    let given = get_ci(obj, "schemas");
    let list = given.and_then(Value::as_array);
    let urns: Option<Vec<&str>> = list.and_then(|a| a.iter().map(Value::as_str).collect());
    let has_core = urns
        .as_ref()
        .is_some_and(|u| u.iter().any(|u| u.eq_ignore_ascii_case(core)));
    if !has_core {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must be an array of schema URNs containing \"{core}\" (the {} schema), found {}",
            schema.resource_type,
            given.map_or("nothing".to_owned(), |v| excerpt(&v.to_string(), 120))
        )));
    }
    if obj
        .keys()
        .filter(|k| k.eq_ignore_ascii_case("schemas"))
        .count()
        > 1
    {
        return Err(ScimError::invalid_syntax(
            "'schemas' is given more than once (attribute names are case-insensitive)",
        ));
    }
    for urn in urns.unwrap_or_default() {
        let known = urn.eq_ignore_ascii_case(core) || schema.extension(urn).is_some();
        if !known && foreign(urn) {
            // Another resource type's schema or a protocol message: the body is not a
            // {resource_type}, whatever the unknown-attribute policy (issue 13).
            return Err(ScimError::invalid_syntax(format!(
                "\"schemas\" lists \"{urn}\", which is not a schema of {} resources (expected \"{core}\" and its extensions)",
                schema.resource_type
            )));
        }
        if !known {
            checker.unknown(urn, "schema")?;
        }
    }
    Ok(())
}

/// Whether `urn` names a core resource schema or a protocol message of RFC 7643/7644
/// (`urn:ietf:params:scim:schemas:core:2.0:*`, `urn:ietf:params:scim:api:messages:2.0:*`): listed
/// by a body of another resource type, it says the body is something else.
fn foreign(urn: &str) -> bool {
    const PREFIXES: [&str; 2] = [
        "urn:ietf:params:scim:schemas:core:2.0:",
        "urn:ietf:params:scim:api:messages:2.0:",
    ];
    PREFIXES.iter().any(|p| {
        urn.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    })
}

/// Every attribute definition with the JSON object key path it lives under.
fn all_attributes(schema: &ResourceSchema) -> impl Iterator<Item = (Option<&str>, &Attribute)> {
    common_attributes()
        .iter()
        .chain(schema.core.attributes.iter())
        .map(|a| (None, a))
        .chain(schema.extensions.iter().flat_map(|e| {
            e.schema
                .attributes
                .iter()
                .map(move |a| (Some(e.schema.id.as_str()), a))
        }))
}

fn label(ext: Option<&str>, attr: &Attribute) -> String {
    match ext {
        Some(urn) => format!("{urn}:{}", attr.name),
        None => attr.name.clone(),
    }
}

fn slot<'o>(out: &'o Object, ext: Option<&str>, attr: &Attribute) -> Option<&'o Value> {
    match ext {
        None => out.get(&attr.name),
        Some(urn) => out.get(urn)?.as_object()?.get(&attr.name),
    }
}

fn set_slot(out: &mut Object, ext: Option<&str>, attr: &Attribute, v: Value) {
    let container = match ext {
        None => out,
        Some(urn) => {
            let entry = out
                .entry(urn.to_owned())
                .or_insert_with(|| Value::Object(Object::new()));
            if !entry.is_object() {
                *entry = Value::Object(Object::new());
            }
            match entry.as_object_mut() {
                Some(o) => o,
                None => return,
            }
        }
    };
    container.insert(attr.name.clone(), v);
}

/// Enforces immutability against the stored resource, carrying over omitted immutable values.
fn keep_immutable(
    out: &mut Object,
    old: &Object,
    schema: &ResourceSchema,
) -> Result<(), ScimError> {
    for (ext, attr) in all_attributes(schema) {
        if attr.mutability == Mutability::ReadOnly {
            continue;
        }
        let before = match ext {
            None => get_ci(old, &attr.name),
            Some(urn) => get_ci(old, urn)
                .and_then(Value::as_object)
                .and_then(|o| get_ci(o, &attr.name)),
        }
        .filter(|v| is_present(v));
        let Some(before) = before else { continue };
        let after = slot(out, ext, attr).cloned();
        if attr.mutability == Mutability::Immutable {
            match &after {
                None => set_slot(out, ext, attr, before.clone()),
                Some(a) if !values_equal(attr, Some(before), Some(a)) => {
                    return Err(ScimError::mutability(format!(
                        "attribute '{}' is immutable and already has a value",
                        label(ext, attr)
                    )));
                }
                Some(_) => {}
            }
            continue;
        }
        if !attr.is_complex() || attr.multi_valued {
            continue;
        }
        let (Value::Object(b), Some(Value::Object(mut a))) = (before, after) else {
            continue;
        };
        let mut changed = false;
        for s in attr
            .sub_attributes
            .iter()
            .filter(|s| s.mutability == Mutability::Immutable)
        {
            let Some(old_sub) = get_ci(b, &s.name).filter(|v| is_present(v)) else {
                continue;
            };
            match a.get(&s.name) {
                None => {
                    a.insert(s.name.clone(), old_sub.clone());
                    changed = true;
                }
                Some(new_sub) if !values_equal(s, Some(old_sub), Some(new_sub)) => {
                    return Err(ScimError::mutability(format!(
                        "sub-attribute '{}.{}' is immutable and already has a value",
                        label(ext, attr),
                        s.name
                    )));
                }
                Some(_) => {}
            }
        }
        if changed {
            set_slot(out, ext, attr, Value::Object(a));
        }
    }
    Ok(())
}

fn check_required(out: &Object, schema: &ResourceSchema) -> Result<(), ScimError> {
    for (ext, attr) in all_attributes(schema) {
        if !attr.required || attr.mutability == Mutability::ReadOnly || attr.name == "schemas" {
            continue;
        }
        let extension_present = ext.is_none_or(|urn| out.contains_key(urn));
        if extension_present && slot(out, ext, attr).is_none() {
            return Err(ScimError::invalid_value(format!(
                "attribute '{}' is required",
                label(ext, attr)
            )));
        }
    }
    for e in schema.extensions.iter().filter(|e| e.required) {
        if !out.contains_key(&e.schema.id) {
            return Err(ScimError::invalid_value(format!(
                "extension '{}' is required for {} resources",
                e.schema.id, schema.resource_type
            )));
        }
    }
    Ok(())
}

/// Required sub-attributes and unique `primary` values in the complex values present.
fn check_present_values(out: &Object, schema: &ResourceSchema) -> Result<(), ScimError> {
    for (ext, attr) in all_attributes(schema) {
        if !attr.is_complex() {
            continue;
        }
        let Some(v) = slot(out, ext, attr) else {
            continue;
        };
        let elements = match v {
            Value::Array(a) => a.as_slice(),
            other => std::slice::from_ref(other),
        };
        for s in attr
            .sub_attributes
            .iter()
            .filter(|s| s.required && s.mutability != Mutability::ReadOnly)
        {
            let missing = elements
                .iter()
                .any(|el| el.as_object().is_none_or(|o| !o.contains_key(&s.name)));
            if missing {
                return Err(ScimError::invalid_value(format!(
                    "attribute '{}.{}' is required",
                    label(ext, attr),
                    s.name
                )));
            }
        }
        let primary = attr.sub("primary").filter(|p| p.ty == AttrType::Boolean);
        if let (Some(p), true) = (primary, attr.multi_valued) {
            let count = elements
                .iter()
                .filter(|el| el.get(&p.name).and_then(Value::as_bool) == Some(true))
                .count();
            if count > 1 {
                return Err(ScimError::invalid_value(format!(
                    "attribute '{}' has {count} values with \"primary\": true; at most one may be primary (RFC 7643 §2.4)",
                    label(ext, attr)
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
