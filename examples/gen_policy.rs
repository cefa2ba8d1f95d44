//! Writes one of the benchmark policies (S, M or L) and its block list into a directory:
//! `cargo run --release --example gen_policy -- M /tmp/policy-m`. Used by
//! `benches/middleware.sh`.

#[path = "../benches/support/mod.rs"]
mod support;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(size) = args.next().as_deref().and_then(support::size_named) else {
        eprintln!("usage: gen_policy S|M|M100k|L DIR");
        std::process::exit(2);
    };
    let Some(dir) = args.next() else {
        eprintln!("usage: gen_policy S|M|M100k|L DIR");
        std::process::exit(2);
    };
    let path = support::write_policy(size, std::path::Path::new(&dir));
    println!("{}", path.display());
}
