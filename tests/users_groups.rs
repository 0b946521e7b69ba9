//! SCIM Users and Groups served end to end from the demo platform's own REST API through
//! `config/demo/mapping.toml`: every step checked in the SCIM answer and in the platform's state,
//! read back through the platform's API.
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
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn user(user_name: &str, given: &str, family: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "displayName": format!("{given} {family}"),
        "emails": [{"type": "work", "value": user_name, "primary": true}],
        "active": true,
        "externalId": format!("ext-{given}"),
    })
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

#[tokio::test]
async fn user_lifecycle_create_get_find_replace_patch_disable_enable_delete() {
    let s = Stack::start("").await;

    // create: 201, string id, e-mail stored lowercase on the platform
    let (st, created) = s
        .scim(
            Method::POST,
            "/Users",
            Some(user("Ada.Lovelace@Example.COM", "Ada", "Lovelace")),
        )
        .await;
    assert_eq!(st, 201, "{created}");
    let id = created["id"].as_str().expect("string id").to_owned();
    // userName is kept as sent (lowercase_attributes defaults to e-mail addresses only)
    assert_eq!(created["userName"], "Ada.Lovelace@Example.COM");
    assert_eq!(created["meta"]["resourceType"], "User");
    assert!(
        created["meta"]["location"]
            .as_str()
            .is_some_and(|l| l.ends_with(&format!("/Users/{id}")))
    );
    let (_, p) = s.platform_get(&format!("/api/v1/users/{id}")).await;
    assert_eq!(p["data"]["email"], "ada.lovelace@example.com");
    assert_eq!(p["data"]["first_name"], "Ada");
    assert_eq!(p["data"]["status"], "active");
    assert_eq!(p["data"]["external_ref"], "ext-Ada");

    // get
    let (st, got) = s.scim(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(st, 200);
    assert_eq!(got["displayName"], "Ada Lovelace");
    assert_eq!(got["name"]["familyName"], "Lovelace");

    // find by userName eq, case-insensitively
    let (st, found) = s
        .scim(
            Method::GET,
            "/Users?filter=userName%20eq%20%22ADA.LOVELACE%40example.com%22",
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], id.as_str());

    // replace (PUT): name changes, externalId dropped
    let mut replacement = user("ada.lovelace@example.com", "Augusta Ada", "King");
    replacement
        .as_object_mut()
        .expect("obj")
        .remove("externalId");
    let (st, replaced) = s
        .scim(Method::PUT, &format!("/Users/{id}"), Some(replacement))
        .await;
    assert_eq!(st, 200, "{replaced}");
    assert_eq!(replaced["name"]["givenName"], "Augusta Ada");
    assert!(replaced.get("externalId").is_none());
    let (_, p) = s.platform_get(&format!("/api/v1/users/{id}")).await;
    assert_eq!(p["data"]["first_name"], "Augusta Ada");
    assert_eq!(p["data"]["last_name"], "King");
    assert_eq!(p["data"]["external_ref"], Value::Null);

    // PATCH: family name
    let (st, patched) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(
                json!([{"op": "replace", "path": "name.familyName", "value": "Lovelace"}]),
            )),
        )
        .await;
    assert_eq!(st, 200, "{patched}");
    assert_eq!(patched["name"]["familyName"], "Lovelace");
    let (_, p) = s.platform_get(&format!("/api/v1/users/{id}")).await;
    assert_eq!(p["data"]["last_name"], "Lovelace");

    // disable, then enable
    for (active, status) in [(false, "disabled"), (true, "active")] {
        let (st, b) = s
            .scim(
                Method::PATCH,
                &format!("/Users/{id}"),
                Some(patch(
                    json!([{"op": "replace", "path": "active", "value": active}]),
                )),
            )
            .await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["active"], active);
        let (_, p) = s.platform_get(&format!("/api/v1/users/{id}")).await;
        assert_eq!(p["data"]["status"], status);
    }

    // delete, then 404 on SCIM and on the platform
    let (st, _) = s.scim(Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(st, 204);
    let (st, gone) = s.scim(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(st, 404);
    assert_eq!(gone["status"], "404");
    let (st, _) = s.platform_get(&format!("/api/v1/users/{id}")).await;
    assert_eq!(st, 404);
    s.stop().await;
}

#[tokio::test]
async fn a_patch_that_changes_nothing_writes_nothing() {
    let s = Stack::start("").await;
    let (_, created) = s
        .scim(
            Method::POST,
            "/Users",
            Some(user("same@x.com", "Same", "Value")),
        )
        .await;
    let id = created["id"].as_str().expect("id").to_owned();
    s.platform.platform().reset_calls();
    let (st, _) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(
                json!([{"op": "replace", "path": "name.givenName", "value": "Same"}]),
            )),
        )
        .await;
    assert_eq!(st, 200);
    let calls = s.calls();
    assert_eq!(calls.get("GET", "/api/v1/users/{id}"), 1);
    assert_eq!(calls.get("PATCH", "/api/v1/users/{id}"), 0, "{calls}");
    assert_eq!(calls.total(), 1, "{calls}");
    s.stop().await;
}

#[tokio::test]
async fn group_lifecycle_with_idempotent_member_changes() {
    let s = Stack::start("group_patch_response = \"resource\"\n").await;
    let mut ids = Vec::new();
    for n in ["a", "b", "c"] {
        let (st, u) = s
            .scim(
                Method::POST,
                "/Users",
                Some(user(&format!("{n}@x.com"), n, n)),
            )
            .await;
        assert_eq!(st, 201);
        ids.push(u["id"].as_str().expect("id").to_owned());
    }
    let (st, g) = s
        .scim(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Engineering", "members": [{"value": ids[0]}]})),
        )
        .await;
    assert_eq!(st, 201, "{g}");
    let gid = g["id"].as_str().expect("id").to_owned();
    let members = |v: &Value| -> Vec<String> {
        v["members"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["value"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(members(&g), vec![ids[0].clone()]);

    // add two (one already a member: the platform answers 409, the sidecar treats it as done)
    let (st, after) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(patch(json!([{"op": "add", "path": "members", "value": [{"value": ids[0]}, {"value": ids[1]}, {"value": ids[2]}]}]))),
        )
        .await;
    assert_eq!(st, 200, "{after}");
    let mut m = members(&after);
    m.sort();
    assert_eq!(m, ids);

    // remove one, and one that is not a member (the platform answers 404)
    let (st, _) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(patch(json!([
                {"op": "remove", "path": format!("members[value eq \"{}\"]", ids[1])},
                {"op": "remove", "path": "members[value eq \"999\"]"},
            ]))),
        )
        .await;
    assert_eq!(st, 200);
    let (_, pm) = s
        .platform_get(&format!("/api/v1/groups/{gid}/members"))
        .await;
    let platform_members: Vec<u64> = pm["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|x| x["user_id"].as_u64())
        .collect();
    let expected: Vec<u64> = [&ids[0], &ids[2]]
        .iter()
        .map(|i| i.parse().expect("int"))
        .collect();
    assert_eq!(platform_members, expected);

    // rename
    let (st, renamed) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}?excludedAttributes=members"),
            Some(patch(
                json!([{"op": "replace", "path": "displayName", "value": "Eng"}]),
            )),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(renamed["displayName"], "Eng");
    assert!(
        renamed.get("members").is_none(),
        "excludedAttributes=members is honoured"
    );
    let (_, pg) = s.platform_get(&format!("/api/v1/groups/{gid}")).await;
    assert_eq!(pg["data"]["name"], "Eng");

    // delete
    let (st, _) = s
        .scim(Method::DELETE, &format!("/Groups/{gid}"), None)
        .await;
    assert_eq!(st, 204);
    let (st, _) = s.platform_get(&format!("/api/v1/groups/{gid}")).await;
    assert_eq!(st, 404);
    s.stop().await;
}

#[tokio::test]
async fn a_pushed_down_user_name_lookup_makes_exactly_one_platform_call() {
    let s = Stack::start("").await;
    s.platform.platform().seed_users(1000);
    s.platform.platform().reset_calls();
    let (st, found) = s
        .scim(
            Method::GET,
            "/Users?filter=userName+eq+%22user500%40example.com%22",
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["userName"], "user500@example.com");
    let calls = s.calls();
    assert_eq!(calls.total(), 1, "{calls}");
    assert_eq!(calls.get("GET", "/api/v1/users"), 1);

    // Entra's value-path lookup pushes down too.
    s.platform.platform().reset_calls();
    let (_, found) = s
        .scim(
            Method::GET,
            "/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22USER7%40example.com%22",
            None,
        )
        .await;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(s.calls().total(), 1);

    // id eq is a read by id
    s.platform.platform().reset_calls();
    let (_, found) = s
        .scim(Method::GET, "/Users?filter=id+eq+%2242%22", None)
        .await;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(s.calls().get("GET", "/api/v1/users/{id}"), 1);
    assert_eq!(s.calls().total(), 1);
    s.stop().await;
}

#[tokio::test]
async fn adding_one_member_to_a_10000_member_group_is_one_call_and_reads_no_member_list() {
    let s = Stack::start("").await;
    let p = s.platform.platform();
    let ids = p.seed_users(10_001);
    let gid = p.seed_group("big", &ids[..10_000]);
    p.reset_calls();
    let (st, _) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}?excludedAttributes=members"),
            Some(patch(json!([{"op": "add", "path": "members", "value": [{"value": ids[10_000].to_string()}]}]))),
        )
        .await;
    assert_eq!(st, 204, "the entra profile answers a group PATCH with 204");
    let calls = s.calls();
    assert_eq!(
        calls.get("POST", "/api/v1/groups/{id}/members"),
        1,
        "{calls}"
    );
    assert_eq!(
        calls.get("GET", "/api/v1/groups/{id}/members"),
        0,
        "{calls}"
    );
    assert_eq!(calls.total(), 1, "{calls}");

    // and GET with excludedAttributes=members makes no member-list call either
    p.reset_calls();
    let (st, g) = s
        .scim(
            Method::GET,
            &format!("/Groups/{gid}?excludedAttributes=members"),
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert!(g.get("members").is_none());
    assert_eq!(s.calls().get("GET", "/api/v1/groups/{id}/members"), 0);
    assert_eq!(s.calls().total(), 1);
    s.stop().await;
}

#[tokio::test]
async fn a_filter_that_cannot_be_pushed_down_pages_through_the_platform_and_pages_correctly() {
    let s = Stack::start("").await;
    let p = s.platform.platform();
    p.seed_users(250);
    p.reset_calls();
    // seeded users are "User <id>": familyName ends with 5 for 25 of 250 users
    let (st, page) = s
        .scim(
            Method::GET,
            "/Users?filter=name.familyName+ew+%225%22&startIndex=11&count=10",
            None,
        )
        .await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["totalResults"], 25);
    assert_eq!(page["startIndex"], 11);
    assert_eq!(page["itemsPerPage"], 10);
    let names: Vec<&str> = page["Resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["name"]["familyName"].as_str())
        .collect();
    let expected: Vec<String> = (0..25)
        .map(|i| (i * 10 + 5).to_string())
        .skip(10)
        .take(10)
        .collect();
    assert_eq!(names, expected);
    assert_eq!(
        s.calls().get("GET", "/api/v1/users"),
        3,
        "250 users at 100 per page"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_scan_past_the_limit_is_refused_with_too_many() {
    let mapping =
        scim_sidecar::demo::MAPPING_TOML.replace("scan_limit = 10000", "scan_limit = 150");
    let s = Stack::start_with("", Some(&mapping)).await;
    s.platform.platform().seed_users(300);
    let (st, e) = s
        .scim(
            Method::GET,
            "/Users?filter=name.familyName+ew+%225%22",
            None,
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(e["scimType"], "tooMany");
    assert!(
        e["detail"].as_str().is_some_and(|d| d.contains("userName")),
        "{e}"
    );
    s.stop().await;
}

#[tokio::test]
async fn unfiltered_lists_page_through_the_platforms_own_paging() {
    let s = Stack::start("").await;
    s.platform.platform().seed_users(150);
    s.platform.platform().reset_calls();
    let (st, page) = s
        .scim(Method::GET, "/Users?startIndex=95&count=10", None)
        .await;
    assert_eq!(st, 200);
    assert_eq!(page["totalResults"], 150);
    let ids: Vec<&str> = page["Resources"]
        .as_array()
        .expect("r")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        (95..105)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        s.calls().get("GET", "/api/v1/users"),
        2,
        "pages 1 and 2 only"
    );
    let (_, empty) = s
        .scim(Method::GET, "/Users?startIndex=500&count=10", None)
        .await;
    assert_eq!(empty["totalResults"], 150);
    assert_eq!(empty["Resources"], json!([]));
    s.stop().await;
}

#[tokio::test]
async fn platform_errors_map_to_scim_errors_without_echoing_the_platform() {
    let s = Stack::start("").await;
    let (st, _) = s
        .scim(Method::POST, "/Users", Some(user("dup@x.com", "D", "U")))
        .await;
    assert_eq!(st, 201);
    let (st, e) = s
        .scim(Method::POST, "/Users", Some(user("DUP@x.com", "D", "U")))
        .await;
    assert_eq!(st, 409);
    assert_eq!(e["scimType"], "uniqueness");
    assert!(
        !e.to_string().contains("email_taken"),
        "platform body not echoed: {e}"
    );

    let (st, e) = s.scim(Method::GET, "/Users/424242", None).await;
    assert_eq!((st, e["status"].as_str()), (404, Some("404")));

    s.platform
        .platform()
        .set_fault(Some(scim_sidecar::demo::Fault::Status(500)));
    let (st, e) = s.scim(Method::GET, "/Users/1", None).await;
    assert_eq!(st, 502, "{e}");
    assert!(!e.to_string().contains("injected"), "{e}");
    s.platform
        .platform()
        .set_fault(Some(scim_sidecar::demo::Fault::Garbage));
    let (st, _) = s.scim(Method::GET, "/Users/1", None).await;
    assert_eq!(st, 502);
    s.platform.platform().set_fault(None);

    // a user without the e-mail the platform needs: a clear 400, and nothing created
    s.platform.platform().reset_calls();
    let (st, e) = s
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "", "name": {"givenName": "No"}})),
        )
        .await;
    assert_eq!(st, 400, "{e}");
    assert_eq!(s.calls().get("POST", "/api/v1/users"), 0);
    s.stop().await;
}

#[tokio::test]
async fn platform_timeouts_are_504() {
    let mapping = scim_sidecar::demo::MAPPING_TOML
        .replace("timeout = \"10s\"", "timeout = \"300ms\"")
        .replace("retries = 2", "retries = 0");
    let s = Stack::start_with("", Some(&mapping)).await;
    s.platform
        .platform()
        .set_fault(Some(scim_sidecar::demo::Fault::Delay(
            std::time::Duration::from_secs(2),
        )));
    let (st, e) = s.scim(Method::GET, "/Users/1", None).await;
    assert_eq!(st, 504, "{e}");
    s.platform.platform().set_fault(None);
    s.stop().await;
}

#[tokio::test]
async fn hostile_ids_never_reach_another_platform_path() {
    let s = Stack::start("").await;
    s.platform.platform().seed_users(3);
    s.platform.platform().reset_calls();
    for id in [
        "..%2Fadmin",
        "1%2F2",
        "%2E%2E",
        "1%3Fx%3D1",
        "1%23frag",
        "-1",
        "1e3",
    ] {
        let (st, e) = s.scim(Method::GET, &format!("/Users/{id}"), None).await;
        assert_eq!(st, 404, "{id}: {e}");
        let (st, _) = s.scim(Method::DELETE, &format!("/Users/{id}"), None).await;
        assert_eq!(st, 404, "{id}");
    }
    assert_eq!(
        s.calls().total(),
        0,
        "integer ids: hostile ids never reach the platform"
    );
    s.stop().await;
}

#[tokio::test]
async fn discovery_publishes_only_what_the_mapping_maps() {
    let s = Stack::start("").await;
    let (_, schemas) = s.scim(Method::GET, "/Schemas", None).await;
    let ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .expect("r")
        .iter()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [USER, GROUP],
        "no enterprise extension: nothing of it is mapped"
    );
    let (_, u) = s.scim(Method::GET, &format!("/Schemas/{USER}"), None).await;
    let names: Vec<&str> = u["attributes"]
        .as_array()
        .expect("a")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["userName", "name", "displayName", "active", "emails"]
    );
    let emails = &u["attributes"][4];
    assert_eq!(emails["required"], true, "the platform needs an e-mail");
    let subs: Vec<&str> = emails["subAttributes"]
        .as_array()
        .expect("subs")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(subs, ["value", "type"]);
    assert_eq!(
        emails["subAttributes"][1]["canonicalValues"],
        json!(["work"])
    );
    assert_eq!(
        emails["subAttributes"][1]["required"], true,
        "the element must be the work one"
    );
    assert_eq!(u["attributes"][2]["mutability"], "readWrite");
    assert_eq!(
        u["attributes"][3]["required"], true,
        "every platform user has a status"
    );
    let (_, rt) = s.scim(Method::GET, "/ResourceTypes/User", None).await;
    assert!(rt.get("schemaExtensions").is_none());
    s.stop().await;
}
