//! API keys: found in the request, hashed, looked up by digest, never kept or shown.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::engine::request::{trim_ows, RequestView};
use crate::engine::verdict::{ClientId, Refusal};

/// Headers whose whole value is a credential, besides the policy's key header.
const SECRET_HEADERS: [&str; 2] = ["authorization", "proxy-authorization"];

/// Headers that carry credentials among other values (a cookie named `debug` beside the
/// session cookie).
const SECRET_BEARING_HEADERS: [&str; 2] = ["cookie", "set-cookie"];

/// How much of a header's value is a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Secrecy {
    /// Nothing: an ordinary header.
    None,
    /// Some of its values may be: never shown; a policy may match patterns but not spell out
    /// an exact value.
    Part,
    /// The whole value: never shown; a policy may test only whether it is present.
    Whole,
}

/// How secret the header `lower` (lowercase) is, given the policy's key header: the one home
/// of this list, for compiling conditions and for redacting explanations.
pub(crate) fn secrecy(lower: &str, key_header: Option<&str>) -> Secrecy {
    if SECRET_HEADERS.contains(&lower) || Some(lower) == key_header {
        Secrecy::Whole
    } else if SECRET_BEARING_HEADERS.contains(&lower) {
        Secrecy::Part
    } else {
        Secrecy::None
    }
}

/// Where a request's key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeySource {
    /// The configured key header.
    Header,
    /// `Authorization: Bearer`.
    Bearer,
}

/// What the request's credentials say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Credentials {
    /// No key was presented.
    None,
    /// A key was presented; `client` is who it belongs to, if anyone.
    Presented {
        client: Option<ClientId>,
        source: KeySource,
    },
}

/// The key settings and digests, compiled.
#[derive(Debug, Clone)]
pub(crate) struct KeyTable {
    pub(crate) header: String,
    pub(crate) bearer: bool,
    /// Looked up with a fast hash: a lookup cannot change the table, so there is nothing to
    /// flood, and the key is already a digest.
    pub(crate) digests: HashMap<[u8; 32], ClientId, foldhash::fast::RandomState>,
}

impl KeyTable {
    pub(crate) fn identify(&self, request: &RequestView<'_>) -> Result<Credentials, Refusal> {
        let mut presented: Option<(&[u8], KeySource)> = None;
        for v in request.header_values(self.header.as_str()) {
            offer(&mut presented, v, KeySource::Header)?;
        }
        if self.bearer {
            for v in request.header_values("authorization") {
                if let Some(token) = bearer_token(v) {
                    offer(&mut presented, token, KeySource::Bearer)?;
                }
            }
        }
        let Some((key, source)) = presented else {
            return Ok(Credentials::None);
        };
        let digest: [u8; 32] = Sha256::digest(key).into();
        // The lookup is keyed by the digest of the presented key, so its timing can reveal
        // only digests, never key bytes; the final comparison is constant-time all the same.
        let client = self
            .digests
            .get_key_value(&digest)
            .and_then(|(stored, &id)| same_digest(stored, &digest).then_some(id));
        Ok(Credentials::Presented { client, source })
    }
}

/// Whether two digests are equal, in time that does not depend on where they differ: the
/// differences are folded into one word without branches, and only that word goes through
/// `subtle`'s optimisation barrier (one barrier, not one per byte).
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a
        .chunks_exact(8)
        .zip(b.chunks_exact(8))
        .fold(0u64, |acc, (x, y)| {
            let word = |c: &[u8]| {
                let mut w = [0u8; 8];
                w.copy_from_slice(c);
                u64::from_ne_bytes(w)
            };
            acc | (word(x) ^ word(y))
        });
    bool::from(diff.ct_eq(&0))
}

/// Records a presented key; the same key twice is harmless, two different keys are ambiguous.
fn offer<'a>(
    presented: &mut Option<(&'a [u8], KeySource)>,
    key: &'a [u8],
    source: KeySource,
) -> Result<(), Refusal> {
    let key = trim_ows(key);
    match presented {
        _ if key.is_empty() => Ok(()),
        // A backend that reads the header as a list takes an element, one that does not takes
        // the whole value: two different keys.
        _ if has_comma(key) => Err(Refusal::AmbiguousCredentials),
        Some((seen, _)) if *seen != key => Err(Refusal::AmbiguousCredentials),
        Some(_) => Ok(()),
        None => {
            *presented = Some((key, source));
            Ok(())
        }
    }
}

/// The one bearer credential of a request, when the policy reads tokens: the same token
/// twice is harmless; two different ones are ambiguous. A token holding a comma is ambiguous
/// too, but the search is left to the caller ([`has_comma`]), which skips it for a token it
/// has verified before: tokens run to kilobytes, and most requests bring one seen before.
pub(crate) fn bearer_credential<'a>(
    request: &RequestView<'a>,
) -> Result<Option<&'a [u8]>, Refusal> {
    let mut presented: Option<&[u8]> = None;
    for v in request.header_values("authorization") {
        let Some(token) = bearer_token(v) else {
            continue;
        };
        match presented {
            _ if token.is_empty() => {}
            Some(seen) if seen != token => return Err(Refusal::AmbiguousCredentials),
            Some(_) => {}
            None => presented = Some(token),
        }
    }
    Ok(presented)
}

/// Whether a credential holds a comma: inline for API keys (a call into a vectorised search
/// costs more than a short key), vectorised for bearer tokens, which run to kilobytes.
#[inline]
pub(crate) fn has_comma(credential: &[u8]) -> bool {
    if credential.len() <= 64 {
        credential.contains(&b',')
    } else {
        memchr::memchr(b',', credential).is_some()
    }
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is case-insensitive.
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let value = trim_ows(value);
    let scheme = value.get(..6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let rest = value.get(6..)?;
    if !matches!(rest.first(), Some(b' ' | b'\t')) {
        return None;
    }
    Some(trim_ows(rest))
}

/// The SHA-256 digest of `key` as the 64 lowercase hex digits a policy stores.
///
/// ```
/// assert_eq!(
///     portcullis::hash_key(b"abc"),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
pub fn hash_key(key: &[u8]) -> String {
    use std::fmt::Write;
    let digest = Sha256::digest(key);
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Parses 64 hex digits into a digest.
pub(crate) fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 || !bytes.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let s = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(index: usize) -> ClientId {
        ClientId(crate::engine::ids::SmallIndex::new(index).unwrap())
    }

    #[test]
    fn digests_compare_equal_only_when_every_byte_is() {
        let a = [7u8; 32];
        assert!(same_digest(&a, &a));
        for at in 0..32 {
            for bit in 0..8 {
                let mut b = a;
                b[at] ^= 1 << bit;
                assert!(!same_digest(&a, &b), "byte {at} bit {bit}");
            }
        }
    }
    use crate::{AsRequestView, Request};

    fn table() -> KeyTable {
        let mut digests = HashMap::default();
        digests.insert(parse_digest(&hash_key(b"k1")).unwrap(), client(0));
        digests.insert(parse_digest(&hash_key(b"k2")).unwrap(), client(1));
        KeyTable {
            header: "x-api-key".into(),
            bearer: true,
            digests,
        }
    }

    fn who(headers: &[(&str, &str)]) -> Result<Credentials, Refusal> {
        let mut r = Request::get("/");
        for (n, v) in headers {
            r = r.header(*n, *v);
        }
        table().identify(&r.view())
    }

    #[test]
    fn keys_are_found_and_looked_up() {
        use Credentials::*;
        let known = |c, source| {
            Ok(Presented {
                client: Some(client(c)),
                source,
            })
        };
        type Case<'a> = (&'a [(&'a str, &'a str)], Result<Credentials, Refusal>);
        let cases: &[Case<'_>] = &[
            (&[], Ok(None)),
            (&[("X-Api-Key", "k1")], known(0, KeySource::Header)),
            (&[("x-api-key", " k2 ")], known(1, KeySource::Header)),
            (
                &[("authorization", "Bearer k2")],
                known(1, KeySource::Bearer),
            ),
            (
                &[("authorization", "bEaReR   k1")],
                known(0, KeySource::Bearer),
            ),
            (&[("authorization", "Basic azE6")], Ok(None)),
            (&[("authorization", "Bearerk1")], Ok(None)),
            (&[("authorization", "Bearer ")], Ok(None)),
            // The key itself is exact.
            (
                &[("x-api-key", "K1")],
                Ok(Presented {
                    client: Option::None,
                    source: KeySource::Header,
                }),
            ),
            (
                &[("x-api-key", "k1"), ("authorization", "Bearer k1")],
                known(0, KeySource::Header),
            ),
            (
                &[("x-api-key", "k1"), ("authorization", "Bearer k2")],
                Err(Refusal::AmbiguousCredentials),
            ),
            (
                &[("x-api-key", "k1"), ("x-api-key", "nope")],
                Err(Refusal::AmbiguousCredentials),
            ),
        ];
        for (headers, want) in cases {
            assert_eq!(&who(headers), want, "{headers:?}");
        }
    }

    #[test]
    fn digests_parse_strictly() {
        let h = hash_key(b"x");
        assert!(parse_digest(&h).is_some());
        assert!(parse_digest(&h.to_uppercase()).is_some());
        assert!(parse_digest(&h[..63]).is_none());
        assert!(parse_digest(&format!("{}g", &h[..63])).is_none());
        assert!(parse_digest(&format!("+{}", &h[..63])).is_none());
    }
}
