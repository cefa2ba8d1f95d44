//! Lint: things a valid policy says that are probably not what its author meant.
//!
//! Every warning names the rule (or list, or client) and where it is written. The shadowing
//! checks are exact for CIDR containment, for literal and prefix globs and for `issuer`,
//! `scope` and exact `claim` values, and conservative everywhere else: they never warn about
//! a rule that can decide.
//!
//! A rule accepts a warning with `lint = { allow = ["report-mode"], reason = "..." }`, and the
//! whole policy with the same under `[policy]`; the reason is required, and what was accepted
//! is still listed, as [`LintReport::suppressed`].

mod allow;
mod lists;
mod mistakes;
mod shadow;
mod token_mistakes;

use crate::error::{Location, PolicyError};
use crate::{Engine, Policy};

pub use mistakes::mistakes;

/// Every warning code, for `lint = { allow = [...] }` and documentation.
pub const CODES: &[&str] = &[
    "shadowed",
    "after-catch-all",
    "never-wins",
    "unused-list",
    "unused-client",
    "list-overlap",
    "trusted-overlap",
    "status-401-without-auth",
    "report-mode",
    "path-star-stops-at-slash",
    "user-agent-without-wildcard",
    "host-looks-like-url",
    "claim-with-own-condition",
    "scope-with-comma",
    "token-condition-without-issuer",
    "identity-without-issuer",
    "duplicate-issuer",
    "unused-roles-claim",
];

/// One lint warning.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// A short, stable identifier, one of [`CODES`] (or, about `lint = { allow = ... }`
    /// itself, `unknown-lint` for a code that is none of them and `allow-without-reason`). Globs that no accepted request can match are compile
    /// errors, not warnings.
    pub code: &'static str,
    /// The rule it is about, if any.
    pub rule: Option<String>,
    /// Where.
    pub location: Option<Location>,
    /// What, in a sentence.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        write!(f, "warning[{}]: ", self.code)?;
        if let Some(rule) = &self.rule {
            write!(f, "rule {rule:?}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A warning the policy accepts, with the reason it gives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Suppressed {
    /// The warning.
    #[serde(flatten)]
    pub warning: Warning,
    /// The `reason` written beside the `allow`.
    pub reason: String,
}

/// What lint found: the warnings to act on, and those the policy accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LintReport {
    /// Warnings no `lint = { allow = ... }` accepts.
    pub warnings: Vec<Warning>,
    /// Warnings accepted by the rule's or the policy's `allow`.
    pub suppressed: Vec<Suppressed>,
}

/// Lints a policy that compiles (`engine` is its compiled form); the warnings it accepts
/// through `lint = { allow = ... }` are left out (see [`lint_report`] for them).
///
/// ```
/// use portcullis::{lint::lint, Policy};
///
/// let policy = Policy::from_toml(r#"
///     [policy]
///     default = "forbid"
///     [[rules]]
///     name = "api"
///     effect = "allow"
///     when = { path = "/api/**" }
///     [[rules]]
///     name = "api-v2"
///     effect = "forbid"
///     when = { path = "/api/v2/**", method = "DELETE" }
/// "#)?;
/// let warnings = lint(&policy, &policy.compile()?)?;
/// assert_eq!(warnings[0].code, "shadowed");
/// assert_eq!(warnings[0].rule.as_deref(), Some("api-v2"));
/// # Ok::<(), portcullis::PolicyError>(())
/// ```
pub fn lint(policy: &Policy, engine: &Engine) -> Result<Vec<Warning>, PolicyError> {
    Ok(lint_report(policy, engine)?.warnings)
}

/// Lints a policy and sorts the warnings into those to act on and those it accepts.
///
/// ```
/// use portcullis::{lint::lint_report, Policy};
///
/// let policy = Policy::from_toml(r#"
///     [policy]
///     default = "allow"
///     [[rules]]
///     name = "trial"
///     effect = "forbid"
///     mode = "report"
///     when = { path = "/beta/**" }
///     lint = { allow = ["report-mode"], reason = "watching for a week first" }
/// "#)?;
/// let report = lint_report(&policy, &policy.compile()?)?;
/// assert!(report.warnings.is_empty());
/// assert_eq!(report.suppressed[0].warning.code, "report-mode");
/// assert_eq!(report.suppressed[0].reason, "watching for a week first");
/// # Ok::<(), portcullis::PolicyError>(())
/// ```
pub fn lint_report(policy: &Policy, engine: &Engine) -> Result<LintReport, PolicyError> {
    let doc = &policy.doc;
    let (lists, _warnings) = crate::compile::lists::load(policy)?;
    let rule_warning = |code, i: usize, message: String| Warning {
        code,
        rule: doc.rules.get(i).map(|r| r.name.clone()),
        location: engine.rules().get(i).and_then(|r| r.location().cloned()),
        message,
    };
    let mut out = Vec::new();
    shadow::never_decide(policy, &lists, &rule_warning, &mut out);
    lists::unused_names(policy, &lists, &mut out);
    lists::overlaps(policy, &lists, &mut out);
    lists::trusted_overlap(policy, &lists, &rule_warning, &mut out);
    lists::settings(policy, &rule_warning, &mut out);
    out.extend(mistakes(policy));
    Ok(allow::apply(policy, out))
}
