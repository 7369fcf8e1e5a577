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

/// The summary object of `json`/`jsonl`. `partitions`, for a merge, gives each slot's
/// partition: slots are then numbered within their partition and labelled with it.
pub fn to_json(summary: &Summary, totals: &Totals, partitions: Option<&[u32]>) -> Value {
    let workers: Vec<Value> = slot_labels(summary, partitions)
        .zip(&summary.slots)
        .map(|((partition, slot), s)| {
            let mut worker = serde_json::Map::new();
            if let Some(partition) = partition {
                worker.insert("partition".into(), Value::from(partition));
            }
            worker.insert("slot".into(), Value::from(slot));
            worker.insert("pids".into(), json!(s.pids));
            worker.insert("tasks".into(), Value::from(s.tasks));
            worker.insert("max_rss_bytes".into(), Value::from(s.max_rss_bytes));
            worker.insert("cpu_ms".into(), Value::from(s.cpu.as_millis() as u64));
            Value::Object(worker)
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

/// Each slot's partition (if labelled) and its number: within its partition when labelled.
fn slot_labels<'a>(
    summary: &'a Summary,
    partitions: Option<&'a [u32]>,
) -> impl Iterator<Item = (Option<u32>, usize)> + 'a {
    let mut previous = None;
    let mut slot = 0;
    (0..summary.slots.len()).map(move |i| match partitions.and_then(|p| p.get(i)) {
        None => (None, i),
        Some(&partition) => {
            slot = if previous == Some(partition) {
                slot + 1
            } else {
                0
            };
            previous = Some(partition);
            (Some(partition), slot)
        }
    })
}

/// The human-readable summary (the table footer, or stderr for `sums`); `partitions` as in
/// [`to_json`].
pub fn to_text(summary: &Summary, totals: &Totals, partitions: Option<&[u32]>) -> String {
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
    if partitions.is_some() {
        out.push_str("part  ");
    }
    out.push_str("slot  tasks  max rss     cpu      pids\n");
    for ((partition, slot), s) in slot_labels(summary, partitions).zip(&summary.slots) {
        let pids: Vec<String> = s.pids.iter().map(u32::to_string).collect();
        if let Some(partition) = partition {
            out.push_str(&format!("{partition:<4}  "));
        }
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
