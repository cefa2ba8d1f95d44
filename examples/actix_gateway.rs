//! The same gateway as `gateway.rs`, on actix-web, with the same policy.
//!
//! ```sh
//! cargo run --example actix_gateway --features actix,watch,metrics -- [--policy FILE] [--listen ADDR] [--self-test]
//! ```

mod common;

use std::time::Duration;

use actix_web::{web, App, HttpServer};
use portcullis::adapters::actix::PolicyMiddleware;
use portcullis::gate::Caller;

async fn api(caller: web::ReqData<Caller>) -> String {
    common::api_answer(&caller)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logging();
    let args = common::args_or_exit("actix_gateway");
    if args.no_layer || args.without_caller {
        eprintln!("actix_gateway: --no-layer and --without-caller are only for the axum gateway");
        std::process::exit(2);
    }
    // The metrics recorder goes in before the gate registers its metrics.
    #[cfg(feature = "metrics")]
    let metrics = common::install_metrics();
    let gate = common::gate_or_exit("actix_gateway", &args);
    let _watcher = gate.watch(Duration::from_millis(250))?;
    actix_web::rt::System::new().block_on(async move {
        let app_gate = gate.clone();
        #[cfg(feature = "metrics")]
        let metrics = metrics.clone();
        let server = HttpServer::new(move || {
            let app = App::new()
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
                );
            #[cfg(feature = "metrics")]
            let app = match metrics.clone() {
                Some(handle) => app.route(
                    "/metrics",
                    web::get().to(move || std::future::ready(handle.render())),
                ),
                None => app,
            };
            app
        })
        .workers(2)
        .bind(&args.listen)?;
        let addr = *server.addrs().first().ok_or("no listening address")?;
        common::banner("actix-web", addr, &args.policy, &gate.engine());
        let server = server.run();
        if args.self_test {
            let handle = server.handle();
            actix_web::rt::spawn(server);
            let engine = gate.engine();
            let example = args.example_policy;
            let result = actix_web::rt::task::spawn_blocking(move || {
                common::self_test(addr, &engine, example)
            })
            .await?;
            handle.stop(true).await;
            return result.map_err(Into::into);
        }
        server.await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
