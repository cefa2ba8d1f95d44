//! What the engine answers: a small, copyable [`Verdict`].

use std::fmt;
use std::net::IpAddr;

use super::claims::TokenFault;
use super::ids::SmallIndex;

/// The index of a rule in its policy, in file order. Only an engine makes them: look a rule up
/// with [`Engine::rule`](crate::Engine::rule).
///
/// ```
/// use portcullis::Policy;
///
/// let engine = Policy::from_toml(r#"
///     [policy]
///     default = "allow"
///     [[rules]]
///     name = "first"
///     effect = "forbid"
///     when = { path = ["/a"] }
/// "#)?.compile()?;
/// let id = engine.rules()[0].id();
/// assert_eq!(id.index(), 0);
/// assert_eq!(engine.rule(id).map(|r| r.name()), Some("first"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleId(pub(crate) SmallIndex);

impl RuleId {
    /// The rule's position in file order.
    pub fn index(self) -> usize {
        self.0.as_usize()
    }
}

/// The index of an API client in its policy (in name order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub(crate) SmallIndex);

impl ClientId {
    /// The client's position in name order.
    pub fn index(self) -> usize {
        self.0.as_usize()
    }
}

/// Allow or forbid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The request may pass.
    Allow,
    /// The request is refused.
    Forbidden,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Allow => "allow",
            Decision::Forbidden => "forbidden",
        })
    }
}

/// Why the client address is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum UnknownClient {
    /// The request came with no peer address.
    #[error("the request has no peer address")]
    NoPeer,
    /// A forwarding-header entry that had to be read is not a valid address.
    #[error("a forwarding-header entry is not a valid address")]
    InvalidHop,
    /// A forwarding-header entry is `unknown` or an obfuscated identifier.
    #[error("a forwarding-header entry hides the address")]
    HiddenHop,
    /// A header that must appear once appears several times.
    #[error("the forwarding header appears more than once")]
    RepeatedHeader,
    /// The forwarding header comes with an underscore twin (`X_Forwarded_For`) that a backend
    /// may read as the header itself.
    #[error("the forwarding header has an underscore twin")]
    AmbiguousHeader,
}

/// Why a request was refused before any rule ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Refusal {
    /// The request target is empty.
    #[error("the request target is empty")]
    EmptyTarget,
    /// The request target is longer than the policy allows.
    #[error("the request target is longer than the limit")]
    TargetTooLong,
    /// The target is neither origin-form (`/path`) nor absolute-form (`http://host/path`).
    #[error("the request target is not in origin or absolute form")]
    TargetForm,
    /// The asterisk form (`*`) with a method other than `OPTIONS` (RFC 9112 section 3.2.4).
    #[error("the target `*` is only for OPTIONS")]
    AsteriskForm,
    /// A `#` in the target: clients never send fragments.
    #[error("the request target holds a `#`")]
    Fragment,
    /// A `.` or `..` segment, raw or encoded.
    #[error("the path holds a dot segment")]
    DotSegment,
    /// An empty segment (`//`).
    #[error("the path holds an empty segment (`//`)")]
    EmptySegment,
    /// A raw backslash.
    #[error("the path holds a backslash")]
    Backslash,
    /// `%2F`.
    #[error("the path holds an encoded `/`")]
    EncodedSlash,
    /// `%5C`.
    #[error("the path holds an encoded backslash")]
    EncodedBackslash,
    /// `%25`.
    #[error("the path holds an encoded `%`")]
    EncodedPercent,
    /// `%3F` or `%23`.
    #[error("the path holds an encoded `?` or `#`")]
    EncodedDelimiter,
    /// `;`, raw or encoded: servlet containers strip path parameters.
    #[error("the path holds a `;` path parameter")]
    PathParameter,
    /// A segment that starts or ends with a space once decoded (`/admin%20/x`, or a Unicode
    /// space such as `%C2%A0`): some backends trim it.
    #[error("a path segment starts or ends with a space")]
    EdgeSpace,
    /// Under case-insensitive paths, a character that some backends fold to ASCII (dotless
    /// `ı`, long `ſ`, the Kelvin sign): `/admın` is `/admin` to Java's `equalsIgnoreCase`.
    #[error("the path holds a character that some backends fold to an ASCII letter")]
    CaseFoldsToAscii,
    /// A character that Unicode compatibility normalisation (NFKC) turns into ASCII
    /// (fullwidth `／` or `ｐ`, ligatures): `/ｐrivate` is `/private` to backends that normalise.
    #[error("the path holds a character that Unicode normalisation turns into ASCII")]
    CompatibilityCharacter,
    /// Under case-insensitive paths, a form Windows reads as another name: a segment ending in
    /// `.`, an NTFS stream (`::$DATA`), an 8.3 short name (`ADMINI~1`).
    #[error("the path holds a form Windows reads as another name (a trailing dot, a stream, a short name)")]
    WindowsAlias,
    /// `X-Original-URL` or `X-Rewrite-URL`: some backends route on these instead of the target.
    #[error("the request carries a URL-override header")]
    UrlOverride,
    /// A control character or raw space, raw or encoded.
    #[error("the path holds a control character or raw space")]
    ControlCharacter,
    /// A `%` not followed by two hex digits.
    #[error("the path holds an invalid percent-escape")]
    InvalidEscape,
    /// Bytes that are not UTF-8 once decoded.
    #[error("the path is not valid UTF-8 once decoded")]
    NotUtf8,
    /// The method is not an HTTP token.
    #[error("the method is not a valid token")]
    InvalidMethod,
    /// A method-override header holds something that is not a method, or too many.
    #[error("a method-override header is invalid")]
    InvalidMethodOverride,
    /// More than one host, or a Host header that disagrees with an absolute target.
    #[error("the request names more than one host")]
    AmbiguousHost,
    /// A `Forwarded` header that does not follow RFC 7239 strictly (white space around `=`,
    /// a repeated parameter, an unquoted IPv6 address, ...): frameworks read such headers
    /// loosely, so what they make of it cannot be known.
    #[error("a `Forwarded` header does not follow RFC 7239")]
    MalformedForwarded,
    /// A host that is not a valid host name or address.
    #[error("the host is not a valid host name")]
    InvalidHost,
    /// No host at all (an HTTP/1.0 request without `Host`), or an empty one, when rules read
    /// the host: frameworks fill in one of their own (actix-web's `ConnectionInfo` takes the
    /// server's configured name or address), which the engine cannot know.
    #[error("the request names no host")]
    MissingHost,
    /// Two different API keys in one request.
    #[error("the request carries more than one API key")]
    AmbiguousCredentials,
    /// The client address could not be determined.
    #[error("the client address is unknown: {0}")]
    UnknownClient(UnknownClient),
}

impl Refusal {
    /// The status this refusal asks for: 403 for an unknown client, 400 otherwise.
    pub fn status(self) -> u16 {
        match self {
            Refusal::UnknownClient(_) => 403,
            _ => 400,
        }
    }
}

/// What decided a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// A rule applied.
    Rule(RuleId),
    /// No rule applied; the policy default decided.
    Default,
    /// The request was refused before any rule ran.
    Refused(Refusal),
}

/// The report-mode rules that applied: at most [`Reported::CAPACITY`] are kept, in rule order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reported {
    ids: [SmallIndex; Reported::CAPACITY],
    len: u8,
    overflow: bool,
}

impl Reported {
    /// How many rule ids a verdict carries.
    pub const CAPACITY: usize = 8;

    pub(crate) fn push(&mut self, id: RuleId) {
        let len = usize::from(self.len);
        if self.iter().any(|r| r == id) {
            return;
        }
        match self.ids.get_mut(len) {
            Some(slot) => {
                *slot = id.0;
                self.len += 1;
            }
            None => self.overflow = true,
        }
    }

    /// The rules, in the order met.
    pub fn iter(&self) -> impl Iterator<Item = RuleId> + '_ {
        self.ids
            .iter()
            .take(usize::from(self.len))
            .map(|&i| RuleId(i))
    }

    /// True when no report-mode rule applied.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when more rules applied than the verdict could carry.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }
}

/// The engine's answer for one request: small, copyable, made without allocating.
///
/// Names and locations of the rules it refers to come from the [`Engine`](crate::Engine) that
/// made it; [`Engine::explain`](crate::Engine::explain) tells the whole story.
///
/// # Examples
///
/// ```
/// use portcullis::{Cause, Decision, Policy, Request};
///
/// let engine = Policy::from_toml(r#"
///     [policy]
///     default = "allow"
///
///     [[rules]]
///     name = "no-admin"
///     effect = "forbid"
///     when = { path = ["/admin/**"] }
/// "#)?.compile()?;
///
/// let verdict = engine.decide(&Request::get("/admin").peer("192.0.2.1".parse()?));
/// assert_eq!(verdict.decision(), Decision::Forbidden);
/// assert_eq!(verdict.status(), 403);
/// let Cause::Rule(id) = verdict.cause() else { panic!("a rule decided") };
/// assert_eq!(engine.rule(id).map(|r| r.name()), Some("no-admin"));
///
/// // No rule applies: the policy's default (here `allow`) decides.
/// let verdict = engine.decide(&Request::get("/").peer("192.0.2.1".parse()?));
/// assert!(verdict.is_allowed());
/// assert_eq!(verdict.cause(), Cause::Default);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub(crate) decision: Decision,
    pub(crate) status: u16,
    pub(crate) cause: Cause,
    pub(crate) client_ip: Option<IpAddr>,
    pub(crate) client: Option<ClientId>,
    pub(crate) reported: Reported,
    pub(crate) enforced: bool,
    pub(crate) challenge: Option<Challenge>,
}

/// What a refusal tells a bearer-token client in `WWW-Authenticate` (RFC 6750 section 3).
///
/// ```
/// use portcullis::{Challenge, TokenFault};
///
/// let c = Challenge::InvalidToken(TokenFault::Expired);
/// assert_eq!(
///     c.header_value(),
///     r#"Bearer error="invalid_token", error_description="the access token expired""#,
/// );
/// assert_eq!(Challenge::InsufficientScope.header_value(), r#"Bearer error="insufficient_scope""#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Challenge {
    /// The request carried no credentials where a token was needed (401).
    Missing,
    /// The token did not verify: expired, not yet valid, for another audience, badly signed
    /// (401).
    InvalidToken(TokenFault),
    /// The token is valid but lacks a scope that would have let the request through (403).
    InsufficientScope,
}

impl Challenge {
    /// The `WWW-Authenticate` header value.
    pub fn header_value(&self) -> String {
        match self {
            Challenge::Missing => "Bearer".to_owned(),
            Challenge::InvalidToken(fault) => format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                fault.description()
            ),
            Challenge::InsufficientScope => "Bearer error=\"insufficient_scope\"".to_owned(),
        }
    }
}

impl Verdict {
    /// Allow or forbidden.
    pub fn decision(&self) -> Decision {
        self.decision
    }

    /// True when the decision is [`Decision::Allow`].
    pub fn is_allowed(&self) -> bool {
        self.decision == Decision::Allow
    }

    /// The status to answer with: 200 when allowed; 400, 401, 403 or 404 when forbidden.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// What decided.
    pub fn cause(&self) -> Cause {
        self.cause
    }

    /// The deciding rule, if a rule decided.
    pub fn rule(&self) -> Option<RuleId> {
        match self.cause {
            Cause::Rule(id) => Some(id),
            _ => None,
        }
    }

    /// The client address the decision used, if it could be determined.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.client_ip
    }

    /// The API client whose key the request carried, if any.
    pub fn client(&self) -> Option<ClientId> {
        self.client
    }

    /// Report-mode rules that applied before the decision was made.
    pub fn reported(&self) -> &Reported {
        &self.reported
    }

    /// False when the policy is in report mode: adapters then let the request through.
    pub fn enforced(&self) -> bool {
        self.enforced
    }

    /// The bearer-token challenge a refusal carries, when the policy reads tokens.
    pub fn challenge(&self) -> Option<Challenge> {
        self.challenge
    }

    /// True when an adapter must refuse the request: forbidden and enforced.
    pub fn blocks(&self) -> bool {
        self.enforced && self.decision == Decision::Forbidden
    }
}
