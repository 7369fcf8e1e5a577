//! `supervisor`: run work across all cores in separate OS processes and survive whatever
//! happens to them. See the README for the command line and exit codes.

mod cli;
mod error;
mod jobs;
mod output;
mod progress;
mod ps;
mod run;
mod signals;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Worker mode first, before anything else starts: whatever runs above this line would
    // run in every worker too.
    if let Some(code) = supervisor_runtime::worker::run_if_worker(&jobs::registry()) {
        return code;
    }
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Run(args) => run::run(*args),
        cli::Command::Ps(args) => ps::run(args),
        cli::Command::Completions { shell } => {
            let mut command = <cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "supervisor", &mut std::io::stdout());
            Ok(error::code::OK)
        }
        cli::Command::Man => {
            let command = <cli::Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(command).render(&mut std::io::stdout()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(
                    error::CliError::Output(format!("cannot write the man page: {e}")),
                ),
                _ => Ok(error::code::OK),
            }
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("supervisor: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
