//! A small API gateway on axum, guarded by `examples/policy.toml`.
//!
//! ```sh
//! cargo run --example gateway --features axum,watch -- [--policy FILE] [--listen ADDR] [--self-test]
//! ```
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
    Router::new()
        .route("/", get(|| async { "welcome to the example gateway\n" }))
        .route("/health", get(|| async { "ok\n" }))
        .route("/docs/{*rest}", get(|| async { "documentation\n" }))
        .route("/api/{*rest}", get(api).post(api))
        .route("/admin/{*rest}", get(|| async { "the admin area\n" }))
}

fn app(gate: Gate, args: &common::Args) -> Router {
    let layer = portcullis::adapters::axum::layer(gate);
    match (args.no_layer, args.without_caller) {
        (true, _) => routes(),
        (false, true) => routes().layer(layer.without_caller()),
        (false, false) => routes().layer(layer),
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
    tracing_subscriber::fmt().with_target(true).init();
    let args = common::args()?;
    let gate = Gate::from_path(&args.policy)?;
    let _watcher = gate.watch(Duration::from_millis(250))?;
    #[cfg(unix)]
    {
        let gate = gate.clone();
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                match gate.reload() {
                    Ok(()) => tracing::info!("policy reloaded on SIGHUP"),
                    Err(e) => {
                        tracing::error!("reload on SIGHUP failed, keeping the old policy: {e}")
                    }
                }
            }
        });
    }
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    let addr = listener.local_addr()?;
    common::banner("axum", addr, &args.policy);
    if args.no_layer {
        println!("(serving without the policy layer)");
    }
    let app = app(gate.clone(), &args);
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    );
    if args.self_test {
        tokio::spawn(async move { server.await });
        tokio::task::spawn_blocking(move || common::self_test(addr)).await??;
        return Ok(());
    }
    server.await?;
    Ok(())
}
