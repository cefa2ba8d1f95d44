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

/// Print a manual page, in roff (`portcullis man > portcullis.1; man ./portcullis.1`).
#[derive(clap::Args)]
pub(crate) struct ManArgs {
    /// The subcommand whose page to print (`portcullis-replay(1)`); the overview without.
    command: Option<String>,
}

pub(crate) fn run(args: Args) -> std::io::Result<ExitCode> {
    let mut cmd = crate::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "portcullis", &mut out);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn man(args: ManArgs) -> std::io::Result<ExitCode> {
    let cli = crate::Cli::command();
    let man = match &args.command {
        None => clap_mangen::Man::new(cli),
        Some(name) => match cli.find_subcommand(name) {
            Some(sub) => clap_mangen::Man::new(
                sub.clone()
                    .display_name(format!("portcullis-{name}"))
                    .bin_name(format!("portcullis {name}")),
            )
            .title(format!("portcullis-{name}")),
            None => {
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    format!("error: no subcommand `{name}`\n").as_bytes(),
                );
                return Ok(ExitCode::from(2));
            }
        },
    };
    let mut out = Vec::new();
    man.render(&mut out)?;
    std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
    Ok(ExitCode::SUCCESS)
}
