//! Who may state the original request, and where the client address comes from.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::IpNet;

use crate::engine::client_ip::canonical;

/// The peers allowed to state an original request: the proxies in front of the service.
///
/// A check from any other TCP peer is refused with 403, whatever it says: only a forwarder
/// can be believed about the method, path, headers and client address of a request it saw.
///
/// ```
/// use portcullis::serve::Forwarders;
///
/// let loopback = Forwarders::default();
/// assert!(loopback.contains("127.0.0.1".parse()?));
/// assert!(loopback.contains("::1".parse()?));
/// assert!(!loopback.contains("192.0.2.1".parse()?));
///
/// let mesh: Forwarders = "10.0.0.0/8, fd00::/8".parse()?;
/// assert!(mesh.contains("10.1.2.3".parse()?));
/// assert!("10.0.0.0/33".parse::<Forwarders>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarders {
    nets: Vec<IpNet>,
}

impl Forwarders {
    /// Forwarders from a list of networks.
    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> Forwarders {
        Forwarders {
            nets: nets.into_iter().map(|n| n.trunc()).collect(),
        }
    }

    /// Whether `peer` may state an original request. An IPv4-mapped IPv6 peer counts as the
    /// IPv4 address it carries.
    pub fn contains(&self, peer: IpAddr) -> bool {
        let peer = canonical(peer);
        self.nets.iter().any(|n| n.contains(&peer))
    }

    /// The networks.
    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }
}

/// Loopback only: `127.0.0.0/8` and `::1/128`.
impl Default for Forwarders {
    fn default() -> Forwarders {
        Forwarders::new([
            IpNet::V4(ipnet::Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8)),
            IpNet::from(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ])
    }
}

/// A forwarder list that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an address or a network (CIDR)")]
pub struct ForwardersError(String);

/// A comma-separated list of addresses and networks (`10.0.0.0/8,fd00::/8,192.0.2.7`).
impl FromStr for Forwarders {
    type Err = ForwardersError;

    fn from_str(s: &str) -> Result<Forwarders, ForwardersError> {
        let mut nets = Vec::new();
        for item in s.split(',').map(str::trim) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => match item.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => return Err(ForwardersError(item.to_owned())),
                },
            };
            nets.push(net);
        }
        Ok(Forwarders::new(nets))
    }
}

impl fmt::Display for Forwarders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, net) in self.nets.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
    }
}

/// Where a forwarder puts the address it saw the client connect from.
///
/// That address becomes the peer of the original request; the policy's own `[client_ip]`
/// settings then apply to whatever lies beyond it (a CDN's `X-Forwarded-For` entries, say),
/// exactly as they would in-process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAddress {
    /// The last entry of `X-Forwarded-For`, the hop the forwarder appended (nginx
    /// `$proxy_add_x_forwarded_for`, Caddy, Traefik, Envoy with `use_remote_address`). The
    /// entries before it are what the client (or proxies before the forwarder) claimed, and
    /// stay in the header the policy reads.
    #[default]
    XForwardedFor,
    /// The one `X-Real-IP` line (nginx `proxy_set_header X-Real-IP $remote_addr`).
    XRealIp,
}

/// A client-address source that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a client-address header: use `x-forwarded-for` or `x-real-ip`")]
pub struct ClientAddressError(String);

impl FromStr for ClientAddress {
    type Err = ClientAddressError;

    fn from_str(s: &str) -> Result<ClientAddress, ClientAddressError> {
        match s.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ClientAddress::XForwardedFor),
            "x-real-ip" => Ok(ClientAddress::XRealIp),
            _ => Err(ClientAddressError(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_strictly() {
        let f: Forwarders = "127.0.0.1/32, 10.0.0.0/8,::1".parse().unwrap();
        assert_eq!(f.to_string(), "127.0.0.1/32,10.0.0.0/8,::1/128");
        for bad in ["", "10.0.0.0/8,", "localhost", "10.0.0.0/33", "010.0.0.1"] {
            assert!(bad.parse::<Forwarders>().is_err(), "{bad:?}");
        }
        // Host bits are dropped: the network is what counts.
        let f: Forwarders = "10.9.9.9/8".parse().unwrap();
        assert!(f.contains("10.200.0.1".parse().unwrap()));
    }

    #[test]
    fn default_is_loopback_and_mapped_addresses_count() {
        let f = Forwarders::default();
        for yes in ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"] {
            assert!(f.contains(yes.parse().unwrap()), "{yes}");
        }
        for no in ["128.0.0.1", "::2", "::ffff:10.0.0.1", "0.0.0.0"] {
            assert!(!f.contains(no.parse().unwrap()), "{no}");
        }
    }
}
