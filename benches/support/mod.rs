//! Generated policies of three sizes, built by code (no large files in the repository), and
//! the request mix the benchmarks decide.

#![allow(dead_code)]

use std::fmt::Write;
use std::path::{Path, PathBuf};

use portcullis::Request;

/// A policy size.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub name: &'static str,
    pub rules: usize,
    pub cidrs: usize,
    pub globs: usize,
    pub keys: usize,
}

pub const S: Size = Size {
    name: "S",
    rules: 20,
    cidrs: 100,
    globs: 10,
    keys: 5,
};
pub const M: Size = Size {
    name: "M",
    rules: 200,
    cidrs: 10_000,
    globs: 1_000,
    keys: 50,
};
/// M with ten times the addresses: the size the compile-time goal for 100,000 CIDRs is
/// measured on.
pub const M100K: Size = Size {
    name: "M100k",
    rules: 200,
    cidrs: 100_000,
    globs: 1_000,
    keys: 50,
};
pub const L: Size = Size {
    name: "L",
    rules: 1_000,
    cidrs: 1_000_000,
    globs: 10_000,
    keys: 50,
};

/// The size named `S`, `M` or `L`.
pub fn size_named(name: &str) -> Option<Size> {
    [S, M, M100K, L].into_iter().find(|s| s.name == name)
}

/// A deterministic pseudo-random sequence (xorshift), so every run builds the same policy.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// The key of client `i`.
pub fn key(i: usize) -> String {
    format!("bench-key-{i:04}")
}

/// Writes the policy of `size` into `dir` (policy.toml and its block list) and returns the
/// policy's path. CIDRs: 90 % IPv4, 10 % IPv6, in a block list file; none covers 198.51.100.0/24
/// or 203.0.113.0/24, which the requests use.
pub fn write_policy(size: Size, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("bench dir");
    let mut rng = Rng::new(0x5eed ^ size.rules as u64);
    let mut list = String::with_capacity(size.cidrs * 20);
    // The first entry is the one the "forbidden early" request comes from.
    list.push_str("192.0.2.0/24\n");
    for i in 1..size.cidrs {
        if i % 10 == 0 {
            let r = rng.next();
            let _ = writeln!(
                list,
                "2001:db8:{:x}:{:x}::/64",
                (r >> 16) & 0xffff,
                r & 0xffff
            );
        } else {
            // 10.0.0.0/8 and 100.64.0.0/10 are far from the request addresses.
            let r = rng.next() as u32;
            let (a, b) = if i % 2 == 0 {
                (10u32, (r >> 16) & 0xff)
            } else {
                (100u32, 64 + ((r >> 16) & 0x3f))
            };
            let _ = writeln!(list, "{a}.{b}.{}.{}/32", (r >> 8) & 0xff, r & 0xff);
        }
    }
    std::fs::write(dir.join("blocklist.txt"), list).expect("write list");

    let mut t = String::new();
    t.push_str("[policy]\ndefault = \"forbid\"\n\n[lists]\nblocklist = { file = \"blocklist.txt\" }\noffice = [\"203.0.113.0/24\", \"2001:db8:ffff::/48\"]\n\n");
    t.push_str("[keys]\nheader = \"x-api-key\"\n");
    for i in 0..size.keys {
        let _ = writeln!(
            t,
            "[keys.clients.c{i}]\nsha256 = [\"{}\"]\nroles = [\"role{}\"]",
            portcullis::hash_key(key(i).as_bytes()),
            i % 5
        );
    }
    t.push_str("\n[[rules]]\nname = \"blocklisted\"\neffect = \"forbid\"\nwhen = { ip = [\"@blocklist\"] }\n\n");
    t.push_str("[[rules]]\nname = \"health\"\neffect = \"allow\"\nwhen = { path = \"/health\", method = \"GET\" }\n\n");
    // The remaining rules share the globs: prefix globs, extension globs and literal paths.
    let body_rules = size.rules - 4;
    let per_rule = (size.globs / body_rules).max(1);
    let mut g = 0;
    for r in 0..body_rules {
        let mut globs = Vec::new();
        for _ in 0..per_rule {
            globs.push(match g % 4 {
                0 => format!("\"/svc{r}/res{g}/**\""),
                1 => format!("\"/svc{r}/files/*.ext{g}\""),
                2 => format!("\"/svc{r}/item/{g}\""),
                _ => format!("\"/svc{r}/v*/obj{g}/*\""),
            });
            g += 1;
        }
        let globs = globs.join(", ");
        let _ = match r % 4 {
            0 => writeln!(t, "[[rules]]\nname = \"r{r}\"\neffect = \"allow\"\nwhen = {{ path = [{globs}], method = [\"GET\", \"POST\"] }}\n"),
            1 => writeln!(t, "[[rules]]\nname = \"r{r}\"\neffect = \"forbid\"\nwhen = {{ path = [{globs}] }}\nunless = {{ ip = [\"@office\"] }}\n"),
            2 => writeln!(t, "[[rules]]\nname = \"r{r}\"\neffect = \"allow\"\nwhen = {{ path = [{globs}], role = [\"role{}\"] }}\n", r % 5),
            _ => writeln!(t, "[[rules]]\nname = \"r{r}\"\neffect = \"forbid\"\nwhen = {{ path = [{globs}], header = {{ x-debug = {{ present = true }} }}, user_agent = [\"*bot*\"] }}\n"),
        };
    }
    t.push_str("[[rules]]\nname = \"late-forbid\"\neffect = \"forbid\"\nstatus = 404\nwhen = { path = [\"/late/**\"], method = [\"DELETE\"] }\n\n");
    t.push_str("[[rules]]\nname = \"site\"\neffect = \"allow\"\nwhen = { path = [\"/\", \"/docs/**\"], method = \"GET\" }\n");
    let path = dir.join("policy.toml");
    std::fs::write(&path, t).expect("write policy");
    path
}

/// The request mix: (name, request).
pub fn requests() -> Vec<(&'static str, Request)> {
    let peer = "198.51.100.7".parse().expect("address");
    let with_headers = |r: Request| {
        r.peer(peer)
            .header("host", "api.example.com")
            .header(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
            )
            .header("accept", "application/json")
    };
    vec![
        ("allowed", with_headers(Request::get("/docs/guide/intro"))),
        (
            "forbidden-early",
            with_headers(Request::get("/docs/x")).peer("192.0.2.9".parse().expect("address")),
        ),
        (
            "forbidden-late",
            with_headers(Request::new("DELETE", "/late/thing")),
        ),
        (
            "default",
            with_headers(Request::new("PATCH", "/nowhere/at/all")),
        ),
        (
            "with-key",
            with_headers(Request::get("/svc2/res2/x")).header("x-api-key", key(2)),
        ),
    ]
}
