//! `portcullis hash-key`: the `sha256` entry for a key read from standard input.

use std::io::Write;
use std::process::ExitCode;

/// Read an API key from standard input and print the `sha256` entry to paste.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> std::io::Result<ExitCode> {
    let mut key = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut key) {
        let _ = writeln!(std::io::stderr(), "error: cannot read standard input: {e}");
        return Ok(ExitCode::from(2));
    }
    let key = key.trim_end_matches(['\n', '\r']);
    if key.is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "error: no key on standard input (try: printf '%s' \"$KEY\" | portcullis hash-key)"
        );
        return Ok(ExitCode::from(2));
    }
    let digest = portcullis::hash_key(key.as_bytes());
    if args.json {
        outln!("{}", serde_json::json!({ "sha256": digest }));
    } else {
        outln!("sha256 = [\"{digest}\"]");
    }
    Ok(ExitCode::SUCCESS)
}
