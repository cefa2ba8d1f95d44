//! Metrics through the `metrics` facade, read back from the Prometheus exporter: counts must
//! equal the requests sent, on a real server on loopback.
#![cfg(all(feature = "metrics", feature = "axum", feature = "watch"))]

mod support;

use std::collections::HashMap;

use metrics_exporter_prometheus::PrometheusBuilder;
use portcullis::gate::Gate;
use support::{get, start, Framework};

const POLICY: &str = r#"
[policy]
default = "allow"

[[rules]]
name = "hidden"
effect = "forbid"
status = 404
when = { path = ["/hidden/**"] }

[[rules]]
name = "watch-pages"
effect = "forbid"
mode = "report"
when = { path = ["/page/watched"] }

[[rules]]
name = "api"
effect = "allow"
when = { path = ["/api/**"] }
"#;

/// The samples of the exposition text: `name{labels}` -> value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn decisions(s: &HashMap<String, f64>, rule: &str, outcome: &str) -> f64 {
    let key = format!("portcullis_decisions_total{{rule=\"{rule}\",outcome=\"{outcome}\"}}");
    s.get(&key).copied().unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_equal_the_requests_sent() {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .expect("recorder");
    let dir = std::env::temp_dir().join(format!("portcullis-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("policy.toml");
    std::fs::write(&path, POLICY).unwrap();
    let gate = Gate::from_path(&path).unwrap();
    let first = gate.engine().revision().to_string();
    let server = start(Framework::Axum, gate.clone(), "127.0.0.1:0").await;

    let sent = [
        ("/hidden/a", 7, 404),
        ("/page/watched", 5, 200),
        ("/api/x", 4, 200),
        ("/page/x", 3, 200),
        ("/a/../b", 2, 400),
    ];
    for (target, n, status) in sent {
        for _ in 0..n {
            assert_eq!(
                get(server.addr, None, target, &[]).await.status,
                status,
                "{target}"
            );
        }
    }
    let s = samples(&handle.render());
    assert_eq!(decisions(&s, "hidden", "forbidden"), 7.0);
    // Report mode: the request went on and was decided by the default.
    assert_eq!(decisions(&s, "watch-pages", "would_forbid"), 5.0);
    assert_eq!(decisions(&s, "api", "allowed"), 4.0);
    assert_eq!(decisions(&s, "default", "allowed"), 5.0 + 3.0);
    assert_eq!(decisions(&s, "refused", "forbidden"), 2.0);
    assert_eq!(decisions(&s, "hidden", "allowed"), 0.0);
    let total: f64 = s
        .iter()
        .filter(|(k, _)| k.starts_with("portcullis_decisions_total"))
        .filter(|(k, _)| !k.contains("would_forbid"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        total, 21.0,
        "every request is counted once under what decided it"
    );
    assert_eq!(
        s.get(&format!("portcullis_policy_info{{revision=\"{first}\"}}")),
        Some(&1.0)
    );

    // A reload: counted, and the new revision replaces the old one.
    std::fs::write(&path, POLICY.replace("status = 404", "status = 403")).unwrap();
    gate.reload().unwrap();
    std::fs::write(&path, "[policy]\ndefault = \"maybe\"\n").unwrap();
    assert!(gate.reload().is_err());
    let second = gate.engine().revision().to_string();
    let s = samples(&handle.render());
    assert_eq!(
        s.get("portcullis_policy_reloads_total{result=\"ok\"}"),
        Some(&1.0)
    );
    assert_eq!(
        s.get("portcullis_policy_reloads_total{result=\"error\"}"),
        Some(&1.0)
    );
    assert_eq!(
        s.get(&format!("portcullis_policy_info{{revision=\"{first}\"}}")),
        Some(&0.0)
    );
    assert_eq!(
        s.get(&format!("portcullis_policy_info{{revision=\"{second}\"}}")),
        Some(&1.0)
    );
    // Counts by rule name go on across the reload.
    for _ in 0..2 {
        assert_eq!(get(server.addr, None, "/hidden/a", &[]).await.status, 403);
    }
    assert_eq!(
        decisions(&samples(&handle.render()), "hidden", "forbidden"),
        9.0
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
