//! Fuzz target: any bytes read as a PATCH body; parsing and applying to a fixed User (and Group)
//! must never panic, and a successful result must be a JSON object.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_sidecar::scim::patch::{self, PatchOptions};
use scim_sidecar::scim::schema::Registry;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(ops) = patch::parse_request(&body) else {
        return;
    };
    let reg = Registry::standard();
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "1",
        "userName": "bjensen",
        "name": {"givenName": "Barbara"},
        "emails": [{"value": "b@example.com", "type": "work", "primary": true}, {"value": "h@example.org", "type": "home"}],
        "meta": {"resourceType": "User"}
    });
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g",
        "displayName": "G",
        "members": [{"value": "1", "type": "User"}]
    });
    for opts in [
        PatchOptions::default(),
        PatchOptions {
            upsert_filtered_replace: true,
        },
    ] {
        if let Ok(out) = patch::apply(&user, &ops, &reg.user, &opts) {
            assert!(out.is_object());
        }
        if let Ok(out) = patch::apply(&group, &ops, &reg.group, &opts) {
            assert!(out.is_object());
        }
    }
});
