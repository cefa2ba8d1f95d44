//! Bypass regression suite: techniques from public advisories, each through the engine and
//! through both adapters over a raw TCP socket.
//!
//! Every case tries to reach something the policy below forbids, using a technique that let
//! requests slip past a gateway, proxy or framework in a published advisory. The default is
//! `allow`, so a bypass shows up as an allowed answer; the secure answers are a rule's 403, a
//! refusal (400) before any rule runs, or 403 for a client whose address cannot be read. A few
//! control cases must be allowed, so that the rules are known to let the right requests through.

mod support;

use std::net::IpAddr;

use portcullis::{gate::Gate, hash_key, Engine, Policy, Request, Verdict};
use Expect::{Allowed, Forbidden, Refused};

/// The policy under test; `{digest}` stands for the SHA-256 digest of the key `admin-key`.
const POLICY: &str = r#"
[policy]
default = "allow"

[client_ip]
source = "x-forwarded-for"
trusted_proxies = ["127.0.0.1"]

[keys]
header = "x-api-key"

[keys.clients.ops]
sha256 = ["{digest}"]
roles = ["admin"]

[[rules]]
name = "blocked-net"
effect = "forbid"
when = { ip = ["192.0.2.0/24", "2001:db8:bad::/48"] }

[[rules]]
name = "admin-needs-role"
effect = "forbid"
when = { path = ["/admin/**"] }
unless = { role = ["admin"] }

[[rules]]
name = "internal-only"
effect = "forbid"
when = { path = ["/internal/**"] }
unless = { ip = ["10.0.0.0/8"] }

[[rules]]
name = "no-delete"
effect = "forbid"
when = { method = ["DELETE"] }

[[rules]]
name = "no-scanners"
effect = "forbid"
when = { user_agent = ["*sqlmap*", "*nikto*"] }

[[rules]]
name = "admin-host"
effect = "forbid"
when = { host = ["admin.example.com"] }

[[rules]]
name = "no-debug-header"
effect = "forbid"
when = { header = { x-debug = { present = true } } }

[[rules]]
name = "no-export"
effect = "forbid"
when = { path = ["/export", "/report/*"] }

[[rules]]
name = "no-trace-header"
effect = "forbid"
when = { header = { "x_trace" = { present = true } } }

[[rules]]
name = "one-char-names"
effect = "forbid"
when = { path = ["/g/?", "/g/[\u00e4b]/**", "/g/[!a]x"] }

[[rules]]
name = "unicode-scanners"
effect = "forbid"
when = { user_agent = ["*b\u00e4dbot*", "*\u0431\u043e\u0442*", "*\u03ba\u03b1\u03ba\u03cc*"] }
"#;

/// What a request should get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Let through (the test router then answers 200 or 404).
    Allowed,
    /// Forbidden with this status: by a rule, or because the client address is unknown.
    Forbidden(u16),
    /// Refused as malformed (400) before any rule ran.
    Refused,
}

/// One bypass attempt.
struct Case {
    /// The advisory or reference the technique comes from.
    source: &'static str,
    /// What the request tries.
    technique: &'static str,
    method: &'static str,
    /// The raw request target, sent byte for byte.
    target: &'static [u8],
    /// Extra header lines, in order; `Host: localhost` is added when none is given.
    headers: &'static [(&'static str, &'static [u8])],
    /// The TCP peer; `None` is 127.0.0.1, the trusted proxy.
    from: Option<&'static str>,
    expect: Expect,
}

/// What a case leaves out: a GET of `/public` from the trusted proxy with no extra headers.
const DEFAULTS: Case = Case {
    source: "",
    technique: "",
    method: "GET",
    target: b"/public",
    headers: &[],
    from: None,
    expect: Allowed,
};

const CASES: &[Case] = &[
    // ---------------------------------------------------------------------------------------
    // Path normalisation and encoding
    // ---------------------------------------------------------------------------------------
    Case {
        source: "control",
        technique: "an ordinary public path is allowed",
        target: b"/public",
        expect: Allowed,
        ..DEFAULTS
    },
    Case {
        source: "control: rule admin-needs-role",
        technique: "the protected path itself, without a key",
        target: b"/admin/x",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    // Paths are case-sensitive, like the backend's routes (axum and actix-web match routes
    // case-sensitively), so `/ADMIN/x` is another resource, not a spelling of `/admin/x`.
    Case {
        source: "control: IIS/Windows case-insensitive paths",
        technique: "upper-case prefix names another route on a case-sensitive backend",
        target: b"/ADMIN/x",
        expect: Allowed,
        ..DEFAULTS
    },
    Case {
        source: "Apache Shiro CVE-2023-22602",
        technique: "the directory itself, no trailing slash (Ant vs PathPattern `/**`)",
        target: b"/admin",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Spring Security antMatchers vs Spring MVC trailing-slash match",
        technique: "the directory with a trailing slash",
        target: b"/admin/",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Spring Security antMatchers vs Spring MVC trailing-slash match",
        technique: "a trailing slash after the resource",
        target: b"/admin/x/",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Traefik GHSA-vrch-868g-9jx5",
        technique: "percent-encoded letter in the protected prefix",
        target: b"/%61dmin/x",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Traefik GHSA-vrch-868g-9jx5",
        technique: "every letter of the prefix percent-encoded",
        target: b"/%61%64%6d%69%6e/x",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Istio authorization normalisation (escapes decoded once)",
        technique: "one letter encoded in the middle of the segment",
        target: b"/adm%69n/x",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2021-29492 / Istio CVE-2021-31920",
        technique: "encoded slash `%2f` inside the protected path",
        target: b"/admin%2fx",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2021-29492 / Istio CVE-2021-31920",
        technique: "encoded slash, upper-case `%2F`",
        target: b"/admin%2Fx",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Traefik CVE-2025-66490",
        technique: "dot-dot followed by an encoded slash",
        target: b"/public/..%2fadmin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Istio CVE-2021-31920 (multiple slashes)",
        technique: "leading double slash",
        target: b"//admin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "nginx merge_slashes / Istio CVE-2021-31920",
        technique: "leading triple slash",
        target: b"///admin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Spring Security StrictHttpFirewall (`//`)",
        technique: "empty segment inside the protected path",
        target: b"/admin//x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2019-9901",
        technique: "raw dot-dot segment climbing into the protected path",
        target: b"/public/../admin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2019-9901",
        technique: "raw single-dot segment before the protected path",
        target: b"/./admin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Traefik CVE-2025-32431",
        technique: "trailing dot-dot segment",
        target: b"/admin/x/..",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Traefik issue #11746 (encoded dots after CVE-2025-32431)",
        technique: "percent-encoded dot-dot segment",
        target: b"/public/%2e%2e/admin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Jetty CVE-2021-28164",
        technique: "encoded single-dot segment at the root",
        target: b"/%2e/admin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Jetty CVE-2021-28164",
        technique: "encoded dot-dot segment at the root",
        target: b"/%2e%2e/admin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Jetty CVE-2021-28164",
        technique: "encoded single-dot segment at the end",
        target: b"/admin/%2e",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Apache httpd CVE-2021-41773",
        technique: "half-encoded dot-dot `.%2e`",
        target: b"/public/.%2e/admin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Apache httpd CVE-2021-41773",
        technique: "half-encoded dot-dot `%2E.`",
        target: b"/public/%2E./admin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Apache httpd CVE-2021-42013",
        technique: "double-encoded dots `%%32%65`",
        target: b"/public/%%32%65%%32%65/admin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Jetty CVE-2021-34429",
        technique: "IIS-style `%u002e` dot segment",
        target: b"/%u002e/admin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "IIS %u encoding (WAF evasion)",
        technique: "`%u0061` for a letter of the prefix",
        target: b"/%u0061dmin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Jetty CVE-2021-34429",
        technique: "encoded NUL after a dot, `/.%00/`",
        target: b"/.%00/admin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "null-byte truncation (CWE-158)",
        technique: "encoded NUL before a harmless-looking suffix",
        target: b"/admin/x%00.png",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Apache Shiro CVE-2020-1957 / Tomcat `..;` (Breaking Parser Logic)",
        technique: "`..;` segment that a servlet container reads as `..`",
        target: b"/public/..;/admin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Apache Shiro CVE-2020-1957",
        technique: "`..;` inside the protected prefix",
        target: b"/admin/..;/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Apache Shiro CVE-2023-46749 (path parameters)",
        technique: "`;` right after the protected segment",
        target: b"/admin;/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Servlet path parameters (Spring StrictHttpFirewall)",
        technique: "`;jsessionid=` parameter on the resource",
        target: b"/admin/x;jsessionid=1",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Apache Shiro CVE-2020-13933",
        technique: "encoded semicolon `%3b` in a child segment",
        target: b"/admin/%3bx",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Apache Shiro CVE-2020-13933",
        technique: "encoded semicolon after the protected segment",
        target: b"/admin%3b/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Apache Shiro CVE-2020-11989",
        technique: "double-encoded slash `%25%32%66`",
        target: b"/admin/a%25%32%66x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Apache Shiro CVE-2020-11989",
        technique: "double-encoded slash `%252f`",
        target: b"/admin%252fx",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Spring Security CVE-2016-5007",
        technique: "encoded space after a segment, trimmed by the backend",
        target: b"/admin%20/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Spring Security CVE-2016-5007",
        technique: "encoded space before a segment",
        target: b"/%20admin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Symfony CVE-2018-14773",
        technique: "X-Original-URL names the forbidden path",
        headers: &[("X-Original-URL", b"/admin/x")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Symfony CVE-2018-14773 / IIS URL Rewrite",
        technique: "X-Rewrite-URL names the forbidden path",
        headers: &[("X-Rewrite-URL", b"/admin/x")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Apache Shiro CVE-2020-17523",
        technique: "encoded space as the only child segment",
        target: b"/admin/%20",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Apache Shiro CVE-2020-17523",
        technique: "trailing encoded space",
        target: b"/admin/x%20",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Apache Shiro CVE-2022-32532",
        technique: "encoded line feed (a regex `.` does not match it)",
        target: b"/admin/%0ax",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Spring Security CVE-2022-22978",
        technique: "encoded CR LF at the end of the path",
        target: b"/admin/x%0d%0a",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Spring Security StrictHttpFirewall (control characters)",
        technique: "encoded tab at the end of the path",
        target: b"/admin/x%09",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Istio CVE-2021-31920 (`%5C`)",
        technique: "encoded backslash as a separator",
        target: b"/admin%5cx",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Istio CVE-2021-31920 (`%5C`)",
        technique: "encoded backslash dot-dot traversal",
        target: b"/public%5c..%5cadmin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Tomcat CVE-2007-0450",
        technique: "raw backslash traversal",
        target: b"/public\\..\\admin\\x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Tomcat CVE-2008-2938",
        technique: "overlong UTF-8 dots `%c0%ae`",
        target: b"/admin/%c0%ae%c0%ae/",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "IIS CVE-2000-0884",
        technique: "overlong UTF-8 slash `%c0%af`",
        target: b"/public/..%c0%af../admin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "IIS CVE-2000-0884",
        technique: "encoded byte that is not UTF-8",
        target: b"/admin/%ff",
        expect: Refused,
        ..DEFAULTS
    },
    // The engine refuses a raw `#`; the frameworks' URI parsers drop the fragment before any
    // middleware runs, so behind them the gate sees `/admin/x` (see `adapter_expectation`).
    Case {
        source: "Envoy CVE-2021-32779 / Istio CVE-2021-39156",
        technique: "fragment after the protected path",
        target: b"/admin/x#section",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Traefik CVE-2025-66490",
        technique: "encoded `#` after the protected segment",
        target: b"/admin%23/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Traefik CVE-2025-66490",
        technique: "encoded `?` after the protected segment",
        target: b"/admin%3f/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Istio authorization normalisation (query removed)",
        technique: "a role claimed in the query string",
        target: b"/admin/x?role=admin",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Istio authorization normalisation (query removed)",
        technique: "dot-dot segments in the query string",
        target: b"/admin/x?next=/../../public",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Jetty ambiguous URIs (invalid escapes)",
        technique: "dangling `%` at the end",
        target: b"/admin/x%",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Jetty ambiguous URIs (invalid escapes)",
        technique: "escape with non-hex digits",
        target: b"/admin%zz/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "RFC 9112 section 3.2.2 (absolute-form)",
        technique: "absolute-form target",
        target: b"http://localhost/admin/x",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9112 section 3.2.2 (absolute-form)",
        technique: "absolute-form target with an upper-case scheme",
        target: b"HTTP://localhost/admin/x",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9112 section 3.2.2 (absolute-form)",
        technique: "absolute-form target with a double slash",
        target: b"http://localhost//admin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "request-line injection (RFC 9112 section 3)",
        technique: "raw space inside the target",
        target: b"/admin/x y",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "request-line injection (RFC 9112 section 3)",
        technique: "raw tab inside the target",
        target: b"/admin/x\ty",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Tomcat CVE-2008-2938",
        technique: "raw overlong UTF-8 bytes in the target",
        target: b"/admin/\xc0\xae",
        expect: Refused,
        ..DEFAULTS
    },
    // actix-web's URI parser refuses raw non-ASCII bytes itself (400); axum lets them through.
    Case {
        source: "Envoy (raw bytes above 0x80 in the path)",
        technique: "raw UTF-8 bytes in the protected path",
        target: b"/admin/caf\xc3\xa9",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "control: rule internal-only",
        technique: "the internal directory itself, from a non-internal client",
        target: b"/internal",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Traefik GHSA-vrch-868g-9jx5",
        technique: "percent-encoded letter in the internal prefix",
        target: b"/%69nternal/x",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Apache Shiro CVE-2020-1957",
        technique: "`..;` climbing into the internal prefix",
        target: b"/public/..;/internal/x",
        expect: Refused,
        ..DEFAULTS
    },
    // ---------------------------------------------------------------------------------------
    // Client-address spoofing and address forms
    // ---------------------------------------------------------------------------------------
    Case {
        source: "control: a trusted proxy names an internal client",
        technique: "X-Forwarded-For from 127.0.0.1 with an address in 10.0.0.0/8",
        target: b"/internal/x",
        headers: &[("X-Forwarded-For", b"10.1.2.3")],
        expect: Allowed,
        ..DEFAULTS
    },
    Case {
        source: "Express `trust proxy` / rack-attack X-Forwarded-For spoofing",
        technique: "internal address claimed by an untrusted peer",
        target: b"/internal/x",
        headers: &[("X-Forwarded-For", b"10.1.2.3")],
        from: Some("127.0.0.2"),
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "leftmost X-Forwarded-For trusted (MDN X-Forwarded-For security notes)",
        technique: "spoofed internal hop left of the real client",
        target: b"/internal/x",
        headers: &[("X-Forwarded-For", b"10.1.2.3, 198.51.100.7")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "leftmost X-Forwarded-For trusted (MDN X-Forwarded-For security notes)",
        technique: "blocked client behind a spoofed internal hop",
        target: b"/public",
        headers: &[("X-Forwarded-For", b"10.1.2.3, 192.0.2.5")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "control: rule blocked-net",
        technique: "blocked client named by the trusted proxy",
        target: b"/public",
        headers: &[("X-Forwarded-For", b"192.0.2.5")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Envoy xff_num_trusted_hops (trusted-hop injection)",
        technique: "trusted proxy's address appended after the real client",
        target: b"/public",
        headers: &[("X-Forwarded-For", b"192.0.2.5, 127.0.0.1")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Envoy use_remote_address (internal-address detection)",
        technique: "claiming to be the proxy itself",
        target: b"/internal/x",
        headers: &[("X-Forwarded-For", b"127.0.0.1")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2020-25017 (only the first header line considered)",
        technique: "spoofed line first, the proxy's line second",
        target: b"/internal/x",
        headers: &[
            ("X-Forwarded-For", b"10.1.2.3"),
            ("X-Forwarded-For", b"198.51.100.7"),
        ],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2020-25017 (only the first header line considered)",
        technique: "internal line followed by an unreadable line",
        target: b"/internal/x",
        headers: &[
            ("X-Forwarded-For", b"10.1.2.3"),
            ("X-Forwarded-For", b"garbage"),
        ],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Go CVE-2021-29923 / Rust CVE-2021-29922 (leading zeros)",
        technique: "internal address with a leading zero",
        target: b"/internal/x",
        headers: &[("X-Forwarded-For", b"010.1.2.3")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "netmask npm CVE-2021-28918 (octal octets)",
        technique: "octal loopback address",
        target: b"/internal/x",
        headers: &[("X-Forwarded-For", b"0177.0.0.1")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "inet_aton(3) legacy forms (ACL and SSRF filter evasion)",
        technique: "hexadecimal octet",
        target: b"/internal/x",
        headers: &[("X-Forwarded-For", b"0x0a.1.2.3")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "inet_aton(3) legacy forms (ACL and SSRF filter evasion)",
        technique: "32-bit decimal form of 10.1.2.3",
        target: b"/internal/x",
        headers: &[("X-Forwarded-For", b"167838211")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "inet_aton(3) legacy forms (ACL and SSRF filter evasion)",
        technique: "three-part short form of 10.1.2.3",
        target: b"/internal/x",
        headers: &[("X-Forwarded-For", b"10.1.515")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "inet_aton(3) legacy forms (ACL and SSRF filter evasion)",
        technique: "32-bit decimal form of a blocked address",
        target: b"/public",
        headers: &[("X-Forwarded-For", b"3221225989")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 4291 section 2.5.5.2 (IPv4-mapped IPv6)",
        technique: "blocked address written as IPv4-mapped IPv6",
        target: b"/public",
        headers: &[("X-Forwarded-For", b"::ffff:192.0.2.5")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 4291 section 2.5.5.2 (IPv4-mapped IPv6)",
        technique: "IPv4-mapped address in hexadecimal groups",
        target: b"/public",
        headers: &[("X-Forwarded-For", b"::ffff:c000:205")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 4291 section 2.5.5.2 (IPv4-mapped IPv6)",
        technique: "IPv4-mapped address in brackets with a port",
        target: b"/public",
        headers: &[("X-Forwarded-For", b"[::ffff:192.0.2.5]:443")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "control: rule blocked-net (IPv6)",
        technique: "blocked IPv6 client",
        target: b"/public",
        headers: &[("X-Forwarded-For", b"2001:db8:bad::1")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 5952 (non-canonical IPv6 text)",
        technique: "uncompressed, upper-case IPv6",
        target: b"/public",
        headers: &[("X-Forwarded-For", b"2001:DB8:BAD:0:0:0:0:1")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 5952 (non-canonical IPv6 text)",
        technique: "leading zeros in IPv6 groups",
        target: b"/public",
        headers: &[("X-Forwarded-For", b"2001:0db8:0bad::1")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 6874 (IPv6 zone identifiers)",
        technique: "zone id on a blocked IPv6 address",
        target: b"/public",
        headers: &[("X-Forwarded-For", b"2001:db8:bad::1%eth0")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 6874 (IPv6 zone identifiers)",
        technique: "link-local address with a zone id",
        target: b"/internal/x",
        headers: &[("X-Forwarded-For", b"fe80::1%eth0")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Azure Application Gateway (port in X-Forwarded-For)",
        technique: "blocked address with a port",
        target: b"/public",
        headers: &[("X-Forwarded-For", b"192.0.2.5:8080")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 7239 section 6.3 (`unknown`)",
        technique: "the hop is `unknown`",
        target: b"/internal/x",
        headers: &[("X-Forwarded-For", b"unknown")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9110 section 5.6.1 (empty list elements)",
        technique: "trailing empty element after an internal address",
        target: b"/internal/x",
        headers: &[("X-Forwarded-For", b"10.1.2.3,")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9110 section 5.6.1 (empty list elements)",
        technique: "empty header, hoping for the peer's address",
        target: b"/internal/x",
        headers: &[("X-Forwarded-For", b"")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9110 section 5.6.1 (list syntax)",
        technique: "hops separated by a space, not a comma",
        target: b"/internal/x",
        headers: &[("X-Forwarded-For", b"10.1.2.3 198.51.100.7")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9110 section 5.5 (optional whitespace)",
        technique: "blocked address padded with spaces and a tab",
        target: b"/public",
        headers: &[("X-Forwarded-For", b"  192.0.2.5\t")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "nginx realip module (X-Real-IP)",
        technique: "internal address in a header the policy does not read",
        target: b"/internal/x",
        headers: &[("X-Real-IP", b"10.1.2.3")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Akamai / Cloudflare True-Client-IP",
        technique: "internal address in True-Client-IP",
        target: b"/internal/x",
        headers: &[("True-Client-IP", b"10.1.2.3")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 7239 Forwarded vs X-Forwarded-For",
        technique: "internal address in Forwarded `for=`",
        target: b"/internal/x",
        headers: &[("Forwarded", b"for=10.1.2.3")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "nginx underscores_in_headers / CGI header mangling",
        technique: "X_Forwarded_For with underscores",
        target: b"/internal/x",
        headers: &[("X_Forwarded_For", b"10.1.2.3")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9110 section 5.1 (field names are case-insensitive)",
        technique: "mixed-case header name",
        target: b"/public",
        headers: &[("x-FORWARDED-for", b"192.0.2.5")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    // ---------------------------------------------------------------------------------------
    // Host tricks
    // ---------------------------------------------------------------------------------------
    Case {
        source: "control: rule admin-host",
        technique: "the forbidden host",
        target: b"/public",
        headers: &[("Host", b"admin.example.com")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 4343 (DNS names are case-insensitive)",
        technique: "upper-case host",
        target: b"/public",
        headers: &[("Host", b"ADMIN.EXAMPLE.COM")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 1034 section 3.1 (absolute name, trailing dot)",
        technique: "host with a trailing dot",
        target: b"/public",
        headers: &[("Host", b"admin.example.com.")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Istio AuthorizationPolicy hosts (port variants)",
        technique: "host with a port and mixed case",
        target: b"/public",
        headers: &[("Host", b"ADMIN.example.com:8080")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 1034 section 3.1 (absolute name, trailing dot)",
        technique: "mixed case, trailing dot and a port",
        target: b"/public",
        headers: &[("Host", b"Admin.Example.Com.:443")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 3986 section 3.2.3 (empty port)",
        technique: "host with an empty port",
        target: b"/public",
        headers: &[("Host", b"admin.example.com:")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9110 section 5.5 (optional whitespace)",
        technique: "host padded with spaces",
        target: b"/public",
        headers: &[("Host", b"  admin.example.com  ")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "trailing-dot normalisation differences",
        technique: "two trailing dots (a backend may drop them)",
        target: b"/public",
        headers: &[("Host", b"admin.example.com..")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "empty DNS labels",
        technique: "leading dot",
        target: b"/public",
        headers: &[("Host", b".admin.example.com")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Host of Troubles (Chen et al., CCS 2016)",
        technique: "two Host lines, the forbidden one second",
        target: b"/public",
        headers: &[("Host", b"localhost"), ("Host", b"admin.example.com")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Host of Troubles (Chen et al., CCS 2016)",
        technique: "the same Host line twice",
        target: b"/public",
        headers: &[
            ("Host", b"admin.example.com"),
            ("Host", b"admin.example.com"),
        ],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Host of Troubles (Chen et al., CCS 2016)",
        technique: "two hosts joined with a comma",
        target: b"/public",
        headers: &[("Host", b"localhost, admin.example.com")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "PortSwigger HTTP Host header attacks",
        technique: "userinfo in the Host header",
        target: b"/public",
        headers: &[("Host", b"admin.example.com@localhost")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "PortSwigger HTTP Host header attacks",
        technique: "port followed by userinfo syntax",
        target: b"/public",
        headers: &[("Host", b"localhost:80@admin.example.com")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "PortSwigger HTTP Host header attacks",
        technique: "two ports",
        target: b"/public",
        headers: &[("Host", b"admin.example.com:80:80")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "PortSwigger HTTP Host header attacks",
        technique: "percent-encoded dot in the host",
        target: b"/public",
        headers: &[("Host", b"admin%2eexample.com")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2019-9900 (NUL in header values)",
        technique: "NUL after the host name",
        target: b"/public",
        headers: &[("Host", b"admin.example.com\x00")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Django USE_X_FORWARDED_HOST / Symfony trusted headers",
        technique: "forbidden host in X-Forwarded-Host",
        target: b"/public",
        headers: &[("X-Forwarded-Host", b"admin.example.com")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Django USE_X_FORWARDED_HOST / Symfony trusted headers",
        technique: "forbidden host second in an X-Forwarded-Host list",
        target: b"/public",
        headers: &[("X-Forwarded-Host", b"localhost, admin.example.com")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Django USE_X_FORWARDED_HOST / Symfony trusted headers",
        technique: "X-Forwarded-Host with upper case and a port",
        target: b"/public",
        headers: &[("X-Forwarded-Host", b"ADMIN.example.com:443")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Django USE_X_FORWARDED_HOST / Symfony trusted headers",
        technique: "X-Forwarded-Host from an untrusted peer",
        target: b"/public",
        headers: &[("X-Forwarded-Host", b"admin.example.com")],
        from: Some("127.0.0.2"),
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "trailing-dot normalisation differences",
        technique: "X-Forwarded-Host with two trailing dots",
        target: b"/public",
        headers: &[("X-Forwarded-Host", b"admin.example.com..")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Host of Troubles (Chen et al., CCS 2016)",
        technique: "more than three distinct host readings",
        target: b"/public",
        headers: &[("X-Forwarded-Host", b"a.example, b.example, c.example")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "RFC 7239 section 5.3 (Forwarded `host=`)",
        technique: "forbidden host in Forwarded",
        target: b"/public",
        headers: &[("Forwarded", b"host=admin.example.com")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 7239 section 5.3 (Forwarded `host=`)",
        technique: "quoted host among other Forwarded parameters",
        target: b"/public",
        headers: &[(
            "Forwarded",
            b"for=198.51.100.7;host=\"admin.example.com\";proto=https",
        )],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9112 section 3.2.2 (absolute-form authority)",
        technique: "forbidden host as the absolute-form authority",
        target: b"http://admin.example.com/public",
        headers: &[("Host", b"admin.example.com")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "PortSwigger HTTP Host header attacks (absolute URL)",
        technique: "absolute-form authority disagrees with Host",
        target: b"http://admin.example.com/public",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "PortSwigger HTTP Host header attacks (absolute URL)",
        technique: "Host disagrees with the absolute-form authority",
        target: b"http://localhost/public",
        headers: &[("Host", b"admin.example.com")],
        expect: Refused,
        ..DEFAULTS
    },
    // ---------------------------------------------------------------------------------------
    // Header and key tricks
    // ---------------------------------------------------------------------------------------
    Case {
        source: "control: API key in the key header",
        technique: "the admin client's key",
        target: b"/admin/x",
        headers: &[("X-Api-Key", b"admin-key")],
        expect: Allowed,
        ..DEFAULTS
    },
    Case {
        source: "control: API key as a bearer token",
        technique: "the admin client's key in Authorization",
        target: b"/admin/x",
        headers: &[("Authorization", b"Bearer admin-key")],
        expect: Allowed,
        ..DEFAULTS
    },
    Case {
        source: "control: RFC 9110 section 11.1 (schemes are case-insensitive)",
        technique: "mixed-case `bEaReR` scheme",
        target: b"/admin/x",
        headers: &[("Authorization", b"bEaReR admin-key")],
        expect: Allowed,
        ..DEFAULTS
    },
    Case {
        source: "case-folded credential comparison",
        technique: "the key in upper case",
        target: b"/admin/x",
        headers: &[("X-Api-Key", b"ADMIN-KEY")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2021-32777 (one of several values reached ext_authz)",
        technique: "valid key header plus another bearer token",
        target: b"/admin/x",
        headers: &[
            ("X-Api-Key", b"admin-key"),
            ("Authorization", b"Bearer other"),
        ],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2021-32777 (one of several values reached ext_authz)",
        technique: "wrong key header plus the valid bearer token",
        target: b"/admin/x",
        headers: &[
            ("X-Api-Key", b"other"),
            ("Authorization", b"Bearer admin-key"),
        ],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2021-32777 (one of several values reached ext_authz)",
        technique: "the key header twice with different keys",
        target: b"/admin/x",
        headers: &[("X-Api-Key", b"admin-key"), ("X-Api-Key", b"wrong")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2021-32777 (one of several values reached ext_authz)",
        technique: "two Authorization lines with different tokens",
        target: b"/admin/x",
        headers: &[
            ("Authorization", b"Bearer wrong"),
            ("Authorization", b"Bearer admin-key"),
        ],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "RFC 9110 section 5.3 (comma-joined field lines)",
        technique: "wrong key and valid key joined with a comma",
        target: b"/admin/x",
        headers: &[("X-Api-Key", b"wrong, admin-key")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "RFC 9110 section 5.3 (comma-joined field lines)",
        technique: "two bearer credentials in one Authorization line",
        target: b"/admin/x",
        headers: &[("Authorization", b"Bearer wrong, Bearer admin-key")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "RFC 7617 Basic vs RFC 6750 Bearer",
        technique: "the key as Basic credentials",
        target: b"/admin/x",
        headers: &[("Authorization", b"Basic YWRtaW4ta2V5")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 6750 section 2.1 (Bearer syntax)",
        technique: "the scheme without a token",
        target: b"/admin/x",
        headers: &[("Authorization", b"Bearer")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 6750 section 2.1 (Bearer syntax)",
        technique: "the scheme glued to the token",
        target: b"/admin/x",
        headers: &[("Authorization", b"Beareradmin-key")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 6750 section 2.3 (URI query parameter)",
        technique: "the key in the query string, which the policy does not read",
        target: b"/admin/x?api_key=admin-key",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "credentials in an unexpected place",
        technique: "the key in a cookie",
        target: b"/admin/x",
        headers: &[("Cookie", b"x-api-key=admin-key")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9110 section 11.7.2 (Proxy-Authorization)",
        technique: "the key in Proxy-Authorization",
        target: b"/admin/x",
        headers: &[("Proxy-Authorization", b"Bearer admin-key")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "client-asserted identity headers",
        technique: "a role claimed in a request header",
        target: b"/admin/x",
        headers: &[("X-Role", b"admin")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "control: rule no-debug-header",
        technique: "the debug header",
        target: b"/public",
        headers: &[("X-Debug", b"1")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9110 section 5.5 (empty field values)",
        technique: "lower-case name, empty value",
        target: b"/public",
        headers: &[("x-debug", b"")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "header presence vs value",
        technique: "upper-case name, value `false`",
        target: b"/public",
        headers: &[("X-DEBUG", b"false")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2020-25017 (repeated header lines)",
        technique: "the debug header twice",
        target: b"/public",
        headers: &[("X-Debug", b"0"), ("X-Debug", b"1")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9110 section 5.5 (optional whitespace)",
        technique: "whitespace-only value",
        target: b"/public",
        headers: &[("X-Debug", b"\t")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2019-9900 (bytes a matcher cannot read)",
        technique: "obs-text byte that is not UTF-8",
        target: b"/public",
        headers: &[("X-Debug", b"\xff")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    // ---------------------------------------------------------------------------------------
    // User-Agent evasions
    // ---------------------------------------------------------------------------------------
    Case {
        source: "control: rule no-scanners",
        technique: "sqlmap's own User-Agent",
        target: b"/public",
        headers: &[("User-Agent", b"sqlmap/1.7.2#stable (https://sqlmap.org)")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "OWASP CRS scanner detection (case variants)",
        technique: "mixed-case scanner name",
        target: b"/public",
        headers: &[("User-Agent", b"SQLMap/1.0")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "OWASP CRS scanner detection (case variants)",
        technique: "upper-case scanner name inside a browser string",
        target: b"/public",
        headers: &[("User-Agent", b"Mozilla/5.0 (compatible; NIKTO/2.5.0)")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9110 section 5.1 (field names are case-insensitive)",
        technique: "lower-case header name",
        target: b"/public",
        headers: &[("user-agent", b"sqlmap/1.7")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2020-25017 (only the first header line considered)",
        technique: "a browser User-Agent first, the scanner second",
        target: b"/public",
        headers: &[
            ("User-Agent", b"Mozilla/5.0"),
            ("User-Agent", b"sqlmap/1.7"),
        ],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2020-25017 (only the first header line considered)",
        technique: "the scanner first, a browser User-Agent second",
        target: b"/public",
        headers: &[
            ("User-Agent", b"sqlmap/1.7"),
            ("User-Agent", b"Mozilla/5.0"),
        ],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9110 section 5.5 (optional whitespace)",
        technique: "scanner name padded with spaces",
        target: b"/public",
        headers: &[("User-Agent", b"   sqlmap   ")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9110 section 5.3 (comma-joined field lines)",
        technique: "browser and scanner joined with a comma",
        target: b"/public",
        headers: &[("User-Agent", b"Mozilla/5.0, sqlmap/1.7")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2019-9900 (bytes a matcher cannot read)",
        technique: "obs-text byte that is not UTF-8 before the scanner name",
        target: b"/public",
        headers: &[("User-Agent", b"Mozilla/5.0 \xff sqlmap/1.7")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2019-9900 (NUL in header values)",
        technique: "NUL inside the scanner name",
        target: b"/public",
        headers: &[("User-Agent", b"sql\x00map/1.7")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9112 section 5.2 (obs-fold)",
        technique: "scanner name on a folded continuation line",
        target: b"/public",
        headers: &[("User-Agent", b"Mozilla/5.0\r\n sqlmap/1.7")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    // ---------------------------------------------------------------------------------------
    // Method tricks
    // ---------------------------------------------------------------------------------------
    Case {
        source: "Laravel / Symfony `_method` parameter (decoded by the backend)",
        technique: "percent-encoded method override value",
        method: "POST",
        target: b"/public?_method=DEL%45TE",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Laravel / Symfony `_method` parameter (decoded by the backend)",
        technique: "percent-encoded override key",
        method: "POST",
        target: b"/public?%5Fmethod=DELETE",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Laravel / Rails `_method` parameter",
        technique: "method override in the query",
        target: b"/public?_method=DELETE",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Laravel / Rails `_method` parameter",
        technique: "lower-case method override in the query, after another parameter",
        method: "POST",
        target: b"/public?x=1&_method=delete",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "control: rule no-delete",
        technique: "DELETE",
        method: "DELETE",
        target: b"/public",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "HTTP verb tampering (Istio rejects non-upper-case methods)",
        technique: "lower-case method",
        method: "delete",
        target: b"/public",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "HTTP verb tampering (Istio rejects non-upper-case methods)",
        technique: "mixed-case method",
        method: "DeLeTe",
        target: b"/public",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "X-HTTP-Method-Override (Express method-override, Google APIs)",
        technique: "GET overridden to DELETE",
        target: b"/public",
        headers: &[("X-HTTP-Method-Override", b"DELETE")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "X-HTTP-Method-Override (Express method-override, Google APIs)",
        technique: "POST overridden to lower-case delete",
        method: "POST",
        target: b"/public",
        headers: &[("X-HTTP-Method-Override", b"delete")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "X-HTTP-Method (Microsoft OData)",
        technique: "GET overridden to DELETE with X-HTTP-Method",
        target: b"/public",
        headers: &[("X-HTTP-Method", b"DELETE")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "X-Method-Override (method-override middlewares)",
        technique: "GET overridden to DELETE with X-Method-Override",
        target: b"/public",
        headers: &[("X-Method-Override", b"DELETE")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "X-HTTP-Method-Override (Express method-override, Google APIs)",
        technique: "lower-case header name, padded value",
        target: b"/public",
        headers: &[("x-http-method-override", b"  DELETE  ")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Envoy CVE-2020-25017 (repeated header lines)",
        technique: "two override lines, DELETE second",
        target: b"/public",
        headers: &[
            ("X-HTTP-Method-Override", b"PUT"),
            ("X-HTTP-Method-Override", b"DELETE"),
        ],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "X-HTTP-Method-Override (Express method-override, Google APIs)",
        technique: "DELETE disguised with an override to GET",
        method: "DELETE",
        target: b"/public",
        headers: &[("X-HTTP-Method-Override", b"GET")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9110 section 5.3 (comma-joined field lines)",
        technique: "two methods joined in one override",
        target: b"/public",
        headers: &[("X-HTTP-Method-Override", b"DELETE, GET")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "X-HTTP-Method-Override (Express method-override, Google APIs)",
        technique: "empty override",
        target: b"/public",
        headers: &[("X-HTTP-Method-Override", b"")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "X-HTTP-Method-Override (Express method-override, Google APIs)",
        technique: "more than three overrides",
        target: b"/public",
        headers: &[
            ("X-HTTP-Method-Override", b"PUT"),
            ("X-HTTP-Method-Override", b"PATCH"),
            ("X-HTTP-Method-Override", b"POST"),
            ("X-HTTP-Method-Override", b"DELETE"),
        ],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "JBoss CVE-2010-0738 (HEAD passed GET/POST-only constraints)",
        technique: "HEAD on the protected path",
        method: "HEAD",
        target: b"/admin/x",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "HTTP verb tampering (Aspect Security, 2008)",
        technique: "an invented method on the protected path",
        method: "FOO",
        target: b"/admin/x",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "HTTP verb tampering (Aspect Security, 2008)",
        technique: "OPTIONS on the protected path",
        method: "OPTIONS",
        target: b"/admin/x",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "HTTP verb tampering (WebDAV methods)",
        technique: "PROPFIND on the internal path",
        method: "PROPFIND",
        target: b"/internal/x",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    // ---------------------------------------------------------------------------------------
    // `Forwarded` and `X-Forwarded-Host` read strictly (host claims)
    // ---------------------------------------------------------------------------------------
    Case {
        source: "control: RFC 7239 host claim",
        technique: "the forbidden host in a well-formed `Forwarded: host=`",
        headers: &[("Forwarded", b"for=198.51.100.7;host=admin.example.com")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "control: RFC 7239 quoted host with a port",
        technique: "quoted, upper-case host claim with a port",
        headers: &[("Forwarded", b"host=\"ADMIN.example.com:443\"")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "axum-extra `Host` / actix `ConnectionInfo` trim around `=`",
        technique: "white space before `=` in a host claim",
        headers: &[("Forwarded", b"host =admin.example.com")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "axum-extra `Host` / actix `ConnectionInfo` trim around `;`",
        technique: "white space after `;` and around `=`",
        headers: &[("Forwarded", b"for=1.2.3.4; host = admin.example.com")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "RFC 7239 section 4 (a parameter once per element)",
        technique: "a repeated host parameter: readers take the first or the last",
        headers: &[("Forwarded", b"host=localhost;host=admin.example.com")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "RFC 7239 section 4 (quoted-string escapes)",
        technique: "a backslash escape inside a quoted host",
        headers: &[("Forwarded", b"host=\"admin.example.com\\\"\"")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "axum-extra's Host extractor (differential test)",
        technique: "a tab inside a quoted host: trimmed by one reader, kept by another",
        headers: &[("Forwarded", b"host=\"admin.example.com\t\"")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "RFC 7239 quoted-string white space",
        technique: "a space before the quoted host",
        headers: &[("Forwarded", b"host=\" admin.example.com\"")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "RFC 7239 host claim in a later element",
        technique: "the forbidden host in the second element",
        headers: &[("Forwarded", b"host=localhost, host=admin.example.com")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "X-Forwarded-Host list oddities",
        technique: "an empty element before the forbidden host",
        headers: &[("X-Forwarded-Host", b", admin.example.com")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "X-Forwarded-Host list oddities",
        technique: "a tab before the forbidden host in a list",
        headers: &[("X-Forwarded-Host", b"localhost,\tadmin.example.com")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "X-Forwarded-Host list oddities",
        technique: "the forbidden host with a port",
        headers: &[("X-Forwarded-Host", b"admin.example.com:8443")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    // ---------------------------------------------------------------------------------------
    // Underscore twins of headers (CGI/WSGI/PHP read `X_Api_Key` as `X-Api-Key`)
    // ---------------------------------------------------------------------------------------
    Case {
        source: "Django CVE-2015-0219 (header-name twins)",
        technique: "an underscore twin of the method-override header",
        headers: &[("X_HTTP_Method_Override", b"DELETE")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Django CVE-2015-0219 (header-name twins)",
        technique: "an underscore twin of the URL-override header",
        headers: &[("X_Original_URL", b"/admin/x")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Django CVE-2015-0219 (header-name twins)",
        technique: "an underscore twin of X-Forwarded-Host",
        headers: &[("X_Forwarded_Host", b"admin.example.com")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Django CVE-2015-0219 (header-name twins)",
        technique: "a second, different key in the key header's twin",
        target: b"/admin/x",
        headers: &[("X-Api-Key", b"admin-key"), ("X_Api_Key", b"other-key")],
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Django CVE-2015-0219 (header-name twins)",
        technique: "a scanner User-Agent in the twin `User_Agent`",
        headers: &[("User-Agent", b"curl/8"), ("User_Agent", b"sqlmap/1.7")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Django CVE-2015-0219 (header-name twins)",
        technique: "a forbidden header under its twin name",
        headers: &[("X_Debug", b"1")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Django CVE-2015-0219 (header-name twins)",
        technique: "a forwarding-header twin beside the real one",
        target: b"/internal/x",
        headers: &[
            ("X-Forwarded-For", b"10.1.2.3"),
            ("X_Forwarded_For", b"10.1.2.4"),
        ],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    // ---------------------------------------------------------------------------------------
    // Method overrides in the query
    // ---------------------------------------------------------------------------------------
    Case {
        source: "PHP parameter-name mangling (`.` becomes `_`)",
        technique: "`.method=DELETE`",
        target: b"/public?.method=DELETE",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "CVE-2021-23336 (`;` as a query separator)",
        technique: "`;_method=DELETE` after another parameter",
        target: b"/public?x=1;_method=DELETE",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "case-insensitive parameter names",
        technique: "`_METHOD=delete`",
        target: b"/public?_METHOD=delete",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "PHP arrays (`_method[]`)",
        technique: "`_method[]=DELETE`",
        target: b"/public?_method[]=DELETE",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "form decoding (`+` is a space; PHP drops leading spaces)",
        technique: "`+_method=DELETE` and an encoded dot",
        target: b"/public?+_method=GET&%2Emethod=DELETE",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "fuzzing (a control byte in the query)",
        technique: "a raw control byte and a bare `%` in the query",
        method: "DELETE",
        target: b"/?=kk%\x105+*/[w[",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "control: an unrelated parameter with a bare `%`",
        technique: "`?discount=50%` is not an override",
        target: b"/public?discount=50%",
        expect: Allowed,
        ..DEFAULTS
    },
    // ---------------------------------------------------------------------------------------
    // Unicode spaces at segment edges (trimmed by .NET, Python and others)
    // ---------------------------------------------------------------------------------------
    Case {
        source: "Unicode white space trimmed by backends",
        technique: "a no-break space after the protected segment",
        target: b"/admin%C2%A0/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Unicode white space trimmed by backends",
        technique: "an ideographic space after the protected segment",
        target: b"/admin%E3%80%80/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "invisible format characters dropped by normalisers",
        technique: "a zero-width space before the protected segment",
        target: b"/%E2%80%8Badmin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "invisible format characters dropped by normalisers",
        technique: "a byte-order mark at the end of the last segment",
        target: b"/admin%EF%BB%BF",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "control: a non-ASCII letter inside a segment",
        technique: "`/caf%C3%A9` is an ordinary path",
        target: b"/caf%C3%A9",
        expect: Allowed,
        ..DEFAULTS
    },
    // ---------------------------------------------------------------------------------------
    // Globs per character and Unicode case folding
    // ---------------------------------------------------------------------------------------
    Case {
        source: "security review: globs matched bytes (a byte regex)",
        technique: "a two-byte character for `?`",
        target: b"/g/%C3%A9",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "security review: globs matched bytes (a byte regex)",
        technique: "a three-byte character for `?`",
        target: b"/g/%E2%82%AC",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "security review: globs matched bytes (a byte regex)",
        technique: "a four-byte character for `?`",
        target: b"/g/%F0%9F%98%80",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "security review: globs matched bytes (a byte regex)",
        technique: "a raw two-byte character for `?`",
        target: b"/g/\xc3\xa9",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "control: rule one-char-names",
        technique: "two characters are not one",
        target: b"/g/ab",
        expect: Allowed,
        ..DEFAULTS
    },
    Case {
        source: "security review: globs matched bytes (a byte regex)",
        technique: "a two-byte character of the class `[\u{e4}b]`",
        target: b"/g/%C3%A4/x",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "control: rule one-char-names",
        technique: "paths are case-sensitive: `\u{c4}` is not in `[\u{e4}b]`",
        target: b"/g/%C3%84/x",
        expect: Allowed,
        ..DEFAULTS
    },
    Case {
        source: "security review: globs matched bytes (a byte regex)",
        technique: "a two-byte character for the negated class `[!a]`",
        target: b"/g/%C3%A9x",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "security review: globs matched bytes (a byte regex)",
        technique: "a four-byte character for the negated class `[!a]`",
        target: b"/g/%F0%9F%98%80x",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "control: rule one-char-names",
        technique: "`a` is not in `[!a]`",
        target: b"/g/ax",
        expect: Allowed,
        ..DEFAULTS
    },
    Case {
        source: "security review: case folding was ASCII only",
        technique: "Latin upper case outside ASCII",
        target: b"/public",
        headers: &[("User-Agent", b"Mozilla/5.0 (B\xc3\x84DBOT/2.0)")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "security review: case folding was ASCII only",
        technique: "Cyrillic upper case",
        target: b"/public",
        headers: &[(
            "User-Agent",
            b"\xd0\x97\xd0\x9b\xd0\x9e\xd0\x99 \xd0\x91\xd0\x9e\xd0\xa2",
        )],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "security review: case folding was ASCII only",
        technique: "Greek upper case with an accent",
        target: b"/public",
        headers: &[("User-Agent", b"\xce\x9a\xce\x91\xce\x9a\xce\x8c/1")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "security review: case folding was ASCII only",
        technique: "LONG S (U+017F) for `s`",
        target: b"/public",
        headers: &[("User-Agent", b"\xc5\xbfqlmap/1.7")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "security review: case folding was ASCII only",
        technique: "KELVIN SIGN (U+212A) for `k`",
        target: b"/public",
        headers: &[("User-Agent", b"Mozilla/5.0 (NI\xe2\x84\xaaTO)")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "control: rule unicode-scanners",
        technique: "a Latin `bot` is not the Cyrillic `\u{431}\u{43e}\u{442}`",
        target: b"/public",
        headers: &[("User-Agent", b"Mozilla/5.0 (bot)")],
        expect: Allowed,
        ..DEFAULTS
    },
    // ---------------------------------------------------------------------------------------
    // Second review: trailing slashes, NFKC, NUL-ended names, underscore names in the policy
    // ---------------------------------------------------------------------------------------
    Case {
        source: "Express non-strict routing, Spring MVC trailing-slash match",
        technique: "a trailing slash after a path named exactly",
        target: b"/export/",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Express non-strict routing, Spring MVC trailing-slash match",
        technique: "a trailing slash after a one-segment wildcard",
        target: b"/report/7/",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "NFKC normalisation (Python unicodedata, Java Normalizer)",
        technique: "a fullwidth letter in the protected segment",
        target: b"/%EF%BD%81dmin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "NFKC normalisation (Python unicodedata, Java Normalizer)",
        technique: "fullwidth dots and slash",
        target: b"/public/%EF%BC%8E%EF%BC%8E%EF%BC%8Fadmin/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "PHP `strlen` on parameter names",
        technique: "`_method%00=DELETE`",
        target: b"/public?_method%00=DELETE",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "a policy header name spelt with `_`",
        technique: "the dashed spelling of a header the policy names `x_trace`",
        headers: &[("X-Trace", b"1")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 9112 section 3.2.4 (asterisk form is for OPTIONS)",
        technique: "`DELETE *` reaches a framework's fallback handler",
        method: "DELETE",
        target: b"*",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "control: RFC 9112 section 3.2.4",
        technique: "`OPTIONS *`",
        method: "OPTIONS",
        target: b"*",
        expect: Allowed,
        ..DEFAULTS
    },
];

/// The client address read from `Forwarded` (RFC 7239) behind the trusted proxy 127.0.0.1.
const FORWARDED_POLICY: &str = r#"
[policy]
default = "forbid"

[client_ip]
source = "forwarded"
trusted_proxies = ["127.0.0.1"]

[[rules]]
name = "blocked-net"
effect = "forbid"
when = { ip = ["192.0.2.0/24", "2001:db8:bad::/48"] }

[[rules]]
name = "internal-only"
effect = "forbid"
when = { path = ["/internal/**"] }
unless = { ip = ["10.0.0.0/8"] }

[[rules]]
name = "everyone"
effect = "allow"
when = { method = ["GET"] }
"#;

const FORWARDED_CASES: &[Case] = &[
    Case {
        source: "control: RFC 7239",
        technique: "an ordinary client",
        headers: &[("Forwarded", b"for=198.51.100.7")],
        expect: Allowed,
        ..DEFAULTS
    },
    Case {
        source: "control: RFC 7239",
        technique: "a blocked client",
        headers: &[("Forwarded", b"for=192.0.2.9;proto=https")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "control: RFC 7239 quoted IPv6 with a port",
        technique: "a blocked IPv6 client",
        headers: &[("Forwarded", b"For=\"[2001:db8:bad::1]:4711\"")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "control: RFC 7239",
        technique: "an internal client reaches an internal path",
        target: b"/internal/x",
        headers: &[("Forwarded", b"for=10.1.2.3")],
        expect: Allowed,
        ..DEFAULTS
    },
    Case {
        source: "RFC 7239 section 4 (a parameter once per element)",
        technique: "a repeated `for=`: the first is internal, the last blocked",
        target: b"/internal/x",
        headers: &[("Forwarded", b"for=10.0.0.5;for=198.51.100.9")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 7239 section 6 (IPv6 must be quoted and bracketed)",
        technique: "an unquoted IPv6 address",
        headers: &[("Forwarded", b"for=2001:db8:bad::1")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 7239 section 6",
        technique: "a quoted IPv6 address without brackets",
        headers: &[("Forwarded", b"for=\"2001:db8::1\"")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "actix `ConnectionInfo` trims around `=`",
        technique: "white space around `=`",
        target: b"/internal/x",
        headers: &[("Forwarded", b"for = 10.1.2.3")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 7239 section 6 (ports must be quoted)",
        technique: "an unquoted address with a port",
        target: b"/internal/x",
        headers: &[("Forwarded", b"for=10.1.2.3:80")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "RFC 7239 element without `for=`",
        technique: "the last element names no client",
        target: b"/internal/x",
        headers: &[("Forwarded", b"for=10.1.2.3, proto=https")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
];

/// The client address read from `X-Real-IP` behind the trusted proxy 127.0.0.1.
const REAL_IP_POLICY: &str = r#"
[policy]
default = "forbid"

[client_ip]
source = "x-real-ip"
trusted_proxies = ["127.0.0.1"]

[[rules]]
name = "blocked-net"
effect = "forbid"
when = { ip = ["192.0.2.0/24"] }

[[rules]]
name = "internal-only"
effect = "forbid"
when = { path = ["/internal/**"] }
unless = { ip = ["10.0.0.0/8"] }

[[rules]]
name = "everyone"
effect = "allow"
when = { method = ["GET"] }
"#;

const REAL_IP_CASES: &[Case] = &[
    Case {
        source: "control: X-Real-IP",
        technique: "an internal client reaches an internal path",
        target: b"/internal/x",
        headers: &[("X-Real-IP", b"10.1.2.3")],
        expect: Allowed,
        ..DEFAULTS
    },
    Case {
        source: "X-Real-IP oddities",
        technique: "a blocked client with a port and tabs",
        headers: &[("X-Real-IP", b"\t192.0.2.9:8080\t")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "X-Real-IP oddities",
        technique: "an empty value",
        target: b"/internal/x",
        headers: &[("X-Real-IP", b"")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "X-Real-IP oddities",
        technique: "a list where one address is expected",
        target: b"/internal/x",
        headers: &[("X-Real-IP", b"10.1.2.3, 198.51.100.7")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Django CVE-2015-0219 (header-name twins)",
        technique: "an underscore twin beside the real header",
        target: b"/internal/x",
        headers: &[("X-Real-IP", b"10.1.2.3"), ("X_Real_IP", b"198.51.100.7")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Django CVE-2015-0219 (header-name twins)",
        technique: "only the underscore twin",
        target: b"/internal/x",
        headers: &[("X_Real_IP", b"10.1.2.3")],
        expect: Forbidden(403),
        ..DEFAULTS
    },
];

/// Case-insensitive paths, as on a backend that routes case-insensitively.
const CASE_INSENSITIVE_POLICY: &str = r#"
[policy]
default = "forbid"

[paths]
case_sensitive = false

[[rules]]
name = "no-admin"
effect = "forbid"
when = { path = ["/admin/**", "/\u00e4dmin/**"] }

[[rules]]
name = "everyone"
effect = "allow"
when = { method = ["GET"] }
"#;

const CASE_INSENSITIVE_CASES: &[Case] = &[
    Case {
        source: "control: case-insensitive paths",
        technique: "upper-case spelling of the protected path",
        target: b"/ADMIN/x",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "Java `equalsIgnoreCase` (dotless i)",
        technique: "`/adm\u{131}n/x`: `\u{131}` upper-cases to `I`",
        target: b"/adm%C4%B1n/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Java `equalsIgnoreCase` (dotted capital I)",
        technique: "`/\u{130}..`: `\u{130}` lower-cases to `i`",
        target: b"/adm%C4%B0n/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Java `equalsIgnoreCase` (Kelvin sign, long s)",
        technique: "`\u{212a}` and `\u{17f}` fold to ASCII letters",
        target: b"/admin/%E2%84%AAey%C5%BF",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "Win32 path normalisation (trailing dots)",
        technique: "a trailing dot on the protected segment",
        target: b"/admin./x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "NTFS alternate data streams",
        technique: "`::$INDEX_ALLOCATION` on the protected directory",
        target: b"/admin::$INDEX_ALLOCATION/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "IIS tilde enumeration (8.3 short names)",
        technique: "a short name for the protected directory",
        target: b"/ADMIN~1/x",
        expect: Refused,
        ..DEFAULTS
    },
    Case {
        source: "security review: case folding was ASCII-only",
        technique: "`/\u{c4}DMIN/x` against `/\u{e4}dmin/**`",
        target: b"/%C3%84DMIN/x",
        expect: Forbidden(403),
        ..DEFAULTS
    },
    Case {
        source: "control: other non-ASCII letters",
        technique: "`/caf\u{e9}` is an ordinary path",
        target: b"/caf%C3%A9",
        expect: Allowed,
        ..DEFAULTS
    },
];

/// Every suite: a policy and the cases tried against it.
const SUITES: &[(&str, &str, &[Case])] = &[
    ("main", POLICY, CASES),
    ("forwarded", FORWARDED_POLICY, FORWARDED_CASES),
    ("x-real-ip", REAL_IP_POLICY, REAL_IP_CASES),
    (
        "case-insensitive",
        CASE_INSENSITIVE_POLICY,
        CASE_INSENSITIVE_CASES,
    ),
];

/// A suite's policy text with the digest of `admin-key` in place, compiled.
fn compile_policy(policy: &str) -> Engine {
    Policy::from_toml(&policy.replace("{digest}", &hash_key(b"admin-key")))
        .expect("the policy parses")
        .compile()
        .expect("the policy compiles")
}

fn has_host(case: &Case) -> bool {
    case.headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
}

/// The case as a request for the engine, with `target` (the case's, or a part of it).
fn request_for(case: &Case, target: &[u8]) -> Request {
    let peer: IpAddr = case
        .from
        .unwrap_or("127.0.0.1")
        .parse()
        .expect("a peer address");
    let mut request = Request::new(case.method, target.to_vec()).peer(peer);
    if !has_host(case) {
        request = request.header("host", b"localhost".to_vec());
    }
    for (name, value) in case.headers {
        request = request.header(*name, value.to_vec());
    }
    request
}

/// The case as raw HTTP/1.1 bytes; the target is copied byte for byte.
fn raw_request(case: &Case) -> Vec<u8> {
    let mut raw = Vec::new();
    raw.extend_from_slice(case.method.as_bytes());
    raw.push(b' ');
    raw.extend_from_slice(case.target);
    raw.extend_from_slice(b" HTTP/1.1\r\n");
    if !has_host(case) {
        raw.extend_from_slice(b"Host: localhost\r\n");
    }
    for (name, value) in case.headers {
        raw.extend_from_slice(name.as_bytes());
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(value);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"Connection: close\r\n\r\n");
    raw
}

fn expect_of(verdict: &Verdict) -> Expect {
    if verdict.is_allowed() {
        Allowed
    } else if verdict.status() == 400 {
        Refused
    } else {
        Forbidden(verdict.status())
    }
}

fn shown(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).escape_debug().to_string()
}

fn describe(case: &Case) -> String {
    let headers: Vec<String> = case
        .headers
        .iter()
        .map(|(name, value)| format!("{name}: {}", shown(value)))
        .collect();
    format!(
        "[{}] {}\n  {} {} {:?} from {}",
        case.source,
        case.technique,
        case.method,
        shown(case.target),
        headers,
        case.from.unwrap_or("127.0.0.1"),
    )
}

#[test]
fn every_case_through_the_engine() {
    let mut mismatches = Vec::new();
    let mut total = 0;
    for (suite, policy, cases) in SUITES {
        let engine = compile_policy(policy);
        for case in *cases {
            total += 1;
            let request = request_for(case, case.target);
            let got = expect_of(&engine.decide(&request));
            if got != case.expect {
                mismatches.push(format!(
                    "({suite}) {}\n  expected {:?}, got {got:?}\n  {}",
                    describe(case),
                    case.expect,
                    engine.explain(&request),
                ));
            }
        }
    }
    assert!(total >= 200, "only {total} cases");
    assert!(
        mismatches.is_empty(),
        "{} of {total} cases disagree with the engine:\n\n{}",
        mismatches.len(),
        mismatches.join("\n\n")
    );
}

/// What the gate behind a framework should answer. The frameworks' URI parsers (the `http`
/// crate) drop a fragment before any middleware runs, so behind them the gate decides on the
/// target without it; the engine alone refuses the raw `#`.
fn adapter_expectation(engine: &Engine, case: &Case) -> Expect {
    match case.target.iter().position(|&b| b == b'#') {
        Some(at) => {
            let before = case.target.get(..at).unwrap_or_default();
            expect_of(&engine.decide(&request_for(case, before)))
        }
        None => case.expect,
    }
}

/// Whether a framework's answer keeps the case's expectation. A framework's own HTTP parser
/// may refuse a malformed request before the middleware sees it (400), or drop the connection;
/// both are refusals, and acceptable for any case that must not be allowed.
fn adapter_agrees(expect: Expect, got: &std::io::Result<support::Response>) -> bool {
    use std::io::ErrorKind;
    match got {
        Ok(response) => match expect {
            Allowed => matches!(response.status, 200 | 404),
            // Status 0: the server closed the connection without answering.
            Forbidden(status) => response.status == status || matches!(response.status, 400 | 0),
            Refused => matches!(response.status, 400 | 0),
        },
        Err(e) => {
            expect != Allowed
                && matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::BrokenPipe
                        | ErrorKind::UnexpectedEof
                )
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_through_both_adapters() {
    let mut mismatches = Vec::new();
    for ((suite, policy, cases), fw) in SUITES
        .iter()
        .flat_map(|s| support::FRAMEWORKS.iter().map(move |fw| (s, fw)))
    {
        let engine = compile_policy(policy);
        let server = support::start(*fw, Gate::new(compile_policy(policy)), "127.0.0.1:0").await;
        for case in *cases {
            let expect = adapter_expectation(&engine, case);
            if case.expect != Allowed && expect == Allowed {
                mismatches.push(format!(
                    "({suite}) {fw:?} {}\n  the framework's reading of the target is allowed",
                    describe(case)
                ));
                continue;
            }
            let from = case.from.map(|f| f.parse().expect("a peer address"));
            let got = support::send_raw(server.addr, from, &raw_request(case)).await;
            if !adapter_agrees(expect, &got) {
                let answer = match &got {
                    Ok(response) => format!("{} {:?}", response.status, response.body),
                    Err(e) => format!("I/O error: {e}"),
                };
                mismatches.push(format!(
                    "({suite}) {fw:?} {}\n  expected {expect:?}, got {answer}",
                    describe(case)
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} answers disagree:\n\n{}",
        mismatches.len(),
        mismatches.join("\n\n")
    );
}
