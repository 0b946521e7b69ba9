use super::*;
use crate::scim::error::{ScimError, ScimType};
use crate::scim::schema::{AttrType, Attribute, PATCH_OP_URN, ResourceSchema};
use crate::scim::testdata::{babs, babs_enterprise, group, group_schema, user_schema};
use serde_json::Value;
use serde_json::json;

const BABS_ID: &str = "2819c223-7f76-453a-919d-413861904646";
const JAMES_ID: &str = "08e1d05d-121c-4561-8b96-473d93df9210";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP_URN], "Operations": ops})
}

fn run(resource: &Value, schema: &ResourceSchema, ops: Value) -> Result<Value, ScimError> {
    let ops = parse_request(&body(ops))?;
    apply(resource, &ops, schema, &PatchOptions::default())
}

fn user_ok(resource: &Value, ops: Value) -> Value {
    run(resource, &user_schema(), ops.clone()).unwrap_or_else(|e| panic!("{ops}: {e}"))
}

fn group_ok(resource: &Value, ops: Value) -> Value {
    run(resource, &group_schema(), ops.clone()).unwrap_or_else(|e| panic!("{ops}: {e}"))
}

fn user_err(resource: &Value, ops: Value, scim_type: ScimType) -> ScimError {
    let e = run(resource, &user_schema(), ops.clone()).expect_err(&ops.to_string());
    assert_eq!(e.status, 400, "{ops}");
    assert_eq!(e.scim_type, Some(scim_type), "{ops}: {}", e.detail);
    e
}

fn member(id: &str, name: &str) -> Value {
    json!({"display": name, "$ref": format!("https://example.com/v2/Users/{id}"), "value": id})
}

/// A member as stored: `display` is readOnly in the Group schema, so PATCH ignores it.
fn stored_member(id: &str) -> Value {
    json!({"$ref": format!("https://example.com/v2/Users/{id}"), "value": id})
}

fn with(mut v: Value, key: &str, x: Value) -> Value {
    v[key] = x;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.shift_remove(key);
    }
    v
}

// --- RFC 7644 §3.5.2.1 add ------------------------------------------------------------------

#[test]
fn rfc_add_member_to_group_appends_it() {
    let result = group_ok(
        &group(),
        json!([{"op": "add", "path": "members", "value": [member(BABS_ID, "Babs Jensen")]}]),
    );
    let mut expected = group();
    expected["members"] = json!([group()["members"][0], stored_member(BABS_ID)]);
    assert_eq!(result, expected);
}

#[test]
fn rfc_add_without_path_adds_an_email_and_sets_nickname() {
    let start = without(
        with(babs(), "emails", json!([babs()["emails"][0]])),
        "nickName",
    );
    let result = user_ok(
        &start,
        json!([{"op": "add", "value": {
            "emails": [{"value": "babs@jensen.org", "type": "home"}],
            "nickname": "Babs"
        }}]),
    );
    let mut expected = start.clone();
    expected["emails"] = babs()["emails"].clone();
    expected["nickName"] = json!("Babs");
    assert_eq!(result, expected);
    assert!(
        result.get("nickname").is_none(),
        "written in the schema's spelling"
    );
}

#[test]
fn rfc_add_of_a_value_already_present_changes_nothing() {
    let result = user_ok(
        &babs(),
        json!([{"op": "add", "value": {
            "emails": [{"value": "babs@jensen.org", "type": "home"}],
            "nickname": "Babs"
        }}]),
    );
    assert_eq!(result, babs());
}

// --- RFC 7644 §3.5.2.2 remove ---------------------------------------------------------------

fn group_with(members: &[Value]) -> Value {
    with(group(), "members", Value::Array(members.to_vec()))
}

#[test]
fn rfc_remove_a_single_member() {
    let start = group_with(&[group()["members"][0].clone(), stored_member(BABS_ID)]);
    let result = group_ok(
        &start,
        json!([{"op": "remove", "path": format!("members[value eq \"{BABS_ID}\"]")}]),
    );
    assert_eq!(result, group());
}

#[test]
fn rfc_remove_all_members() {
    let start = group_with(&[group()["members"][0].clone(), stored_member(BABS_ID)]);
    let result = group_ok(&start, json!([{"op": "remove", "path": "members"}]));
    assert_eq!(result, without(group(), "members"));
}

#[test]
fn rfc_remove_a_value_of_a_complex_multi_valued_attribute() {
    let result = user_ok(
        &babs(),
        json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
    );
    assert_eq!(
        result,
        with(
            babs(),
            "emails",
            json!([{"value": "babs@jensen.org", "type": "home"}])
        )
    );
}

#[test]
fn rfc_replace_all_members_with_remove_then_add() {
    let result = group_ok(
        &group(),
        json!([
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [
                member(BABS_ID, "Babs Jensen"),
                member(JAMES_ID, "James Smith")
            ]}
        ]),
    );
    assert_eq!(
        result,
        group_with(&[stored_member(BABS_ID), stored_member(JAMES_ID)])
    );
}

// --- RFC 7644 §3.5.2.3 replace --------------------------------------------------------------

#[test]
fn rfc_replace_all_members() {
    let result = group_ok(
        &group(),
        json!([{"op": "replace", "path": "members", "value": [
            member(BABS_ID, "Babs Jensen"),
            member(JAMES_ID, "James Smith")
        ]}]),
    );
    assert_eq!(
        result,
        group_with(&[stored_member(BABS_ID), stored_member(JAMES_ID)])
    );
}

#[test]
fn rfc_replace_the_work_address() {
    let new_address = json!({
        "type": "work",
        "streetAddress": "911 Universal City Plaza",
        "locality": "Hollywood",
        "region": "CA",
        "postalCode": "91608",
        "country": "US",
        "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
        "primary": true
    });
    let result = user_ok(
        &babs(),
        json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": new_address}]),
    );
    let mut expected = babs();
    expected["addresses"][0] = new_address;
    assert_eq!(result, expected);
}

#[test]
fn rfc_replace_one_sub_attribute_of_the_work_address() {
    let result = user_ok(
        &babs(),
        json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}]),
    );
    let mut expected = babs();
    expected["addresses"][0]["streetAddress"] = json!("1010 Broadway Ave");
    assert_eq!(result, expected);
}

#[test]
fn rfc_replace_without_path_replaces_emails_and_nickname() {
    let start = without(
        with(
            babs(),
            "emails",
            json!([{"value": "old@example.com", "type": "work"}]),
        ),
        "nickName",
    );
    let result = user_ok(
        &start,
        json!([{"op": "replace", "value": {
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "nickname": "Babs"
        }}]),
    );
    let mut expected = start;
    expected["emails"] = babs()["emails"].clone();
    expected["nickName"] = json!("Babs");
    assert_eq!(result, expected);
}

// --- further semantics ------------------------------------------------------------------------

#[test]
fn single_valued_add_and_replace_set_the_value() {
    let r = user_ok(
        &babs(),
        json!([{"op": "add", "path": "title", "value": "Boss"}]),
    );
    assert_eq!(r, with(babs(), "title", json!("Boss")));
    let r = user_ok(
        &babs(),
        json!([{"op": "replace", "path": "active", "value": false}]),
    );
    assert_eq!(r, with(babs(), "active", json!(false)));
    let r = user_ok(
        &babs(),
        json!([{"op": "replace", "path": "TITLE", "value": "Boss"}]),
    );
    assert_eq!(r, with(babs(), "title", json!("Boss")));
}

#[test]
fn complex_single_valued_add_and_replace_merge_sub_attributes() {
    for op in ["add", "replace"] {
        let r = user_ok(
            &babs(),
            json!([{"op": op, "path": "name", "value": {"givenName": "Babs", "MiddleName": null}}]),
        );
        let mut expected = babs();
        expected["name"]["givenName"] = json!("Babs");
        expected["name"]
            .as_object_mut()
            .expect("name")
            .shift_remove("middleName");
        assert_eq!(r, expected, "{op}");
    }
    let r = user_ok(
        &babs(),
        json!([{"op": "replace", "path": "name.familyName", "value": "Jensen-Smith"}]),
    );
    assert_eq!(r["name"]["familyName"], "Jensen-Smith");
    assert_eq!(r["name"]["givenName"], "Barbara");
    let r = user_ok(
        &without(babs(), "name"),
        json!([{"op": "add", "path": "name.givenName", "value": "B"}]),
    );
    assert_eq!(r["name"], json!({"givenName": "B"}));
}

#[test]
fn replace_with_null_and_remove_unassign() {
    let r = user_ok(
        &babs(),
        json!([{"op": "replace", "path": "title", "value": null}]),
    );
    assert_eq!(r, without(babs(), "title"));
    let r = user_ok(
        &babs(),
        json!([{"op": "remove", "path": "name.middleName"}]),
    );
    assert!(r["name"].get("middleName").is_none());
    let r = user_ok(
        &babs(),
        json!([{"op": "replace", "value": {"nickName": null, "title": "T"}}]),
    );
    assert_eq!(r, with(without(babs(), "nickName"), "title", json!("T")));
    let r = user_ok(&babs(), json!([{"op": "remove", "path": "emails"}]));
    assert_eq!(r, without(babs(), "emails"));
    let emptied = user_ok(
        &babs(),
        json!([{"op": "remove", "path": "ims[type eq \"aim\"]"}]),
    );
    assert!(
        emptied.get("ims").is_none(),
        "a multi-valued attribute left empty is removed"
    );
}

#[test]
fn removing_what_is_absent_succeeds_without_change() {
    for path in [
        "entitlements",
        "emails[type eq \"other\"]",
        "nickName",
        "name.honorificPrefix",
    ] {
        let start = without(babs(), "entitlements");
        let mut start = start;
        start["name"]
            .as_object_mut()
            .expect("name")
            .shift_remove("honorificPrefix");
        let r = user_ok(&start, json!([{"op": "remove", "path": path}]));
        if path == "nickName" {
            assert_eq!(r, without(start, "nickName"));
        } else {
            assert_eq!(r, start, "{path}");
        }
    }
}

#[test]
fn entra_add_through_an_unmatched_filter_creates_the_element() {
    let start = with(
        babs(),
        "emails",
        json!([{"value": "babs@jensen.org", "type": "home"}]),
    );
    let r = user_ok(
        &start,
        json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "bjensen@example.com"}]),
    );
    assert_eq!(
        r["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}, {"type": "work", "value": "bjensen@example.com"}])
    );
    let r = user_ok(
        &start,
        json!([{"op": "add", "path": "emails[type eq \"work\" and primary eq true]", "value": {"value": "w@example.com"}}]),
    );
    assert_eq!(
        r["emails"][1],
        json!({"type": "work", "primary": true, "value": "w@example.com"})
    );
}

#[test]
fn add_through_a_matched_filter_updates_the_matches() {
    let r = user_ok(
        &babs(),
        json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}]),
    );
    assert_eq!(
        r["emails"][0],
        json!({"value": "new@example.com", "type": "work", "primary": true})
    );
    let r = user_ok(
        &babs(),
        json!([{"op": "add", "path": "emails[type eq \"home\"]", "value": {"display": "Home"}}]),
    );
    assert_eq!(
        r["emails"][1],
        json!({"value": "babs@jensen.org", "type": "home", "display": "Home"})
    );
}

#[test]
fn replace_through_an_unmatched_filter_is_no_target_unless_upserting() {
    let ops = json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "o@example.com"}]);
    let e = user_err(&babs(), ops.clone(), ScimType::NoTarget);
    assert_eq!(
        e.detail,
        "Operations[0] (path 'emails[type eq \"other\"].value'): no value of 'emails' matches [type eq \"other\"] (RFC 7644 §3.5.2.3)"
    );
    let parsed = parse_request(&body(ops)).expect("parse");
    let opts = PatchOptions {
        upsert_filtered_replace: true,
    };
    let r = apply(&babs(), &parsed, &user_schema(), &opts).expect("upsert");
    assert_eq!(
        r["emails"][2],
        json!({"type": "other", "value": "o@example.com"})
    );
}

#[test]
fn add_through_an_unmatched_non_equality_filter_is_no_target() {
    let e = user_err(
        &babs(),
        json!([{"op": "add", "path": "emails[type co \"oth\"].value", "value": "x@example.com"}]),
        ScimType::NoTarget,
    );
    assert!(
        e.detail.contains("\"eq\" comparisons joined by \"and\""),
        "{}",
        e.detail
    );
    user_err(
        &babs(),
        json!([{"op": "add", "path": "emails[type eq \"a\" or type eq \"b\"].value", "value": "x@example.com"}]),
        ScimType::NoTarget,
    );
}

#[test]
fn setting_primary_clears_it_on_the_other_values() {
    let r = user_ok(
        &babs(),
        json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]),
    );
    assert_eq!(r["emails"][0]["primary"], false);
    assert_eq!(r["emails"][1]["primary"], true);
    let r = user_ok(
        &babs(),
        json!([{"op": "add", "path": "emails", "value": {"value": "n@example.com", "primary": true}}]),
    );
    assert_eq!(r["emails"][0]["primary"], false);
    assert_eq!(
        r["emails"][2],
        json!({"value": "n@example.com", "primary": true})
    );
    let e = user_err(
        &babs(),
        json!([{"op": "replace", "path": "emails", "value": [
            {"value": "a@x.org", "primary": true}, {"value": "b@x.org", "primary": true}
        ]}]),
        ScimType::InvalidValue,
    );
    assert!(
        e.detail.contains("more than one value of 'emails'"),
        "{}",
        e.detail
    );
}

#[test]
fn multi_valued_add_merges_an_existing_value_instead_of_duplicating() {
    let start = group_with(&[json!({"value": BABS_ID})]);
    let r = group_ok(
        &start,
        json!([{"op": "add", "path": "members", "value": [{"value": BABS_ID, "type": "User"}, {"value": JAMES_ID}]}]),
    );
    assert_eq!(
        r["members"],
        json!([{"value": BABS_ID, "type": "User"}, {"value": JAMES_ID}])
    );
    // a single value is accepted for a multi-valued attribute
    let r = group_ok(
        &start,
        json!([{"op": "add", "path": "members", "value": {"value": JAMES_ID}}]),
    );
    assert_eq!(
        r["members"],
        json!([{"value": BABS_ID}, {"value": JAMES_ID}])
    );
    // emails with the same value but another type are different values
    let r = user_ok(
        &babs(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "babs@jensen.org", "type": "other"}]}]),
    );
    assert_eq!(r["emails"].as_array().map(Vec::len), Some(3));
}

#[test]
fn extension_attributes_maintain_schemas() {
    let r = user_ok(
        &babs(),
        json!([{"op": "add", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "701984"}]),
    );
    assert_eq!(
        r["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE])
    );
    assert_eq!(r[ENTERPRISE], json!({"employeeNumber": "701984"}));
    let back = user_ok(
        &r,
        json!([{"op": "remove", "path": format!("{ENTERPRISE}:employeeNumber")}]),
    );
    assert_eq!(
        back,
        babs(),
        "removing the last extension attribute removes the object and URN"
    );

    let r = user_ok(
        &babs(),
        json!([{"op": "replace", "value": {
            ENTERPRISE: {"department": "Tours", "manager": {"value": "m1", "displayName": "ignored"}},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter": "4130"
        }}]),
    );
    assert_eq!(
        r[ENTERPRISE],
        json!({"department": "Tours", "manager": {"value": "m1"}, "costCenter": "4130"})
    );
    let r = user_ok(
        &babs_enterprise(),
        json!([{"op": "replace", "path": format!("{ENTERPRISE}:manager.value"), "value": "m2"}]),
    );
    assert_eq!(r[ENTERPRISE]["manager"]["value"], "m2");
    assert_eq!(r[ENTERPRISE]["manager"]["displayName"], "John Smith");
    let cleared = user_ok(
        &babs_enterprise(),
        json!([{"op": "replace", "value": {ENTERPRISE: null}}]),
    );
    assert_eq!(cleared, babs());
}

#[test]
fn keys_are_found_case_insensitively_and_rewritten_canonically() {
    let mut start = without(babs(), "nickName");
    start["NICKNAME"] = json!("old");
    let r = user_ok(
        &start,
        json!([{"op": "replace", "path": "nickName", "value": "Babs"}]),
    );
    assert!(r.get("NICKNAME").is_none());
    assert_eq!(r["nickName"], "Babs");
    let keys: Vec<&String> = r.as_object().expect("object").keys().collect();
    let start_keys: Vec<&String> = start.as_object().expect("object").keys().collect();
    let position = |ks: &[&String], k: &str| ks.iter().position(|x| x.eq_ignore_ascii_case(k));
    assert_eq!(
        position(&keys, "nickname"),
        position(&start_keys, "nickname"),
        "order kept"
    );
    let mut lower_ext = babs();
    lower_ext["urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"] =
        json!({"department": "x"});
    let r = user_ok(
        &lower_ext,
        json!([{"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "y"}]),
    );
    assert_eq!(r[ENTERPRISE], json!({"department": "y"}));
    assert!(
        r.get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user")
            .is_none()
    );
}

#[test]
fn patch_is_atomic() {
    let start = babs();
    let ops = parse_request(&body(json!([
        {"op": "replace", "path": "title", "value": "Boss"},
        {"op": "replace", "path": "id", "value": "x"}
    ])))
    .expect("parse");
    let e =
        apply(&start, &ops, &user_schema(), &PatchOptions::default()).expect_err("id is readOnly");
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    assert!(
        e.detail.starts_with("Operations[1] (path 'id'): "),
        "{}",
        e.detail
    );
    assert_eq!(start, babs());
}

// --- errors -----------------------------------------------------------------------------------

#[test]
fn mutability_errors() {
    let cases = [
        json!([{"op": "replace", "path": "id", "value": "other"}]),
        json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]),
        json!([{"op": "remove", "path": "meta"}]),
        json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
        json!([{"op": "remove", "path": "userName"}]),
        json!([{"op": "replace", "path": "userName", "value": null}]),
        json!([{"op": "replace", "value": {"id": "other", "title": "x"}}]),
        json!([{"op": "replace", "value": {"meta": {"created": "2020-01-01T00:00:00Z"}}}]),
        json!([{"op": "replace", "path": "schemas", "value": ["x"]}]),
        json!([{"op": "replace", "path": "groups[value eq \"x\"].display", "value": "y"}]),
    ];
    for ops in cases {
        user_err(&babs(), ops, ScimType::Mutability);
    }
    let e = user_err(
        &babs(),
        json!([{"op": "remove", "path": "userName"}]),
        ScimType::Mutability,
    );
    assert!(
        e.detail.contains("required and cannot be removed"),
        "{}",
        e.detail
    );
    // readOnly values equal to the current ones are tolerated in a path-less value
    let r = user_ok(
        &babs(),
        json!([{"op": "replace", "value": {"id": BABS_ID, "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "meta": {"resourceType": "User"}, "displayName": "B"}}]),
    );
    assert_eq!(r, with(babs(), "displayName", json!("B")));
}

#[test]
fn immutable_values_can_be_set_once() {
    let start = group_with(&[json!({"value": BABS_ID, "type": "User"})]);
    let e = run(
        &start,
        &group_schema(),
        json!([{"op": "replace", "path": format!("members[value eq \"{BABS_ID}\"].value"), "value": JAMES_ID}]),
    )
    .expect_err("immutable");
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    assert!(
        e.detail.contains("'members.value' is immutable"),
        "{}",
        e.detail
    );
    let e = run(
        &start,
        &group_schema(),
        json!([{"op": "replace", "path": format!("members[value eq \"{BABS_ID}\"]"), "value": {"value": BABS_ID, "type": "Group"}}]),
    )
    .expect_err("immutable type");
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    let ok = group_ok(
        &group_with(&[json!({"value": BABS_ID})]),
        json!([{"op": "add", "path": format!("members[value eq \"{BABS_ID}\"].type"), "value": "User"}]),
    );
    assert_eq!(ok["members"], json!([{"value": BABS_ID, "type": "User"}]));
    let e = run(
        &group(),
        &group_schema(),
        json!([{"op": "replace", "path": "members[display eq \"x\"].display", "value": "y"}]),
    )
    .expect_err("readOnly");
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
}

#[test]
fn invalid_path_errors() {
    for (path, fragment) in [
        ("foo", "unknown attribute 'foo'"),
        (
            "emails.foo",
            "attribute 'emails' has no sub-attribute 'foo'",
        ),
        ("userName[value eq \"x\"]", "single-valued"),
        (
            "emails[foo eq \"x\"]",
            "attribute 'emails' has no sub-attribute 'foo'",
        ),
        (
            "emails[type eq \"work\"].foo",
            "attribute 'emails' has no sub-attribute 'foo'",
        ),
        ("emails[type eq ", "invalid path at position 15"),
        ("urn:example:nope:shoeSize", "unknown attribute"),
    ] {
        let e = user_err(
            &babs(),
            json!([{"op": "replace", "path": path, "value": "x"}]),
            ScimType::InvalidPath,
        );
        assert!(e.detail.contains(fragment), "{path}: {}", e.detail);
        assert!(e.detail.starts_with("Operations[0]"), "{}", e.detail);
    }
}

#[test]
fn invalid_value_errors() {
    for (ops, fragment) in [
        (
            json!([{"op": "replace", "path": "active", "value": "yes"}]),
            "attribute 'active' must be a boolean (true or false), found the string \"yes\"",
        ),
        (
            json!([{"op": "add", "path": "emails", "value": 5}]),
            "attribute 'emails' must be an object of sub-attributes, found a number",
        ),
        (
            json!([{"op": "add", "path": "emails", "value": [{"value": 5}]}]),
            "attribute 'emails.value' must be a string, found the number 5",
        ),
        (
            json!([{"op": "add", "path": "emails", "value": [{"valu": "x"}]}]),
            "unknown sub-attribute 'emails.valu'",
        ),
        (
            json!([{"op": "replace", "value": {"shoeSize": 42}}]),
            "unknown attribute 'shoeSize'",
        ),
        (
            json!([{"op": "replace", "value": "x"}]),
            "the value must be an object of attributes",
        ),
        (
            json!([{"op": "add", "path": "title"}]),
            "\"value\" is required for \"add\"",
        ),
        (
            json!([{"op": "add", "path": "title", "value": null}]),
            "an \"add\" needs a non-null value",
        ),
        (
            json!([{"op": "replace", "path": "meta.lastModified", "value": "x"}]),
            "readOnly",
        ),
        (
            json!([{"op": "replace", "path": "name", "value": "Babs"}]),
            "attribute 'name' must be an object of sub-attributes",
        ),
        (
            json!([{"op": "replace", "path": "x509Certificates", "value": [{"value": "not base64!"}]}]),
            "must be a base64-encoded string",
        ),
        (
            json!([{"op": "replace", "value": {ENTERPRISE: "x"}}]),
            "must be an object of that extension's attributes",
        ),
    ] {
        let expected = if fragment == "readOnly" {
            ScimType::Mutability
        } else {
            ScimType::InvalidValue
        };
        let e = user_err(&babs(), ops.clone(), expected);
        assert!(e.detail.contains(fragment), "{ops}: {}", e.detail);
    }
}

#[test]
fn request_parsing_is_strict() {
    let cases: &[(Value, ScimType, &str)] = &[
        (
            json!([]),
            ScimType::InvalidSyntax,
            "\"Operations\" must hold at least one operation",
        ),
        (
            json!({"schemas": ["urn:x"], "Operations": [{"op": "add", "path": "title", "value": "x"}]}),
            ScimType::InvalidSyntax,
            "must be an array containing \"urn:ietf:params:scim:api:messages:2.0:PatchOp\", found [\"urn:x\"]",
        ),
        (
            json!({"Operations": [{"op": "add", "path": "title", "value": "x"}]}),
            ScimType::InvalidSyntax,
            "found nothing",
        ),
        (
            json!({"schemas": [PATCH_OP_URN]}),
            ScimType::InvalidSyntax,
            "\"Operations\" is required",
        ),
        (
            json!({"schemas": [PATCH_OP_URN], "Operations": [], "extra": 1}),
            ScimType::InvalidSyntax,
            "unknown member \"extra\"",
        ),
        (
            json!([{"op": "Add", "path": "title", "value": "x"}]),
            ScimType::InvalidSyntax,
            "Operations[0]: \"op\" must be \"add\", \"replace\" or \"remove\", found \"Add\"",
        ),
        (
            json!([{"op": "add", "path": "title", "value": "x"}, {"op": "delete", "path": "title"}]),
            ScimType::InvalidSyntax,
            "Operations[1]: \"op\" must be",
        ),
        (
            json!([{"path": "title", "value": "x"}]),
            ScimType::InvalidSyntax,
            "Operations[0] has no \"op\"",
        ),
        (
            json!([{"op": "add", "path": "title", "value": "x", "from": "y"}]),
            ScimType::InvalidSyntax,
            "unknown member \"from\"",
        ),
        (
            json!(["add"]),
            ScimType::InvalidSyntax,
            "Operations[0] must be an object",
        ),
        (
            json!([{"op": "remove"}]),
            ScimType::NoTarget,
            "Operations[0]: a \"remove\" operation needs a \"path\"",
        ),
        (
            json!([{"op": "remove", "path": "members", "value": [{"value": "2819c223"}]}]),
            ScimType::InvalidSyntax,
            "takes no \"value\"",
        ),
        (
            json!([{"op": "add", "path": "emails[type eq", "value": "x"}]),
            ScimType::InvalidPath,
            "Operations[0] (path \"emails[type eq\"): invalid path at position 14: expected a value",
        ),
        (
            json!([{"op": "add", "path": 5, "value": "x"}]),
            ScimType::InvalidPath,
            "\"path\" must be a string",
        ),
        (
            json!([{"op": "replace", "path": "title"}]),
            ScimType::InvalidValue,
            "Operations[0] (path 'title'): \"value\" is required for \"replace\"",
        ),
    ];
    for (ops, scim_type, fragment) in cases {
        let b = if ops.is_array() {
            body(ops.clone())
        } else {
            ops.clone()
        };
        let e = parse_request(&b).expect_err(&b.to_string());
        assert_eq!(e.scim_type, Some(*scim_type), "{b}: {}", e.detail);
        assert!(e.detail.contains(fragment), "{b}: {}", e.detail);
    }
    let remove = parse_request(&body(
        json!([{"op": "remove", "path": "members[value eq \"2819c223\"]"}]),
    ))
    .expect("remove");
    let members = remove[0].path.as_ref().expect("path");
    assert_eq!(members.to_string(), "members[value eq \"2819c223\"]");
    let e = parse_request(&json!("nope")).expect_err("not an object");
    assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    let too_many: Vec<Value> = (0..=MAX_OPERATIONS)
        .map(|_| json!({"op": "remove", "path": "title"}))
        .collect();
    let e = parse_request(&body(Value::Array(too_many))).expect_err("too many");
    assert!(
        e.detail
            .contains("1001 operations exceed the limit of 1000"),
        "{}",
        e.detail
    );
    let remove_null_value = parse_request(&body(
        json!([{"op": "remove", "path": "title", "value": null}]),
    ))
    .expect("null value is no value");
    assert_eq!(remove_null_value[0].op, PatchOpKind::Remove);
}

#[test]
fn remove_without_a_path_in_a_constructed_op_is_no_target() {
    let op = PatchOp {
        op: PatchOpKind::Remove,
        path: None,
        value: None,
    };
    let e = apply(&babs(), &[op], &user_schema(), &PatchOptions::default()).expect_err("no path");
    assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    let e = apply(&json!([1]), &[], &user_schema(), &PatchOptions::default())
        .expect_err("not an object");
    assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
}

#[test]
fn sub_attribute_of_every_element_without_filter() {
    let r = user_ok(
        &babs(),
        json!([{"op": "replace", "path": "emails.display", "value": "E"}]),
    );
    assert!(
        r["emails"]
            .as_array()
            .expect("emails")
            .iter()
            .all(|e| e["display"] == "E")
    );
    let r = user_ok(&r, json!([{"op": "remove", "path": "emails.display"}]));
    assert_eq!(r, babs());
    let r = user_ok(
        &without(babs(), "ims"),
        json!([{"op": "add", "path": "ims.value", "value": "handle"}]),
    );
    assert_eq!(r["ims"], json!([{"value": "handle"}]));
}

#[test]
fn simple_multi_valued_value_filters_remove_matching_values() {
    let mut core = crate::scim::schema::user_schema();
    core.attributes
        .push(Attribute::new("tags", AttrType::String).multi());
    let schema = ResourceSchema {
        resource_type: "User".into(),
        core: std::sync::Arc::new(core),
        extensions: Vec::new(),
    };
    let start = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "u", "tags": ["a", "B", "c"]});
    let r = run(
        &start,
        &schema,
        json!([{"op": "remove", "path": "tags[value eq \"b\" or value eq \"c\"]"}]),
    )
    .expect("remove");
    assert_eq!(r["tags"], json!(["a"]));
    let r = run(
        &start,
        &schema,
        json!([{"op": "add", "path": "tags", "value": ["c", "d"]}]),
    )
    .expect("add");
    assert_eq!(r["tags"], json!(["a", "B", "c", "d"]));
    let r = run(
        &start,
        &schema,
        json!([{"op": "add", "path": "tags", "value": "A"}]),
    )
    .expect("add one");
    assert_eq!(
        r["tags"],
        json!(["a", "B", "c"]),
        "values compare caselessly when not caseExact"
    );
    let e = run(
        &start,
        &schema,
        json!([{"op": "replace", "path": "tags[value eq \"a\"]", "value": "z"}]),
    )
    .expect_err("replace");
    assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
    assert!(
        e.detail.contains("supported by \"remove\" only"),
        "{}",
        e.detail
    );
}
