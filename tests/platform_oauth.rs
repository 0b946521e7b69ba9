//! The sidecar in front of a platform behind OAuth2 client credentials (the demo platform with
//! its token endpoint on, 127.0.0.1 port 0): tokens cached across requests and refreshed once per
//! lifetime, one token call for a burst, one refresh and one retry after a 401, clear 502/503/504
//! when no token can be had, the client secret rotated without a restart, and a client
//! certificate (mTLS) presented to a platform that requires one. The mapping is the cookbook's
//! (tests/fixtures/mappings/oauth.toml, shown in docs/mapping.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::{PLATFORM_KEY, Setup, Stack, TOKEN, bearer, eventually, loader};

use rustls::pki_types::pem::PemObject;
use scim_sidecar::demo::{OAuth, Platform, RunningPlatform};

/// The cookbook's mapping: the demo platform behind OAuth2.
const MAPPING: &str = include_str!("fixtures/mappings/oauth.toml");
const CLIENT_ID: &str = "scim-sidecar";
const SECRET: &str = "client-secret-6f1d2c9a8b7e";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const FAST_RELOAD: &str = "[reload]\npoll_interval = \"100ms\"\ndebounce = \"50ms\"\n";
const LIFETIME: Duration = Duration::from_secs(2);

async fn oauth_platform(lifetime: Option<Duration>) -> RunningPlatform {
    support::install_provider();
    Platform::with_oauth(
        PLATFORM_KEY,
        OAuth {
            client_id: CLIENT_ID.to_owned(),
            client_secret: SECRET.to_owned(),
            lifetime,
        },
    )
    .spawn_on_loopback()
    .await
    .expect("platform")
}

/// The sidecar with `mapping` (the fixture's address replaced by the platform's, or by
/// `token_url` for the token endpoint), the client secret file holding `secret`.
async fn start(
    platform: RunningPlatform,
    mapping: &str,
    token_url: Option<&str>,
    secret: &str,
    scim_extra: &str,
) -> Stack {
    let setup = Setup::new();
    setup.write("secrets/client-secret", &format!("{secret}\n"));
    let base = platform.base_url();
    let mut text = mapping.to_owned();
    if let Some(u) = token_url {
        text = text.replace("http://127.0.0.1:8081/oauth/token", u);
    }
    setup.write(
        "mapping.toml",
        &text.replace("http://127.0.0.1:8081", &base),
    );
    let cfg = setup.plain_config(&format!("[scim]\nmapping = \"mapping.toml\"\n{scim_extra}"));
    let loader = loader(&cfg, None);
    let config = loader
        .load()
        .unwrap_or_else(|e| panic!("test config must be valid:\n{e}"));
    let sidecar = scim_sidecar::start_with(config, Some(loader))
        .await
        .expect("start");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    Stack {
        setup,
        platform,
        sidecar,
        client,
    }
}

fn token_calls(s: &Stack) -> u64 {
    s.platform.platform().token_calls()
}

async fn metrics(s: &Stack) -> String {
    s.client
        .get(format!("http://{}/metrics", s.sidecar.admin_addr))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

/// A compact Entra provisioning cycle: create, find by userName, patch names, disable, enable,
/// group create, add and remove members, delete; every answer checked. Returns the number of
/// SCIM requests made.
async fn entra_cycle(s: &Stack, n: usize, pause: Duration) -> u64 {
    let upn = format!("Ada.{n}@Contoso.com");
    let mut requests = 0;
    let mut step = async |method: Method, path: String, body: Option<Value>| {
        tokio::time::sleep(pause).await;
        requests += 1;
        s.scim(method, &path, body).await
    };
    let (st, u) = step(
        Method::POST,
        "/Users".into(),
        Some(
            json!({"schemas": [USER], "userName": upn, "externalId": format!("ada-{n}"),
            "name": {"givenName": "Ada", "familyName": "Lovelace"}, "active": true,
            "emails": [{"type": "work", "primary": true, "value": upn}]}),
        ),
    )
    .await;
    assert_eq!(st, 201, "create: {u}");
    let id = u["id"].as_str().expect("id").to_owned();
    let (st, r) = step(
        Method::GET,
        format!(
            "/Users?filter=userName+eq+%22{}%22",
            upn.to_uppercase().replace('@', "%40")
        ),
        None,
    )
    .await;
    assert_eq!((st, &r["totalResults"]), (200, &json!(1)), "find: {r}");
    let (st, r) = step(
        Method::PATCH,
        format!("/Users/{id}"),
        Some(patch(json!([
            {"op": "Replace", "path": "name.familyName", "value": "King"},
            {"op": "Add", "path": "name.givenName", "value": "Augusta Ada"}]))),
    )
    .await;
    assert_eq!(
        (st, &r["name"]["familyName"]),
        (200, &json!("King")),
        "names: {r}"
    );
    for (value, want) in [("False", false), ("True", true)] {
        let (st, r) = step(
            Method::PATCH,
            format!("/Users/{id}"),
            Some(patch(
                json!([{"op": "Replace", "path": "active", "value": value}]),
            )),
        )
        .await;
        assert_eq!(
            (st, &r["active"]),
            (200, &json!(want)),
            "active {value}: {r}"
        );
    }
    let (st, g) = step(
        Method::POST,
        "/Groups".into(),
        Some(json!({"schemas": [GROUP], "displayName": format!("Sales {n}")})),
    )
    .await;
    assert_eq!(st, 201, "group: {g}");
    let gid = g["id"].as_str().expect("gid").to_owned();
    for op in ["Add", "Remove"] {
        let (st, r) = step(
            Method::PATCH,
            format!("/Groups/{gid}"),
            Some(patch(
                json!([{"op": op, "path": "members", "value": [{"value": id}]}]),
            )),
        )
        .await;
        assert_eq!(st, 204, "{op} member: {r}");
    }
    let (st, _) = step(Method::DELETE, format!("/Groups/{gid}"), None).await;
    assert_eq!(st, 204);
    let (st, _) = step(Method::DELETE, format!("/Users/{id}"), None).await;
    assert_eq!(st, 204);
    requests
}

#[tokio::test]
async fn the_entra_story_passes_across_token_lifetimes_with_one_token_call_per_lifetime() {
    let s = start(
        oauth_platform(Some(LIFETIME)).await,
        MAPPING,
        None,
        SECRET,
        "",
    )
    .await;
    let started = Instant::now();
    let mut requests = 0;
    for n in 0..4 {
        // 10 steps 150 ms apart: each cycle spans most of a token lifetime, and four of them
        // cross at least two expiries.
        requests += entra_cycle(&s, n, Duration::from_millis(150)).await;
    }
    let elapsed = started.elapsed();
    let calls = token_calls(&s);
    let bound = elapsed.as_secs_f64() / LIFETIME.as_secs_f64() + 2.0;
    assert!(
        calls >= 2,
        "tokens were refreshed after expiring ({calls} token calls in {elapsed:?})"
    );
    assert!(
        (calls as f64) <= bound,
        "{calls} token calls for {requests} SCIM requests in {elapsed:?}: more than one per lifetime"
    );
    assert_eq!(calls, s.platform.platform().tokens_issued(), "none refused");
    let m = metrics(&s).await;
    assert!(
        m.contains(&format!(
            "scim_sidecar_platform_token_fetches_total{{outcome=\"success\"}} {calls}"
        )),
        "the metric counts the fetches:\n{m}"
    );
    let form = s.platform.platform().last_token_request();
    assert!(
        form.contains(&("grant_type".into(), "client_credentials".into()))
            && form.contains(&("scope".into(), "users:write groups:write".into()))
            && !form.iter().any(|(k, _)| k == "client_id"),
        "basic client auth, scope in the form: {form:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn thirty_two_concurrent_requests_with_an_expired_token_make_one_token_call() {
    let s = start(
        oauth_platform(Some(LIFETIME)).await,
        MAPPING,
        None,
        SECRET,
        "",
    )
    .await;
    let (st, _) = s.scim(Method::GET, "/Users?count=1", None).await;
    assert_eq!((st, token_calls(&s)), (200, 1));
    tokio::time::sleep(LIFETIME + Duration::from_millis(100)).await;
    let s = Arc::new(s);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32 {
        let s = s.clone();
        tasks.spawn(async move {
            s.scim(
                Method::GET,
                &format!("/Users?filter=userName+eq+%22u{i}%40x.com%22"),
                None,
            )
            .await
            .0
        });
    }
    let statuses: Vec<u16> = tasks.join_all().await;
    assert!(statuses.iter().all(|&st| st == 200), "{statuses:?}");
    assert_eq!(
        token_calls(&s),
        2,
        "one token call for the whole burst (single flight)"
    );
    if let Ok(s) = Arc::try_unwrap(s) {
        s.stop().await;
    }
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_once_and_the_call_sent_once_more() {
    // Tokens without expires_in (and no default_expires_in): used until the platform says 401.
    let mapping = MAPPING.replace("default_expires_in = \"5m\"\n", "");
    let s = start(oauth_platform(None).await, &mapping, None, SECRET, "").await;
    for _ in 0..5 {
        let (st, _) = s.scim(Method::GET, "/Users", None).await;
        assert_eq!(st, 200);
    }
    assert_eq!(token_calls(&s), 1, "a token without expires_in is kept");

    s.platform.platform().revoke_tokens();
    s.platform.platform().reset_calls();
    // A POST: not idempotent, and still sent again, because the 401 means it was not processed.
    let (st, u) = s
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "grace@x.com",
                "emails": [{"type": "work", "value": "grace@x.com"}]})),
        )
        .await;
    assert_eq!(st, 201, "{u}");
    let calls = s.calls();
    assert_eq!(
        calls.get("POST", "/api/v1/users"),
        2,
        "one 401, one retry: {calls}"
    );
    assert_eq!(calls.get("POST", "/oauth/token"), 1, "one refresh: {calls}");
    let (_, list) = s.platform_get("/api/v1/users?email=grace%40x.com").await;
    assert_eq!(list["meta"]["total"], 1, "created once");

    // A platform that refuses every token: one refresh, one retry, never more; then 502.
    s.platform
        .platform()
        .set_fault(Some(scim_sidecar::demo::Fault::Status(401)));
    s.platform.platform().reset_calls();
    let (st, e) = s.scim(Method::GET, "/Users/1", None).await;
    assert_eq!(st, 502, "{e}");
    let calls = s.calls();
    assert_eq!(calls.get("GET", "/api/v1/users/{id}"), 2, "{calls}");
    assert_eq!(calls.get("POST", "/oauth/token"), 1, "{calls}");
    s.platform.platform().set_fault(None);
    s.stop().await;
}

#[tokio::test]
async fn a_wrong_client_secret_is_a_502_that_does_not_show_the_secret() {
    let wrong = "wrong-secret-0a9b8c7d6e5f";
    let s = start(
        oauth_platform(Some(LIFETIME)).await,
        MAPPING,
        None,
        wrong,
        "",
    )
    .await;
    for _ in 0..2 {
        let (st, e) = s.scim(Method::GET, "/Users", None).await;
        assert_eq!(st, 502, "{e}");
        let text = e.to_string();
        assert!(
            text.contains("token endpoint refused") && text.contains("[platform.auth]"),
            "{text}"
        );
        assert!(!text.contains(wrong) && !text.contains(SECRET), "{text}");
    }
    assert_eq!(s.platform.platform().tokens_issued(), 0);
    let m = metrics(&s).await;
    assert!(
        m.contains("scim_sidecar_platform_token_fetches_total{outcome=\"refused\"} 2"),
        "{m}"
    );
    assert!(!m.contains(wrong));
    s.stop().await;
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_503_and_a_silent_one_504() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_url = format!("http://{}/oauth/token", closed.local_addr().expect("addr"));
    drop(closed);
    let s = start(
        oauth_platform(Some(LIFETIME)).await,
        MAPPING,
        Some(&closed_url),
        SECRET,
        "",
    )
    .await;
    let (st, e) = s.scim(Method::GET, "/Users", None).await;
    assert_eq!(st, 503, "{e}");
    assert!(
        e["detail"]
            .as_str()
            .is_some_and(|d| d.contains("unreachable")),
        "{e}"
    );
    s.stop().await;

    // A token endpoint that accepts connections and never answers: the platform timeout (1 s).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_url = format!("http://{}/oauth/token", silent.local_addr().expect("addr"));
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            open.push(sock);
        }
    });
    let mapping = MAPPING.replace("timeout = \"5s\"", "timeout = \"1s\"");
    let s = start(
        oauth_platform(Some(LIFETIME)).await,
        &mapping,
        Some(&silent_url),
        SECRET,
        "",
    )
    .await;
    // Eight requests at once: one token call, whose failure they all share (none waits out a
    // deadline of its own in turn).
    let started = Instant::now();
    let s = Arc::new(s);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.spawn(async move { s.scim(Method::GET, "/Users", None).await });
    }
    for (st, e) in tasks.join_all().await {
        assert_eq!(st, 504, "{e}");
        assert!(
            e["detail"].as_str().is_some_and(|d| d.contains("in time")),
            "{e}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the token call has a deadline"
    );
    let m = metrics(&s).await;
    assert!(
        m.contains("scim_sidecar_platform_token_fetches_total{outcome=\"timeout\"} 1"),
        "one token call for the eight requests:\n{m}"
    );
    let Ok(s) = Arc::try_unwrap(s) else {
        panic!("the requests are done")
    };
    hold.abort();
    s.stop().await;
}

#[tokio::test]
async fn a_rewritten_client_secret_file_is_used_without_a_restart() {
    let s = start(
        oauth_platform(Some(Duration::from_secs(60))).await,
        MAPPING,
        None,
        SECRET,
        FAST_RELOAD,
    )
    .await;
    let p = s.platform.platform().clone();
    let (st, _) = s.scim(Method::GET, "/Users", None).await;
    assert_eq!((st, p.token_calls()), (200, 1));

    // An unrelated reload (the SCIM token file rewritten) keeps the cached token.
    s.setup.write("tokens/entra", &format!("{TOKEN}\n\n"));
    assert!(
        eventually(Duration::from_secs(10), || async {
            metrics(&s)
                .await
                .contains("scim_sidecar_config_reloads_total{outcome=\"success\"} 1")
        })
        .await,
        "reloaded"
    );
    let (st, _) = s.scim(Method::GET, "/Users", None).await;
    assert_eq!(
        (st, p.token_calls()),
        (200, 1),
        "same credentials: the token is kept"
    );

    // The identity provider rotates the secret; the old one is refused from now on.
    let next = "rotated-secret-1b2c3d4e5f60";
    p.set_client_secret(next);
    p.revoke_tokens();
    let (st, _) = s.scim(Method::GET, "/Users", None).await;
    assert_eq!(st, 502, "the old secret is refused");
    // Kubernetes updates the mounted Secret; no restart.
    s.setup.write("secrets/client-secret", next);
    assert!(
        eventually(Duration::from_secs(10), || async {
            s.scim(Method::GET, "/Users", None).await.0 == 200
        })
        .await,
        "the new secret is picked up"
    );
    assert_eq!(
        p.tokens_issued(),
        2,
        "the second token was issued for the new secret"
    );

    // A new secret drops the cached token even while it is still valid.
    p.set_client_secret("third-secret-99aa88bb77cc");
    let before = p.token_calls();
    s.setup
        .write("secrets/client-secret", "third-secret-99aa88bb77cc");
    assert!(
        eventually(Duration::from_secs(10), || async {
            s.scim(Method::GET, "/Users", None).await.0 == 200 && p.token_calls() > before
        })
        .await,
        "a token is fetched with the new secret"
    );
    assert_eq!(p.tokens_issued(), 3);
    s.stop().await;
}

#[tokio::test]
async fn body_client_auth_sends_the_credentials_and_audience_in_the_form() {
    let mapping = MAPPING.replace(
        "client_auth = \"basic\"",
        "client_auth = \"body\"\naudience = \"https://platform.example.com\"",
    );
    let s = start(
        oauth_platform(Some(LIFETIME)).await,
        &mapping,
        None,
        SECRET,
        "",
    )
    .await;
    let (st, _) = s.scim(Method::GET, "/Users", None).await;
    assert_eq!(st, 200);
    let form = s.platform.platform().last_token_request();
    for (k, v) in [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("audience", "https://platform.example.com"),
        ("scope", "users:write groups:write"),
    ] {
        assert!(
            form.contains(&(k.to_owned(), v.to_owned())),
            "{k}: {form:?}"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn oauth_keys_are_checked_with_their_key_value_and_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let compile = |auth: &str| {
        let text = MAPPING.replace(
            &MAPPING[MAPPING.find("[platform.auth]").expect("auth")
                ..MAPPING.find("[[platform.errors]]").expect("errors")],
            &format!("{auth}\n"),
        );
        let path = dir.path().join("mapping.toml");
        std::fs::write(&path, text).expect("write");
        match scim_sidecar::mapping::compile::load(&path, &|_| None, None) {
            Ok(_) => Vec::new(),
            Err(errors) => errors
                .into_iter()
                .map(|e| {
                    assert!(e.source.ends_with("mapping.toml"), "{e:?}");
                    format!("{} {}", e.key, e.reason)
                })
                .collect(),
        }
    };
    let has = |errors: &[String], key: &str, words: &str| {
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with(key) && e.contains(words)),
            "{key} / {words}: {errors:?}"
        );
    };
    let e = compile("[platform.auth]\nkind = \"oauth2\"\n");
    has(&e, "platform.auth.token_url", "missing");
    has(&e, "platform.auth.client_id", "missing");
    has(&e, "platform.auth", "client_secret_env");
    let e = compile(
        "[platform.auth]\nkind = \"oauth2\"\ntoken_url = \"ftp://idp/token\"\nclient_id = \"x\"\nclient_secret_file = \"nope\"\nclient_auth = \"jwt\"\nheader = \"X-Api-Key\"\ndefault_expires_in = \"soon\"",
    );
    has(&e, "platform.auth.token_url", "absolute http");
    has(&e, "platform.auth.client_secret_file", "cannot read");
    has(&e, "platform.auth.client_auth", "\"basic\"");
    has(&e, "platform.auth.header", "does not apply");
    has(&e, "platform.auth.default_expires_in", "");
    let e = compile(
        "[platform.auth]\nkind = \"oauth2\"\ntoken_url = \"https://idp/token\"\nclient_id = \"x\"\nclient_secret_env = \"X\"\nrefresh = true",
    );
    has(&e, "platform.auth.refresh", "unknown field");
    // a client key without its certificate
    let text = MAPPING.replace(
        "# client_key_file = \"secrets/client.key\"",
        "client_key_file = \"secrets/client.key\"",
    );
    let path = dir.path().join("mapping.toml");
    std::fs::write(&path, text).expect("write");
    let errors = scim_sidecar::mapping::compile::load(&path, &|_| None, None)
        .err()
        .unwrap_or_default();
    assert!(
        errors
            .iter()
            .any(|e| e.key == "platform.client_cert_file" && e.reason.contains("missing")),
        "{errors:?}"
    );
}

/// The real binary with debug-level JSON logs: a refused token call is logged with its cause,
/// and no line holds the client secret or an access token.
#[tokio::test]
async fn logs_give_the_cause_of_a_refused_token_call_but_never_the_secret_or_a_token() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let platform = oauth_platform(Some(Duration::from_secs(60))).await;
    let s = Setup::new();
    s.write("secrets/client-secret", SECRET);
    s.write(
        "mapping.toml",
        &MAPPING.replace("http://127.0.0.1:8081", &platform.base_url()),
    );
    let cfg = s.plain_config(
        "[scim]\nmapping = \"mapping.toml\"\n[log]\nformat = \"json\"\nlevel = \"debug\"\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_scim-sidecar"))
        .args(["serve", "--config", cfg.to_str().expect("utf8")])
        .env_clear()
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("listening line");
        lines.push(line.clone());
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if v["message"]
            .as_str()
            .is_some_and(|m| m.contains("SCIM interface listening"))
        {
            break v["addr"].as_str().expect("addr").to_owned();
        }
    };
    let c = reqwest::Client::new();
    let get = || {
        c.get(format!("http://{addr}/scim/v2/Users"))
            .header("authorization", bearer(TOKEN))
            .send()
    };
    assert_eq!(get().await.expect("get").status(), 200);
    let tokens = platform.platform().issued_tokens();
    assert_eq!(tokens.len(), 1);
    platform
        .platform()
        .set_client_secret("the-platform-moved-on-0000");
    platform.platform().revoke_tokens();
    assert_eq!(get().await.expect("get").status(), 502);
    let _ = child.kill();
    let _ = child.wait();
    lines.extend(rx.try_iter());
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
        lines.push(l);
    }
    let all = lines.join("\n");
    assert!(
        lines.iter().any(
            |l| l.contains("no access token from the platform's token endpoint")
                && l.contains("invalid_client")
        ),
        "the refusal and its cause are logged:\n{all}"
    );
    assert!(!all.contains(SECRET), "the client secret is never logged");
    assert!(!all.contains(&tokens[0]), "an access token is never logged");
    platform.stop().await;
}

#[test]
fn the_demo_command_can_put_its_platform_behind_oauth2() {
    support::install_provider();
    let dir = scim_sidecar::demo::DemoDir::create().expect("dir");
    dir.use_oauth("http://127.0.0.1:1", "demo-secret-0123")
        .expect("oauth mapping");
    let mapping = scim_sidecar::mapping::compile::load(
        &dir.path.join("mapping.toml"),
        &|_| None,
        Some("http://127.0.0.1:1"),
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let oauth = mapping.platform.oauth.as_ref().expect("oauth2");
    assert_eq!(
        (oauth.token_url.as_str(), oauth.client_id.as_str()),
        (
            "http://127.0.0.1:1/oauth/token",
            scim_sidecar::demo::OAUTH_CLIENT_ID
        )
    );
    assert_eq!(oauth.client_secret.expose(), "demo-secret-0123");
    assert!(
        !format!("{mapping:?}").contains("demo-secret-0123"),
        "no secret in Debug output"
    );
}

#[test]
fn the_cookbook_shows_the_mapping_this_test_runs() {
    let doc = include_str!("../docs/mapping.md");
    let block = doc
        .split("<!-- cookbook-oauth:start -->\n```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```\n<!-- cookbook-oauth:end -->").next())
        .expect("the cookbook block in docs/mapping.md");
    assert!(
        MAPPING.contains(block),
        "docs/mapping.md's cookbook and tests/fixtures/mappings/oauth.toml differ:\n{block}"
    );
}

#[tokio::test]
async fn explain_shows_the_token_call_without_the_secret() {
    let s = Setup::new();
    s.write("secrets/client-secret", SECRET);
    s.write("mapping.toml", MAPPING);
    let cfg = s.plain_config("[scim]\nmapping = \"mapping.toml\"\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scim-sidecar"))
        .args([
            "explain",
            "--config",
            &cfg.display().to_string(),
            "GET",
            "/scim/v2/Users?filter=userName eq \"a@b.c\"",
        ])
        .env_clear()
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("POST http://127.0.0.1:8081/oauth/token")
            && text.contains("grant_type=client_credentials")
            && text.contains("HTTP Basic"),
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");
}

/// Token calls per 1,000 SCIM requests with 2-second tokens, printed (run with --nocapture).
/// The requests are paced over about 8 seconds so the run spans several token lifetimes.
#[tokio::test]
async fn token_calls_per_thousand_scim_requests() {
    let s = start(
        oauth_platform(Some(LIFETIME)).await,
        MAPPING,
        None,
        SECRET,
        "",
    )
    .await;
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(8));
    for i in 0..1000 {
        tick.tick().await;
        let (st, _) = s
            .scim(
                Method::GET,
                &format!("/Users?filter=userName+eq+%22u{i}%40x.com%22"),
                None,
            )
            .await;
        assert_eq!(st, 200);
    }
    let elapsed = started.elapsed();
    let calls = token_calls(&s);
    println!(
        "token calls per 1,000 SCIM requests with {}-second tokens: {calls} (over {:.1} s, {:.1} token lifetimes)",
        LIFETIME.as_secs(),
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() / LIFETIME.as_secs_f64()
    );
    assert!((calls as f64) <= elapsed.as_secs_f64() / LIFETIME.as_secs_f64() + 2.0);
    s.stop().await;
}

// --- mTLS -----------------------------------------------------------------------------------

struct MtlsPki {
    ca_pem: String,
    server_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    server_key: rustls::pki_types::PrivateKeyDer<'static>,
    client_cert_pem: String,
    client_key_pem: String,
}

fn mtls_pki() -> MtlsPki {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "platform test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("ca");
    let server_key = KeyPair::generate().expect("key");
    let mut server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("params");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = server_params.signed_by(&server_key, &ca).expect("server");
    let client_key = KeyPair::generate().expect("key");
    let mut client_params =
        CertificateParams::new(vec!["scim-sidecar.test".to_owned()]).expect("params");
    client_params
        .distinguished_name
        .push(DnType::CommonName, "scim-sidecar");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = client_params.signed_by(&client_key, &ca).expect("client");
    MtlsPki {
        ca_pem: ca.pem(),
        server_chain: vec![server.der().clone()],
        server_key: rustls::pki_types::PrivatePkcs8KeyDer::from(server_key.serialize_der()).into(),
        client_cert_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

/// A TLS front for the platform that requires a client certificate signed by the test CA
/// (rustls `WebPkiClientVerifier`), then relays bytes to `target`. Counts handshakes by outcome.
async fn mtls_front(
    pki: &MtlsPki,
    target: SocketAddr,
) -> (SocketAddr, Arc<AtomicU64>, Arc<AtomicU64>) {
    support::install_provider();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
        roots.add(c.expect("ca")).expect("root");
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("verifier");
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(pki.server_chain.clone(), pki.server_key.clone_key())
        .expect("server config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (ok, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (ok2, refused2) = (ok.clone(), refused.clone());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, ok, refused) = (acceptor.clone(), ok2.clone(), refused2.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(Duration::from_secs(5), acceptor.accept(tcp)).await {
                    Ok(Ok(mut tls)) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut up) = tokio::net::TcpStream::connect(target).await {
                            let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                        }
                    }
                    _ => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    (addr, ok, refused)
}

#[tokio::test]
async fn a_client_certificate_is_presented_to_a_platform_and_token_endpoint_that_require_one() {
    let pki = mtls_pki();
    let platform = oauth_platform(Some(Duration::from_secs(60))).await;
    let (front, handshakes, refused) = mtls_front(&pki, platform.addr()).await;
    let https = format!("https://127.0.0.1:{}", front.port());
    let with_cert = MAPPING
        .replace(
            "base_url = \"http://127.0.0.1:8081\"",
            &format!("base_url = \"{https}\"\nca_file = \"secrets/ca.pem\""),
        )
        .replace(
            "http://127.0.0.1:8081/oauth/token",
            &format!("{https}/oauth/token"),
        )
        .replace("# client_cert_file", "client_cert_file")
        .replace("# client_key_file", "client_key_file");

    // The sidecar holds the client certificate: the token call and the platform calls get in.
    let s = start_mtls(platform, &with_cert, &pki).await;
    let (st, u) = s
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "mtls@x.com",
                "emails": [{"type": "work", "value": "mtls@x.com"}]})),
        )
        .await;
    assert_eq!(st, 201, "{u}");
    assert_eq!(
        s.platform.platform().token_calls(),
        1,
        "the token call went through mTLS"
    );
    assert!(handshakes.load(Ordering::Relaxed) >= 1);
    assert_eq!(refused.load(Ordering::Relaxed), 0);

    // Without a client certificate the platform's TLS front refuses the sidecar.
    let without = with_cert
        .replace("client_cert_file", "# client_cert_file")
        .replace("client_key_file", "# client_key_file");
    let t = start_mtls(oauth_platform(None).await, &without, &pki).await;
    let (st, e) = t.scim(Method::GET, "/Users", None).await;
    assert!(
        st == 502 || st == 503,
        "no certificate, no token and no platform call: {st} {e}"
    );
    assert!(
        refused.load(Ordering::Relaxed) >= 1,
        "the TLS front refused a handshake"
    );
    assert_eq!(t.platform.platform().token_calls(), 0);
    // And a plain client without a certificate cannot get in either.
    let plain = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).expect("ca")])
        .build()
        .expect("client");
    let r = plain
        .get(format!("{https}/api/v1/users"))
        .header("x-api-key", PLATFORM_KEY)
        .send()
        .await;
    assert!(r.is_err(), "refused without a client certificate: {r:?}");
    t.stop().await;
    s.stop().await;
}

/// Like [`start`], with the CA bundle and the client certificate and key written first.
async fn start_mtls(platform: RunningPlatform, mapping: &str, pki: &MtlsPki) -> Stack {
    let setup = Setup::new();
    setup.write("secrets/client-secret", SECRET);
    setup.write("secrets/ca.pem", &pki.ca_pem);
    setup.write("secrets/client.crt", &pki.client_cert_pem);
    setup.write("secrets/client.key", &pki.client_key_pem);
    setup.write("mapping.toml", mapping);
    let cfg = setup.plain_config("[scim]\nmapping = \"mapping.toml\"\n");
    let loader = loader(&cfg, None);
    let config = loader
        .load()
        .unwrap_or_else(|e| panic!("test config must be valid:\n{e}"));
    let sidecar = scim_sidecar::start_with(config, Some(loader))
        .await
        .expect("start");
    Stack {
        setup,
        platform,
        sidecar,
        client: reqwest::Client::new(),
    }
}

#[tokio::test]
async fn the_demo_token_endpoint_accepts_basic_or_body_credentials_and_refuses_others() {
    let p = oauth_platform(Some(LIFETIME)).await;
    let c = reqwest::Client::new();
    let url = format!("{}/oauth/token", p.base_url());
    let post = |body: &'static str| {
        c.post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let r = post("grant_type=client_credentials")
        .basic_auth(CLIENT_ID, Some(SECRET))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.expect("json");
    assert_eq!(
        (&t["token_type"], &t["expires_in"]),
        (&json!("Bearer"), &json!(2))
    );
    let token = t["access_token"].as_str().expect("token").to_owned();
    let users = format!("{}/api/v1/users", p.base_url());
    let get = |auth: String| c.get(&users).header("authorization", auth).send();
    assert_eq!(get(bearer(&token)).await.expect("get").status(), 200);
    let r = c
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={SECRET}"
        ))
        .send()
        .await
        .expect("body");
    assert_eq!(r.status(), 200);
    let r = post("grant_type=client_credentials&client_id=scim-sidecar&client_secret=nope")
        .send()
        .await
        .expect("wrong");
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "invalid_client"
    );
    p.platform().revoke_tokens();
    assert_eq!(
        get(bearer(&token)).await.expect("get").status(),
        401,
        "revoked"
    );
    assert_eq!(p.platform().token_calls(), 3);
    assert_eq!(p.platform().tokens_issued(), 2);
    // The API key keeps working.
    let r = c
        .get(&users)
        .header("x-api-key", PLATFORM_KEY)
        .send()
        .await
        .expect("key");
    assert_eq!(r.status(), 200);
    p.stop().await;
}
