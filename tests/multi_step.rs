//! Multi-step operations against the demo platform over real sockets: a three-step create
//! (account, role, enable) that succeeds, the same with a failing third step (compensation: the
//! platform is as it was, checked through its API, and the client gets a 502 naming the step), a
//! failing undo (reported to the client, logged at error level and audited), and a success answer
//! carrying an error (`200 {"ok": false}`) mapped to 502 by a `[[platform.errors]]` rule.
//!
//! The "role" is a membership of the platform group 1 (the demo platform has no roles); failing
//! calls go to the demo platform's `/api/v1/answer/{status}`, which answers that status with the
//! body it was sent.
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

/// The demo mapping's single-call create, replaced by the steps below.
const DEMO_CREATE: &str = "[users.create]\npath = \"/api/v1/users\"\nresponse = \"$.data\"\n";

/// A three-step create whose third step (`enable`) is `enable` (method, path, body); the undo of
/// `role` calls `role_undo_path`; `extra` is appended to the file.
fn mapping(enable: (&str, &str, &str), role_undo_path: &str, extra: &str) -> String {
    let (enable_method, enable_path, enable_body) = enable;
    let steps = format!(
        r#"[users.create]
response = "$.data"
result = "enable"
set = {{ status = "disabled" }}

[[users.create.steps]]
name = "account"
path = "/api/v1/users"
undo = {{ method = "DELETE", path = "/api/v1/users/{{steps.account.body.data.id}}" }}

[[users.create.steps]]
name = "role"
path = "/api/v1/groups/1/members"
body = {{ user_id = "{{steps.account.body.data.id}}" }}
undo = {{ method = "DELETE", path = "{role_undo_path}" }}

[[users.create.steps]]
name = "enable"
method = "{enable_method}"
path = "{enable_path}"
body = {enable_body}
"#
    );
    let demo = scim_sidecar::demo::MAPPING_TOML;
    assert!(demo.contains(DEMO_CREATE), "the demo mapping's create");
    format!("{}\n{extra}", demo.replace(DEMO_CREATE, &steps))
}

/// The real third step: enable the account.
const ENABLE: (&str, &str, &str) = (
    "PATCH",
    "/api/v1/users/{steps.account.body.data.id}",
    "{ status = \"active\" }",
);

/// A third step the platform answers 500.
const FAILING: (&str, &str, &str) = ("POST", "/api/v1/answer/500", "{ ok = false }");

/// A third step the platform answers `200 {"ok": false}`.
const NOT_OK: (&str, &str, &str) = ("POST", "/api/v1/answer/200", "{ ok = false }");

const ROLE_UNDO: &str = "/api/v1/groups/1/members/{steps.account.body.data.id}";

fn user(user_name: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"type": "work", "value": user_name, "primary": true}],
        "active": true,
    })
}

/// Starts the stack and creates platform group 1, the "role".
async fn start(mapping: &str) -> Stack {
    start_in("", mapping).await
}

/// [`start`] with `scim_extra` in the sidecar's `[scim]` section.
async fn start_in(scim_extra: &str, mapping: &str) -> Stack {
    let s = Stack::start_with(scim_extra, Some(mapping)).await;
    let r = s
        .client
        .post(s.platform_url("/api/v1/groups"))
        .header("x-api-key", support::PLATFORM_KEY)
        .header("content-type", "application/json")
        .body(json!({"name": "members"}).to_string())
        .send()
        .await
        .expect("platform request");
    assert_eq!(r.status().as_u16(), 201);
    let g: Value = serde_json::from_slice(&r.bytes().await.expect("body")).expect("json");
    assert_eq!(g["data"]["id"], 1, "the role group is group 1");
    s
}

/// The platform's users and the members of group 1, through its own API.
async fn platform_state(s: &Stack) -> (Value, Value) {
    let (st, users) = s.platform_get("/api/v1/users").await;
    assert_eq!(st, 200);
    let (st, members) = s.platform_get("/api/v1/groups/1/members").await;
    assert_eq!(st, 200);
    (users["data"].clone(), members["data"].clone())
}

#[tokio::test]
async fn a_three_step_create_makes_the_account_gives_the_role_and_enables_it() {
    let s = start(&mapping(ENABLE, ROLE_UNDO, "")).await;
    let (st, created) = s
        .scim(Method::POST, "/Users", Some(user("ada@example.com")))
        .await;
    assert_eq!(st, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    // The answer is the result step's reply (`enable`): the account enabled.
    assert_eq!(created["active"], true, "{created}");
    assert_eq!(created["userName"], "ada@example.com");

    let (_, u) = s.platform_get(&format!("/api/v1/users/{id}")).await;
    assert_eq!(u["data"]["status"], "active", "{u}");
    assert_eq!(u["data"]["username"], "ada@example.com");
    let (_, members) = platform_state(&s).await;
    assert_eq!(
        members,
        json!([{"user_id": id.parse::<u64>().expect("integer id")}])
    );
    // One call per step, and no undo.
    let calls = s.calls();
    assert_eq!(calls.get("POST", "/api/v1/users"), 1);
    assert_eq!(calls.get("POST", "/api/v1/groups/{id}/members"), 1);
    assert_eq!(calls.get("PATCH", "/api/v1/users/{id}"), 1);
    assert_eq!(calls.get("DELETE", "/api/v1/users/{id}"), 0);
    s.stop().await;
}

#[tokio::test]
async fn a_failing_third_step_undoes_the_first_two_and_answers_502_naming_the_step() {
    let s = start(&mapping(FAILING, ROLE_UNDO, "")).await;
    let before = platform_state(&s).await;
    let (st, err) = s
        .scim(Method::POST, "/Users", Some(user("ada@example.com")))
        .await;
    assert_eq!(st, 502, "{err}");
    let detail = err["detail"].as_str().expect("detail");
    assert!(
        detail.starts_with("step 3 of 3 (enable) failed: "),
        "{detail}"
    );
    assert!(
        detail.ends_with("the 2 earlier steps were undone"),
        "{detail}"
    );
    // The platform is as it was: no account, no membership.
    assert_eq!(platform_state(&s).await, before);
    assert_eq!(before, (json!([]), json!([])));
    let calls = s.calls();
    assert_eq!(
        calls.get("POST", "/api/v1/users"),
        1,
        "the account was made"
    );
    assert_eq!(
        calls.get("DELETE", "/api/v1/groups/{id}/members/{user_id}"),
        1
    );
    assert_eq!(calls.get("DELETE", "/api/v1/users/{id}"), 1);
    // Each step, and each undo, is labelled in the platform call metrics.
    let metrics = reqwest::get(format!("http://{}/metrics", s.sidecar.admin_addr))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for (operation, outcome) in [
        ("users.create.account", "2xx"),
        ("users.create.role", "2xx"),
        ("users.create.enable", "5xx"),
        ("users.create.role.undo", "2xx"),
        ("users.create.account.undo", "2xx"),
    ] {
        let line = format!(
            r#"scim_sidecar_platform_call_duration_seconds_count{{operation="{operation}",outcome="{outcome}"}} 1"#
        );
        assert!(metrics.contains(&line), "{line} in:\n{metrics}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_failing_undo_is_reported_to_the_client_logged_and_audited() {
    let logs = support::logs::captured_logs(tracing::Level::INFO);
    let s = start(&mapping(FAILING, "/api/v1/answer/500", "")).await;
    let (st, err) = s
        .scim(Method::POST, "/Users", Some(user("grace@example.com")))
        .await;
    assert_eq!(st, 502, "{err}");
    let detail = err["detail"].as_str().expect("detail");
    assert!(
        detail.starts_with("step 3 of 3 (enable) failed: "),
        "{detail}"
    );
    assert!(
        detail.ends_with(
            "1 of the 2 earlier steps undone; undoing role failed: the platform may hold a partial resource"
        ),
        "{detail}"
    );
    // The account was undone (its undo ran after the failed one); the membership went with it.
    let (users, _) = platform_state(&s).await;
    assert_eq!(users, json!([]));
    let text = String::from_utf8(logs.lock().expect("logs").clone()).expect("utf-8");
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        lines.iter().any(|l| l["level"] == "ERROR"
            && l["step"] == "users.create.role"
            && l["undo"] == "users.create.role.undo"),
        "an error-level line names the step whose undo failed:\n{text}"
    );
    let audited = |event: &str, step: &str, outcome: &str| {
        lines
            .iter()
            .any(|l| l["event"] == event && l["step"] == step && l["outcome"] == outcome)
    };
    assert!(
        audited("step.done", "users.create.account", "success"),
        "{text}"
    );
    assert!(
        audited("step.done", "users.create.role", "success"),
        "{text}"
    );
    assert!(
        audited("step.undo_failed", "users.create.role", "failure"),
        "{text}"
    );
    assert!(
        audited("step.undone", "users.create.account", "success"),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == "user.created" && l["outcome"] == "failure"),
        "{text}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_success_answer_carrying_an_error_is_mapped_by_a_rule_and_undoes_the_steps() {
    let rule = r#"[[platform.errors]]
status = 200
when = "$.ok"
equals = false
scim_status = 502
detail = "the platform could not enable the account"
"#;
    let s = start(&mapping(NOT_OK, ROLE_UNDO, rule)).await;
    let (st, err) = s
        .scim(Method::POST, "/Users", Some(user("ada@example.com")))
        .await;
    assert_eq!(st, 502, "{err}");
    let detail = err["detail"].as_str().expect("detail");
    assert!(
        detail.starts_with("step 3 of 3 (enable) failed: ")
            && detail.ends_with("the 2 earlier steps were undone"),
        "{detail}"
    );
    assert_eq!(platform_state(&s).await, (json!([]), json!([])));
    assert_eq!(s.calls().get("POST", "/api/v1/answer/{status}"), 1);
    s.stop().await;
}

#[tokio::test]
async fn a_200_answer_no_rule_matches_is_a_success_and_a_failure_after_the_steps_undoes_them_all() {
    // The rule wants `"no"`, the answer holds `false`: no rule matches, the third step succeeds.
    let rule = r#"[[platform.errors]]
status = 200
when = "$.ok"
equals = "no"
scim_status = 502
"#;
    let s = start(&mapping(NOT_OK, ROLE_UNDO, rule)).await;
    let (st, err) = s
        .scim(Method::POST, "/Users", Some(user("ada@example.com")))
        .await;
    // The result step's answer (`{"ok": false}`) holds no user and no Location: the create cannot
    // be read back, which fails the request after its steps, so every step is undone.
    assert_eq!(st, 502, "{err}");
    let detail = err["detail"].as_str().unwrap_or_default();
    assert!(
        !detail.starts_with("step "),
        "the steps all succeeded: {detail}"
    );
    assert_eq!(platform_state(&s).await, (json!([]), json!([])));
    let calls = s.calls();
    assert_eq!(
        calls.get("DELETE", "/api/v1/groups/{id}/members/{user_id}"),
        1
    );
    assert_eq!(calls.get("DELETE", "/api/v1/users/{id}"), 1);
    s.stop().await;
}

#[tokio::test]
async fn explain_shows_every_step_of_a_multi_step_create() {
    let setup = support::Setup::new();
    setup.write("mapping.toml", &mapping(ENABLE, ROLE_UNDO, ""));
    let cfg = setup.plain_config("[scim]\nmapping = \"mapping.toml\"\n");
    // Nothing listens there: explain makes no call.
    let config = support::loader(&cfg, Some("http://127.0.0.1:9"))
        .load()
        .expect("valid config");
    let rt = scim_sidecar::app::Runtime::new(config, scim_sidecar::metrics::Metrics::new());
    let body = user("ada@example.com").to_string();
    let out = scim_sidecar::explain::explain(&rt, "POST", "/scim/v2/Users", Some(&body))
        .await
        .expect("explained");
    let at = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} in:\n{out}"))
    };
    let (account, role, enable) = (
        at("POST http://127.0.0.1:9/api/v1/users    [users.create.account]"),
        at("POST http://127.0.0.1:9/api/v1/groups/1/members    [users.create.role]"),
        at("PATCH http://127.0.0.1:9/api/v1/users/1    [users.create.enable]"),
    );
    at("SCIM answer: 201");
    assert!(account < role && role < enable, "in order:\n{out}");
}

#[tokio::test]
async fn a_single_call_write_answered_200_with_an_error_is_mapped_by_the_rule() {
    let rule = r#"[[platform.errors]]
status = 200
when = "$.ok"
equals = false
scim_status = 400
scim_type = "invalidValue"
detail = "the platform refused the account"
"#;
    let demo = scim_sidecar::demo::MAPPING_TOML.replace(
        DEMO_CREATE,
        "[users.create]\npath = \"/api/v1/answer/200\"\nbody = { ok = false }\n",
    );
    let s = Stack::start_with("", Some(&format!("{demo}\n{rule}"))).await;
    let (st, err) = s
        .scim(Method::POST, "/Users", Some(user("ada@example.com")))
        .await;
    // A 4xx rule answers with its own detail and scimType.
    assert_eq!(st, 400, "{err}");
    assert_eq!(err["scimType"], "invalidValue");
    assert_eq!(err["detail"], "the platform refused the account");
    s.stop().await;
}

/// Shadow mode (`[scim] mode = "shadow"`) runs a multi-step create without sending a write: the
/// step that sends the attribute-built body is simulated as the create (its answer carries the
/// new id, which the later steps use), the step whose path names that id updates the run's copy,
/// the other step is recorded only; the SCIM client gets the created, enabled user and can read
/// it back, and the platform holds nothing.
#[tokio::test]
async fn shadow_mode_simulates_a_multi_step_create_and_sends_no_write() {
    let s = start_in(
        "mode = \"shadow\"\nshadow_record = \"shadow.jsonl\"\n",
        &mapping(ENABLE, ROLE_UNDO, ""),
    )
    .await;
    let before = platform_state(&s).await;
    let (st, created) = s
        .scim(Method::POST, "/Users", Some(user("ada@example.com")))
        .await;
    assert_eq!(st, 201, "{created}");
    assert_eq!(
        created["active"], true,
        "the enable step applied: {created}"
    );
    let id = created["id"].as_str().expect("id").to_owned();
    let (st, read) = s.scim(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(st, 200, "{read}");
    assert_eq!(read["userName"], "ada@example.com");
    assert_eq!(read["active"], true);

    assert_eq!(
        platform_state(&s).await,
        before,
        "the platform is unchanged"
    );
    let calls = s.calls();
    assert_eq!(calls.get("POST", "/api/v1/users"), 0);
    assert_eq!(calls.get("POST", "/api/v1/groups/{id}/members"), 0);
    assert_eq!(calls.get("PATCH", "/api/v1/users/{id}"), 0);

    let record = std::fs::read_to_string(s.setup.path("shadow.jsonl")).expect("the record");
    let entries: Vec<Value> = record
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let ops: Vec<&str> = entries
        .iter()
        .map(|e| e["operation"].as_str().expect("operation"))
        .collect();
    assert_eq!(
        ops,
        [
            "users.create.account",
            "users.create.role",
            "users.create.enable"
        ],
        "{record}"
    );
    assert_eq!(entries[0]["kind"], "create", "{record}");
    assert_eq!(entries[2]["id"], id.as_str(), "{record}");
    s.stop().await;
}

/// Under a rate cap (`[platform] rate`), the undo calls of a failed multi-step create wait for
/// their tokens until the request's deadline, not only `queue_timeout`: here the three steps
/// take the whole burst, `queue_timeout = "0s"` lets no ordinary call wait, and the two undos
/// still run, so the platform is left as it was (a refused undo would leave the account behind).
#[tokio::test]
async fn undo_calls_wait_for_the_rate_cap_instead_of_leaving_a_partial_resource() {
    let capped = mapping(FAILING, ROLE_UNDO, "").replacen(
        "queue_timeout = \"1s\"\n",
        "queue_timeout = \"0s\"\nrate = \"3/2s\"\nburst = 3\n",
        1,
    );
    assert!(capped.contains("rate = \"3/2s\""), "the cap is set");
    let s = start(&capped).await;
    let before = platform_state(&s).await;
    let (st, err) = s
        .scim(Method::POST, "/Users", Some(user("ada@example.com")))
        .await;
    assert_eq!(st, 502, "{err}");
    let detail = err["detail"].as_str().expect("detail");
    assert!(
        detail.ends_with("the 2 earlier steps were undone"),
        "{detail}"
    );
    assert_eq!(
        platform_state(&s).await,
        before,
        "the platform is as it was"
    );
    s.stop().await;
}
