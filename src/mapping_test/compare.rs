//! The comparisons of a mapping test: a JSON subset check that names each difference by its
//! JSON pointer, and the comparison of the recorded platform calls with the expected ones.

use serde_json::Value;

use super::fixture::{ExpectedCall, QueryMatch};
use crate::platform::Call;

/// Appends one line per difference between `expected` and `actual`, where every member of
/// `expected` must be in `actual` (recursively; extra members are allowed). Arrays must have the
/// same length and match item by item. `label` prefixes each line (`call 1 users.create body`).
pub fn subset(
    label: &str,
    pointer: &str,
    expected: &Value,
    actual: Option<&Value>,
    out: &mut Vec<String>,
) {
    let at = if pointer.is_empty() {
        label.to_owned()
    } else {
        format!("{label} {pointer}")
    };
    let Some(actual) = actual else {
        out.push(format!("{at}: expected {expected}, got missing"));
        return;
    };
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                subset(label, &format!("{pointer}/{}", escape(k)), v, a.get(k), out);
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                subset(label, &format!("{pointer}/{i}"), ev, Some(av), out);
            }
        }
        (Value::Array(e), Value::Array(a)) => out.push(format!(
            "{at}: expected {} item{} {expected}, got {} {actual}",
            e.len(),
            if e.len() == 1 { "" } else { "s" },
            a.len()
        )),
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => {}
        (e, a) if e == a => {}
        (e, a) => out.push(format!("{at}: expected {e}, got {a}")),
    }
}

/// A JSON pointer token (RFC 6901): `~` as `~0`, `/` as `~1`.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Appends one line per difference between the calls made and the calls expected.
pub fn calls(expected: &[ExpectedCall], made: &[Call], out: &mut Vec<String>) {
    for i in 0..expected.len().max(made.len()) {
        let n = i + 1;
        match (expected.get(i), made.get(i)) {
            (Some(e), Some(m)) => call(n, e, m, out),
            (None, Some(m)) => out.push(format!(
                "call {n} {}: unexpected {} {}{} (the case lists {} call{})",
                m.operation,
                m.method,
                m.path,
                query_text(&m.query),
                expected.len(),
                if expected.len() == 1 { "" } else { "s" }
            )),
            (Some(e), None) => out.push(format!(
                "call {n}{}: missing, expected {} {}",
                e.operation
                    .as_deref()
                    .map(|o| format!(" {o}"))
                    .unwrap_or_default(),
                e.method.to_ascii_uppercase(),
                e.path
            )),
            (None, None) => {}
        }
    }
}

fn query_text(q: &[(String, String)]) -> String {
    if q.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("?{}", pairs.join("&"))
}

fn call(n: usize, e: &ExpectedCall, m: &Call, out: &mut Vec<String>) {
    let label = format!("call {n} {}", m.operation);
    if let Some(op) = &e.operation
        && op != m.operation
    {
        out.push(format!(
            "{label} operation: expected {op}, got {}",
            m.operation
        ));
    }
    if !e.method.eq_ignore_ascii_case(m.method.as_str()) {
        out.push(format!(
            "{label} method: expected {}, got {}",
            e.method.to_ascii_uppercase(),
            m.method
        ));
    }
    if e.path != m.path {
        out.push(format!(
            "{label} path: expected {:?}, got {:?}",
            e.path, m.path
        ));
    }
    if let Some(q) = &e.query {
        for (k, v) in q {
            let sent: Vec<&str> = m
                .query
                .iter()
                .filter(|(mk, _)| mk == k)
                .map(|(_, mv)| mv.as_str())
                .collect();
            match sent.as_slice() {
                [] => out.push(format!("{label} query {k}: expected {v:?}, got missing")),
                [one] if one == v => {}
                _ => out.push(format!("{label} query {k}: expected {v:?}, got {sent:?}")),
            }
        }
        if e.query_match == QueryMatch::Exact {
            for (k, v) in &m.query {
                if !q.contains_key(k) {
                    out.push(format!("{label} query {k}: unexpected {v:?}"));
                }
            }
        }
    }
    if let Some(body) = &e.body {
        let body_label = format!("{label} body");
        match super::fixture::expected_json(body) {
            Err(err) => out.push(format!("{body_label}: the fixture's body: {err}")),
            Ok(expected) => match &m.body {
                None => out.push(format!("{body_label}: expected {expected}, got no body")),
                Some(sent) => subset(&body_label, "", &expected, Some(sent), out),
            },
        }
    }
}
