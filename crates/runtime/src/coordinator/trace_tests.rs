//! The lifecycle records of a traced run, against the summary the same run produced.

use super::*;
use crate::config::Chaos;

fn traced(workers: usize) -> Settings {
    let mut s = settings(workers);
    s.trace = true;
    s
}

fn traces(cmds: &[Command<u64>]) -> Vec<&Trace> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Trace(t) => Some(t),
            _ => None,
        })
        .collect()
}

/// Answers every task the workers hold (and what they are sent meanwhile) until none is left,
/// keeping every command.
fn answer_all(sim: &mut Sim, all: &mut Cmds) {
    loop {
        let held: Vec<(usize, u64, Vec<u64>)> = (0..sim.c.slots.len())
            .filter_map(|slot| match &sim.c.slots[slot].phase {
                Phase::Running(w) if !w.inflight.is_empty() => Some((
                    slot,
                    sim.c.slots[slot].generation,
                    w.inflight.iter().copied().collect(),
                )),
                _ => None,
            })
            .collect();
        if held.is_empty() {
            return;
        }
        for (slot, generation, ids) in held {
            all.extend(sim.results(slot, generation, &ids));
        }
    }
}

#[test]
fn every_attempt_death_and_retry_is_recorded_as_the_summary_counts_them() {
    let mut s = traced(2);
    s.chaos = Some(Chaos {
        every: Duration::from_secs(1),
        seed: 7,
    });
    let (mut sim, start) = Sim::batch(s, 30);
    let up = sim.bring_up(&start);
    let mut all = start;
    // Slot 0's worker dies (a crash from outside) on its second task.
    let first = sends(&up)
        .into_iter()
        .find(|(slot, _)| *slot == 0)
        .unwrap()
        .1;
    all.extend(up);
    all.extend(sim.results(0, 1, &first[..1]));
    let died = sim.exited(0, 1, KILL, vitals(Some(first[1]), 1, 1));
    let up = sim.bring_up(&died);
    all.extend(died);
    all.extend(up);
    // Chaos kills a busy worker a second later.
    sim.at(Duration::from_secs(1));
    let chaos = sim.tick(1_000, Vec::new());
    let (victim, _) = signals(&chaos)[0];
    let generation = sim.c.slots[victim].generation;
    let Phase::Running(worker) = &sim.c.slots[victim].phase else {
        panic!("the victim runs")
    };
    let running = *worker.inflight.front().unwrap();
    all.extend(chaos);
    let died = sim.exited(victim, generation, KILL, vitals(Some(running), 1, 1));
    let up = sim.bring_up(&died);
    all.extend(died);
    all.extend(up);
    // Everything else runs to the end; the workers exit when asked.
    answer_all(&mut sim, &mut all);
    for slot in 0..2 {
        let generation = sim.c.slots[slot].generation;
        all.extend(sim.exited(slot, generation, ExitKind::Exited(0), Vitals::default()));
    }
    assert!(sim.c.is_done());

    let records = traces(&all);
    let outcomes = outcomes(&all);
    assert_eq!(outcomes.len(), 30);
    let attempts: u32 = outcomes.iter().map(|(_, _, a)| a).sum();
    let tasks: Vec<_> = records
        .iter()
        .filter_map(|t| match t {
            Trace::Task {
                id, end, attempt, ..
            } => Some((*id, *end, *attempt)),
            _ => None,
        })
        .collect();
    assert_eq!(tasks.len() as u32, attempts, "one task record per attempt");
    assert!(tasks.contains(&(first[1], AttemptEnd::Crashed, 1)));
    assert!(tasks.contains(&(first[1], AttemptEnd::Done, 2)));
    assert!(tasks.contains(&(running, AttemptEnd::Chaos, 1)));
    let exits: Vec<ExitCause> = records
        .iter()
        .filter_map(|t| match t {
            Trace::Exit { cause, .. } => Some(*cause),
            _ => None,
        })
        .collect();
    let summary = sim.c.into_summary();
    let deaths = exits.iter().filter(|c| c.is_death()).count() as u64;
    assert_eq!(deaths, summary.worker_crashes);
    assert_eq!(deaths, 2);
    let chaos = exits.iter().filter(|c| **c == ExitCause::Chaos).count() as u64;
    assert_eq!(chaos, summary.chaos_kills);
    assert_eq!(
        exits.iter().filter(|c| **c == ExitCause::Finish).count(),
        2,
        "the last workers left when asked"
    );
    let retries = records
        .iter()
        .filter(|t| matches!(t, Trace::Retry { .. }))
        .count() as u64;
    assert_eq!(retries, summary.retried);
    let spawns = records
        .iter()
        .filter(|t| matches!(t, Trace::Spawn { .. }))
        .count();
    let ready = records
        .iter()
        .filter(|t| matches!(t, Trace::Ready { .. }))
        .count() as u64;
    assert_eq!((spawns, ready), (4, summary.workers_spawned));
    assert!(records.contains(&&Trace::Kill {
        slot: victim,
        pid: 100 + victim as u32 + 10 * generation as u32,
        cause: KillCause::Chaos,
        task: None,
    }));
    assert_eq!(
        records.iter().filter(|t| matches!(t, Trace::Drain)).count(),
        1
    );
    // Every task was in a batch record before its first attempt ended.
    let batched: usize = records
        .iter()
        .map(|t| match t {
            Trace::Batch {
                ids: BatchIds::Range { n, .. },
                ..
            } => *n as usize,
            Trace::Batch {
                ids: BatchIds::List(ids),
                ..
            } => ids.len(),
            _ => 0,
        })
        .sum();
    assert!(batched >= 30, "{batched}");
}

#[test]
fn a_timeout_is_recorded_as_a_kill_an_exit_and_a_failed_attempt() {
    let (mut sim, id, judged) = overrun(traced(1));
    assert_eq!(
        traces(&judged),
        vec![&Trace::Kill {
            slot: 0,
            pid: 110,
            cause: KillCause::Timeout,
            task: Some(id),
        }]
    );
    let died = sim.exited(0, 1, KILL, vitals(Some(id), 8_000, 9_990));
    let records = traces(&died);
    assert!(matches!(
        records[0],
        Trace::Exit {
            cause: ExitCause::Timeout,
            pid: 110,
            ..
        }
    ));
    assert!(matches!(
        records[1],
        Trace::Task { id: t, end: AttemptEnd::TimedOut, attempt: 1, span: None, .. } if *t == id
    ));
    assert!(matches!(
        records[2],
        Trace::Failed { id: t, attempts: 1, error } if *t == id && error == "timed out after 1s"
    ));
}

#[test]
fn an_untraced_run_records_nothing() {
    let (mut sim, start) = Sim::batch(settings(1), 10);
    let up = sim.bring_up(&start);
    let first = sends(&up)[0].1.clone();
    let died = sim.exited(0, 1, KILL, vitals(Some(first[0]), 1, 1));
    let mut all = sim.bring_up(&died);
    answer_all(&mut sim, &mut all);
    assert!(
        [start, up, died, all]
            .iter()
            .all(|cmds| traces(cmds).is_empty())
    );
}

#[test]
fn batches_are_recorded_as_ranges_when_consecutive() {
    assert_eq!(BatchIds::of(&[4, 5, 6]), BatchIds::Range { first: 4, n: 3 });
    assert_eq!(BatchIds::of(&[9, 2]), BatchIds::List(vec![9, 2]));
    assert!(BatchIds::of(&[4, 5, 6]).contains(6));
    assert!(!BatchIds::of(&[4, 5, 6]).contains(7));
    assert!(BatchIds::of(&[9, 2]).contains(2));
}
