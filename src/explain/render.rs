//! Rendering an explanation as one log line.

use std::fmt;

use super::{ConditionReport, CredentialReport, DecidedBy, Explanation, RuleSummary};
use crate::engine::client_ip::Derivation;
use crate::engine::verdict::Decision;
use crate::engine::ConditionKey;
use crate::vocabulary::Effect;

impl ConditionReport {
    /// What the condition read, in words.
    fn subject(&self) -> String {
        match self.key {
            ConditionKey::Ip => "client".to_owned(),
            ConditionKey::Path => "path".to_owned(),
            ConditionKey::Method => "method".to_owned(),
            ConditionKey::Host => "host".to_owned(),
            ConditionKey::Header => format!("header {}", self.name.as_deref().unwrap_or("")),
            ConditionKey::UserAgent => "user-agent".to_owned(),
            ConditionKey::Client => "api client".to_owned(),
            ConditionKey::Role => "roles".to_owned(),
            ConditionKey::Authenticated => "authenticated".to_owned(),
            ConditionKey::Issuer => "token issuer".to_owned(),
            ConditionKey::Scope => "scope".to_owned(),
            ConditionKey::Claim => format!("claim {}", self.name.as_deref().unwrap_or("")),
        }
    }

    /// An alternative as the reader should see it.
    fn show_alternative(&self, a: &str) -> String {
        match self.key {
            ConditionKey::Ip => match a.strip_prefix('@') {
                Some(list) => format!("list {list:?}"),
                None => format!("{a:?}"),
            },
            // Header and claim matchers are written out already (`"prod"`, `glob "pr*"`).
            ConditionKey::Header | ConditionKey::Authenticated | ConditionKey::Claim => {
                a.to_owned()
            }
            _ => format!("{a:?}"),
        }
    }

    fn show_values(&self) -> String {
        if self.values.is_empty() {
            return match self.key {
                ConditionKey::Ip => "(unknown)",
                ConditionKey::Client | ConditionKey::Role => "(none)",
                ConditionKey::Issuer | ConditionKey::Scope | ConditionKey::Claim if !self.holds => {
                    "(no valid token)"
                }
                _ => "(absent)",
            }
            .to_owned();
        }
        let plain = matches!(
            self.key,
            ConditionKey::Ip | ConditionKey::Authenticated | ConditionKey::Claim
        );
        self.values
            .iter()
            .map(|v| {
                if plain || v.starts_with('(') {
                    v.clone()
                } else {
                    format!("{v:?}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for ConditionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // "no API key presented (...), so roles did not match ...": the reason first, and no
        // `(none)` it already explains.
        if let Some(note) = &self.note {
            write!(f, "{note}, so ")?;
        }
        let value = if self.note.is_some() && self.values.is_empty() {
            String::new()
        } else {
            format!(" {}", self.show_values())
        };
        let alts: Vec<String> = self
            .alternatives
            .iter()
            .map(|a| self.show_alternative(a))
            .collect();
        let matched = self.matched.as_deref().map(|m| self.show_alternative(m));
        let subject = self.subject();
        match self.key {
            ConditionKey::Ip if self.values.is_empty() && self.holds => {
                write!(f, "client address unknown, read as in {}", alts.join(", "))
            }
            ConditionKey::Ip => match (matched, self.holds) {
                (Some(m), true) => write!(f, "client{value} is in {m}"),
                (None, true) => write!(f, "client{value} is in {}", alts.join(", ")),
                (_, false) if alts.len() == 1 => {
                    write!(f, "client{value} is not in {}", alts.join(""))
                }
                (_, false) => write!(f, "client{value} is not in any of {}", alts.join(", ")),
            },
            ConditionKey::Scope if self.holds => {
                let held = self.values.join(" ");
                write!(f, "scope {held:?} has {}", matched.unwrap_or_default())
            }
            ConditionKey::Scope if !self.values.is_empty() => {
                let held = self.values.join(" ");
                let lacking: Vec<String> = self
                    .alternatives
                    .iter()
                    .filter(|a| !self.values.contains(a))
                    .map(|a| format!("{a:?}"))
                    .collect();
                write!(f, "scope {held:?} lacks {}", lacking.join(", "))
            }
            ConditionKey::Scope => {
                write!(f, "scope (no valid token) lacks {}", alts.join(", "))
            }
            ConditionKey::Authenticated if self.holds => write!(f, "authenticated is{value}"),
            ConditionKey::Authenticated => {
                write!(f, "authenticated is{value}, not {}", alts.join(""))
            }
            _ => match (matched, self.holds) {
                (Some(m), true) => write!(f, "{subject}{value} matched {m}"),
                (None, true) => write!(f, "{subject}{value} holds"),
                (_, false) if alts.len() == 1 => {
                    write!(f, "{subject}{value} did not match {}", alts.join(""))
                }
                (_, false) => write!(f, "{subject}{value} matched none of {}", alts.join(", ")),
            },
        }
    }
}

impl fmt::Display for RuleSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {:?}", self.name)?;
        if let Some(loc) = &self.location {
            write!(f, " ({loc})")?;
        }
        Ok(())
    }
}

impl Explanation {
    /// Every condition report the line shows.
    fn conditions(&self) -> impl Iterator<Item = &ConditionReport> {
        let (a, b): (&[ConditionReport], &[ConditionReport]) = match &self.decided_by {
            DecidedBy::Rule { conditions, .. } => (conditions, &[]),
            DecidedBy::Default {
                nearest: Some(n), ..
            } => (&n.missed, &n.exempted_by),
            _ => (&[], &[]),
        };
        a.iter().chain(b)
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.decision {
            Decision::Allow => "allowed".to_owned(),
            Decision::Forbidden if self.status == 403 => "forbidden".to_owned(),
            Decision::Forbidden => format!("forbidden ({})", self.status),
        };
        match &self.decided_by {
            DecidedBy::Rule { rule, conditions } => {
                write!(f, "{verb} by {rule}")?;
                let parts: Vec<String> = conditions.iter().map(ToString::to_string).collect();
                if !parts.is_empty() {
                    write!(f, ": {}", parts.join("; "))?;
                }
            }
            DecidedBy::Default { effect, nearest } => {
                write!(f, "{verb} by default ({effect}): no rule applied")?;
                if let Some(n) = nearest {
                    write!(
                        f,
                        "; nearest {} met {} of {} conditions",
                        n.rule, n.met, n.total
                    )?;
                    let missed: Vec<String> = n.missed.iter().map(ToString::to_string).collect();
                    if !missed.is_empty() {
                        write!(f, ": {}", missed.join("; "))?;
                    }
                    let exempt: Vec<String> =
                        n.exempted_by.iter().map(ToString::to_string).collect();
                    if !exempt.is_empty() {
                        write!(f, ", but was exempted: {}", exempt.join("; "))?;
                    }
                }
            }
            DecidedBy::Refused { reason, .. } => write!(f, "{verb} before any rule: {reason}")?,
        }
        if let Some(r) = &self.reading {
            write!(f, " ({r})")?;
        }
        match (
            &self.client.derivation,
            self.client.ip,
            &self.client.unknown,
        ) {
            (Some(Derivation::Header { header, hop }), Some(ip), _) => {
                write!(f, "; client {ip} from {header} hop {hop}")?;
                if let Some(peer) = self.client.peer {
                    write!(f, " (peer {peer} is a trusted proxy)")?;
                }
            }
            (_, None, Some(u)) if !matches!(self.decided_by, DecidedBy::Refused { .. }) => {
                write!(f, "; client address unknown: {u}")?;
            }
            _ => {}
        }
        if let (Some(header), Some(peer)) = (&self.client.ignored_header, self.client.peer) {
            write!(
                f,
                "; client is the peer {peer}: it is not a trusted proxy, so its {header} header \
                 was ignored"
            )?;
        }
        let said = self.conditions().any(|c| c.note.is_some());
        match (&self.credentials, said) {
            (CredentialReport::UnknownKey { .. }, false) => {
                write!(f, "; an API key was presented but matches no client")?;
            }
            (CredentialReport::InvalidToken { problem }, _) => {
                write!(f, "; bearer token refused: {problem}")?;
            }
            _ => {}
        }
        for r in &self.reported {
            let would = match r.effect {
                Effect::Forbid => "would forbid",
                Effect::Allow => "would allow",
            };
            write!(f, "; report-mode {r} {would}")?;
        }
        if !self.enforced {
            write!(f, " [policy in report mode: not enforced]")?;
        }
        Ok(())
    }
}
