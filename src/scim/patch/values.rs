//! The value rules of PATCH: what an add, replace or remove does to an attribute's values and to
//! the elements of multi-valued attributes (merging, primary, immutable and read-only parts).

use crate::scim::error::ScimError;
use crate::scim::filter::{Filter, Literal};
use crate::scim::schema::{AttrType, Attribute, Mutability};
use crate::scim::value::{
    Checker, Object, Unknown, element_equal, excerpt, get_ci, is_present, remove_ci, set_ci,
    values_equal,
};
use serde_json::Value;

/// What an operation does to its target.
#[derive(Clone, Copy)]
pub(super) enum Action<'v> {
    Add(&'v Value),
    Replace(&'v Value),
    Remove,
}

/// How the target was named: by `path`, or as a member of a path-less value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    Path,
    Pathless,
}

pub(super) fn checker() -> Checker<'static> {
    Checker::new(Unknown::Reject, true)
}

pub(super) fn unknown_member(key: &str) -> ScimError {
    ScimError::invalid_value(format!(
        "{:?} in the value is not an attribute of this resource",
        excerpt(key, 80)
    ))
}

pub(super) fn read_only(label: &str) -> ScimError {
    ScimError::mutability(format!(
        "attribute '{label}' is readOnly and cannot be modified"
    ))
}

/// The elements of a multi-valued attribute value (a lone non-array value counts as one).
pub(super) fn elements_of(old: Option<&Value>) -> Vec<Value> {
    match old {
        Some(Value::Array(a)) => a.iter().filter(|v| !v.is_null()).cloned().collect(),
        Some(v) if is_present(v) => vec![v.clone()],
        _ => Vec::new(),
    }
}

/// add/replace/remove of a whole attribute.
pub(super) fn whole(
    attr: &Attribute,
    label: &str,
    old: Option<&Value>,
    action: Action<'_>,
) -> Result<Option<Value>, ScimError> {
    let v = match action {
        Action::Remove => return Ok(None),
        Action::Add(v) | Action::Replace(v) => v,
    };
    if !attr.multi_valued {
        if attr.is_complex() {
            let given = checker().complex(attr, label, v)?;
            return Ok(merge(old, given));
        }
        return checker().single(attr, label, v);
    }
    let items = elements_of(checker().attr(attr, label, v)?.as_ref());
    if let Action::Replace(_) = action {
        let mut items = items;
        let all: Vec<usize> = (0..items.len()).collect();
        enforce_primary(attr, label, &mut items, &all)?;
        return Ok((!items.is_empty()).then_some(Value::Array(items)));
    }
    let mut elements = elements_of(old);
    let mut written = Vec::new();
    for item in items {
        match elements.iter().position(|e| same_value(attr, e, &item)) {
            Some(j) => {
                if let (Value::Object(given), true, Some(existing)) =
                    (&item, attr.is_complex(), elements.get_mut(j))
                    && let Some(merged) = merge(Some(existing), given.clone())
                {
                    check_immutable_subs(attr, label, existing, &merged)?;
                    *existing = merged;
                }
                written.push(j);
            }
            None => {
                elements.push(item);
                written.push(elements.len() - 1);
            }
        }
    }
    enforce_primary(attr, label, &mut elements, &written)?;
    Ok((!elements.is_empty()).then_some(Value::Array(elements)))
}

/// add/replace/remove of sub-attribute `s` of `attr` (of its value, or of every element).
pub(super) fn sub_of_all(
    attr: &Attribute,
    label: &str,
    s: &Attribute,
    old: Option<&Value>,
    action: Action<'_>,
) -> Result<Option<Value>, ScimError> {
    let value = match action {
        Action::Remove => None,
        Action::Add(v) | Action::Replace(v) => {
            checker().attr(s, &format!("{label}.{}", s.name), v)?
        }
    };
    if !attr.multi_valued {
        let base = old.cloned().unwrap_or_else(|| Value::Object(Object::new()));
        return Ok(set_sub(&base, s, value));
    }
    let elements = elements_of(old);
    if elements.is_empty() {
        return Ok(value.map(|v| {
            let mut el = Object::new();
            el.insert(s.name.clone(), v);
            Value::Array(vec![Value::Object(el)])
        }));
    }
    let mut out = Vec::with_capacity(elements.len());
    let mut written = Vec::new();
    for el in &elements {
        if let Some(after) = set_sub(el, s, value.clone()) {
            check_immutable_subs(attr, label, el, &after)?;
            out.push(after);
            written.push(out.len() - 1);
        }
    }
    enforce_primary(attr, label, &mut out, &written)?;
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// `el` (an object) with sub-attribute `s` set to `value`, or removed when `None`; `None` when
/// nothing assigned is left.
pub(super) fn set_sub(el: &Value, s: &Attribute, value: Option<Value>) -> Option<Value> {
    let mut obj = el.as_object().cloned().unwrap_or_default();
    match value {
        Some(v) => set_ci(&mut obj, &s.name, v),
        None => {
            remove_ci(&mut obj, &s.name);
        }
    }
    let v = Value::Object(obj);
    is_present(&v).then_some(v)
}

/// Merges checked sub-attributes into `old` (nulls unassign); `None` when nothing is left.
pub(super) fn merge(old: Option<&Value>, given: Object) -> Option<Value> {
    let mut obj = old.and_then(Value::as_object).cloned().unwrap_or_default();
    for (k, v) in given {
        if v.is_null() {
            remove_ci(&mut obj, &k);
        } else {
            set_ci(&mut obj, &k, v);
        }
    }
    let v = Value::Object(obj);
    is_present(&v).then_some(v)
}

/// A whole-element replacement that keeps the replaced element's readOnly sub-attributes.
pub(super) fn keep_read_only_subs(
    attr: &Attribute,
    before: &Value,
    replacement: Option<Value>,
) -> Option<Value> {
    let mut obj = match replacement {
        Some(Value::Object(o)) => o,
        Some(other) => return Some(other),
        None => Object::new(),
    };
    if let Value::Object(b) = before {
        for s in attr
            .sub_attributes
            .iter()
            .filter(|s| s.mutability == Mutability::ReadOnly)
        {
            if let Some(v) = get_ci(b, &s.name) {
                obj.insert(s.name.clone(), v.clone());
            }
        }
    }
    let v = Value::Object(obj);
    is_present(&v).then_some(v)
}

/// Whether `item` is a value already held by element `e` (see the module docs).
pub(super) fn same_value(attr: &Attribute, e: &Value, item: &Value) -> bool {
    let (Some(value_def), Value::Object(eo), Value::Object(io)) = (attr.sub("value"), e, item)
    else {
        return element_equal(attr, Some(e), Some(item));
    };
    let (Some(ev), Some(iv)) = (get_ci(eo, "value"), get_ci(io, "value")) else {
        return element_equal(attr, Some(e), Some(item));
    };
    let types_agree = attr.sub("type").is_none_or(|ty| {
        match (
            get_ci(eo, "type").filter(|v| is_present(v)),
            get_ci(io, "type").filter(|v| is_present(v)),
        ) {
            (Some(a), Some(b)) => values_equal(ty, Some(a), Some(b)),
            _ => true,
        }
    });
    values_equal(value_def, Some(ev), Some(iv)) && types_agree
}

/// Fails when an existing element's immutable sub-attribute would change.
pub(super) fn check_immutable_subs(
    attr: &Attribute,
    label: &str,
    before: &Value,
    after: &Value,
) -> Result<(), ScimError> {
    let (Value::Object(b), Value::Object(a)) = (before, after) else {
        return Ok(());
    };
    for s in &attr.sub_attributes {
        let old = get_ci(b, &s.name).filter(|v| is_present(v));
        let new = get_ci(a, &s.name);
        if s.mutability == Mutability::Immutable && old.is_some() && !values_equal(s, old, new) {
            return Err(ScimError::mutability(format!(
                "sub-attribute '{label}.{}' is immutable and already has a value",
                s.name
            )));
        }
        if s.required && old.is_some() && !new.is_some_and(is_present) {
            return Err(ScimError::mutability(format!(
                "sub-attribute '{label}.{}' is required and cannot be removed",
                s.name
            )));
        }
    }
    Ok(())
}

/// Keeps `primary: true` unique: when a written element is primary, the others become `false`;
/// two written primaries are an error.
pub(super) fn enforce_primary(
    attr: &Attribute,
    label: &str,
    elements: &mut [Value],
    written: &[usize],
) -> Result<(), ScimError> {
    let Some(primary) = attr.sub("primary").filter(|p| p.ty == AttrType::Boolean) else {
        return Ok(());
    };
    let is_primary = |v: &Value| {
        v.as_object()
            .and_then(|o| get_ci(o, &primary.name))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let mut chosen = None;
    for &j in written {
        if elements.get(j).is_some_and(is_primary) {
            if chosen.is_some_and(|c| c != j) {
                return Err(ScimError::invalid_value(format!(
                    "more than one value of '{label}' has \"primary\": true (RFC 7643 §2.4)"
                )));
            }
            chosen = Some(j);
        }
    }
    let Some(chosen) = chosen else {
        return Ok(());
    };
    for (j, el) in elements.iter_mut().enumerate() {
        if j != chosen
            && is_primary(el)
            && let Some(o) = el.as_object_mut()
        {
            set_ci(o, &primary.name, Value::Bool(false));
        }
    }
    Ok(())
}

/// Builds a new element for an add through a filter that matched nothing: the filter's `eq`
/// equalities plus the value. `None` when the filter is not a conjunction of `eq` comparisons.
pub(super) fn new_element(
    attr: &Attribute,
    label: &str,
    filter: &Filter,
    sub: Option<&Attribute>,
    v: &Value,
) -> Result<Option<Value>, ScimError> {
    let mut eqs = Vec::new();
    if !collect_equalities(filter, &mut eqs) {
        return Ok(None);
    }
    let mut el = Object::new();
    for (name, lit) in eqs {
        let Some(def) = attr.sub(name) else {
            return Ok(None);
        };
        let json = match lit {
            Literal::String(s) => Value::String(s.clone()),
            Literal::Number(n) => Value::Number(n.clone()),
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Null => return Ok(None),
        };
        match el.get(&def.name) {
            Some(existing) if existing != &json => return Ok(None),
            _ => {
                el.insert(def.name.clone(), json);
            }
        }
    }
    let conflict = |name: &str| {
        ScimError::invalid_value(format!(
            "the value sets '{label}.{name}', which conflicts with the path filter [{filter}]"
        ))
    };
    match sub {
        Some(s) => {
            let Some(c) = checker().attr(s, &format!("{label}.{}", s.name), v)? else {
                return Ok(None);
            };
            if el
                .get(&s.name)
                .is_some_and(|e| !values_equal(s, Some(e), Some(&c)))
            {
                return Err(conflict(&s.name));
            }
            el.insert(s.name.clone(), c);
        }
        None => {
            for (k, given) in checker().complex(attr, label, v)? {
                if given.is_null() {
                    continue;
                }
                let def = attr.sub(&k);
                if el
                    .get(&k)
                    .is_some_and(|e| !def.is_some_and(|d| values_equal(d, Some(e), Some(&given))))
                {
                    return Err(conflict(&k));
                }
                el.insert(k, given);
            }
        }
    }
    checker().single(attr, label, &Value::Object(el))
}

/// Collects `name eq value` pairs of a conjunction; false when the filter has any other shape.
pub(super) fn collect_equalities<'f>(f: &'f Filter, out: &mut Vec<(&'f str, &'f Literal)>) -> bool {
    match f {
        Filter::And(a, b) => collect_equalities(a, out) && collect_equalities(b, out),
        Filter::Compare {
            path,
            op: crate::scim::filter::CompareOp::Eq,
            value,
            ..
        } if path.urn.is_none() && path.sub.is_none() => {
            out.push((path.name.as_str(), value));
            true
        }
        _ => false,
    }
}
