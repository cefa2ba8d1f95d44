//! The `portcullis` command-line tool: check, explain, test, lint, replay and diff policies,
//! and (with the `serve` feature) answer proxies' authorization checks.
//!
//! Each subcommand lives in its own file with its arguments; this file only dispatches.
//! Output goes through `outln!`, which returns write errors, so that a closed pipe
//! (`portcullis replay ... | head -1`) ends the program quietly instead of panicking.

#[macro_use]
mod common;
mod check;
mod completions;
mod diff;
mod explain;
mod hash_key;
mod lint;
mod replay;
#[cfg(feature = "serve")]
mod serve;
mod style;
mod test;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Check access policies and explain their decisions"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Check(check::Args),
    Explain(explain::Args),
    Test(test::Args),
    Lint(lint::Args),
    Replay(replay::Args),
    Diff(diff::Args),
    HashKey(hash_key::Args),
    Completions(completions::Args),
    Man(completions::ManArgs),
    /// Answer nginx, Caddy, Traefik and Envoy authorization checks with the policy.
    #[cfg(feature = "serve")]
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Test(args) => test::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Diff(args) => diff::run(args),
        Command::HashKey(args) => hash_key::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => completions::man(args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => Ok(serve::run(args)),
    };
    let result = result.and_then(|code| match std::io::stdout().flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
        _ => Ok(code),
    });
    match result {
        Ok(code) => code,
        // The reader went away (`| head`): what it did not read, nobody will.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: writing the output: {e}");
            ExitCode::from(2)
        }
    }
}
