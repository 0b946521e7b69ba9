//! Real platform shapes lose nothing (issue 12): a PUT-only platform keeps the fields the mapping
//! does not cover; concurrent member changes to a group stored as an array all land (one replica:
//! the per-resource lock; several: the platform's ETag or version field); `unknown_members` and
//! member audit events hold in every membership mode; locations keep unreserved characters.
//! The platform is tests/support/third.rs, read through its own state, never through the sidecar.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::Stack;
use support::third::{Check, Third};

const MAPPING: &str = include_str!("fixtures/mappings/third.toml");
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The third mapping with membership held on each user (`teams`), listed with `?team=`.
fn on_user_mapping() -> String {
    let (head, _) = MAPPING
        .split_once("[groups.members]")
        .expect("members section");
    format!(
        "{head}[groups.members]\nmode = \"on_user\"\nuser_field = \"teams\"\nparam = \"team\"\n"
    )
}

async fn start_with(third: &Third, scim_extra: &str, mapping: &str) -> Stack {
    let demo = scim_sidecar::demo::Platform::spawn("unused")
        .await
        .expect("demo");
    Stack::start_against(demo, &third.base_url(), scim_extra, Some(mapping)).await
}

async fn start(scim_extra: &str, mapping: &str) -> (Stack, Third) {
    let third = Third::spawn().await;
    let stack = start_with(&third, scim_extra, mapping).await;
    (stack, third)
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

async fn create_user(s: &Stack, login: &str) -> String {
    let (st, u) = s
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": login, "name": {"givenName": "Ada", "familyName": "Lovelace"},
                        "emails": [{"type": "work", "value": login.to_uppercase()}]})),
        )
        .await;
    assert_eq!(st, 201, "{u}");
    u["id"].as_str().expect("id").to_owned()
}

async fn create_group(s: &Stack, name: &str) -> String {
    let (st, g) = s
        .scim(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": name})),
        )
        .await;
    assert_eq!(st, 201, "{g}");
    g["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn a_patch_of_active_through_replace_keeps_every_field_the_mapping_does_not_cover() {
    let (s, p) = start("", MAPPING).await;
    let id = create_user(&s, "ada@example.com").await;
    // Fields another client of the platform set, which no mapping covers.
    p.set_person_field(&id, "phone", json!("+1 555 0100"));
    p.set_person_field(
        &id,
        "attributes",
        json!({"department": ["Sales"], "costCenter": ["42"]}),
    );
    let before = p.person(&id).expect("person");

    // Entra quirk 1 and 2: capitalised op, "False" as a string.
    let (st, body) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
            )),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["active"], false);
    let after = p.person(&id).expect("person");
    assert_eq!(after["enabled"], false);
    for field in [
        "phone",
        "attributes",
        "login",
        "given",
        "family",
        "email",
        "teams",
    ] {
        assert_eq!(after[field], before[field], "{field} kept: {after}");
    }
    assert_eq!(p.count("PUT", "/people/"), 1, "one full write");
    assert_eq!(p.count("PATCH", "/"), 0, "the platform has no PATCH");

    // A SCIM PUT still clears the mapped attributes it leaves out, and keeps the unmapped ones.
    let (st, body) = s
        .scim(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [USER], "userName": "ada@example.com", "name": {"givenName": "Augusta"}, "active": true})),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let put = p.person(&id).expect("person");
    assert_eq!(put["given"], "Augusta");
    assert!(
        put.get("family").is_none() && put.get("email").is_none(),
        "mapped fields the PUT left out are cleared: {put}"
    );
    assert_eq!(put["phone"], "+1 555 0100");
    assert_eq!(put["attributes"], before["attributes"]);
    s.stop().await;
}

#[tokio::test]
async fn preserve_unmapped_false_writes_only_the_mapped_fields() {
    let mapping = MAPPING.replace(
        "[users.replace]\npath = \"/people/{id}\"",
        "[users.replace]\npath = \"/people/{id}\"\npreserve_unmapped = false",
    );
    assert_ne!(mapping, MAPPING);
    let (s, p) = start("", &mapping).await;
    let id = create_user(&s, "opt@example.com").await;
    p.set_person_field(&id, "phone", json!("+1 555 0100"));
    let (st, _) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": false}]),
            )),
        )
        .await;
    assert_eq!(st, 200);
    let after = p.person(&id).expect("person");
    assert_eq!(after["enabled"], false);
    assert!(
        after.get("phone").is_none(),
        "the opt-out sends the mapped fields only, for platforms that refuse unknown ones: {after}"
    );
    s.stop().await;
}

#[tokio::test]
async fn renaming_an_embedded_group_keeps_its_members_and_unmapped_fields() {
    let (s, p) = start("group_patch_response = \"resource\"\n", MAPPING).await;
    let u = create_user(&s, "m@example.com").await;
    let g = create_group(&s, "Team").await;
    let (st, _) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{g}"),
            Some(patch(
                json!([{"op": "add", "path": "members", "value": [{"value": u}]}]),
            )),
        )
        .await;
    assert_eq!(st, 200);
    {
        let mut state = p.state.lock().expect("lock");
        state.teams.get_mut(&g).expect("team")["color"] = json!("teal");
    }
    let (st, body) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{g}"),
            Some(patch(
                json!([{"op": "replace", "path": "displayName", "value": "Team 2"}]),
            )),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let team = p.team(&g).expect("team");
    assert_eq!(team["name"], "Team 2");
    assert_eq!(team["members"], json!([u]), "members kept: {team}");
    assert_eq!(team["color"], "teal");
    s.stop().await;
}

/// Sends `n` concurrent PATCHes to one group, each adding (or removing) one member.
async fn concurrent_member_changes(stacks: &[&Stack], group: &str, users: &[String], add: bool) {
    let mut tasks = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let s = stacks[i % stacks.len()];
        let url = s.url(&format!("/Groups/{group}"));
        let client = s.client.clone();
        let op = if add {
            json!({"op": "add", "path": "members", "value": [{"value": u}]})
        } else {
            json!({"op": "remove", "path": format!("members[value eq \"{u}\"]")})
        };
        tasks.push(tokio::spawn(async move {
            client
                .patch(url)
                .header("authorization", support::bearer(support::TOKEN))
                .header("content-type", "application/scim+json")
                .body(patch(json!([op])).to_string())
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task").expect("request"), 204);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_member_adds_to_one_embedded_group_all_land_and_so_do_the_removes() {
    let (s, p) = start("", MAPPING).await;
    // A slow read widens the window in which two read-modify-writes would overwrite each other.
    let users: Vec<String> = (0..50).map(|i| p.add_person(&format!("u{i}"))).collect();
    let g = create_group(&s, "Crowd").await;
    p.set_read_delay(Duration::from_millis(2));

    concurrent_member_changes(&[&s], &g, &users, true).await;
    let mut want = users.clone();
    want.sort();
    assert_eq!(p.team_members(&g), want, "all 50 adds landed");

    concurrent_member_changes(&[&s], &g, &users, false).await;
    assert_eq!(
        p.team_members(&g),
        Vec::<String>::new(),
        "all 50 removes landed"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_lose_no_member_change_when_the_platform_checks_versions() {
    for (check, concurrency) in [
        (
            Check::Etag,
            "[groups.concurrency]\netag = true\nattempts = 10\n",
        ),
        (
            Check::Version,
            "[groups.concurrency]\nversion_field = \"version\"\nattempts = 10\n",
        ),
    ] {
        let mapping = format!("{MAPPING}\n{concurrency}");
        let third = Third::spawn().await;
        let a = start_with(&third, "", &mapping).await;
        let b = start_with(&third, "", &mapping).await;
        let users: Vec<String> = (0..20)
            .map(|i| third.add_person(&format!("r{i}")))
            .collect();
        let g = create_group(&a, "Shared").await;
        third.set_check(check);
        third.set_read_delay(Duration::from_millis(3));

        concurrent_member_changes(&[&a, &b], &g, &users, true).await;
        let mut want = users.clone();
        want.sort();
        assert_eq!(
            third.team_members(&g),
            want,
            "{check:?}: all 20 adds landed"
        );
        assert!(
            third.conflicts() > 0,
            "{check:?}: the replicas raced, the platform refused stale writes and they were re-applied"
        );
        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test]
async fn unknown_members_are_honoured_when_members_are_embedded_and_when_they_are_on_the_user() {
    for mapping in [MAPPING.to_owned(), on_user_mapping()] {
        let embedded = mapping == MAPPING;
        // reject: 400 naming the id, nothing changed
        let (s, p) = start("unknown_members = \"reject\"\n", &mapping).await;
        let u = create_user(&s, "k@example.com").await;
        let g = create_group(&s, "Known").await;
        let writes = p.count("PUT", "/");
        let (st, body) = s
            .scim(
                Method::PATCH,
                &format!("/Groups/{g}"),
                Some(patch(
                    json!([{"op": "add", "path": "members", "value": [{"value": u}, {"value": "no-such-user"}]}]),
                )),
            )
            .await;
        assert_eq!(st, 400, "embedded={embedded}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("no-such-user")),
            "{body}"
        );
        if embedded {
            assert_eq!(p.team_members(&g), Vec::<String>::new(), "nothing written");
            assert_eq!(p.count("PUT", "/"), writes, "no write at all");
        } else {
            assert_eq!(
                p.person(&u).expect("person")["teams"],
                json!([]),
                "the member added before the unknown one was taken back"
            );
        }
        s.stop().await;

        // ignore: the unknown id is not written, the known one is
        let (s, p) = start("unknown_members = \"ignore\"\n", &mapping).await;
        let u = create_user(&s, "k@example.com").await;
        let g = create_group(&s, "Known").await;
        let (st, _) = s
            .scim(
                Method::PATCH,
                &format!("/Groups/{g}"),
                Some(patch(
                    json!([{"op": "add", "path": "members", "value": [{"value": "no-such-user"}, {"value": u}]}]),
                )),
            )
            .await;
        assert_eq!(st, 204, "embedded={embedded}");
        if embedded {
            assert_eq!(p.team_members(&g), vec![u.clone()]);
        } else {
            assert_eq!(p.person(&u).expect("person")["teams"], json!([g]));
            assert!(p.person("no-such-user").is_none());
        }
        s.stop().await;
    }
}

/// A writer collecting the JSON log lines of the test binary's one subscriber.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    /// The log lines of the process (a global subscriber, installed once: every test thread and
    /// every runtime logs to it).
    fn global() -> &'static Lines {
        static LINES: std::sync::OnceLock<Lines> = std::sync::OnceLock::new();
        LINES.get_or_init(|| {
            let lines = Lines::default();
            let writer = lines.clone();
            let subscriber = tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .with_target(true)
                .with_writer(move || writer.clone())
                .with_max_level(tracing::Level::INFO)
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
            lines
        })
    }

    /// The audit events about one group: (event, member).
    fn audit_of(&self, group: &str) -> Vec<(String, String)> {
        let bytes = self.0.lock().expect("lock").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["target"] == "scim_sidecar::audit" && v["scim_id"] == group)
            .map(|v| {
                (
                    v["event"].as_str().unwrap_or("").to_owned(),
                    v["member"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn member_changes_are_audited_when_members_are_embedded_and_when_they_are_on_the_user() {
    let lines = Lines::global();
    for mapping in [MAPPING.to_owned(), on_user_mapping()] {
        let (s, _p) = start("", &mapping).await;
        let u = create_user(&s, "audit@example.com").await;
        let g = create_group(&s, "Audited").await;
        for op in [
            json!({"op": "add", "path": "members", "value": [{"value": u}]}),
            json!({"op": "remove", "path": format!("members[value eq \"{u}\"]")}),
        ] {
            let (st, _) = s
                .scim(
                    Method::PATCH,
                    &format!("/Groups/{g}"),
                    Some(patch(json!([op]))),
                )
                .await;
            assert_eq!(st, 204);
        }
        let members: Vec<(String, String)> = lines
            .audit_of(&g)
            .into_iter()
            .filter(|(e, _)| e.starts_with("group.member"))
            .collect();
        assert_eq!(
            members,
            [
                ("group.member_added".to_owned(), u.clone()),
                ("group.member_removed".to_owned(), u.clone())
            ],
            "{mapping}"
        );
        s.stop().await;
    }
}

#[tokio::test]
async fn locations_and_member_refs_keep_unreserved_characters() {
    let (s, _p) = start("group_patch_response = \"resource\"\n", MAPPING).await;
    let u = create_user(&s, "loc@example.com").await;
    assert!(u.contains('-') && u.contains('_') && u.contains('.'), "{u}");
    let (st, user) = s.scim(Method::GET, &format!("/Users/{u}"), None).await;
    assert_eq!(st, 200);
    let loc = user["meta"]["location"].as_str().expect("location");
    assert!(loc.ends_with(&format!("/Users/{u}")), "{loc}");
    let g = create_group(&s, "Refs").await;
    let (st, group) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{g}"),
            Some(patch(
                json!([{"op": "add", "path": "members", "value": [{"value": u}]}]),
            )),
        )
        .await;
    assert_eq!(st, 200);
    let r = group["members"][0]["$ref"].as_str().expect("$ref");
    assert!(r.ends_with(&format!("/Users/{u}")), "{r}");
    s.stop().await;
}

#[tokio::test]
async fn a_member_change_to_an_unknown_group_is_a_404_not_a_success_hidden_by_not_member() {
    // The demo platform answers 404 both to "not a member" and to "no such group".
    let s = Stack::start("").await;
    let remove = patch(json!([{"op": "remove", "path": "members[value eq \"1\"]"}]));
    let (st, body) = s
        .scim(Method::PATCH, "/Groups/424242", Some(remove.clone()))
        .await;
    assert_eq!(st, 404, "{body}");
    let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": "1"}]}]));
    let (st, body) = s.scim(Method::PATCH, "/Groups/424242", Some(add)).await;
    assert_eq!(st, 404, "{body}");

    // A real group and a user who is not a member: removing is "already so", a success.
    let (_, u) = s
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "nm@example.com", "emails": [{"type": "work", "value": "nm@example.com"}]})),
        )
        .await;
    let uid = u["id"].as_str().expect("id");
    let g = create_group(&s, "Real").await;
    let remove = patch(json!([{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]));
    let (st, body) = s
        .scim(Method::PATCH, &format!("/Groups/{g}"), Some(remove))
        .await;
    assert_eq!(st, 204, "{body}");
    s.stop().await;
}

#[tokio::test]
async fn member_answers_can_be_told_apart_by_the_platform_body() {
    // `already_member` only when the 409 says so in its body.
    let narrow = scim_sidecar::demo::MAPPING_TOML.replace(
        "already_member = [409]",
        "already_member = [{ status = 409, when = \"$.error\", equals = \"already_member\" }]",
    );
    let other = scim_sidecar::demo::MAPPING_TOML.replace(
        "already_member = [409]",
        "already_member = [{ status = 409, when = \"$.error\", equals = \"duplicate\" }]",
    );
    assert_ne!(narrow, scim_sidecar::demo::MAPPING_TOML);
    for (mapping, re_add) in [(narrow, 204), (other, 409)] {
        let s = Stack::start_with("", Some(&mapping)).await;
        let (_, u) = s
            .scim(
                Method::POST,
                "/Users",
                Some(json!({"schemas": [USER], "userName": "re@example.com", "emails": [{"type": "work", "value": "re@example.com"}]})),
            )
            .await;
        let uid = u["id"].as_str().expect("id").to_owned();
        let g = create_group(&s, "Twice").await;
        let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
        let (st, _) = s
            .scim(Method::PATCH, &format!("/Groups/{g}"), Some(add.clone()))
            .await;
        assert_eq!(st, 204);
        let (st, body) = s
            .scim(Method::PATCH, &format!("/Groups/{g}"), Some(add))
            .await;
        assert_eq!(st, re_add, "{body}");
        s.stop().await;
    }
}

#[tokio::test]
async fn unknown_members_are_honoured_when_members_are_separate_calls() {
    // The demo platform answers 422 "unknown user" to adding an id that names no user.
    for (policy, status) in [("reject", 400), ("ignore", 204)] {
        let s = Stack::start(&format!("unknown_members = \"{policy}\"\n")).await;
        let (_, u) = s
            .scim(
                Method::POST,
                "/Users",
                Some(json!({"schemas": [USER], "userName": "c@example.com", "emails": [{"type": "work", "value": "c@example.com"}]})),
            )
            .await;
        let uid = u["id"].as_str().expect("id").to_owned();
        let g = create_group(&s, "Calls").await;
        let (st, body) = s
            .scim(
                Method::PATCH,
                &format!("/Groups/{g}"),
                Some(patch(
                    json!([{"op": "add", "path": "members", "value": [{"value": uid}, {"value": "999999"}]}]),
                )),
            )
            .await;
        assert_eq!(st, status, "{policy}: {body}");
        let (_, members) = s.platform_get(&format!("/api/v1/groups/{g}/members")).await;
        let held: Vec<u64> = members["data"]
            .as_array()
            .expect("members")
            .iter()
            .filter_map(|m| m["user_id"].as_u64())
            .collect();
        if policy == "reject" {
            assert!(
                body["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("999999")),
                "{body}"
            );
            assert!(held.is_empty(), "nothing changed: {held:?}");
        } else {
            assert_eq!(held, vec![uid.parse::<u64>().expect("int")]);
        }
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_groups_adding_one_user_at_once_all_land_when_membership_is_on_the_user() {
    // Each add reads the user and writes its `teams` array back whole: the user's lock makes
    // the twenty read-modify-writes take turns.
    let (s, p) = start("", &on_user_mapping()).await;
    let u = p.add_person("shared");
    let mut groups = Vec::new();
    for i in 0..20 {
        groups.push(create_group(&s, &format!("G{i}")).await);
    }
    p.set_read_delay(Duration::from_millis(2));
    let mut tasks = Vec::new();
    for g in &groups {
        let url = s.url(&format!("/Groups/{g}"));
        let client = s.client.clone();
        let body = patch(json!([{"op": "add", "path": "members", "value": [{"value": u}]}]));
        tasks.push(tokio::spawn(async move {
            client
                .patch(url)
                .header("authorization", support::bearer(support::TOKEN))
                .header("content-type", "application/scim+json")
                .body(body.to_string())
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task").expect("request"), 204);
    }
    let mut held: Vec<String> = p.person(&u).expect("person")["teams"]
        .as_array()
        .expect("teams")
        .iter()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect();
    held.sort();
    groups.sort();
    assert_eq!(held, groups, "all 20 memberships landed on the user");
    s.stop().await;
}
