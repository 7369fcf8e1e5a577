//! The worker's results on their way to the parent: a task hands its result over and goes on
//! at once; a sender thread ships results within a couple of milliseconds of the first one
//! waiting (or as soon as a thousand wait), so a finished result never waits behind the next
//! task, however long that runs. On SIGTERM the outbox is flushed before the worker dies, so
//! nothing a worker completed is lost when a run is stopped.

use crate::protocol::{self, FromWorker, TaskResult};
use ipc_channel::ipc::IpcBytesSender;
use serde::Serialize;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Results are held back at most this long after the first one is queued, so many tiny
/// tasks share a message.
pub(crate) const FLUSH_AFTER: Duration = Duration::from_millis(2);
/// ... and at most this many.
pub(crate) const FLUSH_COUNT: usize = 1024;

/// The sender thread only waits and encodes: a small stack keeps it from eating into a tight
/// memory limit.
const STACK_BYTES: usize = 256 * 1024;

/// The parent hung up the result channel.
#[derive(Debug)]
pub(crate) struct Gone;

struct State<O> {
    pending: Vec<(u64, TaskResult<O>)>,
    /// Send what is pending now, without waiting for more.
    urgent: bool,
    /// No more results will come: send what is pending and stop.
    closing: bool,
    /// A message is being sent (the pending list was taken but is not out yet).
    sending: bool,
    gone: bool,
    stopped: bool,
}

struct Shared<O> {
    state: Mutex<State<O>>,
    /// Wakes the sender thread.
    wake: Condvar,
    /// Wakes those waiting for a flush to complete.
    flushed: Condvar,
}

/// The task thread's end.
pub(crate) struct Outbox<O> {
    shared: Arc<Shared<O>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A handle that flushes the outbox from another thread (the SIGTERM handler).
pub(crate) struct Flusher<O> {
    shared: Arc<Shared<O>>,
}

impl<O: Serialize + Send + 'static> Outbox<O> {
    /// Starts the sender thread on `results`.
    pub(crate) fn start(results: IpcBytesSender) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                pending: Vec::new(),
                urgent: false,
                closing: false,
                sending: false,
                gone: false,
                stopped: false,
            }),
            wake: Condvar::new(),
            flushed: Condvar::new(),
        });
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("supervisor-results".into())
            .stack_size(STACK_BYTES)
            .spawn(move || send_loop(&theirs, &results))?;
        Ok(Outbox {
            shared,
            thread: Some(thread),
        })
    }

    /// Queues one result.
    pub(crate) fn push(&self, id: u64, result: TaskResult<O>) -> Result<(), Gone> {
        let mut state = lock(&self.shared.state);
        if state.gone {
            return Err(Gone);
        }
        state.pending.push((id, result));
        let n = state.pending.len();
        drop(state);
        // The sender sleeps only while nothing is pending, or waits for the batch to fill.
        if n == 1 || n >= FLUSH_COUNT {
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    /// A handle for flushing from another thread.
    pub(crate) fn flusher(&self) -> Flusher<O> {
        Flusher {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Sends everything still queued and stops the sender thread.
    pub(crate) fn close(mut self) {
        {
            let mut state = lock(&self.shared.state);
            state.closing = true;
        }
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl<O> Flusher<O> {
    /// Sends what is queued now and waits (at most `limit`) until it is out.
    pub(crate) fn flush(&self, limit: Duration) {
        let until = Instant::now() + limit;
        let mut state = lock(&self.shared.state);
        state.urgent = true;
        self.shared.wake.notify_one();
        while (!state.pending.is_empty() || state.sending) && !state.gone && !state.stopped {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            state = self
                .shared
                .flushed
                .wait_timeout(state, left)
                .map(|(s, _)| s)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn send_loop<O: Serialize>(shared: &Shared<O>, results: &IpcBytesSender) {
    let mut state = lock(&shared.state);
    loop {
        while state.pending.is_empty() && !state.closing {
            state.urgent = false;
            shared.flushed.notify_all();
            state = shared.wake.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        if state.pending.is_empty() {
            break;
        }
        // Let a batch gather, but never hold the first result longer than FLUSH_AFTER.
        let until = Instant::now() + FLUSH_AFTER;
        while state.pending.len() < FLUSH_COUNT && !state.urgent && !state.closing {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = shared
                .wake
                .wait_timeout(state, left)
                .map(|(s, _)| s)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        let batch = std::mem::take(&mut state.pending);
        state.sending = true;
        drop(state);
        let sent = protocol::encode(&FromWorker::Results(batch))
            .ok()
            .is_some_and(|bytes| results.send(&bytes).is_ok());
        state = lock(&shared.state);
        state.sending = false;
        if !sent {
            state.gone = true;
            state.pending.clear();
            break;
        }
    }
    state.stopped = true;
    shared.flushed.notify_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Vec<u64> {
        match protocol::decode::<FromWorker<u64>>(bytes).unwrap() {
            FromWorker::Results(r) => r.into_iter().map(|(id, _)| id).collect(),
            FromWorker::SetupFailed(_) => panic!("not results"),
        }
    }

    /// The next message, polled until `limit`.
    fn recv_within(rx: &ipc_channel::ipc::IpcBytesReceiver, limit: Duration) -> Option<Vec<u8>> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Ok(bytes) = rx.try_recv() {
                return Some(bytes);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        None
    }

    #[test]
    fn a_result_leaves_without_waiting_for_more() {
        let (tx, rx) = ipc_channel::ipc::bytes_channel().unwrap();
        let outbox = Outbox::<u64>::start(tx).unwrap();
        outbox.push(7, TaskResult::Done(49)).unwrap();
        // Nothing else is pushed: the result must still arrive, promptly.
        let got = recv_within(&rx, Duration::from_secs(5)).expect("sent without a flush");
        assert_eq!(decode(&got), vec![7]);
        outbox.close();
    }

    #[test]
    fn closing_sends_everything_in_order() {
        let (tx, rx) = ipc_channel::ipc::bytes_channel().unwrap();
        let outbox = Outbox::<u64>::start(tx).unwrap();
        for id in 0..5000 {
            outbox.push(id, TaskResult::Done(id)).unwrap();
        }
        outbox.close();
        let mut ids = Vec::new();
        while let Ok(bytes) = rx.try_recv() {
            ids.extend(decode(&bytes));
        }
        assert_eq!(ids, (0..5000).collect::<Vec<_>>());
    }

    #[test]
    fn a_flush_waits_until_the_results_are_out() {
        let (tx, rx) = ipc_channel::ipc::bytes_channel().unwrap();
        let outbox = Outbox::<u64>::start(tx).unwrap();
        let flusher = outbox.flusher();
        outbox.push(1, TaskResult::Done(1)).unwrap();
        flusher.flush(Duration::from_secs(5));
        let got = rx.try_recv().expect("flushed before flush() returned");
        assert_eq!(decode(&got), vec![1]);
        outbox.close();
    }

    #[test]
    fn a_parent_that_hung_up_is_reported() {
        let (tx, rx) = ipc_channel::ipc::bytes_channel().unwrap();
        drop(rx);
        let outbox = Outbox::<u64>::start(tx).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut gone = false;
        while Instant::now() < deadline {
            if outbox.push(1, TaskResult::Done(1)).is_err() {
                gone = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(gone, "pushing after the parent hung up fails");
        outbox.close();
    }
}
