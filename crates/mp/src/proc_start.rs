//! Which process a pid names: its start time, so that a reused pid is not mistaken for a dead
//! process (used by the queues' consumer slots, the semaphores' holders and the shared memory
//! tracker).

/// Start time of process `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`), if
/// it is alive and not a zombie: with the pid, it names one process for good.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // `rest` starts at field 3 (state): field 22 is the 20th from here.
    fields.nth(18)?.parse().ok()
}
