//! Filter benchmarks: parse + check + evaluate against the RFC 7643 §8.2 User, for the lookups
//! Entra ID sends and for a filter exercising `or`, `not` and value paths.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use scim_sidecar::scim::filter;
use scim_sidecar::scim::schema::Registry;
use serde_json::Value;
use std::hint::black_box;

#[path = "../tests/support/fixtures.rs"]
mod common;

const CASES: &[(&str, &str)] = &[
    ("userName_eq", r#"userName eq "bjensen@example.com""#),
    (
        "entra_value_path",
        r#"emails[type eq "work"].value eq "bjensen@example.com""#,
    ),
    (
        "complex",
        r#"(userType eq "Employee" and not (title sw "Intern")) or emails[type eq "work" and value co "@example.com"] or urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
    ),
];

fn bench(c: &mut Criterion) {
    let schema = Registry::standard().user;
    let user: Value = common::babs();
    for (name, text) in CASES {
        let f = filter::parse(text).expect("benchmark filters parse");
        filter::check(&f, &schema).expect("benchmark filters check");
        assert!(filter::matches(&f, &user, &schema), "{name} matches Babs");

        c.bench_function(&format!("{name}/parse+check+eval"), |b| {
            b.iter(|| {
                let f = filter::parse(black_box(text)).expect("parse");
                filter::check(&f, &schema).expect("check");
                filter::matches(&f, black_box(&user), &schema)
            })
        });
        c.bench_function(&format!("{name}/eval"), |b| {
            b.iter(|| filter::matches(black_box(&f), black_box(&user), &schema))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
