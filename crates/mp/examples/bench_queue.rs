//! Queue and Manager throughput, the same programs as `scripts/mp_bench_queue.py` (CPython's
//! `multiprocessing`), for `scripts/bench.sh`'s "library vs CPython multiprocessing" rows:
//!
//! ```text
//! cargo run --release -p supervisor-mp --example bench_queue -- queue 100000
//! cargo run --release -p supervisor-mp --example bench_queue -- manager 10000
//! ```
//!
//! `queue N`: a child process puts the ints 0..N on a `Queue`, the parent gets them; timed from
//! the child's spawn to its join. `manager N`: a child process does `d[f"k{i}"] = i` for i in
//! 0..N on a `Manager` dict; timed from the child's spawn to its join (the manager is started
//! before). Each prints one line `NAME: N in S s = R/s` and checks what arrived.

use std::time::Instant;
use supervisor_mp::{DictProxy, Manager, Process, Queue, task};

task!(
    fn produce(args: (Queue<u64>, u64)) -> () {
        let (queue, n) = args;
        for i in 0..n {
            queue.put(i).expect("put");
        }
    }
);

task!(
    fn set_items(args: (DictProxy<String, u64>, u64)) -> () {
        let (dict, n) = args;
        for i in 0..n {
            dict.insert(format!("k{i}"), i).expect("d[k] = v");
        }
    }
);

fn main() {
    supervisor_mp::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args.first().map(String::as_str).unwrap_or("queue");
    let n: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    match what {
        "queue" => {
            let queue = Queue::<u64>::new().expect("queue");
            let start = Instant::now();
            let child = Process::spawn(produce, (queue.clone(), n)).expect("spawn");
            let mut sum = 0u64;
            for _ in 0..n {
                sum += queue.get().expect("get");
            }
            child.join().expect("producer");
            let secs = start.elapsed().as_secs_f64();
            assert_eq!(sum, n * (n - 1) / 2, "items lost or changed");
            println!("queue: {n} items in {secs:.4} s = {:.0}/s", n as f64 / secs);
        }
        "manager" => {
            let manager = Manager::start().expect("manager");
            let dict = manager.dict::<String, u64>();
            let start = Instant::now();
            let child = Process::spawn(set_items, (dict.clone(), n)).expect("spawn");
            child.join().expect("client");
            let secs = start.elapsed().as_secs_f64();
            assert_eq!(dict.len().expect("len"), n as usize, "updates lost");
            println!("manager: {n} ops in {secs:.4} s = {:.0}/s", n as f64 / secs);
        }
        other => {
            eprintln!("bench_queue: unknown benchmark {other:?} (queue N | manager N)");
            std::process::exit(2);
        }
    }
}
