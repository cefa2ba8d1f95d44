//! The same gateway as `gateway.rs`, on actix-web, with the same policy.
//!
//! ```sh
//! cargo run --example actix_gateway --features actix,watch -- [--policy FILE] [--listen ADDR] [--self-test]
//! ```

mod common;

use std::time::Duration;

use actix_web::{web, App, HttpServer};
use portcullis::adapters::actix::PolicyMiddleware;
use portcullis::gate::{Caller, Gate};

async fn api(caller: web::ReqData<Caller>) -> String {
    common::api_answer(&caller)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(true).init();
    let args = common::args()?;
    if args.no_layer || args.without_caller {
        return Err("--no-layer and --without-caller are only for the axum gateway".into());
    }
    let gate = Gate::from_path(&args.policy)?;
    let _watcher = gate.watch(Duration::from_millis(250))?;
    actix_web::rt::System::new().block_on(async move {
        let app_gate = gate.clone();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(PolicyMiddleware::new(app_gate.clone()))
                .route(
                    "/",
                    web::get().to(|| async { "welcome to the example gateway\n" }),
                )
                .route("/health", web::get().to(|| async { "ok\n" }))
                .route(
                    "/docs/{rest:.*}",
                    web::get().to(|| async { "documentation\n" }),
                )
                .route("/api/{rest:.*}", web::route().to(api))
                .route(
                    "/admin/{rest:.*}",
                    web::get().to(|| async { "the admin area\n" }),
                )
        })
        .workers(2)
        .bind(&args.listen)?;
        let addr = *server.addrs().first().ok_or("no listening address")?;
        common::banner("actix-web", addr, &args.policy);
        let server = server.run();
        if args.self_test {
            let handle = server.handle();
            actix_web::rt::spawn(server);
            let result =
                actix_web::rt::task::spawn_blocking(move || common::self_test(addr)).await?;
            handle.stop(true).await;
            return result.map_err(Into::into);
        }
        server.await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
