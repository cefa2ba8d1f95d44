//! Third independent attack: findings as tests that assert the secure behaviour (ignored while
//! they fail), and probes that held.

mod support;

use portcullis::{Policy, Request};
use std::net::{IpAddr, SocketAddr};

fn peer() -> IpAddr {
    "198.51.100.7".parse().unwrap()
}

fn engine(toml: &str) -> portcullis::Engine {
    Policy::from_toml(toml).unwrap().compile().unwrap()
}

const OUTSIDERS_FORBIDDEN_EVERYWHERE: &str = r#"
[policy]
default = "allow"
[[rules]]
name = "outsiders"
effect = "forbid"
when = { path = ["/**"] }
unless = { ip = ["203.0.113.0/24"] }
"#;

/// Finding 1: the asterisk form (`*`) is accepted with every method, and `/**` does not cover
/// it, so a policy that forbids every path to outsiders lets `GET *`, `DELETE *`, `POST *`
/// through to the backend's fallback handler (axum's `Router::fallback` runs for them).
/// RFC 9112 allows `*` only with OPTIONS.
#[test]
fn asterisk_form_escapes_a_rule_on_every_path() {
    let e = engine(OUTSIDERS_FORBIDDEN_EVERYWHERE);
    for method in ["GET", "POST", "DELETE", "OPTIONS"] {
        let r = Request::new(method, "*").peer(peer()).header("Host", "a");
        assert!(!e.decide(&r).is_allowed(), "{method} *: {}", e.explain(&r));
    }
}

/// Finding 1, end to end: the fallback handler of a real axum server runs for `GET *` from a
/// client the policy forbids everywhere.
#[tokio::test]
async fn asterisk_form_reaches_the_axum_fallback() {
    let gate = portcullis::gate::Gate::new(engine(OUTSIDERS_FORBIDDEN_EVERYWHERE));
    let app = axum::Router::new()
        .fallback(|m: axum::http::Method, u: axum::http::Uri| async move {
            format!("fallback saw {m} {u}")
        })
        .layer(portcullis::adapters::axum::layer(gate).without_caller());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    // The ordinary path is refused, as the policy says.
    let plain = b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let resp = support::send_raw(addr, None, plain).await.unwrap();
    assert_eq!(resp.status, 403);
    for raw in [
        &b"GET * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"[..],
        b"DELETE * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        b"POST * HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
    ] {
        let resp = support::send_raw(addr, None, raw).await.unwrap();
        assert_ne!(
            resp.status,
            200,
            "{:?} reached the handler: {:?}",
            String::from_utf8_lossy(raw).lines().next(),
            resp.body
        );
    }
}

/// Finding 2: header values are trimmed of spaces and tabs only. A value ending (or starting)
/// with Unicode white space or an invisible character — the very characters the engine refuses
/// at the edges of path segments — escapes an exact forbid condition, while a backend that
/// trims Unicode white space (Go's `strings.TrimSpace`, Rust's `str::trim`, Python's
/// `str.strip` on a UTF-8 decoded value, .NET's `Trim`) reads the forbidden value.
#[test]
fn unicode_edge_space_in_header_value_escapes_forbid() {
    let e = engine(
        r#"
[policy]
default = "allow"
[[rules]]
name = "no-debug"
effect = "forbid"
when = { header = { "x-debug" = "1" } }
"#,
    );
    for v in [
        "1\u{a0}",
        "\u{a0}1",
        "1\u{3000}",
        "1\u{2003}",
        "\u{feff}1",
        "1\u{200b}",
    ] {
        let r = Request::get("/x").peer(peer()).header("X-Debug", v);
        assert!(
            !e.decide(&r).is_allowed(),
            "{:?}: {}",
            v.escape_unicode().to_string(),
            e.explain(&r)
        );
    }
}

/// Finding 3 (low): a key header holding a comma-joined list (as an intermediary joins
/// repeated lines) is hashed whole, so a forbid rule on a client does not hold for
/// `X-Api-Key: <partner key>, x`, although a backend that reads the header as a list (the
/// engine itself reads `header` conditions so) takes the first element, the partner's key.
/// Two separate lines are refused (400); the joined form is not.
#[test]
fn comma_joined_key_escapes_a_forbid_on_its_client() {
    let key = "partner-key-123";
    let e = engine(&format!(
        "[policy]\ndefault = \"allow\"\n[keys]\n[keys.clients.partner]\nsha256 = [\"{}\"]\n\
         [[rules]]\nname = \"no-partner\"\neffect = \"forbid\"\nwhen = {{ client = [\"partner\"] }}\n",
        portcullis::hash_key(key.as_bytes())
    ));
    let two_lines = Request::get("/x")
        .peer(peer())
        .header("X-Api-Key", key)
        .header("X-Api-Key", "x");
    assert!(!e.decide(&two_lines).is_allowed());
    for v in [format!("{key}, x"), format!("{key},")] {
        let r = Request::get("/x")
            .peer(peer())
            .header("X-Api-Key", v.clone());
        assert!(!e.decide(&r).is_allowed(), "{v:?}: {}", e.explain(&r));
    }
}

/// What held: host readings (absolute form against Host, ports, case, trailing dots, userinfo,
/// twins of X-Forwarded-Host, Forwarded host claims, CONNECT), trailing slashes on globs with
/// alternatives and classes, list-file comment handling.
#[test]
fn held_host_readings() {
    let e = engine(
        "[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"f\"\neffect = \"forbid\"\n\
         when = { host = [\"admin.example.com\"] }\n",
    );
    let forbidden = [
        Request::get("http://admin.example.com/x").header("Host", "www.example.com"),
        Request::get("http://www.example.com/x").header("Host", "admin.example.com"),
        Request::get("http://user@www.example.com/x").header("Host", "www.example.com"),
        Request::get("/x")
            .header("Host", "www.example.com")
            .header("X_Forwarded_Host", "admin.example.com"),
        Request::get("/x")
            .header("Host", "www.example.com")
            .header("Forwarded", "for=1.2.3.4, host=admin.example.com"),
        Request::get("/x")
            .header("Host", "www.example.com")
            .header("Forwarded", "host=admin.example.com:443"),
        Request::get("/x")
            .header("Host", "www.example.com")
            .header("X-Forwarded-Host", "a.com, b.com, admin.example.com"),
        Request::get("/x").header("Host", "ADMIN.EXAMPLE.COM.:99999"),
        Request::get("*").header("Host", "admin.example.com"),
        Request::new("CONNECT", "admin.example.com:443").header("Host", "admin.example.com:443"),
        Request::get("/x"),
    ];
    for r in forbidden {
        let r = r.peer(peer());
        assert!(!e.decide(&r).is_allowed(), "{r:?}: {}", e.explain(&r));
    }
}

#[test]
fn held_trailing_slash_variants() {
    let cases: &[(&str, &[&str])] = &[
        ("/{admin,secret}", &["/admin/", "/secret/"]),
        ("**/private", &["/private", "/private/", "/x/private/"]),
        ("/admin*", &["/admin/", "/adminx/"]),
        ("/adm?n", &["/admin/"]),
        ("/admi[n]", &["/admin/"]),
        ("/a/**/delete", &["/a/delete", "/a/delete/", "/a/x/delete/"]),
    ];
    for (glob, paths) in cases {
        let e = engine(&format!(
            "[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"f\"\neffect = \"forbid\"\n\
             when = {{ path = [\"{glob}\"] }}\n"
        ));
        for p in paths.iter() {
            let r = Request::get(*p).peer(peer());
            assert!(!e.decide(&r).is_allowed(), "{glob} {p}: {}", e.explain(&r));
        }
    }
}
