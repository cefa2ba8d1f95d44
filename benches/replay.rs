//! Access-log replay throughput in lines per second: `cargo bench --bench replay`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use portcullis::replay::{replay, LogFormat};
use portcullis::Policy;

fn log(n: usize) -> String {
    let lines = [
        r#"198.51.100.7 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "Mozilla/5.0""#,
        r#"198.51.100.7 - - [25/Nov/2026:10:00:01 +0000] "GET /admin/users?page=2 HTTP/1.1" 404 0 "-" "curl/8""#,
        r#"203.0.113.20 - - [25/Nov/2026:10:00:02 +0000] "POST /api/orders HTTP/1.1" 200 99 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64)""#,
        r#"192.0.2.44 - - [25/Nov/2026:10:00:03 +0000] "GET /docs/intro HTTP/1.1" 403 0 "-" "python-requests/2""#,
    ];
    (0..n)
        .map(|i| lines[i % lines.len()])
        .collect::<Vec<_>>()
        .join("\n")
}

fn bench(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/policy.toml");
    let engine = Policy::from_path(path)
        .and_then(|p| p.compile())
        .expect("example policy");
    let n = 100_000;
    let text = log(n);
    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.bench_function("combined-100k-lines", |b| {
        b.iter(|| {
            replay(
                black_box(text.as_bytes()),
                LogFormat::Combined,
                &engine,
                None,
                |_| {},
            )
            .expect("replay")
        })
    });
    group.bench_function("combined-100k-lines-against", |b| {
        b.iter(|| {
            replay(
                black_box(text.as_bytes()),
                LogFormat::Combined,
                &engine,
                Some(&engine),
                |_| {},
            )
            .expect("replay")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
