//! The shared handle that adapters use: the current engine (swapped atomically on reload),
//! how refusals are answered, decision logs and counters.
//!
//! Adapters hold no policy logic: they build a [`RequestView`], call [`Gate::check`], and turn
//! the [`Outcome`] into their framework's response.

mod counters;
mod log;
#[cfg(feature = "metrics")]
mod metrics;
mod request_id;
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
pub use request_id::{RequestId, RequestIds};
pub use respond::{Denial, Responder, ResponseOptions};
#[cfg(feature = "watch")]
pub use watch::{PolicyWatcher, WatchOptions};

use crate::engine::claims::Claims;
use crate::engine::request::RequestView;
use crate::{Cause, Effect, Engine, Policy, PolicyError, Refusal, UnknownClient, Verdict};

/// Who is calling, as decided by the policy: inserted into request extensions for handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The client address the decision used.
    pub client_ip: Option<IpAddr>,
    /// The API client whose key the request carried, or the client its bearer token names
    /// (the issuer's `client_claim`).
    pub client: Option<Arc<str>>,
    /// That client's roles: an API client's from the policy, a token's from its issuer's
    /// `roles_claim`.
    pub roles: Arc<[String]>,
    /// The rule that allowed the request (`None` for the default).
    pub rule: Option<Arc<str>>,
    /// The decision; `Forbidden` only when the policy is in report mode.
    pub decision: crate::Decision,
    /// The request's id, as in the decision log: the one it arrived with when that is kept
    /// (see [`RequestIds`]), else a new one.
    pub request_id: RequestId,
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
    flood: log::Flood,
    #[cfg(feature = "metrics")]
    metrics: metrics::Metrics,
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
    request_ids: RequestIds,
    request_id_header: String,
    log_limit: Option<u32>,
}

/// The caller of a request let through, named from the thread's shard of shared names.
fn caller(
    loaded: &Loaded,
    verdict: &Verdict,
    token: Option<&Claims>,
    shard: usize,
    request_id: RequestId,
) -> Caller {
    let names = &loaded.names[shard % SHARDS];
    let key = verdict.client().and_then(|c| names.clients.get(c.index()));
    // A request carries a key or a token, never both (that is refused as ambiguous).
    let (client, roles) = match (key, token) {
        (Some((name, roles)), _) => (Some(name.clone()), roles.clone()),
        (None, Some(claims)) => (claims.client.clone(), claims.roles.clone()),
        (None, None) => (None, names.no_roles.clone()),
    };
    Caller {
        client_ip: verdict.client_ip(),
        client,
        roles,
        rule: verdict
            .rule()
            .and_then(|id| names.rules.get(id.index()).cloned()),
        decision: verdict.decision(),
        request_id,
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
    request_ids: RequestIds,
    request_id_header: String,
    log_limit: Option<u32>,
}

impl GateBuilder {
    fn new(engine: Engine, path: Option<PathBuf>) -> GateBuilder {
        GateBuilder {
            engine,
            path,
            responses: ResponseOptions::default(),
            request_ids: RequestIds::default(),
            request_id_header: "x-request-id".to_owned(),
            log_limit: Some(log::DEFAULT_LOG_LIMIT),
        }
    }

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

    /// When to keep the request id a request arrives with (by default: from the policy's
    /// trusted proxies only).
    pub fn request_ids(mut self, ids: RequestIds) -> Self {
        self.request_ids = ids;
        self
    }

    /// The header that carries request ids (by default `x-request-id`).
    pub fn request_id_header(mut self, name: &str) -> Self {
        self.request_id_header = name.to_ascii_lowercase();
        self
    }

    /// At most `per_second` decision log events per rule per second (default 32), then one
    /// line with the number suppressed; `None` logs every event. Counters and metrics count
    /// every request either way.
    pub fn log_limit(mut self, per_second: Option<u32>) -> Self {
        self.log_limit = per_second;
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
        #[cfg(feature = "metrics")]
        metrics::info(self.engine.revision());
        let loaded = load(&registry, self.engine);
        Gate {
            shared: Arc::new(Shared {
                current: ArcSwap::from_pointee(loaded),
                path: self.path,
                responses: self.responses,
                registry,
                other: OtherCounters::default(),
                warned_no_peer: AtomicBool::new(false),
                request_ids: self.request_ids,
                request_id_header: self.request_id_header,
                log_limit: self.log_limit,
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
            .callers
            .clients
            .iter()
            .map(|c| (Arc::from(c.name.as_str()), Arc::from(c.roles.clone())))
            .collect(),
        no_roles: Arc::from(Vec::new()),
    });
    Loaded {
        flood: log::Flood::new(engine.rules().len()),
        #[cfg(feature = "metrics")]
        metrics: metrics::Metrics::new(&engine),
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
        GateBuilder::new(engine, None)
    }

    /// A builder for the policy at `path`, which [`Gate::reload`] reads again.
    pub fn builder_from_path(path: impl AsRef<Path>) -> Result<GateBuilder, PolicyError> {
        let path = path.as_ref();
        let engine = Policy::from_path(path)?.compile()?;
        Ok(GateBuilder::new(engine, Some(path.to_path_buf())))
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
                #[cfg(feature = "metrics")]
                metrics::reloaded(true, previous, revision);
                tracing::info!(
                    target: "portcullis", path = %path.display(), revision = %revision,
                    previous = %previous, files, changed = revision != previous,
                    "policy reloaded"
                );
                Ok(())
            }
            Err(e) => {
                #[cfg(feature = "metrics")]
                metrics::reloaded(false, previous, previous);
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
        let engine = &loaded.engine;
        let (verdict, token) = engine.decide_with_token(request);
        let request_id = self.request_id(engine, request);
        self.count(&loaded, &verdict, shard);
        self.warn_no_peer(&verdict);
        log::Event {
            engine,
            request,
            verdict: &verdict,
            request_id: &request_id,
        }
        .log(&loaded.flood, self.shared.log_limit);
        if verdict.blocks() {
            Outcome::Deny(self.shared.responses.deny(&verdict, engine, &request_id))
        } else {
            Outcome::Pass(caller(
                &loaded,
                &verdict,
                token.as_deref(),
                shard,
                request_id,
            ))
        }
    }

    /// The request's id: the incoming one when it may be kept, else a new one.
    fn request_id(&self, engine: &Engine, request: &RequestView<'_>) -> RequestId {
        let keep = match self.shared.request_ids {
            RequestIds::Generate => false,
            RequestIds::FromAnyone => true,
            RequestIds::FromTrustedProxies => request
                .peer()
                .is_some_and(|peer| engine.settings.client_ip.is_trusted(peer)),
        };
        if keep {
            let mut given = request.header_values(&self.shared.request_id_header);
            // One value only: two ids are no id.
            if let (Some(id), None) = (given.next(), given.next()) {
                if let Some(id) = RequestId::given(id) {
                    return id;
                }
            }
        }
        RequestId::make()
    }

    fn count(&self, loaded: &Loaded, verdict: &Verdict, shard: usize) {
        #[cfg(feature = "metrics")]
        loaded.metrics.record(&loaded.engine, verdict);
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

    /// Says once, loudly, that the adapter gives no peer address (every request is then
    /// refused).
    fn warn_no_peer(&self, verdict: &Verdict) {
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
    }
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
