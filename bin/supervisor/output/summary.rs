//! The run summary, as JSON and as the table footer.

use serde_json::{Value, json};
use supervisor_runtime::Summary;

/// Counts the binary adds to the engine's summary.
pub struct Totals {
    /// Results written (tasks plus discovery errors).
    pub results: u64,
    /// Of those, failures (job errors, crashes past retries, panics, discovery errors).
    pub failed: u64,
    /// Entries skipped with a note (FIFOs, sockets, devices, symlinks not followed).
    pub skipped: u64,
}

/// The summary object of `json`/`jsonl`.
pub fn to_json(summary: &Summary, totals: &Totals) -> Value {
    let workers: Vec<Value> = summary
        .slots
        .iter()
        .enumerate()
        .map(|(slot, s)| {
            json!({
                "slot": slot,
                "pids": s.pids,
                "tasks": s.tasks,
                "max_rss_bytes": s.max_rss_bytes,
                "cpu_ms": s.cpu.as_millis() as u64,
            })
        })
        .collect();
    json!({
        "tasks": totals.results,
        "ok": totals.results - totals.failed,
        "failed": totals.failed,
        "skipped": totals.skipped,
        "not_run": summary.not_run,
        "retried": summary.retried,
        "worker_crashes": summary.worker_crashes,
        "chaos_kills": summary.chaos_kills,
        "timeouts": summary.timeouts,
        "recycled": summary.recycled,
        "workers_spawned": summary.workers_spawned,
        "elapsed_ms": summary.elapsed.as_millis() as u64,
        "gave_up": summary.gave_up,
        "interrupted": summary.interrupted,
        "workers": workers,
    })
}

/// The human-readable summary (the table footer, or stderr for `sums`).
pub fn to_text(summary: &Summary, totals: &Totals) -> String {
    let mut out = String::new();
    let secs = summary.elapsed.as_secs_f64();
    out.push_str(&format!(
        "{} results: {} ok, {} failed, {} skipped in {:.2} s\n",
        totals.results,
        totals.results - totals.failed,
        totals.failed,
        totals.skipped,
        secs
    ));
    if summary.not_run > 0 {
        out.push_str(&format!("{} tasks not run\n", summary.not_run));
    }
    out.push_str(&format!(
        "workers: {} spawned, {} crashes ({} by chaos, {} timeouts), {} recycled, {} task retries\n",
        summary.workers_spawned,
        summary.worker_crashes,
        summary.chaos_kills,
        summary.timeouts,
        summary.recycled,
        summary.retried
    ));
    out.push_str("slot  tasks  max rss     cpu      pids\n");
    for (slot, s) in summary.slots.iter().enumerate() {
        let pids: Vec<String> = s.pids.iter().map(u32::to_string).collect();
        out.push_str(&format!(
            "{slot:<4}  {:<5}  {:<10}  {:<7}  {}\n",
            s.tasks,
            human_bytes(s.max_rss_bytes),
            format!("{:.2}s", s.cpu.as_secs_f64()),
            abbreviate(&pids)
        ));
    }
    if let Some(reason) = &summary.gave_up {
        out.push_str(&format!("gave up: {reason}\n"));
    }
    if let Some(reason) = &summary.interrupted {
        out.push_str(&format!(
            "interrupted: {reason}; results above are partial\n"
        ));
    }
    out
}

fn abbreviate(pids: &[String]) -> String {
    if pids.len() <= 6 {
        pids.join(",")
    } else {
        format!(
            "{},{},{} ... {} ({} in all)",
            pids[0],
            pids[1],
            pids[2],
            pids[pids.len() - 1],
            pids.len()
        )
    }
}

/// Bytes in binary units, e.g. `3.2 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
