//! `portcullis completions SHELL` and `portcullis man`: generated from the argument
//! definitions, so they cannot drift from them.

use std::process::ExitCode;

use clap::CommandFactory;

/// Print a shell completion script (e.g. `portcullis completions bash > /etc/bash_completion.d/portcullis`).
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The shell.
    shell: clap_complete::Shell,
}

/// Print the manual page, in roff (`portcullis man > portcullis.1; man ./portcullis.1`).
#[derive(clap::Args)]
pub(crate) struct ManArgs {}

pub(crate) fn run(args: Args) -> std::io::Result<ExitCode> {
    let mut cmd = crate::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "portcullis", &mut out);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn man(_: ManArgs) -> std::io::Result<ExitCode> {
    let mut out = Vec::new();
    clap_mangen::Man::new(crate::Cli::command()).render(&mut out)?;
    std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
    Ok(ExitCode::SUCCESS)
}
