//! The four engines agree on every request of the benchmark mix and on the extra requests,
//! and decide the mix as the benchmark expects. `cargo test --release` (the peers are slow
//! without optimisation).

use peers::gate::Gate;
use peers::{agreement, expected_mix, extra_requests, load};
use peers::{requests, write_policy, M};
use portcullis_peers as peers;

#[test]
fn all_engines_agree_on_the_m_policy() {
    let dir = std::env::temp_dir().join(format!("portcullis-peers-check-{}", std::process::id()));
    let path = write_policy(M, &dir);
    let mut loaded = load(&path);
    for t in &loaded.timings {
        println!(
            "{:10} load {:?}, first decision {:?} ({})",
            t.engine, t.load, t.first, t.size
        );
    }

    let mut all: Vec<_> = requests()
        .into_iter()
        .map(|(name, r)| (name.to_owned(), r, expected_mix(name)))
        .collect();
    all.extend(
        extra_requests(&loaded.spec)
            .into_iter()
            .map(|(n, r, d)| (n, r, Some(d))),
    );

    // A Cedar policy that errs is skipped, not failed: make sure none does.
    for gate in &loaded.gates {
        if let Gate::Cedar(cedar) = gate {
            for (name, request, _) in &all {
                let errors = cedar.errors(request);
                assert!(errors.is_empty(), "{name}: Cedar errors {errors:?}");
            }
        }
    }

    let (lines, problems) = agreement(&mut loaded.gates, &all);
    for line in &lines {
        println!("{line}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        problems.is_empty(),
        "disagreements:\n{}",
        problems.join("\n")
    );
    println!("{} requests, 4 engines: all agree", all.len());
}

/// The one documented difference, shown to be real: Cedar's `like` `*` crosses `/`, so a
/// path one segment deeper than a `*` allows matches in Cedar only. The mix has no such path.
#[test]
fn cedar_star_crosses_segments() {
    use portcullis::{Decision, Request};

    let dir = std::env::temp_dir().join(format!("portcullis-peers-diff-{}", std::process::id()));
    let path = write_policy(M, &dir);
    let mut loaded = load(&path);
    let _ = std::fs::remove_dir_all(&dir);
    // Rule r0 allows GET on `/svc0/files/*.ext1`.
    let request = Request::get("/svc0/files/a/b.ext1").peer("198.51.100.7".parse().expect("ip"));
    for gate in loaded.gates.iter_mut() {
        let expected = match gate.name() {
            "cedar" => Decision::Allow,
            _ => Decision::Forbidden,
        };
        assert_eq!(gate.decide(&request), expected, "{}", gate.name());
    }
}
