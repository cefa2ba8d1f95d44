//! What the server tests share: the policy, an in-process server, a tiny backend that records
//! what reaches it, a raw HTTP/1.1 client, and proxies started as child processes.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portcullis::gate::Gate;
use portcullis::serve::{Forwarders, Server};

pub const POLICY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/serve/policy.toml"
);
pub const KEY: &str = "billing-key";

/// A running authorization server: HTTP and gRPC on loopback ports.
pub struct Running {
    pub server: Server,
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    pub runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a server over the test policy.
pub fn start(forwarders: Option<Forwarders>) -> Running {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut builder = Server::builder(Gate::from_path(POLICY).unwrap());
    if let Some(f) = forwarders {
        builder = builder.forwarders(f);
    }
    let server = builder.build();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (http, grpc) = runtime.block_on(async {
        let h = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let g = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (ha, ga) = (h.local_addr().unwrap(), g.local_addr().unwrap());
        let shared = futures_shutdown(stopped);
        let s = server.clone();
        let stop_h = shared.clone();
        tokio::spawn(async move { s.serve_http(h, async move { stop_h.wait().await }).await });
        let s = server.clone();
        tokio::spawn(async move { s.serve_grpc(g, async move { shared.wait().await }).await });
        (ha, ga)
    });
    Running {
        server,
        http,
        grpc,
        runtime,
        stop: Some(stop),
    }
}

/// One shutdown signal for several servers.
#[derive(Clone)]
pub struct Shutdown(tokio::sync::watch::Receiver<bool>);

impl Shutdown {
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|s| *s).await;
    }
}

fn futures_shutdown(stopped: tokio::sync::oneshot::Receiver<()>) -> Shutdown {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _ = stopped.await;
        let _ = tx.send(true);
    });
    Shutdown(rx)
}

/// What reached the backend: method, target and headers (lowercase names) of each request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: BTreeMap<String, String>,
}

/// A backend on a loopback port answering 200 `backend` and recording every request.
pub fn backend(runtime: &tokio::runtime::Runtime) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let addr = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let log = log.clone();
            async move {
                let headers = request
                    .headers()
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str().to_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                log.lock().unwrap().push(Seen {
                    method: request.method().to_string(),
                    target: request.uri().to_string(),
                    headers,
                });
                "backend"
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    });
    (addr, seen)
}

/// A response read off the wire.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one raw HTTP/1.1 request (the target exactly as given) from `from` (any loopback
/// address) and reads the answer.
pub fn send(
    to: SocketAddr,
    from: Option<IpAddr>,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut stream = match from {
        Some(ip) => connect_from(ip, to),
        None => TcpStream::connect(to).unwrap(),
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut text = format!("{method} {target} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        text.push_str("Host: shop.example\r\n");
    }
    for (n, v) in headers {
        text.push_str(&format!("{n}: {v}\r\n"));
    }
    text.push_str("Connection: close\r\n\r\n");
    stream.write_all(text.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse(&raw, method == "HEAD")
}

/// A TCP stream whose local address is `ip`: to play a peer that is not a forwarder.
pub fn connect_from(ip: IpAddr, to: SocketAddr) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = rt
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(ip, 0))?;
            socket.connect(to).await?.into_std()
        })
        .unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
}

fn parse(raw: &[u8], head: bool) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head_part, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head_part.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: if head { String::new() } else { body.to_owned() },
    }
}

/// A free loopback port (bound and released: a small race with other programs, acceptable
/// for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on `addr`.
pub fn wait_for_port(addr: SocketAddr, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the proxy exited ({status}) before listening: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!(
        "nothing listens on {addr} after 10 s: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A child process that is killed when dropped.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The path of `program`, or `None` (and a note on standard error) when it is not installed.
pub fn installed(program: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        eprintln!(
            "SKIPPED: `{program}` is not installed; install it (Debian: apt-get install nginx caddy) to run this test"
        );
    }
    found
}

/// A fresh directory under the system's temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("portcullis-serve-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts `command` with its output in `log`.
pub fn spawn(mut command: Command, log: &Path) -> Guard {
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    let child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap();
    Guard(child)
}
