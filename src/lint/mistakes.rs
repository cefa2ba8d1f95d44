//! The mistakes people make when they write globs: a path glob whose `*` was meant to cover
//! a subtree, a User-Agent without a wildcard, a host written as a URL; and those made with
//! bearer-token conditions (see `token_mistakes.rs`).
//!
//! These read only the document, so they are found before compiling: a host written as a
//! URL is also a compile error, and the warning says what was meant.

use super::Warning;
use crate::policy::model::{Conditions, OneOrMany};
use crate::policy::source::Seg;
use crate::Policy;

const WILDCARDS: [char; 5] = ['*', '?', '[', '{', '\\'];

/// The glob and token-condition mistakes in a parsed policy, whether or not it compiles.
///
/// ```
/// use portcullis::{lint::mistakes, Policy};
///
/// let policy = Policy::from_toml(r#"
///     [policy]
///     default = "allow"
///     [[rules]]
///     name = "admin"
///     effect = "forbid"
///     when = { path = "/admin*" }
/// "#)?;
/// let found = mistakes(&policy);
/// assert_eq!(found[0].code, "path-star-stops-at-slash");
/// assert!(found[0].message.contains("`/admin/**`"));
/// # Ok::<(), portcullis::PolicyError>(())
/// ```
pub fn mistakes(policy: &Policy) -> Vec<Warning> {
    let mut out = Vec::new();
    for (i, r) in policy.doc.rules.iter().enumerate() {
        let clauses = [("when", Some(&r.when)), ("unless", r.unless.as_ref())];
        for (clause, c) in clauses {
            let Some(c) = c else { continue };
            let mut found = |key: &'static str, k: usize, value: &str, code, message: String| {
                let location = policy.source.locate(
                    &[
                        Seg::Key("rules"),
                        Seg::Index(i),
                        Seg::Key(clause),
                        Seg::Key(key),
                        Seg::Index(k),
                    ],
                    &[&r.name, key, value],
                );
                out.push(Warning {
                    code,
                    rule: Some(r.name.clone()),
                    location,
                    message,
                });
            };
            check(c, &mut found);
        }
    }
    super::token_mistakes::token_mistakes(policy, &mut out);
    out
}

type Found<'a> = dyn FnMut(&'static str, usize, &str, &'static str, String) + 'a;

fn values(v: &Option<OneOrMany<String>>) -> impl Iterator<Item = (usize, &String)> {
    v.iter().flat_map(|v| v.0.iter().enumerate())
}

fn check(c: &Conditions, found: &mut Found<'_>) {
    for (k, glob) in values(&c.path) {
        if let Some(prefix) = star_prefix(glob) {
            found("path", k, glob, "path-star-stops-at-slash", format!(
                "path glob `{glob}` does not match `{prefix}/...`: `*` stops at `/`; for the tree below write `{prefix}/**`, or `{prefix}{{,/**}}` for `{prefix}` too"
            ));
        }
    }
    for (k, glob) in values(&c.user_agent) {
        if !glob.contains(WILDCARDS) {
            found("user_agent", k, glob, "user-agent-without-wildcard", format!(
                "User-Agent glob `{glob}` has no wildcard, so it matches only that exact value, not `{glob}/1.0` nor `Mozilla/5.0 ({glob})`; write `*{glob}*`"
            ));
        }
    }
    for (k, glob) in values(&c.host) {
        if let Some(host) = url_host(glob) {
            found("host", k, glob, "host-looks-like-url", format!(
                "host glob `{glob}` looks like a URL; host globs match the Host header's name alone: write `{host}`"
            ));
        }
    }
}

/// For a glob whose last segment is literal text and one `*` (`/admin*`), the glob without
/// that `*` (`/admin`).
fn star_prefix(glob: &str) -> Option<&str> {
    let without = glob.strip_suffix('*')?;
    let last = without.rsplit('/').next()?;
    (!last.is_empty() && !without.contains(WILDCARDS)).then_some(without)
}

/// For a host glob written as a URL (`https://example.com/`, `example.com/api`), the host.
fn url_host(glob: &str) -> Option<&str> {
    let rest = glob.split_once("://").map_or(glob, |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    (host != glob && !host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_prefixes() {
        let cases = [
            ("/admin*", Some("/admin")),
            ("/api/v1*", Some("/api/v1")),
            ("/admin/*", None),
            ("/admin/**", None),
            ("/*", None),
            ("*", None),
            ("/a*b*", None),
            ("/a{b,c}*", None),
            ("/admin", None),
        ];
        for (glob, want) in cases {
            assert_eq!(star_prefix(glob), want, "{glob}");
        }
    }

    #[test]
    fn url_hosts() {
        let cases = [
            ("https://example.com/", Some("example.com")),
            ("http://api.example.com:8080/v1", Some("api.example.com")),
            ("example.com/api", Some("example.com")),
            ("https://*.example.com", Some("*.example.com")),
            ("example.com", None),
            ("*.example.com", None),
            ("[::1]", None),
        ];
        for (glob, want) in cases {
            assert_eq!(url_host(glob), want, "{glob}");
        }
    }
}
