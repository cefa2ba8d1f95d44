//! The path prefix of Envoy's HTTP checks, checked so that it can never take in the server's
//! own routes.

use std::fmt;
use std::str::FromStr;

/// The server's own paths: never under an Envoy prefix, or a client could reach the same
/// paths of the service by asking for them (Envoy's check for `/healthz` would be answered by
/// the health route, `ok`).
const OWN_ROUTES: [&str; 4] = ["check", "healthz", "readyz", "metrics"];

/// The path prefix of Envoy's HTTP ext_authz checks (Envoy's `http_service.path_prefix`):
/// `/` and one or more segments of letters, digits, `-`, `_` and `.`, none of them `.` or
/// `..`, and a first segment that is not one of the server's own routes (`check`, `healthz`,
/// `readyz`, `metrics`). A trailing `/` is ignored. The default is `/envoy`.
///
/// ```
/// use portcullis::serve::EnvoyPrefix;
///
/// assert_eq!("/authz/".parse::<EnvoyPrefix>()?.as_str(), "/authz");
/// assert!("/".parse::<EnvoyPrefix>().is_err());
/// assert!("/healthz".parse::<EnvoyPrefix>().is_err());
/// # Ok::<(), portcullis::serve::EnvoyPrefixError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvoyPrefix(String);

/// An Envoy prefix that [`EnvoyPrefix`] does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{prefix}` cannot be the Envoy prefix: {reason}")]
pub struct EnvoyPrefixError {
    prefix: String,
    reason: &'static str,
}

impl EnvoyPrefix {
    /// The prefix, without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for EnvoyPrefix {
    fn default() -> EnvoyPrefix {
        EnvoyPrefix("/envoy".to_owned())
    }
}

impl fmt::Display for EnvoyPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for EnvoyPrefix {
    type Err = EnvoyPrefixError;

    fn from_str(s: &str) -> Result<EnvoyPrefix, EnvoyPrefixError> {
        let refuse = |reason| EnvoyPrefixError {
            prefix: s.to_owned(),
            reason,
        };
        let Some(rest) = s.strip_prefix('/') else {
            return Err(refuse("it must start with `/`"));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() {
            return Err(refuse(
                "it must name a segment, or the server's own routes would answer checks",
            ));
        }
        let segment_ok = |seg: &str| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        if !rest.split('/').all(segment_ok) {
            return Err(refuse(
                "segments hold letters, digits, `-`, `_` and `.`, and are not empty, `.` or `..`",
            ));
        }
        let first = rest.split('/').next().unwrap_or(rest);
        if OWN_ROUTES.contains(&first) {
            return Err(refuse("it is one of the server's own routes"));
        }
        Ok(EnvoyPrefix(format!("/{rest}")))
    }
}

#[cfg(test)]
mod tests {
    use super::EnvoyPrefix;

    #[test]
    fn only_prefixes_apart_from_the_own_routes_are_taken() {
        let cases = [
            ("/envoy", Some("/envoy")),
            ("/envoy/", Some("/envoy")),
            ("/ext/authz", Some("/ext/authz")),
            ("/a.b-c_d", Some("/a.b-c_d")),
            ("/checks", Some("/checks")),
            ("", None),
            ("/", None),
            ("//", None),
            ("envoy", None),
            ("/envoy//x", None),
            ("/./x", None),
            ("/x/..", None),
            ("/check", None),
            ("/healthz/x", None),
            ("/readyz", None),
            ("/metrics/", None),
            ("/a%2Fb", None),
            ("/a?b", None),
            ("/a b", None),
        ];
        for (given, taken) in cases {
            let parsed = given.parse::<EnvoyPrefix>().ok();
            assert_eq!(parsed.as_ref().map(EnvoyPrefix::as_str), taken, "{given:?}");
        }
        assert_eq!(EnvoyPrefix::default().as_str(), "/envoy");
    }
}
