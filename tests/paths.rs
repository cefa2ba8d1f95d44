//! Path handling through the whole engine: ambiguous targets are refused with a 400 and the
//! reason before any rule runs; ordinary targets are decided by the rules.

use portcullis::{Cause, Policy, Refusal, Request};

const POLICY: &str = r#"
[policy]
default = "forbid"

[[rules]]
name = "no-admin"
effect = "forbid"
when = { path = ["/admin/**"] }

[[rules]]
name = "site"
effect = "allow"
when = { path = ["/**"] }
"#;

fn decide(target: &[u8]) -> (Cause, u16) {
    let engine = Policy::from_toml(POLICY).unwrap().compile().unwrap();
    let v = engine.decide(&Request::get(target).peer("192.0.2.1".parse().unwrap()));
    (v.cause(), v.status())
}

fn rule(name: &str) -> Cause {
    let engine = Policy::from_toml(POLICY).unwrap().compile().unwrap();
    Cause::Rule(engine.rule_by_name(name).unwrap().id())
}

#[test]
fn each_ambiguous_class_is_refused() {
    use Refusal::*;
    let cases: &[(&[u8], Refusal)] = &[
        (b"/public/../admin", DotSegment),
        (b"/public/./x", DotSegment),
        (b"/public/%2e%2e/admin", DotSegment),
        (b"/public/%2E%2e/admin", DotSegment),
        (b"/public/.%2E/admin", DotSegment),
        (b"//admin", EmptySegment),
        (b"/admin//x", EmptySegment),
        (b"/public\\..\\admin", Backslash),
        (b"/public%5c..%5cadmin", EncodedBackslash),
        (b"/public%2f..%2fadmin", EncodedSlash),
        (b"/admin%2Fusers", EncodedSlash),
        (b"/public%252e%252e/admin", EncodedPercent),
        (b"/admin%3f", EncodedDelimiter),
        (b"/admin%23x", EncodedDelimiter),
        (b"/public#/../admin", Fragment),
        (b"/x/..;/admin", PathParameter),
        (b"/admin;x=1/users", PathParameter),
        (b"/admin%3bx", PathParameter),
        (b"/admin%00", ControlCharacter),
        (b"/admin\x00", ControlCharacter),
        (b"/admin%0d%0aSet-Cookie:x", ControlCharacter),
        (b"/admin x", ControlCharacter),
        (b"/admin%7f", ControlCharacter),
        (b"/admin%g0", InvalidEscape),
        (b"/admin%2", InvalidEscape),
        (b"/%c0%ae%c0%ae/admin", NotUtf8),
        (b"/\xff", NotUtf8),
        // Found by fuzzing: a C1 control character (U+008A) in raw UTF-8.
        (b"/a'.\xc2\x8a\xd5\x9ed", ControlCharacter),
        (b"admin", TargetForm),
        (b"", EmptyTarget),
    ];
    for (target, want) in cases {
        let (cause, status) = decide(target);
        assert_eq!(
            cause,
            Cause::Refused(*want),
            "{}",
            String::from_utf8_lossy(target)
        );
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(target));
    }
}

#[test]
fn ordinary_paths_are_decided_by_the_rules() {
    let cases: &[(&[u8], &str)] = &[
        (b"/", "site"),
        (b"/docs/my%20file.txt", "site"),
        (b"/docs/caf%C3%A9", "site"),
        ("/docs/café".as_bytes(), "site"),
        (b"/search+terms", "site"),
        (b"/~user/page", "site"),
        (b"/docs?q=../../admin&x=%2f", "site"),
        (b"/admin", "no-admin"),
        (b"/admin/", "no-admin"),
        (b"/admin?x=1", "no-admin"),
        (b"/%61dmin/users", "no-admin"),
        (b"/%41dmin/users", "site"), // case-sensitive by default: `/Admin` is another path
        (b"http://example.com/admin/x", "no-admin"),
        (b"/administrator", "site"),
        (b"/.well-known/security.txt", "site"),
    ];
    for (target, want) in cases {
        assert_eq!(
            decide(target).0,
            rule(want),
            "{}",
            String::from_utf8_lossy(target)
        );
    }
}

#[test]
fn case_insensitive_paths_on_request() {
    let text = POLICY.replace("[policy]", "[paths]\ncase_sensitive = false\n\n[policy]");
    let engine = Policy::from_toml(&text).unwrap().compile().unwrap();
    let peer = "192.0.2.1".parse().unwrap();
    for target in ["/ADMIN/x", "/Admin", "/%41dmin/users"] {
        let v = engine.decide(&Request::get(target).peer(peer));
        assert_eq!(
            engine.rule(v.rule().unwrap()).unwrap().name(),
            "no-admin",
            "{target}"
        );
    }
}

#[test]
fn encoded_slash_option_decides_under_both_readings() {
    let text = r#"
        [policy]
        default = "forbid"
        [paths]
        encoded_slash = "both"
        [[rules]]
        name = "no-admin"
        effect = "forbid"
        when = { path = ["/files/admin/**"] }
        [[rules]]
        name = "files"
        effect = "allow"
        when = { path = ["/files/*"] }
        [[rules]]
        name = "deep-files"
        effect = "allow"
        when = { path = ["/files/*/*"] }
    "#;
    let engine = Policy::from_toml(text).unwrap().compile().unwrap();
    let peer = "192.0.2.1".parse().unwrap();
    let name = |t: &str| {
        let v = engine.decide(&Request::get(t).peer(peer));
        (
            v.is_allowed(),
            v.rule()
                .map(|id| engine.rule(id).unwrap().name().to_owned()),
        )
    };
    // `a%2Fb` is one segment to a backend that keeps it, two to one that decodes it: both
    // readings are allowed here, so the request is (named by the decoded reading, tried first).
    assert_eq!(name("/files/a%2Fb"), (true, Some("deep-files".into())));
    // A forbid rule that holds under the decoded reading wins, whatever the kept reading says.
    assert_eq!(
        name("/files/admin%2Fsecrets"),
        (false, Some("no-admin".into()))
    );
    // Dot segments stay refused in the decoded reading.
    assert!(matches!(
        engine
            .decide(&Request::get("/files/x%2F..%2Fadmin").peer(peer))
            .cause(),
        Cause::Refused(Refusal::DotSegment)
    ));
    // The explanation names the reading that forbade.
    let e = engine.explain(&Request::get("/files/admin%2Fx").peer(peer));
    assert_eq!(e.rule_name(), Some("no-admin"));
    // Without the option, the same request is refused outright.
    let strict = Policy::from_toml(&text.replace("encoded_slash = \"both\"", ""))
        .unwrap()
        .compile()
        .unwrap();
    assert_eq!(
        strict
            .decide(&Request::get("/files/a%2Fb").peer(peer))
            .cause(),
        Cause::Refused(Refusal::EncodedSlash)
    );
}

#[test]
fn over_long_targets_are_refused() {
    let text = POLICY.replace("[policy]", "[paths]\nmax_length = 64\n\n[policy]");
    let engine = Policy::from_toml(&text).unwrap().compile().unwrap();
    let long = format!("/{}", "a".repeat(100));
    let v = engine.decide(&Request::get(long).peer("192.0.2.1".parse().unwrap()));
    assert_eq!(v.cause(), Cause::Refused(Refusal::TargetTooLong));
}
