//! Real platform shapes mapped without data loss (tests/support/shapes.rs): json-server (no total,
//! a page past the end answered with the last page again) and Keycloak (a separate count call,
//! exact-match search on lowercased usernames, `?q=key:value`, array-valued attributes, one SCIM
//! attribute written to two fields). The mappings are the worked examples of docs/mapping.md.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::Stack;
use support::shapes::{Shapes, USERS};

const NO_TOTAL: &str = include_str!("fixtures/mappings/no_total.toml");
const KEYCLOAK: &str = include_str!("fixtures/mappings/keycloak.toml");
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn start(mapping: &str) -> (Stack, Shapes) {
    let shapes = Shapes::spawn().await;
    let demo = scim_sidecar::demo::Platform::spawn("unused")
        .await
        .expect("demo");
    // The Keycloak mapping keeps userName's case itself (a lowercased copy beside the original),
    // so the sidecar must not lowercase e-mail-shaped user names on the way in (the default since
    // issue 13; kept explicit here because the mapping depends on it).
    let extra = if mapping == KEYCLOAK {
        "lowercase_attributes = [\"emails.value\"]\n"
    } else {
        ""
    };
    let stack = Stack::start_against(demo, &shapes.base_url(), extra, Some(mapping)).await;
    (stack, shapes)
}

fn names(page: &Value) -> Vec<String> {
    page["Resources"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["userName"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The decoded query parameters of a logged request.
fn params(raw: &str) -> Vec<(String, String)> {
    let q = raw.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

// --- no total (json-server) ---

#[tokio::test]
async fn without_a_total_an_unfiltered_page_is_read_not_refused_and_totals_are_lower_bounds() {
    let (s, p) = start(NO_TOTAL).await;
    for i in 1..=7 {
        p.add_person(&format!("p{i}"));
    }
    // The collection (7) is larger than scan_limit (6): reading it all is never needed.
    let (st, first) = s
        .scim(Method::GET, "/Users?startIndex=1&count=2", None)
        .await;
    assert_eq!(st, 200, "{first}");
    assert_eq!(names(&first), ["p1", "p2"]);
    assert_eq!(
        first["totalResults"], 3,
        "more exist: startIndex - 1 + 2 items + 1"
    );
    assert_eq!(
        p.gets("/people"),
        ["/people?_page=1&_per_page=2", "/people?_page=2&_per_page=2"],
        "the window, then one page to know that more exist"
    );

    // Walking the pages as a SCIM client does ends, with every person once.
    let mut seen = Vec::new();
    let mut totals = Vec::new();
    let mut start = 1;
    loop {
        let (st, page) = s
            .scim(
                Method::GET,
                &format!("/Users?startIndex={start}&count=2"),
                None,
            )
            .await;
        assert_eq!(st, 200, "{page}");
        let got = names(&page);
        seen.extend(got.clone());
        let total = page["totalResults"].as_u64().expect("total") as usize;
        totals.push(total);
        if start - 1 + got.len() >= total {
            assert_eq!(total, 7, "the last page knows the exact count");
            break;
        }
        start += got.len();
    }
    assert_eq!(seen, ["p1", "p2", "p3", "p4", "p5", "p6", "p7"]);
    assert_eq!(
        totals,
        [3, 5, 7, 7],
        "a lower bound until the last page, then exact"
    );

    // When the platform page holding the window is the last one, the count is exact at once.
    let (st, one) = s
        .scim(Method::GET, "/Users?startIndex=7&count=1", None)
        .await;
    assert_eq!(st, 200, "{one}");
    assert_eq!(names(&one), ["p7"]);
    assert_eq!(one["totalResults"], 7);
    s.stop().await;
}

#[tokio::test]
async fn without_a_total_link_paging_is_walked_to_the_window_and_no_further_than_needed() {
    let mapping = NO_TOTAL.replace(
        "paging = \"page\"\npage_param = \"_page\"\nsize_param = \"_per_page\"\nfirst_page = 1\n",
        "paging = \"link\"\nquery = { _per_page = \"2\" }\n",
    );
    assert!(mapping.contains("paging = \"link\""));
    let (s, p) = start(&mapping).await;
    for i in 1..=7 {
        p.add_person(&format!("p{i}"));
    }
    let (st, page) = s
        .scim(Method::GET, "/Users?startIndex=3&count=2", None)
        .await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(names(&page), ["p3", "p4"]);
    assert_eq!(page["totalResults"], 5, "more exist: 2 + 2 + 1");
    assert_eq!(
        p.gets("/people"),
        [
            "/people?_per_page=2",
            "/people?_page=2&_per_page=2",
            "/people?_page=3&_per_page=2"
        ],
        "from the start to the window, then one page to know that more exist"
    );
    let (st, last) = s
        .scim(Method::GET, "/Users?startIndex=5&count=5", None)
        .await;
    assert_eq!(st, 200, "{last}");
    assert_eq!(names(&last), ["p5", "p6", "p7"]);
    assert_eq!(last["totalResults"], 7, "the last page was read: exact");
    // Walking to startIndex is bounded by scan_limit (6): the 8th item is out of reach.
    let (st, deep) = s
        .scim(Method::GET, "/Users?startIndex=8&count=1", None)
        .await;
    assert_eq!(st, 400, "{deep}");
    assert_eq!(deep["scimType"], "tooMany");
    assert!(
        deep["detail"]
            .as_str()
            .is_some_and(|d| d.contains("startIndex 8")),
        "{deep}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_page_past_the_end_answered_with_the_last_page_again_is_empty() {
    let (s, p) = start(NO_TOTAL).await;
    for i in 1..=3 {
        p.add_person(&format!("p{i}"));
    }
    p.clear_log();
    let (st, page) = s
        .scim(Method::GET, "/Users?startIndex=101&count=2", None)
        .await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(names(&page), Vec::<String>::new(), "not p3 again: {page}");
    assert_eq!(page["totalResults"], 3);
    assert_eq!(
        p.gets("/people"),
        [
            "/people?_page=51&_per_page=2",
            "/people?_page=50&_per_page=2",
            "/people?_page=1&_per_page=2",
            "/people?_page=2&_per_page=2"
        ],
        "the jump, the page before it (the same: a repeat), then the count, read from the start"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_scan_over_a_repeating_platform_stops_without_duplicates() {
    let (s, p) = start(NO_TOTAL).await;
    for i in 1..=4 {
        p.add_person(&format!("p{i}"));
    }
    p.clear_log();
    // displayName has no rule: evaluated by the sidecar over every page.
    let (st, found) = s
        .scim(
            Method::GET,
            "/Users?filter=displayName+pr+or+userName+pr",
            None,
        )
        .await;
    assert_eq!(st, 200, "{found}");
    assert_eq!(found["totalResults"], 4);
    assert_eq!(names(&found), ["p1", "p2", "p3", "p4"]);
    assert_eq!(
        p.gets("/people").len(),
        3,
        "pages 1 and 2, then page 3 repeats page 2: the end: {:?}",
        p.log()
    );
    s.stop().await;
}

#[tokio::test]
async fn a_looser_prefix_rule_is_rechecked_and_a_stricter_one_is_used_only_when_allowed() {
    let (s, p) = start(NO_TOTAL).await;
    for login in ["alice", "malice", "Bob"] {
        p.add_person(login);
    }
    p.clear_log();
    let (st, found) = s
        .scim(Method::GET, "/Users?filter=userName+sw+%22ali%22", None)
        .await;
    assert_eq!(st, 200, "{found}");
    assert_eq!(
        names(&found),
        ["alice"],
        "malice contains ali, but does not start with it"
    );
    assert_eq!(found["totalResults"], 1);
    let gets = p.gets("/people");
    assert!(
        params(&gets[0]).contains(&("login_like".to_owned(), "ali".to_owned())),
        "{gets:?}"
    );

    // `login` is exact and case-sensitive, allowed anyway: "bob" misses "Bob" (the mapping
    // accepted that); "Bob" finds it with one call.
    p.clear_log();
    let (_, miss) = s
        .scim(Method::GET, "/Users?filter=userName+eq+%22bob%22", None)
        .await;
    assert_eq!(miss["totalResults"], 0);
    let (_, hit) = s
        .scim(Method::GET, "/Users?filter=userName+eq+%22Bob%22", None)
        .await;
    assert_eq!(names(&hit), ["Bob"]);
    assert_eq!(
        p.gets("/people"),
        [
            "/people?login=bob&_page=1&_per_page=2",
            "/people?login=Bob&_page=1&_per_page=2"
        ]
    );
    s.stop().await;
}

#[tokio::test]
async fn ne_is_pushed_down_and_rechecked_and_a_stricter_gt_is_evaluated_by_the_sidecar() {
    let (s, p) = start(NO_TOTAL).await;
    for login in ["alice", "ALICE", "bob"] {
        p.add_person(login);
    }
    p.clear_log();
    let (st, ne) = s
        .scim(Method::GET, "/Users?filter=userName+ne+%22alice%22", None)
        .await;
    assert_eq!(st, 200, "{ne}");
    assert_eq!(
        names(&ne),
        ["bob"],
        "ALICE differs only in case: SCIM says equal"
    );
    assert!(
        params(&p.gets("/people")[0]).contains(&("login_ne".to_owned(), "alice".to_owned())),
        "{:?}",
        p.log()
    );
    p.clear_log();
    let (st, gt) = s
        .scim(Method::GET, "/Users?filter=userName+gt+%22B%22", None)
        .await;
    assert_eq!(st, 200, "{gt}");
    assert_eq!(names(&gt), ["bob"]);
    assert!(
        p.gets("/people").iter().all(|g| !g.contains("login_gt")),
        "a case-sensitive gt would miss or add users: {:?}",
        p.log()
    );
    s.stop().await;
}

#[tokio::test]
async fn a_refused_scan_names_only_the_comparisons_the_platform_can_narrow() {
    let (s, p) = start(NO_TOTAL).await;
    for i in 1..=7 {
        p.add_person(&format!("p{i}"));
    }
    let (st, e) = s
        .scim(Method::GET, "/Users?filter=displayName+pr", None)
        .await;
    assert_eq!(st, 400, "{e}");
    assert_eq!(e["scimType"], "tooMany");
    let detail = e["detail"].as_str().expect("detail");
    for usable in [
        r#"userName eq "...""#,
        r#"userName sw "...""#,
        r#"userName ne "...""#,
    ] {
        assert!(detail.contains(usable), "{usable}: {detail}");
    }
    assert!(
        !detail.contains("userName gt"),
        "a stricter rule is no way out: {detail}"
    );
    s.stop().await;
}

// --- Keycloak ---

async fn create(s: &Stack, user_name: &str, extra: Value) -> Value {
    let mut body = json!({"schemas": [USER, ENTERPRISE], "userName": user_name});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (st, u) = s.scim(Method::POST, "/Users", Some(body)).await;
    assert_eq!(st, 201, "{u}");
    u
}

#[tokio::test]
async fn a_count_call_gives_the_total_and_takes_the_filters_parameters() {
    let (s, p) = start(KEYCLOAK).await;
    for n in ["ann", "bea", "cid", "dana", "eve"] {
        p.add_user(n, "X");
    }
    p.clear_log();
    let (st, page) = s
        .scim(Method::GET, "/Users?startIndex=3&count=2", None)
        .await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["totalResults"], 5);
    assert_eq!(names(&page), ["cid", "dana"]);
    assert_eq!(
        p.gets(USERS),
        [format!("{USERS}/count"), format!("{USERS}?first=2&max=2")]
    );

    // co on a case-insensitive substring search is exact: the platform pages and counts.
    p.clear_log();
    let (st, page) = s
        .scim(
            Method::GET,
            "/Users?filter=userName+co+%22A%22&count=1",
            None,
        )
        .await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["totalResults"], 3, "ann, dana, bea");
    assert_eq!(page["Resources"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        p.gets(USERS),
        [
            format!("{USERS}?search=a&first=0&max=2"),
            format!("{USERS}/count?search=a")
        ],
        "the page, then the count: the page did not reach the end"
    );
    s.stop().await;
}

#[tokio::test]
async fn an_exact_case_sensitive_lookup_on_a_lowercased_field_is_one_call() {
    let (s, p) = start(KEYCLOAK).await;
    let u = create(&s, "Ada.Lovelace@Example.com", json!({})).await;
    p.clear_log();
    let (st, found) = s
        .scim(
            Method::GET,
            "/Users?filter=userName+eq+%22ADA.LOVELACE%40example.com%22",
            None,
        )
        .await;
    assert_eq!(st, 200, "{found}");
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], u["id"]);
    assert_eq!(
        found["Resources"][0]["userName"], "Ada.Lovelace@Example.com",
        "read from the case-preserving copy"
    );
    let gets = p.gets(USERS);
    assert_eq!(gets.len(), 1, "one call: {gets:?}");
    assert_eq!(
        params(&gets[0]),
        [
            ("username".to_owned(), "ada.lovelace@example.com".to_owned()),
            ("exact".to_owned(), "true".to_owned()),
            ("first".to_owned(), "0".to_owned()),
            ("max".to_owned(), "2".to_owned()),
        ]
    );

    let (st, _) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{}", u["id"].as_str().expect("id")),
            Some(patch(json!([{"op": "add", "path": "emails", "value": [{"type": "work", "value": "Ada@Example.COM"}]}]))),
        )
        .await;
    assert_eq!(st, 200);
    p.clear_log();
    let (st, by_mail) = s
        .scim(
            Method::GET,
            "/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22ADA%40EXAMPLE.com%22",
            None,
        )
        .await;
    assert_eq!(st, 200, "{by_mail}");
    assert_eq!(by_mail["totalResults"], 1);
    let gets = p.gets(USERS);
    assert_eq!(gets.len(), 1, "one call: {gets:?}");
    assert!(
        gets[0].starts_with(&format!("{USERS}?email=ada%40example.com&exact=true&")),
        "{gets:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_stricter_rule_is_not_used_and_the_scan_finds_what_it_would_miss() {
    let (s, p) = start(KEYCLOAK).await;
    p.add_user("ada", "Lovelace");
    p.add_user("grace", "Hopper");
    p.clear_log();
    let (st, found) = s
        .scim(
            Method::GET,
            "/Users?filter=name.familyName+eq+%22lovelace%22",
            None,
        )
        .await;
    assert_eq!(st, 200, "{found}");
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["name"]["familyName"], "Lovelace");
    let gets = p.gets(USERS);
    assert!(
        gets.iter().all(|g| !g.contains("lastName=")),
        "exact=true on lastName would miss \"Lovelace\": {gets:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_value_template_is_sent_as_one_encoded_query_value() {
    let (s, p) = start(KEYCLOAK).await;
    let u = create(&s, "ext", json!({"externalId": "e/1&a=b"})).await;
    assert_eq!(
        p.user(u["id"].as_str().expect("id")).expect("user")["attributes"]["externalId"],
        json!(["e/1&a=b"])
    );
    p.clear_log();
    let (st, found) = s
        .scim(
            Method::GET,
            "/Users?filter=externalId+eq+%22e%2F1%26a%3Db%22",
            None,
        )
        .await;
    assert_eq!(st, 200, "{found}");
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["externalId"], "e/1&a=b");
    let gets = p.gets(USERS);
    assert_eq!(gets.len(), 1, "{gets:?}");
    assert!(
        gets[0].starts_with(&format!("{USERS}?q=externalId%3Ae%2F1%26a%3Db&first=0")),
        "{gets:?}"
    );
    assert_eq!(
        params(&gets[0])[0],
        ("q".to_owned(), "externalId:e/1&a=b".to_owned())
    );
    s.stop().await;
}

#[tokio::test]
async fn sw_and_ew_on_a_substring_search_are_rechecked() {
    let (s, p) = start(KEYCLOAK).await;
    for n in ["anna", "hanna", "annabel"] {
        create(&s, n, json!({})).await;
    }
    p.clear_log();
    let (_, sw) = s
        .scim(Method::GET, "/Users?filter=userName+sw+%22ANN%22", None)
        .await;
    let mut got = names(&sw);
    got.sort();
    assert_eq!(got, ["anna", "annabel"]);
    assert_eq!(sw["totalResults"], 2);
    let (_, ew) = s
        .scim(Method::GET, "/Users?filter=userName+ew+%22nna%22", None)
        .await;
    let mut got = names(&ew);
    got.sort();
    assert_eq!(got, ["anna", "hanna"]);
    let gets = p.gets(USERS);
    assert!(
        gets.iter()
            .any(|g| params(g).contains(&("search".to_owned(), "ann".to_owned())))
            && gets
                .iter()
                .any(|g| params(g).contains(&("search".to_owned(), "nna".to_owned()))),
        "{gets:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn array_attributes_are_written_wrapped_and_read_unwrapped() {
    let (s, p) = start(KEYCLOAK).await;
    let u = create(&s, "arr", json!({ENTERPRISE: {"department": "Sales"}})).await;
    let id = u["id"].as_str().expect("id").to_owned();
    assert_eq!(u[ENTERPRISE]["department"], "Sales");
    let stored = p.user(&id).expect("user");
    assert_eq!(stored["attributes"]["department"], json!(["Sales"]));

    let (st, changed) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(json!([{"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Ops"}]))),
        )
        .await;
    assert_eq!(st, 200, "{changed}");
    assert_eq!(changed[ENTERPRISE]["department"], "Ops");
    assert_eq!(
        p.user(&id).expect("user")["attributes"]["department"],
        json!(["Ops"])
    );
    let (_, read) = s.scim(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(read[ENTERPRISE]["department"], "Ops");

    let (st, cleared) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(
                json!([{"op": "remove", "path": format!("{ENTERPRISE}:department")}]),
            )),
        )
        .await;
    assert_eq!(st, 200, "{cleared}");
    assert_eq!(
        p.user(&id).expect("user")["attributes"]["department"],
        json!([]),
        "cleared as an empty array"
    );
    assert!(
        cleared
            .get(ENTERPRISE)
            .is_none_or(|e| e.get("department").is_none())
    );
    s.stop().await;
}

#[tokio::test]
async fn one_attribute_is_written_to_two_fields_and_read_from_the_first() {
    let (s, p) = start(KEYCLOAK).await;
    let u = create(&s, "Ada.Lovelace@Example.com", json!({})).await;
    let id = u["id"].as_str().expect("id").to_owned();
    assert_eq!(u["userName"], "Ada.Lovelace@Example.com");
    let stored = p.user(&id).expect("user");
    assert_eq!(stored["username"], "ada.lovelace@example.com");
    assert_eq!(
        stored["attributes"]["display_login"],
        json!(["Ada.Lovelace@Example.com"])
    );

    p.clear_log();
    let (st, changed) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(
                json!([{"op": "replace", "path": "userName", "value": "Ada.King@Example.com"}]),
            )),
        )
        .await;
    assert_eq!(st, 200, "{changed}");
    assert_eq!(changed["userName"], "Ada.King@Example.com");
    let stored = p.user(&id).expect("user");
    assert_eq!(stored["username"], "ada.king@example.com");
    assert_eq!(
        stored["attributes"]["display_login"],
        json!(["Ada.King@Example.com"])
    );
    let puts: Vec<String> = p
        .log()
        .into_iter()
        .filter(|(m, _)| m == "PUT")
        .map(|(_, q)| q)
        .collect();
    assert_eq!(puts, [format!("{USERS}/{id}")], "both fields in one write");
    s.stop().await;
}
