//! How the `hash` job's workers read the small files they digest side by side.

use std::fmt;

use crate::sys::uring::Uring;

/// The environment variable that switches io_uring off (`off`, `0`, `no` or `false`): the
/// one-by-one system calls are then used, as where the kernel lacks or refuses io_uring.
pub const IO_URING_ENV: &str = "SUPERVISOR_IO_URING";

/// How a [`super::GroupDigester`] reads files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileIo {
    /// Batched on io_uring: a group's opens in one submission, its reads in one per arena
    /// full, its closes in one more; each descriptor still checked to be a regular file
    /// (`fstat`) before it is read.
    IoUring,
    /// One system call per open, `fstat`, read and close: io_uring is missing, refused or
    /// switched off, for the reason given.
    Syscalls {
        /// Why not io_uring, e.g. `"io_uring_setup: Operation not permitted"` or
        /// `"SUPERVISOR_IO_URING=off"`.
        reason: String,
    },
}

impl FileIo {
    /// What a [`super::GroupDigester`] made now in this process would use. It sets up (and
    /// drops) a ring to find out, so the answer reflects this kernel, its settings and any
    /// seccomp profile, exactly as a worker started from here meets them.
    pub fn probe() -> FileIo {
        Self::setup().1
    }

    /// A ring and [`FileIo::IoUring`], or no ring and why not.
    pub(crate) fn setup() -> (Option<Uring>, FileIo) {
        if let Some(value) = std::env::var_os(IO_URING_ENV) {
            let value = value.to_string_lossy().to_ascii_lowercase();
            if matches!(value.as_str(), "off" | "0" | "no" | "false") {
                let reason = format!("{IO_URING_ENV}={value}");
                return (None, FileIo::Syscalls { reason });
            }
        }
        match Uring::new() {
            Ok(uring) => (Some(uring), FileIo::IoUring),
            Err(err) => {
                let reason = format!("io_uring_setup: {}", crate::describe_io_error(&err));
                (None, FileIo::Syscalls { reason })
            }
        }
    }
}

impl fmt::Display for FileIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileIo::IoUring => f.write_str("io_uring (batched open, read and close)"),
            FileIo::Syscalls { reason } => {
                write!(f, "one system call per open, read and close ({reason})")
            }
        }
    }
}
