//! Appending outcomes: buffered, written in small groups, synced at most once a second.

use super::Fingerprint;
use super::JournalError;
use super::format::{self, EncodeProblem};
use crate::Outcome;
use serde::Serialize;
use std::fs::File;
use std::io::{self, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Buffered records are written once this many are waiting...
const FLUSH_RECORDS: usize = 32;
/// ...or once the oldest has waited this long: the window a parent SIGKILL can lose.
const FLUSH_AFTER: Duration = Duration::from_millis(50);
/// `fdatasync` is slow (milliseconds, more on a busy disk); once a second bounds both its cost
/// and what a power loss can take.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// Appends task outcomes to a journal file. Create one with [`JournalWriter::create`] or
/// [`super::resume`].
///
/// Appends are buffered and reach the file within 50 ms or 32 records; a background thread
/// writes them out when no further append comes. Dropping the writer flushes and syncs like
/// [`JournalWriter::finish`], ignoring errors.
pub struct JournalWriter<O> {
    path: PathBuf,
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
    discarded_bytes: u64,
    /// Where a record is encoded before it joins the shared buffer, so the job's `Serialize`
    /// (code we do not control, which may panic) never runs under the lock.
    scratch: Vec<u8>,
    // `fn(&O)`: the writer only encodes `O`s, so it is `Send`/`Sync` whatever `O` is.
    _outcomes: PhantomData<fn(&O)>,
}

/// State shared with the flusher thread.
struct Shared {
    state: Mutex<State>,
    /// Wakes the flusher: new deadline, or stop.
    wake: Condvar,
}

struct State {
    file: File,
    /// Encoded records not yet handed to the kernel.
    buf: Vec<u8>,
    records: usize,
    /// When the oldest buffered record was appended.
    oldest: Option<Instant>,
    /// Set when bytes were written that no sync covers yet.
    unsynced: bool,
    last_sync: Instant,
    /// A write or sync error the flusher met, for the next call to report.
    error: Option<io::Error>,
    /// After any write error the tail of the file is unknown: append nothing more.
    broken: bool,
    stop: bool,
}

impl State {
    /// Hands the buffer to the kernel. On error the writer is broken for good.
    fn write_out(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let written = self.file.write_all(&self.buf);
        self.buf.clear();
        self.records = 0;
        self.oldest = None;
        self.unsynced = true;
        if written.is_err() {
            self.broken = true;
        }
        written
    }
}

impl<O> JournalWriter<O> {
    /// Creates (or truncates) the journal at `path` and writes its header. The header is
    /// synced, so a crash right after leaves a journal that resumes with no outcomes.
    pub fn create(
        path: impl AsRef<Path>,
        fingerprint: Fingerprint,
        total_tasks: u64,
    ) -> Result<Self, JournalError> {
        let path = path.as_ref();
        let io_err = |e| JournalError::io(path, e);
        let mut file = File::create(path).map_err(io_err)?;
        file.write_all(&format::encode_header(&fingerprint, total_tasks))
            .map_err(io_err)?;
        file.sync_data().map_err(io_err)?;
        // A new file's name lives in its directory: sync that too, or a power loss can take
        // the whole journal.
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_err)?;
        Self::from_file(file, path, 0)
    }

    /// Wraps a file positioned at the end of its last good record.
    pub(super) fn from_file(
        file: File,
        path: &Path,
        discarded_bytes: u64,
    ) -> Result<Self, JournalError> {
        let sync_file = file.try_clone().map_err(|e| JournalError::io(path, e))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                file,
                buf: Vec::with_capacity(64 << 10),
                records: 0,
                oldest: None,
                unsynced: false,
                last_sync: Instant::now(),
                error: None,
                broken: false,
                stop: false,
            }),
            wake: Condvar::new(),
        });
        let flusher = thread::Builder::new()
            .name("journal-flush".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || flush_loop(&shared, &sync_file)
            })
            .map_err(|e| JournalError::io(path, e))?;
        Ok(JournalWriter {
            path: path.to_path_buf(),
            shared,
            flusher: Some(flusher),
            discarded_bytes,
            scratch: Vec::new(),
            _outcomes: PhantomData,
        })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes [`super::resume`] cut from the end of the file because they were not a complete,
    /// valid record (a write torn by a crash); 0 for a new journal.
    pub fn discarded_bytes(&self) -> u64 {
        self.discarded_bytes
    }

    /// Hands every buffered record to the kernel now (no sync): after this returns they
    /// survive a crash of this process, though not a power loss.
    pub fn flush(&mut self) -> Result<(), JournalError> {
        let mut state = self.lock();
        self.check(&mut state)?;
        self.write_out(&mut state)
    }

    /// Flushes, syncs the file to the disk and stops the background thread, reporting any
    /// error on the way (dropping does the same but cannot report).
    pub fn finish(mut self) -> Result<(), JournalError> {
        self.close()
    }

    fn close(&mut self) -> Result<(), JournalError> {
        let Some(flusher) = self.flusher.take() else {
            return Ok(());
        };
        self.lock().stop = true;
        self.shared.wake.notify_one();
        // The flusher only panics on a bug; the file is still ours to flush either way.
        let _ = flusher.join();
        let mut state = self.lock();
        self.check(&mut state)?;
        self.write_out(&mut state)?;
        if state.unsynced {
            state
                .file
                .sync_data()
                .map_err(|e| JournalError::io(&self.path, e))?;
            state.unsynced = false;
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing that can panic runs under the lock (encoding happens before it), so a
        // poisoned lock still guards a consistent state.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Reports a write error the flusher met, once; after that, that the journal is broken.
    fn check(&self, state: &mut State) -> Result<(), JournalError> {
        if let Some(e) = state.error.take() {
            return Err(JournalError::io(&self.path, e));
        }
        if state.broken {
            return Err(JournalError::Broken {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    /// Writes the buffer out; wakes the flusher when this write starts a sync deadline.
    fn write_out(&self, state: &mut State) -> Result<(), JournalError> {
        let was_unsynced = state.unsynced;
        let result = state.write_out();
        if state.unsynced && !was_unsynced {
            self.shared.wake.notify_one();
        }
        result.map_err(|e| JournalError::io(&self.path, e))
    }
}

impl<O: Serialize> JournalWriter<O> {
    /// Records the final outcome of task `index`. Appending an index twice is allowed: on
    /// resume the last one wins.
    pub fn append(&mut self, index: u64, outcome: &Outcome<O>) -> Result<(), JournalError> {
        self.scratch.clear();
        format::encode_record(&mut self.scratch, index, outcome).map_err(
            |problem| match problem {
                EncodeProblem::Bincode(message) => JournalError::Encode {
                    path: self.path.clone(),
                    index,
                    message,
                },
                EncodeProblem::TooLarge(len) => JournalError::RecordTooLarge {
                    path: self.path.clone(),
                    index,
                    len,
                },
            },
        )?;
        let mut state = self.lock();
        self.check(&mut state)?;
        state.buf.extend_from_slice(&self.scratch);
        state.records += 1;
        let now = Instant::now();
        let oldest = *state.oldest.get_or_insert(now);
        if state.records >= FLUSH_RECORDS || now.duration_since(oldest) >= FLUSH_AFTER {
            return self.write_out(&mut state);
        }
        if state.records == 1 {
            // A new flush deadline for the flusher thread.
            self.shared.wake.notify_one();
        }
        Ok(())
    }
}

impl<O> Drop for JournalWriter<O> {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// The background thread: writes buffered records [`FLUSH_AFTER`] after the oldest was
/// appended, and syncs written data [`SYNC_EVERY`] at most. It syncs through its own handle
/// without holding the lock, so appends never wait for the disk.
fn flush_loop(shared: &Shared, sync_file: &File) {
    let lock = || shared.state.lock().unwrap_or_else(PoisonError::into_inner);
    let mut state = lock();
    loop {
        if state.stop || state.broken {
            return;
        }
        let now = Instant::now();
        if state.oldest.is_some_and(|t| now >= t + FLUSH_AFTER)
            && let Err(e) = state.write_out()
        {
            state.error = Some(e);
            return;
        }
        let sync_at = state.last_sync + SYNC_EVERY;
        if state.unsynced && now >= sync_at {
            state.unsynced = false;
            state.last_sync = now;
            drop(state);
            let synced = sync_file.sync_data();
            state = lock();
            if let Err(e) = synced {
                state.broken = true;
                state.error = Some(e);
                return;
            }
            continue;
        }
        let flush_at = state.oldest.map(|t| t + FLUSH_AFTER);
        let sync_at = state.unsynced.then_some(sync_at);
        state = match flush_at.into_iter().chain(sync_at).min() {
            Some(deadline) => {
                let timeout = deadline.saturating_duration_since(now);
                shared
                    .wake
                    .wait_timeout(state, timeout)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => shared
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}
