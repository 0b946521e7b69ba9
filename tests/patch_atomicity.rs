//! Property: PATCH is atomic. A sequence of valid operations followed by a failing one makes
//! `apply` fail, naming the failing operation, with the input untouched; and the valid prefix
//! applied at once equals applying its operations one by one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use support::fixtures as common;

use proptest::prelude::*;
use scim_sidecar::scim::error::ScimType;
use scim_sidecar::scim::patch::{self, PatchOp, PatchOptions};
use scim_sidecar::scim::schema::{PATCH_OP_URN, Registry};
use serde_json::{Value, json};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 .@é]{1,10}"
}

/// Operations that succeed on any User built by earlier operations of this list.
fn valid_op() -> impl Strategy<Value = Value> {
    prop_oneof![
        (proptest::sample::select(vec!["displayName", "title", "nickName", "NICKNAME", "locale"]), word())
            .prop_map(|(a, v)| json!({"op": "replace", "path": a, "value": v})),
        proptest::sample::select(vec!["title", "nickName", "emails", "addresses", "name.middleName", "emails[type eq \"home\"]"])
            .prop_map(|a| json!({"op": "remove", "path": a})),
        any::<bool>().prop_map(|b| json!({"op": "replace", "path": "active", "value": b})),
        (word(), proptest::sample::select(vec!["work", "home", "other"]), any::<bool>())
            .prop_map(|(v, t, p)| json!({"op": "add", "path": "emails", "value": [{"value": v, "type": t, "primary": p}]})),
        (word(), proptest::sample::select(vec!["work", "home"]))
            .prop_map(|(v, t)| json!({"op": "add", "path": format!("emails[type eq \"{t}\"].value"), "value": v})),
        word().prop_map(|v| json!({"op": "add", "path": "name.givenName", "value": v})),
        word().prop_map(|v| json!({"op": "replace", "value": {"displayName": v, "name": {"familyName": v}}})),
        word().prop_map(|v| json!({"op": "add", "path": format!("{ENTERPRISE}:department"), "value": v})),
        Just(json!({"op": "remove", "path": format!("{ENTERPRISE}:department")})),
        word().prop_map(|v| json!({"op": "add", "path": "addresses[type eq \"work\"].locality", "value": v})),
    ]
}

/// Operations that fail on any User, with the scimType they fail with.
fn failing_op() -> impl Strategy<Value = (Value, ScimType)> {
    prop_oneof![
        Just((
            json!({"op": "replace", "path": "id", "value": "x"}),
            ScimType::Mutability
        )),
        Just((
            json!({"op": "remove", "path": "userName"}),
            ScimType::Mutability
        )),
        Just((
            json!({"op": "replace", "path": "active", "value": "yes"}),
            ScimType::InvalidValue
        )),
        Just((
            json!({"op": "replace", "path": "shoeSize", "value": 42}),
            ScimType::InvalidPath
        )),
        Just((
            json!({"op": "replace", "path": "emails[type eq \"nomatch\"].value", "value": "x"}),
            ScimType::NoTarget
        )),
        Just((
            json!({"op": "add", "value": {"displayName": "x", "unknownThing": 1}}),
            ScimType::InvalidValue
        )),
    ]
}

fn parse(ops: &[Value]) -> Vec<PatchOp> {
    if ops.is_empty() {
        return Vec::new();
    }
    let body = json!({"schemas": [PATCH_OP_URN], "Operations": ops});
    patch::parse_request(&body).unwrap_or_else(|e| panic!("{body}: {e}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn a_failing_operation_leaves_nothing_applied(
        prefix in proptest::collection::vec(valid_op(), 0..8),
        (bad, scim_type) in failing_op(),
        suffix in proptest::collection::vec(valid_op(), 0..3),
    ) {
        let schema = Registry::standard().user;
        let opts = PatchOptions::default();
        let original = common::babs();
        let snapshot = original.clone();

        let valid = parse(&prefix);
        let stepwise = valid.iter().try_fold(original.clone(), |r, op| {
            patch::apply(&r, std::slice::from_ref(op), &schema, &opts)
        });
        let stepwise = stepwise.map_err(|e| TestCaseError::fail(format!("valid op failed: {e}")))?;
        let at_once = patch::apply(&original, &valid, &schema, &opts)
            .map_err(|e| TestCaseError::fail(format!("valid prefix failed: {e}")))?;
        prop_assert_eq!(&at_once, &stepwise, "the prefix at once equals op by op");

        let mut all: Vec<Value> = prefix.clone();
        all.push(bad);
        all.extend(suffix);
        let ops = parse(&all);
        let err = patch::apply(&original, &ops, &schema, &opts).expect_err("the failing op must fail");
        prop_assert_eq!(err.scim_type, Some(scim_type), "{}", err.detail);
        let expected_prefix = format!("Operations[{}]", prefix.len());
        prop_assert!(err.detail.starts_with(&expected_prefix), "{}", err.detail);
        prop_assert_eq!(&original, &snapshot, "the input is untouched");
    }
}
