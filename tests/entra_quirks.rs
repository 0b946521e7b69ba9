//! One fixture per Entra quirk (tests/fixtures/entra/NN_*.json, NN = the quirk's number in
//! shared/reference/entra-scim.md): the request as Entra sends it, the canonical RFC form the
//! normalize stage must produce, and what the whole sidecar must answer when the same request
//! reaches it in front of the demo platform.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use reqwest::Method;
use scim_sidecar::normalize::{Normalizer, Profile};
use scim_sidecar::scim::filter;
use scim_sidecar::scim::path::AttrPath;
use scim_sidecar::scim::schema::Registry;
use serde_json::{Value, json};
use support::Stack;

struct Fixture {
    name: String,
    quirk: u64,
    kind: String,
    resource: String,
    target: Option<String>,
    request: Value,
    canonical: Value,
    expect: Value,
}

fn fixtures() -> Vec<Fixture> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/entra");
    let mut out: Vec<Fixture> = std::fs::read_dir(dir)
        .expect("fixtures dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(e.path()).expect("read"))
                .expect("json");
            Fixture {
                name: e.file_name().to_string_lossy().into_owned(),
                quirk: v["quirk"].as_u64().expect("quirk"),
                kind: v["kind"].as_str().expect("kind").to_owned(),
                resource: v["resource"].as_str().expect("resource").to_owned(),
                target: v["target"].as_str().map(str::to_owned),
                request: v["request"].clone(),
                canonical: v["canonical"].clone(),
                expect: v["expect"].clone(),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(out.len() >= 20, "one fixture per quirk");
    out
}

/// Replaces `{{user}}`-style placeholders everywhere in a JSON value.
fn subst(v: &Value, ids: &[(&str, String)]) -> Value {
    let mut text = v.to_string();
    for (k, id) in ids {
        text = text.replace(&format!("{{{{{k}}}}}"), id);
    }
    serde_json::from_str(&text).expect("substituted json")
}

fn subst_str(s: &str, ids: &[(&str, String)]) -> String {
    let mut text = s.to_owned();
    for (k, id) in ids {
        text = text.replace(&format!("{{{{{k}}}}}"), id);
    }
    text
}

fn entra() -> Normalizer {
    Normalizer {
        profile: Profile::Entra,
        // The default `[scim] lowercase_attributes`: e-mail addresses only, userName as sent.
        lowercase: vec![AttrPath::parse("emails.value").expect("p")],
    }
}

/// Quirks handled by a rewrite rule (the others need no rewrite: the core or the parser
/// options take them as they are).
const REWRITES: &[u64] = &[1, 2, 3, 10, 11, 12, 14, 15, 28];

#[test]
fn every_fixture_normalizes_to_its_canonical_form() {
    let reg = Registry::standard();
    let ids = [
        ("user", "1".to_owned()),
        ("user2", "2".to_owned()),
        ("user3", "3".to_owned()),
        ("group", "1".to_owned()),
    ];
    let n = entra();
    for fx in fixtures() {
        let schema = if fx.resource == "User" {
            &reg.user
        } else {
            &reg.group
        };
        let mut fired = Vec::new();
        match fx.kind.as_str() {
            "patch" => {
                let got = n
                    .patch(subst(&fx.request, &ids), schema, &mut fired)
                    .expect("normalizes");
                assert_eq!(got, subst(&fx.canonical, &ids), "{}", fx.name);
            }
            "create" => {
                let got = n
                    .resource(subst(&fx.request, &ids), schema, &mut fired)
                    .expect("normalizes");
                assert_eq!(got, subst(&fx.canonical, &ids), "{}", fx.name);
            }
            "filter" => {
                let text = fx.request.as_str().expect("filter text");
                let f = filter::parse_with(text, &n.filter_options()).expect(&fx.name);
                let got = n.filter(f, schema, &mut fired).to_string();
                assert_eq!(
                    got,
                    fx.canonical.as_str().expect("canonical text"),
                    "{}",
                    fx.name
                );
            }
            other => panic!("{}: unknown kind {other}", fx.name),
        }
        if REWRITES.contains(&fx.quirk) {
            let prefix = format!("entra.{}.", fx.quirk);
            assert!(
                fired.iter().any(|r| r.starts_with(&prefix)),
                "{}: rule {prefix}* must fire, fired {fired:?}",
                fx.name
            );
        }
    }
}

#[test]
fn normalizing_twice_changes_nothing_more() {
    let reg = Registry::standard();
    let ids = [
        ("user", "1".to_owned()),
        ("user2", "2".to_owned()),
        ("user3", "3".to_owned()),
        ("group", "1".to_owned()),
    ];
    let n = entra();
    for fx in fixtures() {
        let schema = if fx.resource == "User" {
            &reg.user
        } else {
            &reg.group
        };
        let mut fired = Vec::new();
        let once = match fx.kind.as_str() {
            "patch" => n
                .patch(subst(&fx.request, &ids), schema, &mut fired)
                .expect("once"),
            "create" => n
                .resource(subst(&fx.request, &ids), schema, &mut fired)
                .expect("once"),
            _ => continue,
        };
        let mut again = Vec::new();
        let twice = match fx.kind.as_str() {
            "patch" => n.patch(once.clone(), schema, &mut again).expect("twice"),
            _ => n.resource(once.clone(), schema, &mut again).expect("twice"),
        };
        assert_eq!(once, twice, "{}", fx.name);
        assert!(again.is_empty(), "{}: {again:?}", fx.name);
    }
}

fn contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| h.get(k).is_some_and(|hv| contains(hv, wv))),
        _ => have == want,
    }
}

#[tokio::test]
async fn every_fixture_is_served_end_to_end_against_the_demo_platform() {
    for fx in fixtures() {
        let s = Stack::start("").await;
        // the world every fixture starts from: three users, a group holding the first two
        let mut ids: Vec<(&str, String)> = Vec::new();
        for (key, name) in [("user", "ada"), ("user2", "bob"), ("user3", "cy")] {
            let (st, u) = s
                .scim(
                    Method::POST,
                    "/Users",
                    Some(json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": format!("{name}@example.com"),
                        "externalId": format!("ext-{name}"),
                        "name": {"givenName": name, "familyName": "Test"},
                        "emails": [{"type": "work", "primary": true, "value": format!("{name}@example.com")}],
                    })),
                )
                .await;
            assert_eq!(st, 201, "setup: {u}");
            ids.push((key, u["id"].as_str().expect("id").to_owned()));
        }
        let (st, g) = s
            .scim(
                Method::POST,
                "/Groups",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Team", "members": [{"value": ids[0].1}, {"value": ids[1].1}]})),
            )
            .await;
        assert_eq!(st, 201, "setup: {g}");
        ids.push(("group", g["id"].as_str().expect("id").to_owned()));

        let endpoint = if fx.resource == "User" {
            "/Users"
        } else {
            "/Groups"
        };
        let (status, body) = match fx.kind.as_str() {
            "patch" => {
                let target = subst_str(fx.target.as_deref().expect("target"), &ids);
                s.scim(
                    Method::PATCH,
                    &format!("{endpoint}/{target}"),
                    Some(subst(&fx.request, &ids)),
                )
                .await
            }
            "create" => {
                s.scim(Method::POST, endpoint, Some(subst(&fx.request, &ids)))
                    .await
            }
            _ => {
                let f: String =
                    form_urlencoded::byte_serialize(fx.request.as_str().expect("text").as_bytes())
                        .collect();
                s.scim(Method::GET, &format!("{endpoint}?filter={f}"), None)
                    .await
            }
        };
        let e = &fx.expect;
        assert_eq!(
            Some(u64::from(status)),
            e["status"].as_u64(),
            "{}: {body}",
            fx.name
        );
        if let Some(want) = e.get("body") {
            assert!(
                contains(&body, &subst(want, &ids)),
                "{}: {body} should contain {want}",
                fx.name
            );
        }
        if let Some(n) = e.get("totalResults") {
            assert_eq!(&body["totalResults"], n, "{}: {body}", fx.name);
        }
        if let Some(d) = e["detail_contains"].as_str() {
            assert!(
                body["detail"].as_str().is_some_and(|x| x.contains(d)),
                "{}: {body}",
                fx.name
            );
        }
        if let Some(want) = e.get("platform") {
            let (_, p) = s.platform_get(&format!("/api/v1/users/{}", ids[0].1)).await;
            assert!(
                contains(&p["data"], want),
                "{}: platform {p} should contain {want}",
                fx.name
            );
        }
        if let Some(want) = e.get("members_after") {
            let (_, m) = s
                .platform_get(&format!("/api/v1/groups/{}/members", ids[3].1))
                .await;
            let have: Vec<String> = m["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|x| x["user_id"].to_string())
                .collect();
            let want: Vec<String> = subst(want, &ids)
                .as_array()
                .expect("list")
                .iter()
                .map(|x| x.as_str().expect("s").to_owned())
                .collect();
            assert_eq!(have, want, "{}", fx.name);
        }
        s.stop().await;
    }
}
