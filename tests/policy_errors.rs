//! Every class of malformed policy is an error naming the file, line, column and rule — and
//! none panics.

use portcullis::{ErrorKind, Format, Policy, PolicyError};

const HEAD: &str = "[policy]\ndefault = \"forbid\"\n";

fn load(body: &str) -> Result<portcullis::Engine, PolicyError> {
    let text = format!("{HEAD}{body}");
    Policy::parse("policy.toml", text, Format::Toml)?.compile()
}

/// (policy body after the two head lines, line of the error, rule named, words in the message)
const CASES: &[(&str, usize, Option<&str>, &str)] = &[
    // Unknown keys anywhere.
    ("paths = []\n", 3, None, "unknown field `paths`"),
    ("[[rules]]\nname = \"a\"\neffect = \"allow\"\nwhen = { paths = [\"/x\"] }\n", 6, None, "unknown field `paths`"),
    ("[[rules]]\nname = \"a\"\neffect = \"allow\"\nwhen = { path = [\"/x\"] }\nunles = { ip = [\"10.0.0.0/8\"] }\n", 7, None, "unknown field `unles`"),
    ("[client_ip]\nsorce = \"peer\"\n", 4, None, "unknown field `sorce`"),
    ("[lists]\noffice = { files = \"x.txt\" }\n", 4, None, "unknown field `files`"),
    ("[keys]\nheader = \"x-api-key\"\n[keys.clients.a]\nsha = []\n", 6, None, "unknown field `sha`"),
    // Wrong values and types.
    ("[[rules]]\nname = \"a\"\neffect = \"permit\"\n", 5, None, "unknown variant `permit`"),
    ("[[rules]]\nname = \"a\"\neffect = \"allow\"\nwhen = { authenticated = \"yes\" }\n", 6, None, "invalid type"),
    // Addresses.
    ("[[rules]]\nname = \"net\"\neffect = \"forbid\"\nwhen = { ip = [\"10.1.2.3/8\"] }\n", 6, Some("net"), "host bits set (did you mean `10.0.0.0/8`?)"),
    ("[[rules]]\nname = \"zeros\"\neffect = \"forbid\"\nwhen = { ip = [\"010.0.0.1\"] }\n", 6, Some("zeros"), "not a valid address"),
    ("[[rules]]\nname = \"ws\"\neffect = \"forbid\"\nwhen = { ip = [\" 10.0.0.1\"] }\n", 6, Some("ws"), "stray whitespace"),
    ("[lists]\noffice = [\"10.0.0.0/8\", \"192.168.1.1/16\"]\n", 4, None, "in list `office`: CIDR `192.168.1.1/16` has host bits set"),
    ("[client_ip]\nsource = \"x-forwarded-for\"\ntrusted_proxies = [\"10.0.0.1/8\"]\n", 5, None, "trusted proxy CIDR"),
    // Names.
    ("[[rules]]\nname = \"list\"\neffect = \"forbid\"\nwhen = { ip = [\"@nope\"] }\n", 6, Some("list"), "unknown list `nope`"),
    ("[[rules]]\nname = \"dup\"\neffect = \"allow\"\n[[rules]]\nname = \"dup\"\neffect = \"allow\"\n", 7, Some("dup"), "used more than once"),
    ("[[rules]]\nname = \"\"\neffect = \"allow\"\n", 4, Some(""), "non-empty `name`"),
    ("[[rules]]\nname = \"c\"\neffect = \"allow\"\nwhen = { client = [\"ghost\"] }\n", 6, Some("c"), "unknown client `ghost`"),
    // Patterns.
    ("[[rules]]\nname = \"empty\"\neffect = \"allow\"\nwhen = { path = [\"\"] }\n", 6, Some("empty"), "empty glob"),
    ("[[rules]]\nname = \"none\"\neffect = \"allow\"\nwhen = { path = [] }\n", 6, Some("none"), "`path` is empty"),
    ("[[rules]]\nname = \"space\"\neffect = \"allow\"\nwhen = { path = [\"/admin/** \"] }\n", 6, Some("space"), "stray whitespace"),
    ("[[rules]]\nname = \"glob\"\neffect = \"allow\"\nwhen = { path = [\"/a[b\"] }\n", 6, Some("glob"), "invalid glob `/a[b`"),
    ("[[rules]]\nname = \"rel\"\neffect = \"allow\"\nwhen = { path = [\"admin/**\"] }\n", 6, Some("rel"), "must start with `/`"),
    // Globs that no request the engine accepts could match.
    ("[[rules]]\nname = \"port\"\neffect = \"forbid\"\nwhen = { host = [\"example.com:8080\"] }\n", 6, Some("port"), "has a port: the engine matches hosts without their port, so the glob could never match (write `example.com`)"),
    ("[[rules]]\nname = \"dot\"\neffect = \"forbid\"\nwhen = { host = [\"example.com.\"] }\n", 6, Some("dot"), "ends with a dot"),
    ("[[rules]]\nname = \"idn\"\neffect = \"forbid\"\nwhen = { host = [\"b\u{fc}cher.de\"] }\n", 6, Some("idn"), "`xn--` form"),
    ("[[rules]]\nname = \"esc\"\neffect = \"forbid\"\nwhen = { path = [\"/caf%C3%A9/**\"] }\n", 6, Some("esc"), "write `/caf\u{e9}/**` instead"),
    ("[[rules]]\nname = \"slash\"\neffect = \"forbid\"\nwhen = { path = [\"/a%2Fb\"] }\n", 6, Some("slash"), "an encoded `/` is refused"),
    ("[[rules]]\nname = \"dots\"\neffect = \"forbid\"\nwhen = { path = [\"/static/../admin/**\"] }\n", 6, Some("dots"), "dot segment"),
    ("[[rules]]\nname = \"empty-seg\"\neffect = \"forbid\"\nwhen = { path = [\"/a//b\"] }\n", 6, Some("empty-seg"), "empty segment"),
    ("[[rules]]\nname = \"bs\"\neffect = \"forbid\"\nwhen = { path = ['/a\\\\b'] }\n", 6, Some("bs"), "backslash"),
    ("[[rules]]\nname = \"semi\"\neffect = \"forbid\"\nwhen = { path = [\"/a;b\"] }\n", 6, Some("semi"), "`;`"),
    ("[[rules]]\nname = \"frag\"\neffect = \"forbid\"\nwhen = { path = [\"/a#b\"] }\n", 6, Some("frag"), "`#`"),
    ("[[rules]]\nname = \"edge\"\neffect = \"forbid\"\nwhen = { path = [\"/admin /x\"] }\n", 6, Some("edge"), "ending with a space"),
    ("[[rules]]\nname = \"star2\"\neffect = \"forbid\"\nwhen = { path = [\"/a**\"] }\n", 6, Some("star2"), "`**` must be a whole path segment"),
    ("[[rules]]\nname = \"range\"\neffect = \"forbid\"\nwhen = { user_agent = [\"*[z-a]*\"] }\n", 6, Some("range"), "invalid range `z-a`"),
    ("[[rules]]\nname = \"alt\"\neffect = \"forbid\"\nwhen = { user_agent = [\"*{bot*\"] }\n", 6, Some("alt"), "maybe escape `{` as `[{]`"),
    ("[[rules]]\nname = \"re\"\neffect = \"allow\"\nwhen = { header = { x-env = { regex = \"(prod\" } } }\n", 6, Some("re"), "invalid regex"),
    ("[[rules]]\nname = \"big\"\neffect = \"allow\"\nwhen = { header = { x-env = { regex = \"(a{100}){100}{100}\" } } }\n", 6, Some("big"), "invalid regex"),
    ("[[rules]]\nname = \"m\"\neffect = \"allow\"\nwhen = { method = [\"GE T\"] }\n", 6, Some("m"), "not a valid method"),
    ("[[rules]]\nname = \"h\"\neffect = \"allow\"\nwhen = { header = { \"bad name\" = \"x\" } }\n", 6, Some("h"), "not a valid header name"),
    ("[[rules]]\nname = \"eh\"\neffect = \"forbid\"\nwhen = { path = \"/a\" }\nunless = { header = {} }\n", 7, Some("eh"), "`header` is empty"),
    ("[[rules]]\nname = \"re2\"\neffect = \"allow\"\nwhen = { header = { x-env = { regex = \"v1)|(v2\" } } }\n", 6, Some("re2"), "invalid regex"),
    ("[[rules]]\nname = \"default\"\neffect = \"allow\"\n", 4, Some("default"), "choose another name"),
    // Keys.
    ("[keys]\n[keys.clients.a]\nsha256 = [\"abc\"]\n", 5, None, "64 hex digits"),
    ("[keys]\n[keys.clients.a]\nsha256 = [\"zz4c9e2d0e5b8ab1d3f5d0e1c8f7a9e4b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6\"]\n", 5, None, "64 hex digits"),
    ("[keys]\n[keys.clients.a]\nsha256 = []\n", 4, None, "no `sha256` digest"),
    ("[keys]\nheader = \"x-api-key\"\n[keys.clients.a]\nsha256 = [\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"]\n[[rules]]\nname = \"k\"\neffect = \"allow\"\nwhen = { header = { x-api-key = \"secret\" } }\n", 10, Some("k"), "carries credentials"),
    ("[[rules]]\nname = \"ck\"\neffect = \"forbid\"\nwhen = { header = { Cookie = \"session=abc\" } }\n", 6, Some("ck"), "carries credentials"),
    ("[[rules]]\nname = \"pa\"\neffect = \"forbid\"\nwhen = { header = { proxy-authorization = { glob = \"Basic *\" } } }\n", 6, Some("pa"), "carries credentials"),
    // Clauses that read two ways.
    ("[[rules]]\nname = \"eu\"\neffect = \"forbid\"\nwhen = { path = \"/a\" }\nunless = {}\n", 7, Some("eu"), "`unless` is empty"),
    // Trusting everyone.
    ("[client_ip]\nsource = \"x-forwarded-for\"\ntrusted_proxies = [\"10.0.0.1\", \"0.0.0.0/0\"]\n", 5, None, "trusts every peer"),
    ("[client_ip]\nsource = \"forwarded\"\ntrusted_proxies = [\"::/0\"]\n", 5, None, "`trust_every_peer = true`"),
    // Status.
    ("[[rules]]\nname = \"s\"\neffect = \"allow\"\nstatus = 404\n", 6, Some("s"), "only for forbid rules"),
    ("[[rules]]\nname = \"s\"\neffect = \"forbid\"\nstatus = 500\n", 6, Some("s"), "must be 401, 403 or 404"),
];

#[test]
fn every_malformed_policy_names_its_place() {
    for (body, line, rule, words) in CASES {
        let err = match load(body) {
            Ok(_) => panic!("compiled, but should not:\n{body}"),
            Err(e) => e,
        };
        let shown = err.to_string();
        assert!(shown.contains(words), "{shown:?} should say {words:?}");
        let loc = err
            .location()
            .unwrap_or_else(|| panic!("no location: {shown}"));
        assert_eq!(loc.file, "policy.toml", "{shown}");
        assert_eq!(loc.line, *line, "{shown}\n{body}");
        assert!(loc.column >= 1, "{shown}");
        assert!(
            shown.starts_with(&format!("policy.toml:{line}:")),
            "{shown}"
        );
        assert_eq!(err.rule(), *rule, "{shown}");
        if let Some(rule) = rule {
            assert!(shown.contains(&format!("rule {rule:?}")), "{shown}");
        }
        assert!(err.snippet().is_some(), "{shown}");
    }
}

/// A repeated key would silently keep one of the two: every format refuses it, at its place.
#[test]
fn duplicate_keys_are_refused_in_every_format() {
    let cases: &[(Format, &str, usize)] = &[
        (
            Format::Json,
            r#"{"policy": {"default": "forbid"},
 "lists": {"office": ["10.0.0.0/8"],
           "office": ["0.0.0.0/0"]}}"#,
            3,
        ),
        (
            Format::Json,
            r#"{"policy": {"default": "forbid"},
 "rules": [{"name": "r", "effect": "forbid",
            "when": {"header": {"x-env": "dev",
                                "x-env": {"present": true}}}}]}"#,
            4,
        ),
        (
            Format::Json,
            r#"{"policy": {"default": "forbid"}, "keys": {"clients": {
  "a": {"sha256": ["ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"], "roles": ["admin"]},
  "a": {"sha256": ["ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"], "roles": []}}}}"#,
            3,
        ),
        (
            Format::Yaml,
            "policy:\n  default: forbid\nlists:\n  office: [\"10.0.0.0/8\"]\n  office: [\"0.0.0.0/0\"]\n",
            5,
        ),
        (
            Format::Toml,
            "[policy]\ndefault = \"forbid\"\n[lists]\noffice = [\"10.0.0.0/8\"]\noffice = [\"0.0.0.0/0\"]\n",
            5,
        ),
    ];
    for (format, text, line) in cases {
        let err = Policy::parse("policy", (*text).to_owned(), *format)
            .and_then(|p| p.compile())
            .expect_err(text);
        let shown = err.to_string();
        assert!(shown.contains("duplicate"), "{format:?}: {shown}");
        assert_eq!(
            err.location().map(|l| l.line),
            Some(*line),
            "{format:?}: {shown}"
        );
    }
}

#[test]
fn trusting_every_peer_takes_an_explicit_opt_in() {
    let text = "[policy]\ndefault = \"forbid\"\n[client_ip]\nsource = \"x-forwarded-for\"\ntrusted_proxies = [\"0.0.0.0/0\", \"::/0\"]\ntrust_every_peer = true\n";
    assert!(Policy::from_toml(text).and_then(|p| p.compile()).is_ok());
}

#[test]
fn an_empty_header_value_can_be_forbidden() {
    use portcullis::Request;
    let engine = Policy::from_toml(
        "[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"no-ua\"\neffect = \"forbid\"\nwhen = { header = { user-agent = [\"\", { absent = true }] } }\n",
    )
    .and_then(|p| p.compile())
    .unwrap();
    let peer = "192.0.2.1".parse().unwrap();
    let cases = [
        (Request::get("/").peer(peer), false),
        (Request::get("/").peer(peer).header("User-Agent", ""), false),
        (
            Request::get("/").peer(peer).header("User-Agent", "  "),
            false,
        ),
        (
            Request::get("/").peer(peer).header("User-Agent", "curl/8"),
            true,
        ),
        (
            Request::get("/")
                .peer(peer)
                .header("User-Agent", "curl/8")
                .header("User-Agent", ""),
            false,
        ),
    ];
    for (request, allowed) in cases {
        assert_eq!(engine.decide(&request).is_allowed(), allowed, "{request:?}");
    }
}

#[test]
fn missing_default_is_an_error() {
    let err = Policy::from_toml("[policy]\ncombine = \"first-match\"\n").unwrap_err();
    assert!(err.to_string().contains("missing field `default`"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Syntax);
    let err = Policy::from_toml("").unwrap_err();
    assert!(err.to_string().contains("missing field `policy`"), "{err}");
}

#[test]
fn list_files_errors_name_the_list_file() {
    let dir = tempdir();
    std::fs::write(dir.join("bad.txt"), "10.0.0.0/8\n# fine\n300.1.1.1\n").unwrap();
    std::fs::write(
        dir.join("policy.toml"),
        "[policy]\ndefault = \"forbid\"\n[lists]\nbad = { file = \"bad.txt\" }\nmissing = { file = \"nope.txt\" }\n",
    )
    .unwrap();
    let err = Policy::from_path(dir.join("policy.toml"))
        .unwrap()
        .compile()
        .unwrap_err();
    let loc = err.location().unwrap();
    assert!(loc.file.ends_with("bad.txt"), "{err}");
    assert_eq!((loc.line, loc.column), (3, 1), "{err}");

    std::fs::write(dir.join("bad.txt"), "10.0.0.0/8\n").unwrap();
    let err = Policy::from_path(dir.join("policy.toml"))
        .unwrap()
        .compile()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("list `missing` file"), "{err}");
    assert_eq!(err.location().map(|l| l.line), Some(5), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn garbage_never_panics() {
    let inputs = [
        "\u{0}\u{1}",
        "[[[",
        "[policy]\ndefault = \"forbid\"\n[[rules]]\n",
        "[policy]\ndefault = \"forbid\"\nrules = 5\n",
        "[policy]\ndefault = \"forbid\"\n[lists]\nx = 5\n",
        "[policy]\ndefault = \"forbid\"\n[lists]\nx = {}\n",
        "[policy]\ndefault = \"forbid\"\n[[rules]]\nname = \"a\"\neffect = \"allow\"\nwhen = { header = { x = {} } }\n",
        "[policy]\ndefault = \"forbid\"\n[[rules]]\nname = \"a\"\neffect = \"allow\"\nwhen = { header = { x = { glob = \"a\", regex = \"b\" } } }\n",
        "[policy]\ndefault = \"forbid\"\n[[rules]]\nname = \"a\"\neffect = \"allow\"\nwhen = { header = { x = { present = false } } }\n",
    ];
    for input in inputs {
        let result = Policy::from_toml(input).and_then(|p| p.compile());
        let err = result.expect_err(input);
        assert!(!err.to_string().is_empty());
    }
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "portcullis-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
