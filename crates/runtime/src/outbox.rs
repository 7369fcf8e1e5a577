//! The worker's results on their way to the parent: a task hands its result over and goes on
//! at once; a sender thread ships results within a couple of milliseconds of the first one
//! waiting (or as soon as a thousand wait, or at once when the worker has finished its batch
//! and is about to wait for more), so a finished result never waits behind the next task,
//! however long that runs. On SIGTERM the outbox is flushed before the worker dies, so nothing
//! a worker completed is lost when a run is stopped.

use crate::protocol::{self, FromWorker, Span, TaskResult};
use ipc_channel::ipc::IpcBytesSender;
use serde::Serialize;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Results are held back at most this long after the first one is queued, so many tiny
/// tasks share a message.
pub(crate) const FLUSH_AFTER: Duration = Duration::from_millis(2);
/// ... and at most this many.
pub(crate) const FLUSH_COUNT: usize = 1024;

/// The timer thread only waits: a small stack keeps it from eating into a tight memory limit.
const STACK_BYTES: usize = 64 * 1024;

/// The parent hung up the result channel.
#[derive(Debug)]
pub(crate) struct Gone;

struct State<O> {
    pending: Vec<(u64, TaskResult<O>)>,
    /// When each pending result's task ran, if the run asked for timing (then one per result).
    spans: Vec<Span>,
    /// When the oldest pending result was queued.
    first_at: Option<Instant>,
    /// The timer sleeps until a first result is queued (and must then be woken).
    timer_idle: bool,
    closing: bool,
    gone: bool,
    /// The worker is being terminated: what was pending has been taken for the last message,
    /// and a task that finishes now must not start another (its result could not leave).
    frozen: bool,
}

struct Shared<O> {
    state: Mutex<State<O>>,
    /// Wakes the timer thread.
    wake: Condvar,
    /// Whoever sends holds this from taking the pending results until they are out, so
    /// messages leave in the order their results were queued.
    channel: Mutex<IpcBytesSender>,
}

/// The task thread's end.
pub(crate) struct Outbox<O> {
    shared: Arc<Shared<O>>,
}

/// A handle that flushes the outbox from another thread (the SIGTERM handler).
pub(crate) struct Flusher<O> {
    shared: Arc<Shared<O>>,
}

impl<O: Serialize + Send + 'static> Outbox<O> {
    /// Starts the timer thread; results go to `results`.
    pub(crate) fn start(results: IpcBytesSender) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                pending: Vec::new(),
                spans: Vec::new(),
                first_at: None,
                timer_idle: false,
                closing: false,
                gone: false,
                frozen: false,
            }),
            wake: Condvar::new(),
            channel: Mutex::new(results),
        });
        let theirs = Arc::clone(&shared);
        // Never joined: see `close`.
        std::thread::Builder::new()
            .name("supervisor-results".into())
            .stack_size(STACK_BYTES)
            .spawn(move || timer_loop(&theirs))?;
        Ok(Outbox { shared })
    }

    /// Queues one result, with when its task ran if the run is timed; sends the queue itself
    /// once it is full.
    pub(crate) fn push(
        &self,
        id: u64,
        result: TaskResult<O>,
        span: Option<Span>,
    ) -> Result<(), Gone> {
        self.push_all(std::iter::once((id, result, span)))
    }

    /// Queues results in order under one lock (a group's: per result, the lock was a few
    /// percent of a worker's time on tiny tasks), with their spans if the run is timed; sends
    /// the queue itself once it is full.
    pub(crate) fn push_all(
        &self,
        results: impl IntoIterator<Item = (u64, TaskResult<O>, Option<Span>)>,
    ) -> Result<(), Gone> {
        let mut state = lock(&self.shared.state);
        if state.gone {
            return Err(Gone);
        }
        if state.frozen {
            // SIGTERM came and the last message is on its way: this task thread waits for
            // the process to die rather than run another task whose result would be lost.
            drop(state);
            loop {
                std::thread::park();
            }
        }
        let was_empty = state.pending.is_empty();
        for (id, result, span) in results {
            state.pending.push((id, result));
            if let Some(span) = span {
                state.spans.push(span);
            }
        }
        let n = state.pending.len();
        if was_empty && n > 0 {
            state.first_at = Some(Instant::now());
            if state.timer_idle {
                state.timer_idle = false;
                self.shared.wake.notify_one();
            }
        }
        drop(state);
        if n >= FLUSH_COUNT {
            ship(&self.shared)?;
        }
        Ok(())
    }

    /// Sends what is queued now (the worker finished its batch: the parent's next batch
    /// depends on these results).
    pub(crate) fn send_now(&self) -> Result<(), Gone> {
        ship(&self.shared)
    }

    /// A handle for flushing from another thread.
    pub(crate) fn flusher(&self) -> Flusher<O> {
        Flusher {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Sends everything still queued and tells the timer thread to end. It is not waited
    /// for: a send it may have begun holds the channel, which `ship` takes first, so
    /// everything is out when this returns, and the worker exits one wake-up sooner.
    pub(crate) fn close(self) {
        lock(&self.shared.state).closing = true;
        self.shared.wake.notify_one();
        let _ = ship(&self.shared);
    }
}

impl<O: Serialize> Flusher<O> {
    /// Sends what is queued now as the last message: from here on a task that finishes
    /// waits (for the process to die) instead of going on to the next one, so at most the
    /// task running now is lost when the worker is terminated.
    pub(crate) fn flush_final(&self) {
        lock(&self.shared.state).frozen = true;
        let _ = ship(&self.shared);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Takes everything pending and sends it as one message (nothing if nothing is pending).
fn ship<O: Serialize>(shared: &Shared<O>) -> Result<(), Gone> {
    let channel = lock(&shared.channel);
    let batch = {
        let mut state = lock(&shared.state);
        if state.gone {
            return Err(Gone);
        }
        state.first_at = None;
        (
            std::mem::take(&mut state.pending),
            std::mem::take(&mut state.spans),
        )
    };
    let (batch, spans) = batch;
    if batch.is_empty() {
        return Ok(());
    }
    let sent = protocol::encode(&FromWorker::Results(batch, spans))
        .ok()
        .is_some_and(|bytes| channel.send(&bytes).is_ok());
    if sent {
        Ok(())
    } else {
        let mut state = lock(&shared.state);
        state.gone = true;
        state.pending.clear();
        state.spans.clear();
        Err(Gone)
    }
}

/// Sends results that have waited [`FLUSH_AFTER`] while the task thread is busy with a task.
fn timer_loop<O: Serialize>(shared: &Shared<O>) {
    let mut state = lock(&shared.state);
    loop {
        if state.gone || (state.closing && state.pending.is_empty()) {
            return;
        }
        let Some(first) = state.first_at.filter(|_| !state.pending.is_empty()) else {
            if state.closing {
                return;
            }
            state.timer_idle = true;
            state = shared.wake.wait(state).unwrap_or_else(|e| e.into_inner());
            continue;
        };
        let due = first + FLUSH_AFTER;
        let now = Instant::now();
        if now < due && !state.closing {
            state = shared
                .wake
                .wait_timeout(state, due - now)
                .map(|(s, _)| s)
                .unwrap_or_else(|e| e.into_inner().0);
            continue;
        }
        drop(state);
        let _ = ship(shared);
        state = lock(&shared.state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Vec<u64> {
        match protocol::decode::<FromWorker<u64>>(bytes).unwrap() {
            FromWorker::Results(r, _) => r.into_iter().map(|(id, _)| id).collect(),
            FromWorker::SetupFailed(_) | FromWorker::Ready => panic!("not results"),
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
        outbox.push(7, TaskResult::Done(49), None).unwrap();
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
            outbox.push(id, TaskResult::Done(id), None).unwrap();
        }
        outbox.close();
        let mut ids = Vec::new();
        while let Ok(bytes) = rx.try_recv() {
            ids.extend(decode(&bytes));
        }
        assert_eq!(ids, (0..5000).collect::<Vec<_>>());
    }

    #[test]
    fn groups_pushed_at_once_leave_in_order_among_single_results() {
        let (tx, rx) = ipc_channel::ipc::bytes_channel().unwrap();
        let outbox = Outbox::<u64>::start(tx).unwrap();
        let mut id = 0;
        // Groups of 64 between single pushes, past the flush count several times.
        while id < 5000 {
            outbox.push(id, TaskResult::Done(id), None).unwrap();
            let group = (id + 1..id + 65).map(|i| (i, TaskResult::Done(i), None));
            outbox.push_all(group).unwrap();
            id += 65;
        }
        // A group pushed alone still leaves without a flush.
        outbox
            .push_all((id..id + 3).map(|i| (i, TaskResult::Done(i), None)))
            .unwrap();
        let mut ids = Vec::new();
        while ids.len() < id as usize + 3 {
            let bytes = recv_within(&rx, Duration::from_secs(5)).expect("sent without a flush");
            ids.extend(decode(&bytes));
        }
        assert_eq!(ids, (0..id + 3).collect::<Vec<_>>());
        outbox.close();
    }

    #[test]
    fn a_flush_waits_until_the_results_are_out() {
        let (tx, rx) = ipc_channel::ipc::bytes_channel().unwrap();
        let outbox = Outbox::<u64>::start(tx).unwrap();
        let flusher = outbox.flusher();
        outbox.push(1, TaskResult::Done(1), None).unwrap();
        flusher.flush_final();
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
            if outbox.push(1, TaskResult::Done(1), None).is_err() {
                gone = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(gone, "pushing after the parent hung up fails");
        outbox.close();
    }
}
