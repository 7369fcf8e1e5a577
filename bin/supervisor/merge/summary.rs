//! The summary of a merged run, from the partitions' summaries.
//!
//! What the merged summary says:
//! - `tasks`, `ok`, `failed`: counted from the merged results (as one run counts them);
//! - `skipped`, `not_run`, `retried`, `worker_crashes`, `chaos_kills`, `timeouts`,
//!   `recycled`, `workers_spawned`: the partitions' sums;
//! - `elapsed_ms`: from the earliest partition's start to the latest one's end (wall clock, as
//!   their headers record it), i.e. what waiting for the whole array took;
//! - `gave_up`, `interrupted`: each partition's reason, prefixed with the partition;
//! - `workers`: every partition's slots, labelled with their `partition` and numbered within it;
//! - `partitions`: per partition its number, host, start, end, own `elapsed_ms`, results, and
//!   `resumed` when it was finished from a journal.

use super::read::PartFile;
use serde_json::{Value, json};
use std::time::Duration;
use supervisor_runtime::{SlotSummary, Summary};

/// The merged summary, with the partition of each of its slots, the skipped count, and the
/// `partitions` entry (JSON and its text line).
pub struct Merged {
    pub summary: Summary,
    pub slot_partitions: Vec<u32>,
    pub skipped: u64,
    pub partitions: Value,
    pub partitions_line: String,
}

/// Merges the summaries of `parts` (sorted by partition number).
pub fn merge(parts: &[PartFile]) -> Merged {
    let mut summary = Summary::default();
    let mut slot_partitions = Vec::new();
    let mut skipped = 0;
    let mut gave_up = Vec::new();
    let mut interrupted = Vec::new();
    let mut each = Vec::new();
    let mut span: Option<(std::time::SystemTime, std::time::SystemTime)> = None;
    for part in parts {
        let s = &part.summary;
        let h = &part.header;
        let count = |key: &str| s[key].as_u64().unwrap_or(0);
        summary.not_run += count("not_run");
        summary.retried += count("retried");
        summary.worker_crashes += count("worker_crashes");
        summary.chaos_kills += count("chaos_kills");
        summary.timeouts += count("timeouts");
        summary.recycled += count("recycled");
        summary.workers_spawned += count("workers_spawned");
        skipped += count("skipped");
        let label = format!("partition {}/{}", h.partition, h.partitions);
        if let Some(reason) = s["gave_up"].as_str() {
            gave_up.push(format!("{label}: {reason}"));
        }
        if let Some(reason) = s["interrupted"].as_str() {
            interrupted.push(format!("{label}: {reason}"));
        }
        for worker in s["workers"].as_array().into_iter().flatten() {
            summary.slots.push(SlotSummary {
                pids: worker["pids"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_u64().and_then(|p| u32::try_from(p).ok()))
                    .collect(),
                tasks: worker["tasks"].as_u64().unwrap_or(0),
                max_rss_bytes: worker["max_rss_bytes"].as_u64().unwrap_or(0),
                cpu: Duration::from_millis(worker["cpu_ms"].as_u64().unwrap_or(0)),
            });
            slot_partitions.push(h.partition);
        }
        if let Some((started, ended)) = h.span() {
            span = Some(match span {
                None => (started, ended),
                Some((first, last)) => (first.min(started), last.max(ended)),
            });
        }
        let mut entry = json!({
            "partition": h.partition,
            "host": h.host,
            "started": h.started,
            "ended": h.ended,
            "elapsed_ms": count("elapsed_ms"),
            "results": part.results,
            "source": h.source,
        });
        if let Some(resumed) = s["resumed"].as_u64() {
            entry["resumed"] = Value::from(resumed);
        }
        each.push(entry);
    }
    summary.elapsed = span
        .and_then(|(first, last)| last.duration_since(first).ok())
        .unwrap_or_default();
    summary.gave_up = (!gave_up.is_empty()).then(|| gave_up.join("; "));
    summary.interrupted = (!interrupted.is_empty()).then(|| interrupted.join("; "));
    let mut hosts: Vec<&str> = parts.iter().map(|p| p.header.host.as_str()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    let longest = parts
        .iter()
        .max_by_key(|p| p.summary["elapsed_ms"].as_u64().unwrap_or(0));
    let first = &parts[0].header;
    let partitions_line = format!(
        "merged {} partitions ({}) run on {}; the longest, partition {}, took {:.2} s",
        parts.len(),
        match &first.plan {
            Some(id) => format!("plan {id}"),
            None => "hash".into(),
        },
        hosts.join(", "),
        longest.map_or(0, |p| p.header.partition),
        longest.map_or(0.0, |p| {
            p.summary["elapsed_ms"].as_u64().unwrap_or(0) as f64 / 1000.0
        })
    );
    Merged {
        summary,
        slot_partitions,
        skipped,
        partitions: Value::Array(each),
        partitions_line,
    }
}
