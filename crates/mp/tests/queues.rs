//! Queue, SimpleQueue and JoinableQueue across real worker processes, killed at random points
//! of their operations, many times; and the queue's recovery when a process dies holding its
//! lock. This binary is also the worker executable: `main` calls `supervisor_mp::init()` first.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};
use supervisor_mp::{BrokerError, JoinableQueue, Process, Queue, SimpleQueue, task};

const WAIT: Duration = Duration::from_secs(30);
/// The end-of-work marker the parent puts for consumers.
const STOP: u64 = u64::MAX;

/// Producer `p`'s i-th item.
fn item(p: u64, i: u64) -> u64 {
    (p << 32) | i
}

task!(
    /// Puts producer `p`'s items 0..n (n = u64::MAX: until killed).
    fn produce(args: (Queue<u64>, u64, u64)) -> u64 {
        let (queue, p, n) = args;
        for i in 0..n {
            queue.put(item(p, i)).expect("put");
        }
        n
    }
);

task!(
    /// Gets items until STOP, forwarding each as (consumer, item) to `out`.
    fn consume(args: (Queue<u64>, Queue<(u64, u64)>, u64)) -> () {
        let (queue, out, c) = args;
        loop {
            let x = queue.get().expect("get");
            if x == STOP {
                return;
            }
            out.put((c, x)).expect("forward");
        }
    }
);

task!(
    /// Creates a queue, reports where it lives, and hangs holding it (to be killed).
    fn create_and_hang(report: Queue<String>) -> () {
        let mine = Queue::<u64>::new().expect("create");
        mine.put(1).expect("put");
        let dir = mine
            .path()
            .parent()
            .expect("dir")
            .to_string_lossy()
            .into_owned();
        report.put(dir).expect("report");
        loop {
            std::thread::park();
        }
    }
);

task!(
    /// Says it is about to wait, then waits for an item; returns how the wait ended.
    fn wait_for_item(args: (Queue<u64>, Queue<u64>)) -> String {
        let (ready, queue) = args;
        ready.put(1).expect("ready");
        match queue.get() {
            Ok(x) => format!("got {x}"),
            Err(e) => format!("{e:?}"),
        }
    }
);

task!(
    fn crash_in_put(args: (Queue<u64>, u64, bool)) -> () {
        let (queue, x, mid_commit) = args;
        queue.__crash_in_put(&x, mid_commit)
    }
);

task!(
    /// Gets `n` items, marking each done; returns them.
    fn work_joinable(args: (JoinableQueue<u64>, u64)) -> Vec<u64> {
        let (queue, n) = args;
        let mut got = Vec::new();
        for _ in 0..n {
            got.push(queue.get().expect("get"));
            queue.task_done().expect("task_done");
        }
        got
    }
);

task!(
    /// Gets one item, says so on `ready`, and never marks it done.
    fn hold_joinable(args: (JoinableQueue<u64>, Queue<u64>)) -> () {
        let (queue, ready) = args;
        let x = queue.get().expect("get");
        ready.put(x).expect("ready");
        loop {
            std::thread::park();
        }
    }
);

task!(
    fn simple_echo(args: (SimpleQueue<String>, SimpleQueue<String>)) -> () {
        let (inbox, outbox) = args;
        loop {
            let s = inbox.get().expect("get");
            if s.is_empty() {
                return;
            }
            outbox.put(s.to_uppercase()).expect("put");
        }
    }
);

mod common;

fn main() -> std::process::ExitCode {
    supervisor_mp::init();
    let tests: &[(&str, fn())] = &[
        (
            "producers_and_consumers_killed_at_random_points",
            producers_and_consumers_killed_at_random_points,
        ),
        (
            "killed_holding_the_lock_before_commit",
            killed_holding_the_lock_before_commit,
        ),
        (
            "killed_holding_the_lock_mid_commit",
            killed_holding_the_lock_mid_commit,
        ),
        (
            "nowait_full_close_like_python",
            nowait_full_close_like_python,
        ),
        ("big_items_and_a_full_ring", big_items_and_a_full_ring),
        ("joinable_task_done_and_join", joinable_task_done_and_join),
        (
            "joinable_consumer_killed_holding_an_item",
            joinable_consumer_killed_holding_an_item,
        ),
        (
            "simple_queue_across_processes",
            simple_queue_across_processes,
        ),
        ("same_transcript_as_cpython", same_transcript_as_cpython),
        ("handles_are_send_and_sync", handles_are_send_and_sync),
        (
            "blocked_get_fails_when_the_creator_drops_the_queue",
            blocked_get_fails_when_the_creator_drops_the_queue,
        ),
        (
            "killed_creator_is_swept_by_the_next_queue",
            killed_creator_is_swept_by_the_next_queue,
        ),
    ];
    common::run_tests(tests)
}

/// A small PRNG (xorshift64*), seeded from the OS; the seed is printed for reruns.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("QUEUE_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let mut b = [0u8; 8];
                getrandom::fill(&mut b).unwrap();
                u64::from_le_bytes(b) | 1
            });
        eprintln!("QUEUE_TEST_SEED={seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn join<R: serde::de::DeserializeOwned>(p: &Process<R>) -> Result<R, supervisor_mp::ProcessError> {
    p.join_timeout(WAIT).expect("process did not end in time")
}

/// Kills `p`, waits for it to be reaped, and checks its pid is gone.
fn kill_and_reap<R: serde::de::DeserializeOwned>(p: &Process<R>) {
    let pid = p.pid().expect("started");
    p.kill();
    let ended = join(p);
    assert!(ended.is_err(), "pid {pid} was killed but returned a result");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} still exists after kill and join"
    );
}

/// Queue directories of this process left in /dev/shm or the temporary directory.
fn leftovers() -> Vec<String> {
    let prefix = format!("supervisor-mp-queue-{}-", std::process::id());
    [Path::new("/dev/shm").to_path_buf(), std::env::temp_dir()]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

fn assert_no_leftovers() {
    let left = leftovers();
    assert!(left.is_empty(), "queue files left behind: {left:?}");
}

/// Each round: two producers and two consumers on one queue (bounded or not, with small or
/// large items). At random moments one producer and one consumer are SIGKILLed (in either
/// order), in the middle of whatever they are doing: putting, getting, blocked on a full or
/// empty queue, or holding the queue's lock. Then the survivors finish, and every item that
/// arrived is checked: none corrupted, none twice, each producer's items in order, and no
/// more missing than the consumer kill can account for (its one item in hand).
fn producers_and_consumers_killed_at_random_points() {
    let mut rng = Rng::new();
    let rounds = 40;
    for round in 0..rounds {
        let bounded = round % 2 == 0;
        let queue = if bounded {
            Queue::<u64>::bounded(1 + rng.below(16) as usize).unwrap()
        } else {
            Queue::<u64>::new().unwrap()
        };
        let out = Queue::<(u64, u64)>::new().unwrap();
        let finite = 3000;
        let steady = Process::spawn(produce, (queue.clone(), 0, finite)).unwrap();
        let doomed = Process::spawn(produce, (queue.clone(), 1, u64::MAX)).unwrap();
        let survivor = Process::spawn(consume, (queue.clone(), out.clone(), 0)).unwrap();
        let victim = Process::spawn(consume, (queue.clone(), out.clone(), 1)).unwrap();
        // Random kill points: after some items flowed, a random spin of 0..20 ms apart.
        let flowed = Instant::now() + WAIT;
        let first = rng.below(200) as usize;
        while out.len().unwrap() < first {
            assert!(Instant::now() < flowed, "round {round}: nothing flows");
            std::hint::spin_loop();
        }
        let spin = |us: u64| {
            let until = Instant::now() + Duration::from_micros(us);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
        };
        if rng.below(2) == 0 {
            spin(rng.below(20_000));
            kill_and_reap(&doomed);
            spin(rng.below(20_000));
            kill_and_reap(&victim);
        } else {
            spin(rng.below(20_000));
            kill_and_reap(&victim);
            spin(rng.below(20_000));
            kill_and_reap(&doomed);
        }
        assert_eq!(join(&steady).unwrap(), finite, "round {round}");
        queue.put_timeout(STOP, WAIT).unwrap();
        join(&survivor).unwrap();
        assert_eq!(
            queue.try_get().unwrap(),
            None,
            "round {round}: left in queue"
        );

        let mut seen: HashMap<u64, Vec<u64>> = HashMap::new();
        let mut last: HashMap<(u64, u64), u64> = HashMap::new();
        while let Some((c, x)) = out.try_get().unwrap() {
            let (p, i) = (x >> 32, x & 0xffff_ffff);
            assert!(
                p <= 1 && c <= 1,
                "round {round}: corrupted item {x:#x} from {c}"
            );
            if let Some(&prev) = last.get(&(c, p)) {
                assert!(
                    i > prev,
                    "round {round}: producer {p}'s {i} after {prev} at {c}"
                );
            }
            last.insert((c, p), i);
            seen.entry(p).or_default().push(i);
        }
        let mut missing = 0;
        for (p, items) in &mut seen {
            items.sort_unstable();
            let before = items.len();
            items.dedup();
            assert_eq!(
                before,
                items.len(),
                "round {round}: producer {p}: duplicates"
            );
            let top = if *p == 0 {
                finite - 1
            } else {
                items[items.len() - 1]
            };
            missing += top + 1 - items.len() as u64;
        }
        assert!(
            seen.contains_key(&0),
            "round {round}: no item of the steady producer"
        );
        // The killed consumer may take one item with it; the killed producer loses only the
        // item it was putting, which never entered the queue (so it is no gap).
        assert!(missing <= 1, "round {round}: {missing} items missing");

        // Still a working queue.
        queue.put(7).unwrap();
        assert_eq!(queue.get_timeout(WAIT), Ok(7));
        drop((queue, out));
        assert_no_leftovers();
    }
}

fn killed_holding_the_lock_before_commit() {
    let queue = Queue::<u64>::new().unwrap();
    queue.put(1).unwrap();
    let dying = Process::spawn(crash_in_put, (queue.clone(), 99, false)).unwrap();
    let ended = join(&dying).unwrap_err();
    assert!(ended.to_string().contains("SIGABRT"), "{ended}");
    // The lock is recovered; the uncommitted put never happened.
    queue.put(2).unwrap();
    assert_eq!(queue.len(), Ok(2));
    assert_eq!(queue.get_timeout(WAIT), Ok(1));
    assert_eq!(queue.get_timeout(WAIT), Ok(2));
    assert_eq!(queue.try_get(), Ok(None));
    drop(queue);
    assert_no_leftovers();
}

fn killed_holding_the_lock_mid_commit() {
    let queue = Queue::<u64>::new().unwrap();
    queue.put(1).unwrap();
    let dying = Process::spawn(crash_in_put, (queue.clone(), 99, true)).unwrap();
    let ended = join(&dying).unwrap_err();
    assert!(ended.to_string().contains("SIGABRT"), "{ended}");
    // The next locker finds the half-applied commit and completes it.
    assert_eq!(queue.len(), Ok(2));
    queue.put(2).unwrap();
    let got: Vec<u64> = (0..3).map(|_| queue.get_timeout(WAIT).unwrap()).collect();
    assert_eq!(got, [1, 99, 2]);
    drop(queue);
    assert_no_leftovers();
}

/// What Python 3.11's `Queue(2)` does: put, put, full, put_nowait fails (Full), qsize,
/// get_nowait, empty, timeouts, and a closed handle.
fn nowait_full_close_like_python() {
    let queue = Queue::<String>::bounded(2).unwrap();
    assert_eq!(queue.maxsize(), Ok(Some(2)));
    assert_eq!(queue.is_empty(), Ok(true));
    queue.put("a".to_string()).unwrap();
    let b = "b".to_string();
    queue.put(&b).unwrap(); // borrowed, and still ours

    assert_eq!(queue.is_full(), Ok(true));
    assert_eq!(queue.len(), Ok(2));
    assert_eq!(queue.put_nowait("c".to_string()), Err(BrokerError::Timeout));
    assert_eq!(
        queue.put_timeout("c".to_string(), Duration::from_millis(20)),
        Err(BrokerError::Timeout)
    );
    assert_eq!(queue.get_nowait().as_deref(), Ok("a"));
    assert_eq!(queue.is_full(), Ok(false));
    assert_eq!(queue.get_timeout(WAIT), Ok(b));
    assert_eq!(queue.get_nowait(), Err(BrokerError::Timeout));
    assert_eq!(queue.try_get(), Ok(None));
    assert_eq!(
        queue.get_timeout(Duration::from_millis(20)),
        Err(BrokerError::Timeout)
    );
    let unbounded = Queue::<u8>::new().unwrap();
    assert_eq!(unbounded.maxsize(), Ok(None));
    assert_eq!(unbounded.is_full(), Ok(false));
    // close() ends this handle only.
    let other = queue.clone();
    queue.close();
    assert!(matches!(
        queue.put("x".to_string()),
        Err(BrokerError::Disconnected(_))
    ));
    other.put("y".to_string()).unwrap();
    assert_eq!(other.get_timeout(WAIT).as_deref(), Ok("y"));
    drop((queue, other, unbounded));
    assert_no_leftovers();
}

fn big_items_and_a_full_ring() {
    let queue = Queue::<Vec<u8>>::new().unwrap();
    let dir = queue.path().parent().unwrap().to_path_buf();
    // Larger than the ring's inline limit (8 MiB): goes through a spill file.
    let big: Vec<u8> = (0..9_000_000u32).map(|i| (i % 251) as u8).collect();
    queue.put(&big).unwrap();
    // Several times what a 1 MiB ring holds, from a child: its puts wait for room while the
    // ring is full and go on as this process gets (granules released and allocated again).
    let small = Queue::<u64>::with_ring_bytes(1 << 20).unwrap();
    let small_dir = small.path().parent().unwrap().to_path_buf();
    let n = 300_000;
    let child = Process::spawn(produce, (small.clone(), 3, n)).unwrap();
    for i in 0..n {
        assert_eq!(small.get_timeout(WAIT), Ok(item(3, i)));
    }
    assert_eq!(join(&child).unwrap(), n);
    // A million items put before any get, by one process (Python's unbounded put never
    // waits): ~17 MB in flight, far below the default ring.
    let many = Queue::<u64>::new().unwrap();
    for i in 0..1_000_000 {
        many.put_nowait(i).unwrap();
    }
    assert_eq!(many.len(), Ok(1_000_000));
    for i in 0..1_000_000 {
        assert_eq!(many.get_nowait(), Ok(i));
    }
    drop(many);
    assert_eq!(queue.get_timeout(WAIT).unwrap(), big);
    let spills = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name() != "ring")
        .count();
    assert_eq!(spills, 0, "spill files left after their items were got");
    assert_eq!(std::fs::read_dir(&small_dir).unwrap().count(), 1);
    drop((queue, small));
    assert_no_leftovers();
}

fn joinable_task_done_and_join() {
    let queue = JoinableQueue::<u64>::new().unwrap();
    for i in 0..100 {
        queue.put(i).unwrap();
    }
    assert_eq!(queue.unfinished(), Ok(100));
    assert_eq!(
        queue.join_timeout(Duration::from_millis(20)),
        Err(BrokerError::Timeout)
    );
    let a = Process::spawn(work_joinable, (queue.clone(), 50)).unwrap();
    let b = Process::spawn(work_joinable, (queue.clone(), 50)).unwrap();
    queue.join_timeout(WAIT).unwrap();
    let mut got = join(&a).unwrap();
    got.extend(join(&b).unwrap());
    got.sort_unstable();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    assert_eq!(queue.unfinished(), Ok(0));
    assert_eq!(queue.abandoned(), Ok(0));
    // Python: ValueError('task_done() called too many times').
    assert!(matches!(queue.task_done(), Err(BrokerError::Refused(_))));
    drop(queue);
    assert_no_leftovers();
}

fn joinable_consumer_killed_holding_an_item() {
    let queue = JoinableQueue::<u64>::new().unwrap();
    let ready = Queue::<u64>::new().unwrap();
    queue.put(1).unwrap();
    queue.put(2).unwrap();
    let holder = Process::spawn(hold_joinable, (queue.clone(), ready.clone())).unwrap();
    assert_eq!(ready.get_timeout(WAIT), Ok(1));
    assert_eq!(queue.unfinished(), Ok(2));
    kill_and_reap(&holder);
    // Python's join would wait forever for item 1; here it counts as abandoned.
    let worker = Process::spawn(work_joinable, (queue.clone(), 1)).unwrap();
    queue.join_timeout(WAIT).unwrap();
    assert_eq!(join(&worker).unwrap(), [2]);
    assert_eq!(queue.abandoned(), Ok(1));
    assert_eq!(queue.unfinished(), Ok(0));
    drop((queue, ready));
    assert_no_leftovers();
}

fn simple_queue_across_processes() {
    let inbox = SimpleQueue::<String>::new().unwrap();
    let outbox = SimpleQueue::<String>::new().unwrap();
    assert_eq!(inbox.is_empty(), Ok(true));
    let echo = Process::spawn(simple_echo, (inbox.clone(), outbox.clone())).unwrap();
    for word in ["alpha", "beta", "gamma"] {
        inbox.put(word.to_string()).unwrap();
    }
    inbox.put(String::new()).unwrap();
    join(&echo).unwrap();
    let got: Vec<String> = (0..3).map(|_| outbox.get().unwrap()).collect();
    assert_eq!(got, ["ALPHA", "BETA", "GAMMA"]);
    assert_eq!(outbox.is_empty(), Ok(true));
    drop((inbox, outbox));
    assert_no_leftovers();
}

/// The same steps on CPython 3's `multiprocessing.Queue(2)` and `JoinableQueue()`, as a
/// transcript: `Full`/`Empty` are our `Timeout`, `ValueError` (task_done too often) our
/// `Refused`, "closed" (Python's `ValueError: Queue is closed`) our `Disconnected`.
const PYTHON_TRANSCRIPT: &str = r#"
import multiprocessing as mp, queue
out = []
def step(name, f):
    try:
        r = f()
        out.append(f"{name}: {r}")
    except queue.Full:
        out.append(f"{name}: Full")
    except queue.Empty:
        out.append(f"{name}: Empty")
    except ValueError as e:
        # A closed queue raises ValueError("Queue ... is closed"): ours is Disconnected.
        out.append(f"{name}: " + ("closed" if "closed" in str(e) else "ValueError"))
    except OSError:
        out.append(f"{name}: closed")
if __name__ == "__main__":
    q = mp.Queue(2)
    step("empty", q.empty)
    step("put a", lambda: q.put("a"))
    step("put b", lambda: q.put("b"))
    step("full", q.full)
    step("qsize", q.qsize)
    step("put_nowait c", lambda: q.put_nowait("c"))
    step("put c timeout", lambda: q.put("c", timeout=0.02))
    step("get", lambda: q.get(timeout=10))
    step("full", q.full)
    step("get", lambda: q.get(timeout=10))
    step("get_nowait", q.get_nowait)
    step("get timeout", lambda: q.get(timeout=0.02))
    step("empty", q.empty)
    j = mp.JoinableQueue()
    step("put 1", lambda: j.put(1))
    step("put 2", lambda: j.put(2))
    step("get", lambda: j.get(timeout=10))
    step("task_done", j.task_done)
    step("get", lambda: j.get(timeout=10))
    step("task_done", j.task_done)
    step("join", j.join)
    step("task_done", j.task_done)
    q.close()
    step("put after close", lambda: q.put("x"))
    print("\n".join(out))
"#;

fn same_transcript_as_cpython() {
    let python = std::process::Command::new("python3")
        .args(["-c", PYTHON_TRANSCRIPT])
        .output()
        .expect("python3 (CPython 3.11) is needed for this side-by-side test");
    assert!(python.status.success(), "{python:?}");
    let expected = String::from_utf8(python.stdout).unwrap();

    let mut out: Vec<String> = Vec::new();
    let mut step = |name: &str, r: Result<String, BrokerError>, timeout_is: &str| {
        let shown = match r {
            Ok(v) => v,
            Err(BrokerError::Timeout) => timeout_is.to_string(),
            Err(BrokerError::Refused(_)) => "ValueError".to_string(),
            Err(BrokerError::Disconnected(_)) => "closed".to_string(),
            Err(e) => format!("unexpected {e}"),
        };
        out.push(format!("{name}: {shown}"));
    };
    let py = |b: bool| if b { "True" } else { "False" }.to_string();
    let none = |_: ()| "None".to_string();
    let q = Queue::<String>::bounded(2).unwrap();
    step("empty", q.is_empty().map(py), "");
    step("put a", q.put("a".to_string()).map(none), "Full");
    step("put b", q.put("b".to_string()).map(none), "Full");
    step("full", q.is_full().map(py), "");
    step("qsize", q.len().map(|n| n.to_string()), "");
    step(
        "put_nowait c",
        q.put_nowait("c".to_string()).map(none),
        "Full",
    );
    step(
        "put c timeout",
        q.put_timeout("c".to_string(), Duration::from_millis(20))
            .map(none),
        "Full",
    );
    step("get", q.get_timeout(WAIT), "Empty");
    step("full", q.is_full().map(py), "");
    step("get", q.get_timeout(WAIT), "Empty");
    step("get_nowait", q.get_nowait(), "Empty");
    step(
        "get timeout",
        q.get_timeout(Duration::from_millis(20)),
        "Empty",
    );
    step("empty", q.is_empty().map(py), "");
    let j = JoinableQueue::<u64>::new().unwrap();
    step("put 1", j.put(1).map(none), "Full");
    step("put 2", j.put(2).map(none), "Full");
    step("get", j.get_timeout(WAIT).map(|n| n.to_string()), "Empty");
    step("task_done", j.task_done().map(none), "");
    step("get", j.get_timeout(WAIT).map(|n| n.to_string()), "Empty");
    step("task_done", j.task_done().map(none), "");
    step("join", j.join_timeout(WAIT).map(none), "timeout");
    step("task_done", j.task_done().map(none), "");
    q.close();
    step("put after close", q.put("x".to_string()).map(none), "Full");
    let ours = out.join("\n") + "\n";
    assert_eq!(ours, expected, "supervisor-mp vs CPython");
    drop((q, j));
    assert_no_leftovers();
}

fn killed_creator_is_swept_by_the_next_queue() {
    let report = Queue::<String>::new().unwrap();
    let creator = Process::spawn(create_and_hang, report.clone()).unwrap();
    let dir = std::path::PathBuf::from(report.get_timeout(WAIT).unwrap());
    assert!(dir.is_dir());
    kill_and_reap(&creator);
    // Its directory outlived it (nothing ran at its death)...
    assert!(dir.is_dir(), "{} vanished by itself", dir.display());
    // ...until a queue is created.
    let next = Queue::<u64>::new().unwrap();
    assert!(!dir.exists(), "{} not swept", dir.display());
    drop((report, next));
    assert_no_leftovers();
}

/// Handles move to and are shared by threads, as before (a compile-time check, run as a test
/// so that it is listed with the others; the thread makes it do something real).
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Queue<u64>>();
    send_sync::<SimpleQueue<u64>>();
    send_sync::<JoinableQueue<u64>>();
    send_sync::<supervisor_mp::Sender<u64>>();
    send_sync::<supervisor_mp::Receiver<u64>>();
    send_sync::<supervisor_mp::Duplex<u64>>();
    send_sync::<supervisor_mp::Manager>();
    send_sync::<supervisor_mp::DictProxy<String, u64>>();
    send_sync::<supervisor_mp::ListProxy<u64>>();
    send_sync::<supervisor_mp::NamespaceProxy>();
    send_sync::<supervisor_mp::ValueProxy<u64>>();
    let queue = Queue::<u64>::new().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| queue.put(5).unwrap());
    });
    assert_eq!(queue.get_timeout(WAIT), Ok(5));
    drop(queue);
    assert_no_leftovers();
}

fn blocked_get_fails_when_the_creator_drops_the_queue() {
    let ready = Queue::<u64>::new().unwrap();
    let queue = Queue::<u64>::new().unwrap();
    let waiter = Process::spawn(wait_for_item, (ready.clone(), queue.clone())).unwrap();
    assert_eq!(ready.get_timeout(WAIT), Ok(1));
    // It is in get() (or about to be): dropping the queue wakes it with an error.
    drop(queue);
    let ended = join(&waiter).unwrap();
    assert!(ended.starts_with("Disconnected"), "{ended}");
    drop(ready);
    assert_no_leftovers();
}
