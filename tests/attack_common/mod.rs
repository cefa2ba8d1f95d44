//! Real servers on loopback for the attack suites: `portcullis serve` in-process, a backend
//! that echoes what it received, nginx and Caddy with the shipped configurations, and a raw
//! HTTP/1.1 client that sends header bytes exactly as written.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portcullis::gate::Gate;
use portcullis::serve::Server;

/// A fresh directory under the system's temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "portcullis-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `portcullis serve` on `127.0.0.1:0`, stopped on drop.
pub struct Serve {
    pub addr: SocketAddr,
    pub server: Server,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Serve {
    pub fn start(server: Server) -> Serve {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let s = server.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                s.serve_http(listener, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            });
        });
        let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Serve {
            addr,
            server,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn policy(dir: &TempDir, policy: &str) -> Serve {
        let path = dir.write("policy.toml", policy);
        Serve::start(Server::new(Gate::from_path(path).unwrap()))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One HTTP answer, read off the wire.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    /// The values of header `name` (case-insensitive), in order.
    pub fn header(&self, name: &str) -> Vec<String> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }
}

/// Sends `head` (request line and header lines, without the blank line) with
/// `Connection: close` and reads the whole answer.
pub fn send(addr: SocketAddr, head: &str) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = head.replace('\n', "\r\n");
    req.push_str("\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        head: head.replace("\r\n", "\n"),
        body: body.to_owned(),
    }
}

/// A backend that answers 200 with the request head it received as its body, and keeps
/// every head it saw.
pub struct Backend {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl Backend {
    pub fn start() -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = Vec::new();
                let mut byte = [0u8; 1];
                while !buf.ends_with(b"\r\n\r\n") {
                    match conn.read(&mut byte) {
                        Ok(1) => buf.push(byte[0]),
                        _ => break,
                    }
                }
                let head = String::from_utf8_lossy(&buf).replace("\r\n", "\n");
                log.lock().unwrap().push(head.clone());
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
                    head.len()
                );
                let _ = conn.write_all(answer.as_bytes());
            }
        });
        Backend { addr, seen }
    }
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A proxy process, killed on drop.
pub struct Proxy {
    pub addr: SocketAddr,
    child: Child,
    _dir: TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn deploy(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// nginx running the shipped `deploy/nginx.conf`, only its ports changed.
pub fn nginx(portcullis: SocketAddr, app: SocketAddr) -> Proxy {
    let dir = TempDir::new("nginx");
    let port = free_port();
    let site = deploy("nginx.conf")
        .replace("listen 8080;", &format!("listen 127.0.0.1:{port};"))
        .replace("127.0.0.1:9090", &portcullis.to_string())
        .replace("127.0.0.1:8081", &app.to_string());
    let site_path = dir.write("site.conf", &site);
    let d = dir.0.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{}}\nhttp {{\n access_log off;\n client_body_temp_path {d};\n \
         proxy_temp_path {d};\n fastcgi_temp_path {d};\n uwsgi_temp_path {d};\n \
         scgi_temp_path {d};\n include {};\n}}\n",
        site_path.display()
    );
    let conf_path = dir.write("nginx.conf", &conf);
    let child = Command::new("nginx")
        .arg("-c")
        .arg(&conf_path)
        .arg("-p")
        .arg(&dir.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx must be installed for this test (CI installs it)");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for(addr);
    Proxy {
        addr,
        child,
        _dir: dir,
    }
}

/// Caddy running the shipped `deploy/Caddyfile`, only its ports changed (and bound to
/// loopback).
pub fn caddy(portcullis: SocketAddr, app: SocketAddr) -> Proxy {
    let dir = TempDir::new("caddy");
    let port = free_port();
    let file = deploy("Caddyfile")
        .replace(
            "http://:8080 {",
            &format!("http://:{port} {{\n\tbind 127.0.0.1"),
        )
        .replace("127.0.0.1:9090", &portcullis.to_string())
        .replace("127.0.0.1:8081", &app.to_string());
    let path = dir.write("Caddyfile", &file);
    let child = Command::new("caddy")
        .arg("run")
        .arg("--config")
        .arg(&path)
        .arg("--adapter")
        .arg("caddyfile")
        .env("HOME", &dir.0)
        .env("XDG_DATA_HOME", &dir.0)
        .env("XDG_CONFIG_HOME", &dir.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("caddy must be installed for this test (CI installs it)");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for(addr);
    Proxy {
        addr,
        child,
        _dir: dir,
    }
}
