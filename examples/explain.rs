//! Loads the example policy and explains a handful of requests.
//!
//! Run with `cargo run --example explain [POLICY]`.

use std::error::Error;
use std::net::IpAddr;

use portcullis::{Policy, Request};

fn main() -> Result<(), Box<dyn Error>> {
    // Run from the crate root so that the default policy and its list file are found.
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR"))?;
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/policy.toml".to_owned());
    let engine = Policy::from_path(&path)?.compile()?;
    let stats = engine.stats();
    println!(
        "{path}: {} rules, {} lists, {} IPv4 and {} IPv6 prefixes, {} clients\n",
        stats.rules, stats.lists, stats.ipv4_prefixes, stats.ipv6_prefixes, stats.clients
    );

    let lb: IpAddr = "10.0.0.5".parse()?;
    let requests = [
        (
            "a health check",
            Request::get("/health")
                .peer(lb)
                .header("x-forwarded-for", "198.51.100.7"),
        ),
        (
            "the home page",
            Request::get("/")
                .peer(lb)
                .header("x-forwarded-for", "198.51.100.7"),
        ),
        (
            "admin from outside",
            Request::get("/admin/users")
                .peer(lb)
                .header("x-forwarded-for", "198.51.100.7"),
        ),
        (
            "admin from the office",
            Request::get("/admin/users")
                .peer(lb)
                .header("x-forwarded-for", "203.0.113.20"),
        ),
        (
            "the API without a key",
            Request::get("/api/orders")
                .peer(lb)
                .header("x-forwarded-for", "198.51.100.7"),
        ),
        (
            "a partner reading",
            Request::get("/api/orders")
                .peer(lb)
                .header("x-forwarded-for", "198.51.100.7")
                .header("authorization", "Bearer partner-demo-key"),
        ),
        (
            "a partner writing",
            Request::new("POST", "/api/orders")
                .peer(lb)
                .header("x-forwarded-for", "198.51.100.7")
                .header("x-api-key", "partner-demo-key"),
        ),
        (
            "a blocklisted address",
            Request::get("/")
                .peer(lb)
                .header("x-forwarded-for", "192.0.2.44"),
        ),
        (
            "a spoofed header from outside",
            Request::get("/admin/users")
                .peer("198.51.100.99".parse()?)
                .header("x-forwarded-for", "203.0.113.20"),
        ),
        (
            "a scraper (report mode)",
            Request::get("/docs/intro")
                .peer(lb)
                .header("x-forwarded-for", "198.51.100.7")
                .header("user-agent", "python-requests/2.32"),
        ),
        (
            "a path trick",
            Request::get("/static/..%2fadmin/users")
                .peer(lb)
                .header("x-forwarded-for", "198.51.100.7"),
        ),
        (
            "a method override",
            Request::get("/api/orders")
                .peer(lb)
                .header("x-forwarded-for", "198.51.100.7")
                .header("x-api-key", "partner-demo-key")
                .header("x-http-method-override", "DELETE"),
        ),
    ];
    for (what, request) in &requests {
        let verdict = engine.decide(request);
        println!(
            "{what}: {} {}\n  {}\n",
            request.method(),
            String::from_utf8_lossy(request.target()),
            engine.explain(request)
        );
        debug_assert_eq!(verdict.decision(), engine.explain(request).decision);
    }
    Ok(())
}
