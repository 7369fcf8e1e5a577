//! The runner of this workspace's `harness = false` test binaries (they have their own `main`
//! because each is also the worker executable it spawns): libtest's command line through
//! `libtest-mimic`, so `cargo test`, `--list`, `--exact`, `--ignored`, filters and
//! `cargo nextest run` all work, plus two guards of our own:
//!
//! - tests run one at a time unless `--test-threads` says otherwise, because they judge the
//!   process's children (every pid gone afterwards), which parallel tests would share;
//! - a test still running after [`PER_TEST`] fails the whole binary at once, naming it, so a
//!   bug that hangs a supervisor fails CI in minutes instead of holding it to its time limit.
//!
//! Shared by path (`#[path = ...]`) with supervisor-mp's test binaries.

#![allow(dead_code)]

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

/// The longest any one test may take; each finishes in seconds.
pub const PER_TEST: Duration = Duration::from_secs(120);

/// One test: its name and body. A body that panics fails; `Ok(Some(reason))` means it could
/// not run here (a reference tool is missing) and reports itself ignored with the reason.
pub struct Test {
    pub name: &'static str,
    pub body: Body,
}

/// What a test runs.
pub enum Body {
    Plain(fn()),
    /// Runs only where `needs` returns `None`; elsewhere the test is ignored with the reason
    /// it returns (a reference tool that is not installed, an environment that lacks
    /// something), both when listed (so `cargo nextest` skips it too) and when run.
    Conditional {
        needs: fn() -> Option<String>,
        body: fn(),
    },
}

impl Test {
    pub fn new(name: &'static str, body: fn()) -> Self {
        Test {
            name,
            body: Body::Plain(body),
        }
    }

    /// A test that runs only where `needs` returns `None`.
    pub fn when(name: &'static str, needs: fn() -> Option<String>, body: fn()) -> Self {
        Test {
            name,
            body: Body::Conditional { needs, body },
        }
    }
}

/// Turns `(name, fn)` pairs into tests.
pub fn plain(tests: &[(&'static str, fn())]) -> Vec<Test> {
    tests
        .iter()
        .map(|&(name, body)| Test::new(name, body))
        .collect()
}

/// Runs `tests` one at a time (unless `--test-threads` says otherwise) with libtest's command
/// line; `after_each` runs after every test that passed (e.g. a check that no child process
/// is left) and fails it if it panics.
pub fn run(tests: Vec<Test>, after_each: Option<fn()>) -> ExitCode {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(1);
    }
    run_with(args, tests, after_each)
}

/// Runs `tests` in parallel, as libtest does by default (for tests that share nothing).
pub fn run_parallel(tests: Vec<Test>) -> ExitCode {
    run_with(Arguments::from_args(), tests, None)
}

fn run_with(args: Arguments, tests: Vec<Test>, after_each: Option<fn()>) -> ExitCode {
    let mut unmet = Vec::new();
    let trials = tests
        .into_iter()
        .map(|test| {
            let name = test.name;
            let (needs, body) = match test.body {
                Body::Plain(body) => (None, body),
                Body::Conditional { needs, body } => (Some(needs), body),
            };
            let missing = needs.and_then(|needs| needs());
            if let Some(reason) = &missing {
                unmet.push(format!("{name}: {reason}"));
            }
            let ignored = missing.is_some();
            Trial::ignorable_test(name, move || {
                if let Some(reason) = needs.and_then(|needs| needs()) {
                    return Ok(Completion::ignored_with(reason));
                }
                let _watch = HangWatch::start(name);
                body();
                if let Some(check) = after_each {
                    std::panic::catch_unwind(check)
                        .map_err(|_| Failed::from("left something behind (see the panic above)"))?;
                }
                Ok(Completion::Completed)
            })
            .with_ignored_flag(ignored)
        })
        .collect();
    if !unmet.is_empty() && !args.list {
        eprintln!("note: these tests cannot run on this machine and are ignored:");
        for line in &unmet {
            eprintln!("  ignored: {line}");
        }
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// Ends the process, naming the test, if it is not dropped within [`PER_TEST`]. The workers
/// go with this process (they die with their parent).
struct HangWatch {
    done: Option<mpsc::Sender<()>>,
}

impl HangWatch {
    fn start(name: &'static str) -> Self {
        let (done, finished) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(PER_TEST) {
                println!("test {name} ... FAILED: still running after {PER_TEST:?}");
                println!("\ntest result: FAILED. a test hung");
                std::process::exit(101);
            }
        });
        HangWatch { done: Some(done) }
    }
}

impl Drop for HangWatch {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}
