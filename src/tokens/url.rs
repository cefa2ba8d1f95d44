//! Which key set URLs may be fetched: `https`, or plain `http` to this machine only.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Whether `url` may be fetched for a key set: any `https` URL, or an `http` URL whose
/// authority is exactly `localhost` or a loopback address, with an optional port.
///
/// The authority is read whole and strictly (no user info, no other characters), so that
/// the HTTP client cannot read a different host out of it: `http://localhost@evil.example/`
/// goes to `evil.example`, and `http://127.0.0.1.evil.example/` is a name like any other.
pub(crate) fn key_set_url_allowed(url: &str) -> bool {
    if url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    {
        return true;
    }
    let Some(rest) = url
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("http://"))
        .and_then(|_| url.get(7..))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        // A port, unless the colon is inside an IPv6 literal.
        Some((host, port)) if !port.contains(']') => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            host
        }
        _ => authority,
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok_and(|a| a.is_loopback());
    }
    host.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::key_set_url_allowed;

    #[test]
    fn only_https_or_loopback_http() {
        for yes in [
            "https://id.example.com/jwks.json",
            "HTTPS://id.example.com/",
            "http://127.0.0.1/jwks.json",
            "http://127.0.0.1:8080/jwks.json",
            "http://127.9.0.1:1",
            "http://localhost/jwks",
            "http://LOCALHOST:80/x?y",
            "http://[::1]/jwks.json",
            "http://[::1]:8443",
        ] {
            assert!(key_set_url_allowed(yes), "{yes}");
        }
        for no in [
            "http://id.example.com/jwks.json",
            "http://localhost.evil.example/jwks.json",
            "http://127.0.0.1.nip.io/jwks.json",
            "http://localhost@evil.example/jwks.json",
            "http://127.0.0.1@evil.example/jwks.json",
            "http://127.0.0.1:80@192.0.2.1/x",
            "http://[::1].evil/x",
            "http://[::1]x/",
            "http://localhostevil.example/x",
            "http://127.0.0.1\\@evil.example/x",
            "http://127.0.0.1%2eevil.example/",
            "http://127.0.0.1:/x",
            "http://127.0.0.1:80x/",
            "http://0.0.0.0/",
            "http://[::]/",
            "http://[::ffff:127.0.0.1]/",
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http:///x",
            "ftp://127.0.0.1/",
            "file:///etc/jwks.json",
            "",
        ] {
            assert!(!key_set_url_allowed(no), "{no}");
        }
    }
}
