//! What the page draws, computed from the history: one row per worker slot with its processes
//! and its attempts, the deaths, the troubled tasks, the slowest attempts, and throughput over
//! time. Sized for big runs: every attempt that failed, was killed or belongs to a retried or
//! failed task is kept exactly, and so are the longest others up to [`EXACT_LIMIT`] in all;
//! the rest (tiny tasks, by the million) are added up into [`BINS`] time bins per row.

use super::read::{Attempt, History, OUTCOMES, Process};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// Attempts drawn one by one; beyond this, the shortest go into bins.
pub const EXACT_LIMIT: usize = 40_000;
/// Attempts that must be exact (failed, killed, retried) kept at most: past this, a run
/// where nearly everything failed still gives a page that opens.
const TROUBLE_LIMIT: usize = 100_000;
/// Time bins across the run, per row and for the charts.
pub const BINS: u64 = 2_000;
/// Troubled tasks listed in the table.
const TABLE_LIMIT: usize = 2_000;
/// Slowest attempts listed.
const SLOWEST: usize = 25;
/// Characters of a label kept (its end: a path's file name matters most).
const LABEL_CHARS: usize = 160;

/// Exit causes that are not deaths: the run asked the worker to go.
const PLANNED: [&str; 3] = ["finish", "recycle", "stop"];

#[derive(Serialize)]
pub struct Page {
    /// Microseconds from the first run's start to the last line.
    end: u64,
    schema: u32,
    runs: Vec<RunOut>,
    rows: Vec<RowOut>,
    /// Details of the exact attempts, by the index in a row's `tasks`.
    info: Vec<Info>,
    deaths: Vec<DeathOut>,
    troubled: Vec<TroubleOut>,
    troubled_total: usize,
    slowest: Vec<AttemptOut>,
    series: Series,
    moments: Vec<MomentOut>,
    stats: Stats,
}

/// An exact attempt's details, as a JSON array (the page reads it by position; there may be
/// tens of thousands): `id, attempt, label, pid, run, bytes`.
type Info = (u64, u32, Option<String>, u32, u32, Option<u64>);

#[derive(Serialize)]
struct RunOut {
    run: u32,
    tool: String,
    version: String,
    argv: Vec<String>,
    job: String,
    workers: usize,
    host: String,
    wall_ms: u64,
    settings: Value,
    how: Option<String>,
    summary: Value,
    start: u64,
    end: Option<u64>,
}

#[derive(Serialize)]
struct RowOut {
    run: u32,
    slot: usize,
    procs: Vec<ProcOut>,
    /// Exact attempts by start: `start, dur, outcome, info index` for each.
    tasks: Vec<u64>,
    bins: Option<Bins>,
}

#[derive(Serialize)]
struct ProcOut {
    pid: Option<u32>,
    req: u64,
    ready: Option<u64>,
    end: Option<u64>,
    cause: Option<String>,
    how: Option<String>,
    rss: u64,
    cpu: u64,
    tasks: u64,
}

/// Attempts added up per time bin: how many started, and how busy the worker was (µs).
#[derive(Serialize)]
struct Bins {
    n: Vec<u32>,
    busy: Vec<u64>,
}

#[derive(Serialize)]
struct DeathOut {
    t: u64,
    run: u32,
    slot: usize,
    pid: Option<u32>,
    cause: String,
    how: String,
    /// Counted as a worker crash in the summary (a failed start is not).
    counted: bool,
}

#[derive(Serialize)]
struct TroubleOut {
    run: u32,
    id: u64,
    label: Option<String>,
    failed: Option<String>,
    attempts: Vec<AttemptOut>,
}

#[derive(Serialize, Clone)]
struct AttemptOut {
    run: u32,
    slot: usize,
    pid: u32,
    id: u64,
    attempt: u32,
    outcome: &'static str,
    start: u64,
    dur: u64,
    label: Option<String>,
}

/// Run-wide counts per bin of `w` µs: attempts that ended done or not, and tasks running.
#[derive(Serialize)]
struct Series {
    w: u64,
    done: Vec<u32>,
    failed: Vec<u32>,
    /// Average number of attempts running in the bin, hundredths.
    running: Vec<u32>,
}

#[derive(Serialize)]
struct MomentOut {
    t: u64,
    kind: String,
    text: String,
}

#[derive(Serialize)]
struct Stats {
    lines: u64,
    skipped: u64,
    attempts: usize,
    exact: usize,
    binned: usize,
    /// Bin width in µs.
    bin: u64,
}

/// Builds the page's data; `load_labels` fetches the labels of the tasks it shows one by one.
pub fn build(
    history: History,
    load_labels: impl FnOnce(&BTreeSet<(u32, u64)>) -> HashMap<(u32, u64), String>,
) -> Page {
    let History {
        runs,
        attempts,
        troubled,
        moments,
        last_t,
        lines,
        skipped,
        version,
    } = history;
    let end = last_t.max(1);
    let bin = end.div_ceil(BINS).max(1);
    let nbins = end.div_ceil(bin) as usize + 1;

    // Which attempts are drawn exactly.
    let troubled_ids: BTreeSet<(u32, u64)> = troubled.keys().copied().collect();
    let must = |a: &Attempt| a.outcome != 0 || troubled_ids.contains(&(a.run, a.id));
    let mut exact = vec![false; attempts.len()];
    if attempts.len() <= EXACT_LIMIT {
        exact.fill(true);
    } else {
        let mut kept = 0;
        let mut others = Vec::new();
        for (i, a) in attempts.iter().enumerate() {
            if must(a) && kept < TROUBLE_LIMIT {
                exact[i] = true;
                kept += 1;
            } else {
                others.push(i);
            }
        }
        let room = EXACT_LIMIT.saturating_sub(kept).min(others.len());
        if room > 0 {
            others.select_nth_unstable_by_key(room - 1, |&i| std::cmp::Reverse(attempts[i].dur));
            for &i in &others[..room] {
                exact[i] = true;
            }
        }
    }

    // The slowest attempts, and the labels of every task shown one by one.
    let mut order: Vec<usize> = (0..attempts.len()).collect();
    let slowest_n = SLOWEST.min(order.len());
    if slowest_n > 0 {
        order.select_nth_unstable_by_key(slowest_n - 1, |&i| std::cmp::Reverse(attempts[i].dur));
    }
    let slowest_ids = &order[..slowest_n];
    let mut wanted: BTreeSet<(u32, u64)> = troubled.keys().take(TABLE_LIMIT).copied().collect();
    wanted.extend(
        slowest_ids
            .iter()
            .map(|&i| (attempts[i].run, attempts[i].id)),
    );
    wanted.extend(
        attempts
            .iter()
            .zip(&exact)
            .filter(|(_, keep)| **keep)
            .map(|(a, _)| (a.run, a.id)),
    );
    let labels: HashMap<(u32, u64), String> = load_labels(&wanted)
        .into_iter()
        .map(|(key, label)| (key, short_label(&label)))
        .collect();
    let label = |a: &Attempt| labels.get(&(a.run, a.id)).cloned();
    let attempt_out = |a: &Attempt| AttemptOut {
        run: a.run,
        slot: a.slot,
        pid: a.pid,
        id: a.id,
        attempt: a.attempt,
        outcome: OUTCOMES[usize::from(a.outcome)],
        start: a.start,
        dur: a.dur,
        label: label(a),
    };
    let mut slowest: Vec<AttemptOut> = slowest_ids
        .iter()
        .map(|&i| attempt_out(&attempts[i]))
        .collect();
    slowest.sort_by_key(|a| std::cmp::Reverse(a.dur));

    // The troubled tasks with all their attempts.
    let mut troubled_out: Vec<TroubleOut> = troubled
        .iter()
        .take(TABLE_LIMIT)
        .map(|(&(run, id), t)| TroubleOut {
            run,
            id,
            label: None,
            failed: t.failed.clone(),
            attempts: Vec::new(),
        })
        .collect();
    let listed: BTreeSet<(u32, u64)> = troubled_out.iter().map(|t| (t.run, t.id)).collect();
    for a in attempts.iter().filter(|a| listed.contains(&(a.run, a.id))) {
        let i = troubled_out.partition_point(|t| (t.run, t.id) < (a.run, a.id));
        let entry = &mut troubled_out[i];
        if entry.label.is_none() {
            entry.label = label(a);
        }
        entry.attempts.push(attempt_out(a));
    }
    for t in &mut troubled_out {
        t.attempts.sort_by_key(|a| (a.attempt, a.start));
    }

    // Rows: one per (run, slot), with processes, exact attempts and bins.
    let mut rows: Vec<RowOut> = Vec::new();
    let mut deaths = Vec::new();
    for (&run, r) in &runs {
        for (&slot, procs) in &r.slots {
            for p in procs {
                if let Some(death) = death(run, slot, p) {
                    deaths.push(death);
                }
            }
            rows.push(RowOut {
                run,
                slot,
                procs: procs.iter().map(proc_out).collect(),
                tasks: Vec::new(),
                bins: None,
            });
        }
    }
    deaths.sort_by_key(|d| d.t);
    let row_of = |rows: &[RowOut], run: u32, slot: usize| {
        rows.partition_point(|r| (r.run, r.slot) < (run, slot))
    };
    let mut series = Series {
        w: bin,
        done: vec![0; nbins],
        failed: vec![0; nbins],
        running: vec![0; nbins],
    };
    let mut busy_all = vec![0u64; nbins];
    for a in &attempts {
        let stop = a.start + a.dur;
        let b = ((stop / bin) as usize).min(nbins - 1);
        if a.outcome == 0 {
            series.done[b] += 1;
        } else {
            series.failed[b] += 1;
        }
        spread(&mut busy_all, bin, a.start, a.dur);
    }
    let mut by_start: Vec<usize> = (0..attempts.len()).collect();
    by_start.sort_by_key(|&i| attempts[i].start);
    let mut info = Vec::new();
    let (mut n_exact, mut n_binned) = (0, 0);
    for i in by_start {
        let a = &attempts[i];
        let mut at = row_of(&rows, a.run, a.slot);
        if at == rows.len() || (rows[at].run, rows[at].slot) != (a.run, a.slot) {
            // Attempts of a slot whose spawn is not in the file (it was cut at the front).
            rows.insert(
                at,
                RowOut {
                    run: a.run,
                    slot: a.slot,
                    procs: Vec::new(),
                    tasks: Vec::new(),
                    bins: None,
                },
            );
            at = row_of(&rows, a.run, a.slot);
        }
        let row = &mut rows[at];
        if exact[i] {
            n_exact += 1;
            row.tasks
                .extend([a.start, a.dur, u64::from(a.outcome), info.len() as u64]);
            info.push((a.id, a.attempt, label(a), a.pid, a.run, a.bytes));
        } else {
            n_binned += 1;
            let bins = row.bins.get_or_insert_with(|| Bins {
                n: vec![0; nbins],
                busy: vec![0; nbins],
            });
            bins.n[((a.start / bin) as usize).min(nbins - 1)] += 1;
            spread(&mut bins.busy, bin, a.start, a.dur);
        }
    }
    for row in &mut rows {
        if let Some(bins) = &mut row.bins {
            let used = bins.n.iter().rposition(|&n| n > 0).map_or(0, |i| i + 1);
            let used = used.max(bins.busy.iter().rposition(|&b| b > 0).map_or(0, |i| i + 1));
            bins.n.truncate(used);
            bins.busy.truncate(used);
        }
    }
    series.running = busy_all
        .iter()
        .map(|&busy| (busy * 100 / bin) as u32)
        .collect();

    Page {
        end,
        schema: version,
        runs: runs
            .into_iter()
            .map(|(run, r)| RunOut {
                run,
                tool: r.tool,
                version: r.version,
                argv: r.argv,
                job: r.job,
                workers: r.workers,
                host: r.host,
                wall_ms: r.wall_ms,
                settings: r.settings,
                how: r.how,
                summary: r.summary,
                start: r.start_t,
                end: r.end_t,
            })
            .collect(),
        rows,
        info,
        deaths,
        troubled_total: troubled.len(),
        troubled: troubled_out,
        slowest,
        series,
        moments: moments
            .into_iter()
            .map(|m| MomentOut {
                t: m.t,
                kind: m.kind,
                text: m.text,
            })
            .collect(),
        stats: Stats {
            lines,
            skipped,
            attempts: attempts.len(),
            exact: n_exact,
            binned: n_binned,
            bin,
        },
    }
}

/// Adds an interval's time to the bins it overlaps.
fn spread(bins: &mut [u64], width: u64, start: u64, dur: u64) {
    let last = bins.len() - 1;
    let stop = start + dur;
    let mut at = start;
    loop {
        let b = (at / width) as usize;
        if b > last {
            return;
        }
        let bin_end = (b as u64 + 1) * width;
        let until = stop.min(bin_end);
        bins[b] += until - at;
        if until >= stop {
            return;
        }
        at = until;
    }
}

/// A label shortened to its end.
fn short_label(label: &str) -> String {
    let chars = label.chars().count();
    if chars <= LABEL_CHARS {
        return label.to_string();
    }
    let tail: String = label.chars().skip(chars - LABEL_CHARS).collect();
    format!("…{tail}")
}

fn proc_out(p: &Process) -> ProcOut {
    ProcOut {
        pid: p.pid,
        req: p.requested,
        ready: p.ready,
        end: p.ended,
        cause: p.cause.clone(),
        how: p.how.clone(),
        rss: p.max_rss,
        cpu: p.cpu_ms,
        tasks: p.tasks,
    }
}

/// The process's end, if it was not asked for.
fn death(run: u32, slot: usize, p: &Process) -> Option<DeathOut> {
    let cause = p.cause.as_deref()?;
    if PLANNED.contains(&cause) {
        return None;
    }
    Some(DeathOut {
        t: p.ended?,
        run,
        slot,
        pid: p.pid,
        cause: cause.to_string(),
        how: p.how.clone().unwrap_or_default(),
        counted: cause != "spawn_failed",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_is_spread_over_the_bins_an_interval_overlaps() {
        let mut bins = vec![0; 4];
        spread(&mut bins, 10, 5, 20);
        assert_eq!(bins, vec![5, 10, 5, 0]);
        spread(&mut bins, 10, 35, 100);
        assert_eq!(bins, vec![5, 10, 5, 5], "clipped at the last bin");
    }

    #[test]
    fn long_labels_keep_their_end() {
        let long = format!("/{}/file.txt", "d".repeat(300));
        let short = short_label(&long);
        assert!(short.starts_with('…') && short.ends_with("/file.txt"));
        assert_eq!(short.chars().count(), LABEL_CHARS + 1);
        assert_eq!(short_label("a/b"), "a/b");
    }
}
