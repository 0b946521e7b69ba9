//! The backend rate cap (`[platform] rate`, `burst`): under a burst ten times the rate, the demo
//! platform (counting the calls it receives) never sees more than the bucket lets through, the
//! excess gets 429 with `Retry-After` and a SCIM error body, and nothing is dropped silently; a
//! platform 429 with `Retry-After` holds every call until then.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{PLATFORM_KEY, Stack, TOKEN, bearer};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The demo mapping with `rate`, `burst` and `queue_timeout` set.
fn mapping(rate: &str, burst: u32, queue_timeout: &str) -> String {
    let m = scim_sidecar::demo::MAPPING_TOML;
    let from = "queue_timeout = \"1s\"";
    assert!(m.contains(from), "the demo mapping sets {from}");
    m.replace(
        from,
        &format!("queue_timeout = \"{queue_timeout}\"\nrate = \"{rate}\"\nburst = {burst}"),
    )
}

/// A SCIM request: status, `Retry-After`, JSON body.
async fn send(
    client: reqwest::Client,
    url: String,
    method: Method,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let mut req = client
        .request(method, url)
        .header("authorization", bearer(TOKEN));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(b.to_string());
    }
    let r = req.send().await.expect("the sidecar answers");
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = r.bytes().await.expect("body");
    (
        status,
        retry_after,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Whether a 429 from the sidecar is the rate cap's: `Retry-After` of at least 1 s and a SCIM
/// error body naming the configured rate.
fn is_rate_limited(answer: &(u16, Option<String>, Value)) -> bool {
    let (status, retry_after, body) = answer;
    *status == 429
        && retry_after
            .as_deref()
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|s| s >= 1)
        && body["schemas"][0] == "urn:ietf:params:scim:api:messages:2.0:Error"
        && body["status"] == "429"
        && body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("configured call rate (platform.rate)"))
}

/// The most calls a bucket of `burst` refilling `count` per `window` lets through in `elapsed`.
fn allowed(burst: u32, count: u32, window: Duration, elapsed: Duration) -> u64 {
    let refills = elapsed.as_secs_f64() * f64::from(count) / window.as_secs_f64();
    u64::from(burst) + refills.floor() as u64
}

#[tokio::test]
async fn a_burst_of_ten_times_the_rate_reaches_the_platform_at_the_rate_and_the_rest_gets_429() {
    let s = Stack::start_with("", Some(&mapping("5/2s", 5, "1s"))).await;
    let id = s.platform.platform().seed_users(1)[0];
    s.platform.platform().reset_calls();
    let started = Instant::now();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            tokio::spawn(send(
                s.client.clone(),
                s.url(&format!("/Users/{id}")),
                Method::GET,
                None,
            ))
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("task"));
    }
    let elapsed = started.elapsed();
    let ok = answers.iter().filter(|a| a.0 == 200).count() as u64;
    let limited = answers.iter().filter(|a| is_rate_limited(a)).count() as u64;
    let calls = s.calls().get("GET", "/api/v1/users/{id}");
    // Nothing dropped silently: each request got its user or a rate-cap 429, never a 5xx.
    assert_eq!(
        ok + limited,
        50,
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    assert!(
        answers
            .iter()
            .filter(|a| a.0 == 200)
            .all(|a| a.2["id"].as_str() == Some(id.to_string().as_str()))
    );
    // Every success was one platform call, and no call was made for a 429.
    assert_eq!(calls, ok, "one platform call per success");
    assert_eq!(s.calls().total(), calls, "no other platform call");
    // The platform saw no more than the bucket allows: the burst at once, then 5 per 2 s.
    let cap = allowed(5, 5, Duration::from_secs(2), elapsed);
    println!(
        "50 concurrent GETs, rate 5/2s, burst 5: {ok} answered 200, {limited} got 429, \
         {calls} platform calls in {elapsed:?} (bucket cap {cap})"
    );
    assert!(calls >= 5, "the burst went through: {calls}");
    assert!(
        calls <= cap,
        "{calls} platform calls in {elapsed:?}, cap {cap}"
    );
    assert!(limited >= 50 - cap, "the excess got 429: {limited}");
    // The refusals are counted where operators look.
    let metrics = reqwest::get(format!("http://{}/metrics", s.sidecar.admin_addr))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    assert!(
        metrics.contains(&format!(
            "scim_sidecar_platform_rate_limited_total {limited}"
        )),
        "{metrics}"
    );
    assert!(metrics.contains(r#"outcome="rate_limited""#), "{metrics}");
    s.stop().await;
}

#[tokio::test]
async fn a_burst_of_creates_creates_exactly_the_users_answered_201() {
    let s = Stack::start_with("", Some(&mapping("5/2s", 5, "1s"))).await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let name = format!("burst{i}@example.com");
            tokio::spawn(send(
                s.client.clone(),
                s.url("/Users"),
                Method::POST,
                Some(json!({
                    "schemas": [USER],
                    "userName": name,
                    "name": {"givenName": "Burst", "familyName": format!("User{i}")},
                    "emails": [{"type": "work", "primary": true, "value": name}],
                    "active": true
                })),
            ))
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("task"));
    }
    let elapsed = started.elapsed();
    let created: Vec<&str> = answers
        .iter()
        .filter(|a| a.0 == 201)
        .map(|a| a.2["userName"].as_str().expect("userName"))
        .collect();
    let limited = answers.iter().filter(|a| is_rate_limited(a)).count();
    assert_eq!(
        created.len() + limited,
        50,
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    let calls = s.calls().total();
    assert!(calls <= allowed(5, 5, Duration::from_secs(2), elapsed));
    // The platform holds exactly the users answered 201: none lost, none made for a 429.
    let (status, body) = s.platform_get("/api/v1/users?per_page=100").await;
    assert_eq!(status, 200, "{body}");
    let mut on_platform: Vec<&str> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|u| u["username"].as_str().expect("username"))
        .collect();
    let mut created = created;
    on_platform.sort_unstable();
    created.sort_unstable();
    assert_eq!(on_platform, created);
    s.stop().await;
}

/// What the platform in front of the demo saw: when each call arrived.
#[derive(Default)]
struct Seen {
    calls: AtomicU64,
    arrivals: Mutex<Vec<Instant>>,
}

#[tokio::test]
async fn a_platform_429_with_retry_after_holds_every_call_until_then() {
    // A platform that answers its first call 429 with `Retry-After: 2`, and passes every later
    // one to the demo platform.
    let platform = scim_sidecar::demo::Platform::spawn(PLATFORM_KEY)
        .await
        .expect("platform");
    let id = platform.platform().seed_users(1)[0];
    let demo = platform.base_url();
    let seen = Arc::new(Seen::default());
    let forward = reqwest::Client::new();
    let proxy = {
        let seen = seen.clone();
        support::serve(move |req| {
            let (seen, forward, demo) = (seen.clone(), forward.clone(), demo.clone());
            async move {
                let got = support::Received::read(req).await;
                let n = seen.calls.fetch_add(1, Ordering::SeqCst);
                seen.arrivals.lock().unwrap().push(Instant::now());
                if n == 0 {
                    return Ok(http::Response::builder()
                        .status(429)
                        .header("retry-after", "2")
                        .header("content-type", "application/json")
                        .body(http_body_util::Full::new(bytes::Bytes::from_static(
                            br#"{"error":"slow down"}"#,
                        )))
                        .unwrap());
                }
                let r = forward
                    .request(got.method.parse().unwrap(), format!("{demo}{}", got.raw))
                    .header("x-api-key", PLATFORM_KEY)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let body = r.bytes().await.unwrap();
                Ok(http::Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(http_body_util::Full::new(body))
                    .unwrap())
            }
        })
        .await
    };
    // A rate the test never reaches: only the platform's hold makes calls wait.
    let s = Stack::start_against(
        platform,
        &format!("http://{proxy}"),
        "",
        Some(&mapping("1000/1s", 1000, "500ms")),
    )
    .await;
    let get = || {
        send(
            s.client.clone(),
            s.url(&format!("/Users/{id}")),
            Method::GET,
            None,
        )
    };
    // The platform's 429 is a 503 with its Retry-After, as without a rate cap.
    let (status, retry_after, _) = get().await;
    assert_eq!((status, retry_after.as_deref()), (503, Some("2")));
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
    // Until the platform's instant, every request gets the sidecar's 429 and the platform sees
    // no call; then one request goes through.
    let mut refused = 0;
    let user = loop {
        let answer = get().await;
        if answer.0 == 200 {
            break answer.2;
        }
        assert!(is_rate_limited(&answer), "{answer:?}");
        let secs: u64 = answer.1.as_deref().unwrap().parse().unwrap();
        assert!(secs <= 2, "Retry-After within the platform's: {secs}");
        assert_eq!(seen.calls.load(Ordering::SeqCst), 1, "no call while held");
        refused += 1;
        assert!(refused < 100, "the hold ends");
        // Paces the polling only; nothing is asserted about time here.
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(user["id"], id.to_string());
    assert!(refused >= 1, "the request right after the 429 was held");
    assert_eq!(seen.calls.load(Ordering::SeqCst), 2);
    let arrivals = seen.arrivals.lock().unwrap().clone();
    assert!(
        arrivals[1] - arrivals[0] >= Duration::from_secs(2),
        "the second call came {:?} after the first",
        arrivals[1] - arrivals[0]
    );
    s.stop().await;
}

#[tokio::test]
async fn a_changed_rate_takes_effect_on_reload_and_the_calls_made_still_count() {
    // Fast reload polling, as in tests/operations.rs; it opens its own [reload] table.
    let s = Stack::start_with(
        "[reload]\npoll_interval = \"100ms\"\ndebounce = \"50ms\"\n",
        Some(&mapping("1/60s", 1, "0s")),
    )
    .await;
    let id = s.platform.platform().seed_users(1)[0];
    let get = || {
        send(
            s.client.clone(),
            s.url(&format!("/Users/{id}")),
            Method::GET,
            None,
        )
    };
    assert_eq!(get().await.0, 200);
    let refused = get().await;
    assert!(is_rate_limited(&refused), "{refused:?}");
    assert_eq!(s.calls().get("GET", "/api/v1/users/{id}"), 1);
    // Two calls a minute: the call already made still counts, so one more goes, not two.
    s.setup.write("mapping.toml", &mapping("2/60s", 2, "0s"));
    let admin = s.sidecar.admin_addr;
    assert!(
        support::eventually(Duration::from_secs(10), || async {
            reqwest::get(format!("http://{admin}/metrics"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
                .contains(r#"scim_sidecar_config_reloads_total{outcome="success"} 1"#)
        })
        .await,
        "the new mapping is loaded"
    );
    assert_eq!(get().await.0, 200);
    let refused = get().await;
    assert!(is_rate_limited(&refused), "{refused:?}");
    assert_eq!(s.calls().get("GET", "/api/v1/users/{id}"), 2);
    s.stop().await;
}
