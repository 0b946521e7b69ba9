//! Edge cases of the normalize rules that the per-quirk fixtures (tests/fixtures/entra) do not show.

use super::*;
use crate::normalize::common::*;
use crate::normalize::lowercase::*;
use crate::scim::schema::{GROUP_URN, Registry, USER_URN};

#[test]
fn op_case_only_touches_the_three_rfc_operations() {
    let mut fired = Vec::new();
    let mut op = json!({"op": "Delete", "path": "members"});
    op_case(&mut op, &mut fired);
    assert_eq!(
        op["op"], "Delete",
        "unknown ops are left for the core to refuse"
    );
    assert!(fired.is_empty());
    let mut op = json!({"op": "REMOVE", "path": "members"});
    op_case(&mut op, &mut fired);
    assert_eq!(op["op"], "remove");
}

#[test]
fn member_removal_by_value_never_becomes_remove_all() {
    let mut fired = Vec::new();
    // an empty value array stays as it is: the core refuses a remove with a value
    let op = json!({"op": "remove", "path": "members", "value": []});
    assert_eq!(member_removal_by_value(op.clone(), &mut fired), vec![op]);
    // an id that is not a string cannot be named in a filter: left for the core to refuse
    let op = json!({"op": "remove", "path": "members", "value": [{"value": {"x": 1}}]});
    assert_eq!(member_removal_by_value(op.clone(), &mut fired), vec![op]);
    assert!(fired.is_empty());
    // quotes in ids are escaped inside the filter
    let op = json!({"op": "remove", "path": "Members", "value": [{"value": "a\"b"}]});
    let out = member_removal_by_value(op, &mut fired);
    assert_eq!(
        out,
        vec![json!({"op": "remove", "path": "members[value eq \"a\\\"b\"]"})]
    );
    let parsed = crate::scim::filter::PatchPath::parse(out[0]["path"].as_str().expect("path"))
        .expect("parses");
    assert!(parsed.filter.is_some());
}

#[test]
fn string_booleans_only_convert_boolean_attributes() {
    let reg = Registry::standard();
    let mut fired = Vec::new();
    let mut op = json!({"op": "replace", "path": "title", "value": "True"});
    string_booleans_in_op(&mut op, &reg.user, &mut fired);
    assert_eq!(op["value"], "True", "a title of \"True\" is a string");
    let mut op =
        json!({"op": "add", "path": "emails", "value": [{"value": "a@b", "primary": "True"}]});
    string_booleans_in_op(&mut op, &reg.user, &mut fired);
    assert_eq!(op["value"][0]["primary"], true);
}

#[test]
fn lowercasing_touches_only_e_mail_addresses_in_listed_attributes() {
    let reg = Registry::standard();
    let list = vec![
        AttrPath::parse("emails.value").expect("p"),
        AttrPath::parse("userName").expect("p"),
    ];
    let mut fired = Vec::new();
    let mut body = json!({"userName": "Jane.Doe", "displayName": "Jane@Doe", "emails": [{"value": "Jane@Example.com"}]});
    lowercase_emails_in_resource(&mut body, &reg.user, &list, &mut fired);
    assert_eq!(
        body,
        json!({"userName": "Jane.Doe", "displayName": "Jane@Doe", "emails": [{"value": "jane@example.com"}]})
    );
}

#[test]
fn lenient_schemas_is_stable_once_canonical() {
    let reg = Registry::standard();
    let mut fired = Vec::new();
    let mut body = json!({"userName": "x"});
    lenient_schemas(&mut body, &reg.user, &mut fired);
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
    );
    let mut again = Vec::new();
    lenient_schemas(&mut body, &reg.user, &mut again);
    assert!(again.is_empty());
}

#[test]
fn lenient_schemas_rebuilds_only_the_quirk_15_shapes() {
    let reg = Registry::standard();
    let mut fired = Vec::new();
    let mut adscim = json!({"schemas": [GROUP_URN, ADSCIM_GROUP_URN], "displayName": "g"});
    lenient_schemas(&mut adscim, &reg.group, &mut fired);
    assert_eq!(adscim["schemas"], json!([GROUP_URN]));
    let mut typo = json!({"schemas": [USER_URN, ENTERPRISE_TYPO_URN], "userName": "u"});
    lenient_schemas(&mut typo, &reg.user, &mut fired);
    assert_eq!(typo["schemas"], json!([USER_URN]));
    // another resource type's schema is not a quirk: left as sent, for the core to refuse
    let mut fired = Vec::new();
    for schemas in [
        json!([USER_URN]),
        json!([GROUP_URN, USER_URN]),
        json!(GROUP_URN),
    ] {
        let mut body = json!({"schemas": schemas.clone(), "displayName": "g"});
        lenient_schemas(&mut body, &reg.group, &mut fired);
        assert_eq!(body["schemas"], schemas);
    }
    // the ADSCIM URI names a group, not a user
    let mut body = json!({"schemas": [USER_URN, ADSCIM_GROUP_URN], "userName": "u"});
    lenient_schemas(&mut body, &reg.user, &mut fired);
    assert_eq!(body["schemas"], json!([USER_URN, ADSCIM_GROUP_URN]));
    assert!(fired.is_empty());
}

#[test]
fn member_items_rewrite_only_the_quirk_11_shapes() {
    let mut fired = Vec::new();
    // the Postman suite's bare-id Add, in the entra profile only
    let mut op = json!({"op": "add", "path": "members", "value": "17"});
    member_items_in_op(&mut op, true, &mut fired);
    assert_eq!(op["value"], json!([{"value": "17"}]));
    let mut op = json!({"op": "add", "path": "members", "value": "17"});
    member_items_in_op(&mut op, false, &mut Vec::new());
    assert_eq!(op["value"], "17", "okta: left for the core to refuse");
    // a replace with a bare id would empty the group: never coerced
    let mut fired = Vec::new();
    for value in [json!("x"), json!(["17"]), json!({"value": "17"}), json!("")] {
        let mut op = json!({"op": "replace", "path": "members", "value": value.clone()});
        member_items_in_op(&mut op, true, &mut fired);
        assert_eq!(op["value"], value);
    }
    let mut op = json!({"op": "add", "path": "members", "value": ["17"]});
    member_items_in_op(&mut op, true, &mut fired);
    assert_eq!(op["value"], json!(["17"]));
    let mut body = json!({"members": "17"});
    member_items_in_resource(&mut body, &mut fired);
    assert_eq!(body["members"], "17");
    assert!(fired.is_empty());
    // `"$ref": null` goes, in POST bodies too
    let mut body = json!({"members": [{"$ref": null, "value": "17"}]});
    member_items_in_resource(&mut body, &mut fired);
    assert_eq!(body["members"], json!([{"value": "17"}]));
    // a remove by bare ids is not quirk 10: left for the core, which refuses a remove with a value
    let op = json!({"op": "remove", "path": "members", "value": ["17"]});
    assert_eq!(
        member_removal_by_value(op.clone(), &mut Vec::new()),
        vec![op]
    );
    let op = json!({"op": "remove", "path": "members", "value": {"value": "17"}});
    assert_eq!(
        member_removal_by_value(op.clone(), &mut Vec::new()),
        vec![op]
    );
}

#[test]
fn empty_strings_never_clear_a_whole_multi_valued_attribute() {
    let reg = Registry::standard();
    let mut fired = Vec::new();
    let mut op = json!({"op": "replace", "path": "members", "value": ""});
    empty_string_clears(&mut op, &reg.group, &mut fired);
    assert_eq!(op["value"], "");
    let mut op = json!({"op": "replace", "value": {"members": "", "displayName": ""}});
    empty_string_clears(&mut op, &reg.group, &mut fired);
    assert_eq!(op["value"], json!({"members": "", "displayName": null}));
    let mut body = json!({"displayName": "g", "members": "", "externalId": ""});
    empty_strings_are_absent(&mut body, &reg.group, &mut fired);
    assert_eq!(body, json!({"displayName": "g", "members": ""}));
    // a single value is still cleared (quirk 28)
    let mut op = json!({"op": "replace", "path": "emails[type eq \"work\"].value", "value": ""});
    empty_string_clears(&mut op, &reg.user, &mut fired);
    assert_eq!(op["value"], Value::Null);
}
