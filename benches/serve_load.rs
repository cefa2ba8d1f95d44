//! A closed-loop load generator for `portcullis serve`'s gRPC ext_authz service: N
//! connections, each sending Envoy-shaped checks one after another for a while; prints checks
//! per second and the p50/p99 latency. `benches/serve.sh` runs it; on its own:
//!
//! ```text
//! cargo bench --features serve --bench serve_load -- --grpc 127.0.0.1:9191 --connections 16 --seconds 5
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::config::core::v3::{address, Address, SocketAddress};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{
    HttpRequest, Peer, Request as AttributeRequest,
};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A check for an allowed request, as Envoy builds it.
fn check() -> CheckRequest {
    let mut headers = HashMap::new();
    headers.insert("user-agent".to_owned(), "load/1".to_owned());
    headers.insert("x-forwarded-for".to_owned(), "192.0.2.9".to_owned());
    CheckRequest {
        attributes: Some(AttributeContext {
            source: Some(Peer {
                address: Some(Address {
                    address: Some(address::Address::SocketAddress(SocketAddress {
                        address: "192.0.2.9".to_owned(),
                        ..SocketAddress::default()
                    })),
                }),
                ..Peer::default()
            }),
            request: Some(AttributeRequest {
                http: Some(HttpRequest {
                    method: "GET".to_owned(),
                    path: arg("--path").unwrap_or_else(|| "/public/a".to_owned()),
                    host: "shop.example".to_owned(),
                    headers,
                    ..HttpRequest::default()
                }),
                ..AttributeRequest::default()
            }),
            ..AttributeContext::default()
        }),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(addr) = arg("--grpc") else {
        eprintln!("usage: serve_load --grpc ADDR [--connections N] [--seconds S] [--path P]");
        return Ok(());
    };
    let addr: SocketAddr = addr.parse()?;
    let connections: usize = arg("--connections").map_or(Ok(16), |s| s.parse())?;
    let seconds: u64 = arg("--seconds").map_or(Ok(5), |s| s.parse())?;
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
            .tcp_nodelay(true)
            .connect()
            .await?;
        let mut client = AuthorizationClient::new(channel);
        tasks.push(tokio::spawn(async move {
            let request = check();
            let mut latencies = Vec::with_capacity(1 << 16);
            let mut denied = 0u64;
            while Instant::now() < end {
                let start = Instant::now();
                let response = client.check(request.clone()).await;
                latencies.push(start.elapsed().as_nanos() as u64);
                if !matches!(&response, Ok(r) if r.get_ref().status.as_ref().is_some_and(|s| s.code == 0)) {
                    denied += 1;
                }
            }
            (latencies, denied)
        }));
    }
    let mut all = Vec::new();
    let mut denied = 0;
    for t in tasks {
        let (l, d) = t.await?;
        all.extend(l);
        denied += d;
    }
    all.sort_unstable();
    let pick = |q: f64| {
        all.get(((all.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0)
    };
    println!(
        "grpc checks/s {:.0} p50_us {:.1} p99_us {:.1} not_ok {denied}",
        all.len() as f64 / seconds as f64,
        pick(0.50) as f64 / 1000.0,
        pick(0.99) as f64 / 1000.0,
    );
    Ok(())
}
