//! Running a fault task: the deliberate misbehaviour itself.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::thread;
use std::time::Duration;

use super::plan::{FaultAction, FaultOutput, FaultTask};
use crate::sys::signals as crash;

/// Chunk size for [`FaultAction::Allocate`]: big enough to hit a limit fast, small enough that
/// the limit is hit by touching pages rather than by one absurd request.
const ALLOC_CHUNK: usize = 16 << 20;
const PAGE: usize = 4096;

impl FaultTask {
    /// Sleeps `sleep_ms`, then performs the action. Returns only for actions that succeed;
    /// the others end the process (or never end).
    ///
    /// # Panics
    ///
    /// For [`FaultAction::Panic`], deliberately; and for [`FaultAction::CrashOnce`] without a
    /// marker directory or when the marker cannot be created, since the task then cannot know
    /// whether this is its first attempt.
    pub fn run(&self) -> FaultOutput {
        if self.sleep_ms > 0 {
            thread::sleep(Duration::from_millis(self.sleep_ms));
        }
        match self.action {
            FaultAction::Succeed => {}
            FaultAction::Segfault => crash::segfault(),
            FaultAction::Abort => std::process::abort(),
            FaultAction::Exit(code) => std::process::exit(code),
            FaultAction::Panic => panic!("fault job: deliberate panic on item {}", self.item),
            FaultAction::SleepForever => sleep_forever(),
            FaultAction::IgnoreTermAndSleep => {
                crash::ignore_sigterm();
                sleep_forever()
            }
            FaultAction::Allocate => allocate_forever(),
            FaultAction::CrashOnce => self.crash_unless_marked(),
        }
        FaultOutput {
            item: self.item,
            value: self.item.wrapping_mul(self.item),
        }
    }

    fn crash_unless_marked(&self) {
        let dir = self
            .marker_dir
            .as_deref()
            .expect("fault job: CrashOnce needs a marker directory");
        let marker = Path::new(OsStr::from_bytes(dir)).join(format!("{}.crashed", self.item));
        // create_new is atomic, so two concurrent attempts cannot both believe they are first.
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&marker)
        {
            Ok(_) => crash::kill_self(),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
            Err(err) => panic!(
                "fault job: cannot create marker {}: {err}",
                marker.display()
            ),
        }
    }
}

fn sleep_forever() -> ! {
    loop {
        thread::sleep(Duration::from_secs(3600));
    }
}

fn allocate_forever() -> ! {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; ALLOC_CHUNK];
        // Zeroed allocations are lazily mapped; only writing makes the pages count as used.
        for offset in (0..ALLOC_CHUNK).step_by(PAGE) {
            chunk[offset] = 1;
        }
        kept.push(std::hint::black_box(chunk));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(item: u64, action: FaultAction, marker_dir: Option<Vec<u8>>) -> FaultTask {
        FaultTask {
            item,
            action,
            sleep_ms: 0,
            marker_dir,
        }
    }

    #[test]
    fn succeed_returns_the_square() {
        let out = task(12, FaultAction::Succeed, None).run();
        assert_eq!(
            out,
            FaultOutput {
                item: 12,
                value: 144
            }
        );
    }

    #[test]
    fn crash_once_succeeds_when_already_marked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("5.crashed"), b"").unwrap();
        let dir_bytes = dir.path().as_os_str().as_bytes().to_vec();
        let out = task(5, FaultAction::CrashOnce, Some(dir_bytes)).run();
        assert_eq!(out.value, 25);
    }

    #[test]
    #[should_panic(expected = "deliberate panic on item 3")]
    fn panic_names_the_item() {
        task(3, FaultAction::Panic, None).run();
    }
}
