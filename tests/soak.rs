//! A bounded soak: many concurrent connections against a real axum server while the policy
//! file is swapped every few milliseconds between two versions and an invalid third is offered
//! now and then. Nothing fails, every answer is one of the two policies', the invalid file is
//! refused with its error, and memory stays flat. Loopback only; a fixed number of requests.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use portcullis::gate::Gate;

const OPEN: &str = "[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"closed-area\"\neffect = \"forbid\"\nwhen = { path = \"/hidden/**\" }\n";
const SHUT: &str = "[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"shut\"\neffect = \"forbid\"\nstatus = 404\nwhen = { path = \"/page/**\" }\n";
const BROKEN: &str = "[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"half\"\neffect = \"forb";

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn round(addr: std::net::SocketAddr, clients: usize, per_client: usize) -> usize {
    let mut tasks = Vec::new();
    for c in 0..clients {
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for i in 0..per_client {
                let target = if (c + i) % 2 == 0 {
                    "/page/x"
                } else {
                    "/hidden/x"
                };
                let r = support::get(addr, None, target, &[]).await;
                // OPEN: /page 200, /hidden 403. SHUT: /page 404 (the rule), /hidden 200.
                let fine = match target {
                    "/page/x" => matches!(r.status, 200 | 404),
                    _ => matches!(r.status, 403 | 200),
                };
                assert!(fine, "{target}: {r:?}");
                ok += 1;
            }
            ok
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("client");
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn swapping_under_load_loses_nothing_and_stays_flat() {
    let dir = std::env::temp_dir().join(format!("portcullis-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("policy.toml");
    std::fs::write(&path, OPEN).unwrap();
    let gate = Gate::from_path(&path).unwrap();
    let server = support::start(support::Framework::Axum, gate.clone(), "127.0.0.1:0").await;

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (gate, path, stop) = (gate.clone(), path.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut swaps, mut refused) = (0u32, 0u32);
            while !stop.load(Ordering::Relaxed) && swaps < 20_000 {
                swaps += 1;
                let text = match swaps % 10 {
                    0 => BROKEN,
                    n if n % 2 == 0 => OPEN,
                    _ => SHUT,
                };
                std::fs::write(&path, text).unwrap();
                match gate.reload() {
                    Ok(()) => assert_ne!(text, BROKEN),
                    Err(e) => {
                        assert_eq!(text, BROKEN, "{e}");
                        assert!(e.to_string().contains("policy.toml:"), "{e}");
                        refused += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            (swaps, refused)
        })
    };

    // Warm up, then measure memory across the bulk of the run.
    assert_eq!(round(server.addr, 8, 25).await, 200);
    let before = rss_kib();
    let mut total = 0;
    for _ in 0..4 {
        total += round(server.addr, 16, 25).await;
    }
    let after = rss_kib();
    stop.store(true, Ordering::Relaxed);
    let (swaps, refused) = swapper.join().unwrap();
    assert_eq!(total, 1600);
    assert!(
        swaps > 20 && refused > 0,
        "{swaps} swaps, {refused} refused"
    );
    if let (Some(b), Some(a)) = (before, after) {
        assert!(
            a < b + 32 * 1024,
            "resident memory grew from {b} KiB to {a} KiB"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}
