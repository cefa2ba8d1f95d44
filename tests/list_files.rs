//! List files as feeds publish them, read through a policy file: every bad line reported at
//! once, `on_invalid = "skip"` warnings, and both as `portcullis check` shows them.

use std::path::{Path, PathBuf};

use portcullis::{Decision, Engine, Policy, PolicyError, Request};

mod scratch;
use scratch::scratch;

/// A fresh directory holding `policy.toml` and the given list files.
fn setup(test: &str, policy: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = scratch().join(test);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("policy.toml"), policy).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

fn compile(dir: &Path) -> Result<Engine, PolicyError> {
    Policy::from_path(dir.join("policy.toml"))?.compile()
}

const POLICY: &str = r#"[policy]
default = "allow"
[lists]
feed = { file = "feed.txt", on_invalid = "skip" }
own = { file = "own.txt" }
[[rules]]
name = "blocked"
effect = "forbid"
when = { ip = ["@feed", "@own"] }
"#;

const FEED: &str = "\u{feff}# feed, CRLF\r\n192.0.2.0-192.0.2.127 ; range\r\nnot-an-ip\r\n2001:db8::/32\r\n010.0.0.1\r\n";

#[test]
fn a_skipping_list_loads_its_good_lines_and_warns() {
    let dir = setup(
        "skip",
        POLICY,
        &[("feed.txt", FEED), ("own.txt", "198.51.100.7\n")],
    );
    let e = compile(&dir).unwrap();
    let lists: Vec<_> = e.lists().collect();
    assert_eq!(lists, [("feed", 2), ("own", 1)]);
    let decide = |a: &str| {
        e.decide(&Request::get("/").peer(a.parse().unwrap()))
            .decision()
    };
    let cases = [
        ("192.0.2.0", Decision::Forbidden),
        ("192.0.2.127", Decision::Forbidden),
        ("192.0.2.128", Decision::Allow),
        ("2001:db8::1", Decision::Forbidden),
        ("198.51.100.7", Decision::Forbidden),
        ("10.0.0.1", Decision::Allow),
    ];
    for (addr, want) in cases {
        assert_eq!(decide(addr), want, "{addr}");
    }
    let [w] = e.warnings() else {
        panic!("one warning: {:?}", e.warnings())
    };
    let file = dir.join("feed.txt").display().to_string();
    assert_eq!(
        w.to_string(),
        format!(
            "list `feed` file `{file}`: skipped 2 invalid lines: {file}:3:1: `not-an-ip` is not a \
             valid address; {file}:5:1: `010.0.0.1` is not a valid address (addresses are \
             written without leading zeros)"
        )
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_refusing_list_names_every_bad_line() {
    let own = "192.0.2.1\nexample.com\n192.0.2.0/24\n10.1.2.3/8\n";
    let dir = setup("refuse", POLICY, &[("feed.txt", FEED), ("own.txt", own)]);
    let err = compile(&dir).unwrap_err();
    let file = dir.join("own.txt").display().to_string();
    assert_eq!(
        err.to_string(),
        format!(
            "{file}:2:1: in list `own` (first of 2 invalid lines): `example.com` is not a valid \
             address; {file}:4:1: CIDR `10.1.2.3/8` has host bits set (did you mean `10.0.0.0/8`?)"
        )
    );
    assert_eq!(err.snippet(), Some("example.com"));
    assert_eq!(err.related()[0].snippet(), Some("10.1.2.3/8"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn skipped_lines_are_logged_when_the_policy_compiles() {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let dir = setup("log", POLICY, &[("feed.txt", FEED), ("own.txt", "")]);
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || compile(&dir).unwrap());
    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(log.contains("WARN portcullis:"), "{log}");
    assert!(log.contains("list `feed` file `"), "{log}");
    assert!(log.contains("skipped 2 invalid lines"), "{log}");
    assert!(
        log.contains("list=feed") && log.contains("skipped=2"),
        "{log}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_clean_policy_has_no_warnings() {
    let dir = setup(
        "clean",
        POLICY,
        &[("feed.txt", "192.0.2.1\n"), ("own.txt", "")],
    );
    assert!(compile(&dir).unwrap().warnings().is_empty());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn on_invalid_takes_two_words() {
    let text = "[policy]\ndefault = \"allow\"\n[lists]\nfeed = { file = \"f.txt\", on_invalid = \"ignore\" }\n";
    let err = Policy::from_toml(text).unwrap_err();
    assert!(err.to_string().starts_with("<policy>:4:"), "{err}");
    assert!(
        err.to_string().contains("unknown variant `ignore`"),
        "{err}"
    );
    let text = "[policy]\ndefault = \"allow\"\n[lists]\nfeed = { file = \"f.txt\", skip = true }\n";
    let err = Policy::from_toml(text).unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown field `skip`, expected `file` or `on_invalid`"),
        "{err}"
    );
}

#[cfg(feature = "cli")]
mod cli {
    use super::*;
    use std::process::Command;

    fn check(dir: &Path) -> (Option<i32>, String, String) {
        let o = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["check", "policy.toml"])
            .current_dir(dir)
            .output()
            .expect("the binary runs");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (o.status.code(), text(&o.stdout), text(&o.stderr))
    }

    #[test]
    fn check_shows_skipped_lines_as_warnings() {
        let dir = setup(
            "cli-skip",
            POLICY,
            &[("feed.txt", FEED), ("own.txt", "198.51.100.7\n")],
        );
        let (code, out, err) = check(&dir);
        assert_eq!(code, Some(0), "{err}");
        assert!(out.starts_with("policy.toml: ok."), "{out}");
        assert!(out.contains("feed (2), own (1)"), "{out}");
        assert_eq!(
            err,
            "warning: list `feed` file `feed.txt`: skipped 2 invalid lines: feed.txt:3:1: \
             `not-an-ip` is not a valid address; feed.txt:5:1: `010.0.0.1` is not a valid \
             address (addresses are written without leading zeros)\n"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn check_shows_every_bad_line_with_a_caret() {
        let own = "192.0.2.1\nexample.com\n192.0.2.0/24\n  10.1.2.3/8 # x\n";
        let dir = setup("cli-refuse", POLICY, &[("feed.txt", ""), ("own.txt", own)]);
        let (code, _, err) = check(&dir);
        assert_eq!(code, Some(1), "{err}");
        assert_eq!(
            err,
            "error: own.txt:2:1: in list `own` (first of 2 invalid lines): `example.com` is not a valid address\n  |\n2 | example.com\n  | ^\n\
             error: own.txt:4:3: CIDR `10.1.2.3/8` has host bits set (did you mean `10.0.0.0/8`?)\n  |\n4 |   10.1.2.3/8 # x\n  |   ^\n"
        );
        std::fs::remove_dir_all(dir).ok();
    }
}
