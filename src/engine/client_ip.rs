//! Which address is the client: the TCP peer, or a hop named by a trusted proxy.

use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;

use crate::engine::forwarded;
use crate::engine::request::{trim_ows, RequestView};
use crate::engine::verdict::UnknownClient;
use crate::vocabulary::IpSource;

/// How the client address was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "via")]
pub enum Derivation {
    /// The TCP peer, because the policy reads only the peer.
    Peer,
    /// The TCP peer, because it is not a trusted proxy (its forwarding header was ignored).
    UntrustedPeer,
    /// The TCP peer, a trusted proxy that sent no forwarding header.
    ProxyWithoutHeader,
    /// A forwarding-header entry, counted from the right (1 is the last entry).
    Header {
        /// The header read.
        header: &'static str,
        /// The entry's position from the right, 1-based.
        hop: usize,
    },
}

/// The client-address settings, compiled.
#[derive(Debug, Clone)]
pub(crate) struct ClientIpConfig {
    pub(crate) source: IpSource,
    pub(crate) trusted: Vec<IpNet>,
}

impl ClientIpConfig {
    pub(crate) fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    /// The forwarding header believed from trusted proxies (lowercase), if any.
    pub(crate) fn header(&self) -> Option<&'static str> {
        match self.source {
            IpSource::Peer => None,
            IpSource::XForwardedFor => Some("x-forwarded-for"),
            IpSource::Forwarded => Some("forwarded"),
            IpSource::XRealIp => Some("x-real-ip"),
        }
    }

    /// Finds the client address of a request.
    pub(crate) fn derive(
        &self,
        request: &RequestView<'_>,
    ) -> Result<(IpAddr, Derivation), UnknownClient> {
        let peer = canonical(request.peer().ok_or(UnknownClient::NoPeer)?);
        let Some(header) = self.header() else {
            return Ok((peer, Derivation::Peer));
        };
        if !self.is_trusted(peer) {
            return Ok((peer, Derivation::UntrustedPeer));
        }
        // A backend may read an underscore twin (`X_Forwarded_For`) as the header itself, and
        // nobody can say which of the two lines a proxy appended to.
        if request.has_twin(header) {
            return Err(UnknownClient::AmbiguousHeader);
        }
        let mut lines = request.header_values(header).peekable();
        if lines.peek().is_none() {
            return Ok((peer, Derivation::ProxyWithoutHeader));
        }
        if self.source == IpSource::XRealIp {
            let value = lines.next().unwrap_or_default();
            if lines.next().is_some() {
                return Err(UnknownClient::RepeatedHeader);
            }
            let ip = parse_hop(trim_ows(value)).ok_or(UnknownClient::InvalidHop)?;
            return Ok((canonical(ip), Derivation::Header { header, hop: 1 }));
        }
        // Walking left to right, remember the rightmost entry that stops a right-to-left walk
        // (one that is untrusted or unreadable); entries left of it are the client's own claims.
        let mut walk = Walk::default();
        for line in lines {
            if self.source == IpSource::Forwarded {
                // A line that is not strictly RFC 7239 is unreadable as a whole: where one
                // element ends and the next begins is exactly what readers disagree on.
                forwarded::elements(line, |e| walk.step(forwarded_for(e), self))
                    .map_err(|_| UnknownClient::InvalidHop)?;
            } else {
                for entry in line.split(|&b| b == b',') {
                    let hop = parse_hop(trim_ows(entry)).ok_or(UnknownClient::InvalidHop);
                    walk.step(hop, self);
                }
            }
        }
        match walk.stop {
            Some((index, Ok(ip))) => Ok((
                ip,
                Derivation::Header {
                    header,
                    hop: walk.count - index + 1,
                },
            )),
            Some((_, Err(e))) => Err(e),
            // Every hop is a trusted proxy: the leftmost is as close to the client as we get.
            None => match walk.first {
                Some(ip) => Ok((
                    ip,
                    Derivation::Header {
                        header,
                        hop: walk.count,
                    },
                )),
                None => Err(UnknownClient::InvalidHop),
            },
        }
    }
}

/// A left-to-right walk over forwarding hops.
#[derive(Default)]
struct Walk {
    count: usize,
    /// The rightmost hop that is untrusted or unreadable, with its 1-based index.
    stop: Option<(usize, Result<IpAddr, UnknownClient>)>,
    first: Option<IpAddr>,
}

impl Walk {
    fn step(&mut self, hop: Result<IpAddr, UnknownClient>, config: &ClientIpConfig) {
        self.count += 1;
        match hop {
            Ok(ip) => {
                let ip = canonical(ip);
                self.first.get_or_insert(ip);
                if !config.is_trusted(ip) {
                    self.stop = Some((self.count, Ok(ip)));
                }
            }
            Err(e) => self.stop = Some((self.count, Err(e))),
        }
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the IPv4 address it carries.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// One hop: an address, optionally with a port (`a.b.c.d:p`, `[v6]:p`). Strict: the standard
/// library's parsers refuse leading zeros, hex and short forms.
fn parse_hop(s: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(s).ok()?;
    if let Some(rest) = s.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        if !after.is_empty() && !is_port(after.strip_prefix(':')?) {
            return None;
        }
        return inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    let (host, port) = s.rsplit_once(':')?;
    if !is_port(port) {
        return None;
    }
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// A port as backends parse one: decimal digits naming 0 to 65535. A hop with a port past that
/// (`192.0.2.1:99999`) is unreadable to a backend that parses it as a socket address, so it is
/// unreadable to the engine too.
fn is_port(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 5
        && p.bytes().all(|b| b.is_ascii_digit())
        && p.parse::<u16>().is_ok()
}

/// The address in the `for=` parameter of one `Forwarded` element (RFC 7239 §6): an IPv4
/// address, or a bracketed IPv6 address, with an optional port; an IPv6 address without
/// brackets is not valid there (it is not a token, and a quoted one must be bracketed).
fn forwarded_for(element: forwarded::Element<'_>) -> Result<IpAddr, UnknownClient> {
    let node = element.for_.ok_or(UnknownClient::InvalidHop)?;
    if node.eq_ignore_ascii_case(b"unknown") || node.first() == Some(&b'_') {
        return Err(UnknownClient::HiddenHop);
    }
    let text = std::str::from_utf8(node).map_err(|_| UnknownClient::InvalidHop)?;
    if text.parse::<Ipv6Addr>().is_ok() {
        return Err(UnknownClient::InvalidHop);
    }
    parse_hop(node).ok_or(UnknownClient::InvalidHop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AsRequestView, Request};

    fn config(source: IpSource, trusted: &[&str]) -> ClientIpConfig {
        ClientIpConfig {
            source,
            trusted: trusted.iter().map(|t| t.parse().unwrap()).collect(),
        }
    }

    fn derive(
        c: &ClientIpConfig,
        peer: &str,
        headers: &[(&str, &str)],
    ) -> Result<String, UnknownClient> {
        let mut r = Request::get("/").peer(peer.parse().unwrap());
        for (n, v) in headers {
            r = r.header(*n, *v);
        }
        c.derive(&r.view()).map(|(ip, _)| ip.to_string())
    }

    #[test]
    fn peer_source_ignores_headers() {
        let c = config(IpSource::Peer, &["10.0.0.0/8"]);
        assert_eq!(
            derive(&c, "10.0.0.1", &[("x-forwarded-for", "1.2.3.4")]),
            Ok("10.0.0.1".into())
        );
        assert_eq!(derive(&c, "::ffff:192.0.2.1", &[]), Ok("192.0.2.1".into()));
    }

    #[test]
    fn x_forwarded_for_walks_from_the_right() {
        let c = config(IpSource::XForwardedFor, &["10.0.0.0/8"]);
        let xff = "x-forwarded-for";
        type Case<'a> = (
            &'a str,
            &'a [(&'a str, &'a str)],
            Result<&'a str, UnknownClient>,
        );
        let cases: &[Case<'_>] = &[
            // An untrusted peer's header is ignored.
            ("192.0.2.9", &[(xff, "1.2.3.4")], Ok("192.0.2.9")),
            ("10.0.0.1", &[(xff, "1.2.3.4")], Ok("1.2.3.4")),
            ("10.0.0.1", &[], Ok("10.0.0.1")),
            // The client's own claims left of the first untrusted hop do not count.
            (
                "10.0.0.1",
                &[(xff, "6.6.6.6, 1.2.3.4, 10.0.0.2")],
                Ok("1.2.3.4"),
            ),
            ("10.0.0.1", &[(xff, "garbage, 1.2.3.4")], Ok("1.2.3.4")),
            // Repeated lines are joined in order.
            (
                "10.0.0.1",
                &[(xff, "6.6.6.6"), (xff, "1.2.3.4, 10.0.0.3")],
                Ok("1.2.3.4"),
            ),
            ("10.0.0.1", &[(xff, "10.0.0.7, 10.0.0.3")], Ok("10.0.0.7")),
            ("10.0.0.1", &[(xff, "1.2.3.4:5678")], Ok("1.2.3.4")),
            ("10.0.0.1", &[(xff, "[2001:db8::1]:443")], Ok("2001:db8::1")),
            ("10.0.0.1", &[(xff, "::ffff:1.2.3.4")], Ok("1.2.3.4")),
            // Unreadable entries that must be read make the client unknown.
            (
                "10.0.0.1",
                &[(xff, "1.2.3.4, garbage")],
                Err(UnknownClient::InvalidHop),
            ),
            (
                "10.0.0.1",
                &[(xff, "01.2.3.4")],
                Err(UnknownClient::InvalidHop),
            ),
            (
                "10.0.0.1",
                &[(xff, "0x7f.1")],
                Err(UnknownClient::InvalidHop),
            ),
            (
                "10.0.0.1",
                &[(xff, "127.1")],
                Err(UnknownClient::InvalidHop),
            ),
            ("10.0.0.1", &[(xff, "")], Err(UnknownClient::InvalidHop)),
            (
                "10.0.0.1",
                &[(xff, "1.2.3.4,")],
                Err(UnknownClient::InvalidHop),
            ),
            (
                "10.0.0.1",
                &[(xff, "fe80::1%eth0")],
                Err(UnknownClient::InvalidHop),
            ),
            // A port is 0 to 65535: a backend parsing a socket address reads nothing else.
            ("10.0.0.1", &[(xff, "1.2.3.4:65535")], Ok("1.2.3.4")),
            (
                "10.0.0.1",
                &[(xff, "1.2.3.4:65536")],
                Err(UnknownClient::InvalidHop),
            ),
            (
                "10.0.0.1",
                &[(xff, "[2001:db8::1]:99999")],
                Err(UnknownClient::InvalidHop),
            ),
        ];
        for (peer, headers, want) in cases {
            assert_eq!(
                derive(&c, peer, headers),
                want.map(str::to_owned),
                "{peer} {headers:?}"
            );
        }
    }

    #[test]
    fn forwarded_and_x_real_ip() {
        let c = config(IpSource::Forwarded, &["10.0.0.0/8"]);
        let f = "forwarded";
        assert_eq!(
            derive(
                &c,
                "10.0.0.1",
                &[(f, "for=192.0.2.60;proto=http;by=203.0.113.43")]
            ),
            Ok("192.0.2.60".into())
        );
        assert_eq!(
            derive(&c, "10.0.0.1", &[(f, "for=\"[2001:db8:cafe::17]:4711\"")]),
            Ok("2001:db8:cafe::17".into())
        );
        assert_eq!(
            derive(&c, "10.0.0.1", &[(f, "For=192.0.2.43, for=10.0.0.9")]),
            Ok("192.0.2.43".into())
        );
        assert_eq!(
            derive(&c, "10.0.0.1", &[(f, "for=unknown")]),
            Err(UnknownClient::HiddenHop)
        );
        assert_eq!(
            derive(&c, "10.0.0.1", &[(f, "for=_hidden")]),
            Err(UnknownClient::HiddenHop)
        );
        assert_eq!(
            derive(&c, "10.0.0.1", &[(f, "proto=https")]),
            Err(UnknownClient::InvalidHop)
        );

        let c = config(IpSource::XRealIp, &["10.0.0.0/8"]);
        let x = "x-real-ip";
        assert_eq!(
            derive(&c, "10.0.0.1", &[(x, " 192.0.2.1 ")]),
            Ok("192.0.2.1".into())
        );
        assert_eq!(
            derive(&c, "10.0.0.1", &[(x, "192.0.2.1"), (x, "192.0.2.2")]),
            Err(UnknownClient::RepeatedHeader)
        );
        assert_eq!(
            derive(&c, "10.0.0.1", &[(x, "192.0.2.1, 192.0.2.2")]),
            Err(UnknownClient::InvalidHop)
        );
    }

    #[test]
    fn no_peer_is_unknown() {
        let c = config(IpSource::Peer, &[]);
        assert_eq!(
            c.derive(&Request::get("/").view()).map(|_| ()),
            Err(UnknownClient::NoPeer)
        );
    }
}
