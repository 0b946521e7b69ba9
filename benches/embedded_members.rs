//! Member changes to one group whose members are embedded in the group object (a read and a full
//! write per change), 16 at a time, through the sidecar, against tests/support/third.rs on
//! loopback: the cost of doing them one after the other (the per-resource lock) so none is lost.
//! Each measured batch sends 16 concurrent PATCHes (adds, then removes of the same 16 users, so
//! every change is a real write) and checks afterwards that the group holds what it should.
//! Prints adds per second beside criterion's time per batch.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use std::time::{Duration, Instant};

#[path = "../tests/support/mod.rs"]
mod support;

const MAPPING: &str = include_str!("../tests/fixtures/mappings/third.toml");
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BATCH: usize = 16;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (stack, third, group, users) = rt.block_on(async {
        let third = support::third::Third::spawn().await;
        let demo = scim_sidecar::demo::Platform::spawn("unused")
            .await
            .expect("demo");
        let stack =
            support::Stack::start_against(demo, &third.base_url(), "", Some(MAPPING)).await;
        let users: Vec<String> = (0..BATCH)
            .map(|i| third.add_person(&format!("b{i}")))
            .collect();
        let (st, g) = stack
            .scim(
                reqwest::Method::POST,
                "/Groups",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Bench"})),
            )
            .await;
        assert_eq!(st, 201);
        let group = g["id"].as_str().expect("id").to_owned();
        (stack, third, group, users)
    });
    let url = stack.url(&format!("/Groups/{group}"));
    let batch = |add: bool| {
        let tasks: Vec<_> = users
            .iter()
            .map(|u| {
                let op = if add {
                    json!({"op": "add", "path": "members", "value": [{"value": u}]})
                } else {
                    json!({"op": "remove", "path": format!("members[value eq \"{u}\"]")})
                };
                let body = json!({"schemas": [PATCH], "Operations": [op]}).to_string();
                let req = stack
                    .client
                    .patch(&url)
                    .header("authorization", support::bearer(support::TOKEN))
                    .header("content-type", "application/scim+json")
                    .body(body);
                tokio::spawn(async move { req.send().await.map(|r| r.status().as_u16()) })
            })
            .collect();
        async move {
            for t in tasks {
                assert_eq!(t.await.expect("task").expect("request"), 204);
            }
        }
    };
    let mut changes = 0u64;
    let mut spent = Duration::ZERO;
    c.bench_function("embedded_members/16_concurrent_changes_to_one_group", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            rt.block_on(async {
                for i in 0..iters {
                    let add = i % 2 == 0;
                    batch(add).await;
                    let held = third.team_members(&group).len();
                    assert_eq!(held, if add { BATCH } else { 0 }, "no change lost");
                }
                if iters % 2 == 1 {
                    batch(false).await;
                }
            });
            let took = start.elapsed();
            changes += iters * BATCH as u64;
            spent += took;
            took
        })
    });
    println!(
        "embedded_members: {:.0} member changes per second to one group under {BATCH} concurrent requests",
        changes as f64 / spent.as_secs_f64()
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
