//! Unit tests of the mapping-test comparisons: the JSON subset diff and its pointers, and the
//! call list comparison.

use http::Method;
use serde_json::json;

use super::compare;
use super::fixture::{Answer, ExpectedCall, QueryMatch};
use crate::platform::Call;

fn diff(expected: serde_json::Value, actual: serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    compare::subset("body", "", &expected, Some(&actual), &mut out);
    out
}

#[test]
fn a_subset_with_extra_members_matches() {
    let d = diff(
        json!({"a": 1, "b": {"c": "x"}}),
        json!({"a": 1.0, "b": {"c": "x", "d": 2}, "e": true}),
    );
    assert!(d.is_empty(), "{d:?}");
}

#[test]
fn differences_are_named_by_json_pointer() {
    let d = diff(
        json!({"email": "a@b.c", "name": {"given": "Ada"}, "a/b": 1, "list": [{"v": 1}, {"v": 2}]}),
        json!({"name": {"given": "Grace"}, "a/b": 2, "list": [{"v": 1}, {"v": 3, "w": 0}]}),
    );
    assert_eq!(
        d,
        vec![
            r#"body /email: expected "a@b.c", got missing"#,
            r#"body /name/given: expected "Ada", got "Grace""#,
            "body /a~1b: expected 1, got 2",
            "body /list/1/v: expected 2, got 3",
        ]
    );
}

#[test]
fn arrays_of_another_length_differ_as_a_whole() {
    assert_eq!(
        diff(json!({"a": [1]}), json!({"a": [1, 2]})),
        vec!["body /a: expected 1 item [1], got 2 [1,2]"]
    );
    assert_eq!(
        diff(json!(1), json!("1")),
        vec![r#"body: expected 1, got "1""#]
    );
}

fn expected(method: &str, path: &str) -> ExpectedCall {
    ExpectedCall {
        operation: None,
        method: method.to_owned(),
        path: path.to_owned(),
        query: None,
        query_match: QueryMatch::Exact,
        body: None,
        answer: Answer {
            status: 200,
            headers: Default::default(),
            body: None,
        },
    }
}

fn made(path: &str, query: &[(&str, &str)]) -> Call {
    Call {
        operation: "users.list",
        method: Method::GET,
        path: path.to_owned(),
        query: query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: None,
        if_match: None,
    }
}

#[test]
fn queries_compare_exactly_or_as_a_subset() {
    let mut e = expected("get", "/u");
    e.query = Some([("a".to_owned(), "1".to_owned())].into_iter().collect());
    let m = made("/u", &[("a", "2"), ("page", "1")]);
    let mut out = Vec::new();
    compare::calls(std::slice::from_ref(&e), std::slice::from_ref(&m), &mut out);
    assert_eq!(
        out,
        vec![
            r#"call 1 users.list query a: expected "1", got ["2"]"#,
            r#"call 1 users.list query page: unexpected "1""#,
        ]
    );
    e.query_match = QueryMatch::Subset;
    let mut out = Vec::new();
    compare::calls(&[e], &[made("/u", &[("a", "1"), ("page", "1")])], &mut out);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn method_path_and_count_differences_are_reported() {
    let mut out = Vec::new();
    compare::calls(
        &[expected("POST", "/u"), expected("DELETE", "/u/1")],
        &[made("/v", &[])],
        &mut out,
    );
    assert_eq!(
        out,
        vec![
            "call 1 users.list method: expected POST, got GET",
            r#"call 1 users.list path: expected "/u", got "/v""#,
            "call 2: missing, expected DELETE /u/1",
        ]
    );
    let mut out = Vec::new();
    compare::calls(&[], &[made("/v", &[("x", "y")])], &mut out);
    assert_eq!(
        out,
        vec!["call 1 users.list: unexpected GET /v?x=y (the case lists 0 calls)"]
    );
}
