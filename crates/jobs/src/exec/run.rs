//! Running one task: its command line, the child process, its exit status and output.

use super::capture::{CaptureFile, Capturer, Stream};
use super::template::{Fill, Template};
use super::{CommandEnd, ExecError, ExecOutput, ExecSetup, ExecTask};
use crate::describe_io_error;
use crate::sys::guardian;
use std::ffi::OsString;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a worker ending normally waits for its guardian to go.
const GUARDIAN_PATIENCE: Duration = Duration::from_millis(200);

/// How long after a command died of SIGTERM this process may take to see its own copy of a
/// group-wide SIGTERM (the kernel signals the newest processes of a group first, and the
/// handler may run on another thread).
const OWN_SIGTERM_WINDOW: Duration = Duration::from_millis(100);

/// Runs the tasks of one `exec` run, one at a time, in the calling process.
///
/// Built once per worker from the run's [`ExecSetup`]; see the [module](super) docs for the
/// life of one task.
pub struct Executor {
    template: Template,
    retry_failed: u32,
    capturer: Capturer,
    kill_grace: Duration,
    /// The guardian's pid, while one watches this process's group.
    guardian: Option<libc::pid_t>,
    /// The command's stdin.
    devnull: File,
    /// `{%}`, once known.
    slot: Option<u32>,
    /// Set when this process got SIGTERM (see [`Executor::watch_termination`]).
    terminating: Option<Arc<AtomicBool>>,
}

/// One finished run of a command, before its output is kept or dropped.
struct Ran {
    end: CommandEnd,
    /// What captured its streams (none when output goes through).
    stdout: Option<CaptureFile>,
    stderr: Option<CaptureFile>,
    duration: Duration,
}

impl Executor {
    /// Prepares to run tasks in this process; `parent_pid` names the spill files (the
    /// receiver sweeps what a crashed worker left by that prefix).
    ///
    /// When this process leads its own process group (a worker does), a guardian is forked
    /// into the group; see the [module](super) docs.
    pub fn start(setup: ExecSetup, parent_pid: u32) -> Result<Self, ExecError> {
        let template = Template::parse(&setup.command, setup.shell).ok_or(ExecError::NoCommand)?;
        let devnull = File::open("/dev/null").map_err(ExecError::DevNull)?;
        let guardian = guardian::start(setup.kill_grace).map_err(ExecError::Guardian)?;
        Ok(Executor {
            template,
            retry_failed: setup.retry_failed,
            capturer: Capturer::new(setup.capture, parent_pid),
            kill_grace: setup.kill_grace,
            guardian,
            devnull,
            slot: None,
            terminating: None,
        })
    }

    /// Gives the executor a flag that is set when this process receives SIGTERM (e.g. with
    /// `signal_hook::flag::register`). A command that then dies of SIGTERM got it from the
    /// same group-wide signal (a timeout, a stop): that is not the command's own failure, so
    /// [`Executor::run`] reports nothing for it, and runs nothing more.
    pub fn watch_termination(&mut self, flag: Arc<AtomicBool>) {
        self.terminating = Some(flag);
    }

    /// True when the command uses `{%}`: call [`Executor::set_slot`] before running tasks.
    pub fn uses_slot(&self) -> bool {
        self.template.uses_slot()
    }

    /// Sets `{%}`, the job slot of this process, from 1.
    pub fn set_slot(&mut self, slot: u32) {
        self.slot = Some(slot);
    }

    /// Runs one task: its command, again up to `retry_failed` times while it fails, and
    /// returns how the last run ended with its output; `None` when this process is being
    /// terminated and the command died of the same SIGTERM (see
    /// [`Executor::watch_termination`]): the caller should report nothing and wait for its end.
    pub fn run(&mut self, task: &ExecTask) -> Option<ExecOutput> {
        let started = Instant::now();
        let not_started = |message: String| ExecOutput {
            end: CommandEnd::Error(message),
            stdout: super::Captured::Inline(Vec::new()),
            stderr: super::Captured::Inline(Vec::new()),
            duration_us: started.elapsed().as_micros() as u64,
            runs: 1,
        };
        let slot = match (self.uses_slot(), self.slot) {
            (false, _) => 0,
            (true, Some(slot)) => slot,
            (true, None) => {
                return Some(not_started(
                    "cannot tell which job slot runs this task ({%})".into(),
                ));
            }
        };
        let argv = self.template.argv(Fill {
            item: &task.item,
            seq: task.seq,
            slot,
        });
        if let Some(arg) = argv.iter().find(|a| a.as_bytes().contains(&0)) {
            return Some(not_started(format!(
                "cannot run {}: an argument holds a NUL byte ({:?})",
                argv[0].to_string_lossy(),
                arg
            )));
        }
        self.keep_guardian();
        let mut runs = 0;
        loop {
            runs += 1;
            let last = runs > self.retry_failed;
            let ran = match self.run_once(&argv, task.seq) {
                Ok(ran) => ran,
                Err(message) if last => {
                    let mut output = not_started(message);
                    output.runs = runs;
                    return Some(output);
                }
                Err(_) => continue,
            };
            if self.terminated_with(&ran.end) {
                self.discard(ran);
                return None;
            }
            if !ran.end.is_success() && !last {
                self.discard(ran);
                continue;
            }
            return Some(self.keep(ran, runs));
        }
    }

    /// True when the command died of SIGTERM and so is this process.
    fn terminated_with(&self, end: &CommandEnd) -> bool {
        let Some(flag) = &self.terminating else {
            return false;
        };
        if !matches!(end, CommandEnd::Signaled { signal, .. } if *signal == libc::SIGTERM) {
            return false;
        }
        let deadline = Instant::now() + OWN_SIGTERM_WINDOW;
        while !flag.load(Ordering::SeqCst) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// Starts the command with its stdin on /dev/null and its output in fresh capture files,
    /// and waits for it. `Err` says why it could not run.
    fn run_once(&mut self, argv: &[OsString], seq: u64) -> Result<Ran, String> {
        if let Some(line_buffer) = self.capturer.through() {
            return self.run_through(argv, line_buffer);
        }
        let capture_error =
            |e: std::io::Error| format!("cannot capture the output: {}", describe_io_error(&e));
        let stdout = self
            .capturer
            .open(seq, Stream::Stdout)
            .map_err(capture_error)?;
        let stderr = self
            .capturer
            .open(seq, Stream::Stderr)
            .map_err(capture_error)?;
        let stdio = |file: &File| file.try_clone().map(Stdio::from).map_err(capture_error);
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .stdin(stdio(&self.devnull)?)
            .stdout(stdio(&stdout.file)?)
            .stderr(stdio(&stderr.file)?);
        let started = Instant::now();
        let cannot_run = |e: std::io::Error| {
            format!(
                "cannot run {}: {}",
                argv[0].to_string_lossy(),
                describe_io_error(&e)
            )
        };
        let mut child = command.spawn().map_err(cannot_run)?;
        // Our copies of the child's descriptors go with `command`; the child keeps its own.
        drop(command);
        let status = child.wait().map_err(cannot_run)?;
        Ok(Ran {
            end: command_end(status),
            stdout: Some(stdout),
            stderr: Some(stderr),
            duration: started.elapsed(),
        })
    }

    /// Starts the command with its output going through to this process's stdout and stderr
    /// (a whole line at a time with `line_buffer`), and waits for it.
    fn run_through(&mut self, argv: &[OsString], line_buffer: bool) -> Result<Ran, String> {
        let cannot_run = |e: std::io::Error| {
            format!(
                "cannot run {}: {}",
                argv[0].to_string_lossy(),
                describe_io_error(&e)
            )
        };
        let devnull = self.devnull.try_clone().map_err(cannot_run)?;
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]).stdin(Stdio::from(devnull));
        let pipe = if line_buffer {
            let (reader, writer) = std::io::pipe().map_err(cannot_run)?;
            command.stdout(writer);
            Some(reader)
        } else {
            command.stdout(Stdio::inherit());
            None
        };
        command.stderr(Stdio::inherit());
        let started = Instant::now();
        let mut child = command.spawn().map_err(cannot_run)?;
        // Our copy of the pipe's write end goes with `command`, so the pipe closes with the
        // command (and whatever it left running with it).
        drop(command);
        let status = match pipe {
            Some(reader) => {
                super::through::relay_lines(reader, &mut child, &mut std::io::stdout().lock())
            }
            None => child.wait(),
        }
        .map_err(cannot_run)?;
        Ok(Ran {
            end: command_end(status),
            stdout: None,
            stderr: None,
            duration: started.elapsed(),
        })
    }

    /// Drops what a run wrote (its output is not wanted).
    fn discard(&mut self, ran: Ran) {
        for capture in [ran.stdout, ran.stderr].into_iter().flatten() {
            self.capturer.discard(capture);
        }
    }

    /// The output of the run whose result stands.
    fn keep(&mut self, ran: Ran, runs: u32) -> ExecOutput {
        let duration_us = ran.duration.as_micros() as u64;
        let mut finish = |capture: Option<CaptureFile>| match capture {
            Some(capture) => self.capturer.finish(capture),
            None => Ok(super::Captured::Inline(Vec::new())),
        };
        let streams = finish(ran.stdout).and_then(|out| Ok((out, finish(ran.stderr)?)));
        match streams {
            Ok((stdout, stderr)) => ExecOutput {
                end: ran.end,
                stdout,
                stderr,
                duration_us,
                runs,
            },
            Err(e) => ExecOutput {
                end: CommandEnd::Error(format!(
                    "the command ran, but its output could not be kept: {}",
                    describe_io_error(&e)
                )),
                stdout: super::Captured::Inline(Vec::new()),
                stderr: super::Captured::Inline(Vec::new()),
                duration_us,
                runs,
            },
        }
    }

    /// Replaces a guardian that died (someone killed it), so the group stays watched.
    fn keep_guardian(&mut self) {
        if let Some(pid) = self.guardian
            && !guardian::is_running(pid)
        {
            // A failed fork leaves the group unwatched rather than failing the task.
            self.guardian = guardian::start(self.kill_grace).ok().flatten();
        }
    }
}

/// How a command ended, from its wait status.
fn command_end(status: std::process::ExitStatus) -> CommandEnd {
    match (status.code(), status.signal()) {
        (Some(code), _) => CommandEnd::Exited(code),
        (None, Some(signal)) => CommandEnd::Signaled {
            signal,
            core_dumped: status.core_dumped(),
        },
        (None, None) => CommandEnd::Error(format!("ended in an unknown way ({status})")),
    }
}

impl Drop for Executor {
    /// A normal end: the guardian leaves without killing anything (a background process a
    /// task started on purpose survives, as with GNU parallel).
    fn drop(&mut self) {
        if let Some(pid) = self.guardian.take() {
            guardian::stand_down(pid, GUARDIAN_PATIENCE);
        }
    }
}
