//! The policy guarding real axum and actix-web servers on loopback: both must answer the same.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use portcullis::gate::Gate;
use portcullis::{hash_key, Policy};
use support::{get, logs, send_raw, start, start_with, FRAMEWORKS};

fn policy() -> String {
    format!(
        r#"
[policy]
default = "forbid"

[client_ip]
source = "x-forwarded-for"
trusted_proxies = ["127.0.0.1"]

[keys]
[keys.clients.acme]
sha256 = ["{}"]
roles = ["partner"]

[[rules]]
name = "blocked"
effect = "forbid"
when = {{ ip = ["192.0.2.0/24"] }}

[[rules]]
name = "hidden"
effect = "forbid"
status = 404
when = {{ path = ["/hidden/**"] }}

[[rules]]
name = "login"
effect = "forbid"
status = 401
when = {{ path = ["/api/**"], authenticated = false }}

[[rules]]
name = "watch-bots"
effect = "forbid"
mode = "report"
when = {{ user_agent = ["*watchme*"] }}

[[rules]]
name = "api"
effect = "allow"
when = {{ path = ["/api/**"], role = ["partner"] }}

[[rules]]
name = "site"
effect = "allow"
when = {{ path = ["/", "/page/**", "/whoami"], ip = ["127.0.0.0/8", "198.51.100.0/24"] }}
"#,
        hash_key(b"acme-key")
    )
}

fn gate() -> Gate {
    Gate::new(Policy::from_toml(&policy()).unwrap().compile().unwrap())
}

const LOCAL: Option<IpAddr> = None;

fn other_loopback() -> Option<IpAddr> {
    Some("127.0.0.2".parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_frameworks_answer_as_the_policy_says() {
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        bool,
        u16,
        &'static str,
    );
    let cases: &[Case] = &[
        ("/", &[], false, 200, "home"),
        (
            "/",
            &[("X-Forwarded-For", "192.0.2.1")],
            false,
            403,
            "Forbidden\n",
        ),
        ("/hidden/x", &[], false, 404, "Not Found\n"),
        ("/api/x", &[], false, 401, "Unauthorized\n"),
        (
            "/api/x",
            &[("X-Api-Key", "acme-key")],
            false,
            200,
            "client=acme ip=127.0.0.1 rule=api",
        ),
        (
            "/api/x",
            &[("Authorization", "Bearer acme-key")],
            false,
            200,
            "client=acme",
        ),
        (
            "/api/x",
            &[("X-Api-Key", "wrong")],
            false,
            401,
            "Unauthorized\n",
        ),
        (
            "/whoami",
            &[("X-Api-Key", "acme-key")],
            false,
            200,
            "client=acme ip=127.0.0.1 rule=site",
        ),
        // A trusted proxy's header is believed...
        (
            "/whoami",
            &[("X-Forwarded-For", "198.51.100.7")],
            false,
            200,
            "client=- ip=198.51.100.7 rule=site",
        ),
        // ... an untrusted peer's is ignored: the peer is the client.
        (
            "/whoami",
            &[("X-Forwarded-For", "192.0.2.1")],
            true,
            200,
            "client=- ip=127.0.0.2 rule=site",
        ),
        (
            "/whoami",
            &[("X-Forwarded-For", "198.51.100.7, junk")],
            false,
            403,
            "Forbidden\n",
        ),
        // Malformed targets are refused before any rule.
        ("/page/%2e%2e/hidden/x", &[], false, 400, "Bad Request\n"),
        ("//hidden/x", &[], false, 400, "Bad Request\n"),
        ("/page/a%2fb", &[], false, 400, "Bad Request\n"),
        ("/page/x;jsessionid=1", &[], false, 400, "Bad Request\n"),
        ("/page/%", &[], false, 400, "Bad Request\n"),
        // Escapes of ordinary characters are decoded once: this is /hidden/x.
        ("/%68idden/x", &[], false, 404, "Not Found\n"),
        ("/page/caf%C3%A9?q=../../x", &[], false, 200, "page"),
    ];
    for fw in FRAMEWORKS {
        let server = start(fw, gate(), "127.0.0.1:0").await;
        for (target, headers, untrusted, status, body) in cases {
            let from = if *untrusted { other_loopback() } else { LOCAL };
            let r = get(server.addr, from, target, headers).await;
            assert_eq!(r.status, *status, "{fw:?} {target} {headers:?}: {r:?}");
            assert!(r.body.contains(body), "{fw:?} {target} {headers:?}: {r:?}");
            if *status == 401 {
                assert_eq!(
                    r.header("www-authenticate"),
                    Some("Bearer realm=\"api\""),
                    "{fw:?} {target}"
                );
            }
            if *status >= 400 {
                assert!(
                    r.header("content-type")
                        .is_some_and(|c| c.starts_with("text/plain")),
                    "{fw:?} {r:?}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_caller_decides_the_same_and_hands_over_nothing() {
    // (target, headers, status, body with a caller, body without)
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        u16,
        &'static str,
        &'static str,
    );
    let cases: &[Case] = &[
        (
            "/whoami",
            &[("X-Api-Key", "acme-key")],
            200,
            "client=acme",
            "no caller",
        ),
        (
            "/api/x",
            &[("X-Api-Key", "acme-key")],
            200,
            "rule=api",
            "no caller",
        ),
        ("/api/x", &[], 401, "Unauthorized\n", "Unauthorized\n"),
        ("/hidden/x", &[], 404, "Not Found\n", "Not Found\n"),
        (
            "/",
            &[("X-Forwarded-For", "192.0.2.1")],
            403,
            "Forbidden\n",
            "Forbidden\n",
        ),
        ("//hidden/x", &[], 400, "Bad Request\n", "Bad Request\n"),
    ];
    for fw in FRAMEWORKS {
        let mut counts = Vec::new();
        for caller in [true, false] {
            let gate = gate();
            let server = start_with(fw, gate.clone(), "127.0.0.1:0", caller).await;
            for (target, headers, status, with, without) in cases {
                let r = get(server.addr, LOCAL, target, headers).await;
                let body = if caller { with } else { without };
                assert_eq!(r.status, *status, "{fw:?} {caller} {target}: {r:?}");
                assert!(r.body.contains(body), "{fw:?} {caller} {target}: {r:?}");
            }
            counts.push(gate.counts());
        }
        // Counted alike: the option changes what handlers see, not what is decided.
        assert_eq!(counts[0], counts[1], "{fw:?}");
        assert!(
            counts[0].refused > 0 && !counts[0].rules.is_empty(),
            "{fw:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_unusual_targets_reach_the_middleware() {
    let engine = Policy::from_toml(&policy()).unwrap().compile().unwrap();
    let targets: &[&[u8]] = &[
        b"/page/../hidden/x",
        b"/page/./x",
        b"/page//x",
        b"/page/%2E%2E/hidden",
        b"/page/%5c..%5chidden",
        b"/page/%00",
        b"/page/%c0%ae%c0%ae/hidden",
        b"/page/%252e%252e/hidden",
        b"/hidden%2fx",
        b"/page/ok",
        b"/%70age/ok",
        b"http://localhost/page/ok",
        b"http://localhost/hidden/x",
    ];
    let decided = |g: &Gate| {
        let c = g.counts();
        c.rules
            .values()
            .map(|r| r.allowed + r.forbidden)
            .sum::<u64>()
            + c.default_allowed
            + c.default_forbidden
            + c.refused
    };
    for fw in FRAMEWORKS {
        let gate = gate();
        let server = start(fw, gate.clone(), "127.0.0.1:0").await;
        for target in targets {
            let before = decided(&gate);
            let mut raw = b"GET ".to_vec();
            raw.extend_from_slice(target);
            raw.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            let r = send_raw(server.addr, LOCAL, &raw).await.unwrap();
            let want = engine.decide(
                &portcullis::Request::get(*target)
                    .peer("127.0.0.1".parse().unwrap())
                    .header("host", "localhost"),
            );
            let shown = String::from_utf8_lossy(target);
            // Every target reached the middleware and got the engine's answer; an allowed one
            // then meets the router, which may not know the raw path (axum routes on it).
            assert_eq!(
                decided(&gate),
                before + 1,
                "{fw:?} {shown} did not reach the middleware"
            );
            if want.is_allowed() {
                assert!(matches!(r.status, 200 | 404), "{fw:?} {shown}: {r:?}");
            } else {
                assert_eq!(r.status, want.status(), "{fw:?} {shown}: {r:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv4_mapped_peers_on_a_dual_stack_listener() {
    for fw in FRAMEWORKS {
        let server = start(fw, gate(), "[::]:0").await;
        let addr = std::net::SocketAddr::new("127.0.0.1".parse().unwrap(), server.addr.port());
        let r = get(addr, LOCAL, "/whoami", &[]).await;
        assert_eq!(r.status, 200, "{fw:?} {r:?}");
        assert!(r.body.contains("ip=127.0.0.1 "), "{fw:?} {r:?}");
        // The mapped peer is the trusted proxy 127.0.0.1, so its header is believed.
        let r = get(addr, LOCAL, "/whoami", &[("X-Forwarded-For", "192.0.2.9")]).await;
        assert_eq!(r.status, 403, "{fw:?} {r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_mode_lets_through_and_logs() {
    let _ = logs();
    for fw in FRAMEWORKS {
        let marker = format!("/page/report-{fw:?}");
        let server = start(fw, gate(), "127.0.0.1:0").await;
        let r = get(
            server.addr,
            LOCAL,
            &marker,
            &[("User-Agent", "watchme/1.0"), ("X-Api-Key", "acme-key")],
        )
        .await;
        assert_eq!(r.status, 200, "{fw:?} {r:?}");
        let log = logs();
        let line = log
            .lines()
            .find(|l| l.contains(&marker))
            .unwrap_or_else(|| panic!("{fw:?}: no log line in\n{log}"));
        assert!(
            line.contains("WARN") && line.contains("portcullis"),
            "{line}"
        );
        assert!(line.contains("decision=\"would_forbid\""), "{line}");
        assert!(line.contains("rule=\"watch-bots\""), "{line}");
        assert!(
            line.contains("client=127.0.0.1") && line.contains("method=GET"),
            "{line}"
        );
        assert!(line.contains(r#"report-mode rule "watch-bots""#), "{line}");
        assert!(!log.contains("acme-key"), "a key leaked into the logs");

        // A forbidden request is one event with the rule, status and explanation.
        let marker = format!("/hidden/logged-{fw:?}");
        let r = get(server.addr, LOCAL, &format!("{marker}?token=s3cret"), &[]).await;
        assert_eq!(r.status, 404);
        let log = logs();
        let line = log
            .lines()
            .find(|l| l.contains(&marker))
            .unwrap_or_else(|| panic!("no log line in\n{log}"));
        assert!(
            line.contains("decision=\"forbidden\"")
                && line.contains("status=404")
                && line.contains("rule=\"hidden\""),
            "{line}"
        );
        assert!(
            !line.contains("s3cret"),
            "the query must not be logged: {line}"
        );
    }

    // A whole policy in report mode lets everything through, and logs what it would refuse.
    let text = policy().replace(
        "default = \"forbid\"",
        "default = \"forbid\"\nmode = \"report\"",
    );
    let gate = Gate::new(Policy::from_toml(&text).unwrap().compile().unwrap());
    for fw in FRAMEWORKS {
        let server = start(fw, gate.clone(), "127.0.0.1:0").await;
        let marker = format!("/hidden/whole-{fw:?}");
        let r = get(server.addr, LOCAL, &marker, &[]).await;
        assert_eq!(r.status, 200, "{fw:?} {r:?}");
        let log = logs();
        let line = log
            .lines()
            .find(|l| l.contains(&marker))
            .unwrap_or_else(|| panic!("no log line in\n{log}"));
        assert!(
            line.contains("decision=\"would_forbid\"") && line.contains("not enforced"),
            "{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reloads_under_load_lose_nothing() {
    let allow = "[policy]\ndefault = \"allow\"\n";
    let deny = "[policy]\ndefault = \"forbid\"\n";
    let compile = |t: &str| Policy::from_toml(t).unwrap().compile().unwrap();
    for fw in FRAMEWORKS {
        let gate = Gate::new(compile(allow));
        let server = start(fw, gate.clone(), "127.0.0.1:0").await;
        let addr = server.addr;
        let swapper = {
            let gate = gate.clone();
            tokio::spawn(async move {
                for i in 0..200 {
                    gate.swap(compile(if i % 2 == 0 { deny } else { allow }));
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
        };
        let mut clients = Vec::new();
        for _ in 0..4 {
            clients.push(tokio::spawn(async move {
                let mut seen = [0usize; 2];
                for _ in 0..100 {
                    let r = get(addr, LOCAL, "/", &[]).await;
                    match r.status {
                        200 => seen[0] += 1,
                        403 => seen[1] += 1,
                        other => panic!("unexpected answer {other}: {r:?}"),
                    }
                }
                seen
            }));
        }
        let mut total = 0;
        for c in clients {
            let seen = c.await.expect("client task");
            total += seen[0] + seen[1];
        }
        swapper.await.expect("swapper");
        assert_eq!(total, 400, "{fw:?}");
        // The last swap put `allow` in place: every answer now follows it.
        assert_eq!(get(addr, LOCAL, "/", &[]).await.status, 200, "{fw:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_nested_routers_are_decided_on_the_original_path() {
    let gate = Gate::new(
        Policy::from_toml("[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"no-admin\"\neffect = \"forbid\"\nwhen = { path = \"/admin/**\" }\n")
            .unwrap()
            .compile()
            .unwrap(),
    );
    // The layer sits on the inner router, which sees `/users` for `/admin/users`.
    let inner = axum::Router::new()
        .route("/users", axum::routing::get(|| async { "users" }))
        .layer(portcullis::adapters::axum::layer(gate));
    let app = axum::Router::new().nest("/admin", inner);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    let r = support::get(addr, LOCAL, "/admin/users", &[]).await;
    assert_eq!(r.status, 403, "{r:?}");
    server.abort();
}
