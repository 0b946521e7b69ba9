//! Limits and deadlines on the SCIM listener: body size, slow headers, stalled TLS handshakes,
//! and the admin probes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use support::{Setup, TOKEN, bearer, client, https, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn oversized_bodies_get_413_declared_or_streamed() {
    let s = Setup::new();
    let running = start(&s.config("[scim]\n")).await;
    let c = client(&s.pki);
    let big = vec![b' '; (1 << 20) + 1];
    let r = c
        .post(https(&running, "/Schemas"))
        .header("authorization", bearer(TOKEN))
        .header("content-type", "application/scim+json")
        .body(big.clone())
        .send()
        .await
        .expect("declared length");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "413");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("max_body_size"))
    );

    running.stop().await;

    // Chunked, so no Content-Length to refuse up front: the limit applies while reading.
    let plain = start(&s.plain_config("")).await;
    let mut tcp = TcpStream::connect(plain.scim_addr).await.expect("connect");
    let head = format!(
        "POST /scim/v2/Schemas HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.expect("head");
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..17 {
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(&chunk);
        framed.extend_from_slice(b"\r\n");
        if tcp.write_all(&framed).await.is_err() {
            break; // the server may stop reading once the limit is hit
        }
    }
    let _ = tcp.write_all(b"0\r\n\r\n").await;
    let answer = read_until_closed(&mut tcp, Duration::from_secs(15))
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    plain.stop().await;
}

/// Reads until the server closes the connection; returns what it sent. Gives up after `limit`
/// (the test then fails: the server never cut the client off).
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()?;
    Some(out)
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let s = Setup::new();
    // plain HTTP so the test speaks raw HTTP/1.1; header_read_timeout is 2s in the base config
    let cfg = s.plain_config("");
    let text = std::fs::read_to_string(&cfg).expect("config").replace(
        "header_read_timeout = \"2s\"",
        "header_read_timeout = \"1s\"",
    );
    std::fs::write(&cfg, text).expect("write");
    let running = start(&cfg).await;
    let mut tcp = TcpStream::connect(running.scim_addr)
        .await
        .expect("connect");
    tcp.write_all(b"GET /scim/v2/Schemas HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .expect("partial headers");
    let answer = read_until_closed(&mut tcp, Duration::from_secs(15))
        .await
        .expect("the server must close a connection whose headers never finish");
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_stalled_tls_handshake_is_cut_off() {
    let s = Setup::new();
    let cfg = s.config("").to_owned();
    let text = std::fs::read_to_string(&cfg).expect("config").replace(
        "header_read_timeout = \"2s\"",
        "header_read_timeout = \"2s\"\nhandshake_timeout = \"1s\"",
    );
    std::fs::write(&cfg, text).expect("write");
    let running = start(&cfg).await;
    let mut tcp = TcpStream::connect(running.scim_addr)
        .await
        .expect("connect");
    let answer = read_until_closed(&mut tcp, Duration::from_secs(15)).await;
    assert_eq!(answer, Some(Vec::new()), "closed without a byte");
    running.stop().await;
}

#[tokio::test]
async fn admin_probes_report_live_and_ready() {
    let s = Setup::new();
    let running = start(&s.config("")).await;
    let admin = format!("http://{}", running.admin_addr);
    let c = reqwest::Client::new();
    let live = c.get(format!("{admin}/livez")).send().await.expect("livez");
    assert_eq!(live.status(), StatusCode::OK);
    let ready = c
        .get(format!("{admin}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    let other = c.get(format!("{admin}/metricz")).send().await.expect("404");
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    running.stop().await;
}
