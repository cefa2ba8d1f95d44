//! `lint = { allow = [...], reason = "..." }`: warnings a rule or the policy accepts.

use super::{LintReport, Suppressed, Warning, CODES};
use crate::policy::model::LintAllow;
use crate::policy::source::Seg;
use crate::Policy;

/// Sorts `found` into warnings and accepted ones; an `allow` entry that names no warning code
/// is itself a warning (`unknown-lint`), and so is an empty reason (`allow-without-reason`,
/// which accepts nothing).
pub(super) fn apply(policy: &Policy, found: Vec<Warning>) -> LintReport {
    let doc = &policy.doc;
    let mut report = LintReport::default();
    let mut check = |allow: &LintAllow, path: &[Seg<'_>], rule: Option<&str>| {
        for code in &allow.allow.0 {
            if !CODES.contains(&code.as_str()) {
                report.warnings.push(Warning {
                    code: "unknown-lint",
                    rule: rule.map(str::to_owned),
                    location: policy.source.locate(path, &[rule.unwrap_or("lint"), code]),
                    message: format!(
                        "`lint.allow` names `{code}`, which is no lint (the codes: {})",
                        CODES.join(", ")
                    ),
                });
            }
        }
        if allow.reason.trim().is_empty() {
            report.warnings.push(Warning {
                code: "allow-without-reason",
                rule: rule.map(str::to_owned),
                location: policy
                    .source
                    .locate(path, &[rule.unwrap_or("lint"), "reason"]),
                message: "`lint.allow` needs a `reason`: say why the warning is accepted"
                    .to_owned(),
            });
        }
    };
    if let Some(a) = &doc.policy.lint {
        check(a, &[Seg::Key("policy"), Seg::Key("lint")], None);
    }
    for (i, r) in doc.rules.iter().enumerate() {
        if let Some(a) = &r.lint {
            check(
                a,
                &[Seg::Key("rules"), Seg::Index(i), Seg::Key("lint")],
                Some(&r.name),
            );
        }
    }
    let accepts = |a: &Option<LintAllow>, code: &str| {
        a.as_ref()
            .filter(|a| !a.reason.trim().is_empty())
            .filter(|a| a.allow.0.iter().any(|c| c == code))
            .map(|a| a.reason.clone())
    };
    for w in found {
        let by_rule = w
            .rule
            .as_deref()
            .and_then(|name| doc.rules.iter().find(|r| r.name == name))
            .and_then(|r| accepts(&r.lint, w.code));
        match by_rule.or_else(|| accepts(&doc.policy.lint, w.code)) {
            Some(reason) => report.suppressed.push(Suppressed { warning: w, reason }),
            None => report.warnings.push(w),
        }
    }
    report
}
