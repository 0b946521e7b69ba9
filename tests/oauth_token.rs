//! Entra's "OAuth2 client credentials grant" against the sidecar's own token endpoint
//! (`[auth.oauth]`), end to end over real sockets: token request → SCIM calls with the token →
//! expiry → a new token; a second replica with the same keys; RFC 6749 error answers; a flood of
//! bad secrets rate-limited while the good client still gets its token; the access log's fields.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::Value;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{Stack, TOKEN, bearer};

const SECRET: &str = "entra-client-secret-0123456789abcdef0123456789abcdef";
const SECRET2: &str = "entra-client-secret-rotated-fedcba9876543210fedcba98765";

/// Writes an Ed25519 signing key and the client's secrets into `dir`.
fn write_keys(dir: &Path) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
    std::fs::write(dir.join("signing.pem"), pair.serialize_pem()).expect("key");
    std::fs::write(dir.join("entra"), format!("{SECRET}\n")).expect("secret");
    std::fs::write(dir.join("entra-next"), SECRET2).expect("secret");
}

/// The `[auth.oauth]` section (appended after `[scim]`), with files in `dir`.
fn oauth_config(dir: &Path, lifetime: &str) -> String {
    let d = dir.display();
    format!(
        r#"
[auth.oauth]
token_lifetime = "{lifetime}"
clock_skew = "0s"
signing_key_file = "{d}/signing.pem"
[[auth.oauth.clients]]
id = "entra"
secret_file = "{d}/entra"
[[auth.oauth.clients]]
id = "entra"
secret_file = "{d}/entra-next"
"#
    )
}

fn token_url(s: &Stack) -> String {
    s.url("/oauth/token")
}

fn basic(id: &str, secret: &str) -> String {
    let raw = format!("{id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// A form POST to the token endpoint; returns status, headers and JSON body.
async fn post(
    client: &reqwest::Client,
    url: &str,
    authorization: Option<&str>,
    form: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned());
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let r = req.send().await.expect("token request");
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.json::<Value>().await.unwrap_or(Value::Null);
    (status, headers, body)
}

async fn token(client: &reqwest::Client, url: &str) -> String {
    let (st, h, body) = post(
        client,
        url,
        Some(&basic("entra", SECRET)),
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["pragma"], "no-cache");
    assert_eq!(body["token_type"], "Bearer");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

async fn users(s: &Stack, token: &str) -> StatusCode {
    s.client
        .get(s.url("/Users"))
        .header("authorization", bearer(token))
        .send()
        .await
        .expect("scim")
        .status()
}

/// Every log line of this test binary, as JSON.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    support::logs::captured_logs(tracing::Level::DEBUG)
}

#[tokio::test]
async fn entra_client_credentials_flow_end_to_end_with_expiry_and_a_second_replica() {
    let logs = captured_logs();
    let keys = tempfile::tempdir().expect("dir");
    write_keys(keys.path());
    let s = Stack::start(&oauth_config(keys.path(), "2s")).await;
    let url = token_url(&s);

    // Entra asks for a token with HTTP Basic, then provisions with it.
    let t = token(&s.client, &url).await;
    assert_eq!(users(&s, &t).await, StatusCode::OK);
    let (st, _) = s.scim(reqwest::Method::GET, "/Users", None).await;
    assert_eq!(st, 200, "the static token keeps working beside OAuth");

    // A second replica holding the same keys accepts the same token, with no shared state.
    let second = Stack::start(&oauth_config(keys.path(), "2s")).await;
    assert_eq!(users(&second, &t).await, StatusCode::OK);
    // So does a second process: the real binary, started with the same key files.
    let setup = support::Setup::new();
    let cfg = setup.plain_config(&format!(
        "[log]\nformat = \"json\"\n{}",
        oauth_config(keys.path(), "2s")
    ));
    let process = support::process::spawn(&cfg);
    let addr = support::process::wait_for_addr(&process, "SCIM interface listening");
    let discovery = |token: &str| {
        let request = s
            .client
            .get(format!("http://{addr}/scim/v2/ServiceProviderConfig"))
            .header("authorization", format!("Bearer {token}"));
        async move { request.send().await.expect("second process").status() }
    };
    assert_eq!(discovery(&t).await, StatusCode::OK, "the same token");
    assert_eq!(
        discovery("eyJhbGciOiJFZERTQSJ9.e30.c2ln").await,
        StatusCode::UNAUTHORIZED,
        "a forged token"
    );

    // The token expires (2 s lifetime, no skew); both replicas refuse it; a new one works.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_eq!(users(&s, &t).await, StatusCode::UNAUTHORIZED);
    assert_eq!(users(&second, &t).await, StatusCode::UNAUTHORIZED);
    let fresh = token(&s.client, &url).await;
    assert_ne!(fresh, t);
    assert_eq!(users(&s, &fresh).await, StatusCode::OK);
    assert_eq!(users(&second, &fresh).await, StatusCode::OK);
    assert_eq!(
        discovery(&t).await,
        StatusCode::UNAUTHORIZED,
        "expired, in the process too"
    );
    assert_eq!(
        discovery(&fresh).await,
        StatusCode::OK,
        "the new one, in the process too"
    );
    drop(process);

    // The access log names the method and the client; static tokens keep their token name.
    let text = String::from_utf8(logs.lock().unwrap().clone()).expect("utf8");
    let access: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "scim_sidecar::access")
        .collect();
    assert!(
        access.iter().any(|v| v["auth"] == "oauth"
            && v["client"] == "entra"
            && v["path"] == "/scim/v2/Users"
            && v["status"] == 200),
        "{text}"
    );
    assert!(
        access
            .iter()
            .any(|v| v["auth"] == "token" && v["token"] == "entra" && v["client"] == "-"),
        "{text}"
    );
    assert!(
        text.contains("\"reason\":\"expired\""),
        "the expiry is logged as the reason: {text}"
    );
    assert!(
        !text.contains(SECRET) && !text.contains(&t),
        "no secret or token in the logs"
    );

    // Metrics count issued tokens.
    let metrics = reqwest::get(format!("http://{}/metrics", s.sidecar.admin_addr))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("scim_sidecar_oauth_tokens_issued_total 2"),
        "{metrics}"
    );
    second.stop().await;
    s.stop().await;
}

#[tokio::test]
async fn the_token_endpoint_answers_per_rfc_6749() {
    let keys = tempfile::tempdir().expect("dir");
    write_keys(keys.path());
    let s = Stack::start(&oauth_config(keys.path(), "1h")).await;
    let url = token_url(&s);
    let c = &s.client;
    let grant = "grant_type=client_credentials";

    // Form-body client authentication, and the second (rotation) secret.
    let (st, _, body) = post(
        c,
        &url,
        None,
        &format!("{grant}&client_id=entra&client_secret={SECRET2}"),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["expires_in"], 3600);
    let t = body["access_token"].as_str().expect("token");
    assert_eq!(users(&s, t).await, StatusCode::OK);

    // Bad secret and unknown client: 401 invalid_client with a Basic challenge, no-store.
    for auth in [basic("entra", "wrong-secret"), basic("okta", SECRET)] {
        let (st, h, body) = post(c, &url, Some(&auth), grant).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "invalid_client");
        assert!(h["www-authenticate"].to_str().unwrap().starts_with("Basic"));
        assert_eq!(h["cache-control"], "no-store");
    }
    // No client authentication at all.
    let (st, _, body) = post(c, &url, None, grant).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    // Wrong grant, missing grant.
    let (st, _, body) = post(
        c,
        &url,
        Some(&basic("entra", SECRET)),
        "grant_type=password",
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type");
    let (st, _, body) = post(c, &url, Some(&basic("entra", SECRET)), "scope=x").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    // Two client authentication methods at once; a repeated parameter.
    let (st, _, body) = post(
        c,
        &url,
        Some(&basic("entra", SECRET)),
        &format!("{grant}&client_id=entra&client_secret={SECRET}"),
    )
    .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (st, _, _) = post(
        c,
        &url,
        Some(&basic("entra", SECRET)),
        &format!("{grant}&{grant}"),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    // GET is not the token endpoint's method; the endpoint needs no bearer token.
    let r = c.get(&url).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);

    // An issued token is not a static token, and a forged one is refused (401, not 500).
    let mut forged = t.to_owned();
    forged.pop();
    forged.push(if t.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(users(&s, &forged).await, StatusCode::UNAUTHORIZED);
    assert_eq!(users(&s, "a.b.c").await, StatusCode::UNAUTHORIZED);
    assert_eq!(users(&s, TOKEN).await, StatusCode::OK);

    let metrics = reqwest::get(format!("http://{}/metrics", s.sidecar.admin_addr))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in [
        r#"scim_sidecar_oauth_token_failures_total{reason="invalid_client"} 3"#,
        r#"scim_sidecar_oauth_token_failures_total{reason="unsupported_grant_type"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_flood_of_bad_secrets_gets_429_while_the_good_client_still_gets_a_token() {
    let keys = tempfile::tempdir().expect("dir");
    write_keys(keys.path());
    let s = Stack::start(&oauth_config(keys.path(), "1h")).await;
    let url = token_url(&s);
    // The attacker comes from another loopback address than Entra, and names Entra's client id.
    let attacker = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let bad = basic("entra", "not-the-secret-not-the-secret-not-the-secret");
    let (mut unauthorized, mut limited) = (0, 0);
    for _ in 0..1000 {
        let (st, h, body) =
            post(&attacker, &url, Some(&bad), "grant_type=client_credentials").await;
        match st {
            StatusCode::UNAUTHORIZED => unauthorized += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                limited += 1;
                let secs: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
                assert!(secs >= 1);
                assert_eq!(body["error"], "invalid_client");
            }
            other => panic!("unexpected {other} {body}"),
        }
    }
    assert!(unauthorized <= 20, "the burst is small: {unauthorized}");
    assert!(limited >= 980, "the rest is refused with 429: {limited}");

    // The flooding peer's address has spent its budget, yet the right secret from that same
    // address still gets a token: behind an ingress, Entra and an attacker share one address.
    let (st, _, body) = post(
        &attacker,
        &url,
        Some(&basic("entra", SECRET)),
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    // Entra, from its own address, gets a token too and provisions with it.
    let t = token(&s.client, &url).await;
    assert_eq!(users(&s, &t).await, StatusCode::OK);
    // Entra's client id has spent its failure budget, so a wrong secret for it from anywhere
    // is 429 too; the right one is not.
    let (st, _, _) = post(&s.client, &url, Some(&bad), "grant_type=client_credentials").await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    s.stop().await;
}

/// The status of a token request with Basic credentials.
async fn token_status(s: &Stack, secret: &str) -> StatusCode {
    post(
        &s.client,
        &token_url(s),
        Some(&basic("entra", secret)),
        "grant_type=client_credentials",
    )
    .await
    .0
}

#[tokio::test]
async fn client_secrets_and_signing_keys_rotate_through_reload_without_downtime() {
    let keys = tempfile::tempdir().expect("dir");
    write_keys(keys.path());
    let unrelated = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
    std::fs::write(
        keys.path().join("previous.pub.pem"),
        unrelated.public_key_pem(),
    )
    .expect("pub");
    let d = keys.path().display();
    let extra = oauth_config(keys.path(), "1h").replace(
        "clock_skew = \"0s\"",
        &format!("clock_skew = \"0s\"\nverify_key_files = [\"{d}/previous.pub.pem\"]"),
    );
    let s = Stack::start(&extra).await;
    let old_token = token(&s.client, &token_url(&s)).await;

    // The client secret file changes (a new Secret version): the new secret works, the old not.
    let rotated = "entra-client-secret-third-0123456789abcdef0123456789abcdef";
    std::fs::write(keys.path().join("entra"), rotated).expect("secret");
    assert!(
        support::eventually(Duration::from_secs(10), || async {
            token_status(&s, rotated).await == StatusCode::OK
        })
        .await,
        "the rotated secret is accepted after the reload"
    );
    assert_eq!(token_status(&s, SECRET).await, StatusCode::UNAUTHORIZED);

    // The signing key rotates: the old public key moves to verify_key_files. Tokens signed with
    // the old key keep working; new tokens are signed with the new key (another kid).
    let old_pem = std::fs::read_to_string(keys.path().join("signing.pem")).expect("pem");
    let old_pub = rcgen::KeyPair::from_pem(&old_pem)
        .expect("old key")
        .public_key_pem();
    std::fs::write(keys.path().join("previous.pub.pem"), old_pub).expect("pub");
    let next = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
    std::fs::write(keys.path().join("signing.pem"), next.serialize_pem()).expect("key");
    let kid = |t: &str| {
        let header = t.split('.').next().expect("header");
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .expect("b64");
        serde_json::from_slice::<Value>(&json).expect("json")["kid"].clone()
    };
    let old_kid = kid(&old_token);
    // Wait (at most 10 s) for a token signed by the new key.
    let mut new_token = String::new();
    for _ in 0..200 {
        let (st, _, body) = post(
            &s.client,
            &token_url(&s),
            Some(&basic("entra", rotated)),
            "grant_type=client_credentials",
        )
        .await;
        let t = body["access_token"].as_str().unwrap_or_default().to_owned();
        if st == StatusCode::OK && kid(&t) != old_kid {
            new_token = t;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !new_token.is_empty(),
        "new tokens are signed with the new key after the reload"
    );
    assert_eq!(users(&s, &new_token).await, StatusCode::OK);
    assert_eq!(
        users(&s, &old_token).await,
        StatusCode::OK,
        "a token signed with the previous key is still accepted"
    );
    s.stop().await;
}
