//! What a platform team relies on in production: hot reload of tokens, certificates and the
//! mapping (bad reloads keep the last good state and are counted), `/metrics`, the platform-aware
//! `/readyz`, and the audit log.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use support::{Setup, Stack, TOKEN, TOKEN2, bearer, eventually, loader};

const FAST_RELOAD: &str = "[reload]\npoll_interval = \"100ms\"\ndebounce = \"50ms\"\n";

async fn status(c: &reqwest::Client, url: &str, token: &str) -> u16 {
    c.get(url)
        .header("authorization", bearer(token))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_token_added_to_the_mounted_secret_is_accepted_and_a_removed_one_refused() {
    let s = Setup::new();
    s.write("tokens/entra", TOKEN);
    let cfg = s.write(
        "sidecar.toml",
        &format!(
            "{}{FAST_RELOAD}",
            support::base_config()
                .replace(
                    "[tls]\ncert_file = \"tls/tls.crt\"\nkey_file = \"tls/tls.key\"\n",
                    ""
                )
                .replace(
                    "listen = \"127.0.0.1:0\"\nheader_read_timeout",
                    "listen = \"127.0.0.1:0\"\nplain_http = true\nheader_read_timeout"
                )
                .replace(
                    "[[auth.tokens]]\nname = \"entra\"\nfile = \"tokens/entra\"",
                    "[auth]\ntokens_dir = \"tokens\""
                )
        ),
    );
    let l = loader(&cfg, None);
    let running = scim_sidecar::start_with(l.load().expect("valid"), Some(l))
        .await
        .expect("start");
    let url = format!("http://{}/scim/v2/Schemas", running.scim_addr);
    let c = reqwest::Client::new();
    assert_eq!(status(&c, &url, TOKEN).await, 200);
    assert_eq!(status(&c, &url, TOKEN2).await, 401);

    // Kubernetes writes the new key of the Secret as a new file in the mounted directory.
    s.write("tokens/entra-next", TOKEN2);
    assert!(
        eventually(Duration::from_secs(10), || async {
            status(&c, &url, TOKEN2).await == 200
        })
        .await,
        "the new token is accepted without a restart"
    );
    assert_eq!(
        status(&c, &url, TOKEN).await,
        200,
        "the old one still works during rotation"
    );

    std::fs::remove_file(s.path("tokens/entra")).expect("remove");
    assert!(
        eventually(Duration::from_secs(10), || async {
            status(&c, &url, TOKEN).await == 401
        })
        .await,
        "the removed token is refused"
    );
    assert_eq!(status(&c, &url, TOKEN2).await, 200);
    running.stop().await;
}

#[tokio::test]
async fn a_new_certificate_is_served_after_reload() {
    let s = Setup::new();
    let cfg = s.write(
        "sidecar.toml",
        &format!("{}{FAST_RELOAD}", support::base_config()),
    );
    let l = loader(&cfg, None);
    let running = scim_sidecar::start_with(l.load().expect("valid"), Some(l))
        .await
        .expect("start");
    let url = support::https(&running, "/Schemas");
    let old_ca = support::client(&s.pki);
    assert_eq!(status(&old_ca, &url, TOKEN).await, 200);

    let next = support::pki();
    let new_ca = support::client(&next);
    assert_eq!(
        status(&new_ca, &url, TOKEN).await,
        0,
        "not trusted before the reload"
    );
    // cert-manager renews: the key and the certificate change in the mounted Secret
    s.write("tls/tls.key", &next.key_pem);
    s.write("tls/tls.crt", &next.cert_pem);
    assert!(
        eventually(Duration::from_secs(10), || async {
            // a fresh client each time: a new handshake
            status(&support::client(&next), &url, TOKEN).await == 200
        })
        .await,
        "new handshakes get the new certificate"
    );
    assert_eq!(
        status(&support::client(&s.pki), &url, TOKEN).await,
        0,
        "the old certificate is gone"
    );
    running.stop().await;
}

async fn metric(admin: std::net::SocketAddr, needle: &str) -> Option<f64> {
    let text = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with(needle))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn a_broken_mapping_on_reload_keeps_the_old_one_serving_and_is_counted() {
    // appended after [scim]; it opens its own [reload] table
    let s = Stack::start(FAST_RELOAD).await;
    let admin = s.sidecar.admin_addr;
    let (st, _) = s.scim(Method::GET, "/Users", None).await;
    assert_eq!(st, 200);
    let failures = r#"scim_sidecar_config_reloads_total{outcome="failure"}"#;
    assert_eq!(metric(admin, failures).await, Some(0.0));

    s.setup.write(
        "mapping.toml",
        &scim_sidecar::demo::MAPPING_TOML
            .replace("[users.read]\npath", "[users.read]\nbogus = 1\npath"),
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            metric(admin, failures).await == Some(1.0)
        })
        .await,
        "the failed reload is counted"
    );
    let (st, body) = s
        .scim(Method::POST, "/Users", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "still@x.com", "emails": [{"type": "work", "value": "still@x.com"}]})))
        .await;
    assert_eq!(st, 201, "the last good mapping keeps serving: {body}");
    // once repaired, it reloads
    s.setup
        .write("mapping.toml", scim_sidecar::demo::MAPPING_TOML);
    let successes = r#"scim_sidecar_config_reloads_total{outcome="success"}"#;
    assert!(
        eventually(Duration::from_secs(10), || async {
            metric(admin, successes).await == Some(1.0)
        })
        .await
    );
    s.stop().await;
}

#[tokio::test]
async fn metrics_expose_every_family_with_labels_after_a_small_story() {
    let s = Stack::start("").await;
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "m@x.com", "emails": [{"type": "work", "value": "m@x.com"}]});
    let (_, u) = s.scim(Method::POST, "/Users", Some(user)).await;
    let id = u["id"].as_str().expect("id").to_owned();
    s.scim(
        Method::GET,
        "/Users?filter=userName+eq+%22m%40x.com%22",
        None,
    )
    .await;
    s.scim(Method::PATCH, &format!("/Users/{id}"), Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": false}]}))).await;
    s.scim(Method::GET, "/Users/999", None).await;
    s.scim(Method::GET, "/ServiceProviderConfig", None).await;
    let r = s
        .client
        .get(s.url("/Users"))
        .header("authorization", "Bearer nope")
        .send()
        .await
        .expect("401");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let r = reqwest::get(format!("http://{}/metrics", s.sidecar.admin_addr))
        .await
        .expect("metrics");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("application/openmetrics-text")
    );
    let text = r.text().await.expect("text");
    for needle in [
        r#"scim_sidecar_requests_total{resource="User",operation="create",status="201"} 1"#,
        r#"scim_sidecar_requests_total{resource="User",operation="list",status="200"} 1"#,
        r#"scim_sidecar_requests_total{resource="User",operation="patch",status="200"} 1"#,
        r#"scim_sidecar_requests_total{resource="User",operation="get",status="404"} 1"#,
        r#"scim_sidecar_requests_total{resource="discovery",operation="discovery",status="200"} 1"#,
        r#"scim_sidecar_requests_total{resource="User",operation="list",status="401"} 1"#,
        r#"scim_sidecar_request_duration_seconds_bucket{le="#,
        r#"scim_sidecar_platform_call_duration_seconds_count{operation="users.create",outcome="2xx"} 1"#,
        r#"scim_sidecar_platform_call_duration_seconds_count{operation="users.list",outcome="2xx"} 1"#,
        r#"scim_sidecar_platform_call_duration_seconds_count{operation="users.read",outcome="4xx"} 1"#,
        r#"scim_sidecar_platform_call_duration_seconds_count{operation="users.update",outcome="2xx"} 1"#,
        r#"scim_sidecar_auth_failures_total{reason="invalid"} 1"#,
        "scim_sidecar_in_flight_requests 0",
        "scim_sidecar_build_info{version=",
        r#"scim_sidecar_config_reloads_total{outcome="failure"} 0"#,
    ] {
        assert!(text.contains(needle), "{needle} missing in:\n{text}");
    }
    s.stop().await;
}

#[tokio::test]
async fn readyz_follows_the_platform() {
    let s = Stack::start("").await;
    let ready = format!("http://{}/readyz", s.sidecar.admin_addr);
    assert_eq!(reqwest::get(&ready).await.expect("readyz").status(), 200);
    assert_eq!(
        reqwest::get(format!("http://{}/livez", s.sidecar.admin_addr))
            .await
            .expect("livez")
            .status(),
        200
    );
    s.platform
        .platform()
        .set_fault(Some(scim_sidecar::demo::Fault::Status(503)));
    assert!(
        eventually(Duration::from_secs(15), || async {
            reqwest::get(&ready)
                .await
                .map(|r| r.status() == 503)
                .unwrap_or(false)
        })
        .await,
        "/readyz fails while the platform fails (after the 5 s cache)"
    );
    let live = reqwest::get(format!("http://{}/livez", s.sidecar.admin_addr))
        .await
        .expect("livez");
    assert_eq!(live.status(), 200, "/livez only says the process is alive");
    s.platform.platform().set_fault(None);
    assert!(
        eventually(Duration::from_secs(15), || async {
            reqwest::get(&ready)
                .await
                .map(|r| r.status() == 200)
                .unwrap_or(false)
        })
        .await
    );
    s.stop().await;
}

/// Runs the real binary with JSON logs and collects the audit events it writes.
mod audit {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    #[tokio::test]
    async fn every_change_emits_one_audit_event_without_tokens_or_redacted_values() {
        let platform = scim_sidecar::demo::Platform::spawn(support::PLATFORM_KEY)
            .await
            .expect("platform");
        let s = Setup::new();
        s.write(
            "mapping.toml",
            &scim_sidecar::demo::MAPPING_TOML.replace(
                "base_url = \"http://127.0.0.1:8081\"",
                &format!("base_url = \"{}\"", platform.base_url()),
            ),
        );
        let cfg = s.plain_config("[scim]\nmapping = \"mapping.toml\"\n[log]\nformat = \"json\"\n[audit]\nshow_values = [\"active\", \"displayName\"]\n");
        let mut child = Command::new(env!("CARGO_BIN_EXE_scim-sidecar"))
            .args(["serve", "--config", cfg.to_str().expect("utf8")])
            .env("DEMO_PLATFORM_API_KEY", support::PLATFORM_KEY)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel::<Value>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        let addr = loop {
            let v = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("listening line");
            if v["message"]
                .as_str()
                .is_some_and(|m| m.contains("SCIM interface listening"))
            {
                break v["addr"].as_str().expect("addr").to_owned();
            }
        };
        let c = reqwest::Client::new();
        let url = |p: &str| format!("http://{addr}/scim/v2{p}");
        let send = |m: Method, p: String, body: Value| {
            c.request(m, url(&p))
                .header("authorization", bearer(TOKEN))
                .header("content-type", "application/scim+json")
                .body(body.to_string())
                .send()
        };
        let u: Value = send(Method::POST, "/Users".into(), json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "audit@x.com", "name": {"familyName": "Secretname"}, "displayName": "Audit Person", "emails": [{"type": "work", "value": "audit@x.com"}]}))
            .await.expect("create").json().await.expect("json");
        let uid = u["id"].as_str().expect("id").to_owned();
        let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
        send(
            Method::PATCH,
            format!("/Users/{uid}"),
            patch(json!([{"op": "replace", "path": "name.familyName", "value": "Othername"}])),
        )
        .await
        .expect("update");
        send(
            Method::PATCH,
            format!("/Users/{uid}"),
            patch(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await
        .expect("disable");
        send(
            Method::PATCH,
            format!("/Users/{uid}"),
            patch(json!([{"op": "replace", "path": "active", "value": true}])),
        )
        .await
        .expect("enable");
        let g: Value = send(Method::POST, "/Groups".into(), json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Team"})).await.expect("group").json().await.expect("json");
        let gid = g["id"].as_str().expect("id").to_owned();
        send(
            Method::PATCH,
            format!("/Groups/{gid}"),
            patch(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}])),
        )
        .await
        .expect("add");
        send(
            Method::PATCH,
            format!("/Groups/{gid}"),
            patch(json!([{"op": "replace", "path": "displayName", "value": "Team 2"}])),
        )
        .await
        .expect("rename");
        send(
            Method::PATCH,
            format!("/Groups/{gid}"),
            patch(json!([{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}])),
        )
        .await
        .expect("remove");
        send(Method::DELETE, format!("/Groups/{gid}"), Value::Null)
            .await
            .expect("delete group");
        send(Method::DELETE, format!("/Users/{uid}"), Value::Null)
            .await
            .expect("delete user");
        // a failed change is audited too
        let r = send(Method::POST, "/Users".into(), json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "nomail"})).await.expect("fails");
        assert_eq!(r.status(), 400);

        let mut events = Vec::new();
        while let Ok(v) = rx.recv_timeout(Duration::from_secs(3)) {
            if v["target"] == "scim_sidecar::audit" {
                events.push(v);
            }
            if events.len() == 11 {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        platform.stop().await;

        let names: Vec<(&str, &str)> = events
            .iter()
            .map(|e| {
                (
                    e["event"].as_str().unwrap_or(""),
                    e["outcome"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("user.created", "success"),
                ("user.updated", "success"),
                ("user.disabled", "success"),
                ("user.enabled", "success"),
                ("group.created", "success"),
                ("group.member_added", "success"),
                ("group.renamed", "success"),
                ("group.member_removed", "success"),
                ("group.deleted", "success"),
                ("user.deleted", "success"),
                ("user.created", "failure"),
            ],
            "{events:#?}"
        );
        for e in &events[..10] {
            assert_eq!(e["token"], "entra");
            assert!(e["request_id"].as_str().is_some_and(|r| !r.is_empty()));
            assert_ne!(e["scim_id"], "-", "{e}");
        }
        assert_eq!(events[0]["scim_id"], uid.as_str());
        assert_eq!(events[0]["platform_id"], uid.as_str());
        assert_eq!(events[5]["member"], uid.as_str());
        assert_eq!(
            events[2]["changes"], r#"{"active":false}"#,
            "active is shown by the policy"
        );
        assert_eq!(events[6]["changes"], r#"{"displayName":"Team 2"}"#);
        assert!(
            events[1]["changes"]
                .as_str()
                .is_some_and(|c| c.contains("name.familyName") && c.contains("<redacted>"))
        );
        assert_eq!(events[10]["status"], 400);
        assert!(
            events[0].get("status").is_none() && events[0].get("fault").is_none(),
            "a success has no status or fault: {}",
            events[0]
        );
        let all = serde_json::to_string(&events).expect("json");
        assert!(!all.contains(TOKEN), "no token in audit events");
        for secret in ["Secretname", "Othername", "audit@x.com"] {
            assert!(
                !all.contains(secret),
                "redacted value {secret:?} leaked: {all}"
            );
        }
    }
}
