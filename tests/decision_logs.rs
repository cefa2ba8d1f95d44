//! Decision logs that answer "who and why": the client's name (never its key), the request
//! id shared by the log, the refusal body and the handler, the policy revision; flood control.
//! On real axum and actix-web servers on loopback.
#![cfg(all(feature = "axum", feature = "actix"))]

mod support;

use std::net::IpAddr;

use portcullis::gate::{Gate, Outcome, RequestIds};
use portcullis::{hash_key, AsRequestView, Policy, Request};
use support::{get, logs, start, FRAMEWORKS};

/// Requests from 127.0.0.1 come through a trusted proxy; 127.0.0.2 is a client.
fn policy() -> String {
    format!(
        r#"
[policy]
default = "allow"

[client_ip]
source = "x-forwarded-for"
trusted_proxies = ["127.0.0.1"]

[keys]
[keys.clients.acme]
sha256 = ["{}"]
roles = ["partner"]

[[rules]]
name = "hidden"
effect = "forbid"
status = 404
when = {{ path = ["/hidden/**"] }}
"#,
        hash_key(b"acme-secret-key")
    )
}

fn gate() -> Gate {
    Gate::builder(Policy::from_toml(&policy()).unwrap().compile().unwrap())
        .problem_json(true)
        .build()
}

/// The log line holding `marker`.
fn line_with(marker: &str) -> String {
    logs()
        .lines()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no log line holds {marker}"))
        .to_owned()
}

/// The `request_id` of a problem+json body.
fn body_id(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).expect("problem+json");
    v["request_id"].as_str().expect("request_id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_the_client_the_request_id_and_the_revision() {
    let _ = logs();
    let gate = gate();
    let revision = gate.engine().revision().to_string();
    let trusted: IpAddr = "127.0.0.1".parse().unwrap();
    let client: IpAddr = "127.0.0.2".parse().unwrap();
    for fw in FRAMEWORKS {
        let server = start(fw, gate.clone(), "127.0.0.1:0").await;

        // Through the trusted proxy: its request id is kept, in the body and the log.
        let given = format!("proxy-id-{fw:?}");
        let marker = format!("/hidden/trusted-{fw:?}");
        let r = get(
            server.addr,
            Some(trusted),
            &marker,
            &[
                ("x-api-key", "acme-secret-key"),
                ("x-request-id", &given),
                ("x-forwarded-for", "198.51.100.7"),
            ],
        )
        .await;
        assert_eq!(r.status, 404, "{fw:?}");
        assert_eq!(body_id(&r.body), given, "{fw:?}");
        let line = line_with(&marker);
        for field in [
            "decision=\"forbidden\"".to_owned(),
            "rule=\"hidden\"".to_owned(),
            "status=404".to_owned(),
            "client=198.51.100.7".to_owned(),
            "client_name=\"acme\"".to_owned(),
            format!("request_id={given}"),
            format!("revision={revision}"),
            "method=GET".to_owned(),
        ] {
            assert!(line.contains(&field), "{fw:?}: {field} missing from {line}");
        }
        assert!(
            !logs().contains("acme-secret-key"),
            "a key leaked into the logs"
        );

        // From a client: its request id is not taken; a new one is, the same in both places.
        let marker = format!("/hidden/client-{fw:?}");
        let r = get(
            server.addr,
            Some(client),
            &marker,
            &[("x-request-id", "forged")],
        )
        .await;
        let id = body_id(&r.body);
        assert_ne!(id, "forged", "{fw:?}");
        let line = line_with(&marker);
        assert!(line.contains(&format!("request_id={id}")), "{fw:?}: {line}");
        assert!(line.contains("client_name=\"-\""), "{fw:?}: {line}");

        // Handlers read the same id.
        let r = get(
            server.addr,
            Some(trusted),
            "/request-id",
            &[("x-request-id", "handler-1")],
        )
        .await;
        assert_eq!(r.body, "handler-1", "{fw:?}");
        let r = get(
            server.addr,
            Some(client),
            "/request-id",
            &[("x-request-id", "handler-2")],
        )
        .await;
        assert!(
            !r.body.is_empty() && r.body != "handler-2",
            "{fw:?}: {}",
            r.body
        );
    }
}

#[test]
fn request_ids_are_kept_only_as_configured() {
    let engine = || Policy::from_toml(&policy()).unwrap().compile().unwrap();
    let id = |gate: &Gate, peer: &str, given: &[&str]| {
        let mut r = Request::get("/").peer(peer.parse().unwrap());
        for g in given {
            r = r.header("x-request-id", *g);
        }
        match gate.check(&r.view()) {
            Outcome::Pass(c) => c.request_id.to_string(),
            Outcome::Deny(d) => panic!("denied: {d:?}"),
        }
    };
    let default = Gate::new(engine());
    assert_eq!(id(&default, "127.0.0.1", &["a1"]), "a1");
    assert_ne!(id(&default, "127.0.0.2", &["a1"]), "a1");
    assert_ne!(
        id(&default, "127.0.0.1", &["a1", "a2"]),
        "a1",
        "two ids are no id"
    );
    assert_ne!(
        id(&default, "127.0.0.1", &["a b"]),
        "a b",
        "only plain ids are kept"
    );
    let anyone = Gate::builder(engine())
        .request_ids(RequestIds::FromAnyone)
        .build();
    assert_eq!(id(&anyone, "127.0.0.2", &["a1"]), "a1");
    let never = Gate::builder(engine())
        .request_ids(RequestIds::Generate)
        .build();
    assert_ne!(id(&never, "127.0.0.1", &["a1"]), "a1");
    let header = Gate::builder(engine())
        .request_id_header("X-Correlation-Id")
        .build();
    let r = Request::get("/")
        .peer("127.0.0.1".parse().unwrap())
        .header("x-correlation-id", "c-9");
    let Outcome::Pass(c) = header.check(&r.view()) else {
        panic!()
    };
    assert_eq!(c.request_id.to_string(), "c-9");
}

#[test]
fn a_flood_of_refusals_logs_at_most_the_limit_then_a_summary() {
    let _ = logs();
    let gate = Gate::builder(Policy::from_toml(&policy()).unwrap().compile().unwrap())
        .log_limit(Some(5))
        .build();
    let before = gate.counts().rules.get("hidden").map_or(0, |c| c.forbidden);
    let send = |n: usize| {
        for i in 0..n {
            let r = Request::get(format!("/hidden/flood-{i}")).peer("127.0.0.2".parse().unwrap());
            assert!(matches!(gate.check(&r.view()), Outcome::Deny(_)));
        }
    };
    // Within one second (retried if the burst straddles a second boundary).
    let start = std::time::Instant::now();
    send(50);
    let logged = logs()
        .lines()
        .filter(|l| l.contains("/hidden/flood-"))
        .count();
    if start.elapsed() < std::time::Duration::from_millis(900) {
        assert!(
            logged <= 10,
            "{logged} lines for a burst limited to 5 a second"
        );
        assert!(
            logged >= 5,
            "{logged} lines: the first 5 of a burst are logged"
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    send(1);
    let summary = line_with("decision logs of rule \"hidden\" were suppressed");
    assert!(summary.contains("suppressed="), "{summary}");
    let after = gate.counts().rules["hidden"].forbidden;
    assert_eq!(after - before, 51, "counters count every request");
}

/// A bearer token's client (`client_claim`) is named like an API key's client.
#[cfg(feature = "tokens")]
#[test]
fn refusals_name_a_token_client() {
    use portcullis::testing::{req, BearerClaims};
    let _ = logs();
    let policy = Policy::from_toml(
        r#"
[policy]
default = "forbid"

[tokens.issuers.corp]
issuer = "https://id.example.com/"
audiences = ["orders-api"]
jwks = { url = "https://id.example.com/jwks.json" }
algorithms = ["RS256"]
client_claim = "client_id"

[[rules]]
name = "orders"
effect = "allow"
when = { path = "/orders/**", scope = "orders:write" }
"#,
    )
    .unwrap();
    // The harness signs with its own key: nothing is fetched.
    let gate = Gate::new(portcullis::testing::compile(&policy).unwrap());
    let claims = serde_json::json!({
        "iss": "https://id.example.com/", "aud": "orders-api", "scope": "orders:read",
        "client_id": "svc-reporting",
    });
    let request = req("POST /orders/token-client-marker from 192.0.2.1").bearer_claims(claims);
    assert!(matches!(gate.check(&request.view()), Outcome::Deny(_)));
    let line = line_with("/orders/token-client-marker");
    assert!(line.contains("client_name=\"svc-reporting\""), "{line}");
}
