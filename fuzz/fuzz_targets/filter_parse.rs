//! Fuzz target: filter parsing, printing, re-parsing, checking and evaluation must never panic,
//! and the canonical print of a parsed filter must parse back to the same shape.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_sidecar::scim::filter::{self, FilterOptions, MAX_FILTER_LEN, PatchPath};
use scim_sidecar::scim::schema::Registry;
use serde_json::{Value, json};
use std::sync::OnceLock;

fn resource() -> &'static Value {
    static R: OnceLock<Value> = OnceLock::new();
    R.get_or_init(|| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "701984",
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "displayName": "Babs Jensen",
            "title": "Tour Guide",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJ"}],
            "meta": {"created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984",
                "manager": {"value": "26118915"}
            }
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let schema = Registry::standard().user;
    for opts in [
        FilterOptions::default(),
        FilterOptions {
            unquoted_strings: true,
        },
    ] {
        if let Ok(f) = filter::parse_with(text, &opts) {
            let _ = filter::check(&f, &schema);
            let _ = filter::matches(&f, resource(), &schema);
            let printed = f.to_string();
            // canonical text may outgrow the input (documented); the limit still applies
            if printed.len() > MAX_FILTER_LEN {
                continue;
            }
            let back = filter::parse(&printed)
                .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which fails: {e}"));
            assert!(
                filter::same_shape(&f, &back),
                "{text:?} printed as {printed:?} reparses differently"
            );
            assert_eq!(back.to_string(), printed, "canonical text is a fixed point");
        }
    }
    if let Ok(p) = PatchPath::parse(text) {
        let printed = p.to_string();
        let back = PatchPath::parse(&printed)
            .unwrap_or_else(|e| panic!("path {text:?} printed as {printed:?}, which fails: {e}"));
        assert_eq!(back.to_string(), printed);
    }
});
