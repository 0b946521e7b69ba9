//! The Entra provisioning story (Test Connection, create, match, update, disable, groups, delete)
//! as one function over a [`Stack`], shared by the suites that run it against different mappings.

use reqwest::Method;
use serde_json::{Value, json};

use super::Stack;

/// The core User schema.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The enterprise User extension.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The core Group schema.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The non-standard schema Entra lists on groups (Entra quirk 15).
pub const ADSCIM: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
/// The PatchOp message schema.
pub const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The random GUID of Test Connection (quirk 20).
pub const GUID: &str = "7d420df3-9995-4831-a406-ecf8166f5f6a";

/// A PatchOp body with these operations.
pub fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

/// The tutorial's "Create User" body (quirks 15, 16: enterprise URN listed without data,
/// client-only `meta` and `roles`).
pub fn entra_user(upn: &str, mail: &str, given: &str, family: &str, external: &str) -> Value {
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

/// The Entra story against a stack in front of the demo platform (tests/entra_story.rs runs it
/// with the demo mapping, tests/init_openapi.rs with the mapping `init --openapi` wrote).
pub async fn entra(s: Stack) {
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
