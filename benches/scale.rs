//! How `decide`, `explain` and compiling grow with the policy: S, M and L policies generated
//! by code. `cargo bench --bench scale` (L takes a while to build: 1,000,000 CIDRs).
//!
//! Set `PORTCULLIS_BENCH_SIZES=S,M` to run only some sizes (`S`, `M`, `M100k`: M with 100,000
//! CIDRs, `L`).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use portcullis::Policy;
use support::{requests, write_policy, Size, L, M, M100K, S};

/// Counts the bytes live on the heap, to report what a compiled engine holds.
struct Live;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the counter is a plain
// atomic that needs no allocation of its own.
unsafe impl GlobalAlloc for Live {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's arguments.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Live = Live;

fn sizes() -> Vec<Size> {
    let wanted = std::env::var("PORTCULLIS_BENCH_SIZES").unwrap_or_else(|_| "S,M,M100k,L".into());
    [S, M, M100K, L]
        .into_iter()
        .filter(|s| wanted.split(',').any(|w| w.trim() == s.name))
        .collect()
}

fn scale(c: &mut Criterion) {
    let root = std::env::temp_dir().join(format!("portcullis-bench-{}", std::process::id()));
    for size in sizes() {
        let dir = root.join(size.name);
        let path = write_policy(size, &dir);
        let before = LIVE.load(Ordering::Relaxed);
        let engine = Policy::from_path(&path)
            .and_then(|p| p.compile())
            .expect("generated policy");
        let held = LIVE.load(Ordering::Relaxed).saturating_sub(before);
        let stats = engine.stats();
        let prefixes = stats.ipv4_prefixes + stats.ipv6_prefixes;
        let per = |bytes: usize, n: usize| bytes as f64 / n.max(1) as f64;
        println!(
            "{}: {} rules, {} IPv4 + {} IPv6 prefixes, {} globs; range tables {} bytes: {:.1} per prefix ({:.1} per IPv4, {:.1} per IPv6)",
            size.name,
            stats.rules,
            stats.ipv4_prefixes,
            stats.ipv6_prefixes,
            stats.globs,
            stats.ip_table_bytes,
            per(stats.ip_table_bytes, prefixes),
            per(stats.ipv4_table_bytes, stats.ipv4_prefixes),
            per(stats.ipv6_table_bytes, stats.ipv6_prefixes),
        );
        // Everything but the range tables (glob matchers, bit sets, rules and their names for
        // explanations), shown per glob since globs are most of it in these policies.
        let rest = held.saturating_sub(stats.ip_table_bytes);
        println!(
            "{}: the engine holds {} bytes on the heap; besides the range tables {} bytes, {:.0} per glob",
            size.name,
            held,
            rest,
            per(rest, stats.globs),
        );
        let mut group = c.benchmark_group(format!("decide/{}", size.name));
        for (name, request) in requests() {
            assert!(
                name != "allowed" || engine.decide(&request).is_allowed(),
                "the mix must hold an allowed request: {}",
                engine.explain(&request)
            );
            group.bench_function(name, |b| b.iter(|| engine.decide(black_box(&request))));
        }
        // The whole mix, one decision per request: the figure to divide by five.
        let reqs = requests();
        group.bench_function("mix-of-5", |b| {
            b.iter(|| {
                for (_, r) in &reqs {
                    black_box(engine.decide(black_box(r)));
                }
            })
        });
        group.finish();
        c.bench_function(&format!("explain/{}/default", size.name), |b| {
            b.iter(|| engine.explain(black_box(&reqs[3].1)))
        });
        let mut group = c.benchmark_group(format!("compile/{}", size.name));
        group.sample_size(10);
        if size.name == "L" {
            group.measurement_time(Duration::from_secs(30));
        }
        group.bench_function("from-text", |b| {
            b.iter(|| {
                Policy::from_path(black_box(&path))
                    .and_then(|p| p.compile())
                    .expect("compiles")
            })
        });
        group.finish();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

criterion_group!(benches, scale);
criterion_main!(benches);
