//! One worker OS process: spawning it, signalling it, reaping it, and keeping its stderr.

use crate::config::WorkerOutput;
use crate::sys;
use crate::{Error, ExitKind};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// The hidden first argument that routes an invocation into worker mode.
pub const WORKER_ARG: &str = "__supervisor_worker";
/// Environment variable that marks a worker started with [`crate::Config::worker_args`] (its
/// argv is not the runtime's then); the bootstrap itself arrives on stdin.
pub const SERVER_ENV: &str = "SUPERVISOR_WORKER_SERVER";
/// The value of [`SERVER_ENV`] in a worker.
pub(crate) const SERVER_ENV_VALUE: &str = "stdin";
/// Environment variable naming a worker's parent pid, for code in the worker that needs to
/// know its tree (supervisor-mp's shared-memory tracker). The worker's own orphan check uses
/// the pid in its bootstrap instead.
pub(crate) const PARENT_ENV: &str = "SUPERVISOR_PARENT_PID";

/// How much of a worker's stderr is kept for its failure report.
const STDERR_TAIL_BYTES: usize = 4096;

/// How a worker ended and what it cost.
#[derive(Clone, Debug)]
pub struct ExitInfo {
    /// The status `waitpid` reported.
    pub exit: ExitKind,
    /// Peak resident set size in bytes.
    pub max_rss_bytes: u64,
    /// User plus system CPU time.
    pub cpu: Duration,
    /// The last few KiB the worker wrote to stderr/stdout.
    pub stderr_tail: String,
}

/// A running (or not yet reaped) worker process.
///
/// Signals go to the worker's process group, and only while the process is not yet reaped:
/// after `wait4` the pid may belong to someone else.
pub struct ChildProcess {
    pid: u32,
    reaped: Mutex<bool>,
    stderr: Arc<Mutex<StderrTail>>,
    /// The thread reading the worker's stderr, and word from it when it reached the end.
    stderr_reader: Mutex<Option<(std::thread::JoinHandle<()>, mpsc::Receiver<()>)>>,
}

#[derive(Default)]
struct StderrTail {
    bytes: VecDeque<u8>,
}

impl ChildProcess {
    /// Starts `exe` as a worker: its own process group, `bootstrap` (its end of the bootstrap
    /// socket pair) as stdin, stdout and stderr captured (or, with [`WorkerOutput::Forward`],
    /// stdout shared with the parent and stderr forwarded line by line), [`WORKER_ARG`] as its
    /// argument (or, when `args` is not empty, `args` as the argv and [`SERVER_ENV`] set),
    /// and `memory_limit` bytes of data segment if given.
    pub(crate) fn spawn(
        exe: &str,
        args: &[std::ffi::OsString],
        bootstrap: std::os::fd::OwnedFd,
        memory_limit: Option<u64>,
        output: WorkerOutput,
    ) -> Result<Arc<Self>, Error> {
        let (reader, writer) =
            std::io::pipe().map_err(|e| Error::io("cannot create the stderr pipe", e))?;
        let stdout = match output {
            WorkerOutput::Capture => Stdio::from(
                writer
                    .try_clone()
                    .map_err(|e| Error::io("cannot duplicate the stderr pipe", e))?,
            ),
            WorkerOutput::Forward => Stdio::inherit(),
        };
        let forward = output == WorkerOutput::Forward;
        let mut command = Command::new(exe);
        if args.is_empty() {
            command.arg(WORKER_ARG).env_remove(SERVER_ENV);
        } else {
            command.args(args).env(SERVER_ENV, SERVER_ENV_VALUE);
        }
        command
            .env(PARENT_ENV, std::process::id().to_string())
            .stdin(Stdio::from(bootstrap))
            .stdout(stdout)
            .stderr(writer)
            .process_group(0);
        if let Some(bytes) = memory_limit {
            sys::limit_data_before_exec(&mut command, bytes);
        }
        let child = command
            .spawn()
            .map_err(|e| Error::io(format!("cannot start worker {exe}"), e))?;
        let stderr = Arc::new(Mutex::new(StderrTail::default()));
        let sink = Arc::clone(&stderr);
        let pid = child.id();
        // The `Child` is dropped without waiting: this module reaps with wait4, exactly once.
        drop(child);
        let (ended, end) = mpsc::sync_channel(1);
        let reader_thread = std::thread::Builder::new()
            .name(format!("worker-{pid}-stderr"))
            .spawn(move || {
                collect_tail(reader, &sink, forward);
                let _ = ended.send(());
            })
            .map_err(|e| Error::io("cannot start the stderr reader", e))?;
        Ok(Arc::new(ChildProcess {
            pid,
            reaped: Mutex::new(false),
            stderr,
            stderr_reader: Mutex::new(Some((reader_thread, end))),
        }))
    }

    /// The worker's pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends `signal` to the worker's process group unless it was already reaped.
    pub fn signal(&self, signal: i32) {
        let reaped = self.reaped.lock().unwrap_or_else(|e| e.into_inner());
        if !*reaped && let Ok(sig) = nix::sys::signal::Signal::try_from(signal) {
            let group = nix::unistd::Pid::from_raw(self.pid as i32);
            if nix::sys::signal::killpg(group, sig).is_err() {
                // The group may already be empty but the leader unreaped: signal it alone.
                let _ = nix::sys::signal::kill(group, sig);
            }
        }
    }

    /// Asks the worker's process group to end: SIGTERM, then SIGCONT so that a stopped
    /// worker wakes up to receive it (a pending SIGTERM does nothing to a stopped process).
    pub fn terminate(&self) {
        self.signal(libc::SIGTERM);
        self.signal(libc::SIGCONT);
    }

    /// SIGKILLs the worker's process group.
    pub fn kill(&self) {
        self.signal(libc::SIGKILL);
    }

    /// Waits up to `limit` for the process to end by itself (without reaping it); true if it
    /// did.
    pub fn wait_exit(&self, limit: Duration) -> bool {
        use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
        let until = std::time::Instant::now() + limit;
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        loop {
            if *self.reaped.lock().unwrap_or_else(|e| e.into_inner()) {
                return true;
            }
            match waitid(Id::Pid(nix::unistd::Pid::from_raw(self.pid as i32)), flags) {
                Ok(WaitStatus::StillAlive) => {}
                _ => return true,
            }
            if std::time::Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Blocks until the worker ends, reaps it, and returns how it ended.
    pub fn wait(&self) -> Result<ExitInfo, Error> {
        use nix::sys::wait::{Id, WaitPidFlag, waitid};
        let pid = nix::unistd::Pid::from_raw(self.pid as i32);
        // Wait without reaping, so a concurrent `signal` can never hit a recycled pid.
        loop {
            match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
                Ok(_) => break,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    return Err(Error::io(
                        format!("cannot wait for worker {}", self.pid),
                        e.into(),
                    ));
                }
            }
        }
        let reaped = {
            let mut flag = self.reaped.lock().unwrap_or_else(|e| e.into_inner());
            let reaped = sys::reap(self.pid as i32)
                .map_err(|e| Error::io(format!("cannot reap worker {}", self.pid), e))?;
            *flag = true;
            reaped
        };
        // The pipe reaches EOF when the worker (and anything it started) is gone; don't wait
        // long for a grandchild that still holds it.
        if let Some((handle, end)) = self
            .stderr_reader
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            // Woken the moment the reader is done (no polling: a reap is on the path of
            // every `join`).
            if end.recv_timeout(Duration::from_millis(200)).is_ok() {
                let _ = handle.join();
            }
        }
        Ok(ExitInfo {
            exit: reaped.exit,
            max_rss_bytes: reaped.max_rss_bytes,
            cpu: reaped.cpu,
            stderr_tail: self.stderr_tail(),
        })
    }

    /// What the worker wrote to stderr so far (its last few KiB).
    pub fn stderr_tail(&self) -> String {
        let tail = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        let (a, b) = tail.bytes.as_slices();
        let mut bytes = a.to_vec();
        bytes.extend_from_slice(b);
        String::from_utf8_lossy(&bytes).trim_end().to_string()
    }
}

/// Keeps the last few KiB of what the worker writes; with `forward`, also copies it to this
/// process's stderr, whole lines at a time (so lines of different workers never mix).
fn collect_tail(mut reader: std::io::PipeReader, sink: &Mutex<StderrTail>, forward: bool) {
    let mut buf = [0u8; 4096];
    let mut partial: Vec<u8> = Vec::new();
    loop {
        match reader.read(&mut buf) {
            Ok(0) => {
                if !partial.is_empty() {
                    let _ = std::io::stderr().lock().write_all(&partial);
                }
                return;
            }
            Ok(n) => {
                if forward {
                    forward_lines(&buf[..n], &mut partial);
                }
                let mut tail = sink.lock().unwrap_or_else(|e| e.into_inner());
                tail.bytes.extend(&buf[..n]);
                let excess = tail.bytes.len().saturating_sub(STDERR_TAIL_BYTES);
                tail.bytes.drain(..excess);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Writes the complete lines of `partial` + `chunk` to stderr; keeps the unfinished rest.
fn forward_lines(chunk: &[u8], partial: &mut Vec<u8>) {
    let Some(end) = chunk.iter().rposition(|&b| b == b'\n') else {
        partial.extend_from_slice(chunk);
        // A "line" that never ends is passed on in pieces rather than held forever.
        if partial.len() >= 64 * 1024 {
            let _ = std::io::stderr().lock().write_all(partial);
            partial.clear();
        }
        return;
    };
    let mut err = std::io::stderr().lock();
    // A parent whose stderr is gone must not die of it: errors are dropped.
    let _ = err
        .write_all(partial)
        .and_then(|()| err.write_all(&chunk[..=end]));
    partial.clear();
    partial.extend_from_slice(&chunk[end + 1..]);
}
