//! Property: printing a filter and parsing it back gives the same filter (up to positions), over
//! generated ASTs with User-schema attribute paths, every operator, nested and/or/not/value
//! filters, and string literals full of quotes, backslashes, control characters and Unicode.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

use proptest::prelude::*;
use scim_sidecar::scim::filter::{
    self, CompareOp, ElementTest, Filter, Literal, MAX_FILTER_LEN, Test,
};
use scim_sidecar::scim::path::AttrPath;
use scim_sidecar::scim::schema::{ENTERPRISE_USER_URN, USER_URN};
use serde_json::Number;

/// (attribute, sub-attributes) of the User schemas; `ext` marks enterprise attributes.
const CORE: &[(&str, &[&str])] = &[
    ("userName", &[]),
    ("displayName", &[]),
    ("title", &[]),
    ("active", &[]),
    ("externalId", &[]),
    ("id", &[]),
    ("name", &["givenName", "familyName", "formatted"]),
    ("emails", &["value", "type", "primary", "display"]),
    (
        "addresses",
        &["streetAddress", "locality", "type", "primary"],
    ),
    ("meta", &["created", "lastModified", "version"]),
    ("x509Certificates", &["value"]),
];
const ENTERPRISE: &[(&str, &[&str])] = &[
    ("employeeNumber", &[]),
    ("department", &[]),
    ("manager", &["value", "displayName", "$ref"]),
];
const MULTI: &[(&str, &[&str])] = &[
    ("emails", &["value", "type", "primary", "display"]),
    (
        "addresses",
        &["streetAddress", "locality", "type", "primary"],
    ),
    ("groups", &["value", "display", "type"]),
    ("members", &["value", "type", "$ref"]),
];

/// Flips the case of some letters: names keep their spelling through a round trip.
fn respell(name: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<bool>(), name.len()).prop_map(move |flips| {
        name.chars()
            .zip(flips)
            .map(|(c, f)| if f { c.to_ascii_uppercase() } else { c })
            .collect()
    })
}

fn named(
    table: &'static [(&'static str, &'static [&'static str])],
) -> impl Strategy<Value = (String, Option<String>)> {
    proptest::sample::select(table).prop_flat_map(|(name, subs)| {
        let sub = if subs.is_empty() {
            Just(None).boxed()
        } else {
            proptest::option::of(proptest::sample::select(subs).prop_flat_map(respell)).boxed()
        };
        (respell(name), sub)
    })
}

fn attr_path() -> impl Strategy<Value = AttrPath> {
    prop_oneof![
        3 => named(CORE).prop_map(|(name, sub)| AttrPath { urn: None, name, sub }),
        1 => named(CORE).prop_map(|(name, sub)| AttrPath { urn: Some(USER_URN.to_owned()), name, sub }),
        1 => named(ENTERPRISE).prop_map(|(name, sub)| AttrPath { urn: Some(ENTERPRISE_USER_URN.to_owned()), name, sub }),
        1 => named(ENTERPRISE).prop_map(|(name, sub)| AttrPath { urn: Some(ENTERPRISE_USER_URN.to_lowercase()), name, sub }),
    ]
}

fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9@. _-]{0,12}",
        proptest::collection::vec(
            prop_oneof![
                Just('"'),
                Just('\\'),
                Just('/'),
                Just('\n'),
                Just('\t'),
                Just('\u{1}'),
                Just('\u{7f}'),
                Just('é'),
                Just('Σ'),
                Just('😀'),
                Just('\u{2028}'),
                Just(']'),
                Just(')'),
                Just(' '),
                any::<char>(),
            ],
            0..12
        )
        .prop_map(|cs| cs.into_iter().collect()),
    ]
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        4 => tricky_string().prop_map(Literal::String),
        1 => any::<i64>().prop_map(|n| Literal::Number(n.into())),
        1 => any::<u64>().prop_map(|n| Literal::Number(n.into())),
        1 => (-999_999_999i64..999_999_999, 0u32..7).prop_filter_map("finite", |(m, k)| {
            Number::from_f64(m as f64 / 10f64.powi(k as i32)).map(Literal::Number)
        }),
        1 => any::<f64>().prop_filter_map("finite", |x| Number::from_f64(x).map(Literal::Number)),
        1 => any::<bool>().prop_map(Literal::Bool),
        1 => Just(Literal::Null),
    ]
}

fn op() -> impl Strategy<Value = CompareOp> {
    proptest::sample::select(CompareOp::ALL.to_vec())
}

fn test_() -> impl Strategy<Value = Test> {
    prop_oneof![
        1 => Just(Test::Present),
        5 => (op(), literal()).prop_map(|(op, value)| Test::Compare { op, value }),
    ]
}

fn leaf(path: BoxedStrategy<AttrPath>) -> impl Strategy<Value = Filter> {
    (path, test_()).prop_map(|(path, t)| match t {
        Test::Present => Filter::Present { path, pos: 0 },
        Test::Compare { op, value } => Filter::Compare {
            path,
            op,
            value,
            pos: 0,
        },
    })
}

fn logic(inner: BoxedStrategy<Filter>) -> impl Strategy<Value = Filter> {
    prop_oneof![
        (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
        (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
        inner.prop_map(|a| Filter::Not(Box::new(a))),
    ]
}

/// Filters inside `[...]`: sub-attribute names only, no nested value filters.
fn element_filter(subs: &'static [&'static str]) -> impl Strategy<Value = Filter> {
    let name = proptest::sample::select(subs)
        .prop_flat_map(respell)
        .prop_map(|name| AttrPath {
            urn: None,
            name,
            sub: None,
        })
        .boxed();
    leaf(name).prop_recursive(3, 8, 2, |inner| logic(inner.boxed()))
}

fn value_path() -> impl Strategy<Value = Filter> {
    proptest::sample::select(MULTI).prop_flat_map(|(name, subs)| {
        let then = proptest::option::of(
            (
                proptest::sample::select(subs).prop_flat_map(respell),
                test_(),
            )
                .prop_map(|(sub, test)| ElementTest { sub, test, pos: 0 }),
        );
        (respell(name), element_filter(subs), then).prop_map(|(name, f, then)| Filter::ValuePath {
            path: AttrPath {
                urn: None,
                name,
                sub: None,
            },
            filter: Box::new(f),
            then,
            pos: 0,
        })
    })
}

fn filter_ast() -> impl Strategy<Value = Filter> {
    let base = prop_oneof![3 => leaf(attr_path().boxed()), 1 => value_path()];
    base.prop_recursive(5, 24, 2, |inner| logic(inner.boxed()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn print_then_parse_is_the_identity(f in filter_ast()) {
        let text = f.to_string();
        prop_assume!(text.len() <= MAX_FILTER_LEN);
        let back = filter::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("{text:?} does not parse: {e}")))?;
        prop_assert!(filter::same_shape(&back, &f), "{text:?}\n{back:?}\n!=\n{f:?}");
        prop_assert_eq!(back.without_positions(), f.without_positions());
        prop_assert_eq!(back.to_string(), text, "the canonical text is a fixed point");
    }

    #[test]
    fn parsing_arbitrary_text_never_panics_and_reprints_stably(s in "[a-zA-Z\\[\\]() \"\\\\.:=<>0-9-]{0,60}") {
        if let Ok(f) = filter::parse(&s) {
            let text = f.to_string();
            let back = filter::parse(&text).map_err(|e| TestCaseError::fail(format!("{s:?} → {text:?}: {e}")))?;
            prop_assert!(filter::same_shape(&back, &f));
        }
    }
}
