//! Platform field paths: where a value sits in the platform's JSON, as a dotted path
//! (`email`, `profile.name.first`, `phones.0`). Compiled once; read and written without
//! allocation beyond the values themselves.

use serde_json::{Map, Value};
use std::fmt;

/// A compiled dotted field path.
#[derive(Clone, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    steps: Vec<Step>,
}

/// One step of a compiled path: an object key or an array index. Shared with the direct route
/// of `mapping::jsonpath`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// The value at `steps` below `v`, if every step exists.
pub(crate) fn walk<'a>(mut v: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    for s in steps {
        v = match (s, v) {
            (Step::Key(k), Value::Object(m)) => m.get(k)?,
            (Step::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Sets the value at `steps` below `root`, creating objects (and padding arrays with nulls) on
/// the way. A non-container in the way is replaced.
pub(crate) fn set(root: &mut Value, steps: &[Step], value: Value) {
    let mut cur = root;
    for s in steps {
        cur = match s {
            Step::Key(k) => {
                if !cur.is_object() {
                    *cur = Value::Object(Map::new());
                }
                match cur {
                    Value::Object(m) => m.entry(k.clone()).or_insert(Value::Null),
                    _ => return,
                }
            }
            Step::Index(i) => {
                if !cur.is_array() {
                    *cur = Value::Array(Vec::new());
                }
                match cur {
                    Value::Array(a) => {
                        if a.len() <= *i {
                            a.resize(*i + 1, Value::Null);
                        }
                        &mut a[*i]
                    }
                    _ => return,
                }
            }
        };
    }
    *cur = value;
}

impl fmt::Debug for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldPath({:?})", self.text)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FieldPath {
    /// Parses `a.b.c`; all-digit segments index arrays. Segments are non-empty and contain no
    /// whitespace.
    pub fn parse(text: &str) -> Result<FieldPath, String> {
        if text.is_empty() {
            return Err("empty field path".to_owned());
        }
        if text.starts_with('$') {
            return Err(
                "a field is a dotted path such as \"profile.first_name\"; use `read` for a JSONPath"
                    .to_owned(),
            );
        }
        let mut steps = Vec::new();
        for seg in text.split('.') {
            if seg.is_empty() || seg.chars().any(char::is_whitespace) {
                return Err(format!(
                    "invalid field path {text:?}: empty segment or whitespace"
                ));
            }
            steps.push(match seg.parse::<usize>() {
                Ok(i) if seg.bytes().all(|b| b.is_ascii_digit()) => Step::Index(i),
                _ => Step::Key(seg.to_owned()),
            });
        }
        Ok(FieldPath {
            text: text.to_owned(),
            steps,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value at this path, if any (`null` counts as absent).
    pub fn get<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        walk(v, &self.steps).filter(|v| !v.is_null())
    }

    /// Sets the value at this path, creating objects (and padding arrays with nulls) on the way.
    /// A non-container in the way is replaced.
    pub fn set(&self, root: &mut Value, value: Value) {
        set(root, &self.steps, value);
    }

    /// Removes the value at this path (an array element becomes `null`, so later indexes keep
    /// their place). Nothing happens when the path does not exist.
    pub fn remove(&self, root: &mut Value) {
        let Some((last, parents)) = self.steps.split_last() else {
            return;
        };
        let mut cur = root;
        for s in parents {
            let next = match (s, cur) {
                (Step::Key(k), Value::Object(m)) => m.get_mut(k),
                (Step::Index(i), Value::Array(a)) => a.get_mut(*i),
                _ => None,
            };
            match next {
                Some(n) => cur = n,
                None => return,
            }
        }
        match (last, cur) {
            (Step::Key(k), Value::Object(m)) => {
                m.shift_remove(k);
            }
            (Step::Index(i), Value::Array(a)) => {
                if let Some(v) = a.get_mut(*i) {
                    *v = Value::Null;
                }
            }
            _ => {}
        }
    }

    /// Whether two paths overlap (one is a prefix of the other): writing both would collide.
    pub fn overlaps(&self, other: &FieldPath) -> bool {
        let n = self.steps.len().min(other.steps.len());
        self.steps[..n] == other.steps[..n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn get_and_set_nested_fields() {
        let p = FieldPath::parse("profile.name.first").expect("valid");
        let mut v = json!({});
        p.set(&mut v, json!("Ada"));
        assert_eq!(v, json!({"profile": {"name": {"first": "Ada"}}}));
        assert_eq!(p.get(&v), Some(&json!("Ada")));
        let idx = FieldPath::parse("phones.1").expect("index");
        idx.set(&mut v, json!("555"));
        assert_eq!(v["phones"], json!([null, "555"]));
        assert_eq!(idx.get(&v), Some(&json!("555")));
        assert_eq!(
            FieldPath::parse("phones.0").expect("ok").get(&v),
            None,
            "null is absent"
        );
    }

    #[test]
    fn remove_takes_out_one_field_and_keeps_its_neighbours() {
        let mut v = json!({"profile": {"first": "Ada", "phone": "555"}, "tags": ["a", "b"]});
        FieldPath::parse("profile.first")
            .expect("ok")
            .remove(&mut v);
        FieldPath::parse("tags.0").expect("ok").remove(&mut v);
        FieldPath::parse("missing.deep").expect("ok").remove(&mut v);
        assert_eq!(v, json!({"profile": {"phone": "555"}, "tags": [null, "b"]}));
    }

    #[test]
    fn invalid_paths_are_refused() {
        assert!(FieldPath::parse("").is_err());
        assert!(FieldPath::parse("a..b").is_err());
        assert!(FieldPath::parse("$.a").is_err());
        assert!(FieldPath::parse("a b").is_err());
    }

    #[test]
    fn overlap_detects_prefixes() {
        let a = FieldPath::parse("profile").expect("ok");
        let b = FieldPath::parse("profile.name").expect("ok");
        let c = FieldPath::parse("profiles").expect("ok");
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
    }
}
