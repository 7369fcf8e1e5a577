//! A `Pool` that keeps its workers, as Python's does: the initializer runs once per worker
//! process, calls share the same workers, and `close()` + `join()` end it.
//!
//! `cargo run -p supervisor-mp --example persistent_pool`
//!
//! The Python it mirrors:
//!
//! ```python
//! def init(name):
//!     global CONNECTION
//!     CONNECTION = f"{name} of {os.getpid()}"
//!     print(f"initializer ran in worker {os.getpid()}")
//!
//! with Pool(2, initializer=init, initargs=("connection",)) as pool:
//!     for call in range(3):
//!         pool.map(square, range(8))
//!     pool.starmap(add, [(1, 2), (3, 4)])
//!     list(pool.imap(slow_echo, [300, 200, 100, 0]))
//!     pool.apply_async(square, (7,), callback=print)
//!     pool.map_async(slow_echo, [1000]).get(timeout=0.1)   # TimeoutError
//!     pool.close(); pool.join()
//! ```

use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;
use supervisor_mp::{Pool, task};

/// Per-process state the initializer sets up once (a connection, a cache, ...).
static CONNECTION: OnceLock<String> = OnceLock::new();

task!(
    fn init(name: String) {
        let pid = std::process::id();
        CONNECTION
            .set(format!("{name} of {pid}"))
            .expect("the initializer runs once per worker");
        println!("initializer ran in worker {pid}");
    }
);

task!(
    /// x², and whether the initializer's state is there.
    fn square(x: u64) -> (u64, bool) {
        (x * x, CONNECTION.get().is_some())
    }
);

task!(
    fn add(a: u64, b: u64) -> u64 {
        a + b
    }
);

task!(
    fn slow_echo(ms: u64) -> u64 {
        std::thread::sleep(Duration::from_millis(ms));
        ms
    }
);

fn main() {
    supervisor_mp::init();
    let pool = Pool::builder()
        .processes(2)
        .initializer(init, "connection".to_string())
        .build()
        .expect("pool");

    let mut pids = Vec::new();
    for call in 1..=3 {
        let results = pool.map(square, 0..8u64).expect("map");
        let squares: Vec<u64> = results.iter().map(|r| r.as_ref().unwrap().0).collect();
        let initialized = results.iter().all(|r| r.as_ref().unwrap().1);
        println!("map {call}: {squares:?}, initialized: {initialized}");
        pids.push(pool.worker_pids());
    }
    println!("workers: {}", pids[0].len());
    println!("worker pids stable: {}", pids.iter().all(|p| *p == pids[0]));

    let sums = pool.starmap(add, [(1, 2), (3, 4)]).expect("starmap");
    let sums: Vec<u64> = sums.into_iter().map(Result::unwrap).collect();
    println!("starmap(add, [(1, 2), (3, 4)]) = {sums:?}");

    let echoed: Vec<u64> = pool
        .imap(slow_echo, [300u64, 200, 100, 0])
        .expect("imap")
        .map(Result::unwrap)
        .collect();
    println!("imap in input order: {echoed:?}");

    let (tx, rx) = mpsc::channel();
    let errors = tx.clone();
    pool.apply_async_with(
        square,
        7,
        move |(v, _)| tx.send(format!("callback: {v}")).unwrap(),
        move |e| errors.send(format!("error callback: {e}")).unwrap(),
    )
    .expect("apply_async");
    println!("{}", rx.recv().expect("a callback ran"));

    let pending = pool.map_async(slow_echo, [1000u64]).expect("map_async");
    let timed_out = pending.get_timeout(Duration::from_millis(100)).is_none();
    println!("map_async(..).get(timeout=0.1) timed out: {timed_out}");

    pool.close();
    println!("after close: {}", pool.map(square, [1u64]).unwrap_err());
    pool.join();
    println!("joined: the pending call ended: {}", pending.ready());
    println!("workers left: {}", pool.worker_pids().len());
}
