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

pub(crate) mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::Stack;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ADSCIM: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const GUID: &str = "7d420df3-9995-4831-a406-ecf8166f5f6a";

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

/// The tutorial's "Create User" body (quirks 15, 16: enterprise URN listed without data,
/// client-only `meta` and `roles`).
fn entra_user(upn: &str, mail: &str, given: &str, family: &str, external: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": external,
        "userName": upn,
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": mail}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": format!("{given} {family}"), "familyName": family, "givenName": given},
        "roles": []
    })
}

#[tokio::test]
async fn entra_provisioning_story() {
    story(Stack::start("").await).await;
}

/// The Entra story against a stack in front of the demo platform (tests/init_openapi.rs runs it
/// with the mapping `init --openapi` wrote for the demo platform).
pub(crate) async fn story(s: Stack) {
    // Test Connection: a random GUID user and group, 200 + empty ListResponse (quirks 20, 21)
    let (st, r) = s
        .scim(
            Method::GET,
            &format!("/Users?filter=userName+eq+%22{GUID}%22"),
            None,
        )
        .await;
    assert_eq!(
        (st, &r["totalResults"], &r["Resources"]),
        (200, &json!(0), &json!([]))
    );
    let (st, r) = s
        .scim(
            Method::GET,
            &format!("/Groups?excludedAttributes=members&filter=displayName+eq+%22{GUID}%22"),
            None,
        )
        .await;
    assert_eq!((st, &r["totalResults"]), (200, &json!(0)));
    let (st, _) = s
        .scim(
            Method::GET,
            "/Users?aadOptscim062020&filter=userName+eq+%22nobody%40contoso.com%22",
            None,
        )
        .await;
    assert_eq!(st, 200, "the flag query parameter is tolerated");

    // Match, then create: Entra sends the UPN verbatim, mixed case (quirk 17)
    let (_, r) = s
        .scim(
            Method::GET,
            "/Users?filter=userName+eq+%22Craig.Ranger%40Contoso.com%22",
            None,
        )
        .await;
    assert_eq!(r["totalResults"], 0);
    let (st, craig) = s
        .scim(
            Method::POST,
            "/Users",
            Some(entra_user(
                "Craig.Ranger@Contoso.com",
                "Craig.Ranger@contoso.com",
                "Craig",
                "Ranger",
                "craig",
            )),
        )
        .await;
    assert_eq!(st, 201, "{craig}");
    let craig_id = craig["id"].as_str().expect("id").to_owned();
    assert_eq!(
        craig["userName"], "Craig.Ranger@Contoso.com",
        "user names are kept as sent (Entra quirk 17; lowercase_attributes defaults to e-mails only)"
    );
    assert_eq!(
        craig["active"], true,
        "a real boolean comes back (quirk 39)"
    );
    let (st, pat) = s
        .scim(
            Method::POST,
            "/Users",
            Some(entra_user(
                "pat@contoso.com",
                "pat@contoso.com",
                "Pat",
                "Lee",
                "pat",
            )),
        )
        .await;
    assert_eq!(st, 201);
    let pat_id = pat["id"].as_str().expect("id").to_owned();

    // The next cycle matches case-insensitively, exactly one result (quirks 17, 19)
    for filter in [
        "userName+eq+%22CRAIG.RANGER%40contoso.com%22",
        "externalId+eq+%22craig%22",
        "emails%5Btype+eq+%22work%22%5D.value+eq+%22Craig.Ranger%40contoso.com%22",
        "externalId eq craig",
    ] {
        let (st, r) = s
            .scim(Method::GET, &format!("/Users?filter={filter}"), None)
            .await;
        assert_eq!((st, &r["totalResults"]), (200, &json!(1)), "{filter}: {r}");
        assert_eq!(r["Resources"][0]["id"], craig_id.as_str());
    }

    // Update, default dialect: one capitalised op per attribute (quirks 1, 9)
    let (st, r) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{craig_id}"),
            Some(patch(json!([
                {"op": "Replace", "path": "name.familyName", "value": "Ranger-Smith"},
                {"op": "Add", "path": "name.givenName", "value": "Craig J"},
            ]))),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["name"]["familyName"], "Ranger-Smith");

    // Update, aadOptscim062020 dialect: path-less, dotted keys (quirk 8)
    let (st, r) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{craig_id}"),
            Some(patch(json!([{"op": "replace", "value": {"name.givenName": "Craig", "name.familyName": "Ranger"}}]))),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        r["name"],
        json!({"givenName": "Craig", "familyName": "Ranger"})
    );

    // Disable as the default dialect sends it, re-enable as the flag does (quirks 2, 4, 30)
    let (st, r) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{craig_id}"),
            Some(patch(
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
            )),
        )
        .await;
    assert_eq!((st, &r["active"]), (200, &json!(false)));
    let (_, p) = s.platform_get(&format!("/api/v1/users/{craig_id}")).await;
    assert_eq!(p["data"]["status"], "disabled");
    let (st, r) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{craig_id}"),
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": true}]),
            )),
        )
        .await;
    assert_eq!((st, &r["active"]), (200, &json!(true)));
    // the periodic re-assertion of active=true changes nothing and writes nothing (quirk 29)
    s.platform.platform().reset_calls();
    let (st, _) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{craig_id}"),
            Some(patch(
                json!([{"op": "Add", "path": "active", "value": "True"}]),
            )),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(s.calls().get("PATCH", "/api/v1/users/{id}"), 0);

    // The manager pass (quirk 12): the demo platform stores no manager, so it is ignored, not refused
    let (st, _) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{craig_id}"),
            Some(patch(
                json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": pat_id}]),
            )),
        )
        .await;
    assert_eq!(st, 200);

    // Groups: match, create without members (ADSCIM URI, quirk 15), read without members
    let (_, r) = s
        .scim(
            Method::GET,
            "/Groups?excludedAttributes=members&filter=displayName+eq+%22Sales%22",
            None,
        )
        .await;
    assert_eq!(r["totalResults"], 0);
    let (st, g) = s
        .scim(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP, ADSCIM], "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "Sales", "meta": {"resourceType": "Group"}})),
        )
        .await;
    assert_eq!(st, 201, "{g}");
    let gid = g["id"].as_str().expect("id").to_owned();
    let (st, r) = s
        .scim(
            Method::GET,
            &format!("/Groups/{gid}?excludedAttributes=members"),
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert!(r.get("members").is_none(), "quirk 37");

    // Members, default dialect: Add with $ref null, re-add idempotent (quirk 11) → 204 (quirk 35)
    for _ in 0..2 {
        let (st, _) = s
            .scim(
                Method::PATCH,
                &format!("/Groups/{gid}"),
                Some(patch(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": craig_id}, {"$ref": null, "value": pat_id}]}]))),
            )
            .await;
        assert_eq!(st, 204);
    }
    // Remove by value array, default dialect (quirk 10): only that member goes
    let (st, _) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(patch(json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": pat_id}]}]))),
        )
        .await;
    assert_eq!(st, 204);
    let (_, m) = s
        .platform_get(&format!("/api/v1/groups/{gid}/members"))
        .await;
    assert_eq!(
        m["data"],
        json!([{"user_id": craig_id.parse::<u64>().expect("int")}])
    );
    // Remove with a filter path, flag dialect
    let (st, _) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(patch(
                json!([{"op": "remove", "path": format!("members[value eq \"{craig_id}\"]")}]),
            )),
        )
        .await;
    assert_eq!(st, 204);
    let (_, m) = s
        .platform_get(&format!("/api/v1/groups/{gid}/members"))
        .await;
    assert_eq!(m["data"], json!([]));

    // Rename → 204
    let (st, _) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(patch(
                json!([{"op": "Replace", "path": "displayName", "value": "Sales EMEA"}]),
            )),
        )
        .await;
    assert_eq!(st, 204);

    // 409 on a duplicate create (quirk 22), 404 on an unknown id (quirk 23), 401 on a bad token
    let (st, e) = s
        .scim(
            Method::POST,
            "/Users",
            Some(entra_user(
                "PAT@contoso.com",
                "pat@contoso.com",
                "Pat",
                "Lee",
                "pat2",
            )),
        )
        .await;
    assert_eq!((st, &e["scimType"]), (409, &json!("uniqueness")));
    let (st, _) = s.scim(Method::GET, "/Users/987654", None).await;
    assert_eq!(st, 404);
    let r = s
        .client
        .get(s.url("/Users"))
        .header("authorization", "Bearer wrong")
        .send()
        .await
        .expect("401");
    assert_eq!(r.status(), 401);

    // 400 with a detail instead of 405 (quirk 24)
    let (st, e) = s.scim(Method::PUT, "/Users", Some(json!({}))).await;
    assert_eq!(st, 400);
    assert!(
        e["detail"]
            .as_str()
            .is_some_and(|d| d.contains("GET or POST"))
    );

    // Deletes, and the platform's final state
    let (st, _) = s
        .scim(Method::DELETE, &format!("/Groups/{gid}"), None)
        .await;
    assert_eq!(st, 204);
    let (st, _) = s
        .scim(Method::DELETE, &format!("/Users/{pat_id}"), None)
        .await;
    assert_eq!(st, 204);
    let (_, users) = s.platform_get("/api/v1/users").await;
    let emails: Vec<&str> = users["data"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["email"].as_str())
        .collect();
    assert_eq!(emails, ["craig.ranger@contoso.com"]);
    let (_, u) = s.platform_get(&format!("/api/v1/users/{craig_id}")).await;
    assert_eq!(
        (
            u["data"]["first_name"].as_str(),
            u["data"]["last_name"].as_str(),
            u["data"]["status"].as_str()
        ),
        (Some("Craig"), Some("Ranger"), Some("active"))
    );
    let (_, groups) = s.platform_get("/api/v1/groups").await;
    assert_eq!(groups["meta"]["total"], 0);
    s.stop().await;
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
