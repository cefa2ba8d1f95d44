//! The shared handle that adapters use: the current engine (swapped atomically on reload),
//! how refusals are answered, decision logs and counters.
//!
//! Adapters hold no policy logic: they build a [`RequestView`], call [`Gate::check`], and turn
//! the [`Outcome`] into their framework's response.

mod counters;
mod respond;
#[cfg(feature = "watch")]
mod watch;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use counters::{bump, shard, OtherCounters, RuleCounters, SHARDS};
pub use counters::{Counts, RuleCounts};
pub use respond::{Denial, Responder, ResponseOptions};
#[cfg(feature = "watch")]
pub use watch::{PolicyWatcher, WatchOptions};

use crate::engine::request::RequestView;
use crate::{
    Cause, Decision, Effect, Engine, Policy, PolicyError, Refusal, UnknownClient, Verdict,
};

/// Who is calling, as decided by the policy: inserted into request extensions for handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The client address the decision used.
    pub client_ip: Option<IpAddr>,
    /// The API client whose key the request carried.
    pub client: Option<Arc<str>>,
    /// That client's roles.
    pub roles: Arc<[String]>,
    /// The rule that allowed the request (`None` for the default).
    pub rule: Option<Arc<str>>,
    /// The decision; `Forbidden` only when the policy is in report mode.
    pub decision: Decision,
}

impl Caller {
    /// True when the caller's API client holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// An engine with the things a gate keeps beside it.
#[derive(Debug)]
struct Loaded {
    engine: Engine,
    counters: Vec<Arc<RuleCounters>>,
    /// One copy per counter shard: a thread clones the names of its own shard, so that the
    /// reference counts of one name are not contended by every core.
    names: [Names; SHARDS],
}

/// The names a [`Caller`] carries.
#[derive(Debug)]
struct Names {
    rules: Vec<Arc<str>>,
    clients: Vec<(Arc<str>, Arc<[String]>)>,
    no_roles: Arc<[String]>,
}

#[derive(Debug)]
struct Shared {
    current: ArcSwap<Loaded>,
    path: Option<PathBuf>,
    responses: ResponseOptions,
    registry: Mutex<HashMap<String, Arc<RuleCounters>>>,
    other: OtherCounters,
    warned_no_peer: AtomicBool,
}

/// The caller of a request let through, named from the thread's shard of shared names.
fn caller(loaded: &Loaded, verdict: &Verdict, shard: usize) -> Caller {
    let names = &loaded.names[shard % SHARDS];
    let (client, roles) = match verdict.client().and_then(|c| names.clients.get(c.index())) {
        Some((name, roles)) => (Some(name.clone()), roles.clone()),
        None => (None, names.no_roles.clone()),
    };
    Caller {
        client_ip: verdict.client_ip(),
        client,
        roles,
        rule: verdict
            .rule()
            .and_then(|id| names.rules.get(id.index()).cloned()),
        decision: verdict.decision(),
    }
}

/// What an adapter must do with a request.
#[derive(Debug)]
pub enum Outcome {
    /// Let it through; hand the caller to the application.
    Pass(Caller),
    /// Answer with this refusal.
    Deny(Denial),
}

/// The handle shared by the middleware and the application: lock-free reads of the current
/// engine, atomic reloads that never serve a half-loaded or invalid policy.
///
/// ```
/// use portcullis::gate::{Gate, Outcome};
/// use portcullis::{AsRequestView, Policy, Request};
///
/// let gate = Gate::new(Policy::from_toml("[policy]\ndefault = \"allow\"")?.compile()?);
/// let request = Request::get("/").peer("192.0.2.1".parse()?);
/// assert!(matches!(gate.check(&request.view()), Outcome::Pass(_)));
///
/// // A policy that does not compile leaves the old one in place.
/// assert!(Policy::from_toml("[policy]\ndefault = \"maybe\"").is_err());
/// gate.swap(Policy::from_toml("[policy]\ndefault = \"forbid\"")?.compile()?);
/// assert!(matches!(gate.check(&request.view()), Outcome::Deny(d) if d.status == 403));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Gate {
    shared: Arc<Shared>,
}

/// Builds a [`Gate`] with non-default responses.
#[derive(Debug)]
pub struct GateBuilder {
    engine: Engine,
    path: Option<PathBuf>,
    responses: ResponseOptions,
}

impl GateBuilder {
    /// Answer refusals with `application/problem+json` (RFC 9457) bodies carrying a request id.
    pub fn problem_json(mut self, yes: bool) -> Self {
        self.responses.problem_json = yes;
        self
    }

    /// Tell the client the name of the rule that refused it. Off by default: the explanation
    /// goes to the logs, not to the client.
    pub fn expose_rule(mut self, yes: bool) -> Self {
        self.responses.expose_rule = yes;
        self
    }

    /// Build every refusal with `responder`.
    pub fn responder(
        mut self,
        responder: impl Fn(&Verdict, &Engine) -> Denial + Send + Sync + 'static,
    ) -> Self {
        self.responses.custom = Some(Arc::new(responder));
        self
    }

    /// The gate.
    pub fn build(self) -> Gate {
        let registry = Mutex::new(HashMap::new());
        let loaded = load(&registry, self.engine);
        Gate {
            shared: Arc::new(Shared {
                current: ArcSwap::from_pointee(loaded),
                path: self.path,
                responses: self.responses,
                registry,
                other: OtherCounters::default(),
                warned_no_peer: AtomicBool::new(false),
            }),
        }
    }
}

/// An engine with its counters (taken from the registry by rule name) and shared names.
fn load(registry: &Mutex<HashMap<String, Arc<RuleCounters>>>, engine: Engine) -> Loaded {
    let mut registry = match registry.lock() {
        Ok(r) => r,
        Err(poisoned) => poisoned.into_inner(),
    };
    let counters = engine
        .rules()
        .iter()
        .map(|r| registry.entry(r.name().to_owned()).or_default().clone())
        .collect();
    drop(registry);
    let names = std::array::from_fn(|_| Names {
        rules: engine.rules().iter().map(|r| Arc::from(r.name())).collect(),
        clients: engine
            .clients
            .iter()
            .map(|c| (Arc::from(c.name.as_str()), Arc::from(c.roles.clone())))
            .collect(),
        no_roles: Arc::from(Vec::new()),
    });
    Loaded {
        engine,
        counters,
        names,
    }
}

impl Gate {
    /// A gate over `engine`, with default responses.
    pub fn new(engine: Engine) -> Gate {
        Gate::builder(engine).build()
    }

    /// A gate for the policy at `path`, which [`Gate::reload`] reads again.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Gate, PolicyError> {
        Ok(Gate::builder_from_path(path)?.build())
    }

    /// A builder over `engine`.
    pub fn builder(engine: Engine) -> GateBuilder {
        GateBuilder {
            engine,
            path: None,
            responses: ResponseOptions::default(),
        }
    }

    /// A builder for the policy at `path`, which [`Gate::reload`] reads again.
    pub fn builder_from_path(path: impl AsRef<Path>) -> Result<GateBuilder, PolicyError> {
        let path = path.as_ref();
        let engine = Policy::from_path(path)?.compile()?;
        Ok(GateBuilder {
            engine,
            path: Some(path.to_path_buf()),
            responses: ResponseOptions::default(),
        })
    }

    /// The engine in use now. Requests that already started keep the engine they started with.
    pub fn engine(&self) -> EngineRef {
        EngineRef(self.shared.current.load_full())
    }

    /// Puts `engine` in place atomically.
    pub fn swap(&self, engine: Engine) {
        let loaded = load(&self.shared.registry, engine);
        self.shared.current.store(Arc::new(loaded));
    }

    /// Reads and compiles the policy file again (off the request path) and swaps it in; on any
    /// error the old engine stays and the error is returned.
    ///
    /// Every reload is logged (target `portcullis`): `policy reloaded` at INFO with the new
    /// and previous revisions, or `policy reload refused` at ERROR with the error and the
    /// revision kept.
    pub fn reload(&self) -> Result<(), PolicyError> {
        let Some(path) = &self.shared.path else {
            return Err(PolicyError::invalid(
                "this gate was not made from a policy file",
            ));
        };
        let previous = self.shared.current.load().engine.revision();
        match Policy::from_path(path).and_then(|p| p.compile()) {
            Ok(engine) => {
                let revision = engine.revision();
                let files = engine.source_files().len();
                self.swap(engine);
                tracing::info!(
                    target: "portcullis", path = %path.display(), revision = %revision,
                    previous = %previous, files, changed = revision != previous,
                    "policy reloaded"
                );
                Ok(())
            }
            Err(e) => {
                tracing::error!(
                    target: "portcullis", path = %path.display(), revision = %previous,
                    "policy reload refused, keeping revision {previous}: {e}"
                );
                Err(e)
            }
        }
    }

    /// The policy file this gate reloads from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.shared.path.as_deref()
    }

    /// A snapshot of the decision counters.
    pub fn counts(&self) -> Counts {
        let registry = match self.shared.registry.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut counts = Counts {
            rules: registry
                .iter()
                .map(|(k, v)| (k.clone(), v.snapshot()))
                .collect(),
            ..Counts::default()
        };
        self.shared.other.fill(&mut counts);
        counts
    }

    /// Decides a request, counts and logs the decision, and says what to do with it: the one
    /// entry point of every adapter. An adapter whose application never reads the [`Caller`]
    /// drops it (the tower layer's and the actix middleware's `without_caller()`).
    pub fn check(&self, request: &RequestView<'_>) -> Outcome {
        let loaded = self.shared.current.load();
        let shard = shard();
        match self.judge(&loaded, request, shard) {
            Ok(verdict) => Outcome::Pass(caller(&loaded, &verdict, shard)),
            Err(denial) => Outcome::Deny(denial),
        }
    }

    /// The decision, counted and logged; the refusal to send if it blocks.
    fn judge(
        &self,
        loaded: &Loaded,
        request: &RequestView<'_>,
        shard: usize,
    ) -> Result<Verdict, Denial> {
        let engine = &loaded.engine;
        let verdict = engine.decide(request);
        self.count(loaded, &verdict, shard);
        self.log(engine, request, &verdict);
        if verdict.blocks() {
            let id = || {
                let mut given = request.header_values("x-request-id");
                respond::request_id(given.next())
            };
            return Err(self.shared.responses.deny(&verdict, engine, id));
        }
        Ok(verdict)
    }

    fn count(&self, loaded: &Loaded, verdict: &Verdict, shard: usize) {
        let other = self.shared.other.line(shard);
        match verdict.cause() {
            Cause::Rule(id) => {
                if let Some(c) = loaded.counters.get(id.index()) {
                    let c = c.line(shard);
                    bump(if verdict.is_allowed() {
                        &c.allowed
                    } else {
                        &c.forbidden
                    });
                }
            }
            Cause::Default if verdict.is_allowed() => bump(&other.default_allowed),
            Cause::Default => bump(&other.default_forbidden),
            Cause::Refused(_) => bump(&other.refused),
        }
        for id in verdict.reported().iter() {
            if let (Some(c), Some(rule)) = (
                loaded.counters.get(id.index()),
                loaded.engine.rules().get(id.index()),
            ) {
                let c = c.line(shard);
                bump(if rule.effect() == Effect::Forbid {
                    &c.would_forbid
                } else {
                    &c.would_allow
                });
            }
        }
    }

    fn log(&self, engine: &Engine, request: &RequestView<'_>, verdict: &Verdict) {
        use std::sync::atomic::Ordering;
        if verdict.cause() == Cause::Refused(Refusal::UnknownClient(UnknownClient::NoPeer))
            && !self.shared.warned_no_peer.swap(true, Ordering::Relaxed)
        {
            tracing::error!(
                target: "portcullis",
                "request without a peer address: every request is refused; give the adapter the connection's address \
                 (axum: serve with `into_make_service_with_connect_info::<SocketAddr>()`, or set a peer extractor)"
            );
        }
        let would_forbid = verdict
            .reported()
            .iter()
            .filter_map(|id| engine.rule(id))
            .any(|r| r.effect() == Effect::Forbid);
        let forbidden = verdict.decision() == Decision::Forbidden;
        if forbidden || would_forbid {
            if !tracing::enabled!(target: "portcullis", tracing::Level::WARN) {
                return;
            }
            let explanation = engine.explain(request);
            let rule = explanation.rule_name().unwrap_or("");
            let client = verdict
                .client_ip()
                .map(|ip| ip.to_string())
                .unwrap_or_default();
            let method = String::from_utf8_lossy(request.method());
            let path = log_path(request.target());
            match (forbidden, verdict.enforced()) {
                (true, true) => tracing::warn!(
                    target: "portcullis", decision = "forbidden", rule, status = verdict.status(),
                    client = %client, method = %method, path = %path, "{explanation}"
                ),
                (true, false) => tracing::warn!(
                    target: "portcullis", decision = "would-forbid", rule, status = verdict.status(),
                    client = %client, method = %method, path = %path, "{explanation}"
                ),
                (false, _) => {
                    let reported = verdict
                        .reported()
                        .iter()
                        .filter_map(|id| engine.rule(id))
                        .find(|r| r.effect() == Effect::Forbid)
                        .map_or("", |r| r.name());
                    tracing::warn!(
                        target: "portcullis", decision = "would-forbid", rule = reported, status = 200u16,
                        client = %client, method = %method, path = %path, "{explanation}"
                    )
                }
            }
        } else if tracing::enabled!(target: "portcullis", tracing::Level::DEBUG) {
            let explanation = engine.explain(request);
            tracing::debug!(
                target: "portcullis", decision = "allow", rule = explanation.rule_name().unwrap_or(""),
                client = %verdict.client_ip().map(|ip| ip.to_string()).unwrap_or_default(),
                method = %String::from_utf8_lossy(request.method()), path = %log_path(request.target()), "{explanation}"
            );
        }
    }
}

/// The path of a target for logs: without the query, which may carry secrets.
fn log_path(target: &[u8]) -> String {
    let end = target
        .iter()
        .position(|&b| b == b'?')
        .unwrap_or(target.len());
    String::from_utf8_lossy(target.get(..end).unwrap_or(target))
        .escape_debug()
        .to_string()
}

/// The engine a gate uses at one moment; it stays valid while held, whatever reloads happen.
#[derive(Debug, Clone)]
pub struct EngineRef(Arc<Loaded>);

impl std::ops::Deref for EngineRef {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        &self.0.engine
    }
}
