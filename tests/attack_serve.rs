//! Attacks on `portcullis serve` from outside: what a client can make a forwarder state, and
//! what the service behind the forwarder then reads. Real servers on loopback: the server
//! in-process, a backend that echoes what it received, nginx and Caddy with the shipped
//! configurations from `deploy/`.

mod attack_common;

use attack_common::{caddy, nginx, send, Backend, Serve, TempDir};

/// SHA-256 of the test key `test`.
const TEST_KEY_DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn policy() -> String {
    format!(
        r#"
[policy]
default = "forbid"

[client_ip]
source = "x-forwarded-for"
trusted_proxies = ["198.51.100.0/24"]

[lists]
blocked = ["203.0.113.66"]

[keys.clients.billing]
sha256 = ["{TEST_KEY_DIGEST}"]
roles = ["internal"]

[[rules]]
name = "no-websocket"
effect = "forbid"
when = {{ header = {{ upgrade = {{ present = true }} }} }}

[[rules]]
name = "blocked"
effect = "forbid"
when = {{ ip = ["@blocked"] }}

[[rules]]
name = "no-admin-host"
effect = "forbid"
when = {{ host = ["admin.example.com"] }}

[[rules]]
name = "no-debug"
effect = "forbid"
when = {{ header = {{ x-debug = {{ present = true }} }} }}

[[rules]]
name = "internal"
effect = "allow"
when = {{ path = ["/internal/**"], role = ["internal"] }}

[[rules]]
name = "public"
effect = "allow"
when = {{ path = ["/public/**"] }}
"#
    )
}

/// A forward-auth check in the Caddy/Traefik convention from the forwarder, as the client
/// `192.0.2.1` asking for `/public/x` on `www.example.com`, with `extra` header lines.
fn forwarded(extra: &str) -> String {
    format!(
        "GET /check HTTP/1.1\nHost: portcullis\nX-Forwarded-Method: GET\nX-Forwarded-Uri: /public/x\n\
         X-Forwarded-Host: www.example.com\nX-Forwarded-For: 192.0.2.1{extra}"
    )
}

/// The same in nginx's convention.
fn original(extra: &str) -> String {
    format!(
        "GET /check HTTP/1.1\nHost: portcullis\nX-Original-Method: GET\nX-Original-URI: /public/x\n\
         X-Forwarded-Host: www.example.com\nX-Forwarded-For: 192.0.2.1{extra}"
    )
}

/// Hostile checks straight from a forwarder's address, and the status each must get. Most
/// rows held when this suite was written and pin that; the `Upgrade` rows did not (the
/// server dropped the original request's `Upgrade` as if it were the check's own).
#[test]
fn hostile_checks_from_a_forwarder() {
    let dir = TempDir::new("attack-serve");
    let serve = Serve::policy(&dir, &policy());
    let cases: Vec<(&str, String, u16)> = vec![
        ("baseline forward-auth", forwarded(""), 200),
        ("baseline nginx", original(""), 200),
        ("admin host", forwarded("").replace("www.example.com", "admin.example.com"), 403),
        (
            "admin host, upper case, trailing dot, port",
            forwarded("").replace("www.example.com", "ADMIN.example.com.:443"),
            403,
        ),
        ("two X-Forwarded-Host lines", forwarded("\nX-Forwarded-Host: admin.example.com"), 400),
        ("X-Forwarded-Host as a list", forwarded("").replace("www.example.com", "www.example.com, admin.example.com"), 400),
        ("client Forwarded host=", forwarded("\nForwarded: host=admin.example.com"), 403),
        (
            "absolute-form target naming another host",
            forwarded("").replace("X-Forwarded-Uri: /public/x", "X-Forwarded-Uri: http://admin.example.com/public/x"),
            400,
        ),
        ("both conventions (answered in nginx's convention)", forwarded("\nX-Original-URI: /internal/x"), 403),
        ("both conventions, nginx answered 403", original("\nX-Forwarded-Uri: /internal/x"), 403),
        ("repeated URI", forwarded("\nX-Forwarded-Uri: /internal/x"), 400),
        ("repeated method", forwarded("\nX-Forwarded-Method: DELETE"), 400),
        ("underscore twin of the URI", forwarded("\nX_Forwarded_Uri: /internal/x"), 400),
        ("underscore twin of the client address", forwarded("\nX_Forwarded_For: 198.51.100.7"), 400),
        ("underscore twin of the host", forwarded("\nX_Forwarded_Host: admin.example.com"), 400),
        ("underscore twin of a header a rule reads", forwarded("\nX_Debug: 1"), 403),
        ("underscore twin of the client identity", forwarded("\nX_Portcullis_Client: billing"), 400),
        ("underscore twin of the roles, nginx answered 403", original("\nX-Portcullis_Roles: internal"), 403),
        ("the dashed identity header is the proxy's to overwrite", forwarded("\nX-Portcullis-Client: billing"), 200),
        ("method list", forwarded("").replace("X-Forwarded-Method: GET", "X-Forwarded-Method: GET, DELETE"), 400),
        ("no method", forwarded("").replace("X-Forwarded-Method: GET\n", ""), 400),
        ("dot segments", forwarded("").replace("/public/x", "/public/../internal/x"), 400),
        ("encoded slash", forwarded("").replace("/public/x", "/public/..%2finternal/x"), 400),
        ("empty segment", forwarded("").replace("/public/x", "//public/x"), 400),
        ("path parameter", forwarded("").replace("/public/x", "/public/x;jsessionid=1"), 400),
        ("fragment", forwarded("").replace("/public/x", "/public/x#frag"), 400),
        ("relative target", forwarded("").replace("/public/x", "public/x"), 400),
        ("client address with a port", forwarded("").replace("192.0.2.1", "192.0.2.1:4711"), 403),
        ("client address unknown", forwarded("").replace("192.0.2.1", "unknown"), 403),
        ("client address missing", forwarded("").replace("\nX-Forwarded-For: 192.0.2.1", ""), 403),
        ("client address empty hop", forwarded("").replace("192.0.2.1", "192.0.2.1,"), 403),
        ("spoofed hop before the forwarder's", forwarded("").replace("192.0.2.1", "203.0.113.66, 192.0.2.1"), 200),
        ("blocked client via the trusted CDN", forwarded("").replace("192.0.2.1", "203.0.113.66, 198.51.100.7"), 403),
        ("blocked client on a later line", forwarded("\nX-Forwarded-For: 203.0.113.66"), 403),
        ("X-Original-URL beside the statement", forwarded("\nX-Original-URL: /internal/x"), 400),
        ("API key for /internal", forwarded("\nX-Api-Key: test").replace("/public/x", "/internal/x"), 200),
        ("wrong API key for /internal", forwarded("\nX-Api-Key: nope").replace("/public/x", "/internal/x"), 403),
        ("/check/ is not /check", forwarded("").replacen("/check", "/check/", 1), 404),
        ("/healthz is never a check", forwarded("").replacen("/check", "/healthz", 1), 200),
        ("Envoy prefix as a longer segment", "GET /envoyx/public/x HTTP/1.1\nHost: www.example.com\nX-Forwarded-For: 192.0.2.1".to_owned(), 404),
        ("Envoy check", "GET /envoy/public/x HTTP/1.1\nHost: www.example.com\nX-Forwarded-For: 192.0.2.1".to_owned(), 200),
        ("Envoy check, dot segment after the prefix", "GET /envoy/../healthz HTTP/1.1\nHost: www.example.com\nX-Forwarded-For: 192.0.2.1".to_owned(), 400),
        ("Envoy check, client X-Forwarded-Host", "GET /envoy/public/x HTTP/1.1\nHost: www.example.com\nX-Forwarded-Host: admin.example.com\nX-Forwarded-For: 192.0.2.1".to_owned(), 403),
        // The original request's `Upgrade`, stated by the forwarder (Caddy and Traefik keep it
        // on the check of an upgrade request), is a header of the original request.
        ("Upgrade in forward-auth", forwarded("\nUpgrade: websocket"), 403),
        ("Upgrade in nginx convention", original("\nUpgrade: websocket"), 403),
        ("Upgrade in an Envoy check", "GET /envoy/public/x HTTP/1.1\nHost: www.example.com\nUpgrade: websocket\nX-Forwarded-For: 192.0.2.1".to_owned(), 403),
    ];
    let mut wrong = Vec::new();
    for (label, head, want) in &cases {
        let got = send(serve.addr, head).status;
        if got != *want {
            wrong.push(format!("{label}: got {got}, want {want}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Names that a CGI-style backend (PHP, WSGI, Rack) reads as `HTTP_X_PORTCULLIS_CLIENT`.
fn identity_twin(name: &str) -> bool {
    let folded = name.trim().to_ascii_lowercase().replace('_', "-");
    name.contains('_') && (folded == "x-portcullis-client" || folded == "x-portcullis-roles")
}

/// A client's underscore spelling of the identity headers: Caddy deletes the dashed ones and
/// copies portcullis's answer over them, but passes `X_Portcullis_Client` through, which a
/// PHP, WSGI or Rack backend reads as the very same header. The server must refuse the
/// check rather than let the request reach the service with a client it chose.
#[test]
fn caddy_never_delivers_an_identity_header_the_client_wrote() {
    let dir = TempDir::new("attack-caddy");
    let serve = Serve::policy(&dir, &policy());
    let app = Backend::start();
    let caddy = caddy(serve.addr, app.addr);
    let ok = send(caddy.addr, "GET /public/x HTTP/1.1\nHost: www.example.com");
    assert_eq!(ok.status, 200, "{ok:?}");
    for spoof in [
        "X_Portcullis_Client: billing",
        "X_Portcullis_Roles: internal",
        "X-Portcullis_Client: billing",
        "x_portcullis-roles: internal",
    ] {
        let answer = send(
            caddy.addr,
            &format!("GET /public/x HTTP/1.1\nHost: www.example.com\n{spoof}"),
        );
        let delivered: Vec<&str> = answer
            .body
            .lines()
            .filter(|l| l.split_once(':').is_some_and(|(n, _)| identity_twin(n)))
            .collect();
        assert!(
            answer.status != 200 || delivered.is_empty(),
            "{spoof}: the service received {delivered:?}"
        );
    }
}

/// nginx drops header names with underscores (`underscores_in_headers off`), so the same
/// spoof never reaches its service: pinned, since the configuration relies on it.
#[test]
fn nginx_drops_underscore_identity_headers() {
    let dir = TempDir::new("attack-nginx-id");
    let serve = Serve::policy(&dir, &policy());
    let app = Backend::start();
    let nginx = nginx(serve.addr, app.addr);
    let answer = send(
        nginx.addr,
        "GET /public/x HTTP/1.1\nHost: www.example.com\nX_Portcullis_Client: billing\nX-Portcullis-Client: billing",
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        !answer.body.to_ascii_lowercase().contains("billing"),
        "{}",
        answer.body
    );
}

/// The client's own `X-Forwarded-Host`: nginx replaces it in the check with the `Host` it
/// saw, so the policy decides on `www.example.com`; the service must then not be handed
/// `admin.example.com` in the same header (Rails, Django with `USE_X_FORWARDED_HOST`, Express
/// with `trust proxy` route on it). In-process the engine reads it as a further host.
#[test]
fn nginx_delivers_only_the_host_the_policy_decided() {
    let dir = TempDir::new("attack-nginx-host");
    let serve = Serve::policy(&dir, &policy());
    let app = Backend::start();
    let nginx = nginx(serve.addr, app.addr);
    let ok = send(nginx.addr, "GET /public/x HTTP/1.1\nHost: www.example.com");
    assert_eq!(ok.status, 200, "{ok:?}");
    let no = send(
        nginx.addr,
        "GET /public/x HTTP/1.1\nHost: admin.example.com",
    );
    assert_eq!(no.status, 403, "{no:?}");
    let answer = send(
        nginx.addr,
        "GET /public/x HTTP/1.1\nHost: www.example.com\nX-Forwarded-Host: admin.example.com",
    );
    let hosts: Vec<&str> = answer
        .body
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.eq_ignore_ascii_case("x-forwarded-host"))
        .map(|(_, v)| v.trim())
        .collect();
    assert!(
        answer.status != 200 || hosts.iter().all(|h| *h == "www.example.com"),
        "the service was handed X-Forwarded-Host {hosts:?} for a request decided on www.example.com"
    );
}

/// A WebSocket upgrade through Caddy: Caddy keeps `Upgrade` on the check and on the request
/// to the service, so a rule on `upgrade` must decide it, as it would in-process.
#[test]
fn caddy_upgrade_meets_the_rule_on_upgrade() {
    let dir = TempDir::new("attack-caddy-upgrade");
    let serve = Serve::policy(&dir, &policy());
    let app = Backend::start();
    let caddy = caddy(serve.addr, app.addr);
    let answer = send(
        caddy.addr,
        "GET /public/ws HTTP/1.1\nHost: www.example.com\nConnection: Upgrade\nUpgrade: websocket\n\
         Sec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    );
    assert_eq!(answer.status, 403, "{answer:?}");
    assert!(app.seen.lock().unwrap().is_empty());
}

/// An empty Envoy prefix (`--envoy-prefix /`, which Istio's optional `pathPrefix` invites)
/// makes every path an Envoy check, but `/healthz`, `/readyz`, `/metrics` and `/check` stay
/// the server's own routes: Envoy's check for the service's `/healthz` is answered `ok`, so
/// any client reaches those paths of the service whatever the policy says.
#[test]
fn envoy_prefixes_never_take_in_the_servers_own_routes() {
    use portcullis::gate::Gate;
    use portcullis::serve::{EnvoyPrefix, Server};

    for prefix in ["/", "", "/healthz", "/check/x", "/metrics"] {
        assert!(prefix.parse::<EnvoyPrefix>().is_err(), "{prefix:?}");
    }
    let dir = TempDir::new("attack-envoy-prefix");
    let path = dir.write("policy.toml", &policy());
    let server = Server::builder(Gate::from_path(path).unwrap())
        .envoy_prefix("/authz".parse().unwrap())
        .build();
    let serve = Serve::start(server);
    // Envoy's checks for the service's own `/healthz` and the like, from the blocked client:
    // the policy decides them, not the server's routes.
    for target in ["/healthz", "/readyz", "/metrics", "/check"] {
        let answer = send(
            serve.addr,
            &format!(
                "GET /authz{target} HTTP/1.1\nHost: www.example.com\nX-Forwarded-For: 203.0.113.66"
            ),
        );
        assert!(
            answer.status >= 400,
            "{target} from a blocked client: {answer:?}"
        );
    }
}
