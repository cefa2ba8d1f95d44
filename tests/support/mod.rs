//! Real servers on loopback for the adapter tests, a raw HTTP/1.1 client, and log capture.

#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use portcullis::gate::{Caller, Gate};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends raw request bytes from `from` (an address on loopback) and reads the whole answer.
pub async fn send_raw(
    addr: SocketAddr,
    from: Option<IpAddr>,
    raw: &[u8],
) -> std::io::Result<Response> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    if let Some(from) = from {
        socket.bind(SocketAddr::new(from, 0))?;
    }
    let mut stream = tokio::time::timeout(Duration::from_secs(10), socket.connect(addr)).await??;
    stream.write_all(raw).await?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf)).await??;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: body.to_owned(),
    })
}

/// A GET with the given extra header lines.
pub async fn get(
    addr: SocketAddr,
    from: Option<IpAddr>,
    target: &str,
    headers: &[(&str, &str)],
) -> Response {
    let mut raw = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (n, v) in headers {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    match send_raw(addr, from, raw.as_bytes()).await {
        Ok(r) => r,
        Err(e) => panic!("GET {target} {headers:?}: {e}"),
    }
}

/// What a handler tells about the caller.
pub fn describe(caller: Option<&Caller>) -> String {
    match caller {
        Some(c) => format!(
            "client={} ip={} rule={}",
            c.client.as_deref().unwrap_or("-"),
            c.client_ip.map(|i| i.to_string()).unwrap_or_default(),
            c.rule.as_deref().unwrap_or("-")
        ),
        None => "no caller".to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    Axum,
    Actix,
}

pub const FRAMEWORKS: [Framework; 2] = [Framework::Axum, Framework::Actix];

/// A server running until dropped.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

/// Starts `framework` on `bind` with routes `/`, `/page/*`, `/hidden/*`, `/api/*`, `/whoami`
/// and `/request-id` (the caller's request id) behind the gate.
pub async fn start(framework: Framework, gate: Gate, bind: &str) -> Server {
    start_with(framework, gate, bind, true).await
}

/// As [`start`]; with `caller` false, the middleware hands no `Caller` to the handlers.
pub async fn start_with(framework: Framework, gate: Gate, bind: &str, caller: bool) -> Server {
    match framework {
        Framework::Axum => start_axum(gate, bind, caller).await,
        Framework::Actix => start_actix(gate, bind, caller),
    }
}

async fn start_axum(gate: Gate, bind: &str, caller: bool) -> Server {
    use axum::routing::get;
    let who = |caller: Option<Caller>| async move { describe(caller.as_ref()) };
    let app = axum::Router::new()
        .route("/", get(|| async { "home" }))
        .route("/page/{*rest}", get(|| async { "page" }))
        .route("/hidden/{*rest}", get(|| async { "hidden" }))
        .route("/api/{*rest}", get(who))
        .route("/whoami", get(who))
        .route(
            "/request-id",
            get(|caller: Option<Caller>| async move {
                caller.map(|c| c.request_id.to_string()).unwrap_or_default()
            }),
        )
        .layer(if caller {
            portcullis::adapters::axum::layer(gate)
        } else {
            portcullis::adapters::axum::layer(gate).without_caller()
        });
    let listener = tokio::net::TcpListener::bind(bind).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await;
    });
    Server {
        addr,
        stop: Some(Box::new(move || {
            let _ = tx.send(());
        })),
    }
}

fn start_actix(gate: Gate, bind: &str, caller: bool) -> Server {
    use actix_web::{web, App, HttpMessage, HttpRequest, HttpServer};
    let bind = bind.to_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let who = |req: HttpRequest| async move { describe(req.extensions().get::<Caller>()) };
            let server = HttpServer::new(move || {
                let middleware = portcullis::adapters::actix::PolicyMiddleware::new(gate.clone());
                App::new()
                    .wrap(if caller {
                        middleware
                    } else {
                        middleware.without_caller()
                    })
                    .route("/", web::get().to(|| async { "home" }))
                    .route("/page/{rest:.*}", web::get().to(|| async { "page" }))
                    .route("/hidden/{rest:.*}", web::get().to(|| async { "hidden" }))
                    .route("/api/{rest:.*}", web::get().to(who))
                    .route("/whoami", web::get().to(who))
                    .route(
                        "/request-id",
                        web::get().to(|req: HttpRequest| async move {
                            req.extensions()
                                .get::<Caller>()
                                .map(|c| c.request_id.to_string())
                                .unwrap_or_default()
                        }),
                    )
            })
            .workers(2)
            .disable_signals()
            .bind(bind)
            .expect("bind");
            let addr = server.addrs()[0];
            let server = server.run();
            tx.send((addr, server.handle())).expect("send");
            let _ = server.await;
        });
    });
    let (addr, handle) = rx.recv().expect("server started");
    Server {
        addr,
        stop: Some(Box::new(move || {
            // Stopping needs a runtime; a short-lived one is enough.
            let _ = std::thread::spawn(move || {
                actix_web::rt::System::new().block_on(handle.stop(false))
            })
            .join();
        })),
    }
}

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged through `tracing` in this test binary so far.
pub fn logs() -> String {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    let buf = BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buf.clone());
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .init();
        buf
    });
    String::from_utf8_lossy(&buf.lock().expect("log buffer")).into_owned()
}
