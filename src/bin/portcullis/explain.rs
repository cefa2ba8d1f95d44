//! `portcullis explain`: decide one request and tell the whole story.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use portcullis::{Decision, Request};

use crate::common::{load, report_error};

/// Decide one request and explain the decision.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The policy file.
    policy: PathBuf,
    /// The TCP peer address.
    #[arg(long)]
    peer: IpAddr,
    /// The method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// The request target exactly as sent: escapes and query included.
    #[arg(long = "path")]
    target: String,
    /// The Host header.
    #[arg(long)]
    host: Option<String>,
    /// A header line, `Name: value`; may repeat, order is kept.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// An API key, sent in the policy's key header (never printed).
    #[arg(long)]
    key: Option<String>,
    /// A bearer token, sent in `Authorization: Bearer` and verified against the policy's
    /// issuers (never printed).
    #[arg(long)]
    token: Option<String>,
    /// Exit 1 when the request is forbidden (for scripts).
    #[arg(long)]
    exit_code: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> std::io::Result<ExitCode> {
    let engine = match load(&args.policy) {
        Ok(e) => e,
        Err(e) => {
            report_error(&e, args.json);
            return Ok(ExitCode::from(2));
        }
    };
    let mut request = Request::new(args.method, args.target).peer(args.peer);
    if let Some(host) = args.host {
        request = request.header("host", host);
    }
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            let _ = writeln!(
                std::io::stderr(),
                "error: header `{h}` is not of the form `Name: value`"
            );
            return Ok(ExitCode::from(2));
        };
        request = request.header(name.trim(), value.trim_start());
    }
    if let Some(key) = args.key {
        request = match engine.key_header() {
            Some(header) => request.header(header, key),
            None => request.header("authorization", format!("Bearer {key}")),
        };
    }
    if let Some(token) = args.token {
        if !engine.wait_for_token_keys(std::time::Duration::from_secs(10)) {
            eprintln!("warning: an issuer's key set could not be fetched in time");
        }
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let explanation = engine.explain(&request);
    if args.json {
        let out = serde_json::json!({
            "decision": explanation.decision,
            "status": explanation.status,
            "rule": explanation.rule_name(),
            "client_ip": explanation.client.ip,
            "reason": explanation.to_string(),
            "enforced": explanation.enforced,
            "explanation": explanation,
        });
        outln!("{out}");
    } else {
        outln!("{explanation}");
    }
    Ok(
        if args.exit_code && explanation.decision == Decision::Forbidden {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}
