//! Ctrl-C and SIGTERM during a run: the first stops gracefully, the second at once.
//!
//! Workers lead their own process groups, so a terminal's Ctrl-C reaches only the supervisor;
//! it decides what happens to them. Handlers are installed only in `run`, after worker routing,
//! so workers never inherit them.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};
use std::sync::atomic::{AtomicI32, Ordering};
use supervisor_runtime::{StopMode, Stopper};

/// The first signal received by this process (0: none).
static FIRST: AtomicI32 = AtomicI32::new(0);

/// Watches for SIGINT/SIGTERM while a run is going.
pub struct SignalGuard {
    handle: Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SignalGuard {
    /// Starts watching; signals go to `stopper`.
    pub fn install(stopper: Stopper) -> std::io::Result<Self> {
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        let handle = signals.handle();
        let thread = std::thread::Builder::new()
            .name("supervisor-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    let name = if signal == SIGINT {
                        "SIGINT"
                    } else {
                        "SIGTERM"
                    };
                    if FIRST
                        .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                    {
                        stopper.stop(StopMode::Graceful, format!("interrupted by {name}"));
                    } else {
                        stopper.stop(StopMode::Immediate, format!("interrupted by {name}"));
                    }
                }
            })?;
        Ok(SignalGuard {
            handle,
            thread: Some(thread),
        })
    }
}

/// The conventional exit code of the first signal received, if any (130 for SIGINT, 143 for
/// SIGTERM).
pub fn exit_code() -> Option<u8> {
    match FIRST.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(128 + signal as u8),
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
