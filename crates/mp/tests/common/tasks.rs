//! Tasks that the `mp` and `pool` test binaries both run. Each binary is its own worker
//! executable, so each registers these itself: it includes this file with
//! `#[path = "common/tasks.rs"] mod tasks;` (not through `common`, which every binary
//! includes, so that the others do not register tasks they never run).

use std::time::Duration;
use supervisor_mp::task;

task!(
    pub fn square(x: u64) -> u64 {
        x * x
    }
);

task!(
    pub fn sleep_ms(ms: u64) -> u64 {
        std::thread::sleep(Duration::from_millis(ms));
        ms
    }
);

task!(
    /// Panics with `odd input {x}` on an odd `x`.
    pub fn panic_on_odd(x: u64) -> u64 {
        assert!(x.is_multiple_of(2), "odd input {x}");
        x
    }
);

task!(
    /// SIGKILLs its own worker on 5.
    pub fn kill_self_on_5(x: u64) -> u64 {
        if x == 5 {
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
        }
        x * 10
    }
);
