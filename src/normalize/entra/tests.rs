//! Edge cases of the normalize rules that the per-quirk fixtures (tests/fixtures/entra) do not show.

use super::*;
use crate::scim::schema::Registry;

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
    let parsed = crate::scim::path::PatchPath::parse(out[0]["path"].as_str().expect("path"))
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
