//! Per-process statistics from `/proc` (pid, resident memory, CPU time).

use crate::process::Process;
use serde::de::DeserializeOwned;
use std::io;
use std::time::Duration;

/// A snapshot of one process's resource use, read from `/proc/<pid>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessStats {
    /// The process id.
    pub pid: u32,
    /// Resident set size in bytes.
    pub rss_bytes: u64,
    /// CPU time spent in user mode.
    pub user_time: Duration,
    /// CPU time spent in the kernel.
    pub system_time: Duration,
}

impl ProcessStats {
    /// User plus system CPU time.
    pub fn cpu_time(&self) -> Duration {
        self.user_time + self.system_time
    }
}

fn proc_error(e: procfs::ProcError) -> io::Error {
    match e {
        procfs::ProcError::NotFound(_) => {
            io::Error::new(io::ErrorKind::NotFound, "no such process")
        }
        e => io::Error::other(e.to_string()),
    }
}

/// Reads the statistics of process `pid` (any process this one may inspect).
pub fn process_stats(pid: u32) -> io::Result<ProcessStats> {
    let id = i32::try_from(pid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
    let process = procfs::process::Process::new(id).map_err(proc_error)?;
    let stat = process.stat().map_err(proc_error)?;
    let statm = process.statm().map_err(proc_error)?;
    let ticks = procfs::ticks_per_second().max(1);
    let time = |t: u64| Duration::from_nanos(t.saturating_mul(1_000_000_000) / ticks);
    Ok(ProcessStats {
        pid,
        rss_bytes: statm.resident.saturating_mul(procfs::page_size()),
        user_time: time(stat.utime),
        system_time: time(stat.stime),
    })
}

impl<R: DeserializeOwned> Process<R> {
    /// The worker's current statistics ([`process_stats`] of its pid); fails with
    /// `NotFound` once it has ended or if it never started.
    pub fn stats(&self) -> io::Result<ProcessStats> {
        if !self.is_alive() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "the process has ended",
            ));
        }
        let pid = self
            .pid()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the process never started"))?;
        process_stats(pid)
    }
}
