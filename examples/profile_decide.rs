//! Decides one request of the benchmark mix many times, for an instruction-counting profiler:
//!
//! ```sh
//! cargo build --release --example profile_decide
//! valgrind --tool=callgrind ./target/release/examples/profile_decide S allowed 10000
//! valgrind --tool=callgrind ./target/release/examples/profile_decide S allowed 10000 http
//! ```
//!
//! With `http`, the request is an `http::Request` read through `RequestView::from_http`, as the
//! tower and axum adapters read it.
//!
//! Instruction counts repeat exactly on a busy machine, where wall-clock times do not.

#[path = "../benches/support/mod.rs"]
mod support;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(size) = args.next().as_deref().and_then(support::size_named) else {
        eprintln!("usage: profile_decide S|M|M100k|L REQUEST [COUNT]");
        std::process::exit(2);
    };
    let wanted = args.next().unwrap_or_else(|| "allowed".into());
    let count: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("portcullis-profile-{}", std::process::id()));
    let path = support::write_policy(size, &dir);
    let engine = match portcullis::Policy::from_path(&path).and_then(|p| p.compile()) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    let Some((_, request)) = support::requests().into_iter().find(|(n, _)| *n == wanted) else {
        eprintln!("no request named {wanted}");
        std::process::exit(2);
    };
    let mut allowed = 0u64;
    if args.next().as_deref() == Some("http") {
        let Some(http) = to_http(&request) else {
            eprintln!("the request does not convert to an http::Request");
            std::process::exit(2);
        };
        for _ in 0..count {
            let view = portcullis::RequestView::from_http(&http, request.peer_addr());
            allowed += u64::from(engine.decide(std::hint::black_box(&view)).is_allowed());
        }
    } else {
        for _ in 0..count {
            allowed += u64::from(engine.decide(std::hint::black_box(&request)).is_allowed());
        }
    }
    println!("{wanted}: {allowed} of {count} allowed");
}

fn to_http(request: &portcullis::Request) -> Option<http::Request<()>> {
    let mut builder = http::Request::builder()
        .method(request.method())
        .uri(request.target());
    for (name, value) in request.headers() {
        builder = builder.header(name.as_str(), value.as_slice());
    }
    builder.body(()).ok()
}
