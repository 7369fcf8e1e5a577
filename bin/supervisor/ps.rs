//! `supervisor ps`: a live view of running supervisors' workers, read from their scoreboards.
//!
//! Each supervisor holds its scoreboard as a memfd; we find it among `/proc/<pid>/fd` links,
//! map it read-only, and add what only the kernel knows (RSS, CPU time) from `/proc/<worker>`.

use crate::cli::PsArgs;
use crate::error::CliError;
use crate::output::summary::human_bytes;
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};
use supervisor_runtime::scoreboard::{self, Scoreboard, SlotState};

/// CPU time of a process, sampled at an instant.
type CpuSample = (Duration, Instant);

/// Prints the view once, or every `--interval` with `--watch` until the supervisors are gone.
pub fn run(args: PsArgs) -> Result<u8, CliError> {
    let mut samples: HashMap<u32, CpuSample> = HashMap::new();
    let clear = args.watch && std::io::stdout().is_terminal();
    loop {
        let boards = scoreboard::find_running(args.pid);
        let mut text = String::new();
        if boards.is_empty() {
            text.push_str(&match args.pid {
                Some(pid) => format!("no running supervisor with pid {pid}\n"),
                None => "no running supervisor\n".to_string(),
            });
        }
        for (pid, board) in &boards {
            text.push_str(&render(*pid, board, &mut samples));
            text.push('\n');
        }
        let mut out = std::io::stdout().lock();
        if clear {
            let _ = out.write_all(b"\x1b[2J\x1b[H");
        }
        if out
            .write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .is_err()
        {
            return Ok(crate::error::code::OK);
        }
        drop(out);
        if !args.watch || boards.is_empty() {
            return Ok(if boards.is_empty() && args.pid.is_some() {
                crate::error::code::TASKS_FAILED
            } else {
                crate::error::code::OK
            });
        }
        std::thread::sleep(args.interval);
    }
}

fn render(pid: u32, board: &Scoreboard, samples: &mut HashMap<u32, CpuSample>) -> String {
    let h = board.header_view();
    let running_for = scoreboard::now_ms().saturating_sub(h.started_ms) as f64 / 1000.0;
    let mut out = format!(
        "supervisor {pid}: job {}, {}/{} tasks done, {} failed, {} crashes, {} retried, {} workers spawned, running {:.1} s\n",
        h.job,
        h.tasks_done,
        h.tasks_total,
        h.tasks_failed,
        h.crashes,
        h.retried,
        h.spawned,
        running_for
    );
    out.push_str(&format!(
        "{:<4} {:>8} {:<8} {:>7} {:>10} {:>10} {:>6} {:>8}  {}\n",
        "SLOT", "PID", "STATE", "TASKS", "BYTES", "RSS", "CPU%", "RESTARTS", "CURRENT TASK"
    ));
    for slot in 0..board.slots() {
        let v = board.slot_view(slot);
        let alive = matches!(v.state, SlotState::Running | SlotState::Starting) && v.pid != 0;
        let (rss, cpu) = if alive {
            process_stats(v.pid, samples)
        } else {
            (None, None)
        };
        let current = match v.current_task {
            Some(id) if v.label.is_empty() => format!("#{id}"),
            Some(id) => format!("#{id} {}", v.label),
            None => "-".to_string(),
        };
        out.push_str(&format!(
            "{:<4} {:>8} {:<8} {:>7} {:>10} {:>10} {:>6} {:>8}  {}\n",
            slot,
            v.pid,
            v.state.name(),
            v.tasks_done,
            if h.cost_is_bytes {
                human_bytes(v.cost_done)
            } else {
                "-".to_string()
            },
            rss.map(human_bytes).unwrap_or_else(|| "-".into()),
            cpu.map(|c| format!("{c:.0}")).unwrap_or_else(|| "-".into()),
            v.restarts,
            current
        ));
    }
    out
}

/// RSS in bytes, and CPU% since the last sample of this pid (or over its lifetime).
fn process_stats(pid: u32, samples: &mut HashMap<u32, CpuSample>) -> (Option<u64>, Option<f64>) {
    let Ok(process) = procfs::process::Process::new(pid as i32) else {
        return (None, None);
    };
    let Ok(stat) = process.stat() else {
        return (None, None);
    };
    let ticks = procfs::ticks_per_second() as f64;
    let rss = stat.rss * procfs::page_size();
    let cpu = Duration::from_secs_f64((stat.utime + stat.stime) as f64 / ticks);
    let now = Instant::now();
    let percent = match samples.insert(pid, (cpu, now)) {
        Some((before, at)) if now > at => {
            100.0 * cpu.saturating_sub(before).as_secs_f64() / (now - at).as_secs_f64()
        }
        _ => {
            let boot = procfs::boot_time_secs().unwrap_or(0) as f64;
            let started = boot + stat.starttime as f64 / ticks;
            let wall = (scoreboard::now_ms() as f64 / 1000.0 - started).max(0.001);
            100.0 * cpu.as_secs_f64() / wall
        }
    };
    (Some(rss), Some(percent))
}
