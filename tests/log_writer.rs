//! The log writer thread in the real binary: access lines written straight into its queue arrive
//! whole, one JSON object per line, with the shape `tracing` gives them; `log.level` directives
//! still filter them; everything queued is written before the process exits; the dropped-lines
//! counter is on `/metrics`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use serde_json::Value;
use std::time::Duration;
use support::process::{Proc, sigterm, spawn, wait_for_addr};
use support::{Setup, TOKEN};

/// Sends SIGTERM, waits for the exit, and returns every stderr line not read yet.
async fn stop(p: Proc) -> Vec<String> {
    sigterm(&p);
    tokio::task::spawn_blocking(move || {
        let mut p = p;
        let code = p.child.wait().expect("wait");
        assert_eq!(code.code(), Some(0));
        // The reader thread ends at EOF; every line is in the channel by then.
        let mut lines = Vec::new();
        while let Ok(l) = p.lines.recv_timeout(Duration::from_secs(10)) {
            lines.push(l);
        }
        lines
    })
    .await
    .expect("join")
}

async fn requests(scim: std::net::SocketAddr, n: usize) {
    let c = reqwest::Client::new();
    for i in 0..n {
        let r = c
            .get(format!("http://{scim}/scim/v2/ServiceProviderConfig?i={i}"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
    }
    // One refused request: an access line with `fault` and `cause`.
    let r = c
        .get(format!("http://{scim}/scim/v2/Users"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn access_lines_arrive_whole_the_last_lines_are_written_at_exit_and_drops_are_a_metric() {
    let s = Setup::new();
    let cfg = s.plain_config("[log]\nformat = \"json\"\nlevel = \"info\"\n");
    let p = spawn(&cfg);
    let scim = wait_for_addr(&p, "SCIM interface listening");
    let admin = wait_for_addr(&p, "admin interface listening");
    requests(scim, 200).await;

    let metrics = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    assert!(
        metrics.contains("# TYPE scim_sidecar_log_dropped_lines counter")
            && metrics.contains("scim_sidecar_log_dropped_lines_total 0"),
        "{metrics}"
    );

    let lines = stop(p).await;
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let access: Vec<&Value> = parsed
        .iter()
        .filter(|v| v["target"] == "scim_sidecar::access")
        .collect();
    assert_eq!(access.len(), 201, "{lines:#?}");
    let ok = access[0];
    assert_eq!(ok["level"], "INFO");
    assert_eq!(ok["message"], "request");
    assert_eq!(ok["method"], "GET");
    assert_eq!(ok["path"], "/scim/v2/ServiceProviderConfig", "no query");
    assert_eq!(ok["status"], 200);
    assert!(ok["duration_ms"].is_f64());
    assert_eq!(ok["auth"], "token");
    assert_eq!(ok["token"], "entra");
    assert_eq!(ok["client"], "-");
    assert_eq!(ok["quirks"], "");
    assert!(ok.get("fault").is_none());
    let refused = access[200];
    assert_eq!(refused["status"], 401);
    assert_eq!(refused["fault"], "client");
    assert!(refused["cause"].as_str().is_some_and(|c| !c.is_empty()));
    assert_eq!(
        parsed.last().expect("lines")["message"],
        "stopped",
        "the last line is written before the process exits"
    );
}

#[tokio::test]
async fn a_directive_on_the_access_target_still_filters_access_lines() {
    let s = Setup::new();
    let cfg =
        s.plain_config("[log]\nformat = \"json\"\nlevel = \"info,scim_sidecar::access=warn\"\n");
    let p = spawn(&cfg);
    let scim = wait_for_addr(&p, "SCIM interface listening");
    requests(scim, 5).await;
    let lines = stop(p).await;
    assert!(
        !lines.iter().any(|l| l.contains("scim_sidecar::access")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("\"stopped\"")),
        "{lines:#?}"
    );
}
