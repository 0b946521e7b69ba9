//! A complete Entra ID provisioning story, written from Microsoft's documentation
//! (use-scim-to-provision-users-and-groups, application-provisioning-config-problem-scim-compatibility),
//! replayed against the sidecar in front of the demo platform: Test Connection, user matching,
//! creation, updates in both PATCH dialects, disable/enable, groups and members in both shapes,
//! rename, the 409/404/401 cases, deletes. Each answer and the platform's final state are checked.
//! Then the same for Okta's shapes, and the strict profile refusing the non-RFC ones.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::Stack;
use support::story::{self, GROUP, USER, patch};

#[tokio::test]
async fn entra_provisioning_story() {
    story::entra(Stack::start("").await).await;
}

#[tokio::test]
async fn okta_provisioning_story() {
    let s = Stack::start("profile = \"okta\"\n").await;
    // import / connection test and existence check (%20, paging parameters)
    let (st, r) = s
        .scim(Method::GET, "/Users?startIndex=1&count=100", None)
        .await;
    assert_eq!((st, &r["totalResults"]), (200, &json!(0)));
    let (st, r) = s
        .scim(
            Method::GET,
            "/Users?filter=userName%20eq%20%22ann%40example.com%22&startIndex=1&count=100",
            None,
        )
        .await;
    assert_eq!((st, &r["totalResults"]), (200, &json!(0)));
    // create with password, groups, locale
    let (st, ann) = s
        .scim(
            Method::POST,
            "/Users",
            Some(json!({
                "schemas": [USER], "userName": "ann@example.com", "name": {"givenName": "Ann", "familyName": "Lee"},
                "emails": [{"primary": true, "value": "ann@example.com", "type": "work"}],
                "displayName": "Ann Lee", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
                "groups": [], "password": "1mz050nq", "active": true
            })),
        )
        .await;
    assert_eq!(st, 201, "{ann}");
    let id = ann["id"].as_str().expect("id").to_owned();
    assert!(ann.get("password").is_none());
    // Okta's conformance check: the user name reads back exactly as created (issue 13; only
    // e-mail addresses are lowercased by default), and is still found case-insensitively
    let (st, u4) = s
        .scim(
            Method::POST,
            "/Users",
            Some(json!({
                "schemas": [USER], "userName": "Okta.User4@example.com",
                "name": {"givenName": "Okta", "familyName": "User4"},
                "emails": [{"primary": true, "value": "Okta.User4@example.com", "type": "work"}],
                "active": true
            })),
        )
        .await;
    assert_eq!(st, 201, "{u4}");
    assert_eq!(u4["userName"], "Okta.User4@example.com");
    let (st, got) = s
        .scim(
            Method::GET,
            &format!("/Users/{}", u4["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(
        (st, &got["userName"]),
        (200, &json!("Okta.User4@example.com"))
    );
    let (st, found) = s
        .scim(
            Method::GET,
            "/Users?filter=userName%20eq%20%22okta.user4%40EXAMPLE.com%22&startIndex=1&count=100",
            None,
        )
        .await;
    assert_eq!((st, &found["totalResults"]), (200, &json!(1)), "{found}");
    assert_eq!(found["Resources"][0]["userName"], "Okta.User4@example.com");
    // a full PUT (Okta updates this way)
    let mut full = ann.clone();
    full["name"]["familyName"] = json!("Lee-Smith");
    let (st, r) = s
        .scim(Method::PUT, &format!("/Users/{id}"), Some(full))
        .await;
    assert_eq!(
        (st, &r["name"]["familyName"]),
        (200, &json!("Lee-Smith")),
        "{r}"
    );
    // deactivate: path-less replace with a real boolean
    let (st, r) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(
                json!([{"op": "replace", "value": {"active": false}}]),
            )),
        )
        .await;
    assert_eq!((st, &r["active"]), (200, &json!(false)));
    // groups pushed with members, renamed with a path-less replace carrying the id
    let (st, g) = s
        .scim(Method::POST, "/Groups", Some(json!({"schemas": [GROUP], "displayName": "Pushed", "members": [{"value": id, "display": "ann@example.com"}]})))
        .await;
    assert_eq!(st, 201, "{g}");
    let gid = g["id"].as_str().expect("id").to_owned();
    let (st, r) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(patch(
                json!([{"op": "replace", "value": {"id": gid, "displayName": "Pushed 2"}}]),
            )),
        )
        .await;
    assert_eq!(
        (st, &r["displayName"]),
        (200, &json!("Pushed 2")),
        "okta's profile answers PATCH with the group: {r}"
    );
    let (st, r) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(patch(
                json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]),
            )),
        )
        .await;
    assert_eq!(st, 200);
    assert!(r.get("members").is_none());
    // a full replace of members
    let (st, r) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(patch(
                json!([{"op": "replace", "path": "members", "value": [{"value": id}]}]),
            )),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(r["members"][0]["value"], id.as_str());
    let (st, _) = s
        .scim(Method::DELETE, &format!("/Groups/{gid}"), None)
        .await;
    assert_eq!(st, 204);
    s.stop().await;
}

#[tokio::test]
async fn strict_profile_refuses_non_rfc_shapes_with_clear_400s() {
    let s = Stack::start("profile = \"strict\"\n").await;
    let (st, u) = s
        .scim(Method::POST, "/Users", Some(json!({"schemas": [USER], "userName": "s@x.com", "emails": [{"type": "work", "value": "s@x.com"}]})))
        .await;
    assert_eq!(st, 201, "{u}");
    let id = u["id"].as_str().expect("id").to_owned();
    let (_, g) = s
        .scim(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "G", "members": [{"value": id}]})),
        )
        .await;
    let gid = g["id"].as_str().expect("id").to_owned();
    let cases: Vec<(&str, String, Value, &str, &str)> = vec![
        (
            "capitalised op",
            format!("/Users/{id}"),
            patch(json!([{"op": "Replace", "path": "active", "value": false}])),
            "invalidSyntax",
            "\"Replace\"",
        ),
        (
            "string boolean",
            format!("/Users/{id}"),
            patch(json!([{"op": "replace", "path": "active", "value": "False"}])),
            "invalidValue",
            "boolean",
        ),
        (
            "remove members by value",
            format!("/Groups/{gid}"),
            patch(json!([{"op": "remove", "path": "members", "value": [{"value": id}]}])),
            "invalidSyntax",
            "members[value eq",
        ),
    ];
    for (name, path, body, scim_type, detail) in cases {
        let (st, e) = s.scim(Method::PATCH, &path, Some(body)).await;
        assert_eq!(st, 400, "{name}: {e}");
        assert_eq!(e["scimType"], scim_type, "{name}: {e}");
        assert!(
            e["detail"].as_str().is_some_and(|d| d.contains(detail)),
            "{name}: {e}"
        );
    }
    let (_, m) = s
        .platform_get(&format!("/api/v1/groups/{gid}/members"))
        .await;
    assert_eq!(
        m["data"].as_array().map(Vec::len),
        Some(1),
        "the refused removal removed nobody"
    );
    let (st, e) = s
        .scim(Method::GET, "/Users?filter=externalId+eq+jyoung", None)
        .await;
    assert_eq!((st, &e["scimType"]), (400, &json!("invalidFilter")));
    let (st, e) = s
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"userName": "noschemas@x.com"})),
        )
        .await;
    assert_eq!((st, &e["scimType"]), (400, &json!("invalidSyntax")), "{e}");
    let (st, e) = s
        .scim(Method::POST, "/Users", Some(json!({"schemas": [USER], "userName": "p@x.com", "emails": [{"type": "work", "value": "p@x.com"}], "phoneNumbers": [{"type": "work", "value": "1"}]})))
        .await;
    assert_eq!(
        st, 400,
        "strict rejects attributes the platform does not store: {e}"
    );
    assert!(
        e["detail"]
            .as_str()
            .is_some_and(|d| d.contains("phoneNumbers"))
    );
    s.stop().await;
}

#[tokio::test]
async fn unmapped_attributes_are_ignored_or_rejected_by_policy() {
    let body = json!({"schemas": [USER], "userName": "u@x.com", "emails": [{"type": "work", "value": "u@x.com"}], "title": "Boss", "phoneNumbers": [{"type": "work", "value": "1"}]});
    let s = Stack::start("").await;
    let (st, u) = s.scim(Method::POST, "/Users", Some(body.clone())).await;
    assert_eq!(st, 201, "entra ignores them by default: {u}");
    assert!(
        u.get("title").is_none(),
        "and does not pretend to store them"
    );
    s.stop().await;
    let s = Stack::start("unmapped_attributes = \"reject\"\n").await;
    let (st, e) = s.scim(Method::POST, "/Users", Some(body)).await;
    assert_eq!((st, &e["scimType"]), (400, &json!("invalidValue")));
    let d = e["detail"].as_str().expect("detail");
    assert!(d.contains("title") && d.contains("phoneNumbers"), "{d}");
    s.stop().await;
}
