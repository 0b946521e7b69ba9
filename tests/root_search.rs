//! `POST /.search` at the root, served end to end from the demo platform: a filter is parsed for
//! each resource type, and a type without the filter's attribute is skipped (not an error), while
//! a filter both types understand returns both, users first, with one total.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::Stack;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

fn user(user_name: &str, given: &str, family: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "displayName": format!("{given} {family}"),
        "emails": [{"type": "work", "value": user_name, "primary": true}],
        "active": true,
    })
}

fn search(filter: &str) -> Value {
    json!({"schemas": [SEARCH], "filter": filter})
}

/// The `meta.resourceType` of each resource in a ListResponse, in order.
fn types(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().expect("type").to_owned())
        .collect()
}

#[tokio::test]
async fn a_root_search_skips_the_type_without_the_attribute_and_returns_both_for_a_shared_one() {
    let s = Stack::start("").await;
    for (mail, given, family) in [
        ("rs-ada@example.com", "Rootsearch", "Ada"),
        ("rs-bob@example.com", "Rootsearch", "Bob"),
        ("other@example.com", "Someone", "Else"),
    ] {
        let (st, body) = s
            .scim(Method::POST, "/Users", Some(user(mail, given, family)))
            .await;
        assert_eq!(st, 201, "{body}");
    }
    for name in ["Rootsearch Team", "Unrelated"] {
        let (st, body) = s
            .scim(
                Method::POST,
                "/Groups",
                Some(json!({"schemas": [GROUP], "displayName": name})),
            )
            .await;
        assert_eq!(st, 201, "{body}");
    }

    // `userName` is a User attribute only: Groups are skipped, not refused.
    let (st, found) = s
        .scim(
            Method::POST,
            "/.search",
            Some(search("userName sw \"rs-\"")),
        )
        .await;
    assert_eq!(st, 200, "{found}");
    assert_eq!(found["totalResults"], 2, "{found}");
    assert_eq!(types(&found), ["User", "User"], "{found}");

    // `displayName` is in both: two users, then the group, counted as one sequence.
    let (st, found) = s
        .scim(
            Method::POST,
            "/.search",
            Some(search("displayName sw \"Rootsearch\"")),
        )
        .await;
    assert_eq!(st, 200, "{found}");
    assert_eq!(found["totalResults"], 3, "{found}");
    assert_eq!(types(&found), ["User", "User", "Group"], "{found}");
    assert_eq!(found["Resources"][2]["displayName"], "Rootsearch Team");

    // An attribute neither type has matches nothing anywhere.
    let (st, found) = s
        .scim(Method::POST, "/.search", Some(search("nickName2 eq \"x\"")))
        .await;
    assert_eq!(st, 200, "{found}");
    assert_eq!(found["totalResults"], 0, "{found}");

    // Any other filter error is still a 400.
    let (st, body) = s
        .scim(Method::POST, "/.search", Some(search("userName sw")))
        .await;
    assert_eq!(st, 400, "{body}");
    assert_eq!(body["scimType"], "invalidFilter", "{body}");
    s.stop().await;
}
