use super::*;
use crate::scim::error::ScimType;
use crate::scim::testdata::{babs, babs_enterprise, group, group_schema, user_schema};
use serde_json::json;

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn create(body: &Value) -> Result<Validated, ScimError> {
    validate(
        body,
        &user_schema(),
        Mode::Create,
        UnknownAttributes::Reject,
        None,
    )
}

fn create_err(body: Value, scim_type: ScimType) -> ScimError {
    let e = create(&body).expect_err(&body.to_string());
    assert_eq!(e.status, 400);
    assert_eq!(e.scim_type, Some(scim_type), "{body}: {}", e.detail);
    e
}

#[test]
fn the_rfc_user_validates_and_read_only_attributes_are_dropped() {
    let v = create(&babs_enterprise()).expect("valid");
    let mut expected = babs_enterprise();
    let o = expected.as_object_mut().expect("object");
    for k in ["id", "meta", "groups"] {
        o.shift_remove(k);
    }
    o[ENTERPRISE]
        .as_object_mut()
        .and_then(|e| e.get_mut("manager"))
        .and_then(Value::as_object_mut)
        .map(|m| m.shift_remove("displayName"));
    assert_eq!(v.resource, expected);
    assert!(v.ignored.is_empty());
    let keys: Vec<&String> = v.resource.as_object().expect("o").keys().collect();
    assert_eq!(keys[0], "schemas");
}

#[test]
fn keys_are_canonicalised_and_nulls_dropped() {
    let v = create(&json!({
        "SCHEMAS": [CORE],
        "USERNAME": "bjensen",
        "name": {"GIVENNAME": "Barbara", "familyName": null},
        "nickName": null,
        "emails": [],
        "Active": true
    }))
    .expect("valid");
    assert_eq!(
        v.resource,
        json!({"schemas": [CORE], "userName": "bjensen", "name": {"givenName": "Barbara"}, "active": true})
    );
}

#[test]
fn schemas_must_list_the_core_schema() {
    for body in [
        json!({"userName": "x"}),
        json!({"schemas": CORE, "userName": "x"}),
        json!({"schemas": [ENTERPRISE], "userName": "x"}),
        json!({"schemas": [CORE, 5], "userName": "x"}),
    ] {
        let e = create_err(body, ScimType::InvalidSyntax);
        assert!(
            e.detail.starts_with(&format!("\"schemas\" must be an array of schema URNs containing \"{CORE}\" (the User schema), found ")),
            "{}",
            e.detail
        );
    }
    let e = create_err(json!([1]), ScimType::InvalidSyntax);
    assert_eq!(
        e.detail,
        "a User resource must be a JSON object, found an array"
    );
    let e = create_err(
        json!({"schemas": [CORE, "urn:x:y"], "userName": "x"}),
        ScimType::InvalidValue,
    );
    assert!(
        e.detail.contains("unknown schema 'urn:x:y'"),
        "{}",
        e.detail
    );
}

#[test]
fn extension_objects_must_belong_to_the_resource_type() {
    let e = validate(
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", ENTERPRISE], "displayName": "g", ENTERPRISE: {"department": "x"}}),
        &group_schema(),
        Mode::Create,
        UnknownAttributes::Reject,
        None,
    )
    .expect_err("enterprise is a User extension");
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    let e = create_err(
        json!({"schemas": [CORE], "userName": "x", ENTERPRISE: "x"}),
        ScimType::InvalidValue,
    );
    assert!(e.detail.contains("must be an object"), "{}", e.detail);
    let v = create(&json!({"schemas": [CORE], "userName": "x", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "D"}})).expect("valid");
    assert_eq!(
        v.resource,
        json!({"schemas": [CORE, ENTERPRISE], "userName": "x", ENTERPRISE: {"department": "D"}}),
        "the URN is listed once the extension is present"
    );
    let v = create(&json!({"schemas": [CORE, ENTERPRISE], "userName": "x", ENTERPRISE: {"manager": {"displayName": "readOnly"}}})).expect("valid");
    assert_eq!(
        v.resource,
        json!({"schemas": [CORE], "userName": "x"}),
        "an extension left empty is not listed"
    );
}

#[test]
fn values_are_type_checked() {
    for (body, fragment) in [
        (
            json!({"active": "true"}),
            "attribute 'active' must be a boolean (true or false), found the string \"true\"",
        ),
        (
            json!({"emails": {"value": "x"}}),
            "attribute 'emails' is multi-valued and must be an array",
        ),
        (
            json!({"emails": [{"value": 1}]}),
            "attribute 'emails.value' must be a string, found the number 1",
        ),
        (
            json!({"name": "Babs"}),
            "attribute 'name' must be an object of sub-attributes, found a string",
        ),
        (
            json!({"x509Certificates": [{"value": "###"}]}),
            "must be a base64-encoded string",
        ),
        (
            json!({ENTERPRISE: {"manager": "id"}}),
            "attribute 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager' must be an object",
        ),
        (
            json!({"userName": ["a"]}),
            "attribute 'userName' must be a string, found an array",
        ),
    ] {
        let mut b = json!({"schemas": [CORE, ENTERPRISE], "userName": "x"});
        for (k, v) in body.as_object().expect("o") {
            b[k] = v.clone();
        }
        let e = create_err(b, ScimType::InvalidValue);
        assert!(e.detail.contains(fragment), "{}", e.detail);
    }
}

#[test]
fn required_attributes_must_be_present() {
    let e = create_err(
        json!({"schemas": [CORE], "displayName": "x"}),
        ScimType::InvalidValue,
    );
    assert_eq!(e.detail, "attribute 'userName' is required");
    let e = create_err(
        json!({"schemas": [CORE], "userName": null}),
        ScimType::InvalidValue,
    );
    assert_eq!(e.detail, "attribute 'userName' is required");
    let e = validate(
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"]}),
        &group_schema(),
        Mode::Create,
        UnknownAttributes::Reject,
        None,
    )
    .expect_err("displayName");
    assert_eq!(e.detail, "attribute 'displayName' is required");
}

#[test]
fn required_extensions_and_sub_attributes_are_enforced() {
    let mut schema = (*user_schema()).clone();
    schema.extensions[0].required = true;
    let mut ext = (*schema.extensions[0].schema).clone();
    for a in &mut ext.attributes {
        if a.name == "manager" {
            for s in &mut a.sub_attributes {
                if s.name == "value" {
                    s.required = true;
                }
            }
        }
    }
    schema.extensions[0].schema = std::sync::Arc::new(ext);
    let e = validate(
        &json!({"schemas": [CORE], "userName": "x"}),
        &schema,
        Mode::Create,
        UnknownAttributes::Reject,
        None,
    )
    .expect_err("required extension");
    assert!(
        e.detail
            .contains(&format!("extension '{ENTERPRISE}' is required")),
        "{}",
        e.detail
    );
    let e = validate(&json!({"schemas": [CORE, ENTERPRISE], "userName": "x", ENTERPRISE: {"manager": {"$ref": "../Users/1"}}}), &schema, Mode::Create, UnknownAttributes::Reject, None)
        .expect_err("required sub");
    assert_eq!(
        e.detail,
        format!("attribute '{ENTERPRISE}:manager.value' is required")
    );
}

#[test]
fn unknown_attributes_are_rejected_or_ignored_and_listed() {
    let body = json!({
        "schemas": [CORE, ENTERPRISE, "urn:example:custom"],
        "userName": "x",
        "phoneNumberz": [],
        "name": {"givenName": "B", "nickname": "b"},
        "emails": [{"value": "a", "label": 1}, {"value": "b", "LABEL": 2}],
        ENTERPRISE: {"departmentCode": "7", "department": "D"},
        "urn:example:custom": {"x": 1}
    });
    let e = create(&body).expect_err("unknown");
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(e.detail.contains("'urn:example:custom'"), "{}", e.detail);
    let v = validate(
        &body,
        &user_schema(),
        Mode::Create,
        UnknownAttributes::Ignore,
        None,
    )
    .expect("ignored");
    let expected: Vec<String> = vec![
        "urn:example:custom".to_owned(),
        "phoneNumberz".to_owned(),
        "name.nickname".to_owned(),
        "emails.label".to_owned(),
        format!("{ENTERPRISE}:departmentCode"),
    ];
    assert_eq!(v.ignored, expected, "each unknown path once, in body order");
    assert_eq!(
        v.resource,
        json!({"schemas": [CORE, ENTERPRISE], "userName": "x", "name": {"givenName": "B"}, "emails": [{"value": "a"}, {"value": "b"}], ENTERPRISE: {"department": "D"}})
    );
    let e = create_err(
        json!({"schemas": [CORE], "userName": "x", "name": {"nickname": "b"}}),
        ScimType::InvalidValue,
    );
    assert_eq!(
        e.detail,
        "unknown sub-attribute 'name.nickname': the resource type's schemas do not define it"
    );
}

#[test]
fn duplicate_keys_differing_in_case_are_rejected() {
    let body: Value = serde_json::from_str(&format!(
        r#"{{"schemas":["{CORE}"],"userName":"a","USERNAME":"b"}}"#
    ))
    .expect("json");
    let e = create_err(body, ScimType::InvalidSyntax);
    assert!(
        e.detail.contains("'userName' is given more than once"),
        "{}",
        e.detail
    );
}

#[test]
fn more_than_one_primary_is_invalid() {
    let e = create_err(
        json!({"schemas": [CORE], "userName": "x", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}),
        ScimType::InvalidValue,
    );
    assert!(
        e.detail
            .contains("'emails' has 2 values with \"primary\": true"),
        "{}",
        e.detail
    );
    assert!(create(&json!({"schemas": [CORE], "userName": "x", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": false}]})).is_ok());
}

#[test]
fn replace_keeps_immutable_values() {
    let schema = group_schema();
    let existing = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g1",
        "displayName": "Tour Guides",
        "members": [{"value": "u1", "type": "User"}]
    });
    // members' sub-attributes are immutable, but elements have no identity across PUTs
    let v = validate(
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Guides", "members": [{"value": "u2"}]}),
        &schema,
        Mode::Replace,
        UnknownAttributes::Reject,
        Some(&existing),
    )
    .expect("membership may change");
    assert_eq!(v.resource["members"], json!([{"value": "u2"}]));

    // an immutable top-level attribute (a custom one) must keep its value
    let mut core = crate::scim::schema::user_schema();
    core.attributes.push(
        Attribute::new("employeeId", crate::scim::schema::AttrType::String)
            .mutability(Mutability::Immutable),
    );
    let mut s = (*user_schema()).clone();
    s.core = std::sync::Arc::new(core);
    let old = json!({"schemas": [CORE], "id": "1", "userName": "u", "employeeId": "E1"});
    let e = validate(
        &json!({"schemas": [CORE], "userName": "u", "employeeId": "E2"}),
        &s,
        Mode::Replace,
        UnknownAttributes::Reject,
        Some(&old),
    )
    .expect_err("changed");
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    assert_eq!(
        e.detail,
        "attribute 'employeeId' is immutable and already has a value"
    );
    let kept = validate(
        &json!({"schemas": [CORE], "userName": "u2"}),
        &s,
        Mode::Replace,
        UnknownAttributes::Reject,
        Some(&old),
    )
    .expect("omitted");
    assert_eq!(
        kept.resource,
        json!({"schemas": [CORE], "userName": "u2", "employeeId": "E1"})
    );
    let same = validate(
        &json!({"schemas": [CORE], "userName": "u", "employeeId": "E1"}),
        &s,
        Mode::Replace,
        UnknownAttributes::Reject,
        Some(&old),
    )
    .expect("same");
    assert_eq!(same.resource["employeeId"], "E1");
    let created = validate(
        &json!({"schemas": [CORE], "userName": "u", "employeeId": "E9"}),
        &s,
        Mode::Create,
        UnknownAttributes::Reject,
        Some(&old),
    )
    .expect("create ignores existing");
    assert_eq!(created.resource["employeeId"], "E9");
}

#[test]
fn replace_keeps_immutable_sub_attributes_of_single_complex_values() {
    let mut ext = crate::scim::schema::enterprise_user_schema();
    for a in &mut ext.attributes {
        if a.name == "manager" {
            for s in &mut a.sub_attributes {
                if s.name == "value" {
                    s.mutability = Mutability::Immutable;
                }
            }
        }
    }
    let mut s = (*user_schema()).clone();
    s.extensions[0].schema = std::sync::Arc::new(ext);
    let old = babs_enterprise();
    let body = |manager: Value| {
        let mut b = babs_enterprise();
        b[ENTERPRISE]["manager"] = manager;
        b
    };
    let e = validate(
        &body(json!({"value": "other"})),
        &s,
        Mode::Replace,
        UnknownAttributes::Reject,
        Some(&old),
    )
    .expect_err("changed");
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    let v = validate(
        &body(json!({"$ref": "../Users/x"})),
        &s,
        Mode::Replace,
        UnknownAttributes::Reject,
        Some(&old),
    )
    .expect("kept");
    assert_eq!(
        v.resource[ENTERPRISE]["manager"],
        json!({"$ref": "../Users/x", "value": "26118915-6090-4610-87a4-5a46bd3d4428"})
    );
}

#[test]
fn groups_validate_with_read_only_member_display_ignored() {
    let v = validate(
        &group(),
        &group_schema(),
        Mode::Create,
        UnknownAttributes::Reject,
        None,
    )
    .expect("group");
    assert_eq!(
        v.resource,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Tour Guides",
            "members": [{"value": "902c246b-6245-4190-8e05-00816be7344a", "$ref": "https://example.com/v2/Users/902c246b-6245-4190-8e05-00816be7344a"}]
        })
    );
    assert!(create(&babs()).is_ok());
}
