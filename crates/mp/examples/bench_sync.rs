//! The primitives' speed, the same program as `scripts/mp_bench_sync.py` (CPython's
//! `multiprocessing`): in one child process, N uncontended acquire/release pairs of a `Lock`,
//! an `RLock`, a `Semaphore`, and N `+= 1` under a `Value`'s lock; each timed inside the child.
//!
//! ```text
//! cargo run --release -p supervisor-mp --example bench_sync -- [N]   (default 1,000,000)
//! ```
//!
//! Prints one line per primitive: `NAME: N ops in S s: R ops/s`.

use std::time::Instant;
use supervisor_mp::{Lock, Process, RLock, Semaphore, Value, task};

task!(
    fn run_all(p: (Lock, RLock, Semaphore, Value<i64>, u64)) -> Vec<(String, f64)> {
        let (lock, rlock, sem, value, n) = p;
        let mut times = Vec::new();
        let start = Instant::now();
        for _ in 0..n {
            drop(lock.acquire().expect("lock"));
        }
        times.push(("lock".to_string(), start.elapsed().as_secs_f64()));
        let start = Instant::now();
        for _ in 0..n {
            drop(rlock.acquire().expect("rlock"));
        }
        times.push(("rlock".to_string(), start.elapsed().as_secs_f64()));
        let start = Instant::now();
        for _ in 0..n {
            drop(sem.acquire().expect("semaphore"));
        }
        times.push(("semaphore".to_string(), start.elapsed().as_secs_f64()));
        let start = Instant::now();
        for _ in 0..n {
            *value.lock().expect("value") += 1;
        }
        times.push(("value".to_string(), start.elapsed().as_secs_f64()));
        assert_eq!(value.get(), n as i64);
        times
    }
);

fn main() {
    supervisor_mp::init();
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| {
            s.replace(['_', ','], "")
                .parse()
                .expect("N must be a number")
        })
        .unwrap_or(1_000_000);
    let arg = (
        Lock::new().expect("lock"),
        RLock::new().expect("rlock"),
        Semaphore::new(1).expect("semaphore"),
        Value::new(0i64).expect("value"),
        n,
    );
    let child = Process::spawn(run_all, arg).expect("spawn");
    for (name, secs) in child.join().expect("the child's result") {
        println!(
            "{name}: {n} ops in {secs:.4} s: {:.0} ops/s",
            n as f64 / secs
        );
    }
}
