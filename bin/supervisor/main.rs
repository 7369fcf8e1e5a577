//! `supervisor`: run work across all cores in separate OS processes and survive whatever
//! happens to them. See the README for the command line and exit codes.

#![forbid(unsafe_code)]

mod cli;
mod error;
mod jobs;
mod lines;
mod merge;
mod output;
mod partition;
mod plan;
mod progress;
mod ps;
mod report;
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
    // A bug that panics still ends with the documented code for an internal failure (the
    // panic message is already on stderr); workers die with us (PR_SET_PDEATHSIG).
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(cli.command)))
        .unwrap_or(Ok(error::code::GAVE_UP));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("supervisor: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs one subcommand and returns its exit code.
fn dispatch(command: cli::Command) -> Result<u8, error::CliError> {
    match command {
        cli::Command::Run(args) => run::run(*args),
        cli::Command::Ps(args) => ps::run(args),
        cli::Command::Plan(args) => plan::run(args),
        cli::Command::Merge(args) => merge::run(args),
        cli::Command::Report(args) => report::run(args),
        cli::Command::Completions { shell } => {
            // Generated into memory first: clap_complete panics on a write error, and a
            // closed pipe (`| head`) is not an error.
            let mut command = <cli::Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "supervisor", &mut script);
            write_stdout(&script)
        }
        cli::Command::Man => {
            let command = <cli::Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            match clap_mangen::Man::new(command).render(&mut page) {
                Ok(()) => write_stdout(&page),
                Err(e) => Err(error::CliError::Output(format!(
                    "cannot render the man page: {e}"
                ))),
            }
        }
    }
}

/// Writes generated text to stdout; a reader that went away is not an error.
fn write_stdout(bytes: &[u8]) -> Result<u8, error::CliError> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(error::CliError::Output(
            format!("cannot write to standard output: {e}"),
        )),
        _ => Ok(error::code::OK),
    }
}
