//! The GET /Users/{id} translation, step by step: (a) parse the platform's JSON body, (b) map it
//! to SCIM (`convert::to_scim`), (c) `Ctx::finish` (meta, `$ref`, ETag), (d) serialise the
//! answer, (e) the whole chain; and (f) the whole request through the in-process sidecar and demo
//! platform over loopback. The user is one the demo platform serves, read through the demo
//! mapping compiled as the sidecar compiles it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use scim_sidecar::error::Error;
use scim_sidecar::mapping::convert;
use scim_sidecar::platform::{Call, Reply};
use scim_sidecar::routes::ResourceKind;
use scim_sidecar::service::{Ctx, Settings, locks::Locks};
use std::hint::black_box;

#[path = "../tests/support/mod.rs"]
mod support;

/// A transport that is never called: `finish` needs a `Ctx`, not the network.
struct Unused;

impl scim_sidecar::platform::calls::Transport for Unused {
    async fn send(&self, _call: &Call) -> Result<Reply, Error> {
        Err(Error::Internal(
            "the bench transport sends nothing".to_owned(),
        ))
    }
}

fn settings() -> Settings {
    Settings {
        default_page_size: 100,
        max_page_size: 1000,
        unmapped: scim_sidecar::config::Unmapped::Ignore,
        group_patch_response: scim_sidecar::config::GroupPatchResponse::NoContent,
        unknown_members: scim_sidecar::config::Unmapped::Ignore,
        filter: scim_sidecar::scim::filter::FilterOptions::default(),
        audit: scim_sidecar::audit::Policy::default(),
        write_lock_timeout: std::time::Duration::from_secs(5),
        upsert_filtered_replace: false,
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // One user created through the sidecar as Entra creates it, then read from the platform's own
    // API: the body the sidecar's GET /Users/{id} parses.
    let (stack, id, body) = rt.block_on(async {
        let stack = support::Stack::start("").await;
        let mut user = support::story::entra_user(
            "bjensen@example.com",
            "bjensen@example.com",
            "Barbara",
            "Jensen",
            "ext-701984",
        );
        user[support::story::ENTERPRISE] =
            serde_json::json!({"employeeNumber": "701984", "department": "Tour Operations"});
        let (st, created) = stack
            .scim(reqwest::Method::POST, "/Users", Some(user))
            .await;
        assert_eq!(st, 201, "{created}");
        let id = created["id"].as_str().expect("id").to_owned();
        let raw = stack
            .client
            .get(stack.platform_url(&format!("/api/v1/users/{id}")))
            .header("x-api-key", support::PLATFORM_KEY)
            .send()
            .await
            .expect("platform GET");
        assert_eq!(raw.status(), 200);
        let body = raw.bytes().await.expect("body");
        (stack, id, body)
    });

    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), scim_sidecar::demo::MAPPING_TOML).expect("write mapping");
    let mapping = scim_sidecar::mapping::compile::load(
        file.path(),
        &|_| Some(support::PLATFORM_KEY.to_owned()),
        Some(&stack.platform.base_url()),
    )
    .expect("the demo mapping compiles");
    let map = mapping.resource(ResourceKind::User).expect("users mapped");
    let op = map.read.as_ref().expect("users read");
    let reply = Reply {
        status: http::StatusCode::OK,
        headers: http::HeaderMap::new(),
        body: body.clone(),
    };
    let (settings, metrics, locks) = (
        settings(),
        scim_sidecar::metrics::Metrics::new(),
        Locks::default(),
    );
    let ctx = Ctx::new(
        &mapping,
        &Unused,
        "http://127.0.0.1:8080/scim/v2",
        &settings,
        &metrics,
        &locks,
        None,
    );
    let obj = scim_sidecar::platform::calls::object(op, &reply)
        .expect("JSON")
        .expect("an object");
    let conv = convert::to_scim(map, &obj).expect("converts");
    let (answer, _) = ctx.finish(map, conv.clone(), None);

    let mut g = c.benchmark_group("translate");
    g.bench_function("a_parse_platform_json", |b| {
        b.iter(|| scim_sidecar::platform::calls::object(op, black_box(&reply)))
    });
    g.bench_function("b_to_scim", |b| {
        b.iter(|| convert::to_scim(map, black_box(&obj)))
    });
    g.bench_function("c_finish", |b| {
        b.iter_batched(
            || conv.clone(),
            |conv| ctx.finish(map, conv, None),
            criterion::BatchSize::SmallInput,
        )
    });
    g.bench_function("d_serialise", |b| {
        b.iter(|| scim_sidecar::respond::json(http::StatusCode::OK, black_box(&answer)))
    });
    g.bench_function("e_whole_chain", |b| {
        b.iter(|| {
            let obj = scim_sidecar::platform::calls::object(op, black_box(&reply))
                .expect("JSON")
                .expect("an object");
            let conv = convert::to_scim(map, &obj).expect("converts");
            let (answer, etag) = ctx.finish(map, conv, None);
            scim_sidecar::respond::outcome(scim_sidecar::service::Outcome::Ok {
                body: answer,
                etag: Some(etag),
            })
        })
    });
    g.finish();

    // (f) The whole request: reqwest → sidecar → demo platform → sidecar → reqwest, one at a
    // time over kept-alive loopback connections.
    let url = stack.url(&format!("/Users/{id}"));
    let auth = support::bearer(support::TOKEN);
    c.bench_function("translate/f_get_user_over_loopback", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let started = std::time::Instant::now();
                for _ in 0..iters {
                    let r = stack
                        .client
                        .get(&url)
                        .header("authorization", &auth)
                        .send()
                        .await
                        .expect("GET");
                    assert_eq!(r.status(), 200);
                    black_box(r.bytes().await.expect("body"));
                }
                started.elapsed()
            })
        })
    });
    rt.block_on(stack.stop());
}

criterion_group!(benches, bench);
criterion_main!(benches);
