//! Helpers shared by the integration tests: running the real binary with a deadline, polling,
//! looking at processes through /proc, and building awkward file trees.

use serde_json::Value;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_supervisor");

/// How long any single run may take before the test calls it a hang.
pub const RUN_LIMIT: Duration = Duration::from_secs(30);

/// How often conditions are polled.
const POLL: Duration = Duration::from_millis(2);

/// A `supervisor` command with the `run` subcommand already given.
pub fn supervisor_run() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("run");
    cmd
}

/// An instant `secs` seconds from now.
pub fn deadline(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

/// Polls `cond` until it holds (true) or `deadline` passes (false, after one last check).
pub fn wait_until(deadline: Instant, mut cond: impl FnMut() -> bool) -> bool {
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return cond();
        }
        thread::sleep(POLL);
    }
}

/// What a finished run produced.
#[derive(Debug)]
pub struct Finished {
    /// The exit code (None when killed by a signal).
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Finished {
    /// stdout parsed as one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&self.stdout),
                self.stderr
            )
        })
    }

    /// Asserts the exit code, showing the run's output otherwise.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit status\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&self.stdout),
            self.stderr
        );
        self
    }
}

/// A spawned run whose stdout and stderr are collected in the background.
pub struct Running {
    pub child: Child,
    pub description: String,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for the run to end (killing it and failing the test past `limit`).
    pub fn finish_within(mut self, limit: Duration) -> Finished {
        let end = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{} did not finish within {limit:?}", self.description);
            }
            thread::sleep(POLL);
        };
        let stdout = self.stdout.take().unwrap().join().unwrap();
        let stderr = self.stderr.take().unwrap().join().unwrap();
        Finished {
            code: status.code(),
            stdout,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    pub fn finish(self) -> Finished {
        self.finish_within(RUN_LIMIT)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Never leave a supervisor behind when a test fails half-way.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn collect(mut reader: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = reader.read_to_end(&mut buf);
        buf
    })
}

/// Starts `cmd` with stdin closed and stdout/stderr captured.
pub fn spawn(cmd: &mut Command) -> Running {
    let description = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {description}: {e}"));
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    Running {
        child,
        description,
        stdout: Some(stdout),
        stderr: Some(stderr),
    }
}

/// Runs `cmd` to completion with `stdin` written to its standard input (from a thread, so a
/// command that prints before it has read everything cannot deadlock with us).
pub fn run_with_stdin(cmd: &mut Command, stdin: &[u8]) -> Finished {
    let description = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {description}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    Running {
        child,
        description,
        stdout: Some(stdout),
        stderr: Some(stderr),
    }
    .finish()
}

/// Runs `cmd` to completion (a hang fails the test after [`RUN_LIMIT`]).
pub fn run(cmd: &mut Command) -> Finished {
    spawn(cmd).finish()
}

// ---------------------------------------------------------------------------------------------
// Processes

/// A process's state letter and parent pid from /proc/PID/stat, if it exists.
pub fn stat(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// True once `pid` no longer runs (absent, or a zombie waiting for init to reap it).
pub fn is_gone(pid: i32) -> bool {
    !matches!(stat(pid), Some((state, _)) if state != 'Z' && state != 'X')
}

/// The raw command line of `pid` (NUL-separated), empty if unreadable.
pub fn cmdline(pid: i32) -> Vec<u8> {
    std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .expect("read /proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Live worker processes of the supervisor `parent`: children whose command line names the
/// hidden worker entry.
pub fn workers_of(parent: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&pid| {
            matches!(stat(pid), Some((state, ppid)) if ppid == parent && state != 'Z')
                && contains(&cmdline(pid), b"__supervisor_worker")
        })
        .collect()
}

/// Live processes (any parent) whose command line or environment contains `needle` (a run
/// started with `TMPDIR=<a fresh dir>` passes that to every process it starts).
pub fn processes_mentioning(needle: &[u8]) -> Vec<i32> {
    let me = std::process::id() as i32;
    all_pids()
        .into_iter()
        .filter(|&pid| {
            pid != me
                && !is_gone(pid)
                && (contains(&cmdline(pid), needle) || contains(&environ(pid), needle))
        })
        .collect()
}

/// The raw environment of `pid` (NUL-separated), empty if unreadable.
pub fn environ(pid: i32) -> Vec<u8> {
    std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default()
}

/// True when `pid` has a memfd mapped (a worker does once it attached the scoreboard).
pub fn maps_memfd(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/maps")).is_ok_and(|m| contains(&m, b"/memfd:"))
}

/// Asserts that every pid is gone within 2 s.
pub fn assert_all_gone(pids: &[i32]) {
    let gone = wait_until(deadline(2), || pids.iter().all(|&p| is_gone(p)));
    let alive: Vec<i32> = pids.iter().copied().filter(|&p| !is_gone(p)).collect();
    assert!(gone, "processes still alive after 2 s: {alive:?}");
}

/// Every worker pid a JSON summary lists.
pub fn summary_pids(doc: &Value) -> Vec<i32> {
    doc["summary"]["workers"]
        .as_array()
        .expect("summary.workers is an array")
        .iter()
        .flat_map(|w| w["pids"].as_array().expect("pids is an array").clone())
        .map(|p| p.as_i64().expect("pid is a number") as i32)
        .collect()
}

/// Sends SIGSTOP to `pid`.
pub fn sigstop(pid: i32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap_or_else(|e| panic!("kill -STOP {pid}: {e}"));
}

/// Sends SIGKILL to `pid`.
pub fn sigkill(pid: i32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap_or_else(|e| panic!("kill -9 {pid}: {e}"));
}

// ---------------------------------------------------------------------------------------------
// Files

/// Deterministic pseudo-random content.
pub fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Path bytes of a path.
pub fn bytes(path: &Path) -> Vec<u8> {
    path.as_os_str().as_bytes().to_vec()
}

/// A path from bytes.
pub fn path_of(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(bytes))
}

/// A fresh temp dir under the test process's temp dir.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("supervisor-it-")
        .tempdir()
        .expect("create temp dir")
}

/// A generated tree and the regular files in it.
pub struct Tree {
    pub dir: tempfile::TempDir,
    /// Absolute path bytes of every regular file, sorted by bytes.
    pub files: Vec<Vec<u8>>,
}

impl Tree {
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating parents) and records it.
    pub fn add(&mut self, relative: &[u8], data: &[u8]) -> PathBuf {
        let path = self.dir.path().join(OsStr::from_bytes(relative));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data).unwrap();
        self.files.push(bytes(&path));
        self.files.sort();
        path
    }

    pub fn empty() -> Tree {
        Tree {
            dir: tempdir(),
            files: Vec::new(),
        }
    }
}

/// Names that need escaping or are not UTF-8, besides ordinary ones.
pub const AWKWARD: &[&[u8]] = &[
    b"with space.txt",
    b"back\\slash",
    b"new\nline",
    b"carriage\rreturn",
    b"bad\xff\xfeutf8",
    b"all\\three\n\r",
    b"dir with space/inner file",
    b"sub\xe9dir/x",
];

/// A tree with nested directories, empty files, one large file, awkward names, and `small`
/// further small files spread over a few directories.
pub fn awkward_tree(small: usize, big_len: usize) -> Tree {
    let mut tree = Tree::empty();
    tree.add(b"big.bin", &content(1, big_len));
    tree.add(b"empty", b"");
    tree.add(b"nested/a/b/c/deep.txt", b"deep\n");
    tree.add(b"nested/a/empty2", b"");
    tree.add(b"nested/a-b", &content(2, 1000));
    for (i, name) in AWKWARD.iter().enumerate() {
        tree.add(name, &content(10 + i as u64, 100 * i));
    }
    for i in 0..small {
        let name = format!("many/d{:02}/f{i:04}.dat", i % 17);
        tree.add(name.as_bytes(), &content(1000 + i as u64, (i * 37) % 5000));
    }
    tree
}

/// What `tool` (md5sum, sha256sum, b3sum) prints for `files`, in the given order.
pub fn reference_sums(tool: &str, files: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in files.chunks(200) {
        let result = Command::new(tool)
            .args(chunk.iter().map(|f| OsStr::from_bytes(f)))
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
        assert!(
            result.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&result.stderr)
        );
        out.extend(result.stdout);
    }
    out
}

/// The hex digest `md5sum` gives one file.
pub fn md5_of(path: &[u8]) -> String {
    let line = reference_sums("md5sum", &[path.to_vec()]);
    let line = line.strip_prefix(b"\\").unwrap_or(&line);
    String::from_utf8_lossy(&line[..32]).into_owned()
}

/// The exact path bytes of a JSON result (`path_bytes` when present, else `path`).
pub fn result_path(result: &Value) -> Vec<u8> {
    match result.get("path_bytes") {
        Some(list) => list
            .as_array()
            .expect("path_bytes is an array")
            .iter()
            .map(|b| b.as_u64().expect("byte") as u8)
            .collect(),
        None => result["path"]
            .as_str()
            .expect("path is a string")
            .as_bytes()
            .to_vec(),
    }
}

/// Lines of the human summary (`sums` mode stderr): the number of worker crashes.
pub fn crashes_in_text_summary(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("workers: "))
        .unwrap_or_else(|| panic!("no 'workers:' summary line in stderr:\n{stderr}"));
    let (_, after) = line
        .split_once("spawned, ")
        .expect("'spawned, ' in summary");
    after
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the crash count in {line:?}"))
}

// ---------------------------------------------------------------------------------------------
// Other subcommands, networking

/// A `supervisor` command with no subcommand yet (`ps`, `completions`, `man`).
pub fn supervisor() -> Command {
    Command::new(BIN)
}

/// stdout as text (lossy), for subcommands whose output is text.
pub fn stdout_text(done: &Finished) -> String {
    String::from_utf8_lossy(&done.stdout).into_owned()
}

/// A port on `ip` that was just listening and no longer is: connecting to it is refused.
/// `None` where `ip` cannot be bound (e.g. no IPv6 loopback).
pub fn closed_port(ip: &str) -> Option<std::net::SocketAddr> {
    let listener = std::net::TcpListener::bind((ip, 0)).ok()?;
    listener.local_addr().ok()
}

// ---------------------------------------------------------------------------------------------
// Signals, live progress, and watching a run's processes

/// Sends `signal` to `pid`.
pub fn send(pid: i32, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal)
        .unwrap_or_else(|e| panic!("kill -{signal} {pid}: {e}"));
}

/// Sends SIGCONT to `pid`.
pub fn sigcont(pid: i32) {
    send(pid, nix::sys::signal::Signal::SIGCONT);
}

/// Every live child of `parent`, whatever it runs (also one not yet exec'd as a worker).
pub fn children_of(parent: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&pid| matches!(stat(pid), Some((state, ppid)) if ppid == parent && state != 'Z'))
        .collect()
}

/// Collects, in a background thread, every child the process `parent` has while it runs, so
/// a test can check afterwards that each of them is gone (even short-lived recycled ones are
/// usually caught; those missed are gone anyway).
pub struct ChildWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<JoinHandle<Vec<i32>>>,
}

impl ChildWatch {
    pub fn start(parent: i32) -> ChildWatch {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            let mut seen = std::collections::BTreeSet::new();
            loop {
                let done = flag.load(Ordering::SeqCst);
                seen.extend(children_of(parent));
                if done {
                    break;
                }
                thread::sleep(POLL);
            }
            seen.into_iter().collect()
        });
        ChildWatch {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops watching and returns every child seen.
    pub fn seen(mut self) -> Vec<i32> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.take().unwrap().join().expect("child watcher")
    }
}

impl Drop for ChildWatch {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// What `supervisor ps PID` says about a running supervisor: its header counts and the raw
/// text. `None` once it is not (or not yet) listed.
#[derive(Debug, Clone)]
pub struct PsView {
    pub done: u64,
    pub total: u64,
    pub spawned: u64,
    pub text: String,
}

/// Runs `supervisor ps PID` and reads its header line
/// (`supervisor PID: job J, D/T tasks done, ..., S workers spawned, running ...`).
pub fn ps_view(pid: i32) -> Option<PsView> {
    let out = Command::new(BIN)
        .args(["ps", &pid.to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("run supervisor ps");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let head = text
        .lines()
        .find(|l| l.starts_with(&format!("supervisor {pid}: ")))?
        .to_owned();
    let (done, total) = head
        .split(", ")
        .find_map(|part| part.strip_suffix(" tasks done")?.split_once('/'))?;
    let spawned = head
        .split(", ")
        .find_map(|part| part.strip_suffix(" workers spawned"))?;
    Some(PsView {
        done: done.parse().ok()?,
        total: total.parse().ok()?,
        spawned: spawned.parse().ok()?,
        text,
    })
}

/// Polls `supervisor ps PID` until `cond` holds for what it shows; the last view seen is
/// returned either way (an assertion message wants it).
pub fn wait_for_ps(
    pid: i32,
    secs: u64,
    mut cond: impl FnMut(&PsView) -> bool,
) -> (bool, Option<PsView>) {
    let mut last = None;
    let ok = wait_until(deadline(secs), || {
        let view = ps_view(pid);
        let hit = view.as_ref().is_some_and(&mut cond);
        if view.is_some() {
            last = view;
        }
        hit
    });
    (ok, last)
}

/// Number of open file descriptors of `pid` (entries of /proc/PID/fd).
pub fn fd_count(pid: i32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// True when `pid` ignores SIGTERM (bit 15 of SigIgn in /proc/PID/status).
pub fn ignores_sigterm(pid: i32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (libc::SIGTERM - 1)) != 0)
}

/// Lets the stopped process `pid` run in short slices (SIGCONT, a poll interval, SIGSTOP)
/// until `cond` holds while it is stopped; it is left stopped when this returns true.
pub fn step_until(pid: i32, secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = deadline(secs);
    loop {
        sigstop(pid);
        if cond() {
            return true;
        }
        if Instant::now() >= end || is_gone(pid) {
            return false;
        }
        sigcont(pid);
        thread::sleep(POLL);
    }
}

/// Entries of /dev/shm now.
pub fn dev_shm_entries() -> std::collections::BTreeSet<std::ffi::OsString> {
    std::fs::read_dir("/dev/shm")
        .map(|d| d.filter_map(|e| Some(e.ok()?.file_name())).collect())
        .unwrap_or_default()
}

/// Entries of /dev/shm that were not in `before` and are still there after a short wait.
/// Other tests running at the same time start workers whose handshake directories live in
/// /dev/shm for a few microseconds when TMPDIR is unset; a leak stays.
pub fn new_dev_shm_entries(
    before: &std::collections::BTreeSet<std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    let new = || -> Vec<_> { dev_shm_entries().difference(before).cloned().collect() };
    wait_until(deadline(2), || new().is_empty());
    new()
}

/// Names in `dir`.
pub fn dir_entries(dir: &Path) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name())
        .collect()
}

/// The results of a fault run by item, checking that each item appears at most once.
pub fn fault_results(doc: &Value) -> std::collections::BTreeMap<u64, Value> {
    let mut out = std::collections::BTreeMap::new();
    for r in doc["results"].as_array().expect("results array") {
        let item = r["item"]
            .as_u64()
            .unwrap_or_else(|| panic!("no item in {r}"));
        assert!(out.insert(item, r.clone()).is_none(), "item {item} twice");
    }
    out
}

/// Asserts that a fault result is the success value item² (no error).
pub fn assert_fault_ok(item: u64, r: &Value) {
    assert_eq!(r["value"], item * item, "item {item}: {r}");
    assert!(r.get("error").is_none(), "item {item}: {r}");
}
