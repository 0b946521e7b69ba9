use super::*;
use crate::scim::error::ScimType;
use crate::scim::testdata::{babs, babs_enterprise, user_schema};
use serde_json::json;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn list(s: &str) -> Vec<AttrPath> {
    parse_attribute_list(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn attribute_lists_split_on_commas_and_ignore_blanks() {
    assert_eq!(
        list(" userName , name.givenName,,emails.value ,"),
        vec![
            AttrPath::new("userName"),
            AttrPath::parse("name.givenName").expect("p"),
            AttrPath::parse("emails.value").expect("p"),
        ]
    );
    assert!(list("").is_empty());
    assert!(list(" , ").is_empty());
    let e = parse_attribute_list("userName, 9bad").expect_err("bad name");
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(
        e.detail.contains("\"9bad\" is not a valid attribute name"),
        "{}",
        e.detail
    );
}

#[test]
fn attributes_and_excluded_attributes_are_mutually_exclusive() {
    let e = parse_projection(Some("userName"), Some("emails")).expect_err("both");
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(e.detail.contains("RFC 7644 §3.9"));
    let (a, x) = parse_projection(Some("userName"), Some(" ")).expect("empty exclusion is none");
    assert_eq!((a.len(), x.len()), (1, 0));
    assert_eq!(
        parse_projection(None, None).expect("none"),
        (vec![], vec![])
    );
}

#[test]
fn default_projection_drops_never_returned_attributes() {
    let out = project(&babs(), &user_schema(), &[], &[]);
    let mut expected = babs();
    expected
        .as_object_mut()
        .expect("o")
        .shift_remove("password");
    assert_eq!(out, expected);
}

#[test]
fn attributes_returns_the_minimum_set_plus_what_is_asked() {
    let out = project(
        &babs(),
        &user_schema(),
        &list("userName,name.givenName,emails.value"),
        &[],
    );
    assert_eq!(
        out,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara"},
            "emails": [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}]
        })
    );
    let out = project(&babs(), &user_schema(), &list("USERNAME,Meta"), &[]);
    assert_eq!(keys(&out), ["schemas", "id", "userName", "meta"]);
    let out = project(&babs(), &user_schema(), &list("password,displayName"), &[]);
    assert_eq!(
        keys(&out),
        ["schemas", "id", "displayName"],
        "never is never returned"
    );
}

#[test]
fn excluded_attributes_remove_from_the_default_set_but_not_always_returned_ones() {
    let out = project(
        &babs(),
        &user_schema(),
        &[],
        &list("emails,name.givenName,id,schemas,meta.location"),
    );
    assert!(out.get("emails").is_none());
    assert_eq!(out["id"], babs()["id"]);
    assert_eq!(out["schemas"], babs()["schemas"]);
    assert!(out["name"].get("givenName").is_none());
    assert_eq!(out["name"]["familyName"], "Jensen");
    assert!(out["meta"].get("location").is_none());
    assert_eq!(out["meta"]["version"], babs()["meta"]["version"]);
    assert!(out.get("password").is_none());
}

#[test]
fn extension_attributes_by_qualified_name_or_whole_urn() {
    let u = babs_enterprise();
    let out = project(
        &u,
        &user_schema(),
        &list(&format!("{ENTERPRISE}:employeeNumber")),
        &[],
    );
    assert_eq!(out[ENTERPRISE], json!({"employeeNumber": "701984"}));
    assert!(out.get("userName").is_none());

    let out = project(&u, &user_schema(), &list(ENTERPRISE), &[]);
    assert_eq!(out[ENTERPRISE], u[ENTERPRISE]);

    let out = project(
        &u,
        &user_schema(),
        &list(&format!("{ENTERPRISE}:manager.value")),
        &[],
    );
    assert_eq!(
        out[ENTERPRISE],
        json!({"manager": {"value": "26118915-6090-4610-87a4-5a46bd3d4428"}})
    );

    let out = project(&u, &user_schema(), &[], &list(ENTERPRISE));
    assert!(out.get(ENTERPRISE).is_none());
    assert_eq!(out["userName"], u["userName"]);

    let out = project(
        &u,
        &user_schema(),
        &[],
        &list(&format!("{ENTERPRISE}:manager,{ENTERPRISE}:costCenter")),
    );
    let ext = out[ENTERPRISE].as_object().expect("ext");
    assert!(!ext.contains_key("manager") && !ext.contains_key("costCenter"));
    assert_eq!(ext.len(), 4);

    let lower = list(&ENTERPRISE.to_lowercase());
    assert_eq!(
        project(&u, &user_schema(), &lower, &[])[ENTERPRISE],
        u[ENTERPRISE],
        "case-insensitive URN"
    );
}

#[test]
fn both_lists_select_then_exclude() {
    let out = project(
        &babs(),
        &user_schema(),
        &list("name,emails"),
        &list("name.givenName,emails.type"),
    );
    assert!(out["name"].get("givenName").is_none());
    assert_eq!(out["name"]["familyName"], "Jensen");
    assert_eq!(
        out["emails"][0],
        json!({"value": "bjensen@example.com", "primary": true})
    );
    assert!(out.get("userName").is_none());
}

#[test]
fn returned_request_attributes_appear_only_when_named() {
    let mut core = crate::scim::schema::user_schema();
    core.attributes.push(
        crate::scim::schema::Attribute::new("secretHint", crate::scim::schema::AttrType::String)
            .returned(Returned::Request),
    );
    let schema = ResourceSchema {
        resource_type: "User".into(),
        core: std::sync::Arc::new(core),
        extensions: Vec::new(),
    };
    let r = json!({"id": "1", "userName": "u", "secretHint": "h", "unknownThing": 1});
    let default = project(&r, &schema, &[], &[]);
    assert_eq!(
        default,
        json!({"id": "1", "userName": "u", "unknownThing": 1})
    );
    let asked = project(&r, &schema, &list("secretHint"), &[]);
    assert_eq!(asked, json!({"id": "1", "secretHint": "h"}));
    let excluded = project(&r, &schema, &[], &list("unknownThing,userName"));
    assert_eq!(
        excluded,
        json!({"id": "1", "unknownThing": 1}),
        "names the schema lacks are ignored"
    );
}

#[test]
fn non_objects_and_odd_shapes_do_not_panic() {
    for r in [
        json!(null),
        json!([1]),
        json!({"emails": "x", "name": 3, ENTERPRISE: 1}),
    ] {
        let a = project(
            &r,
            &user_schema(),
            &list("emails.value,name.givenName"),
            &[],
        );
        let b = project(&r, &user_schema(), &[], &list("emails.value"));
        for out in [a, b] {
            match (&r, &out) {
                // An odd-shaped member is kept or dropped as it is, never reshaped or invented.
                (Value::Object(given), Value::Object(kept)) => assert!(
                    kept.iter().all(|(k, v)| given.get(k) == Some(v)),
                    "{r} projected to {out}"
                ),
                _ => assert_eq!(out, r, "a non-object comes back unchanged"),
            }
        }
    }
}
