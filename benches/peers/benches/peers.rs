//! portcullis, Cedar, casbin and Rego (regorus) deciding the generated M policy, per request
//! of the benchmark mix and for the whole mix: `cargo bench` in this directory.
//!
//! Every peer is measured from the same raw request as portcullis: reading it, hashing and
//! looking up its API key, building the engine's request, and deciding.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use portcullis_peers::{agreement, expected_mix, load};
use portcullis_peers::{requests, write_policy, M};

fn peers(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("portcullis-peers-bench-{}", std::process::id()));
    let path = write_policy(M, &dir);
    let mut loaded = load(&path);
    let _ = std::fs::remove_dir_all(&dir);

    println!("M policy, one run: compile/load time, first decision after it, translation");
    for t in &loaded.timings {
        let translate = t
            .translate
            .map_or_else(|| "-".to_owned(), |d| format!("{d:.1?}"));
        println!(
            "  {:10} load {:>9.1?}   first decision {:>9.1?}   translate {:>8}   {}",
            t.engine, t.load, t.first, translate, t.size
        );
    }

    let mix: Vec<_> = requests();
    let named: Vec<_> = mix
        .iter()
        .map(|(n, r)| ((*n).to_owned(), r.clone(), expected_mix(n)))
        .collect();
    let (_, problems) = agreement(&mut loaded.gates, &named);
    assert!(problems.is_empty(), "engines disagree: {problems:?}");

    for (name, request) in &mix {
        let mut group = c.benchmark_group(format!("peers/{name}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        for gate in loaded.gates.iter_mut() {
            group.bench_function(gate.name(), |b| b.iter(|| gate.decide(black_box(request))));
        }
        group.finish();
    }

    let mut group = c.benchmark_group("peers/mix");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for gate in loaded.gates.iter_mut() {
        group.bench_function(gate.name(), |b| {
            b.iter(|| {
                for (_, request) in &mix {
                    black_box(gate.decide(black_box(request)));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, peers);
criterion_main!(benches);
