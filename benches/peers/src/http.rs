//! What every peer does before it asks its engine: read the raw request into the fields its
//! policy needs, and turn an API key into a client (hash, then look the digest up), the way
//! portcullis does inside `decide`. Its cost is part of every peer's measurement.
//!
//! This reading is deliberately plain: the path is the target up to `?`, not percent-decoded
//! and not checked for dot segments, `//`, encoded slashes and the other ambiguities portcullis
//! refuses before any rule runs. Peers therefore do less work per request than portcullis here.

use std::collections::HashMap;
use std::net::IpAddr;

use portcullis::Request;
use sha2::{Digest, Sha256};

use crate::spec::{Client, Spec};

/// The key table: digest to client index.
#[derive(Debug, Clone)]
pub struct Keys {
    header: String,
    bearer: bool,
    digests: HashMap<[u8; 32], usize>,
    /// The clients, by index.
    pub clients: Vec<Client>,
}

impl Keys {
    /// The key table of a policy.
    pub fn new(spec: &Spec) -> Keys {
        let mut digests = HashMap::new();
        for (i, c) in spec.clients.iter().enumerate() {
            for d in &c.digests {
                digests.insert(*d, i);
            }
        }
        Keys {
            header: spec.key_header.clone(),
            bearer: spec.bearer,
            digests,
            clients: spec.clients.clone(),
        }
    }

    /// The client a request's key belongs to, if it carries a known key.
    pub fn identify(&self, request: &Request) -> Option<usize> {
        let mut key = None;
        for (name, value) in request.headers() {
            if name.eq_ignore_ascii_case(&self.header) {
                key = Some(value.as_slice());
            } else if self.bearer && name.eq_ignore_ascii_case("authorization") {
                let v = value.trim_ascii();
                if v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ") {
                    key = Some(&v[7..]);
                }
            }
        }
        let key = key?.trim_ascii();
        if key.is_empty() {
            return None;
        }
        let digest: [u8; 32] = Sha256::digest(key).into();
        self.digests.get(&digest).copied()
    }

    /// Whether `name` carries credentials (never handed to an engine as a value).
    pub fn is_credential(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case(&self.header) || name.eq_ignore_ascii_case("authorization")
    }
}

/// A request read for a peer.
#[derive(Debug)]
pub struct Fields<'a> {
    /// The client address (the TCP peer).
    pub ip: IpAddr,
    /// The method as sent.
    pub method: &'a str,
    /// The target up to `?`.
    pub path: &'a str,
    /// The client the key belongs to.
    pub client: Option<usize>,
    /// The raw request, for its headers.
    pub request: &'a Request,
}

impl<'a> Fields<'a> {
    /// Reads `request`; `None` when it has no peer address or a target that is not a UTF-8
    /// origin-form path (portcullis refuses those too).
    pub fn read(request: &'a Request, keys: &Keys) -> Option<Fields<'a>> {
        let target = std::str::from_utf8(request.target()).ok()?;
        if !target.starts_with('/') {
            return None;
        }
        let path = target.split_once('?').map_or(target, |(p, _)| p);
        Some(Fields {
            ip: request.peer_addr()?,
            method: request.method(),
            path,
            client: keys.identify(request),
            request,
        })
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.request
            .headers()
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The User-Agent, lower-cased (User-Agent globs match case-insensitively).
    pub fn user_agent(&self) -> String {
        self.header("user-agent")
            .map(|v| String::from_utf8_lossy(v).to_ascii_lowercase())
            .unwrap_or_default()
    }
}
