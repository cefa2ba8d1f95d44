//! Hostile policies: clear errors or documented limits, never a crash.

use portcullis::{ErrorKind, Policy, MAX_LIST_FILE_BYTES, MAX_POLICY_BYTES};

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("portcullis-hostile-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn oversized_files_are_refused_before_reading() {
    let d = dir("big");
    // Sparse files: the size is there, the bytes are not.
    let list = std::fs::File::create(d.join("huge.txt")).unwrap();
    list.set_len(MAX_LIST_FILE_BYTES as u64 + 1).unwrap();
    std::fs::write(
        d.join("policy.toml"),
        "[policy]\ndefault = \"forbid\"\n[lists]\nhuge = { file = \"huge.txt\" }\n",
    )
    .unwrap();
    let err = Policy::from_path(d.join("policy.toml"))
        .unwrap()
        .compile()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("larger than"), "{err}");

    let policy = std::fs::File::create(d.join("huge.toml")).unwrap();
    policy.set_len(MAX_POLICY_BYTES as u64 + 1).unwrap();
    let err = Policy::from_path(d.join("huge.toml")).unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
    std::fs::remove_dir_all(d).ok();
}

#[test]
fn a_list_of_a_million_lines_compiles() {
    let d = dir("million");
    let mut text = String::with_capacity(20 * 1_000_000);
    for i in 0..1_000_000u32 {
        let [_, a, b, c] = i.to_be_bytes();
        text.push_str(&format!("10.{a}.{b}.{c}/32\n"));
    }
    std::fs::write(d.join("list.txt"), text).unwrap();
    std::fs::write(
        d.join("policy.toml"),
        "[policy]\ndefault = \"allow\"\n[lists]\nbig = { file = \"list.txt\" }\n[[rules]]\nname = \"big\"\neffect = \"forbid\"\nwhen = { ip = \"@big\" }\n",
    )
    .unwrap();
    let engine = Policy::from_path(d.join("policy.toml"))
        .unwrap()
        .compile()
        .unwrap();
    assert_eq!(engine.stats().ipv4_prefixes, 1_000_000);
    // Adjacent /32s merge into ranges: the table is far smaller than the list.
    assert!(
        engine.stats().ip_table_bytes < 1_000,
        "{:?}",
        engine.stats()
    );
    let peer = |s: &str| portcullis::Request::get("/").peer(s.parse().unwrap());
    assert!(!engine.decide(&peer("10.0.100.7")).is_allowed());
    assert!(engine.decide(&peer("10.15.66.64")).is_allowed());
    std::fs::remove_dir_all(d).ok();
}

#[test]
fn deeply_nested_documents_are_refused() {
    let deep = |open: &str, close: &str| format!("{}{}", open.repeat(50_000), close.repeat(50_000));
    let toml = format!("[policy]\ndefault = \"allow\"\nx = {}\n", deep("[", "]"));
    assert!(Policy::from_toml(&toml).is_err());
    #[cfg(feature = "json")]
    {
        let json = format!(
            "{{\"policy\":{{\"default\":\"allow\"}},\"x\":{}}}",
            deep("[", "]")
        );
        assert!(Policy::parse("p.json", json, portcullis::Format::Json).is_err());
    }
    #[cfg(feature = "yaml")]
    {
        let yaml = format!("policy:\n  default: allow\nx: {}\n", deep("[", "]"));
        assert!(Policy::parse("p.yaml", yaml, portcullis::Format::Yaml).is_err());
    }
}

#[test]
fn glob_and_regex_blow_ups_are_refused_or_bounded() {
    // Nested alternations: globset expands them into one regex, which must stay in bounds.
    let mut nested = String::from("x");
    for i in 0..40 {
        nested = format!("{{{nested},a{i}}}");
    }
    let text = format!("[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"g\"\neffect = \"forbid\"\nwhen = {{ path = \"/{nested}/**\" }}\n");
    match Policy::from_toml(&text).and_then(|p| p.compile()) {
        Ok(engine) => assert!(!engine
            .decide(&portcullis::Request::get("/a39/x").peer("192.0.2.1".parse().unwrap()))
            .is_allowed()),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    // A regex whose automaton would explode is refused with its name.
    let text = "[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"r\"\neffect = \"forbid\"\nwhen = { header = { x = { regex = \"(?:[a-z]{1,100}){1,100}{1,100}\" } } }\n";
    let err = Policy::from_toml(text)
        .and_then(|p| p.compile())
        .unwrap_err();
    assert!(err.to_string().contains("invalid regex"), "{err}");
    // Many globs at once compile within the limits.
    let globs: Vec<String> = (0..5000).map(|i| format!("\"/s{i}/*/x{i}/**\"")).collect();
    let text = format!("[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"many\"\neffect = \"forbid\"\nwhen = {{ path = [{}] }}\n", globs.join(","));
    let engine = Policy::from_toml(&text).unwrap().compile().unwrap();
    assert!(!engine
        .decide(&portcullis::Request::get("/s4999/a/x4999/b").peer("192.0.2.1".parse().unwrap()))
        .is_allowed());
}
