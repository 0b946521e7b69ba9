//! Property: `filter::matches` agrees with a naive reference evaluator, written independently here
//! from the RFC 7644 §3.4.2.2 rules, over generated Users (strings, booleans, multi-valued emails)
//! and generated filters over those attributes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

use proptest::prelude::*;
use scim_sidecar::scim::filter::{self, CompareOp};
use scim_sidecar::scim::schema::Registry;
use serde_json::{Map, Value, json};

// --- the reference evaluator --------------------------------------------------------------------
//
// It works on the generated representation only (canonical keys; every string attribute involved
// is caseExact=false), lowercases with `str::to_lowercase`, and follows the rules literally:
// a multi-valued attribute matches when any value does; an unassigned attribute fails every
// comparison except `ne`; `pr` is "assigned and non-empty"; `eq null` is "not pr".

#[derive(Debug, Clone)]
enum RLit {
    Str(String),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone)]
enum RFilter {
    /// attribute (e.g. "userName", "emails.value", "emails" = emails.value), op, literal
    Cmp(&'static str, CompareOp, RLit),
    Pr(&'static str),
    /// emails[inner] with optional (.sub, op, literal) where op None = pr
    Emails(
        Box<RFilter>,
        Option<(&'static str, Option<(CompareOp, RLit)>)>,
    ),
    And(Box<RFilter>, Box<RFilter>),
    Or(Box<RFilter>, Box<RFilter>),
    Not(Box<RFilter>),
}

fn lit_text(l: &RLit) -> String {
    match l {
        RLit::Str(s) => serde_json::to_string(s).unwrap_or_default(),
        RLit::Bool(b) => b.to_string(),
        RLit::Null => "null".into(),
    }
}

fn op_text(op: CompareOp) -> &'static str {
    op.as_str()
}

fn to_text(f: &RFilter) -> String {
    match f {
        RFilter::Cmp(a, op, l) => format!("{a} {} {}", op_text(*op), lit_text(l)),
        RFilter::Pr(a) => format!("{a} pr"),
        RFilter::Emails(inner, then) => {
            let mut s = format!("emails[{}]", to_text(inner));
            if let Some((sub, t)) = then {
                match t {
                    None => s.push_str(&format!(".{sub} pr")),
                    Some((op, l)) => {
                        s.push_str(&format!(".{sub} {} {}", op_text(*op), lit_text(l)))
                    }
                }
            }
            s
        }
        RFilter::And(a, b) => format!("({}) and ({})", to_text(a), to_text(b)),
        RFilter::Or(a, b) => format!("({}) or ({})", to_text(a), to_text(b)),
        RFilter::Not(a) => format!("not ({})", to_text(a)),
    }
}

/// Scalar values of a (possibly dotted) attribute of `obj`.
fn values<'a>(obj: &'a Map<String, Value>, attr: &str) -> Vec<&'a Value> {
    let (name, sub) = match attr.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None if attr == "emails" => ("emails", Some("value")),
        None => (attr, None),
    };
    let Some(v) = obj.get(name) else {
        return vec![];
    };
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .filter_map(|item| match sub {
            Some(s) => item.get(s),
            None => Some(item),
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(present),
        Value::Object(o) => o.values().any(present),
        _ => true,
    }
}

fn holds(v: &Value, op: CompareOp, l: &RLit) -> bool {
    match (v, l) {
        (Value::String(a), RLit::Str(b)) => {
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            match op {
                CompareOp::Eq => a == b,
                CompareOp::Ne => a != b,
                CompareOp::Co => a.contains(&b),
                CompareOp::Sw => a.starts_with(&b),
                CompareOp::Ew => a.ends_with(&b),
                CompareOp::Gt => a > b,
                CompareOp::Ge => a >= b,
                CompareOp::Lt => a < b,
                CompareOp::Le => a <= b,
            }
        }
        (Value::Bool(a), RLit::Bool(b)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        _ => op == CompareOp::Ne,
    }
}

fn compare(vals: &[&Value], op: CompareOp, l: &RLit) -> bool {
    if let RLit::Null = l {
        let p = vals.iter().any(|v| present(v));
        return match op {
            CompareOp::Eq => !p,
            CompareOp::Ne => p,
            _ => false,
        };
    }
    if vals.is_empty() {
        return op == CompareOp::Ne;
    }
    vals.iter().any(|v| holds(v, op, l))
}

fn reference(f: &RFilter, obj: &Map<String, Value>) -> bool {
    match f {
        RFilter::Cmp(a, op, l) => compare(&values(obj, a), *op, l),
        RFilter::Pr(a) => {
            if *a == "emails" {
                obj.get("emails").is_some_and(present)
            } else {
                values(obj, a).iter().any(|v| present(v))
            }
        }
        RFilter::Emails(inner, then) => {
            let Some(Value::Array(emails)) = obj.get("emails") else {
                return false;
            };
            emails.iter().filter_map(Value::as_object).any(|e| {
                reference(inner, e)
                    && match then {
                        None => true,
                        Some((sub, None)) => values(e, sub).iter().any(|v| present(v)),
                        Some((sub, Some((op, l)))) => compare(&values(e, sub), *op, l),
                    }
            })
        }
        RFilter::And(a, b) => reference(a, obj) && reference(b, obj),
        RFilter::Or(a, b) => reference(a, obj) || reference(b, obj),
        RFilter::Not(a) => !reference(a, obj),
    }
}

// --- generators -------------------------------------------------------------------------------

/// A small alphabet so that values collide, with case pairs and multi-byte lowercase mappings.
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        proptest::sample::select(vec![
            'a', 'A', 'b', 'B', '@', '.', 'é', 'É', 'ß', 'İ', 'i', ' ',
        ]),
        0..5,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn email() -> impl Strategy<Value = Value> {
    (
        proptest::option::of(text()),
        proptest::option::of(proptest::sample::select(vec![
            "work", "home", "WORK", "other",
        ])),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(value, ty, primary)| {
            let mut m = Map::new();
            if let Some(v) = value {
                m.insert("value".into(), json!(v));
            }
            if let Some(t) = ty {
                m.insert("type".into(), json!(t));
            }
            if let Some(p) = primary {
                m.insert("primary".into(), json!(p));
            }
            Value::Object(m)
        })
}

fn user() -> impl Strategy<Value = Value> {
    (
        text(),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(proptest::collection::vec(email(), 0..4)),
    )
        .prop_map(|(user_name, display, title, active, emails)| {
            let mut m = Map::new();
            m.insert(
                "schemas".into(),
                json!(["urn:ietf:params:scim:schemas:core:2.0:User"]),
            );
            m.insert("id".into(), json!("1"));
            m.insert("userName".into(), json!(user_name));
            if let Some(d) = display {
                m.insert("displayName".into(), json!(d));
            }
            if let Some(t) = title {
                m.insert("title".into(), json!(t));
            }
            if let Some(a) = active {
                m.insert("active".into(), json!(a));
            }
            if let Some(e) = emails {
                m.insert("emails".into(), Value::Array(e));
            }
            Value::Object(m)
        })
}

fn string_op() -> impl Strategy<Value = CompareOp> {
    proptest::sample::select(CompareOp::ALL.to_vec())
}

fn bool_op() -> impl Strategy<Value = CompareOp> {
    proptest::sample::select(vec![CompareOp::Eq, CompareOp::Ne])
}

fn string_cmp(attrs: Vec<&'static str>) -> impl Strategy<Value = RFilter> {
    (
        proptest::sample::select(attrs),
        string_op(),
        prop_oneof![6 => text().prop_map(RLit::Str), 1 => Just(RLit::Null)],
    )
        .prop_map(|(a, op, l)| {
            let op = if matches!(l, RLit::Null) && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                CompareOp::Eq
            } else {
                op
            };
            RFilter::Cmp(a, op, l)
        })
}

fn bool_cmp(attr: &'static str) -> impl Strategy<Value = RFilter> {
    (
        bool_op(),
        prop_oneof![3 => any::<bool>().prop_map(RLit::Bool), 1 => Just(RLit::Null)],
    )
        .prop_map(move |(op, l)| RFilter::Cmp(attr, op, l))
}

fn element_filter() -> impl Strategy<Value = RFilter> {
    let leaf = prop_oneof![
        string_cmp(vec!["value", "type"]),
        bool_cmp("primary"),
        proptest::sample::select(vec!["value", "type", "primary"]).prop_map(RFilter::Pr),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| RFilter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| RFilter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| RFilter::Not(Box::new(a))),
        ]
    })
}

fn then() -> impl Strategy<Value = Option<(&'static str, Option<(CompareOp, RLit)>)>> {
    proptest::option::of(prop_oneof![
        Just(("value", None)),
        (string_op(), text()).prop_map(|(op, t)| ("value", Some((op, RLit::Str(t))))),
        (bool_op(), any::<bool>()).prop_map(|(op, b)| ("primary", Some((op, RLit::Bool(b))))),
    ])
}

fn filter() -> impl Strategy<Value = RFilter> {
    let leaf = prop_oneof![
        3 => string_cmp(vec!["userName", "displayName", "title", "emails.value", "emails.type", "emails"]),
        1 => bool_cmp("active"),
        1 => bool_cmp("emails.primary"),
        1 => proptest::sample::select(vec!["userName", "displayName", "title", "active", "emails", "emails.value", "emails.primary"]).prop_map(RFilter::Pr),
        2 => (element_filter(), then()).prop_map(|(f, t)| RFilter::Emails(Box::new(f), t)),
    ];
    leaf.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| RFilter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| RFilter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| RFilter::Not(Box::new(a))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn matches_agrees_with_the_reference_evaluator(f in filter(), u in user()) {
        let schema = Registry::standard().user;
        let text = to_text(&f);
        let parsed = filter::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        filter::check(&parsed, &schema).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let obj = u.as_object().cloned().unwrap_or_default();
        prop_assert_eq!(
            filter::matches(&parsed, &u, &schema),
            reference(&f, &obj),
            "filter {} on {}", text, u
        );
    }
}
