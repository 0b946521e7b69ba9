//! Test fixtures: the RFC 7643 §8.2 "Babs Jensen" User, an RFC-style Group, and schema helpers.

use crate::scim::schema::{Registry, ResourceSchema};
use serde_json::{Value, json};
use std::sync::Arc;

/// The full User representation of RFC 7643 §8.2 (the certificate value shortened to one line of
/// valid base64).
pub(crate) fn babs() -> Value {
    serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rfc7643/babs.json"
    )))
    .expect("tests/fixtures/rfc7643/babs.json is JSON")
}

/// Babs with the enterprise extension of RFC 7643 §8.3.
pub(crate) fn babs_enterprise() -> Value {
    let mut u = babs();
    u["schemas"] = json!([
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    ]);
    u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = json!({
        "employeeNumber": "701984",
        "costCenter": "4130",
        "organization": "Universal Studios",
        "division": "Theme Park",
        "department": "Tour Operations",
        "manager": {
            "value": "26118915-6090-4610-87a4-5a46bd3d4428",
            "$ref": "../Users/26118915-6090-4610-87a4-5a46bd3d4428",
            "displayName": "John Smith"
        }
    });
    u
}

/// The Group the RFC 7644 §3.5.2 PATCH examples modify.
pub(crate) fn group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "acbf3ae7-8463-4692-b4fd-9b4da3f908ce",
        "displayName": "Tour Guides",
        "members": [
            {"value": "902c246b-6245-4190-8e05-00816be7344a",
             "$ref": "https://example.com/v2/Users/902c246b-6245-4190-8e05-00816be7344a",
             "display": "Mandy Pepperidge"}
        ],
        "meta": {
            "resourceType": "Group",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3694e05e9dff592\"",
            "location": "https://example.com/v2/Groups/acbf3ae7-8463-4692-b4fd-9b4da3f908ce"
        }
    })
}

/// The standard User schemas (core + enterprise extension).
pub(crate) fn user_schema() -> Arc<ResourceSchema> {
    Registry::standard().user
}

/// The standard Group schema.
pub(crate) fn group_schema() -> Arc<ResourceSchema> {
    Registry::standard().group
}
