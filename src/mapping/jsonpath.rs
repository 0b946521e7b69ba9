//! JSONPath over platform responses: the only module that touches the jsonpath-rust crate.
//!
//! Paths come from operator config only, are compiled once at load, and are never built from
//! request data. Plain paths (`$`, `$.data`, `$.meta.total`, `$.items[0].id`) take a direct route
//! over `serde_json::Value` (several times faster than the general engine); anything else
//! (filters, wildcards, recursive descent) is pre-parsed by jsonpath-rust. Its pest parser is
//! exponential on some nested inputs, so paths are capped in length and parenthesis count before
//! it sees them.

use jsonpath_rust::parser::model::JpQuery;
use serde_json::Value;

use crate::mapping::field::{self, Step, walk};
use std::fmt;

/// Longest JSONPath accepted in a mapping.
pub const MAX_LEN: usize = 200;
/// Most `(` accepted in one JSONPath (bounds the parser's worst case).
pub const MAX_PARENS: usize = 4;

/// A compiled JSONPath.
#[derive(Clone)]
pub struct JsonPath {
    text: String,
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Direct(Vec<Step>),
    Query(Box<JpQuery>),
}

impl fmt::Debug for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonPath({:?})", self.text)
    }
}

impl PartialEq for JsonPath {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl JsonPath {
    /// Compiles a JSONPath such as `$.data`, `$.meta.total`, `$.data[*]` or
    /// `$.emails[?@.primary == true].address`.
    pub fn compile(text: &str) -> Result<JsonPath, String> {
        if !text.starts_with('$') {
            return Err("a JSONPath starts with '$', e.g. \"$.data\"".to_owned());
        }
        if text.len() > MAX_LEN {
            return Err(format!("JSONPath longer than {MAX_LEN} characters"));
        }
        if text.matches('(').count() > MAX_PARENS {
            return Err(format!("JSONPath with more than {MAX_PARENS} parentheses"));
        }
        if let Some(steps) = direct_steps(text) {
            return Ok(JsonPath {
                text: text.to_owned(),
                kind: Kind::Direct(steps),
            });
        }
        let q = jsonpath_rust::parser::parse_json_path(text)
            .map_err(|e| format!("invalid JSONPath: {e}"))?;
        Ok(JsonPath {
            text: text.to_owned(),
            kind: Kind::Query(Box::new(q)),
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the path selects at most one value by construction (no wildcard or filter).
    pub fn is_direct(&self) -> bool {
        matches!(self.kind, Kind::Direct(_))
    }

    /// The first value the path selects.
    pub fn first<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        match &self.kind {
            Kind::Direct(steps) => walk(v, steps),
            Kind::Query(q) => jsonpath_rust::query::js_path_process(q, v)
                .ok()
                .and_then(|refs| refs.into_iter().next().map(|r| r.val)),
        }
    }

    /// The first value the path selects, moved out of `v`: a read's answer is parsed only for
    /// this one value, so a direct path (`$`, `$.data`) hands it over without a deep copy.
    pub fn take(&self, mut v: Value) -> Option<Value> {
        match &self.kind {
            Kind::Direct(steps) => {
                let mut cur = &mut v;
                for s in steps {
                    cur = match (s, cur) {
                        (Step::Key(k), Value::Object(m)) => m.get_mut(k)?,
                        (Step::Index(i), Value::Array(a)) => a.get_mut(*i)?,
                        _ => return None,
                    };
                }
                Some(std::mem::take(cur))
            }
            Kind::Query(_) => self.first(&v).cloned(),
        }
    }

    /// Every value the path selects, in document order. A direct path that ends on an array
    /// selects that array's elements (so `$.data` and `$.data[*]` both list items).
    pub fn all<'a>(&self, v: &'a Value) -> Vec<&'a Value> {
        match &self.kind {
            Kind::Direct(steps) => match walk(v, steps) {
                Some(Value::Array(items)) => items.iter().collect(),
                Some(Value::Null) | None => Vec::new(),
                Some(other) => vec![other],
            },
            Kind::Query(q) => jsonpath_rust::query::js_path_process(q, v)
                .map(|refs| refs.into_iter().map(|r| r.val).collect())
                .unwrap_or_default(),
        }
    }
}

impl JsonPath {
    /// Places `v` at this path inside `root`, creating objects on the way (direct paths only;
    /// for other paths `root` becomes `v`). Used to build simulated platform answers for
    /// `scim-sidecar explain`.
    pub fn place(&self, root: &mut Value, v: Value) {
        match &self.kind {
            Kind::Direct(steps) => field::set(root, steps, v),
            Kind::Query(_) => *root = v,
        }
    }
}

/// `$`, `$.a.b`, `$.a[0].b`, `$['a']`: keys of letters, digits, `_`, `-`, `$`; numeric indexes.
fn direct_steps(text: &str) -> Option<Vec<Step>> {
    let mut rest = text.strip_prefix('$')?;
    let mut steps = Vec::new();
    let is_key = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$';
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let n = r.find(|c: char| !is_key(c)).unwrap_or(r.len());
            if n == 0 {
                return None;
            }
            steps.push(Step::Key(r[..n].to_owned()));
            rest = &r[n..];
        } else if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']")?;
            let key = &r[..end];
            if key.contains(['\'', '\\']) {
                return None;
            }
            steps.push(Step::Key(key.to_owned()));
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let idx: usize = r[..end].parse().ok()?;
            steps.push(Step::Index(idx));
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "data": [{"id": 1, "email": "a@x"}, {"id": 2, "email": "b@x"}],
            "meta": {"total": 2, "next-page": "c2"},
            "emails": [{"address": "w@x", "primary": false}, {"address": "p@x", "primary": true}]
        })
    }

    #[test]
    fn plain_paths_take_the_direct_route() {
        for p in [
            "$",
            "$.data",
            "$.meta.total",
            "$.data[1].email",
            "$['meta']['next-page']",
            "$.meta.next-page",
        ] {
            assert!(JsonPath::compile(p).expect(p).is_direct(), "{p}");
        }
        let d = doc();
        let total = JsonPath::compile("$.meta.total").expect("compiles");
        assert_eq!(total.first(&d), Some(&json!(2)));
        let second = JsonPath::compile("$.data[1].email").expect("compiles");
        assert_eq!(second.first(&d), Some(&json!("b@x")));
        assert_eq!(JsonPath::compile("$").expect("root").first(&d), Some(&d));
        assert_eq!(
            JsonPath::compile("$.nope.deeper").expect("ok").first(&d),
            None
        );
    }

    #[test]
    fn take_moves_out_what_first_selects() {
        for p in [
            "$",
            "$.data",
            "$.data[1]",
            "$['data'][0].email",
            "$.meta.total",
            "$.missing",
            "$.data[9]",
            "$.emails[?@.primary == true].address",
        ] {
            let path = JsonPath::compile(p).expect(p);
            assert_eq!(path.take(doc()), path.first(&doc()).cloned(), "{p}");
        }
    }

    #[test]
    fn array_paths_list_items_either_way() {
        let d = doc();
        let a = JsonPath::compile("$.data").expect("direct");
        let b = JsonPath::compile("$.data[*]").expect("query");
        assert!(!b.is_direct());
        assert_eq!(a.all(&d).len(), 2);
        assert_eq!(a.all(&d), b.all(&d));
        assert!(
            JsonPath::compile("$.missing")
                .expect("ok")
                .all(&d)
                .is_empty()
        );
    }

    #[test]
    fn filters_go_through_jsonpath_rust() {
        let d = doc();
        let p = JsonPath::compile("$.emails[?@.primary == true].address").expect("filter");
        assert_eq!(p.first(&d), Some(&json!("p@x")));
    }

    #[test]
    fn bad_or_oversized_paths_are_refused_before_parsing() {
        assert!(JsonPath::compile("data").is_err());
        assert!(JsonPath::compile("$.data[").is_err());
        assert!(JsonPath::compile(&format!("$.{}", "a".repeat(300))).is_err());
        // the shape that makes the pest parser exponential never reaches it
        let nested = format!("$[?{}", "(count".repeat(14));
        let e = JsonPath::compile(&nested).expect_err("too many parentheses");
        assert!(e.contains("parentheses"), "{e}");
    }
}
