//! Signals during a run: Ctrl-C, SIGTERM and SIGHUP stop it gracefully (a second one at once),
//! SIGQUIT at once; Ctrl-Z (SIGTSTP) stops the workers with the supervisor and `fg` (SIGCONT)
//! continues them.
//!
//! Workers lead their own process groups, so a terminal's signals reach only the supervisor;
//! it decides what happens to them. Handlers are installed only in `run`, after worker routing,
//! so workers never inherit them.

use signal_hook::consts::{SIGCONT, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP};
use signal_hook::iterator::{Handle, Signals};
use std::sync::atomic::{AtomicI32, Ordering};
use supervisor_runtime::{EventLog, StopMode, Stopper};

/// The first stopping signal received by this process (0: none).
static FIRST: AtomicI32 = AtomicI32::new(0);

/// Watches for signals while a run is going.
pub struct SignalGuard {
    handle: Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SignalGuard {
    /// Starts watching; signals go to `stopper`, and are noted in `events` if given.
    pub fn install(stopper: Stopper, events: Option<EventLog>) -> std::io::Result<Self> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGCONT])?;
        let handle = signals.handle();
        let thread = std::thread::Builder::new()
            .name("supervisor-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    if let Some(events) = &events {
                        events.signal(name(signal));
                    }
                    match signal {
                        SIGTSTP => {
                            // Job control: the workers stop first (and the run's timers with
                            // them), then this process, as the default action would have.
                            stopper.suspend();
                            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
                        }
                        // `fg` or `bg`: this process is running again, so are the workers.
                        SIGCONT => stopper.resume(),
                        _ => stop(&stopper, signal),
                    }
                }
            })?;
        Ok(SignalGuard {
            handle,
            thread: Some(thread),
        })
    }
}

/// The first SIGINT/SIGTERM/SIGHUP stops gracefully; SIGQUIT, or any second one, at once.
fn stop(stopper: &Stopper, signal: i32) {
    let name = name(signal);
    let first = FIRST
        .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    let mode = if first && signal != SIGQUIT {
        StopMode::Graceful
    } else {
        StopMode::Immediate
    };
    stopper.stop(mode, format!("interrupted by {name}"));
}

fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        SIGTSTP => "SIGTSTP",
        SIGCONT => "SIGCONT",
        _ => "SIGQUIT",
    }
}

/// The conventional exit code of the first stopping signal received, if any (129 SIGHUP,
/// 130 SIGINT, 131 SIGQUIT, 143 SIGTERM).
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
