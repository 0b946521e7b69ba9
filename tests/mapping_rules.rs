//! Mapping rules added for real platforms (issue 12), checked in-process: each broken key is
//! reported with its key, its value and the mapping file, and the valid forms compile.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use scim_sidecar::mapping::compile;

const THIRD: &str = include_str!("fixtures/mappings/third.toml");

/// Compiles mapping text from a file; the errors as `(key, value, reason)`, or none.
fn compile_text(
    text: &str,
) -> Result<scim_sidecar::mapping::model::Mapping, Vec<(String, Option<String>, String)>> {
    support::install_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mapping.toml");
    std::fs::write(&path, text).expect("write");
    compile::load(&path, &|_| Some("secret".to_owned()), None).map_err(|errs| {
        for e in &errs {
            assert_eq!(
                e.source,
                path.display().to_string(),
                "the file is named: {e}"
            );
        }
        errs.into_iter()
            .map(|e| (e.key, e.value, e.reason))
            .collect()
    })
}

fn assert_error(text: &str, key: &str, value: Option<&str>, reason: &str) {
    let errs = compile_text(text)
        .err()
        .unwrap_or_else(|| panic!("{key} must be refused"));
    assert!(
        errs.iter()
            .any(|(k, v, r)| k == key && v.as_deref() == value && r.contains(reason)),
        "want {key} = {value:?}: {reason}; got {errs:#?}"
    );
}

#[test]
fn the_third_platforms_mapping_compiles_with_its_defaults() {
    let m = compile_text(THIRD).expect("valid");
    let users = m.users.as_ref().expect("users");
    assert!(
        users
            .replace
            .as_ref()
            .is_some_and(|op| op.preserve_unmapped),
        "preserve_unmapped defaults to true"
    );
    assert!(users.concurrency.is_none());
}

#[test]
fn preserve_unmapped_belongs_to_replace_only() {
    let text = THIRD.replace(
        "[users.read]\npath = \"/people/{id}\"",
        "[users.read]\npath = \"/people/{id}\"\npreserve_unmapped = false",
    );
    assert_error(
        &text,
        "users.read.preserve_unmapped",
        Some("false"),
        "only a `replace` operation",
    );
    let off = THIRD.replace(
        "[users.replace]\npath = \"/people/{id}\"",
        "[users.replace]\npath = \"/people/{id}\"\npreserve_unmapped = false",
    );
    let m = compile_text(&off).expect("valid");
    assert!(
        m.users
            .as_ref()
            .and_then(|u| u.replace.as_ref())
            .is_some_and(|op| !op.preserve_unmapped)
    );
}

#[test]
fn concurrency_must_say_how_and_use_sensible_statuses() {
    assert_error(
        &format!("{THIRD}\n[groups.concurrency]\nattempts = 3\n"),
        "groups.concurrency",
        None,
        "set etag = true",
    );
    assert_error(
        &format!("{THIRD}\n[groups.concurrency]\netag = true\nconflict = [500]\n"),
        "groups.concurrency.conflict",
        Some("500"),
        "a conflict status is a 4xx",
    );
    assert_error(
        &format!("{THIRD}\n[groups.concurrency]\netag = true\nattempts = 0\n"),
        "groups.concurrency.attempts",
        Some("0"),
        "expected 1-10",
    );
    assert_error(
        &format!("{THIRD}\n[groups.concurrency]\nversion_field = \"$.version\"\n"),
        "groups.concurrency.version_field",
        Some("\"$.version\""),
        "dotted path",
    );
    assert_error(
        &format!("{THIRD}\n[groups.concurrency]\netag = true\nretries = 2\n"),
        "groups.concurrency.retries",
        None,
        "unknown field",
    );
    let m = compile_text(&format!(
        "{THIRD}\n[groups.concurrency]\nversion_field = \"version\"\n"
    ))
    .expect("valid");
    let c = m
        .groups
        .as_ref()
        .and_then(|g| g.concurrency.clone())
        .expect("concurrency");
    assert_eq!((c.etag, c.conflict, c.attempts), (false, vec![409, 412], 5));
    assert_eq!(
        c.version_field.map(|f| f.as_str().to_owned()),
        Some("version".to_owned())
    );
}

#[test]
fn member_answer_rules_take_a_status_or_a_status_with_a_body_condition() {
    let demo = scim_sidecar::demo::MAPPING_TOML;
    let ok = demo.replace(
        "already_member = [409]",
        "already_member = [409, { status = 400, when = \"$.error\", equals = \"already_member\" }]",
    );
    compile_text(&ok).expect("valid");
    let no_equals = demo.replace(
        "already_member = [409]",
        "already_member = [{ status = 400, when = \"$.error\" }]",
    );
    assert_error(
        &no_equals,
        "groups.members.already_member[0].equals",
        None,
        "needs the value",
    );
    let bad_path = demo.replace(
        "not_member = [404]",
        "not_member = [{ status = 404, when = \"$[\", equals = \"x\" }]",
    );
    assert_error(
        &bad_path,
        "groups.members.not_member[0].when",
        Some("\"$[\""),
        "JSONPath",
    );
    let bad_status = demo.replace("unknown_member = [422]", "unknown_member = [42]");
    assert_error(
        &bad_status,
        "groups.members.unknown_member[0]",
        Some("42"),
        "not an HTTP status",
    );
}
