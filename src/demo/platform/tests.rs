//! Tests for the demo platform: HTTP behaviour over real sockets on 127.0.0.1, plus a few pure
//! helpers (id parsing, fault packing, the write clock).

use super::*;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::bodies::MAX_BODY_BYTES;
use super::faults::{FAULT_PAYLOAD, TRUNCATED_BODY, decode_fault, encode_fault};
use super::oauth::{decode_base64, decode_basic};
use super::records::Stamp;
use super::routes::{Route, parse_id};
use crate::scim::datetime;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const KEY: &str = "s3cret-key";
const NO_KEY: Option<&str> = None;
/// Upper bound for any single socket exchange, so a bug fails a test instead of hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

type HttpClient = Client<HttpConnector, Full<Bytes>>;

struct Harness {
    running: RunningPlatform,
    client: HttpClient,
}

fn http1_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

impl Harness {
    async fn start() -> Harness {
        let running = Platform::spawn(KEY).await.expect("spawn the platform");
        Harness {
            running,
            client: http1_client(),
        }
    }

    fn platform(&self) -> &Platform {
        self.running.platform()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.base_url())
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Bytes>,
    ) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
        let mut builder = Request::builder().method(method).uri(self.url(path));
        if let Some(key) = key {
            builder = builder.header("x-api-key", key);
        }
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        let request = builder
            .body(Full::new(body.unwrap_or_default()))
            .expect("a valid request");
        tokio::time::timeout(IO_TIMEOUT, self.client.request(request))
            .await
            .expect("no timeout")
    }

    /// Sends an authenticated request with an optional JSON body; returns status and JSON body
    /// (`Null` when empty), after checking the `Content-Type` of every non-204 answer.
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let body = body.map(|b| Bytes::from(serde_json::to_vec(&b).expect("serialise")));
        self.send_bytes(method, path, body).await
    }

    async fn send_bytes(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> (StatusCode, Value) {
        let response = self
            .request(method, path, Some(KEY), body)
            .await
            .expect("a response");
        json_of(response).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn create_user(&self, email: &str) -> u64 {
        let (status, body) = self.post("/api/v1/users", json!({ "email": email })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"]["id"].as_u64().expect("an integer id")
    }

    async fn create_group(&self, name: &str) -> u64 {
        let (status, body) = self.post("/api/v1/groups", json!({ "name": name })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"]["id"].as_u64().expect("an integer id")
    }

    /// Ids in `data` of a list response.
    async fn list_ids(&self, path: &str, id_field: &str) -> Vec<u64> {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids(&body, id_field)
    }
}

fn ids(body: &Value, id_field: &str) -> Vec<u64> {
    body["data"]
        .as_array()
        .expect("data is an array")
        .iter()
        .map(|item| item[id_field].as_u64().expect("an integer id"))
        .collect()
}

async fn json_of(response: Response<Incoming>) -> (StatusCode, Value) {
    let status = response.status();
    if status != StatusCode::NO_CONTENT {
        assert_eq!(
            response
                .headers()
                .get(CONTENT_TYPE)
                .map(HeaderValue::as_bytes),
            Some(&b"application/json"[..]),
            "content type of a {status} answer"
        );
    }
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a complete body")
        .to_bytes();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("a JSON body")
    };
    (status, value)
}

fn timestamp(value: &Value) -> datetime::Instant {
    datetime::parse(value.as_str().expect("a timestamp string")).expect("an RFC 3339 timestamp")
}

/// Writes `request` on a fresh connection and returns everything received until the server
/// closes it (a reset ends the read like a close, keeping what arrived before it).
async fn raw_exchange(addr: SocketAddr, request: &str) -> Vec<u8> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut received = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = stream.read(&mut chunk).await {
            received.extend_from_slice(&chunk[..n]);
        }
        received
    };
    tokio::time::timeout(IO_TIMEOUT, exchange)
        .await
        .expect("no timeout")
}

/// Splits a raw HTTP/1.1 response into its head and its body bytes.
fn split_response(raw: &[u8]) -> (String, &[u8]) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    (
        String::from_utf8_lossy(&raw[..end]).into_owned(),
        &raw[end + 4..],
    )
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().expect("a numeric content-length"))
        })
        .expect("a content-length header")
}

fn get_request(path: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nX-Api-Key: {KEY}\r\n{extra}\r\n")
}

// ---------------------------------------------------------------------------------------------
// Authentication, users
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn requests_without_the_right_api_key_get_401_and_change_nothing() {
    let h = Harness::start().await;
    let unauthorized = json!({ "error": "unauthorized" });
    for key in [
        None,
        Some("wrong"),
        Some("s3cret-key-longer"),
        Some("S3CRET-KEY"),
    ] {
        let response = h
            .request(Method::GET, "/api/v1/users", key, None)
            .await
            .expect("a response");
        assert_eq!(
            json_of(response).await,
            (StatusCode::UNAUTHORIZED, unauthorized.clone())
        );
    }
    let body = Bytes::from_static(br#"{"email":"a@example.com"}"#);
    for path in ["/api/v1/users", "/nowhere"] {
        let response = h
            .request(Method::POST, path, NO_KEY, Some(body.clone()))
            .await
            .expect("a response");
        assert_eq!(
            json_of(response).await,
            (StatusCode::UNAUTHORIZED, unauthorized.clone())
        );
    }
    let (status, list) = h.get("/api/v1/users").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list["meta"]["total"], 0,
        "an unauthorized POST created nothing"
    );
}

#[tokio::test]
async fn user_crud_happy_path() {
    let h = Harness::start().await;
    let (status, created) = h
        .post(
            "/api/v1/users",
            json!({ "email": "Ada@Example.com", "first_name": "Ada", "external_ref": "ext-1" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let user = &created["data"];
    assert_eq!(user["id"], 1);
    assert_eq!(user["email"], "Ada@Example.com", "stored as given");
    assert_eq!(user["first_name"], "Ada");
    assert_eq!(user["last_name"], "");
    assert_eq!(user["status"], "active");
    assert_eq!(user["external_ref"], "ext-1");
    assert_eq!(user["created_at"], user["updated_at"]);
    let keys: Vec<&str> = user
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "display_name",
            "status",
            "external_ref",
            "created_at",
            "updated_at"
        ]
    );

    assert_eq!(
        h.get("/api/v1/users/1").await,
        (StatusCode::OK, created.clone())
    );

    let (status, replaced) = h
        .send(
            Method::PUT,
            "/api/v1/users/1",
            Some(json!({ "email": "ada@example.com", "last_name": "Lovelace", "status": "disabled" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    let user = &replaced["data"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["first_name"], "", "PUT resets omitted fields");
    assert_eq!(user["last_name"], "Lovelace");
    assert_eq!(user["status"], "disabled");
    assert_eq!(
        user["external_ref"],
        Value::Null,
        "PUT resets omitted fields"
    );
    assert_eq!(user["created_at"], created["data"]["created_at"]);
    assert!(timestamp(&user["updated_at"]) > timestamp(&user["created_at"]));

    let (status, patched) = h
        .send(
            Method::PATCH,
            "/api/v1/users/1",
            Some(json!({ "first_name": "Augusta" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let user = &patched["data"];
    assert_eq!(user["first_name"], "Augusta");
    assert_eq!(user["last_name"], "Lovelace", "PATCH keeps other fields");
    assert_eq!(user["status"], "disabled");
    assert!(timestamp(&user["updated_at"]) > timestamp(&replaced["data"]["updated_at"]));

    assert_eq!(
        h.send(Method::DELETE, "/api/v1/users/1", None).await,
        (StatusCode::NO_CONTENT, Value::Null)
    );
    assert_eq!(
        h.get("/api/v1/users/1").await,
        (StatusCode::NOT_FOUND, json!({ "error": "not_found" }))
    );
    assert_eq!(
        h.send(Method::DELETE, "/api/v1/users/1", None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.create_user("ada@example.com").await,
        2,
        "ids are never reused"
    );
}

#[tokio::test]
async fn updated_at_moves_forward_on_every_write() {
    let h = Harness::start().await;
    h.create_user("a@example.com").await;
    let mut previous = timestamp(&h.get("/api/v1/users/1").await.1["data"]["updated_at"]);
    for _ in 0..5 {
        let (status, body) = h
            .send(Method::PATCH, "/api/v1/users/1", Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::OK);
        let updated = timestamp(&body["data"]["updated_at"]);
        assert!(updated > previous, "{updated:?} after {previous:?}");
        previous = updated;
    }
}

#[tokio::test]
async fn email_filter_is_case_insensitive_and_exact() {
    let h = Harness::start().await;
    h.create_user("ada@example.com").await;
    h.create_user("adam@example.com").await;
    h.create_user("bada@example.com").await;
    assert_eq!(
        h.list_ids("/api/v1/users?email=ADA%40Example.COM", "id")
            .await,
        [1]
    );
    assert_eq!(
        h.list_ids("/api/v1/users?email=ada@example.com", "id")
            .await,
        [1]
    );
    for no_match in [
        "ada",
        "example.com",
        "da@example.com",
        "ada%40example.co",
        "",
    ] {
        let path = format!("/api/v1/users?email={no_match}");
        let (status, body) = h.get(&path).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["data"], json!([]), "{path}");
        assert_eq!(body["meta"]["total"], 0, "{path}");
    }
}

#[tokio::test]
async fn external_ref_filter_is_exact_and_combines_with_email() {
    let h = Harness::start().await;
    for (email, external_ref) in [
        ("a@x.io", "ref-1"),
        ("b@x.io", "ref-1"),
        ("c@x.io", "REF-1"),
    ] {
        let (status, _) = h
            .post(
                "/api/v1/users",
                json!({ "email": email, "external_ref": external_ref }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    assert_eq!(
        h.list_ids("/api/v1/users?external_ref=ref-1", "id").await,
        [1, 2]
    );
    assert_eq!(
        h.list_ids("/api/v1/users?external_ref=REF-1", "id").await,
        [3]
    );
    assert_eq!(
        h.list_ids("/api/v1/users?email=B@X.IO&external_ref=ref-1", "id")
            .await,
        [2]
    );
    assert_eq!(
        h.list_ids("/api/v1/users?email=c@x.io&external_ref=ref-1", "id")
            .await,
        Vec::<u64>::new()
    );
    // The index follows changes.
    let (status, _) = h
        .send(
            Method::PATCH,
            "/api/v1/users/1",
            Some(json!({ "external_ref": null })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        h.list_ids("/api/v1/users?external_ref=ref-1", "id").await,
        [2]
    );
}

#[tokio::test]
async fn pagination_reports_meta_clamps_per_page_and_rejects_bad_numbers() {
    let h = Harness::start().await;
    h.platform().seed_users(120);

    let (status, first) = h.get("/api/v1/users").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        first["meta"],
        json!({ "page": 1, "per_page": 25, "total": 120 })
    );
    assert_eq!(ids(&first, "id"), (1..=25).collect::<Vec<_>>());

    let (_, second) = h.get("/api/v1/users?page=2&per_page=50").await;
    assert_eq!(
        second["meta"],
        json!({ "page": 2, "per_page": 50, "total": 120 })
    );
    assert_eq!(ids(&second, "id"), (51..=100).collect::<Vec<_>>());

    let (_, last) = h.get("/api/v1/users?page=3&per_page=50").await;
    assert_eq!(ids(&last, "id"), (101..=120).collect::<Vec<_>>());

    for huge in ["500", "101", "99999999999999999999999"] {
        let (_, clamped) = h.get(&format!("/api/v1/users?per_page={huge}")).await;
        assert_eq!(
            clamped["meta"],
            json!({ "page": 1, "per_page": 100, "total": 120 }),
            "{huge}"
        );
        assert_eq!(ids(&clamped, "id"), (1..=100).collect::<Vec<_>>());
    }

    let (_, past_the_end) = h.get("/api/v1/users?page=7").await;
    assert_eq!(past_the_end["data"], json!([]));
    assert_eq!(
        past_the_end["meta"],
        json!({ "page": 7, "per_page": 25, "total": 120 })
    );

    for bad in [
        "page=0",
        "page=abc",
        "page=",
        "page=-1",
        "page=1.5",
        "per_page=0",
        "per_page=%2B5",
    ] {
        let (status, body) = h.get(&format!("/api/v1/users?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["error"], "bad_request", "{bad}");
        assert!(body["message"].is_string(), "{bad}: {body}");
    }
}

#[tokio::test]
async fn email_taken_is_409_case_insensitively_on_post_put_and_patch() {
    let h = Harness::start().await;
    h.create_user("a@x.io").await;
    h.create_user("b@x.io").await;
    let taken = (StatusCode::CONFLICT, json!({ "error": "email_taken" }));

    assert_eq!(
        h.post("/api/v1/users", json!({ "email": "A@X.IO" })).await,
        taken
    );
    assert_eq!(
        h.send(
            Method::PUT,
            "/api/v1/users/2",
            Some(json!({ "email": "A@x.io" }))
        )
        .await,
        taken
    );
    assert_eq!(
        h.send(
            Method::PATCH,
            "/api/v1/users/2",
            Some(json!({ "email": "a@X.io" }))
        )
        .await,
        taken
    );
    assert_eq!(
        h.get("/api/v1/users/2").await.1["data"]["email"],
        "b@x.io",
        "unchanged"
    );

    // Its own address in another case is not a conflict.
    let (status, body) = h
        .send(
            Method::PATCH,
            "/api/v1/users/1",
            Some(json!({ "email": "A@X.IO" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["email"], "A@X.IO");

    // Moving to a new address frees the old one.
    let (status, _) = h
        .send(
            Method::PUT,
            "/api/v1/users/1",
            Some(json!({ "email": "c@x.io" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.create_user("a@x.io").await, 3);
    assert_eq!(
        h.post("/api/v1/users", json!({ "email": "C@x.io" })).await,
        taken
    );
}

#[tokio::test]
async fn invalid_user_bodies_get_422_naming_each_field() {
    let h = Harness::start().await;
    let cases = [
        (json!({}), json!({ "email": "required" })),
        (json!({ "email": null }), json!({ "email": "required" })),
        (
            json!({ "email": "no-at-sign" }),
            json!({ "email": "invalid" }),
        ),
        (json!({ "email": "a@b@c" }), json!({ "email": "invalid" })),
        (
            json!({ "email": "@example.com" }),
            json!({ "email": "invalid" }),
        ),
        (json!({ "email": "ada@" }), json!({ "email": "invalid" })),
        (
            json!({ "email": 42 }),
            json!({ "email": "must be a string" }),
        ),
        (
            json!({ "email": "a@x.io", "status": "gone" }),
            json!({ "status": r#"must be "active" or "disabled""# }),
        ),
        (
            json!({ "email": "a@x.io", "nickname": "A" }),
            json!({ "nickname": "unknown field" }),
        ),
        (
            json!({ "email": "a@x.io", "id": 7 }),
            json!({ "id": "read-only" }),
        ),
        (
            json!({ "email": "a@x.io", "first_name": 5, "last_name": ["x"], "external_ref": 1 }),
            json!({
                "first_name": "must be a string",
                "last_name": "must be a string",
                "external_ref": "must be a string or null",
            }),
        ),
        (
            json!({ "status": true, "extra": 1 }),
            json!({ "status": r#"must be "active" or "disabled""#, "extra": "unknown field", "email": "required" }),
        ),
    ];
    for (body, fields) in cases {
        let (status, answer) = h.post("/api/v1/users", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(
            answer,
            json!({ "error": "validation", "fields": fields }),
            "{body}"
        );
    }
    assert_eq!(
        h.get("/api/v1/users").await.1["meta"]["total"],
        0,
        "nothing was created"
    );

    h.create_user("a@x.io").await;
    let (status, answer) = h
        .send(
            Method::PATCH,
            "/api/v1/users/1",
            Some(json!({ "status": "paused", "first_name": "X" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        answer["fields"],
        json!({ "status": r#"must be "active" or "disabled""# })
    );
    assert_eq!(
        h.get("/api/v1/users/1").await.1["data"]["first_name"],
        "",
        "PATCH is all or nothing"
    );
    let (status, answer) = h
        .send(
            Method::PUT,
            "/api/v1/users/1",
            Some(json!({ "first_name": "X" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        answer["fields"],
        json!({ "email": "required" }),
        "PUT needs the email"
    );
}

#[tokio::test]
async fn malformed_or_non_object_json_is_400() {
    let h = Harness::start().await;
    for body in [
        &b"{\"email\":"[..],
        b"",
        b"not json",
        b"[1,2]",
        b"\"a@x.io\"",
    ] {
        let (status, answer) = h
            .send_bytes(
                Method::POST,
                "/api/v1/users",
                Some(Bytes::copy_from_slice(body)),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(answer["error"], "bad_request");
    }
}

#[tokio::test]
async fn bodies_over_one_mib_are_413() {
    let h = Harness::start().await;
    let padding = "x".repeat(MAX_BODY_BYTES);
    let body = Bytes::from(
        serde_json::to_vec(&json!({ "email": "a@x.io", "first_name": padding })).expect("json"),
    );
    assert!(body.len() > MAX_BODY_BYTES);
    let (status, answer) = h
        .send_bytes(Method::POST, "/api/v1/users", Some(body))
        .await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({ "error": "too_large" })
        )
    );

    let just_fits = "x".repeat(MAX_BODY_BYTES - 64);
    let (status, _) = h
        .post(
            "/api/v1/users",
            json!({ "email": "a@x.io", "first_name": just_fits }),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a body under 1 MiB is accepted"
    );
}

#[tokio::test]
async fn unknown_non_numeric_and_encoded_ids_are_404() {
    let h = Harness::start().await;
    h.create_user("a@x.io").await;
    let group = h.create_group("eng").await;
    assert_eq!(group, 1);
    let not_found = (StatusCode::NOT_FOUND, json!({ "error": "not_found" }));
    let paths = [
        "/api/v1/users/999",
        "/api/v1/users/abc",
        "/api/v1/users/..%2Fadmin",
        "/api/v1/users/1%2F2",
        "/api/v1/users/%2E%2E",
        "/api/v1/users/-1",
        "/api/v1/users/+1",
        "/api/v1/users/01",
        "/api/v1/users/0",
        "/api/v1/users/1.0",
        "/api/v1/users/18446744073709551616",
        "/api/v1/users/",
        "/api/v1/users/1/",
        "/api/v1/users/../groups",
        "/api/v1/users/1/../../groups",
        "/api/v1/groups/abc",
        "/api/v1/groups/1%2Fmembers",
        "/api/v1/groups/..%2F1/members",
        "/api/v1/groups/2/members",
        "/api/v1/%75sers",
        "/api/v2/users",
        "/",
    ];
    for path in paths {
        assert_eq!(h.get(path).await, not_found, "GET {path}");
    }
    assert_eq!(
        h.platform().calls().get("GET", "/api/v1/groups"),
        0,
        "no path reached the group list"
    );
    for path in [
        "/api/v1/groups/1/members/1%2F2",
        "/api/v1/groups/1/members/..%2F..%2Fusers",
        "/api/v1/groups/1/members/../../users/1",
    ] {
        assert_eq!(
            h.send(Method::DELETE, path, None).await,
            not_found,
            "DELETE {path}"
        );
    }
    assert_eq!(h.platform().calls().get("DELETE", "/api/v1/users/{id}"), 0);
    assert_eq!(
        h.get("/api/v1/users/1").await.0,
        StatusCode::OK,
        "user 1 is still there"
    );
    // A percent-encoded digit is still the id it spells.
    assert_eq!(h.get("/api/v1/users/%31").await.0, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Groups and members
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn group_crud_name_taken_and_no_put() {
    let h = Harness::start().await;
    let (status, created) = h
        .post(
            "/api/v1/groups",
            json!({ "name": "Engineering", "external_ref": "g-1" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let group = &created["data"];
    assert_eq!(group["id"], 1);
    assert_eq!(group["name"], "Engineering");
    assert_eq!(group["external_ref"], "g-1");
    assert_eq!(group["created_at"], group["updated_at"]);
    let keys: Vec<&str> = group
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["id", "name", "external_ref", "created_at", "updated_at"]
    );

    let taken = (StatusCode::CONFLICT, json!({ "error": "name_taken" }));
    assert_eq!(
        h.post("/api/v1/groups", json!({ "name": "ENGINEERING" }))
            .await,
        taken
    );
    assert_eq!(
        h.get("/api/v1/groups/1").await,
        (StatusCode::OK, created.clone())
    );
    assert_eq!(
        h.list_ids("/api/v1/groups?name=engineering", "id").await,
        [1]
    );
    assert_eq!(
        h.list_ids("/api/v1/groups?name=engineer", "id").await,
        Vec::<u64>::new()
    );
    assert_eq!(
        h.list_ids("/api/v1/groups?external_ref=g-1", "id").await,
        [1]
    );

    assert_eq!(h.create_group("Sales").await, 2);
    assert_eq!(
        h.send(
            Method::PATCH,
            "/api/v1/groups/2",
            Some(json!({ "name": "engineering" }))
        )
        .await,
        taken
    );
    let (status, patched) = h
        .send(
            Method::PATCH,
            "/api/v1/groups/1",
            Some(json!({ "name": "engineering" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "its own name in another case");
    assert_eq!(patched["data"]["name"], "engineering");
    assert_eq!(
        patched["data"]["external_ref"], "g-1",
        "PATCH keeps other fields"
    );

    let response = h
        .request(
            Method::PUT,
            "/api/v1/groups/1",
            Some(KEY),
            Some(Bytes::from_static(b"{}")),
        )
        .await
        .expect("a response");
    assert_eq!(
        response.headers().get(ALLOW).map(HeaderValue::as_bytes),
        Some(&b"GET, PATCH, DELETE"[..])
    );
    assert_eq!(
        json_of(response).await,
        (
            StatusCode::METHOD_NOT_ALLOWED,
            json!({ "error": "method_not_allowed" })
        )
    );

    for (body, fields) in [
        (json!({}), json!({ "name": "required" })),
        (
            json!({ "name": "" }),
            json!({ "name": "must not be empty" }),
        ),
        (
            json!({ "name": 3, "members": [] }),
            json!({ "name": "must be a string", "members": "unknown field" }),
        ),
    ] {
        let (status, answer) = h.post("/api/v1/groups", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(answer["fields"], fields, "{body}");
    }

    assert_eq!(
        h.send(Method::DELETE, "/api/v1/groups/1", None).await,
        (StatusCode::NO_CONTENT, Value::Null)
    );
    assert_eq!(h.get("/api/v1/groups/1").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        h.create_group("Engineering").await,
        3,
        "the name is free again"
    );
}

#[tokio::test]
async fn members_add_readd_remove_and_their_errors() {
    let h = Harness::start().await;
    for email in ["a@x.io", "b@x.io", "c@x.io"] {
        h.create_user(email).await;
    }
    let group = h.create_group("eng").await;
    let members = format!("/api/v1/groups/{group}/members");

    assert_eq!(
        h.post(&members, json!({ "user_id": 3 })).await,
        (StatusCode::CREATED, json!({ "data": { "user_id": 3 } }))
    );
    assert_eq!(
        h.post(&members, json!({ "user_id": 3 })).await,
        (StatusCode::CONFLICT, json!({ "error": "already_member" }))
    );
    assert_eq!(
        h.post(&members, json!({ "user_id": 1 })).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        h.post(&members, json!({ "user_id": 2 })).await.0,
        StatusCode::CREATED
    );

    let (status, listed) = h.get(&members).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        listed,
        json!({
            "data": [{ "user_id": 1 }, { "user_id": 2 }, { "user_id": 3 }],
            "meta": { "page": 1, "per_page": 25, "total": 3 },
        })
    );
    let (_, page_two) = h.get(&format!("{members}?per_page=2&page=2")).await;
    assert_eq!(
        page_two,
        json!({ "data": [{ "user_id": 3 }], "meta": { "page": 2, "per_page": 2, "total": 3 } })
    );

    assert_eq!(
        h.send(Method::DELETE, &format!("{members}/2"), None).await,
        (StatusCode::NO_CONTENT, Value::Null)
    );
    let not_found = (StatusCode::NOT_FOUND, json!({ "error": "not_found" }));
    assert_eq!(
        h.send(Method::DELETE, &format!("{members}/2"), None).await,
        not_found,
        "no longer a member"
    );
    assert_eq!(
        h.send(Method::DELETE, "/api/v1/groups/99/members/1", None)
            .await,
        not_found,
        "no such group"
    );
    assert_eq!(h.list_ids(&members, "user_id").await, [1, 3]);

    assert_eq!(
        h.post(&members, json!({ "user_id": 99 })).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({ "error": "validation", "fields": { "user_id": "unknown user" } })
        )
    );
    assert_eq!(
        h.post("/api/v1/groups/99/members", json!({ "user_id": 1 }))
            .await,
        not_found
    );
    assert_eq!(h.get("/api/v1/groups/99/members").await, not_found);
    for (body, fields) in [
        (json!({}), json!({ "user_id": "required" })),
        (
            json!({ "user_id": "1" }),
            json!({ "user_id": "must be a non-negative integer" }),
        ),
        (
            json!({ "user_id": 1, "role": "x" }),
            json!({ "role": "unknown field" }),
        ),
    ] {
        let (status, answer) = h.post(&members, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(answer["fields"], fields, "{body}");
    }
}

#[tokio::test]
async fn deleting_a_user_removes_it_from_every_group() {
    let h = Harness::start().await;
    let ada = h.create_user("ada@x.io").await;
    let bob = h.create_user("bob@x.io").await;
    let groups = [h.create_group("one").await, h.create_group("two").await];
    for group in groups {
        for user in [ada, bob] {
            let (status, _) = h
                .post(
                    &format!("/api/v1/groups/{group}/members"),
                    json!({ "user_id": user }),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED);
        }
    }
    assert_eq!(
        h.send(Method::DELETE, &format!("/api/v1/users/{ada}"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    for group in groups {
        let (_, listed) = h.get(&format!("/api/v1/groups/{group}/members")).await;
        assert_eq!(listed["data"], json!([{ "user_id": bob }]));
        assert_eq!(listed["meta"]["total"], 1);
    }
    // Deleting a group drops its memberships; the user can still be deleted afterwards.
    assert_eq!(
        h.send(
            Method::DELETE,
            &format!("/api/v1/groups/{}", groups[0]),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.send(Method::DELETE, &format!("/api/v1/users/{bob}"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.get(&format!("/api/v1/groups/{}/members", groups[1]))
            .await
            .1["meta"]["total"],
        0
    );
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow_and_unknown_paths_404() {
    let h = Harness::start().await;
    h.create_user("a@x.io").await;
    h.create_group("g").await;
    for (method, path, allow) in [
        (Method::DELETE, "/api/v1/users", "GET, POST"),
        (Method::POST, "/api/v1/users/1", "GET, PUT, PATCH, DELETE"),
        (Method::PUT, "/api/v1/groups", "GET, POST"),
        (Method::PUT, "/api/v1/groups/1", "GET, PATCH, DELETE"),
        (Method::DELETE, "/api/v1/groups/1/members", "GET, POST"),
        (Method::GET, "/api/v1/groups/1/members/1", "DELETE"),
        (Method::HEAD, "/api/v1/users", "GET, POST"),
        (Method::OPTIONS, "/api/v1/users", "GET, POST"),
    ] {
        let response = h
            .request(method.clone(), path, Some(KEY), None)
            .await
            .expect("a response");
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(
            response.headers().get(ALLOW).map(HeaderValue::as_bytes),
            Some(allow.as_bytes()),
            "{method} {path}"
        );
    }
    assert_eq!(
        h.send(Method::POST, "/api/v1/teams", Some(json!({}))).await,
        (StatusCode::NOT_FOUND, json!({ "error": "not_found" }))
    );
}

// ---------------------------------------------------------------------------------------------
// Test hooks: counting, seeding, reset
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn calls_are_counted_per_method_and_route_pattern() {
    let h = Harness::start().await;
    h.create_user("a@x.io").await;
    h.create_group("g").await;
    h.get("/api/v1/users/1").await;
    h.get("/api/v1/users/abc").await;
    h.get("/api/v1/users?page=2").await;
    h.post("/api/v1/groups/1/members", json!({ "user_id": 1 }))
        .await;
    h.send(Method::DELETE, "/api/v1/groups/1/members/1", None)
        .await;
    h.send(Method::PUT, "/api/v1/groups/1", Some(json!({})))
        .await;
    h.get("/elsewhere").await;
    let unauthorized = h
        .request(Method::GET, "/api/v1/users/1", NO_KEY, None)
        .await
        .expect("response");
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    h.request(
        Method::from_bytes(b"PURGE").expect("method"),
        "/api/v1/users",
        Some(KEY),
        None,
    )
    .await
    .expect("response");

    let calls = h.platform().calls();
    assert_eq!(calls.get("POST", "/api/v1/users"), 1);
    assert_eq!(calls.get("POST", "/api/v1/groups"), 1);
    assert_eq!(
        calls.get("GET", "/api/v1/users/{id}"),
        3,
        "found, non-numeric and unauthorized"
    );
    assert_eq!(calls.get("GET", "/api/v1/users"), 1);
    assert_eq!(calls.get("POST", "/api/v1/groups/{id}/members"), 1);
    assert_eq!(
        calls.get("DELETE", "/api/v1/groups/{id}/members/{user_id}"),
        1
    );
    assert_eq!(calls.get("PUT", "/api/v1/groups/{id}"), 1);
    assert_eq!(calls.get("GET", "*"), 1);
    assert_eq!(calls.get("OTHER", "/api/v1/users"), 1);
    assert_eq!(calls.get("GET", "/api/v1/groups/{id}"), 0);
    assert_eq!(calls.total(), 11);
    assert_eq!(
        calls.to_string(),
        "GET /api/v1/users: 1\n\
         POST /api/v1/users: 1\n\
         OTHER /api/v1/users: 1\n\
         GET /api/v1/users/{id}: 3\n\
         POST /api/v1/groups: 1\n\
         PUT /api/v1/groups/{id}: 1\n\
         POST /api/v1/groups/{id}/members: 1\n\
         DELETE /api/v1/groups/{id}/members/{user_id}: 1\n\
         GET *: 1"
    );

    h.platform().reset_calls();
    let calls = h.platform().calls();
    assert_eq!(calls.total(), 0);
    assert_eq!(calls.to_string(), "no calls");
    h.get("/api/v1/users/1").await;
    assert_eq!(h.platform().calls().get("GET", "/api/v1/users/{id}"), 1);
}

#[tokio::test]
async fn adding_a_member_to_a_seeded_10k_group_is_exactly_one_call() {
    let h = Harness::start().await;
    let ids = h.platform().seed_users(10_001);
    assert_eq!(ids.len(), 10_001);
    let group = h.platform().seed_group("big", &ids[..10_000]);
    h.platform().reset_calls();

    let newcomer = ids[10_000];
    assert_eq!(
        h.post(
            &format!("/api/v1/groups/{group}/members"),
            json!({ "user_id": newcomer })
        )
        .await,
        (
            StatusCode::CREATED,
            json!({ "data": { "user_id": newcomer } })
        )
    );
    let calls = h.platform().calls();
    assert_eq!(calls.total(), 1, "{calls}");
    assert_eq!(calls.get("POST", "/api/v1/groups/{id}/members"), 1);

    let (_, last_page) = h
        .get(&format!(
            "/api/v1/groups/{group}/members?per_page=100&page=101"
        ))
        .await;
    assert_eq!(last_page["meta"]["total"], 10_001);
    assert_eq!(last_page["data"], json!([{ "user_id": newcomer }]));
}

#[tokio::test]
async fn seeding_creates_sequential_users_and_reuses_a_group_by_name() {
    let h = Harness::start().await;
    assert_eq!(h.platform().seed_users(3), [1, 2, 3]);
    let (_, user) = h.get("/api/v1/users/2").await;
    assert_eq!(user["data"]["email"], "user2@example.com");
    assert_eq!(user["data"]["status"], "active");

    // An address a client already took is not reused.
    assert_eq!(h.create_user("USER5@example.com").await, 4);
    assert_eq!(h.platform().seed_users(1), [5]);
    assert_eq!(
        h.get("/api/v1/users/5").await.1["data"]["email"],
        "user5-2@example.com"
    );

    let group = h.platform().seed_group("Team", &[1, 2, 999]);
    assert_eq!(
        h.list_ids(&format!("/api/v1/groups/{group}/members"), "user_id")
            .await,
        [1, 2],
        "999 is skipped"
    );
    assert_eq!(
        h.platform().seed_group("TEAM", &[2, 3]),
        group,
        "same group"
    );
    assert_eq!(
        h.list_ids(&format!("/api/v1/groups/{group}/members"), "user_id")
            .await,
        [1, 2, 3]
    );
}

#[tokio::test]
async fn reset_clears_data_counters_and_fault_and_restarts_ids() {
    let h = Harness::start().await;
    h.platform().seed_users(5);
    h.create_group("g").await;
    h.platform().set_fault(Some(Fault::Status(500)));
    h.platform().reset();
    assert_eq!(h.platform().calls().total(), 0);
    assert_eq!(h.get("/api/v1/users").await.1["meta"]["total"], 0);
    assert_eq!(h.get("/api/v1/groups").await.1["meta"]["total"], 0);
    assert_eq!(
        h.create_user("user1@example.com").await,
        1,
        "ids restart and emails are free"
    );
    assert_eq!(h.create_group("g").await, 1);
}

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn status_fault_answers_that_status_and_touches_no_data() {
    let h = Harness::start().await;
    h.platform().set_fault(Some(Fault::Status(503)));
    assert_eq!(
        h.post("/api/v1/users", json!({ "email": "a@x.io" })).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "error": "injected" })
        )
    );
    h.platform().set_fault(Some(Fault::Status(42)));
    assert_eq!(
        h.get("/api/v1/users").await.0,
        StatusCode::INTERNAL_SERVER_ERROR,
        "invalid codes are 500"
    );
    h.platform().set_fault(None);
    assert_eq!(h.get("/api/v1/users").await.1["meta"]["total"], 0);
    assert_eq!(
        h.platform().calls().get("POST", "/api/v1/users"),
        1,
        "faulted calls are counted"
    );
}

#[tokio::test]
async fn delay_fault_delays_then_serves_normally() {
    let h = Harness::start().await;
    h.create_user("a@x.io").await;
    let delay = Duration::from_millis(300);
    h.platform().set_fault(Some(Fault::Delay(delay)));
    let started = std::time::Instant::now();
    let (status, body) = h.get("/api/v1/users/1").await;
    assert!(
        started.elapsed() >= delay,
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["email"], "a@x.io");
}

#[tokio::test]
async fn garbage_fault_answers_200_with_a_body_that_is_not_json() {
    let h = Harness::start().await;
    h.platform().set_fault(Some(Fault::Garbage));
    let response = h
        .request(Method::GET, "/api/v1/users", Some(KEY), None)
        .await
        .expect("a response");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a complete body")
        .to_bytes();
    assert_eq!(&body[..], b"not json");
    assert!(serde_json::from_slice::<Value>(&body).is_err());
}

#[tokio::test]
async fn truncated_fault_sends_half_the_declared_body_then_closes() {
    let h = Harness::start().await;
    h.platform().set_fault(Some(Fault::Truncated));

    let response = h
        .request(Method::GET, "/api/v1/users", Some(KEY), None)
        .await
        .expect("a response head");
    assert_eq!(response.status(), StatusCode::OK);
    let declared = TRUNCATED_BODY.len().to_string();
    assert_eq!(
        response
            .headers()
            .get("content-length")
            .map(HeaderValue::as_bytes),
        Some(declared.as_bytes())
    );
    assert!(
        response.into_body().collect().await.is_err(),
        "the client sees a body error"
    );

    let raw = raw_exchange(h.running.addr(), &get_request("/api/v1/users", "")).await;
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(content_length(&head), TRUNCATED_BODY.len());
    assert_eq!(
        body,
        &TRUNCATED_BODY[..TRUNCATED_BODY.len() / 2],
        "half the body, then the close"
    );
}

#[tokio::test]
async fn reset_fault_closes_the_connection_without_answering() {
    let h = Harness::start().await;
    h.platform().set_fault(Some(Fault::Reset));
    let raw = raw_exchange(h.running.addr(), &get_request("/api/v1/users", "")).await;
    assert!(
        raw.is_empty(),
        "received {:?}",
        String::from_utf8_lossy(&raw)
    );
    let error = h
        .request(Method::GET, "/api/v1/users", Some(KEY), None)
        .await
        .expect_err("no response");
    assert!(
        !error.is_connect(),
        "the connection was made, then dropped: {error}"
    );
    h.platform().set_fault(None);
    assert_eq!(
        h.get("/api/v1/users").await.0,
        StatusCode::OK,
        "served again once cleared"
    );
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn one_keep_alive_connection_serves_many_requests() {
    let h = Harness::start().await;
    h.create_user("a@x.io").await;
    h.platform().reset_calls();
    let mut stream = TcpStream::connect(h.running.addr()).await.expect("connect");
    let mut buffer = Vec::new();
    for _ in 0..3 {
        stream
            .write_all(get_request("/api/v1/users/1", "").as_bytes())
            .await
            .expect("write");
        let response = tokio::time::timeout(IO_TIMEOUT, async {
            let mut chunk = [0u8; 4096];
            loop {
                if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                    let total = end + 4 + content_length(&head);
                    if buffer.len() >= total {
                        let body = buffer[end + 4..total].to_vec();
                        buffer.drain(..total);
                        return (head, body);
                    }
                }
                let n = stream.read(&mut chunk).await.expect("read");
                assert!(n > 0, "the server closed a keep-alive connection");
                buffer.extend_from_slice(&chunk[..n]);
            }
        })
        .await
        .expect("no timeout");
        let (head, body) = response;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let body: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["data"]["id"], 1);
    }
    assert_eq!(h.platform().calls().get("GET", "/api/v1/users/{id}"), 3);
}

#[tokio::test]
async fn http2_prior_knowledge_is_served() {
    let h = Harness::start().await;
    h.create_user("a@x.io").await;
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let request = Request::get(h.url("/api/v1/users/1"))
        .header("x-api-key", KEY)
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = client.request(request).await.expect("a response");
    assert_eq!(response.version(), http::Version::HTTP_2);
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["email"], "a@x.io");
}

#[tokio::test]
async fn serve_returns_when_shutdown_completes_and_stop_closes_the_port() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(Platform::new(KEY).serve(listener, async move {
        _ = stopped.await;
    }));
    // An idle keep-alive connection must not hold the shutdown up.
    let raw = raw_exchange(addr, &get_request("/api/v1/users", "Connection: close\r\n")).await;
    assert!(raw.starts_with(b"HTTP/1.1 200"));
    let idle = TcpStream::connect(addr).await.expect("connect");
    stop.send(()).expect("the server is listening");
    tokio::time::timeout(IO_TIMEOUT, server)
        .await
        .expect("serve returned in time")
        .expect("serve did not panic");
    drop(idle);
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the port is closed"
    );

    let running = Platform::spawn(KEY).await.expect("spawn");
    let addr = running.addr();
    tokio::time::timeout(IO_TIMEOUT, running.stop())
        .await
        .expect("stopped in time");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the port is closed"
    );
}

// ---------------------------------------------------------------------------------------------
// Pure helpers
// ---------------------------------------------------------------------------------------------

#[test]
fn ids_are_canonical_decimals_after_percent_decoding() {
    assert_eq!(parse_id("17"), Some(17));
    assert_eq!(parse_id("%31%37"), Some(17));
    assert_eq!(parse_id("0"), Some(0));
    assert_eq!(parse_id("18446744073709551615"), Some(u64::MAX));
    for bad in [
        "",
        "017",
        "+1",
        "-1",
        "1%2F2",
        "..%2Fadmin",
        "1 ",
        "%",
        "18446744073709551616",
        "١",
    ] {
        assert_eq!(parse_id(bad), None, "{bad:?}");
    }
}

#[test]
fn routes_never_match_through_dot_segments() {
    assert_eq!(Route::parse("/api/v1/users"), Route::Users);
    assert_eq!(
        Route::parse("/api/v1/groups/3/members/17"),
        Route::Member(Some(3), Some(17))
    );
    assert_eq!(Route::parse("/api/v1/groups/../users"), Route::Unmatched);
    assert_eq!(
        Route::parse("/api/v1/groups/../members"),
        Route::Members(None)
    );
    assert_eq!(Route::parse("/api/v1/./users"), Route::Unmatched);
    assert_eq!(Route::parse("/api/v1/users/..%2F1"), Route::User(None));
}

#[test]
fn faults_survive_packing_into_one_word() {
    for fault in [
        None,
        Some(Fault::Status(0)),
        Some(Fault::Status(503)),
        Some(Fault::Status(u16::MAX)),
        Some(Fault::Delay(Duration::ZERO)),
        Some(Fault::Delay(Duration::from_millis(1500))),
        Some(Fault::Delay(Duration::from_nanos(FAULT_PAYLOAD))),
        Some(Fault::Garbage),
        Some(Fault::Truncated),
        Some(Fault::Reset),
    ] {
        assert_eq!(decode_fault(encode_fault(fault)), fault);
    }
    assert_eq!(
        decode_fault(encode_fault(Some(Fault::Delay(Duration::MAX)))),
        Some(Fault::Delay(Duration::from_nanos(FAULT_PAYLOAD))),
        "very long delays are capped"
    );
}

#[test]
fn stamps_move_forward_even_within_one_millisecond() {
    let mut previous = Stamp::now();
    for _ in 0..1000 {
        let next = Stamp::after(&previous);
        assert!(next.millis > previous.millis);
        let parsed = datetime::parse(&next.text).expect("RFC 3339");
        assert_eq!(
            parsed.secs * 1000 + i64::from(parsed.nanos / 1_000_000),
            next.millis
        );
        previous = next;
    }
    let now = Stamp::now();
    let future = Stamp::at(now.millis + 60_000);
    assert_eq!(Stamp::after(&future).millis, future.millis + 1);
    assert!(
        Stamp::after(&Stamp::at(0)).millis >= now.millis,
        "a stale stamp yields to the clock"
    );
}

#[test]
#[cfg(debug_assertions)]
fn asking_for_an_unknown_pattern_panics_in_debug_builds() {
    let platform = Platform::new(KEY);
    let panic = std::panic::catch_unwind(|| platform.calls().get("GET", "/api/v1/user/{id}"))
        .expect_err("a pattern with no counter is a test's typo and must not read as zero calls");
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(
        message.contains("no call counter") && message.contains("/api/v1/user/{id}"),
        "the panic names the unknown pattern: {message:?}"
    );
}

#[tokio::test]
async fn usernames_default_to_the_email_are_unique_and_filterable() {
    let h = Harness::start().await;
    let (status, body) = h.post("/api/v1/users", json!({ "email": "a@x.io" })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["data"]["username"], "a@x.io", "defaults to the e-mail");
    let (status, body) = h
        .post(
            "/api/v1/users",
            json!({ "email": "b@x.io", "username": "Bee" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        h.post(
            "/api/v1/users",
            json!({ "email": "c@x.io", "username": "BEE" })
        )
        .await,
        (StatusCode::CONFLICT, json!({ "error": "username_taken" }))
    );
    assert_eq!(
        h.send(
            Method::PATCH,
            "/api/v1/users/1",
            Some(json!({ "username": "bee" }))
        )
        .await,
        (StatusCode::CONFLICT, json!({ "error": "username_taken" }))
    );
    let (_, found) = h.get("/api/v1/users?username=bEE").await;
    assert_eq!(found["meta"]["total"], 1);
    assert_eq!(found["data"][0]["email"], "b@x.io");
    let (_, none) = h.get("/api/v1/users?username=bee&email=a@x.io").await;
    assert_eq!(none["meta"]["total"], 0, "filters combine");
    let (status, renamed) = h
        .send(
            Method::PATCH,
            "/api/v1/users/2",
            Some(json!({ "username": "Queen" })),
        )
        .await;
    assert_eq!(
        (status, &renamed["data"]["username"]),
        (StatusCode::OK, &json!("Queen"))
    );
    assert_eq!(
        h.get("/api/v1/users?username=bee").await.1["meta"]["total"],
        0,
        "old name freed"
    );
    assert_eq!(
        h.send(Method::DELETE, "/api/v1/users/2", None).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, _) = h
        .post(
            "/api/v1/users",
            json!({ "email": "q@x.io", "username": "queen" }),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a deleted user's name is free again"
    );
}

#[test]
fn basic_credentials_decode_what_the_sidecar_encodes() {
    for (id, secret) in [("scim-sidecar", "s3cret"), ("a b", "p:w/+%"), ("", "x")] {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let header = crate::platform::base64(format!("{}:{}", enc(id), enc(secret)).as_bytes());
        assert_eq!(
            decode_basic(&header),
            Some((id.to_owned(), secret.to_owned())),
            "{header}"
        );
    }
    assert_eq!(decode_base64("Zm9vYmFy"), Some(b"foobar".to_vec()));
    assert_eq!(decode_base64("Zg=="), Some(b"f".to_vec()));
    assert_eq!(decode_base64("Zg="), None);
    assert_eq!(decode_base64("Z!=="), None);
    assert_eq!(decode_basic("bm9jb2xvbg=="), None, "no colon");
}
