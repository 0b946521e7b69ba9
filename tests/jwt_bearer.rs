//! `[[auth.jwt]]`: bearer JWTs from an external issuer, verified against a JWKS served by a tiny
//! local server with keys generated in the test. A valid token is accepted; every hostile case is
//! refused with 401 (never 500) and its reason logged; the key set is fetched on an unknown `kid`
//! at most once per interval; a hanging or failing JWKS server does not hold up tokens whose key
//! is cached, and the last good key set is kept.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::{Stack, bearer};

const ISSUER: &str = "https://sts.windows.net/00000000-0000-0000-0000-000000000001/";
const AUDIENCE: &str = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621";

/// The JWKS server's state: the document, whether it hangs or fails, how often it was asked.
#[derive(Default)]
struct JwksState {
    doc: Mutex<String>,
    hang: AtomicBool,
    fail: AtomicBool,
    fetches: AtomicUsize,
}

struct Key {
    kid: String,
    pair: rcgen::KeyPair,
}

impl Key {
    fn new(kid: &str) -> Key {
        Key {
            kid: kid.to_owned(),
            pair: rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519"),
        }
    }

    fn jwk(&self) -> Value {
        json!({
            "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": self.kid,
            "x": b64(self.pair.public_key_raw()),
        })
    }

    fn sign(&self, claims: &Value) -> String {
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some(self.kid.clone());
        jsonwebtoken::encode(
            &h,
            claims,
            &EncodingKey::from_ed_der(&self.pair.serialize_der()),
        )
        .expect("sign")
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims() -> Value {
    json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "entra-provisioning", "iat": now(), "nbf": now() - 5, "exp": now() + 600 })
}

fn with(mut c: Value, key: &str, v: Value) -> Value {
    c[key] = v;
    c
}

async fn jwks_server(state: Arc<JwksState>) -> std::net::SocketAddr {
    support::serve(move |_req| {
        let state = state.clone();
        async move {
            state.fetches.fetch_add(1, Ordering::SeqCst);
            if state.hang.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            let (status, body) = if state.fail.load(Ordering::SeqCst) {
                (500, "{}".to_owned())
            } else {
                (200, state.doc.lock().unwrap().clone())
            };
            Ok(http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                .unwrap())
        }
    })
    .await
}

fn set_keys(state: &JwksState, keys: &[&Key]) {
    let doc = json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() });
    *state.doc.lock().unwrap() = doc.to_string();
}

async fn status(s: &Stack, token: &str) -> StatusCode {
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
    support::logs::captured_logs(tracing::Level::INFO)
}

fn refusals(logs: &Arc<Mutex<Vec<u8>>>) -> Vec<String> {
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == "bearer token refused" && v["method"] == "jwt")
        .map(|v| v["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn config(jwks: std::net::SocketAddr) -> String {
    format!(
        r#"
[[auth.jwt]]
issuer = "{ISSUER}"
audience = "{AUDIENCE}"
jwks_url = "http://{jwks}/keys"
algorithms = ["EdDSA"]
clock_skew = "0s"
jwks_refresh_interval = "2s"
jwks_timeout = "3s"
"#
    )
}

#[tokio::test]
async fn external_jwts_are_verified_and_every_hostile_case_is_refused_with_its_reason() {
    let logs = captured_logs();
    let state = Arc::new(JwksState::default());
    let k1 = Key::new("k1");
    set_keys(&state, &[&k1]);
    let jwks = jwks_server(state.clone()).await;
    let s = Stack::start(&config(jwks)).await;

    // Valid: accepted (the first token fetches the key set), and the access log names it.
    assert_eq!(status(&s, &k1.sign(&claims())).await, StatusCode::OK);
    assert_eq!(state.fetches.load(Ordering::SeqCst), 1);
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|v| v["target"] == "scim_sidecar::access"
                && v["auth"] == "jwt"
                && v["client"] == "entra-provisioning"
                && v["status"] == 200),
        "{text}"
    );

    let payload = b64(claims().to_string().as_bytes());
    let hostile: Vec<(&str, String, &str)> = vec![
        (
            "alg none",
            format!("{}.{payload}.", b64(br#"{"alg":"none","kid":"k1"}"#)),
            "algorithm",
        ),
        (
            "HS256 signed with the public key",
            {
                let mut h = Header::new(Algorithm::HS256);
                h.kid = Some("k1".to_owned());
                jsonwebtoken::encode(
                    &h,
                    &claims(),
                    &EncodingKey::from_secret(k1.pair.public_key_raw()),
                )
                .unwrap()
            },
            "algorithm",
        ),
        (
            "expired",
            k1.sign(&with(claims(), "exp", json!(now() - 60))),
            "expired",
        ),
        (
            "not yet valid",
            k1.sign(&with(claims(), "nbf", json!(now() + 600))),
            "not_yet_valid",
        ),
        (
            "issued for another audience, replayed here",
            k1.sign(&with(claims(), "aud", json!("another-app"))),
            "wrong_audience",
        ),
        (
            "wrong issuer",
            k1.sign(&with(claims(), "iss", json!("https://evil.example/"))),
            "wrong_issuer",
        ),
        ("unknown kid", Key::new("k9").sign(&claims()), "unknown_kid"),
        (
            "kid with path characters",
            Key::new("../../etc/passwd").sign(&claims()),
            "unknown_kid",
        ),
        (
            "signed by another key under a known kid",
            Key::new("k1").sign(&claims()),
            "signature",
        ),
        (
            "oversized",
            k1.sign(&with(claims(), "pad", json!("x".repeat(9000)))),
            "oversized",
        ),
    ];
    for (name, token, reason) in &hostile {
        let before = refusals(&logs).len();
        assert_eq!(status(&s, token).await, StatusCode::UNAUTHORIZED, "{name}");
        let now_logged = refusals(&logs);
        assert!(
            now_logged[before..].iter().any(|r| r == reason),
            "{name}: reason {reason} logged; got {:?}",
            &now_logged[before..]
        );
    }
    // The unknown kids came within the refresh interval of the first fetch: no second fetch.
    assert_eq!(
        state.fetches.load(Ordering::SeqCst),
        1,
        "at most once per interval"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_hanging_or_failing_jwks_server_does_not_hold_up_known_keys() {
    let state = Arc::new(JwksState::default());
    let k1 = Key::new("k1");
    let k2 = Key::new("k2");
    set_keys(&state, &[&k1]);
    let jwks = jwks_server(state.clone()).await;
    let s = Arc::new(Stack::start(&config(jwks)).await);
    let t1 = k1.sign(&claims());
    assert_eq!(status(&s, &t1).await, StatusCode::OK);

    // The JWKS server hangs; an unknown kid triggers a fetch that waits for jwks_timeout (3 s).
    state.hang.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let stuck = {
        let s = s.clone();
        let t = k2.sign(&claims());
        tokio::spawn(async move { status(&s, &t).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Meanwhile a token with a cached key is answered without waiting for the fetch.
    let known = tokio::time::timeout(Duration::from_secs(2), status(&s, &t1)).await;
    assert_eq!(
        known.expect("not held up by the hanging fetch"),
        StatusCode::OK
    );
    assert!(!stuck.is_finished(), "the fetch is still hanging");
    assert_eq!(stuck.await.unwrap(), StatusCode::UNAUTHORIZED, "never 500");

    // The server fails outright: the last good key set is kept.
    state.hang.store(false, Ordering::SeqCst);
    state.fail.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        status(&s, &k2.sign(&claims())).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(status(&s, &t1).await, StatusCode::OK, "last good set kept");

    // The issuer rotates to k2 and the server recovers: an unknown kid refreshes the set.
    state.fail.store(false, Ordering::SeqCst);
    set_keys(&state, &[&k1, &k2]);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(status(&s, &k2.sign(&claims())).await, StatusCode::OK);
    match Arc::try_unwrap(s) {
        Ok(s) => s.stop().await,
        Err(_) => panic!("stack still shared"),
    }
}

/// An RSA private key (PKCS#1 `RSAPrivateKey` DER, what `EncodingKey::from_rsa_der` takes) out of
/// the PKCS#8 wrapping rcgen serializes: `SEQUENCE { INTEGER 0, AlgorithmIdentifier, OCTET STRING
/// { RSAPrivateKey } }`.
fn pkcs1_of(pkcs8: &[u8]) -> Vec<u8> {
    // One DER element at `at`: (tag, start of its content, end of its content).
    fn element(der: &[u8], at: usize) -> (u8, usize, usize) {
        let (tag, first) = (der[at], der[at + 1]);
        let (len, header) = if first < 0x80 {
            (first as usize, 2)
        } else {
            let n = (first & 0x7f) as usize;
            let len = der[at + 2..at + 2 + n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            (len, 2 + n)
        };
        (tag, at + header, at + header + len)
    }
    let (tag, body, _) = element(pkcs8, 0);
    assert_eq!(tag, 0x30, "PKCS#8 is a SEQUENCE");
    let (tag, _, after_version) = element(pkcs8, body);
    assert_eq!(tag, 0x02, "version INTEGER");
    let (tag, _, after_algorithm) = element(pkcs8, after_version);
    assert_eq!(tag, 0x30, "AlgorithmIdentifier SEQUENCE");
    let (tag, start, end) = element(pkcs8, after_algorithm);
    assert_eq!(tag, 0x04, "privateKey OCTET STRING");
    pkcs8[start..end].to_vec()
}

/// Entra ID signs its tokens with RS256 and publishes RSA keys (`kty: RSA`, `n`, `e`) at its JWKS
/// URL: the configuration docs/entra.md gives (`algorithms = ["RS256"]`) accepts such a token,
/// and refuses an RS256 token whose key is not in the set, an EdDSA token (an algorithm the
/// issuer was not configured for), and an RS256 token for another audience.
#[tokio::test]
async fn an_rsa_key_set_like_entras_verifies_rs256_tokens() {
    let rsa = |kid: &str| {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("rsa");
        let key = EncodingKey::from_rsa_der(&pkcs1_of(&pair.serialize_der()));
        let mut jwk = serde_json::to_value(
            jsonwebtoken::jwk::Jwk::from_encoding_key(&key, Algorithm::RS256).expect("jwk"),
        )
        .expect("jwk json");
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        (key, jwk)
    };
    let sign = |key: &EncodingKey, kid: &str, claims: &Value| {
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&h, claims, key).expect("sign")
    };
    let (entra_key, entra_jwk) = rsa("entra-rsa");
    let (other_key, _) = rsa("not-published");
    let state = Arc::new(JwksState::default());
    *state.doc.lock().unwrap() = json!({ "keys": [entra_jwk] }).to_string();
    let jwks = jwks_server(state.clone()).await;
    let s = Stack::start(&config(jwks).replace(r#"["EdDSA"]"#, r#"["RS256"]"#)).await;

    assert_eq!(
        status(&s, &sign(&entra_key, "entra-rsa", &claims())).await,
        StatusCode::OK,
        "an RS256 token signed by a published RSA key"
    );
    assert_eq!(
        status(&s, &sign(&other_key, "not-published", &claims())).await,
        StatusCode::UNAUTHORIZED,
        "a key the issuer does not publish"
    );
    assert_eq!(
        status(&s, &sign(&other_key, "entra-rsa", &claims())).await,
        StatusCode::UNAUTHORIZED,
        "the published kid with another key's signature"
    );
    let ed = Key::new("entra-rsa");
    assert_eq!(
        status(&s, &ed.sign(&claims())).await,
        StatusCode::UNAUTHORIZED,
        "EdDSA is not among this issuer's algorithms"
    );
    let elsewhere = with(claims(), "aud", json!("api://another-app"));
    assert_eq!(
        status(&s, &sign(&entra_key, "entra-rsa", &elsewhere)).await,
        StatusCode::UNAUTHORIZED,
        "a token for another audience"
    );
    s.stop().await;
}
