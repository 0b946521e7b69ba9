//! HTTPS with HTTP/1.1 and HTTP/2, TLS versions, and bearer-token authentication, end to end over
//! real sockets with certificates generated for the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use reqwest::{StatusCode, Version};
use serde_json::Value;
use support::{Setup, TOKEN, TOKEN2, bearer, client, client_builder, https, start};

#[tokio::test]
async fn discovery_is_served_over_https_with_http1_and_http2() {
    let s = Setup::new();
    let running = start(&s.config("")).await;
    let url = https(&running, "/ServiceProviderConfig");

    let h1 = client_builder(&s.pki)
        .http1_only()
        .build()
        .expect("h1 client");
    let r = h1
        .get(&url)
        .header("authorization", bearer(TOKEN))
        .send()
        .await
        .expect("h1");
    assert_eq!(r.version(), Version::HTTP_11);
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/scim+json");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["patch"]["supported"], true);

    let h2 = client(&s.pki);
    let r = h2
        .get(&url)
        .header("authorization", bearer(TOKEN))
        .send()
        .await
        .expect("h2");
    assert_eq!(r.version(), Version::HTTP_2, "ALPN must offer h2");
    assert_eq!(r.status(), StatusCode::OK);
    running.stop().await;
}

#[tokio::test]
async fn missing_wrong_and_basic_credentials_get_401_with_a_scim_body() {
    let s = Setup::new();
    let running = start(&s.config("")).await;
    let c = client(&s.pki);
    let url = https(&running, "/Schemas");
    let cases: [(&str, Option<String>, &str); 4] = [
        ("missing", None, "authentication required"),
        (
            "wrong token",
            Some(bearer("x".repeat(64).as_str())),
            "invalid bearer token",
        ),
        (
            "basic",
            Some("Basic dXNlcjpwYXNzd29yZA==".to_owned()),
            "unsupported authorization scheme",
        ),
        (
            "bearer without token",
            Some("Bearer".to_owned()),
            "malformed bearer token",
        ),
    ];
    for (name, header, detail) in cases {
        let mut req = c.get(&url);
        if let Some(h) = header {
            req = req.header("authorization", h);
        }
        let r = req.send().await.expect(name);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{name}");
        let challenge = r.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(challenge.starts_with("Bearer"), "{name}: {challenge}");
        assert_eq!(
            r.headers()["content-type"],
            "application/scim+json",
            "{name}"
        );
        let body: Value = r.json().await.expect("json");
        assert_eq!(
            body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{name}"
        );
        assert_eq!(body["status"], "401", "{name}");
        assert!(
            body["detail"].as_str().is_some_and(|d| d.contains(detail)),
            "{name}: {body}"
        );
        assert!(
            !body.to_string().contains(TOKEN),
            "{name}: never echo tokens"
        );
    }
    running.stop().await;
}

#[tokio::test]
async fn two_configured_tokens_both_authenticate() {
    let s = Setup::new();
    s.write("tokens/next", TOKEN2);
    let cfg = s.config(
        r#"
[[auth.tokens]]
name = "entra-next"
file = "tokens/next"
"#,
    );
    let running = start(&cfg).await;
    let c = client(&s.pki);
    for token in [TOKEN, TOKEN2] {
        let r = c
            .get(https(&running, "/ResourceTypes"))
            .header("authorization", bearer(token))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::OK);
    }
    running.stop().await;
}

#[tokio::test]
async fn tokens_dir_serves_every_file_as_a_named_token() {
    let s = Setup::new();
    s.write("tokdir/a", TOKEN);
    s.write("tokdir/b", TOKEN2);
    s.write("tokdir/..data", "ignored because it starts with a dot");
    let cfg = s.write(
        "sidecar.toml",
        &support::base_config().replace(
            "[[auth.tokens]]\nname = \"entra\"\nfile = \"tokens/entra\"",
            "[auth]\ntokens_dir = \"tokdir\"",
        ),
    );
    let running = start(&cfg).await;
    let c = client(&s.pki);
    for token in [TOKEN, TOKEN2] {
        let r = c
            .get(https(&running, "/Schemas"))
            .header("authorization", bearer(token))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::OK);
    }
    running.stop().await;
}

#[tokio::test]
async fn tls_1_2_is_accepted_by_default_and_refused_when_the_floor_is_1_3() {
    let s = Setup::new();
    let running = start(&s.config("")).await;
    let c = client_builder(&s.pki)
        .tls_version_max(reqwest::tls::Version::TLS_1_2)
        .build()
        .expect("client");
    let r = c
        .get(https(&running, "/Schemas"))
        .header("authorization", bearer(TOKEN))
        .send()
        .await
        .expect("TLS 1.2 handshake");
    assert_eq!(r.status(), StatusCode::OK);
    running.stop().await;

    let s = Setup::new();
    let cfg = s.write(
        "sidecar.toml",
        &support::base_config().replace(
            "key_file = \"tls/tls.key\"",
            "key_file = \"tls/tls.key\"\nmin_version = \"1.3\"",
        ),
    );
    let running = start(&cfg).await;
    let c12 = client_builder(&s.pki)
        .tls_version_max(reqwest::tls::Version::TLS_1_2)
        .build()
        .expect("client");
    let e = c12.get(https(&running, "/Schemas")).send().await;
    assert!(e.is_err(), "a TLS 1.2-only client must fail the handshake");
    let c13 = client(&s.pki);
    let r = c13
        .get(https(&running, "/Schemas"))
        .header("authorization", bearer(TOKEN))
        .send()
        .await
        .expect("TLS 1.3");
    assert_eq!(r.status(), StatusCode::OK);
    running.stop().await;
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_cannot_connect() {
    let s = Setup::new();
    let running = start(&s.config("")).await;
    let other = support::pki();
    let c = client(&other);
    assert!(c.get(https(&running, "/Schemas")).send().await.is_err());
    running.stop().await;
}
