//! Testing policies: cases that live beside the policy, a concise request builder, and
//! assertions whose failure message is the whole explanation.
//!
//! ```
//! use portcullis::testing::req;
//! use portcullis::{assert_allows, assert_forbids, Policy};
//!
//! let engine = Policy::from_toml(r#"
//!     [policy]
//!     default = "allow"
//!     [[rules]]
//!     name = "no-admin"
//!     effect = "forbid"
//!     status = 404
//!     when = { path = "/admin/**" }
//! "#)?.compile()?;
//!
//! assert_forbids!(engine, req("GET /admin/users from 198.51.100.7"), rule = "no-admin", status = 404);
//! assert_allows!(engine, req("GET /home from 198.51.100.7"));
//! # Ok::<(), portcullis::PolicyError>(())
//! ```

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use crate::engine::request::AsRequestView;
use crate::error::{ErrorKind, Location, PolicyError};
use crate::explain::Explanation;
use crate::policy::model::{Effect, TestCaseDef, TestFile};
use crate::policy::source::{Seg, Source};
use crate::policy::{read_limited, MAX_POLICY_BYTES};
use crate::{Decision, Engine, Policy, Request};

/// A request from a one-line description: `"METHOD TARGET from ADDRESS"`.
///
/// # Panics
///
/// When the description is not of that form: this is a helper for tests.
///
/// ```
/// let r = portcullis::testing::req("DELETE /api/orders/7 from 2001:db8::1");
/// assert_eq!(r.method(), "DELETE");
/// assert_eq!(r.peer_addr(), Some("2001:db8::1".parse().unwrap()));
/// ```
#[allow(clippy::panic)]
pub fn req(description: &str) -> Request {
    let mut words = description.split_whitespace();
    let (Some(method), Some(target), Some("from"), Some(peer), None) = (
        words.next(),
        words.next(),
        words.next(),
        words.next(),
        words.next(),
    ) else {
        panic!("expected \"METHOD TARGET from ADDRESS\", got {description:?}");
    };
    let peer: IpAddr = match peer.parse() {
        Ok(p) => p,
        Err(_) => panic!("`{peer}` is not an address in {description:?}"),
    };
    Request::new(method, target).peer(peer)
}

/// Compiles a policy for tests: like [`Policy::compile`], except that every token issuer
/// trusts the test harness's own signing key (an Ed25519 key generated once per process, never
/// written anywhere) instead of its key set, so that tests need no real issuer. Sign tokens for
/// it with [`BearerClaims::bearer_claims`] or a test case's `token_claims`.
///
/// Never use such an engine to guard anything.
pub fn compile(policy: &Policy) -> Result<Engine, PolicyError> {
    #[cfg(feature = "tokens")]
    {
        crate::compile::compile(policy, crate::compile::tokens::KeyMode::TestHarness)
    }
    #[cfg(not(feature = "tokens"))]
    {
        policy.compile()
    }
}

/// Adds a bearer token signed by the test harness's key (see [`compile`]).
///
/// ```
/// use portcullis::testing::{req, BearerClaims};
/// use portcullis::Policy;
///
/// let policy = Policy::from_toml(r#"
///     [policy]
///     default = "forbid"
///     [tokens.issuers.corp]
///     issuer = "https://id.example.com/"
///     audiences = ["orders-api"]
///     jwks = { url = "https://id.example.com/jwks.json" }
///     algorithms = ["RS256"]
///     [[rules]]
///     name = "orders-write"
///     effect = "allow"
///     when = { path = "/orders/**", scope = "orders:write" }
/// "#)?;
/// let engine = portcullis::testing::compile(&policy)?;
/// let claims = serde_json::json!({
///     "iss": "https://id.example.com/", "aud": "orders-api", "scope": "orders:write",
/// });
/// let verdict = engine.decide(&req("POST /orders/7 from 192.0.2.1").bearer_claims(claims));
/// assert!(verdict.is_allowed());
/// # Ok::<(), portcullis::PolicyError>(())
/// ```
#[cfg(feature = "tokens")]
pub trait BearerClaims {
    /// Signs `claims` (an object; `exp` defaults to an hour from now) and sends the token in
    /// `Authorization: Bearer`.
    ///
    /// # Panics
    ///
    /// When `claims` is not an object, or the system has no randomness for the key.
    fn bearer_claims(self, claims: serde_json::Value) -> Request;
}

#[cfg(feature = "tokens")]
impl BearerClaims for Request {
    #[allow(clippy::panic)]
    fn bearer_claims(self, claims: serde_json::Value) -> Request {
        let serde_json::Value::Object(mut map) = claims else {
            panic!("bearer claims must be a JSON object");
        };
        if !map.contains_key("exp") {
            let exp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
                + 3600;
            map.insert("exp".to_owned(), exp.into());
        }
        let Some(token) =
            crate::tokens::signer::signer().and_then(|s| s.sign(&serde_json::Value::Object(map)))
        else {
            panic!("the test key could not sign");
        };
        self.header("authorization", format!("Bearer {token}"))
    }
}

/// What a test expects of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// Allow or forbidden.
    pub decision: Decision,
    /// The deciding rule's name, or `"default"`.
    pub rule: Option<String>,
    /// The status.
    pub status: Option<u16>,
}

/// Checks one decision; the error is a message with the whole explanation.
pub fn check(
    engine: &Engine,
    request: &impl AsRequestView,
    expect: &Expectation,
) -> Result<Explanation, String> {
    let explanation = engine.explain(request);
    let mut wrong = Vec::new();
    if explanation.decision != expect.decision {
        wrong.push(format!(
            "expected {}, got {}",
            expect.decision, explanation.decision
        ));
    }
    if let Some(rule) = &expect.rule {
        let got = match &explanation.decided_by {
            crate::explain::DecidedBy::Rule { rule, .. } => rule.name.clone(),
            crate::explain::DecidedBy::Default { .. } => "default".to_owned(),
            crate::explain::DecidedBy::Refused { reason, .. } => format!("refused: {reason}"),
        };
        if got != *rule {
            wrong.push(format!("expected rule {rule:?} to decide, got {got:?}"));
        }
    }
    if let Some(status) = expect.status {
        if explanation.status != status {
            wrong.push(format!(
                "expected status {status}, got {}",
                explanation.status
            ));
        }
    }
    if wrong.is_empty() {
        Ok(explanation)
    } else {
        Err(format!(
            "{}\n  explanation: {explanation}",
            wrong.join("; ")
        ))
    }
}

/// Asserts that `engine` allows `request`, optionally by a named rule; the panic message is the
/// full explanation.
#[macro_export]
macro_rules! assert_allows {
    ($engine:expr, $request:expr $(, rule = $rule:expr)? $(,)?) => {{
        #[allow(unused_mut)]
        let mut expect = $crate::testing::Expectation { decision: $crate::Decision::Allow, rule: None, status: None };
        $( expect.rule = Some(::std::string::ToString::to_string(&$rule)); )?
        if let Err(message) = $crate::testing::check(&$engine, &$request, &expect) {
            panic!("{}", message);
        }
    }};
}

/// Asserts that `engine` forbids `request`, optionally by a named rule and with a status; the
/// panic message is the full explanation.
#[macro_export]
macro_rules! assert_forbids {
    ($engine:expr, $request:expr $(, rule = $rule:expr)? $(, status = $status:expr)? $(,)?) => {{
        #[allow(unused_mut)]
        let mut expect = $crate::testing::Expectation { decision: $crate::Decision::Forbidden, rule: None, status: None };
        $( expect.rule = Some(::std::string::ToString::to_string(&$rule)); )?
        $( expect.status = Some($status); )?
        if let Err(message) = $crate::testing::check(&$engine, &$request, &expect) {
            panic!("{}", message);
        }
    }};
}

/// A test case, ready to run.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// Its name.
    pub name: String,
    /// Where it is written.
    pub location: Option<Location>,
    /// The request.
    pub request: Request,
    /// What is expected.
    pub expect: Expectation,
}

/// The result of one case.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// Where it is written.
    pub location: Option<Location>,
    /// Whether it passed.
    pub passed: bool,
    /// What went wrong, with the explanation.
    pub failure: Option<String>,
    /// The explanation of the decision.
    pub explanation: Explanation,
}

/// The results of a run, with coverage.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Each case, in order.
    pub results: Vec<CaseResult>,
    /// Rules that applied to no test request.
    pub unexercised: Vec<String>,
    /// Rules that decided no test request.
    pub never_decided: Vec<String>,
}

impl Report {
    /// How many cases passed.
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed).count()
    }

    /// How many cases failed.
    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }
}

/// Runs `cases` against `engine`.
pub fn run(engine: &Engine, cases: &[TestCase]) -> Report {
    let mut applied = BTreeSet::new();
    let mut decided = BTreeSet::new();
    let mut results = Vec::with_capacity(cases.len());
    for case in cases {
        applied.extend(engine.applying_rules(&case.request.view()));
        let (passed, failure, explanation) = match check(engine, &case.request, &case.expect) {
            Ok(e) => (true, None, e),
            Err(message) => (false, Some(message), engine.explain(&case.request)),
        };
        if let Some(id) = engine.decide(&case.request).rule() {
            decided.insert(id);
        }
        results.push(CaseResult {
            name: case.name.clone(),
            location: case.location.clone(),
            passed,
            failure,
            explanation,
        });
    }
    let names = |pick: &dyn Fn(&crate::RuleId) -> bool| {
        engine
            .rules()
            .iter()
            .filter(|r| pick(&r.id()))
            .map(|r| r.name().to_owned())
            .collect()
    };
    Report {
        results,
        unexercised: names(&|id| !applied.contains(id)),
        never_decided: names(&|id| !decided.contains(id)),
    }
}

/// The `[[tests]]` cases written in a policy.
pub fn policy_cases(policy: &Policy, engine: &Engine) -> Result<Vec<TestCase>, PolicyError> {
    cases(&policy.source, &policy.doc.tests, engine)
}

/// The cases of a `*.tests.toml` file.
pub fn load_cases(path: impl AsRef<Path>, engine: &Engine) -> Result<Vec<TestCase>, PolicyError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let text = read_limited(path, MAX_POLICY_BYTES)
        .map_err(|e| PolicyError::new(ErrorKind::Io, e).in_file(name.clone()))?;
    let source = Source::new(name, text);
    #[cfg(feature = "toml")]
    {
        let (file, source) = crate::policy::parse_toml_as::<TestFile>(source)?;
        cases(&source, &file.tests, engine)
    }
    #[cfg(not(feature = "toml"))]
    {
        let _ = (engine, std::marker::PhantomData::<TestFile>);
        Err(PolicyError::new(
            ErrorKind::Syntax,
            "test files are TOML: enable the `toml` feature",
        )
        .in_file(source.name))
    }
}

fn cases(
    src: &Source,
    defs: &[TestCaseDef],
    engine: &Engine,
) -> Result<Vec<TestCase>, PolicyError> {
    let mut out = Vec::with_capacity(defs.len());
    for (i, def) in defs.iter().enumerate() {
        let here = [Seg::Key("tests"), Seg::Index(i)];
        let fail = |key: &str, msg: String| {
            src.place(
                PolicyError::invalid(format!("test {:?}: {msg}", def.name)),
                &[
                    Seg::Key("tests"),
                    Seg::Index(i),
                    Seg::Key("request"),
                    Seg::Key(key),
                ],
                &["name", &def.name, key],
            )
        };
        let peer: IpAddr = def
            .request
            .peer
            .parse()
            .map_err(|_| fail("peer", format!("`{}` is not an address", def.request.peer)))?;
        let mut request =
            Request::new(def.request.method.clone(), def.request.target.clone()).peer(peer);
        for (name, values) in &def.request.headers {
            for v in &values.0 {
                request = request.header(name.clone(), v.clone());
            }
        }
        if let Some(key) = &def.request.key {
            let header = engine
                .key_header()
                .ok_or_else(|| fail("key", "the policy has no `[keys]` table".into()))?;
            request = request.header(header, key.clone());
        }
        if let Some(claims) = &def.request.token_claims {
            #[cfg(feature = "tokens")]
            {
                let token = crate::tokens::signer::sign_case(engine, claims)
                    .map_err(|m| fail("token_claims", m))?;
                request = request.header("authorization", format!("Bearer {token}"));
            }
            #[cfg(not(feature = "tokens"))]
            {
                let _ = claims;
                return Err(fail(
                    "token_claims",
                    "`token_claims` needs the `tokens` feature".into(),
                ));
            }
        }
        if let Some(rule) = &def.rule {
            if rule != "default" && engine.rule_by_name(rule).is_none() {
                return Err(src.place(
                    PolicyError::invalid(format!("test {:?}: no rule is named `{rule}`", def.name)),
                    &[Seg::Key("tests"), Seg::Index(i), Seg::Key("rule")],
                    &["name", &def.name, rule],
                ));
            }
        }
        out.push(TestCase {
            name: def.name.clone(),
            location: src.locate(&here, &["name", &def.name]),
            request,
            expect: Expectation {
                decision: match def.expect {
                    Effect::Allow => Decision::Allow,
                    Effect::Forbid => Decision::Forbidden,
                },
                rule: def.rule.clone(),
                status: def.status,
            },
        });
    }
    Ok(out)
}
