//! Graceful shutdown of the real binary: on SIGTERM, `/readyz` turns 503, new connections are
//! refused, a request already in flight still completes, and the process exits 0.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use std::time::Duration;
use support::process::{sigterm, spawn, wait_for_addr};
use support::{Setup, TOKEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn sigterm_drains_in_flight_requests_refuses_new_ones_and_exits_0() {
    let s = Setup::new();
    let cfg = s.plain_config("[log]\nformat = \"json\"\n");
    let mut p = spawn(&cfg);
    let scim = wait_for_addr(&p, "SCIM interface listening");
    let admin = wait_for_addr(&p, "admin interface listening");
    let c = reqwest::Client::new();
    let ready = c
        .get(format!("http://{admin}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);

    // A request in flight: headers sent, half of the body sent.
    let mut inflight = TcpStream::connect(scim).await.expect("connect");
    let body = br#"{"x":1,"y":2}"#;
    let head = format!(
        "POST /scim/v2/Schemas HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    inflight.write_all(head.as_bytes()).await.expect("head");
    inflight.write_all(&body[..6]).await.expect("half body");
    tokio::time::sleep(Duration::from_millis(200)).await;

    sigterm(&p);

    // New connections are refused once the listener closes.
    let mut refused = false;
    for _ in 0..100 {
        if TcpStream::connect(scim).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "the SCIM listener must close after SIGTERM");
    let ready = c
        .get(format!("http://{admin}/readyz"))
        .send()
        .await
        .expect("readyz while draining");
    assert_eq!(ready.status(), 503);

    // The in-flight request still completes.
    inflight.write_all(&body[6..]).await.expect("rest of body");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), inflight.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 405"),
        "the in-flight request must be answered: {text}"
    );
    drop(inflight);

    let status = tokio::task::spawn_blocking(move || {
        let status = p.child.wait().expect("wait");
        (status, p)
    })
    .await
    .expect("join")
    .0;
    assert_eq!(status.code(), Some(0));
}
