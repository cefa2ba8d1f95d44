//! Request preparation: reading a request strictly, once, into the scratch buffers, and the
//! readings (method overrides, path and host variants) it may have.
//!
//! Anything that components could read differently is refused here, before any rule runs.

use std::net::IpAddr;

use super::claims::TokenState;
use super::client_ip::Derivation;
use super::forwarded;
use super::header_names::lengths_of;
use super::keys::{self, Credentials};
use super::overrides::{is_method_override_key, METHOD_OVERRIDE_HEADERS, URL_OVERRIDE_HEADERS};

const METHOD_OVERRIDE_LENGTHS: u64 = lengths_of(&METHOD_OVERRIDE_HEADERS);
const URL_OVERRIDE_LENGTHS: u64 = lengths_of(&URL_OVERRIDE_HEADERS);
use super::request::{self, RequestView};
use super::verdict::{Refusal, UnknownClient};
use super::{host, path};
use super::{Engine, Scratch};
use crate::vocabulary::OnUnknownClient;

/// The most readings of one request's method (the method and its overrides).
pub(crate) const MAX_METHOD_READINGS: usize = 4;

/// The most distinct hosts one request may name (its own, and forwarding headers' claims).
pub(crate) const MAX_HOST_READINGS: usize = 3;

/// A request read strictly, ready for the slots.
pub(crate) struct Prepared {
    pub(crate) methods: usize,
    pub(crate) two_paths: bool,
    /// How many host readings `Scratch::hosts` holds (0: the request names no host).
    pub(crate) hosts: usize,
    pub(crate) client: Result<(IpAddr, Derivation), UnknownClient>,
    pub(crate) credentials: Credentials,
    /// The bearer token, when the policy reads tokens.
    pub(crate) token: TokenState,
}

/// Which reading of a request decided: indexes into the method, path and host readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Reading {
    pub(crate) method: usize,
    pub(crate) kept_path: bool,
    pub(crate) host: usize,
}

impl Prepared {
    /// Every reading of the request: methods × paths × hosts, the plain one first.
    pub(crate) fn readings(&self) -> Readings {
        Readings {
            next: Some(Reading::default()),
            methods: self.methods,
            two_paths: self.two_paths,
            hosts: self.hosts.max(1),
        }
    }
}

/// The readings of a request, counted through in place: the usual request has one, and
/// walking them must cost next to nothing then.
pub(crate) struct Readings {
    next: Option<Reading>,
    methods: usize,
    two_paths: bool,
    hosts: usize,
}

impl Iterator for Readings {
    type Item = Reading;

    #[inline]
    fn next(&mut self) -> Option<Reading> {
        let current = self.next.filter(|r| r.method < self.methods)?;
        // Hosts vary fastest, then the path reading, then the method.
        let mut following = current;
        following.host += 1;
        if following.host == self.hosts {
            following.host = 0;
            if self.two_paths && !following.kept_path {
                following.kept_path = true;
            } else {
                following.kept_path = false;
                following.method += 1;
            }
        }
        self.next = Some(following);
        Some(current)
    }
}

impl Engine {
    /// Reads the request strictly into the scratch buffers.
    pub(crate) fn prepare(
        &self,
        view: &RequestView<'_>,
        s: &mut Scratch,
    ) -> Result<Prepared, Refusal> {
        // Methods: the request's, then each distinct override, all upper-cased so that a case
        // variant cannot slip past a method condition.
        if !path::is_token(view.method) {
            return Err(Refusal::InvalidMethod);
        }
        let mut methods = 0;
        push_method(&mut s.methods, &mut methods, view.method)?;
        if view.may_carry_any(METHOD_OVERRIDE_LENGTHS) {
            for name in METHOD_OVERRIDE_HEADERS {
                for value in view.header_values(name) {
                    let value = request::trim_ows(value);
                    if !path::is_token(value) {
                        return Err(Refusal::InvalidMethodOverride);
                    }
                    push_method(&mut s.methods, &mut methods, value)?;
                }
            }
        }

        // `?_method=DELETE` is one more override (Laravel, Rails and others honour it). `;`
        // separates parameters too for some backends (CVE-2021-23336).
        if let Some(query) = path::query(view.target) {
            for pair in query.split(|&b| b == b'&' || b == b';') {
                let Some(at) = memchr::memchr(b'=', pair) else {
                    continue;
                };
                let (key, value) = (
                    pair.get(..at).unwrap_or(&[]),
                    pair.get(at + 1..).unwrap_or(&[]),
                );
                // Backends decode the query (`+` as a space) before reading `_method`: so does
                // the engine.
                path::form_decode(key, &mut s.query_decoded)
                    .ok_or(Refusal::InvalidMethodOverride)?;
                if !is_method_override_key(&s.query_decoded) {
                    continue;
                }
                path::form_decode(value, &mut s.query_decoded)
                    .ok_or(Refusal::InvalidMethodOverride)?;
                if !path::is_token(&s.query_decoded) {
                    return Err(Refusal::InvalidMethodOverride);
                }
                let value = std::mem::take(&mut s.query_decoded);
                let pushed = push_method(&mut s.methods, &mut methods, &value);
                s.query_decoded = value;
                pushed?;
            }
        }
        // Some backends route on these headers instead of the target: when rules read the
        // path, a request carrying one is ambiguous.
        if self.slots.path.is_some() && view.may_carry_any(URL_OVERRIDE_LENGTHS) {
            for name in URL_OVERRIDE_HEADERS {
                if view.header_values(name).next().is_some() {
                    return Err(Refusal::UrlOverride);
                }
            }
        }

        let target = path::split_target(view.target, self.settings.path_options.max_length)?;
        // RFC 9112 section 3.2.4: the asterisk form is for OPTIONS alone; frameworks send any
        // request for `*` to their fallback handler, which no path rule names.
        if target.path == b"*"
            && s.methods
                .iter()
                .take(methods)
                .any(|m| m.as_slice() != b"OPTIONS")
        {
            return Err(Refusal::AsteriskForm);
        }
        let two_paths = path::normalize(target.path, self.settings.path_options, &mut s.paths)?;

        // Host: an absolute-form target's authority, else the one Host header. Two Host lines
        // are always refused; the host itself is only read when rules look at it, since
        // otherwise it cannot change the decision.
        let mut hosts = 0;
        let mut host_lines = view.header_values("host");
        let header_host = host_lines.next();
        if host_lines.next().is_some() {
            return Err(Refusal::AmbiguousHost);
        }
        if self.slots.host.is_some() {
            let authority = view.authority.or(target.authority);
            if let Some(authority) = authority {
                self.push_host(s, &mut hosts, authority)?;
                if let Some(h) = header_host {
                    host::normalize_host(h, &mut s.host_read)?;
                    if hosts > 0 && s.hosts.first() != Some(&s.host_read) {
                        return Err(Refusal::AmbiguousHost);
                    }
                }
            } else if let Some(h) = header_host {
                self.push_host(s, &mut hosts, h)?;
            }
            // A request that names no host (HTTP/1.0 allows it), or an empty one, gets a host
            // from the framework: actix-web's `ConnectionInfo::host` is then the server's
            // configured name or its own address. The engine cannot know it, and a forbid rule
            // on that host would not hold: refuse the request as ambiguous.
            if hosts == 0 {
                return Err(Refusal::MissingHost);
            }
        }
        // Frameworks' host extractors may prefer what a forwarding header claims; when rules
        // read the host, each claim is another reading, and all must be allowed.
        if self.slots.host.is_some() {
            for line in view.header_values("x-forwarded-host") {
                for claim in line.split(|&b| b == b',') {
                    // An empty claim is no host to the engine, but a backend that takes the
                    // header whole reads something: refuse it as unreadable.
                    if request::trim_ows(claim).is_empty() {
                        return Err(Refusal::InvalidHost);
                    }
                    self.push_host(s, &mut hosts, claim)?;
                }
            }
            for line in view.header_values("forwarded") {
                let mut claims = [&[][..]; MAX_HOST_READINGS + 1];
                let mut count = 0;
                forwarded::elements(line, |e| {
                    if let Some(host) = e.host {
                        if let Some(slot) = claims.get_mut(count) {
                            *slot = host;
                        }
                        count += 1;
                    }
                })
                .map_err(|_| Refusal::MalformedForwarded)?;
                if count > claims.len() {
                    return Err(Refusal::AmbiguousHost);
                }
                for claim in claims.iter().take(count) {
                    if claim.is_empty() {
                        return Err(Refusal::InvalidHost);
                    }
                    self.push_host(s, &mut hosts, claim)?;
                }
            }
        }

        let client = self.settings.client_ip.derive(view);
        if let Err(unknown) = client {
            // No peer at all is a misconfigured adapter, not a client to evaluate.
            if self.settings.on_unknown == OnUnknownClient::Forbid
                || unknown == UnknownClient::NoPeer
            {
                return Err(Refusal::UnknownClient(unknown));
            }
        }
        let credentials = match &self.callers.keys {
            Some(keys) => keys.identify(view)?,
            None => Credentials::None,
        };
        let token = match &self.callers.tokens {
            Some(tokens) => {
                let token = keys::bearer_credential(view)?;
                match token {
                    // A key and a token name two callers: as ambiguous as two keys.
                    Some(_) if credentials != Credentials::None => {
                        return Err(Refusal::AmbiguousCredentials)
                    }
                    Some(t) => match tokens.cached(t, &s.tokens) {
                        Some(state) => state,
                        // A backend that reads the header as a list takes an element of it.
                        // Checked here, before the first verification: a token this thread
                        // has verified holds no comma.
                        None if keys::has_comma(t) => return Err(Refusal::AmbiguousCredentials),
                        None => tokens.verify(t, &mut s.tokens),
                    },
                    None => TokenState::None,
                }
            }
            None => TokenState::None,
        };
        Ok(Prepared {
            methods,
            two_paths,
            hosts,
            client,
            credentials,
            token,
        })
    }

    /// Adds a distinct, non-empty host reading.
    fn push_host(&self, s: &mut Scratch, count: &mut usize, raw: &[u8]) -> Result<(), Refusal> {
        host::normalize_host(raw, &mut s.host_read)?;
        if s.host_read.is_empty() || s.hosts.iter().take(*count).any(|h| *h == s.host_read) {
            return Ok(());
        }
        let slot = s.hosts.get_mut(*count).ok_or(Refusal::AmbiguousHost)?;
        slot.clone_from(&s.host_read);
        *count += 1;
        Ok(())
    }
}

fn push_method(
    methods: &mut [Vec<u8>; MAX_METHOD_READINGS],
    count: &mut usize,
    method: &[u8],
) -> Result<(), Refusal> {
    let already = methods
        .iter()
        .take(*count)
        .any(|m| m.eq_ignore_ascii_case(method));
    if already {
        return Ok(());
    }
    let slot = methods
        .get_mut(*count)
        .ok_or(Refusal::InvalidMethodOverride)?;
    slot.clear();
    slot.extend(method.iter().map(u8::to_ascii_uppercase));
    *count += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::verdict::Cause;
    use crate::{Policy, Request};

    #[test]
    fn a_request_without_a_host_is_refused_when_rules_read_the_host() {
        let reads_host = Policy::from_toml(
            "[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"r\"\neffect = \"forbid\"\n\
             when = { host = [\"internal.example\"] }",
        )
        .unwrap()
        .compile()
        .unwrap();
        let no_hosts = Policy::from_toml("[policy]\ndefault = \"allow\"")
            .unwrap()
            .compile()
            .unwrap();
        let peer = "192.0.2.1".parse().unwrap();
        let refused = Cause::Refused(Refusal::MissingHost);
        // actix-web reads the server's own name for these: the engine cannot.
        let hostless = [
            Request::get("/x").peer(peer),
            Request::get("/x").peer(peer).header("Host", ""),
            Request::get("/x").peer(peer).header("Host", " \t"),
        ];
        for request in &hostless {
            assert_eq!(reads_host.decide(request).cause(), refused, "{request:?}");
            assert!(no_hosts.decide(request).is_allowed(), "{request:?}");
        }
        let named = [
            Request::get("/x").peer(peer).header("Host", "example.com"),
            Request::get("http://example.com/x").peer(peer),
        ];
        for request in &named {
            assert!(reads_host.decide(request).is_allowed(), "{request:?}");
        }
        // A forwarding header's claim does not make up for the request's own host.
        let claim_only = Request::get("/x")
            .peer(peer)
            .header("X-Forwarded-Host", "example.com");
        assert_eq!(reads_host.decide(&claim_only).cause(), refused);
    }

    #[test]
    fn readings_are_the_whole_product_plain_first() {
        for methods in 1..=MAX_METHOD_READINGS {
            for two_paths in [false, true] {
                for hosts in 0..=MAX_HOST_READINGS {
                    let p = Prepared {
                        methods,
                        two_paths,
                        hosts,
                        client: Err(UnknownClient::NoPeer),
                        credentials: Credentials::None,
                        token: TokenState::None,
                    };
                    let mut want = Vec::new();
                    for method in 0..methods {
                        for kept_path in [false, true].into_iter().filter(|&k| !k || two_paths) {
                            for host in 0..hosts.max(1) {
                                want.push(Reading {
                                    method,
                                    kept_path,
                                    host,
                                });
                            }
                        }
                    }
                    let got: Vec<Reading> = p.readings().collect();
                    assert_eq!(got, want, "{methods} {two_paths} {hosts}");
                    assert_eq!(got.first(), Some(&Reading::default()));
                }
            }
        }
    }
}
