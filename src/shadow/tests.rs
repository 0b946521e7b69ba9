//! Unit tests of shadow mode's pure parts: the mode key, redaction, changed fields, ids in paths,
//! the report.

use super::record::{Entry, Kind, Origin, changed_fields, redact};
use super::*;
use crate::mapping::template::{PathTemplate, Var};
use serde_json::json;

#[test]
fn mode_parses_live_and_shadow_only() {
    assert_eq!(Mode::parse(None), Ok(Mode::Live));
    assert_eq!(Mode::parse(Some("live")), Ok(Mode::Live));
    assert_eq!(Mode::parse(Some("shadow")), Ok(Mode::Shadow));
    assert!(Mode::parse(Some("Shadow")).is_err());
}

#[test]
fn redaction_hides_secret_named_fields_and_configured_secrets() {
    let body = json!({"name": "a", "password": "hunter2", "nested": {"apiToken": "x"},
        "note": "key is s3cr3t-value here", "list": [{"client_secret": "y"}]});
    let r = redact(&body, &["s3cr3t-value"]);
    assert_eq!(
        r,
        json!({"name": "a", "password": "[redacted]", "nested": {"apiToken": "[redacted]"},
            "note": "key is [redacted] here", "list": [{"client_secret": "[redacted]"}]})
    );
}

#[test]
fn changed_fields_names_dotted_paths() {
    let before = json!({"id": 1, "first_name": "A", "profile": {"dept": "x", "title": "t"}});
    let after =
        json!({"id": 1, "first_name": "B", "profile": {"dept": "y", "title": "t"}, "new": 1});
    assert_eq!(
        changed_fields(&before, &after),
        vec!["first_name", "profile.dept", "new"]
    );
}

#[test]
fn ids_are_read_back_from_rendered_paths() {
    let t = PathTemplate::parse(
        "/api/v1/groups/{id}/members/{member}",
        &[Var::Id, Var::Member],
    )
    .unwrap();
    assert_eq!(
        transport::path_ids(&t, "/api/v1/groups/5/members/a%40b"),
        (Some("5".to_owned()), Some("a@b".to_owned()))
    );
    let t = PathTemplate::parse("/api/v1/users/{id}", &[Var::Id]).unwrap();
    assert_eq!(
        transport::path_ids(&t, "/api/v1/users/17"),
        (Some("17".to_owned()), None)
    );
    assert_eq!(transport::path_ids(&t, "/api/v1/groups/17"), (None, None));
}

fn entry(kind: Kind, id: &str) -> Entry {
    Entry {
        at: "2026-01-01T00:00:00Z".to_owned(),
        kind,
        operation: "users.update".to_owned(),
        method: "PATCH".to_owned(),
        path: format!("/api/v1/users/{id}"),
        query: Vec::new(),
        body: Some(json!({"first_name": "B"})),
        resource: "users".to_owned(),
        id: Some(id.to_owned()),
        name: Some("ada@example.com".to_owned()),
        changed: vec!["first_name".to_owned()],
        member: None,
        request: Origin::default(),
    }
}

#[test]
fn the_report_groups_writes_and_names_bad_lines() {
    let lines = [entry(Kind::Update, "17"), entry(Kind::Disable, "17")]
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let entries = report::parse(&lines).unwrap();
    let r = report::summarise(&entries);
    assert_eq!((r.updates.len(), r.disables.len()), (1, 1));
    assert_eq!(r.updates[0].fields, vec!["first_name"]);
    assert!(r.text().contains("users 17 (ada@example.com): first_name"));
    let bad = format!("{lines}\nnot json\n");
    let e = report::parse(&bad).unwrap_err();
    assert!(e.starts_with("line 3: "), "{e}");
}
