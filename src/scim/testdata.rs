//! Test fixtures: the RFC 7643 §8.2 "Babs Jensen" User, an RFC-style Group, and schema helpers.

use crate::scim::schema::{Registry, ResourceSchema};
use serde_json::{Value, json};
use std::sync::Arc;

/// The full User representation of RFC 7643 §8.2 (the certificate value shortened to one line of
/// valid base64).
pub(crate) fn babs() -> Value {
    json!({
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
      "id": "2819c223-7f76-453a-919d-413861904646",
      "externalId": "701984",
      "userName": "bjensen@example.com",
      "name": {
        "formatted": "Ms. Barbara J Jensen, III",
        "familyName": "Jensen",
        "givenName": "Barbara",
        "middleName": "Jane",
        "honorificPrefix": "Ms.",
        "honorificSuffix": "III"
      },
      "displayName": "Babs Jensen",
      "nickName": "Babs",
      "profileUrl": "https://login.example.com/bjensen",
      "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": true},
        {"value": "babs@jensen.org", "type": "home"}
      ],
      "addresses": [
        {
          "type": "work",
          "streetAddress": "100 Universal City Plaza",
          "locality": "Hollywood",
          "region": "CA",
          "postalCode": "91608",
          "country": "USA",
          "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
          "primary": true
        },
        {
          "type": "home",
          "streetAddress": "456 Hollywood Blvd",
          "locality": "Hollywood",
          "region": "CA",
          "postalCode": "91608",
          "country": "USA",
          "formatted": "456 Hollywood Blvd\nHollywood, CA 91608 USA"
        }
      ],
      "phoneNumbers": [
        {"value": "555-555-5555", "type": "work"},
        {"value": "555-555-4444", "type": "mobile"}
      ],
      "ims": [{"value": "someaimhandle", "type": "aim"}],
      "photos": [
        {"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"},
        {"value": "https://photos.example.com/profilephoto/72930000000Ccne/T", "type": "thumbnail"}
      ],
      "userType": "Employee",
      "title": "Tour Guide",
      "preferredLanguage": "en-US",
      "locale": "en-US",
      "timezone": "America/Los_Angeles",
      "active": true,
      "password": "t1meMa$heen",
      "groups": [
        {"value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
         "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
         "display": "Tour Guides"},
        {"value": "fc348aa8-3835-40eb-a20b-c726e15c55b5",
         "$ref": "https://example.com/v2/Groups/fc348aa8-3835-40eb-a20b-c726e15c55b5",
         "display": "Employees"},
        {"value": "71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7",
         "$ref": "https://example.com/v2/Groups/71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7",
         "display": "US Employees"}
      ],
      "x509Certificates": [
        {"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}
      ],
      "meta": {
        "resourceType": "User",
        "created": "2010-01-23T04:56:22Z",
        "lastModified": "2011-05-13T04:42:34Z",
        "version": "W/\"a330bc54f0671c9\"",
        "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
      }
    })
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
