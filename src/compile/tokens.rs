//! The `[tokens]` table: issuers, their key sets and settings, checked and compiled.

#[cfg(feature = "tokens")]
use crate::error::ErrorKind;
use crate::error::PolicyError;
use crate::policy::model::IssuerDef;
use crate::policy::source::Seg;
use crate::policy::Policy;

/// What rule compilation needs to know of the issuers.
#[derive(Debug, Default)]
pub(crate) struct TokenSetup {
    /// Issuer names, in name order.
    pub(crate) names: Vec<String>,
    /// Whether some issuer names a `client_claim` / `roles_claim`.
    pub(crate) clients: bool,
    pub(crate) roles: bool,
    pub(crate) max_bytes: usize,
    #[cfg(feature = "tokens")]
    pub(crate) issuers: Vec<crate::tokens::IssuerConfig>,
}

/// Whose keys the issuers trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyMode {
    /// Their own key sets.
    Issuers,
    /// The test harness's key alone (see `testing::compile`).
    #[cfg_attr(not(feature = "tokens"), allow(dead_code))]
    TestHarness,
}

/// Parses `"30s"`, `"10m"`, `"1h"`, `"1d"` (a whole number and a unit).
pub(crate) fn parse_duration(s: &str) -> Result<u64, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a duration such as \"30s\", \"10m\" or \"1h\""))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => {
            return Err(format!(
                "`{s}` is not a duration such as \"30s\", \"10m\" or \"1h\""
            ))
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("duration `{s}` is too long"))
}

pub(crate) fn compile(policy: &Policy, mode: KeyMode) -> Result<Option<TokenSetup>, PolicyError> {
    let Some(tokens) = &policy.doc.tokens else {
        return Ok(None);
    };
    let src = &policy.source;
    if !cfg!(feature = "tokens") {
        return Err(src.place(
            PolicyError::invalid(
                "`[tokens]` needs portcullis built with the `tokens` feature".to_owned(),
            ),
            &[Seg::Key("tokens")],
            &["tokens"],
        ));
    }
    if tokens.issuers.is_empty() {
        return Err(src.place(
            PolicyError::invalid("`[tokens]` names no issuer under `[tokens.issuers]`".to_owned()),
            &[Seg::Key("tokens")],
            &["tokens"],
        ));
    }
    if !(256..=65536).contains(&tokens.max_token_bytes) {
        return Err(src.place(
            PolicyError::invalid("`max_token_bytes` must be between 256 and 65536".to_owned()),
            &[Seg::Key("tokens"), Seg::Key("max_token_bytes")],
            &["max_token_bytes"],
        ));
    }
    let mut setup = TokenSetup {
        max_bytes: tokens.max_token_bytes,
        ..TokenSetup::default()
    };
    for (name, def) in &tokens.issuers {
        let here = [Seg::Key("tokens"), Seg::Key("issuers"), Seg::Key(name)];
        let fail = |key: &str, msg: String| {
            let mut path = here.to_vec();
            path.push(Seg::Key(key));
            src.place(
                PolicyError::invalid(format!("issuer `{name}`: {msg}")),
                &path,
                &[name, key],
            )
        };
        super::lists::check_name(name)
            .map_err(|m| src.place(PolicyError::invalid(m), &here, &[name]))?;
        check(def).map_err(|(key, msg)| fail(key, msg))?;
        setup.clients |= def.client_claim.is_some();
        setup.roles |= def.roles_claim.is_some();
        #[cfg(feature = "tokens")]
        setup
            .issuers
            .push(issuer(policy, name, def, mode).map_err(|(key, msg, kind)| {
                let mut path = here.to_vec();
                path.push(Seg::Key(key));
                src.place(
                    PolicyError::new(kind, format!("issuer `{name}`: {msg}")),
                    &path,
                    &[name, key],
                )
            })?);
        setup.names.push(name.clone());
    }
    #[cfg(not(feature = "tokens"))]
    let _ = mode;
    Ok(Some(setup))
}

/// The algorithms an issuer may name: asymmetric signatures only.
const ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

fn check(def: &IssuerDef) -> Result<(), (&'static str, String)> {
    if def.issuer.is_empty() {
        return Err(("issuer", "`issuer` is empty".to_owned()));
    }
    if def.audiences.is_empty() || def.audiences.iter().any(String::is_empty) {
        return Err((
            "audiences",
            "`audiences` needs at least one non-empty audience: a token for another service must not pass".to_owned(),
        ));
    }
    if def.algorithms.is_empty() {
        return Err(("algorithms", "`algorithms` is empty".to_owned()));
    }
    for a in &def.algorithms {
        if !ALGORITHMS.contains(&a.as_str()) {
            return Err((
                "algorithms",
                format!(
                    "algorithm `{a}` is not accepted (one of {}; `none` and HMAC never are)",
                    ALGORITHMS.join(", ")
                ),
            ));
        }
    }
    if let Some(l) = &def.leeway {
        let secs = parse_duration(l).map_err(|m| ("leeway", m))?;
        if secs > 300 {
            return Err(("leeway", format!("`leeway = \"{l}\"` is over five minutes")));
        }
    }
    match (&def.jwks.file, &def.jwks.url) {
        (Some(_), Some(_)) => Err(("jwks", "name a `file` or a `url`, not both".to_owned())),
        (None, None) => Err(("jwks", "name a `file` or a `url`".to_owned())),
        (Some(_), None) if def.jwks.refresh.is_some() || def.jwks.min_interval.is_some() => Err((
            "jwks",
            "`refresh` and `min_interval` are for a `url`; a file reloads with the policy"
                .to_owned(),
        )),
        (None, Some(url)) => {
            if !crate::tokens::key_set_url_allowed(url) {
                return Err((
                    "jwks",
                    format!("key set URL `{url}` must be https (plain http only on loopback: `localhost` or a loopback address, with no user info)"),
                ));
            }
            for (key, v) in [
                ("refresh", &def.jwks.refresh),
                ("min_interval", &def.jwks.min_interval),
            ] {
                if let Some(v) = v {
                    let secs = parse_duration(v).map_err(|m| ("jwks", format!("`{key}`: {m}")))?;
                    if secs == 0 {
                        return Err(("jwks", format!("`{key}` must be at least one second")));
                    }
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(feature = "tokens")]
fn issuer(
    policy: &Policy,
    name: &str,
    def: &IssuerDef,
    mode: KeyMode,
) -> Result<crate::tokens::IssuerConfig, (&'static str, String, ErrorKind)> {
    use std::str::FromStr;
    use std::time::Duration;

    use crate::tokens::{KeySet, KeySource, Remote};

    let mut algorithms = Vec::new();
    for a in &def.algorithms {
        let alg = jsonwebtoken::Algorithm::from_str(a).map_err(|_| {
            (
                "algorithms",
                format!("algorithm `{a}` is unknown"),
                ErrorKind::Invalid,
            )
        })?;
        algorithms.push(alg);
    }
    let mut types = Vec::new();
    for t in def.types.iter().flatten() {
        let media = crate::tokens::media_type(t);
        if media.is_empty() || !media.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
            return Err((
                "types",
                format!("`{t}` is not a media type (such as `at+jwt`)"),
                ErrorKind::Invalid,
            ));
        }
        types.push(media);
    }
    let leeway = def
        .leeway
        .as_deref()
        .map_or(Ok(60), parse_duration)
        .map_err(|m| ("leeway", m, ErrorKind::Invalid))?;
    let keys = match mode {
        KeyMode::TestHarness => {
            let signer = crate::tokens::signer::signer().ok_or((
                "jwks",
                "no randomness for the test key".to_owned(),
                ErrorKind::Io,
            ))?;
            if !algorithms.contains(&jsonwebtoken::Algorithm::EdDSA) {
                algorithms.push(jsonwebtoken::Algorithm::EdDSA);
            }
            // The harness signs its own tokens: whatever `typ` the issuer's tokens carry.
            types.clear();
            KeySource::fixed(signer.key_set())
        }
        KeyMode::Issuers => match (&def.jwks.file, &def.jwks.url) {
            (Some(file), _) => {
                let path = policy.resolve(file);
                let text = crate::policy::read_limited(&path, 1024 * 1024).map_err(|m| {
                    (
                        "jwks",
                        format!("key set file `{}`: {m}", path.display()),
                        ErrorKind::Io,
                    )
                })?;
                let set = KeySet::parse(text.as_bytes()).map_err(|m| {
                    (
                        "jwks",
                        format!("key set file `{}`: {m}", path.display()),
                        ErrorKind::Invalid,
                    )
                })?;
                KeySource::fixed(set)
            }
            (None, Some(url)) => {
                let secs = |v: &Option<String>, default: u64| {
                    v.as_deref().map_or(Ok(default), parse_duration)
                };
                let refresh =
                    secs(&def.jwks.refresh, 600).map_err(|m| ("jwks", m, ErrorKind::Invalid))?;
                let min_interval = secs(&def.jwks.min_interval, 30)
                    .map_err(|m| ("jwks", m, ErrorKind::Invalid))?;
                let remote = Remote {
                    url: url.clone(),
                    refresh: Duration::from_secs(refresh),
                    min_interval: Duration::from_secs(min_interval),
                };
                KeySource::remote(remote, name).map_err(|m| ("jwks", m, ErrorKind::Io))?
            }
            (None, None) => {
                return Err((
                    "jwks",
                    "name a `file` or a `url`".to_owned(),
                    ErrorKind::Invalid,
                ))
            }
        },
    };
    Ok(crate::tokens::IssuerConfig {
        name: name.to_owned(),
        iss: def.issuer.clone(),
        audiences: def.audiences.clone(),
        algorithms,
        types,
        leeway,
        roles_claim: def.roles_claim.clone(),
        client_claim: def.client_claim.clone(),
        keys,
    })
}
