//! The four engines behind one interface, loading with timings, and the agreement check.

use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use portcullis::{Decision, Engine, Policy, Request};

use crate::casbin_peer::{self, CasbinGate};
use crate::cedar_peer::{self, CedarGate};
use crate::rego_peer::{self, RegoGate};
use crate::spec::Spec;

/// One engine with the policy loaded.
pub enum Gate {
    /// portcullis.
    Portcullis(Box<Engine>),
    /// Cedar.
    Cedar(CedarGate),
    /// casbin.
    Casbin(CasbinGate),
    /// Rego (regorus).
    Rego(RegoGate),
}

impl Gate {
    /// The engine's name, as in benchmark ids.
    pub fn name(&self) -> &'static str {
        match self {
            Gate::Portcullis(_) => "portcullis",
            Gate::Cedar(_) => "cedar",
            Gate::Casbin(_) => "casbin",
            Gate::Rego(_) => "rego",
        }
    }

    /// Decides a raw request: for the peers, reading it and looking its key up included.
    pub fn decide(&mut self, request: &Request) -> Decision {
        let allowed = match self {
            Gate::Portcullis(e) => e.decide(request).is_allowed(),
            Gate::Cedar(g) => g.allows(request),
            Gate::Casbin(g) => g.allows(request),
            Gate::Rego(g) => g.allows(request),
        };
        if allowed {
            Decision::Allow
        } else {
            Decision::Forbidden
        }
    }
}

/// How long an engine took to get ready.
#[derive(Debug, Clone)]
pub struct Timing {
    /// The engine.
    pub engine: &'static str,
    /// Producing the peer's policy text from the rule list (none for portcullis).
    pub translate: Option<Duration>,
    /// From policy text to an engine that decides.
    pub load: Duration,
    /// The first decision right after loading (an engine may defer work to it).
    pub first: Duration,
    /// What was loaded.
    pub size: String,
}

/// The engines, loaded, and their timings.
pub struct Loaded {
    /// The rule list the peers were built from.
    pub spec: Spec,
    /// portcullis, Cedar, casbin, Rego.
    pub gates: Vec<Gate>,
    /// One per gate.
    pub timings: Vec<Timing>,
}

/// Compiles the policy at `path` with portcullis and loads its translation into each peer.
pub fn load(path: &Path) -> Loaded {
    let t = Instant::now();
    let engine = Policy::from_path(path)
        .and_then(|p| p.compile())
        .expect("portcullis compiles the policy");
    let stats = engine.stats();
    let mut timings = vec![Timing {
        engine: "portcullis",
        translate: None,
        load: t.elapsed(),
        first: Duration::ZERO,
        size: format!(
            "{} rules, {} prefixes, {} globs",
            stats.rules,
            stats.ipv4_prefixes + stats.ipv6_prefixes,
            stats.globs
        ),
    }];
    let spec = Spec::from_policy(path);

    let t = Instant::now();
    let cedar_text = cedar_peer::policy_text(&spec);
    let translate = t.elapsed();
    let t = Instant::now();
    let cedar = CedarGate::load(&spec, &cedar_text);
    timings.push(Timing {
        engine: "cedar",
        translate: Some(translate),
        load: t.elapsed(),
        first: Duration::ZERO,
        size: format!(
            "{} policies, {} KiB of policy text",
            cedar.policy_count(),
            cedar_text.len() / 1024
        ),
    });

    let t = Instant::now();
    let casbin_text = casbin_peer::policy_text(&spec);
    let translate = t.elapsed();
    let t = Instant::now();
    let casbin = CasbinGate::load(&spec, &casbin_text);
    timings.push(Timing {
        engine: "casbin",
        translate: Some(translate),
        load: t.elapsed(),
        first: Duration::ZERO,
        size: format!(
            "{} policy lines, {} KiB of policy.csv",
            casbin.policy_lines(),
            casbin_text.policy.len() / 1024
        ),
    });

    let t = Instant::now();
    let data = rego_peer::data_json(&spec);
    let translate = t.elapsed();
    let t = Instant::now();
    let rego = RegoGate::load(&spec, &data);
    timings.push(Timing {
        engine: "rego",
        translate: Some(translate),
        load: t.elapsed(),
        first: Duration::ZERO,
        size: format!(
            "{} rules as data, {} KiB of data.json",
            spec.rules.len(),
            data.len() / 1024
        ),
    });

    let mut gates = vec![
        Gate::Portcullis(Box::new(engine)),
        Gate::Cedar(cedar),
        Gate::Casbin(casbin),
        Gate::Rego(rego),
    ];
    let (_, first_request) = &crate::requests()[0];
    for (gate, timing) in gates.iter_mut().zip(timings.iter_mut()) {
        let t = Instant::now();
        gate.decide(first_request);
        timing.first = t.elapsed();
    }
    Loaded {
        spec,
        gates,
        timings,
    }
}

/// The decision the mix's request `name` must get, where the benchmark fixes it
/// (`with-key` is whatever portcullis decides).
pub fn expected_mix(name: &str) -> Option<Decision> {
    match name {
        "allowed" => Some(Decision::Allow),
        "forbidden-early" | "forbidden-late" | "default" => Some(Decision::Forbidden),
        _ => None,
    }
}

/// More requests over the M policy, one or more per kind of rule, with the decision
/// portcullis gives them.
pub fn extra_requests(spec: &Spec) -> Vec<(String, Request, Decision)> {
    use Decision::{Allow, Forbidden};
    let outside: IpAddr = "198.51.100.7".parse().expect("address");
    let req = |method: &str, target: &str| {
        Request::new(method, target)
            .peer(outside)
            .header("host", "api.example.com")
            .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64)")
    };
    // An address inside the first IPv6 range of the block list.
    let blocked_v6: IpAddr = spec
        .rules
        .iter()
        .find(|r| r.name == "blocklisted")
        .and_then(|r| r.when.ip.as_ref())
        .and_then(|ips| ips.iter().find(|c| c.contains(':')))
        .map(|c| {
            let base: Ipv6Addr = c.split('/').next().unwrap_or(c).parse().expect("IPv6");
            IpAddr::V6(Ipv6Addr::from(u128::from(base) | 1))
        })
        .expect("an IPv6 range in the block list");
    let key = crate::key;
    vec![
        ("health", req("GET", "/health"), Allow),
        ("root", req("GET", "/"), Allow),
        ("head-docs", req("HEAD", "/docs/a"), Allow),
        ("query-docs", req("GET", "/docs/a?page=2"), Allow),
        ("post-rule", req("POST", "/svc0/item/2"), Allow),
        ("base-of-double-star", req("GET", "/svc0/res0"), Allow),
        ("star-segment", req("GET", "/svc0/v2/obj3/x"), Allow),
        (
            "delete-not-allowed",
            req("DELETE", "/svc0/item/2"),
            Forbidden,
        ),
        ("forbid-unless", req("GET", "/svc1/res8/x"), Forbidden),
        (
            "forbid-unless-office",
            req("GET", "/svc1/res8/x").peer("203.0.113.5".parse().expect("address")),
            Forbidden,
        ),
        (
            "role-allowed",
            req("GET", "/svc2/res12/a").header("x-api-key", key(2)),
            Allow,
        ),
        (
            "role-bearer",
            req("GET", "/svc2/res12/a").header("authorization", format!("Bearer {}", key(7))),
            Allow,
        ),
        (
            "role-wrong",
            req("GET", "/svc2/res12/a").header("x-api-key", key(3)),
            Forbidden,
        ),
        ("role-no-key", req("GET", "/svc2/res12/a"), Forbidden),
        (
            "role-unknown-key",
            req("GET", "/svc2/res12/a").header("x-api-key", "not-a-key"),
            Forbidden,
        ),
        (
            "bot-debug",
            Request::get("/svc3/res16/a")
                .peer(outside)
                .header("user-agent", "CrawlBot/2.0")
                .header("x-debug", "1"),
            Forbidden,
        ),
        (
            "blocked-v6",
            req("GET", "/docs/x").peer(blocked_v6),
            Forbidden,
        ),
        (
            "office-v6",
            req("GET", "/docs/x").peer("2001:db8:ffff::7".parse().expect("address")),
            Allow,
        ),
        ("late-get", req("GET", "/late/x"), Forbidden),
        ("delete-docs", req("DELETE", "/docs/x"), Forbidden),
    ]
    .into_iter()
    .map(|(n, r, d)| (n.to_owned(), r, d))
    .collect()
}

/// Decides every request with every gate; returns one line per request and the problems
/// (engines that disagree with portcullis, or decisions other than `expected`).
pub fn agreement(
    gates: &mut [Gate],
    requests: &[(String, Request, Option<Decision>)],
) -> (Vec<String>, Vec<String>) {
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for (name, request, expected) in requests {
        let decisions: Vec<(&'static str, Decision)> = gates
            .iter_mut()
            .map(|g| (g.name(), g.decide(request)))
            .collect();
        let reference = decisions[0].1;
        let mut line = format!("{name:24}");
        for (engine, d) in &decisions {
            line.push_str(&format!(" {engine}={d}"));
            if *d != reference {
                problems.push(format!("{name}: {engine} says {d}, portcullis {reference}"));
            }
        }
        if let Some(e) = expected {
            if reference != *e {
                problems.push(format!("{name}: expected {e}, portcullis says {reference}"));
            }
        }
        lines.push(line);
    }
    (lines, problems)
}
