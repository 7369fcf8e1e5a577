//! The worker's heartbeat: a small thread that stamps the worker's scoreboard slot a few times
//! a second, so the parent can tell a live worker from one that is stopped (SIGSTOP, a
//! debugger) or wedged as a whole process, even while a task legitimately runs for long.

use crate::scoreboard::Scoreboard;
use std::sync::Arc;
use std::time::Duration;

/// Time between beats; the parent's heartbeat timeout should be many of these.
pub(crate) const EVERY: Duration = Duration::from_millis(200);

/// The thread does nothing but sleep and store one word: a small stack is plenty, and keeps
/// it from eating into a tight memory limit.
const STACK_BYTES: usize = 64 * 1024;

/// Starts beating for `slot` until the process exits.
pub(crate) fn start(board: Arc<Scoreboard>, slot: usize) -> std::io::Result<()> {
    board.beat(slot);
    std::thread::Builder::new()
        .name("supervisor-heartbeat".into())
        .stack_size(STACK_BYTES)
        .spawn(move || {
            loop {
                std::thread::sleep(EVERY);
                board.beat(slot);
            }
        })
        .map(drop)
}
