//! Evaluation of a checked filter against a resource's JSON (never panics, whatever the JSON).

use super::ast::{CompareOp, Filter, Literal};
use super::check::element_attribute;
use crate::scim::datetime;
use crate::scim::path;
use crate::scim::schema::{AttrType, Attribute, ResourceSchema};
use crate::scim::value::{
    case_exact, get_ci, is_present, num_cmp, str_cmp, str_contains, str_ends, str_eq, str_starts,
};
use serde_json::Value;
use std::cmp::Ordering;

/// Whether `resource` matches `f`. Assumes [`check`](super::check::check) passed; anything that does not resolve simply
/// does not match. Never panics, whatever the JSON.
pub fn matches(f: &Filter, resource: &Value, schema: &ResourceSchema) -> bool {
    match f {
        Filter::And(a, b) => matches(a, resource, schema) && matches(b, resource, schema),
        Filter::Or(a, b) => matches(a, resource, schema) || matches(b, resource, schema),
        Filter::Not(a) => !matches(a, resource, schema),
        Filter::Present { path, .. } => {
            let Some(t) = path::resolve(schema, path) else {
                return false;
            };
            let pick = t.sub.map(|s| s.name.as_str());
            candidates(t.value_in(resource), t.attribute.multi_valued, pick).any(is_present)
        }
        Filter::Compare {
            path, op, value, ..
        } => {
            let Some(t) = path::resolve(schema, path) else {
                return false;
            };
            let (def, pick) = match t.sub {
                Some(s) => (s, Some(s.name.as_str())),
                None if t.attribute.is_complex() => match t.attribute.sub("value") {
                    Some(v) => (v, Some(v.name.as_str())),
                    None => return false,
                },
                None => (t.attribute, None),
            };
            let values = candidates(t.value_in(resource), t.attribute.multi_valued, pick);
            eval_compare(def, *op, value, values)
        }
        Filter::ValuePath {
            path, filter, then, ..
        } => {
            let Some(t) = path::resolve(schema, path) else {
                return false;
            };
            if t.sub.is_some() {
                return false;
            }
            let elements = match t.value_in(resource) {
                Some(Value::Array(a)) => a.as_slice(),
                Some(v) => std::slice::from_ref(v),
                None => &[],
            };
            elements.iter().any(|el| {
                element_matches(filter, el, t.attribute)
                    && then.as_ref().is_none_or(|th| {
                        element_test(&th.sub, th.test.comparison(), el, t.attribute)
                    })
            })
        }
    }
}

/// Whether one element of `attr` (an object for complex attributes, else the value itself)
/// matches a value filter.
pub(crate) fn element_matches(f: &Filter, el: &Value, attr: &Attribute) -> bool {
    match f {
        Filter::And(a, b) => element_matches(a, el, attr) && element_matches(b, el, attr),
        Filter::Or(a, b) => element_matches(a, el, attr) || element_matches(b, el, attr),
        Filter::Not(a) => !element_matches(a, el, attr),
        Filter::Present { path, .. } if path.urn.is_none() && path.sub.is_none() => {
            element_test(&path.name, None, el, attr)
        }
        Filter::Compare {
            path, op, value, ..
        } if path.urn.is_none() && path.sub.is_none() => {
            element_test(&path.name, Some((*op, value)), el, attr)
        }
        Filter::Present { .. } | Filter::Compare { .. } | Filter::ValuePath { .. } => false,
    }
}

/// Applies a test (`None` = `pr`) to the sub-attribute `name` of element `el` of `attr`.
fn element_test(
    name: &str,
    test: Option<(CompareOp, &Literal)>,
    el: &Value,
    attr: &Attribute,
) -> bool {
    let Some(def) = element_attribute(attr, name) else {
        return false;
    };
    let value = if attr.is_complex() {
        el.as_object().and_then(|o| get_ci(o, &def.name))
    } else {
        Some(el)
    };
    let mut values = candidates(value, true, None);
    match test {
        None => values.any(is_present),
        Some((op, lit)) => eval_compare(def, op, lit, values),
    }
}

/// The non-null scalar values of an attribute value: each element of an array (when `multi`), or
/// the value itself; with `pick`, the named sub-attribute of each.
fn candidates<'v>(
    value: Option<&'v Value>,
    multi: bool,
    pick: Option<&str>,
) -> impl Iterator<Item = &'v Value> {
    let elements: &'v [Value] = match value {
        Some(Value::Array(a)) if multi => a,
        Some(v) => std::slice::from_ref(v),
        None => &[],
    };
    elements
        .iter()
        .filter_map(move |el| match pick {
            None => Some(el),
            Some(name) => el.as_object().and_then(|o| get_ci(o, name)),
        })
        .flat_map(|v| match v {
            Value::Array(a) => a.iter(),
            other => std::slice::from_ref(other).iter(),
        })
        .filter(|v| !v.is_null())
}

fn eval_compare<'v>(
    def: &Attribute,
    op: CompareOp,
    lit: &Literal,
    mut values: impl Iterator<Item = &'v Value>,
) -> bool {
    if let Literal::Null = lit {
        let present = values.any(is_present);
        return match op {
            CompareOp::Eq => !present,
            CompareOp::Ne => present,
            _ => false,
        };
    }
    let mut seen = false;
    let hit = values.any(|v| {
        seen = true;
        compare(def, op, lit, v)
    });
    hit || (!seen && op == CompareOp::Ne)
}

fn holds(op: CompareOp, o: Ordering) -> bool {
    match op {
        CompareOp::Eq => o.is_eq(),
        CompareOp::Ne => o.is_ne(),
        CompareOp::Gt => o.is_gt(),
        CompareOp::Ge => o.is_ge(),
        CompareOp::Lt => o.is_lt(),
        CompareOp::Le => o.is_le(),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// Compares one non-null attribute value `v` with `lit` (attribute value on the left).
fn compare(def: &Attribute, op: CompareOp, lit: &Literal, v: &Value) -> bool {
    let exact = case_exact(def);
    match (lit, v) {
        (Literal::String(s), Value::String(a)) => match op {
            CompareOp::Co => str_contains(a, s, exact),
            CompareOp::Sw => str_starts(a, s, exact),
            CompareOp::Ew => str_ends(a, s, exact),
            CompareOp::Eq if def.ty != AttrType::DateTime => str_eq(a, s, exact),
            CompareOp::Ne if def.ty != AttrType::DateTime => !str_eq(a, s, exact),
            _ => {
                let order = match (def.ty, datetime::parse(a), datetime::parse(s)) {
                    (AttrType::DateTime, Some(x), Some(y)) => x.cmp(&y),
                    _ => str_cmp(a, s, exact),
                };
                holds(op, order)
            }
        },
        (Literal::Number(n), Value::Number(m)) => {
            num_cmp(m, n).map_or(op == CompareOp::Ne, |o| holds(op, o))
        }
        (Literal::Bool(b), Value::Bool(a)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        _ => op == CompareOp::Ne,
    }
}
