//! Deadlines against a platform that accepts connections and never answers (a hung app, a
//! blackholing mesh), over real sockets: `/readyz` answers 503 within `platform.readiness.timeout`
//! with concurrent probes sharing one platform call, and a SCIM request's platform calls, retries
//! included, fit in `platform.request_budget`. The key's errors name key, value and file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{Stack, TOKEN, bearer};

/// A TCP listener that accepts every connection, reads and drops whatever arrives, and never
/// answers. Counts the connections it accepted.
struct Blackhole {
    url: String,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Blackhole {
    async fn start() -> Blackhole {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut sink = tokio::io::sink();
                    let _ = tokio::io::copy(&mut tcp, &mut sink).await;
                });
            }
        });
        Blackhole {
            url,
            accepted,
            task,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The demo mapping with `[platform]` keys replaced.
fn mapping(timeout: &str, retries: u32, budget: &str) -> String {
    let m = scim_sidecar::demo::MAPPING_TOML
        .replace("timeout = \"10s\"", &format!("timeout = \"{timeout}\""))
        .replace("retries = 2", &format!("retries = {retries}"))
        .replace(
            "request_budget = \"20s\"",
            &format!("request_budget = \"{budget}\""),
        );
    assert!(m.contains(&format!("request_budget = \"{budget}\"")));
    m
}

async fn stack_against(hole: &Blackhole, mapping: &str) -> Stack {
    let platform = scim_sidecar::demo::Platform::spawn(support::PLATFORM_KEY)
        .await
        .expect("platform");
    Stack::start_against(platform, &hole.url, "", Some(mapping)).await
}

async fn readyz(client: reqwest::Client, url: String) -> (u16, String, Duration) {
    let started = Instant::now();
    let r = client.get(url).send().await.expect("readyz answers");
    let status = r.status().as_u16();
    let body = r.text().await.expect("body");
    (status, body, started.elapsed())
}

/// A SCIM request: status, `Retry-After`, how long it took.
async fn scim(s: &Stack, method: reqwest::Method, path: &str) -> (u16, Option<String>, Duration) {
    let started = Instant::now();
    let mut req = s
        .client
        .request(method.clone(), s.url(path))
        .header("authorization", bearer(TOKEN));
    if method == reqwest::Method::POST {
        req = req.header("content-type", "application/scim+json").body(
            serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "hung@example.com",
                "emails": [{"type": "work", "primary": true, "value": "hung@example.com"}]
            })
            .to_string(),
        );
    }
    let r = req.send().await.expect("the sidecar answers");
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let _ = r.bytes().await;
    (status, retry_after, started.elapsed())
}

#[tokio::test]
async fn readyz_answers_503_within_its_deadline_when_the_platform_never_answers() {
    let hole = Blackhole::start().await;
    // The platform timeout (10 s) and retries (2) are the defaults: the probe ignores both.
    let s = stack_against(&hole, &mapping("10s", 2, "20s")).await;
    let url = format!("http://{}/readyz", s.sidecar.admin_addr);
    let mut probes = tokio::task::JoinSet::new();
    for _ in 0..6 {
        probes.spawn(readyz(s.client.clone(), url.clone()));
    }
    for (status, body, took) in probes.join_all().await {
        assert_eq!(status, 503, "{body}");
        // The default deadline is 800 ms: well under kubelet's 1 s, with room for a busy CI.
        assert!(took < Duration::from_millis(1500), "/readyz took {took:?}");
    }
    assert_eq!(
        hole.accepted(),
        1,
        "six concurrent probes share one platform call"
    );
    // Within `cache`, the failure is reused: no new platform call, and an immediate answer.
    let (status, _, took) = readyz(s.client.clone(), url.clone()).await;
    assert_eq!(status, 503);
    assert!(took < Duration::from_millis(500), "{took:?}");
    assert_eq!(hole.accepted(), 1);
    s.stop().await;
}

#[tokio::test]
async fn a_readiness_timeout_shorter_than_the_shortest_request_attempt_still_probes() {
    // 100 ms is below the 250 ms a SCIM request's attempt needs: the probe makes its call anyway.
    let m = scim_sidecar::demo::MAPPING_TOML.replace("timeout = \"800ms\"", "timeout = \"100ms\"");
    assert!(m.contains("timeout = \"100ms\""));
    let s = Stack::start_with("", Some(&m)).await;
    let url = format!("http://{}/readyz", s.sidecar.admin_addr);
    let (status, body, _) = readyz(s.client.clone(), url).await;
    assert_eq!(status, 200, "{body}");
    s.stop().await;
}

#[tokio::test]
async fn a_blackholed_platform_is_504_within_the_request_budget_not_after_every_retry() {
    let hole = Blackhole::start().await;
    // Without the budget, a GET would take 5 retries + 1 attempts of 1 s each: over 6 s.
    let s = stack_against(&hole, &mapping("1s", 5, "2500ms")).await;
    let (status, _, took) = scim(&s, reqwest::Method::GET, "/Users/1").await;
    assert_eq!(status, 504);
    assert!(
        took < Duration::from_millis(3500),
        "a GET must answer within its budget (2.5 s), took {took:?}"
    );
    // Attempt 1 times out at 1 s; a whole second still fits, so one retry; after it, it does not.
    assert_eq!(hole.accepted(), 2, "attempts that fit in the budget");
    s.stop().await;
}

#[tokio::test]
async fn an_attempt_is_capped_at_what_is_left_of_the_budget() {
    let hole = Blackhole::start().await;
    // The platform timeout (10 s) is longer than the whole budget (1.5 s).
    let s = stack_against(&hole, &mapping("10s", 2, "1500ms")).await;
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let before = hole.accepted();
        let (status, _, took) = scim(&s, method.clone(), "/Users").await;
        assert_eq!(status, 504, "{method}");
        assert!(
            took < Duration::from_millis(2500),
            "{method} must answer within its budget (1.5 s), took {took:?}"
        );
        assert_eq!(
            hole.accepted() - before,
            1,
            "{method}: one attempt, no retry"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn a_refused_connection_is_503_with_retry_after_after_the_retries() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let platform = scim_sidecar::demo::Platform::spawn(support::PLATFORM_KEY)
        .await
        .expect("platform");
    let s = Stack::start_against(
        platform,
        &format!("http://{closed}"),
        "",
        Some(&mapping("1s", 2, "20s")),
    )
    .await;
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let (status, retry_after, took) = scim(&s, method.clone(), "/Users").await;
        assert_eq!(
            status, 503,
            "{method}: nothing was sent, the platform is down"
        );
        assert_eq!(retry_after.as_deref(), Some("5"), "{method}");
        assert!(took < Duration::from_secs(3), "{method} took {took:?}");
    }
    s.stop().await;
}

#[test]
fn request_budget_and_readiness_timeout_errors_name_key_value_and_file() {
    let setup = support::Setup::new();
    let bad = scim_sidecar::demo::MAPPING_TOML
        .replace("request_budget = \"20s\"", "request_budget = \"soon\"")
        .replace("timeout = \"800ms\"", "timeout = \"2m\"");
    let mapping = setup.write("mapping.toml", &bad);
    let cfg = setup.plain_config("[scim]\nmapping = \"mapping.toml\"\n");
    let errors = match support::loader(&cfg, Some("http://127.0.0.1:9")).load() {
        Ok(_) => panic!("the mapping is invalid"),
        Err(e) => e.to_string(),
    };
    let file = mapping.display().to_string();
    assert!(
        errors
            .lines()
            .any(|l| l.contains("platform.request_budget = \"soon\"") && l.contains(&file)),
        "{errors}"
    );
    assert!(
        errors
            .lines()
            .any(|l| l.contains("platform.readiness.timeout = \"2m\"") && l.contains(&file)),
        "{errors}"
    );
}
