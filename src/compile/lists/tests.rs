use super::*;

/// Every bad line, as `line:column: message`.
fn places(err: &PolicyError) -> Vec<String> {
    std::iter::once(err)
        .chain(err.related())
        .map(|e| {
            let loc = e.location().expect("a placed error");
            format!("{}:{}: {}", loc.line, loc.column, e.message())
        })
        .collect()
}

fn nets(text: &str, on_invalid: OnInvalid) -> Result<ListFileContents, PolicyError> {
    parse_list_file("feed", "feed.txt", text.to_owned(), on_invalid)
}

fn shown(n: &[IpNet]) -> Vec<String> {
    n.iter().map(ToString::to_string).collect()
}

#[test]
fn good_list_files_load_what_feeds_contain() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("empty", "", &[]),
        ("blank lines", "\n\n  \n\t\n", &[]),
        (
            "comments",
            "# drop list\n192.0.2.0/24 ; SBL1\n\n  2001:db8::/32  # v6\n; whole-line\n198.51.100.7\n",
            &["192.0.2.0/24", "2001:db8::/32", "198.51.100.7/32"],
        ),
        (
            "byte-order mark",
            "\u{feff}192.0.2.0/24\n",
            &["192.0.2.0/24"],
        ),
        (
            "byte-order mark before a comment",
            "\u{feff}# feed\n192.0.2.1\n",
            &["192.0.2.1/32"],
        ),
        (
            "CRLF",
            "192.0.2.0/24\r\n198.51.100.0/24 ; x\r\n\r\n",
            &["192.0.2.0/24", "198.51.100.0/24"],
        ),
        ("no final newline", "192.0.2.1", &["192.0.2.1/32"]),
        (
            "IPv4 range",
            "192.0.2.0-192.0.2.255\n",
            &["192.0.2.0/24"],
        ),
        (
            "IPv4 range, spaced, uneven",
            "10.0.0.1 - 10.0.0.6 # spaced\n",
            &["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"],
        ),
        ("one-address range", "192.0.2.9-192.0.2.9", &["192.0.2.9/32"]),
        ("everything", "0.0.0.0-255.255.255.255", &["0.0.0.0/0"]),
        (
            "IPv6 range",
            "2001:db8::-2001:db8::ffff:ffff\n",
            &["2001:db8::/96"],
        ),
        (
            "IPv4-mapped range becomes IPv4",
            "::ffff:192.0.2.0-::ffff:192.0.2.127",
            &["192.0.2.0/25"],
        ),
        ("tab before comment", "192.0.2.1\t#x", &["192.0.2.1/32"]),
    ];
    for (name, text, want) in cases {
        for on_invalid in [OnInvalid::Refuse, OnInvalid::Skip] {
            let got = nets(text, on_invalid).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(shown(&got.nets), *want, "{name}");
            assert!(got.warning.is_none(), "{name}");
        }
    }
}

#[test]
fn bad_list_files_name_every_bad_line() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "host bits, column after indent",
            "10.0.0.0/8\n  10.1.2.3/8 ; x\n",
            &["2:3: in list `feed`: CIDR `10.1.2.3/8` has host bits set (did you mean `10.0.0.0/8`?)"],
        ),
        (
            "not an address gets no hint",
            "not-an-ip\n",
            &["1:1: in list `feed`: `not-an-ip` is not a valid address"],
        ),
        (
            "leading zeros are hinted only where they are",
            "010.0.0.1\n",
            &["1:1: in list `feed`: `010.0.0.1` is not a valid address (addresses are written without leading zeros)"],
        ),
        (
            "a part over 255",
            "192.0.2.300\n",
            &["1:1: in list `feed`: `192.0.2.300` is not a valid address (each part of an IPv4 address is 0 to 255)"],
        ),
        (
            "three parts",
            "10.1.2\n",
            &["1:1: in list `feed`: `10.1.2` is not a valid address (an IPv4 address has four parts, each 0 to 255)"],
        ),
        (
            "comment without white space",
            "192.0.2.1#x\n",
            &["1:1: in list `feed`: `192.0.2.1#x` is not a valid address (a comment starts with `#` or `;` after white space)"],
        ),
        (
            "two addresses on a line",
            "192.0.2.1 192.0.2.2\n",
            &["1:1: in list `feed`: `192.0.2.1 192.0.2.2` is not a valid address (write one address, CIDR or range per line)"],
        ),
        (
            "reversed range",
            "192.0.2.9-192.0.2.1\n",
            &["1:1: in list `feed`: range `192.0.2.9-192.0.2.1` ends before it starts (did you mean `192.0.2.1-192.0.2.9`?)"],
        ),
        (
            "mixed range",
            "192.0.2.1-2001:db8::1\n",
            &["1:1: in list `feed`: range `192.0.2.1-2001:db8::1` mixes IPv4 and IPv6 addresses"],
        ),
        (
            "range with a prefix",
            "192.0.2.0/24-192.0.3.0/24\n",
            &["1:1: in list `feed`: range `192.0.2.0/24-192.0.3.0/24` has a prefix length; a range is written `first-last` with two addresses"],
        ),
        (
            "range with a bad end",
            "192.0.2.1-192.0.2\n",
            &["1:1: in list `feed`: in range `192.0.2.1-192.0.2`: `192.0.2` is not a valid address (an IPv4 address has four parts, each 0 to 255)"],
        ),
        (
            "every bad line at once, CRLF and a mark do not move columns",
            "\u{feff}bad-one\r\n192.0.2.0/24\r\n  300.0.0.1\r\n10.0.0.1/33 ; x\r\n",
            &[
                "1:1: in list `feed` (first of 3 invalid lines): `bad-one` is not a valid address",
                "3:3: `300.0.0.1` is not a valid address (each part of an IPv4 address is 0 to 255)",
                "4:1: `10.0.0.1/33` has an invalid prefix length (0 to 32)",
            ],
        ),
    ];
    for (name, text, want) in cases {
        let err = nets(text, OnInvalid::Refuse).expect_err(name);
        assert_eq!(places(&err), *want, "{name}");
        assert_eq!(err.omitted(), 0, "{name}");
        assert_eq!(err.file(), Some("feed.txt"), "{name}");
    }
}

#[test]
fn many_bad_lines_are_capped_and_counted() {
    let text: String = (0..30).map(|i| format!("bad{i}\n192.0.2.{i}\n")).collect();
    let err = nets(&text, OnInvalid::Refuse).unwrap_err();
    assert_eq!(1 + err.related().len(), MAX_REPORTED_LINES);
    assert_eq!(err.omitted(), 30 - MAX_REPORTED_LINES);
    let lines: Vec<usize> = std::iter::once(&err)
        .chain(err.related())
        .map(|e| e.location().unwrap().line)
        .collect();
    let want: Vec<usize> = (0..MAX_REPORTED_LINES).map(|i| 2 * i + 1).collect();
    assert_eq!(lines, want);
    let text = err.to_string();
    assert!(
        text.starts_with("feed.txt:1:1: in list `feed` (first of 30 invalid lines): `bad0` is not a valid address; feed.txt:3:1: `bad1` is not"),
        "{text}"
    );
    assert!(text.ends_with("; and 10 more"), "{text}");
    assert!(!text.contains('\n'), "one line: {text}");
}

#[test]
fn skipped_lines_load_the_rest_and_warn() {
    /// Name, file, the prefixes loaded, lines skipped, the lines the warning names.
    type Case<'a> = (&'a str, &'a str, &'a [&'a str], usize, &'a [&'a str]);
    let cases: &[Case<'_>] = &[
        (
            "one bad line",
            "192.0.2.0/24\nnot-an-ip\n198.51.100.0-198.51.100.3\n",
            &["192.0.2.0/24", "198.51.100.0/30"],
            1,
            &["feed.txt:2:1: `not-an-ip` is not a valid address"],
        ),
        (
            "a bad range adds nothing",
            "192.0.2.9-192.0.2.1\n192.0.2.1\n",
            &["192.0.2.1/32"],
            1,
            &["feed.txt:1:1: range `192.0.2.9-192.0.2.1` ends before it starts (did you mean `192.0.2.1-192.0.2.9`?)"],
        ),
        (
            "only bad lines",
            "x\ny\n",
            &[],
            2,
            &["feed.txt:1:1: `x` is not a valid address", "feed.txt:2:1: `y` is not a valid address"],
        ),
    ];
    for (name, text, want, skipped, lines) in cases {
        let got = nets(text, OnInvalid::Skip).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(shown(&got.nets), *want, "{name}");
        let w = got.warning.expect(name);
        assert_eq!((w.list.as_str(), w.file.as_str()), ("feed", "feed.txt"));
        assert_eq!(w.skipped, *skipped, "{name}");
        let got_lines: Vec<String> = w.lines.iter().map(ToString::to_string).collect();
        assert_eq!(got_lines, *lines, "{name}");
    }

    let text: String = (0..8).map(|i| format!("bad{i}\n")).collect();
    let w = nets(&text, OnInvalid::Skip).unwrap().warning.unwrap();
    assert_eq!((w.skipped, w.lines.len()), (8, MAX_WARNED_LINES));
    assert_eq!(
        w.to_string(),
        "list `feed` file `feed.txt`: skipped 8 invalid lines: \
         feed.txt:1:1: `bad0` is not a valid address; feed.txt:2:1: `bad1` is not a valid address; \
         feed.txt:3:1: `bad2` is not a valid address; feed.txt:4:1: `bad3` is not a valid address; \
         feed.txt:5:1: `bad4` is not a valid address; and 3 more"
    );
}

#[test]
fn entries_are_found_between_comments_and_white_space() {
    let cases = [
        ("", (0, "")),
        ("  x  ", (2, "x")),
        ("x # c", (0, "x")),
        ("x;c", (0, "x;c")),
        ("x ;c", (0, "x")),
        ("#x", (0, "")),
        (";x", (0, "")),
        ("  # x", (2, "")),
        ("x\r", (0, "x")),
        ("x#y #z", (0, "x#y")),
    ];
    for (line, want) in cases {
        assert_eq!(entry_of(line), want, "{line:?}");
    }
}
