//! Shadow mode (`[scim] mode = "shadow"`): the Entra provisioning story (the request sequence of
//! tests/entra_story.rs) replayed through a shadow sidecar leaves the demo platform as it was, and
//! the shadow record lists exactly the writes the live run of the same story then makes (compared
//! in order: operation, method, path and body, ids abstracted); the mode header is on every answer
//! (errors included), the metrics are exposed, and `scim-sidecar shadow-report` (the real binary)
//! summarises a record.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use support::{PLATFORM_KEY, Received, Stack};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ADSCIM: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const GUID: &str = "7d420df3-9995-4831-a406-ecf8166f5f6a";

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

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

/// One platform call as the recording proxy saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    body: Value,
}

/// A proxy in front of the demo platform that records every call (the live run's writes are
/// counted where they arrive, before the platform).
async fn recording_proxy(target: String) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = seen.clone();
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let addr = support::serve(move |req| {
        let (log, client, target) = (log.clone(), client.clone(), target.clone());
        async move {
            let r = Received::read(req).await;
            log.lock().unwrap().push(Seen {
                method: r.method.clone(),
                path: r.path.clone(),
                body: r.json.clone(),
            });
            let mut fwd = client.request(
                Method::from_bytes(r.method.as_bytes()).unwrap(),
                format!("{target}{}", r.raw),
            );
            for (k, v) in &r.headers {
                if k != http::header::HOST && k != http::header::CONTENT_LENGTH {
                    fwd = fwd.header(k, v);
                }
            }
            if !r.json.is_null() {
                fwd = fwd.body(r.json.to_string());
            }
            let answer = fwd.send().await.unwrap();
            let mut out = http::Response::builder().status(answer.status().as_u16());
            for (k, v) in answer.headers() {
                if k != http::header::CONTENT_LENGTH && k != http::header::TRANSFER_ENCODING {
                    out = out.header(k, v);
                }
            }
            let body = answer.bytes().await.unwrap();
            Ok::<_, std::convert::Infallible>(out.body(http_body_util::Full::new(body)).unwrap())
        }
    })
    .await;
    (format!("http://{addr}"), seen)
}

/// A stack whose sidecar reaches the demo platform through a recording proxy.
async fn stack(scim_extra: &str) -> (Stack, Arc<Mutex<Vec<Seen>>>) {
    support::install_provider();
    let platform = scim_sidecar::demo::Platform::spawn(PLATFORM_KEY)
        .await
        .expect("platform");
    // One user exists before the story: it is matched, changed and disabled (a real object).
    platform.platform().seed_users(1);
    let (proxy, seen) = recording_proxy(platform.base_url()).await;
    let s = Stack::start_against(platform, &proxy, scim_extra, None).await;
    (s, seen)
}

/// The platform's state through its own API: every user, group and group membership.
async fn platform_state(s: &Stack) -> Value {
    let (_, users) = s.platform_get("/api/v1/users?per_page=100").await;
    let (_, groups) = s.platform_get("/api/v1/groups?per_page=100").await;
    let mut members = Vec::new();
    for g in groups["data"].as_array().unwrap() {
        let (_, m) = s
            .platform_get(&format!("/api/v1/groups/{}/members", g["id"]))
            .await;
        members.push(m["data"].clone());
    }
    json!({"users": users["data"], "groups": groups["data"], "members": members})
}

/// The Entra story's requests (tests/entra_story.rs, without its live-only checks and without
/// the duplicate create, which only a live platform can refuse). Returns the SCIM ids it was
/// given, in order of appearance: the seeded user, Craig, Pat, the group.
async fn story(s: &Stack) -> Vec<String> {
    let ok = |st: u16, r: &Value| assert!((200..300).contains(&st), "{st} {r}");
    // Test Connection
    let (st, r) = s
        .scim(
            Method::GET,
            &format!("/Users?filter=userName+eq+%22{GUID}%22"),
            None,
        )
        .await;
    ok(st, &r);
    let (st, r) = s
        .scim(
            Method::GET,
            &format!("/Groups?excludedAttributes=members&filter=displayName+eq+%22{GUID}%22"),
            None,
        )
        .await;
    ok(st, &r);
    // An existing user: matched, renamed, disabled
    let (_, r) = s
        .scim(
            Method::GET,
            "/Users?filter=userName+eq+%22user1%40example.com%22",
            None,
        )
        .await;
    let existing = r["Resources"][0]["id"].as_str().expect("seeded").to_owned();
    let (st, r) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{existing}"),
            Some(patch(
                json!([{"op": "Replace", "path": "displayName", "value": "User One"}]),
            )),
        )
        .await;
    ok(st, &r);
    assert_eq!(r["displayName"], "User One", "the change is answered");
    let (st, r) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{existing}"),
            Some(patch(
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
            )),
        )
        .await;
    ok(st, &r);
    assert_eq!(r["active"], false);
    // Match, then create
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
    assert_eq!(st, 201, "{pat}");
    let pat_id = pat["id"].as_str().expect("id").to_owned();
    // The created user reads back
    let (st, r) = s
        .scim(Method::GET, &format!("/Users/{craig_id}"), None)
        .await;
    assert_eq!(
        (st, &r["userName"]),
        (200, &json!("Craig.Ranger@Contoso.com"))
    );
    // Updates in both dialects
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
    assert_eq!(
        (st, &r["name"]["familyName"]),
        (200, &json!("Ranger-Smith"))
    );
    let (st, r) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{craig_id}"),
            Some(patch(json!([{"op": "replace", "value": {"name.givenName": "Craig", "name.familyName": "Ranger"}}]))),
        )
        .await;
    assert_eq!(
        (st, &r["name"]),
        (200, &json!({"givenName": "Craig", "familyName": "Ranger"}))
    );
    // Disable, enable, the re-assertion that changes nothing
    for (value, active) in [
        (json!("False"), false),
        (json!(true), true),
        (json!("True"), true),
    ] {
        let (st, r) = s
            .scim(
                Method::PATCH,
                &format!("/Users/{craig_id}"),
                Some(patch(
                    json!([{"op": "Replace", "path": "active", "value": value}]),
                )),
            )
            .await;
        assert_eq!((st, &r["active"]), (200, &json!(active)));
    }
    // The manager pass (not stored by the demo platform: no write)
    let (st, r) = s
        .scim(
            Method::PATCH,
            &format!("/Users/{craig_id}"),
            Some(patch(
                json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": pat_id}]),
            )),
        )
        .await;
    ok(st, &r);
    // Groups
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
    ok(st, &r);
    for _ in 0..2 {
        let (st, r) = s
            .scim(
                Method::PATCH,
                &format!("/Groups/{gid}"),
                Some(patch(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": craig_id}, {"$ref": null, "value": pat_id}]}]))),
            )
            .await;
        assert_eq!(st, 204, "{r}");
    }
    let (st, r) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(patch(json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": pat_id}]}]))),
        )
        .await;
    assert_eq!(st, 204, "{r}");
    let (st, r) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(patch(
                json!([{"op": "remove", "path": format!("members[value eq \"{craig_id}\"]")}]),
            )),
        )
        .await;
    assert_eq!(st, 204, "{r}");
    let (st, r) = s
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(patch(
                json!([{"op": "Replace", "path": "displayName", "value": "Sales EMEA"}]),
            )),
        )
        .await;
    assert_eq!(st, 204, "{r}");
    // An unknown id, a bad token: errors, no writes
    let (st, _) = s.scim(Method::GET, "/Users/987654", None).await;
    assert_eq!(st, 404);
    // Deletes
    let (st, _) = s
        .scim(Method::DELETE, &format!("/Groups/{gid}"), None)
        .await;
    assert_eq!(st, 204);
    let (st, _) = s
        .scim(Method::DELETE, &format!("/Users/{pat_id}"), None)
        .await;
    assert_eq!(st, 204);
    let (st, _) = s.scim(Method::GET, &format!("/Users/{pat_id}"), None).await;
    assert_eq!(st, 404, "a deleted user is gone");
    vec![existing, craig_id, pat_id, gid]
}

/// A write with the story's ids replaced by their place in the story: `<user0>`, `<group0>`
/// (user and group ids are counted apart: the demo platform numbers each table from 1).
fn abstracted(method: &str, path: &str, body: &Value, ids: &[String]) -> (String, String, Value) {
    // The story's ids: the seeded user, Craig, Pat (users), then the group.
    let (users, groups) = ids.split_at(3);
    let name = |set: &[String], kind: &str, v: &str| {
        set.iter()
            .position(|i| i == v)
            .map(|n| format!("<{kind}{n}>"))
    };
    let mut previous = "";
    let path = path
        .split('/')
        .map(|seg| {
            let named = match previous {
                "users" | "members" => name(users, "user", seg),
                "groups" => name(groups, "group", seg),
                _ => None,
            };
            previous = seg;
            named.unwrap_or_else(|| seg.to_owned())
        })
        .collect::<Vec<_>>()
        .join("/");
    // Ids in bodies are member ids: users.
    fn walk(v: &Value, users: &[String]) -> Value {
        let named = |t: String| match users.iter().position(|i| *i == t) {
            Some(p) => json!(format!("<user{p}>")),
            None => Value::Null,
        };
        match v {
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), walk(v, users))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(|v| walk(v, users)).collect()),
            Value::Number(n) => Some(named(n.to_string()))
                .filter(|x| !x.is_null())
                .unwrap_or_else(|| v.clone()),
            Value::String(s) => Some(named(s.clone()))
                .filter(|x| !x.is_null())
                .unwrap_or_else(|| v.clone()),
            other => other.clone(),
        }
    }
    (method.to_owned(), path, walk(body, users))
}

fn record_path(s: &Stack) -> std::path::PathBuf {
    s.setup.path("shadow.jsonl")
}

#[tokio::test]
async fn a_shadow_run_changes_nothing_and_records_exactly_the_live_runs_writes() {
    // Shadow run
    let (shadow, shadow_seen) =
        stack("mode = \"shadow\"\nshadow_record = \"shadow.jsonl\"\n").await;
    let before = platform_state(&shadow).await;
    let shadow_ids = story(&shadow).await;
    let after = platform_state(&shadow).await;
    assert_eq!(before, after, "a shadow run leaves the platform as it was");
    let sent_writes: Vec<Seen> = shadow_seen
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.method != "GET")
        .cloned()
        .collect();
    assert!(
        sent_writes.is_empty(),
        "no write reached the platform: {sent_writes:?}"
    );
    let text = std::fs::read_to_string(record_path(&shadow)).expect("record");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(record_path(&shadow))
            .expect("record")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the record is owner-only");
    let recorded: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert!(!text.contains(PLATFORM_KEY), "no secret in the record");
    let shadow_writes: Vec<_> = recorded
        .iter()
        .map(|e| {
            abstracted(
                e["method"].as_str().unwrap(),
                e["path"].as_str().unwrap(),
                e.get("body").unwrap_or(&Value::Null),
                &shadow_ids,
            )
        })
        .collect();
    // The report's view of the same record
    let entries = scim_sidecar::shadow::report::parse(&text).expect("record parses");
    let report = scim_sidecar::shadow::report::summarise(&entries);
    assert_eq!(
        (
            report.creates.len(),
            report.deletes.len(),
            report.members.len()
        ),
        (3, 2, 6),
        "{}",
        report.text()
    );
    assert_eq!(
        report
            .creates
            .iter()
            .map(|c| c.name.as_deref())
            .collect::<Vec<_>>(),
        [
            Some("Craig.Ranger@Contoso.com"),
            Some("pat@contoso.com"),
            Some("Sales")
        ]
    );
    assert_eq!(report.disables.len(), 2, "{}", report.text());
    assert_eq!(report.enables.len(), 1, "{}", report.text());
    shadow.stop().await;

    // Live run of the same story
    let (live, live_seen) = stack("").await;
    let live_ids = story(&live).await;
    let live_writes: Vec<_> = live_seen
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.method != "GET")
        .map(|c| abstracted(&c.method, &c.path, &c.body, &live_ids))
        .collect();
    assert!(!live_writes.is_empty());
    assert_eq!(
        shadow_writes, live_writes,
        "the shadow record lists exactly the writes the live run makes, in order"
    );
    // Operation labels line up with what the live platform saw
    let ops: Vec<&str> = recorded
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops.first(), Some(&"users.update"));
    live.stop().await;
}

#[tokio::test]
async fn every_answer_carries_the_mode_header_and_the_metrics_show_the_mode() {
    let s = Stack::start("mode = \"shadow\"\nshadow_record = \"shadow.jsonl\"\n").await;
    let client = &s.client;
    let token = support::bearer(support::TOKEN);
    for (method, path, auth) in [
        (Method::GET, "/Users", true),
        (Method::GET, "/ServiceProviderConfig", true),
        (Method::GET, "/Users/987654", true),
        (Method::GET, "/Nope", true),
        (Method::GET, "/Users", false),
    ] {
        let mut req = client.request(method.clone(), s.url(path));
        if auth {
            req = req.header("authorization", &token);
        }
        let r = req.send().await.unwrap();
        assert_eq!(
            r.headers()
                .get("x-scim-sidecar-mode")
                .map(|v| v.to_str().unwrap()),
            Some("shadow"),
            "{method} {path} ({})",
            r.status()
        );
    }
    let (st, _) = s
        .scim(
            Method::POST,
            "/Users",
            Some(entra_user("a@contoso.com", "a@contoso.com", "A", "B", "a")),
        )
        .await;
    assert_eq!(st, 201);
    let metrics = reqwest::get(format!("http://{}/metrics", s.sidecar.admin_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("scim_sidecar_shadow_mode 1"), "{metrics}");
    assert!(
        metrics.contains("scim_sidecar_shadow_writes_total{operation=\"users.create\"} 1"),
        "{metrics}"
    );
    assert_eq!(s.platform_get("/api/v1/users").await.1["meta"]["total"], 0);
    s.stop().await;

    // Live: no header, gauge 0
    let s = Stack::start("").await;
    let r = s
        .client
        .get(s.url("/Users"))
        .header("authorization", &token)
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("x-scim-sidecar-mode").is_none());
    let metrics = reqwest::get(format!("http://{}/metrics", s.sidecar.admin_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("scim_sidecar_shadow_mode 0"), "{metrics}");
    s.stop().await;
}

fn report_cmd(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_scim-sidecar"))
        .arg("shadow-report")
        .args(args)
        .output()
        .expect("run scim-sidecar")
}

#[test]
fn shadow_report_summarises_a_known_record() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("record.jsonl");
    let req = |id: &str, m: &str, p: &str| json!({"request_id": id, "method": m, "path": p});
    let lines = [
        json!({"at": "2026-12-04T10:00:00Z", "kind": "create", "operation": "users.create", "method": "POST",
               "path": "/api/v1/users", "body": {"username": "ada@example.com", "password": "[redacted]"},
               "resource": "users", "id": "9000000001", "name": "ada@example.com",
               "request": req("r1", "POST", "/scim/v2/Users")}),
        json!({"at": "2026-12-04T10:00:01Z", "kind": "update", "operation": "users.update", "method": "PATCH",
               "path": "/api/v1/users/17", "body": {"first_name": "B", "last_name": "C"}, "resource": "users",
               "id": "17", "changed": ["first_name", "last_name"], "request": req("r2", "PATCH", "/scim/v2/Users/17")}),
        json!({"at": "2026-12-04T10:00:02Z", "kind": "disable", "operation": "users.update", "method": "PATCH",
               "path": "/api/v1/users/17", "body": {"status": "disabled"}, "resource": "users", "id": "17",
               "changed": ["status"], "request": req("r3", "PATCH", "/scim/v2/Users/17")}),
        json!({"at": "2026-12-04T10:00:03Z", "kind": "member_add", "operation": "groups.members.add", "method": "POST",
               "path": "/api/v1/groups/5/members", "body": {"user_id": 17}, "resource": "groups", "id": "5",
               "member": "17", "request": req("r4", "PATCH", "/scim/v2/Groups/5")}),
        json!({"at": "2026-12-04T10:00:04Z", "kind": "delete", "operation": "users.delete", "method": "DELETE",
               "path": "/api/v1/users/18", "resource": "users", "id": "18", "request": req("r5", "DELETE", "/scim/v2/Users/18")}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, &text).unwrap();
    let out = report_cmd(&[file.to_str().unwrap()]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "5 writes recorded",
        "Creates: 1\n  users 9000000001 (ada@example.com)",
        "Updates (fields changed): 1\n  users 17: first_name, last_name",
        "Disables: 1\n  users 17",
        "Deletes: 1\n  users 18",
        "Member changes: 1\n  group 5: added member 17",
    ] {
        assert!(stdout.contains(needle), "{needle:?} in:\n{stdout}");
    }
    let out = report_cmd(&["--json", file.to_str().unwrap()]);
    assert!(out.status.success());
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["writes"], 5);
    assert_eq!(
        j["updates"][0]["fields"],
        json!(["first_name", "last_name"])
    );
    assert_eq!(
        j["members"][0],
        json!({"group": "5", "change": "added", "member": "17", "request_id": "r4"})
    );

    std::fs::write(&file, format!("{text}{{\"kind\": \"create\"}}\n")).unwrap();
    let out = report_cmd(&[file.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("line 6: not a shadow record entry"),
        "{stderr}"
    );
}

/// `serve --shadow` (the real binary) overrides `mode = "live"` in the file: a warning at start,
/// the header, and a create that never reaches the platform.
#[tokio::test]
async fn serve_shadow_flag_overrides_the_file_and_warns() {
    use std::io::{BufRead, BufReader};
    support::install_provider();
    let platform = scim_sidecar::demo::Platform::spawn(PLATFORM_KEY)
        .await
        .expect("platform");
    let setup = support::Setup::new();
    setup.write("mapping.toml", scim_sidecar::demo::MAPPING_TOML);
    let cfg = setup.plain_config(&format!(
        "[scim]\nmapping = \"mapping.toml\"\nplatform_base_url = \"{}\"\nmode = \"live\"\nshadow_record = \"record.jsonl\"\n\n[log]\nformat = \"json\"\n",
        platform.base_url()
    ));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_scim-sidecar"))
        .args(["serve", "--shadow", "--config"])
        .arg(&cfg)
        .env("DEMO_PLATFORM_API_KEY", PLATFORM_KEY)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn scim-sidecar");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let proc = support::process::Proc { child, lines: rx };
    let (mut warned, mut addr) = (false, None);
    while !(warned && addr.is_some()) {
        let line = proc
            .lines
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the start is logged");
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        let message = v["message"].as_str().unwrap_or("");
        if message.contains("SHADOW MODE") {
            assert_eq!(v["level"], "WARN", "{line}");
            warned = true;
        }
        if message.contains("SCIM interface listening") {
            addr = v["addr"].as_str().map(str::to_owned);
        }
    }
    let client = reqwest::Client::new();
    let r = client
        .post(format!("http://{}/scim/v2/Users", addr.unwrap()))
        .header("authorization", support::bearer(support::TOKEN))
        .header("content-type", "application/scim+json")
        .body(entra_user("b@contoso.com", "b@contoso.com", "B", "C", "b").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-scim-sidecar-mode"], "shadow");
    let users = client
        .get(format!("{}/api/v1/users", platform.base_url()))
        .header("x-api-key", PLATFORM_KEY)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        users["meta"]["total"], 0,
        "the create never reached the platform"
    );
    let record = std::fs::read_to_string(setup.path("record.jsonl")).expect("record");
    assert_eq!(record.lines().count(), 1);
    drop(proc);
    platform.stop().await;
}

#[test]
fn a_bad_mode_names_key_value_and_file() {
    support::install_provider();
    let setup = support::Setup::new();
    let cfg = setup.plain_config("[scim]\nmode = \"dry\"\n");
    let errors = scim_sidecar::config::load(
        &cfg,
        &scim_sidecar::config::Sources {
            overrides: scim_sidecar::config::EnvOverrides::default(),
            env: &|_| None,
            platform_base_url: None,
            offline: false,
        },
    )
    .expect_err("an unknown mode is refused")
    .to_string();
    for needle in [
        "scim.mode",
        "\"dry\"",
        "expected \"live\" or \"shadow\"",
        "sidecar.toml",
    ] {
        assert!(errors.contains(needle), "{needle:?} in {errors}");
    }
}

/// A reload into shadow mode takes effect for the next request: header, gauge, no writes sent.
#[tokio::test]
async fn a_reload_into_shadow_mode_stops_writes() {
    let fast = "mode = \"live\"\n[reload]\npoll_interval = \"100ms\"\ndebounce = \"50ms\"\n";
    let s = Stack::start(fast).await;
    let (st, _) = s
        .scim(
            Method::POST,
            "/Users",
            Some(entra_user(
                "live@contoso.com",
                "live@contoso.com",
                "L",
                "V",
                "l",
            )),
        )
        .await;
    assert_eq!(st, 201);
    s.setup.plain_config(
        "[scim]\nmapping = \"mapping.toml\"\nmode = \"shadow\"\nshadow_record = \"r.jsonl\"\n[reload]\npoll_interval = \"100ms\"\ndebounce = \"50ms\"\n",
    );
    let token = support::bearer(support::TOKEN);
    assert!(
        support::eventually(std::time::Duration::from_secs(10), || async {
            s.client
                .get(s.url("/Users"))
                .header("authorization", &token)
                .send()
                .await
                .is_ok_and(|r| r.headers().contains_key("x-scim-sidecar-mode"))
        })
        .await,
        "the reload switches to shadow mode"
    );
    let (st, _) = s
        .scim(
            Method::POST,
            "/Users",
            Some(entra_user(
                "shadow@contoso.com",
                "shadow@contoso.com",
                "S",
                "H",
                "s",
            )),
        )
        .await;
    assert_eq!(st, 201);
    let (_, users) = s.platform_get("/api/v1/users").await;
    assert_eq!(
        users["meta"]["total"], 1,
        "only the live create reached the platform"
    );
    let metrics = reqwest::get(format!("http://{}/metrics", s.sidecar.admin_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("scim_sidecar_shadow_mode 1"), "{metrics}");
    s.stop().await;
}
