//! Echo servers for the differential tests: real axum and actix-web servers on loopback whose
//! one handler answers with what the framework read from the request (method, path, host,
//! client address, query, override headers), with or without the policy gate in front.

use std::net::SocketAddr;

use portcullis::gate::Gate;
use serde_json::{json, Value};

/// The headers a backend may read a method override from.
pub const OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// A server running until dropped.
pub struct EchoServer {
    pub addr: SocketAddr,
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

fn header_values(headers: &http::HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

/// What axum read: the URI it routes on, the decoded wildcard parameter, axum-extra's `Host`,
/// the query as its `Query` extractor parses it, and the override headers.
#[allow(deprecated)] // axum-extra's `Host` is what applications use today.
async fn axum_echo(
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
    host: Option<axum_extra::extract::Host>,
    param: Option<axum::extract::Path<String>>,
    query: Result<
        axum::extract::Query<Vec<(String, String)>>,
        axum::extract::rejection::QueryRejection,
    >,
) -> String {
    let overrides: Vec<Vec<String>> = OVERRIDE_HEADERS
        .iter()
        .map(|n| header_values(&headers, n))
        .collect();
    json!({
        "framework": "axum",
        "method": method.as_str(),
        "uri_path": uri.path(),
        "raw_query": uri.query(),
        "param": param.map(|p| format!("/{}", p.0)),
        "host": host.map(|h| h.0),
        "query": query.ok().map(|q| q.0),
        "overrides": overrides,
    })
    .to_string()
}

/// Starts axum on `127.0.0.1:0` inside `runtime`; with a gate, its layer is in front.
pub fn start_axum(runtime: &tokio::runtime::Runtime, gate: Option<Gate>) -> EchoServer {
    use axum::routing::any;
    let mut app = axum::Router::new()
        .route("/", any(axum_echo))
        .route("/{*rest}", any(axum_echo))
        .fallback(axum_echo);
    if let Some(gate) = gate {
        app = app.layer(portcullis::adapters::axum::layer(gate));
    }
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let done = runtime.spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await;
    });
    let handle = runtime.handle().clone();
    EchoServer {
        addr,
        stop: Some(Box::new(move || {
            let _ = tx.send(());
            let _ = handle.block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(10), done).await
            });
        })),
    }
}

/// What actix-web read: its routing path (partly decoded), the tail as `match_info` holds it
/// and as `web::Path` decodes it, `ConnectionInfo`'s host and real-IP, the query as
/// `web::Query` parses it, and the override headers.
async fn actix_echo(
    req: actix_web::HttpRequest,
    param: Option<actix_web::web::Path<String>>,
    query: Option<actix_web::web::Query<Vec<(String, String)>>>,
) -> String {
    let info = req.connection_info();
    let overrides: Vec<Vec<String>> = OVERRIDE_HEADERS
        .iter()
        .map(|n| {
            req.headers()
                .get_all(*n)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect()
        })
        .collect();
    json!({
        "framework": "actix",
        "method": req.method().as_str(),
        "uri_path": req.uri().path(),
        "raw_query": req.uri().query(),
        "path": req.path(),
        "match_tail": req.match_info().get("tail").map(|t| format!("/{t}")),
        "param": param.map(|p| format!("/{}", p.into_inner())),
        "host": info.host(),
        "realip": info.realip_remote_addr(),
        "query": query.map(|q| q.into_inner()),
        "overrides": overrides,
    })
    .to_string()
}

/// Starts actix-web on `127.0.0.1:0` on a thread of its own; with a gate, its middleware is in
/// front.
pub fn start_actix(gate: Option<Gate>) -> EchoServer {
    use actix_web::{middleware::Condition, web, App, HttpServer};
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                let gated = gate.is_some();
                let middleware = portcullis::adapters::actix::PolicyMiddleware::new(
                    gate.clone().unwrap_or_else(|| Gate::new(permissive())),
                );
                App::new()
                    .wrap(Condition::new(gated, middleware))
                    .route("/{tail:.*}", web::route().to(actix_echo))
                    .default_service(web::route().to(actix_echo))
            })
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .bind("127.0.0.1:0")
            .expect("bind");
            let addr = server.addrs()[0];
            let server = server.run();
            tx.send((addr, server.handle())).expect("send");
            let _ = server.await;
        });
    });
    let (addr, handle) = rx.recv().expect("server started");
    EchoServer {
        addr,
        stop: Some(Box::new(move || {
            // Stopping needs a runtime; a short-lived one is enough.
            let _ = std::thread::spawn(move || {
                actix_web::rt::System::new().block_on(handle.stop(false))
            })
            .join();
            let _ = thread.join();
        })),
    }
}

fn permissive() -> portcullis::Engine {
    portcullis::Policy::from_toml("[policy]\ndefault = \"allow\"")
        .and_then(|p| p.compile())
        .expect("permissive policy")
}

/// An echo answer, parsed.
#[derive(Debug, Clone)]
pub struct Echo(pub Value);

impl Echo {
    pub fn str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// The query pairs as the framework's query extractor parsed them, if it could.
    pub fn query(&self) -> Option<Vec<(String, String)>> {
        let pairs = self.0.get("query")?.as_array()?;
        Some(
            pairs
                .iter()
                .filter_map(|p| {
                    let p = p.as_array()?;
                    Some((
                        p.first()?.as_str()?.to_owned(),
                        p.get(1)?.as_str()?.to_owned(),
                    ))
                })
                .collect(),
        )
    }

    /// The values of the override headers, each header's lines in order.
    pub fn override_headers(&self) -> Vec<Vec<String>> {
        self.0
            .get("overrides")
            .and_then(Value::as_array)
            .map(|hs| {
                hs.iter()
                    .map(|lines| {
                        lines
                            .as_array()
                            .map(|l| {
                                l.iter()
                                    .filter_map(|v| v.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The answer of an echo server to raw request bytes: `Ok` with what the handler read, or
/// `Err` with the status when the handler did not answer (the framework or the gate refused).
pub async fn ask(addr: SocketAddr, raw: &[u8]) -> Result<Echo, u16> {
    let response = super::support::send_raw(addr, None, raw)
        .await
        .unwrap_or_else(|e| panic!("{addr}: {e}"));
    if response.status != 200 {
        return Err(response.status);
    }
    match serde_json::from_str(&response.body) {
        Ok(v) => Ok(Echo(v)),
        Err(_) => Err(response.status),
    }
}
