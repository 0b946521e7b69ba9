//! The SCIM discovery surface as Entra and other clients see it: media types, trailing slashes,
//! unknown query parameters, read-only endpoints, unknown paths, request ids.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use support::{Setup, TOKEN, bearer, client, https, start};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

#[tokio::test]
async fn discovery_documents_have_the_rfc_shapes() {
    let s = Setup::new();
    let running = start(&s.config("")).await;
    let c = client(&s.pki);
    let get = |path: &str| {
        c.get(https(&running, path))
            .header("authorization", bearer(TOKEN))
            .send()
    };

    let spc: Value = get("/ServiceProviderConfig")
        .await
        .expect("spc")
        .json()
        .await
        .expect("json");
    assert_eq!(
        spc["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    );
    assert_eq!(spc["filter"]["supported"], true);
    assert_eq!(spc["filter"]["maxResults"], 500);
    let port = running.scim_addr.port();
    assert_eq!(
        spc["meta"]["location"],
        format!("https://localhost:{port}/scim/v2/ServiceProviderConfig")
    );

    let schemas: Value = get("/Schemas")
        .await
        .expect("schemas")
        .json()
        .await
        .expect("json");
    assert_eq!(
        schemas["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    assert_eq!(schemas["totalResults"], 3);
    assert!(
        schemas["Resources"]
            .as_array()
            .is_some_and(|r| r.len() == 3)
    );

    let r = get(&format!("/Schemas/{USER}")).await.expect("user schema");
    assert_eq!(r.status(), StatusCode::OK);
    let user: Value = r.json().await.expect("json");
    assert_eq!(user["id"], USER);
    assert!(
        user["attributes"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["name"] == "userName"))
    );

    let rts: Value = get("/ResourceTypes")
        .await
        .expect("rts")
        .json()
        .await
        .expect("json");
    assert_eq!(rts["totalResults"], 2);
    let group: Value = get("/ResourceTypes/Group")
        .await
        .expect("group")
        .json()
        .await
        .expect("json");
    assert_eq!(group["endpoint"], "/Groups");

    let r = get("/Schemas/urn:nope").await.expect("unknown schema");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    running.stop().await;
}

#[tokio::test]
async fn trailing_slashes_unknown_parameters_and_any_accept_header_are_tolerated() {
    let s = Setup::new();
    let running = start(&s.config("")).await;
    let c = client(&s.pki);
    for path in [
        "/ServiceProviderConfig/",
        "/ServiceProviderConfig?aadOptscim062020",
        "/Schemas/?aadOptscim062020&foo=bar",
    ] {
        let r = c
            .get(https(&running, path))
            .header("authorization", bearer(TOKEN))
            .header("accept", "text/html")
            .send()
            .await
            .expect(path);
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(
            r.headers()["content-type"],
            "application/scim+json",
            "{path}"
        );
    }
    running.stop().await;
}

#[tokio::test]
async fn writes_to_discovery_endpoints_are_405_with_allow() {
    let s = Setup::new();
    let running = start(&s.config("")).await;
    let c = client(&s.pki);
    for (method, path) in [
        (reqwest::Method::POST, "/Schemas"),
        (reqwest::Method::PUT, "/ServiceProviderConfig"),
        (reqwest::Method::DELETE, "/ResourceTypes/User"),
        (reqwest::Method::PATCH, &*format!("/Schemas/{USER}")),
    ] {
        let r = c
            .request(method.clone(), https(&running, path))
            .header("authorization", bearer(TOKEN))
            .header("content-type", "application/scim+json; charset=utf-8")
            .body("{}")
            .send()
            .await
            .expect("request");
        assert_eq!(
            r.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(r.headers()["allow"], "GET, HEAD");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["status"], "405");
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("read-only"))
        );
    }
    running.stop().await;
}

#[tokio::test]
async fn unknown_paths_are_404_scim_errors() {
    let s = Setup::new();
    let running = start(&s.config("")).await;
    let c = client(&s.pki);
    let port = running.scim_addr.port();
    for url in [
        https(&running, "/Nope"),
        https(&running, "/Users/1/extra"),
        format!("https://localhost:{port}/elsewhere"),
    ] {
        let r = c
            .get(&url)
            .header("authorization", bearer(TOKEN))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{url}");
        assert_eq!(r.headers()["content-type"], "application/scim+json");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["status"], "404", "{url}");
    }
    running.stop().await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let s = Setup::new();
    let running = start(&s.config("")).await;
    let c = client(&s.pki);
    let r = c
        .get(https(&running, "/Schemas"))
        .header("authorization", bearer(TOKEN))
        .header("x-request-id", "entra-abc-123")
        .send()
        .await
        .expect("request");
    assert_eq!(r.headers()["x-request-id"], "entra-abc-123");
    let r = c
        .get(https(&running, "/Schemas"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let generated = r.headers()["x-request-id"].to_str().expect("ascii");
    assert!(!generated.is_empty());
    running.stop().await;
}

#[tokio::test]
async fn unsupported_media_types_are_415() {
    let s = Setup::new();
    let running = start(&s.config("")).await;
    let c = client(&s.pki);
    let r = c
        .post(https(&running, "/Users"))
        .header("authorization", bearer(TOKEN))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("userName=x")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "415");
    running.stop().await;
}
