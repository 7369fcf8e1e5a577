//! The coordinator driven by event sequences, without processes: every accounting path.

use super::*;
use crate::report::Failure;

const KILL: ExitKind = ExitKind::Signaled {
    signal: 9,
    core_dumped: false,
};

fn settings(workers: usize) -> Settings {
    Settings {
        workers,
        retries: 2,
        max_restarts: 10,
        restart_window: Duration::from_secs(10),
        chaos: None,
        kill_grace: Duration::from_secs(2),
        shutdown_grace: Duration::from_secs(5),
        max_tasks_per_child: None,
        memory_limit: None,
        limits: Limits {
            task_timeout: None,
            heartbeat_timeout: None,
            slack_ms: 0,
        },
        window: 2,
        max_batch: 4,
        costliest_first_from: 0,
        trace: false,
    }
}

fn exit(kind: ExitKind) -> ExitInfo {
    ExitInfo {
        exit: kind,
        max_rss_bytes: 1 << 20,
        cpu: Duration::from_millis(5),
        stderr_tail: String::new(),
    }
}

fn vitals(task: Option<u64>, started_ms: u64, beat_ms: u64) -> Vitals {
    Vitals {
        current_task: task,
        task_started_ms: started_ms,
        heartbeat_ms: beat_ms,
        task_started_us: 0,
    }
}

/// A coordinator, a clock, and the commands of the last step.
struct Sim {
    c: Coordinator,
    t0: Instant,
    now: Instant,
}

type Cmds = Vec<Command<u64>>;

impl Sim {
    fn new(settings: Settings) -> Self {
        let now = Instant::now();
        Sim {
            c: Coordinator::new(settings),
            t0: now,
            now,
        }
    }

    /// A closed run of `n` tasks of cost 1, started.
    fn batch(settings: Settings, n: u64) -> (Self, Cmds) {
        let mut sim = Sim::new(settings);
        sim.on(Event::Submitted {
            first: 0,
            costs: vec![1; n as usize],
        });
        sim.on(Event::Closed);
        let mut out = Vec::new();
        sim.c.start(sim.now, &mut out);
        (sim, out)
    }

    fn on(&mut self, event: Event<u64>) -> Cmds {
        let mut out = Vec::new();
        self.c.handle(self.now, event, &mut out);
        out
    }

    fn at(&mut self, after: Duration) {
        self.now = self.t0 + after;
    }

    /// Brings every requested spawn up as a ready worker (pid 100 + slot); returns all
    /// commands that caused.
    fn bring_up(&mut self, cmds: &Cmds) -> Cmds {
        let mut all = Vec::new();
        for (slot, generation) in spawns(cmds) {
            let pid = 100 + slot as u32 + 10 * generation as u32;
            all.extend(self.on(Event::SpawnStarted {
                slot,
                generation,
                pid,
            }));
            all.extend(self.on(Event::Spawned {
                slot,
                generation,
                pid,
            }));
            all.extend(self.on(Event::Ready { slot, generation }));
        }
        all
    }

    fn results(&mut self, slot: usize, generation: u64, ids: &[u64]) -> Cmds {
        self.on(Event::Results {
            slot,
            generation,
            results: ids
                .iter()
                .map(|&id| (id, TaskResult::Done(id * 10)))
                .collect(),
            spans: Vec::new(),
        })
    }

    fn exited(&mut self, slot: usize, generation: u64, kind: ExitKind, seen: Vitals) -> Cmds {
        self.on(Event::Exited {
            slot,
            generation,
            info: exit(kind),
            seen,
        })
    }

    fn tick(&mut self, now_ms: u64, vitals: Vec<Vitals>) -> Cmds {
        self.on(Event::Tick { now_ms, vitals })
    }
}

fn spawns(cmds: &Cmds) -> Vec<(usize, u64)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Spawn { slot, generation } => Some((*slot, *generation)),
            _ => None,
        })
        .collect()
}

fn sends(cmds: &Cmds) -> Vec<(usize, Vec<u64>)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Send { slot, ids, .. } => Some((*slot, ids.clone())),
            _ => None,
        })
        .collect()
}

fn outcomes(cmds: &Cmds) -> Vec<(u64, Result<u64, Failure>, u32)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Outcome { id, outcome } => {
                Some((*id, outcome.result.clone(), outcome.attempts))
            }
            _ => None,
        })
        .collect()
}

fn signals(cmds: &Cmds) -> Vec<(usize, WorkerSignal)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Signal { slot, signal, .. } => Some((*slot, *signal)),
            _ => None,
        })
        .collect()
}

fn shutdowns(cmds: &Cmds) -> Vec<usize> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Shutdown { slot, .. } => Some(*slot),
            _ => None,
        })
        .collect()
}

fn notices(cmds: &Cmds) -> Vec<&NoticeData> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Notice(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// Answers every batch sent to `slot` until the run has nothing more for it.
fn drain(sim: &mut Sim, mut cmds: Cmds) -> Vec<(u64, Result<u64, Failure>, u32)> {
    let mut done = Vec::new();
    loop {
        done.extend(outcomes(&cmds));
        let Some((slot, ids)) = sends(&cmds).into_iter().next() else {
            return done;
        };
        let generation = sim.c.slots[slot].generation;
        let mut next = sim.results(slot, generation, &ids);
        // Other sends of the same step stay pending: answer them too.
        for (slot, ids) in sends(&cmds).into_iter().skip(1) {
            let generation = sim.c.slots[slot].generation;
            next.extend(sim.results(slot, generation, &ids));
        }
        cmds = next;
    }
}

#[test]
fn every_task_gets_one_outcome_and_workers_are_asked_to_exit() {
    let (mut sim, start) = Sim::batch(settings(2), 20);
    assert_eq!(spawns(&start), vec![(0, 1), (1, 1)]);
    let up = sim.bring_up(&start);
    let done = drain(&mut sim, up);
    let mut ids: Vec<u64> = done.iter().map(|(id, _, _)| *id).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..20).collect::<Vec<_>>());
    assert!(done.iter().all(|(id, r, a)| *r == Ok(id * 10) && *a == 1));
    assert!(!sim.c.is_done(), "workers are still to be reaped");
    assert!(
        sim.c.next_deadline().is_some(),
        "a SIGKILL deadline for the exits"
    );
    for slot in 0..2 {
        sim.exited(slot, 1, ExitKind::Exited(0), Vitals::default());
    }
    assert!(sim.c.is_done());
    let summary = sim.c.into_summary();
    assert_eq!(
        (summary.completed, summary.failed, summary.not_run),
        (20, 0, 0)
    );
    assert_eq!(summary.worker_crashes, 0);
    assert_eq!(summary.slots[0].pids, vec![110]);
}

#[test]
fn a_worker_is_sent_tasks_only_once_its_job_is_built() {
    let (mut sim, start) = Sim::batch(settings(1), 10);
    sim.on(Event::SpawnStarted {
        slot: 0,
        generation: 1,
        pid: 100,
    });
    let connected = sim.on(Event::Spawned {
        slot: 0,
        generation: 1,
        pid: 100,
    });
    assert!(sends(&connected).is_empty(), "still in its initializer");
    let ready = sim.on(Event::Ready {
        slot: 0,
        generation: 1,
    });
    assert!(!sends(&ready).is_empty());
    // A worker that dies in its initializer held nothing: nothing is charged.
    let (mut sim, start2) = Sim::batch(settings(1), 10);
    sim.on(Event::SpawnStarted {
        slot: 0,
        generation: 1,
        pid: 100,
    });
    sim.on(Event::Spawned {
        slot: 0,
        generation: 1,
        pid: 100,
    });
    let died = sim.exited(0, 1, KILL, Vitals::default());
    assert!(outcomes(&died).is_empty());
    assert_eq!(sim.c.summary().retried, 0);
    assert_eq!(spawns(&died), vec![(0, 2)]);
    let _ = (start, start2);
}

#[test]
fn a_death_mid_batch_charges_the_running_task_and_isolates_the_rest() {
    let (mut sim, start) = Sim::batch(settings(1), 40);
    let up = sim.bring_up(&start);
    let batches = sends(&up);
    let first = batches[0].1.clone();
    assert!(first.len() >= 3, "{first:?}");
    // The first task is answered, the second is running when the worker dies.
    sim.results(0, 1, &first[..1]);
    let died = sim.exited(0, 1, KILL, vitals(Some(first[1]), 1, 1));
    assert!(matches!(
        notices(&died)[0],
        NoticeData::WorkerDied { pid: 110, .. }
    ));
    assert_eq!(spawns(&died), vec![(0, 2)], "replaced at once");
    assert_eq!(sim.c.summary().retried, 1);
    let up = sim.bring_up(&died);
    // The rest of the dead worker's batch goes one task per message.
    let again = sends(&up);
    assert_eq!(again[0].1, vec![first[1]]);
    let done = drain(&mut sim, up);
    let charged = done.iter().find(|(id, _, _)| *id == first[1]).unwrap();
    assert_eq!(charged.2, 2, "the running task counts two attempts");
    for &id in &first[2..] {
        let (_, _, attempts) = done.iter().find(|(i, _, _)| *i == id).unwrap();
        assert_eq!(
            *attempts, 1,
            "task {id} was not running: no attempt charged"
        );
    }
}

#[test]
fn a_death_in_a_group_charges_only_the_task_it_named() {
    let (mut sim, start) = Sim::batch(settings(1), 40);
    let up = sim.bring_up(&start);
    let first = sends(&up)[0].1.clone();
    assert!(first.len() >= 3, "{first:?}");
    // A group of the whole batch: the job named the third task before dying.
    let died = sim.exited(0, 1, KILL, vitals(Some(first[2]), 1, 1));
    let up = sim.bring_up(&died);
    let done = drain(&mut sim, up);
    for (id, result, attempts) in done {
        assert!(result.is_ok());
        assert_eq!(attempts, if id == first[2] { 2 } else { 1 }, "task {id}");
    }
}

#[test]
fn a_task_that_always_kills_its_worker_fails_alone_after_its_retries() {
    let mut s = settings(1);
    s.retries = 1;
    let (mut sim, start) = Sim::batch(s, 3);
    let mut cmds = sim.bring_up(&start);
    let poison = 1;
    let mut failed = None;
    for _ in 0..10 {
        let Some((slot, ids)) = sends(&cmds).into_iter().next() else {
            break;
        };
        let generation = sim.c.slots[slot].generation;
        let before: Vec<u64> = ids.iter().copied().take_while(|&id| id != poison).collect();
        let mut step = sim.results(slot, generation, &before);
        if ids.contains(&poison) {
            step.extend(sim.exited(slot, generation, KILL, vitals(Some(poison), 1, 1)));
            let up = sim.bring_up(&step);
            step.extend(up);
        }
        if let Some(o) = outcomes(&step).into_iter().find(|o| o.0 == poison) {
            failed = Some(o);
        }
        cmds = step;
    }
    let (_, result, attempts) = failed.expect("the poison task ends");
    assert_eq!(attempts, 2);
    assert!(matches!(result, Err(Failure::Crashed { exit, .. }) if exit == KILL));
}

/// One worker, two tasks, a 1 s task timeout and no retries, ticked once its first task has
/// run 2 s: the sim, that task, and the tick's commands.
fn overrun(mut s: Settings) -> (Sim, u64, Cmds) {
    s.retries = 0;
    s.limits.task_timeout = Some(Duration::from_secs(1));
    let (mut sim, start) = Sim::batch(s, 2);
    let up = sim.bring_up(&start);
    let id = sends(&up)[0].1[0];
    sim.at(Duration::from_millis(1500));
    let judged = sim.tick(10_000, vec![vitals(Some(id), 8_000, 9_990)]);
    (sim, id, judged)
}

#[test]
fn a_timed_out_task_is_terminated_then_killed_and_charged() {
    let (mut sim, id, judged) = overrun(settings(1));
    assert_eq!(signals(&judged), vec![(0, WorkerSignal::Terminate)]);
    assert!(
        matches!(notices(&judged)[0], NoticeData::Misbehaved { reason, .. } if reason.contains("timed out after 1s"))
    );
    // It ignores SIGTERM: SIGKILL when the grace is over.
    let deadline = sim.c.next_deadline().unwrap();
    assert_eq!(deadline, sim.now + Duration::from_secs(2));
    sim.now = deadline;
    let killed = sim.tick(12_000, vec![vitals(Some(id), 8_000, 9_990)]);
    assert_eq!(signals(&killed), vec![(0, WorkerSignal::Kill)]);
    let died = sim.exited(0, 1, KILL, vitals(Some(id), 8_000, 9_990));
    let failed = outcomes(&died);
    assert_eq!(failed[0].0, id);
    assert_eq!(
        failed[0].1,
        Err(Failure::TimedOut {
            after: Duration::from_secs(1)
        })
    );
    let summary = sim.c.summary();
    assert_eq!((summary.timeouts, summary.worker_crashes), (1, 1));
    assert!(sim.c.restarts.is_empty(), "a timeout is not a restart");
}

#[test]
fn a_result_for_the_task_being_killed_does_not_overrule_its_timeout() {
    let mut s = settings(1);
    s.retries = 0;
    s.limits.task_timeout = Some(Duration::from_secs(1));
    let (mut sim, start) = Sim::batch(s, 1);
    let up = sim.bring_up(&start);
    assert_eq!(sends(&up)[0].1, vec![0]);
    sim.at(Duration::from_secs(2));
    sim.tick(10_000, vec![vitals(Some(0), 8_000, 9_990)]);
    // The task's command died of the same SIGTERM and the worker reported that.
    let late = sim.results(0, 1, &[0]);
    assert!(outcomes(&late).is_empty());
    let died = sim.exited(0, 1, ExitKind::Exited(0), vitals(Some(0), 8_000, 9_990));
    assert_eq!(
        outcomes(&died)[0].1,
        Err(Failure::TimedOut {
            after: Duration::from_secs(1)
        })
    );
}

#[test]
fn a_silent_heartbeat_ends_the_worker_and_charges_its_task() {
    let mut s = settings(1);
    s.limits.heartbeat_timeout = Some(Duration::from_secs(1));
    let (mut sim, start) = Sim::batch(s, 1);
    let up = sim.bring_up(&start);
    assert_eq!(sends(&up)[0].1, vec![0]);
    sim.at(Duration::from_secs(5));
    let judged = sim.tick(20_000, vec![vitals(Some(0), 10_000, 10_000)]);
    assert_eq!(signals(&judged), vec![(0, WorkerSignal::Terminate)]);
    let died = sim.exited(
        0,
        1,
        ExitKind::Signaled {
            signal: 15,
            core_dumped: false,
        },
        vitals(Some(0), 10_000, 10_000),
    );
    assert_eq!(sim.c.summary().retried, 1);
    let up = sim.bring_up(&died);
    let done = drain(&mut sim, up);
    assert_eq!(done, vec![(0, Ok(0), 2)]);
}

#[test]
fn a_spent_worker_is_recycled_without_counting_a_restart() {
    let mut s = settings(1);
    s.max_tasks_per_child = Some(2);
    s.max_restarts = 0;
    let (mut sim, start) = Sim::batch(s, 40);
    let up = sim.bring_up(&start);
    let first = sends(&up);
    assert_eq!(
        first.iter().map(|(_, ids)| ids.len()).sum::<usize>(),
        2,
        "no more than its share"
    );
    let mut step = Vec::new();
    for (slot, ids) in first {
        step.extend(sim.results(slot, 1, &ids));
    }
    assert_eq!(shutdowns(&step), vec![0]);
    let respawn = sim.exited(0, 1, ExitKind::Exited(0), Vitals::default());
    assert_eq!(spawns(&respawn), vec![(0, 2)]);
    assert_eq!(sim.c.summary().recycled, 1);
    assert!(
        sim.c.summary().gave_up.is_none(),
        "a recycle is not a restart"
    );
    let up = sim.bring_up(&respawn);
    let again = sends(&up);
    assert_eq!(again.iter().map(|(_, ids)| ids.len()).sum::<usize>(), 2);
}

#[test]
fn a_stop_while_spawning_aborts_each_handshake_then_kills() {
    let (mut sim, start) = Sim::batch(settings(3), 10);
    assert_eq!(spawns(&start).len(), 3);
    // Slot 0 has a pid; slots 1 and 2 are still queued at the spawner.
    sim.on(Event::SpawnStarted {
        slot: 0,
        generation: 1,
        pid: 500,
    });
    let stop = sim.on(Event::Stop {
        mode: StopMode::Graceful,
        reason: "test".into(),
    });
    assert!(stop.iter().any(|c| matches!(c, Command::CancelSpawns)));
    assert!(
        stop.iter()
            .any(|c| matches!(c, Command::AbortSpawn { slot: 0, .. })),
        "the handshake in progress is aborted (the worker removes its socket and exits)"
    );
    assert!(
        signals(&stop).is_empty(),
        "no SIGKILL before the worker could clean up"
    );
    assert_eq!(
        sim.c.next_deadline(),
        Some(sim.now + sim.c.settings.abort_grace())
    );
    // Slot 1 was forked before the cancel reached the spawner: aborted as soon as known.
    let late = sim.on(Event::SpawnStarted {
        slot: 1,
        generation: 1,
        pid: 501,
    });
    assert!(
        late.iter()
            .any(|c| matches!(c, Command::AbortSpawn { slot: 1, .. }))
    );
    // Slot 1's handshake even completes: it gets no work, is asked to exit, has a deadline.
    let ready = sim.on(Event::Spawned {
        slot: 1,
        generation: 1,
        pid: 501,
    });
    assert!(sends(&ready).is_empty());
    assert_eq!(shutdowns(&ready), vec![1]);
    // Slot 0 does not go away by itself: SIGKILL when the grace is over.
    sim.at(sim.c.settings.abort_grace());
    let kill = sim.tick(0, Vec::new());
    assert_eq!(
        signals(&kill),
        vec![(0, WorkerSignal::Kill), (1, WorkerSignal::Kill)]
    );
    // Slot 2 never started.
    sim.on(Event::SpawnFailed {
        slot: 2,
        generation: 1,
        pid: None,
        error: "the run ended".into(),
        exit: None,
        cancelled: true,
    });
    let failed = sim.on(Event::SpawnFailed {
        slot: 0,
        generation: 1,
        pid: Some(500),
        error: "worker 500 exited before connecting".into(),
        exit: Some(exit(KILL)),
        cancelled: false,
    });
    assert!(spawns(&failed).is_empty(), "no respawn after a stop");
    assert!(notices(&failed).is_empty(), "an expected death is not news");
    assert!(!sim.c.is_done());
    sim.exited(1, 1, KILL, Vitals::default());
    assert!(sim.c.is_done());
    let summary = sim.c.into_summary();
    assert_eq!(summary.not_run, 10);
    assert_eq!(summary.interrupted.as_deref(), Some("test"));
    assert_eq!(summary.worker_crashes, 0);
}

#[test]
fn an_immediate_stop_kills_a_starting_worker_at_once() {
    let (mut sim, _start) = Sim::batch(settings(1), 10);
    sim.on(Event::SpawnStarted {
        slot: 0,
        generation: 1,
        pid: 500,
    });
    let stop = sim.on(Event::Stop {
        mode: StopMode::Immediate,
        reason: "second ctrl-c".into(),
    });
    assert_eq!(signals(&stop), vec![(0, WorkerSignal::Kill)]);
}

#[test]
fn a_stop_while_draining_hurries_the_exit_to_the_kill_grace() {
    let (mut sim, start) = Sim::batch(settings(2), 2);
    let up = sim.bring_up(&start);
    let done = drain(&mut sim, up);
    assert_eq!(done.len(), 2);
    // Finished: both were asked to exit, with the (long) shutdown grace.
    assert_eq!(
        sim.c.next_deadline(),
        Some(sim.now + Duration::from_secs(5))
    );
    sim.at(Duration::from_millis(100));
    let stop = sim.on(Event::Stop {
        mode: StopMode::Graceful,
        reason: "test".into(),
    });
    assert_eq!(
        signals(&stop),
        vec![(0, WorkerSignal::Terminate), (1, WorkerSignal::Terminate)]
    );
    assert_eq!(
        sim.c.next_deadline(),
        Some(sim.now + Duration::from_secs(2))
    );
    sim.exited(0, 1, ExitKind::Exited(0), Vitals::default());
    sim.at(Duration::from_millis(2100));
    let kill = sim.tick(0, Vec::new());
    assert_eq!(signals(&kill), vec![(1, WorkerSignal::Kill)]);
    sim.exited(1, 1, KILL, Vitals::default());
    assert!(sim.c.is_done());
    assert_eq!(sim.c.into_summary().worker_crashes, 0, "ended on purpose");
}

#[test]
fn an_immediate_stop_kills_at_once() {
    let (mut sim, start) = Sim::batch(settings(2), 10);
    sim.bring_up(&start);
    let stop = sim.on(Event::Stop {
        mode: StopMode::Immediate,
        reason: "second ctrl-c".into(),
    });
    assert_eq!(
        signals(&stop),
        vec![(0, WorkerSignal::Kill), (1, WorkerSignal::Kill)]
    );
}

#[test]
fn results_that_arrive_while_workers_stop_are_kept() {
    let (mut sim, start) = Sim::batch(settings(1), 40);
    let up = sim.bring_up(&start);
    let first = sends(&up)[0].1.clone();
    sim.on(Event::Stop {
        mode: StopMode::Graceful,
        reason: "ctrl-c".into(),
    });
    // The worker flushes what it finished on SIGTERM: those results count.
    let late = sim.results(0, 1, &first[..2]);
    assert_eq!(outcomes(&late).len(), 2);
    sim.exited(
        0,
        1,
        ExitKind::Signaled {
            signal: 15,
            core_dumped: false,
        },
        vitals(Some(first[2]), 1, 1),
    );
    assert!(sim.c.is_done());
    let summary = sim.c.into_summary();
    assert_eq!((summary.completed, summary.not_run), (2, 38));
    assert_eq!(summary.retried, 0, "nothing is charged for a stop");
}

#[test]
fn giving_up_terminates_the_others_and_keeps_their_results() {
    let mut s = settings(2);
    s.max_restarts = 0;
    let (mut sim, start) = Sim::batch(s, 20);
    let up = sim.bring_up(&start);
    let batches = sends(&up);
    let (other_slot, other) = batches.iter().find(|(slot, _)| *slot == 1).unwrap().clone();
    let died = sim.exited(0, 1, KILL, Vitals::default());
    assert!(sim.c.summary().gave_up.is_some());
    assert!(spawns(&died).is_empty(), "no replacement after giving up");
    assert_eq!(signals(&died), vec![(1, WorkerSignal::Terminate)]);
    let late = sim.results(other_slot, 1, &other);
    assert_eq!(
        outcomes(&late).len(),
        other.len(),
        "the other worker's results count"
    );
    sim.exited(1, 1, ExitKind::Exited(0), Vitals::default());
    assert!(sim.c.is_done());
    let summary = sim.c.into_summary();
    assert_eq!(summary.completed as usize, other.len());
    assert_eq!(summary.not_run as usize, 20 - other.len());
}

#[test]
fn a_result_arriving_after_its_workers_death_is_ignored() {
    let (mut sim, start) = Sim::batch(settings(1), 4);
    let up = sim.bring_up(&start);
    let first = sends(&up)[0].1.clone();
    let died = sim.exited(0, 1, KILL, vitals(Some(first[0]), 1, 1));
    // News of the dead generation, late: nothing happens.
    let stale = sim.results(0, 1, &first[..1]);
    assert!(outcomes(&stale).is_empty());
    let up = sim.bring_up(&died);
    let done = drain(&mut sim, up);
    assert_eq!(done.len(), 4, "each task exactly once");
}

#[test]
fn an_out_of_order_answer_is_a_misbehaving_worker() {
    let (mut sim, start) = Sim::batch(settings(1), 40);
    let up = sim.bring_up(&start);
    let first = sends(&up)[0].1.clone();
    let wrong = sim.results(0, 1, &[first[1]]);
    assert_eq!(signals(&wrong), vec![(0, WorkerSignal::Kill)]);
    assert!(outcomes(&wrong).is_empty());
}

#[test]
fn a_suspended_run_stops_its_workers_and_its_clocks() {
    let mut s = settings(2);
    s.limits.task_timeout = Some(Duration::from_secs(1));
    let (mut sim, start) = Sim::batch(s, 10);
    sim.bring_up(&start);
    let stop = sim.on(Event::Suspend { now_ms: 1_000 });
    assert_eq!(
        signals(&stop),
        vec![(0, WorkerSignal::Stop), (1, WorkerSignal::Stop)]
    );
    assert_eq!(sim.c.next_deadline(), None, "no timer runs while suspended");
    sim.at(Duration::from_secs(60));
    let resume = sim.on(Event::Resume { now_ms: 61_000 });
    assert_eq!(
        signals(&resume),
        vec![(0, WorkerSignal::Continue), (1, WorkerSignal::Continue)]
    );
    // A task that started just before the pause has used 500 ms of its second, not 60.5 s.
    sim.at(Duration::from_secs(61));
    let judged = sim.tick(
        61_100,
        vec![vitals(Some(0), 500, 61_000), vitals(None, 0, 61_000)],
    );
    assert!(signals(&judged).is_empty(), "{judged:?}");
}

#[test]
fn an_open_run_ends_only_when_closed_and_drained() {
    let mut sim = Sim::new(settings(2));
    let mut start = Vec::new();
    sim.c.start(sim.now, &mut start);
    let up = sim.bring_up(&start);
    assert!(sends(&up).is_empty(), "workers wait for work");
    let submitted = sim.on(Event::Submitted {
        first: 0,
        costs: vec![1, 1],
    });
    let done = drain(&mut sim, submitted);
    assert_eq!(done.len(), 2);
    assert!(
        !sim.c.is_done() && sim.c.next_deadline().is_none(),
        "idle, not ending"
    );
    let more = sim.on(Event::Submitted {
        first: 2,
        costs: vec![1],
    });
    assert_eq!(drain(&mut sim, more).len(), 1);
    let close = sim.on(Event::Closed);
    assert_eq!(shutdowns(&close), vec![0, 1]);
    sim.exited(0, 1, ExitKind::Exited(0), Vitals::default());
    sim.exited(1, 1, ExitKind::Exited(0), Vitals::default());
    assert!(sim.c.is_done());
}

#[test]
fn a_short_call_is_served_while_a_long_one_runs() {
    let mut sim = Sim::new(settings(1));
    let mut start = Vec::new();
    sim.c.start(sim.now, &mut start);
    sim.bring_up(&start);
    let long = sim.on(Event::Submitted {
        first: 0,
        costs: vec![1; 100],
    });
    let short = sim.on(Event::Submitted {
        first: 100,
        costs: vec![1],
    });
    assert!(sends(&short).is_empty(), "the window is full");
    // Calls take turns: the short one is sent within the long one's next turn.
    let first = sends(&long);
    assert_eq!(first.len(), 2, "the window holds two batches");
    let mut sent = Vec::new();
    for (_, ids) in first {
        let next = sim.results(0, 1, &ids);
        sent.extend(sends(&next).into_iter().map(|(_, ids)| ids));
    }
    assert!(
        sent.iter().any(|ids| ids == &vec![100]),
        "the short call did not get a turn: {sent:?}"
    );
}

#[test]
fn the_task_table_keeps_only_what_is_in_progress() {
    let (mut sim, start) = Sim::batch(settings(1), 1000);
    let up = sim.bring_up(&start);
    drain(&mut sim, up);
    assert_eq!(sim.c.tasks.held(), 0);
}

#[test]
fn restart_intensity_counts_only_unexpected_deaths_in_the_window() {
    let mut s = settings(1);
    s.max_restarts = 1;
    s.restart_window = Duration::from_secs(10);
    let (mut sim, start) = Sim::batch(s, 10);
    let up = sim.bring_up(&start);
    let first = sends(&up)[0].1.clone();
    let died = sim.exited(0, 1, KILL, vitals(Some(first[0]), 1, 1));
    assert!(
        sim.c.summary().gave_up.is_none(),
        "one death is within the limit"
    );
    sim.bring_up(&died);
    sim.at(Duration::from_secs(11));
    sim.exited(0, 2, KILL, Vitals::default());
    assert!(
        sim.c.summary().gave_up.is_none(),
        "the first death left the window"
    );
    let again = sim.on(Event::SpawnFailed {
        slot: 0,
        generation: 3,
        pid: None,
        error: "cannot start".into(),
        exit: None,
        cancelled: false,
    });
    assert!(sim.c.summary().gave_up.is_some(), "{again:?}");
}

#[path = "trace_tests.rs"]
mod trace_tests;
