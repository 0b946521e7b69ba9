//! Tests of SCIM ⇄ platform conversion, driven by the demo mapping (config/demo/mapping.toml).

use super::*;
use crate::mapping::compile;
use crate::mapping::model::Mapping;
use serde_json::json;

fn demo() -> Mapping {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let path = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/demo/mapping.toml"
    ));
    compile::load(path, &|_| Some("demo-key".to_owned()), None)
        .unwrap_or_else(|e| panic!("demo mapping must compile: {e:?}"))
}

fn platform_user() -> Value {
    json!({"id": 17, "username": "ada@example.com", "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "display_name": "Ada Lovelace",
           "status": "disabled", "external_ref": "ext-1",
           "created_at": "2026-11-29T06:00:00Z", "updated_at": "2026-11-29T07:00:00Z"})
}

#[test]
fn platform_users_read_as_scim_users() {
    let m = demo();
    let users = m.users.as_ref().expect("users");
    let c = to_scim(users, &platform_user()).expect("converts");
    assert_eq!(c.id.text, "17");
    assert_eq!(c.id.json, json!(17));
    assert_eq!(
        c.scim,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "17",
            "userName": "ada@example.com",
            "emails": [{"type": "work", "value": "ada@example.com"}],
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "displayName": "Ada Lovelace",
            "active": false,
            "externalId": "ext-1",
            "meta": {"created": "2026-11-29T06:00:00Z", "lastModified": "2026-11-29T07:00:00Z"}
        })
    );
}

#[test]
fn scim_users_write_as_platform_bodies_with_lowercased_email() {
    let m = demo();
    let users = m.users.as_ref().expect("users");
    let scim = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "Ada@Example.COM",
        "emails": [{"type": "work", "value": "ADA@example.com", "primary": true}],
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "active": true
    });
    let body = to_platform(users, &scim, Purpose::Create).expect("body");
    assert_eq!(
        body,
        json!({"username": "Ada@Example.COM", "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "status": "active"})
    );
}

/// A mapping where userName and the work e-mail share one platform field (an e-mail-only platform).
fn alias_mapping() -> Mapping {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let text = r#"
[platform]
base_url = "http://127.0.0.1:1"
[users]
id_type = "integer"
[users.read]
path = "/u/{id}"
[[users.attributes]]
scim = "userName"
field = "email"
lowercase = true
required = true
[[users.attributes]]
scim = 'emails[type eq "work"].value'
field = "email"
lowercase = true
[[users.attributes]]
scim = "name.givenName"
field = "first"
"#;
    let path = dir.path().join("m.toml");
    std::fs::write(&path, text).expect("write");
    compile::load(&path, &|_| None, None).unwrap_or_else(|e| panic!("alias mapping: {e:?}"))
}

#[test]
fn differing_values_for_one_field_are_refused_naming_both() {
    let m = alias_mapping();
    let users = m.users.as_ref().expect("users");
    let scim = json!({"userName": "a@x.com", "emails": [{"type": "work", "value": "b@x.com"}]});
    let e = to_platform(users, &scim, Purpose::Create).expect_err("conflict");
    assert!(
        e.detail.contains("userName") && e.detail.contains("emails[type eq \"work\"].value"),
        "{}",
        e.detail
    );
    assert!(e.detail.contains("`email`"), "{}", e.detail);
    let agree = json!({"userName": "A@x.com", "emails": [{"type": "work", "value": "a@X.com"}]});
    assert_eq!(
        to_platform(users, &agree, Purpose::Create).expect("agree"),
        json!({"email": "a@x.com"})
    );
}

#[test]
fn in_a_diff_the_changed_alias_wins() {
    let m = alias_mapping();
    let users = m.users.as_ref().expect("users");
    let old = to_scim(users, &json!({"id": 1, "email": "a@x.com", "first": "A"}))
        .expect("reads")
        .scim;
    assert_eq!(old["userName"], "a@x.com");
    assert_eq!(old["emails"][0]["value"], "a@x.com");
    let mut new = old.clone();
    new["emails"][0]["value"] = json!("New@x.com");
    assert_eq!(
        Value::Object(diff(users, &old, &new).expect("diff")),
        json!({"email": "new@x.com"})
    );
    new["userName"] = json!("other@x.com");
    assert!(
        diff(users, &old, &new).is_err(),
        "both changed, differently"
    );
}

#[test]
fn an_alias_is_not_published() {
    let m = alias_mapping();
    let users = m.users.as_ref().expect("users");
    let names: Vec<&str> = users
        .published
        .core
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, ["userName", "name"]);
    assert!(users.published.core.attributes[0].required);
}

#[test]
fn values_outside_a_value_map_are_refused() {
    let m = demo();
    let users = m.users.as_ref().expect("users");
    let active = users
        .attributes
        .iter()
        .find(|a| a.scim == "active")
        .expect("active");
    assert_eq!(
        to_platform_value(active, &json!(false)),
        Ok(json!("disabled"))
    );
    assert!(to_platform_value(active, &json!("maybe")).is_err());
    assert_eq!(to_scim_value(active, json!("active")), Some(json!(true)));
    assert_eq!(to_scim_value(active, json!("suspended")), None);
}

#[test]
fn unmapped_attributes_are_listed() {
    let m = demo();
    let users = m.users.as_ref().expect("users");
    let scim = json!({
        "userName": "a@x.com",
        "name": {"givenName": "A", "middleName": "M"},
        "emails": [{"type": "work", "value": "a@x.com", "primary": true}, {"type": "home", "value": "h@x.com"}],
        "phoneNumbers": [{"type": "work", "value": "1"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}
    });
    let u = uncovered(users, &scim);
    assert_eq!(
        u,
        vec![
            "name.middleName".to_owned(),
            "emails[type eq \"home\"]".to_owned(),
            "phoneNumbers".to_owned(),
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department".to_owned(),
        ]
    );
}

#[test]
fn ids_are_checked_against_the_platform_id_type() {
    use crate::mapping::model::IdType;
    assert_eq!(
        parse_id(IdType::Integer, "17").map(|p| p.json),
        Some(json!(17))
    );
    for bad in [
        "",
        "../admin",
        "1%2F2",
        "1/2",
        "-1",
        "17a",
        "007",
        "00",
        "99999999999999999999",
    ] {
        assert!(parse_id(IdType::Integer, bad).is_none(), "{bad}");
    }
    assert_eq!(
        parse_id(IdType::Integer, "0").map(|p| p.text),
        Some("0".to_owned())
    );
    assert!(parse_id(IdType::String, "..").is_none());
    assert_eq!(
        parse_id(IdType::String, "a/b").map(|p| p.text),
        Some("a/b".to_owned())
    );
}

#[test]
fn a_missing_required_value_is_a_400_that_says_how_to_fix_it() {
    let m = demo();
    let users = m.users.as_ref().expect("users");
    let e = to_platform(
        users,
        &json!({"userName": "ada", "name": {"givenName": "Ada"}}),
        Purpose::Create,
    )
    .expect_err("no email");
    assert_eq!(e.status, 400);
    assert!(
        e.detail
            .contains("emails[type eq \"work\"].value is required by the platform"),
        "{}",
        e.detail
    );
    // defaults apply on create
    let body = to_platform(
        users,
        &json!({"userName": "a", "emails": [{"type": "work", "value": "a@x.com"}]}),
        Purpose::Create,
    )
    .expect("ok");
    assert_eq!(body["status"], "active");
}

#[test]
fn diff_sends_only_changed_fields_and_clears_with_the_mappings_clear_value() {
    let m = demo();
    let users = m.users.as_ref().expect("users");
    let old = to_scim(users, &platform_user()).expect("converts").scim;
    let mut new = old.clone();
    new["emails"][0]["value"] = json!("New@Example.com");
    new["active"] = json!(true);
    let d = diff(users, &old, &new).expect("diff");
    assert_eq!(
        Value::Object(d),
        json!({"email": "new@example.com", "status": "active"})
    );
    assert!(diff(users, &old, &old).expect("no change").is_empty());
    let mut cleared = old.clone();
    cleared["name"]
        .as_object_mut()
        .expect("name")
        .remove("givenName");
    assert_eq!(
        Value::Object(diff(users, &old, &cleared).expect("clear")),
        json!({"first_name": ""})
    );
    let mut no_email = old.clone();
    no_email.as_object_mut().expect("obj").remove("emails");
    let e = diff(users, &old, &no_email).expect_err("required");
    assert!(e.detail.contains("cannot be removed"), "{}", e.detail);
}

/// The Keycloak worked mapping (tests/fixtures/mappings/keycloak.toml): array-valued attributes
/// and a lowercased copy of userName.
fn keycloak() -> Mapping {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let path = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mappings/keycloak.toml"
    ));
    compile::load(path, &|_| Some("t".to_owned()), None)
        .unwrap_or_else(|e| panic!("the Keycloak mapping must compile: {e:?}"))
}

const DEPARTMENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[test]
fn array_fields_are_written_wrapped_and_read_unwrapped_and_copies_written_not_read() {
    let m = keycloak();
    let users = m.users.as_ref().expect("users");
    let scim = json!({"userName": "Ada.L", DEPARTMENT: {"department": "Sales"}});
    let body = to_platform(users, &scim, Purpose::Create).expect("body");
    assert_eq!(
        body,
        json!({"username": "ada.l", "attributes": {"display_login": ["Ada.L"], "department": ["Sales"]}})
    );
    // Read: the first element; the copy (`username`) is not read, the first entry is.
    let platform = json!({"id": "u1", "username": "someone-else",
        "attributes": {"display_login": ["Ada.L", "ignored"], "department": [null, "Ops"]}});
    let c = to_scim(users, &platform).expect("reads");
    assert_eq!(c.scim["userName"], "Ada.L");
    assert_eq!(
        c.scim[DEPARTMENT]["department"], "Ops",
        "the first present element"
    );
    // A platform holding a bare value is read as is.
    let bare = json!({"id": "u1", "attributes": {"department": "Legal"}});
    assert_eq!(
        to_scim(users, &bare).expect("reads").scim[DEPARTMENT]["department"],
        "Legal"
    );
}

#[test]
fn a_partial_update_rewrites_both_copies_and_clears_an_array_with_an_empty_one() {
    let m = keycloak();
    let users = m.users.as_ref().expect("users");
    let old = json!({"userName": "Ada", DEPARTMENT: {"department": "Sales"}});
    let new = json!({"userName": "Bea"});
    let d = diff(users, &old, &new).expect("diff");
    assert_eq!(
        Value::Object(d),
        json!({"username": "bea", "attributes": {"display_login": ["Bea"], "department": []}})
    );
    let same = diff(users, &old, &old).expect("diff");
    assert!(
        same.is_empty(),
        "nothing changed, nothing written: {same:?}"
    );
}

#[test]
fn a_copy_is_not_published_twice() {
    let m = keycloak();
    let users = m.users.as_ref().expect("users");
    let published = users.published.core.to_json("/Schemas/x");
    let names: Vec<&str> = published["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(
        names.iter().filter(|n| **n == "userName").count(),
        1,
        "{names:?}"
    );
}

#[test]
fn a_replace_overlay_keeps_unmapped_fields_and_drops_omitted_mapped_ones() {
    let m = demo();
    let users = m.users.as_ref().expect("users");
    let mut read = platform_user();
    read["phone"] = json!("+1 555 0100");
    read["profile"] = json!({"department": "Sales", "costCenter": "42"});
    // The client's PUT names the user, its e-mail and status, and leaves out the display name.
    let scim = json!({"userName": "ada@example.com", "emails": [{"type": "work", "value": "ada@example.com"}],
                      "name": {"givenName": "Augusta"}, "active": true});
    let body = to_platform(users, &scim, Purpose::Replace).expect("body");
    let out = overlay(users, &read, body);
    assert_eq!(out["phone"], json!("+1 555 0100"), "unmapped field kept");
    assert_eq!(
        out["profile"],
        json!({"department": "Sales", "costCenter": "42"})
    );
    assert_eq!(out["id"], json!(17), "unmapped platform id kept");
    assert_eq!(out["first_name"], json!("Augusta"), "mapped field overlaid");
    assert_eq!(out["status"], json!("active"));
    assert!(
        out.get("display_name").is_none() && out.get("last_name").is_none(),
        "mapped fields the PUT left out are cleared as before: {out}"
    );
}
