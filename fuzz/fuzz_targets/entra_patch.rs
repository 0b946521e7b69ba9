//! Fuzz target: any bytes read as a PATCH body from Entra ID; the entra normalizer's rewrites
//! (quirks), then parsing and applying to a fixed User, must never panic, and the normalizer
//! must leave a body the strict parser either accepts or refuses with an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_sidecar::normalize::{Normalizer, Profile};
use scim_sidecar::scim::patch::{self, PatchOptions};
use scim_sidecar::scim::path::AttrPath;
use scim_sidecar::scim::schema::Registry;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let reg = Registry::standard();
    let lowercase = ["emails.value", "userName"]
        .iter()
        .filter_map(|p| AttrPath::parse(p).ok())
        .collect();
    let normalizer = Normalizer {
        profile: Profile::Entra,
        lowercase,
    };
    let mut fired = Vec::new();
    // The same bytes as a POST body: the resource rewrites must not panic either.
    let _ = normalizer.resource(body.clone(), &reg.user, &mut fired);
    let Ok(normalized) = normalizer.patch(body, &reg.user, &mut fired) else {
        return;
    };
    let Ok(ops) = patch::parse_request(&normalized) else {
        return;
    };
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "1",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
        "active": true,
        "meta": {"resourceType": "User"}
    });
    let opts = PatchOptions {
        upsert_filtered_replace: normalizer.upsert_filtered_replace(),
    };
    if let Ok(out) = patch::apply(&user, &ops, &reg.user, &opts) {
        assert!(out.is_object());
    }
});
