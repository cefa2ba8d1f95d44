//! Strict parsing of addresses and CIDRs as a policy writes them.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

/// Parses an address or CIDR strictly: no stray whitespace, no leading zeros, no host bits.
/// IPv4-mapped IPv6 prefixes become the IPv4 prefixes they describe.
pub(crate) fn parse_net(s: &str) -> Result<IpNet, String> {
    if s.is_empty() {
        return Err("empty address".to_owned());
    }
    if s.trim() != s {
        return Err(format!("address `{s}` has stray whitespace"));
    }
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| {
        format!(
            "`{s}` is not a valid address (addresses are written in full, without leading zeros)"
        )
    })?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(l) => {
            let valid = !l.is_empty()
                && l.len() <= 3
                && l.bytes().all(|b| b.is_ascii_digit())
                && (l == "0" || !l.starts_with('0'));
            match l.parse::<u8>() {
                Ok(n) if valid && n <= max => n,
                _ => return Err(format!("`{s}` has an invalid prefix length (0 to {max})")),
            }
        }
    };
    let net = IpNet::new(ip, len).map_err(|e| format!("`{s}`: {e}"))?;
    if net.trunc() != net {
        return Err(format!(
            "CIDR `{s}` has host bits set (did you mean `{}`?)",
            net.trunc()
        ));
    }
    Ok(canonical_net(net))
}

/// `::ffff:a.b.c.d/n` (n >= 96) is the IPv4 prefix `a.b.c.d/(n - 96)`.
pub(crate) fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net {
        if let Some(v4) = v6.addr().to_ipv4_mapped() {
            if v6.prefix_len() >= 96 {
                if let Ok(n) = Ipv4Net::new(v4, v6.prefix_len() - 96) {
                    return IpNet::V4(n);
                }
            }
        }
    }
    net
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_strictly() {
        let ok = [
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("192.0.2.7", "192.0.2.7/32"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("2001:db8::/32", "2001:db8::/32"),
            ("::1", "::1/128"),
            ("::ffff:192.0.2.0/120", "192.0.2.0/24"),
            ("::ffff:192.0.2.1", "192.0.2.1/32"),
        ];
        for (input, want) in ok {
            assert_eq!(
                parse_net(input).map(|n| n.to_string()),
                Ok(want.to_owned()),
                "{input}"
            );
        }
        let bad = [
            ("", "empty"),
            (" 10.0.0.0/8", "whitespace"),
            ("10.0.0.0/8 ", "whitespace"),
            ("10.1.2.3/8", "host bits set (did you mean `10.0.0.0/8`?)"),
            ("010.0.0.0/8", "not a valid address"),
            ("10.0.0.0/08", "prefix length"),
            ("10.0.0.0/33", "prefix length"),
            ("10.0.0.0/", "prefix length"),
            ("10.0.0.0/+8", "prefix length"),
            ("0x0a.0.0.0", "not a valid address"),
            ("10.1", "not a valid address"),
            ("2001:db8::1/32", "host bits"),
            ("2001:db8::/129", "prefix length"),
            ("example.com", "not a valid address"),
        ];
        for (input, want) in bad {
            let err = parse_net(input).unwrap_err();
            assert!(err.contains(want), "{input}: {err}");
        }
    }
}
