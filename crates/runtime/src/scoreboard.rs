//! The live scoreboard: one shared-memory segment per run, a header and one slot per worker.
//!
//! The segment is a `memfd` (it cannot outlive its last user, so a SIGKILLed parent leaks
//! nothing), sealed against shrinking and growing, so no worker can truncate it under the
//! parent (which would kill the parent with SIGBUS). Workers receive its descriptor with their
//! bootstrap; `supervisor ps` attaches it through `/proc/<parent>/fd/<n>`. Every word is an
//! `AtomicU64` with exactly one writer: the parent for the header and a slot's identity and
//! state, the slot's current worker for its progress fields.

use crate::sys::SharedWords;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Identifies a supervisor scoreboard ("SUPVSCB1").
pub const MAGIC: u64 = u64::from_le_bytes(*b"SUPVSCB1");
/// Layout version; readers refuse other versions.
pub const LAYOUT_VERSION: u64 = 2;
/// The `memfd` name, as it appears in `/proc/<pid>/fd` links.
pub const MEMFD_NAME: &str = "supervisor-scoreboard";

const HEADER_WORDS: usize = 32;
const SLOT_WORDS: usize = 32;
/// Words of a slot's current-task label (UTF-8, NUL-padded, for displays only).
const LABEL_WORDS: usize = 16;
const JOB_NAME_WORDS: usize = 4;

/// Header word offsets.
mod h {
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = 1;
    pub const SLOTS: usize = 2;
    pub const PARENT_PID: usize = 3;
    pub const STARTED_MS: usize = 4;
    pub const TASKS_TOTAL: usize = 5;
    pub const TASKS_DONE: usize = 6;
    pub const TASKS_FAILED: usize = 7;
    pub const RETRIED: usize = 8;
    pub const CRASHES: usize = 9;
    pub const SPAWNED: usize = 10;
    pub const COST_TOTAL: usize = 11;
    pub const JOB_NAME: usize = 12;
    pub const COST_IS_BYTES: usize = 16;
}

/// Slot word offsets.
mod s {
    pub const PID: usize = 0;
    pub const STATE: usize = 1;
    pub const RESTARTS: usize = 2;
    pub const TASKS_DONE: usize = 3;
    pub const COST_DONE: usize = 4;
    pub const CURRENT_TASK: usize = 5;
    pub const TASK_STARTED_MS: usize = 6;
    pub const HEARTBEAT_MS: usize = 7;
    /// CLOCK_MONOTONIC µs the current task started at, written only in runs with an event
    /// log (0 otherwise; a word that older readers never looked at).
    pub const TASK_STARTED_US: usize = 8;
    pub const LABEL: usize = 16;
}

/// What a slot's worker is doing, as the parent sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// No worker yet, or none needed any more.
    Empty,
    /// Spawned, handshake in progress.
    Starting,
    /// Connected and taking work.
    Running,
    /// Died; a replacement may follow.
    Dead,
    /// Finished cleanly.
    Exited,
}

impl SlotState {
    fn from_word(w: u64) -> Self {
        match w {
            1 => SlotState::Starting,
            2 => SlotState::Running,
            3 => SlotState::Dead,
            4 => SlotState::Exited,
            _ => SlotState::Empty,
        }
    }

    fn word(self) -> u64 {
        match self {
            SlotState::Empty => 0,
            SlotState::Starting => 1,
            SlotState::Running => 2,
            SlotState::Dead => 3,
            SlotState::Exited => 4,
        }
    }

    /// A short lowercase name for displays.
    pub fn name(self) -> &'static str {
        match self {
            SlotState::Empty => "empty",
            SlotState::Starting => "starting",
            SlotState::Running => "running",
            SlotState::Dead => "dead",
            SlotState::Exited => "exited",
        }
    }
}

const CLOCK: nix::time::ClockId = nix::time::ClockId::CLOCK_REALTIME_COARSE;

/// The resolution of [`now_ms`] in whole milliseconds, rounded up (one kernel tick: 1 to 10 ms).
///
/// Two readings can each be up to this much behind the true time, so an interval measured
/// with [`now_ms`] can be short by up to one tick; deadlines add it so that a timeout never
/// cuts a task short.
pub(crate) fn tick_ms() -> u64 {
    static TICK: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICK.get_or_init(|| match nix::time::clock_getres(CLOCK) {
        Ok(t) => (t.tv_sec() as u64 * 1000 + (t.tv_nsec() as u64).div_ceil(1_000_000)).max(1),
        Err(_) => 10,
    })
}

/// Milliseconds since the Unix epoch, the scoreboard's clock (comparable across processes).
///
/// The coarse clock: a few milliseconds of resolution (one kernel tick) are plenty for
/// timeouts and heartbeats, and a worker reads it around every task, where the precise clock
/// (~55 ns a read on this project's machines, three reads a task) was the largest single cost
/// of a trivial task.
pub fn now_ms() -> u64 {
    use nix::time::clock_gettime;
    match clock_gettime(CLOCK) {
        Ok(t) => t.tv_sec() as u64 * 1000 + t.tv_nsec() as u64 / 1_000_000,
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
    }
}

/// A mapped scoreboard.
pub struct Scoreboard {
    map: SharedWords,
    slots: usize,
    /// Keeps the memfd open (and so `/proc/<pid>/fd/<n>` valid) in the parent.
    fd: Option<OwnedFd>,
}

/// A snapshot of one slot.
#[derive(Clone, Debug)]
pub struct SlotView {
    /// Slot index.
    pub slot: usize,
    /// Current (or last) worker pid; 0 if none yet.
    pub pid: u32,
    /// What the slot is doing.
    pub state: SlotState,
    /// How many times the slot's worker was replaced.
    pub restarts: u64,
    /// Tasks finished by the slot's workers.
    pub tasks_done: u64,
    /// Cost units (bytes for files) finished by the slot's workers.
    pub cost_done: u64,
    /// The task being run, if any.
    pub current_task: Option<u64>,
    /// A human-readable name of the current (or last) task, e.g. its path.
    pub label: String,
    /// When the current task started (ms since the epoch).
    pub task_started_ms: u64,
    /// The worker's last sign of life (ms since the epoch).
    pub heartbeat_ms: u64,
}

/// The signs of life of a slot's worker, as the watchdog reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Vitals {
    /// The task being run, if any.
    pub(crate) current_task: Option<u64>,
    /// When it started (ms since the epoch).
    pub(crate) task_started_ms: u64,
    /// The worker's last heartbeat (ms since the epoch); 0 if it never beat.
    pub(crate) heartbeat_ms: u64,
    /// When the current task started, CLOCK_MONOTONIC µs, if the worker times its tasks
    /// (else 0).
    pub(crate) task_started_us: u64,
}

/// A snapshot of the header.
#[derive(Clone, Debug)]
pub struct HeaderView {
    /// The supervisor's pid.
    pub parent_pid: u32,
    /// When the run started (ms since the epoch).
    pub started_ms: u64,
    /// The job's name.
    pub job: String,
    /// Tasks in the run.
    pub tasks_total: u64,
    /// Tasks with a final outcome.
    pub tasks_done: u64,
    /// Tasks that failed for good.
    pub tasks_failed: u64,
    /// Task re-dispatches after a worker died.
    pub retried: u64,
    /// Worker deaths.
    pub crashes: u64,
    /// Workers spawned.
    pub spawned: u64,
    /// Total cost units of the run.
    pub cost_total: u64,
    /// Whether cost units are bytes.
    pub cost_is_bytes: bool,
}

impl Scoreboard {
    /// Creates a scoreboard for `slots` workers (parent side).
    pub fn create(slots: usize, job: &str) -> std::io::Result<Self> {
        use nix::fcntl::{FcntlArg, SealFlag, fcntl};
        use nix::sys::memfd::{MFdFlags, memfd_create};
        let fd = memfd_create(
            MEMFD_NAME,
            MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
        )
        .map_err(std::io::Error::from)?;
        let words = HEADER_WORDS + slots * SLOT_WORDS;
        let file = File::from(fd);
        file.set_len((words * 8) as u64)?;
        let seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL;
        fcntl(&file, FcntlArg::F_ADD_SEALS(seals)).map_err(std::io::Error::from)?;
        let map = SharedWords::map(&file, words, true)?;
        let board = Scoreboard {
            map,
            slots,
            fd: Some(file.into()),
        };
        let w = board.map.words();
        w[h::VERSION].store(LAYOUT_VERSION, Ordering::Relaxed);
        w[h::SLOTS].store(slots as u64, Ordering::Relaxed);
        w[h::PARENT_PID].store(std::process::id() as u64, Ordering::Relaxed);
        w[h::STARTED_MS].store(now_ms(), Ordering::Relaxed);
        let mut name = [0u8; JOB_NAME_WORDS * 8];
        let n = job.len().min(name.len());
        name[..n].copy_from_slice(&job.as_bytes()[..n]);
        for (i, chunk) in name.chunks(8).enumerate() {
            let word = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
            w[h::JOB_NAME + i].store(word, Ordering::Relaxed);
        }
        // Magic last: a reader that sees it sees a complete header.
        w[h::MAGIC].store(MAGIC, Ordering::Release);
        Ok(board)
    }

    /// The path another process of the same user opens to attach this scoreboard.
    pub fn proc_path(&self) -> Option<String> {
        self.fd
            .as_ref()
            .map(|fd| format!("/proc/{}/fd/{}", std::process::id(), fd.as_raw_fd()))
    }

    /// The descriptor handed to workers with their bootstrap.
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(|fd| fd.as_fd())
    }

    /// Attaches an existing scoreboard by path (`supervisor ps`: read-only).
    pub fn attach(path: &str, writable: bool) -> std::io::Result<Self> {
        let file = OpenOptions::new().read(true).write(writable).open(path)?;
        Self::attach_file(&file, writable)
    }

    /// Attaches the scoreboard whose descriptor came with a worker's bootstrap (read-write).
    pub(crate) fn attach_fd(fd: OwnedFd) -> std::io::Result<Self> {
        Self::attach_file(&File::from(fd), true)
    }

    fn attach_file(file: &File, writable: bool) -> std::io::Result<Self> {
        let len = file.metadata()?.len() as usize;
        if len < HEADER_WORDS * 8 {
            return Err(std::io::Error::other("not a supervisor scoreboard"));
        }
        let map = SharedWords::map(file, len / 8, writable)?;
        let w = map.words();
        if w[h::MAGIC].load(Ordering::Acquire) != MAGIC
            || w[h::VERSION].load(Ordering::Relaxed) != LAYOUT_VERSION
        {
            return Err(std::io::Error::other("not a supervisor scoreboard"));
        }
        let slots = w[h::SLOTS].load(Ordering::Relaxed) as usize;
        if HEADER_WORDS + slots * SLOT_WORDS > len / 8 {
            return Err(std::io::Error::other("truncated scoreboard"));
        }
        Ok(Scoreboard {
            map,
            slots,
            fd: None,
        })
    }

    /// Number of worker slots.
    pub fn slots(&self) -> usize {
        self.slots
    }

    fn header(&self, i: usize) -> &AtomicU64 {
        &self.map.words()[i]
    }

    fn slot_word(&self, slot: usize, i: usize) -> &AtomicU64 {
        assert!(slot < self.slots, "slot {slot} out of range");
        &self.map.words()[HEADER_WORDS + slot * SLOT_WORDS + i]
    }

    /// Reads the header.
    pub fn header_view(&self) -> HeaderView {
        let r = |i| self.header(i).load(Ordering::Relaxed);
        let mut name = Vec::with_capacity(JOB_NAME_WORDS * 8);
        for i in 0..JOB_NAME_WORDS {
            name.extend_from_slice(&r(h::JOB_NAME + i).to_le_bytes());
        }
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        HeaderView {
            parent_pid: r(h::PARENT_PID) as u32,
            started_ms: r(h::STARTED_MS),
            job: String::from_utf8_lossy(&name[..end]).into_owned(),
            tasks_total: r(h::TASKS_TOTAL),
            tasks_done: r(h::TASKS_DONE),
            tasks_failed: r(h::TASKS_FAILED),
            retried: r(h::RETRIED),
            crashes: r(h::CRASHES),
            spawned: r(h::SPAWNED),
            cost_total: r(h::COST_TOTAL),
            cost_is_bytes: r(h::COST_IS_BYTES) != 0,
        }
    }

    /// Reads one slot.
    pub fn slot_view(&self, slot: usize) -> SlotView {
        let r = |i| self.slot_word(slot, i).load(Ordering::Relaxed);
        let current = r(s::CURRENT_TASK);
        SlotView {
            slot,
            pid: r(s::PID) as u32,
            state: SlotState::from_word(r(s::STATE)),
            restarts: r(s::RESTARTS),
            tasks_done: r(s::TASKS_DONE),
            cost_done: r(s::COST_DONE),
            current_task: current.checked_sub(1),
            label: self.label(slot),
            task_started_ms: r(s::TASK_STARTED_MS),
            heartbeat_ms: r(s::HEARTBEAT_MS),
        }
    }

    // ---- parent-owned words ----

    pub(crate) fn set_cost_is_bytes(&self, cost_is_bytes: bool) {
        self.header(h::COST_IS_BYTES)
            .store(cost_is_bytes as u64, Ordering::Relaxed);
    }

    /// Counts `tasks` more tasks of `cost` in the run's totals.
    pub(crate) fn add_totals(&self, tasks: u64, cost: u64) {
        self.header(h::TASKS_TOTAL)
            .fetch_add(tasks, Ordering::Relaxed);
        self.header(h::COST_TOTAL)
            .fetch_add(cost, Ordering::Relaxed);
    }

    pub(crate) fn set_progress(
        &self,
        done: u64,
        failed: u64,
        retried: u64,
        crashes: u64,
        spawned: u64,
    ) {
        self.header(h::TASKS_DONE).store(done, Ordering::Relaxed);
        self.header(h::TASKS_FAILED)
            .store(failed, Ordering::Relaxed);
        self.header(h::RETRIED).store(retried, Ordering::Relaxed);
        self.header(h::CRASHES).store(crashes, Ordering::Relaxed);
        self.header(h::SPAWNED).store(spawned, Ordering::Relaxed);
    }

    pub(crate) fn set_slot_process(&self, slot: usize, pid: u32, state: SlotState) {
        self.slot_word(slot, s::PID)
            .store(pid as u64, Ordering::Relaxed);
        self.set_slot_state(slot, state);
    }

    pub(crate) fn set_slot_state(&self, slot: usize, state: SlotState) {
        self.slot_word(slot, s::STATE)
            .store(state.word(), Ordering::Release);
    }

    pub(crate) fn set_restarts(&self, slot: usize, restarts: u64) {
        self.slot_word(slot, s::RESTARTS)
            .store(restarts, Ordering::Relaxed);
    }

    /// The words the parent's watchdog needs, without the label (cheap enough for every tick).
    pub(crate) fn vitals(&self, slot: usize) -> Vitals {
        let r = |i| self.slot_word(slot, i).load(Ordering::Acquire);
        Vitals {
            current_task: r(s::CURRENT_TASK).checked_sub(1),
            task_started_ms: r(s::TASK_STARTED_MS),
            heartbeat_ms: r(s::HEARTBEAT_MS),
            task_started_us: r(s::TASK_STARTED_US),
        }
    }

    /// Clears what an exited worker wrote about itself (its task marker and its heartbeat),
    /// so its replacement starts clean and is judged by its own beats only. Called after the
    /// worker was reaped and before a replacement is requested, when the slot has no writer.
    pub(crate) fn clear_worker_marks(&self, slot: usize) {
        self.slot_word(slot, s::HEARTBEAT_MS)
            .store(0, Ordering::Relaxed);
        self.slot_word(slot, s::TASK_STARTED_US)
            .store(0, Ordering::Relaxed);
        self.slot_word(slot, s::CURRENT_TASK)
            .store(0, Ordering::Release);
    }

    // ---- worker-owned words ----

    fn label(&self, slot: usize) -> String {
        let mut bytes = Vec::with_capacity(LABEL_WORDS * 8);
        for i in 0..LABEL_WORDS {
            let word = self.slot_word(slot, s::LABEL + i).load(Ordering::Relaxed);
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        String::from_utf8_lossy(&bytes[..end]).into_owned()
    }

    /// Marks `task` as running in `slot` (worker side), with a label for displays. A long
    /// label keeps its end (the file name matters more than the directory).
    pub fn begin_task(&self, slot: usize, task: u64, label: &str) {
        let mut bytes = [0u8; LABEL_WORDS * 8];
        let text = label.as_bytes();
        let mut from = text.len().saturating_sub(bytes.len());
        while from < text.len() && !label.is_char_boundary(from) {
            from += 1;
        }
        bytes[..text.len() - from].copy_from_slice(&text[from..]);
        for (i, chunk) in bytes.chunks(8).enumerate() {
            let word = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
            self.slot_word(slot, s::LABEL + i)
                .store(word, Ordering::Relaxed);
        }
        let now = now_ms();
        self.slot_word(slot, s::TASK_STARTED_MS)
            .store(now, Ordering::Relaxed);
        self.slot_word(slot, s::HEARTBEAT_MS)
            .store(now, Ordering::Relaxed);
        self.slot_word(slot, s::CURRENT_TASK)
            .store(task + 1, Ordering::Release);
    }

    /// Records when the task about to begin started, in CLOCK_MONOTONIC µs (worker side, in
    /// runs that time their tasks; call before [`Scoreboard::begin_task`], which publishes it).
    pub(crate) fn mark_start_us(&self, slot: usize, us: u64) {
        self.slot_word(slot, s::TASK_STARTED_US)
            .store(us, Ordering::Relaxed);
    }

    /// Records a sign of life of `slot`'s worker (worker side; its heartbeat thread calls
    /// this a few times a second).
    pub fn beat(&self, slot: usize) {
        self.slot_word(slot, s::HEARTBEAT_MS)
            .store(now_ms(), Ordering::Relaxed);
    }

    /// Marks `tasks` tasks finished at once, adding their `cost` in all (worker side: the
    /// tasks of a group, whose results leave together).
    pub(crate) fn end_tasks(&self, slot: usize, tasks: u64, cost: u64) {
        self.slot_word(slot, s::TASKS_DONE)
            .fetch_add(tasks, Ordering::Relaxed);
        self.slot_word(slot, s::COST_DONE)
            .fetch_add(cost, Ordering::Relaxed);
        self.slot_word(slot, s::CURRENT_TASK)
            .store(0, Ordering::Release);
    }

    /// Marks the running task finished, adding its cost (worker side).
    pub fn end_task(&self, slot: usize, cost: u64) {
        self.slot_word(slot, s::TASKS_DONE)
            .fetch_add(1, Ordering::Relaxed);
        self.slot_word(slot, s::COST_DONE)
            .fetch_add(cost, Ordering::Relaxed);
        // No heartbeat stamp here: the heartbeat thread and the next `begin_task` keep it
        // fresh, and a clock read per task is a measurable cost on trivial tasks.
        self.slot_word(slot, s::CURRENT_TASK)
            .store(0, Ordering::Release);
    }
}

/// Every scoreboard of a running supervisor this user can see (optionally only `pid`'s), found
/// by the memfd name among `/proc/<pid>/fd` links, with the supervisor's pid.
pub fn find_running(pid: Option<u32>) -> Vec<(u32, Scoreboard)> {
    let target = format!("/memfd:{MEMFD_NAME} (deleted)");
    let mut found = Vec::new();
    let pids: Vec<u32> = match pid {
        Some(pid) => vec![pid],
        None => match std::fs::read_dir("/proc") {
            Ok(dir) => dir
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect(),
            Err(_) => return found,
        },
    };
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let is_board = std::fs::read_link(fd.path())
                .map(|link| link.as_os_str() == target.as_str())
                .unwrap_or(false);
            if !is_board {
                continue;
            }
            if let Some(path) = fd.path().to_str()
                && let Ok(board) = Scoreboard::attach(path, false)
            {
                found.push((pid, board));
            }
        }
    }
    found.sort_by_key(|(pid, _)| *pid);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_mapping_sees_the_first_ones_writes() {
        let board = Scoreboard::create(3, "hash").unwrap();
        board.set_cost_is_bytes(true);
        board.add_totals(10, 1000);
        board.set_slot_process(1, 4242, SlotState::Running);
        let path = board.proc_path().unwrap();
        let worker = Scoreboard::attach(&path, true).unwrap();
        worker.begin_task(1, 7, "some/file.txt");
        assert_eq!(board.slot_view(1).current_task, Some(7));
        assert_eq!(board.slot_view(1).label, "some/file.txt");
        let long = format!("{}/é-end", "x".repeat(200));
        worker.begin_task(1, 7, &long);
        assert!(board.slot_view(1).label.ends_with("/é-end"));
        worker.end_task(1, 64);
        let view = board.slot_view(1);
        assert_eq!((view.pid, view.tasks_done, view.cost_done), (4242, 1, 64));
        assert_eq!(view.current_task, None);
        let reader = Scoreboard::attach(&path, false).unwrap();
        let header = reader.header_view();
        assert_eq!((header.job.as_str(), header.tasks_total), ("hash", 10));
        assert_eq!(reader.slots(), 3);
        let mine = find_running(Some(std::process::id()));
        assert!(!mine.is_empty(), "our own scoreboard is found");
        assert_eq!(mine[0].1.header_view().parent_pid, std::process::id());
    }

    #[test]
    fn the_segment_cannot_be_resized() {
        let board = Scoreboard::create(1, "hash").unwrap();
        let path = board.proc_path().unwrap();
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        assert!(file.set_len(0).is_err(), "shrinking is sealed");
        assert!(file.set_len(1 << 20).is_err(), "growing is sealed");
        board.beat(0);
        assert_ne!(
            board.slot_view(0).heartbeat_ms,
            0,
            "the parent's mapping still works"
        );
    }

    #[test]
    fn other_files_are_refused() {
        let file = tempfile::NamedTempFile::new().unwrap();
        file.as_file().set_len(4096).unwrap();
        assert!(Scoreboard::attach(file.path().to_str().unwrap(), false).is_err());
    }
}
