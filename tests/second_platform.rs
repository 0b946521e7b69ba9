//! The mapping language bends to a platform shaped nothing like the demo one
//! (tests/support/second.rs, tests/fixtures/mappings/second.toml): string ids, nested fields,
//! offset paging with `X-Total-Count`, a dedicated deactivate call, members embedded in the team.
//! Same binary, no code change.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::Stack;
use support::second::Second;

const MAPPING: &str = include_str!("fixtures/mappings/second.toml");
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn start() -> (Stack, Second) {
    let second = Second::spawn().await;
    let demo = scim_sidecar::demo::Platform::spawn("unused")
        .await
        .expect("demo");
    let stack = Stack::start_against(
        demo,
        &second.base_url(),
        "group_patch_response = \"resource\"\n",
        Some(MAPPING),
    )
    .await;
    (stack, second)
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

#[tokio::test]
async fn users_round_trip_through_nested_fields_string_ids_and_an_extension() {
    let (s, p) = start().await;
    let (st, u) = s
        .scim(
            Method::POST,
            "/Users",
            Some(json!({
                "schemas": [USER, ENTERPRISE],
                "userName": "grace",
                "name": {"givenName": "Grace", "familyName": "Hopper"},
                ENTERPRISE: {"employeeNumber": "1906"}
            })),
        )
        .await;
    assert_eq!(st, 201, "{u}");
    assert_eq!(u["id"], "acc_1");
    assert_eq!(u[ENTERPRISE]["employeeNumber"], "1906");
    assert!(
        u["schemas"]
            .as_array()
            .is_some_and(|a| a.contains(&json!(ENTERPRISE)))
    );
    assert_eq!(u["active"], true);
    let acc = p.account("acc_1").expect("account");
    assert_eq!(acc["profile"], json!({"first": "Grace", "last": "Hopper"}));
    assert_eq!(acc["hr"]["number"], "1906");

    let (st, found) = s
        .scim(Method::GET, "/Users?filter=userName+eq+%22GRACE%22", None)
        .await;
    assert_eq!(st, 200);
    assert_eq!(found["totalResults"], 1);
    assert!(
        p.log()
            .iter()
            .any(|(m, q)| m == "GET" && q == "/v2/accounts?login=GRACE&offset=0&limit=2"),
        "{:?}",
        p.log()
    );
    s.stop().await;
}

#[tokio::test]
async fn deactivation_goes_through_the_dedicated_call() {
    let (s, p) = start().await;
    let (_, u) = s
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "linus"})),
        )
        .await;
    let id = u["id"].as_str().expect("id").to_owned();
    p.clear_log();
    let (st, off) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": false}]),
            )),
        )
        .await;
    assert_eq!(st, 200, "{off}");
    assert_eq!(off["active"], false);
    assert_eq!(p.count("POST", &format!("/v2/accounts/{id}/deactivate")), 1);
    assert_eq!(
        p.count("PUT", "/v2/accounts"),
        0,
        "no field changed, so no PUT: {:?}",
        p.log()
    );
    assert_eq!(p.account(&id).expect("acc")["enabled"], false);

    let (st, on) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": true}]),
            )),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(on["active"], true);
    assert_eq!(p.count("POST", &format!("/v2/accounts/{id}/activate")), 1);

    // created inactive: create, then the deactivate call
    let (st, u2) = s
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "off", "active": false})),
        )
        .await;
    assert_eq!(st, 201);
    assert_eq!(u2["active"], false);
    s.stop().await;
}

#[tokio::test]
async fn offset_paging_with_a_header_total_lists_every_user() {
    let (s, p) = start().await;
    for i in 0..5 {
        let (st, _) = s
            .scim(
                Method::POST,
                "/Users",
                Some(json!({"schemas": [USER], "userName": format!("u{i}")})),
            )
            .await;
        assert_eq!(st, 201);
    }
    p.clear_log();
    let (st, page) = s
        .scim(Method::GET, "/Users?startIndex=2&count=3", None)
        .await;
    assert_eq!(st, 200);
    assert_eq!(page["totalResults"], 5);
    let names: Vec<&str> = page["Resources"]
        .as_array()
        .expect("r")
        .iter()
        .filter_map(|r| r["userName"].as_str())
        .collect();
    assert_eq!(names, ["u1", "u2", "u3"]);
    assert_eq!(
        p.count("GET", "/v2/accounts?"),
        2,
        "offset 1 limit 2, then offset 3: {:?}",
        p.log()
    );
    let (_, all) = s
        .scim(Method::GET, "/Users?filter=userName+sw+%22u%22", None)
        .await;
    assert_eq!(all["totalResults"], 5);
    s.stop().await;
}

#[tokio::test]
async fn embedded_members_are_written_with_the_team() {
    let (s, p) = start().await;
    let mut ids = Vec::new();
    for n in ["a", "b"] {
        let (_, u) = s
            .scim(
                Method::POST,
                "/Users",
                Some(json!({"schemas": [USER], "userName": n})),
            )
            .await;
        ids.push(u["id"].as_str().expect("id").to_owned());
    }
    let (st, g) = s
        .scim(Method::POST, "/Groups", Some(json!({"schemas": [GROUP], "displayName": "Compilers", "members": [{"value": ids[0]}]})))
        .await;
    assert_eq!(st, 201, "{g}");
    let key = g["id"].as_str().expect("key").to_owned();
    assert_eq!(p.team(&key).expect("team")["member_uids"], json!([ids[0]]));

    let (st, g2) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{key}"),
            Some(patch(
                json!([{"op": "add", "path": "members", "value": [{"value": ids[1]}]}]),
            )),
        )
        .await;
    assert_eq!(st, 200, "{g2}");
    assert_eq!(
        p.team(&key).expect("team")["member_uids"],
        json!([ids[0], ids[1]])
    );
    assert_eq!(g2["members"].as_array().map(Vec::len), Some(2));

    let (st, _) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{key}"),
            Some(patch(
                json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[0])}]),
            )),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(p.team(&key).expect("team")["member_uids"], json!([ids[1]]));
    s.stop().await;
}

#[tokio::test]
async fn string_ids_are_encoded_as_one_path_segment() {
    let (s, p) = start().await;
    p.clear_log();
    let (st, _) = s.scim(Method::GET, "/Users/..%2F..%2Fteams", None).await;
    assert_eq!(st, 404);
    let (st, _) = s.scim(Method::GET, "/Users/a%3Fb%3D1", None).await;
    assert_eq!(st, 404);
    let paths: Vec<String> = p.log().into_iter().map(|(_, q)| q).collect();
    assert_eq!(
        paths,
        [
            "/v2/accounts/%2E%2E%2F%2E%2E%2Fteams",
            "/v2/accounts/a%3Fb%3D1"
        ]
    );
    let (st, _) = s.scim(Method::GET, "/Users/..", None).await;
    assert_eq!(st, 404);
    assert_eq!(p.log().len(), 2, "`..` never reaches the platform");
    s.stop().await;
}

#[tokio::test]
async fn a_conflict_maps_through_the_operators_rule() {
    let (s, _p) = start().await;
    let (st, _) = s
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "dup"})),
        )
        .await;
    assert_eq!(st, 201);
    let (st, e) = s
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "DUP"})),
        )
        .await;
    assert_eq!(st, 409);
    assert_eq!(e["detail"], "an account with this login already exists");
    s.stop().await;
}
