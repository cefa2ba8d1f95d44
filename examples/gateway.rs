//! A small API gateway on axum, guarded by `examples/policy.toml`.
//!
//! ```sh
//! cargo run --example gateway --features axum,watch,metrics -- [--policy FILE] [--listen ADDR] [--self-test]
//! ```
//!
//! `--help` lists the options; `RUST_LOG` filters the logs; with the `metrics` feature,
//! `GET /metrics` serves Prometheus metrics (the example policy allows it from loopback only).
//!
//! The policy is reloaded when its file changes and on SIGHUP; a policy that fails to load is
//! refused and the old one stays. `--self-test` starts the server, sends the requests the
//! banner suggests over loopback, checks the answers and exits.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use portcullis::gate::{Caller, Gate};

fn routes() -> Router {
    let router = Router::new()
        .route("/", get(|| async { "welcome to the example gateway\n" }))
        .route("/health", get(|| async { "ok\n" }))
        .route("/docs/{*rest}", get(|| async { "documentation\n" }))
        .route("/api/{*rest}", get(api).post(api))
        .route("/admin/{*rest}", get(|| async { "the admin area\n" }));
    #[cfg(feature = "metrics")]
    let router = match common::install_metrics() {
        Some(handle) => router.route("/metrics", get(move || std::future::ready(handle.render()))),
        None => router,
    };
    router
}

fn app(routes: Router, gate: Gate, args: &common::Args) -> Router {
    let layer = portcullis::adapters::axum::layer(gate);
    match (args.no_layer, args.without_caller) {
        (true, _) => routes,
        (false, true) => routes.layer(layer.without_caller()),
        (false, false) => routes.layer(layer),
    }
}

async fn api(caller: Option<Caller>) -> String {
    let Some(caller) = caller else {
        return "api answer (no policy layer)\n".to_owned();
    };
    common::api_answer(&caller)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logging();
    let args = common::args_or_exit("gateway");
    // The metrics recorder goes in before the gate registers its metrics.
    let routes = routes();
    let gate = common::gate_or_exit("gateway", &args);
    let _watcher = gate.watch(Duration::from_millis(250))?;
    #[cfg(unix)]
    {
        // Gate::reload logs the outcome with the revision.
        let gate = gate.clone();
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                let _ = gate.reload();
            }
        });
    }
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    let addr = listener.local_addr()?;
    common::banner("axum", addr, &args.policy, &gate.engine());
    if args.no_layer {
        println!("(serving without the policy layer)");
    }
    let app = app(routes, gate.clone(), &args);
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    );
    if args.self_test {
        tokio::spawn(async move { server.await });
        let engine = gate.engine();
        tokio::task::spawn_blocking(move || common::self_test(addr, &engine, args.example_policy))
            .await??;
        return Ok(());
    }
    server.await?;
    Ok(())
}
