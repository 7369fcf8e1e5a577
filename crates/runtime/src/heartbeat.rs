//! The worker's heartbeat: a small thread that stamps the worker's scoreboard slot a few times
//! a second, so the parent can tell a live worker from one that is stopped (SIGSTOP, a
//! debugger) or wedged as a whole process, even while a task legitimately runs for long.
//!
//! The same thread answers SIGTERM (a timeout, a stop): it waits for its beats on a socket
//! that the signal handler writes to, and once the worker is serving it runs the worker's
//! last action (send the results already finished) before dying of the signal as if it had
//! not been caught. One thread for both: a thread is a noticeable share of a short worker's
//! life (a `Process` that runs one call).

use crate::scoreboard::Scoreboard;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Time between beats; the parent's heartbeat timeout should be many of these.
pub(crate) const EVERY: Duration = Duration::from_millis(200);

/// The thread does little but wait and store one word: a small stack is plenty, and keeps it
/// from eating into a tight memory limit.
const STACK_BYTES: usize = 64 * 1024;

type Action = Box<dyn FnOnce() + Send>;

/// The running heartbeat.
pub(crate) struct Heartbeat {
    on_terminate: Arc<Mutex<Option<Action>>>,
    /// The write end the SIGTERM handler is given, until it is.
    wake: Mutex<Option<UnixStream>>,
}

/// Starts beating for `slot` until the process exits.
pub(crate) fn start(board: Arc<Scoreboard>, slot: usize) -> std::io::Result<Heartbeat> {
    let (wake, watch) = UnixStream::pair()?;
    let on_terminate: Arc<Mutex<Option<Action>>> = Arc::default();
    let action = Arc::clone(&on_terminate);
    board.beat(slot);
    std::thread::Builder::new()
        .name("supervisor-heartbeat".into())
        .stack_size(STACK_BYTES)
        .spawn(move || {
            let mut next = Instant::now() + EVERY;
            loop {
                if signalled(&watch, next.saturating_duration_since(Instant::now())) {
                    let action = action.lock().unwrap_or_else(|e| e.into_inner()).take();
                    if let Some(action) = action {
                        action();
                    }
                    let _ = signal_hook::low_level::emulate_default_handler(
                        signal_hook::consts::SIGTERM,
                    );
                    return;
                }
                if Instant::now() >= next {
                    board.beat(slot);
                    next = Instant::now() + EVERY;
                }
            }
        })?;
    Ok(Heartbeat {
        on_terminate,
        wake: Mutex::new(Some(wake)),
    })
}

impl Heartbeat {
    /// From now on SIGTERM runs `action` on the heartbeat's thread, then ends the process as
    /// the signal would have. Call once; until then SIGTERM has its default effect.
    pub(crate) fn on_sigterm(&self, action: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
        *self.on_terminate.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(action));
        let wake = self.wake.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(wake) = wake {
            signal_hook::low_level::pipe::register(signal_hook::consts::SIGTERM, wake)?;
        }
        Ok(())
    }
}

/// Waits up to `limit` for the SIGTERM handler's byte; true if it came.
fn signalled(watch: &UnixStream, limit: Duration) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    // Rounded up: the last fraction of a millisecond before a beat would otherwise be a
    // `poll` that returns at once, again and again (a spin of up to 1 ms every beat).
    let ms = u16::try_from(limit.as_micros().div_ceil(1000)).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(watch.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::from(ms)), Ok(n) if n > 0)
}
