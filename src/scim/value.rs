//! Schema-aware JSON helpers shared by filtering, PATCH, projection and validation: case-insensitive
//! key access, presence (RFC 7643 §2.5), type checks that canonicalise key spelling, and the
//! attribute-typed comparisons (caseExact strings, numbers, instants).
//!
//! Comparison rules used everywhere:
//! - strings compare exactly when the attribute is `caseExact`, and always for `reference` and
//!   `binary` (RFC 7643 §2.3.6, §2.3.7: both are case exact); otherwise caselessly. Caseless
//!   comparison has an allocation-free ASCII fast path; other text is compared by the Unicode
//!   lowercase mapping of each character (`char::to_lowercase`), with final sigma `ς` folded to `σ`
//!   so that a word-final capital sigma matches. This is not full case folding (`ß` ≠ `ss`).
//! - `dateTime` values compare as instants when both sides parse, else as strings.
//! - numbers compare numerically (integers exactly, otherwise as `f64`).

use crate::scim::datetime;
use crate::scim::error::ScimError;
use crate::scim::schema::{AttrType, Attribute, Mutability};
use serde_json::{Map, Number, Value};
use std::cmp::Ordering;
use std::collections::HashSet;

/// A JSON object.
pub(crate) type Object = Map<String, Value>;

// --- keys ---------------------------------------------------------------------------------------

/// The key in `map` that equals `name` ASCII-case-insensitively, trying the exact spelling first.
pub(crate) fn key_ci<'m>(map: &'m Object, name: &str) -> Option<&'m str> {
    if let Some((k, _)) = map.get_key_value(name) {
        return Some(k.as_str());
    }
    map.keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .map(String::as_str)
}

/// The value under `name`, matched ASCII-case-insensitively (exact spelling first).
pub(crate) fn get_ci<'m>(map: &'m Object, name: &str) -> Option<&'m Value> {
    if let Some(v) = map.get(name) {
        return Some(v);
    }
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The value under `name` (case-insensitive), mutably.
pub(crate) fn get_ci_mut<'m>(map: &'m mut Object, name: &str) -> Option<&'m mut Value> {
    let key = key_ci(map, name)?.to_owned();
    map.get_mut(&key)
}

/// Removes every key equal to `name` case-insensitively, keeping the order of the others; returns
/// the first removed value.
pub(crate) fn remove_ci(map: &mut Object, name: &str) -> Option<Value> {
    let mut first = None;
    while let Some(key) = key_ci(map, name).map(str::to_owned) {
        let v = map.shift_remove(&key);
        if first.is_none() {
            first = v;
        }
    }
    first
}

/// Sets `canonical` to `value`. A key spelled differently (case) is renamed in place, so the
/// object keeps its order and ends up with exactly one spelling.
pub(crate) fn set_ci(map: &mut Object, canonical: &str, value: Value) {
    let variants = map
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(canonical))
        .count();
    if variants == 0 {
        map.insert(canonical.to_owned(), value);
        return;
    }
    if variants == 1
        && let Some(slot) = map.get_mut(canonical)
    {
        *slot = value;
        return;
    }
    let mut value = Some(value);
    for (k, v) in std::mem::take(map) {
        if k.eq_ignore_ascii_case(canonical) {
            if let Some(v) = value.take() {
                map.insert(canonical.to_owned(), v);
            }
        } else {
            map.insert(k, v);
        }
    }
}

/// Renames every case variant of `canonical` to `canonical`, in place; when several variants
/// exist, the first one's value is kept.
pub(crate) fn canonicalize_key(map: &mut Object, canonical: &str) {
    let needed = map
        .keys()
        .any(|k| k != canonical && k.eq_ignore_ascii_case(canonical));
    if !needed {
        return;
    }
    let mut placed = false;
    for (k, v) in std::mem::take(map) {
        if k.eq_ignore_ascii_case(canonical) {
            if !placed {
                map.insert(canonical.to_owned(), v);
                placed = true;
            }
        } else {
            map.insert(k, v);
        }
    }
}

// --- presence -----------------------------------------------------------------------------------

/// Whether a value is assigned in the sense of the `pr` operator: not null, not an empty string,
/// and (for arrays and objects) holding at least one assigned value (RFC 7643 §2.5, RFC 7644
/// §3.4.2.2 "pr").
pub(crate) fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(is_present),
        Value::Object(o) => o.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// "a string", "a number", ... for error messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What a value of `ty` must look like, for error messages.
pub(crate) fn expected(ty: AttrType) -> &'static str {
    match ty {
        AttrType::String => "a string",
        AttrType::Boolean => "a boolean (true or false)",
        AttrType::Decimal => "a number",
        AttrType::Integer => "an integer",
        AttrType::DateTime => "an xsd:dateTime string such as \"2008-01-23T04:56:22Z\"",
        AttrType::Binary => "a base64-encoded string",
        AttrType::Reference => "a string (a URI reference)",
        AttrType::Complex => "an object of sub-attributes",
    }
}

/// Shortens `s` to at most `max` characters for an error message, marking the cut.
pub(crate) fn excerpt(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

/// Whether `s` is base64 (RFC 4648 §4, with or without padding).
pub(crate) fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    let (body, padded) = match b {
        [rest @ .., b'=', b'='] => (rest, true),
        [rest @ .., b'='] => (rest, true),
        _ => (b, false),
    };
    let alphabet = body
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/');
    alphabet
        && if padded {
            b.len().is_multiple_of(4)
        } else {
            b.len() % 4 != 1
        }
}

// --- checking values against the schema ---------------------------------------------------------

/// What to do with a (sub-)attribute the schema does not define.
pub(crate) enum Unknown<'a> {
    /// 400 `invalidValue` naming it.
    Reject,
    /// Drop it and record its dotted path (each path once).
    Ignore(&'a mut Vec<String>),
}

/// Checks client-supplied values against attribute definitions, producing canonical JSON: keys in
/// the schema's spelling, nulls dropped, `readOnly` sub-attributes of writable attributes dropped
/// (RFC 7644 §3.3, §3.5.1: such values "SHALL be ignored").
pub(crate) struct Checker<'a> {
    /// Policy for undefined sub-attributes.
    unknown: Unknown<'a>,
    /// Accept a single value where an array is expected, wrapping it (PATCH leniency).
    wrap_single: bool,
    /// Lowercased paths already recorded under [`Unknown::Ignore`].
    recorded: HashSet<String>,
}

impl<'a> Checker<'a> {
    /// A checker with the given unknown-attribute policy and array leniency.
    pub(crate) fn new(unknown: Unknown<'a>, wrap_single: bool) -> Self {
        Checker {
            unknown,
            wrap_single,
            recorded: HashSet::new(),
        }
    }

    /// Checks a whole attribute value. `Ok(None)` means unassigned (null or an empty array).
    pub(crate) fn attr(
        &mut self,
        attr: &Attribute,
        label: &str,
        v: &Value,
    ) -> Result<Option<Value>, ScimError> {
        if !attr.multi_valued {
            return self.single(attr, label, v);
        }
        let items: &[Value] = match v {
            Value::Null => return Ok(None),
            Value::Array(a) => a,
            other if self.wrap_single => std::slice::from_ref(other),
            other => {
                return Err(ScimError::invalid_value(format!(
                    "attribute '{label}' is multi-valued and must be an array of {}, found {}",
                    expected(attr.ty),
                    kind(other)
                )));
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if item.is_array() {
                return Err(ScimError::invalid_value(format!(
                    "attribute '{label}' must be an array of {}, found a nested array",
                    expected(attr.ty)
                )));
            }
            if let Some(c) = self.single(attr, label, item)? {
                out.push(c);
            }
        }
        Ok((!out.is_empty()).then_some(Value::Array(out)))
    }

    /// Checks one value of `attr` (a single-valued attribute's value, or one element of a
    /// multi-valued one). `Ok(None)` means unassigned.
    pub(crate) fn single(
        &mut self,
        attr: &Attribute,
        label: &str,
        v: &Value,
    ) -> Result<Option<Value>, ScimError> {
        if v.is_null() {
            return Ok(None);
        }
        if attr.is_complex() {
            let mut m = self.complex(attr, label, v)?;
            m.retain(|_, v| !v.is_null());
            return Ok((!m.is_empty()).then_some(Value::Object(m)));
        }
        scalar(attr, label, v).map(Some)
    }

    /// Checks a complex value and returns its canonical object, keeping explicit `null`s (a merge
    /// reads them as "unassign this sub-attribute").
    pub(crate) fn complex(
        &mut self,
        attr: &Attribute,
        label: &str,
        v: &Value,
    ) -> Result<Object, ScimError> {
        let Value::Object(given) = v else {
            return Err(ScimError::invalid_value(format!(
                "attribute '{label}' must be {}, found {}",
                expected(AttrType::Complex),
                kind(v)
            )));
        };
        let mut out = Object::new();
        for (k, sv) in given {
            let Some(sub) = attr.sub(k) else {
                self.unknown(&format!("{label}.{k}"), "sub-attribute")?;
                continue;
            };
            if out.contains_key(&sub.name) {
                return Err(ScimError::invalid_syntax(format!(
                    "sub-attribute '{label}.{}' is given more than once (names are case-insensitive)",
                    sub.name
                )));
            }
            if sub.mutability == Mutability::ReadOnly && attr.mutability != Mutability::ReadOnly {
                // Ignored, as for readOnly attributes in POST/PUT bodies (RFC 7644 §3.3, §3.5.1).
                continue;
            }
            let sub_label = format!("{label}.{}", sub.name);
            let checked = if sub.multi_valued {
                self.attr(sub, &sub_label, sv)?
            } else {
                self.single(sub, &sub_label, sv)?
            };
            out.insert(sub.name.clone(), checked.unwrap_or(Value::Null));
        }
        Ok(out)
    }

    /// Applies the unknown-attribute policy to `path`.
    pub(crate) fn unknown(&mut self, path: &str, what: &str) -> Result<(), ScimError> {
        match &mut self.unknown {
            Unknown::Reject => Err(ScimError::invalid_value(format!(
                "unknown {what} '{path}': the resource type's schemas do not define it"
            ))),
            Unknown::Ignore(list) => {
                if self.recorded.insert(path.to_ascii_lowercase()) {
                    list.push(path.to_owned());
                }
                Ok(())
            }
        }
    }
}

/// Type-checks a non-null value of a simple (non-complex) attribute.
fn scalar(attr: &Attribute, label: &str, v: &Value) -> Result<Value, ScimError> {
    let ok = match attr.ty {
        AttrType::String | AttrType::Reference => v.is_string(),
        AttrType::Boolean => v.is_boolean(),
        AttrType::Integer => v.is_i64() || v.is_u64(),
        AttrType::Decimal => v.is_number(),
        AttrType::DateTime => v.as_str().is_some_and(|s| datetime::parse(s).is_some()),
        AttrType::Binary => v.as_str().is_some_and(is_base64),
        AttrType::Complex => false,
    };
    if ok {
        return Ok(v.clone());
    }
    let found = match v {
        Value::String(s) => format!("the string {:?}", excerpt(s, 40)),
        Value::Number(n) => format!("the number {n}"),
        other => kind(other).to_owned(),
    };
    Err(ScimError::invalid_value(format!(
        "attribute '{label}' must be {}, found {found}",
        expected(attr.ty)
    )))
}

// --- comparisons --------------------------------------------------------------------------------

/// Whether string values of `attr` compare case-sensitively.
pub(crate) fn case_exact(attr: &Attribute) -> bool {
    attr.case_exact || matches!(attr.ty, AttrType::Binary | AttrType::Reference)
}

fn fold(c: char) -> impl DoubleEndedIterator<Item = char> {
    c.to_lowercase().map(|l| if l == 'ς' { 'σ' } else { l })
}

fn folded(s: &str) -> impl DoubleEndedIterator<Item = char> + '_ {
    s.chars().flat_map(fold)
}

fn folded_string(s: &str) -> String {
    folded(s).collect()
}

/// String equality under the attribute's case rule.
pub(crate) fn str_eq(a: &str, b: &str, exact: bool) -> bool {
    if exact {
        a == b
    } else if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        folded(a).eq(folded(b))
    }
}

/// Lexicographic order under the attribute's case rule.
pub(crate) fn str_cmp(a: &str, b: &str, exact: bool) -> Ordering {
    if exact {
        a.cmp(b)
    } else if a.is_ascii() && b.is_ascii() {
        a.bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
    } else {
        folded(a).cmp(folded(b))
    }
}

/// Whether `hay` starts with `needle` under the case rule.
pub(crate) fn str_starts(hay: &str, needle: &str, exact: bool) -> bool {
    if exact {
        hay.starts_with(needle)
    } else if hay.is_ascii() && needle.is_ascii() {
        hay.as_bytes()
            .get(..needle.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(needle.as_bytes()))
    } else {
        let mut h = folded(hay);
        folded(needle).all(|n| h.next() == Some(n))
    }
}

/// Whether `hay` ends with `needle` under the case rule.
pub(crate) fn str_ends(hay: &str, needle: &str, exact: bool) -> bool {
    if exact {
        hay.ends_with(needle)
    } else if hay.is_ascii() && needle.is_ascii() {
        hay.len()
            .checked_sub(needle.len())
            .and_then(|start| hay.as_bytes().get(start..))
            .is_some_and(|h| h.eq_ignore_ascii_case(needle.as_bytes()))
    } else {
        let mut h = folded(hay).rev();
        folded(needle).rev().all(|n| h.next() == Some(n))
    }
}

/// Whether `hay` contains `needle` under the case rule.
pub(crate) fn str_contains(hay: &str, needle: &str, exact: bool) -> bool {
    if exact {
        hay.contains(needle)
    } else if needle.is_empty() {
        true
    } else if hay.is_ascii() && needle.is_ascii() {
        hay.as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
    } else {
        folded_string(hay).contains(&folded_string(needle))
    }
}

fn as_i128(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

/// Numeric order: exact for integers, `f64` otherwise; `None` only for incomparable floats.
pub(crate) fn num_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (as_i128(a), as_i128(b)) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// Order of two non-null scalar values of `attr`, when comparable.
pub(crate) fn scalar_cmp(attr: &Attribute, a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            if attr.ty == AttrType::DateTime
                && let (Some(p), Some(q)) = (datetime::parse(x), datetime::parse(y))
            {
                return Some(p.cmp(&q));
            }
            Some(str_cmp(x, y, case_exact(attr)))
        }
        (Value::Number(x), Value::Number(y)) => num_cmp(x, y),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Schema-aware equality of two values of `attr` (whole attribute values: arrays compare element by
/// element, in order). Unassigned values (absent, null, "", empty) are equal to each other.
pub(crate) fn values_equal(attr: &Attribute, a: Option<&Value>, b: Option<&Value>) -> bool {
    let a = a.filter(|v| is_present(v));
    let b = b.filter(|v| is_present(v));
    match (a, b) {
        (None, None) => true,
        (Some(Value::Array(x)), Some(Value::Array(y))) if attr.multi_valued => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| element_equal(attr, Some(p), Some(q)))
        }
        (Some(x), Some(y)) => element_equal(attr, Some(x), Some(y)),
        _ => false,
    }
}

/// Schema-aware equality of single values (one element of a multi-valued attribute, or a
/// single-valued attribute's value).
pub(crate) fn element_equal(attr: &Attribute, a: Option<&Value>, b: Option<&Value>) -> bool {
    let a = a.filter(|v| is_present(v));
    let b = b.filter(|v| is_present(v));
    match (a, b) {
        (None, None) => true,
        (Some(Value::Object(x)), Some(Value::Object(y))) if attr.is_complex() => {
            let same_sub = |k: &String| {
                attr.sub(k).map_or_else(
                    || get_ci(x, k) == get_ci(y, k),
                    |s| values_equal(s, get_ci(x, k), get_ci(y, k)),
                )
            };
            x.keys().all(same_sub) && y.keys().all(same_sub)
        }
        (Some(x), Some(y)) => scalar_cmp(attr, x, y).map_or(x == y, Ordering::is_eq),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
