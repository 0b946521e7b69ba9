//! Authentication comes before routing: without a valid token every path, known or not, inside
//! the SCIM base or outside it, is the same 401, so a client learns nothing of which paths exist.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use support::{Setup, TOKEN, bearer, client, https, start};

#[tokio::test]
async fn without_a_token_unknown_paths_are_401_like_known_ones() {
    let s = Setup::new();
    let running = start(&s.config("")).await;
    let c = client(&s.pki);
    let port = running.scim_addr.port();
    let urls = [
        https(&running, "/Users"),
        https(&running, "/Schemas"),
        https(&running, "/Nope"),
        https(&running, "/Users/1/extra"),
        format!("https://localhost:{port}/elsewhere"),
    ];
    for url in &urls {
        let r = c.get(url).send().await.expect("request");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{url}");
        assert!(r.headers().contains_key("www-authenticate"), "{url}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["status"], "401", "{url}");
    }
    // With the token, the unknown ones are 404 again.
    for url in &urls[2..] {
        let r = c
            .get(url)
            .header("authorization", bearer(TOKEN))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{url}");
    }
    running.stop().await;
}
