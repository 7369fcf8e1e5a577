//! A pool's initializer (Python's `Pool(initializer=..)`): a registered function run once when
//! a worker starts, before its first task, bounded by `initializer_timeout` if given.

use crate::function::panic_message;
use crate::job::Call;
use std::time::Duration;

/// Runs `init` (if any) in this worker, within `limit` if given: an error, a panic or an
/// overrun is the worker's start failure.
pub(crate) fn run_initializer(init: Option<Call>, limit: Option<Duration>) -> Result<(), String> {
    let Some(init) = init else {
        return Ok(());
    };
    let f = crate::function::lookup(&init.function).ok_or_else(|| {
        format!(
            "the initializer {:?} is not registered in the worker",
            init.function
        )
    })?;
    let name = init.function.clone();
    let _disarm = limit.map(|limit| arm_watchdog(&name, limit));
    let arg = init.arg;
    match std::panic::catch_unwind(move || f(&arg)) {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("the initializer {name:?} failed: {e}")),
        Err(payload) => Err(format!(
            "the initializer {name:?} panicked: {}",
            panic_message(payload.as_ref())
        )),
    }
}

/// The exit status of a worker whose initializer overran its limit.
const INIT_TIMEOUT_EXIT: i32 = 72;

/// A thread that ends the process if the initializer overruns `limit`; dropping the returned
/// sender (the initializer returned) disarms it.
fn arm_watchdog(name: &str, limit: Duration) -> std::sync::mpsc::Sender<()> {
    let (disarm, armed) = std::sync::mpsc::channel::<()>();
    let message =
        format!("the initializer {name:?} did not finish within {limit:?} (initializer_timeout)");
    let _ = std::thread::Builder::new()
        .name("supervisor-mp-init-timeout".into())
        .spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = armed.recv_timeout(limit) {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "{message}");
                // Rust's exit only tries the stdout lock, so a main thread stuck in user code
                // (even mid-print) cannot hold the worker up.
                std::process::exit(INIT_TIMEOUT_EXIT);
            }
        });
    disarm
}
