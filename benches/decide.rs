//! Decision cost on the example policy: `cargo bench --bench decide`.
//!
//! The size sweep (S, M, L policies) and the comparison with other engines are separate
//! benchmarks; this one keeps an eye on the common path.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use portcullis::{Policy, Request};

fn example(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/policy.toml");
    let engine = Policy::from_path(path)
        .and_then(|p| p.compile())
        .expect("example policy");
    let lb = "10.0.0.5".parse().expect("address");
    let requests = [
        (
            "allowed",
            Request::get("/docs/intro")
                .peer(lb)
                .header("x-forwarded-for", "198.51.100.7"),
        ),
        (
            "forbidden-early",
            Request::get("/")
                .peer(lb)
                .header("x-forwarded-for", "192.0.2.44"),
        ),
        (
            "forbidden-late",
            Request::get("/admin/users")
                .peer(lb)
                .header("x-forwarded-for", "198.51.100.7"),
        ),
        (
            "default",
            Request::new("PATCH", "/nothing/here")
                .peer(lb)
                .header("x-forwarded-for", "198.51.100.7"),
        ),
        (
            "with-key",
            Request::get("/api/orders")
                .peer(lb)
                .header("x-forwarded-for", "198.51.100.7")
                .header("x-api-key", "partner-demo-key"),
        ),
    ];
    let mut group = c.benchmark_group("example/decide");
    for (name, request) in &requests {
        group.bench_function(*name, |b| b.iter(|| engine.decide(black_box(request))));
    }
    group.finish();
    c.bench_function("example/explain/forbidden-late", |b| {
        b.iter(|| engine.explain(black_box(&requests[2].1)))
    });
}

criterion_group!(benches, example);
criterion_main!(benches);
