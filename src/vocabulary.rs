//! The vocabulary both the policy model and the engine speak: what a rule does, how rules
//! combine, whether decisions are enforced, and the few settings the engine reads as they are
//! written. The serde model re-exports these (`portcullis::policy::model::Effect`, ...), and
//! the engine depends on this module, not on the model.

use std::fmt;

use serde::Deserialize;

/// The effect of a rule, or of a policy's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Let the request through.
    Allow,
    /// Refuse the request.
    Forbid,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "allow",
            Effect::Forbid => "forbid",
        })
    }
}

/// How the rules of a policy combine into one decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Combine {
    /// Rules are tried in file order; the first that applies decides.
    #[default]
    FirstMatch,
    /// Any forbid rule that applies wins; else any allow rule that applies; else the default.
    ForbidOverrides,
}

/// Whether a policy, or one rule, enforces its decisions or only reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Decisions are enforced.
    #[default]
    Enforce,
    /// Decisions are computed and explained, but not enforced.
    Report,
}

/// Where the client address comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IpSource {
    /// The TCP peer; forwarding headers are ignored.
    #[default]
    Peer,
    /// The `X-Forwarded-For` header, believed only from trusted proxies.
    XForwardedFor,
    /// The RFC 7239 `Forwarded` header, believed only from trusted proxies.
    Forwarded,
    /// The `X-Real-IP` header, believed only from trusted proxies.
    XRealIp,
}

/// What happens to a request whose client address cannot be determined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnUnknownClient {
    /// Forbid the request before any rule runs.
    #[default]
    Forbid,
    /// Run the rules, reading every `ip` condition the way that forbids.
    Evaluate,
}

/// How an encoded slash (`%2F`) in a path is handled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EncodedSlash {
    /// Refuse the request as malformed.
    #[default]
    Reject,
    /// Decide the request under both readings (`%2F` kept inside its segment, and decoded to `/`)
    /// and allow it only if both readings are allowed.
    Both,
}
