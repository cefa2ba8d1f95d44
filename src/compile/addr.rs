//! Strict parsing of addresses and CIDRs as a policy writes them.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv4Subnets, Ipv6Subnets};

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
    let ip: IpAddr = addr.parse().map_err(|_| not_an_address(s, addr))?;
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

/// Parses one entry of a list file: an address, a CIDR, or a range `first-last` (as threat
/// feeds write them, white space allowed around the `-`), pushing the prefixes it covers onto
/// `out`: a range becomes the fewest CIDRs that cover exactly it. Nothing is pushed on error.
pub(crate) fn parse_entry(s: &str, out: &mut Vec<IpNet>) -> Result<(), String> {
    // Only text made of address characters around the `-` is a range: `not-an-ip` is a
    // bad address, not a range with bad ends.
    let addressy = |part: &str| {
        part.trim()
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b':' | b'/'))
    };
    let range = s
        .split_once('-')
        .filter(|(a, b)| addressy(a) && addressy(b));
    let Some((first, last)) = range else {
        out.push(parse_net(s)?);
        return Ok(());
    };
    let end = |part: &str| -> Result<IpAddr, String> {
        let part = part.trim();
        if part.contains('/') {
            return Err(format!(
                "range `{s}` has a prefix length; a range is written `first-last` with two addresses"
            ));
        }
        let net = parse_net(part).map_err(|e| format!("in range `{s}`: {e}"))?;
        Ok(net.addr())
    };
    let (a, b) = (end(first)?, end(last)?);
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => {
            out.extend(Ipv4Subnets::new(a, b, 0).map(IpNet::V4));
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => {
            out.extend(Ipv6Subnets::new(a, b, 0).map(|n| canonical_net(IpNet::V6(n))));
        }
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
            return Err(format!(
                "range `{s}` ends before it starts (did you mean `{b}-{a}`?)"
            ));
        }
        _ => return Err(format!("range `{s}` mixes IPv4 and IPv6 addresses")),
    }
    Ok(())
}

/// The error for text that is not an address, with a hint only where one applies.
fn not_an_address(entry: &str, addr: &str) -> String {
    let base = format!("`{entry}` is not a valid address");
    let dotted = !addr.is_empty() && addr.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let parts: Vec<&str> = addr.split('.').collect();
    let hint = if addr.contains(['#', ';']) {
        "a comment starts with `#` or `;` after white space"
    } else if addr.contains(char::is_whitespace) {
        "write one address, CIDR or range per line"
    } else if dotted && parts.iter().any(|p| p.len() > 1 && p.starts_with('0')) {
        "addresses are written without leading zeros"
    } else if dotted && parts.iter().any(|p| p.is_empty()) {
        "an IPv4 address is four numbers separated by single dots"
    } else if dotted && parts.len() != 4 {
        "an IPv4 address has four parts, each 0 to 255"
    } else if dotted {
        "each part of an IPv4 address is 0 to 255"
    } else {
        return base;
    };
    format!("{base} ({hint})")
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

    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// The plain reference: from the start, the largest aligned block that fits, again and
    /// again. `bits` is the address width.
    fn reference_blocks(first: u128, last: u128, bits: u32) -> Vec<(u128, u32)> {
        // The offset of a block's last address from its first, for a block of 2^k addresses.
        let span = |k: u32| {
            if k >= 128 {
                u128::MAX
            } else {
                (1u128 << k) - 1
            }
        };
        let mut out = Vec::new();
        let mut at = first;
        loop {
            let mut k = 0u32;
            while k < bits {
                let wider = span(k + 1);
                let aligned = at & wider == 0;
                let fits = at.checked_add(wider).is_some_and(|end| end <= last);
                if !(aligned && fits) {
                    break;
                }
                k += 1;
            }
            out.push((at, bits - k));
            let end = at + span(k);
            if end >= last {
                return out;
            }
            at = end + 1;
        }
    }

    fn covered(nets: &[IpNet], ip: IpAddr) -> bool {
        nets.iter().any(|n| n.contains(&ip))
    }

    /// Checks the nets a range became against the reference, and every edge and ±1.
    fn check_range(
        text: &str,
        first: IpAddr,
        last: IpAddr,
        want: &[(u128, u32)],
        to_ip: impl Fn(u128) -> IpAddr,
        max: u128,
    ) {
        let mut nets = Vec::new();
        parse_entry(text, &mut nets).unwrap();
        let got: Vec<(u128, u32)> = nets
            .iter()
            .map(|n| match n {
                IpNet::V4(v) => (
                    u128::from(u32::from(v.network())),
                    u32::from(v.prefix_len()),
                ),
                IpNet::V6(v) => (u128::from(v.network()), u32::from(v.prefix_len())),
            })
            .collect();
        assert_eq!(got, want, "{text}");
        let (a, b) = (ip_value(first), ip_value(last));
        assert!(covered(&nets, first) && covered(&nets, last), "{text}");
        if a > 0 {
            assert!(!covered(&nets, to_ip(a - 1)), "{text}: before the start");
        }
        if b < max {
            assert!(!covered(&nets, to_ip(b + 1)), "{text}: after the end");
        }
        for n in &nets {
            let (lo, hi) = (ip_value(n.network()), ip_value(n.broadcast()));
            for edge in [lo, hi, lo.saturating_sub(1), hi.saturating_add(1).min(max)] {
                let inside = (a..=b).contains(&edge);
                assert_eq!(covered(&nets, to_ip(edge)), inside, "{text}: edge {edge}");
            }
        }
    }

    fn ip_value(ip: IpAddr) -> u128 {
        match ip {
            IpAddr::V4(v) => u128::from(u32::from(v)),
            IpAddr::V6(v) => u128::from(v),
        }
    }

    /// Addresses near block boundaries, where range splitting goes wrong.
    fn v4_edge() -> impl Strategy<Value = u32> {
        prop_oneof![
            any::<u32>(),
            (0u32..32, -2i64..=2)
                .prop_map(|(k, d)| ((1i64 << k) + d).clamp(0, i64::from(u32::MAX)) as u32),
            (any::<u32>(), 0u32..32).prop_map(|(x, k)| x & !((1u32 << k) - 1)),
            (any::<u32>(), 0u32..32).prop_map(|(x, k)| x | ((1u32 << k) - 1)),
            Just(0),
            Just(u32::MAX),
        ]
    }

    fn v6_edge() -> impl Strategy<Value = u128> {
        prop_oneof![
            any::<u128>(),
            (any::<u128>(), 0u32..128).prop_map(|(x, k)| x & !((1u128 << k) - 1)),
            (any::<u128>(), 0u32..128).prop_map(|(x, k)| x | ((1u128 << k) - 1)),
            Just(0),
            Just(u128::MAX),
        ]
    }

    proptest! {
        #[test]
        fn ipv4_ranges_become_the_fewest_cidrs(x in v4_edge(), y in v4_edge()) {
            let (a, b) = (x.min(y), x.max(y));
            let (first, last) = (Ipv4Addr::from(a), Ipv4Addr::from(b));
            let want = reference_blocks(a.into(), b.into(), 32);
            let to_ip = |v: u128| IpAddr::V4(Ipv4Addr::from(u32::try_from(v).unwrap()));
            check_range(&format!("{first}-{last}"), first.into(), last.into(), &want, to_ip, u32::MAX.into());
            if a != b {
                let mut nets = Vec::new();
                let reversed = format!("{last}-{first}");
                prop_assert!(parse_entry(&reversed, &mut nets).is_err());
                prop_assert!(nets.is_empty());
            }
        }

        #[test]
        fn ipv6_ranges_become_the_fewest_cidrs(x in v6_edge(), y in v6_edge()) {
            let (a, b) = (x.min(y), x.max(y));
            let (first, last) = (Ipv6Addr::from(a), Ipv6Addr::from(b));
            // IPv4-mapped addresses are IPv4 ranges (checked above).
            prop_assume!(first.to_ipv4_mapped().is_none() && last.to_ipv4_mapped().is_none());
            let want = reference_blocks(a, b, 128);
            // A block inside the mapped space would come back as IPv4.
            prop_assume!(want.iter().all(|&(n, _)| Ipv6Addr::from(n).to_ipv4_mapped().is_none()));
            let to_ip = |v: u128| IpAddr::V6(Ipv6Addr::from(v));
            check_range(&format!("{first}-{last}"), first.into(), last.into(), &want, to_ip, u128::MAX);
        }
    }

    #[test]
    fn range_reference_agrees_on_known_cases() {
        assert_eq!(reference_blocks(0, u128::from(u32::MAX), 32), [(0, 0)]);
        assert_eq!(
            reference_blocks(1, 6, 32),
            [(1, 32), (2, 31), (4, 31), (6, 32)]
        );
        assert_eq!(reference_blocks(0, u128::MAX, 128), [(0, 0)]);
        assert_eq!(reference_blocks(5, 5, 32), [(5, 32)]);
    }
}
