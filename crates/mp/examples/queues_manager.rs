//! Python's `JoinableQueue` work queue, a `SimpleQueue` of results, and a `Manager`'s dict,
//! namespace and value, across worker processes:
//!
//! ```text
//! cargo run -p supervisor-mp --example queues_manager
//! ```
//!
//! The parent starts two worker processes and puts ten jobs on a `JoinableQueue`; the workers
//! get them, square each, send the result on a `SimpleQueue`, record it in a Manager dict,
//! count it in a Manager value and mark the job done; the parent's `join()` returns when all ten are done. Then a
//! worker is killed while it holds a job it got: `join()` still returns, counting that job as
//! abandoned (Python's `join` would wait forever). Only the parent prints.

use std::time::Duration;
use supervisor_mp::{
    DictProxy, JoinableQueue, Manager, NamespaceProxy, Process, SimpleQueue, ValueProxy, task,
};

/// The end-of-work marker.
const STOP: u64 = u64::MAX;

/// What a worker gets: the jobs, the results, and the Manager's dict, value and namespace.
type WorkerArgs = (
    JoinableQueue<u64>,
    SimpleQueue<(u64, u64, u32)>,
    DictProxy<u64, u64>,
    ValueProxy<u64>,
    NamespaceProxy,
);

task!(
    /// Squares jobs until STOP: sends each result, records it in the dict, counts it.
    fn worker(args: WorkerArgs) -> () {
        let (jobs, results, squares, count, ns) = args;
        loop {
            let x = jobs.get().expect("get");
            if x == STOP {
                jobs.task_done().expect("task_done");
                return;
            }
            results.put((x, x * x, std::process::id())).expect("send");
            squares.insert(x, x * x).expect("record");
            // `v.value += 1` is a get then a set (in Python too): only the worker that the
            // namespace names counts, so there is one writer.
            if ns.get::<u32>("counter_pid").expect("ns") == Some(std::process::id()) {
                count.set(count.get().expect("count") + 1).expect("count");
            }
            jobs.task_done().expect("task_done");
        }
    }
);

task!(
    /// Gets one job and hangs without marking it done (to be killed).
    fn hold_one(jobs: JoinableQueue<u64>) -> () {
        let _job = jobs.get().expect("get");
        loop {
            std::thread::park();
        }
    }
);

fn main() {
    supervisor_mp::init();
    let jobs = JoinableQueue::<u64>::new().expect("queue");
    let results = SimpleQueue::<(u64, u64, u32)>::new().expect("queue");
    let manager = Manager::start().expect("manager");
    let squares = manager.dict::<u64, u64>();
    let count = manager.value(0u64).expect("value");
    let ns = manager.namespace();

    let args = (
        jobs.clone(),
        results.clone(),
        squares.clone(),
        count.clone(),
        ns.clone(),
    );
    let a = Process::spawn(worker, args.clone()).expect("spawn");
    ns.set("counter_pid", a.pid().expect("pid")).expect("ns");
    let b = Process::spawn(worker, args).expect("spawn");
    // The workers wait in get(); the jobs go on the queue once the namespace is set.
    for x in 1..=10 {
        jobs.put(x).expect("put");
    }
    jobs.join().expect("join");
    println!(
        "all jobs done: unfinished {}",
        jobs.unfinished().expect("unfinished")
    );

    let mut got: Vec<(u64, u64, u32)> = (0..10).map(|_| results.get().expect("result")).collect();
    got.sort_unstable();
    for (x, sq, _) in &got {
        println!("result: {x}^2 = {sq}");
    }
    let snapshot = squares.snapshot().expect("snapshot");
    println!("dict entries: {}", snapshot.len());
    println!(
        "dict matches results: {}",
        got.iter().all(|(x, sq, _)| snapshot.get(x) == Some(sq))
    );
    let by_a = got.iter().filter(|r| Some(r.2) == a.pid()).count() as u64;
    println!(
        "value == jobs done by the worker it counts: {}",
        count.get().expect("count") == by_a
    );

    jobs.put(STOP).expect("stop");
    jobs.put(STOP).expect("stop");
    a.join().expect("worker a");
    b.join().expect("worker b");

    // A consumer killed holding a job: join() returns, the job is counted abandoned.
    jobs.put(99).expect("put");
    let holder = Process::spawn(hold_one, jobs.clone()).expect("spawn");
    while !jobs.is_empty().expect("empty") {
        std::thread::sleep(Duration::from_millis(5));
    }
    holder.kill();
    println!("holder: {}", holder.join().expect_err("killed"));
    jobs.join().expect("join");
    println!("abandoned jobs: {}", jobs.abandoned().expect("abandoned"));
    println!("queue still empty: {}", results.is_empty().expect("empty"));
}
