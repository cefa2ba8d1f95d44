//! The request as the engine reads it: method, raw target, headers in order, peer address.

use std::net::IpAddr;

use crate::engine::bytemap::bytes_eq;
use crate::engine::header_names::{length_bit, name_lengths, twin_eq, UNDERSCORE_BIT};

/// An HTTP request built without any framework, for tests, tools and replays.
///
/// The target is kept exactly as sent (escapes, query and all); headers keep their order and
/// repeats.
///
/// ```
/// use portcullis::Request;
///
/// let request = Request::new("GET", "/api/users?page=2")
///     .peer("203.0.113.9".parse()?)
///     .header("Host", "api.example.com")
///     .header("X-Api-Key", "s3cret");
/// assert_eq!(request.target(), b"/api/users?page=2");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    method: String,
    target: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    peer: Option<IpAddr>,
    /// [`RequestView::name_lengths`] of `headers`, kept up to date as lines are added.
    name_lengths: u64,
}

/// `Debug` shows header names and value sizes, never values: any of them may carry a secret.
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: ({} bytes)", v.len()))
            .collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("target", &String::from_utf8_lossy(&self.target))
            .field("headers", &headers)
            .field("peer", &self.peer)
            .finish()
    }
}

impl Request {
    /// A request with the given method and raw target, no headers and no peer.
    pub fn new(method: impl Into<String>, target: impl Into<Vec<u8>>) -> Request {
        Request {
            method: method.into(),
            target: target.into(),
            headers: Vec::new(),
            peer: None,
            name_lengths: 0,
        }
    }

    /// A `GET` request for `target`.
    pub fn get(target: impl Into<Vec<u8>>) -> Request {
        Request::new("GET", target)
    }

    /// Sets the TCP peer address.
    pub fn peer(mut self, peer: IpAddr) -> Request {
        self.peer = Some(peer);
        self
    }

    /// Appends a header line; repeated names are kept as separate lines, in order.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Request {
        let name = name.into();
        self.name_lengths |= name_lengths(std::iter::once(name.as_bytes()));
        self.headers.push((name, value.into()));
        self
    }

    /// The method as sent.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The raw request target.
    pub fn target(&self) -> &[u8] {
        &self.target
    }

    /// The header lines in order.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// The TCP peer address, if set.
    pub fn peer_addr(&self) -> Option<IpAddr> {
        self.peer
    }
}

/// A borrowed view of a request: what [`Engine::decide`](crate::Engine::decide) reads.
///
/// Adapters build one from their framework's request without copying; [`Request`] gives one
/// with [`AsRequestView::view`].
#[derive(Clone, Copy)]
pub struct RequestView<'a> {
    pub(crate) method: &'a [u8],
    pub(crate) target: &'a [u8],
    pub(crate) authority: Option<&'a [u8]>,
    pub(crate) headers: HeaderSource<'a>,
    pub(crate) peer: Option<IpAddr>,
    /// Bit `n` is set when some header name is `n` bytes long (63 for longer ones): most
    /// lookups are for headers a request does not carry, and this answers them at once. Bit 0
    /// (no header name is empty) says that some name holds an `_`: see [`twin_eq`].
    pub(crate) name_lengths: u64,
}

#[derive(Clone, Copy)]
pub(crate) enum HeaderSource<'a> {
    List(&'a [(String, Vec<u8>)]),
    /// The common currency of the ecosystem's frameworks, read without a call.
    #[cfg(feature = "http")]
    Map(&'a http::HeaderMap),
    /// Any other framework's headers, through the glue in its adapter. Compiled only with
    /// an adapter that needs it: an unused variant still costs every lookup a larger match.
    #[cfg(feature = "actix")]
    Store(&'a dyn HeaderStore),
}

/// A framework's own header map, read through its adapter: the engine knows no framework but
/// `http`. Values are looked up by position, so that an iterator over them needs no borrow of
/// a framework type.
#[cfg(feature = "actix")]
pub(crate) trait HeaderStore {
    /// The `skip`-th value (from 0) of the header `name`, given in lowercase.
    fn value(&self, name: &str, skip: usize) -> Option<&[u8]>;

    /// Every header line, name and value, in the store's order: for the rare request with
    /// an underscore in a header name (see [`twin_eq`]).
    fn lines(&self) -> Box<dyn Iterator<Item = (&str, &[u8])> + '_>;
}

impl<'a> RequestView<'a> {
    /// A view of an [`http::Request`] received from `peer`.
    ///
    /// The target is the URI's path and query; an absolute-form URI's authority counts as the
    /// host, as RFC 9112 says it must.
    ///
    /// ```
    /// use portcullis::RequestView;
    ///
    /// let request = http::Request::get("/health").body(())?;
    /// let view = RequestView::from_http(&request, Some("127.0.0.1".parse()?));
    /// assert_eq!(view.target(), b"/health");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "http")]
    pub fn from_http<B>(request: &'a http::Request<B>, peer: Option<IpAddr>) -> RequestView<'a> {
        let uri = request.uri();
        RequestView::from_parts(
            request.method().as_str(),
            uri.path_and_query().map(|pq| pq.as_str()),
            uri.authority().map(|a| a.as_str()),
            HeaderSource::Map(request.headers()),
            request.headers().keys().map(|k| k.as_str()),
            peer,
        )
    }

    /// A view of a framework's request, from its parts. `path_and_query` is `None` for a URI
    /// without a path (CONNECT's authority form): there is no target to decide on, so it is
    /// refused as empty rather than read as `/`.
    #[cfg(any(feature = "http", feature = "actix"))]
    pub(crate) fn from_parts<'n>(
        method: &'a str,
        path_and_query: Option<&'a str>,
        authority: Option<&'a str>,
        headers: HeaderSource<'a>,
        names: impl Iterator<Item = &'n str>,
        peer: Option<IpAddr>,
    ) -> RequestView<'a> {
        RequestView {
            method: method.as_bytes(),
            target: path_and_query.unwrap_or("").as_bytes(),
            authority: authority.map(str::as_bytes),
            headers,
            peer,
            name_lengths: name_lengths(names.map(str::as_bytes)),
        }
    }

    /// The same request with another target: for adapters whose framework rewrites the URI
    /// (axum's nested routers strip their prefix) and keeps the original elsewhere.
    pub fn with_target(mut self, target: &'a [u8]) -> RequestView<'a> {
        self.target = target;
        self
    }

    /// The method as sent.
    pub fn method(&self) -> &'a [u8] {
        self.method
    }

    /// The raw request target.
    pub fn target(&self) -> &'a [u8] {
        self.target
    }

    /// The TCP peer address, if known.
    pub fn peer(&self) -> Option<IpAddr> {
        self.peer
    }

    /// Whether the request may carry some header whose length is in `lengths` (from
    /// [`lengths_of`]): false rules out every such header, twins included, at once.
    #[inline]
    pub(crate) fn may_carry_any(&self, lengths: u64) -> bool {
        self.name_lengths & (lengths | UNDERSCORE_BIT) != 0
    }

    /// Every value of the header `name` (lowercase) and of its underscore twins (see
    /// [`twin_eq`]), in order.
    #[inline]
    pub(crate) fn header_values(&self, name: &'a str) -> HeaderValues<'a> {
        if self.name_lengths & length_bit(name.len()) == 0 {
            return HeaderValues::Empty;
        }
        if self.name_lengths & UNDERSCORE_BIT != 0 {
            return self.twin_values(name);
        }
        match self.headers {
            HeaderSource::List(list) => HeaderValues::List { list, name },
            #[cfg(feature = "http")]
            HeaderSource::Map(map) => HeaderValues::Map(map.get_all(name).iter()),
            #[cfg(feature = "actix")]
            HeaderSource::Store(store) => HeaderValues::Store {
                store,
                name,
                next: 0,
            },
        }
    }
}

impl<'a> RequestView<'a> {
    /// The slow path of [`RequestView::header_values`], for the rare request with an
    /// underscore in some header name: every header is compared, twins included.
    #[cold]
    fn twin_values(&self, name: &'a str) -> HeaderValues<'a> {
        match self.headers {
            HeaderSource::List(list) => HeaderValues::Twins { list, name },
            #[cfg(feature = "http")]
            HeaderSource::Map(map) => HeaderValues::MapTwins {
                iter: map.iter(),
                name,
            },
            #[cfg(feature = "actix")]
            HeaderSource::Store(store) => HeaderValues::StoreTwins {
                lines: store.lines(),
                name,
            },
        }
    }

    /// Whether the request carries `name` under another spelling: an underscore twin.
    pub(crate) fn has_twin(&self, name: &str) -> bool {
        if self.name_lengths & UNDERSCORE_BIT == 0 {
            return false;
        }
        let twin =
            |n: &[u8]| twin_eq(n, name.as_bytes()) && !n.eq_ignore_ascii_case(name.as_bytes());
        match self.headers {
            HeaderSource::List(list) => list.iter().any(|(n, _)| twin(n.as_bytes())),
            #[cfg(feature = "http")]
            HeaderSource::Map(map) => map.keys().any(|n| twin(n.as_str().as_bytes())),
            #[cfg(feature = "actix")]
            HeaderSource::Store(store) => store.lines().any(|(n, _)| twin(n.as_bytes())),
        }
    }
}

impl std::fmt::Debug for RequestView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestView")
            .field("method", &String::from_utf8_lossy(self.method))
            .field("target", &String::from_utf8_lossy(self.target))
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// Something the engine can read as a request.
pub trait AsRequestView {
    /// A borrowed view of the request.
    fn view(&self) -> RequestView<'_>;
}

impl AsRequestView for Request {
    fn view(&self) -> RequestView<'_> {
        RequestView {
            method: self.method.as_bytes(),
            target: &self.target,
            authority: None,
            headers: HeaderSource::List(&self.headers),
            peer: self.peer,
            name_lengths: self.name_lengths,
        }
    }
}

impl<T: AsRequestView + ?Sized> AsRequestView for &T {
    fn view(&self) -> RequestView<'_> {
        (**self).view()
    }
}

impl AsRequestView for RequestView<'_> {
    fn view(&self) -> RequestView<'_> {
        *self
    }
}

pub(crate) enum HeaderValues<'a> {
    Empty,
    List {
        list: &'a [(String, Vec<u8>)],
        name: &'a str,
    },
    #[cfg(feature = "http")]
    Map(http::header::ValueIter<'a, http::HeaderValue>),
    #[cfg(feature = "actix")]
    Store {
        store: &'a dyn HeaderStore,
        name: &'a str,
        next: usize,
    },
    /// Every line whose name is `name` or a twin of it.
    Twins {
        list: &'a [(String, Vec<u8>)],
        name: &'a str,
    },
    #[cfg(feature = "http")]
    MapTwins {
        iter: http::header::Iter<'a, http::HeaderValue>,
        name: &'a str,
    },
    #[cfg(feature = "actix")]
    StoreTwins {
        lines: Box<dyn Iterator<Item = (&'a str, &'a [u8])> + 'a>,
        name: &'a str,
    },
}

impl<'a> Iterator for HeaderValues<'a> {
    type Item = &'a [u8];

    #[inline(always)]
    fn next(&mut self) -> Option<&'a [u8]> {
        // Most lookups are for headers the request does not carry, and most requests come as
        // a `Request` or an `http::Request`: those are answered here, without a call into the
        // rest, whose many variants cost a large frame.
        match self {
            HeaderValues::Empty => None,
            HeaderValues::List { list, name } => next_line(list, name),
            #[cfg(feature = "http")]
            HeaderValues::Map(it) => it.next().map(|v| v.as_bytes()),
            _ => self.next_value(),
        }
    }
}

/// The value of the first line of `list` named `name`, moving `list` past it.
#[inline]
fn next_line<'a>(list: &mut &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    let at = list.iter().position(|(n, _)| {
        // Names are most often written in lowercase: compare bytes first.
        n.len() == name.len()
            && (bytes_eq(n.as_bytes(), name.as_bytes()) || n.eq_ignore_ascii_case(name))
    })?;
    let value = list.get(at).map(|(_, v)| v.as_slice());
    *list = list.get(at + 1..).unwrap_or(&[]);
    value
}

impl<'a> HeaderValues<'a> {
    #[cold]
    fn next_value(&mut self) -> Option<&'a [u8]> {
        match self {
            HeaderValues::Empty => None,
            HeaderValues::List { list, name } => next_line(list, name),
            #[cfg(feature = "http")]
            HeaderValues::Map(it) => it.next().map(|v| v.as_bytes()),
            #[cfg(feature = "actix")]
            HeaderValues::Store { store, name, next } => {
                let value = store.value(name, *next)?;
                *next += 1;
                Some(value)
            }
            HeaderValues::Twins { list, name } => {
                let at = list
                    .iter()
                    .position(|(n, _)| twin_eq(n.as_bytes(), name.as_bytes()))?;
                let value = list.get(at).map(|(_, v)| v.as_slice());
                *list = list.get(at + 1..).unwrap_or(&[]);
                value
            }
            #[cfg(feature = "http")]
            HeaderValues::MapTwins { iter, name } => iter
                .find(|(n, _)| twin_eq(n.as_str().as_bytes(), name.as_bytes()))
                .map(|(_, v)| v.as_bytes()),
            #[cfg(feature = "actix")]
            HeaderValues::StoreTwins { lines, name } => lines
                .find(|(n, _)| twin_eq(n.as_bytes(), name.as_bytes()))
                .map(|(_, v)| v),
        }
    }
}

/// Trims the optional white space (spaces and tabs) around a header value.
pub(crate) fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    v.get(start..end).unwrap_or(&[])
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
